/* train_internal.h - what the files of core/train share (private). */
#ifndef DS_TRAIN_INTERNAL_H
#define DS_TRAIN_INTERNAL_H

#include "ds_train.h"

#include <stdio.h>

typedef struct ds_train_case {
    ds_volume *image;   /* normalised, float32 */
    ds_volume *label;   /* NULL: unlabelled (or no annotated voxel) */
    int64_t annotated;
} ds_train_case;

struct ds_train_data {
    ds_load_options opt; /* K, ignore label, partial axis, normalisation */
    ds_train_case *cases;
    int count, cap;
    int labelled;
    int64_t foreground; /* labelled voxels of a class above 0, over every case */
};

/* The load options the set was made with. */
const ds_load_options *ds_train_data_load_options(const ds_train_data *data);
/* The architecture of network i (0 = A, 1 = B) in a pair mode. */
ds_arch ds_train_arch(ds_pair_mode pair, int i);
/* Bytes validation needs beyond the cached cases (probability maps of the largest case). */
int64_t ds_train_validation_bytes(const ds_train_options *opt);
/* Checks every option that does not depend on the data. */
ds_status ds_train_options_check(ds_ctx *ctx, const ds_train_options *opt);

/* The RNG streams a run draws from, in the order they are kept in the model file. */
enum { RNG_SAMPLING, RNG_CROP, RNG_AUGMENT, RNG_DROPOUT_A, RNG_DROPOUT_B, RNG_CONTRAST,
       RNG_COUNT };
uint32_t ds_train_rng_purpose(int slot);

/* ---- the CSV log (log.c) ---- */
typedef struct ds_train_log {
    FILE *f;
    const char *path;
} ds_train_log;
/* Starts the log: a new file with its header, or, when resuming from iteration `from`, the old
 * file cut to its rows up to `from` (rewritten atomically), then opened for appending. */
ds_status ds_train_log_open(ds_ctx *ctx, ds_train_log *log, const char *path, int resume,
                            int64_t from);
/* Appends one row and flushes it, so a stopped run leaves whole rows (a torn last line is
 * dropped by the next resume). */
ds_status ds_train_log_row(ds_ctx *ctx, ds_train_log *log, const ds_train_progress *p,
                           double seconds);
void ds_train_log_close(ds_train_log *log);

/* ---- validation (validate.c) ---- */
/* Mean foreground Dice of the networks over the validation cases (sliding window). */
ds_status ds_train_validate(ds_ctx *ctx, const ds_train_options *opt, ds_model *model,
                            double *dice);
/* The best validation so far: kept beside the best model as "<best_model_path>.best" (iteration
 * and Dice, written atomically) so that a resumed run keeps comparing against it. */
ds_status ds_train_best_load(ds_ctx *ctx, const ds_train_options *opt, int resumed,
                             double *dice, int64_t *iteration);
ds_status ds_train_best_save(ds_ctx *ctx, const ds_train_options *opt, ds_model *model,
                             double dice, int64_t iteration);

#endif
