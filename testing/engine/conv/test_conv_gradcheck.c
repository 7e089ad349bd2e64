/* test_conv_gradcheck.c - forward and backward of every convolution variant against an
 * independent reference, on every element: a naive double-precision convolution and its adjoint
 * written from the definition (conv_ref.h). The adjoint itself is checked against central finite
 * differences of the scalar L(x, W, b) = sum(dy * conv_ref(x, W, b)) in double, on entries a
 * step apart that is coprime to every dimension, so that every w column of dx and (kernel <= 3)
 * every tap of dW is among them. Batch 2, odd spatial sizes, bias on and off. The gradients are
 * added onto non-zero starting values to check that they accumulate.
 *
 * Each case names the kernels it is meant to reach (ds_conv_paths) and fails if another ran; on a
 * CPU without AVX2 + FMA (or in the DS_CONV_NO_DIRECT build) the direct cases check the SGEMM
 * paths they fall back to, and the test says so.
 */
#include <stdlib.h>

#include "conv_test_util.h"
#include "ds_tensor.h"
#include "ds_test.h"
#include "ds_threads.h"

typedef struct gc_case {
    const char *name;
    int transposed, cin, cout, k, s, p, d, h, w;
    conv_want want; /* forward, backward-data, backward-weights: with / without direct kernels */
} gc_case;

#define SAME CONV_WANT_SAME

static const gc_case cases[] = {
    {"k3 s1 p1", 0, 3, 4, 3, 1, 1, 5, 6, 7, SAME(CP_GEMM, CP_GEMM, CP_GEMM)},
    {"k2 s2", 0, 3, 4, 2, 2, 0, 7, 6, 5, SAME(CP_GEMM, CP_SCATTER, CP_GEMM)},
    {"k1 s1", 0, 3, 4, 1, 1, 0, 5, 3, 7, SAME(CP_PW, CP_PW, CP_PW)},
    /* 2 x 7^3 = 686 lowered rows: split-K forward, and backward-data (3 x 7^3) accumulating, or
     * the lowered GEMM with our kernel where it runs */
    {"k7 s1 p3", 0, 2, 3, 7, 1, 3, 5, 6, 7,
     {{CP_GEMM, CP_GEMM, CP_GEMM}, {CP_SPLITK, CP_SPLITK, CP_GEMM}}},
    {"k1 s2 (shortcut)", 0, 3, 4, 1, 2, 0, 7, 5, 9, SAME(CP_GEMM, CP_SCATTER, CP_GEMM)},
    {"k3 s2 p1 (general)", 0, 2, 3, 3, 2, 1, 7, 6, 5, SAME(CP_GEMM, CP_SCATTER, CP_GEMM)},
    {"k3 s1 p2 (general)", 0, 2, 3, 3, 1, 2, 3, 4, 5, SAME(CP_GEMM, CP_GEMM, CP_GEMM)},
    /* 20 x 27 = 540 lowered rows on 4-column rows, 2 x 36 output voxels: split-K both ways, or
     * where our kernels run the few-voxel GEMM (backward-data accumulating through it) */
    {"k3 s1 p1 (split-K)", 0, 20, 20, 3, 1, 1, 3, 3, 4,
     {{CP_FEW, CP_FEW, CP_GEMM}, {CP_SPLITK, CP_SPLITK, CP_GEMM}}},
    /* 2 x 36 output voxels, 32 output channels: our backward-weights with the batch in one
     * tile, straight into dW's rows where the lowered rows are a whole number of vectors (16 x 27),
     * else through dW^T (20 x 27) */
    {"k3 s1 p1 (few voxels, dW by rows)", 0, 16, 32, 3, 1, 1, 3, 3, 4,
     {{CP_FEW, CP_FEW, CP_GEMM}, {CP_GEMM, CP_SPLITK, CP_GEMM}}},
    {"k3 s1 p1 (few voxels, dW transposed)", 0, 20, 32, 3, 1, 1, 3, 3, 4,
     {{CP_FEW, CP_FEW, CP_GEMM}, {CP_SPLITK, CP_SPLITK, CP_GEMM}}},
    /* rows of 16 columns or more: the direct AVX2 kernels (forward, flipped backward-data, and
     * backward-weights with cout % 4 == 0), including a partial vector and channel tail */
    {"k3 s1 p1 (direct)", 0, 8, 8, 3, 1, 1, 3, 4, 17,
     {{CP_DIRECT, CP_DIRECT, CP_DIRECT}, {CP_GEMM, CP_GEMM, CP_GEMM}}},
    {"k7 s1 p3 (direct)", 0, 1, 4, 7, 1, 3, 3, 4, 17,
     {{CP_DIRECT, CP_DIRECT, CP_DIRECT_AVX512}, {CP_GEMM, CP_SPLITK, CP_GEMM}}},
    /* 40 rows of 70 (four vectors and a tail of 6): the AVX-512 backward-weights goes through
     * the plane in strips of 17 rows (DS_CONV_STRIP_BYTES), the last one short; without the direct
     * kernels, the lowered GEMM throughout (the lowered matrix is past split-K's budget) */
    {"k7 s1 p3 (direct, row strips)", 0, 1, 4, 7, 1, 3, 2, 40, 70,
     {{CP_DIRECT, CP_DIRECT, CP_DIRECT_AVX512}, {CP_GEMM, CP_GEMM, CP_GEMM}}},
    {"k3 s1 p1 (direct, one input channel)", 0, 1, 4, 3, 1, 1, 3, 3, 19,
     {{CP_DIRECT, CP_DIRECT, CP_DIRECT}, {CP_GEMM, CP_GEMM, CP_GEMM}}},
    {"k3 s1 p2 (direct)", 0, 2, 5, 3, 1, 2, 3, 2, 18,
     {{CP_DIRECT, CP_DIRECT, CP_GEMM}, {CP_GEMM, CP_GEMM, CP_GEMM}}},
    {"transposed k2 s2", 1, 3, 4, 2, 2, 0, 3, 4, 5, SAME(CP_SCATTER, CP_GEMM, CP_GEMM)},
    {"transposed k3 s2 p1 (general)", 1, 2, 3, 3, 2, 1, 3, 4, 5,
     SAME(CP_SCATTER, CP_GEMM, CP_GEMM)},
    {"transposed k3 s1 p1 (general)", 1, 2, 3, 3, 1, 1, 3, 4, 5, SAME(CP_GEMM, CP_GEMM, CP_GEMM)},
    /* 16 columns: backward-weights without a partial vector */
    {"transposed k3 s1 p1 (direct)", 1, 4, 8, 3, 1, 1, 3, 3, 16,
     {{CP_DIRECT, CP_DIRECT, CP_DIRECT}, {CP_GEMM, CP_GEMM, CP_GEMM}}},
};

/* Largest |got - (base + want)| / (bound + |base|) over n elements, where bound[i] is the sum of
 * the magnitudes of the terms of element i. Float32 rounding of a sum of m terms is about
 * m^(1/2) * 2^-24 of that (m <= ~1000 here: under 2e-6; measured at most 1.8e-7), while a missing
 * or wrong term moves the element by about 1/m of it (1e-3 or more). */
static double worst_ratio(const float *got, const float *base, const double *want,
                          const double *bound, int64_t n, int64_t *at)
{
    double worst = 0.0;
    *at = 0;
    for (int64_t i = 0; i < n; ++i) {
        double b = base ? (double)base[i] : 0.0;
        double r = fabs((double)got[i] - (b + want[i])) / (bound[i] + fabs(b) + 1e-30);
        if (r > worst) {
            worst = r;
            *at = i;
        }
    }
    return worst;
}

#define ELEMENT_TOL 2e-6

static void check_all(const char *name, const char *what, const float *got, const float *base,
                      const double *want, const double *bound, int64_t n)
{
    int64_t at;
    double r = worst_ratio(got, base, want, bound, n, &at);
    DS_CHECK_MSG(r <= ELEMENT_TOL,
                 "%s, %s: element %lld is %.9g, want %.9g (error %.3g of the term magnitudes)",
                 name, what, (long long)at, (double)got[at] - (base ? (double)base[at] : 0.0),
                 want[at], r);
}

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

/* Smallest prime >= want that divides none of the shape's sizes: entries i, i + step, ... then
 * run through every residue modulo any product of those sizes (every w column, every tap). */
static int64_t coprime_step(const conv_ref_shape *r, int64_t want)
{
    const int64_t dims[] = {r->n, r->cin, r->cout, r->k, r->d, r->h, r->w, r->od, r->oh, r->ow};
    for (int64_t p = want < 2 ? 2 : want;; ++p) {
        int ok = 1;
        for (int64_t f = 2; f * f <= p && ok; ++f)
            ok = p % f != 0;
        for (size_t i = 0; i < sizeof dims / sizeof dims[0] && ok; ++i)
            ok = dims[i] % p != 0;
        if (ok)
            return p;
    }
}

#define FD_SAMPLES 64

/* Central differences of L with respect to the entries of v a coprime step apart (all of them
 * when there are at most FD_SAMPLES); checks the reference gradient ref against them (L is
 * linear in v: only rounding separates them) and that every residue modulo `period` (a w
 * column, a tap) was visited. */
static void check_fd(const char *what, const char *name, const conv_ref_shape *r, double *v,
                     int64_t n, const double *ref, int64_t period, double *x, double *w, double *b,
                     const double *dy, double *ybuf)
{
    const double eps = 1e-3;
    int64_t step = n <= FD_SAMPLES ? 1 : coprime_step(r, n / FD_SAMPLES);
    double maxref = 0.0, maxdiff = 0.0;
    char seen[512] = {0};
    int64_t hit = 0;
    for (int64_t i = 0; i < n; i += step) {
        double keep = v[i];
        v[i] = keep + eps;
        double lp = loss(r, x, w, b, dy, ybuf);
        v[i] = keep - eps;
        double lm = loss(r, x, w, b, dy, ybuf);
        v[i] = keep;
        double fd = (lp - lm) / (2 * eps);
        maxref = fabs(fd) > maxref ? fabs(fd) : maxref;
        maxdiff = fabs(ref[i] - fd) > maxdiff ? fabs(ref[i] - fd) : maxdiff;
        if (period <= (int64_t)sizeof seen && !seen[i % period]) {
            seen[i % period] = 1;
            ++hit;
        }
    }
    DS_CHECK_MSG(maxdiff <= 1e-8 * maxref + 1e-10,
                 "%s, %s: reference gradient vs finite differences: max diff %.3g, max |fd| %.3g",
                 name, what, maxdiff, maxref);
    if (period <= (int64_t)sizeof seen && period <= (n + step - 1) / step)
        DS_CHECK_MSG(hit == period, "%s, %s: finite differences reached %lld of %lld residues",
                     name, what, (long long)hit, (long long)period);
}

static double *dalloc(int64_t n) { return malloc(sizeof(double) * (size_t)(n > 0 ? n : 1)); }
static float *falloc(int64_t n) { return malloc(sizeof(float) * (size_t)(n > 0 ? n : 1)); }

/* |v| elementwise into out */
static void absv(const double *v, int64_t n, double *out)
{
    for (int64_t i = 0; i < n; ++i)
        out[i] = fabs(v[i]);
}

static void run_case(ds_ctx *ctx, const gc_case *c, int bias, int direct)
{
    conv_ref_shape r = {c->transposed, 2,    c->cin, c->cout, c->k, c->s, c->p,
                        c->d,          c->h, c->w,   0,       0,    0};
    conv_ref_fill_out(&r);
    const int64_t nx = conv_ref_in_numel(&r), ny = conv_ref_out_numel(&r);
    const int64_t nw = conv_ref_w_numel(&r), nb = c->cout;
    double *x = dalloc(nx), *w = dalloc(nw), *b = dalloc(nb), *dy = dalloc(ny);
    double *yref = dalloc(ny), *ybound = dalloc(ny), *ax = dalloc(nx), *aw = dalloc(nw);
    double *ab = dalloc(nb), *ady = dalloc(ny);
    double *dxref = dalloc(nx), *dwref = dalloc(nw), *dbref = dalloc(nb);
    double *dxbound = dalloc(nx), *dwbound = dalloc(nw), *dbbound = dalloc(nb);
    float *dx0 = falloc(nx), *dw0 = falloc(nw), *db0 = falloc(nb);
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
    char name[96];
    snprintf(name, sizeof name, "%s, bias %d", c->name, bias);
    double *bb = bias ? b : NULL;

    /* The references, and the magnitudes of their terms (the same sums over |values|). */
    absv(x, nx, ax);
    absv(w, nw, aw);
    absv(b, nb, ab);
    absv(dy, ny, ady);
    conv_ref_forward(&r, x, w, bb, yref);
    conv_ref_forward(&r, ax, aw, bias ? ab : NULL, ybound);
    conv_ref_backward(&r, x, w, dy, dxref, dwref, dbref);
    conv_ref_backward(&r, ax, aw, ady, dxbound, dwbound, dbbound);

    /* Forward: y is overwritten (start from garbage). */
    ds_tensor_fill(ty, 1e30f);
    DS_CHECK_OK(ctx, conv_any_forward(ctx, &layer, tx, ty));
    check_all(name, "y", ty->data, NULL, yref, ybound, ny);

    DS_CHECK_OK(ctx, conv_any_backward(ctx, &layer, tx, tdy, tdx));
    conv_test_check_paths(name, &layer, &c->want, direct, 1);
    check_all(name, "dx", tdx->data, dx0, dxref, dxbound, nx);
    check_all(name, "dW", pw->grad, dw0, dwref, dwbound, nw);
    if (bias)
        check_all(name, "db", pb->grad, db0, dbref, dbbound, nb);

    /* The reference gradients against finite differences (once per case: they do not depend on
     * the bias). */
    if (!bias) {
        check_fd("dx", name, &r, x, nx, dxref, c->w, x, w, bb, dy, yref);
        check_fd("dW", name, &r, w, nw, dwref, (int64_t)c->k * c->k * c->k, x, w, bb, dy, yref);
    } else {
        check_fd("db", name, &r, b, nb, dbref, 1, x, w, bb, dy, yref);
    }

    /* dx == NULL: only the parameter gradients, which accumulate a second time. */
    for (int64_t i = 0; i < nw; ++i)
        dw0[i] = pw->grad[i];
    DS_CHECK_OK(ctx, conv_any_backward(ctx, &layer, tx, tdy, NULL));
    check_all(name, "dW (second call, dx NULL)", pw->grad, dw0, dwref, dwbound, nw);
    DS_CHECK_MSG(conv_any_paths(&layer).backward_data == DS_CONV_PATH_NONE,
                 "%s: backward without dx reports backward-data %s", name,
                 ds_conv_path_name(conv_any_paths(&layer).backward_data));
done:
    ds_tensor_free(tx);
    ds_tensor_free(ty);
    ds_tensor_free(tdy);
    ds_tensor_free(tdx);
    conv_any_free(&layer);
    free(x), free(w), free(b), free(dy), free(yref), free(ybound);
    free(ax), free(aw), free(ab), free(ady);
    free(dxref), free(dwref), free(dbref), free(dxbound), free(dwbound), free(dbbound);
    free(dx0), free(dw0), free(db0);
}

int main(void)
{
    ds_ctx *ctx = NULL;
    if (ds_ctx_create(&ctx) != DS_OK)
        return 1;
    DS_CHECK_OK(ctx, ds_threads_set(ctx, 0));
    const int direct = conv_test_direct_expected();
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; ++i)
        for (int bias = 0; bias < 2; ++bias)
            run_case(ctx, &cases[i], bias, direct);
    ds_ctx_free(ctx);
    return ds_test_finish("test_conv_gradcheck");
}
