/* conv_core.c - tiled im2col / col2im lowering with OpenBLAS SGEMM (see conv_core.h).
 *
 * Forward:          y[co, cols]  = W[co, K] * col[K, cols]           (parallel over tiles)
 * Backward-weight:  dW[co, K]   += dy[co, cols] * col[K, cols]^T     (parallel over K rows)
 * Backward-data:    stride 1: a convolution of dy with the flipped, transposed kernel;
 *                   otherwise dcol[K, cols] = W^T * dy, scattered into dx (parallel over input
 *                   channels, so no two threads write the same dx voxel).
 * K = cin * k^3, rows (ci, kd, kh, kw) in that order: the weight's own layout. Each GEMM runs on
 * one thread inside our parallel region (the OpenMP build of OpenBLAS), so the total thread count
 * is ds_ctx_threads(ctx). A kernel-1, stride-1, unpadded convolution needs no lowering at all.
 */
#include "conv_core.h"

#include <cblas.h>
#include <inttypes.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conv_gemm.h"
#include "ds_conv.h"
#include "ds_tensor.h"

ds_status ds_conv_work_reserve(ds_ctx *ctx, float **buf, size_t *cap, size_t floats)
{
    if (floats <= *cap && *buf)
        return DS_OK;
    ds_aligned_free(*buf);
    *buf = NULL;
    *cap = 0;
    if (floats > ((size_t)1 << 36) / sizeof(float))
        return ds_fail(ctx, DS_ERR_NOMEM, "convolution: work buffer of %zu floats is absurd",
                       floats);
    *buf = ds_aligned_alloc(floats * sizeof(float));
    if (!*buf)
        return ds_fail(ctx, DS_ERR_NOMEM, "convolution: out of memory for a %zu-float work buffer",
                       floats);
    *cap = floats;
    return DS_OK;
}

void ds_conv_work_release(ds_conv_work *work)
{
    if (!work)
        return;
    ds_aligned_free(work->col);
    ds_aligned_free(work->wt);
    ds_aligned_free(work->part);
    ds_aligned_free(work->wpk);
    memset(work, 0, sizeof *work);
}

ds_status ds_conv_layer_init(ds_ctx *ctx, const char *kind, const char *prefix, int in_channels,
                             int out_channels, int kernel, int stride, int padding, int has_bias,
                             ds_param *weight, ds_param *bias, void **own_work)
{
    const char *pre = prefix ? prefix : "";
    if (in_channels < 1 || out_channels < 1 || in_channels > DS_CONV_MAX_CHANNELS ||
        out_channels > DS_CONV_MAX_CHANNELS)
        return ds_fail(ctx, DS_ERR_ARG, "%s %s: channels %d -> %d out of range 1..%d", kind, pre,
                       in_channels, out_channels, DS_CONV_MAX_CHANNELS);
    if (kernel < 1 || stride < 1 || padding < 0 || kernel > DS_CONV_MAX_KSP ||
        stride > DS_CONV_MAX_KSP || padding > DS_CONV_MAX_KSP)
        return ds_fail(ctx, DS_ERR_ARG,
                       "%s %s: kernel %d, stride %d, padding %d out of range (1..%d, 1..%d, 0..%d)",
                       kind, pre, kernel, stride, padding, DS_CONV_MAX_KSP, DS_CONV_MAX_KSP,
                       DS_CONV_MAX_KSP);
    char name[DS_PARAM_NAME_CAP];
    const int64_t k3 = (int64_t)kernel * kernel * kernel;
    snprintf(name, sizeof name, "%s%sweight", pre, pre[0] ? "." : "");
    ds_status st = ds_param_init(ctx, weight, name, (int64_t)in_channels * out_channels * k3);
    if (st == DS_OK && has_bias) {
        snprintf(name, sizeof name, "%s%sbias", pre, pre[0] ? "." : "");
        st = ds_param_init(ctx, bias, name, out_channels);
    }
    if (st == DS_OK && !(*own_work = calloc(1, sizeof(ds_conv_work))))
        st = ds_fail(ctx, DS_ERR_NOMEM, "%s %s: out of memory", kind, pre);
    if (st != DS_OK) {
        ds_conv_layer_free(weight, bias, *own_work);
        *own_work = NULL;
        return st;
    }
    memset(weight->value, 0, (size_t)weight->numel * sizeof(float));
    if (has_bias)
        memset(bias->value, 0, (size_t)bias->numel * sizeof(float));
    return DS_OK;
}

void ds_conv_layer_free(ds_param *weight, ds_param *bias, void *own_work)
{
    ds_param_free(weight);
    ds_param_free(bias);
    ds_conv_work_release(own_work);
    free(own_work);
}

const char *ds_conv_path_name(ds_conv_path path)
{
    switch (path) {
    case DS_CONV_PATH_NONE: return "none";
    case DS_CONV_PATH_DIRECT: return "direct";
    case DS_CONV_PATH_GEMM: return "gemm";
    case DS_CONV_PATH_GEMM_POINTWISE: return "gemm-pointwise";
    case DS_CONV_PATH_GEMM_SPLIT_K: return "gemm-split-k";
    case DS_CONV_PATH_GEMM_SCATTER: return "gemm-scatter";
    case DS_CONV_PATH_WINOGRAD: return "winograd";
    case DS_CONV_PATH_GEMM_FEW_VOXELS: return "gemm-few-voxels";
    }
    return "unknown";
}

static void report(ds_conv_path *path, ds_conv_path taken)
{
    if (path)
        *path = taken;
}

static int64_t min64(int64_t a, int64_t b) { return a < b ? a : b; }
static int64_t max64(int64_t a, int64_t b) { return a > b ? a : b; }
static int64_t round16(int64_t v) { return (v + 15) & ~(int64_t)15; }
static int64_t round_up(int64_t v, int64_t m) { return (v + m - 1) / m * m; }

int ds_conv_part_count(int64_t rows, int64_t limit)
{
    int64_t parts = min64(max64(rows / DS_CONV_PART_ROWS, DS_CONV_SPLIT), DS_CONV_PARTS);
    return (int)max64(min64(parts, limit), 1);
}

void ds_conv_add_partials_team(const float *part, int64_t runs, int64_t n, float *dst)
{
#pragma omp for schedule(static)
    for (int64_t i = 0; i < n; ++i) {
        float s = part[i];
        for (int64_t r = 1; r < runs; ++r)
            s += part[r * n + i];
        dst[i] += s;
    }
}

void ds_conv_add_partials(ds_ctx *ctx, const float *part, int64_t runs, int64_t n, float *dst)
{
#pragma omp parallel num_threads(ds_ctx_threads(ctx)) if (n > 4096)
    ds_conv_add_partials_team(part, runs, n, dst);
}

/* Output rows (od, oh) per tile: the lowered tile (kdim x rows*ow) stays within the budget, and
 * when min_tiles > 1 there are at least min_tiles tiles per sample, a multiple of min_tiles when
 * the rows allow it (balance between threads). */
static int64_t tile_rows_within(const ds_conv_geom *g, int64_t kdim, int min_tiles,
                                int64_t budget)
{
    int64_t rows = g->od * g->oh;
    int64_t rpt = budget / max64(1, kdim * g->ow);
    rpt = min64(max64(rpt, 1), rows);
    if (min_tiles > 1) {
        int64_t tiles = (rows + rpt - 1) / rpt;
        tiles = (tiles + min_tiles - 1) / min_tiles * min_tiles;
        tiles = min64(tiles, rows);
        rpt = (rows + tiles - 1) / tiles;
    }
    return rpt;
}

static int64_t tile_rows(const ds_conv_geom *g, int64_t kdim, int min_tiles)
{
    return tile_rows_within(g, kdim, min_tiles, DS_CONV_TILE_FLOATS);
}

static int is_pointwise(const ds_conv_geom *g) { return g->k == 1 && g->s == 1 && g->p == 0; }

/* Small output planes, many lowered rows (the deepest V-Net levels): per tile, SGEMM would pack
 * the whole weight again, so instead the K rows are cut into parts (DS_CONV_SPLIT to
 * DS_CONV_PARTS, as many as 4 tiles' worth of partial outputs hold), each lowered for the whole
 * sample and multiplied into its own partial output, and the partials are added in part order
 * (split-K): the weight and the lowered input are each packed once. */
static int use_split_k(const ds_conv_geom *g, int64_t kdim, int64_t P)
{
    return kdim >= 512 && kdim * P <= DS_CONV_SPLIT * DS_CONV_TILE_FLOATS &&
           g->cout * P <= DS_CONV_TILE_FLOATS;
}

static ds_status forward_split_k(ds_ctx *ctx, ds_conv_work *work, const ds_conv_geom *g,
                                 const float *x, const float *w, const float *bias, float beta,
                                 float *y)
{
    const int nt = ds_ctx_threads(ctx);
    const int64_t kdim = g->cin * g->k * g->k * g->k, rows = g->od * g->oh;
    const int64_t P = rows * g->ow, in_sample = g->cin * g->d * g->h * g->w;
    const int64_t pslot = round16(g->cout * P);
    const int want = ds_conv_part_count(kdim, DS_CONV_SPLIT * DS_CONV_TILE_FLOATS / pslot);
    const int64_t per = (kdim + want - 1) / want, slot = round16(per * P);
    const int parts = (int)((kdim + per - 1) / per);
    ds_status st = ds_conv_work_reserve(ctx, &work->col, &work->col_cap, (size_t)(slot * nt));
    if (st == DS_OK)
        st = ds_conv_work_reserve(ctx, &work->part, &work->part_cap, (size_t)(pslot * parts));
    if (st != DS_OK)
        return st;
    float *colbase = work->col, *part = work->part;
    for (int64_t ni = 0; ni < g->n; ++ni) {
        const float *xs = x + ni * in_sample;
        float *ys = y + ni * g->cout * P;
#pragma omp parallel for num_threads(nt) schedule(dynamic, 1)
        for (int j = 0; j < parts; ++j) {
            int64_t k0 = per * j, k1 = min64(kdim, k0 + per);
            float *col = colbase + (int64_t)omp_get_thread_num() * slot;
            ds_conv_im2col(g, xs, 0, rows, k0, k1, col, P);
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)g->cout, (int)P,
                        (int)(k1 - k0), 1.0f, w + k0, (int)kdim, col, (int)P, 0.0f,
                        part + j * pslot, (int)P);
        }
#pragma omp parallel for num_threads(nt) schedule(static)
        for (int64_t co = 0; co < g->cout; ++co) {
            float *row = ys + co * P;
            for (int64_t i = 0; i < P; ++i) {
                float s = part[co * P + i];
                for (int j = 1; j < parts; ++j)
                    s += part[j * pslot + co * P + i];
                row[i] = beta == 0.0f ? s + (bias ? bias[co] : 0.0f) : row[i] + s;
            }
        }
    }
    return DS_OK;
}

static int64_t round8(int64_t v) { return (v + 7) & ~(int64_t)7; }

/* Whether the lowered GEMM forward runs our kernel (conv_gemm.h) rather than OpenBLAS. */
static int use_our_gemm(const ds_conv_geom *g)
{
    return (g->algo == DS_CONV_ALGO_AUTO || g->algo == DS_CONV_ALGO_WINOGRAD) &&
           ds_conv_gemm_available();
}

/* n values of a product row into an output row: += when beta (1), else + bias. */
static void store_row(const float *src, float *dst, int64_t n, float bias, float beta)
{
    if (beta != 0.0f) {
        for (int64_t i = 0; i < n; ++i)
            dst[i] += src[i];
    } else {
        for (int64_t i = 0; i < n; ++i)
            dst[i] = src[i] + bias;
    }
}

/* Output rows [r0, r1) of sample x into ys (rows of the output planes P floats apart) through
 * our kernel: the lowered tile in col (kdim x ld, zero columns past the tile), the product after
 * it (cout x ld), then into ys (+= when beta, else + bias). */
static void gemm_tile_ours(const ds_conv_geom *g, const float *x, int64_t r0, int64_t r1,
                           const float *w, const float *bias, float beta, float *col, float *ys,
                           int64_t P)
{
    const int64_t kdim = g->cin * g->k * g->k * g->k, cols = (r1 - r0) * g->ow;
    const int64_t ld = round8(cols);
    float *c = col + round16(kdim * ld);
    ds_conv_im2col(g, x, r0, r1, 0, kdim, col, ld);
    for (int64_t kr = 0; kr < kdim && ld > cols; ++kr)
        memset(col + kr * ld + cols, 0, (size_t)(ld - cols) * sizeof(float));
    ds_conv_gemm(g->cout, ld, kdim, w, kdim, col, ld, c, ld);
    for (int64_t co = 0; co < g->cout; ++co)
        store_row(c + co * ld, ys + co * P, cols, bias ? bias[co] : 0.0f, beta);
}

int ds_conv_few_voxels_chosen(const ds_conv_geom *g)
{
    const int64_t kdim = g->cin * g->k * g->k * g->k, voxels = g->n * g->od * g->oh * g->ow;
    return use_our_gemm(g) && !is_pointwise(g) && kdim >= 256 && voxels <= DS_CONV_FEW_VOXELS;
}

/* Inside a parallel region (an orphaned loop, ending in a barrier): every sample's lowering side
 * by side, col (kdim x ld) with sample ni at column ni P, columns past n P zeroed. */
static void lower_batch_team(const ds_conv_geom *g, const float *x, float *col, int64_t ld)
{
    const int64_t kdim = g->cin * g->k * g->k * g->k, rows = g->od * g->oh;
    const int64_t P = rows * g->ow, N = g->n * P, in_sample = g->cin * g->d * g->h * g->w;
    const int64_t per = (kdim + DS_CONV_SPLIT - 1) / DS_CONV_SPLIT;
#pragma omp for schedule(static)
    for (int64_t u = 0; u < g->n * DS_CONV_SPLIT; ++u) {
        const int64_t ni = u / DS_CONV_SPLIT, k0 = per * (u % DS_CONV_SPLIT);
        const int64_t k1 = min64(kdim, k0 + per);
        if (k0 < k1)
            ds_conv_im2col(g, x + ni * in_sample, 0, rows, k0, k1, col + k0 * ld + ni * P, ld);
        for (int64_t kr = k0; kr < k1 && ni == g->n - 1; ++kr) /* columns past N: zeros */
            for (int64_t i = N; i < ld; ++i)
                col[kr * ld + i] = 0.0f;
    }
}

/* The lowered columns of every sample side by side (col: kdim x ld, sample ni at column ni P),
 * then C (cout x ld) = W col by our kernel, one run of rows a thread (each value summed over kdim
 * in order by one thread, so the same for every thread count), then C into y. */
static ds_status forward_few_voxels(ds_ctx *ctx, ds_conv_work *work, const ds_conv_geom *g,
                                    const float *x, const float *w, const float *bias, float beta,
                                    float *y)
{
    const int nt = ds_ctx_threads(ctx);
    const int64_t kdim = g->cin * g->k * g->k * g->k, rows = g->od * g->oh;
    const int64_t P = rows * g->ow, N = g->n * P, ld = round8(N);
    DS_TRY(ds_conv_work_reserve(ctx, &work->col, &work->col_cap,
                                (size_t)((kdim + g->cout) * ld)));
    float *col = work->col, *c = col + kdim * ld;
    /* One run of rows a thread: inside it the kernel keeps each block of columns of col in L2
     * for all its rows (blocks of 8 rows for each thread would read col from L3 cout / 8 times),
     * and the thread stores its rows into y as they are. The values do not depend on the split.
     * One region: the lowering, then (after its barrier) the products. */
    const int64_t rows_per = (g->cout + 8 * nt - 1) / (8 * nt) * 8;
#pragma omp parallel num_threads(nt)
    {
        lower_batch_team(g, x, col, ld);
#pragma omp for schedule(static)
        for (int t = 0; t < nt; ++t) {
            const int64_t r0 = t * rows_per, r1 = min64(g->cout, r0 + rows_per);
            if (r0 < r1)
                ds_conv_gemm(r1 - r0, ld, kdim, w + r0 * kdim, kdim, col, ld, c + r0 * ld, ld);
            for (int64_t co = r0; co < r1; ++co)
                for (int64_t ni = 0; ni < g->n; ++ni)
                    store_row(c + co * ld + ni * P, y + (ni * g->cout + co) * P, P,
                              bias ? bias[co] : 0.0f, beta);
        }
    }
    return DS_OK;
}

ds_status ds_conv_core_forward_epilogue(ds_ctx *ctx, ds_conv_work *work, const ds_conv_geom *g,
                                        const float *x, const float *w, const float *bias,
                                        float *y, const ds_conv_epilogue *e, int *fused,
                                        ds_conv_path *path)
{
    *fused = 0;
    if (e && ds_conv_winograd_chosen(g)) {
        report(path, DS_CONV_PATH_WINOGRAD);
        *fused = 1;
        return ds_conv_winograd_forward(ctx, work, g, x, w, bias, 0.0f, y, e);
    }
    return ds_conv_core_forward(ctx, work, g, x, w, bias, 0.0f, y, path);
}

ds_status ds_conv_core_forward(ds_ctx *ctx, ds_conv_work *work, const ds_conv_geom *g,
                               const float *x, const float *w, const float *bias, float beta,
                               float *y, ds_conv_path *path)
{
    const int nt = ds_ctx_threads(ctx);
    if (ds_conv_winograd_chosen(g)) {
        report(path, DS_CONV_PATH_WINOGRAD);
        return ds_conv_winograd_forward(ctx, work, g, x, w, bias, beta, y, NULL);
    }
    if (g->algo != DS_CONV_ALGO_GEMM && ds_conv_direct_usable(g)) {
        report(path, DS_CONV_PATH_DIRECT);
        return ds_conv_direct_forward(ctx, work, g, x, w, bias, beta, y);
    }
    if (ds_conv_few_voxels_chosen(g)) {
        report(path, DS_CONV_PATH_GEMM_FEW_VOXELS);
        return forward_few_voxels(ctx, work, g, x, w, bias, beta, y);
    }
    /* Split-K keeps OpenBLAS's products wide enough; our kernel does not need it (the 32 -> 64
     * stride-2 layer of a Hippocampus inference: 4.1 ms a call in split-K, 3.2 ms through our
     * kernel, bench_infer's per-call times on 1 thread). */
    if (!is_pointwise(g) && !use_our_gemm(g) &&
        use_split_k(g, g->cin * g->k * g->k * g->k, g->od * g->oh * g->ow)) {
        report(path, DS_CONV_PATH_GEMM_SPLIT_K);
        return forward_split_k(ctx, work, g, x, w, bias, beta, y);
    }
    const int64_t kdim = g->cin * g->k * g->k * g->k, rows = g->od * g->oh;
    const int64_t P = rows * g->ow, in_sample = g->cin * g->d * g->h * g->w;
    const int direct = is_pointwise(g);
    const int ours = !direct && use_our_gemm(g);
    /* our kernel reads the tile from L2: a quarter of the usual budget (1 MiB) */
    const int64_t rpt = tile_rows_within(g, kdim, DS_CONV_SPLIT,
                                         ours ? DS_CONV_TILE_FLOATS / 4 : DS_CONV_TILE_FLOATS);
    const int64_t tps = (rows + rpt - 1) / rpt;
    /* Our kernel where it runs (the 16 -> 32 stride-2 layer of a Hippocampus inference: 9.5 ms a
     * call with OpenBLAS, 8.1 ms with ours, lowering included): columns padded to whole
     * vectors, the product into C (cout x ld) after the lowered tile, then into y. */
    const int64_t ld = ours ? round8(rpt * g->ow) : rpt * g->ow;
    const int64_t slot = round16(kdim * ld) + (ours ? round16(g->cout * ld) : 0);
    report(path, direct ? DS_CONV_PATH_GEMM_POINTWISE : DS_CONV_PATH_GEMM);
    if (!direct) {
        ds_status st = ds_conv_work_reserve(ctx, &work->col, &work->col_cap, (size_t)(slot * nt));
        if (st != DS_OK)
            return st;
    }
    float *colbase = work->col;
#pragma omp parallel for num_threads(nt) schedule(dynamic, 1)
    for (int64_t t = 0; t < g->n * tps; ++t) {
        int64_t ni = t / tps, r0 = (t % tps) * rpt, r1 = min64(rows, r0 + rpt);
        int64_t cols = (r1 - r0) * g->ow;
        const float *xs = x + ni * in_sample;
        float *ys = y + ni * g->cout * P + r0 * g->ow;
        const float *b;
        int64_t ldb;
        if (direct) {
            b = xs + r0 * g->ow;
            ldb = P;
        } else {
            float *col = colbase + (int64_t)omp_get_thread_num() * slot;
            if (ours) {
                gemm_tile_ours(g, xs, r0, r1, w, bias, beta, col, ys, P);
                continue;
            }
            ds_conv_im2col(g, xs, r0, r1, 0, kdim, col, cols);
            b = col;
            ldb = cols;
        }
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)g->cout, (int)cols, (int)kdim,
                    1.0f, w, (int)kdim, b, (int)ldb, beta, ys, (int)P);
        if (bias && beta == 0.0f) {
            for (int64_t co = 0; co < g->cout; ++co) {
                float *row = ys + co * P, bv = bias[co];
                for (int64_t i = 0; i < cols; ++i)
                    row[i] += bv;
            }
        }
    }
    return DS_OK;
}

/* Whether the lowered backward-weights runs our kernel: kernels up to 3 (the lowering of a
 * kernel 7 holds 343 copies of the input) and at least 32 output channels (the columns of its
 * product). */
static int use_our_weight_gemm(const ds_conv_geom *g)
{
    return use_our_gemm(g) && !is_pointwise(g) && g->k <= 3 && g->cout >= 32;
}

/* Columns [i0, i1) of the gradient of output columns [c0, c0 + cols) of sample ni, transposed
 * into dyt (cols x ldn, zeros past cout). */
static void transpose_dy(const ds_conv_geom *g, const float *dy, int64_t ni, int64_t c0,
                         int64_t i0, int64_t i1, float *dyt, int64_t ldn)
{
    const int64_t P = g->od * g->oh * g->ow;
    for (int64_t co = 0; co < g->cout; ++co) {
        const float *src = dy + (ni * g->cout + co) * P + c0;
        for (int64_t i = i0; i < i1; ++i)
            dyt[i * ldn + co] = src[i];
    }
    for (int64_t i = i0; i < i1 && ldn > g->cout; ++i)
        memset(dyt + i * ldn + g->cout, 0, (size_t)(ldn - g->cout) * sizeof(float));
}

/* dst[co * ldd + k] += src[k * lds + co] for k < kn, co < cout, in blocks of 16 rows of src
 * (each block's rows stay in L1 while the columns go by). */
static void add_transposed(const float *src, int64_t kn, int64_t lds, int64_t cout, float *dst,
                           int64_t ldd)
{
    for (int64_t k0 = 0; k0 < kn; k0 += 16) {
        const int64_t k1 = min64(kn, k0 + 16);
        for (int64_t co = 0; co < cout; ++co)
            for (int64_t k = k0; k < k1; ++k)
                dst[co * ldd + k] += src[k * lds + co];
    }
}

/* The batch as one small tile, with kdim a whole number of vectors: dW (cout x kdim) += dY (cout x N)
 * col^T (N x kdim), straight into dW's rows (N = n * P columns, the samples side by side). The
 * transposed product below summed into a partial dW^T and then added it into dW: at 256 -> 256
 * on 2 x 2x3x2 that is 7 MB written and read again beside dW's own 7 MB, and in a training
 * iteration (caches cold) the call took 1.8 ms against 1.0 with warm caches (bench_winograd).
 * Each value is dW's, then its N terms in column order, one FMA each (ds_conv_gemm_add): from a
 * zeroed dW (a training step's) the bits of the transposed product, whose sums start from zero
 * and go into a zeroed dW. */
static ds_status backward_weight_rows(ds_ctx *ctx, ds_conv_work *work, const ds_conv_geom *g,
                                      const float *x, const float *dy, float *dw)
{
    const int nt = ds_ctx_threads(ctx);
    const int64_t kdim = g->cin * g->k * g->k * g->k, rows = g->od * g->oh;
    const int64_t P = rows * g->ow, N = g->n * P;
    DS_TRY(ds_conv_work_reserve(ctx, &work->col, &work->col_cap,
                                (size_t)(2 * round16(kdim * N) + g->cout * N)));
    float *col = work->col, *colt = col + round16(kdim * N), *dyr = colt + round16(kdim * N);
    const int64_t blocks = (kdim + 63) / 64;
    const int64_t rows_per = (g->cout + 8 * nt - 1) / (8 * nt) * 8;
#pragma omp parallel num_threads(nt)
    {
        /* dY's rows side by side (cout x N), and the lowering (kdim x N) */
#pragma omp for schedule(static) nowait
        for (int64_t r = 0; r < g->n * g->cout; ++r) {
            const int64_t ni = r / g->cout, co = r % g->cout;
            memcpy(dyr + co * N + ni * P, dy + r * P, (size_t)P * sizeof(float));
        }
        lower_batch_team(g, x, col, N);
        /* col^T (N x kdim), 64 lowered rows at a time */
#pragma omp for schedule(static)
        for (int64_t b = 0; b < blocks; ++b) {
            const int64_t k0 = 64 * b, k1 = min64(kdim, k0 + 64);
            for (int64_t t = 0; t < N; ++t)
                for (int64_t kr = k0; kr < k1; ++kr)
                    colt[t * kdim + kr] = col[kr * N + t];
        }
        /* one run of dW's rows a thread (a value's terms do not depend on the cut) */
#pragma omp for schedule(static)
        for (int t = 0; t < nt; ++t) {
            const int64_t r0 = t * rows_per, r1 = min64(g->cout, r0 + rows_per);
            if (r0 < r1)
                ds_conv_gemm_add(r1 - r0, kdim, N, dyr + r0 * N, N, colt, kdim, dw + r0 * kdim,
                                 kdim);
        }
    }
    return DS_OK;
}

/* Backward-weights through our kernel, transposed: dW^T (kdim x cout) += col (kdim x cols)
 * dy^T (cols x cout) for each tile of the batch in order (col its lowering, dy^T its gradient
 * transposed once, in blocks of 64 columns so that the rows written stay in L1). The K rows are
 * cut into units by the geometry; a unit lowers its rows of the tile and adds its product into
 * its rows of dW^T, so each value sums its terms in an order fixed by the geometry, with no
 * partial gradients. A batch with few voxels is one tile, its samples side by side. OpenBLAS took
 * 6.3 ms a call for 128 -> 128 on 4 x 4x6x4 (a training iteration at the Hippocampus patch runs
 * 20 of them). */
static ds_status backward_weight_ours(ds_ctx *ctx, ds_conv_work *work, const ds_conv_geom *g,
                                      const float *x, const float *dy, float *dw)
{
    const int nt = ds_ctx_threads(ctx);
    const int64_t kdim = g->cin * g->k * g->k * g->k, rows = g->od * g->oh, ow = g->ow;
    const int64_t P = rows * ow, in_sample = g->cin * g->d * g->h * g->w;
    const int64_t ldn = round8(g->cout);
    /* a multiple of DS_CONV_SPLIT units: 13 on two threads left one idle for a unit in 14
     * (128 -> 128 on 4 x 4x6x4; the units' rows of dW^T are theirs alone, so the cut does not
     * change a value) */
    const int64_t want = min64(round_up(max64(kdim / 256, DS_CONV_SPLIT), DS_CONV_SPLIT),
                               DS_CONV_PARTS);
    const int64_t kper = round8((kdim + want - 1) / want), parts = (kdim + kper - 1) / kper;
    /* a unit's col and the tile's dy^T within a quarter of the usual budget (1 MiB: L2) */
    const int64_t cap = max64(DS_CONV_TILE_FLOATS / 4 / (kper + ldn), ow);
    const int batch = g->n * P <= cap;
    int64_t tps = 1, rpt = rows;
    if (!batch) {
        tps = (rows + max64(cap / ow, 1) - 1) / max64(cap / ow, 1);
        rpt = (rows + tps - 1) / tps;
    }
    /* the lowering and its transpose within L2 (256 -> 256 on 2 x 2x3x2: 0.65 MB; with 128 ->
     * 128 on 2 x 4x6x4, 2.6 MB, the rows took 1.8 ms a call in a training iteration, 1.15 the
     * transposed product) */
    if (batch && kdim % 8 == 0 && kdim * g->n * P <= DS_CONV_TILE_FLOATS / 4)
        return backward_weight_rows(ctx, work, g, x, dy, dw);
    const int64_t cmax = batch ? g->n * P : rpt * ow, tiles = batch ? 1 : g->n * tps;
    const int64_t slot = round16(kper * cmax), dyt_floats = round16(cmax * ldn);
    DS_TRY(ds_conv_work_reserve(ctx, &work->col, &work->col_cap,
                                (size_t)(slot * nt + dyt_floats)));
    DS_TRY(ds_conv_work_reserve(ctx, &work->part, &work->part_cap, (size_t)(kdim * ldn)));
    float *dyt = work->col + slot * nt, *acc = work->part;
    /* one region for all the tiles (the loops' barriers keep them in order): a region a tile
     * woke the threads once more per tile */
#pragma omp parallel num_threads(nt)
    for (int64_t t = 0; t < tiles; ++t) {
        const int64_t ni = batch ? 0 : t / tps, r0 = batch ? 0 : (t % tps) * rpt;
        const int64_t r1 = batch ? rows : min64(rows, r0 + rpt);
        const int64_t cols = batch ? cmax : (r1 - r0) * ow, blocks = (cols + 63) / 64;
#pragma omp for schedule(static)
        for (int64_t b = 0; b < blocks; ++b) {
            const int64_t i0 = 64 * b, i1 = min64(cols, i0 + 64);
            if (!batch) {
                transpose_dy(g, dy, ni, r0 * ow, i0, i1, dyt, ldn);
                continue;
            }
            for (int64_t s = i0 / P; s <= (i1 - 1) / P; ++s) /* samples side by side */
                transpose_dy(g, dy, s, 0, max64(i0 - s * P, 0), min64(i1 - s * P, P),
                             dyt + s * P * ldn, ldn);
        }
#pragma omp for schedule(dynamic, 1)
        for (int64_t u = 0; u < parts; ++u) {
            float *col = work->col + (int64_t)omp_get_thread_num() * slot;
            const int64_t k0 = u * kper, k1 = min64(kdim, k0 + kper);
            float *a = acc + k0 * ldn;
            for (int64_t s = batch ? 0 : ni; s < (batch ? g->n : ni + 1); ++s)
                ds_conv_im2col(g, x + s * in_sample, r0, r1, k0, k1,
                               col + (batch ? s * P : 0), cols);
            /* the first tile writes a: its accumulators start from zero as the add's would
             * from a zeroed a (the same bits, without the pass that zeroed it) */
            (t == 0 ? ds_conv_gemm : ds_conv_gemm_add)(k1 - k0, ldn, cols, col, cols, dyt,
                                                       ldn, a, ldn);
            if (t == tiles - 1) /* the unit's rows of dW^T, still in L2, into dW */
                add_transposed(a, k1 - k0, ldn, g->cout, dw + k0, kdim);
        }
    }
    return DS_OK;
}

ds_status ds_conv_core_backward_weight(ds_ctx *ctx, ds_conv_work *work, const ds_conv_geom *g,
                                       const float *x, const float *dy, float *dw,
                                       ds_conv_path *path)
{
    if (ds_conv_winograd_weight_chosen(g)) {
        report(path, DS_CONV_PATH_WINOGRAD);
        return ds_conv_winograd_backward_weight(ctx, work, g, x, dy, dw);
    }
    if (g->algo != DS_CONV_ALGO_GEMM && ds_conv_direct_weight_usable(g)) {
        report(path, DS_CONV_PATH_DIRECT);
        return ds_conv_direct_backward_weight(ctx, work, g, x, dy, dw);
    }
    if (use_our_weight_gemm(g)) {
        report(path, DS_CONV_PATH_GEMM);
        return backward_weight_ours(ctx, work, g, x, dy, dw);
    }
    const int nt = ds_ctx_threads(ctx);
    const int64_t kdim = g->cin * g->k * g->k * g->k, rows = g->od * g->oh;
    const int64_t P = rows * g->ow, in_sample = g->cin * g->d * g->h * g->w;
    /* The tiling decides the summation order: it depends on the geometry only. */
    const int64_t rpt = tile_rows(g, kdim, 1), tps = (rows + rpt - 1) / rpt;
    const int direct = is_pointwise(g);
    report(path, direct ? DS_CONV_PATH_GEMM_POINTWISE : DS_CONV_PATH_GEMM);
    const int64_t per = (kdim + DS_CONV_SPLIT - 1) / DS_CONV_SPLIT;
    const int64_t slot = round16(per * rpt * g->ow);
    const int parts = (int)((kdim + per - 1) / per);
    /* Runs of the n * tps tiles, as many as DS_CONV_PARTS units need and 4 tiles' worth of
     * partial gradients hold. */
    const int64_t tiles = g->n * tps, wn = g->cout * kdim;
    int64_t runs = min64(tiles, (DS_CONV_PARTS + parts - 1) / parts);
    runs = max64(1, min64(runs, DS_CONV_SPLIT * DS_CONV_TILE_FLOATS / wn));
    const int64_t tper = (tiles + runs - 1) / runs;
    runs = (tiles + tper - 1) / tper;
    ds_status st = DS_OK;
    if (!direct)
        st = ds_conv_work_reserve(ctx, &work->col, &work->col_cap, (size_t)(slot * nt));
    if (st == DS_OK && runs > 1)
        st = ds_conv_work_reserve(ctx, &work->part, &work->part_cap, (size_t)(runs * wn));
    if (st != DS_OK)
        return st;
    if (runs > 1)
        memset(work->part, 0, (size_t)(runs * wn) * sizeof(float));
    float *colbase = work->col;
    /* Unit (r, j) sums the tiles of run r into the dW columns (K rows of the lowering) [k0, k1)
     * of its partial (of dW itself when there is one run), in order. */
#pragma omp parallel for num_threads(nt) schedule(dynamic, 1)
    for (int64_t u = 0; u < runs * parts; ++u) {
        float *col = direct ? NULL : colbase + (int64_t)omp_get_thread_num() * slot;
        const int64_t r = u / parts, k0 = per * (u % parts), k1 = min64(kdim, k0 + per);
        float *target = runs > 1 ? work->part + r * wn : dw;
        for (int64_t t = r * tper; t < min64(tiles, (r + 1) * tper); ++t) {
            const int64_t ni = t / tps, r0 = (t % tps) * rpt, r1 = min64(rows, r0 + rpt);
            const int64_t cols = (r1 - r0) * g->ow;
            const float *xs = x + ni * in_sample, *b = col;
            int64_t ldb = cols;
            if (direct) {
                b = xs + k0 * P + r0 * g->ow;
                ldb = P;
            } else {
                ds_conv_im2col(g, xs, r0, r1, k0, k1, col, cols);
            }
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)g->cout, (int)(k1 - k0),
                        (int)cols, 1.0f, dy + ni * g->cout * P + r0 * g->ow, (int)P, b, (int)ldb,
                        1.0f, target + k0, (int)kdim);
        }
    }
    if (runs > 1)
        ds_conv_add_partials(ctx, work->part, runs, wn, dw);
    return DS_OK;
}

/* The scattered backward-data (stride above 1): dx += W^T dy, or where set (only where
 * ds_conv_k2s2_exact) dx = bias + W^T dy. */
static ds_status scatter_backward_data(ds_ctx *ctx, ds_conv_work *work, const ds_conv_geom *g,
                                       const float *dy, const float *w, int set,
                                       const float *bias, float *dx, ds_conv_path *path)
{
    const int nt = ds_ctx_threads(ctx);
    const int64_t k3 = g->k * g->k * g->k, kdim = g->cin * k3;
    report(path, DS_CONV_PATH_GEMM_SCATTER);
    /* dcol = W^T dy per tile, scattered back: a unit owns one sample's input channels [c0, c1),
     * i.e. the K rows [c0 k^3, c1 k^3) and the dx planes of those channels. The tiling and the
     * parts are fixed by the geometry, so every dx voxel receives its terms in the same order for
     * any thread count. */
    const int64_t rows = g->od * g->oh, P = rows * g->ow, in_sample = g->cin * g->d * g->h * g->w;
    const int64_t rpt = tile_rows(g, kdim, 1), tps = (rows + rpt - 1) / rpt;
    const int want = ds_conv_part_count(kdim, g->cin);
    const int64_t cper = (g->cin + want - 1) / want, cparts = (g->cin + cper - 1) / cper;
    const int64_t slot = round16(cper * k3 * rpt * g->ow);
    ds_status st = ds_conv_work_reserve(ctx, &work->col, &work->col_cap, (size_t)(slot * nt));
    if (st != DS_OK)
        return st;
    float *colbase = work->col;
    /* Unit u: sample u / cparts, channel part u % cparts (the samples' dx never overlap). */
#pragma omp parallel for num_threads(nt) schedule(dynamic, 1)
    for (int64_t u = 0; u < g->n * cparts; ++u) {
        float *dcol = colbase + (int64_t)omp_get_thread_num() * slot;
        const int64_t ni = u / cparts, c0 = cper * (u % cparts), c1 = min64(g->cin, c0 + cper);
        for (int64_t ti = 0; ti < tps; ++ti) {
            int64_t r0 = ti * rpt, r1 = min64(rows, r0 + rpt), cols = (r1 - r0) * g->ow;
            cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (int)((c1 - c0) * k3), (int)cols,
                        (int)g->cout, 1.0f, w + c0 * k3, (int)kdim,
                        dy + ni * g->cout * P + r0 * g->ow, (int)P, 0.0f, dcol, (int)cols);
            if (set)
                ds_conv_col2im_k2s2_set(g, dcol, r0, r1, c0 * k3, c1 * k3, bias,
                                        dx + ni * in_sample);
            else
                ds_conv_col2im_add(g, dcol, r0, r1, c0 * k3, c1 * k3, dx + ni * in_sample);
        }
    }
    return DS_OK;
}

ds_status ds_conv_core_backward_data(ds_ctx *ctx, ds_conv_work *work, const ds_conv_geom *g,
                                     const float *dy, const float *w, float *dx, int set,
                                     ds_conv_path *path)
{
    const int nt = ds_ctx_threads(ctx);
    const int64_t k3 = g->k * g->k * g->k, dx_numel = g->n * g->cin * g->d * g->h * g->w;
    if (g->s == 1 && g->p <= g->k - 1) {
        /* dx += conv(dy, flip(W)^T) with padding k - 1 - p: race-free, same fast path. */
        size_t wn = (size_t)(g->cin * g->cout * k3);
        ds_status st = ds_conv_work_reserve(ctx, &work->wt, &work->wt_cap, wn);
        if (st != DS_OK)
            return st;
        const ds_conv_flip flip = {w, work->wt, g->cin, g->cout, k3};
        ds_conv_geom t = {g->n,  g->cout, g->cin, g->k, 1,    g->k - 1 - g->p,
                          g->od, g->oh,   g->ow,  g->d, g->h, g->w, g->algo};
        if (ds_conv_winograd_chosen(&t)) { /* beta 0 writes v + 0, as 0 + v into zeros */
            report(path, DS_CONV_PATH_WINOGRAD);
            return ds_conv_winograd_forward_flipped(ctx, work, &t, dy, &flip, set ? 0.0f : 1.0f,
                                                    dx);
        }
        if (set)
            ds_fill_zero(ctx, dx, dx_numel);
        /* Parallel: the deep layers' weights are megabytes, and on one thread this copy took
         * 3 % of a training iteration of the pair while the other thread waited. */
#pragma omp parallel num_threads(nt) if (wn > 65536)
        ds_conv_flip_weights_team(&flip);
        return ds_conv_core_forward(ctx, work, &t, dy, work->wt, NULL, 1.0f, dx, path);
    }
    if (set)
        ds_fill_zero(ctx, dx, dx_numel);
    return scatter_backward_data(ctx, work, g, dy, w, 0, NULL, dx, path);
}

ds_status ds_conv_core_transposed_forward(ds_ctx *ctx, ds_conv_work *work, const ds_conv_geom *g,
                                          const float *dy, const float *w, const float *bias,
                                          float *dx, ds_conv_path *path)
{
    if (ds_conv_k2s2_exact(g)) /* the fill, and the read of dx for the add, were two passes
                                  over the decoder's largest tensors */
        return scatter_backward_data(ctx, work, g, dy, w, 1, bias, dx, path);
    ds_conv_fill_bias(ctx, g->n, g->cin, g->d * g->h * g->w, bias, dx);
    return ds_conv_core_backward_data(ctx, work, g, dy, w, dx, 0, path);
}

void ds_conv_core_bias_grad(ds_ctx *ctx, int64_t n, int64_t c, int64_t spatial, const float *t,
                            float *db)
{
#pragma omp parallel for num_threads(ds_ctx_threads(ctx)) schedule(static)
    for (int64_t ci = 0; ci < c; ++ci) {
        double acc[4] = {0.0, 0.0, 0.0, 0.0};
        for (int64_t ni = 0; ni < n; ++ni) {
            const float *row = t + (ni * c + ci) * spatial;
            int64_t i = 0;
            for (; i + 4 <= spatial; i += 4) {
                acc[0] += row[i];
                acc[1] += row[i + 1];
                acc[2] += row[i + 2];
                acc[3] += row[i + 3];
            }
            for (; i < spatial; ++i)
                acc[0] += row[i];
        }
        db[ci] += (float)((acc[0] + acc[1]) + (acc[2] + acc[3]));
    }
}

ds_status ds_conv_check_shape(ds_ctx *ctx, const char *layer, const char *what, const ds_tensor *t,
                              int64_t n, int64_t c, int64_t d, int64_t h, int64_t w)
{
    if (t->n == n && t->c == c && t->d == d && t->h == h && t->w == w)
        return DS_OK;
    char got[96];
    return ds_fail(ctx, DS_ERR_SHAPE,
                   "%s: %s is %s, expected %" PRId64 "x%" PRId64 "x%" PRId64 "x%" PRId64
                   "x%" PRId64,
                   layer, what, ds_tensor_shape_str(t, got, sizeof got), n, c, d, h, w);
}

void ds_conv_fill_bias(ds_ctx *ctx, int64_t n, int64_t c, int64_t spatial, const float *bias,
                       float *t)
{
#pragma omp parallel for num_threads(ds_ctx_threads(ctx)) schedule(static)
    for (int64_t plane = 0; plane < n * c; ++plane) {
        float *row = t + plane * spatial, v = bias ? bias[plane % c] : 0.0f;
        for (int64_t i = 0; i < spatial; ++i)
            row[i] = v;
    }
}

/* A shared workspace is a ds_conv_work that no layer owns. */
struct ds_conv_workspace {
    ds_conv_work work;
};

ds_status ds_conv_workspace_create(ds_ctx *ctx, ds_conv_workspace **out)
{
    if (!out)
        return ds_fail(ctx, DS_ERR_ARG, "conv workspace: null output pointer");
    *out = calloc(1, sizeof **out);
    return *out ? DS_OK : ds_fail(ctx, DS_ERR_NOMEM, "conv workspace: out of memory");
}

void ds_conv_workspace_free(ds_conv_workspace *ws)
{
    if (!ws)
        return;
    ds_conv_work_release(&ws->work);
    free(ws);
}
