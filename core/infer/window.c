/* window.c - where windows start, and the importance map that weights their voxels. */
#include "infer_internal.h"

#include <float.h>
#include <inttypes.h>
#include <math.h>

ds_status ds_infer_window_starts(ds_ctx *ctx, int64_t size, int64_t patch, int64_t stride,
                                 int64_t *starts, int64_t cap, int64_t *count)
{
    if (patch < 1 || size < patch || stride < 1 || stride > patch || cap < 0 || !count ||
        (cap > 0 && !starts))
        return ds_fail(ctx, DS_ERR_ARG, "window starts: size %" PRId64 ", patch %" PRId64
                       ", stride %" PRId64 ": need 1 <= patch <= size and 1 <= stride <= patch",
                       size, patch, stride);
    const int64_t n = size == patch ? 1 : (size - patch + stride - 1) / stride + 1;
    *count = n;
    for (int64_t i = 0; i < n && i < cap; ++i)
        /* nearbyint rounds half to even, as numpy's round in nnU-Net's rule does. */
        starts[i] = n == 1 ? 0 : (int64_t)nearbyint((double)i * (double)(size - patch) /
                                                    (double)(n - 1));
    return DS_OK;
}

/* The factor of one axis: exp(-(i - p/2)^2 / (2 sigma^2)), sigma = p / 8; 1 when uniform. */
static double axis_factor(ds_infer_weighting weighting, int64_t p, int64_t i)
{
    if (weighting == DS_INFER_WEIGHT_UNIFORM)
        return 1.0;
    const double sigma = (double)p / 8.0;
    const double d = (double)(i - p / 2);
    return exp(-d * d / (2.0 * sigma * sigma));
}

ds_status ds_infer_importance_map(ds_ctx *ctx, ds_infer_weighting weighting,
                                  const int64_t patch[3], float *map)
{
    if (!patch || !map || (weighting != DS_INFER_WEIGHT_GAUSSIAN &&
                           weighting != DS_INFER_WEIGHT_UNIFORM))
        return ds_fail(ctx, DS_ERR_ARG, "importance map: null argument or unknown weighting");
    for (int a = 0; a < 3; ++a)
        if (patch[a] < 1 || patch[a] > 4096)
            return ds_fail(ctx, DS_ERR_ARG, "importance map: patch %" PRId64 " out of 1..4096",
                           patch[a]);
    /* The Gaussian is separable and peaks (value 1) at voxel patch / 2, so dividing by the
     * maximum is already done; its smallest value is the product of the axes' smallest. */
    double lowest = 1.0;
    for (int a = 0; a < 3; ++a)
        lowest *= fmin(axis_factor(weighting, patch[a], 0), axis_factor(weighting, patch[a],
                                                                        patch[a] - 1));
    const float floor_value = (float)lowest > 0.0f ? (float)lowest : FLT_MIN;
    int64_t at = 0;
    for (int64_t z = 0; z < patch[2]; ++z)
        for (int64_t y = 0; y < patch[1]; ++y) {
            const double fzy = axis_factor(weighting, patch[2], z) *
                               axis_factor(weighting, patch[1], y);
            for (int64_t x = 0; x < patch[0]; ++x) {
                const float w = (float)(fzy * axis_factor(weighting, patch[0], x));
                map[at++] = w > 0.0f ? w : floor_value; /* nnU-Net: no zero weights */
            }
        }
    return DS_OK;
}
