/* bench_nets.c - time of a training step (forward, backward, SGD) or an evaluation forward of a
 * network or of the pair, and the process's peak resident memory. One configuration per run, so
 * that the peak memory belongs to it; bench_nets.py runs every configuration here and in PyTorch
 * and prints the comparison.
 *
 *   bench_nets ARCH MODE BATCH [D H W] [REPEATS] [CONV]
 *     ARCH   vnet | resnet34_vnet | pair     MODE  train | forward
 *     CONV   auto (default) | reference | winograd: the convolutions' kernels (ds_conv_algo)
 * Prints one line: "time_s=<median of REPEATS after one warm-up> peak_rss_mib=<ru_maxrss>
 * cpu_s=<median process CPU time>" (with one thread, cpu_s is what a busy machine disturbs least).
 */
#include "ds_nets.h"
#include "ds_optim.h"
#include "ds_threads.h"
#include "ds_cli.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

static double now_on(clockid_t clock)
{
    struct timespec ts;
    clock_gettime(clock, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}
static double now(void) { return now_on(CLOCK_MONOTONIC); }

static int cmp_double(const void *a, const void *b)
{
    const double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

#define CHECK(expr)                                                                            \
    do {                                                                                       \
        if ((expr) != DS_OK) {                                                                 \
            fprintf(stderr, "bench_nets: %s\n", ds_ctx_message(ctx));                          \
            return 1;                                                                          \
        }                                                                                      \
    } while (0)

int main(int argc, char **argv)
{
    /* the kernels the modules run with (ds_cli.h), said on stderr beside the figures */
    ds_cli_correct_blas_core(argv);
    fprintf(stderr, "OpenBLAS kernels: %s\n", ds_blas_core());
    if (argc < 4) {
        fprintf(stderr, "usage: bench_nets vnet|resnet34_vnet|pair train|forward BATCH [D H W] "
                        "[REPEATS] [auto|reference|winograd]\n");
        return 2;
    }
    const char *arch = argv[1];
    const int train = strcmp(argv[2], "train") == 0;
    const int64_t batch = atoll(argv[3]);
    int64_t d = 112, h = 112, w = 80;
    if (argc >= 7) {
        d = atoll(argv[4]);
        h = atoll(argv[5]);
        w = atoll(argv[6]);
    }
    const int repeats = argc >= 8 ? atoi(argv[7]) : 3;
    const char *conv = argc >= 9 ? argv[8] : "auto";
    const ds_conv_algo algo = strcmp(conv, "reference") == 0  ? DS_CONV_ALGO_REFERENCE
                              : strcmp(conv, "winograd") == 0 ? DS_CONV_ALGO_WINOGRAD
                                                              : DS_CONV_ALGO_AUTO;
    ds_ctx *ctx = NULL;
    ds_ctx_create(&ctx);
    CHECK(ds_threads_set(ctx, 0));

    ds_net *nets[2] = {NULL, NULL};
    int count = 0;
    if (strcmp(arch, "resnet34_vnet") == 0 || strcmp(arch, "pair") == 0)
        CHECK(ds_net_create(ctx, &nets[count++], DS_ARCH_RESNET34_VNET, 1, 2, 16));
    if (strcmp(arch, "vnet") == 0 || strcmp(arch, "pair") == 0)
        CHECK(ds_net_create(ctx, &nets[count++], DS_ARCH_VNET, 1, 2, 16));
    if (count == 0) {
        fprintf(stderr, "bench_nets: unknown architecture %s\n", arch);
        return 2;
    }
    ds_net_scratch *shared = NULL; /* a pair shares its scratch, as the trainer does */
    if (count == 2) {
        CHECK(ds_net_scratch_create(ctx, &shared));
        ds_net_use_scratch(nets[0], shared);
        ds_net_use_scratch(nets[1], shared);
    }
    ds_sgd opt[2];
    ds_rng rng[2];
    for (int i = 0; i < count; ++i) {
        ds_rng init;
        ds_rng_init(&init, 1337, i == 0 ? DS_RNG_INIT_A : DS_RNG_INIT_B);
        CHECK(ds_net_init_weights(ctx, nets[i], &init));
        CHECK(ds_sgd_init(ctx, &opt[i], ds_net_params(nets[i]), 0.01f, 0.9f, 1e-4f));
        ds_rng_init(&rng[i], 1337, i == 0 ? DS_RNG_DROPOUT_A : DS_RNG_DROPOUT_B);
        CHECK(ds_net_plan(ctx, nets[i], batch, d, h, w));
        ds_net_set_conv_algo(nets[i], algo);
    }
    ds_tensor *x = NULL, *g = NULL;
    CHECK(ds_tensor_create(ctx, &x, batch, 1, d, h, w));
    CHECK(ds_tensor_create(ctx, &g, batch, 2, d, h, w));
    ds_rng data;
    ds_rng_init(&data, 7, DS_RNG_TEST);
    CHECK(ds_rng_fill_normal(ctx, &data, x->data, (size_t)ds_tensor_numel(x), 0.0f, 1.0f));
    CHECK(ds_rng_fill_normal(ctx, &data, g->data, (size_t)ds_tensor_numel(g), 0.0f,
                             1.0f / (float)ds_tensor_numel(g)));

    double times[32], cpu[32];
    const int runs = repeats < 1 ? 1 : repeats > 31 ? 31 : repeats;
    for (int r = 0; r <= runs; ++r) {
        const double t0 = now(), c0 = now_on(CLOCK_PROCESS_CPUTIME_ID);
        /* As in the method's training step: both forwards (the losses need both networks'
         * outputs), then both backwards, then both optimiser steps. */
        for (int i = 0; i < count; ++i) {
            const ds_tensor *logits = NULL;
            CHECK(ds_net_forward(ctx, nets[i], x, train, &rng[i], &logits, NULL));
        }
        for (int i = 0; train && i < count; ++i) {
            ds_param_list_zero_grad(ctx, (ds_param_list *)ds_net_params(nets[i]));
            CHECK(ds_net_backward(ctx, nets[i], g, NULL));
        }
        for (int i = 0; train && i < count; ++i)
            CHECK(ds_sgd_step(ctx, &opt[i]));
        if (r > 0) {
            times[r - 1] = now() - t0;
            cpu[r - 1] = now_on(CLOCK_PROCESS_CPUTIME_ID) - c0;
        }
    }
    qsort(times, (size_t)runs, sizeof times[0], cmp_double);
    qsort(cpu, (size_t)runs, sizeof cpu[0], cmp_double);
    struct rusage usage;
    getrusage(RUSAGE_SELF, &usage);
    printf("time_s=%.3f peak_rss_mib=%.0f cpu_s=%.3f\n", times[runs / 2],
           (double)usage.ru_maxrss / 1024.0, cpu[runs / 2]);
    for (int i = 0; i < count; ++i) {
        ds_sgd_free(&opt[i]);
        ds_net_free(nets[i]);
    }
    ds_net_scratch_free(shared);
    ds_tensor_free(x);
    ds_tensor_free(g);
    ds_ctx_free(ctx);
    return 0;
}
