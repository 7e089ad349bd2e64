/* ds_paired.h - a paired comparison of two methods over the same cases (method B against method
 * A, e.g. the per-case Dice of two training runs): the mean of the differences d = b - a, its
 * standard error, and the two-sided Wilcoxon signed-rank p-value, exactly as scipy 1.10's
 * scipy.stats.wilcoxon(b, a) computes it with its defaults (zero_method "wilcox",
 * correction False, method "auto"):
 *   - exact, when n <= 50 and no difference is 0: the null distribution of R+ by counting
 *     (every count below 2^50 is exact in a double); ties get average ranks and R+ is truncated
 *     to an integer before the look-up, as scipy does (int(r_plus));
 *   - normal approximation otherwise: zero differences dropped, average ranks for ties, the
 *     variance reduced by sum(t^3 - t) / 48 over tie groups, no continuity correction,
 *     z = (T - m(m+1)/4) / sd, p = 2 * P(Z > |z|) over the m non-zero differences.
 * The statistic is T = min(R+, R-) in both modes.
 */
#ifndef DS_PAIRED_H
#define DS_PAIRED_H

#include "ds_status.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Largest number of pairs accepted (the ranks are sorted in memory). */
#define DS_PAIRED_MAX 1000000

typedef enum ds_wilcoxon_method {
    DS_WILCOXON_NONE = 0, /* every difference is 0: no test (scipy raises), p is NaN */
    DS_WILCOXON_EXACT,
    DS_WILCOXON_APPROX
} ds_wilcoxon_method;

typedef struct ds_paired_result {
    int n;                     /* pairs */
    int nonzero;               /* pairs whose difference is not 0 */
    double mean_diff;          /* mean of b - a */
    double se_diff;            /* sample standard deviation (n - 1) / sqrt(n); NaN for n < 2 */
    double statistic;          /* T = min(R+, R-) */
    double z;                  /* the normal deviate (approximation only; NaN otherwise) */
    double p_value;            /* two-sided */
    ds_wilcoxon_method method;
} ds_paired_result;

/* "exact", "normal approximation", "none". Never NULL. */
const char *ds_wilcoxon_method_name(ds_wilcoxon_method m);

/* Compares b against a over n >= 1 pairs (every value finite: DS_ERR_ARG otherwise, naming the
 * index). out is zeroed first. */
ds_status ds_paired_compare(ds_ctx *ctx, const double *a, const double *b, int n,
                            ds_paired_result *out);

#ifdef __cplusplus
}
#endif

#endif /* DS_PAIRED_H */
