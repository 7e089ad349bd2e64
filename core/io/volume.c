/* volume.c - ds_volume: geometry checks, allocation, validation, intensity normalisation. */
#include "ds_volume.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

void ds_geometry_identity(ds_geometry *g, int64_t nx, int64_t ny, int64_t nz)
{
    memset(g, 0, sizeof *g);
    g->size[0] = nx;
    g->size[1] = ny;
    g->size[2] = nz;
    for (int a = 0; a < 3; ++a) {
        g->spacing[a] = 1.0;
        g->direction[4 * a] = 1.0;
    }
}

int64_t ds_geometry_voxels(const ds_geometry *g)
{
    return g->size[0] * g->size[1] * g->size[2];
}

static double det3(const double *m)
{
    return m[0] * (m[4] * m[8] - m[5] * m[7]) - m[1] * (m[3] * m[8] - m[5] * m[6]) +
           m[2] * (m[3] * m[7] - m[4] * m[6]);
}

ds_status ds_geometry_check(ds_ctx *ctx, const ds_geometry *g, const char *what)
{
    if (!g)
        return ds_fail(ctx, DS_ERR_ARG, "%s: null geometry", what ? what : "volume");
    what = what ? what : "volume";
    int64_t total = 1;
    for (int a = 0; a < 3; ++a) {
        if (g->size[a] < 1 || g->size[a] > DS_VOLUME_MAX_VOXELS)
            return ds_fail(ctx, DS_ERR_SHAPE, "%s: size %lld on axis %d is invalid", what,
                           (long long)g->size[a], a);
        total *= g->size[a];
        if (total > DS_VOLUME_MAX_VOXELS)
            return ds_fail(ctx, DS_ERR_SHAPE, "%s: %lld x %lld x %lld voxels is too large", what,
                           (long long)g->size[0], (long long)g->size[1], (long long)g->size[2]);
        if (!isfinite(g->spacing[a]) || g->spacing[a] <= 0.0)
            return ds_fail(ctx, DS_ERR_FORMAT, "%s: spacing %g on axis %d is not positive", what,
                           g->spacing[a], a);
        if (!isfinite(g->origin[a]))
            return ds_fail(ctx, DS_ERR_FORMAT, "%s: origin is not finite", what);
    }
    for (int i = 0; i < 9; ++i)
        if (!isfinite(g->direction[i]))
            return ds_fail(ctx, DS_ERR_FORMAT, "%s: direction is not finite", what);
    if (fabs(det3(g->direction)) < 1e-6)
        return ds_fail(ctx, DS_ERR_FORMAT, "%s: direction matrix is singular", what);
    return DS_OK;
}

static double max3(double a, double b, double c)
{
    double m = a > b ? a : b;
    return m > c ? m : c;
}

ds_status ds_geometry_compare(ds_ctx *ctx, const ds_geometry *a, const ds_geometry *b, double tol,
                              const char *a_name, const char *b_name)
{
    for (int k = 0; k < 3; ++k)
        if (a->size[k] != b->size[k])
            return ds_fail(ctx, DS_ERR_SHAPE,
                           "%s and %s: sizes differ (%lldx%lldx%lld vs %lldx%lldx%lld)", a_name,
                           b_name, (long long)a->size[0], (long long)a->size[1],
                           (long long)a->size[2], (long long)b->size[0], (long long)b->size[1],
                           (long long)b->size[2]);
    for (int k = 0; k < 3; ++k) {
        double sa = a->spacing[k], sb = b->spacing[k];
        if (fabs(sa - sb) > tol * max3(fabs(sa), fabs(sb), 1.0))
            return ds_fail(ctx, DS_ERR_SHAPE, "%s and %s: spacing differs on axis %d (%g vs %g)",
                           a_name, b_name, k, sa, sb);
    }
    for (int k = 0; k < 3; ++k) {
        double oa = a->origin[k], ob = b->origin[k];
        double scale = max3(a->spacing[k], b->spacing[k], 1.0);
        if (fabs(oa - ob) > tol * scale)
            return ds_fail(ctx, DS_ERR_SHAPE, "%s and %s: origin differs on axis %d (%g vs %g)",
                           a_name, b_name, k, oa, ob);
    }
    for (int k = 0; k < 9; ++k)
        if (fabs(a->direction[k] - b->direction[k]) > tol)
            return ds_fail(ctx, DS_ERR_SHAPE,
                           "%s and %s: direction differs (entry %d: %g vs %g)", a_name, b_name, k,
                           a->direction[k], b->direction[k]);
    return DS_OK;
}

static void *alloc64(size_t bytes)
{
    size_t rounded = (bytes + 63) / 64 * 64;
    if (rounded < bytes)
        return NULL;
    return aligned_alloc(64, rounded ? rounded : 64);
}

ds_status ds_volume_create(ds_ctx *ctx, ds_volume **out, const ds_geometry *g, ds_volume_kind kind)
{
    if (!out)
        return ds_fail(ctx, DS_ERR_ARG, "ds_volume_create: null output");
    *out = NULL;
    ds_status st = ds_geometry_check(ctx, g, "ds_volume_create");
    if (st != DS_OK)
        return st;
    if (kind != DS_VOLUME_SCALAR && kind != DS_VOLUME_LABEL)
        return ds_fail(ctx, DS_ERR_ARG, "ds_volume_create: unknown kind %d", (int)kind);
    ds_volume *v = calloc(1, sizeof *v);
    if (!v)
        return ds_fail(ctx, DS_ERR_NOMEM, "ds_volume_create: out of memory");
    v->geom = *g;
    v->kind = kind;
    size_t n = (size_t)ds_geometry_voxels(g);
    size_t bytes = n * (kind == DS_VOLUME_SCALAR ? sizeof(float) : sizeof(uint16_t));
    void *buf = alloc64(bytes);
    if (!buf) {
        free(v);
        return ds_fail(ctx, DS_ERR_NOMEM, "ds_volume_create: out of memory for %zu bytes", bytes);
    }
    memset(buf, 0, bytes);
    if (kind == DS_VOLUME_SCALAR)
        v->values = buf;
    else
        v->labels = buf;
    *out = v;
    return DS_OK;
}

ds_status ds_volume_clone(ds_ctx *ctx, ds_volume **out, const ds_volume *src)
{
    if (!src)
        return ds_fail(ctx, DS_ERR_ARG, "ds_volume_clone: null source");
    ds_status st = ds_volume_create(ctx, out, &src->geom, src->kind);
    if (st != DS_OK)
        return st;
    size_t n = (size_t)ds_volume_voxels(src);
    if (src->kind == DS_VOLUME_SCALAR)
        memcpy((*out)->values, src->values, n * sizeof(float));
    else
        memcpy((*out)->labels, src->labels, n * sizeof(uint16_t));
    if (src->segment_count > 0) {
        (*out)->segments = malloc((size_t)src->segment_count * sizeof(ds_segment));
        if (!(*out)->segments) {
            ds_volume_free(*out);
            *out = NULL;
            return ds_fail(ctx, DS_ERR_NOMEM, "ds_volume_clone: out of memory");
        }
        memcpy((*out)->segments, src->segments, (size_t)src->segment_count * sizeof(ds_segment));
        (*out)->segment_count = src->segment_count;
    }
    return DS_OK;
}

void ds_volume_free(ds_volume *v)
{
    if (!v)
        return;
    free(v->values);
    free(v->labels);
    free(v->segments);
    free(v);
}

int64_t ds_volume_voxels(const ds_volume *v)
{
    return ds_geometry_voxels(&v->geom);
}

ds_status ds_volume_check_finite(ds_ctx *ctx, const ds_volume *v, const char *what)
{
    if (!v || v->kind != DS_VOLUME_SCALAR)
        return ds_fail(ctx, DS_ERR_ARG, "%s: not a scalar volume", what);
    int64_t n = ds_volume_voxels(v);
    for (int64_t i = 0; i < n; ++i)
        if (!isfinite(v->values[i]))
            return ds_fail(ctx, DS_ERR_NUMERIC, "%s: %s intensity at voxel %lld", what,
                           isnan(v->values[i]) ? "NaN" : "infinite", (long long)i);
    return DS_OK;
}

ds_status ds_volume_check_labels(ds_ctx *ctx, const ds_volume *v, int num_classes,
                                 int ignore_label, const char *what)
{
    if (!v || v->kind != DS_VOLUME_LABEL)
        return ds_fail(ctx, DS_ERR_ARG, "%s: not a label volume", what);
    if (num_classes < 1 || num_classes > 65536)
        return ds_fail(ctx, DS_ERR_ARG, "%s: %d classes is invalid", what, num_classes);
    int64_t n = ds_volume_voxels(v);
    for (int64_t i = 0; i < n; ++i) {
        int l = v->labels[i];
        if (l >= num_classes && l != ignore_label)
            return ds_fail(ctx, DS_ERR_FORMAT,
                           "%s: label %d at voxel %lld is outside 0..%d (ignore label %d)", what,
                           l, (long long)i, num_classes - 1, ignore_label);
    }
    return DS_OK;
}

ds_status ds_volume_zscore(ds_ctx *ctx, ds_volume *v, const char *what)
{
    what = what ? what : "volume";
    ds_status st = ds_volume_check_finite(ctx, v, what);
    if (st != DS_OK)
        return st;
    int64_t n = ds_volume_voxels(v);
    double sum = 0.0;
    for (int64_t i = 0; i < n; ++i)
        sum += v->values[i];
    double mean = sum / (double)n;
    double ss = 0.0;
    for (int64_t i = 0; i < n; ++i) {
        double d = v->values[i] - mean;
        ss += d * d;
    }
    double sd = sqrt(ss / (double)n);
    if (!(sd > 1e-12 * (fabs(mean) > 1.0 ? fabs(mean) : 1.0)))
        return ds_fail(ctx, DS_ERR_NUMERIC, "%s: image is constant (zero variance), cannot "
                       "z-score normalise", what);
    double inv = 1.0 / sd;
    for (int64_t i = 0; i < n; ++i)
        v->values[i] = (float)((v->values[i] - mean) * inv);
    return DS_OK;
}

ds_status ds_volume_window(ds_ctx *ctx, ds_volume *v, float lo, float hi)
{
    if (!v || v->kind != DS_VOLUME_SCALAR)
        return ds_fail(ctx, DS_ERR_ARG, "ds_volume_window: not a scalar volume");
    if (!isfinite(lo) || !isfinite(hi) || !(lo < hi))
        return ds_fail(ctx, DS_ERR_ARG, "ds_volume_window: window [%g, %g] is empty", (double)lo,
                       (double)hi);
    int64_t n = ds_volume_voxels(v);
    double scale = 1.0 / ((double)hi - (double)lo);
    for (int64_t i = 0; i < n; ++i) {
        float x = v->values[i];
        x = x < lo ? lo : (x > hi ? hi : x);
        v->values[i] = (float)(((double)x - lo) * scale);
    }
    return DS_OK;
}
