/* percentile.c - numpy.percentile's default ('linear', Hyndman & Fan type 7) by selection.
 *
 * numpy 1.24: virtual index i = (n - 1) * (P / 100); below = floor(i), gamma = i - below;
 * result = lerp(sorted[below], sorted[below + 1], gamma), where lerp(a, b, t) is a + (b - a) t for
 * t < 0.5 and b - (b - a)(1 - t) otherwise; i >= n - 1 gives the largest value. We reproduce that
 * arithmetic exactly, in double. sorted[below] comes from a three-way quickselect (expected O(n),
 * and ties, common among saturated entropies, fall into the middle part at once), and
 * sorted[below + 1] is the smallest value to its right, which selection leaves >= it. */
#include "loss_internal.h"

#include <math.h>

static void swap_f(float *x, int64_t i, int64_t j)
{
    const float t = x[i];
    x[i] = x[j];
    x[j] = t;
}

static float median3(float a, float b, float c)
{
    if (a > b) {
        const float t = a;
        a = b;
        b = t;
    }
    return c <= a ? a : (c >= b ? b : c);
}

/* The k-th smallest of x[0..n) (0-based); afterwards x[k+1..n) >= it. */
static float select_kth(float *x, int64_t n, int64_t k)
{
    int64_t lo = 0, hi = n - 1;
    while (lo < hi) {
        const float pivot = median3(x[lo], x[lo + (hi - lo) / 2], x[hi]);
        int64_t lt = lo, i = lo, gt = hi;
        while (i <= gt) {
            if (x[i] < pivot)
                swap_f(x, lt++, i++);
            else if (x[i] > pivot)
                swap_f(x, i, gt--);
            else
                ++i;
        }
        /* [lo, lt) < pivot, [lt, gt] == pivot, (gt, hi] > pivot */
        if (k < lt)
            hi = lt - 1;
        else if (k > gt)
            lo = gt + 1;
        else
            return pivot;
    }
    return x[k];
}

double loss_percentile(float *values, int64_t n, double percent)
{
    const double virt = (double)(n - 1) * (percent / 100.0);
    if (virt >= (double)(n - 1))
        return select_kth(values, n, n - 1);
    const int64_t below = (int64_t)floor(virt);
    const double gamma = virt - (double)below;
    const double a = select_kth(values, n, below);
    float bmin = values[below + 1];
    for (int64_t i = below + 2; i < n; ++i)
        bmin = values[i] < bmin ? values[i] : bmin;
    const double b = bmin, diff = b - a;
    return gamma >= 0.5 ? b - diff * (1.0 - gamma) : a + diff * gamma;
}
