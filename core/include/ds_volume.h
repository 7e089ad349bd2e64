/* ds_volume.h - a 3-D volume with its geometry, and what the trainer does to volumes before use:
 * validation, intensity normalisation, resampling, partial-label masks.
 *
 * Geometry follows ARCHITECTURE.md ("Volume geometry"): (x, y, z) order, size = {nx, ny, nz},
 * spacing and origin in mm (LPS, as ITK), direction row-major 3x3 whose column j is the direction of
 * axis j. Voxel (i, j, k) is at i + nx * (j + ny * k): seen as a tensor a volume is
 * (D, H, W) = (nz, ny, nx), the same memory (ds_tensor_view on values works without copying).
 *
 * A volume holds either scalar values (float32) or a label map (uint16), never both. Buffers are
 * 64-byte aligned and owned by the volume; ds_volume_free releases everything.
 */
#ifndef DS_VOLUME_H
#define DS_VOLUME_H

#include <stdint.h>
#include "ds_status.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Largest volume accepted, in voxels (2^31); larger requests are refused as absurd. */
#define DS_VOLUME_MAX_VOXELS ((int64_t)1 << 31)
/* Default value of the ignore label (METHOD.md section 4). */
#define DS_IGNORE_LABEL_DEFAULT 255
/* Default tolerance when comparing the geometry of an image and its label (relative, see
 * ds_geometry_compare). */
#define DS_GEOMETRY_TOL_DEFAULT 1e-4

typedef struct ds_geometry {
    int64_t size[3];      /* nx, ny, nz (each >= 1) */
    double spacing[3];    /* mm, each > 0 */
    double origin[3];     /* mm, LPS */
    double direction[9];  /* row-major; column j = direction of axis j */
} ds_geometry;

typedef enum ds_volume_kind {
    DS_VOLUME_SCALAR = 1, /* float32 values     */
    DS_VOLUME_LABEL = 2   /* uint16 label map   */
} ds_volume_kind;

/* One segment of a Slicer segmentation (.seg.nrrd): its name and the value it has in the map. */
#define DS_SEGMENT_NAME_CAP 128
typedef struct ds_segment {
    char name[DS_SEGMENT_NAME_CAP];
    int label_value;
} ds_segment;

typedef struct ds_volume {
    ds_geometry geom;
    ds_volume_kind kind;
    float *values;     /* DS_VOLUME_SCALAR: nx*ny*nz floats, else NULL */
    uint16_t *labels;  /* DS_VOLUME_LABEL: nx*ny*nz labels, else NULL  */
    ds_segment *segments; /* segments of a .seg.nrrd (else NULL), segment_count entries */
    int segment_count;
} ds_volume;

/* The identity geometry of the given size: spacing 1, origin 0, identity direction. */
void ds_geometry_identity(ds_geometry *g, int64_t nx, int64_t ny, int64_t nz);
int64_t ds_geometry_voxels(const ds_geometry *g);
/* Checks sizes (>= 1, total <= DS_VOLUME_MAX_VOXELS), spacing (finite, > 0), origin (finite) and
 * direction (finite, not singular). what names the volume in the message. */
ds_status ds_geometry_check(ds_ctx *ctx, const ds_geometry *g, const char *what);
/* Fails with DS_ERR_SHAPE, naming a and b, if the sizes differ or the spacing, origin or direction
 * differ beyond tol: |sa - sb| <= tol * max(|sa|, |sb|, 1) for spacing, |oa - ob| <= tol *
 * max(spacing, 1) for the origin, |da - db| <= tol for the direction entries. */
ds_status ds_geometry_compare(ds_ctx *ctx, const ds_geometry *a, const ds_geometry *b, double tol,
                              const char *a_name, const char *b_name);

/* Allocates a volume of the given geometry and kind, filled with zeros. */
ds_status ds_volume_create(ds_ctx *ctx, ds_volume **out, const ds_geometry *g, ds_volume_kind kind);
ds_status ds_volume_clone(ds_ctx *ctx, ds_volume **out, const ds_volume *src);
/* Frees the volume, its buffers and its segment list. NULL is allowed. */
void ds_volume_free(ds_volume *v);
int64_t ds_volume_voxels(const ds_volume *v);

/* ---- Validation (each failure names the volume with `what`) ---- */

/* Scalar volume: DS_ERR_NUMERIC on the first NaN / Inf (with its voxel index). */
ds_status ds_volume_check_finite(ds_ctx *ctx, const ds_volume *v, const char *what);
/* Label volume: every value lies in 0..num_classes-1 or equals ignore_label (ignore_label < 0:
 * none). DS_ERR_FORMAT naming the first bad value and its voxel otherwise. */
ds_status ds_volume_check_labels(ds_ctx *ctx, const ds_volume *v, int num_classes,
                                 int ignore_label, const char *what);

/* ---- Intensity normalisation (scalar volumes, in place) ---- */

/* Per-volume z-score: (v - mean) / std over all voxels (mean and population std computed in
 * double). DS_ERR_NUMERIC if the volume is constant (zero variance) or holds NaN / Inf. */
ds_status ds_volume_zscore(ds_ctx *ctx, ds_volume *v, const char *what);
/* Fixed window (CT): clip to [lo, hi], then map linearly to [0, 1]. lo < hi required. */
ds_status ds_volume_window(ds_ctx *ctx, ds_volume *v, float lo, float hi);

/* ---- Resampling ---- */

typedef enum ds_interp {
    DS_INTERP_NEAREST = 0, /* labels  */
    DS_INTERP_LINEAR = 1   /* scalars */
} ds_interp;

/* The geometry a volume of geometry g gets at a new spacing: same origin and direction, size
 * round(n * s / s') (at least 1), so the physical extent is kept as closely as the grid allows. */
ds_status ds_geometry_at_spacing(ds_ctx *ctx, const ds_geometry *g, const double spacing[3],
                                 ds_geometry *out);
/* Resamples src onto the grid `target` (any size, spacing, origin, direction) through physical
 * space. DS_INTERP_LINEAR (trilinear) is refused for label volumes. Points outside src take the
 * nearest edge voxel. Parallel over ds_ctx_threads(ctx). */
ds_status ds_volume_resample(ds_ctx *ctx, const ds_volume *src, const ds_geometry *target,
                             ds_interp interp, ds_volume **out);

/* ---- Partial labels (METHOD.md section 4) ---- */

/* Per-voxel annotated mask (1 annotated, 0 unknown) of a label volume: a voxel is unknown if it
 * holds ignore_label (>= 0) or, when axis is 0, 1 or 2 (x, y, z), if its slice along that axis
 * holds no non-zero label other than ignore_label. axis < 0: only the ignore label counts.
 * mask holds ds_volume_voxels(v) bytes. *annotated (may be NULL) receives the annotated count. */
ds_status ds_label_annotated_mask(ds_ctx *ctx, const ds_volume *v, int axis, int ignore_label,
                                  uint8_t *mask, int64_t *annotated);
/* Same rule, in place: every unannotated voxel of v is set to ignore_label (0..65535). */
ds_status ds_label_mark_unannotated(ds_ctx *ctx, ds_volume *v, int axis, int ignore_label);

/* The slices an annotator has touched: flags[s] (size[axis] bytes) is 1 when slice s along axis
 * (0, 1, 2: x, y, z) holds any voxel other than ignore_label (a painted 0 counts: background is
 * an annotation too), else 0. *count (may be NULL) receives the number of such slices. */
ds_status ds_label_annotated_slices(ds_ctx *ctx, const ds_volume *v, int axis, int ignore_label,
                                    uint8_t *flags, int64_t *count);
/* The simulated annotator: every voxel of slice index along axis of partial that holds
 * ignore_label (0..65535) takes the reference's value; nothing else changes. The two volumes
 * must have the same size. *changed (may be NULL) receives the number of voxels revealed. */
ds_status ds_label_reveal_slice(ds_ctx *ctx, ds_volume *partial, const ds_volume *reference,
                                int axis, int64_t index, int ignore_label, int64_t *changed);

#ifdef __cplusplus
}
#endif

#endif /* DS_VOLUME_H */
