/* dualseg_bench - the tables, statistics and plots of BENCHMARKS.md from what
 * scripts/benchmarks.sh leaves (it never invents a number: a run without its DONE file is
 * "pending").
 *
 * Usage: dualseg_bench accuracy RUNS.tsv RUNS_DIR PLOTS_DIR PLOTS_LINK
 *          Markdown on stdout: per-run means over the test cases, mean +- std over seeds of (a)
 *          and (b), the paired comparison of (b) against (a) per seed (ds_paired.h), the
 *          headline; PNGs in PLOTS_DIR (training curves of a-1337 and b-1337, the per-case Dice
 *          scatter), linked in the Markdown as PLOTS_LINK/<file>.
 *        dualseg_bench scaling TRAIN.csv SEGMENT.csv PLOTS_DIR
 *          The scaling plots: seconds per iteration and peak memory against the patch's voxels
 *          (TRAIN.csv: voxels,pair,ours_s,torch_s,ours_mib,torch_mib; pair 1: the pair, 0: the
 *          V-Net) and segmentation time against the volume's voxels (SEGMENT.csv:
 *          voxels,ours_s,torch_s,ours_mib,torch_mib).
 *        dualseg_bench openblas
 *          "openblas_core=<openblas_get_corename()> openblas_config=<openblas_get_config()>"
 *        dualseg_bench sgemm THREADS
 *          "sgemm_gflops=<G>": OpenBLAS SGEMM 2048^3 on THREADS threads, the best of 5 after a
 *          warm-up (the denominator of the fraction of the SGEMM peak).
 * Exit status: 0 done, 1 a failure (one line on stderr), 2 bad arguments.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cblas.h>
#include <time.h>

#include "bench.h"
#include "ds_paired.h"
#include "ds_render.h"
#include "ds_threads.h"

static const char *const METRIC[BENCH_METRICS] = {"Dice", "Jaccard", "HD95 (mm)", "ASD (mm)"};
static const int SEEDS[3] = {1337, 1338, 1339};

static void cell(double v, int digits)
{
    if (isnan(v))
        printf(" n/a |");
    else
        printf(" %.*f |", digits, v);
}

static void per_run_table(const bench_runs *rs)
{
    int k = 0;
    for (int i = 0; i < rs->count; ++i)
        if (rs->run[i].done && rs->run[i].classes > k)
            k = rs->run[i].classes;
    if (k == 0)
        k = 2;
    printf("| run | what | seed | cases | mean Dice |");
    for (int m = 0; m < BENCH_METRICS; ++m)
        for (int c = 1; c <= k; ++c)
            printf(" %s %d |", METRIC[m], c);
    printf("\n|---|---|---|---|---|");
    for (int j = 0; j < BENCH_METRICS * k; ++j)
        printf("---|");
    printf("\n");
    for (int i = 0; i < rs->count; ++i) {
        const bench_run *r = &rs->run[i];
        printf("| %s | %s | %d |", r->name, r->description, r->seed);
        if (!r->done) {
            printf(" pending |");
            for (int j = 0; j <= BENCH_METRICS * k; ++j)
                printf(" |");
            printf("\n");
            continue;
        }
        double dice = 0.0;
        for (int c = 1; c <= r->classes; ++c)
            dice += bench_mean(r, c, 0) / r->classes;
        printf(" %d |", r->count);
        cell(dice, 4);
        for (int m = 0; m < BENCH_METRICS; ++m)
            for (int c = 1; c <= k; ++c)
                cell(c <= r->classes ? bench_mean(r, c, m) : NAN, m < 2 ? 4 : 2);
        printf("\n");
    }
}

/* Mean and sample std over the done seeds of group of the runs' means of metric m: of class c,
 * or (c = 0) averaged over the classes. Returns the number of seeds done. */
static int over_seeds(const bench_runs *rs, const char *group, int c, int m, double *mean,
                      double *sd)
{
    double v[3];
    int n = 0;
    for (int s = 0; s < 3; ++s) {
        const bench_run *r = bench_find_group(rs, group, SEEDS[s]);
        if (!r || !r->done)
            continue;
        double x = 0.0;
        if (c > 0)
            x = bench_mean(r, c, m);
        else
            for (int cc = 1; cc <= r->classes; ++cc)
                x += bench_mean(r, cc, m) / r->classes;
        v[n++] = x;
    }
    double sum = 0.0, ss = 0.0;
    for (int i = 0; i < n; ++i)
        sum += v[i];
    *mean = n ? sum / n : NAN;
    for (int i = 0; i < n; ++i)
        ss += (v[i] - *mean) * (v[i] - *mean);
    *sd = n > 1 ? sqrt(ss / (n - 1)) : NAN;
    return n;
}

static void seeds_table(const bench_runs *rs)
{
    static const char *const groups[2] = {"a", "b"};
    static const char *const names[2] = {"(a) supervised V-Net, labelled_10pct",
                                         "(b) dual method, labelled_10pct"};
    printf("| method | seeds done | mean Dice | Dice 1 | Dice 2 | Jaccard | HD95 (mm) | ASD (mm) "
           "|\n|---|---|---|---|---|---|---|---|\n");
    for (int g = 0; g < 2; ++g) {
        double mean, sd;
        const int n = over_seeds(rs, groups[g], 0, 0, &mean, &sd);
        printf("| %s | %d of 3 |", names[g], n);
        if (n == 0) {
            printf(" pending | | | | | |\n");
            continue;
        }
        const int cm[6][2] = {{0, 0}, {1, 0}, {2, 0}, {0, 1}, {0, 2}, {0, 3}};
        for (int j = 0; j < 6; ++j) {
            over_seeds(rs, groups[g], cm[j][0], cm[j][1], &mean, &sd);
            const int digits = cm[j][1] < 2 ? 4 : 2;
            if (isnan(sd))
                printf(" %.*f |", digits, mean);
            else
                printf(" %.*f +- %.*f |", digits, mean, digits, sd);
        }
        printf("\n");
    }
}

/* The per-case mean Dice of a and b over the cases both have, in a's order. */
static int pair_cases(const bench_run *a, const bench_run *b, double *da, double *db)
{
    int n = 0;
    for (int i = 0; i < a->count; ++i)
        for (int j = 0; j < b->count; ++j)
            if (strcmp(a->cases[i].id, b->cases[j].id) == 0) {
                da[n] = bench_case_dice(a, i);
                db[n++] = bench_case_dice(b, j);
            }
    return n;
}

static void paired_table(const bench_runs *rs)
{
    printf("| seed | cases | mean Dice (a) | mean Dice (b) | mean difference (b - a) | standard "
           "error | Wilcoxon T | p (two-sided) | method |\n|---|---|---|---|---|---|---|---|---|\n");
    static double da[BENCH_MAX_CASES], db[BENCH_MAX_CASES];
    for (int s = 0; s < 3; ++s) {
        const bench_run *a = bench_find_group(rs, "a", SEEDS[s]),
                        *b = bench_find_group(rs, "b", SEEDS[s]);
        if (!a || !b || !a->done || !b->done) {
            printf("| %d | pending | | | | | | | |\n", SEEDS[s]);
            continue;
        }
        const int n = pair_cases(a, b, da, db);
        ds_paired_result p;
        ds_ctx *ctx = NULL;
        if (n == 0 || ds_ctx_create(&ctx) != DS_OK || ds_paired_compare(ctx, da, db, n, &p)) {
            printf("| %d | no common case | | | | | | | |\n", SEEDS[s]);
            ds_ctx_free(ctx);
            continue;
        }
        ds_ctx_free(ctx);
        double ma = 0, mb = 0;
        for (int i = 0; i < n; ++i) {
            ma += da[i] / n;
            mb += db[i] / n;
        }
        printf("| %d | %d | %.4f | %.4f | %+.4f | %.4f | %.1f | %.3g | %s |\n", SEEDS[s], n, ma,
               mb, p.mean_diff, p.se_diff, p.statistic, p.p_value,
               ds_wilcoxon_method_name(p.method));
    }
}

static void headline(const bench_runs *rs)
{
    double a, sa, b, sb, d, sd;
    const int na = over_seeds(rs, "a", 0, 0, &a, &sa), nb = over_seeds(rs, "b", 0, 0, &b, &sb);
    const bench_run *full = bench_find_group(rs, "d", 1337);
    const int nd = full && full->done ? 1 : 0;
    if (nd)
        over_seeds(rs, "d", 0, 0, &d, &sd);
    printf("Headline: ");
    if (na == 0 || nb == 0) {
        printf("pending (runs (a) and (b) not finished).\n");
        return;
    }
    printf("mean Dice (a) %.4f over %d seed(s), (b) %.4f over %d seed(s): (b) - (a) = %+.2f Dice "
           "points (target: at least +1.0)", a, na, b, nb, 100.0 * (b - a));
    if (nd && d > a)
        printf("; (d) %.4f, so (b) closes %.0f %% of the gap to full supervision (target: at "
               "least 50 %%)", d, 100.0 * (b - a) / (d - a));
    else
        printf("; (d) pending");
    printf(".\n");
}

static int curves_and_scatter(const bench_runs *rs, const char *runs, const char *plots,
                              const char *link)
{
    ds_ctx *ctx = NULL;
    if (ds_ctx_create(&ctx) != DS_OK)
        return -1;
    ds_render_options o;
    ds_render_options_init(&o);
    o.width = 1000;
    o.height = 700;
    static const char *const names[2] = {"a-1337", "b-1337"};
    char path[1024], title[256];
    for (int i = 0; i < 2; ++i) {
        const bench_run *r = bench_find(rs, names[i]);
        ds_render_table t;
        snprintf(path, sizeof path, "%s/%s/training_log.csv", runs, names[i]);
        if (!r || !r->done || ds_render_read_csv(ctx, path, &t) != DS_OK) {
            printf("- training curve of %s: pending\n", names[i]);
            continue;
        }
        snprintf(title, sizeof title, "training curve: %s (%s)", names[i], r->description);
        o.title = title;
        snprintf(path, sizeof path, "%s/curve_%s.png", plots, names[i]);
        const ds_status st = ds_render_training_curve(ctx, &t, &o, path);
        ds_render_table_free(&t);
        if (st != DS_OK)
            return fprintf(stderr, "dualseg_bench: %s\n", ds_ctx_message(ctx)), -1;
        printf("- training curve of %s:\n\n  ![training curve %s](%s/curve_%s.png)\n\n", names[i],
               names[i], link, names[i]);
    }
    const bench_run *a = bench_find(rs, "a-1337"), *b = bench_find(rs, "b-1337");
    static double da[BENCH_MAX_CASES], db[BENCH_MAX_CASES];
    const int n = a && b && a->done && b->done ? pair_cases(a, b, da, db) : 0;
    if (n == 0) {
        printf("- Dice per case, (a) against (b): pending\n");
    } else {
        ds_render_series s = {"test case (seed 1337)", da, db, n, DS_RENDER_MARK_POINTS};
        ds_render_plot_options p;
        ds_render_plot_options_init(&p);
        p.x_label = "mean Dice per case, (a) supervised";
        p.y_label = "(b) dual method";
        p.guide = DS_RENDER_GUIDE_DIAGONAL;
        o.width = o.height = 700;
        o.title = "Dice per test case: above the diagonal (b) wins";
        snprintf(path, sizeof path, "%s/dice_a_vs_b.png", plots);
        if (ds_render_xy_plot(ctx, &s, 1, &p, &o, path) != DS_OK)
            return fprintf(stderr, "dualseg_bench: %s\n", ds_ctx_message(ctx)), -1;
        printf("- Dice per case, (a) against (b):\n\n  ![Dice per case](%s/dice_a_vs_b.png)\n",
               link);
    }
    ds_ctx_free(ctx);
    return 0;
}

static int accuracy(char **argv)
{
    bench_runs *rs = malloc(sizeof *rs);
    if (!rs || bench_runs_load(argv[0], argv[1], rs) != 0)
        return free(rs), 1;
    printf("### Every run (means over the test cases; empty predictions count as 0)\n\n");
    per_run_table(rs);
    printf("\n### (a) and (b) over the seeds 1337, 1338, 1339 (mean +- sample std of the runs' "
           "means; Jaccard, HD95, ASD averaged over the classes)\n\n");
    seeds_table(rs);
    printf("\n### Paired per-case comparison of (b) against (a) (mean Dice of the classes per "
           "case; Wilcoxon signed-rank as scipy.stats.wilcoxon's defaults: exact up to 50 pairs "
           "without zeros, otherwise the normal approximation with zero and tie handling)\n\n");
    paired_table(rs);
    printf("\n");
    headline(rs);
    printf("\n### Plots\n\n");
    const int rc = curves_and_scatter(rs, argv[1], argv[2], argv[3]);
    bench_runs_free(rs);
    free(rs);
    return rc == 0 ? 0 : 1;
}

/* ---- Scaling ---- */

static int column(ds_ctx *ctx, const ds_render_table *t, const char *name, const char *path)
{
    const int c = ds_render_table_column(t, name);
    if (c < 0)
        ds_fail(ctx, DS_ERR_FORMAT, "%s: no column %s", path, name);
    return c;
}

/* Series of column ycol against "voxels" for the rows whose column sel equals want (sel < 0:
 * every row); xs, ys receive them. */
static int64_t gather(const ds_render_table *t, int xcol, int ycol, int sel, double want,
                      double *xs, double *ys)
{
    int64_t n = 0;
    for (int64_t r = 0; r < t->rows; ++r)
        if (sel < 0 || t->values[r * t->columns + sel] == want) {
            xs[n] = t->values[r * t->columns + xcol];
            ys[n++] = t->values[r * t->columns + ycol];
        }
    return n;
}

static ds_status plot_pair(ds_ctx *ctx, const ds_render_table *t, const char *path,
                           const char *const y[2], int by_pair, const char *title,
                           const char *ylabel, const char *out)
{
    const int x = column(ctx, t, "voxels", path), sel = by_pair ? column(ctx, t, "pair", path) : -1;
    const int yc[2] = {column(ctx, t, y[0], path), column(ctx, t, y[1], path)};
    if (x < 0 || yc[0] < 0 || yc[1] < 0 || (by_pair && sel < 0))
        return DS_ERR_FORMAT;
    double *buf = malloc(sizeof *buf * (size_t)(8 * t->rows + 8));
    if (!buf)
        return ds_fail(ctx, DS_ERR_NOMEM, "out of memory");
    static const char *const who[2][2] = {{"DualSeg, V-Net", "PyTorch, V-Net"},
                                          {"DualSeg, pair", "PyTorch, pair"}};
    ds_render_series s[4];
    int count = 0;
    for (int p = by_pair ? 0 : 1; p < 2; ++p)
        for (int k = 0; k < 2; ++k, ++count) {
            double *xs = buf + 2 * count * t->rows, *ys = xs + t->rows;
            const char *name = by_pair ? who[p][k] : k ? "PyTorch, pair" : "DualSeg, pair";
            s[count] = (ds_render_series){name, xs, ys, gather(t, x, yc[k], sel, p, xs, ys),
                                          DS_RENDER_MARK_LINE};
        }
    ds_render_plot_options po;
    ds_render_plot_options_init(&po);
    po.x_scale = po.y_scale = DS_RENDER_SCALE_LOG;
    po.x_label = by_pair ? "voxels in the patch" : "voxels in the volume";
    po.y_label = ylabel;
    ds_render_options o;
    ds_render_options_init(&o);
    o.width = 900;
    o.height = 600;
    o.title = title;
    const ds_status st = ds_render_xy_plot(ctx, s, count, &po, &o, out);
    free(buf);
    return st;
}

static int scaling(char **argv)
{
    ds_ctx *ctx = NULL;
    if (ds_ctx_create(&ctx) != DS_OK)
        return 1;
    ds_render_table train, seg;
    char out[3][1024];
    static const char *const files[3] = {"scaling_train_time", "scaling_train_memory",
                                         "scaling_segment_time"};
    for (int i = 0; i < 3; ++i)
        snprintf(out[i], sizeof out[i], "%s/%s.png", argv[2], files[i]);
    ds_status st = ds_render_read_csv(ctx, argv[0], &train);
    if (st == DS_OK) {
        st = plot_pair(ctx, &train, argv[0], (const char *const[2]){"ours_s", "torch_s"}, 1,
                       "Training: seconds per iteration against the patch (batch 2 + 2)",
                       "s / iteration", out[0]);
        if (st == DS_OK)
            st = plot_pair(ctx, &train, argv[0], (const char *const[2]){"ours_mib", "torch_mib"},
                           1, "Training: peak memory against the patch", "peak MiB", out[1]);
        ds_render_table_free(&train);
    }
    if (st == DS_OK && (st = ds_render_read_csv(ctx, argv[1], &seg)) == DS_OK) {
        st = plot_pair(ctx, &seg, argv[1], (const char *const[2]){"ours_s", "torch_s"}, 0,
                       "Segmentation of one volume (the pair) against its size", "seconds",
                       out[2]);
        ds_render_table_free(&seg);
    }
    if (st != DS_OK)
        fprintf(stderr, "dualseg_bench: %s\n", ds_ctx_message(ctx));
    ds_ctx_free(ctx);
    return st == DS_OK ? 0 : 1;
}

/* ---- The machine ---- */

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
    if (argc == 2 && strcmp(argv[1], "openblas") == 0)
        return printf("openblas_core=%s openblas_config=%s\n", openblas_get_corename(),
                      openblas_get_config()) < 0;
    if (argc == 3 && strcmp(argv[1], "sgemm") == 0)
        return sgemm(atoi(argv[2]));
    if (argc == 6 && strcmp(argv[1], "accuracy") == 0)
        return accuracy(argv + 2);
    if (argc == 5 && strcmp(argv[1], "scaling") == 0)
        return scaling(argv + 2);
    fprintf(stderr, "usage: dualseg_bench accuracy RUNS.tsv RUNS_DIR PLOTS_DIR PLOTS_LINK\n"
                    "       dualseg_bench scaling TRAIN.csv SEGMENT.csv PLOTS_DIR\n"
                    "       dualseg_bench openblas\n"
                    "       dualseg_bench sgemm THREADS\n");
    return 2;
}
