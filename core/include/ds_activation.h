/* ds_activation.h - parameter-free layers: ReLU, Dropout3d, element-wise add, channel softmax.
 *
 * Same contract as ds_conv.h: _forward overwrites y (allocated with the right shape), _backward
 * ADDS into the input gradient(s). Every tensor argument is required (NULL fails with DS_ERR_ARG)
 * and shapes must be equal (DS_ERR_SHAPE, naming both). Element-wise work is split statically over
 * ds_ctx_threads(ctx) threads; results do not depend on the thread count.
 */
#ifndef DS_ACTIVATION_H
#define DS_ACTIVATION_H

#include "ds_rng.h"
#include "ds_tensor.h"

#ifdef __cplusplus
extern "C" {
#endif

/* y = max(x, 0); y may alias x. */
ds_status ds_relu_forward(ds_ctx *ctx, const ds_tensor *x, ds_tensor *y);
/* dx += dy * (y > 0); y is the forward output (equivalently the input: same sign pattern). */
ds_status ds_relu_backward(ds_ctx *ctx, const ds_tensor *y, const ds_tensor *dy, ds_tensor *dx);

/* y = a + b; y may alias a or b. Backward is dy into both: da += dy, db += dy. */
ds_status ds_add_forward(ds_ctx *ctx, const ds_tensor *a, const ds_tensor *b, ds_tensor *y);
/* dst += src (shapes equal): the backward of add, and of any fan-out of an activation. */
ds_status ds_tensor_accumulate(ds_ctx *ctx, ds_tensor *dst, const ds_tensor *src);

/* Softmax over channels at every voxel, computed stably (max subtracted); y may alias x. */
ds_status ds_softmax_forward(ds_ctx *ctx, const ds_tensor *x, ds_tensor *y);
/* dx += y * (dy - sum_c y dy) per voxel; y is the forward output. */
ds_status ds_softmax_backward(ds_ctx *ctx, const ds_tensor *y, const ds_tensor *dy, ds_tensor *dx);

/* Dropout3d (PyTorch nn.Dropout3d): in training, each whole (n, c) channel is zeroed with
 * probability p, survivors scaled by 1 / (1 - p); in evaluation (or p == 0) y = x.
 * The keep decisions come from rng (one uniform draw u per (n, c), in n-major order; the channel
 * is dropped when u < p) and are kept in the layer for backward. Survivors are multiplied by the
 * float s = 1 / (1 - p) (as PyTorch does). In evaluation, and in training with p == 0, nothing is
 * drawn (rng may then be NULL). p must lie in [0, 1) (init and forward fail otherwise).
 * Backward applies the mask of the last forward (or the identity after an evaluation forward);
 * it fails if no forward came first or if (N, C) differ from it. */
typedef struct ds_dropout3d {
    float p;
    float *scale;       /* per (n, c): 0 or 1 / (1 - p); NULL before the first training forward */
    int64_t scale_cap;  /* allocated entries */
    int64_t n, c;       /* shape of the last forward */
    int last_training;
} ds_dropout3d;

ds_status ds_dropout3d_init(ds_ctx *ctx, ds_dropout3d *drop, float p);
void ds_dropout3d_free(ds_dropout3d *drop);
/* y may alias x. */
ds_status ds_dropout3d_forward(ds_ctx *ctx, ds_dropout3d *drop, const ds_tensor *x, ds_tensor *y,
                               int training, ds_rng *rng);
ds_status ds_dropout3d_backward(ds_ctx *ctx, ds_dropout3d *drop, const ds_tensor *dy, ds_tensor *dx);

#ifdef __cplusplus
}
#endif

#endif /* DS_ACTIVATION_H */
