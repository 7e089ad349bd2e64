/* bench_gemm.c - the measurement behind our own GEMM kernel (conv_gemm.h): C = A B on the shapes
 * the convolutions multiply (cout rows, a few dozen to a few thousand columns), ours against
 * OpenBLAS SGEMM on the same operands in the same run, one thread, process CPU time, the fastest
 * of several repetitions. Also checks that the two agree (a float32 sum of k terms each).
 *
 * Usage: bench_gemm [repetitions (20)]
 */
#include <cblas.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "conv_gemm.h"
#include "ds_cli.h"
#include "ds_tensor.h"
#include "ds_threads.h"

static double cpu_now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

int main(int argc, char **argv)
{
    ds_cli_correct_blas_core(argv);
    fprintf(stderr, "OpenBLAS kernels: %s\n", ds_blas_core());
    const int reps = argc > 1 && atoi(argv[1]) > 0 ? atoi(argv[1]) : 20;
    if (!ds_conv_gemm_available()) {
        printf("bench_gemm: our kernels need AVX2 + FMA, which this CPU (or build) lacks\n");
        return 0;
    }
    openblas_set_num_threads(1);
    /* m, n, k: the few-voxel layers, a lowered stride-2 tile, a deep layer of the Left Atrium */
    static const long shapes[][3] = {
        {256, 24, 6912},  {128, 192, 3456}, {128, 48, 3456}, {64, 1536, 864}, {32, 2416, 432},
        {16, 1024, 432},  {32, 608, 128},   {64, 608, 256},  {256, 72, 3456}, {256, 496, 3456},
        {128, 1024, 1728}, {256, 280, 6912}};
    printf("bench_gemm: 1 thread, CPU time, fastest of %d; %s AVX-512 kernel\n", reps,
           ds_conv_gemm_avx512_available() ? "with the" : "without the");
    printf("%6s %6s %6s | %10s %8s | %10s %8s | %6s | %s\n", "m", "n", "k", "ours ms", "GFLOP/s",
           "OpenBLAS", "GFLOP/s", "ratio", "largest |difference| / sum |terms|");
    for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; ++s) {
        const long m = shapes[s][0], n = shapes[s][1], k = shapes[s][2];
        float *a = ds_aligned_alloc((size_t)(m * k) * sizeof(float));
        float *b = ds_aligned_alloc((size_t)(k * n) * sizeof(float));
        float *c = ds_aligned_alloc((size_t)(m * n) * sizeof(float));
        float *r = ds_aligned_alloc((size_t)(m * n) * sizeof(float));
        if (!a || !b || !c || !r) {
            fprintf(stderr, "bench_gemm: out of memory\n");
            return 1;
        }
        for (long i = 0; i < m * k; ++i)
            a[i] = (float)((i * 7919) % 2001) / 1000.0f - 1.0f;
        for (long i = 0; i < k * n; ++i)
            b[i] = (float)((i * 104729) % 2001) / 1000.0f - 1.0f;
        double ours = 1e30, blas = 1e30;
        for (int rep = 0; rep < reps; ++rep) {
            double t = cpu_now();
            ds_conv_gemm(m, n, k, a, k, b, n, c, n);
            t = cpu_now() - t;
            ours = t < ours ? t : ours;
            t = cpu_now();
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)m, (int)n, (int)k, 1.0f, a,
                        (int)k, b, (int)n, 0.0f, r, (int)n);
            t = cpu_now() - t;
            blas = t < blas ? t : blas;
        }
        double worst = 0.0; /* against OpenBLAS, relative to the terms' magnitudes (row 0, col 0..n) */
        for (long j = 0; j < n; ++j) {
            double mag = 0.0;
            for (long i = 0; i < k; ++i)
                mag += fabs((double)a[i] * (double)b[i * n + j]);
            const double e = fabs((double)c[j] - (double)r[j]) / (mag + 1e-30);
            worst = e > worst ? e : worst;
        }
        const double flop = 2.0 * (double)m * (double)n * (double)k;
        printf("%6ld %6ld %6ld | %10.3f %8.1f | %10.3f %8.1f | %5.2fx | %.1e\n", m, n, k,
               1e3 * ours, flop / ours / 1e9, 1e3 * blas, flop / blas / 1e9, blas / ours, worst);
        ds_aligned_free(a), ds_aligned_free(b), ds_aligned_free(c), ds_aligned_free(r);
        if (worst > 1e-5) {
            fprintf(stderr, "bench_gemm: ours and OpenBLAS disagree (%.1e)\n", worst);
            return 1;
        }
    }
    return 0;
}
