/* paired.c - mean difference, its standard error and the Wilcoxon signed-rank test, as scipy
 * 1.10's defaults compute them (ds_paired.h). */
#include "ds_paired.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* scipy's "auto" takes the exact distribution up to this many pairs. */
#define EXACT_MAX 50

const char *ds_wilcoxon_method_name(ds_wilcoxon_method m)
{
    return m == DS_WILCOXON_EXACT    ? "exact"
           : m == DS_WILCOXON_APPROX ? "normal approximation"
                                     : "none";
}

static int by_value(const void *x, const void *y)
{
    const double a = *(const double *)x, b = *(const double *)y;
    return a < b ? -1 : a > b;
}

/* Average ranks of |d| (rankdata's "average") folded into R+ and R-, and sum(t^3 - t) over the
 * groups of ties. abs_sorted holds |d| sorted; d the signed values in any order. */
static void rank_sums(const double *d, int m, const double *abs_sorted, double *r_plus,
                      double *r_minus, double *ties)
{
    *r_plus = *r_minus = *ties = 0.0;
    for (int i = 0; i < m; ++i) {
        const double v = fabs(d[i]);
        int lo = 0, hi = m; /* first index with abs_sorted >= v, then first > v */
        while (lo < hi) {
            const int mid = (lo + hi) / 2;
            if (abs_sorted[mid] < v)
                lo = mid + 1;
            else
                hi = mid;
        }
        int end = lo;
        while (end < m && abs_sorted[end] == v)
            ++end;
        const double rank = 0.5 * (double)(lo + 1 + end);
        *(d[i] > 0 ? r_plus : r_minus) += rank;
    }
    for (int i = 0; i < m;) {
        int j = i;
        while (j < m && abs_sorted[j] == abs_sorted[i])
            ++j;
        const double t = (double)(j - i);
        *ties += t * t * t - t;
        i = j;
    }
}

/* scipy's exact two-sided p-value of R+ = r over n pairs: counts of each R+ by dynamic
 * programming over the ranks 1..n. */
static double exact_p(int n, int r, double *counts)
{
    const int top = n * (n + 1) / 2;
    memset(counts, 0, sizeof *counts * (size_t)(top + 1));
    counts[0] = 1.0;
    for (int k = 1; k <= n; ++k)
        for (int s = k * (k + 1) / 2; s >= k; --s)
            counts[s] += counts[s - k];
    if (r == top / 2)
        return 1.0;
    double less = 0.0, greater = 0.0;
    for (int s = 0; s <= top; ++s) {
        less += s <= r ? counts[s] : 0.0;
        greater += s >= r ? counts[s] : 0.0;
    }
    const double p = 2.0 * fmin(less, greater) / ldexp(1.0, n);
    return p > 1.0 ? 1.0 : p;
}

static void mean_and_se(const double *d, int n, ds_paired_result *out)
{
    double sum = 0.0, ss = 0.0;
    for (int i = 0; i < n; ++i)
        sum += d[i];
    out->mean_diff = sum / n;
    for (int i = 0; i < n; ++i)
        ss += (d[i] - out->mean_diff) * (d[i] - out->mean_diff);
    out->se_diff = n > 1 ? sqrt(ss / (n - 1)) / sqrt((double)n) : NAN;
}

ds_status ds_paired_compare(ds_ctx *ctx, const double *a, const double *b, int n,
                            ds_paired_result *out)
{
    if (!out || !a || !b || n < 1 || n > DS_PAIRED_MAX)
        return ds_fail(ctx, DS_ERR_ARG, "ds_paired_compare: %s",
                       !out || !a || !b ? "null argument" : "n must be 1..1000000");
    memset(out, 0, sizeof *out);
    for (int i = 0; i < n; ++i)
        if (!isfinite(a[i]) || !isfinite(b[i]))
            return ds_fail(ctx, DS_ERR_ARG, "ds_paired_compare: pair %d is not finite", i);
    const int top = n * (n + 1) / 2;
    double *d = malloc(sizeof *d * (size_t)n), *abs_sorted = malloc(sizeof *d * (size_t)n);
    double *counts = n <= EXACT_MAX ? malloc(sizeof *counts * (size_t)(top + 1)) : NULL;
    if (!d || !abs_sorted || (n <= EXACT_MAX && !counts)) {
        free(d);
        free(abs_sorted);
        free(counts);
        return ds_fail(ctx, DS_ERR_NOMEM, "ds_paired_compare: out of memory (%d pairs)", n);
    }
    out->n = n;
    for (int i = 0; i < n; ++i)
        d[i] = b[i] - a[i];
    mean_and_se(d, n, out);
    int m = 0; /* the non-zero differences, kept in front */
    for (int i = 0; i < n; ++i)
        if (d[i] != 0.0)
            d[m++] = d[i];
    out->nonzero = m;
    out->z = out->p_value = out->statistic = NAN;
    if (m > 0) {
        for (int i = 0; i < m; ++i)
            abs_sorted[i] = fabs(d[i]);
        qsort(abs_sorted, (size_t)m, sizeof *abs_sorted, by_value);
        double r_plus, r_minus, ties;
        rank_sums(d, m, abs_sorted, &r_plus, &r_minus, &ties);
        out->statistic = fmin(r_plus, r_minus);
        if (n <= EXACT_MAX && m == n) {
            out->method = DS_WILCOXON_EXACT;
            out->p_value = exact_p(n, (int)r_plus, counts);
        } else {
            const double mm = (double)m, mean = mm * (mm + 1.0) * 0.25;
            const double sd = sqrt((mm * (mm + 1.0) * (2.0 * mm + 1.0) - 0.5 * ties) / 24.0);
            out->method = DS_WILCOXON_APPROX;
            out->z = (out->statistic - mean) / sd;
            out->p_value = erfc(fabs(out->z) / sqrt(2.0));
        }
    }
    free(d);
    free(abs_sorted);
    free(counts);
    return DS_OK;
}
