/* bench_layers.c - time of the non-convolution layers on a training-size activation
 * (2 x 16 x 80 x 112 x 112 floats, 128 MiB), for 1 thread and for the default thread count, and
 * a plain scalar single-thread BatchNorm forward (two passes, double statistics) as the
 * comparison measured in the same run. Prints milliseconds (best of 3) and GB/s of memory traffic.
 *
 * Run: build-<x>/testing/engine/layers/bench_layers [N C D H W]   (DS_NUM_THREADS sets the count)
 */
#include "ds_activation.h"
#include "ds_norm.h"
#include "ds_threads.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

/* The obvious implementation: per channel, mean then variance in double, then normalise. */
static void naive_bn_forward(const ds_tensor *x, ds_tensor *y, const float *gamma, const float *beta)
{
    const int64_t N = x->n, C = x->c, S = ds_tensor_spatial_numel(x);
    for (int64_t c = 0; c < C; ++c) {
        double sum = 0.0, sq = 0.0;
        for (int64_t n = 0; n < N; ++n)
            for (int64_t i = 0; i < S; ++i)
                sum += x->data[(n * C + c) * S + i];
        const double mean = sum / (double)(N * S);
        for (int64_t n = 0; n < N; ++n)
            for (int64_t i = 0; i < S; ++i) {
                const double d = x->data[(n * C + c) * S + i] - mean;
                sq += d * d;
            }
        const double invstd = 1.0 / sqrt(sq / (double)(N * S) + 1e-5);
        for (int64_t n = 0; n < N; ++n)
            for (int64_t i = 0; i < S; ++i)
                y->data[(n * C + c) * S + i] =
                    (float)((x->data[(n * C + c) * S + i] - mean) * invstd * gamma[c] + beta[c]);
    }
}

enum { REPS = 3 };
#define TIME(ms, stmt)                                                                             \
    do {                                                                                           \
        ms = INFINITY;                                                                             \
        for (int r_ = 0; r_ < REPS; ++r_) {                                                        \
            const double t0_ = now();                                                              \
            stmt;                                                                                  \
            ms = fmin(ms, 1e3 * (now() - t0_));                                                    \
        }                                                                                          \
    } while (0)

int main(int argc, char **argv)
{
    int64_t dims[5] = {2, 16, 80, 112, 112};
    if (argc == 6)
        for (int i = 0; i < 5; ++i)
            dims[i] = atoll(argv[i + 1]);
    ds_ctx *ctx = NULL;
    if (ds_ctx_create(&ctx) != DS_OK)
        return 1;
    const int threads = ds_ctx_threads(ctx);
    ds_tensor *x = NULL, *y = NULL, *dy = NULL, *dx = NULL, *s2 = NULL, *ds2 = NULL;
    if (ds_tensor_create(ctx, &x, dims[0], dims[1], dims[2], dims[3], dims[4]) ||
        ds_tensor_create_like(ctx, &y, x) || ds_tensor_create_like(ctx, &dy, x) ||
        ds_tensor_create_like(ctx, &dx, x) ||
        ds_tensor_create(ctx, &s2, dims[0], 2, dims[2], dims[3], dims[4]) ||
        ds_tensor_create_like(ctx, &ds2, s2)) {
        fprintf(stderr, "bench_layers: %s\n", ds_ctx_message(ctx));
        return 1;
    }
    ds_rng rng;
    ds_rng_init(&rng, 1, DS_RNG_TEST);
    ds_rng_fill_normal(ctx, &rng, x->data, (size_t)ds_tensor_numel(x), 0.5f, 2.0f);
    ds_rng_fill_normal(ctx, &rng, dy->data, (size_t)ds_tensor_numel(x), 0.0f, 1.0f);
    ds_rng_fill_normal(ctx, &rng, s2->data, (size_t)ds_tensor_numel(s2), 0.0f, 1.0f);
    ds_tensor_fill(dx, 0.0f);
    ds_tensor_fill(ds2, 0.0f);
    const double mb = (double)ds_tensor_numel(x) * 4.0 / 1e6, mb2 = (double)ds_tensor_numel(s2) * 4.0 / 1e6;
    printf("bench_layers: %lldx%lldx%lldx%lldx%lld (%.0f MB per tensor), best of %d\n",
           (long long)dims[0], (long long)dims[1], (long long)dims[2], (long long)dims[3],
           (long long)dims[4], mb, REPS);

    ds_batchnorm3d bn;
    ds_dropout3d drop;
    if (ds_batchnorm3d_init(ctx, &bn, "bn", (int)dims[1]) || ds_dropout3d_init(ctx, &drop, 0.5f))
        return 1;
    double naive;
    TIME(naive, naive_bn_forward(x, y, bn.weight.value, bn.bias.value));
    printf("%-34s %9.1f ms  %6.2f GB/s\n", "naive BN forward (1 thread)", naive, 3.0 * mb / naive);

    const int counts[2] = {1, threads};
    for (int k = 0; k < (threads > 1 ? 2 : 1); ++k) {
        ds_threads_set(ctx, counts[k]);
        printf("-- %d thread(s)\n", counts[k]);
        double ms;
        /* memory traffic in MB for each: reads + writes of whole tensors */
        TIME(ms, ds_batchnorm3d_forward(ctx, &bn, x, y, 1));
        printf("%-34s %9.1f ms  %6.2f GB/s  (%.2fx naive)\n", "BN forward, training", ms,
               3.0 * mb / ms, naive / ms);
        TIME(ms, ds_batchnorm3d_forward(ctx, &bn, x, y, 0));
        printf("%-34s %9.1f ms  %6.2f GB/s\n", "BN forward, evaluation", ms, 2.0 * mb / ms);
        TIME(ms, ds_batchnorm3d_backward(ctx, &bn, x, dy, dx));
        printf("%-34s %9.1f ms  %6.2f GB/s\n", "BN backward, evaluation stats", ms, 6.0 * mb / ms);
        ds_batchnorm3d_forward(ctx, &bn, x, y, 1);
        TIME(ms, ds_batchnorm3d_backward(ctx, &bn, x, dy, dx));
        printf("%-34s %9.1f ms  %6.2f GB/s\n", "BN backward, training", ms, 6.0 * mb / ms);
        TIME(ms, ds_relu_forward(ctx, x, y));
        printf("%-34s %9.1f ms  %6.2f GB/s\n", "ReLU forward", ms, 2.0 * mb / ms);
        TIME(ms, ds_relu_backward(ctx, y, dy, dx));
        printf("%-34s %9.1f ms  %6.2f GB/s\n", "ReLU backward", ms, 4.0 * mb / ms);
        TIME(ms, ds_add_forward(ctx, x, dy, y));
        printf("%-34s %9.1f ms  %6.2f GB/s\n", "add forward", ms, 3.0 * mb / ms);
        TIME(ms, ds_dropout3d_forward(ctx, &drop, x, y, 1, &rng));
        printf("%-34s %9.1f ms  %6.2f GB/s\n", "Dropout3d forward", ms, 2.0 * mb / ms);
        TIME(ms, ds_dropout3d_backward(ctx, &drop, dy, dx));
        printf("%-34s %9.1f ms  %6.2f GB/s\n", "Dropout3d backward", ms, 3.0 * mb / ms);
        TIME(ms, ds_softmax_forward(ctx, s2, s2));
        printf("%-34s %9.1f ms  %6.2f GB/s\n", "softmax forward (2 channels)", ms, 2.0 * mb2 / ms);
        TIME(ms, ds_softmax_backward(ctx, s2, s2, ds2));
        printf("%-34s %9.1f ms  %6.2f GB/s\n", "softmax backward (2 channels)", ms, 4.0 * mb2 / ms);
    }
    ds_batchnorm3d_free(&bn);
    ds_dropout3d_free(&drop);
    ds_tensor_free(x);
    ds_tensor_free(y);
    ds_tensor_free(dy);
    ds_tensor_free(dx);
    ds_tensor_free(s2);
    ds_tensor_free(ds2);
    ds_ctx_free(ctx);
    return 0;
}
