/* conv_gemm.c - our own single-thread SGEMM kernels (see conv_gemm.h). */
#include "conv_gemm.h"

#include <stddef.h>

#if defined(__GNUC__) && (defined(__x86_64__) || defined(__i386__)) && !defined(DS_CONV_NO_DIRECT)
#include <immintrin.h>

int ds_conv_gemm_available(void)
{
    return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
}

int ds_conv_gemm_avx512_available(void)
{
    return ds_conv_gemm_available() && __builtin_cpu_supports("avx512f");
}

/* NR rows x NV vectors of 8 columns of C = A B, summed over k in order (one FMA
 * per term, so each value is the same whatever the blocking). NR, NV are
 * constants at every call: the accumulators stay in registers. */
__attribute__((target("avx2,fma"))) static inline __attribute__((always_inline)) void micro(
    const float *a, int64_t lda, const float *b, int64_t ldb, int64_t k, float *c, int64_t ldc,
    const int nr, const int nv, const int add)
{
    __m256 acc[4][3];
    for (int r = 0; r < nr; ++r)
        for (int q = 0; q < nv; ++q)
            acc[r][q] = add ? _mm256_loadu_ps(c + r * ldc + 8 * q) : _mm256_setzero_ps();
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

/* Columns in blocks of 24 (the B panel, k x 24, stays in L1 for the Winograd
 * products), rows in blocks of 4; C = A B, or C += A B when add. */
__attribute__((target("avx2,fma"))) static inline __attribute__((always_inline)) void
gemm_avx2_panel(int64_t m, int64_t n, int64_t k, const float *a, int64_t lda, const float *b,
                int64_t ldb, float *c, int64_t ldc, const int add)
{
    for (int64_t t = 0; t < n;) {
        const int64_t left = n - t;
        const int nv = left >= 24 ? 3 : left >= 16 ? 2 : 1;
        int64_t r = 0;
        for (; r + 4 <= m; r += 4) {
            if (nv == 3)
                micro(a + r * lda, lda, b + t, ldb, k, c + r * ldc + t, ldc, 4, 3, add);
            else if (nv == 2)
                micro(a + r * lda, lda, b + t, ldb, k, c + r * ldc + t, ldc, 4, 2, add);
            else
                micro(a + r * lda, lda, b + t, ldb, k, c + r * ldc + t, ldc, 4, 1, add);
        }
        for (; r < m; ++r) {
            if (nv == 3)
                micro(a + r * lda, lda, b + t, ldb, k, c + r * ldc + t, ldc, 1, 3, add);
            else if (nv == 2)
                micro(a + r * lda, lda, b + t, ldb, k, c + r * ldc + t, ldc, 1, 2, add);
            else
                micro(a + r * lda, lda, b + t, ldb, k, c + r * ldc + t, ldc, 1, 1, add);
        }
        t += 8 * nv;
    }
}

/* Products wider than one block of columns in runs of KC_AVX2 terms of k, so that a B panel
 * (KC x 24) stays in L1 for every block of rows: C is stored after a run and loaded again before
 * the next, which changes no value (the same FMAs in the same order). 64 x 1536 x 864 went from
 * 87 to 149 GFLOP/s, 128 x 1024 x 1728 from 60 to 151 (bench_gemm, AVX-512). Narrower products
 * keep whole rows of A in one pass (in runs, 256 x 24 x 6912 read A as 256 short streams and
 * lost 18 %), and so do products of at most 32 rows, whose panel serves few blocks of rows
 * (32 x 2416 x 432 lost 9 %). */
#define KC_AVX2 256
__attribute__((target("avx2,fma"))) static inline __attribute__((always_inline)) void
gemm_avx2_body(int64_t m, int64_t n, int64_t k, const float *a, int64_t lda, const float *b,
               int64_t ldb, float *c, int64_t ldc, const int add)
{
    if (n <= 24 || m <= 32) {
        gemm_avx2_panel(m, n, k, a, lda, b, ldb, c, ldc, add);
        return;
    }
    for (int64_t k0 = 0; k0 < k || k0 == 0; k0 += KC_AVX2) {
        const int64_t kc = k - k0 < KC_AVX2 ? k - k0 : KC_AVX2;
        if (k0 == 0 && !add)
            gemm_avx2_panel(m, n, kc, a, lda, b, ldb, c, ldc, 0);
        else
            gemm_avx2_panel(m, n, kc, a + k0, lda, b + k0 * ldb, ldb, c, ldc, 1);
    }
}

__attribute__((target("avx2,fma"))) void ds_conv_gemm_avx2(int64_t m, int64_t n, int64_t k,
                                                           const float *a, int64_t lda,
                                                           const float *b, int64_t ldb, float *c,
                                                           int64_t ldc)
{
    gemm_avx2_body(m, n, k, a, lda, b, ldb, c, ldc, 0);
}

__attribute__((target("avx2,fma"))) static void gemm_add_avx2(int64_t m, int64_t n, int64_t k,
                                                              const float *a, int64_t lda,
                                                              const float *b, int64_t ldb,
                                                              float *c, int64_t ldc)
{
    gemm_avx2_body(m, n, k, a, lda, b, ldb, c, ldc, 1);
}

/* micro in AVX-512: NR rows x NV vectors of 16 columns, the last one only its
 * first 8 columns when half (ld is a multiple of 8). The same FMAs in the same
 * order as micro: the same values. */
__attribute__((target("avx2,fma,avx512f"))) static inline __attribute__((always_inline)) void
micro512(const float *a, int64_t lda, const float *b, int64_t ldb, int64_t k, float *c, int64_t ldc,
         const int nr, const int nv, const int half, const int add)
{
    const __mmask16 last = half ? (__mmask16)0x00FF : (__mmask16)0xFFFF;
    __m512 acc[8][3];
    for (int r = 0; r < nr; ++r)
        for (int q = 0; q < nv; ++q)
            acc[r][q] = !add          ? _mm512_setzero_ps()
                        : q == nv - 1 ? _mm512_maskz_loadu_ps(last, c + r * ldc + 16 * q)
                                      : _mm512_loadu_ps(c + r * ldc + 16 * q);
    for (int64_t i = 0; i < k; ++i) {
        const float *br = b + i * ldb;
        __m512 bv[3];
        for (int q = 0; q < nv; ++q)
            bv[q] = q == nv - 1 ? _mm512_maskz_loadu_ps(last, br + 16 * q)
                                : _mm512_loadu_ps(br + 16 * q);
        for (int r = 0; r < nr; ++r) {
            const __m512 w = _mm512_set1_ps(a[r * lda + i]);
            for (int q = 0; q < nv; ++q)
                acc[r][q] = _mm512_fmadd_ps(w, bv[q], acc[r][q]);
        }
    }
    for (int r = 0; r < nr; ++r)
        for (int q = 0; q < nv; ++q) {
            if (q == nv - 1)
                _mm512_mask_storeu_ps(c + r * ldc + 16 * q, last, acc[r][q]);
            else
                _mm512_storeu_ps(c + r * ldc + 16 * q, acc[r][q]);
        }
}

/* The columns of one block (48, 32, 16 or 8 of them) for rows in blocks of 8,
 * then one by one. */
#define GEMM512_ROWS(nv, half)                                                                     \
    do {                                                                                           \
        int64_t r = 0;                                                                             \
        for (; r + 8 <= m; r += 8)                                                                 \
            micro512(a + r * lda, lda, b + t, ldb, k, c + r * ldc + t, ldc, 8, nv, half, add);     \
        for (; r < m; ++r)                                                                         \
            micro512(a + r * lda, lda, b + t, ldb, k, c + r * ldc + t, ldc, 1, nv, half, add);     \
    } while (0)

/* ds_conv_gemm_avx2 with 16-wide vectors: columns in blocks of 48 (the B panel,
 * k x 48, stays in L1 for k <= 128), rows in blocks of 8 (24 accumulators). */
__attribute__((target("avx2,fma,avx512f"))) static inline __attribute__((always_inline)) void
gemm_avx512_panel(int64_t m, int64_t n, int64_t k, const float *a, int64_t lda, const float *b,
                  int64_t ldb, float *c, int64_t ldc, const int add)
{
    for (int64_t t = 0; t < n;) {
        const int64_t left = n - t;
        if (left >= 48) {
            GEMM512_ROWS(3, 0);
            t += 48;
        } else if (left == 40) {
            GEMM512_ROWS(3, 1);
            t += 40;
        } else if (left >= 32) {
            GEMM512_ROWS(2, 0);
            t += 32;
        } else if (left == 24) {
            GEMM512_ROWS(2, 1);
            t += 24;
        } else if (left >= 16) {
            GEMM512_ROWS(1, 0);
            t += 16;
        } else {
            GEMM512_ROWS(1, 1);
            t += 8;
        }
    }
}
#undef GEMM512_ROWS

/* gemm_avx2_body's runs of k for the AVX-512 panels (KC x 48). */
#define KC_AVX512 128
__attribute__((target("avx2,fma,avx512f"))) static inline __attribute__((always_inline)) void
gemm_avx512_body(int64_t m, int64_t n, int64_t k, const float *a, int64_t lda, const float *b,
                 int64_t ldb, float *c, int64_t ldc, const int add)
{
    if (n <= 48 || m <= 32) {
        gemm_avx512_panel(m, n, k, a, lda, b, ldb, c, ldc, add);
        return;
    }
    for (int64_t k0 = 0; k0 < k || k0 == 0; k0 += KC_AVX512) {
        const int64_t kc = k - k0 < KC_AVX512 ? k - k0 : KC_AVX512;
        if (k0 == 0 && !add)
            gemm_avx512_panel(m, n, kc, a, lda, b, ldb, c, ldc, 0);
        else
            gemm_avx512_panel(m, n, kc, a + k0, lda, b + k0 * ldb, ldb, c, ldc, 1);
    }
}

__attribute__((target("avx2,fma,avx512f"))) void ds_conv_gemm_avx512(int64_t m, int64_t n,
                                                                     int64_t k, const float *a,
                                                                     int64_t lda, const float *b,
                                                                     int64_t ldb, float *c,
                                                                     int64_t ldc)
{
    gemm_avx512_body(m, n, k, a, lda, b, ldb, c, ldc, 0);
}

__attribute__((target("avx2,fma,avx512f"))) static void
gemm_add_avx512(int64_t m, int64_t n, int64_t k, const float *a, int64_t lda, const float *b,
                int64_t ldb, float *c, int64_t ldc)
{
    gemm_avx512_body(m, n, k, a, lda, b, ldb, c, ldc, 1);
}

void ds_conv_gemm(int64_t m, int64_t n, int64_t k, const float *a, int64_t lda, const float *b,
                  int64_t ldb, float *c, int64_t ldc)
{
    if (ds_conv_gemm_avx512_available())
        ds_conv_gemm_avx512(m, n, k, a, lda, b, ldb, c, ldc);
    else
        ds_conv_gemm_avx2(m, n, k, a, lda, b, ldb, c, ldc);
}

void ds_conv_gemm_add(int64_t m, int64_t n, int64_t k, const float *a, int64_t lda,
                      const float *b, int64_t ldb, float *c, int64_t ldc)
{
    if (ds_conv_gemm_avx512_available())
        gemm_add_avx512(m, n, k, a, lda, b, ldb, c, ldc);
    else
        gemm_add_avx2(m, n, k, a, lda, b, ldb, c, ldc);
}

#else

int ds_conv_gemm_available(void) { return 0; }
int ds_conv_gemm_avx512_available(void) { return 0; }

/* Never called without the kernels (callers check ds_conv_gemm_available). */
void ds_conv_gemm_avx2(int64_t m, int64_t n, int64_t k, const float *a, int64_t lda, const float *b,
                       int64_t ldb, float *c, int64_t ldc)
{
    (void)m, (void)n, (void)k, (void)a, (void)lda, (void)b, (void)ldb, (void)c, (void)ldc;
}
void ds_conv_gemm_avx512(int64_t m, int64_t n, int64_t k, const float *a, int64_t lda,
                         const float *b, int64_t ldb, float *c, int64_t ldc)
{
    (void)m, (void)n, (void)k, (void)a, (void)lda, (void)b, (void)ldb, (void)c, (void)ldc;
}
void ds_conv_gemm(int64_t m, int64_t n, int64_t k, const float *a, int64_t lda, const float *b,
                  int64_t ldb, float *c, int64_t ldc)
{
    (void)m, (void)n, (void)k, (void)a, (void)lda, (void)b, (void)ldb, (void)c, (void)ldc;
}
void ds_conv_gemm_add(int64_t m, int64_t n, int64_t k, const float *a, int64_t lda,
                      const float *b, int64_t ldb, float *c, int64_t ldc)
{
    (void)m, (void)n, (void)k, (void)a, (void)lda, (void)b, (void)ldb, (void)c, (void)ldc;
}
#endif
