/* bench.h - dualseg_bench's runs: the list scripts/benchmarks.sh writes and each run's per-case
 * metrics (DualSegEvaluate's table). */
#ifndef DUALSEG_BENCH_H
#define DUALSEG_BENCH_H

#include <stdio.h>

#define BENCH_MAX_RUNS 64
#define BENCH_MAX_CASES 512
#define BENCH_MAX_CLASSES 8
#define BENCH_METRICS 4 /* Dice, Jaccard, HD95, ASD */

typedef struct bench_case {
    char id[64];
    double v[BENCH_MAX_CLASSES][BENCH_METRICS]; /* foreground class c at [c - 1]; NaN: absent */
} bench_case;

typedef struct bench_run {
    char name[64], group[16], description[160];
    int seed, done;
    int classes; /* foreground classes in the table */
    int count;
    bench_case *cases; /* done runs only */
} bench_run;

typedef struct bench_runs {
    bench_run run[BENCH_MAX_RUNS];
    int count;
} bench_runs;

/* Reads the list (lines "name<TAB>group<TAB>seed<TAB>description"; only group's runs unless
 * group is NULL) and, for every run whose dir/<name>/DONE exists, its per-case table
 * dir/<name>/<table> (metrics.csv: the test cases; metrics_val.csv: the validation cases of the
 * variants). Returns 0, or -1 with a message on stderr (*out then holds what was read: free it). */
int bench_runs_load(const char *list, const char *dir, const char *table, const char *group,
                    bench_runs *out);
void bench_runs_free(bench_runs *r);
/* The run called name, or NULL. */
const bench_run *bench_find(const bench_runs *r, const char *name);
/* The first run of group with this seed, or NULL. */
const bench_run *bench_find_group(const bench_runs *r, const char *group, int seed);
/* The mean over the cases of metric m of class c (1-based), skipping NaN; NaN when none. */
double bench_mean(const bench_run *r, int c, int m);
/* bench_mean of metric m averaged over the foreground classes (the mean Dice for m = 0); NaN
 * without classes. */
double bench_class_mean(const bench_run *r, int m);
/* The per-case mean Dice over the foreground classes. */
double bench_case_dice(const bench_run *r, int i);

/* The subcommands (main.c's usage): argv holds their arguments; the exit status is returned. */
int bench_accuracy(char **argv);
int bench_variants(char **argv);
int bench_scaling(char **argv);

#endif
