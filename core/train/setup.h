/* setup.h - the model a run starts from (private to core/train). */
#ifndef DS_TRAIN_SETUP_H
#define DS_TRAIN_SETUP_H

#include "ds_train.h"

/* A resumed checkpoint (opt->resume and the file exists: *resumed = 1), or a new model: fresh
 * weights from DS_RNG_INIT_A / _B, or the warm-start file's weights; new optimisers, RNG streams
 * at 0, iteration 0. */
ds_status ds_train_setup_model(ds_ctx *ctx, const ds_train_options *opt,
                               const ds_train_data *data, ds_model **out, int *resumed);

#endif
