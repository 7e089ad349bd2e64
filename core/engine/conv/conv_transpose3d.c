/* conv_transpose3d.c - ds_conv_transpose3d: PyTorch ConvTranspose3d (see ds_conv.h).
 *
 * A transposed convolution with weight (in, out, k, k, k) is the adjoint of the convolution from
 * `out` to `in` channels with the same weight array read as (cout = in, cin = out, k, k, k). So:
 * its forward is that convolution's backward-data, its backward-data is that convolution's forward,
 * and its weight gradient is that convolution's weight gradient with input and upstream gradient
 * exchanged. The geometry below is the convolution's: input = our output, output = our input.
 */
#include "ds_conv.h"

#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conv_core.h"


ds_status ds_conv_transpose3d_init(ds_ctx *ctx, ds_conv_transpose3d *conv, const char *name_prefix,
                                   int in_channels, int out_channels, int kernel, int stride,
                                   int padding, int has_bias)
{
    if (!conv)
        return ds_fail(ctx, DS_ERR_ARG, "conv_transpose3d init: null layer");
    memset(conv, 0, sizeof *conv);
    conv->in_channels = in_channels;
    conv->out_channels = out_channels;
    conv->kernel = kernel;
    conv->stride = stride;
    conv->padding = padding;
    conv->has_bias = has_bias ? 1 : 0;
    ds_status st = ds_conv_layer_init(ctx, "conv_transpose3d", name_prefix, in_channels, out_channels, kernel,
                                      stride, padding, conv->has_bias, &conv->weight, &conv->bias,
                                      &conv->own_work);
    conv->work = conv->own_work;
    return st;
}

void ds_conv_transpose3d_free(ds_conv_transpose3d *conv)
{
    if (!conv)
        return;
    ds_conv_layer_free(&conv->weight, &conv->bias, conv->own_work);
    memset(conv, 0, sizeof *conv);
}

static int64_t out_size(int64_t in, const ds_conv_transpose3d *c)
{
    return (in - 1) * c->stride - 2 * (int64_t)c->padding + c->kernel;
}

ds_status ds_conv_transpose3d_output_shape(ds_ctx *ctx, const ds_conv_transpose3d *conv,
                                           const ds_tensor *x, int64_t *n, int64_t *c, int64_t *d,
                                           int64_t *h, int64_t *w)
{
    if (!conv || !x || !n || !c || !d || !h || !w)
        return ds_fail(ctx, DS_ERR_ARG, "conv_transpose3d output shape: null argument");
    if (!conv->weight.value)
        return ds_fail(ctx, DS_ERR_ARG, "conv_transpose3d %s: layer not initialised",
                       conv->weight.name);
    char buf[96];
    if (x->c != conv->in_channels)
        return ds_fail(ctx, DS_ERR_SHAPE,
                       "conv_transpose3d %s: input %s has %" PRId64 " channels, the layer takes %d",
                       conv->weight.name, ds_tensor_shape_str(x, buf, sizeof buf), x->c,
                       conv->in_channels);
    int64_t od = out_size(x->d, conv), oh = out_size(x->h, conv), ow = out_size(x->w, conv);
    if (od < 1 || oh < 1 || ow < 1)
        return ds_fail(ctx, DS_ERR_SHAPE,
                       "conv_transpose3d %s: input %s gives an empty output (kernel %d, stride %d, "
                       "padding %d)",
                       conv->weight.name, ds_tensor_shape_str(x, buf, sizeof buf), conv->kernel,
                       conv->stride, conv->padding);
    if (od * oh * ow > INT_MAX / 2 || x->d * x->h * x->w > INT_MAX / 2)
        return ds_fail(ctx, DS_ERR_UNSUPPORTED,
                       "conv_transpose3d %s: input %s: a channel plane "
                       "over 2^30 voxels is not supported",
                       conv->weight.name, ds_tensor_shape_str(x, buf, sizeof buf));
    *n = x->n;
    *c = conv->out_channels;
    *d = od;
    *h = oh;
    *w = ow;
    return DS_OK;
}

/* The equivalent convolution: from our output (cin = out_channels) to our input (cout = in). */
static ds_status prepare(ds_ctx *ctx, const ds_conv_transpose3d *conv, const ds_tensor *x,
                         ds_conv_geom *g)
{
    int64_t n, c, d, h, w;
    ds_status st = ds_conv_transpose3d_output_shape(ctx, conv, x, &n, &c, &d, &h, &w);
    if (st != DS_OK)
        return st;
    ds_conv_geom t = {
        n,    c,   conv->in_channels, conv->kernel, conv->stride, conv->padding, d, h, w, x->d,
        x->h, x->w, DS_CONV_ALGO_AUTO};
    *g = t;
    return DS_OK;
}

ds_status ds_conv_transpose3d_forward(ds_ctx *ctx, ds_conv_transpose3d *conv, const ds_tensor *x,
                                      ds_tensor *y)
{
    if (!conv || !x || !y)
        return ds_fail(ctx, DS_ERR_ARG, "conv_transpose3d forward: null argument");
    ds_conv_geom g;
    ds_status st = prepare(ctx, conv, x, &g);
    if (st == DS_OK)
        st = ds_conv_check_shape(ctx, conv->weight.name, "output", y, g.n, g.cin, g.d, g.h, g.w);
    if (st != DS_OK)
        return st;
    if (x->data == y->data)
        return ds_fail(ctx, DS_ERR_ARG, "conv_transpose3d %s: output aliases the input",
                       conv->weight.name);
    return ds_conv_core_transposed_forward(ctx, conv->work, &g, x->data, conv->weight.value,
                                           conv->has_bias ? conv->bias.value : NULL, y->data,
                                           &conv->paths.forward);
}

/* set: dx overwritten, else added into. */
static ds_status backward(ds_ctx *ctx, ds_conv_transpose3d *conv, const ds_tensor *x,
                          const ds_tensor *dy, ds_tensor *dx, int set)
{
    if (!conv || !x || !dy)
        return ds_fail(ctx, DS_ERR_ARG, "conv_transpose3d backward: null argument");
    ds_conv_geom g;
    ds_status st = prepare(ctx, conv, x, &g);
    if (st == DS_OK)
        st = ds_conv_check_shape(ctx, conv->weight.name, "upstream gradient", dy, g.n, g.cin, g.d,
                                 g.h, g.w);
    if (st == DS_OK && dx)
        st = ds_conv_check_shape(ctx, conv->weight.name, "input gradient", dx, x->n, x->c, x->d,
                                 x->h, x->w);
    if (st != DS_OK)
        return st;
    if (dx && (dx->data == dy->data || dx->data == x->data))
        return ds_fail(ctx, DS_ERR_ARG,
                       "conv_transpose3d %s: input gradient aliases another argument",
                       conv->weight.name);
    conv->paths.backward_data = DS_CONV_PATH_NONE;
    if (dx && set)
        ds_fill_zero(ctx, dx->data, ds_tensor_numel(dx));
    if (dx)
        st = ds_conv_core_forward(ctx, conv->work, &g, dy->data, conv->weight.value, NULL, 1.0f,
                                  dx->data, &conv->paths.backward_data);
    if (st == DS_OK)
        st = ds_conv_core_backward_weight(ctx, conv->work, &g, dy->data, x->data,
                                          conv->weight.grad, &conv->paths.backward_weight);
    if (st == DS_OK && conv->has_bias)
        ds_conv_core_bias_grad(ctx, g.n, g.cin, g.d * g.h * g.w, dy->data, conv->bias.grad);
    return st;
}

ds_status ds_conv_transpose3d_backward(ds_ctx *ctx, ds_conv_transpose3d *conv, const ds_tensor *x,
                                       const ds_tensor *dy, ds_tensor *dx)
{
    return backward(ctx, conv, x, dy, dx, 0);
}

ds_status ds_conv_transpose3d_backward_set(ds_ctx *ctx, ds_conv_transpose3d *conv,
                                           const ds_tensor *x, const ds_tensor *dy,
                                           ds_tensor *dx)
{
    return backward(ctx, conv, x, dy, dx, 1);
}

void ds_conv_transpose3d_use_workspace(ds_conv_transpose3d *conv, ds_conv_workspace *ws)
{
    if (conv)
        conv->work = ws ? (void *)ws : conv->own_work;
}
