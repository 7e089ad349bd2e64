/* layer_test_util.h - helpers shared by the layer tests: random fills from DualSeg's own RNG
 * stream (DS_RNG_TEST), central finite differences in double, array comparisons. */
#ifndef DS_LAYER_TEST_UTIL_H
#define DS_LAYER_TEST_UTIL_H

#include <math.h>
#include <stdint.h>

#include "ds_rng.h"
#include "ds_tensor.h"

/* Uniform values in [lo, hi). */
static inline void lt_fill_uniform(ds_rng *rng, float *v, int64_t n, float lo, float hi)
{
    for (int64_t i = 0; i < n; ++i)
        v[i] = lo + (hi - lo) * ds_rng_uniform(rng);
}

static inline void lt_fill_normal(ds_rng *rng, float *v, int64_t n, float mean, float std)
{
    for (int64_t i = 0; i < n; ++i)
        v[i] = mean + std * ds_rng_normal(rng);
}

static inline void lt_to_double(const float *f, double *d, int64_t n)
{
    for (int64_t i = 0; i < n; ++i)
        d[i] = (double)f[i];
}

/* max |got - want| / max |want|: the relative error of a whole array (as ds_fixture_rel_error). */
static inline double lt_rel_error(const float *got, const double *want, int64_t n)
{
    double max_ref = 0.0, max_diff = 0.0;
    for (int64_t i = 0; i < n; ++i) {
        max_ref = fmax(max_ref, fabs(want[i]));
        const double diff = fabs((double)got[i] - want[i]);
        max_diff = isnan(diff) ? INFINITY : fmax(max_diff, diff);
    }
    return max_diff / fmax(max_ref, 1e-30);
}

/* Same, for the increment got - base (what a backward that ADDS contributed). */
static inline double lt_rel_error_added(const float *got, const float *base, const double *want,
                                        int64_t n)
{
    double max_ref = 0.0, max_diff = 0.0;
    for (int64_t i = 0; i < n; ++i) {
        max_ref = fmax(max_ref, fabs(want[i]));
        const double diff = fabs(((double)got[i] - (double)base[i]) - want[i]);
        max_diff = isnan(diff) ? INFINITY : fmax(max_diff, diff);
    }
    return max_diff / fmax(max_ref, 1e-30);
}

/* Central difference d loss / d (*v) with step h, in double; restores *v. */
typedef double (*lt_loss_fn)(const void *state);
static inline double lt_central_diff(lt_loss_fn loss, const void *state, double *v, double h)
{
    const double orig = *v;
    *v = orig + h;
    const double lp = loss(state);
    *v = orig - h;
    const double lm = loss(state);
    *v = orig;
    return (lp - lm) / (2.0 * h);
}

#endif /* DS_LAYER_TEST_UTIL_H */
