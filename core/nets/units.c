/* units.c - conv-BN-ReLU and BasicBlock units with forward and backward (see units.h). */
#include "units.h"
#include "ds_activation.h"

#include <stdio.h>
#include <string.h>

ds_shape ds_shape_of(const ds_tensor *t)
{
    ds_shape s = {t->n, t->c, t->d, t->h, t->w};
    return s;
}

ds_status ds_shape_alloc(ds_ctx *ctx, ds_tensor **t, ds_shape s)
{
    if (*t && (*t)->n == s.n && (*t)->c == s.c && (*t)->d == s.d && (*t)->h == s.h &&
        (*t)->w == s.w)
        return DS_OK;
    ds_tensor_free(*t);
    *t = NULL;
    return ds_tensor_create(ctx, t, s.n, s.c, s.d, s.h, s.w);
}

void ds_relu_mask_inplace(ds_ctx *ctx, const ds_tensor *a, ds_tensor *d)
{
    const int64_t count = ds_tensor_numel(d);
    const float *av = a->data;
    float *dv = d->data;
#pragma omp parallel for num_threads(ds_ctx_threads(ctx)) schedule(static) if (count > 65536)
    for (int64_t i = 0; i < count; ++i)
        dv[i] = av[i] > 0.0f ? dv[i] : 0.0f;
}

static ds_status register_bn(ds_ctx *ctx, ds_batchnorm3d *bn, ds_param_list *params,
                             ds_batchnorm3d **bns, int *bn_count)
{
    DS_TRY(ds_param_list_add(ctx, params, &bn->weight));
    DS_TRY(ds_param_list_add(ctx, params, &bn->bias));
    if (bns)
        bns[*bn_count] = bn;
    ++*bn_count;
    return DS_OK;
}

/* ---- conv-BN-ReLU ------------------------------------------------------------------------ */

ds_status ds_cbr_init(ds_ctx *ctx, ds_cbr *u, const char *conv_name, const char *bn_name,
                      int in_channels, int out_channels, int kernel, int stride, int padding,
                      int bias, int transposed)
{
    memset(u, 0, sizeof *u);
    u->transposed = transposed;
    if (transposed)
        DS_TRY(ds_conv_transpose3d_init(ctx, &u->tconv, conv_name, in_channels, out_channels,
                                        kernel, stride, padding, bias));
    else
        DS_TRY(ds_conv3d_init(ctx, &u->conv, conv_name, in_channels, out_channels, kernel, stride,
                              padding, bias));
    return ds_batchnorm3d_init(ctx, &u->bn, bn_name, out_channels);
}

void ds_cbr_free(ds_cbr *u)
{
    if (u->transposed)
        ds_conv_transpose3d_free(&u->tconv);
    else
        ds_conv3d_free(&u->conv);
    ds_batchnorm3d_free(&u->bn);
    ds_tensor_free(u->z);
    memset(u, 0, sizeof *u);
}

ds_status ds_cbr_register(ds_ctx *ctx, ds_cbr *u, ds_param_list *params, ds_batchnorm3d **bns,
                          int *bn_count)
{
    if (u->transposed) {
        DS_TRY(ds_param_list_add(ctx, params, &u->tconv.weight));
        if (u->tconv.has_bias)
            DS_TRY(ds_param_list_add(ctx, params, &u->tconv.bias));
    } else {
        DS_TRY(ds_param_list_add(ctx, params, &u->conv.weight));
        if (u->conv.has_bias)
            DS_TRY(ds_param_list_add(ctx, params, &u->conv.bias));
    }
    return register_bn(ctx, &u->bn, params, bns, bn_count);
}

/* Frees *t unless it already has shape s (training tensors are made again on first use). */
static void drop_if_reshaped(ds_tensor **t, ds_shape s)
{
    if (*t && ((*t)->n != s.n || (*t)->c != s.c || (*t)->d != s.d || (*t)->h != s.h ||
               (*t)->w != s.w)) {
        ds_tensor_free(*t);
        *t = NULL;
    }
}

ds_status ds_cbr_plan(ds_ctx *ctx, ds_cbr *u, ds_shape in, ds_shape *out)
{
    ds_tensor probe = {in.n, in.c, in.d, in.h, in.w, NULL, 0};
    ds_shape s;
    if (u->transposed)
        DS_TRY(ds_conv_transpose3d_output_shape(ctx, &u->tconv, &probe, &s.n, &s.c, &s.d, &s.h,
                                                &s.w));
    else
        DS_TRY(ds_conv3d_output_shape(ctx, &u->conv, &probe, &s.n, &s.c, &s.d, &s.h, &s.w));
    drop_if_reshaped(&u->z, s);
    u->out_shape = s;
    *out = s;
    return DS_OK;
}

static ds_status cbr_conv(ds_ctx *ctx, ds_cbr *u, const ds_tensor *x, ds_tensor *y)
{
    return u->transposed ? ds_conv_transpose3d_forward(ctx, &u->tconv, x, y)
                         : ds_conv3d_forward(ctx, &u->conv, x, y);
}

static ds_bn_epilogue cbr_epilogue(const ds_tensor *skip)
{
    return skip ? DS_BN_RELU_ADD : DS_BN_RELU;
}

ds_status ds_cbr_forward(ds_ctx *ctx, ds_cbr *u, ds_pool *pool, const ds_tensor *x,
                         const ds_tensor *skip, ds_tensor **y)
{
    DS_TRY(ds_shape_alloc(ctx, &u->z, u->out_shape)); /* BatchNorm's input, for its backward */
    DS_TRY(cbr_conv(ctx, u, x, u->z));
    DS_TRY(ds_pool_acquire_like(ctx, pool, u->z, 0, y));
    ds_status st = ds_batchnorm3d_forward_fused(ctx, &u->bn, u->z, skip, *y, 1, cbr_epilogue(skip));
    if (st != DS_OK) {
        ds_pool_release(pool, *y);
        *y = NULL;
    }
    return st;
}

ds_status ds_cbr_output_into(ds_ctx *ctx, ds_cbr *u, const ds_tensor *skip, ds_tensor *y)
{
    if (!u->z)
        return ds_fail(ctx, DS_ERR_INTERNAL, "network: unit output asked before its forward");
    return ds_batchnorm3d_recompute(ctx, &u->bn, u->z, skip, y, cbr_epilogue(skip));
}

ds_status ds_cbr_output(ds_ctx *ctx, ds_cbr *u, ds_pool *pool, const ds_tensor *skip,
                        ds_tensor **y)
{
    if (!u->z)
        return ds_fail(ctx, DS_ERR_INTERNAL, "network: unit output asked before its forward");
    DS_TRY(ds_pool_acquire_like(ctx, pool, u->z, 0, y));
    ds_status st = ds_cbr_output_into(ctx, u, skip, *y);
    if (st != DS_OK) {
        ds_pool_release(pool, *y);
        *y = NULL;
    }
    return st;
}

/* y = epilogue(bn(conv(x))) in evaluation: the BatchNorm folded into the convolution where its
 * kernel can (the same bits, one pass over y fewer), else the BatchNorm's own pass. */
static ds_status conv_bn_eval(ds_ctx *ctx, ds_conv3d *conv, ds_batchnorm3d *bn, const ds_tensor *x,
                              const ds_tensor *skip, ds_tensor *y, ds_bn_epilogue kind)
{
    ds_conv_epilogue e;
    int fused = 0;
    DS_TRY(ds_batchnorm3d_eval_epilogue(ctx, bn, y, skip, kind, &e));
    DS_TRY(ds_conv3d_forward_epilogue(ctx, conv, x, y, &e, &fused));
    return fused ? DS_OK : ds_batchnorm3d_forward_fused(ctx, bn, y, skip, y, 0, kind);
}

ds_status ds_cbr_forward_into(ds_ctx *ctx, ds_cbr *u, const ds_tensor *x, const ds_tensor *skip,
                              ds_tensor *y)
{
    if (skip == y) /* the conv would overwrite the skip before the epilogue reads it */
        return ds_fail(ctx, DS_ERR_INTERNAL, "network: a unit's output may not be its skip");
    if (!u->transposed)
        return conv_bn_eval(ctx, &u->conv, &u->bn, x, skip, y, cbr_epilogue(skip));
    DS_TRY(cbr_conv(ctx, u, x, y));
    return ds_batchnorm3d_forward_fused(ctx, &u->bn, y, skip, y, 0, cbr_epilogue(skip));
}

/* The unit's convolution backward, adding into d_x or writing it. */
static ds_status cbr_conv_backward(ds_ctx *ctx, ds_cbr *u, const ds_tensor *x,
                                   const ds_tensor *dz, ds_grad_into into, ds_tensor *d_x)
{
    if (u->transposed)
        return into == DS_GRAD_WRITE ? ds_conv_transpose3d_backward_set(ctx, &u->tconv, x, dz, d_x)
                                     : ds_conv_transpose3d_backward(ctx, &u->tconv, x, dz, d_x);
    return into == DS_GRAD_WRITE ? ds_conv3d_backward_set(ctx, &u->conv, x, dz, d_x)
                                 : ds_conv3d_backward(ctx, &u->conv, x, dz, d_x);
}

ds_status ds_cbr_backward(ds_ctx *ctx, ds_cbr *u, ds_pool *pool, const ds_tensor *x,
                          ds_tensor *d_out, ds_grad_use use, ds_grad_into into, ds_tensor *d_x)
{
    ds_tensor *dz = d_out; /* BatchNorm's input gradient, in place when d_out may go */
    if (use == DS_GRAD_KEEP) /* written whole by the backward: no zeroing */
        DS_TRY(ds_pool_acquire_like(ctx, pool, u->z, 0, &dz));
    ds_status st = ds_batchnorm3d_relu_backward_set(ctx, &u->bn, u->z, d_out, dz);
    if (st == DS_OK)
        st = cbr_conv_backward(ctx, u, x, dz, into, d_x);
    if (dz != d_out)
        ds_pool_release(pool, dz);
    return st;
}

int64_t ds_cbr_bytes(const ds_cbr *u) { return (u->z ? ds_tensor_numel(u->z) : 0) * 4; }

/* ---- BasicBlock ---------------------------------------------------------------------------- */

ds_status ds_basic_init(ds_ctx *ctx, ds_basic *u, const char *prefix, int in_channels,
                        int out_channels, int stride)
{
    memset(u, 0, sizeof *u);
    char name[DS_PARAM_NAME_CAP];
    snprintf(name, sizeof name, "%s.conv1", prefix);
    DS_TRY(ds_conv3d_init(ctx, &u->conv1, name, in_channels, out_channels, 3, stride, 1, 0));
    snprintf(name, sizeof name, "%s.bn1", prefix);
    DS_TRY(ds_batchnorm3d_init(ctx, &u->bn1, name, out_channels));
    snprintf(name, sizeof name, "%s.conv2", prefix);
    DS_TRY(ds_conv3d_init(ctx, &u->conv2, name, out_channels, out_channels, 3, 1, 1, 0));
    snprintf(name, sizeof name, "%s.bn2", prefix);
    DS_TRY(ds_batchnorm3d_init(ctx, &u->bn2, name, out_channels));
    u->has_proj = stride != 1 || in_channels != out_channels;
    if (u->has_proj) {
        snprintf(name, sizeof name, "%s.downsample.0", prefix);
        DS_TRY(ds_conv3d_init(ctx, &u->proj, name, in_channels, out_channels, 1, stride, 0, 0));
        snprintf(name, sizeof name, "%s.downsample.1", prefix);
        DS_TRY(ds_batchnorm3d_init(ctx, &u->bnp, name, out_channels));
    }
    return DS_OK;
}

void ds_basic_free(ds_basic *u)
{
    ds_conv3d_free(&u->conv1);
    ds_conv3d_free(&u->conv2);
    ds_batchnorm3d_free(&u->bn1);
    ds_batchnorm3d_free(&u->bn2);
    if (u->has_proj) {
        ds_conv3d_free(&u->proj);
        ds_batchnorm3d_free(&u->bnp);
    }
    ds_tensor *owned[] = {u->z1, u->z2, u->zp, u->out};
    for (size_t i = 0; i < sizeof owned / sizeof owned[0]; ++i)
        ds_tensor_free(owned[i]);
    memset(u, 0, sizeof *u);
}

ds_status ds_basic_register(ds_ctx *ctx, ds_basic *u, ds_param_list *params, ds_batchnorm3d **bns,
                            int *bn_count)
{
    DS_TRY(ds_param_list_add(ctx, params, &u->conv1.weight));
    DS_TRY(register_bn(ctx, &u->bn1, params, bns, bn_count));
    DS_TRY(ds_param_list_add(ctx, params, &u->conv2.weight));
    DS_TRY(register_bn(ctx, &u->bn2, params, bns, bn_count));
    if (u->has_proj) {
        DS_TRY(ds_param_list_add(ctx, params, &u->proj.weight));
        DS_TRY(register_bn(ctx, &u->bnp, params, bns, bn_count));
    }
    return DS_OK;
}

ds_status ds_basic_plan(ds_ctx *ctx, ds_basic *u, ds_shape in, ds_shape *out)
{
    ds_tensor probe = {in.n, in.c, in.d, in.h, in.w, NULL, 0};
    ds_shape s;
    DS_TRY(ds_conv3d_output_shape(ctx, &u->conv1, &probe, &s.n, &s.c, &s.d, &s.h, &s.w));
    ds_tensor **owned[] = {&u->z1, &u->z2, &u->zp, &u->out};
    for (size_t i = 0; i < sizeof owned / sizeof owned[0]; ++i)
        drop_if_reshaped(owned[i], s);
    u->out_shape = s;
    *out = s;
    return DS_OK;
}

/* out = relu(bn2(out) + shortcut), shortcut = bnp(proj(x)) or x, in one pass; zp keeps proj(x)
 * when not NULL. out holds conv2's output on entry; z2 (when not NULL) is kept apart from it. */
static ds_status basic_finish(ds_ctx *ctx, ds_basic *u, ds_pool *pool, const ds_tensor *x,
                              const ds_tensor *z2, ds_tensor *out, ds_tensor *zp, int training)
{
    ds_tensor *bp = NULL;
    const ds_tensor *shortcut = x;
    ds_status st = DS_OK;
    if (u->has_proj) {
        DS_TRY(ds_pool_acquire_like(ctx, pool, out, 0, &bp));
        st = ds_conv3d_forward(ctx, &u->proj, x, zp ? zp : bp);
        if (st == DS_OK)
            st = ds_batchnorm3d_forward(ctx, &u->bnp, zp ? zp : bp, bp, training);
        shortcut = bp;
    }
    if (st == DS_OK)
        st = ds_batchnorm3d_forward_fused(ctx, &u->bn2, z2 ? z2 : out, shortcut, out, training,
                                          DS_BN_ADD_RELU);
    ds_pool_release(pool, bp);
    return st;
}

/* relu(bn1(conv1(x))) into a buffer lent from pool; z1 (when not NULL) keeps conv1's output. */
static ds_status basic_inner(ds_ctx *ctx, ds_basic *u, ds_pool *pool, const ds_tensor *x,
                             ds_tensor *z1, int training, ds_tensor **a1)
{
    DS_TRY(ds_pool_acquire(ctx, pool, u->out_shape.n, u->out_shape.c, u->out_shape.d,
                           u->out_shape.h, u->out_shape.w, 0, a1));
    ds_status st = DS_OK;
    if (!training && !z1) {
        st = conv_bn_eval(ctx, &u->conv1, &u->bn1, x, NULL, *a1, DS_BN_RELU);
    } else {
        st = ds_conv3d_forward(ctx, &u->conv1, x, z1 ? z1 : *a1);
        if (st == DS_OK)
            st = ds_batchnorm3d_forward_fused(ctx, &u->bn1, z1 ? z1 : *a1, NULL, *a1, training,
                                              DS_BN_RELU);
    }
    if (st != DS_OK) {
        ds_pool_release(pool, *a1);
        *a1 = NULL;
    }
    return st;
}

ds_status ds_basic_forward(ds_ctx *ctx, ds_basic *u, ds_pool *pool, const ds_tensor *x)
{
    /* The conv outputs z1, z2, zp are BatchNorm inputs, kept for the backward. */
    DS_TRY(ds_shape_alloc(ctx, &u->z1, u->out_shape));
    DS_TRY(ds_shape_alloc(ctx, &u->z2, u->out_shape));
    DS_TRY(ds_shape_alloc(ctx, &u->out, u->out_shape));
    if (u->has_proj)
        DS_TRY(ds_shape_alloc(ctx, &u->zp, u->out_shape));
    ds_tensor *a1 = NULL;
    DS_TRY(basic_inner(ctx, u, pool, x, u->z1, 1, &a1));
    ds_status st = ds_conv3d_forward(ctx, &u->conv2, a1, u->z2);
    ds_pool_release(pool, a1);
    DS_TRY(st);
    return basic_finish(ctx, u, pool, x, u->z2, u->out, u->zp, 1);
}

ds_status ds_basic_forward_into(ds_ctx *ctx, ds_basic *u, ds_pool *pool, const ds_tensor *x,
                                ds_tensor *y)
{
    ds_tensor *a1 = NULL;
    DS_TRY(basic_inner(ctx, u, pool, x, NULL, 0, &a1));
    if (!u->has_proj) { /* the shortcut is x: conv2 and bn2 + x in one pass */
        ds_status st = conv_bn_eval(ctx, &u->conv2, &u->bn2, a1, x, y, DS_BN_ADD_RELU);
        ds_pool_release(pool, a1);
        return st;
    }
    ds_status st = ds_conv3d_forward(ctx, &u->conv2, a1, y);
    ds_pool_release(pool, a1);
    DS_TRY(st);
    return basic_finish(ctx, u, pool, x, NULL, y, NULL, 0);
}

ds_status ds_basic_backward(ds_ctx *ctx, ds_basic *u, ds_pool *pool, const ds_tensor *x,
                            ds_tensor *d_out, ds_grad_into into, ds_tensor *d_x)
{
    ds_relu_mask_inplace(ctx, u->out, d_out); /* d_out is now the gradient of the sum */
    ds_tensor *dz = NULL, *da1 = NULL, *a1 = NULL;
    /* dz, each BatchNorm's input gradient in turn, is written whole by its backward (_set) */
    ds_status st = ds_pool_acquire_like(ctx, pool, u->z2, 0, &dz);
    if (st == DS_OK)
        st = ds_batchnorm3d_backward_set(ctx, &u->bn2, u->z2, d_out, dz);
    if (st == DS_OK)
        st = ds_pool_acquire_like(ctx, pool, u->z1, 1, &da1);
    if (st == DS_OK) /* conv2's input, recomputed from z1 */
        st = ds_pool_acquire_like(ctx, pool, u->z1, 0, &a1);
    if (st == DS_OK)
        st = ds_batchnorm3d_recompute(ctx, &u->bn1, u->z1, NULL, a1, DS_BN_RELU);
    if (st == DS_OK)
        st = ds_conv3d_backward(ctx, &u->conv2, a1, dz, da1);
    ds_pool_release(pool, a1);
    if (st == DS_OK)
        st = ds_batchnorm3d_relu_backward_set(ctx, &u->bn1, u->z1, da1, dz);
    if (st == DS_OK) /* the first of d_x's terms: the shortcut's are added after it */
        st = into == DS_GRAD_WRITE ? ds_conv3d_backward_set(ctx, &u->conv1, x, dz, d_x)
                                   : ds_conv3d_backward(ctx, &u->conv1, x, dz, d_x);
    if (st == DS_OK && u->has_proj) {
        st = ds_batchnorm3d_backward_set(ctx, &u->bnp, u->zp, d_out, dz);
        if (st == DS_OK)
            st = ds_conv3d_backward(ctx, &u->proj, x, dz, d_x);
    } else if (st == DS_OK && d_x) {
        st = ds_tensor_accumulate(ctx, d_x, d_out);
    }
    ds_pool_release(pool, dz);
    ds_pool_release(pool, da1);
    return st;
}

int64_t ds_basic_bytes(const ds_basic *u)
{
    int64_t total = 0;
    const ds_tensor *owned[] = {u->z1, u->z2, u->zp, u->out};
    for (size_t i = 0; i < sizeof owned / sizeof owned[0]; ++i)
        total += owned[i] ? ds_tensor_numel(owned[i]) * 4 : 0;
    return total;
}
