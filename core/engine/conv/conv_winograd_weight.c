/* conv_winograd_weight.c - Winograd F(2x2x2, 3x3x3) backward-weights (see conv_core.h).
 *
 * The adjoint of the forward (conv_winograd.c): the upstream gradient of each output tile goes
 * through A (dM = A dy A^T on the three axes), then for each of the 64 xi
 * dU[xi] (cout x cin) += dM[xi] (cout x T) V[xi]^T (T x cin) over chunks of T tiles, and finally
 * dw += G^T dU G. Most layers take the parts path (below): a fixed partition of the tile rows,
 * each part one thread's, with partial dU summed in part order. The others share chunks: the
 * chunks run one after another in a fixed order; inside a chunk the threads share the
 * transforms (by channel) and then the 64 products (by xi: each dU[xi] has one owner). Either
 * way every dU entry sums its terms in the same order for every thread count. The products are
 * our GEMM kernel on V[xi]^T where cin is a multiple of 8, else dot products over the tiles.
 */
#include <cblas.h>
#include <omp.h>

#include "conv_gemm.h"
#include "conv_winograd.h"

/* V and dM together, shared by the threads of a chunk (8 MiB). */
#define WINO_W_CHUNK_FLOATS (2 * DS_CONV_TILE_FLOATS)

static int64_t min64(int64_t a, int64_t b) { return a < b ? a : b; }
static int64_t max64(int64_t a, int64_t b) { return a > b ? a : b; }

/* dM[xi][co][t0 + tw] for tile row (td, th) of the gradient plane dyc: A = [1 0; 1 1; 1 -1; 0 -1]
 * on each axis (positions past the output read zeros). t: 48 rows of tw; prow: 2 tw floats. */
static inline __attribute__((always_inline)) void
dy_row(const ds_conv_geom *g, const float *dyc, int64_t td, int64_t th, int64_t tw, float *t,
       float *prow, float *dm, int64_t stride)
{
    for (int i = 0; i < 2; ++i)
        for (int j = 0; j < 2; ++j) {
            float *r = t + (i * 2 + j) * 4 * tw;
            int64_t od = 2 * td + i, oh = 2 * th + j;
            /* a row past the output goes through the additions as zeros, as in the vector
             * builds (-e1 is then -0.0f: the builds agree bit for bit) */
            int64_t have = od < g->od && oh < g->oh ? g->ow : 0;
            if (have)
                memcpy(prow, dyc + (od * g->oh + oh) * g->ow, (size_t)have * sizeof(float));
            for (int64_t k = have; k < 2 * tw; ++k)
                prow[k] = 0.0f;
            for (int64_t q = 0; q < tw; ++q) {
                float e0 = prow[2 * q], e1 = prow[2 * q + 1];
                r[q] = e0;
                r[tw + q] = e0 + e1;
                r[2 * tw + q] = e0 - e1;
                r[3 * tw + q] = -e1;
            }
        }
    float *h = t + 16 * tw; /* [i][b][c] */
    for (int i = 0; i < 2; ++i)
        for (int c = 0; c < 4; ++c) {
            const float *s0 = t + (i * 8 + c) * tw, *s1 = s0 + 4 * tw;
            float *o = h + (i * 16 + c) * tw;
            for (int64_t q = 0; q < tw; ++q) {
                o[q] = s0[q];
                o[4 * tw + q] = s0[q] + s1[q];
                o[8 * tw + q] = s0[q] - s1[q];
                o[12 * tw + q] = -s1[q];
            }
        }
    for (int bc = 0; bc < 16; ++bc) {
        const float *s0 = h + bc * tw, *s1 = s0 + 16 * tw;
        for (int64_t q = 0; q < tw; ++q) {
            dm[bc * stride + q] = s0[q];
            dm[(16 + bc) * stride + q] = s0[q] + s1[q];
            dm[(32 + bc) * stride + q] = s0[q] - s1[q];
            dm[(48 + bc) * stride + q] = -s1[q];
        }
    }
}

/* The transform of one tile row of a gradient plane into dM (dy_row or a vector build). */
typedef void (*wino_dy_fn)(const ds_conv_geom *g, const float *dyc, int64_t td, int64_t th,
                           int64_t tw, float *t, float *prow, float *dm, int64_t stride);

static void dy_row_portable(const ds_conv_geom *g, const float *dyc, int64_t td, int64_t th,
                            int64_t tw, float *t, float *prow, float *dm, int64_t stride)
{
    dy_row(g, dyc, td, th, tw, t, prow, dm, stride);
}

#ifdef DS_WINO_AVX2
/* dy_row in AVX2, 8 tiles to a vector, as dy_row_avx512 below (the same additions in the same
 * order, so the same values): on a CPU without AVX-512 the scalar loops took 7.6 % of the pair's
 * training iteration at the Hippocampus patch (AMD EPYC, 1 thread, perf). */
__attribute__((target("avx2,fma"))) static void
dy_row_avx2(const ds_conv_geom *g, const float *dyc, int64_t td, int64_t th, int64_t tw, float *t,
            float *prow, float *dm, int64_t stride)
{
    (void)t, (void)prow;
    const __m256 sign = _mm256_set1_ps(-0.0f);
    for (int64_t q = 0; q < tw; q += 8) {
        __m256 e0[2][2], e1[2][2]; /* [i][j]: dy[2 q'] and dy[2 q' + 1] of output row (i, j) */
        for (int i = 0; i < 2; ++i)
            for (int j = 0; j < 2; ++j) {
                const int64_t od = 2 * td + i, oh = 2 * th + j;
                if (od >= g->od || oh >= g->oh) {
                    e0[i][j] = e1[i][j] = _mm256_setzero_ps();
                    continue;
                }
                const float *row = dyc + (od * g->oh + oh) * g->ow;
                ds_wino_deinterleave(ds_wino_load_row(row, 2 * q, g->ow),
                                     ds_wino_load_row(row, 2 * q + 8, g->ow), &e0[i][j],
                                     &e1[i][j]);
            }
        const int full = tw - q >= 8;
        const __m256i keep = ds_wino_mask(tw - q);
        for (int c = 0; c < 4; ++c) {
            __m256 w[2][2];
            for (int i = 0; i < 2; ++i)
                for (int j = 0; j < 2; ++j)
                    w[i][j] = c == 0   ? e0[i][j]
                              : c == 1 ? _mm256_add_ps(e0[i][j], e1[i][j])
                              : c == 2 ? _mm256_sub_ps(e0[i][j], e1[i][j])
                                       : _mm256_xor_ps(e1[i][j], sign);
            for (int b = 0; b < 4; ++b) {
                __m256 h[2];
                for (int i = 0; i < 2; ++i)
                    h[i] = b == 0   ? w[i][0]
                           : b == 1 ? _mm256_add_ps(w[i][0], w[i][1])
                           : b == 2 ? _mm256_sub_ps(w[i][0], w[i][1])
                                    : _mm256_xor_ps(w[i][1], sign);
                const __m256 o[4] = {h[0], _mm256_add_ps(h[0], h[1]), _mm256_sub_ps(h[0], h[1]),
                                     _mm256_xor_ps(h[1], sign)};
                for (int a = 0; a < 4; ++a) {
                    float *dst = dm + (a * 16 + b * 4 + c) * stride + q;
                    if (full)
                        _mm256_storeu_ps(dst, o[a]);
                    else
                        _mm256_maskstore_ps(dst, keep, o[a]);
                }
            }
        }
    }
}

/* dy_row in AVX-512, 16 tiles to a vector, everything in registers: the even and odd values of
 * each of the four output rows from two masked loads, then the same additions in the same order
 * (the same values). The scalar loops took 5.6 % of a training iteration. */
__attribute__((target("avx2,fma,avx512f"))) static void
dy_row_avx512(const ds_conv_geom *g, const float *dyc, int64_t td, int64_t th, int64_t tw,
              float *t, float *prow, float *dm, int64_t stride)
{
    (void)t, (void)prow;
    const __m512i even =
        _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
    const __m512i odd =
        _mm512_setr_epi32(1, 3, 5, 7, 9, 11, 13, 15, 17, 19, 21, 23, 25, 27, 29, 31);
    const __m512 zero = _mm512_setzero_ps();
    const __m512i sign = _mm512_set1_epi32((int)0x80000000u);
#define DS_NEG(v) _mm512_castsi512_ps(_mm512_xor_si512(_mm512_castps_si512(v), sign))
    for (int64_t q = 0; q < tw; q += 16) {
        __m512 e0[2][2], e1[2][2]; /* [i][j]: dy[2 q'] and dy[2 q' + 1] of output row (i, j) */
        for (int i = 0; i < 2; ++i)
            for (int j = 0; j < 2; ++j) {
                const int64_t od = 2 * td + i, oh = 2 * th + j;
                if (od >= g->od || oh >= g->oh) {
                    e0[i][j] = e1[i][j] = zero;
                    continue;
                }
                const float *row = dyc + (od * g->oh + oh) * g->ow + 2 * q;
                const int64_t left = g->ow - 2 * q;
                __mmask16 m0, m1;
                ds_wino_masks32(left, &m0, &m1);
                const __m512 l0 = _mm512_maskz_loadu_ps(m0, row),
                             l1 = _mm512_maskz_loadu_ps(m1, row + 16);
                e0[i][j] = _mm512_permutex2var_ps(l0, even, l1);
                e1[i][j] = _mm512_permutex2var_ps(l0, odd, l1);
            }
        const __mmask16 keep =
            tw - q >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << (tw - q)) - 1u);
        for (int c = 0; c < 4; ++c) {
            __m512 w[2][2];
            for (int i = 0; i < 2; ++i)
                for (int j = 0; j < 2; ++j)
                    w[i][j] = c == 0   ? e0[i][j]
                              : c == 1 ? _mm512_add_ps(e0[i][j], e1[i][j])
                              : c == 2 ? _mm512_sub_ps(e0[i][j], e1[i][j])
                                       : DS_NEG(e1[i][j]);
            for (int b = 0; b < 4; ++b) {
                __m512 h[2];
                for (int i = 0; i < 2; ++i)
                    h[i] = b == 0   ? w[i][0]
                           : b == 1 ? _mm512_add_ps(w[i][0], w[i][1])
                           : b == 2 ? _mm512_sub_ps(w[i][0], w[i][1])
                                    : DS_NEG(w[i][1]);
                const __m512 o[4] = {h[0], _mm512_add_ps(h[0], h[1]), _mm512_sub_ps(h[0], h[1]),
                                     DS_NEG(h[1])};
                for (int a = 0; a < 4; ++a)
                    _mm512_mask_storeu_ps(dm + (a * 16 + b * 4 + c) * stride + q, keep, o[a]);
            }
        }
    }
#undef DS_NEG
}
#endif

/* dU[xi] += dM[xi] V[xi]^T for one xi: cout x ld times (cin x ld)^T. */
typedef void (*wino_wgemm_fn)(int64_t cout, int64_t cin, const float *dm, const float *v,
                              int64_t ld, float *du);

static void wgemm_blas(int64_t cout, int64_t cin, const float *dm, const float *v, int64_t ld,
                       float *du)
{
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)cout, (int)cin, (int)ld, 1.0f, dm,
                (int)ld, v, (int)ld, 1.0f, du, (int)cin);
}

#ifdef DS_WINO_AVX2
__attribute__((target("avx2,fma"))) static inline __attribute__((always_inline)) float
hsum(__m256 v)
{
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_shuffle_ps(s, s, 1));
    return _mm_cvtss_f32(s);
}

/* NR rows of dM against NC rows of V: NR x NC dot products over ld (a multiple of 8), lanes
 * summed in a fixed order, added into du. */
__attribute__((target("avx2,fma"))) static inline __attribute__((always_inline)) void
dots(const float *a, const float *b, int64_t ld, float *du, int64_t ldu, const int nr,
     const int nc)
{
    __m256 acc[4][3];
    for (int r = 0; r < nr; ++r)
        for (int c = 0; c < nc; ++c)
            acc[r][c] = _mm256_setzero_ps();
    for (int64_t t = 0; t < ld; t += 8) {
        __m256 bv[3];
        for (int c = 0; c < nc; ++c)
            bv[c] = _mm256_loadu_ps(b + c * ld + t);
        for (int r = 0; r < nr; ++r) {
            __m256 av = _mm256_loadu_ps(a + r * ld + t);
            for (int c = 0; c < nc; ++c)
                acc[r][c] = _mm256_fmadd_ps(av, bv[c], acc[r][c]);
        }
    }
    for (int r = 0; r < nr; ++r)
        for (int c = 0; c < nc; ++c)
            du[r * ldu + c] += hsum(acc[r][c]);
}

__attribute__((target("avx2,fma"))) static void wgemm_avx2(int64_t cout, int64_t cin,
                                                           const float *dm, const float *v,
                                                           int64_t ld, float *du)
{
    int64_t r = 0;
    for (; r < cout; r += 4) {
        const int four = r + 4 <= cout;
        int64_t c = 0;
        for (; c + 3 <= cin; c += 3) {
            if (four)
                dots(dm + r * ld, v + c * ld, ld, du + r * cin + c, cin, 4, 3);
            else
                for (int64_t q = r; q < cout; ++q)
                    dots(dm + q * ld, v + c * ld, ld, du + q * cin + c, cin, 1, 3);
        }
        for (; c < cin; ++c) {
            if (four)
                dots(dm + r * ld, v + c * ld, ld, du + r * cin + c, cin, 4, 1);
            else
                for (int64_t q = r; q < cout; ++q)
                    dots(dm + q * ld, v + c * ld, ld, du + q * cin + c, cin, 1, 1);
        }
    }
}

/* dots in AVX-512: 4 x 4 dot products, 16 lanes (the last 8 of ld masked), each reduced by
 * _mm512_reduce_add_ps. A fixed order, but not dots' one: the builds differ in rounding. */
__attribute__((target("avx2,fma,avx512f"))) static inline __attribute__((always_inline)) void
dots512(const float *a, const float *b, int64_t ld, float *du, int64_t ldu, const int nr,
        const int nc)
{
    __m512 acc[4][4];
    for (int r = 0; r < nr; ++r)
        for (int c = 0; c < nc; ++c)
            acc[r][c] = _mm512_setzero_ps();
    int64_t t = 0;
    for (; t + 16 <= ld; t += 16) {
        __m512 bv[4];
        for (int c = 0; c < nc; ++c)
            bv[c] = _mm512_loadu_ps(b + c * ld + t);
        for (int r = 0; r < nr; ++r) {
            const __m512 av = _mm512_loadu_ps(a + r * ld + t);
            for (int c = 0; c < nc; ++c)
                acc[r][c] = _mm512_fmadd_ps(av, bv[c], acc[r][c]);
        }
    }
    if (t < ld) { /* ld is a multiple of 8: the last 8 */
        const __mmask16 m = (__mmask16)0x00FF;
        __m512 bv[4];
        for (int c = 0; c < nc; ++c)
            bv[c] = _mm512_maskz_loadu_ps(m, b + c * ld + t);
        for (int r = 0; r < nr; ++r) {
            const __m512 av = _mm512_maskz_loadu_ps(m, a + r * ld + t);
            for (int c = 0; c < nc; ++c)
                acc[r][c] = _mm512_fmadd_ps(av, bv[c], acc[r][c]);
        }
    }
    for (int r = 0; r < nr; ++r)
        for (int c = 0; c < nc; ++c)
            du[r * ldu + c] += _mm512_reduce_add_ps(acc[r][c]);
}

/* wgemm_avx2 with dots512 (4 x 4 blocks: 8 loads feed 16 FMAs). */
__attribute__((target("avx2,fma,avx512f"))) static void
wgemm_avx512(int64_t cout, int64_t cin, const float *dm, const float *v, int64_t ld, float *du)
{
    for (int64_t r = 0; r < cout; r += 4) {
        const int four = r + 4 <= cout;
        int64_t c = 0;
        for (; c + 4 <= cin; c += 4) {
            if (four)
                dots512(dm + r * ld, v + c * ld, ld, du + r * cin + c, cin, 4, 4);
            else
                for (int64_t q = r; q < cout; ++q)
                    dots512(dm + q * ld, v + c * ld, ld, du + q * cin + c, cin, 1, 4);
        }
        for (; c < cin; ++c) {
            if (four)
                dots512(dm + r * ld, v + c * ld, ld, du + r * cin + c, cin, 4, 1);
            else
                for (int64_t q = r; q < cout; ++q)
                    dots512(dm + q * ld, v + c * ld, ld, du + q * cin + c, cin, 1, 1);
        }
    }
}
#endif

#ifdef DS_WINO_AVX2
/* vt (ld x cin) = v^T for v (cin x ld), both multiples of 8: 8 x 8 blocks through registers. */
__attribute__((target("avx2,fma"))) static void transpose_v(const float *v, int64_t cin, int64_t ld, float *vt)
{
    for (int64_t t0 = 0; t0 < ld; t0 += 8)
        for (int64_t c0 = 0; c0 < cin; c0 += 8) {
            __m256 r[8], s[8], u[8];
            for (int i = 0; i < 8; ++i)
                r[i] = _mm256_loadu_ps(v + (c0 + i) * ld + t0);
            for (int i = 0; i < 8; i += 2) {
                s[i] = _mm256_unpacklo_ps(r[i], r[i + 1]);
                s[i + 1] = _mm256_unpackhi_ps(r[i], r[i + 1]);
            }
            for (int h = 0; h < 8; h += 4) { /* rows h .. h + 3: columns j (low), j + 4 (high) */
                u[h] = _mm256_shuffle_ps(s[h], s[h + 2], 0x44);
                u[h + 1] = _mm256_shuffle_ps(s[h], s[h + 2], 0xEE);
                u[h + 2] = _mm256_shuffle_ps(s[h + 1], s[h + 3], 0x44);
                u[h + 3] = _mm256_shuffle_ps(s[h + 1], s[h + 3], 0xEE);
            }
            for (int j = 0; j < 4; ++j) {
                _mm256_storeu_ps(vt + (t0 + j) * cin + c0, _mm256_permute2f128_ps(u[j], u[j + 4], 0x20));
                _mm256_storeu_ps(vt + (t0 + j + 4) * cin + c0,
                                 _mm256_permute2f128_ps(u[j], u[j + 4], 0x31));
            }
        }
}

#endif

/* dw[co][ci] += G^T dU[.][co][ci] G on the three axes
 * (G^T = [1 .5 .5 0; 0 .5 -.5 0; 0 .5 .5 1]). */
/* An orphaned worksharing loop: the team of the region of the products shares it. */
static void adjoint_weight_team(const ds_conv_geom *g, const float *du, float *dw)
{
    const int64_t cc = g->cin * g->cout;
#pragma omp for schedule(static)
    for (int64_t o = 0; o < cc; ++o) {
        float u[4][4][4], a[4][4][3], b[4][3][3];
        for (int xi = 0; xi < XI; ++xi)
            (&u[0][0][0])[xi] = du[xi * cc + o];
        for (int i = 0; i < 4; ++i)
            for (int j = 0; j < 4; ++j) {
                const float *r = u[i][j];
                a[i][j][0] = r[0] + 0.5f * (r[1] + r[2]);
                a[i][j][1] = 0.5f * (r[1] - r[2]);
                a[i][j][2] = 0.5f * (r[1] + r[2]) + r[3];
            }
        for (int i = 0; i < 4; ++i)
            for (int l = 0; l < 3; ++l) {
                b[i][0][l] = a[i][0][l] + 0.5f * (a[i][1][l] + a[i][2][l]);
                b[i][1][l] = 0.5f * (a[i][1][l] - a[i][2][l]);
                b[i][2][l] = 0.5f * (a[i][1][l] + a[i][2][l]) + a[i][3][l];
            }
        float *k = dw + o * 27;
        for (int j = 0; j < 3; ++j)
            for (int l = 0; l < 3; ++l) {
                k[(0 * 3 + j) * 3 + l] += b[0][j][l] + 0.5f * (b[1][j][l] + b[2][j][l]);
                k[(1 * 3 + j) * 3 + l] += 0.5f * (b[1][j][l] - b[2][j][l]);
                k[(2 * 3 + j) * 3 + l] += 0.5f * (b[1][j][l] + b[2][j][l]) + b[3][j][l];
            }
    }
}

typedef struct wchunk {
    int64_t th, tw, rows, rpc; /* tiles per row and column, tile rows, tile rows per chunk */
} wchunk;

/* The chunks of a sample's tile rows for V and dM of at most `floats` (but min_tiles tiles). */
static wchunk weight_plan(const ds_conv_geom *g, int64_t floats, int64_t min_tiles)
{
    wchunk p;
    p.th = (g->oh + 1) / 2;
    p.tw = (g->ow + 1) / 2;
    p.rows = (g->od + 1) / 2 * p.th;
    int64_t tiles = max64(floats / (XI * (g->cin + g->cout)), min_tiles);
    p.rpc = min64(max64(tiles / p.tw, 1), p.rows);
    return p;
}

/* Transforms of tile rows [r0, r1) of sample ni (V from x, dM from dy), then the 64 products. */
static inline __attribute__((always_inline)) void
chunk_weight(const ds_conv_geom *g, const wchunk *p, const float *x, const float *dy, int64_t r0,
             int64_t r1, float *v, float *dm, float *scratch, int64_t sslot, float *du,
             ds_wino_input_fn input, wino_dy_fn dyrow, wino_wgemm_fn gemm, const int transposed)
{
    const int64_t tiles = (r1 - r0) * p->tw, ld = ds_wino_round8(tiles);
    const int64_t ispat = g->d * g->h * g->w, ospat = g->od * g->oh * g->ow;
    const int64_t vx = ds_wino_xi_stride(g->cin * ld), mx = ds_wino_xi_stride(g->cout * ld);
    float *t = scratch + (int64_t)omp_get_thread_num() * sslot, *prow = ds_wino_prow(t, p->tw);
#pragma omp for schedule(static)
    for (int64_t ci = 0; ci < g->cin; ++ci) {
        ds_wino_input_rows(input, g, x + ci * ispat, r0, r1, p->th, p->tw, t, prow, v + ci * ld,
                           vx);
        ds_wino_zero_tail(v, vx, ci, tiles, ld);
    }
#pragma omp for schedule(static)
    for (int64_t co = 0; co < g->cout; ++co) {
        for (int64_t r = r0; r < r1; ++r)
            dyrow(g, dy + co * ospat, r / p->th, r % p->th, p->tw, t, prow,
                  dm + co * ld + (r - r0) * p->tw, mx);
        ds_wino_zero_tail(dm, mx, co, tiles, ld);
    }
    (void)transposed; /* no GEMM kernel in the DS_CONV_NO_DIRECT build */
#pragma omp for schedule(dynamic, 1)
    for (int xi = 0; xi < XI; ++xi) {
#ifdef DS_WINO_AVX2
        if (transposed) { /* as in the parts path below: V[xi]^T, then our GEMM kernel */
            float *vt = t + ds_wino_scratch_floats(p->tw);
            transpose_v(v + xi * vx, g->cin, ld, vt);
            ds_conv_gemm_add(g->cout, g->cin, tiles, dm + xi * mx, ld, vt, g->cin,
                             du + xi * g->cin * g->cout, g->cin);
            continue;
        }
#endif
        gemm(g->cout, g->cin, dm + xi * mx, v + xi * vx, ld, du + xi * g->cin * g->cout);
    }
}

/* One chunk in each build (transposed: the products through V[xi]^T and our GEMM kernel, cin a
 * multiple of 8, V[xi]^T after each thread's transform scratch in its slot). */
typedef void (*wino_run_fn)(const ds_conv_geom *g, const wchunk *p, const float *x,
                            const float *dy, int64_t r0, int64_t r1, float *v, float *dm,
                            float *scratch, int64_t sslot, float *du, int transposed);

static void run_portable(const ds_conv_geom *g, const wchunk *p, const float *x, const float *dy,
                         int64_t r0, int64_t r1, float *v, float *dm, float *scratch,
                         int64_t sslot, float *du, int transposed)
{
    (void)transposed;
    chunk_weight(g, p, x, dy, r0, r1, v, dm, scratch, sslot, du, ds_wino_input_row,
                 dy_row_portable, wgemm_blas, 0);
}

#ifdef DS_WINO_AVX2
__attribute__((target("avx2,fma"))) static void
run_avx2(const ds_conv_geom *g, const wchunk *p, const float *x, const float *dy, int64_t r0,
         int64_t r1, float *v, float *dm, float *scratch, int64_t sslot, float *du, int transposed)
{
    chunk_weight(g, p, x, dy, r0, r1, v, dm, scratch, sslot, du, ds_wino_input_row_avx2,
                 dy_row_avx2, wgemm_avx2, transposed);
}

/* The transforms and the products in AVX-512, where the CPU has it (the same transformed
 * values; the dot products round differently, our GEMM kernel the same). */
__attribute__((target("avx2,fma,avx512f"))) static void
run_avx512(const ds_conv_geom *g, const wchunk *p, const float *x, const float *dy, int64_t r0,
           int64_t r1, float *v, float *dm, float *scratch, int64_t sslot, float *du,
           int transposed)
{
    chunk_weight(g, p, x, dy, r0, r1, v, dm, scratch, sslot, du, ds_wino_input_row_avx512,
                 dy_row_avx512, wgemm_avx512, transposed);
}
#endif

/* ---- The parts path: every thread on chunks of its own ----
 * The shared chunks above stream V and dM (up to 8 MiB) through the L3 cache, half of them
 * written by the other core, and reduce each dot product at the end of a chunk: at 16 -> 16 on
 * the Hippocampus patch backward-weights took 2.8x the forward's time for the same products.
 * Here the batch's tile rows are cut into a fixed number of parts, a function of the shape
 * alone (so every thread count gives the same bits); a part is one thread's, in chunks of
 * about 1 MiB that stay in its L2 cache, with its own partial dU (the partials are summed in
 * part order before the adjoint). Within a chunk, V[xi] is transposed (tiles x cin, through the L1 cache) so
 * that dU[xi] += dM[xi] V[xi]^T is an ordinary product over the tiles for our GEMM kernel:
 * outer products into dU's own accumulators, no reductions. Each dU entry sums its part's
 * tiles in order. */
#define WINO_W_PART_CHUNK_FLOATS (256 * 1024) /* V and dM of one chunk: 1 MiB  */
#define WINO_W_PARTS_MAX 16                   /* at most 16 threads busy      */
#define WINO_W_PARTS_FLOATS (2 * 1024 * 1024) /* all partial dU: at most 8 MiB */
#define WINO_W_PART_TILES 64                  /* a part's least tiles         */
#define WINO_W_PARTS_MIN 2 /* one part: the shared chunks keep the threads busy */

/* The parts of the layer's backward-weights (0: the shared chunks instead): where our GEMM
 * kernel runs, cin is a multiple of 8 (its column vectors), and at least WINO_W_PARTS_MIN parts
 * of WINO_W_PART_TILES tiles and their partial dU fit. */
static int64_t weight_parts(const ds_conv_geom *g, wchunk *plan)
{
#ifdef DS_WINO_AVX2
    if (!ds_wino_avx2() || !ds_conv_gemm_available() || g->cin % 8 != 0)
        return 0;
    const wchunk p = *plan = weight_plan(g, WINO_W_PART_CHUNK_FLOATS, 16);
    const int64_t rows = g->n * p.rows, tiles = rows * p.tw;
    int64_t parts = min64(WINO_W_PARTS_MAX, WINO_W_PARTS_FLOATS / (XI * g->cin * g->cout));
    parts = min64(min64(parts, tiles / WINO_W_PART_TILES), rows);
    return parts >= WINO_W_PARTS_MIN ? parts : 0;
#else
    (void)g, (void)plan;
    return 0;
#endif
}

#ifdef DS_WINO_AVX2
/* A thread's chunk buffers: V, dM, V[xi]^T, the transform scratch (floats, whole vectors). */
static int64_t part_slot_floats(const ds_conv_geom *g, const wchunk *p)
{
    const int64_t ld = ds_wino_round8(p->rpc * p->tw);
    return (XI * ds_wino_xi_stride(g->cin * ld) + XI * ds_wino_xi_stride(g->cout * ld) +
            ld * g->cin + ds_wino_scratch_floats(p->tw) + 15) & ~(int64_t)15;
}

/* The batch's tile rows [a, b) (sample-major) into du (64 x cout x cin, overwritten), in chunks
 * of at most p->rpc rows of one sample. */
static inline __attribute__((always_inline)) void
part_weight(const ds_conv_geom *g, const wchunk *p, const float *x, const float *dy, int64_t a,
            int64_t b, float *buf, float *du, ds_wino_input_fn input, wino_dy_fn dyrow)
{
    const int64_t ispat = g->d * g->h * g->w, ospat = g->od * g->oh * g->ow;
    const int64_t cc = g->cin * g->cout, ldmax = ds_wino_round8(p->rpc * p->tw);
    float *v = buf, *dm = v + XI * ds_wino_xi_stride(g->cin * ldmax);
    float *vt = dm + XI * ds_wino_xi_stride(g->cout * ldmax), *t = vt + ldmax * g->cin;
    float *prow = ds_wino_prow(t, p->tw);
    if (a >= b) /* an empty part (the plan makes none) */
        memset(du, 0, (size_t)(XI * cc) * sizeof(float));
    for (int64_t r = a; r < b;) {
        const int64_t ni = r / p->rows, r0 = r % p->rows;
        const int64_t r1 = min64(min64(p->rows, r0 + p->rpc), r0 + (b - r));
        const int64_t tiles = (r1 - r0) * p->tw, ld = ds_wino_round8(tiles);
        const int64_t vx = ds_wino_xi_stride(g->cin * ld), mx = ds_wino_xi_stride(g->cout * ld);
        const float *xs = x + ni * g->cin * ispat, *dys = dy + ni * g->cout * ospat;
        for (int64_t ci = 0; ci < g->cin; ++ci) {
            ds_wino_input_rows(input, g, xs + ci * ispat, r0, r1, p->th, p->tw, t, prow,
                               v + ci * ld, vx);
            ds_wino_zero_tail(v, vx, ci, tiles, ld);
        }
        for (int64_t co = 0; co < g->cout; ++co)
            for (int64_t q = r0; q < r1; ++q)
                dyrow(g, dys + co * ospat, q / p->th, q % p->th, p->tw, t, prow,
                      dm + co * ld + (q - r0) * p->tw, mx);
        /* The first chunk writes du (accumulators from zero, as the add's from a zeroed du:
         * the same bits, without a pass zeroing 64 x cin x cout floats per part). */
        void (*product)(int64_t, int64_t, int64_t, const float *, int64_t, const float *,
                        int64_t, float *, int64_t) = r == a ? ds_conv_gemm : ds_conv_gemm_add;
        for (int xi = 0; xi < XI; ++xi) {
            transpose_v(v + xi * vx, g->cin, ld, vt);
            product(g->cout, g->cin, tiles, dm + xi * mx, ld, vt, g->cin, du + xi * cc, g->cin);
        }
        r += r1 - r0;
    }
}

typedef void (*wino_part_fn)(const ds_conv_geom *g, const wchunk *p, const float *x,
                             const float *dy, int64_t a, int64_t b, float *buf, float *du);

__attribute__((target("avx2,fma"))) static void
part_avx2(const ds_conv_geom *g, const wchunk *p, const float *x, const float *dy, int64_t a,
          int64_t b, float *buf, float *du)
{
    part_weight(g, p, x, dy, a, b, buf, du, ds_wino_input_row_avx2, dy_row_avx2);
}

__attribute__((target("avx2,fma,avx512f"))) static void
part_avx512(const ds_conv_geom *g, const wchunk *p, const float *x, const float *dy, int64_t a,
            int64_t b, float *buf, float *du)
{
    part_weight(g, p, x, dy, a, b, buf, du, ds_wino_input_row_avx512, dy_row_avx512);
}

static ds_status backward_weight_parts(ds_ctx *ctx, ds_conv_work *work, const ds_conv_geom *g,
                                       const float *x, const float *dy, float *dw,
                                       const wchunk *plan, int64_t parts)
{
    const wchunk p = *plan;
    const int nt = (int)min64(ds_ctx_threads(ctx), parts);
    const int64_t slot = part_slot_floats(g, &p), dus = XI * g->cin * g->cout;
    DS_TRY(ds_conv_work_reserve(ctx, &work->col, &work->col_cap, (size_t)(slot * nt)));
    DS_TRY(ds_conv_work_reserve(ctx, &work->part, &work->part_cap, (size_t)(parts * dus)));
    const wino_part_fn run = ds_wino_avx512() ? part_avx512 : part_avx2;
    const int64_t rows = g->n * p.rows;
    float *col = work->col, *du = work->part;
    /* one region: the parts, their sum, the adjoint (the loops' barriers order them) */
#pragma omp parallel num_threads(nt)
    {
#pragma omp for schedule(dynamic, 1)
        for (int64_t q = 0; q < parts; ++q)
            run(g, &p, x, dy, q * rows / parts, (q + 1) * rows / parts,
                col + (int64_t)omp_get_thread_num() * slot, du + q * dus);
        /* the parts' sum into the first (du0 + (du1 + du2 + ...)), before the adjoint: the
         * adjoint reads the 64 xi of an entry cin x cout floats apart, and reading 64 x parts
         * such rows at once (1024 at 16 parts) missed the L1 cache on every entry (32 -> 32 at
         * 16 parts: 7.2 ms, not 4.1) */
        ds_conv_add_partials_team(du + dus, parts - 1, dus, du);
        adjoint_weight_team(g, du, dw);
    }
    return DS_OK;
}
#else
static ds_status backward_weight_parts(ds_ctx *ctx, ds_conv_work *work, const ds_conv_geom *g,
                                       const float *x, const float *dy, float *dw,
                                       const wchunk *plan, int64_t parts)
{
    (void)work, (void)g, (void)x, (void)dy, (void)dw, (void)plan, (void)parts;
    return ds_fail(ctx, DS_ERR_INTERNAL, "convolution: no parts path in this build");
}
#endif

int ds_conv_winograd_dy(ds_wino_build build, const ds_conv_geom *g, const float *dyc, int64_t r0,
                        int64_t r1, float *dm, int64_t stride)
{
    wino_dy_fn dyrow = build == DS_WINO_BUILD_PORTABLE ? dy_row_portable : NULL;
#ifdef DS_WINO_AVX2
    if (build == DS_WINO_BUILD_AVX2 && ds_wino_avx2())
        dyrow = dy_row_avx2;
    if (build == DS_WINO_BUILD_AVX512 && ds_wino_avx512())
        dyrow = dy_row_avx512;
#endif
    if (!dyrow)
        return 0;
    const int64_t th = (g->oh + 1) / 2, tw = (g->ow + 1) / 2;
    float *t = ds_aligned_alloc((size_t)ds_wino_scratch_floats(tw) * sizeof(float));
    if (!t)
        return -1;
    for (int64_t r = r0; r < r1; ++r)
        dyrow(g, dyc, r / th, r % th, tw, t, ds_wino_prow(t, tw), dm + (r - r0) * tw, stride);
    ds_aligned_free(t);
    return 1;
}

ds_status ds_conv_winograd_backward_weight(ds_ctx *ctx, ds_conv_work *work, const ds_conv_geom *g,
                                           const float *x, const float *dy, float *dw)
{
    if (!ds_conv_winograd_applicable(g))
        return ds_fail(ctx, DS_ERR_INTERNAL, "convolution: Winograd needs kernel 3, stride 1, "
                                             "padding 1");
    wchunk p;
    const int64_t parts = weight_parts(g, &p);
    if (parts > 0)
        return backward_weight_parts(ctx, work, g, x, dy, dw, &p, parts);
    const int nt = ds_ctx_threads(ctx);
    p = weight_plan(g, WINO_W_CHUNK_FLOATS, 64);
    /* the products through V[xi]^T and our GEMM kernel where they can run (cin a multiple of
     * 8), as in the parts path (V[xi]^T after each thread's transform scratch): bench_winograd,
     * 2 threads, batch 4: 128 -> 128 on 4x6x4 6.0 -> 2.7 ms, 256 -> 256 on 2x3x2 22.7 -> 6.5,
     * on 7x7x5 25.4 -> 14.9 (the dots' reductions dominated those short chunks) */
    const int gemm = ds_wino_avx2() && ds_conv_gemm_available() && g->cin % 8 == 0;
    const int64_t ld = ds_wino_round8(p.rpc * p.tw);
    const int64_t sslot = ds_wino_scratch_floats(p.tw) + (gemm ? ld * g->cin : 0);
    const int64_t vf = XI * ds_wino_xi_stride(g->cin * ld);
    const int64_t mf = XI * ds_wino_xi_stride(g->cout * ld);
    DS_TRY(ds_conv_work_reserve(ctx, &work->col, &work->col_cap, (size_t)(vf + mf + sslot * nt)));
    DS_TRY(ds_conv_work_reserve(ctx, &work->part, &work->part_cap,
                                (size_t)(XI * g->cin * g->cout)));
    float *v = work->col, *dm = v + vf, *scratch = dm + mf, *du = work->part;
    memset(du, 0, (size_t)(XI * g->cin * g->cout) * sizeof(float));
    wino_run_fn run = run_portable;
#ifdef DS_WINO_AVX2
    if (ds_wino_avx512())
        run = run_avx512;
    else if (ds_wino_avx2())
        run = run_avx2;
#endif
    const int64_t in_sample = g->cin * g->d * g->h * g->w;
    const int64_t out_sample = g->cout * g->od * g->oh * g->ow;
#pragma omp parallel num_threads(nt)
    {
        for (int64_t ni = 0; ni < g->n; ++ni)
            for (int64_t r0 = 0; r0 < p.rows; r0 += p.rpc)
                run(g, &p, x + ni * in_sample, dy + ni * out_sample, r0,
                    min64(p.rows, r0 + p.rpc), v, dm, scratch, sslot, du, gemm);
        adjoint_weight_team(g, du, dw);
    }
    return DS_OK;
}

int ds_conv_winograd_weight_chosen(const ds_conv_geom *g)
{
    const int decided = ds_wino_decided(g);
    if (decided >= 0)
        return decided;
    /* Measured with bench_winograd (1 thread, CPU time, batch 4, 2026-12-01, Xeon model 207,
     * OpenBLAS's SkylakeX kernels): 1.2-1.8x faster than the reference kernels on large volumes
     * and from 32 x 32 channels on; slower for the 1 -> 16 layer (0.1x) and small volumes. With
     * the AVX-512 products and dM transform (session 5, the same machine, 1 thread, the layer
     * alone): 16 -> 16 on 4 x 32x48x32 28-30 ms against 49-54 for the direct kernel, and
     * 0.78-0.86 ms against 1.8-2.1 (lowered SGEMM) on 4 x 8x12x8; 128 -> 128 on 4 x 4x6x4 still
     * 11 ms against 6 (its products are dot products 48 tiles long: their reductions dominate). */
    const int64_t voxels = g->n * g->od * g->oh * g->ow;
    if (g->cin < 16 || g->cout < 16 || voxels < 1024)
        return 0; /* 4 x 4x6x4 at 128 channels: 0.55x; 4 x 7x7x5 at 256: 0.64x             */
    return 1; /* 32 -> 32: 1.76x on 4 x 16x24x16, 1.59x on 4 x 56x56x40 (before session 5) */
}
