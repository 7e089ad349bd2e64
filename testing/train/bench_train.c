/* bench_train.c - seconds per iteration and peak memory of the trainer on phantoms.
 *
 * usage: bench_train [MODE [WIDTH [X Y Z [LABELLED UNLABELLED [ITERATIONS [THREADS]]]]]]
 *   MODE  dual (heterogeneous pair, every term on; default) | homogeneous | single
 *   defaults: dual 16 32 48 32 2 2 6 2
 * ITERATIONS 0 prints the memory estimate only. Prints the memory estimate, the time of the
 * first iteration (allocations), the median of the others (s_per_iteration, wall clock, as
 * bench_train_torch.py reports PyTorch's) and their mean (mean_s; cpu_s: the process's CPU time
 * per iteration, a mean), the fastest of them (min_s), and the peak resident memory of the process
 * (getrusage). testing/train/bench_train_torch.py measures PyTorch on the same configuration.
 */
#include "ds_phantom.h"
#include "ds_threads.h"
#include "ds_train.h"
#include "ds_cli.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

/* Process CPU time: on a shared machine it moves less than the wall clock (with 1 thread and
 * OMP_WAIT_POLICY=passive it is the time the work took). */
static double cpu_now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

typedef struct timing {
    double start, first, last, loss;
    double cpu_start, cpu_last;
    int64_t count;
    double *each; /* seconds of iterations 2.. (each[i - 2] for iteration i) */
    int64_t cap;
} timing;

static int by_value(const void *a, const void *b)
{
    const double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* The median of the iterations after the first, as bench_train_torch.py takes it: one slow
 * iteration (another process woke up) moves a mean, not a median. */
static double median(double *v, int64_t n)
{
    if (n <= 0)
        return 0.0;
    qsort(v, (size_t)n, sizeof *v, by_value);
    return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

static int on_progress(void *user, const ds_train_progress *p)
{
    timing *t = user;
    double n = now(), c = cpu_now();
    if (p->iteration == 1)
        t->first = n - t->start;
    if (p->iteration > 1 && p->iteration - 2 < t->cap)
        t->each[p->iteration - 2] = n - t->last;
    t->last = n;
    t->cpu_last = c;
    if (p->iteration == 1) {
        t->start = n; /* the mean below starts after the first iteration */
        t->cpu_start = c;
    }
    t->count = p->iteration;
    if (p->iteration > 1)
        t->loss += p->loss_seconds;
    return 0;
}

int main(int argc, char **argv)
{
    /* the kernels the modules run with (ds_cli.h), said on stderr beside the figures */
    ds_cli_correct_blas_core(argv);
    fprintf(stderr, "OpenBLAS kernels: %s\n", ds_blas_core());
    const char *mode = argc > 1 ? argv[1] : "dual";
    int width = argc > 2 ? atoi(argv[2]) : 16;
    int64_t patch[3] = {argc > 5 ? atoll(argv[3]) : 32, argc > 5 ? atoll(argv[4]) : 48,
                        argc > 5 ? atoll(argv[5]) : 32};
    int nl = argc > 7 ? atoi(argv[6]) : 2, nu = argc > 7 ? atoi(argv[7]) : 2;
    int64_t iterations = argc > 8 ? atoll(argv[8]) : 6;
    int threads = argc > 9 ? atoi(argv[9]) : 2;
    ds_ctx *ctx = NULL;
    if (ds_ctx_create(&ctx) != DS_OK || ds_threads_set(ctx, threads) != DS_OK)
        return 1;
    ds_load_options lo;
    ds_load_options_default(&lo);
    lo.num_classes = 2;
    ds_train_data *data = NULL;
    ds_phantom_options po;
    ds_phantom_options_init(&po);
    for (int a = 0; a < 3; ++a)
        po.size[a] = patch[a] + 8;
    int ok = ds_train_data_create(ctx, &lo, &data) == DS_OK;
    for (int i = 0; ok && i < 4; ++i) {
        ds_volume *img = NULL, *lab = NULL;
        ok = ds_phantom_generate(ctx, &po, 1, (uint32_t)i, &img, &lab) == DS_OK &&
             ds_volume_zscore(ctx, img, "phantom") == DS_OK &&
             ds_train_data_add(ctx, data, img, i < 2 ? lab : NULL) == DS_OK;
        ds_volume_free(img);
        ds_volume_free(lab);
    }
    ds_train_options o;
    ds_train_options_init(&o);
    o.pair = strcmp(mode, "single") == 0        ? DS_PAIR_SINGLE
             : strcmp(mode, "homogeneous") == 0 ? DS_PAIR_HOMOGENEOUS
                                                : DS_PAIR_HETEROGENEOUS;
    o.width = width;
    o.iterations = iterations;
    memcpy(o.batch.patch, patch, sizeof patch);
    o.batch.labelled = nl;
    o.batch.unlabelled = nu;
    timing t = {0};
    t.cap = iterations > 1 ? iterations - 1 : 0;
    t.each = calloc((size_t)(t.cap > 0 ? t.cap : 1), sizeof *t.each);
    if (!t.each)
        return 1;
    o.progress = on_progress;
    o.progress_user = &t;
    ds_train_memory m;
    double e0 = now();
    ok = ok && ds_train_estimate_memory(ctx, &o, data, &m) == DS_OK;
    double e1 = now();
    if (ok && iterations == 0) {
        printf("estimate_mib=%.0f (params %.0f act %.0f losses %.0f) limit_mib=%.0f\n",
               m.total / 1048576.0, m.parameters / 1048576.0, m.activations / 1048576.0,
               m.losses / 1048576.0, m.limit / 1048576.0);
        return 0;
    }
    t.start = now();
    ok = ok && ds_train_run(ctx, &o, data, NULL, NULL) == DS_OK;
    if (!ok) {
        fprintf(stderr, "bench_train: %s\n", ds_ctx_message(ctx));
        return 1;
    }
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    printf("mode=%s width=%d patch=%lldx%lldx%lld batch=%d+%d threads=%d\n", mode, width,
           (long long)patch[0], (long long)patch[1], (long long)patch[2], nl,
           o.pair == DS_PAIR_SINGLE ? 0 : nu, threads);
    printf("estimate_mib=%.0f (params %.0f act %.0f losses %.0f) estimate_s=%.3f\n",
           m.total / 1048576.0, m.parameters / 1048576.0, m.activations / 1048576.0,
           m.losses / 1048576.0, e1 - e0);
    double mean = t.count > 1 ? (t.last - t.start) / (double)(t.count - 1) : t.first;
    double per = t.count > 1 ? median(t.each, t.count - 1) : t.first;
    double loss = t.count > 1 ? t.loss / (double)(t.count - 1) : 0.0;
    double cpu = t.count > 1 ? (t.cpu_last - t.cpu_start) / (double)(t.count - 1) : 0.0;
    /* min_s: the fastest iteration after the first (median() sorted them), what a comparison of
     * two builds on a machine shared with others reads best: other work only adds time */
    printf("first_iteration_s=%.3f s_per_iteration=%.3f mean_s=%.3f losses_s=%.3f (%.1f %% of "
           "the mean) peak_rss_mib=%.0f cpu_s=%.3f min_s=%.3f\n", t.first, per, mean, loss,
           100.0 * loss / mean, ru.ru_maxrss / 1024.0, cpu, t.count > 1 ? t.each[0] : t.first);
    free(t.each);
    ds_train_data_free(data);
    ds_ctx_free(ctx);
    return 0;
}
