/* ds_norm.h - BatchNorm3d with PyTorch's semantics, forward and backward.
 *
 * Training: normalise with the batch statistics over (N, D, H, W) per channel, biased variance;
 * update running_mean and running_var (unbiased variance) with momentum 0.1:
 * running = (1 - momentum) * running + momentum * batch. Evaluation: use the running statistics.
 * eps 1e-5. Parameters weight (gamma, init 1) and bias (beta, init 0); buffers running_mean
 * (init 0), running_var (init 1) and num_batches_tracked, as in PyTorch's state_dict.
 * _backward ADDS into dx, weight.grad, bias.grad (same contract as ds_conv.h); in training mode
 * it is the full batch-statistics gradient, in evaluation mode the affine one.
 */
#ifndef DS_NORM_H
#define DS_NORM_H

#include "ds_param.h"
#include "ds_tensor.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct ds_batchnorm3d {
    int channels;
    float momentum, eps;
    ds_param weight, bias;
    float *running_mean, *running_var; /* channels each */
    int64_t num_batches_tracked;
    float *saved_mean, *saved_invstd;  /* of the last training forward, for backward */
    int saved_training;                /* mode of the last forward */
} ds_batchnorm3d;

ds_status ds_batchnorm3d_init(ds_ctx *ctx, ds_batchnorm3d *bn, const char *name_prefix,
                              int channels);
void ds_batchnorm3d_free(ds_batchnorm3d *bn);
/* y may alias x (in place). training != 0 selects batch statistics and updates the running ones. */
ds_status ds_batchnorm3d_forward(ds_ctx *ctx, ds_batchnorm3d *bn, const ds_tensor *x, ds_tensor *y,
                                 int training);
/* x is the forward input (not the output). */
ds_status ds_batchnorm3d_backward(ds_ctx *ctx, ds_batchnorm3d *bn, const ds_tensor *x,
                                  const ds_tensor *dy, ds_tensor *dx);

#ifdef __cplusplus
}
#endif

#endif /* DS_NORM_H */
