/* tensor.c - the 5-D float tensor (see ds_tensor.h). */
#include "ds_tensor.h"

#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void *ds_aligned_alloc(size_t bytes)
{
    if (bytes > SIZE_MAX - DS_TENSOR_ALIGN)
        return NULL;
    /* aligned_alloc needs a size that is a multiple of the alignment; round up (and never ask
     * for zero bytes, whose result is implementation-defined). */
    size_t rounded = (bytes + DS_TENSOR_ALIGN - 1) / DS_TENSOR_ALIGN * DS_TENSOR_ALIGN;
    if (rounded == 0)
        rounded = DS_TENSOR_ALIGN;
    return aligned_alloc(DS_TENSOR_ALIGN, rounded);
}

void ds_aligned_free(void *p) { free(p); }

/* Checks dimensions and computes the element count, refusing absurd sizes. */
static ds_status checked_numel(ds_ctx *ctx, int64_t n, int64_t c, int64_t d, int64_t h, int64_t w,
                               int64_t *numel)
{
    const int64_t dims[5] = {n, c, d, h, w};
    int64_t total = 1;
    for (int i = 0; i < 5; ++i) {
        if (dims[i] < 1)
            return ds_fail(ctx, DS_ERR_SHAPE,
                           "tensor shape %" PRId64 "x%" PRId64 "x%" PRId64 "x%" PRId64
                           "x%" PRId64 " has a dimension below 1",
                           n, c, d, h, w);
        if (dims[i] > DS_TENSOR_MAX_NUMEL / total)
            return ds_fail(ctx, DS_ERR_NOMEM,
                           "tensor shape %" PRId64 "x%" PRId64 "x%" PRId64 "x%" PRId64
                           "x%" PRId64 " exceeds the limit of %" PRId64 " elements",
                           n, c, d, h, w, (int64_t)DS_TENSOR_MAX_NUMEL);
        total *= dims[i];
    }
    *numel = total;
    return DS_OK;
}

static ds_status tensor_new(ds_ctx *ctx, ds_tensor **out, int64_t n, int64_t c, int64_t d,
                            int64_t h, int64_t w, float *data)
{
    if (!out)
        return ds_fail(ctx, DS_ERR_ARG, "tensor: null output pointer");
    *out = NULL;
    int64_t numel = 0;
    ds_status st = checked_numel(ctx, n, c, d, h, w, &numel);
    if (st != DS_OK)
        return st;
    ds_tensor *t = calloc(1, sizeof *t);
    if (!t)
        return ds_fail(ctx, DS_ERR_NOMEM, "tensor: out of memory for the header");
    t->n = n;
    t->c = c;
    t->d = d;
    t->h = h;
    t->w = w;
    if (data) {
        t->data = data;
        t->owns_data = 0;
    } else {
        t->data = ds_aligned_alloc((size_t)numel * sizeof(float));
        if (!t->data) {
            free(t);
            return ds_fail(ctx, DS_ERR_NOMEM, "tensor: out of memory for %" PRId64 " floats (%.1f MiB)",
                           numel, (double)numel * 4.0 / 1048576.0);
        }
        t->owns_data = 1;
    }
    *out = t;
    return DS_OK;
}

ds_status ds_tensor_create(ds_ctx *ctx, ds_tensor **out, int64_t n, int64_t c, int64_t d,
                           int64_t h, int64_t w)
{
    return tensor_new(ctx, out, n, c, d, h, w, NULL);
}

ds_status ds_tensor_zeros(ds_ctx *ctx, ds_tensor **out, int64_t n, int64_t c, int64_t d,
                          int64_t h, int64_t w)
{
    ds_status st = tensor_new(ctx, out, n, c, d, h, w, NULL);
    if (st == DS_OK)
        memset((*out)->data, 0, (size_t)ds_tensor_numel(*out) * sizeof(float));
    return st;
}

void ds_fill_zero(const ds_ctx *ctx, float *data, int64_t count)
{
    const int64_t block = 16384; /* 64 KiB a block: whole cache lines, few blocks per thread */
    const int64_t blocks = (count + block - 1) / block;
#pragma omp parallel for num_threads(ds_ctx_threads(ctx)) schedule(static) if (blocks >= 4)
    for (int64_t b = 0; b < blocks; ++b) {
        const int64_t end = (b + 1) * block < count ? (b + 1) * block : count;
        memset(data + b * block, 0, (size_t)(end - b * block) * sizeof(float));
    }
}

ds_status ds_tensor_create_like(ds_ctx *ctx, ds_tensor **out, const ds_tensor *like)
{
    if (!like)
        return ds_fail(ctx, DS_ERR_ARG, "tensor: null template");
    return tensor_new(ctx, out, like->n, like->c, like->d, like->h, like->w, NULL);
}

ds_status ds_tensor_clone(ds_ctx *ctx, ds_tensor **out, const ds_tensor *src)
{
    ds_status st = ds_tensor_create_like(ctx, out, src);
    if (st == DS_OK)
        memcpy((*out)->data, src->data, (size_t)ds_tensor_numel(src) * sizeof(float));
    return st;
}

ds_status ds_tensor_view(ds_ctx *ctx, ds_tensor **out, float *data, int64_t n, int64_t c,
                         int64_t d, int64_t h, int64_t w)
{
    if (!data)
        return ds_fail(ctx, DS_ERR_ARG, "tensor view: null data");
    if (((uintptr_t)data % DS_TENSOR_ALIGN) != 0)
        return ds_fail(ctx, DS_ERR_ARG, "tensor view: data is not %d-byte aligned", DS_TENSOR_ALIGN);
    return tensor_new(ctx, out, n, c, d, h, w, data);
}

void ds_tensor_free(ds_tensor *t)
{
    if (!t)
        return;
    if (t->owns_data)
        ds_aligned_free(t->data);
    free(t);
}

ds_status ds_tensor_reshape(ds_ctx *ctx, ds_tensor *t, int64_t n, int64_t c, int64_t d, int64_t h,
                            int64_t w)
{
    if (!t)
        return ds_fail(ctx, DS_ERR_ARG, "tensor reshape: null tensor");
    int64_t numel = 0;
    ds_status st = checked_numel(ctx, n, c, d, h, w, &numel);
    if (st != DS_OK)
        return st;
    if (numel != ds_tensor_numel(t)) {
        char buf[96];
        return ds_fail(ctx, DS_ERR_SHAPE,
                       "tensor reshape: %s cannot become %" PRId64 "x%" PRId64 "x%" PRId64
                       "x%" PRId64 "x%" PRId64 " (element counts differ)",
                       ds_tensor_shape_str(t, buf, sizeof buf), n, c, d, h, w);
    }
    t->n = n;
    t->c = c;
    t->d = d;
    t->h = h;
    t->w = w;
    return DS_OK;
}

int64_t ds_tensor_numel(const ds_tensor *t) { return t->n * t->c * t->d * t->h * t->w; }
int64_t ds_tensor_sample_numel(const ds_tensor *t) { return t->c * t->d * t->h * t->w; }
int64_t ds_tensor_spatial_numel(const ds_tensor *t) { return t->d * t->h * t->w; }

int ds_tensor_same_shape(const ds_tensor *a, const ds_tensor *b)
{
    return a->n == b->n && a->c == b->c && a->d == b->d && a->h == b->h && a->w == b->w;
}

void ds_tensor_fill(ds_tensor *t, float value)
{
    const int64_t count = ds_tensor_numel(t);
    float *p = t->data;
    for (int64_t i = 0; i < count; ++i)
        p[i] = value;
}

ds_status ds_tensor_copy(ds_ctx *ctx, ds_tensor *dst, const ds_tensor *src)
{
    if (!dst || !src)
        return ds_fail(ctx, DS_ERR_ARG, "tensor copy: null tensor");
    if (!ds_tensor_same_shape(dst, src)) {
        char a[96], b[96];
        return ds_fail(ctx, DS_ERR_SHAPE, "tensor copy: destination %s differs from source %s",
                       ds_tensor_shape_str(dst, a, sizeof a), ds_tensor_shape_str(src, b, sizeof b));
    }
    if (dst->data != src->data)
        memmove(dst->data, src->data, (size_t)ds_tensor_numel(src) * sizeof(float));
    return DS_OK;
}

ds_status ds_tensor_check_finite(ds_ctx *ctx, const ds_tensor *t, const char *what)
{
    if (!t)
        return ds_fail(ctx, DS_ERR_ARG, "tensor check: null tensor");
    const int64_t count = ds_tensor_numel(t);
    for (int64_t i = 0; i < count; ++i)
        if (!isfinite(t->data[i]))
            return ds_fail(ctx, DS_ERR_NUMERIC, "%s holds %s at element %" PRId64,
                           what ? what : "tensor", isnan(t->data[i]) ? "NaN" : "Inf", i);
    return DS_OK;
}

char *ds_tensor_shape_str(const ds_tensor *t, char *buf, size_t cap)
{
    if (!buf || cap == 0)
        return buf;
    if (!t)
        snprintf(buf, cap, "(null)");
    else
        snprintf(buf, cap, "%" PRId64 "x%" PRId64 "x%" PRId64 "x%" PRId64 "x%" PRId64, t->n, t->c,
                 t->d, t->h, t->w);
    return buf;
}
