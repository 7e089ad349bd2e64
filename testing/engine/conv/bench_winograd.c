/* bench_winograd.c - the measurement behind the Winograd rules (ds_conv_winograd_chosen,
 * ds_conv_winograd_weight_chosen): for every kernel-3, stride-1 layer shape of the V-Net and the
 * ResNet34-V-Net (width 16) at the Hippocampus (32x48x32) and Left Atrium (112x112x80) patches,
 * the time of the forward, backward-data and backward-weights with the reference kernels (direct
 * where usable, else lowered SGEMM), the lowered SGEMM alone, and Winograd F(2x2x2, 3x3x3); the
 * speed-up of Winograd over the reference, what the rules pick (AUTO: forward / backward-weights)
 * and the forward's work buffer. Median of several repetitions (or the fastest, or process CPU
 * time: for a busy machine).
 *
 * Usage: bench_winograd [threads (2)] [repetitions (3)] [batch (2)] [best | cpu]
 * OpenBLAS's core type matters for the SGEMM columns: compare OPENBLAS_CORETYPE=SkylakeX (or
 * Haswell) with the detected one (OPENBLAS_VERBOSE=2 prints it).
 */
#include <cblas.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "conv_core.h"
#include "conv_ref.h"
#include "ds_conv.h"
#include "ds_tensor.h"
#include "ds_threads.h"
#include "ds_cli.h"

static int use_cpu_clock, use_best;

static double now(void)
{
    struct timespec ts;
    clock_gettime(use_cpu_clock ? CLOCK_PROCESS_CPUTIME_ID : CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double median(double *v, int n)
{
    qsort(v, (size_t)n, sizeof *v, cmp_double);
    if (use_best)
        return v[0];
    return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

typedef struct layer {
    const char *patch;
    int level, cin, cout, d, h, w;
} layer;

/* Level l of both networks: 16 << l channels on the patch / 2^l (the first V-Net conv: 1 -> 16). */
static const layer layers[] = {
    {"hippocampus", 0, 1, 16, 32, 48, 32},     {"hippocampus", 0, 16, 16, 32, 48, 32},
    {"hippocampus", 1, 32, 32, 16, 24, 16},    {"hippocampus", 2, 64, 64, 8, 12, 8},
    {"hippocampus", 3, 128, 128, 4, 6, 4},     {"hippocampus", 4, 256, 256, 2, 3, 2},
    {"left-atrium", 0, 1, 16, 112, 112, 80},   {"left-atrium", 0, 16, 16, 112, 112, 80},
    {"left-atrium", 1, 32, 32, 56, 56, 40},    {"left-atrium", 2, 64, 64, 28, 28, 20},
    {"left-atrium", 3, 128, 128, 14, 14, 10},  {"left-atrium", 4, 256, 256, 7, 7, 5},
};

static void fill(float *p, int64_t n, uint64_t seed)
{
    for (int64_t i = 0; i < n; ++i)
        p[i] = (float)(0.1 * conv_ref_uniform(&seed));
}

/* Seconds of one forward (phase 0), backward-data (1) or backward-weights (2) of g with algo;
 * *path: what ran. */
static double time_one(ds_ctx *ctx, ds_conv_work *work, ds_conv_geom g, ds_conv_algo algo,
                       int phase, int reps, const float *x, const float *w, const float *dy,
                       float *y, float *dx, float *dw, ds_conv_path *path)
{
    g.algo = algo;
    double t[32];
    for (int r = -1; r < reps; ++r) { /* r == -1: warm-up (allocates the work buffers) */
        double t0 = now();
        ds_status st =
            phase == 0   ? ds_conv_core_forward(ctx, work, &g, x, w, NULL, 0.0f, y, path)
            : phase == 1 ? ds_conv_core_backward_data(ctx, work, &g, dy, w, dx, 0, path)
                         : ds_conv_core_backward_weight(ctx, work, &g, x, dy, dw, path);
        if (st != DS_OK) {
            fprintf(stderr, "bench_winograd: %s\n", ds_ctx_message(ctx));
            exit(1);
        }
        if (r >= 0)
            t[r] = now() - t0;
    }
    return median(t, reps);
}

int main(int argc, char **argv)
{
    /* the kernels the modules run with (ds_cli.h), said on stderr beside the figures */
    ds_cli_correct_blas_core(argv);
    fprintf(stderr, "OpenBLAS kernels: %s\n", ds_blas_core());
    int threads = argc > 1 ? atoi(argv[1]) : 2, reps = argc > 2 ? atoi(argv[2]) : 3;
    int batch = argc > 3 ? atoi(argv[3]) : 2;
    use_best = argc > 4 && (strcmp(argv[4], "best") == 0 || strcmp(argv[4], "cpu") == 0);
    use_cpu_clock = argc > 4 && strcmp(argv[4], "cpu") == 0;
    if (reps < 1 || reps > 32 || batch < 1 || batch > 8) {
        fprintf(stderr, "usage: bench_winograd [threads] [repetitions 1..32] [batch 1..8] "
                        "[best|cpu]\n");
        return 2;
    }
    ds_ctx *ctx = NULL;
    if (ds_ctx_create(&ctx) != DS_OK || ds_threads_set(ctx, threads) != DS_OK)
        return 1;
    printf("bench_winograd: %d threads, batch %d, %s of %d, OpenBLAS core %s; times in ms\n",
           ds_ctx_threads(ctx), batch,
           use_cpu_clock ? "CPU time, fastest" : use_best ? "fastest" : "median",
           reps, openblas_get_corename());
    printf("%-11s %1s %9s %10s |", "patch", "l", "channels", "size");
    static const char *const phase_name[3] = {"fwd", "bwd-d", "bwd-w"};
    for (int phase = 0; phase < 3; ++phase)
        printf(" %-12s %8s %8s %8s %5s |", phase_name[phase], "ref", "gemm", "wino", "x");
    printf(" %-9s %8s\n", "auto f/w", "wino MiB");
    for (size_t i = 0; i < sizeof layers / sizeof layers[0]; ++i) {
        const layer *L = &layers[i];
        ds_conv_geom g = {batch, L->cin, L->cout, 3, 1, 1, L->d, L->h, L->w,
                          L->d,  L->h,   L->w,    DS_CONV_ALGO_AUTO};
        const int64_t spat = (int64_t)L->d * L->h * L->w;
        const int64_t nx = batch * L->cin * spat, ny = batch * L->cout * spat;
        float *x = ds_aligned_alloc((size_t)nx * sizeof(float));
        float *dx = ds_aligned_alloc((size_t)nx * sizeof(float));
        float *y = ds_aligned_alloc((size_t)ny * sizeof(float));
        float *dy = ds_aligned_alloc((size_t)ny * sizeof(float));
        float *w = ds_aligned_alloc((size_t)L->cin * L->cout * 27 * sizeof(float));
        float *dw = ds_aligned_alloc((size_t)L->cin * L->cout * 27 * sizeof(float));
        ds_conv_work work;
        memset(&work, 0, sizeof work);
        if (!x || !dx || !y || !dy || !w || !dw)
            return 1;
        fill(x, nx, 1);
        fill(dy, ny, 2);
        fill(w, (int64_t)L->cin * L->cout * 27, 3);
        memset(dx, 0, (size_t)nx * sizeof(float));
        memset(dw, 0, (size_t)L->cin * L->cout * 27 * sizeof(float));
        char size[32];
        snprintf(size, sizeof size, "%dx%dx%d", L->d, L->h, L->w);
        printf("%-11s %1d %4d->%-4d %10s |", L->patch, L->level, L->cin, L->cout, size);
        double t_auto[3];
        ds_conv_path auto_path[3];
        for (int phase = 0; phase < 3; ++phase) {
            ds_conv_path ref, p;
            double tr = time_one(ctx, &work, g, DS_CONV_ALGO_REFERENCE, phase, reps, x, w, dy, y,
                                 dx, dw, &ref);
            double tg = time_one(ctx, &work, g, DS_CONV_ALGO_GEMM, phase, reps, x, w, dy, y, dx,
                                 dw, &p);
            double tw = time_one(ctx, &work, g, DS_CONV_ALGO_WINOGRAD, phase, reps, x, w, dy, y,
                                 dx, dw, &p);
            printf(" %-12s %8.2f %8.2f %8.2f %5.2f |", ds_conv_path_name(ref), 1e3 * tr, 1e3 * tg,
                   1e3 * tw, tr / tw);
            t_auto[phase] = time_one(ctx, &work, g, DS_CONV_ALGO_AUTO, phase, reps, x, w, dy, y,
                                     dx, dw, &auto_path[phase]);
        }
        g.algo = DS_CONV_ALGO_AUTO;
        printf(" %-4s %-4s %8.1f\n", ds_conv_winograd_chosen(&g) ? "wino" : "ref",
               ds_conv_winograd_weight_chosen(&g) ? "wino" : "ref",
               (double)ds_conv_winograd_work_floats(&g, ds_ctx_threads(ctx)) * 4.0 / 1048576.0);
        printf("%-11s   what AUTO runs:", "");
        for (int phase = 0; phase < 3; ++phase)
            printf(" %s %s %.2f ms%s", phase_name[phase], ds_conv_path_name(auto_path[phase]),
                   1e3 * t_auto[phase], phase < 2 ? "," : "");
        printf("; all three %.2f ms\n", 1e3 * (t_auto[0] + t_auto[1] + t_auto[2]));
        ds_conv_work_release(&work);
        ds_aligned_free(x);
        ds_aligned_free(dx);
        ds_aligned_free(y);
        ds_aligned_free(dy);
        ds_aligned_free(w);
        ds_aligned_free(dw);
    }
    ds_ctx_free(ctx);
    return 0;
}
