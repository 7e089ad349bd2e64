/* ds_infer.h - segmenting whole volumes with a trained pair, the uncertainty maps, and what to
 * label next (METHOD.md section 5).
 *
 * Sliding window. Windows of the patch size start at positions spread evenly from 0 to
 * size - patch along each axis (nnU-Net's rule: n = ceil((size - patch) / stride) + 1 starts,
 * start_i = round_half_even(i * (size - patch) / (n - 1))), so the last window ends at the border
 * and the actual step never exceeds the stride. An axis shorter than the patch is padded with
 * zeros (the mean after z-score normalisation) to the patch size, split evenly before and after,
 * and every output is cropped back. Each window's softmax is multiplied by an importance map and
 * added into per-class accumulators; the probabilities are the accumulated sums divided by the
 * accumulated weights. With flip test-time augmentation each window is also evaluated with its
 * input mirrored along every combination of the three axes (8 passes), each output mirrored back
 * and the 8 averaged before weighting: the averaged softmax feeds the label, entropy and
 * disagreement alike.
 *
 * Importance map. DS_INFER_WEIGHT_GAUSSIAN is nnU-Net's: a Gaussian centred on voxel patch / 2
 * (integer division) of the window, sigma = patch / 8 per axis, divided by its maximum, zeros
 * replaced by the smallest non-zero value (with sigma = patch / 8 the map never falls below
 * exp(-24) of its centre in float32, so the clamp only guards against underflow).
 * DS_INFER_WEIGHT_UNIFORM weights every voxel of every window 1.
 * Default: Gaussian. Measured (bench_infer --study: a small trained V-Net, 8 phantoms, 32^3
 * windows at half stride): Dice 0.968 Gaussian against 0.964 uniform (0.968 for one window
 * over the whole volume), label agreement with that one window 0.9999 against 0.9993, mean
 * |p - p_one window| 0.0001 against 0.0013. Uniform weights let window borders, where the
 * network saw zero-padded context, count as much as window centres.
 *
 * The networks. nets[0] is network A and nets[1] network B (a model file's first and second
 * network). DS_INFER_NETS_BOTH averages the softmax of every network given (p = (p_A + p_B) / 2),
 * DS_INFER_NETS_A / _B evaluate one network only. Every network must have in_channels 1 and the
 * same number of classes K (2..DS_NET_MAX_CLASSES). The patch must be a multiple of
 * DS_NET_SIZE_MULTIPLE (16) on every axis, as the networks require; anything else is refused.
 * The networks' activations are planned for the window batch and kept by them afterwards, as
 * for any forward (ds_nets.h); the calls do not change which scratch they use: give the two
 * networks one ds_net_scratch (ds_net_use_scratch) to hold only one network's evaluation memory.
 * A network must not be used by another thread during a call.
 *
 * Outputs, all on the input's exact geometry (size, spacing, origin, direction copied):
 *   label         DS_VOLUME_LABEL, argmax of p (lowest class on ties); with largest_component,
 *                 every foreground class keeps only its largest 26-connected component (the
 *                 first in x-fastest scan order on ties) and its other voxels become 0;
 *   entropy       DS_VOLUME_SCALAR, -sum_k p_k log p_k / log K, in [0, 1];
 *   disagreement  DS_VOLUME_SCALAR, symmetric KL between the two networks' averaged softmax,
 *                 sum_k (pA_k - pB_k)(log pA_k - log pB_k) >= 0; only when two networks are
 *                 evaluated, else NULL;
 *   probability   K DS_VOLUME_SCALAR volumes p_k, only with probabilities on, else NULL.
 * Inside logarithms probabilities are clamped below at DS_INFER_LOG_EPS so a float32 softmax
 * that rounds to 0 gives finite values.
 *
 * Memory. A window batch whose networks' memory (measured at two tiny sizes and extrapolated, as
 * the trainer's estimate) exceeds the machine's memory or the address-space limit is refused
 * with DS_ERR_NOMEM before anything of its size is allocated. Windows are streamed in batches; the only whole-volume buffers are the accumulators:
 * K float32 planes per network evaluated (two networks only when both are evaluated: the
 * disagreement needs p_A and p_B apart). The weights need no volume: each window's softmax sums
 * to 1, so a voxel's weight is the sum of its class sums. The output volumes are created first
 * and lend their buffers as accumulator planes (the entropy, or the probabilities, take network
 * A's; the disagreement network B's class 0), then are computed in place voxel by voxel; the
 * label map is allocated after the pass, when ds_infer_model has freed its normalised copy of
 * the image. A 512 x 512 x 300 volume with K = 2 and the pair: 4 planes of 300 MiB during the
 * pass (+ the normalised copy, 300 MiB), then 150 MiB for the label map; measured peak of the
 * whole process, the image included, 1.9 GiB with a width-1 pair (bench_infer --ct), plus the
 * networks' evaluation memory for one window batch.
 *
 * Memory contract. A ds_infer_result is the caller's struct; every call filling one first zeroes
 * it, and on success it owns the volumes it points to, released together by
 * ds_infer_result_free (which zeroes it again, and accepts a zeroed struct). On failure the
 * result is left zeroed, nothing is allocated, and nothing is written to disk except as the
 * writing functions below say. Inputs (image, networks, model, cohort) are borrowed.
 *
 * Progress and cancel. The progress callback, when set, receives a fraction in [0, 1] that never
 * decreases, and a one-line message; it is called from the calling thread only, after every
 * batch of windows and at phase changes. A non-NULL cancel flag is read between batches of
 * windows (and between cases in cohort mode): once it holds a non-zero value the call stops,
 * frees what it allocated, and fails with DS_ERR_ARG and the message "cancelled" (see
 * DS_INFER_CANCELLED).
 *
 * Threads: ds_ctx_threads(ctx) for the networks and the accumulation. Results are deterministic
 * for a given input and thread count.
 */
#ifndef DS_INFER_H
#define DS_INFER_H

#include <stdint.h>
#include "ds_cohort.h"
#include "ds_model.h"
#include "ds_nets.h"
#include "ds_status.h"
#include "ds_volume.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Lower clamp of probabilities inside logarithms (entropy, disagreement). */
#define DS_INFER_LOG_EPS 1e-8f
/* Largest window batch accepted. */
#define DS_INFER_MAX_BATCH 64
/* The status a cancelled call returns (with the message "cancelled"). */
#define DS_INFER_CANCELLED DS_ERR_ARG

typedef enum ds_infer_weighting {
    DS_INFER_WEIGHT_GAUSSIAN = 0, /* nnU-Net's importance map, sigma = patch / 8 */
    DS_INFER_WEIGHT_UNIFORM = 1   /* every voxel of every window weighs 1 */
} ds_infer_weighting;

typedef enum ds_infer_nets {
    DS_INFER_NETS_BOTH = 0, /* the softmax of every network given, averaged */
    DS_INFER_NETS_A = 1,    /* nets[0] only */
    DS_INFER_NETS_B = 2     /* nets[1] only (needs two networks) */
} ds_infer_nets;

typedef enum ds_infer_tta {
    DS_INFER_TTA_NONE = 0,
    DS_INFER_TTA_FLIPS = 1 /* every combination of flips of the three axes: 8 passes */
} ds_infer_tta;

/* Called with the fraction done (0..1, never decreasing) and a one-line message, valid only
 * during the call. */
typedef void (*ds_infer_progress_fn)(void *user, double fraction, const char *message);

typedef struct ds_infer_options {
    int64_t patch[3];              /* window (x, y, z), multiples of DS_NET_SIZE_MULTIPLE;
                                      all 0: the model's training patch (ds_infer_model only) */
    int64_t stride[3];             /* (x, y, z) voxels, 1..patch; 0 on an axis: half the patch */
    ds_infer_weighting weighting;
    ds_infer_nets nets;
    ds_infer_tta tta;
    int probabilities;             /* 1: also return the K per-class probability volumes */
    int largest_component;         /* 1: keep each foreground class's largest 26-connected
                                      component in the label map */
    int batch;                     /* windows (or flipped copies) per forward,
                                      1..DS_INFER_MAX_BATCH */
    ds_infer_progress_fn progress; /* NULL: none */
    void *progress_user;
    const volatile int *cancel;    /* NULL: none; non-zero stops the call between batches */
} ds_infer_options;

/* Defaults: patch 0 (the model's), stride 0 (half the patch), DS_INFER_WEIGHT_GAUSSIAN,
 * DS_INFER_NETS_BOTH, no TTA, no probabilities, no largest component, batch 2, no progress,
 * no cancel flag. */
void ds_infer_options_init(ds_infer_options *o);

typedef struct ds_infer_result {
    ds_volume *label;                             /* DS_VOLUME_LABEL, values 0..K-1 */
    ds_volume *entropy;                           /* DS_VOLUME_SCALAR in [0, 1] */
    ds_volume *disagreement;                      /* DS_VOLUME_SCALAR >= 0; NULL with one network */
    ds_volume *probability[DS_NET_MAX_CLASSES];   /* [0..classes-1] with probabilities on */
    int classes;                                  /* K */
    int nets_used;                                /* networks evaluated: 1 or 2 */
    int64_t windows;                              /* windows evaluated (not counting flips) */
    int passes;                                   /* forward passes per window: 1, 8 with flips */
} ds_infer_result;

/* Releases every volume of r and zeroes it. NULL and a zeroed struct are allowed. */
void ds_infer_result_free(ds_infer_result *r);

/* The window starts along one axis of length size (>= patch) for the given patch and stride
 * (1..patch): writes at most cap starts into starts and their number into *count (which may
 * exceed cap: call with cap 0 to size the array). For tests and for modules that show the grid. */
ds_status ds_infer_window_starts(ds_ctx *ctx, int64_t size, int64_t patch, int64_t stride,
                                 int64_t *starts, int64_t cap, int64_t *count);

/* The importance map of one window, patch[0] * patch[1] * patch[2] floats, x fastest; its
 * maximum is 1 (both weightings). */
ds_status ds_infer_importance_map(ds_ctx *ctx, ds_infer_weighting weighting,
                                  const int64_t patch[3], float *map);

/* Segments an ALREADY NORMALISED scalar volume (as the networks were trained to see it) with
 * net_count (1 or 2) networks, on the volume's own grid. opt->patch must be set (no model to take
 * it from). The image must be finite (DS_ERR_NUMERIC otherwise, before any forward). */
ds_status ds_infer_volume(ds_ctx *ctx, ds_net *const *nets, int net_count, const ds_volume *image,
                          const ds_infer_options *opt, ds_infer_result *out);

/* Segments a raw scalar image as read from its file with the model's networks: checks the
 * model (in_channels 1, classes as its networks), the image (finite), then resamples a copy to
 * the model's training spacing when that is set and differs from the image's (relative
 * tolerance DS_GEOMETRY_TOL_DEFAULT; trilinear), normalises the copy as the model says
 * (ds_volume_zscore / ds_volume_window / none), segments it (the patch: opt->patch, or the
 * model's when all 0), and brings every output back to the image's grid (nearest for the label
 * map, trilinear for the scalar maps; the largest component is taken on the image's grid). */
ds_status ds_infer_model(ds_ctx *ctx, const ds_model *model, const ds_volume *image,
                         const ds_infer_options *opt, ds_infer_result *out);

/* Keeps, for every foreground class (label != 0) of a label map, only its largest 26-connected
 * component (the first in x-fastest scan order on ties); the class's other voxels become 0.
 * What the largest_component option applies; exposed for modules that post-process labels. */
ds_status ds_infer_keep_largest_component(ds_ctx *ctx, ds_volume *label);

/* ---- Writing results ---- */

typedef enum ds_infer_output {
    DS_INFER_OUT_LABEL = 1,
    DS_INFER_OUT_ENTROPY = 2,
    DS_INFER_OUT_DISAGREEMENT = 4, /* skipped when the result has none */
    DS_INFER_OUT_PROBABILITIES = 8 /* skipped when the result has none */
} ds_infer_output;
#define DS_INFER_OUT_MAPS (DS_INFER_OUT_LABEL | DS_INFER_OUT_ENTROPY | DS_INFER_OUT_DISAGREEMENT)

/* Writes the parts of r selected by outputs (a bitwise OR of ds_infer_output) as
 *   <dir>/<id>_label<ext>, <id>_entropy<ext>, <id>_disagreement<ext>, <id>_prob<k><ext>
 * (ext with its dot, e.g. ".nii.gz" or ".nrrd"; NULL: ".nii.gz"). Every file is written atomically
 * (ds_io_write). The folder is checked first: a missing or unwritable folder fails with
 * DS_ERR_IO and a message naming it, with nothing written. A failure after the first file leaves
 * the files already written in place (each whole) and names the one that failed. */
ds_status ds_infer_write(ds_ctx *ctx, const ds_infer_result *r, unsigned outputs, const char *dir,
                         const char *id, const char *ext);

/* ---- What to label next ---- */

typedef struct ds_infer_slice_options {
    int axis;          /* 0, 1, 2: slices across x, y, z (slice i = voxels with that index i) */
    int margin;        /* voxels: the predicted foreground is grown by a cube of this radius */
    int min_distance;  /* suggested slices differ by at least this much (>= 1) */
    int count;         /* slices wanted (>= 1) */
    const uint8_t *skip; /* NULL, or size[axis] flags: a slice flagged non-zero is never
                            suggested (already annotated: ds_label_annotated_slices) */
} ds_infer_slice_options;

/* axis 2, margin 3, min_distance 5, count 5, skip NULL. */
void ds_infer_slice_options_init(ds_infer_slice_options *o);

/* Ranks the slices of a segmented volume by the mean entropy over the predicted foreground
 * (label != 0) grown by margin, inside the slice; slices without such voxels are never
 * suggested, so empty background slices do not win. Greedy: the highest-scoring slice first,
 * then the next highest at least min_distance from every slice already chosen (ties: lower
 * index); slices flagged in o->skip are passed over. Writes up to o->count slice indices and scores (mean normalised entropy, [0, 1]) in
 * that order; *found receives how many (fewer than count when the region is small). label and
 * entropy must have the same size. */
ds_status ds_infer_rank_slices(ds_ctx *ctx, const ds_volume *label, const ds_volume *entropy,
                               const ds_infer_slice_options *o, int64_t *indices, double *scores,
                               int *found);

/* One case's score for the case ranking: mean entropy over the predicted foreground grown by
 * margin voxels (0: the foreground itself); region_voxels 0 and score 0 when nothing is
 * predicted (such a case ranks last; its region_voxels says why). */
typedef struct ds_infer_case_score {
    int index;             /* position in the set (cohort order) */
    double score;          /* mean normalised entropy in the region, [0, 1] */
    int64_t region_voxels; /* voxels in the region */
} ds_infer_case_score;

ds_status ds_infer_score_case(ds_ctx *ctx, const ds_volume *label, const ds_volume *entropy,
                              int margin, ds_infer_case_score *out);

/* Ranks count results (each with label and entropy): ranked[0..count-1] receives their scores,
 * highest first (ties: lower index first). */
ds_status ds_infer_rank_cases(ds_ctx *ctx, const ds_infer_result *const *results, int count,
                              int margin, ds_infer_case_score *ranked);

/* Sorts scores already computed (e.g. by ds_infer_cohort) in place into ranking order. */
void ds_infer_sort_scores(ds_infer_case_score *scores, int count);

/* ---- Cohort mode ---- */

typedef struct ds_infer_cohort_options {
    const char *out_dir;     /* must exist; checked before the first case */
    const char *ext;         /* output extension with its dot; NULL: ".nii.gz" */
    unsigned outputs;        /* ds_infer_output bits; default DS_INFER_OUT_MAPS */
    int margin;              /* for the case scores; default 3 */
    int test_only;           /* 1: only the cases marked is_test; default 0 (every case) */
} ds_infer_cohort_options;

/* out_dir NULL (must be set), ext NULL, outputs DS_INFER_OUT_MAPS, margin 3, test_only 0. */
void ds_infer_cohort_options_init(ds_infer_cohort_options *o);

/* Segments every image of the cohort (or only its test cases) with ds_infer_model, one case at a
 * time, writing each case's outputs with ds_infer_write under its case id. Progress covers the
 * whole cohort (case i of n contributes [i/n, (i+1)/n]; messages start with "case i/n <id>").
 * scores (may be NULL) receives cohort->count entries in cohort order (entries of skipped cases
 * have index -1 and score 0); sort them with ds_infer_sort_scores. A failure stops at that case
 * with a message naming its id; the outputs of the cases before it stay written. */
ds_status ds_infer_cohort(ds_ctx *ctx, const ds_model *model, const ds_cohort *cohort,
                          const ds_infer_options *opt, const ds_infer_cohort_options *co,
                          ds_infer_case_score *scores);

#ifdef __cplusplus
}
#endif

#endif /* DS_INFER_H */
