/* resample.c - resampling through physical space (linear / nearest) and partial-label masks. */
#include "ds_volume.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

ds_status ds_geometry_at_spacing(ds_ctx *ctx, const ds_geometry *g, const double spacing[3],
                                 ds_geometry *out)
{
    ds_status st = ds_geometry_check(ctx, g, "ds_geometry_at_spacing");
    if (st != DS_OK)
        return st;
    ds_geometry r = *g;
    for (int a = 0; a < 3; ++a) {
        if (!isfinite(spacing[a]) || spacing[a] <= 0.0)
            return ds_fail(ctx, DS_ERR_ARG, "target spacing %g on axis %d is not positive",
                           spacing[a], a);
        double n = floor((double)g->size[a] * g->spacing[a] / spacing[a] + 0.5);
        if (n < 1.0)
            n = 1.0;
        if (n > (double)DS_VOLUME_MAX_VOXELS)
            return ds_fail(ctx, DS_ERR_SHAPE, "target spacing %g on axis %d gives an absurd size",
                           spacing[a], a);
        r.size[a] = (int64_t)n;
        r.spacing[a] = spacing[a];
    }
    st = ds_geometry_check(ctx, &r, "resampled geometry");
    if (st != DS_OK)
        return st;
    *out = r;
    return DS_OK;
}

static int inverse3(const double *m, double *inv)
{
    double det = m[0] * (m[4] * m[8] - m[5] * m[7]) - m[1] * (m[3] * m[8] - m[5] * m[6]) +
                 m[2] * (m[3] * m[7] - m[4] * m[6]);
    if (fabs(det) < 1e-12)
        return 0;
    double id = 1.0 / det;
    inv[0] = (m[4] * m[8] - m[5] * m[7]) * id;
    inv[1] = (m[2] * m[7] - m[1] * m[8]) * id;
    inv[2] = (m[1] * m[5] - m[2] * m[4]) * id;
    inv[3] = (m[5] * m[6] - m[3] * m[8]) * id;
    inv[4] = (m[0] * m[8] - m[2] * m[6]) * id;
    inv[5] = (m[2] * m[3] - m[0] * m[5]) * id;
    inv[6] = (m[3] * m[7] - m[4] * m[6]) * id;
    inv[7] = (m[1] * m[6] - m[0] * m[7]) * id;
    inv[8] = (m[0] * m[4] - m[1] * m[3]) * id;
    return 1;
}

static double clampd(double x, double hi)
{
    return x < 0.0 ? 0.0 : (x > hi ? hi : x);
}

ds_status ds_volume_resample(ds_ctx *ctx, const ds_volume *src, const ds_geometry *target,
                             ds_interp interp, ds_volume **out)
{
    if (!src || !target || !out)
        return ds_fail(ctx, DS_ERR_ARG, "ds_volume_resample: null argument");
    *out = NULL;
    if (interp == DS_INTERP_LINEAR && src->kind == DS_VOLUME_LABEL)
        return ds_fail(ctx, DS_ERR_ARG, "ds_volume_resample: linear interpolation of a label map");
    const ds_geometry *gs = &src->geom;
    double dinv[9];
    if (!inverse3(gs->direction, dinv))
        return ds_fail(ctx, DS_ERR_FORMAT, "ds_volume_resample: singular source direction");
    /* continuous source index c = M * idx + b, with
     * M = S_s^-1 D_s^-1 D_t S_t and b = S_s^-1 D_s^-1 (o_t - o_s). */
    double m[9], b[3];
    for (int r = 0; r < 3; ++r) {
        for (int c = 0; c < 3; ++c) {
            double acc = 0.0;
            for (int k = 0; k < 3; ++k)
                acc += dinv[3 * r + k] * target->direction[3 * k + c];
            m[3 * r + c] = acc * target->spacing[c] / gs->spacing[r];
        }
        double acc = 0.0;
        for (int k = 0; k < 3; ++k)
            acc += dinv[3 * r + k] * (target->origin[k] - gs->origin[k]);
        b[r] = acc / gs->spacing[r];
    }
    ds_volume *dst = NULL;
    ds_status st = ds_volume_create(ctx, &dst, target, src->kind);
    if (st != DS_OK)
        return st;
    const int64_t nx = target->size[0], ny = target->size[1], nz = target->size[2];
    const int64_t sx = gs->size[0], sy = gs->size[1], sz = gs->size[2];
    const double hx = (double)(sx - 1), hy = (double)(sy - 1), hz = (double)(sz - 1);
#pragma omp parallel for num_threads(ds_ctx_threads(ctx)) schedule(static)
    for (int64_t k = 0; k < nz; ++k) {
        for (int64_t j = 0; j < ny; ++j) {
            for (int64_t i = 0; i < nx; ++i) {
                double cx = m[0] * i + m[1] * j + m[2] * k + b[0];
                double cy = m[3] * i + m[4] * j + m[5] * k + b[1];
                double cz = m[6] * i + m[7] * j + m[8] * k + b[2];
                cx = clampd(cx, hx);
                cy = clampd(cy, hy);
                cz = clampd(cz, hz);
                int64_t o = i + nx * (j + ny * k);
                if (interp == DS_INTERP_NEAREST) {
                    int64_t ix = (int64_t)floor(cx + 0.5), iy = (int64_t)floor(cy + 0.5),
                            iz = (int64_t)floor(cz + 0.5);
                    int64_t s = ix + sx * (iy + sy * iz);
                    if (src->kind == DS_VOLUME_LABEL)
                        dst->labels[o] = src->labels[s];
                    else
                        dst->values[o] = src->values[s];
                } else {
                    int64_t x0 = (int64_t)floor(cx), y0 = (int64_t)floor(cy),
                            z0 = (int64_t)floor(cz);
                    int64_t x1 = x0 + 1 < sx ? x0 + 1 : x0, y1 = y0 + 1 < sy ? y0 + 1 : y0,
                            z1 = z0 + 1 < sz ? z0 + 1 : z0;
                    double fx = cx - (double)x0, fy = cy - (double)y0, fz = cz - (double)z0;
                    const float *v = src->values;
#define DS_AT(x, y, z) ((double)v[(x) + sx * ((y) + sy * (z))])
                    double c00 = DS_AT(x0, y0, z0) * (1 - fx) + DS_AT(x1, y0, z0) * fx;
                    double c10 = DS_AT(x0, y1, z0) * (1 - fx) + DS_AT(x1, y1, z0) * fx;
                    double c01 = DS_AT(x0, y0, z1) * (1 - fx) + DS_AT(x1, y0, z1) * fx;
                    double c11 = DS_AT(x0, y1, z1) * (1 - fx) + DS_AT(x1, y1, z1) * fx;
#undef DS_AT
                    double c0 = c00 * (1 - fy) + c10 * fy, c1 = c01 * (1 - fy) + c11 * fy;
                    dst->values[o] = (float)(c0 * (1 - fz) + c1 * fz);
                }
            }
        }
    }
    *out = dst;
    return DS_OK;
}

/* Marks in `annotated` (one byte per slice along axis) the slices holding a label other than 0
 * and ignore_label. */
static void annotated_slices(const ds_volume *v, int axis, int ignore_label, uint8_t *annotated)
{
    const int64_t nx = v->geom.size[0], ny = v->geom.size[1], nz = v->geom.size[2];
    memset(annotated, 0, (size_t)v->geom.size[axis]);
    for (int64_t k = 0; k < nz; ++k)
        for (int64_t j = 0; j < ny; ++j)
            for (int64_t i = 0; i < nx; ++i) {
                int l = v->labels[i + nx * (j + ny * k)];
                if (l != 0 && l != ignore_label)
                    annotated[axis == 0 ? i : (axis == 1 ? j : k)] = 1;
            }
}

ds_status ds_label_annotated_mask(ds_ctx *ctx, const ds_volume *v, int axis, int ignore_label,
                                  uint8_t *mask, int64_t *annotated)
{
    if (!v || v->kind != DS_VOLUME_LABEL || !mask)
        return ds_fail(ctx, DS_ERR_ARG, "ds_label_annotated_mask: needs a label volume and a mask");
    if (axis > 2)
        return ds_fail(ctx, DS_ERR_ARG, "ds_label_annotated_mask: axis %d is not 0, 1 or 2",
                       axis);
    const int64_t nx = v->geom.size[0], ny = v->geom.size[1], nz = v->geom.size[2];
    uint8_t *slices = NULL;
    if (axis >= 0) {
        slices = malloc((size_t)v->geom.size[axis]);
        if (!slices)
            return ds_fail(ctx, DS_ERR_NOMEM, "ds_label_annotated_mask: out of memory");
        annotated_slices(v, axis, ignore_label, slices);
    }
    int64_t count = 0;
    for (int64_t k = 0; k < nz; ++k)
        for (int64_t j = 0; j < ny; ++j)
            for (int64_t i = 0; i < nx; ++i) {
                int64_t o = i + nx * (j + ny * k);
                int ok = v->labels[o] != ignore_label;
                if (ok && slices)
                    ok = slices[axis == 0 ? i : (axis == 1 ? j : k)];
                mask[o] = (uint8_t)ok;
                count += ok;
            }
    free(slices);
    if (annotated)
        *annotated = count;
    return DS_OK;
}

ds_status ds_label_mark_unannotated(ds_ctx *ctx, ds_volume *v, int axis, int ignore_label)
{
    if (!v || v->kind != DS_VOLUME_LABEL)
        return ds_fail(ctx, DS_ERR_ARG, "ds_label_mark_unannotated: needs a label volume");
    if (ignore_label < 0 || ignore_label > 65535)
        return ds_fail(ctx, DS_ERR_ARG, "ds_label_mark_unannotated: ignore label %d not in "
                       "0..65535", ignore_label);
    if (axis < 0 || axis > 2)
        return ds_fail(ctx, DS_ERR_ARG, "ds_label_mark_unannotated: axis %d is not 0, 1 or 2",
                       axis);
    const int64_t nx = v->geom.size[0], ny = v->geom.size[1], nz = v->geom.size[2];
    uint8_t *slices = malloc((size_t)v->geom.size[axis]);
    if (!slices)
        return ds_fail(ctx, DS_ERR_NOMEM, "ds_label_mark_unannotated: out of memory");
    annotated_slices(v, axis, ignore_label, slices);
    for (int64_t k = 0; k < nz; ++k)
        for (int64_t j = 0; j < ny; ++j)
            for (int64_t i = 0; i < nx; ++i)
                if (!slices[axis == 0 ? i : (axis == 1 ? j : k)])
                    v->labels[i + nx * (j + ny * k)] = (uint16_t)ignore_label;
    free(slices);
    return DS_OK;
}
