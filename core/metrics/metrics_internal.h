/* metrics_internal.h - shared by the files of core/metrics (not public). */
#ifndef DS_METRICS_INTERNAL_H
#define DS_METRICS_INTERNAL_H

#include <stdint.h>
#include "ds_metrics.h"

/* Squared exact Euclidean distance transform of an nx * ny * nz grid (x fastest): out[v] = squared
 * distance, with spacing (sx, sy, sz), from v to the nearest voxel whose feature byte has a bit of
 * mask set; +inf where there is none. Parallel over lines with `threads` threads. Returns
 * DS_ERR_NOMEM (without a message) when its scratch cannot be allocated. */
ds_status ds_metrics_edt_sq(int threads, const uint8_t *feature, uint8_t mask, int64_t nx,
                            int64_t ny, int64_t nz, const double spacing[3], double *out);

/* Checks size (each >= 1, product <= DS_METRICS_MAX_VOXELS) and spacing (finite, > 0); what names
 * the call in the message. On success *voxels receives the product. */
ds_status ds_metrics_check_grid(ds_ctx *ctx, const int64_t size[3], const double spacing[3],
                                const char *what, int64_t *voxels);

/* Checks opts (NULL allowed: the defaults are copied to *resolved). */
ds_status ds_metrics_resolve_options(ds_ctx *ctx, const ds_metrics_options *opts,
                                     ds_metrics_options *resolved, const char *what);

/* Checks that every label of map lies in 0..k-1; names the map (what) and the first bad voxel. */
ds_status ds_metrics_check_labels(ds_ctx *ctx, const uint16_t *map, int64_t voxels, int k,
                                  const char *what, const int64_t size[3]);

#endif
