/* ds_train.h - the dual-network trainer of METHOD.md sections 2 to 4: training data kept in
 * memory, batches of random crops, the pair (or a single network), two SGD optimisers, the step
 * schedule and ramp-ups, checkpoints with exact resume, warm start, a CSV log, validation, and a
 * memory estimate made before anything large is allocated.
 *
 * Data. Every case is loaded once (ds_train_data_add_case) and kept in memory as float32 image +
 * uint16 label: 6 bytes a voxel (4 for an unlabelled case); ds_train_data_bytes says how much.
 * Iterations never read files.
 *
 * Batches. N = labelled + unlabelled samples (2 + 2 by default; labelled only for the single
 * network). A labelled sample is a case with at least one annotated voxel, drawn uniformly with
 * replacement (DS_RNG_SAMPLING); an unlabelled sample is a case without a label, or, when the
 * data has none, any case with its label hidden. Each sample is a random crop of the patch
 * (offsets uniform over the valid range, DS_RNG_CROP); along an axis where the volume is smaller
 * than the patch it is centred and padded: the image with 0 (the mean after z-score, the bottom
 * of a window: the networks see "nothing" there), the label with the ignore label (padding is not
 * anatomy, so it takes no supervised loss). The same batch feeds both networks, so both see the
 * same crop. Voxels holding the ignore label (unknown, unannotated slices of a partial label,
 * padding, every voxel of an unlabelled sample) take no supervised loss and count as unlabelled
 * for the other terms (ds_losses.h). Augmentation (off by default, as in the paper) is drawn from
 * DS_RNG_AUGMENT per sample: flips along chosen axes (p = 0.5 each), a rotation by k * 90 degrees
 * (k uniform in 0..3) in a chosen plane, intensity x * s + b (s uniform in [1 - a, 1 + a], b in
 * [-c, c]).
 *
 * Exact resume. A checkpoint is a model file (ds_model.h) holding the networks (BatchNorm
 * running statistics included), both optimisers (momentum buffers, step counts) and every RNG
 * stream the loop draws from (sampling, crop, augmentation, dropout A and B, contrast); its meta
 * holds the iteration. Training resumed from the checkpoint of iteration k gives, bit for bit,
 * the weights of an uninterrupted run (same seed and thread count).
 *
 * The library never prints: progress goes to the callback, rows to the CSV log.
 */
#ifndef DS_TRAIN_H
#define DS_TRAIN_H

#include <stdint.h>
#include "ds_cohort.h"
#include "ds_losses.h"
#include "ds_model.h"
#include "ds_volume.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- Training data, in memory ---- */

typedef struct ds_train_data ds_train_data;

/* An empty set. opt gives K (num_classes, >= 2, required), the ignore label (>= 0 required), the
 * partial axis applied to labels added from memory, and the normalisation recorded in models. */
ds_status ds_train_data_create(ds_ctx *ctx, const ds_load_options *opt, ds_train_data **out);
void ds_train_data_free(ds_train_data *data);

/* Loads case `index` of the cohort with the set's load options (ds_cohort_load_case) and keeps
 * it. use_label 0 keeps the case as unlabelled even if it has a label. */
ds_status ds_train_data_add_case(ds_ctx *ctx, ds_train_data *data, const ds_cohort *cohort,
                                 int index, int use_label);
/* Copies an already normalised image (and label, or NULL) into the set; the label is checked
 * against K and the ignore label and its unannotated slices are marked (partial axis). */
ds_status ds_train_data_add(ds_ctx *ctx, ds_train_data *data, const ds_volume *image,
                            const ds_volume *label);

int ds_train_data_count(const ds_train_data *data);
int ds_train_data_labelled(const ds_train_data *data);   /* cases with an annotated voxel */
int64_t ds_train_data_foreground(const ds_train_data *data); /* annotated voxels of a class > 0 */
int ds_train_data_classes(const ds_train_data *data);
int64_t ds_train_data_bytes(const ds_train_data *data);  /* memory held by the cached volumes */
/* Borrowed views of case i (label NULL when unlabelled). */
const ds_volume *ds_train_data_image(const ds_train_data *data, int i);
const ds_volume *ds_train_data_label(const ds_train_data *data, int i);

/* ---- Batches ---- */

typedef enum ds_plane {
    DS_PLANE_XY = 0, /* rotation about z */
    DS_PLANE_XZ = 1, /* rotation about y */
    DS_PLANE_YZ = 2  /* rotation about x */
} ds_plane;

typedef struct ds_augment_options {
    int flip[3];          /* 1: flip along x, y, z with probability 0.5 */
    int rotate90;         /* 1: rotate by k * 90 degrees in `plane` (equal in-plane patch sizes) */
    ds_plane plane;
    float intensity_scale; /* a >= 0: multiply by U[1 - a, 1 + a]; 0 off */
    float intensity_shift; /* c >= 0: add U[-c, c]; 0 off */
} ds_augment_options;

typedef struct ds_batch_options {
    int64_t patch[3];     /* (x, y, z) voxels, multiples of DS_NET_SIZE_MULTIPLE */
    int labelled;         /* labelled samples per batch (2) */
    int unlabelled;       /* unlabelled samples per batch (2; ignored by the single network) */
    ds_augment_options augment; /* all off */
} ds_batch_options;

/* One batch: image (N, 1, D, H, W) with (D, H, W) = (patch z, y, x), labelled samples first, and
 * N * D * H * W labels (ignore label where unknown). Owned by the batch. */
typedef struct ds_batch {
    ds_tensor *image;
    uint16_t *labels;
    int labelled, unlabelled;
    float *scratch;            /* one sample, for rotations (private) */
    uint16_t *scratch_labels;
} ds_batch;

ds_status ds_batch_create(ds_ctx *ctx, const ds_batch_options *opt, int unlabelled,
                          ds_batch *out);
void ds_batch_free(ds_batch *b);
/* Checks the options against the data (patch, counts, rotation plane). */
ds_status ds_batch_options_check(ds_ctx *ctx, const ds_batch_options *opt, int single);
/* Fills b with the next batch, advancing the three streams (sampling, crop, augment). */
ds_status ds_batch_draw(ds_ctx *ctx, const ds_train_data *data, const ds_batch_options *opt,
                        ds_rng *sampling, ds_rng *crop, ds_rng *augment, ds_batch *b);

/* ---- The trainer ---- */

typedef enum ds_pair_mode {
    DS_PAIR_HETEROGENEOUS = 0, /* A = ResNet34-V-Net, B = V-Net (paper)                 */
    DS_PAIR_HOMOGENEOUS = 1,   /* A = B = V-Net, initialised from different streams     */
    DS_PAIR_SINGLE = 2         /* one V-Net, labelled data only, CE + Dice (baseline)   */
} ds_pair_mode;

/* What the progress callback receives after every iteration. */
typedef struct ds_train_progress {
    int64_t iteration;        /* iterations done (1 after the first) */
    int64_t iterations;       /* of the run */
    ds_loss_report loss;      /* every term, per network; kept fraction and foreground */
    float lr;                 /* learning rate of the step just taken */
    float ramp;               /* w(t) */
    double seconds_per_iteration; /* mean over the iterations of this call */
    double loss_seconds;      /* of this iteration, spent in ds_dual_loss_compute */
    double seconds_left;      /* at that pace */
    double validation_dice;   /* mean foreground Dice of the last validation; NaN if none yet */
} ds_train_progress;

/* Return non-zero to stop after this iteration (as the cancel flag does). */
typedef int (*ds_train_progress_fn)(void *user, const ds_train_progress *p);

typedef struct ds_train_options {
    ds_pair_mode pair;
    int width;                /* 16 */
    int64_t iterations;       /* T (6000); 0 only with a warm start (load and save) */
    float lr, momentum, weight_decay; /* 0.01, 0.9, 1e-4 */
    int milestone_count;      /* 0: the paper's 5/12 and 10/12 of the iterations */
    int64_t milestones[DS_LR_MAX_MILESTONES];
    float gamma;              /* 0.1 */
    uint64_t seed;            /* 1337 */
    int dropout;              /* 1: Dropout3d in training (the networks' default) */
    ds_batch_options batch;   /* no default patch: set it */
    ds_loss_options loss;     /* ds_loss_options_init; the single network uses CE + Dice only */

    const char *checkpoint_path; /* NULL: no checkpoints */
    int64_t checkpoint_every;    /* iterations between checkpoints (0: only at the end) */
    int resume;                  /* 1: continue from checkpoint_path when it exists */
    const char *warm_start_path; /* model file whose weights start the run (schedule restarts) */
    const char *log_path;        /* per-iteration CSV; NULL: none */
    const char *const *class_names; /* names of classes 0..class_name_count-1 kept in the model
                                       file (borrowed; NULL entries and classes beyond the count
                                       stay unnamed; cut to DS_MODEL_NAME_CAP - 1 bytes) */
    int class_name_count;

    const ds_train_data *validation; /* labelled held-out cases; NULL: none */
    int64_t validate_every;          /* iterations between validations */
    const char *best_model_path;     /* the best model by validation Dice, written atomically */
    int64_t validation_stride[3];    /* sliding-window stride (x, y, z); 0: half the patch */

    int64_t memory_cap_bytes;    /* 0: the machine's memory only */
    ds_train_progress_fn progress;
    void *progress_user;
    const volatile int *cancel;  /* read before every iteration (one in progress completes, so
                                    a stop comes within one iteration); may be NULL */
} ds_train_options;

/* The paper's defaults (above); patch 0 (must be set), checkpoints, log and validation off. */
void ds_train_options_init(ds_train_options *opt);

typedef struct ds_train_result {
    int64_t iterations_done;   /* the model's iteration count at the end */
    int cancelled;             /* stopped by the flag or the callback */
    int resumed;               /* started from the checkpoint */
    int64_t resumed_from;      /* its iteration */
    double best_validation_dice;  /* NaN without validation */
    int64_t best_iteration;
    ds_loss_report last;       /* of the last iteration */
} ds_train_result;

/* The peak memory of a run, estimated before its large allocations. */
typedef struct ds_train_memory {
    int64_t parameters;   /* values, gradients, momentum of every network */
    int64_t activations;  /* forward activations + backward gradient pool, measured and scaled */
    int64_t losses;       /* logit and feature gradients, loss work buffers */
    int64_t batch;        /* the batch image and labels */
    int64_t data;         /* the cached volumes (training + validation) */
    int64_t total;
    int64_t limit;        /* min(machine memory, cap) */
} ds_train_memory;

/* Measures the networks' activation memory at two small sizes, extrapolates linearly in the
 * voxel count to the batch (exact for sizes that are multiples of 16: every level scales with
 * it), and adds the rest. Refuses nothing; ds_train_run refuses when total > limit. */
ds_status ds_train_estimate_memory(ds_ctx *ctx, const ds_train_options *opt,
                                   const ds_train_data *data, ds_train_memory *out);

/* Trains. *out_model (may be NULL) receives the final model (networks, optimisers, RNG streams,
 * meta): the caller saves and frees it. Fails with a message on bad options or data (K mismatch
 * between data and a model file, no labelled case, labels of background only, a patch that is not
 * a multiple of 16, too little memory) and with DS_ERR_NUMERIC on a non-finite loss, leaving the last checkpoint
 * (always one of finite weights) untouched. A cancelled run writes a checkpoint of the last
 * finished iteration and returns DS_OK with result->cancelled set. */
ds_status ds_train_run(ds_ctx *ctx, const ds_train_options *opt, const ds_train_data *data,
                       ds_model **out_model, ds_train_result *result);

/* w(t) = exp(-5 (1 - t / T)^2), t clamped to [0, T]. */
float ds_train_ramp(int64_t t, int64_t iterations);

#ifdef __cplusplus
}
#endif

#endif /* DS_TRAIN_H */
