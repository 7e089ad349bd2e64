/* ds_fixture.c - reader of the reference fixture files (see ds_fixture.h). */
#include "ds_fixture.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int read_exact(FILE *f, void *buf, size_t n) { return fread(buf, 1, n, f) == n; }

static int read_u32(FILE *f, uint32_t *v)
{
    unsigned char b[4];
    if (!read_exact(f, b, 4))
        return 0;
    *v = (uint32_t)b[0] | (uint32_t)b[1] << 8 | (uint32_t)b[2] << 16 | (uint32_t)b[3] << 24;
    return 1;
}

static int read_u64(FILE *f, uint64_t *v)
{
    uint32_t lo, hi;
    if (!read_u32(f, &lo) || !read_u32(f, &hi))
        return 0;
    *v = (uint64_t)hi << 32 | lo;
    return 1;
}

void ds_fixture_free(ds_fixture *fx)
{
    if (!fx)
        return;
    for (int i = 0; i < fx->count; ++i) {
        free(fx->arrays[i].name);
        free(fx->arrays[i].data);
    }
    free(fx->arrays);
    free(fx);
}

static int read_array(FILE *f, ds_fixture_array *a, const char *path)
{
    uint32_t name_len, dtype, ndim;
    if (!read_u32(f, &name_len) || name_len > 4096)
        return 0;
    a->name = calloc(name_len + 1, 1);
    if (!a->name || !read_exact(f, a->name, name_len) || !read_u32(f, &dtype) ||
        !read_u32(f, &ndim) || ndim > DS_FIXTURE_MAX_DIMS || dtype > 2)
        return 0;
    a->ndim = (int)ndim;
    a->numel = 1;
    for (uint32_t d = 0; d < ndim; ++d) {
        if (!read_u64(f, &a->dims[d]) || a->dims[d] > ((uint64_t)1 << 32))
            return 0;
        a->numel *= (size_t)a->dims[d];
    }
    if (a->numel > ((size_t)1 << 31)) {
        fprintf(stderr, "%s: array %s too large\n", path, a->name);
        return 0;
    }
    a->data = malloc((a->numel ? a->numel : 1) * sizeof(double));
    if (!a->data)
        return 0;
    const size_t esize = dtype == 0 ? 4 : 8;
    unsigned char *raw = malloc(a->numel * esize + 1);
    if (!raw || !read_exact(f, raw, a->numel * esize)) {
        free(raw);
        return 0;
    }
    for (size_t i = 0; i < a->numel; ++i) {
        const unsigned char *p = raw + i * esize;
        uint64_t bits = 0;
        for (size_t k = 0; k < esize; ++k)
            bits |= (uint64_t)p[k] << (8 * k);
        if (dtype == 0) {
            uint32_t b32 = (uint32_t)bits;
            float v;
            memcpy(&v, &b32, 4);
            a->data[i] = v;
        } else if (dtype == 1) {
            double v;
            memcpy(&v, &bits, 8);
            a->data[i] = v;
        } else {
            a->data[i] = (double)(int64_t)bits;
        }
    }
    free(raw);
    return 1;
}

ds_fixture *ds_fixture_load(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        fprintf(stderr, "fixture %s: cannot open\n", path);
        return NULL;
    }
    char magic[4];
    uint32_t version, count;
    ds_fixture *fx = NULL;
    if (!read_exact(f, magic, 4) || memcmp(magic, "DSFX", 4) != 0 || !read_u32(f, &version) ||
        version != 1 || !read_u32(f, &count) || count > 100000) {
        fprintf(stderr, "fixture %s: bad header\n", path);
        fclose(f);
        return NULL;
    }
    fx = calloc(1, sizeof *fx);
    if (fx)
        fx->arrays = calloc(count ? count : 1, sizeof *fx->arrays);
    if (!fx || !fx->arrays) {
        fclose(f);
        ds_fixture_free(fx);
        return NULL;
    }
    for (uint32_t i = 0; i < count; ++i) {
        fx->count = (int)i + 1;
        if (!read_array(f, &fx->arrays[i], path)) {
            fprintf(stderr, "fixture %s: truncated or corrupt record %u\n", path, i);
            fclose(f);
            ds_fixture_free(fx);
            return NULL;
        }
    }
    fclose(f);
    return fx;
}

const ds_fixture_array *ds_fixture_get(const ds_fixture *fx, const char *name)
{
    for (int i = 0; fx && i < fx->count; ++i)
        if (strcmp(fx->arrays[i].name, name) == 0)
            return &fx->arrays[i];
    fprintf(stderr, "fixture: no array named %s\n", name);
    return NULL;
}

void ds_fixture_to_float(const ds_fixture_array *a, float *out)
{
    for (size_t i = 0; i < a->numel; ++i)
        out[i] = (float)a->data[i];
}

double ds_fixture_rel_error(const float *got, const ds_fixture_array *want)
{
    double max_ref = 0.0, max_diff = 0.0;
    for (size_t i = 0; i < want->numel; ++i) {
        max_ref = fmax(max_ref, fabs(want->data[i]));
        const double diff = fabs((double)got[i] - want->data[i]);
        max_diff = isnan(diff) ? INFINITY : fmax(max_diff, diff);
    }
    return max_diff / fmax(max_ref, 1e-30);
}
