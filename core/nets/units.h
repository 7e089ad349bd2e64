/* units.h - the building blocks of the two networks (private to core/nets).
 *
 *   ds_cbr    convolution (or transposed convolution) -> BatchNorm -> ReLU (-> + skip, the
 *             decoder's up-sampling), BatchNorm, ReLU and add fused in one pass. Keeps only the
 *             conv output z (BatchNorm's input): the output relu(bn(z)) (+ skip) is written into a
 *             buffer the caller gives back when its consumers are done, and recomputed from z and
 *             the batch statistics (bit for bit) when a backward needs it again.
 *   ds_basic  ResNet BasicBlock: conv-BN-ReLU-conv-BN + shortcut (identity or 1x1x1 projection
 *             conv + BN), then ReLU. Keeps z1, z2, zp and its output (the ReLU's mask and the next
 *             block's input); the inner activation relu(bn1(z1)) is recomputed.
 *
 * _plan records the output shape for an input shape; _forward (training) reads x and keeps what
 * backward needs, allocating it on first use; _forward_into (evaluation) writes into a caller's
 * buffer and keeps nothing; _backward takes the forward input x again (the caller keeps or
 * recomputes it) and d_out, the gradient of the unit's output, and ADDS the input gradient into
 * d_x (NULL: not wanted). Scratch comes from the network's pool.
 */
#ifndef DS_NETS_UNITS_H
#define DS_NETS_UNITS_H

#include "ds_conv.h"
#include "ds_norm.h"
#include "ds_param.h"
#include "pool.h"

typedef struct ds_shape {
    int64_t n, c, d, h, w;
} ds_shape;

typedef struct ds_cbr {
    int transposed;
    ds_shape out_shape;
    ds_conv3d conv;
    ds_conv_transpose3d tconv;
    ds_batchnorm3d bn;
    ds_tensor *z; /* the conv output of the last training forward */
} ds_cbr;

/* conv_name and bn_name are the parameter name prefixes ("block_one.conv.0", ...). */
ds_status ds_cbr_init(ds_ctx *ctx, ds_cbr *u, const char *conv_name, const char *bn_name,
                      int in_channels, int out_channels, int kernel, int stride, int padding,
                      int bias, int transposed);
void ds_cbr_free(ds_cbr *u);
ds_status ds_cbr_register(ds_ctx *ctx, ds_cbr *u, ds_param_list *params, ds_batchnorm3d **bns,
                          int *bn_count);
ds_status ds_cbr_plan(ds_ctx *ctx, ds_cbr *u, ds_shape in, ds_shape *out);
/* Training: *y = relu(bn(conv(x))) (+ skip when skip != NULL), a buffer lent from pool. */
ds_status ds_cbr_forward(ds_ctx *ctx, ds_cbr *u, ds_pool *pool, const ds_tensor *x,
                         const ds_tensor *skip, ds_tensor **y);
/* The last training forward's output again (same skip), into a buffer lent from pool, or
 * (_into) into y, which may be skip itself. */
ds_status ds_cbr_output(ds_ctx *ctx, ds_cbr *u, ds_pool *pool, const ds_tensor *skip,
                        ds_tensor **y);
ds_status ds_cbr_output_into(ds_ctx *ctx, ds_cbr *u, const ds_tensor *skip, ds_tensor *y);
/* Evaluation: y = relu(bn(conv(x))) (+ skip when skip != NULL); y may be skip. */
ds_status ds_cbr_forward_into(ds_ctx *ctx, ds_cbr *u, const ds_tensor *x, const ds_tensor *skip,
                              ds_tensor *y);
/* Whether a backward may overwrite the output gradient it is given. */
typedef enum ds_grad_use {
    DS_GRAD_KEEP,   /* d_out is not changed (a skip's gradient is d_out itself)             */
    DS_GRAD_CONSUME /* d_out is not needed afterwards: the unit works in it (one buffer less) */
} ds_grad_use;

/* Whether a backward adds into the input gradient it is given or writes it (a fresh buffer: no
 * zeroing pass; bit for bit what a zeroed one would receive). */
typedef enum ds_grad_into {
    DS_GRAD_ADD,  /* d_x += the gradient (d_x holds another path's gradient already) */
    DS_GRAD_WRITE /* d_x = the gradient, whatever d_x held                            */
} ds_grad_into;

ds_status ds_cbr_backward(ds_ctx *ctx, ds_cbr *u, ds_pool *pool, const ds_tensor *x,
                          ds_tensor *d_out, ds_grad_use use, ds_grad_into into, ds_tensor *d_x);
int64_t ds_cbr_bytes(const ds_cbr *u);

typedef struct ds_basic {
    ds_shape out_shape;
    ds_conv3d conv1, conv2, proj;
    ds_batchnorm3d bn1, bn2, bnp;
    int has_proj;
    ds_tensor *z1, *z2, *zp, *out;
} ds_basic;

/* prefix is "layer1.0" etc.; a projection shortcut is made when stride != 1 or channels change. */
ds_status ds_basic_init(ds_ctx *ctx, ds_basic *u, const char *prefix, int in_channels,
                        int out_channels, int stride);
void ds_basic_free(ds_basic *u);
ds_status ds_basic_register(ds_ctx *ctx, ds_basic *u, ds_param_list *params, ds_batchnorm3d **bns,
                            int *bn_count);
ds_status ds_basic_plan(ds_ctx *ctx, ds_basic *u, ds_shape in, ds_shape *out);
ds_status ds_basic_forward(ds_ctx *ctx, ds_basic *u, ds_pool *pool, const ds_tensor *x);
ds_status ds_basic_forward_into(ds_ctx *ctx, ds_basic *u, ds_pool *pool, const ds_tensor *x,
                                ds_tensor *y);
/* d_out is overwritten (the ReLU's mask applied in place). */
ds_status ds_basic_backward(ds_ctx *ctx, ds_basic *u, ds_pool *pool, const ds_tensor *x,
                            ds_tensor *d_out, ds_grad_into into, ds_tensor *d_x);
int64_t ds_basic_bytes(const ds_basic *u);

/* Helpers shared by the network code. */
ds_status ds_shape_alloc(ds_ctx *ctx, ds_tensor **t, ds_shape s); /* frees *t first */
ds_shape ds_shape_of(const ds_tensor *t);
/* d[i] = a[i] > 0 ? d[i] : 0, in parallel: the ReLU backward in place. */
void ds_relu_mask_inplace(ds_ctx *ctx, const ds_tensor *a, ds_tensor *d);

#endif
