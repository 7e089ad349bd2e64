/* accuracy.c - the accuracy part of BENCHMARKS.md: per-run means, mean +- std over seeds, the
 * paired comparison of (b) against (a), the headline and the plots (training curves, Dice per
 * case of (a) against (b)). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench.h"
#include "ds_paired.h"
#include "ds_render.h"

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
        printf(" %d |", r->count);
        cell(bench_class_mean(r, 0), 4);
        for (int m = 0; m < BENCH_METRICS; ++m)
            for (int c = 1; c <= k; ++c)
                cell(c <= r->classes ? bench_mean(r, c, m) : NAN, m < 2 ? 4 : 2);
        printf("\n");
    }
}

/* The variant chosen on the validation cases, run again with the other seeds (group vs, named
 * "<variant>-<seed>"): its seed-1337 run is the variant's own (group v), named without the
 * suffix. NULL: no vs run is listed. */
static const bench_run *chosen_variant(const bench_runs *rs)
{
    for (int i = 0; i < rs->count; ++i)
        if (strcmp(rs->run[i].group, "vs") == 0) {
            char base[sizeof rs->run[i].name];
            snprintf(base, sizeof base, "%s", rs->run[i].name);
            char *dash = strrchr(base, '-');
            if (dash)
                *dash = '\0';
            return bench_find(rs, base);
        }
    return NULL;
}

/* The run of group at seed; for vs at 1337 the chosen variant's own run. */
static const bench_run *seed_run(const bench_runs *rs, const char *group, int seed)
{
    const bench_run *r = bench_find_group(rs, group, seed);
    if (!r && seed == 1337 && strcmp(group, "vs") == 0)
        r = chosen_variant(rs);
    return r;
}

/* Mean and sample std over the done seeds of group of the runs' means of metric m: of class c,
 * or (c = 0) averaged over the classes. Returns the number of seeds done. */
static int over_seeds(const bench_runs *rs, const char *group, int c, int m, double *mean,
                      double *sd)
{
    double v[3];
    int n = 0;
    for (int s = 0; s < 3; ++s) {
        const bench_run *r = seed_run(rs, group, SEEDS[s]);
        if (!r || !r->done)
            continue;
        v[n++] = c > 0 ? bench_mean(r, c, m) : bench_class_mean(r, m);
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
    static const char *const groups[3] = {"a", "b", "vs"};
    const bench_run *chosen = chosen_variant(rs);
    char variant[320];
    snprintf(variant, sizeof variant, "(v) the chosen variant %s (validation cases left out of "
             "the unlabelled ones), labelled_10pct", chosen ? chosen->name : "");
    const char *const names[3] = {"(a) supervised V-Net, labelled_10pct",
                                  "(b) dual method, labelled_10pct", variant};
    printf("| method | seeds done | mean Dice | Dice 1 | Dice 2 | Jaccard | HD95 (mm) | ASD (mm) "
           "|\n|---|---|---|---|---|---|---|---|\n");
    for (int g = 0; g < (chosen ? 3 : 2); ++g) {
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

/* The paired comparison p of b against a over their common cases (their mean Dice per case into
 * da, db); the number of pairs, 0 when there is none or the comparison fails. */
static int compare_paired(const bench_run *a, const bench_run *b, double *da, double *db,
                          ds_paired_result *p)
{
    const int n = pair_cases(a, b, da, db);
    ds_ctx *ctx = NULL;
    const int ok = n > 0 && ds_ctx_create(&ctx) == DS_OK &&
                   ds_paired_compare(ctx, da, db, n, p) == DS_OK;
    ds_ctx_free(ctx);
    return ok ? n : 0;
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
        ds_paired_result p;
        const int n = compare_paired(a, b, da, db, &p);
        if (n == 0) {
            printf("| %d | no common case | | | | | | | |\n", SEEDS[s]);
            continue;
        }
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
    double v, sv;
    const bench_run *chosen = chosen_variant(rs);
    const int nv = chosen ? over_seeds(rs, "vs", 0, 0, &v, &sv) : 0;
    if (nv == 0)
        return;
    printf("\nThe variant chosen on the validation cases, %s, over %d seed(s): mean Dice %.4f, "
           "%+.2f points over (a)", chosen->name, nv, v, 100.0 * (v - a));
    if (nd && d > a)
        printf(", %.0f %% of the gap to full supervision", 100.0 * (v - a) / (d - a));
    printf(".\n");
}

/* Issue 16's accuracy check: (b) at seed 1337 trained again by the current engine (group e)
 * against the first (b) run, which the older engine trained. Same seed, data and schedule; the
 * models differ only through the engine's rounding (Winograd, fused and recomputed layers), so
 * the difference is judged against (b)'s spread over the seeds: within 2 sample stds. */
static void engine_check(const bench_runs *rs)
{
    const bench_run *e = bench_find_group(rs, "e", 1337), *b = bench_find_group(rs, "b", 1337);
    if (!e)
        return;
    printf("\n### The engine check: (b) trained again by the current engine (issue 16)\n\n");
    double mean, sd;
    const int n = over_seeds(rs, "b", 0, 0, &mean, &sd);
    if (!e->done || !b || !b->done || n < 2) {
        printf("Pending (%s, b-1337 and two seeds of (b) must be finished).\n", e->name);
        return;
    }
    static double db[BENCH_MAX_CASES], de[BENCH_MAX_CASES];
    ds_paired_result p;
    const int pairs = compare_paired(b, e, db, de, &p);
    const double vb = bench_class_mean(b, 0), ve = bench_class_mean(e, 0);
    printf("%s (%s): mean Dice %.4f against %s's %.4f, %+.2f points; (b)'s sample std over %d "
           "seeds is %.4f, so the difference is %.1f stds: %s.", e->name, e->description, ve,
           b->name, vb, 100.0 * (ve - vb), n, sd, sd > 0 ? fabs(ve - vb) / sd : INFINITY,
           fabs(ve - vb) <= 2.0 * sd ? "within the seed spread (at most 2 stds)"
                                     : "outside the seed spread (more than 2 stds)");
    if (pairs > 0)
        printf(" Paired over %d cases: mean difference %+.4f, standard error %.4f, Wilcoxon p "
               "%.3g.", pairs, p.mean_diff, p.se_diff, p.p_value);
    printf(" The runs' commits and machines are in their records' DONE (the machines are listed "
           "at the top): a different machine's BLAS kernels also change the rounding.\n");
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

int bench_accuracy(char **argv)
{
    bench_runs *rs = malloc(sizeof *rs);
    if (!rs)
        return fprintf(stderr, "dualseg_bench: out of memory\n"), 1;
    if (bench_runs_load(argv[0], argv[1], "metrics.csv", NULL, rs) != 0) {
        bench_runs_free(rs);
        free(rs);
        return 1;
    }
    printf("### Every run (means over the test cases; empty predictions count as 0)\n\n");
    per_run_table(rs);
    printf("\n### (a), (b) and the chosen variant over the seeds 1337, 1338, 1339 (mean +- sample "
           "std of the runs' means; Jaccard, HD95, ASD averaged over the classes)\n\n");
    seeds_table(rs);
    printf("\n### Paired per-case comparison of (b) against (a) (mean Dice of the classes per "
           "case; Wilcoxon signed-rank as scipy.stats.wilcoxon's defaults: exact up to 50 pairs "
           "without zeros, otherwise the normal approximation with zero and tie handling)\n\n");
    paired_table(rs);
    printf("\n");
    headline(rs);
    engine_check(rs);
    printf("\n### Plots\n\n");
    const int rc = curves_and_scatter(rs, argv[1], argv[2], argv[3]);
    bench_runs_free(rs);
    free(rs);
    return rc == 0 ? 0 : 1;
}
