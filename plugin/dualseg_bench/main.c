/* dualseg_bench - the tables, statistics and plots of BENCHMARKS.md from what
 * scripts/benchmarks.sh leaves (it never invents a number: a run without its DONE file is
 * "pending").
 *
 * Usage: dualseg_bench accuracy RUNS.tsv RUNS_DIR PLOTS_DIR PLOTS_LINK
 *          Markdown on stdout: per-run means over the test cases, mean +- std over seeds of (a)
 *          and (b), the paired comparison of (b) against (a) per seed (ds_paired.h), the
 *          headline; PNGs in PLOTS_DIR (training curves of a-1337 and b-1337, the per-case Dice
 *          scatter), linked in the Markdown as PLOTS_LINK/<file>.
 *        dualseg_bench variants RUNS.tsv RUNS_DIR
 *          Markdown on stdout: the v- runs (group v) with their mean Dice on the validation
 *          cases (metrics_val.csv) and the test cases, and the variant chosen on the validation
 *          cases (the best, if it beats v-base there).
 *        dualseg_bench scaling TRAIN.csv SEGMENT.csv PLOTS_DIR
 *          The scaling plots: seconds per iteration and peak memory against the patch's voxels
 *          (TRAIN.csv: voxels,pair,ours_s,torch_s,ours_mib,torch_mib; pair 1: the pair, 0: the
 *          V-Net) and segmentation time against the volume's voxels (SEGMENT.csv:
 *          voxels,ours_s,torch_s,ours_mib,torch_mib).
 *        dualseg_bench openblas
 *          "openblas_core=<openblas_get_corename()> openblas_config=<openblas_get_config()>"
 *          Both subcommands use the kernels the modules use: where OpenBLAS falls back to slow
 *          ones for a CPU it does not know, the program runs again with them corrected
 *          (ds_cli_correct_blas_core), as DualSegTrain and DualSegSegment do.
 *        dualseg_bench sgemm THREADS
 *          "sgemm_gflops=<G>": OpenBLAS SGEMM 2048^3 on THREADS threads, the best of 5 after a
 *          warm-up (the denominator of the fraction of the SGEMM peak).
 * Exit status: 0 done, 1 a failure (one line on stderr), 2 bad arguments.
 */
#include <cblas.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bench.h"
#include "ds_cli.h"
#include "ds_threads.h"

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static int sgemm(int threads)
{
    ds_ctx *ctx = NULL;
    if (ds_ctx_create(&ctx) != DS_OK || ds_threads_set(ctx, threads) != DS_OK)
        return fprintf(stderr, "dualseg_bench: cannot set %d threads\n", threads), 1;
    enum { N = 2048 };
    float *a = malloc(sizeof *a * N * N), *b = malloc(sizeof *b * N * N),
          *c = malloc(sizeof *c * N * N);
    if (!a || !b || !c)
        return fprintf(stderr, "dualseg_bench: out of memory\n"), 1;
    for (size_t i = 0; i < (size_t)N * N; ++i) {
        a[i] = (float)(i % 7) * 0.1f;
        b[i] = (float)(i % 5) * 0.2f;
    }
    double best = INFINITY;
    for (int r = 0; r < 6; ++r) {
        const double t = now();
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, N, N, N, 1.0f, a, N, b, N, 0.0f,
                    c, N);
        if (r > 0) /* the first is the warm-up */
            best = fmin(best, now() - t);
    }
    printf("sgemm_gflops=%.1f\n", 2.0 * N * N * (double)N / best / 1e9);
    free(a);
    free(b);
    free(c);
    ds_ctx_free(ctx);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc >= 2 && (strcmp(argv[1], "openblas") == 0 || strcmp(argv[1], "sgemm") == 0))
        ds_cli_correct_blas_core(argv);
    if (argc == 2 && strcmp(argv[1], "openblas") == 0)
        return printf("openblas_core=%s openblas_config=%s\n", openblas_get_corename(),
                      openblas_get_config()) < 0;
    if (argc == 3 && strcmp(argv[1], "sgemm") == 0)
        return sgemm(atoi(argv[2]));
    if (argc == 6 && strcmp(argv[1], "accuracy") == 0)
        return bench_accuracy(argv + 2);
    if (argc == 4 && strcmp(argv[1], "variants") == 0)
        return bench_variants(argv + 2);
    if (argc == 5 && strcmp(argv[1], "scaling") == 0)
        return bench_scaling(argv + 2);
    fprintf(stderr, "usage: dualseg_bench accuracy RUNS.tsv RUNS_DIR PLOTS_DIR PLOTS_LINK\n"
                    "       dualseg_bench variants RUNS.tsv RUNS_DIR\n"
                    "       dualseg_bench scaling TRAIN.csv SEGMENT.csv PLOTS_DIR\n"
                    "       dualseg_bench openblas\n"
                    "       dualseg_bench sgemm THREADS\n");
    return 2;
}
