/* check.c - validation of the inputs of the metrics module, metric names, default options. */
#include "metrics_internal.h"

#include <math.h>

/* Spacing outside this range (mm) is refused as absurd: it would under- or overflow the squared
 * distances of the transform. */
#define SPACING_MIN 1e-9
#define SPACING_MAX 1e9

ds_status ds_metrics_check_grid(ds_ctx *ctx, const int64_t size[3], const double spacing[3],
                                const char *what, int64_t *voxels)
{
    if (!size || !spacing)
        return ds_fail(ctx, DS_ERR_ARG, "%s: %s is NULL", what, !size ? "size" : "spacing");
    int64_t n = 1;
    for (int a = 0; a < 3; ++a) {
        if (size[a] < 1)
            return ds_fail(ctx, DS_ERR_SHAPE, "%s: size[%d] = %lld is not positive", what, a,
                           (long long)size[a]);
        if (size[a] > DS_METRICS_MAX_VOXELS / n)
            return ds_fail(ctx, DS_ERR_SHAPE, "%s: size %lld x %lld x %lld exceeds %lld voxels",
                           what, (long long)size[0], (long long)size[1], (long long)size[2],
                           (long long)DS_METRICS_MAX_VOXELS);
        n *= size[a];
    }
    for (int a = 0; a < 3; ++a)
        if (!isfinite(spacing[a]) || !(spacing[a] > 0.0))
            return ds_fail(ctx, DS_ERR_ARG, "%s: spacing[%d] = %g is not finite and positive",
                           what, a, spacing[a]);
        else if (spacing[a] < SPACING_MIN || spacing[a] > SPACING_MAX)
            return ds_fail(ctx, DS_ERR_ARG, "%s: spacing[%d] = %g mm is absurd (outside %g..%g)",
                           what, a, spacing[a], SPACING_MIN, SPACING_MAX);
    if (voxels)
        *voxels = n;
    return DS_OK;
}

void ds_metrics_options_init(ds_metrics_options *opts)
{
    if (!opts)
        return;
    opts->num_classes = 2;
    opts->units = DS_METRICS_MM;
    opts->empty = DS_METRICS_EMPTY_FLAG;
}

ds_status ds_metrics_resolve_options(ds_ctx *ctx, const ds_metrics_options *opts,
                                     ds_metrics_options *resolved, const char *what)
{
    if (!opts) {
        ds_metrics_options_init(resolved);
        return DS_OK;
    }
    if (opts->num_classes < 2 || opts->num_classes > DS_METRICS_MAX_CLASSES)
        return ds_fail(ctx, DS_ERR_ARG, "%s: num_classes = %d is outside 2..%d", what,
                       opts->num_classes, DS_METRICS_MAX_CLASSES);
    if (opts->units != DS_METRICS_MM && opts->units != DS_METRICS_VOXELS)
        return ds_fail(ctx, DS_ERR_ARG, "%s: units = %d is not DS_METRICS_MM or DS_METRICS_VOXELS",
                       what, (int)opts->units);
    if (opts->empty != DS_METRICS_EMPTY_FLAG && opts->empty != DS_METRICS_EMPTY_LITERATURE)
        return ds_fail(ctx, DS_ERR_ARG,
                       "%s: empty = %d is not DS_METRICS_EMPTY_FLAG or DS_METRICS_EMPTY_LITERATURE",
                       what, (int)opts->empty);
    *resolved = *opts;
    return DS_OK;
}

ds_status ds_metrics_check_labels(ds_ctx *ctx, const uint16_t *map, int64_t voxels, int k,
                                  const char *what, const int64_t size[3])
{
    int64_t bad = voxels;
#pragma omp parallel for num_threads(ds_ctx_threads(ctx)) schedule(static) reduction(min : bad)
    for (int64_t i = 0; i < voxels; ++i)
        if (map[i] >= k && i < bad)
            bad = i;
    if (bad == voxels)
        return DS_OK;
    const int64_t x = bad % size[0], y = (bad / size[0]) % size[1], z = bad / (size[0] * size[1]);
    return ds_fail(ctx, DS_ERR_ARG, "%s: label %u at voxel (%lld, %lld, %lld) is outside 0..%d",
                   what, (unsigned)map[bad], (long long)x, (long long)y, (long long)z, k - 1);
}

const char *ds_metric_name(ds_metric m)
{
    switch (m) {
    case DS_METRIC_DICE: return "dice";
    case DS_METRIC_JACCARD: return "jaccard";
    case DS_METRIC_HD95: return "hd95";
    case DS_METRIC_ASD: return "asd";
    case DS_METRIC_ASSD: return "assd";
    case DS_METRIC_HD: return "hd";
    case DS_METRIC_PRED_MM3: return "pred_mm3";
    case DS_METRIC_REF_MM3: return "ref_mm3";
    case DS_METRIC_VOL_DIFF_MM3: return "vol_diff_mm3";
    case DS_METRIC_RAVD: return "ravd";
    case DS_METRIC_COUNT: break;
    }
    return "?";
}

ds_status ds_metrics_check_same_size(ds_ctx *ctx, const int64_t pred_size[3],
                                     const int64_t ref_size[3], const char *pred_name,
                                     const char *ref_name)
{
    if (!pred_size || !ref_size)
        return ds_fail(ctx, DS_ERR_ARG, "ds_metrics_check_same_size: a size is NULL");
    const char *pn = pred_name ? pred_name : "prediction", *rn = ref_name ? ref_name : "reference";
    if (pred_size[0] != ref_size[0] || pred_size[1] != ref_size[1] || pred_size[2] != ref_size[2])
        return ds_fail(ctx, DS_ERR_SHAPE,
                       "%s is %lld x %lld x %lld but %s is %lld x %lld x %lld voxels", pn,
                       (long long)pred_size[0], (long long)pred_size[1], (long long)pred_size[2],
                       rn, (long long)ref_size[0], (long long)ref_size[1], (long long)ref_size[2]);
    return DS_OK;
}
