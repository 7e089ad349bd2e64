/* test_metrics_paired.c - the paired comparison (ds_paired.h) against numpy and
 * scipy.stats.wilcoxon (paired_fixture.h, written by make_paired_fixture.py): the mean
 * difference, its standard error, the statistic and the two-sided p-value in both of scipy's
 * modes (exact; normal approximation with zeros and ties), plus hand-derived cases and bad input. */
#include <math.h>

#include "ds_paired.h"
#include "ds_test.h"
#include "paired_fixture.h"

static void check_fixture(ds_ctx *ctx)
{
    for (size_t k = 0; k < sizeof paired_cases / sizeof *paired_cases; ++k) {
        const paired_case *c = &paired_cases[k];
        ds_paired_result r;
        DS_CHECK_OK(ctx, ds_paired_compare(ctx, c->a, c->b, c->n, &r));
        DS_CHECK_MSG(r.method == (c->exact ? DS_WILCOXON_EXACT : DS_WILCOXON_APPROX), "%s: %s",
                     c->name, ds_wilcoxon_method_name(r.method));
        DS_CHECK_CLOSE(r.mean_diff, c->mean_diff, 1e-12, 1e-15);
        if (isnan(c->se_diff))
            DS_CHECK_MSG(isnan(r.se_diff), "%s: se %g, want NaN", c->name, r.se_diff);
        else
            DS_CHECK_CLOSE(r.se_diff, c->se_diff, 1e-10, 0.0);
        DS_CHECK_MSG(r.statistic == c->statistic, "%s: T %g, want %g", c->name, r.statistic,
                     c->statistic);
        DS_CHECK_MSG(fabs(r.p_value - c->p_value) <= 1e-12 + 1e-9 * c->p_value,
                     "%s: p %.15g, want %.15g", c->name, r.p_value, c->p_value);
    }
}

/* By hand: n = 4, d = 1, 2, 3, -4: R+ = 6, R- = 4, T = 4; exact: the 16 subset sums of
 * {1, 2, 3, 4} (0 1 2 3 3 4 4 5 5 6 6 7 7 8 9 10) hold 11 <= 6 and 7 >= 6, so
 * p = 2 * 7 / 16 = 0.875. A zero difference switches to the approximation over the
 * non-zero ones: d = 0, 1, 2, -3 gives m = 3, T = 3, mean 3, so z = 0 and p = 1. */
static void check_hand(ds_ctx *ctx)
{
    const double a[4] = {0, 0, 0, 0}, b[4] = {1, 2, 3, -4}, c[4] = {0, 1, 2, -3};
    ds_paired_result r;
    DS_CHECK_OK(ctx, ds_paired_compare(ctx, a, b, 4, &r));
    DS_CHECK(r.method == DS_WILCOXON_EXACT && r.statistic == 4.0 && r.p_value == 0.875);
    DS_CHECK_CLOSE(r.mean_diff, 0.5, 0, 1e-15);
    DS_CHECK_OK(ctx, ds_paired_compare(ctx, a, c, 4, &r));
    DS_CHECK(r.method == DS_WILCOXON_APPROX && r.nonzero == 3 && r.statistic == 3.0);
    DS_CHECK(r.z == 0.0 && r.p_value == 1.0);
    DS_CHECK_OK(ctx, ds_paired_compare(ctx, a, a, 4, &r)); /* no difference at all */
    DS_CHECK(r.method == DS_WILCOXON_NONE && isnan(r.p_value) && r.mean_diff == 0.0);
}

static void check_errors(ds_ctx *ctx)
{
    const double a[2] = {0, 1}, bad[2] = {0, NAN};
    ds_paired_result r;
    DS_CHECK_FAILS(ctx, ds_paired_compare(ctx, a, bad, 2, &r), DS_ERR_ARG);
    DS_CHECK_FAILS(ctx, ds_paired_compare(ctx, a, a, 0, &r), DS_ERR_ARG);
    DS_CHECK_FAILS(ctx, ds_paired_compare(ctx, NULL, a, 2, &r), DS_ERR_ARG);
}

int main(void)
{
    ds_ctx *ctx = NULL;
    if (ds_ctx_create(&ctx) != DS_OK)
        return 1;
    check_fixture(ctx);
    check_hand(ctx);
    check_errors(ctx);
    ds_ctx_free(ctx);
    return ds_test_finish("test_metrics_paired");
}
