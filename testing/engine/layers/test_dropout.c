/* test_dropout.c - Dropout3d semantics (PyTorch's random numbers cannot be matched, so the
 * definition is tested instead): whole (n, c) channels are zeroed or scaled by 1 / (1 - p); the
 * dropped fraction is close to p (binomial bound); same seed, same mask; evaluation is the identity;
 * backward uses the forward's mask (checked against central finite differences of
 * L = sum(w * y) through a double forward with that mask); identical results for 1 and 2 threads.
 */
#include "ds_activation.h"
#include "ds_threads.h"
#include "ds_test.h"
#include "layer_test_util.h"

#include <stdlib.h>
#include <string.h>

/* Returns 1 if every channel of y is all zeros or exactly x * s, s = float(1 / (1 - p)), and y is
 * within two float roundings of x / (1 - p); counts the dropped channels. */
static int channels_ok(const ds_tensor *x, const ds_tensor *y, float p, int64_t *dropped)
{
    const int64_t planes = x->n * x->c, S = ds_tensor_spatial_numel(x);
    const float s = (float)(1.0 / (1.0 - (double)p));
    *dropped = 0;
    for (int64_t k = 0; k < planes; ++k) {
        const float *xp = x->data + k * S, *yp = y->data + k * S;
        int zero = 1, kept = 1;
        for (int64_t i = 0; i < S; ++i) {
            zero &= yp[i] == 0.0f;
            kept &= yp[i] == xp[i] * s &&
                    fabs((double)yp[i] - (double)xp[i] / (1.0 - (double)p)) <=
                        2.4e-7 * fabs((double)yp[i]); /* two float roundings */
        }
        if (!zero && !kept)
            return 0;
        *dropped += zero;
    }
    return 1;
}

typedef struct ref_state {
    int64_t n;
    const double *x, *scale, *w;
    int64_t spatial;
} ref_state;

static double ref_loss(const void *state)
{
    const ref_state *s = state;
    double l = 0.0;
    for (int64_t i = 0; i < s->n; ++i)
        l += s->w[i] * s->x[i] * s->scale[i / s->spatial];
    return l;
}

static void check_semantics(ds_ctx *ctx)
{
    /* Many channels, few voxels: 8 x 2500 = 20000 keep decisions. */
    const float p = 0.3f;
    ds_dropout3d drop;
    DS_CHECK_OK(ctx, ds_dropout3d_init(ctx, &drop, p));
    ds_tensor *x = NULL, *y = NULL, *y2 = NULL;
    DS_CHECK_OK(ctx, ds_tensor_create(ctx, &x, 8, 2500, 1, 1, 3));
    DS_CHECK_OK(ctx, ds_tensor_create(ctx, &y, 8, 2500, 1, 1, 3));
    DS_CHECK_OK(ctx, ds_tensor_create(ctx, &y2, 8, 2500, 1, 1, 3));
    ds_rng data;
    ds_rng_init(&data, 1, DS_RNG_TEST);
    lt_fill_normal(&data, x->data, ds_tensor_numel(x), 0.0f, 1.0f);
    for (int64_t i = 0; i < ds_tensor_numel(x); ++i) /* no exact zeros in x */
        x->data[i] += x->data[i] >= 0.0f ? 1e-3f : -1e-3f;

    ds_rng rng;
    ds_rng_init(&rng, 42, DS_RNG_DROPOUT_A);
    DS_CHECK_OK(ctx, ds_dropout3d_forward(ctx, &drop, x, y, 1, &rng));
    DS_CHECK(rng.counter == 20000); /* one draw per (n, c) */
    int64_t dropped = 0;
    DS_CHECK(channels_ok(x, y, p, &dropped));
    /* Binomial(20000, 0.3): sd of the fraction sqrt(0.3 * 0.7 / 20000) = 0.0032; allow 5 sd
     * (two-sided chance of a false failure for a correct sampler below 1e-6). */
    const double frac = (double)dropped / 20000.0;
    printf("dropped fraction %.4f for p = %.2f (tolerance 5 sd = %.4f)\n", frac, (double)p,
           5.0 * sqrt(0.21 / 20000.0));
    DS_CHECK_MSG(fabs(frac - 0.3) < 5.0 * sqrt(0.21 / 20000.0), "dropped fraction %.4f", frac);

    /* Same seed: same mask; another seed: another mask. */
    ds_rng again;
    ds_rng_init(&again, 42, DS_RNG_DROPOUT_A);
    ds_dropout3d other;
    DS_CHECK_OK(ctx, ds_dropout3d_init(ctx, &other, p));
    DS_CHECK_OK(ctx, ds_dropout3d_forward(ctx, &other, x, y2, 1, &again));
    DS_CHECK(memcmp(y->data, y2->data, (size_t)ds_tensor_numel(y) * sizeof(float)) == 0);
    ds_rng_init(&again, 43, DS_RNG_DROPOUT_A);
    DS_CHECK_OK(ctx, ds_dropout3d_forward(ctx, &other, x, y2, 1, &again));
    DS_CHECK(memcmp(y->data, y2->data, (size_t)ds_tensor_numel(y) * sizeof(float)) != 0);
    /* The stream continues: the next mask differs from the first. */
    DS_CHECK_OK(ctx, ds_dropout3d_forward(ctx, &other, x, y2, 1, &rng));
    DS_CHECK(memcmp(y->data, y2->data, (size_t)ds_tensor_numel(y) * sizeof(float)) != 0);
    DS_CHECK(rng.counter == 40000);

    /* Evaluation: identity, no draws; backward of it passes dy through. */
    const uint64_t before = rng.counter;
    DS_CHECK_OK(ctx, ds_dropout3d_forward(ctx, &other, x, y2, 0, &rng));
    DS_CHECK(memcmp(x->data, y2->data, (size_t)ds_tensor_numel(x) * sizeof(float)) == 0);
    DS_CHECK(rng.counter == before);
    DS_CHECK_OK(ctx, ds_dropout3d_forward(ctx, &other, x, y2, 0, NULL)); /* no stream needed */
    ds_tensor_fill(y2, 1.0f);
    DS_CHECK_OK(ctx, ds_dropout3d_backward(ctx, &other, x, y2));
    DS_CHECK(y2->data[0] == 1.0f + x->data[0] && y2->data[59999] == 1.0f + x->data[59999]);

    /* p = 0 in training: identity, no draws. */
    ds_dropout3d none;
    DS_CHECK_OK(ctx, ds_dropout3d_init(ctx, &none, 0.0f));
    DS_CHECK_OK(ctx, ds_dropout3d_forward(ctx, &none, x, y2, 1, &rng));
    DS_CHECK(memcmp(x->data, y2->data, (size_t)ds_tensor_numel(x) * sizeof(float)) == 0);
    DS_CHECK(rng.counter == before);

    /* In place gives the same as out of place. */
    ds_rng_init(&again, 42, DS_RNG_DROPOUT_A);
    DS_CHECK_OK(ctx, ds_tensor_copy(ctx, y2, x));
    DS_CHECK_OK(ctx, ds_dropout3d_forward(ctx, &other, y2, y2, 1, &again));
    DS_CHECK(memcmp(y->data, y2->data, (size_t)ds_tensor_numel(y) * sizeof(float)) == 0);

    ds_dropout3d_free(&drop);
    ds_dropout3d_free(&other);
    ds_dropout3d_free(&none);
    ds_tensor_free(x);
    ds_tensor_free(y);
    ds_tensor_free(y2);
}

/* Backward with the forward's mask, against finite differences (adds into dx). */
static void check_backward(ds_ctx *ctx)
{
    enum { N = 2, C = 5, D = 3, H = 5, W = 3, NUMEL = N * C * D * H * W };
    ds_dropout3d drop;
    DS_CHECK_OK(ctx, ds_dropout3d_init(ctx, &drop, 0.5f));
    ds_tensor *x = NULL, *y = NULL, *dy = NULL, *dx = NULL, *dx0 = NULL;
    DS_CHECK_OK(ctx, ds_tensor_create(ctx, &x, N, C, D, H, W));
    DS_CHECK_OK(ctx, ds_tensor_create(ctx, &y, N, C, D, H, W));
    DS_CHECK_OK(ctx, ds_tensor_create(ctx, &dy, N, C, D, H, W));
    DS_CHECK_OK(ctx, ds_tensor_create(ctx, &dx, N, C, D, H, W));
    ds_rng data, rng;
    ds_rng_init(&data, 2, DS_RNG_TEST);
    ds_rng_init(&rng, 7, DS_RNG_DROPOUT_B);
    lt_fill_normal(&data, x->data, NUMEL, 0.0f, 1.0f);
    lt_fill_normal(&data, dy->data, NUMEL, 0.0f, 1.0f);
    lt_fill_uniform(&data, dx->data, NUMEL, -1.0f, 1.0f);
    DS_CHECK_OK(ctx, ds_tensor_clone(ctx, &dx0, dx));
    DS_CHECK_OK(ctx, ds_dropout3d_forward(ctx, &drop, x, y, 1, &rng));
    int64_t dropped = 0;
    DS_CHECK(channels_ok(x, y, 0.5f, &dropped));
    DS_CHECK(dropped > 0 && dropped < N * C); /* this seed drops some, keeps some */
    /* a later draw must not change what backward uses */
    ds_rng_u32(&rng);
    static double xd[NUMEL], wd[NUMEL], g[NUMEL];
    double scale[N * C];
    lt_to_double(x->data, xd, NUMEL);
    lt_to_double(dy->data, wd, NUMEL);
    for (int k = 0; k < N * C; ++k)
        scale[k] = y->data[k * D * H * W] == 0.0f ? 0.0 : 2.0;
    ref_state s = {NUMEL, xd, scale, wd, D * H * W};
    for (int i = 0; i < NUMEL; ++i)
        g[i] = lt_central_diff(ref_loss, &s, &xd[i], 1e-5);
    DS_CHECK_OK(ctx, ds_dropout3d_backward(ctx, &drop, dy, dx));
    const double e = lt_rel_error_added(dx->data, dx0->data, g, NUMEL);
    printf("dropout backward rel error vs finite differences %.2g\n", e);
    DS_CHECK_MSG(e < 1e-6, "dropout backward rel error %.3g", e);
    ds_dropout3d_free(&drop);
    ds_tensor_free(x);
    ds_tensor_free(y);
    ds_tensor_free(dy);
    ds_tensor_free(dx);
    ds_tensor_free(dx0);
}

/* A tensor large enough to run in parallel: identical results for 1 and 2 threads. */
static void check_threads(ds_ctx *ctx)
{
    ds_tensor *x = NULL, *y[2] = {NULL, NULL}, *dx[2] = {NULL, NULL};
    DS_CHECK_OK(ctx, ds_tensor_create(ctx, &x, 2, 8, 9, 17, 19));
    const int64_t n = ds_tensor_numel(x);
    ds_rng data;
    ds_rng_init(&data, 3, DS_RNG_TEST);
    lt_fill_normal(&data, x->data, n, 0.0f, 1.0f);
    for (int t = 0; t < 2; ++t) {
        DS_CHECK_OK(ctx, ds_threads_set(ctx, t + 1));
        ds_dropout3d drop;
        ds_rng rng;
        ds_rng_init(&rng, 99, DS_RNG_DROPOUT_A);
        DS_CHECK_OK(ctx, ds_dropout3d_init(ctx, &drop, 0.5f));
        DS_CHECK_OK(ctx, ds_tensor_create_like(ctx, &y[t], x));
        DS_CHECK_OK(ctx, ds_tensor_zeros(ctx, &dx[t], 2, 8, 9, 17, 19));
        DS_CHECK_OK(ctx, ds_dropout3d_forward(ctx, &drop, x, y[t], 1, &rng));
        DS_CHECK_OK(ctx, ds_dropout3d_backward(ctx, &drop, x, dx[t]));
        ds_dropout3d_free(&drop);
    }
    DS_CHECK(memcmp(y[0]->data, y[1]->data, (size_t)n * sizeof(float)) == 0);
    DS_CHECK(memcmp(dx[0]->data, dx[1]->data, (size_t)n * sizeof(float)) == 0);
    int same_mask = 1; /* == rather than memcmp: 0 + (-0) is +0 */
    for (int64_t i = 0; i < n; ++i)
        same_mask &= dx[0]->data[i] == y[0]->data[i];
    DS_CHECK(same_mask);
    DS_CHECK_OK(ctx, ds_threads_set(ctx, 0));
    for (int t = 0; t < 2; ++t) {
        ds_tensor_free(y[t]);
        ds_tensor_free(dx[t]);
    }
    ds_tensor_free(x);
}

static void check_bad_input(ds_ctx *ctx)
{
    ds_dropout3d drop;
    DS_CHECK_FAILS(ctx, ds_dropout3d_init(ctx, &drop, -0.1f), DS_ERR_ARG);
    DS_CHECK(strstr(ds_ctx_message(ctx), "[0, 1)") != NULL);
    DS_CHECK_FAILS(ctx, ds_dropout3d_init(ctx, &drop, 1.0f), DS_ERR_ARG);
    DS_CHECK_FAILS(ctx, ds_dropout3d_init(ctx, &drop, NAN), DS_ERR_ARG);
    DS_CHECK_FAILS(ctx, ds_dropout3d_init(ctx, NULL, 0.5f), DS_ERR_ARG);
    DS_CHECK_OK(ctx, ds_dropout3d_init(ctx, &drop, 0.5f));
    ds_tensor *a = NULL, *b = NULL, *c = NULL;
    DS_CHECK_OK(ctx, ds_tensor_zeros(ctx, &a, 2, 3, 2, 2, 2));
    DS_CHECK_OK(ctx, ds_tensor_zeros(ctx, &b, 2, 3, 2, 2, 2));
    DS_CHECK_OK(ctx, ds_tensor_zeros(ctx, &c, 3, 2, 2, 2, 2));
    ds_rng rng;
    ds_rng_init(&rng, 1, DS_RNG_DROPOUT_A);
    DS_CHECK_FAILS(ctx, ds_dropout3d_backward(ctx, &drop, a, b), DS_ERR_ARG); /* no forward */
    DS_CHECK_FAILS(ctx, ds_dropout3d_forward(ctx, &drop, a, b, 1, NULL), DS_ERR_ARG);
    DS_CHECK_FAILS(ctx, ds_dropout3d_forward(ctx, &drop, a, c, 1, &rng), DS_ERR_SHAPE);
    DS_CHECK_FAILS(ctx, ds_dropout3d_forward(ctx, &drop, NULL, c, 1, &rng), DS_ERR_ARG);
    DS_CHECK_FAILS(ctx, ds_dropout3d_forward(ctx, NULL, a, b, 1, &rng), DS_ERR_ARG);
    DS_CHECK_OK(ctx, ds_dropout3d_forward(ctx, &drop, a, b, 1, &rng));
    DS_CHECK_FAILS(ctx, ds_dropout3d_backward(ctx, &drop, c, c), DS_ERR_SHAPE);
    DS_CHECK_FAILS(ctx, ds_dropout3d_backward(ctx, &drop, a, c), DS_ERR_SHAPE);
    DS_CHECK_FAILS(ctx, ds_dropout3d_backward(ctx, &drop, a, NULL), DS_ERR_ARG);
    drop.p = 1.0f; /* changed behind the API's back */
    DS_CHECK_FAILS(ctx, ds_dropout3d_forward(ctx, &drop, a, b, 1, &rng), DS_ERR_ARG);
    ds_dropout3d_free(&drop);
    ds_dropout3d_free(&drop);
    ds_tensor_free(a);
    ds_tensor_free(b);
    ds_tensor_free(c);
}

int main(void)
{
    ds_ctx *ctx = NULL;
    if (ds_ctx_create(&ctx) != DS_OK)
        return 1;
    check_semantics(ctx);
    check_backward(ctx);
    check_threads(ctx);
    check_bad_input(ctx);
    ds_ctx_free(ctx);
    return ds_test_finish("test_dropout");
}
