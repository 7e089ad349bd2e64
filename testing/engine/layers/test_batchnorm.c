/* test_batchnorm.c - BatchNorm3d forward and backward.
 *
 * References: an independent double-precision BatchNorm forward written here from the formulas in
 * PyTorch's documentation (batch statistics with biased variance; running statistics in
 * evaluation), and central finite differences of the loss L = sum(w * y) through that double
 * forward for dx, dgamma, dbeta. Running statistics after a step are computed by hand from the
 * same double statistics (unbiased variance, momentum 0.1). Parity with PyTorch itself is in
 * test_layer_parity.c.
 */
#include "ds_norm.h"
#include "ds_tensor.h"
#include "ds_threads.h"
#include "ds_test.h"
#include "layer_test_util.h"

#include <stdlib.h>
#include <string.h>

enum { N = 2, C = 3, D = 5, H = 3, W = 7, S = D * H * W, NUMEL = N * C * S };

typedef struct ref_state {
    double x[NUMEL], gamma[C], beta[C], rmean[C], rvar[C], w[NUMEL];
    int training;
} ref_state;

/* Double-precision BatchNorm3d forward (eps 1e-5), two-pass statistics. */
static void ref_forward(const ref_state *s, double *y)
{
    for (int c = 0; c < C; ++c) {
        double mean, var;
        if (s->training) {
            double sum = 0.0;
            for (int n = 0; n < N; ++n)
                for (int i = 0; i < S; ++i)
                    sum += s->x[(n * C + c) * S + i];
            mean = sum / (N * S);
            double sq = 0.0;
            for (int n = 0; n < N; ++n)
                for (int i = 0; i < S; ++i) {
                    const double d = s->x[(n * C + c) * S + i] - mean;
                    sq += d * d;
                }
            var = sq / (N * S);
        } else {
            mean = s->rmean[c];
            var = s->rvar[c];
        }
        const double invstd = 1.0 / sqrt(var + 1e-5);
        for (int n = 0; n < N; ++n)
            for (int i = 0; i < S; ++i) {
                const int k = (n * C + c) * S + i;
                y[k] = (s->x[k] - mean) * invstd * s->gamma[c] + s->beta[c];
            }
    }
}

static double ref_loss(const void *state)
{
    const ref_state *s = state;
    static double y[NUMEL];
    ref_forward(s, y);
    double l = 0.0;
    for (int i = 0; i < NUMEL; ++i)
        l += s->w[i] * y[i];
    return l;
}

/* One mode: forward against the double reference, then backward (adding into pre-filled
 * gradients) against finite differences. */
static void check_mode(ds_ctx *ctx, int training)
{
    ds_rng rng;
    ds_rng_init(&rng, 11 + (uint64_t)training, DS_RNG_TEST);
    ds_batchnorm3d bn;
    DS_CHECK_OK(ctx, ds_batchnorm3d_init(ctx, &bn, "bn", C));
    ds_tensor *x = NULL, *y = NULL, *dy = NULL, *dx = NULL, *dx0 = NULL;
    DS_CHECK_OK(ctx, ds_tensor_create(ctx, &x, N, C, D, H, W));
    DS_CHECK_OK(ctx, ds_tensor_create(ctx, &y, N, C, D, H, W));
    DS_CHECK_OK(ctx, ds_tensor_create(ctx, &dy, N, C, D, H, W));
    DS_CHECK_OK(ctx, ds_tensor_create(ctx, &dx, N, C, D, H, W));
    /* channels with different offsets and spreads */
    for (int n = 0; n < N; ++n)
        for (int c = 0; c < C; ++c)
            lt_fill_normal(&rng, ds_tensor_at(x, n, c, 0, 0, 0), S, 1.5f * (float)c - 1.0f,
                           0.5f + (float)c);
    lt_fill_normal(&rng, dy->data, NUMEL, 0.0f, 1.0f);
    lt_fill_uniform(&rng, dx->data, NUMEL, -1.0f, 1.0f);
    DS_CHECK_OK(ctx, ds_tensor_clone(ctx, &dx0, dx));
    lt_fill_uniform(&rng, bn.weight.value, C, 0.5f, 1.5f);
    bn.weight.value[1] = -bn.weight.value[1];
    lt_fill_uniform(&rng, bn.bias.value, C, -0.5f, 0.5f);
    lt_fill_uniform(&rng, bn.running_mean, C, -1.0f, 1.0f);
    lt_fill_uniform(&rng, bn.running_var, C, 0.5f, 2.0f);
    float gw0[C], gb0[C];
    lt_fill_uniform(&rng, bn.weight.grad, C, -1.0f, 1.0f);
    lt_fill_uniform(&rng, bn.bias.grad, C, -1.0f, 1.0f);
    memcpy(gw0, bn.weight.grad, sizeof gw0);
    memcpy(gb0, bn.bias.grad, sizeof gb0);

    static ref_state s;
    lt_to_double(x->data, s.x, NUMEL);
    lt_to_double(bn.weight.value, s.gamma, C);
    lt_to_double(bn.bias.value, s.beta, C);
    lt_to_double(bn.running_mean, s.rmean, C);
    lt_to_double(bn.running_var, s.rvar, C);
    lt_to_double(dy->data, s.w, NUMEL);
    s.training = training;
    const float rm0[C] = {bn.running_mean[0], bn.running_mean[1], bn.running_mean[2]};
    const float rv0[C] = {bn.running_var[0], bn.running_var[1], bn.running_var[2]};

    DS_CHECK_OK(ctx, ds_batchnorm3d_forward(ctx, &bn, x, y, training));
    static double yref[NUMEL];
    ref_forward(&s, yref);
    const double ey = lt_rel_error(y->data, yref, NUMEL);
    DS_CHECK_MSG(ey < 1e-5, "%s forward rel error %.3g", training ? "train" : "eval", ey);

    /* Running statistics: updated (unbiased variance, momentum 0.1) only in training. */
    for (int c = 0; c < C; ++c) {
        double mean = 0.0, sq = 0.0;
        for (int n = 0; n < N; ++n)
            for (int i = 0; i < S; ++i)
                mean += s.x[(n * C + c) * S + i];
        mean /= N * S;
        for (int n = 0; n < N; ++n)
            for (int i = 0; i < S; ++i)
                sq += (s.x[(n * C + c) * S + i] - mean) * (s.x[(n * C + c) * S + i] - mean);
        const double want_m = training ? 0.9 * rm0[c] + 0.1 * mean : rm0[c];
        const double want_v = training ? 0.9 * rv0[c] + 0.1 * sq / (N * S - 1) : rv0[c];
        DS_CHECK_CLOSE(bn.running_mean[c], want_m, 1e-6, 1e-6);
        DS_CHECK_CLOSE(bn.running_var[c], want_v, 1e-6, 1e-6);
    }
    DS_CHECK(bn.num_batches_tracked == (training ? 1 : 0));

    DS_CHECK_OK(ctx, ds_batchnorm3d_backward(ctx, &bn, x, dy, dx));
    static double gx[NUMEL];
    double gg[C], gbeta[C];
    for (int i = 0; i < NUMEL; ++i)
        gx[i] = lt_central_diff(ref_loss, &s, &s.x[i], 1e-5);
    for (int c = 0; c < C; ++c) {
        gg[c] = lt_central_diff(ref_loss, &s, &s.gamma[c], 1e-5);
        gbeta[c] = lt_central_diff(ref_loss, &s, &s.beta[c], 1e-5);
    }
    const double ex = lt_rel_error_added(dx->data, dx0->data, gx, NUMEL);
    const double eg = lt_rel_error_added(bn.weight.grad, gw0, gg, C);
    const double eb = lt_rel_error_added(bn.bias.grad, gb0, gbeta, C);
    printf("%s: rel errors vs finite differences: dx %.2g, dgamma %.2g, dbeta %.2g\n",
           training ? "train" : "eval", ex, eg, eb);
    DS_CHECK_MSG(ex < 1e-5, "dx rel error %.3g", ex);
    DS_CHECK_MSG(eg < 1e-5, "dgamma rel error %.3g", eg);
    DS_CHECK_MSG(eb < 1e-5, "dbeta rel error %.3g", eb);

    /* dx == NULL: only the parameter gradients accumulate (a second time). */
    DS_CHECK_OK(ctx, ds_batchnorm3d_backward(ctx, &bn, x, dy, NULL));
    for (int c = 0; c < C; ++c)
        DS_CHECK_CLOSE(bn.bias.grad[c] - gb0[c], 2.0 * gbeta[c], 1e-4, 1e-4);

    /* In place: y aliasing x gives the same output. */
    ds_tensor *xi = NULL;
    DS_CHECK_OK(ctx, ds_tensor_clone(ctx, &xi, x));
    DS_CHECK_OK(ctx, ds_batchnorm3d_forward(ctx, &bn, x, y, training));
    DS_CHECK_OK(ctx, ds_batchnorm3d_forward(ctx, &bn, xi, xi, training));
    DS_CHECK(memcmp(xi->data, y->data, NUMEL * sizeof(float)) == 0);

    ds_tensor_free(xi);
    ds_tensor_free(x);
    ds_tensor_free(y);
    ds_tensor_free(dy);
    ds_tensor_free(dx);
    ds_tensor_free(dx0);
    ds_batchnorm3d_free(&bn);
}

/* Same outputs, bit for bit, for 1, 2 and 3 threads on a tensor large enough to run in parallel. */
static void check_threads(ds_ctx *ctx)
{
    enum { BN_ = 2, BC = 4, BD = 9, BH = 17, BW = 33, BNUM = BN_ * BC * BD * BH * BW };
    ds_rng rng;
    ds_rng_init(&rng, 5, DS_RNG_TEST);
    ds_tensor *x = NULL, *dy = NULL, *y[3] = {NULL, NULL, NULL}, *dx[3] = {NULL, NULL, NULL};
    DS_CHECK_OK(ctx, ds_tensor_create(ctx, &x, BN_, BC, BD, BH, BW));
    DS_CHECK_OK(ctx, ds_tensor_create(ctx, &dy, BN_, BC, BD, BH, BW));
    lt_fill_normal(&rng, x->data, BNUM, 3.0f, 2.0f);
    lt_fill_normal(&rng, dy->data, BNUM, 0.0f, 1.0f);
    float rm[3][BC], rv[3][BC], gw[3][BC];
    for (int t = 0; t < 3; ++t) {
        DS_CHECK_OK(ctx, ds_threads_set(ctx, t + 1));
        DS_CHECK_OK(ctx, ds_tensor_create(ctx, &y[t], BN_, BC, BD, BH, BW));
        DS_CHECK_OK(ctx, ds_tensor_zeros(ctx, &dx[t], BN_, BC, BD, BH, BW));
        ds_batchnorm3d bn;
        DS_CHECK_OK(ctx, ds_batchnorm3d_init(ctx, &bn, NULL, BC));
        DS_CHECK_OK(ctx, ds_batchnorm3d_forward(ctx, &bn, x, y[t], 1));
        DS_CHECK_OK(ctx, ds_batchnorm3d_backward(ctx, &bn, x, dy, dx[t]));
        memcpy(rm[t], bn.running_mean, sizeof rm[t]);
        memcpy(rv[t], bn.running_var, sizeof rv[t]);
        memcpy(gw[t], bn.weight.grad, sizeof gw[t]);
        ds_batchnorm3d_free(&bn);
    }
    for (int t = 1; t < 3; ++t) {
        DS_CHECK(memcmp(y[t]->data, y[0]->data, BNUM * sizeof(float)) == 0);
        DS_CHECK(memcmp(dx[t]->data, dx[0]->data, BNUM * sizeof(float)) == 0);
        DS_CHECK(memcmp(rm[t], rm[0], sizeof rm[0]) == 0 && memcmp(rv[t], rv[0], sizeof rv[0]) == 0);
        DS_CHECK(memcmp(gw[t], gw[0], sizeof gw[0]) == 0);
    }
    DS_CHECK_OK(ctx, ds_threads_set(ctx, 0));
    for (int t = 0; t < 3; ++t) {
        ds_tensor_free(y[t]);
        ds_tensor_free(dx[t]);
    }
    ds_tensor_free(x);
    ds_tensor_free(dy);
}

/* Statistics stay accurate for a large offset relative to the spread (mean 1000, std 0.01): the
 * reference is a two-pass double computation on the same float values. */
static void check_accuracy(ds_ctx *ctx)
{
    enum { AS = 4096 };
    ds_rng rng;
    ds_rng_init(&rng, 9, DS_RNG_TEST);
    ds_tensor *x = NULL, *y = NULL;
    DS_CHECK_OK(ctx, ds_tensor_create(ctx, &x, 2, 1, 16, 16, 16));
    DS_CHECK_OK(ctx, ds_tensor_create(ctx, &y, 2, 1, 16, 16, 16));
    lt_fill_normal(&rng, x->data, 2 * AS, 1000.0f, 0.01f);
    double mean = 0.0, sq = 0.0;
    for (int i = 0; i < 2 * AS; ++i)
        mean += x->data[i];
    mean /= 2 * AS;
    for (int i = 0; i < 2 * AS; ++i)
        sq += (x->data[i] - mean) * (x->data[i] - mean);
    ds_batchnorm3d bn;
    DS_CHECK_OK(ctx, ds_batchnorm3d_init(ctx, &bn, NULL, 1));
    DS_CHECK_OK(ctx, ds_batchnorm3d_forward(ctx, &bn, x, y, 1));
    DS_CHECK_CLOSE(bn.saved_mean[0], mean, 1e-7, 0.0);
    DS_CHECK_CLOSE(bn.saved_invstd[0], 1.0 / sqrt(sq / (2 * AS) + 1e-5), 1e-6, 0.0);
    ds_batchnorm3d_free(&bn);
    ds_tensor_free(x);
    ds_tensor_free(y);
}

static void check_bad_input(ds_ctx *ctx)
{
    ds_batchnorm3d bn;
    DS_CHECK_FAILS(ctx, ds_batchnorm3d_init(ctx, &bn, "bn", 0), DS_ERR_ARG);
    DS_CHECK_FAILS(ctx, ds_batchnorm3d_init(ctx, NULL, "bn", 3), DS_ERR_ARG);
    DS_CHECK_OK(ctx, ds_batchnorm3d_init(ctx, &bn, "enc.bn", 3));
    DS_CHECK(strcmp(bn.weight.name, "enc.bn.weight") == 0 && strcmp(bn.bias.name, "enc.bn.bias") == 0);
    DS_CHECK(bn.weight.value[2] == 1.0f && bn.bias.value[2] == 0.0f && bn.running_var[2] == 1.0f &&
             bn.running_mean[2] == 0.0f && bn.momentum == 0.1f && bn.eps == 1e-5f);
    ds_tensor *x = NULL, *x4 = NULL, *y = NULL, *ysmall = NULL, *one = NULL;
    DS_CHECK_OK(ctx, ds_tensor_zeros(ctx, &x, 2, 3, 3, 3, 3));
    DS_CHECK_OK(ctx, ds_tensor_zeros(ctx, &x4, 2, 4, 3, 3, 3));
    DS_CHECK_OK(ctx, ds_tensor_zeros(ctx, &y, 2, 3, 3, 3, 3));
    DS_CHECK_OK(ctx, ds_tensor_zeros(ctx, &ysmall, 2, 3, 3, 3, 2));
    DS_CHECK_OK(ctx, ds_tensor_zeros(ctx, &one, 1, 3, 1, 1, 1));
    DS_CHECK_FAILS(ctx, ds_batchnorm3d_backward(ctx, &bn, x, y, y), DS_ERR_ARG); /* no forward */
    DS_CHECK_FAILS(ctx, ds_batchnorm3d_forward(ctx, &bn, x4, x4, 1), DS_ERR_SHAPE);
    DS_CHECK(strstr(ds_ctx_message(ctx), "channels") != NULL);
    DS_CHECK_FAILS(ctx, ds_batchnorm3d_forward(ctx, &bn, x, ysmall, 1), DS_ERR_SHAPE);
    DS_CHECK_FAILS(ctx, ds_batchnorm3d_forward(ctx, &bn, NULL, y, 1), DS_ERR_ARG);
    DS_CHECK_FAILS(ctx, ds_batchnorm3d_forward(ctx, &bn, x, NULL, 1), DS_ERR_ARG);
    DS_CHECK_FAILS(ctx, ds_batchnorm3d_forward(ctx, NULL, x, y, 1), DS_ERR_ARG);
    DS_CHECK_FAILS(ctx, ds_batchnorm3d_forward(ctx, &bn, one, one, 1), DS_ERR_SHAPE);
    DS_CHECK_OK(ctx, ds_batchnorm3d_forward(ctx, &bn, one, one, 0)); /* evaluation is fine */
    DS_CHECK_OK(ctx, ds_batchnorm3d_forward(ctx, &bn, x, y, 1));
    DS_CHECK_FAILS(ctx, ds_batchnorm3d_backward(ctx, &bn, x, ysmall, y), DS_ERR_SHAPE);
    DS_CHECK_FAILS(ctx, ds_batchnorm3d_backward(ctx, &bn, x, y, ysmall), DS_ERR_SHAPE);
    DS_CHECK_FAILS(ctx, ds_batchnorm3d_backward(ctx, &bn, one, one, one), DS_ERR_SHAPE);
    DS_CHECK_FAILS(ctx, ds_batchnorm3d_backward(ctx, &bn, x, NULL, y), DS_ERR_ARG);
    ds_batchnorm3d_free(&bn);
    ds_batchnorm3d_free(&bn); /* safe twice */
    DS_CHECK_FAILS(ctx, ds_batchnorm3d_forward(ctx, &bn, x, y, 1), DS_ERR_ARG); /* freed */
    ds_tensor_free(x);
    ds_tensor_free(x4);
    ds_tensor_free(y);
    ds_tensor_free(ysmall);
    ds_tensor_free(one);
}

int main(void)
{
    ds_ctx *ctx = NULL;
    if (ds_ctx_create(&ctx) != DS_OK)
        return 1;
    check_mode(ctx, 1);
    check_mode(ctx, 0);
    check_threads(ctx);
    check_accuracy(ctx);
    check_bad_input(ctx);
    ds_ctx_free(ctx);
    return ds_test_finish("test_batchnorm");
}
