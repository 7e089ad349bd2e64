/* bench_losses.c - time of one ds_dual_loss_compute (every term on, the paper's options) at the
 * Hippocampus patch (32x48x32, K = 3) and the Left Atrium patch (112x112x80, K = 2), batch 2 + 2,
 * F = 16, so that the losses' share of an iteration can be checked (target: < 10 %).
 *
 *   bench_losses [REPEATS]      (threads: DS_NUM_THREADS, default all)
 * Prints one line per patch: the median of REPEATS calls after one warm-up, in ms of wall time
 * and of process CPU time, for the dual loss and for the supervised-only loss (one network,
 * CE + Dice).
 */
#include "ds_losses.h"
#include "ds_threads.h"

#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static double now(clockid_t clock)
{
    struct timespec ts;
    clock_gettime(clock, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static int cmp_double(const void *a, const void *b)
{
    const double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

#define CHECK(expr)                                                                            \
    do {                                                                                       \
        if ((expr) != DS_OK) {                                                                 \
            fprintf(stderr, "bench_losses: %s\n", ds_ctx_message(ctx));                        \
            return 1;                                                                          \
        }                                                                                      \
    } while (0)

/* Median wall and process CPU time of `repeats` calls (after a warm-up that grows the work
 * buffers); the CPU time shows how much a loaded machine stretched the wall time. */
static int time_calls(ds_ctx *ctx, ds_dual_loss *work, const ds_loss_options *opt,
                      ds_loss_inputs *in, ds_tensor *dz[2], ds_tensor *df[2], int repeats,
                      double ms[2])
{
    double t[2][64];
    ds_loss_report r;
    for (int i = -1; i < repeats; ++i) {
        const double w0 = now(CLOCK_MONOTONIC), c0 = now(CLOCK_PROCESS_CPUTIME_ID);
        CHECK(ds_dual_loss_compute(ctx, work, opt, in, dz, df, &r));
        if (i >= 0) {
            t[0][i] = 1e3 * (now(CLOCK_MONOTONIC) - w0);
            t[1][i] = 1e3 * (now(CLOCK_PROCESS_CPUTIME_ID) - c0);
        }
    }
    for (int j = 0; j < 2; ++j) {
        qsort(t[j], (size_t)repeats, sizeof *t[j], cmp_double);
        ms[j] = t[j][repeats / 2];
    }
    return 0;
}

static int bench(ds_ctx *ctx, const char *name, int64_t d, int64_t h, int64_t w, int64_t k,
                 int repeats)
{
    const int64_t N = 4, F = 16, S = d * h * w;
    ds_tensor *z[2], *f[2], *dz[2], *df[2];
    ds_rng rng, crng;
    ds_rng_init(&rng, 7, DS_RNG_TEST);
    ds_rng_init(&crng, 7, DS_RNG_CONTRAST);
    for (int n = 0; n < 2; ++n) {
        CHECK(ds_tensor_create(ctx, &z[n], N, k, d, h, w));
        CHECK(ds_tensor_create(ctx, &f[n], N, F, d, h, w));
        CHECK(ds_tensor_create_like(ctx, &dz[n], z[n]));
        CHECK(ds_tensor_create_like(ctx, &df[n], f[n]));
        CHECK(ds_rng_fill_normal(ctx, &rng, z[n]->data, (size_t)(N * k * S), 0.0f, 2.0f));
        CHECK(ds_rng_fill_normal(ctx, &rng, f[n]->data, (size_t)(N * F * S), 0.0f, 1.0f));
    }
    uint16_t *labels = malloc((size_t)(N * S) * sizeof *labels);
    for (int64_t v = 0; v < N * S; ++v)
        labels[v] = v < 2 * S ? (uint16_t)ds_rng_below(&rng, (uint32_t)k) : 255;
    ds_loss_options opt, sup;
    ds_loss_options_init(&opt);
    ds_loss_options_init(&sup);
    for (int t = DS_LOSS_CR; t < DS_LOSS_TERM_COUNT; ++t)
        sup.enabled[t] = 0;
    ds_loss_inputs in = {2, {z[0], z[1]}, {f[0], f[1]}, labels, 255, 0.5f, &crng};
    ds_dual_loss *work = NULL;
    CHECK(ds_dual_loss_create(ctx, &work));
    double dual_ms[2], sup_ms[2];
    if (time_calls(ctx, work, &opt, &in, dz, df, repeats, dual_ms))
        return 1;
    in.net_count = 1;
    if (time_calls(ctx, work, &sup, &in, dz, df, repeats, sup_ms))
        return 1;
    printf("%s %lldx%lldx%lld K=%lld batch 2+2 F=16, %d threads: dual loss %.1f ms "
           "(CPU %.1f ms), supervised-only %.1f ms (CPU %.1f ms), work buffers %.1f MiB\n", name,
           (long long)d, (long long)h, (long long)w, (long long)k, ds_ctx_threads(ctx),
           dual_ms[0], dual_ms[1], sup_ms[0], sup_ms[1],
           (double)ds_dual_loss_bytes(work) / (1024.0 * 1024.0));
    ds_dual_loss_free(work);
    for (int n = 0; n < 2; ++n) {
        ds_tensor_free(z[n]);
        ds_tensor_free(f[n]);
        ds_tensor_free(dz[n]);
        ds_tensor_free(df[n]);
    }
    free(labels);
    return 0;
}

int main(int argc, char **argv)
{
    ds_ctx *ctx = NULL;
    if (ds_ctx_create(&ctx) != DS_OK)
        return 1;
    CHECK(ds_threads_set(ctx, 0));
    int repeats = argc > 1 ? atoi(argv[1]) : 5;
    repeats = repeats < 1 ? 1 : (repeats > 64 ? 64 : repeats);
    int rc = bench(ctx, "hippocampus", 32, 48, 32, 3, repeats);
    if (!rc)
        rc = bench(ctx, "left_atrium", 80, 112, 112, 2, repeats);
    ds_ctx_free(ctx);
    return rc;
}
