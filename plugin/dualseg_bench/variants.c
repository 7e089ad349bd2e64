/* variants.c - the variants' part of BENCHMARKS.md (issue 14): each v- run's mean Dice on the
 * validation cases (metrics_val.csv) and on the test cases (metrics.csv), and the choice, made on
 * the validation cases only: the variant with the highest validation mean Dice, if it beats the
 * baseline v-base there. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench.h"

#define BASELINE "v-base"

static double mean_dice(const bench_run *r) { return bench_class_mean(r, 0); }

/* The chosen run of val (NULL: none beats the baseline); pending when some run is not done. */
static const bench_run *choose(const bench_runs *val, int *pending)
{
    const bench_run *base = bench_find(val, BASELINE), *best = NULL;
    *pending = !base || !base->done;
    for (int i = 0; i < val->count; ++i) {
        const bench_run *r = &val->run[i];
        if (!r->done)
            *pending = 1;
        else if (r != base && (!best || mean_dice(r) > mean_dice(best)))
            best = r;
    }
    return *pending || !best || mean_dice(best) <= mean_dice(base) ? NULL : best;
}

static void print_table(const bench_runs *val, const bench_runs *test)
{
    printf("| run | what | validation cases | validation mean Dice | test mean Dice |\n"
           "|---|---|---|---|---|\n");
    for (int i = 0; i < val->count; ++i) {
        const bench_run *v = &val->run[i], *t = bench_find(test, v->name);
        printf("| %s | %s |", v->name, v->description);
        if (!v->done || !t) {
            printf(" pending | | |\n");
            continue;
        }
        printf(" %d | %.4f | %.4f |\n", v->count, mean_dice(v), mean_dice(t));
    }
}

static void print_choice(const bench_runs *val, const bench_runs *test)
{
    int pending;
    const bench_run *chosen = choose(val, &pending);
    const bench_run *base = bench_find(val, BASELINE);
    if (pending) {
        printf("Chosen: pending (every v- run must finish; the choice is made on the validation "
               "cases only).\n");
    } else if (!chosen) {
        printf("Chosen: none: no variant beats %s on the validation cases (%.4f).\n", BASELINE,
               mean_dice(base));
    } else {
        const bench_run *ct = bench_find(test, chosen->name), *bt = bench_find(test, BASELINE);
        printf("Chosen on the validation cases: %s (%.4f against %s %.4f, %+.2f points); on the "
               "test cases it scores %.4f against %.4f (%+.2f points).\n", chosen->name,
               mean_dice(chosen), BASELINE, mean_dice(base),
               100.0 * (mean_dice(chosen) - mean_dice(base)), mean_dice(ct), mean_dice(bt),
               100.0 * (mean_dice(ct) - mean_dice(bt)));
    }
}

int bench_variants(char **argv)
{
    bench_runs *val = malloc(sizeof *val), *test = malloc(sizeof *test);
    int rc = val && test ? 0 : (fprintf(stderr, "dualseg_bench: out of memory\n"), 1);
    if (rc == 0 && (bench_runs_load(argv[0], argv[1], "metrics_val.csv", "v", val) != 0 ||
                    bench_runs_load(argv[0], argv[1], "metrics.csv", "v", test) != 0))
        rc = 1;
    if (rc == 0 && val->count == 0)
        rc = (fprintf(stderr, "dualseg_bench: %s lists no run of group v\n", argv[0]), 1);
    if (rc == 0) {
        print_table(val, test);
        printf("\n");
        print_choice(val, test);
    }
    if (val)
        bench_runs_free(val);
    if (test)
        bench_runs_free(test);
    free(val);
    free(test);
    return rc;
}
