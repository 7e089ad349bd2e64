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

#include "conv_gemm.h"
#include "conv_winograd.h"

/* Per-thread floats for V and M together (1 MiB, so that they stay in a core's L2 cache), unless
 * WINO_MIN_TILES tiles take more. */
#define WINO_SLOT_FLOATS (DS_CONV_TILE_FLOATS / 4)
/* Tiles per chunk wanted at least (GEMM width), and chunks per sample wanted for balance. */
#define WINO_MIN_TILES 64
#define WINO_MIN_CHUNKS 8
/* The most floats of a shared block's U (512 KiB: with V and M, inside a core's L2 cache), and
 * of the batch's V with a block's U and M (2 MiB: a core's L2 cache here). */
#define SHARED_BLOCK_FLOATS (128 * 1024)
#define WINO_L2_FLOATS (512 * 1024)

int ds_conv_winograd_applicable(const ds_conv_geom *g)
{
    return g->k == 3 && g->s == 1 && g->p == 1;
}

typedef struct wino_plan {
    int64_t td, th, tw;  /* tiles per axis                       */
    int64_t rows;        /* tile rows (td, th) per sample         */
    int64_t rpc, chunks; /* tile rows per chunk, chunks per sample */
    int64_t slot;        /* floats of one thread's slot          */
    int shared;          /* the whole batch is one chunk the threads share */
    int64_t cb;          /* output channels of a shared block           */
    int64_t bslot;       /* floats of a thread's shared-block slot      */
    int64_t work;        /* floats of the work buffer in all     */
} wino_plan;

static int64_t min64(int64_t a, int64_t b) { return a < b ? a : b; }
static int64_t max64(int64_t a, int64_t b) { return a > b ? a : b; }

/* With several chunks of a small layer each chunk's products read all of U, which outweighs
 * them when a chunk has few tiles (128 -> 128 channels on 2 x 4x6x4: one chunk of 12 tiles a
 * sample, U 4 MiB). When the batch's V fits in L2 beside the U and M of a block of 8 output
 * channels, the batch is one chunk shared by the threads instead: U is read once, and the
 * products are as wide as the batch. It goes through blocks of cb output channels, each
 * transformed, multiplied and written back by one thread, so that a block's U (cb x cin x 64, at
 * most SHARED_BLOCK_FLOATS) and M stay in its L2 cache: the whole U is never written out and read
 * back. (Shared by a looser rule, V and M within four slots, 64 -> 64 channels on 2 x 8x12x8 took
 * 63 ms of a Hippocampus inference on 2 threads, against 49-60 ms in chunks: its V alone is
 * 3 MiB.) The choice depends on the geometry only. */
/* A thread's slot in a shared batch: U and M of a block of cb output channels, the scratch. */
static int64_t bslot_floats(const ds_conv_geom *g, const wino_plan *p, int64_t cb, int64_t tiles)
{
    return XI * (cb * g->cin + ds_wino_xi_stride(cb * tiles)) + ds_wino_scratch_floats(p->tw);
}

static wino_plan make_plan(const ds_conv_geom *g, int threads)
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
    p.slot = XI * (ds_wino_xi_stride(g->cin * tiles) + ds_wino_xi_stride(g->cout * tiles)) +
             ds_wino_scratch_floats(p.tw);
    p.work = p.slot * threads;
    const int64_t all = ds_wino_round8(g->n * p.rows * p.tw);
    /* The largest block (a multiple of 8 channels, U within SHARED_BLOCK_FLOATS) whose U and M
     * fit in L2 beside the batch's V; shared when a block of 8 does. */
    const int64_t vall = XI * ds_wino_xi_stride(g->cin * all);
    p.cb = min64(max64(8, min64(64, SHARED_BLOCK_FLOATS / (XI * g->cin)) & ~(int64_t)7),
                 g->cout);
    while (p.cb > 8 && vall + bslot_floats(g, &p, p.cb, all) > WINO_L2_FLOATS)
        p.cb = (p.cb - 1) & ~(int64_t)7; /* the next multiple of 8 below */
    p.bslot = bslot_floats(g, &p, p.cb, all);
    p.shared = g->n * p.chunks > 1 && vall + p.bslot <= WINO_L2_FLOATS;
    if (p.shared)
        p.work = vall + threads * p.bslot;
    return p;
}

int64_t ds_conv_winograd_work_floats(const ds_conv_geom *g, int threads)
{
    wino_plan p = make_plan(g, threads);
    return p.work + (p.shared ? 0 : XI * g->cin * g->cout);
}

/* The 64 transformed values of 64 kernels of 3 x 3 x 3 (k[tap][kernel]): G k G^T along the three
 * axes, with G = [1 0 0; .5 .5 .5; .5 -.5 .5; 0 0 1]. Every step is a loop over the 64 kernels,
 * so that it runs in vectors; the values are those of one kernel at a time. */
static inline __attribute__((always_inline)) void transform_kernels(const float k[27][64],
                                                                    float out[XI][64])
{
    float a[3][3][4][64], b[3][4][4][64];
    for (int i = 0; i < 3; ++i)
        for (int j = 0; j < 3; ++j) {
            const float *r0 = k[(i * 3 + j) * 3], *r1 = k[(i * 3 + j) * 3 + 1],
                        *r2 = k[(i * 3 + j) * 3 + 2];
            for (int o = 0; o < 64; ++o) {
                a[i][j][0][o] = r0[o];
                a[i][j][1][o] = 0.5f * (r0[o] + r1[o] + r2[o]);
                a[i][j][2][o] = 0.5f * (r0[o] - r1[o] + r2[o]);
                a[i][j][3][o] = r2[o];
            }
        }
    for (int i = 0; i < 3; ++i)
        for (int l = 0; l < 4; ++l)
            for (int o = 0; o < 64; ++o) {
                b[i][0][l][o] = a[i][0][l][o];
                b[i][1][l][o] = 0.5f * (a[i][0][l][o] + a[i][1][l][o] + a[i][2][l][o]);
                b[i][2][l][o] = 0.5f * (a[i][0][l][o] - a[i][1][l][o] + a[i][2][l][o]);
                b[i][3][l][o] = a[i][2][l][o];
            }
    for (int j = 0; j < 4; ++j)
        for (int l = 0; l < 4; ++l)
            for (int o = 0; o < 64; ++o) {
                out[(0 * 4 + j) * 4 + l][o] = b[0][j][l][o];
                const float b0 = b[0][j][l][o], b1 = b[1][j][l][o], b2 = b[2][j][l][o];
                out[(1 * 4 + j) * 4 + l][o] = 0.5f * (b0 + b1 + b2);
                out[(2 * 4 + j) * 4 + l][o] = 0.5f * (b0 - b1 + b2);
                out[(3 * 4 + j) * 4 + l][o] = b[2][j][l][o];
            }
}

/* U[xi][co][ci] for kernels [o0, o0 + no) of w[co][ci] (no <= 64), written in runs of no floats
 * (one kernel at a time wrote 64 floats cin * cout apart: most of the time of deep layers). */
static inline __attribute__((always_inline)) void weight_block_of(const float k[27][64],
                                                                  int64_t o0, int64_t no,
                                                                  int64_t cc, float *u)
{
    float t[XI][64];
    transform_kernels(k, t);
    if (no == 64) { /* a copy of constant size: vector moves, not 64 calls of memcpy */
        for (int xi = 0; xi < XI; ++xi)
            memcpy(u + xi * cc + o0, t[xi], 64 * sizeof(float));
    } else {
        for (int xi = 0; xi < XI; ++xi)
            memcpy(u + xi * cc + o0, t[xi], (size_t)no * sizeof(float));
    }
}

static inline __attribute__((always_inline)) void weight_block(const float *w, int64_t o0,
                                                               int64_t no, int64_t cc, float *u)
{
    float k[27][64];
    for (int64_t o = 0; o < 64; ++o)
        for (int tap = 0; tap < 27; ++tap)
            k[tap][o] = o < no ? w[(o0 + o) * 27 + tap] : 0.0f;
    weight_block_of(k, o0, no, cc, u);
}

static void weight_block_portable(const float *w, int64_t o0, int64_t no, int64_t cc, float *u)
{
    weight_block(w, o0, no, cc, u);
}

#ifdef DS_WINO_AVX2
__attribute__((target("avx2,fma"))) static void weight_block_avx2(const float *w, int64_t o0,
                                                                  int64_t no, int64_t cc, float *u)
{
    weight_block(w, o0, no, cc, u);
}

/* A whole block's 64 x 27 weights (contiguous) into k[tap][kernel] with gathers of 16 kernels:
 * the scalar copy (1728 loads and stores) was most of a deep layer's weight transform. */
__attribute__((target("avx2,fma,avx512f"))) static void
weight_block_avx512(const float *w, int64_t o0, int64_t no, int64_t cc, float *u)
{
    if (no < 64) {
        weight_block(w, o0, no, cc, u);
        return;
    }
    float k[27][64] __attribute__((aligned(64)));
    const __m512i stride = _mm512_mullo_epi32(
        _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15),
        _mm512_set1_epi32(27));
    for (int q = 0; q < 4; ++q) {
        const float *base = w + (o0 + 16 * q) * 27;
        for (int tap = 0; tap < 27; ++tap)
            _mm512_store_ps(&k[tap][16 * q], _mm512_i32gather_ps(stride, base + tap, 4));
    }
    weight_block_of(k, o0, no, cc, u);
}
#endif

/* U from w, shared by the team of the enclosing parallel region (an orphaned loop: it ends in
 * the barrier the products wait at). */
static void transform_weight_team(const ds_conv_geom *g, const float *w, float *u)
{
    const int64_t cc = g->cin * g->cout, blocks = (cc + 63) / 64;
    void (*block)(const float *, int64_t, int64_t, int64_t, float *) = weight_block_portable;
#ifdef DS_WINO_AVX2
    if (ds_wino_avx512())
        block = weight_block_avx512;
    else if (ds_wino_avx2())
        block = weight_block_avx2;
#endif
#pragma omp for schedule(static)
    for (int64_t bl = 0; bl < blocks; ++bl)
        block(w, bl * 64, min64(64, cc - bl * 64), cc, u);
}

/* The output tiles of tile row (td, th), channel co, from M (mstride floats between xi), via
 * A^T = [1 1 1 0; 0 1 -1 -1]; written into the plane yc (+= when beta, else + bias). */
static void output_row(const ds_conv_geom *g, const float *m, int64_t mstride, int64_t td,
                       int64_t th, int64_t tw, float *t, float bias, float beta, float *yc)
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

typedef void (*wino_output_fn)(const ds_conv_geom *g, const float *m, int64_t mstride, int64_t td,
                               int64_t th, int64_t tw, float *t, float bias, float beta, float *yc);

/* M[xi] = U[xi] V[xi] for xi in [x0, x1): cout x ld, cout x cin, cin x ld (ld a multiple of 8);
 * V[xi] at v + xi * vx, M[xi] at m + xi * mx. */
typedef void (*wino_gemm_fn)(const ds_conv_geom *g, const float *u, const float *v, int64_t vx,
                             int64_t ld, float *m, int64_t mx, int x0, int x1);

static void gemm_blas(const ds_conv_geom *g, const float *u, const float *v, int64_t vx,
                      int64_t ld, float *m, int64_t mx, int x0, int x1)
{
    for (int xi = x0; xi < x1; ++xi)
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)g->cout, (int)ld, (int)g->cin,
                    1.0f, u + xi * g->cin * g->cout, (int)g->cin, v + xi * vx, (int)ld, 0.0f,
                    m + xi * mx, (int)ld);
}

#ifdef DS_WINO_AVX2

/* The 64 products with our AVX2 kernel (conv_gemm.c). */
__attribute__((target("avx2,fma"))) static void
gemm_avx2(const ds_conv_geom *g, const float *u, const float *v, int64_t vx, int64_t ld, float *m,
          int64_t mx, int x0, int x1)
{
    const int64_t ci = g->cin, co = g->cout;
    for (int xi = x0; xi < x1; ++xi)
        ds_conv_gemm_avx2(co, ld, ci, u + xi * ci * co, ci, v + xi * vx, ld, m + xi * mx, ld);
}

/* output_row in AVX2: rows of round8(tw) floats in t, the width stage interleaved in registers
 * and stored straight into the plane (the same additions in the same order). M is read in whole
 * vectors: past a tile row's tw values lie other tiles, V's zero padding or the scratch, all
 * inside the slot, and what is computed from them is never stored. */
__attribute__((target("avx2,fma"))) static void
output_row_avx2(const ds_conv_geom *g, const float *m, int64_t mstride, int64_t td, int64_t th,
                int64_t tw, float *t, float bias, float beta, float *yc)
{
    const int64_t tw8 = ds_wino_round8(tw);
    for (int bc = 0; bc < 16; ++bc) {
        const float *m0 = m + bc * mstride, *m1 = m0 + 16 * mstride, *m2 = m1 + 16 * mstride,
                    *m3 = m2 + 16 * mstride;
        float *o0 = t + bc * tw8, *o1 = t + (16 + bc) * tw8;
        for (int64_t i = 0; i < tw8; i += 8) {
            __m256 a = _mm256_loadu_ps(m0 + i), b = _mm256_loadu_ps(m1 + i),
                   c = _mm256_loadu_ps(m2 + i), d = _mm256_loadu_ps(m3 + i);
            _mm256_storeu_ps(o0 + i, _mm256_add_ps(_mm256_add_ps(a, b), c));
            _mm256_storeu_ps(o1 + i, _mm256_sub_ps(_mm256_sub_ps(b, c), d));
        }
    }
    float *h = t + 32 * tw8;
    for (int a = 0; a < 2; ++a)
        for (int c = 0; c < 4; ++c) {
            const float *s0 = t + (a * 16 + c) * tw8, *s1 = s0 + 4 * tw8, *s2 = s1 + 4 * tw8,
                        *s3 = s2 + 4 * tw8;
            float *o0 = h + (a * 8 + c) * tw8, *o1 = h + (a * 8 + 4 + c) * tw8;
            for (int64_t i = 0; i < tw8; i += 8) {
                __m256 p = _mm256_loadu_ps(s0 + i), q = _mm256_loadu_ps(s1 + i),
                       r = _mm256_loadu_ps(s2 + i), u = _mm256_loadu_ps(s3 + i);
                _mm256_storeu_ps(o0 + i, _mm256_add_ps(_mm256_add_ps(p, q), r));
                _mm256_storeu_ps(o1 + i, _mm256_sub_ps(_mm256_sub_ps(q, r), u));
            }
        }
    const __m256 vb = _mm256_set1_ps(bias);
    float row[16];
    for (int a = 0; a < 2; ++a)
        for (int b = 0; b < 2; ++b) {
            const int64_t od = 2 * td + a, oh = 2 * th + b;
            if (od >= g->od || oh >= g->oh)
                continue;
            const float *s0 = h + (a * 8 + b * 4) * tw8, *s1 = s0 + tw8, *s2 = s1 + tw8,
                        *s3 = s2 + tw8;
            float *dst = yc + (od * g->oh + oh) * g->ow;
            for (int64_t i = 0; i < tw8; i += 8) {
                __m256 p = _mm256_loadu_ps(s0 + i), q = _mm256_loadu_ps(s1 + i),
                       r = _mm256_loadu_ps(s2 + i), u = _mm256_loadu_ps(s3 + i);
                __m256 e = _mm256_add_ps(_mm256_add_ps(p, q), r);
                __m256 o = _mm256_sub_ps(_mm256_sub_ps(q, r), u);
                __m256 lo = _mm256_unpacklo_ps(e, o), hi = _mm256_unpackhi_ps(e, o);
                __m256 y0 = _mm256_permute2f128_ps(lo, hi, 0x20);
                __m256 y1 = _mm256_permute2f128_ps(lo, hi, 0x31);
                const int64_t x0 = 2 * i, n = g->ow - x0 < 16 ? g->ow - x0 : 16;
                if (n == 16) {
                    if (beta != 0.0f) {
                        y0 = _mm256_add_ps(_mm256_loadu_ps(dst + x0), y0);
                        y1 = _mm256_add_ps(_mm256_loadu_ps(dst + x0 + 8), y1);
                    } else {
                        y0 = _mm256_add_ps(y0, vb);
                        y1 = _mm256_add_ps(y1, vb);
                    }
                    _mm256_storeu_ps(dst + x0, y0);
                    _mm256_storeu_ps(dst + x0 + 8, y1);
                    continue;
                }
                _mm256_storeu_ps(row, y0);
                _mm256_storeu_ps(row + 8, y1);
                for (int64_t k = 0; k < n; ++k)
                    dst[x0 + k] = beta != 0.0f ? dst[x0 + k] + row[k] : row[k] + bias;
            }
        }
}

/* output_row_avx2 in AVX-512, 16 tiles a vector, for rows of more than 8 tiles (AVX2's vectors
 * hold the shorter ones whole: 16-wide loads of their M rows made the 32 -> 32 layer on
 * 2 x 16x24x16 slower). The depth and height stages of each width offset go straight from M into
 * registers (16 vectors for the width stage: AVX-512 has the registers), with no rows of scratch
 * written and read back; the same additions in the same order (the same values). */
__attribute__((target("avx2,fma,avx512f"))) static void
output_row_avx512(const ds_conv_geom *g, const float *m, int64_t mstride, int64_t td, int64_t th,
                  int64_t tw, float *t, float bias, float beta, float *yc)
{
    if (tw <= 8) {
        output_row_avx2(g, m, mstride, td, th, tw, t, bias, beta, yc);
        return;
    }
    const __m512i lo = _mm512_setr_epi32(0, 16, 1, 17, 2, 18, 3, 19, 4, 20, 5, 21, 6, 22, 7, 23);
    const __m512i hi =
        _mm512_setr_epi32(8, 24, 9, 25, 10, 26, 11, 27, 12, 28, 13, 29, 14, 30, 15, 31);
    const __m512 vb = _mm512_set1_ps(bias);
    for (int64_t i = 0; i < tw; i += 16) {
        __m512 h[2][2][4]; /* [a'][b'][c] */
        for (int c = 0; c < 4; ++c) {
            __m512 d[2][4]; /* [a'][b] */
            for (int b = 0; b < 4; ++b) {
                const float *m0 = m + (b * 4 + c) * mstride + i;
                const __m512 p0 = _mm512_loadu_ps(m0), p1 = _mm512_loadu_ps(m0 + 16 * mstride),
                             p2 = _mm512_loadu_ps(m0 + 32 * mstride),
                             p3 = _mm512_loadu_ps(m0 + 48 * mstride);
                d[0][b] = _mm512_add_ps(_mm512_add_ps(p0, p1), p2);
                d[1][b] = _mm512_sub_ps(_mm512_sub_ps(p1, p2), p3);
            }
            for (int a = 0; a < 2; ++a) {
                h[a][0][c] = _mm512_add_ps(_mm512_add_ps(d[a][0], d[a][1]), d[a][2]);
                h[a][1][c] = _mm512_sub_ps(_mm512_sub_ps(d[a][1], d[a][2]), d[a][3]);
            }
        }
        for (int a = 0; a < 2; ++a)
            for (int b = 0; b < 2; ++b) {
                const int64_t od = 2 * td + a, oh = 2 * th + b;
                if (od >= g->od || oh >= g->oh)
                    continue;
                const __m512 *q = h[a][b];
                const __m512 e = _mm512_add_ps(_mm512_add_ps(q[0], q[1]), q[2]);
                const __m512 o = _mm512_sub_ps(_mm512_sub_ps(q[1], q[2]), q[3]);
                float *dst = yc + (od * g->oh + oh) * g->ow + 2 * i;
                const int64_t left = g->ow - 2 * i;
                __mmask16 m0, m1;
                ds_wino_masks32(left, &m0, &m1);
                __m512 y0 = _mm512_permutex2var_ps(e, lo, o), y1 = _mm512_permutex2var_ps(e, hi, o);
                if (beta != 0.0f) {
                    y0 = _mm512_add_ps(_mm512_maskz_loadu_ps(m0, dst), y0);
                    y1 = _mm512_add_ps(_mm512_maskz_loadu_ps(m1, dst + 16), y1);
                } else {
                    y0 = _mm512_add_ps(y0, vb);
                    y1 = _mm512_add_ps(y1, vb);
                }
                _mm512_mask_storeu_ps(dst, m0, y0);
                _mm512_mask_storeu_ps(dst + 16, m1, y1);
            }
    }
}

/* The 64 products with our AVX-512 kernel (conv_gemm.c). */
__attribute__((target("avx2,fma,avx512f"))) static void
gemm_avx512(const ds_conv_geom *g, const float *u, const float *v, int64_t vx, int64_t ld,
            float *m, int64_t mx, int x0, int x1)
{
    const int64_t ci = g->cin, co = g->cout;
    for (int xi = x0; xi < x1; ++xi)
        ds_conv_gemm_avx512(co, ld, ci, u + xi * ci * co, ci, v + xi * vx, ld, m + xi * mx, ld);
}
#endif

/* The epilogue (NULL: none) on the output rows of tile row r of channel c, just written by the
 * output transform and still in L1; yc and skipc are that channel's planes. */
static inline __attribute__((always_inline)) void
epilogue_rows(const ds_conv_geom *g, const wino_plan *p, const ds_conv_epilogue *e, int64_t c,
              int64_t r, float *yc, const float *skipc)
{
    if (!e)
        return;
    const int64_t td = r / p->th, th = r % p->th;
    for (int64_t z = 2 * td; z < 2 * td + 2 && z < g->od; ++z)
        for (int64_t h = 2 * th; h < 2 * th + 2 && h < g->oh; ++h) {
            const int64_t off = (z * g->oh + h) * g->ow;
            ds_conv_epilogue_run(yc + off, skipc ? skipc + off : NULL, yc + off, g->ow,
                                 e->mean[c], e->scale[c], e->shift[c], e->kind);
        }
}

/* One chunk: tile rows [r0, r1) of sample x -> y. */
static inline __attribute__((always_inline)) void
chunk_body(const ds_conv_geom *g, const wino_plan *p, const float *u, const float *x,
           const float *bias, float beta, float *y, const ds_conv_epilogue *e, const float *skip,
           int64_t r0, int64_t r1, float *slot, ds_wino_input_fn input, wino_gemm_fn gemm,
           wino_output_fn output)
{
    const int64_t tiles = (r1 - r0) * p->tw, ld = ds_wino_round8(tiles), ispat = g->d * g->h * g->w;
    const int64_t ospat = g->od * g->oh * g->ow;
    const int64_t vx = ds_wino_xi_stride(g->cin * ld), mx = ds_wino_xi_stride(g->cout * ld);
    float *v = slot, *m = v + XI * vx, *t = m + XI * mx;
    float *prow = ds_wino_prow(t, p->tw);
    for (int64_t ci = 0; ci < g->cin; ++ci) {
        ds_wino_input_rows(input, g, x + ci * ispat, r0, r1, p->th, p->tw, t, prow, v + ci * ld,
                           vx);
        ds_wino_zero_tail(v, vx, ci, tiles, ld);
    }
    gemm(g, u, v, vx, ld, m, mx, 0, XI);
    for (int64_t co = 0; co < g->cout; ++co)
        for (int64_t r = r0; r < r1; ++r) {
            output(g, m + co * ld + (r - r0) * p->tw, mx, r / p->th, r % p->th, p->tw, t,
                   bias ? bias[co] : 0.0f, beta, y + co * ospat);
            epilogue_rows(g, p, e, co, r, y + co * ospat, skip ? skip + co * ospat : NULL);
        }
}

typedef void (*wino_weight_fn)(const float *w, int64_t o0, int64_t no, int64_t cc, float *u);

/* The whole batch as one chunk shared by the threads (see make_plan): the input transform split
 * over input channels, then blocks of output channels, each one thread's: its weights
 * transformed into U (xi x cb x cin), its 64 products, its output transform. Called by every
 * thread of a parallel region; each value is made by one thread with the same operations as in
 * chunk_body (the products sum each value over cin in order, whatever the rows), so the same
 * values. */
static inline __attribute__((always_inline)) void
shared_body(const ds_conv_geom *g, const wino_plan *p, const float *w, const float *x,
            const float *bias, float beta, float *y, const ds_conv_epilogue *e, float *work,
            ds_wino_input_fn input, wino_weight_fn weight, wino_gemm_fn gemm,
            wino_output_fn output)
{
    const int64_t rows = p->rows, tiles = g->n * rows * p->tw, ld = ds_wino_round8(tiles);
    const int64_t ispat = g->d * g->h * g->w, ospat = g->od * g->oh * g->ow;
    const int64_t vx = ds_wino_xi_stride(g->cin * ld), mx = ds_wino_xi_stride(p->cb * ld);
    float *v = work, *u = v + XI * vx + (int64_t)omp_get_thread_num() * p->bslot;
    float *m = u + XI * p->cb * g->cin, *t = m + XI * mx;
    float *prow = ds_wino_prow(t, p->tw);
#pragma omp for schedule(static)
    for (int64_t ci = 0; ci < g->cin; ++ci) {
        for (int64_t ni = 0; ni < g->n; ++ni)
            ds_wino_input_rows(input, g, x + (ni * g->cin + ci) * ispat, 0, rows, p->th, p->tw, t,
                               prow, v + ci * ld + ni * rows * p->tw, vx);
        ds_wino_zero_tail(v, vx, ci, tiles, ld);
    }
    const int64_t blocks = (g->cout + p->cb - 1) / p->cb;
#pragma omp for schedule(dynamic, 1)
    for (int64_t b = 0; b < blocks; ++b) {
        const int64_t co0 = b * p->cb, nb = min64(p->cb, g->cout - co0), cc = nb * g->cin;
        for (int64_t o0 = 0; o0 < cc; o0 += 64)
            weight(w + co0 * g->cin * 27, o0, min64(64, cc - o0), cc, u);
        ds_conv_geom gb = *g; /* the products of this block's nb rows */
        gb.cout = nb;
        gemm(&gb, u, v, vx, ld, m, mx, 0, XI);
        for (int64_t c = 0; c < nb; ++c)
            for (int64_t ni = 0; ni < g->n; ++ni) {
                const int64_t plane = (ni * g->cout + co0 + c) * ospat;
                for (int64_t r = 0; r < rows; ++r) {
                    output(g, m + c * ld + (ni * rows + r) * p->tw, mx, r / p->th, r % p->th,
                           p->tw, t, bias ? bias[co0 + c] : 0.0f, beta, y + plane);
                    epilogue_rows(g, p, e, co0 + c, r, y + plane,
                                  e && e->skip ? e->skip + plane : NULL);
                }
            }
    }
}

static void shared_portable(const ds_conv_geom *g, const wino_plan *p, const float *w,
                            const float *x, const float *bias, float beta, float *y,
                            const ds_conv_epilogue *e, float *work)
{
    shared_body(g, p, w, x, bias, beta, y, e, work, ds_wino_input_row, weight_block_portable,
                gemm_blas, output_row);
}

#ifdef DS_WINO_AVX2
__attribute__((target("avx2,fma"))) static void
shared_avx2(const ds_conv_geom *g, const wino_plan *p, const float *w, const float *x,
            const float *bias, float beta, float *y, const ds_conv_epilogue *e, float *work)
{
    shared_body(g, p, w, x, bias, beta, y, e, work, ds_wino_input_row_avx2, weight_block_avx2,
                gemm_avx2, output_row_avx2);
}

__attribute__((target("avx2,fma,avx512f"))) static void
shared_avx512(const ds_conv_geom *g, const wino_plan *p, const float *w, const float *x,
              const float *bias, float beta, float *y, const ds_conv_epilogue *e, float *work)
{
    shared_body(g, p, w, x, bias, beta, y, e, work, ds_wino_input_row_avx512,
                weight_block_avx512, gemm_avx512, output_row_avx512);
}
#endif

static void chunk_portable(const ds_conv_geom *g, const wino_plan *p, const float *u,
                           const float *x, const float *bias, float beta, float *y,
                           const ds_conv_epilogue *e, const float *skip, int64_t r0, int64_t r1,
                           float *slot)
{
    chunk_body(g, p, u, x, bias, beta, y, e, skip, r0, r1, slot, ds_wino_input_row, gemm_blas,
               output_row);
}

#ifdef DS_WINO_AVX2
/* The same loops compiled for AVX2, with our own GEMM kernel (OpenBLAS's speed on these small
 * products depends on the core it detects; this one does not). */
__attribute__((target("avx2,fma"))) static void
chunk_avx2(const ds_conv_geom *g, const wino_plan *p, const float *u, const float *x,
           const float *bias, float beta, float *y, const ds_conv_epilogue *e, const float *skip,
           int64_t r0, int64_t r1, float *slot)
{
    chunk_body(g, p, u, x, bias, beta, y, e, skip, r0, r1, slot, ds_wino_input_row_avx2,
               gemm_avx2, output_row_avx2);
}
#endif

#ifdef DS_WINO_AVX2
/* The input transform and the products in AVX-512, where the CPU has it. */
__attribute__((target("avx2,fma,avx512f"))) static void
chunk_avx512(const ds_conv_geom *g, const wino_plan *p, const float *u, const float *x,
             const float *bias, float beta, float *y, const ds_conv_epilogue *e,
             const float *skip, int64_t r0, int64_t r1, float *slot)
{
    chunk_body(g, p, u, x, bias, beta, y, e, skip, r0, r1, slot, ds_wino_input_row_avx512,
               gemm_avx512, output_row_avx512);
}
#endif

/* One kernel of k3 taps reversed (what every build runs but the AVX-512 one for 27 taps). */
static void flip_kernel(const float *src, float *dst, int64_t k3)
{
    for (int64_t r = 0; r < k3; ++r)
        dst[r] = src[k3 - 1 - r];
}

#ifdef DS_WINO_AVX2
/* The 27 taps of a kernel reversed in two permutes: the scalar copy of runtime length was 3 % of
 * the pair's training iteration (a 256 -> 256 layer's weights are 7 MB). dst[j] = src[26 - j]:
 * lanes 0..15 from src[26..11] (indices past 15 take the second vector, src[16..26]), lanes
 * 16..26 from src[10..0]. */
__attribute__((target("avx2,fma,avx512f"))) static void flip_runs27_avx512(const ds_conv_flip *f,
                                                                         int64_t ci)
{
    const __m512i lo = _mm512_setr_epi32(26, 25, 24, 23, 22, 21, 20, 19, 18, 17, 16, 15, 14, 13,
                                         12, 11);
    const __m512i hi = _mm512_setr_epi32(10, 9, 8, 7, 6, 5, 4, 3, 2, 1, 0, 0, 0, 0, 0, 0);
    const __mmask16 eleven = 0x07ff;
    for (int64_t co = 0; co < f->cout; ++co) {
        const float *src = f->w + (co * f->cin + ci) * 27;
        float *dst = f->wt + (ci * f->cout + co) * 27;
        const __m512 a = _mm512_loadu_ps(src), b = _mm512_maskz_loadu_ps(eleven, src + 16);
        _mm512_storeu_ps(dst, _mm512_permutex2var_ps(a, lo, b));
        _mm512_mask_storeu_ps(dst + 16, eleven, _mm512_permutexvar_ps(hi, a));
    }
}
#endif

void ds_conv_flip_weights_team(const ds_conv_flip *f)
{
#ifdef DS_WINO_AVX2
    if (f->k3 == 27 && ds_wino_avx512()) {
#pragma omp for schedule(static)
        for (int64_t ci = 0; ci < f->cin; ++ci)
            flip_runs27_avx512(f, ci);
        return;
    }
#endif
#pragma omp for collapse(2) schedule(static)
    for (int64_t ci = 0; ci < f->cin; ++ci)
        for (int64_t co = 0; co < f->cout; ++co)
            flip_kernel(f->w + (co * f->cin + ci) * f->k3, f->wt + (ci * f->cout + co) * f->k3,
                        f->k3);
}

/* The forward, in one parallel region: the flip of the weights when flip is given (w is then
 * flip->wt), their transform, the products and output transforms. */
static ds_status winograd_forward(ds_ctx *ctx, ds_conv_work *work, const ds_conv_geom *g,
                                  const float *x, const float *w, const ds_conv_flip *flip,
                                  const float *bias, float beta, float *y,
                                  const ds_conv_epilogue *e)
{
    if (e && beta != 0.0f) /* the epilogue needs the final values */
        return ds_fail(ctx, DS_ERR_INTERNAL, "convolution: an epilogue on an accumulation");
    if (!ds_conv_winograd_applicable(g))
        return ds_fail(ctx, DS_ERR_INTERNAL, "convolution: Winograd needs kernel 3, stride 1, "
                                             "padding 1");
    const int nt = ds_ctx_threads(ctx);
    const wino_plan p = make_plan(g, nt);
    DS_TRY(ds_conv_work_reserve(ctx, &work->col, &work->col_cap, (size_t)p.work));
    if (p.shared) {
        void (*shared)(const ds_conv_geom *, const wino_plan *, const float *, const float *,
                       const float *, float, float *, const ds_conv_epilogue *,
                       float *) = shared_portable;
#ifdef DS_WINO_AVX2
        if (ds_wino_avx512())
            shared = shared_avx512;
        else if (ds_wino_avx2())
            shared = shared_avx2;
#endif
#pragma omp parallel num_threads(nt)
        {
            if (flip)
                ds_conv_flip_weights_team(flip);
            shared(g, &p, w, x, bias, beta, y, e, work->col);
        }
        return DS_OK;
    }
    DS_TRY(ds_conv_work_reserve(ctx, &work->wpk, &work->wpk_cap,
                                (size_t)(XI * g->cin * g->cout)));
    float *u = work->wpk, *slots = work->col;
    void (*chunk)(const ds_conv_geom *, const wino_plan *, const float *, const float *,
                  const float *, float, float *, const ds_conv_epilogue *, const float *, int64_t,
                  int64_t, float *) = chunk_portable;
#ifdef DS_WINO_AVX2
    if (ds_wino_avx512())
        chunk = chunk_avx512;
    else if (ds_wino_avx2())
        chunk = chunk_avx2;
#endif
    const int64_t in_sample = g->cin * g->d * g->h * g->w;
    const int64_t out_sample = g->cout * g->od * g->oh * g->ow;
#pragma omp parallel num_threads(nt)
    {
        if (flip)
            ds_conv_flip_weights_team(flip);
        transform_weight_team(g, w, u);
#pragma omp for schedule(dynamic, 1)
        for (int64_t job = 0; job < g->n * p.chunks; ++job) {
            int64_t ni = job / p.chunks, r0 = (job % p.chunks) * p.rpc;
            int64_t r1 = min64(p.rows, r0 + p.rpc);
            chunk(g, &p, u, x + ni * in_sample, bias, beta, y + ni * out_sample, e,
                  e && e->skip ? e->skip + ni * out_sample : NULL, r0, r1,
                  slots + (int64_t)omp_get_thread_num() * p.slot);
        }
    }
    return DS_OK;
}

ds_status ds_conv_winograd_forward(ds_ctx *ctx, ds_conv_work *work, const ds_conv_geom *g,
                                   const float *x, const float *w, const float *bias, float beta,
                                   float *y, const ds_conv_epilogue *e)
{
    return winograd_forward(ctx, work, g, x, w, NULL, bias, beta, y, e);
}

ds_status ds_conv_winograd_forward_flipped(ds_ctx *ctx, ds_conv_work *work,
                                           const ds_conv_geom *g, const float *x,
                                           const ds_conv_flip *flip, float beta, float *y)
{
    return winograd_forward(ctx, work, g, x, flip->wt, flip, NULL, beta, y, NULL);
}

int ds_conv_winograd_products(ds_wino_build build, int64_t cin, int64_t cout, const float *u,
                              const float *v, int64_t ld, float *m)
{
    ds_conv_geom g;
    memset(&g, 0, sizeof g);
    g.cin = cin;
    g.cout = cout;
    if (build == DS_WINO_BUILD_PORTABLE) {
        gemm_blas(&g, u, v, cin * ld, ld, m, cout * ld, 0, XI);
        return 1;
    }
#ifdef DS_WINO_AVX2
    if (build == DS_WINO_BUILD_AVX2 && ds_wino_avx2()) {
        gemm_avx2(&g, u, v, cin * ld, ld, m, cout * ld, 0, XI);
        return 1;
    }
    if (build == DS_WINO_BUILD_AVX512 && ds_wino_avx512()) {
        gemm_avx512(&g, u, v, cin * ld, ld, m, cout * ld, 0, XI);
        return 1;
    }
#endif
    return 0;
}

int ds_conv_winograd_input(ds_wino_build build, const ds_conv_geom *g, const float *xc,
                           int64_t r0, int64_t r1, float *v, int64_t vstride)
{
    ds_wino_input_fn input = build == DS_WINO_BUILD_PORTABLE ? ds_wino_input_row : NULL;
#ifdef DS_WINO_AVX2
    if (build == DS_WINO_BUILD_AVX2 && ds_wino_avx2())
        input = ds_wino_input_row_avx2;
    if (build == DS_WINO_BUILD_AVX512 && ds_wino_avx512())
        input = ds_wino_input_row_avx512;
#endif
    if (!input)
        return 0;
    const int64_t th = (g->oh + 1) / 2, tw = (g->ow + 1) / 2;
    float *t = ds_aligned_alloc((size_t)ds_wino_scratch_floats(tw) * sizeof(float));
    if (!t)
        return -1;
    ds_wino_input_rows(input, g, xc, r0, r1, th, tw, t, ds_wino_prow(t, tw), v, vstride);
    ds_aligned_free(t);
    return 1;
}

int ds_conv_winograd_chosen(const ds_conv_geom *g)
{
    const int decided = ds_wino_decided(g);
    if (decided >= 0)
        return decided;
    /* Measured with bench_winograd (1 thread, CPU time, batch 2, 2026-12-01, Xeon model 207,
     * OpenBLAS's SkylakeX kernels; AVX2 transforms, AVX-512 products): Winograd is 1.2-2.9x
     * faster than the reference kernels, forward and backward-data, on every kernel-3 layer of
     * both networks at both patches except these. */
    if (g->cin < 16 || g->cout < 16)
        return 0; /* 1 -> 16: the direct kernel is 1.6-1.9x faster forward                   */
    if (g->n * g->od * g->oh * g->ow < 128)
        return 0; /* 2 x 2x3x2 voxels at 256 channels: the weight transform costs more (0.2x
                     of split-K; the few-voxel GEMM is 2.9x faster than split-K there);
                     2 x 4x6x4 at 128 channels is 1.3x, and 2.4 ms against 3.8 ms for the
                     few-voxel GEMM (bench_infer's Hippocampus layers, 1 thread) */
    return 1;
}
