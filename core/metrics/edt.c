/* edt.c - exact Euclidean distance transform with anisotropic spacing (see ds_metrics.h).
 *
 * Separable: pass 1 along x gives the 1-D distance to the nearest feature voxel of each x-line
 * (two sweeps); passes 2 (y) and 3 (z) take, for each line, the lower envelope of the parabolas
 * f(q) + (w (p - q))^2 (Felzenszwalb and Huttenlocher, "Distance transforms of sampled functions",
 * Theory of Computing 8, 2012), which is exact and linear in the line length. Everything is in
 * double; each line is computed on its own, so the result does not depend on the thread count.
 */
#include "metrics_internal.h"

#include <math.h>
#include <stdlib.h>

#ifdef _OPENMP
#include <omp.h>
#endif

static int thread_index(void)
{
#ifdef _OPENMP
    return omp_get_thread_num();
#else
    return 0;
#endif
}

/* Pass 1 on one x-line: out[i] = (sx * |i - nearest feature|)^2, or +inf. */
static void line_x(const uint8_t *feat, uint8_t mask, int64_t n, double sx, double *out)
{
    int64_t last = -1;
    for (int64_t i = 0; i < n; ++i) {
        if (feat[i] & mask)
            last = i;
        out[i] = last >= 0 ? (double)(i - last) : INFINITY;
    }
    last = -1;
    for (int64_t i = n - 1; i >= 0; --i) {
        if (feat[i] & mask)
            last = i;
        if (last >= 0 && (double)(last - i) < out[i])
            out[i] = (double)(last - i);
        double d = out[i] * sx;
        out[i] = d * d; /* inf stays inf */
    }
}

/* Lower envelope of the parabolas f[q] + (w (p - q))^2 over the sites q with finite f; d[p] is its
 * value at p (+inf when no site is finite). The envelope's sites are v[0..k]; the parabolas of
 * v[i-1] and v[i] meet at zn[i] / zd[i] (zd > 0), kept as a fraction so that the comparisons need
 * no division (a division's latency would dominate the loop). v, zn and zd hold n entries each. */
static void envelope(const double *f, int64_t n, double w, double *d, int64_t *v, double *zn,
                     double *zd)
{
    const double w2 = w * w;
    int64_t k = -1;
    for (int64_t q = 0; q < n; ++q) {
        if (!isfinite(f[q]))
            continue;
        if (k < 0) {
            k = 0;
            v[0] = q;
            continue;
        }
        /* the parabolas of q and r meet at
         * s = (f[q] - f[r] + w2 (q^2 - r^2)) / (2 w2 (q - r)); pop r while s <= its left end */
        double num, den;
        for (;;) {
            const int64_t r = v[k];
            num = (f[q] - f[r]) + w2 * (double)((q - r) * (q + r));
            den = 2.0 * w2 * (double)(q - r);
            if (k > 0 && num * zd[k] <= zn[k] * den)
                --k;
            else
                break;
        }
        ++k;
        v[k] = q;
        zn[k] = num;
        zd[k] = den;
    }
    if (k < 0) {
        for (int64_t p = 0; p < n; ++p)
            d[p] = INFINITY;
        return;
    }
    int64_t j = 0;
    for (int64_t p = 0; p < n; ++p) {
        while (j < k && zn[j + 1] < (double)p * zd[j + 1])
            ++j;
        const double t = w * (double)(p - v[j]);
        d[p] = f[v[j]] + t * t;
    }
}

/* Lines handled together by passes 2 and 3: they are adjacent in x, so each row of BLOCK doubles
 * read or written along the line is one or two cache lines instead of BLOCK scattered ones. */
#define BLOCK 32

/* Scratch doubles per thread for lines of length n: BLOCK lines of f and d, then zn, zd (n each)
 * and v (n int64, the size of a double). */
static int64_t scratch_per_thread(int64_t n) { return 2 * BLOCK * n + 3 * n; }

/* Passes 2 and 3: the envelope along lines of length n and stride `stride`. The lines are
 * (x, o) for x in 0..nx-1 and o in 0..outer-1, starting at x + o * outer_stride. */
static void pass_strided(int threads, double *out, int64_t nx, int64_t outer, int64_t outer_stride,
                         int64_t n, int64_t stride, double w, double *scratch)
{
    const int64_t blocks_x = (nx + BLOCK - 1) / BLOCK, blocks = blocks_x * outer;
#pragma omp parallel num_threads(threads)
    {
        double *buf = scratch + (size_t)thread_index() * (size_t)scratch_per_thread(n);
        double *f = buf, *d = buf + BLOCK * n, *zn = buf + 2 * BLOCK * n, *zd = zn + n;
        int64_t *v = (int64_t *)(void *)(zd + n);
#pragma omp for schedule(static)
        for (int64_t blk = 0; blk < blocks; ++blk) {
            const int64_t x0 = (blk % blocks_x) * BLOCK, o = blk / blocks_x;
            const int64_t bw = nx - x0 < BLOCK ? nx - x0 : BLOCK;
            double *base = out + x0 + o * outer_stride;
            for (int64_t p = 0; p < n; ++p) {
                const double *row = base + p * stride;
                for (int64_t b = 0; b < bw; ++b)
                    f[b * n + p] = row[b];
            }
            for (int64_t b = 0; b < bw; ++b)
                envelope(f + b * n, n, w, d + b * n, v, zn, zd);
            for (int64_t p = 0; p < n; ++p) {
                double *row = base + p * stride;
                for (int64_t b = 0; b < bw; ++b)
                    row[b] = d[b * n + p];
            }
        }
    }
}

ds_status ds_metrics_edt_sq(int threads, const uint8_t *feature, uint8_t mask, int64_t nx,
                            int64_t ny, int64_t nz, const double spacing[3], double *out)
{
    if (threads < 1)
        threads = 1;
    const int64_t longest = ny > nz ? ny : nz;
    double *scratch = malloc((size_t)threads * (size_t)scratch_per_thread(longest) * sizeof(double));
    if (!scratch)
        return DS_ERR_NOMEM;

    const int64_t rows = ny * nz;
#pragma omp parallel for num_threads(threads) schedule(static)
    for (int64_t r = 0; r < rows; ++r)
        line_x(feature + r * nx, mask, nx, spacing[0], out + r * nx);

    if (ny > 1) /* lines (x, z): start x + z * nx * ny, stride nx */
        pass_strided(threads, out, nx, nz, nx * ny, ny, nx, spacing[1], scratch);
    if (nz > 1) /* lines (x, y): start x + y * nx, stride nx * ny */
        pass_strided(threads, out, nx, ny, nx, nz, nx * ny, spacing[2], scratch);
    free(scratch);
    return DS_OK;
}

ds_status ds_metrics_edt(ds_ctx *ctx, const uint8_t *feature, const int64_t size[3],
                         const double spacing[3], double *dist)
{
    int64_t voxels = 0;
    ds_status st = ds_metrics_check_grid(ctx, size, spacing, "ds_metrics_edt", &voxels);
    if (st != DS_OK)
        return st;
    if (!feature || !dist)
        return ds_fail(ctx, DS_ERR_ARG, "ds_metrics_edt: %s is NULL", !feature ? "feature" : "dist");
    const int threads = ds_ctx_threads(ctx);
    st = ds_metrics_edt_sq(threads, feature, 0xFF, size[0], size[1], size[2], spacing, dist);
    if (st != DS_OK)
        return ds_fail(ctx, st, "ds_metrics_edt: out of memory for the line buffers");
#pragma omp parallel for num_threads(threads) schedule(static)
    for (int64_t i = 0; i < voxels; ++i)
        dist[i] = sqrt(dist[i]);
    return DS_OK;
}
