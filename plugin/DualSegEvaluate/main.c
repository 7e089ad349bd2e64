/* DualSegEvaluate - per-structure Dice, Jaccard, HD95 and ASD of a segmentation against its
 * reference (one pair, or two folders matched by case id), as Slicer return parameters and a CSV
 * table. Every parameter is declared in xml/DualSegEvaluate.xml; this file asks for them by name. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ds_cli.h"
#include "ds_cohort.h"
#include "ds_io.h"
#include "ds_metrics.h"
#include "ds_threads.h"

/* The pairs to evaluate: one pair (ids from the prediction's file) or a cohort of folders. */
typedef struct pairs {
    ds_cohort *cohort;  /* folder mode; images = references, labels = predictions */
    const char *pred, *ref;
    int n;
} pairs;

static const char *pair_pred(const pairs *p, int i)
{
    return p->cohort ? p->cohort->cases[i].label_path : p->pred;
}

static const char *pair_ref(const pairs *p, int i)
{
    return p->cohort ? p->cohort->cases[i].image_path : p->ref;
}

/* The case column of the table: the cohort's id, or the prediction's file name up to its first
 * dot for a single pair. */
static const char *pair_id(const pairs *p, int i, char *buf, size_t cap)
{
    if (p->cohort)
        return p->cohort->cases[i].id;
    const char *base = strrchr(p->pred, '/');
    base = base ? base + 1 : p->pred;
    snprintf(buf, cap, "%.*s", (int)strcspn(base, "."), base);
    return buf[0] ? buf : "case";
}

/* Reads one pair; both on the same grid (the metrics use the reference's spacing). */
static ds_status read_pair(ds_ctx *ctx, const pairs *p, int i, ds_volume **pred, ds_volume **ref)
{
    *pred = *ref = NULL;
    ds_status st = ds_io_read_label(ctx, pair_pred(p, i), pred);
    if (st == DS_OK)
        st = ds_io_read_label(ctx, pair_ref(p, i), ref);
    if (st == DS_OK)
        st = ds_geometry_compare(ctx, &(*pred)->geom, &(*ref)->geom, DS_GEOMETRY_TOL_DEFAULT,
                                 pair_pred(p, i), pair_ref(p, i));
    if (st != DS_OK) {
        ds_volume_free(*pred);
        ds_volume_free(*ref);
        *pred = *ref = NULL;
    }
    return st;
}

static int max_label(const ds_volume *v)
{
    int m = 0;
    for (int64_t k = 0, n = ds_volume_voxels(v); k < n; ++k)
        m = v->labels[k] > m ? v->labels[k] : m;
    return m;
}

/* Number of classes 0 ("detect"): the largest label of every map, plus one (at least 2). */
static ds_status detect_classes(ds_ctx *ctx, ds_cli *cli, const pairs *p, int *k)
{
    int m = 1;
    for (int i = 0; i < p->n; ++i) {
        ds_volume *pred, *ref;
        ds_status st = read_pair(ctx, p, i, &pred, &ref);
        if (st != DS_OK)
            return st;
        m = max_label(pred) > m ? max_label(pred) : m;
        m = max_label(ref) > m ? max_label(ref) : m;
        ds_volume_free(pred);
        ds_volume_free(ref);
        ds_cli_progress(cli, 0.3 * (i + 1) / p->n, "Finding the label values");
    }
    *k = m + 1;
    return DS_OK;
}

/* A failure of the metrics, which know the maps only as "pred" and "ref", made to name the files. */
static ds_status name_pair(ds_ctx *ctx, ds_status st, const pairs *p, int i)
{
    if (st == DS_OK || strstr(ds_ctx_message(ctx), pair_pred(p, i)))
        return st;
    char copy[DS_MESSAGE_CAP];
    snprintf(copy, sizeof copy, "%s", ds_ctx_message(ctx));
    return ds_fail(ctx, st, "%s (reference %s): %s", pair_pred(p, i), pair_ref(p, i), copy);
}

static ds_status evaluate(ds_ctx *ctx, ds_cli *cli, const pairs *p, ds_metrics_cohort *cohort,
                          double from)
{
    for (int i = 0; i < p->n; ++i) {
        char comment[160];
        snprintf(comment, sizeof comment, "Case %d of %d", i + 1, p->n);
        ds_cli_progress(cli, from + (1 - from) * i / p->n, comment);
        ds_volume *pred, *ref;
        char id[256];
        ds_status st = read_pair(ctx, p, i, &pred, &ref);
        if (st == DS_OK)
            st = ds_metrics_cohort_add(ctx, cohort, pair_id(p, i, id, sizeof id), pred->labels,
                                       ref->labels,
                                       ref->geom.size, ref->geom.spacing);
        st = name_pair(ctx, st, p, i);
        ds_volume_free(pred);
        ds_volume_free(ref);
        if (st != DS_OK)
            return st;
    }
    return DS_OK;
}

/* Per-class means and stds as return parameters (rule 13: vectors comma-separated). */
static ds_status report(ds_ctx *ctx, ds_cli *cli, const ds_metrics_cohort *cohort, int k)
{
    static const struct {
        ds_metric m;
        const char *mean, *std;
    } out[] = {{DS_METRIC_DICE, "dice", "diceStd"},
               {DS_METRIC_JACCARD, "jaccard", "jaccardStd"},
               {DS_METRIC_HD95, "hd95", "hd95Std"},
               {DS_METRIC_ASD, "asd", "asdStd"}};
    double *mean = malloc(sizeof *mean * (size_t)(k - 1)), *std = malloc(sizeof *std * (size_t)(k - 1));
    ds_status st = mean && std ? DS_OK : ds_fail(ctx, DS_ERR_NOMEM, "out of memory");
    int excluded = 0;
    for (size_t j = 0; st == DS_OK && j < sizeof out / sizeof out[0]; ++j) {
        for (int c = 1; st == DS_OK && c < k; ++c) {
            ds_metrics_summary s;
            st = ds_metrics_cohort_summary(ctx, cohort, c, &s);
            mean[c - 1] = s.mean[out[j].m];
            std[c - 1] = s.std[out[j].m];
            excluded += j == 0 ? s.n_excluded : 0;
        }
        ds_cli_return_doubles(cli, out[j].mean, mean, k - 1);
        ds_cli_return_doubles(cli, out[j].std, std, k - 1);
    }
    ds_cli_return_int(cli, "casesEvaluated", ds_metrics_cohort_cases(cohort));
    ds_cli_return_int(cli, "rowsExcluded", excluded);
    free(mean);
    free(std);
    return st;
}

static ds_status run(ds_ctx *ctx, ds_cli *cli, pairs *p)
{
    static const ds_cli_choice units[] = {{"mm", DS_METRICS_MM}, {"voxels", DS_METRICS_VOXELS}};
    static const ds_cli_choice empty[] = {{"flag", DS_METRICS_EMPTY_FLAG},
                                          {"score-zero", DS_METRICS_EMPTY_LITERATURE}};
    ds_status st = ds_threads_set(ctx, ds_cli_get_int(cli, "threads"));
    ds_metrics_options opts;
    ds_metrics_options_init(&opts);
    opts.units = (ds_metrics_units)ds_cli_get_choice(cli, "distanceUnits", units, 2);
    opts.empty = (ds_metrics_empty)ds_cli_get_choice(cli, "emptyMasks", empty, 2);
    opts.num_classes = ds_cli_get_int(cli, "numberOfClasses");
    if (st == DS_OK && p->cohort == NULL && ds_cli_has_value(cli, "predictionFolder"))
        st = ds_cohort_open_folders(ctx, ds_cli_get_string(cli, "referenceFolder"),
                                    ds_cli_get_string(cli, "predictionFolder"), &p->cohort);
    if (p->cohort) {
        p->n = p->cohort->count;
        for (int i = 0; st == DS_OK && i < p->n; ++i)
            if (!p->cohort->cases[i].label_path)
                st = ds_fail(ctx, DS_ERR_IO, "%s: no segmentation of case %s in %s",
                             p->cohort->cases[i].image_path, p->cohort->cases[i].id,
                             ds_cli_get_string(cli, "predictionFolder"));
    }
    const double from = opts.num_classes == 0 ? 0.3 : 0;
    if (st == DS_OK && opts.num_classes == 0)
        st = detect_classes(ctx, cli, p, &opts.num_classes);
    ds_metrics_cohort *cohort = NULL;
    if (st == DS_OK)
        st = ds_metrics_cohort_create(ctx, &opts, &cohort);
    if (st == DS_OK)
        st = evaluate(ctx, cli, p, cohort, from);
    if (st == DS_OK)
        st = report(ctx, cli, cohort, opts.num_classes);
    if (st == DS_OK && ds_cli_has_value(cli, "outputTable"))
        st = ds_metrics_cohort_write_csv(ctx, cohort, ds_cli_get_string(cli, "outputTable"));
    ds_metrics_cohort_free(cohort);
    return st;
}

int main(int argc, char **argv)
{
    int code;
    ds_cli *cli = ds_cli_begin(&DS_CLI_MODULE, argc, argv, &code);
    if (!cli)
        return code;
    const int pair = ds_cli_has_value(cli, "predictionVolume") ||
                     ds_cli_has_value(cli, "referenceVolume");
    const int folders = ds_cli_has_value(cli, "predictionFolder") ||
                        ds_cli_has_value(cli, "referenceFolder");
    if (pair == folders || (pair && !(ds_cli_has_value(cli, "predictionVolume") &&
                                      ds_cli_has_value(cli, "referenceVolume"))) ||
        (folders && !(ds_cli_has_value(cli, "predictionFolder") &&
                      ds_cli_has_value(cli, "referenceFolder"))))
        return ds_cli_usage_error(cli, "give either --%s and --%s (two label maps) or --%s and "
                                  "--%s (two folders)",
                                  ds_cli_longflag(cli, "predictionVolume"),
                                  ds_cli_longflag(cli, "referenceVolume"),
                                  ds_cli_longflag(cli, "predictionFolder"),
                                  ds_cli_longflag(cli, "referenceFolder"));
    if (ds_cli_get_int(cli, "numberOfClasses") == 1)
        return ds_cli_usage_error(cli, "--%s 1 leaves nothing to score (0 detects, or at least 2)",
                                  ds_cli_longflag(cli, "numberOfClasses"));
    ds_ctx *ctx = NULL;
    if (ds_ctx_create(&ctx) != DS_OK)
        return ds_cli_end(cli, DS_ERR_NOMEM, "out of memory");
    ds_ctx_set_log(ctx, ds_cli_log, cli, DS_LOG_WARN);
    ds_cli_start(cli, pair ? "Evaluating one segmentation" : "Evaluating a folder");
    pairs p = {NULL, ds_cli_get_string(cli, "predictionVolume"),
               ds_cli_get_string(cli, "referenceVolume"), 1};
    ds_status st = run(ctx, cli, &p);
    code = ds_cli_end(cli, st, ds_ctx_message(ctx));
    ds_cohort_free(p.cohort);
    ds_ctx_free(ctx);
    return code;
}
