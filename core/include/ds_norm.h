/* ds_norm.h - BatchNorm3d with PyTorch's semantics, forward and backward.
 *
 * Training: normalise with the batch statistics over (N, D, H, W) per channel, biased variance;
 * update running_mean and running_var (unbiased variance) with momentum 0.1:
 * running = (1 - momentum) * running + momentum * batch. Evaluation: use the running statistics.
 * eps 1e-5. Parameters weight (gamma, init 1) and bias (beta, init 0); buffers running_mean
 * (init 0), running_var (init 1) and num_batches_tracked, as in PyTorch's state_dict.
 * _backward ADDS into dx, weight.grad, bias.grad (same contract as ds_conv.h); in training mode
 * it is the full batch-statistics gradient, in evaluation mode the affine one.
 *
 * Statistics are reduced per block of DS_BN_BLOCK values of one (n, c) plane in double (shifted
 * by the channel's first value, then sum and sum of squares), and the blocks are combined in a
 * fixed order (n, then block), so the results are identical for every thread count and a large
 * plane feeds many threads. A training forward needs more than one value per channel
 * (N * D * H * W > 1), as in PyTorch. Buffers (work) grow on the first call for a shape and are
 * reused; nothing else is allocated in forward or backward.
 *
 * Fusion (the networks' conv-BN-ReLU units): _forward_fused applies BatchNorm and an epilogue
 * (ReLU, and the skip add where the unit has one) in one pass; _recompute writes the last
 * forward's output again from its input and statistics (bit for bit), so that a network can keep
 * the BatchNorm input only; _relu_backward is the backward of relu(bn(x)) with the ReLU mask
 * recomputed from x, in the same two passes as the plain backward. Each gives bit for bit the
 * result of the unfused sequence (BatchNorm, ReLU, add), which computes the same float
 * expressions in the same order.
 */
#ifndef DS_NORM_H
#define DS_NORM_H

#include "ds_conv.h"
#include "ds_param.h"
#include "ds_tensor.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Values per reduction block (a fixed partition: the summation order depends on shapes only). */
#define DS_BN_BLOCK 16384

/* What a fused forward applies after the normalisation, in the same pass. */
typedef enum ds_bn_epilogue {
    DS_BN_PLAIN = 0, /* y = bn(x)                                               */
    DS_BN_RELU,      /* y = relu(bn(x))                                         */
    DS_BN_RELU_ADD,  /* y = relu(bn(x)) + skip   (decoder: up-sampling + skip)  */
    DS_BN_ADD_RELU   /* y = relu(bn(x) + skip)   (BasicBlock: + shortcut)       */
} ds_bn_epilogue;

typedef struct ds_batchnorm3d {
    int channels;
    float momentum, eps;
    ds_param weight, bias;
    float *running_mean, *running_var; /* channels each */
    int64_t num_batches_tracked;
    float *saved_mean, *saved_invstd;  /* statistics the last forward used (batch or running) */
    float *saved_scale;                /* gamma * invstd as the last forward applied it      */
    int saved_training;                /* mode of the last forward */
    int64_t saved_n, saved_d, saved_h, saved_w; /* its input shape (saved_n == 0: none yet) */
    double *work;                      /* per-block partial sums and per-channel coefficients */
    int64_t work_cap;                  /* doubles allocated in work */
} ds_batchnorm3d;

/* name_prefix (may be NULL) names the parameters "<prefix>.weight" and "<prefix>.bias".
 * weight = 1, bias = 0, running_mean = 0, running_var = 1, num_batches_tracked = 0. */
ds_status ds_batchnorm3d_init(ds_ctx *ctx, ds_batchnorm3d *bn, const char *name_prefix,
                              int channels);
/* Frees everything and zeroes bn; safe on a zeroed or already freed layer. */
void ds_batchnorm3d_free(ds_batchnorm3d *bn);
/* y may alias x (in place). training != 0 selects batch statistics and updates the running ones. */
ds_status ds_batchnorm3d_forward(ds_ctx *ctx, ds_batchnorm3d *bn, const ds_tensor *x, ds_tensor *y,
                                 int training);
/* y = epilogue(bn(x), skip); skip (shape of x) is read by DS_BN_RELU_ADD and DS_BN_ADD_RELU
 * only (NULL otherwise); y may alias x or skip. */
ds_status ds_batchnorm3d_forward_fused(ds_ctx *ctx, ds_batchnorm3d *bn, const ds_tensor *x,
                                       const ds_tensor *skip, ds_tensor *y, int training,
                                       ds_bn_epilogue epilogue);
/* The evaluation forward of bn with this epilogue, as a ds_conv_epilogue for the convolution
 * that makes x to fold in (ds_conv3d_forward_epilogue): sets the layer's saved statistics and
 * shape as ds_batchnorm3d_forward_fused(training 0) does, and points out at them (valid until
 * the next forward or a change of the parameters). x is the convolution's output, not yet
 * written (its shape only is read); skip as in forward_fused. */
ds_status ds_batchnorm3d_eval_epilogue(ds_ctx *ctx, ds_batchnorm3d *bn, const ds_tensor *x,
                                       const ds_tensor *skip, ds_bn_epilogue epilogue,
                                       ds_conv_epilogue *out);
/* The output of the last forward (with this epilogue and skip), from its input x and its
 * statistics; updates nothing. x has the shape of the last forward. */
ds_status ds_batchnorm3d_recompute(ds_ctx *ctx, const ds_batchnorm3d *bn, const ds_tensor *x,
                                   const ds_tensor *skip, ds_tensor *y, ds_bn_epilogue epilogue);
/* Backward of y = relu(bn(x)) (also of DS_BN_RELU_ADD, whose skip gradient is dy itself): dx +=
 * dL/dx for dy = dL/dy, the mask (bn(x) > 0) recomputed from x; dy is not changed, unless dx is
 * dy itself: then dL/dx replaces dy in place (bit for bit what a zeroed dx would receive), which
 * saves a buffer where dy is not needed afterwards. */
ds_status ds_batchnorm3d_relu_backward(ds_ctx *ctx, ds_batchnorm3d *bn, const ds_tensor *x,
                                       const ds_tensor *dy, ds_tensor *dx);
/* x is the forward input (not the output), with the shape of the last forward; uses the
 * statistics and the mode of the last forward. dx may be NULL (input gradient not wanted: only
 * weight.grad and bias.grad are accumulated). */
ds_status ds_batchnorm3d_backward(ds_ctx *ctx, ds_batchnorm3d *bn, const ds_tensor *x,
                                  const ds_tensor *dy, ds_tensor *dx);
/* The two backwards with dx overwritten instead of added into: bit for bit what a zeroed dx
 * would receive (0 + dL/dx), without the pass that zeroes it. dx may be dy (in place). */
ds_status ds_batchnorm3d_backward_set(ds_ctx *ctx, ds_batchnorm3d *bn, const ds_tensor *x,
                                      const ds_tensor *dy, ds_tensor *dx);
ds_status ds_batchnorm3d_relu_backward_set(ds_ctx *ctx, ds_batchnorm3d *bn, const ds_tensor *x,
                                           const ds_tensor *dy, ds_tensor *dx);

#ifdef __cplusplus
}
#endif

#endif /* DS_NORM_H */
