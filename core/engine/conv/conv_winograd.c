/* conv_winograd.c - Winograd F(2x2x2, 3x3x3) for kernel-3, stride-1, padding-1 convolutions
 * (see conv_core.h).
 *
 * y = A^T [ (G w G^T) . (B^T x B) ] A on each 2 x 2 x 2 output tile (Lavin & Gray 2016), the three
 * axes transformed one after another. A 4 x 4 x 4 input patch becomes 64 transformed values xi;
 * for each xi the products over channels are one GEMM, M[xi] (cout x T) = U[xi] (cout x cin) *
 * V[xi] (cin x T), over a chunk of T tiles: 8 multiplications per output instead of 27. Tiles
 * past the border read zeros and write only the voxels that exist (odd sizes, one-voxel planes).
 *
 * A chunk is a run of whole tile rows (td, th) of one sample; its V and M live in the thread's
 * slot of work->col, U in work->wpk. The chunking depends on the geometry only and every output
 * voxel is made by one chunk, so results are identical for every thread count. The transforms
 * are additions in a fixed order (the same in the AVX2 and the portable build of the loops); the
 * products are our AVX2 + FMA kernel (each value summed over cin in order) or, without AVX2,
 * OpenBLAS SGEMM, one per xi, single-threaded inside our parallel region.
 */
#include "conv_core.h"

#include <cblas.h>
#include <omp.h>
#include <string.h>

#include "conv_winograd.h"

/* Per-thread floats for V and M together (1 MiB, so that they stay in a core's L2 cache), unless
 * WINO_MIN_TILES tiles take more. */
#define WINO_SLOT_FLOATS (DS_CONV_TILE_FLOATS / 4)
/* Tiles per chunk wanted at least (GEMM width), and chunks per sample wanted for balance. */
#define WINO_MIN_TILES 64
#define WINO_MIN_CHUNKS 8

int ds_conv_winograd_applicable(const ds_conv_geom *g)
{
    return g->k == 3 && g->s == 1 && g->p == 1;
}

typedef struct wino_plan {
    int64_t td, th, tw;  /* tiles per axis                       */
    int64_t rows;        /* tile rows (td, th) per sample         */
    int64_t rpc, chunks; /* tile rows per chunk, chunks per sample */
    int64_t slot;        /* floats of one thread's slot          */
} wino_plan;

static int64_t min64(int64_t a, int64_t b) { return a < b ? a : b; }
static int64_t max64(int64_t a, int64_t b) { return a > b ? a : b; }

static wino_plan make_plan(const ds_conv_geom *g)
{
    wino_plan p;
    p.td = (g->od + 1) / 2;
    p.th = (g->oh + 1) / 2;
    p.tw = (g->ow + 1) / 2;
    p.rows = p.td * p.th;
    int64_t budget = WINO_SLOT_FLOATS / (XI * (g->cin + g->cout));
    int64_t rpc = min64(max64(max64(budget, WINO_MIN_TILES) / p.tw, 1), p.rows);
    /* Smaller chunks for balance, as long as each keeps WINO_MIN_TILES tiles. */
    int64_t balanced = max64((p.rows + WINO_MIN_CHUNKS - 1) / WINO_MIN_CHUNKS,
                             (WINO_MIN_TILES + p.tw - 1) / p.tw);
    p.rpc = min64(rpc, balanced);
    p.chunks = (p.rows + p.rpc - 1) / p.rpc;
    /* V, M, then the transform scratch: 64 rows of tw plus a padded input row. */
    int64_t tiles = ds_wino_round8(p.rpc * p.tw);
    p.slot = (XI * (g->cin + g->cout) * tiles + XI * p.tw + 2 * p.tw + 16 + 15) & ~(int64_t)15;
    return p;
}

int64_t ds_conv_winograd_work_floats(const ds_conv_geom *g, int threads)
{
    wino_plan p = make_plan(g);
    return p.slot * threads + XI * g->cin * g->cout;
}

/* The 64 transformed values of one 3 x 3 x 3 kernel k: G k G^T along the three axes, with
 * G = [1 0 0; .5 .5 .5; .5 -.5 .5; 0 0 1]. */
static void transform_kernel(const float *k, float out[XI])
{
    float a[3][3][4], b[3][4][4];
    for (int i = 0; i < 3; ++i)
        for (int j = 0; j < 3; ++j) {
            const float *r = k + (i * 3 + j) * 3;
            a[i][j][0] = r[0];
            a[i][j][1] = 0.5f * (r[0] + r[1] + r[2]);
            a[i][j][2] = 0.5f * (r[0] - r[1] + r[2]);
            a[i][j][3] = r[2];
        }
    for (int i = 0; i < 3; ++i)
        for (int l = 0; l < 4; ++l) {
            b[i][0][l] = a[i][0][l];
            b[i][1][l] = 0.5f * (a[i][0][l] + a[i][1][l] + a[i][2][l]);
            b[i][2][l] = 0.5f * (a[i][0][l] - a[i][1][l] + a[i][2][l]);
            b[i][3][l] = a[i][2][l];
        }
    for (int j = 0; j < 4; ++j)
        for (int l = 0; l < 4; ++l) {
            out[(0 * 4 + j) * 4 + l] = b[0][j][l];
            out[(1 * 4 + j) * 4 + l] = 0.5f * (b[0][j][l] + b[1][j][l] + b[2][j][l]);
            out[(2 * 4 + j) * 4 + l] = 0.5f * (b[0][j][l] - b[1][j][l] + b[2][j][l]);
            out[(3 * 4 + j) * 4 + l] = b[2][j][l];
        }
}

/* U[xi][co][ci] from w[co][ci]: 64 kernels at a time, so that U is written in runs of 64 floats
 * (one kernel at a time wrote 64 floats cin * cout apart: most of the time of deep layers). */
static void transform_weight(ds_ctx *ctx, const ds_conv_geom *g, const float *w, float *u)
{
    const int64_t cc = g->cin * g->cout, blocks = (cc + 63) / 64;
#pragma omp parallel for num_threads(ds_ctx_threads(ctx)) schedule(static)
    for (int64_t bl = 0; bl < blocks; ++bl) {
        float t[64][XI];
        const int64_t o0 = bl * 64, no = min64(64, cc - o0);
        for (int64_t o = 0; o < no; ++o)
            transform_kernel(w + (o0 + o) * 27, t[o]);
        for (int xi = 0; xi < XI; ++xi)
            for (int64_t o = 0; o < no; ++o)
                u[xi * cc + o0 + o] = t[o][xi];
    }
}

/* The output tiles of tile row (td, th), channel co, from M (mstride floats between xi), via
 * A^T = [1 1 1 0; 0 1 -1 -1]; written into the plane yc (+= when beta, else + bias). */
static inline __attribute__((always_inline)) void
output_row(const ds_conv_geom *g, const float *m, int64_t mstride, int64_t td, int64_t th,
           int64_t tw, float *t, float bias, float beta, float *yc)
{
    /* depth: [a][b][c] (64 rows) -> [a'][b][c] (32 rows) */
    for (int bc = 0; bc < 16; ++bc) {
        const float *m0 = m + bc * mstride, *m1 = m0 + 16 * mstride, *m2 = m1 + 16 * mstride,
                    *m3 = m2 + 16 * mstride;
        float *o0 = t + bc * tw, *o1 = t + (16 + bc) * tw;
        for (int64_t i = 0; i < tw; ++i) {
            o0[i] = m0[i] + m1[i] + m2[i];
            o1[i] = m1[i] - m2[i] - m3[i];
        }
    }
    /* height: [a'][b][c] -> [a'][b'][c] (16 rows, at t + 32 tw) */
    float *h = t + 32 * tw;
    for (int a = 0; a < 2; ++a)
        for (int c = 0; c < 4; ++c) {
            const float *s0 = t + (a * 16 + c) * tw, *s1 = s0 + 4 * tw, *s2 = s1 + 4 * tw,
                        *s3 = s2 + 4 * tw;
            float *o0 = h + (a * 8 + c) * tw, *o1 = h + (a * 8 + 4 + c) * tw;
            for (int64_t i = 0; i < tw; ++i) {
                o0[i] = s0[i] + s1[i] + s2[i];
                o1[i] = s1[i] - s2[i] - s3[i];
            }
        }
    /* width, into an interleaved row of 2 tw voxels, then the voxels that exist */
    float *row = t + 48 * tw;
    for (int a = 0; a < 2; ++a)
        for (int b = 0; b < 2; ++b) {
            int64_t od = 2 * td + a, oh = 2 * th + b;
            if (od >= g->od || oh >= g->oh)
                continue;
            const float *s0 = h + (a * 8 + b * 4) * tw, *s1 = s0 + tw, *s2 = s1 + tw,
                        *s3 = s2 + tw;
            for (int64_t i = 0; i < tw; ++i) {
                row[2 * i] = s0[i] + s1[i] + s2[i];
                row[2 * i + 1] = s1[i] - s2[i] - s3[i];
            }
            float *dst = yc + (od * g->oh + oh) * g->ow;
            if (beta != 0.0f) {
                for (int64_t i = 0; i < g->ow; ++i)
                    dst[i] += row[i];
            } else {
                for (int64_t i = 0; i < g->ow; ++i)
                    dst[i] = row[i] + bias;
            }
        }
}

/* M[xi] = U[xi] V[xi] for the 64 xi: cout x ld, cout x cin, cin x ld (ld a multiple of 8). */
typedef void (*wino_gemm_fn)(const ds_conv_geom *g, const float *u, const float *v, int64_t ld,
                             float *m);

static void gemm_blas(const ds_conv_geom *g, const float *u, const float *v, int64_t ld, float *m)
{
    for (int xi = 0; xi < XI; ++xi)
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)g->cout, (int)ld, (int)g->cin,
                    1.0f, u + xi * g->cin * g->cout, (int)g->cin, v + xi * g->cin * ld, (int)ld,
                    0.0f, m + xi * g->cout * ld, (int)ld);
}

#ifdef DS_WINO_AVX2
#include <immintrin.h>

/* NR rows x NV vectors of 8 columns of C = A B, summed over k in order (one FMA per term, so each
 * value is the same whatever the blocking). NR, NV are constants at every call: the accumulators
 * stay in registers. */
__attribute__((target("avx2,fma"))) static inline __attribute__((always_inline)) void
micro(const float *a, int64_t lda, const float *b, int64_t ldb, int64_t k, float *c, int64_t ldc,
      const int nr, const int nv)
{
    __m256 acc[4][3];
    for (int r = 0; r < nr; ++r)
        for (int q = 0; q < nv; ++q)
            acc[r][q] = _mm256_setzero_ps();
    for (int64_t i = 0; i < k; ++i) {
        const float *br = b + i * ldb;
        __m256 bv[3];
        for (int q = 0; q < nv; ++q)
            bv[q] = _mm256_loadu_ps(br + 8 * q);
        for (int r = 0; r < nr; ++r) {
            __m256 w = _mm256_broadcast_ss(a + r * lda + i);
            for (int q = 0; q < nv; ++q)
                acc[r][q] = _mm256_fmadd_ps(w, bv[q], acc[r][q]);
        }
    }
    for (int r = 0; r < nr; ++r)
        for (int q = 0; q < nv; ++q)
            _mm256_storeu_ps(c + r * ldc + 8 * q, acc[r][q]);
}

/* Columns in blocks of 24 (the B panel, cin x 24, stays in L1), rows in blocks of 4. */
__attribute__((target("avx2,fma"))) static void gemm_avx2(const ds_conv_geom *g, const float *u,
                                                          const float *v, int64_t ld, float *m)
{
    const int64_t ci = g->cin, co = g->cout;
    for (int xi = 0; xi < XI; ++xi) {
        const float *a = u + xi * ci * co, *b = v + xi * ci * ld;
        float *c = m + xi * co * ld;
        for (int64_t t = 0; t < ld;) {
            const int64_t left = ld - t;
            const int nv = left >= 24 ? 3 : left >= 16 ? 2 : 1;
            int64_t r = 0;
            for (; r + 4 <= co; r += 4) {
                if (nv == 3)
                    micro(a + r * ci, ci, b + t, ld, ci, c + r * ld + t, ld, 4, 3);
                else if (nv == 2)
                    micro(a + r * ci, ci, b + t, ld, ci, c + r * ld + t, ld, 4, 2);
                else
                    micro(a + r * ci, ci, b + t, ld, ci, c + r * ld + t, ld, 4, 1);
            }
            for (; r < co; ++r) {
                if (nv == 3)
                    micro(a + r * ci, ci, b + t, ld, ci, c + r * ld + t, ld, 1, 3);
                else if (nv == 2)
                    micro(a + r * ci, ci, b + t, ld, ci, c + r * ld + t, ld, 1, 2);
                else
                    micro(a + r * ci, ci, b + t, ld, ci, c + r * ld + t, ld, 1, 1);
            }
            t += 8 * nv;
        }
    }
}
#endif

/* One chunk: tile rows [r0, r1) of sample x -> y. */
static inline __attribute__((always_inline)) void
chunk_body(const ds_conv_geom *g, const wino_plan *p, const float *u, const float *x,
           const float *bias, float beta, float *y, int64_t r0, int64_t r1, float *slot,
           wino_gemm_fn gemm)
{
    const int64_t tiles = (r1 - r0) * p->tw, ld = ds_wino_round8(tiles), ispat = g->d * g->h * g->w;
    const int64_t ospat = g->od * g->oh * g->ow;
    float *v = slot, *m = v + XI * g->cin * ld, *t = m + XI * g->cout * ld;
    float *prow = t + XI * p->tw;
    for (int64_t ci = 0; ci < g->cin; ++ci) {
        for (int64_t r = r0; r < r1; ++r)
            ds_wino_input_row(g, x + ci * ispat, r / p->th, r % p->th, p->tw, t, prow,
                      v + ci * ld + (r - r0) * p->tw, g->cin * ld);
        for (int xi = 0; xi < XI && ld > tiles; ++xi)
            memset(v + (xi * g->cin + ci) * ld + tiles, 0, (size_t)(ld - tiles) * sizeof(float));
    }
    gemm(g, u, v, ld, m);
    for (int64_t co = 0; co < g->cout; ++co)
        for (int64_t r = r0; r < r1; ++r)
            output_row(g, m + co * ld + (r - r0) * p->tw, g->cout * ld, r / p->th, r % p->th,
                       p->tw, t, bias ? bias[co] : 0.0f, beta, y + co * ospat);
}

static void chunk_portable(const ds_conv_geom *g, const wino_plan *p, const float *u,
                           const float *x, const float *bias, float beta, float *y, int64_t r0,
                           int64_t r1, float *slot)
{
    chunk_body(g, p, u, x, bias, beta, y, r0, r1, slot, gemm_blas);
}

#ifdef DS_WINO_AVX2
/* The same loops compiled for AVX2, with our own GEMM kernel (OpenBLAS's speed on these small
 * products depends on the core it detects; this one does not). */
__attribute__((target("avx2,fma"))) static void
chunk_avx2(const ds_conv_geom *g, const wino_plan *p, const float *u, const float *x,
           const float *bias, float beta, float *y, int64_t r0, int64_t r1, float *slot)
{
    chunk_body(g, p, u, x, bias, beta, y, r0, r1, slot, gemm_avx2);
}
#endif

ds_status ds_conv_winograd_forward(ds_ctx *ctx, ds_conv_work *work, const ds_conv_geom *g,
                                   const float *x, const float *w, const float *bias, float beta,
                                   float *y)
{
    if (!ds_conv_winograd_applicable(g))
        return ds_fail(ctx, DS_ERR_INTERNAL, "convolution: Winograd needs kernel 3, stride 1, "
                                             "padding 1");
    const int nt = ds_ctx_threads(ctx);
    const wino_plan p = make_plan(g);
    DS_TRY(ds_conv_work_reserve(ctx, &work->col, &work->col_cap, (size_t)(p.slot * nt)));
    DS_TRY(ds_conv_work_reserve(ctx, &work->wpk, &work->wpk_cap,
                                (size_t)(XI * g->cin * g->cout)));
    float *u = work->wpk, *slots = work->col;
    transform_weight(ctx, g, w, u);
    void (*chunk)(const ds_conv_geom *, const wino_plan *, const float *, const float *,
                  const float *, float, float *, int64_t, int64_t, float *) = chunk_portable;
#ifdef DS_WINO_AVX2
    if (ds_wino_avx2())
        chunk = chunk_avx2;
#endif
    const int64_t in_sample = g->cin * g->d * g->h * g->w;
    const int64_t out_sample = g->cout * g->od * g->oh * g->ow;
#pragma omp parallel for num_threads(nt) schedule(dynamic, 1)
    for (int64_t job = 0; job < g->n * p.chunks; ++job) {
        int64_t ni = job / p.chunks, r0 = (job % p.chunks) * p.rpc, r1 = min64(p.rows, r0 + p.rpc);
        chunk(g, &p, u, x + ni * in_sample, bias, beta, y + ni * out_sample, r0, r1,
              slots + (int64_t)omp_get_thread_num() * p.slot);
    }
    return DS_OK;
}

int ds_conv_winograd_chosen(const ds_conv_geom *g)
{
    const int decided = ds_wino_decided(g);
    if (decided >= 0)
        return decided;
    /* Measured with bench_winograd (1 thread, CPU time, batch 2, 2026-12-01, Xeon model 207):
     * Winograd is 1.1-3.2x faster than the reference kernels, forward and backward-data, on every
     * kernel-3 layer of both networks at both patches except these. */
    if (g->cin < 16 || g->cout < 16)
        return 0; /* 1 -> 16 (and its backward-data): the direct kernel is 1.3-3x faster      */
    if (g->n * g->od * g->oh * g->ow < 128)
        return 0; /* 2 x 2x3x2 voxels at 256 channels: the weight transform costs more (0.4x) */
    if (g->cin * g->cout <= 16 * 16)
        return g->oh * g->ow >= 4096; /* 16 -> 16: the direct kernel wins while its padded
                                         planes stay in cache (48x32 planes 0.9x, 112x80 1.4x) */
    return 1;
}
