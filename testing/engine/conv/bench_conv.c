/* bench_conv.c - GFLOP/s of the convolutions of the V-Net at a 112x112x80 patch (batch 1),
 * forward, backward-data and backward-weights, against OpenBLAS SGEMM (2048^3) measured in the
 * same run. FLOPs = 2 * multiply-adds. Median of several repetitions.
 *
 * Usage: bench_conv [threads (default 2)] [repetitions (default 5)] [row (0-based, default all; -1
 * all)] [best: report the fastest repetition instead of the median (for tuning on a busy machine) |
 * cpu: the same with process CPU time, which a busy machine disturbs less (meaningful with 1
 * thread)]
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

static int use_cpu_clock;

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

static int use_best;

static double median(double *v, int n)
{
    qsort(v, (size_t)n, sizeof *v, cmp_double);
    if (use_best)
        return v[0];
    return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

static void fill(float *p, int64_t n, uint64_t seed)
{
    for (int64_t i = 0; i < n; ++i)
        p[i] = (float)(0.1 * conv_ref_uniform(&seed));
}

typedef struct shape {
    int transposed, cin, cout, k, s, p, d, h, w; /* input spatial */
} shape;

/* The distinct convolution shapes of the V-Net (METHOD.md section 1) at 1x1x112x112x80. */
static const shape shapes[] = {
    {0, 1, 16, 3, 1, 1, 112, 112, 80},  {0, 16, 16, 3, 1, 1, 112, 112, 80},
    {0, 16, 32, 2, 2, 0, 112, 112, 80}, {0, 32, 32, 3, 1, 1, 56, 56, 40},
    {0, 32, 64, 2, 2, 0, 56, 56, 40},   {0, 64, 64, 3, 1, 1, 28, 28, 20},
    {0, 64, 128, 2, 2, 0, 28, 28, 20},  {0, 128, 128, 3, 1, 1, 14, 14, 10},
    {0, 128, 256, 2, 2, 0, 14, 14, 10}, {0, 256, 256, 3, 1, 1, 7, 7, 5},
    {1, 256, 128, 2, 2, 0, 7, 7, 5},    {1, 128, 64, 2, 2, 0, 14, 14, 10},
    {1, 64, 32, 2, 2, 0, 28, 28, 20},   {1, 32, 16, 2, 2, 0, 56, 56, 40},
    {0, 16, 2, 1, 1, 0, 112, 112, 80},
    /* ResNet-34 encoder extras (not V-Net): 7x7x7 stem, a stride-2 1x1x1 shortcut */
    {0, 1, 16, 7, 1, 3, 112, 112, 80},
    {0, 16, 32, 1, 2, 0, 112, 112, 80},
};
#define DS_VNET_ROWS 15

int main(int argc, char **argv)
{
    /* the kernels the modules run with (ds_cli.h), said on stderr beside the figures */
    ds_cli_correct_blas_core(argv);
    fprintf(stderr, "OpenBLAS kernels: %s\n", ds_blas_core());
    int threads = argc > 1 ? atoi(argv[1]) : 2, reps = argc > 2 ? atoi(argv[2]) : 5;
    int only = argc > 3 ? atoi(argv[3]) : -1, best = argc > 4 && strcmp(argv[4], "best") == 0;
    use_cpu_clock = argc > 4 && strcmp(argv[4], "cpu") == 0;
    best = best || use_cpu_clock;
    use_best = best;
    if (reps < 1 || reps > 100)
        reps = 5;
    ds_ctx *ctx = NULL;
    if (ds_ctx_create(&ctx) != DS_OK || ds_threads_set(ctx, threads) != DS_OK) {
        fprintf(stderr, "bench_conv: cannot set %d threads\n", threads);
        return 1;
    }
    double t[100];

    /* SGEMM 2048^3 through the OpenBLAS pool (outside any parallel region). */
    const int n = 2048;
    float *a = ds_aligned_alloc(sizeof(float) * n * n),
          *b = ds_aligned_alloc(sizeof(float) * n * n);
    float *c = ds_aligned_alloc(sizeof(float) * n * n);
    fill(a, (int64_t)n * n, 1);
    fill(b, (int64_t)n * n, 2);
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, n, n, n, 1.0f, a, n, b, n, 0.0f, c, n);
    for (int r = 0; r < reps; ++r) {
        double t0 = now();
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, n, n, n, 1.0f, a, n, b, n, 0.0f, c,
                    n);
        t[r] = now() - t0;
    }
    double sgemm = 2.0 * n * n * (double)n / median(t, reps) / 1e9;
    ds_aligned_free(a);
    ds_aligned_free(b);
    ds_aligned_free(c);
    printf("bench_conv: %d threads (OpenBLAS %s, %d threads), %s of %d\n", ds_ctx_threads(ctx),
           ds_threads_blas_model(), ds_threads_blas(),
           best ? (use_cpu_clock ? "best (CPU time)" : "best") : "median", reps);
    printf("OpenBLAS SGEMM 2048^3: %.1f GFLOP/s\n\n", sgemm);
    printf("%-34s %8s | %7s %5s | %7s %5s | %7s %5s\n", "shape (input -> output)", "GFLOP", "fwd",
           "%", "bwd-dat", "%", "bwd-wgt", "%");

    for (size_t si = 0; si < sizeof shapes / sizeof shapes[0]; ++si) {
        const shape *s = &shapes[si];
        if (only >= 0 && (size_t)only != si)
            continue;
        ds_conv3d cv;
        ds_conv_transpose3d ct;
        ds_param *pw;
        ds_conv_work *work;
        ds_tensor *x = NULL, *y = NULL, *dy = NULL, *dx = NULL;
        int64_t on, oc, od, oh, ow;
        ds_status st = ds_tensor_create(ctx, &x, 1, s->cin, s->d, s->h, s->w);
        if (s->transposed) {
            st = st ? st
                    : ds_conv_transpose3d_init(ctx, &ct, "t", s->cin, s->cout, s->k, s->s, s->p, 1);
            st = st ? st : ds_conv_transpose3d_output_shape(ctx, &ct, x, &on, &oc, &od, &oh, &ow);
            pw = &ct.weight;
            work = ct.work;
        } else {
            st = st ? st : ds_conv3d_init(ctx, &cv, "c", s->cin, s->cout, s->k, s->s, s->p, 1);
            st = st ? st : ds_conv3d_output_shape(ctx, &cv, x, &on, &oc, &od, &oh, &ow);
            pw = &cv.weight;
            work = cv.work;
        }
        st = st ? st : ds_tensor_create(ctx, &y, on, oc, od, oh, ow);
        st = st ? st : ds_tensor_create(ctx, &dy, on, oc, od, oh, ow);
        st = st ? st : ds_tensor_zeros(ctx, &dx, 1, s->cin, s->d, s->h, s->w);
        if (st != DS_OK) {
            fprintf(stderr, "bench_conv: %s\n", ds_ctx_message(ctx));
            return 1;
        }
        fill(x->data, ds_tensor_numel(x), 3);
        fill(dy->data, ds_tensor_numel(dy), 4);
        fill(pw->value, pw->numel, 5);
        /* The equivalent convolution's geometry, for timing backward-data on its own. */
        ds_conv_geom g;
        if (s->transposed) {
            ds_conv_geom tg = {1, s->cout, s->cin, s->k, s->s, s->p, od, oh, ow, s->d, s->h, s->w,
                               DS_CONV_ALGO_AUTO};
            g = tg;
        } else {
            ds_conv_geom tg = {1, s->cin, s->cout, s->k, s->s, s->p, s->d, s->h, s->w, od, oh, ow,
                               DS_CONV_ALGO_AUTO};
            g = tg;
        }
        double macs = (double)s->cin * s->cout * s->k * s->k * s->k *
                      (double)(s->transposed ? (int64_t)s->d * s->h * s->w : od * oh * ow);
        double gflop = 2.0 * macs / 1e9, res[3];
        for (int phase = 0; phase < 3; ++phase) {
            for (int r = -1; r < reps; ++r) { /* r == -1: warm-up (allocates the work buffers) */
                double t0 = now();
                if (phase == 0) {
                    st = s->transposed ? ds_conv_transpose3d_forward(ctx, &ct, x, y)
                                       : ds_conv3d_forward(ctx, &cv, x, y);
                } else if (phase == 1) {
                    st = s->transposed ? ds_conv_core_forward(ctx, work, &g, dy->data, pw->value,
                                                              NULL, 1.0f, dx->data, NULL)
                                       : ds_conv_core_backward_data(ctx, work, &g, dy->data,
                                                                    pw->value, dx->data, 0, NULL);
                } else {
                    st = s->transposed ? ds_conv_core_backward_weight(ctx, work, &g, dy->data,
                                                                      x->data, pw->grad, NULL)
                                       : ds_conv_core_backward_weight(ctx, work, &g, x->data,
                                                                      dy->data, pw->grad, NULL);
                }
                if (r >= 0)
                    t[r] = now() - t0;
                if (st != DS_OK) {
                    fprintf(stderr, "bench_conv: %s\n", ds_ctx_message(ctx));
                    return 1;
                }
            }
            res[phase] = gflop / median(t, reps);
        }
        if (si == DS_VNET_ROWS)
            printf("-- ResNet-34 encoder shapes (extra, no target) --\n");
        char label[64];
        snprintf(label, sizeof label, "%s k%d s%d %d->%d %dx%dx%d->%dx%dx%d",
                 s->transposed ? "convT" : "conv", s->k, s->s, s->cin, s->cout, s->d, s->h, s->w,
                 (int)od, (int)oh, (int)ow);
        printf("%-34s %8.2f | %7.1f %4.0f%% | %7.1f %4.0f%% | %7.1f %4.0f%%\n", label, gflop,
               res[0], 100 * res[0] / sgemm, res[1], 100 * res[1] / sgemm, res[2],
               100 * res[2] / sgemm);
        fflush(stdout);
        ds_tensor_free(x);
        ds_tensor_free(y);
        ds_tensor_free(dy);
        ds_tensor_free(dx);
        if (s->transposed)
            ds_conv_transpose3d_free(&ct);
        else
            ds_conv3d_free(&cv);
    }
    ds_ctx_free(ctx);
    return 0;
}
