/* ds_nets.h - the two networks of METHOD.md section 1, built from the engine's layers.
 *
 *   DS_ARCH_VNET           network B: the V-Net of the semi-supervised Left Atrium literature
 *                          (encoder w/2w/4w/8w/16w with 1/2/3/3/3 conv-BN-ReLU stages, stride-2
 *                          2x2x2 conv down-sampling, transposed-conv decoder with additive skips,
 *                          stages 3/3/2/1, Dropout3d 0.5 on the bottleneck and the last feature).
 *   DS_ARCH_RESNET34_VNET  network A: ResNet-34 encoder (7x7x7 stem, BasicBlock stages
 *                          [3, 4, 6, 3] at 2w/4w/8w/16w, each starting with stride 2 and a 1x1x1
 *                          projection shortcut) + the same decoder; Dropout3d 0.5 on the last
 *                          feature only.
 *
 * Forward returns the logits (N, K, D, H, W) and the feature f (N, w, D, H, W): the input of the
 * output convolution, after dropout in training. Backward takes gradients for both and ADDS the
 * parameter gradients into each ds_param's grad.
 *
 * Memory: activations are allocated by ds_net_plan for one input shape and reused by every
 * forward of that shape; backward's gradient buffers come from a pool owned by the network that
 * reaches its size in the first backward and is reused afterwards. A training loop over a fixed
 * patch size therefore allocates only in its first iteration.
 * Parameter names and order are PyTorch's state_dict names of testing/nets/reference_models.py.
 */
#ifndef DS_NETS_H
#define DS_NETS_H

#include "ds_conv.h"
#include "ds_param.h"
#include "ds_rng.h"
#include "ds_tensor.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum ds_arch {
    DS_ARCH_VNET = 1,          /* values are part of the model file format */
    DS_ARCH_RESNET34_VNET = 2
} ds_arch;

/* Spatial sizes must be multiples of this (four stride-2 down-samplings). */
#define DS_NET_SIZE_MULTIPLE 16
#define DS_NET_MAX_WIDTH 256
#define DS_NET_MAX_CLASSES 64

typedef struct ds_net ds_net;

/* A network with zero weights, BN weight 1 / bias 0 and running statistics (0, 1).
 * in_channels 1..16, classes 2..DS_NET_MAX_CLASSES, width 1..DS_NET_MAX_WIDTH (16 in the paper). */
ds_status ds_net_create(ds_ctx *ctx, ds_net **out, ds_arch arch, int in_channels, int classes,
                        int width);
void ds_net_free(ds_net *net);

ds_arch ds_net_arch(const ds_net *net);
const char *ds_arch_name(ds_arch arch); /* "vnet", "resnet34_vnet", or "unknown" */
int ds_net_classes(const ds_net *net);
int ds_net_width(const ds_net *net);
int ds_net_in_channels(const ds_net *net);

/* The trainable parameters, in state_dict order (borrowed; valid while net lives). */
const ds_param_list *ds_net_params(const ds_net *net);
int64_t ds_net_param_count(const ds_net *net);

/* Non-trainable state (BatchNorm running_mean / running_var, in state_dict order): for each
 * BatchNorm layer i, its name prefix, channel count and the two buffers. */
int ds_net_batchnorm_count(const ds_net *net);
ds_status ds_net_batchnorm_state(ds_ctx *ctx, ds_net *net, int index, const char **name_prefix,
                                 int *channels, float **running_mean, float **running_var,
                                 int64_t **num_batches_tracked);

/* The literature's initialisation (reference_models.kaiming_init): kaiming_normal_ on every
 * Conv3d weight; transposed-conv weights and all conv biases keep PyTorch's default,
 * U(+-1 / sqrt(fan_in)) with torch's fan_in (dim 1 x kernel volume for a transposed conv's
 * (in, out, k, k, k) weight); BN weight 1 and bias 0, running statistics (0, 1). Draws from rng. */
ds_status ds_net_init_weights(ds_ctx *ctx, ds_net *net, ds_rng *rng);

/* Turns Dropout3d on or off for training forwards (on by default; parity tests switch it off). */
void ds_net_set_dropout(ds_net *net, int enabled);

/* Allocates the activations for inputs of shape n x in_channels x d x h x w (d, h, w multiples
 * of DS_NET_SIZE_MULTIPLE). Called by forward when the shape changes; call it first to allocate
 * up front. */
ds_status ds_net_plan(ds_ctx *ctx, ds_net *net, int64_t n, int64_t d, int64_t h, int64_t w);

/* training: batch statistics (updating the running ones) and dropout; otherwise evaluation.
 * dropout_rng is required when training with dropout on. logits and feature point into the
 * network's buffers, valid until the next forward or plan. */
ds_status ds_net_forward(ds_ctx *ctx, ds_net *net, const ds_tensor *x, int training,
                         ds_rng *dropout_rng, const ds_tensor **logits, const ds_tensor **feature);

/* Back-propagates dlogits (shape of the logits) and dfeature (shape of the feature, or NULL)
 * through the last forward, which must have been a training forward. Adds into param grads. */
ds_status ds_net_backward(ds_ctx *ctx, ds_net *net, const ds_tensor *dlogits,
                          const ds_tensor *dfeature);

/* Scratch memory: the gradient-buffer pool and the convolutions' work buffers. Each network has
 * its own; the two networks of a pair, which run one after the other, can share one and so need
 * only the larger of the two. The scratch must outlive the last call of every network using it. */
typedef struct ds_net_scratch ds_net_scratch;
ds_status ds_net_scratch_create(ds_ctx *ctx, ds_net_scratch **out);
void ds_net_scratch_free(ds_net_scratch *scratch);
/* Makes net use scratch (NULL: its own again). Not between a forward and its backward. */
void ds_net_use_scratch(ds_net *net, ds_net_scratch *scratch);
/* Sets the kernel family of every convolution (ds_conv_algo; DS_CONV_ALGO_AUTO after create): for
 * tests and benchmarks that compare Winograd with the reference kernels. */
void ds_net_set_conv_algo(ds_net *net, ds_conv_algo algo);

/* Bytes held by activations and gradient buffers now (for memory reports): the sum of the rows
 * of ds_net_activation_report. */
int64_t ds_net_activation_bytes(const ds_net *net);
/* The memory estimates' extrapolation (core/train/memory.c, core/infer/memory.c): every buffer a
 * network holds has a channel count that is a multiple of the width (or K) and a spatial size
 * that is the input's divided by a power of two, so for sizes that are multiples of 16 its bytes
 * are exactly bilinear in (width, voxels): bytes = V (p + q w) + r + s w. From b[w - 1][i], the
 * bytes measured at widths 1 and 2 for inputs of v[0] and v[1] voxels: the bytes at (width,
 * voxels). */
double ds_net_bilinear_bytes(const double b[2][2], const double v[2], int width, double voxels);

/* One row of the activation report: what one part of the network holds now. After a training
 * forward (and backward) that is what training keeps for the backward: a conv-BN-ReLU unit its
 * conv output only (its output, the decoder sums and the V-Net skips are recomputed), a
 * BasicBlock its three conv outputs and its output. */
typedef struct ds_net_activation_row {
    char name[DS_PARAM_NAME_CAP]; /* the unit's parameter prefix ("block_one.conv.0", "layer1.0",
                                     "stem.0", ...), or "dropout.bottleneck", "dropout.feature",
                                     "logits", "pool" (gradient and recompute buffers, shared by
                                     the networks of a scratch) */
    int tensors;                  /* tensors held                                            */
    int64_t bytes;                /* their bytes                                             */
} ds_net_activation_row;

/* Writes the first min(cap, *count) rows into rows (may be NULL when cap is 0) and the number of
 * rows into *count, in forward order (encoder units, then per decoder level its up-sampling and
 * stages, then the network's own buffers). Prints nothing: testing/nets/bench_activations prints
 * it. */
ds_status ds_net_activation_report(ds_ctx *ctx, const ds_net *net, ds_net_activation_row *rows,
                                   int cap, int *count);

#ifdef __cplusplus
}
#endif

#endif /* DS_NETS_H */
