/* layer_check.h - argument checks shared by the layers of ds_engine_layers (private). */
#ifndef DS_LAYER_CHECK_H
#define DS_LAYER_CHECK_H

#include "ds_tensor.h"

/* Below this many elements an element-wise loop runs on one thread (a parallel region costs more
 * than it saves). */
#define DS_LAYER_PARALLEL_MIN 32768

/* Fails (DS_ERR_ARG) naming layer and what if t is NULL or has no data. */
ds_status ds_layer_need_tensor(ds_ctx *ctx, const char *layer, const char *what, const ds_tensor *t);
/* Both tensors present and of equal shape; otherwise fails (DS_ERR_ARG / DS_ERR_SHAPE) with both
 * shapes in the message. */
ds_status ds_layer_need_same(ds_ctx *ctx, const char *layer, const char *what_a, const ds_tensor *a,
                             const char *what_b, const ds_tensor *b);

#endif /* DS_LAYER_CHECK_H */
