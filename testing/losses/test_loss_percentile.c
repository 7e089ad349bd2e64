/* test_loss_percentile - the entropy threshold's percentile (core/losses/percentile.c, private)
 * equals numpy.percentile (default 'linear') on the same data: ties, n = 1 and 2, P = 0 and 100,
 * sorted, reversed and constant inputs. Reference: percentile_fixtures.bin (numpy, written by
 * make_loss_fixtures.py). Also: selection only reorders its input, and a large tie-heavy input
 * (the shape of saturated entropies) is handled (a quadratic partitioning of its ties would run
 * for hours and hit the test's time limit; no time is asserted). */
#include <stdlib.h>
#include <string.h>

#include "ds_fixture.h"
#include "ds_test.h"
#include "loss_internal.h"

static int cmp_float(const void *a, const void *b)
{
    const float x = *(const float *)a, y = *(const float *)b;
    return (x > y) - (x < y);
}

static void check_set(const ds_fixture *fx, const char *name)
{
    char key[64];
    snprintf(key, sizeof key, "%s.values", name);
    const ds_fixture_array *vals = ds_fixture_get(fx, key);
    snprintf(key, sizeof key, "%s.want", name);
    const ds_fixture_array *want = ds_fixture_get(fx, key);
    const ds_fixture_array *ps = ds_fixture_get(fx, "percents");
    if (!vals || !want || !ps) {
        DS_CHECK_MSG(0, "set %s missing", name);
        return;
    }
    const int64_t n = (int64_t)vals->numel;
    float *x = malloc((size_t)n * sizeof *x), *sorted = malloc((size_t)n * sizeof *x);
    for (size_t j = 0; j < ps->numel; ++j) {
        ds_fixture_to_float(vals, x);
        const double got = loss_percentile(x, n, ps->data[j]);
        /* numpy's arithmetic reproduced in double: equal to rounding of the last operation */
        DS_CHECK_MSG(fabs(got - want->data[j]) <= 1e-12 * fmax(1.0, fabs(want->data[j])),
                     "%s P=%g: %.17g vs numpy %.17g", name, ps->data[j], got, want->data[j]);
        ds_fixture_to_float(vals, sorted);
        qsort(sorted, (size_t)n, sizeof *sorted, cmp_float);
        qsort(x, (size_t)n, sizeof *x, cmp_float);
        DS_CHECK(memcmp(x, sorted, (size_t)n * sizeof *x) == 0); /* a permutation of the input */
    }
    free(x);
    free(sorted);
}

/* Two million values of which 90 % are exactly 0 (confident voxels): selection must stay linear. */
static void test_large_ties(void)
{
    const int64_t n = 2000000;
    float *x = malloc((size_t)n * sizeof *x);
    for (int64_t i = 0; i < n; ++i)
        x[i] = i % 10 == 0 ? (float)(i % 997) / 997.0f : 0.0f;
    const double p80 = loss_percentile(x, n, 80.0);
    const double p95 = loss_percentile(x, n, 95.0);
    DS_CHECK(p80 == 0.0);
    DS_CHECK(p95 > 0.0 && p95 < 1.0);
    free(x);
}

int main(void)
{
    ds_fixture *fx = ds_fixture_load(DS_TESTING_DIR "/losses/percentile_fixtures.bin");
    DS_CHECK(fx != NULL);
    static const char *const sets[] = {"random", "ties",   "zeros_and_some", "one",
                                       "two",    "sorted", "reversed",       "constant"};
    for (size_t i = 0; fx && i < sizeof sets / sizeof *sets; ++i)
        check_set(fx, sets[i]);
    test_large_ties();
    ds_fixture_free(fx);
    return ds_test_finish("test_loss_percentile");
}
