/* conv_winograd.h - private: what the Winograd forward (conv_winograd.c) and backward-weights
 * (conv_winograd_weight.c) share: the input transform of a row of tiles. */
#ifndef DS_CONV_WINOGRAD_H
#define DS_CONV_WINOGRAD_H

#include <stdint.h>
#include <string.h>

#include "conv_core.h"

#if defined(__GNUC__) && (defined(__x86_64__) || defined(__i386__)) && !defined(DS_CONV_NO_DIRECT)
#define DS_WINO_AVX2 1
#endif

#define XI 64 /* transformed values per tile: 4 x 4 x 4 */

/* Whether the layer's choice decides (0: no Winograd, 1: Winograd) or leaves it to the rule (-1). */
static inline int ds_wino_decided(const ds_conv_geom *g)
{
    if (!ds_conv_winograd_applicable(g))
        return 0;
    if (g->algo != DS_CONV_ALGO_AUTO)
        return g->algo == DS_CONV_ALGO_WINOGRAD;
    return -1;
}

/* Whether the AVX2 + FMA builds of the loops can run here. */
static inline int ds_wino_avx2(void)
{
#ifdef DS_WINO_AVX2
    return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
#else
    return 0;
#endif
}

/* Whether the AVX-512 build of the products can run here (the CPU and the operating system). */
static inline int ds_wino_avx512(void)
{
#ifdef DS_WINO_AVX2
    return ds_wino_avx2() && __builtin_cpu_supports("avx512f");
#else
    return 0;
#endif
}

/* Rows of V and M hold a chunk's tiles rounded up to whole vectors of 8 (zeros past them). */
static inline int64_t ds_wino_round8(int64_t v) { return (v + 7) & ~(int64_t)7; }

/* Floats between consecutive xi in V and M for blocks of n floats: an odd multiple of 16, so
 * that the 64 rows a transform writes or reads (one per xi) fall in 64 different sets of the L1
 * cache; at a multiple of 4 KiB (16 channels x 64 tiles) they would all share one set. */
static inline int64_t ds_wino_xi_stride(int64_t n)
{
    const int64_t s = (n + 15) & ~(int64_t)15;
    return (s / 16) % 2 ? s : s + 16;
}

/* Rows of a thread's transform scratch: round16(tw) floats, whole vectors for every build. */
static inline int64_t ds_wino_round16(int64_t v) { return (v + 15) & ~(int64_t)15; }

/* A thread's transform scratch for tile rows of tw tiles: 64 rows of round16(tw) floats, then a
 * padded input row (ds_wino_prow). */
static inline int64_t ds_wino_scratch_floats(int64_t tw)
{
    return (XI * ds_wino_round16(tw) + 2 * ds_wino_round8(tw) + 32 + 15) & ~(int64_t)15;
}
static inline float *ds_wino_prow(float *t, int64_t tw) { return t + XI * ds_wino_round16(tw); }

/* Whether the call before, on this thread and this channel plane, transformed tile row
 * (td, th - 1): its width-transformed input rows 2 th - 1 and 2 th are still in the scratch, and
 * the vector builds take them instead of transforming them again (half the width stage). */
typedef enum ds_wino_row_order {
    DS_WINO_ROW_FRESH, /* the scratch holds nothing of this plane  */
    DS_WINO_ROW_NEXT   /* the call before was tile row (td, th - 1) */
} ds_wino_row_order;

/* The input transform of one tile row (ds_wino_input_row or, where the CPU has them, its AVX2
 * and AVX-512 builds: the same additions in the same order, so the same values). */
typedef void (*ds_wino_input_fn)(const ds_conv_geom *g, const float *xc, int64_t td, int64_t th,
                                 int64_t tw, ds_wino_row_order order, float *t, float *prow,
                                 float *v, int64_t vstride);

/* Zeros in the columns [tiles, ld) of row `row` of the 64 blocks of V or dM (xi stride xs): the
 * products read whole vectors of 8 columns. */
static inline void ds_wino_zero_tail(float *v, int64_t xs, int64_t row, int64_t tiles, int64_t ld)
{
    for (int xi = 0; xi < XI && ld > tiles; ++xi)
        memset(v + xi * xs + row * ld + tiles, 0, (size_t)(ld - tiles) * sizeof(float));
}

/* The input transform of tile rows [r0, r1) of channel plane xc (th tile rows per depth), into V
 * at v (tw tiles per row, one after another; vstride floats between xi). */
static inline __attribute__((always_inline)) void
ds_wino_input_rows(ds_wino_input_fn input, const ds_conv_geom *g, const float *xc, int64_t r0,
                   int64_t r1, int64_t th, int64_t tw, float *t, float *prow, float *v,
                   int64_t vstride)
{
    for (int64_t r = r0; r < r1; ++r)
        input(g, xc, r / th, r % th, tw,
              r > r0 && r % th != 0 ? DS_WINO_ROW_NEXT : DS_WINO_ROW_FRESH, t, prow,
              v + (r - r0) * tw, vstride);
}

/* B^T = [1 0 -1 0; 0 1 1 0; 0 -1 1 0; 0 1 0 -1] on four rows of n values, in place. */
static inline __attribute__((always_inline)) void ds_wino_bt4(float *r0, float *r1, float *r2,
                                                              float *r3, int64_t n)
{
    for (int64_t i = 0; i < n; ++i) {
        float a = r0[i], b = r1[i], c = r2[i], d = r3[i];
        r0[i] = a - c;
        r1[i] = b + c;
        r2[i] = c - b;
        r3[i] = b - d;
    }
}

/* V[xi][ci][t0 + tw] for the tiles of tile row (td, th) of channel plane xc; t holds 64 rows of
 * tw values ([a][b][c] = depth, height, width offset in the patch), prow a padded input row.
 * vstride = floats between consecutive xi in V. */
static inline void
ds_wino_input_row(const ds_conv_geom *g, const float *xc, int64_t td, int64_t th, int64_t tw,
                  ds_wino_row_order order, float *t, float *prow, float *v, int64_t vstride)
{
    (void)order; /* the reference transforms every row */
    for (int a = 0; a < 4; ++a)
        for (int b = 0; b < 4; ++b) {
            float *r = t + (a * 4 + b) * 4 * tw;
            int64_t id = 2 * td - 1 + a, ih = 2 * th - 1 + b;
            if (id < 0 || id >= g->d || ih < 0 || ih >= g->h) {
                memset(r, 0, (size_t)(4 * tw) * sizeof(float));
                continue;
            }
            /* prow[j] = x[j - 1], zeros outside [0, w): the patch of tile i starts at 2i. */
            prow[0] = 0.0f;
            memcpy(prow + 1, xc + (id * g->h + ih) * g->w, (size_t)g->w * sizeof(float));
            for (int64_t j = g->w + 1; j < 2 * tw + 2; ++j)
                prow[j] = 0.0f;
            float *r0 = r, *r1 = r + tw, *r2 = r + 2 * tw, *r3 = r + 3 * tw;
            for (int64_t i = 0; i < tw; ++i) {
                float p0 = prow[2 * i], p1 = prow[2 * i + 1], p2 = prow[2 * i + 2],
                      p3 = prow[2 * i + 3];
                r0[i] = p0 - p2;
                r1[i] = p1 + p2;
                r2[i] = p2 - p1;
                r3[i] = p1 - p3;
            }
        }
    for (int a = 0; a < 4; ++a)
        for (int c = 0; c < 4; ++c) {
            float *base = t + (a * 16 + c) * tw;
            ds_wino_bt4(base, base + 4 * tw, base + 8 * tw, base + 12 * tw, tw);
        }
    for (int bc = 0; bc < 16; ++bc) {
        float *base = t + bc * tw;
        ds_wino_bt4(base, base + 16 * tw, base + 32 * tw, base + 48 * tw, tw);
    }
    for (int xi = 0; xi < XI; ++xi)
        memcpy(v + xi * vstride, t + xi * tw, (size_t)tw * sizeof(float));
}

#ifdef DS_WINO_AVX2
#include <immintrin.h>

/* The even and the odd elements of the 16 floats a, b: [a0 a2 .. b6] and [a1 a3 .. b7]. */
__attribute__((target("avx2,fma"))) static inline __attribute__((always_inline)) void
ds_wino_deinterleave(__m256 a, __m256 b, __m256 *even, __m256 *odd)
{
    *even = _mm256_castpd_ps(_mm256_permute4x64_pd(
        _mm256_castps_pd(_mm256_shuffle_ps(a, b, _MM_SHUFFLE(2, 0, 2, 0))), 0xD8));
    *odd = _mm256_castpd_ps(_mm256_permute4x64_pd(
        _mm256_castps_pd(_mm256_shuffle_ps(a, b, _MM_SHUFFLE(3, 1, 3, 1))), 0xD8));
}

/* Lanes [0, n) set, for the stores of a partial vector. */
__attribute__((target("avx2,fma"))) static inline __attribute__((always_inline)) __m256i
ds_wino_mask(int64_t n)
{
    const __m256i lanes = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
    return _mm256_cmpgt_epi32(_mm256_set1_epi32((int)n), lanes);
}

/* x[j0 .. j0 + 8), zeros where the index is outside [0, w): a masked load reads nothing there. */
__attribute__((target("avx2,fma"))) static inline __attribute__((always_inline)) __m256
ds_wino_load_row(const float *x, int64_t j0, int64_t w)
{
    if (j0 >= 0 && j0 + 8 <= w)
        return _mm256_loadu_ps(x + j0);
    const __m256i j = _mm256_add_epi32(_mm256_set1_epi32((int)j0),
                                       _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
    const __m256i inside = _mm256_andnot_si256(_mm256_cmpgt_epi32(_mm256_setzero_si256(), j),
                                               _mm256_cmpgt_epi32(_mm256_set1_epi32((int)w), j));
    return _mm256_maskload_ps((const float *)((uintptr_t)x + (uintptr_t)(j0 * 4)), inside);
}

/* The width stage rows of input row ih hold 4 rows of n floats at t + (a * 4 + (ih & 3)) * 4 n:
 * the four input rows of a tile row take four different slots, and the next tile row (two rows
 * further) finds the two it shares with this one where they are. */
static inline int64_t ds_wino_slot(int64_t th, int b, int64_t n)
{
    return ((2 * th - 1 + b) & 3) * 4 * n;
}

/* ds_wino_input_row in AVX2: the width transform of 8 tiles from 16 + 2 consecutive inputs
 * (masked loads at the row's ends read the zero padding), rows of round16(tw) floats in t, the
 * last axis written straight into V. prow is not used. */
__attribute__((target("avx2,fma"))) static void
ds_wino_input_row_avx2(const ds_conv_geom *g, const float *xc, int64_t td, int64_t th, int64_t tw,
                       ds_wino_row_order order, float *t, float *prow, float *v, int64_t vstride)
{
    (void)prow;
    const int64_t tw8 = ds_wino_round8(tw), n = ds_wino_round16(tw);
    for (int a = 0; a < 4; ++a)
        for (int b = order == DS_WINO_ROW_NEXT ? 2 : 0; b < 4; ++b) {
            float *r = t + a * 16 * n + ds_wino_slot(th, b, n);
            const int64_t id = 2 * td - 1 + a, ih = 2 * th - 1 + b;
            if (id < 0 || id >= g->d || ih < 0 || ih >= g->h) {
                memset(r, 0, (size_t)(4 * n) * sizeof(float));
                continue;
            }
            const float *x = xc + (id * g->h + ih) * g->w;
            for (int64_t i0 = 0; i0 < tw8; i0 += 8) {
                /* the inputs of tiles i0 .. i0 + 7: x[2 i0 - 1 + k], k < 18 */
                const int64_t j = 2 * i0 - 1;
                __m256 p0, p1, p2, p3;
                ds_wino_deinterleave(ds_wino_load_row(x, j, g->w), ds_wino_load_row(x, j + 8, g->w),
                                     &p0, &p1);
                ds_wino_deinterleave(ds_wino_load_row(x, j + 2, g->w),
                                     ds_wino_load_row(x, j + 10, g->w), &p2, &p3);
                _mm256_storeu_ps(r + i0, _mm256_sub_ps(p0, p2));
                _mm256_storeu_ps(r + n + i0, _mm256_add_ps(p1, p2));
                _mm256_storeu_ps(r + 2 * n + i0, _mm256_sub_ps(p2, p1));
                _mm256_storeu_ps(r + 3 * n + i0, _mm256_sub_ps(p1, p3));
            }
        }
    /* height then depth, for each width offset c and 8 tiles at a time in registers */
    const int64_t sl[4] = {ds_wino_slot(th, 0, n), ds_wino_slot(th, 1, n), ds_wino_slot(th, 2, n),
                           ds_wino_slot(th, 3, n)};
    const __m256i tail = ds_wino_mask(tw - (tw8 - 8));
    for (int c = 0; c < 4; ++c)
        for (int64_t i = 0; i < tw8; i += 8) {
            __m256 q[4][4]; /* [a][b] */
            for (int a = 0; a < 4; ++a) {
                const float *s = t + a * 16 * n + c * n + i;
                __m256 p0 = _mm256_loadu_ps(s + sl[0]), p1 = _mm256_loadu_ps(s + sl[1]),
                       p2 = _mm256_loadu_ps(s + sl[2]), p3 = _mm256_loadu_ps(s + sl[3]);
                q[a][0] = _mm256_sub_ps(p0, p2);
                q[a][1] = _mm256_add_ps(p1, p2);
                q[a][2] = _mm256_sub_ps(p2, p1);
                q[a][3] = _mm256_sub_ps(p1, p3);
            }
            for (int b = 0; b < 4; ++b) {
                const __m256 e[4] = {
                    _mm256_sub_ps(q[0][b], q[2][b]), _mm256_add_ps(q[1][b], q[2][b]),
                    _mm256_sub_ps(q[2][b], q[1][b]), _mm256_sub_ps(q[1][b], q[3][b])};
                for (int a = 0; a < 4; ++a) {
                    float *dst = v + (a * 16 + b * 4 + c) * vstride + i;
                    if (i + 8 <= tw)
                        _mm256_storeu_ps(dst, e[a]);
                    else /* the row's last tiles: what follows them in V stays as it is */
                        _mm256_maskstore_ps(dst, tail, e[a]);
                }
            }
        }
}

/* The lanes of the first `left` floats of a run of two vectors of 16 (all when left >= 32, none
 * of the second when left <= 16). */
static inline void ds_wino_masks32(int64_t left, __mmask16 *m0, __mmask16 *m1)
{
    *m0 = left >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << left) - 1u);
    *m1 = left >= 32   ? (__mmask16)0xFFFF
          : left <= 16 ? (__mmask16)0
                       : (__mmask16)((1u << (left - 16)) - 1u);
}

/* x[j0 .. j0 + 16), zeros where the index is outside [0, w) (masked lanes read nothing). */
__attribute__((target("avx2,fma,avx512f"))) static inline __attribute__((always_inline)) __m512
ds_wino_load_row512(const float *x, int64_t j0, int64_t w)
{
    if (j0 >= 0 && j0 + 16 <= w)
        return _mm512_loadu_ps(x + j0);
    const int64_t lo = j0 < 0 ? -j0 : 0, hi = w - j0 < 16 ? w - j0 : 16;
    const __mmask16 inside =
        lo >= hi ? 0 : (__mmask16)(((1u << hi) - 1u) & ~((1u << lo) - 1u));
    return _mm512_maskz_loadu_ps(inside, (const float *)((uintptr_t)x + (uintptr_t)(j0 * 4)));
}

/* ds_wino_input_row_avx2 with 16 tiles to a vector (the same additions in the same order). A row
 * of at most 8 tiles (most layers: 8 at 16 x 16 output planes, 6 at 12, 2 at 4) would fill half
 * a vector: its width stage rows are 8 floats apart instead, so that the height and depth stages
 * take two width offsets c in one vector (lanes 8-15: c + 1), two passes instead of four. */
__attribute__((target("avx2,fma,avx512f"))) static inline __attribute__((always_inline)) void
wino_input_row512(const ds_conv_geom *g, const float *xc, int64_t td, int64_t th, int64_t tw,
                  ds_wino_row_order order, float *t, float *v, int64_t vstride, const int narrow)
{
    const int64_t n = narrow ? 8 : ds_wino_round16(tw);
    const __m512i even = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
    const __m512i odd = _mm512_setr_epi32(1, 3, 5, 7, 9, 11, 13, 15, 17, 19, 21, 23, 25, 27, 29, 31);
    for (int a = 0; a < 4; ++a)
        for (int b = order == DS_WINO_ROW_NEXT ? 2 : 0; b < 4; ++b) {
            float *r = t + a * 16 * n + ds_wino_slot(th, b, n);
            const int64_t id = 2 * td - 1 + a, ih = 2 * th - 1 + b;
            if (id < 0 || id >= g->d || ih < 0 || ih >= g->h) {
                memset(r, 0, (size_t)(4 * n) * sizeof(float));
                continue;
            }
            const float *x = xc + (id * g->h + ih) * g->w;
            for (int64_t i0 = 0; i0 < n; i0 += 16) {
                /* the inputs of tiles i0 .. i0 + 15: x[j - 1 + k], k < 34, j = 2 i0, from two
                 * loads that start inside the row (j < w) and the two values at the ends */
                const int64_t j = 2 * i0;
                const __m512 l0 = ds_wino_load_row512(x, j, g->w),
                             l1 = ds_wino_load_row512(x, j + 16, g->w);
                const __m512 before = _mm512_set1_ps(j > 0 ? x[j - 1] : 0.0f),
                             after = _mm512_set1_ps(j + 32 < g->w ? x[j + 32] : 0.0f);
                const __m512 p1 = _mm512_permutex2var_ps(l0, even, l1), /* x[j + 2i]     */
                    p2 = _mm512_permutex2var_ps(l0, odd, l1),           /* x[j + 2i + 1] */
                    p0 = _mm512_castsi512_ps(_mm512_alignr_epi32(       /* x[j + 2i - 1] */
                        _mm512_castps_si512(p2), _mm512_castps_si512(before), 15)),
                    p3 = _mm512_castsi512_ps(_mm512_alignr_epi32(       /* x[j + 2i + 2] */
                        _mm512_castps_si512(after), _mm512_castps_si512(p1), 1));
                const __m512 w0 = _mm512_sub_ps(p0, p2), w1 = _mm512_add_ps(p1, p2),
                             w2 = _mm512_sub_ps(p2, p1), w3 = _mm512_sub_ps(p1, p3);
                if (narrow) { /* rows c, c + 1 in one vector each: the loads below match them */
                    _mm512_storeu_ps(r, _mm512_shuffle_f32x4(w0, w1, _MM_SHUFFLE(1, 0, 1, 0)));
                    _mm512_storeu_ps(r + 2 * n,
                                     _mm512_shuffle_f32x4(w2, w3, _MM_SHUFFLE(1, 0, 1, 0)));
                    continue;
                }
                _mm512_storeu_ps(r + i0, w0);
                _mm512_storeu_ps(r + n + i0, w1);
                _mm512_storeu_ps(r + 2 * n + i0, w2);
                _mm512_storeu_ps(r + 3 * n + i0, w3);
            }
        }
    const int64_t sl[4] = {ds_wino_slot(th, 0, n), ds_wino_slot(th, 1, n), ds_wino_slot(th, 2, n),
                           ds_wino_slot(th, 3, n)};
    if (narrow) {
        /* lanes 0-7: offset c, tiles 0 .. tw - 1; lanes 8-15: offset c + 1 (the next row of t),
         * stored into the row of xi + 1 */
        const __mmask16 lo = (__mmask16)((1u << tw) - 1u), hi = (__mmask16)(lo << 8);
        for (int c = 0; c < 4; c += 2) {
            __m512 q[4][4]; /* [a][b] */
            for (int a = 0; a < 4; ++a) {
                const float *s = t + a * 16 * n + c * n;
                __m512 p0 = _mm512_loadu_ps(s + sl[0]), p1 = _mm512_loadu_ps(s + sl[1]),
                       p2 = _mm512_loadu_ps(s + sl[2]), p3 = _mm512_loadu_ps(s + sl[3]);
                q[a][0] = _mm512_sub_ps(p0, p2);
                q[a][1] = _mm512_add_ps(p1, p2);
                q[a][2] = _mm512_sub_ps(p2, p1);
                q[a][3] = _mm512_sub_ps(p1, p3);
            }
            for (int b = 0; b < 4; ++b) {
                const __m512 e[4] = {
                    _mm512_sub_ps(q[0][b], q[2][b]), _mm512_add_ps(q[1][b], q[2][b]),
                    _mm512_sub_ps(q[2][b], q[1][b]), _mm512_sub_ps(q[1][b], q[3][b])};
                for (int a = 0; a < 4; ++a) {
                    float *dst = v + (a * 16 + b * 4 + c) * vstride;
                    _mm512_mask_storeu_ps(dst, lo, e[a]);
                    _mm512_mask_storeu_ps(dst + vstride - 8, hi, e[a]);
                }
            }
        }
        return;
    }
    for (int c = 0; c < 4; ++c)
        for (int64_t i = 0; i < tw; i += 16) {
            /* the row's last tiles: what follows them in V stays as it is */
            const __mmask16 keep = tw - i >= 16 ? (__mmask16)0xFFFF
                                                : (__mmask16)((1u << (tw - i)) - 1u);
            __m512 q[4][4]; /* [a][b] */
            for (int a = 0; a < 4; ++a) {
                const float *s = t + a * 16 * n + c * n + i;
                __m512 p0 = _mm512_loadu_ps(s + sl[0]), p1 = _mm512_loadu_ps(s + sl[1]),
                       p2 = _mm512_loadu_ps(s + sl[2]), p3 = _mm512_loadu_ps(s + sl[3]);
                q[a][0] = _mm512_sub_ps(p0, p2);
                q[a][1] = _mm512_add_ps(p1, p2);
                q[a][2] = _mm512_sub_ps(p2, p1);
                q[a][3] = _mm512_sub_ps(p1, p3);
            }
            for (int b = 0; b < 4; ++b) {
                const __m512 e[4] = {
                    _mm512_sub_ps(q[0][b], q[2][b]), _mm512_add_ps(q[1][b], q[2][b]),
                    _mm512_sub_ps(q[2][b], q[1][b]), _mm512_sub_ps(q[1][b], q[3][b])};
                for (int a = 0; a < 4; ++a)
                    _mm512_mask_storeu_ps(v + (a * 16 + b * 4 + c) * vstride + i, keep, e[a]);
            }
        }
}

/* The two layouts compiled apart (one loop body for both made the wide one 8 % slower). */
__attribute__((target("avx2,fma,avx512f"))) static void
ds_wino_input_row_avx512(const ds_conv_geom *g, const float *xc, int64_t td, int64_t th,
                         int64_t tw, ds_wino_row_order order, float *t, float *prow, float *v,
                         int64_t vstride)
{
    (void)prow;
    if (tw <= 8)
        wino_input_row512(g, xc, td, th, tw, order, t, v, vstride, 1);
    else
        wino_input_row512(g, xc, td, th, tw, order, t, v, vstride, 0);
}
#endif

#endif /* DS_CONV_WINOGRAD_H */
