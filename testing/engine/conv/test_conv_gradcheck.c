/* test_conv_gradcheck.c - forward and backward of every convolution variant against an
 * independent reference: a naive double-precision convolution written from the definition
 * (conv_ref.h), and, for the gradients, central finite differences of the scalar
 * L(x, W, b) = sum(dy * conv_ref(x, W, b)) in double. Batch 2, odd spatial sizes, bias on and off.
 * The gradients are added onto non-zero starting values to check that they accumulate.
 */
#include <stdlib.h>

#include "conv_test_util.h"
#include "ds_tensor.h"
#include "ds_test.h"
#include "ds_threads.h"

typedef struct gc_case {
    const char *name;
    int transposed, cin, cout, k, s, p, d, h, w;
} gc_case;

static const gc_case cases[] = {
    {"k3 s1 p1", 0, 3, 4, 3, 1, 1, 5, 6, 7},
    {"k2 s2", 0, 3, 4, 2, 2, 0, 7, 6, 5},
    {"k1 s1", 0, 3, 4, 1, 1, 0, 5, 3, 7},
    {"k7 s1 p3", 0, 2, 3, 7, 1, 3, 5, 6, 7},
    {"k1 s2 (shortcut)", 0, 3, 4, 1, 2, 0, 7, 5, 9},
    {"k3 s2 p1 (general)", 0, 2, 3, 3, 2, 1, 7, 6, 5},
    {"k3 s1 p2 (general)", 0, 2, 3, 3, 1, 2, 3, 4, 5},
    /* rows of 16 columns or more: the direct AVX2 kernels (forward, flipped backward-data, and
     * backward-weights with cout % 4 == 0), including a partial vector and channel tail */
    {"k3 s1 p1 (direct)", 0, 8, 8, 3, 1, 1, 3, 4, 17},
    {"k7 s1 p3 (direct)", 0, 1, 3, 7, 1, 3, 3, 4, 17},
    {"k3 s1 p1 (direct, one input channel)", 0, 1, 4, 3, 1, 1, 3, 3, 19},
    {"k3 s1 p2 (direct)", 0, 2, 5, 3, 1, 2, 3, 2, 18},
    {"transposed k2 s2", 1, 3, 4, 2, 2, 0, 3, 4, 5},
    {"transposed k3 s2 p1 (general)", 1, 2, 3, 3, 2, 1, 3, 4, 5},
    {"transposed k3 s1 p1 (general)", 1, 2, 3, 3, 1, 1, 3, 4, 5},
};

/* L = sum(dy * conv_ref(x, w, b)) */
static double loss(const conv_ref_shape *r, const double *x, const double *w, const double *b,
                   const double *dy, double *ybuf)
{
    conv_ref_forward(r, x, w, b, ybuf);
    double s = 0.0;
    for (int64_t i = 0; i < conv_ref_out_numel(r); ++i)
        s += dy[i] * ybuf[i];
    return s;
}

/* Central differences of L with respect to up to ~32 entries of v (a stride through it); checks
 * got[i] - base[i] against them. */
static void check_fd(const char *what, const char *name, const conv_ref_shape *r, double *v,
                     int64_t n, const float *got, const float *base, double *x, double *w,
                     double *b, const double *dy, double *ybuf)
{
    const double eps = 1e-3;
    int64_t step = n > 32 ? n / 32 : 1;
    double maxref = 0.0, maxdiff = 0.0;
    for (int64_t i = 0; i < n; i += step) {
        double keep = v[i];
        v[i] = keep + eps;
        double lp = loss(r, x, w, b, dy, ybuf);
        v[i] = keep - eps;
        double lm = loss(r, x, w, b, dy, ybuf);
        v[i] = keep;
        double ref = (lp - lm) / (2 * eps);
        double g = (double)got[i] - (double)base[i];
        maxref = fabs(ref) > maxref ? fabs(ref) : maxref;
        maxdiff = fabs(g - ref) > maxdiff ? fabs(g - ref) : maxdiff;
    }
    DS_CHECK_MSG(maxdiff <= 1e-4 * maxref + 1e-6, "%s, %s: max diff %.3g, max |ref| %.3g", name,
                 what, maxdiff, maxref);
}

static void run_case(ds_ctx *ctx, const gc_case *c, int bias)
{
    conv_ref_shape r = {c->transposed, 2,    c->cin, c->cout, c->k, c->s, c->p,
                        c->d,          c->h, c->w,   0,       0,    0};
    conv_ref_fill_out(&r);
    int64_t nx = conv_ref_in_numel(&r), ny = conv_ref_out_numel(&r), nw = conv_ref_w_numel(&r);
    double *x = malloc(sizeof(double) * (size_t)nx), *w = malloc(sizeof(double) * (size_t)nw);
    double *b = malloc(sizeof(double) * (size_t)c->cout), *dy = malloc(sizeof(double) * (size_t)ny);
    double *yref = malloc(sizeof(double) * (size_t)ny);
    float *dx0 = malloc(sizeof(float) * (size_t)nx), *dw0 = malloc(sizeof(float) * (size_t)nw);
    float *db0 = malloc(sizeof(float) * (size_t)c->cout);
    uint64_t st = 12345u + (uint64_t)(c - cases) * 77u + (uint64_t)bias;
    conv_any layer;
    ds_tensor *tx = NULL, *ty = NULL, *tdy = NULL, *tdx = NULL;
    DS_CHECK_OK(ctx, conv_any_init(ctx, &layer, &r, bias));
    DS_CHECK_OK(ctx, ds_tensor_create(ctx, &tx, 2, c->cin, c->d, c->h, c->w));
    DS_CHECK_OK(ctx, ds_tensor_create(ctx, &ty, 2, c->cout, r.od, r.oh, r.ow));
    DS_CHECK_OK(ctx, ds_tensor_create(ctx, &tdy, 2, c->cout, r.od, r.oh, r.ow));
    DS_CHECK_OK(ctx, ds_tensor_create(ctx, &tdx, 2, c->cin, c->d, c->h, c->w));
    if (!tx || !ty || !tdy || !tdx)
        goto done;
    ds_param *pw = conv_any_weight(&layer), *pb = conv_any_bias(&layer);
    /* Values exactly representable in float, so that both sides see the same numbers. */
    for (int64_t i = 0; i < nx; ++i)
        x[i] = tx->data[i] = (float)conv_ref_uniform(&st);
    for (int64_t i = 0; i < nw; ++i)
        w[i] = pw->value[i] = (float)conv_ref_uniform(&st);
    for (int i = 0; i < c->cout; ++i)
        b[i] = bias ? (pb->value[i] = (float)conv_ref_uniform(&st)) : 0.0;
    for (int64_t i = 0; i < ny; ++i)
        dy[i] = tdy->data[i] = (float)conv_ref_uniform(&st);
    for (int64_t i = 0; i < nx; ++i)
        dx0[i] = tdx->data[i] = (float)conv_ref_uniform(&st);
    for (int64_t i = 0; i < nw; ++i)
        dw0[i] = pw->grad[i] = (float)conv_ref_uniform(&st);
    for (int i = 0; bias && i < c->cout; ++i)
        db0[i] = pb->grad[i] = (float)conv_ref_uniform(&st);

    /* Forward: y is overwritten (start from garbage). */
    ds_tensor_fill(ty, 1e30f);
    DS_CHECK_OK(ctx, conv_any_forward(ctx, &layer, tx, ty));
    conv_ref_forward(&r, x, w, bias ? b : NULL, yref);
    double e = conv_rel_err(ty->data, yref, ny);
    DS_CHECK_MSG(e <= 1e-5, "%s bias %d: forward rel error %.3g", c->name, bias, e);

    DS_CHECK_OK(ctx, conv_any_backward(ctx, &layer, tx, tdy, tdx));
    char name[96];
    snprintf(name, sizeof name, "%s bias %d", c->name, bias);
    double *bb = bias ? b : NULL;
    check_fd("dx", name, &r, x, nx, tdx->data, dx0, x, w, bb, dy, yref);
    check_fd("dW", name, &r, w, nw, pw->grad, dw0, x, w, bb, dy, yref);
    if (bias)
        check_fd("db", name, &r, b, c->cout, pb->grad, db0, x, w, bb, dy, yref);

    /* dx == NULL: only the parameter gradients, which accumulate a second time. */
    for (int64_t i = 0; i < nw; ++i)
        dw0[i] = pw->grad[i];
    DS_CHECK_OK(ctx, conv_any_backward(ctx, &layer, tx, tdy, NULL));
    check_fd("dW (second call, dx NULL)", name, &r, w, nw, pw->grad, dw0, x, w, bb, dy, yref);
done:
    ds_tensor_free(tx);
    ds_tensor_free(ty);
    ds_tensor_free(tdy);
    ds_tensor_free(tdx);
    conv_any_free(&layer);
    free(x);
    free(w);
    free(b);
    free(dy);
    free(yref);
    free(dx0);
    free(dw0);
    free(db0);
}

int main(void)
{
    ds_ctx *ctx = NULL;
    if (ds_ctx_create(&ctx) != DS_OK)
        return 1;
    DS_CHECK_OK(ctx, ds_threads_set(ctx, 0));
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; ++i)
        for (int bias = 0; bias < 2; ++bias)
            run_case(ctx, &cases[i], bias);
    ds_ctx_free(ctx);
    return ds_test_finish("test_conv_gradcheck");
}
