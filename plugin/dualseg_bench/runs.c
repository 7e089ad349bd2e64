/* runs.c - reading the run list and DualSegEvaluate's per-case tables. */
#include "bench.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Splits line at commas (no quoting: case ids and statuses have none) into at most cap fields. */
static int split(char *line, char sep, char **field, int cap)
{
    int n = 0;
    field[n++] = line;
    for (char *p = line; *p && n < cap; ++p)
        if (*p == sep) {
            *p = '\0';
            field[n++] = p + 1;
        }
    return n;
}

static bench_case *find_case(bench_run *r, const char *id)
{
    for (int i = 0; i < r->count; ++i)
        if (strcmp(r->cases[i].id, id) == 0)
            return &r->cases[i];
    if (r->count == BENCH_MAX_CASES)
        return NULL;
    bench_case *k = &r->cases[r->count++];
    snprintf(k->id, sizeof k->id, "%s", id);
    for (int c = 0; c < BENCH_MAX_CLASSES; ++c)
        for (int m = 0; m < BENCH_METRICS; ++m)
            k->v[c][m] = NAN;
    return k;
}

/* Rows "case,class,status,dice,jaccard,hd95,asd,...", summary rows skipped. */
static int read_metrics(const char *path, bench_run *r)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return fprintf(stderr, "dualseg_bench: cannot open %s\n", path), -1;
    r->cases = calloc(BENCH_MAX_CASES, sizeof *r->cases);
    char line[1024];
    int ok = r->cases && fgets(line, sizeof line, f) && strncmp(line, "case,class,", 11) == 0;
    while (ok && fgets(line, sizeof line, f)) {
        line[strcspn(line, "\r\n")] = '\0';
        char *fl[8];
        if (split(line, ',', fl, 8) < 7)
            ok = 0;
        else if (strcmp(fl[2], "summary") != 0) {
            const int c = atoi(fl[1]);
            bench_case *k = c >= 1 && c <= BENCH_MAX_CLASSES ? find_case(r, fl[0]) : NULL;
            ok = k != NULL;
            for (int m = 0; ok && m < BENCH_METRICS; ++m)
                k->v[c - 1][m] = strtod(fl[3 + m], NULL);
            if (ok && c > r->classes)
                r->classes = c;
        }
    }
    fclose(f);
    if (!ok)
        fprintf(stderr, "dualseg_bench: %s is not a DualSegEvaluate table\n", path);
    return ok ? 0 : -1;
}

int bench_runs_load(const char *list, const char *dir, const char *table, const char *group,
                    bench_runs *out)
{
    memset(out, 0, sizeof *out);
    FILE *f = fopen(list, "r");
    if (!f)
        return fprintf(stderr, "dualseg_bench: cannot open %s\n", list), -1;
    char line[512];
    int rc = 0;
    while (rc == 0 && fgets(line, sizeof line, f) && out->count < BENCH_MAX_RUNS) {
        line[strcspn(line, "\r\n")] = '\0';
        char *fl[4];
        if (line[0] == '#' || line[0] == '\0')
            continue;
        if (split(line, '\t', fl, 4) != 4) {
            rc = -1;
            fprintf(stderr, "dualseg_bench: %s: line '%s' has not 4 fields\n", list, line);
            break;
        }
        if (group && strcmp(fl[1], group) != 0)
            continue;
        bench_run *r = &out->run[out->count++];
        snprintf(r->name, sizeof r->name, "%s", fl[0]);
        snprintf(r->group, sizeof r->group, "%s", fl[1]);
        r->seed = atoi(fl[2]);
        snprintf(r->description, sizeof r->description, "%s", fl[3]);
        char path[1024];
        snprintf(path, sizeof path, "%s/%s/DONE", dir, r->name);
        r->done = access(path, F_OK) == 0;
        snprintf(path, sizeof path, "%s/%s/%s", dir, r->name, table);
        if (r->done)
            rc = read_metrics(path, r);
    }
    fclose(f);
    return rc;
}

void bench_runs_free(bench_runs *r)
{
    for (int i = 0; i < r->count; ++i)
        free(r->run[i].cases);
    memset(r, 0, sizeof *r);
}

const bench_run *bench_find(const bench_runs *r, const char *name)
{
    for (int i = 0; i < r->count; ++i)
        if (strcmp(r->run[i].name, name) == 0)
            return &r->run[i];
    return NULL;
}

const bench_run *bench_find_group(const bench_runs *r, const char *group, int seed)
{
    for (int i = 0; i < r->count; ++i)
        if (strcmp(r->run[i].group, group) == 0 && r->run[i].seed == seed)
            return &r->run[i];
    return NULL;
}

double bench_mean(const bench_run *r, int c, int m)
{
    double sum = 0.0;
    int n = 0;
    for (int i = 0; i < r->count; ++i)
        if (!isnan(r->cases[i].v[c - 1][m])) {
            sum += r->cases[i].v[c - 1][m];
            ++n;
        }
    return n ? sum / n : NAN;
}

double bench_class_mean(const bench_run *r, int m)
{
    if (r->classes == 0)
        return NAN;
    double sum = 0.0;
    for (int c = 1; c <= r->classes; ++c)
        sum += bench_mean(r, c, m) / r->classes;
    return sum;
}

double bench_case_dice(const bench_run *r, int i)
{
    double sum = 0.0;
    for (int c = 1; c <= r->classes; ++c)
        sum += r->cases[i].v[c - 1][0];
    return sum / r->classes;
}
