/* ds_metrics.h - segmentation metrics defined exactly as medpy.metric.binary defines them
 * (METHOD.md section 6): Dice, Jaccard, 95 % Hausdorff distance (HD95), average surface distance
 * (ASD), their symmetric / maximum companions, and volumes; per foreground class of a label map and
 * over a cohort (mean +- std, CSV).
 *
 * Geometry follows ARCHITECTURE.md ("Volume geometry"): size = {nx, ny, nz}, spacing = {sx, sy, sz}
 * in mm, voxel (i, j, k) at i + nx * (j + ny * k) (x fastest).
 *
 * Definitions (those of medpy 0.4, which the Left Atrium benchmark literature reports):
 *   surface(M)  = M and not erode(M), erosion with the 6-connected cross, one iteration, voxels
 *                 outside the array counting as background (scipy's border_value = 0), so mask
 *                 voxels on the array border are surface voxels;
 *   sds(P, R)   = for each voxel of surface(P), the Euclidean distance (with the spacing) to the
 *                 nearest voxel of surface(R) (an exact distance transform);
 *   dice        = 2 |P n R| / (|P| + |R|);  jaccard = |P n R| / |P u R|;
 *   hd95        = 95th percentile, linear interpolation (numpy's default), of sds(P,R) and sds(R,P)
 *                 pooled;  hd = the maximum of that pool;
 *   asd         = mean of sds(P, R) (prediction surface to reference surface);
 *   assd        = (mean sds(P, R) + mean sds(R, P)) / 2.
 *
 * Units. The Left Atrium benchmark's test scripts call medpy without voxelspacing, so their HD95 and
 * ASD are in voxels: compare with their tables using DS_METRICS_VOXELS; DS_METRICS_MM (the default)
 * uses the spacing, as medpy does when given voxelspacing.
 *
 * Empty masks. medpy raises an error when a mask is empty; here an empty prediction or reference is
 * reported explicitly: the flags DS_METRICS_PRED_EMPTY / DS_METRICS_REF_EMPTY are set, every
 * distance is NaN, Dice and Jaccard are what the formulas give (0 when exactly one mask is empty,
 * NaN when both are) and the row is flagged DS_METRICS_EXCLUDED (left out of cohort means, and
 * counted). With DS_METRICS_EMPTY_LITERATURE, an empty prediction instead scores 0 for every metric
 * (Dice, Jaccard, HD95, ASD, ASSD, HD), flagged DS_METRICS_SCORED_ZERO and kept in the means, as the
 * Left Atrium benchmark's test scripts do ("if np.sum(prediction) == 0: metric = (0, 0, 0, 0)");
 * an empty reference with a non-empty prediction stays excluded (those scripts have no rule for it).
 */
#ifndef DS_METRICS_H
#define DS_METRICS_H

#include <stdint.h>
#include "ds_status.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Largest volume accepted, in voxels (2^34); larger requests are refused as absurd. */
#define DS_METRICS_MAX_VOXELS ((int64_t)1 << 34)
/* Largest number of classes of a label map (labels are uint16). */
#define DS_METRICS_MAX_CLASSES 65536

/* The values of one row, indexed by ds_metric. Distances are in mm (or voxels, see
 * ds_metrics_units); volumes always in mm^3. */
typedef enum ds_metric {
    DS_METRIC_DICE = 0,
    DS_METRIC_JACCARD,
    DS_METRIC_HD95,
    DS_METRIC_ASD,
    DS_METRIC_ASSD,
    DS_METRIC_HD,
    DS_METRIC_PRED_MM3,     /* |P| * sx * sy * sz */
    DS_METRIC_REF_MM3,      /* |R| * sx * sy * sz */
    DS_METRIC_VOL_DIFF_MM3, /* pred_mm3 - ref_mm3 */
    DS_METRIC_RAVD,         /* (|P| - |R|) / |R| (medpy's ravd); NaN when R is empty */
    DS_METRIC_COUNT
} ds_metric;

/* The CSV column name of a metric ("dice", "jaccard", "hd95", "asd", "assd", "hd", "pred_mm3",
 * "ref_mm3", "vol_diff_mm3", "ravd"); "?" for an invalid value. Never NULL. */
const char *ds_metric_name(ds_metric m);

typedef enum ds_metrics_units {
    DS_METRICS_MM = 0,    /* distances with the voxel spacing (default) */
    DS_METRICS_VOXELS = 1 /* distances in voxels: spacing taken as 1 for distances only */
} ds_metrics_units;

typedef enum ds_metrics_empty {
    DS_METRICS_EMPTY_FLAG = 0,      /* empty masks flagged, NaN distances, excluded (default) */
    DS_METRICS_EMPTY_LITERATURE = 1 /* empty prediction scores 0 everywhere (see above) */
} ds_metrics_empty;

/* Bits of ds_metrics_result.flags. */
#define DS_METRICS_PRED_EMPTY 1u  /* the prediction has no voxel of this class */
#define DS_METRICS_REF_EMPTY 2u   /* the reference has no voxel of this class */
#define DS_METRICS_SCORED_ZERO 4u /* the literature convention scored this row 0 */
#define DS_METRICS_EXCLUDED 8u    /* left out of cohort means (NaN distances) */

typedef struct ds_metrics_options {
    int num_classes;          /* K >= 2 for label maps: classes 1..K-1 are evaluated */
    ds_metrics_units units;   /* DS_METRICS_MM by default */
    ds_metrics_empty empty;   /* DS_METRICS_EMPTY_FLAG by default */
} ds_metrics_options;

/* The defaults: num_classes 2, distances in mm, empty masks flagged. */
void ds_metrics_options_init(ds_metrics_options *opts);

/* The metrics of one class of one case. */
typedef struct ds_metrics_result {
    double value[DS_METRIC_COUNT]; /* indexed by ds_metric */
    int64_t pred_voxels;           /* |P| */
    int64_t ref_voxels;            /* |R| */
    int64_t pred_surface;          /* voxels of surface(P) */
    int64_t ref_surface;           /* voxels of surface(R) */
    unsigned flags;                /* DS_METRICS_* bits */
} ds_metrics_result;

/* Exact Euclidean distance transform of a 3-D grid with anisotropic spacing (separable, linear in
 * the number of voxels, in double; parallel over lines with ds_ctx_threads(ctx) threads, the same
 * result for every thread count). dist[v] = distance in mm from voxel v to the nearest voxel whose
 * feature is non-zero (0 on feature voxels; +inf everywhere when there is no feature voxel).
 * Equals scipy.ndimage.distance_transform_edt(feature == 0, sampling=(sz, sy, sx)) on the array of
 * shape (nz, ny, nx). dist holds nx*ny*nz doubles. */
ds_status ds_metrics_edt(ds_ctx *ctx, const uint8_t *feature, const int64_t size[3],
                         const double spacing[3], double *dist);

/* Fails with DS_ERR_SHAPE, naming both, when the sizes of a prediction and its reference differ
 * (the metrics functions take one size for both maps: check first when they come from two files). */
ds_status ds_metrics_check_same_size(ds_ctx *ctx, const int64_t pred_size[3],
                                     const int64_t ref_size[3], const char *pred_name,
                                     const char *ref_name);

/* Metrics of two binary masks (non-zero = foreground). opts may be NULL (defaults; num_classes is
 * not used). */
ds_status ds_metrics_binary(ds_ctx *ctx, const uint8_t *pred, const uint8_t *ref,
                            const int64_t size[3], const double spacing[3],
                            const ds_metrics_options *opts, ds_metrics_result *out);

/* Metrics of two label maps with values in 0..K-1 (K = opts->num_classes; any other value is an
 * error naming the map and the voxel): out[c - 1] receives the metrics of (pred == c, ref == c) for
 * each foreground class c = 1..K-1 (K-1 entries). */
ds_status ds_metrics_labels(ds_ctx *ctx, const uint16_t *pred, const uint16_t *ref,
                            const int64_t size[3], const double spacing[3],
                            const ds_metrics_options *opts, ds_metrics_result *out);

/* ---- Cohorts: many cases, per-case per-class rows, mean +- std per class, CSV ---- */

typedef struct ds_metrics_cohort ds_metrics_cohort;

/* One case for ds_metrics_cohort_evaluate. */
typedef struct ds_metrics_case {
    const char *name;       /* non-empty; written to the CSV (quoted when needed) */
    const uint16_t *pred;   /* label map, nx*ny*nz values in 0..K-1 */
    const uint16_t *ref;
    int64_t size[3];
    double spacing[3];
} ds_metrics_case;

/* Summary of one class over a cohort. Rows flagged DS_METRICS_EXCLUDED are left out; the others
 * give mean and std (population std, ddof = 0, as numpy's np.std) of every metric. */
typedef struct ds_metrics_summary {
    double mean[DS_METRIC_COUNT];
    double std[DS_METRIC_COUNT];
    int n_cases;    /* rows of this class */
    int n_used;     /* rows in the mean */
    int n_excluded; /* rows left out (n_cases - n_used) */
    int n_pred_empty;
    int n_ref_empty;
} ds_metrics_summary;

/* An empty cohort evaluated with opts (copied; NULL = defaults). */
ds_status ds_metrics_cohort_create(ds_ctx *ctx, const ds_metrics_options *opts,
                                   ds_metrics_cohort **out);
void ds_metrics_cohort_free(ds_metrics_cohort *cohort);

/* Evaluates one case now (the volumes are not kept) and appends its K-1 rows. On failure the
 * cohort is unchanged. */
ds_status ds_metrics_cohort_add(ds_ctx *ctx, ds_metrics_cohort *cohort, const char *name,
                                const uint16_t *pred, const uint16_t *ref, const int64_t size[3],
                                const double spacing[3]);
/* Adds n cases in order; stops at the first failure (the cases before it stay added). */
ds_status ds_metrics_cohort_evaluate(ds_ctx *ctx, ds_metrics_cohort *cohort,
                                     const ds_metrics_case *cases, int n);

/* Number of cases added. */
int ds_metrics_cohort_cases(const ds_metrics_cohort *cohort);
/* The row of case index i (0-based, in order of addition) and class c (1..K-1); *name (optional)
 * receives the case name, valid while the cohort lives. */
ds_status ds_metrics_cohort_row(ds_ctx *ctx, const ds_metrics_cohort *cohort, int i, int c,
                                ds_metrics_result *out, const char **name);
/* Mean +- std of class c (1..K-1) over the cases added so far. */
ds_status ds_metrics_cohort_summary(ds_ctx *ctx, const ds_metrics_cohort *cohort, int c,
                                    ds_metrics_summary *out);

/* Writes the cohort as CSV, atomically (a temporary file beside path, then rename). Columns:
 *   case,class,status,dice,jaccard,hd95_U,asd_U,assd_U,hd_U,pred_mm3,ref_mm3,vol_diff_mm3,ravd,
 *   pred_voxels,ref_voxels,n_used,n_excluded
 * with U = "mm" or "vox" (the options' units). One row per case and class: status "ok",
 * "empty_pred", "empty_ref" or "empty_both", with "_scored_0" appended where the literature
 * convention scored the row; NaN written as "nan"; n_used and n_excluded empty. Then per class a
 * row with case "mean" and one with case "std": status "summary", voxel columns empty, n_used and
 * n_excluded filled. Numbers with 17 significant digits; case names quoted as RFC 4180 when they
 * hold a comma, quote or line break. */
ds_status ds_metrics_cohort_write_csv(ds_ctx *ctx, const ds_metrics_cohort *cohort,
                                      const char *path);

#ifdef __cplusplus
}
#endif

#endif /* DS_METRICS_H */
