/* cohort.c - per-case per-class rows, mean +- std per class, CSV written atomically. */
#include "metrics_internal.h"
#include "ds_atomic_file.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

typedef struct cohort_case {
    char *name;
    ds_metrics_result *rows; /* K - 1 */
} cohort_case;

struct ds_metrics_cohort {
    ds_metrics_options opts;
    cohort_case *cases;
    int count, cap;
};

ds_status ds_metrics_cohort_create(ds_ctx *ctx, const ds_metrics_options *opts,
                                   ds_metrics_cohort **out)
{
    if (!out)
        return ds_fail(ctx, DS_ERR_ARG, "ds_metrics_cohort_create: out is NULL");
    *out = NULL;
    ds_metrics_options o;
    ds_status st = ds_metrics_resolve_options(ctx, opts, &o, "ds_metrics_cohort_create");
    if (st != DS_OK)
        return st;
    ds_metrics_cohort *c = calloc(1, sizeof *c);
    if (!c)
        return ds_fail(ctx, DS_ERR_NOMEM, "ds_metrics_cohort_create: out of memory");
    c->opts = o;
    *out = c;
    return DS_OK;
}

void ds_metrics_cohort_free(ds_metrics_cohort *cohort)
{
    if (!cohort)
        return;
    for (int i = 0; i < cohort->count; ++i) {
        free(cohort->cases[i].name);
        free(cohort->cases[i].rows);
    }
    free(cohort->cases);
    free(cohort);
}

ds_status ds_metrics_cohort_add(ds_ctx *ctx, ds_metrics_cohort *cohort, const char *name,
                                const uint16_t *pred, const uint16_t *ref, const int64_t size[3],
                                const double spacing[3])
{
    if (!cohort || !name || !*name)
        return ds_fail(ctx, DS_ERR_ARG, "ds_metrics_cohort_add: %s",
                       !cohort ? "cohort is NULL" : "the case name is NULL or empty");
    if (cohort->count == cohort->cap) {
        if (cohort->cap > (1 << 28))
            return ds_fail(ctx, DS_ERR_NOMEM, "ds_metrics_cohort_add: too many cases");
        const int cap = cohort->cap ? 2 * cohort->cap : 16;
        cohort_case *grown = realloc(cohort->cases, sizeof *grown * (size_t)cap);
        if (!grown)
            return ds_fail(ctx, DS_ERR_NOMEM, "ds_metrics_cohort_add: out of memory");
        cohort->cases = grown;
        cohort->cap = cap;
    }
    const int k = cohort->opts.num_classes;
    ds_metrics_result *rows = malloc(sizeof *rows * (size_t)(k - 1));
    const size_t len = strlen(name);
    char *copy = malloc(len + 1);
    if (!rows || !copy) {
        free(rows);
        free(copy);
        return ds_fail(ctx, DS_ERR_NOMEM, "ds_metrics_cohort_add: out of memory for case '%s'",
                       name);
    }
    memcpy(copy, name, len + 1);
    ds_status st = ds_metrics_labels(ctx, pred, ref, size, spacing, &cohort->opts, rows);
    if (st != DS_OK) {
        free(rows);
        free(copy);
        /* the message already names the input; say which case it was */
        char msg[DS_MESSAGE_CAP];
        snprintf(msg, sizeof msg, "%s", ds_ctx_message(ctx));
        return ds_fail(ctx, st, "case '%s': %s", name, msg);
    }
    cohort->cases[cohort->count].name = copy;
    cohort->cases[cohort->count].rows = rows;
    ++cohort->count;
    return DS_OK;
}

ds_status ds_metrics_cohort_evaluate(ds_ctx *ctx, ds_metrics_cohort *cohort,
                                     const ds_metrics_case *cases, int n)
{
    if (n < 0 || (n > 0 && !cases))
        return ds_fail(ctx, DS_ERR_ARG, "ds_metrics_cohort_evaluate: %d cases at %p", n,
                       (const void *)cases);
    for (int i = 0; i < n; ++i) {
        const ds_metrics_case *c = &cases[i];
        ds_status st = ds_metrics_cohort_add(ctx, cohort, c->name, c->pred, c->ref, c->size,
                                             c->spacing);
        if (st != DS_OK)
            return st;
    }
    return DS_OK;
}

int ds_metrics_cohort_cases(const ds_metrics_cohort *cohort) { return cohort ? cohort->count : 0; }

static ds_status check_class(ds_ctx *ctx, const ds_metrics_cohort *cohort, int c, const char *what)
{
    if (!cohort)
        return ds_fail(ctx, DS_ERR_ARG, "%s: cohort is NULL", what);
    if (c < 1 || c >= cohort->opts.num_classes)
        return ds_fail(ctx, DS_ERR_ARG, "%s: class %d is outside 1..%d", what, c,
                       cohort->opts.num_classes - 1);
    return DS_OK;
}

ds_status ds_metrics_cohort_row(ds_ctx *ctx, const ds_metrics_cohort *cohort, int i, int c,
                                ds_metrics_result *out, const char **name)
{
    ds_status st = check_class(ctx, cohort, c, "ds_metrics_cohort_row");
    if (st != DS_OK)
        return st;
    if (i < 0 || i >= cohort->count || !out)
        return ds_fail(ctx, DS_ERR_ARG, "ds_metrics_cohort_row: %s", !out ? "out is NULL"
                       : "case index out of range");
    *out = cohort->cases[i].rows[c - 1];
    if (name)
        *name = cohort->cases[i].name;
    return DS_OK;
}

ds_status ds_metrics_cohort_summary(ds_ctx *ctx, const ds_metrics_cohort *cohort, int c,
                                    ds_metrics_summary *out)
{
    ds_status st = check_class(ctx, cohort, c, "ds_metrics_cohort_summary");
    if (st != DS_OK)
        return st;
    if (!out)
        return ds_fail(ctx, DS_ERR_ARG, "ds_metrics_cohort_summary: out is NULL");
    memset(out, 0, sizeof *out);
    double sum[DS_METRIC_COUNT] = {0};
    out->n_cases = cohort->count;
    for (int i = 0; i < cohort->count; ++i) {
        const ds_metrics_result *r = &cohort->cases[i].rows[c - 1];
        out->n_pred_empty += (r->flags & DS_METRICS_PRED_EMPTY) != 0;
        out->n_ref_empty += (r->flags & DS_METRICS_REF_EMPTY) != 0;
        if (r->flags & DS_METRICS_EXCLUDED)
            continue;
        ++out->n_used;
        for (int m = 0; m < DS_METRIC_COUNT; ++m)
            sum[m] += r->value[m];
    }
    out->n_excluded = out->n_cases - out->n_used;
    for (int m = 0; m < DS_METRIC_COUNT; ++m) {
        out->mean[m] = out->n_used ? sum[m] / out->n_used : NAN;
        double ss = 0.0; /* two-pass: sum of squared deviations from the mean */
        for (int i = 0; i < cohort->count; ++i) {
            const ds_metrics_result *r = &cohort->cases[i].rows[c - 1];
            if (!(r->flags & DS_METRICS_EXCLUDED))
                ss += (r->value[m] - out->mean[m]) * (r->value[m] - out->mean[m]);
        }
        out->std[m] = out->n_used ? sqrt(ss / out->n_used) : NAN;
    }
    return DS_OK;
}

/* ---- CSV ---- */

static void put_name(FILE *f, const char *s)
{
    if (!strpbrk(s, ",\"\r\n")) {
        fputs(s, f);
        return;
    }
    fputc('"', f);
    for (; *s; ++s) {
        if (*s == '"')
            fputc('"', f);
        fputc(*s, f);
    }
    fputc('"', f);
}

static void put_number(FILE *f, double v)
{
    if (isnan(v))
        fputs(",nan", f);
    else if (isinf(v))
        fputs(v > 0 ? ",inf" : ",-inf", f);
    else
        fprintf(f, ",%.17g", v);
}

static const char *status_of(unsigned flags)
{
    const int p = (flags & DS_METRICS_PRED_EMPTY) != 0, r = (flags & DS_METRICS_REF_EMPTY) != 0;
    if (flags & DS_METRICS_SCORED_ZERO)
        return r ? "empty_both_scored_0" : "empty_pred_scored_0";
    return p && r ? "empty_both" : p ? "empty_pred" : r ? "empty_ref" : "ok";
}

static void write_table(FILE *f, const ds_metrics_cohort *cohort)
{
    const char *u = cohort->opts.units == DS_METRICS_VOXELS ? "vox" : "mm";
    fprintf(f, "case,class,status,dice,jaccard,hd95_%s,asd_%s,assd_%s,hd_%s,pred_mm3,ref_mm3,"
               "vol_diff_mm3,ravd,pred_voxels,ref_voxels,n_used,n_excluded\n", u, u, u, u);
    const int k = cohort->opts.num_classes;
    for (int i = 0; i < cohort->count; ++i)
        for (int c = 1; c < k; ++c) {
            const ds_metrics_result *r = &cohort->cases[i].rows[c - 1];
            put_name(f, cohort->cases[i].name);
            fprintf(f, ",%d,%s", c, status_of(r->flags));
            for (int m = 0; m < DS_METRIC_COUNT; ++m)
                put_number(f, r->value[m]);
            fprintf(f, ",%lld,%lld,,\n", (long long)r->pred_voxels, (long long)r->ref_voxels);
        }
    for (int c = 1; c < k; ++c) {
        ds_metrics_summary s;
        (void)ds_metrics_cohort_summary(NULL, cohort, c, &s); /* cannot fail: c is in range */
        for (int which = 0; which < 2; ++which) {
            fprintf(f, "%s,%d,summary", which ? "std" : "mean", c);
            for (int m = 0; m < DS_METRIC_COUNT; ++m)
                put_number(f, which ? s.std[m] : s.mean[m]);
            fprintf(f, ",,,%d,%d\n", s.n_used, s.n_excluded);
        }
    }
}

ds_status ds_metrics_cohort_write_csv(ds_ctx *ctx, const ds_metrics_cohort *cohort,
                                      const char *path)
{
    static const char what[] = "ds_metrics_cohort_write_csv";
    if (!cohort || !path || !*path)
        return ds_fail(ctx, DS_ERR_ARG, "%s: %s", what,
                       !cohort ? "cohort is NULL" : "the path is NULL or empty");
    ds_atomic_file af;
    ds_status st = ds_atomic_open(ctx, &af, path);
    if (st != DS_OK)
        return st;
    write_table(af.f, cohort);
    return ds_atomic_commit(ctx, &af);
}
