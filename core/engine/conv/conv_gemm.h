/* conv_gemm.h - private: our own single-thread SGEMM kernels (conv_gemm.c), for the products
 * OpenBLAS makes slowly here: the Winograd forward's 64 small products, the deep layers with few
 * output voxels, whose weights OpenBLAS would pack for a product only a few columns wide, and the
 * lowered backward-weights (a transposed product summed over tiles).
 *
 * C (m x n, ldc) = A (m x k, lda) B (k x n, ldb), n a multiple of 8. Each value of C is summed
 * over k in order, one FMA per term, whatever the blocking: the AVX2 and the AVX-512 builds give
 * the same values. Only where ds_conv_gemm_available() (the AVX-512 build where
 * ds_conv_gemm_avx512_available()); never in the DS_CONV_NO_DIRECT build. */
#ifndef DS_CONV_GEMM_H
#define DS_CONV_GEMM_H

#include <stdint.h>

int ds_conv_gemm_available(void);
int ds_conv_gemm_avx512_available(void);
void ds_conv_gemm_avx2(int64_t m, int64_t n, int64_t k, const float *a, int64_t lda,
                       const float *b, int64_t ldb, float *c, int64_t ldc);
void ds_conv_gemm_avx512(int64_t m, int64_t n, int64_t k, const float *a, int64_t lda,
                         const float *b, int64_t ldb, float *c, int64_t ldc);
/* The faster of the two that runs here. */
void ds_conv_gemm(int64_t m, int64_t n, int64_t k, const float *a, int64_t lda, const float *b,
                  int64_t ldb, float *c, int64_t ldc);
/* C += A B (each value: C's, then the terms over k in order), the faster build that runs here. */
void ds_conv_gemm_add(int64_t m, int64_t n, int64_t k, const float *a, int64_t lda,
                      const float *b, int64_t ldb, float *c, int64_t ldc);

#endif /* DS_CONV_GEMM_H */
