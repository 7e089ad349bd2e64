/* conv_test_util.h - one wrapper over ds_conv3d and ds_conv_transpose3d for the tests. */
#ifndef DS_CONV_TEST_UTIL_H
#define DS_CONV_TEST_UTIL_H

#include <math.h>

#include "conv_ref.h"
#include "ds_conv.h"

typedef struct conv_any {
    int transposed;
    ds_conv3d c;
    ds_conv_transpose3d t;
} conv_any;

static inline ds_status conv_any_init(ds_ctx *ctx, conv_any *a, const conv_ref_shape *r, int bias)
{
    a->transposed = r->transposed;
    if (r->transposed)
        return ds_conv_transpose3d_init(ctx, &a->t, "t", (int)r->cin, (int)r->cout, (int)r->k,
                                        (int)r->s, (int)r->p, bias);
    return ds_conv3d_init(ctx, &a->c, "c", (int)r->cin, (int)r->cout, (int)r->k, (int)r->s,
                          (int)r->p, bias);
}
static inline void conv_any_free(conv_any *a)
{
    if (a->transposed)
        ds_conv_transpose3d_free(&a->t);
    else
        ds_conv3d_free(&a->c);
}
static inline ds_param *conv_any_weight(conv_any *a)
{
    return a->transposed ? &a->t.weight : &a->c.weight;
}
static inline ds_param *conv_any_bias(conv_any *a)
{
    return a->transposed ? &a->t.bias : &a->c.bias;
}
static inline ds_status conv_any_forward(ds_ctx *ctx, conv_any *a, const ds_tensor *x, ds_tensor *y)
{
    return a->transposed ? ds_conv_transpose3d_forward(ctx, &a->t, x, y)
                         : ds_conv3d_forward(ctx, &a->c, x, y);
}
static inline ds_status conv_any_backward(ds_ctx *ctx, conv_any *a, const ds_tensor *x,
                                          const ds_tensor *dy, ds_tensor *dx)
{
    return a->transposed ? ds_conv_transpose3d_backward(ctx, &a->t, x, dy, dx)
                         : ds_conv3d_backward(ctx, &a->c, x, dy, dx);
}

/* max |got - want| / max(max |want|, 1e-30) */
static inline double conv_rel_err(const float *got, const double *want, int64_t n)
{
    double md = 0.0, mw = 0.0;
    for (int64_t i = 0; i < n; ++i) {
        double d = fabs((double)got[i] - want[i]);
        md = d > md ? d : md;
        mw = fabs(want[i]) > mw ? fabs(want[i]) : mw;
    }
    return md / (mw > 1e-30 ? mw : 1e-30);
}

#endif /* DS_CONV_TEST_UTIL_H */
