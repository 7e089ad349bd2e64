/* test_init.c - Kaiming-normal and default-bias initialisation (ds_init.h).
 *
 * Reference: the distributions PyTorch documents for torch.nn.init.kaiming_normal_ (defaults:
 * N(0, 2 / fan_in)) and for Conv3d's default bias (U(-1/sqrt(fan_in), 1/sqrt(fan_in))), checked
 * with sample statistics over n = 2^20 draws. Tolerances are 5 standard errors of each statistic
 * (for a correct sampler a false failure has probability below 1e-6 per check; the seed is fixed,
 * so the test is deterministic):
 *   mean:            se = sigma / sqrt(n)
 *   std:             se = sigma / sqrt(2 (n - 1))                  (normal samples)
 *   P(|x| < sigma):  se = sqrt(q (1 - q) / n), q = 0.682689        (checks the shape, not only moments)
 *   uniform mean:    se = (b / sqrt(3)) / sqrt(n); uniform variance b^2 / 3 with
 *                    se = sqrt((m4 - sigma^4) / n) = sqrt((b^4/5 - b^4/9) / n).
 */
#include "ds_init.h"
#include "ds_threads.h"
#include "ds_test.h"

#include <string.h>

enum { NUM = 1 << 20 };

static void check_kaiming(ds_ctx *ctx)
{
    ds_param w;
    DS_CHECK_OK(ctx, ds_param_init(ctx, &w, "conv.weight", NUM));
    ds_rng rng;
    ds_rng_init(&rng, 2024, DS_RNG_INIT_A);
    const int64_t fan_in = 16 * 27; /* Conv3d(16, ., k = 3) */
    DS_CHECK_OK(ctx, ds_init_kaiming_normal(ctx, &w, fan_in, &rng));
    const double sigma = sqrt(2.0 / (double)fan_in);
    double sum = 0.0;
    for (int i = 0; i < NUM; ++i)
        sum += w.value[i];
    const double mean = sum / NUM;
    double sq = 0.0;
    int64_t within = 0;
    for (int i = 0; i < NUM; ++i) {
        sq += (w.value[i] - mean) * (w.value[i] - mean);
        within += fabs(w.value[i]) < sigma;
    }
    const double std = sqrt(sq / (NUM - 1));
    const double q = 0.682689492137086, frac = (double)within / NUM;
    const double tol_mean = 5.0 * sigma / sqrt((double)NUM);
    const double tol_std = 5.0 * sigma / sqrt(2.0 * (NUM - 1));
    const double tol_frac = 5.0 * sqrt(q * (1.0 - q) / NUM);
    printf("kaiming: mean %.3g (tol %.3g), std %.6f vs %.6f (tol %.3g), P(|x|<sigma) %.5f vs %.5f "
           "(tol %.3g)\n", mean, tol_mean, std, sigma, tol_std, frac, q, tol_frac);
    DS_CHECK(fabs(mean) < tol_mean);
    DS_CHECK(fabs(std - sigma) < tol_std);
    DS_CHECK(fabs(frac - q) < tol_frac);
    DS_CHECK(rng.counter == 2u * NUM);

    /* Same seed: same weights, for 1 and 2 threads. */
    ds_param w2;
    DS_CHECK_OK(ctx, ds_param_init(ctx, &w2, "conv.weight", NUM));
    DS_CHECK_OK(ctx, ds_threads_set(ctx, 1));
    ds_rng_init(&rng, 2024, DS_RNG_INIT_A);
    DS_CHECK_OK(ctx, ds_init_kaiming_normal(ctx, &w2, fan_in, &rng));
    DS_CHECK(memcmp(w.value, w2.value, NUM * sizeof(float)) == 0);
    DS_CHECK_OK(ctx, ds_threads_set(ctx, 0));

    DS_CHECK_FAILS(ctx, ds_init_kaiming_normal(ctx, &w, 0, &rng), DS_ERR_ARG);
    DS_CHECK_FAILS(ctx, ds_init_kaiming_normal(ctx, &w, 27, NULL), DS_ERR_ARG);
    DS_CHECK_FAILS(ctx, ds_init_kaiming_normal(ctx, NULL, 27, &rng), DS_ERR_ARG);
    ds_param_free(&w);
    ds_param_free(&w2);
}

static void check_bias_and_constant(ds_ctx *ctx)
{
    ds_param b;
    DS_CHECK_OK(ctx, ds_param_init(ctx, &b, "conv.bias", NUM));
    ds_rng rng;
    ds_rng_init(&rng, 7, DS_RNG_INIT_B);
    const int64_t fan_in = 32 * 8; /* Conv3d(32, ., k = 2) */
    DS_CHECK_OK(ctx, ds_init_uniform_bias(ctx, &b, fan_in, &rng));
    const double bound = 1.0 / sqrt((double)fan_in);
    double sum = 0.0, lo = 1.0, hi = -1.0;
    for (int i = 0; i < NUM; ++i) {
        sum += b.value[i];
        lo = fmin(lo, b.value[i]);
        hi = fmax(hi, b.value[i]);
    }
    const double mean = sum / NUM;
    double sq = 0.0;
    for (int i = 0; i < NUM; ++i)
        sq += (b.value[i] - mean) * (b.value[i] - mean);
    const double var = sq / (NUM - 1), want_var = bound * bound / 3.0;
    const double b4 = bound * bound * bound * bound;
    const double tol_mean = 5.0 * sqrt(want_var / NUM);
    const double tol_var = 5.0 * sqrt((b4 / 5.0 - b4 / 9.0) / NUM);
    printf("uniform bias: range [%.5f, %.5f] in [-%.5f, %.5f], mean %.3g (tol %.3g), var %.4g vs "
           "%.4g (tol %.3g)\n", lo, hi, bound, bound, mean, tol_mean, var, want_var, tol_var);
    DS_CHECK(lo >= -bound && hi <= bound);
    DS_CHECK(lo < -0.999 * bound && hi > 0.999 * bound); /* the whole range is used */
    DS_CHECK(fabs(mean) < tol_mean);
    DS_CHECK(fabs(var - want_var) < tol_var);
    DS_CHECK_FAILS(ctx, ds_init_uniform_bias(ctx, &b, -1, &rng), DS_ERR_ARG);
    DS_CHECK_FAILS(ctx, ds_init_uniform_bias(ctx, &b, 4, NULL), DS_ERR_ARG);

    ds_init_constant(&b, 1.0f);
    DS_CHECK(b.value[0] == 1.0f && b.value[NUM - 1] == 1.0f);
    ds_init_constant(&b, 0.0f);
    DS_CHECK(b.value[0] == 0.0f && b.value[NUM / 2] == 0.0f);
    ds_init_constant(NULL, 1.0f); /* no effect, no crash */
    ds_param_free(&b);
    ds_init_constant(&b, 1.0f);
}

int main(void)
{
    ds_ctx *ctx = NULL;
    if (ds_ctx_create(&ctx) != DS_OK)
        return 1;
    check_kaiming(ctx);
    check_bias_and_constant(ctx);
    ds_ctx_free(ctx);
    return ds_test_finish("test_init");
}
