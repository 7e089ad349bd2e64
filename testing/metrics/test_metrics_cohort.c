/* test_metrics_cohort.c - cohort rows, mean +- std, exclusion of flagged rows, the literature
 * option and the CSV file. References: the per-case values are the hand-derived ones of
 * test_metrics_hand.c (cubes offset by 1 voxel: Dice 0.75, HD95 2, ASD 38/56 with spacing
 * (2, 1.5, 3); a ball against itself: Dice 1, distances 0); means and population std (ddof = 0,
 * numpy's np.std) are computed by hand in the comments. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ds_metrics.h"
#include "ds_test.h"
#include "ds_threads.h"

enum { NX = 9, NY = 8, NZ = 7, N = NX * NY * NZ };

static void box_fill(uint16_t *m, int x0, int y0, int z0, int l, uint16_t v)
{
    for (int z = z0; z < z0 + l; ++z)
        for (int y = y0; y < y0 + l; ++y)
            for (int x = x0; x < x0 + l; ++x)
                m[x + NX * (y + NY * z)] = v;
}

static int count_lines(const char *path, char *first, size_t cap)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return -1;
    char line[1024];
    int n = 0;
    while (fgets(line, sizeof line, f)) {
        if (n == 0 && first)
            snprintf(first, cap, "%s", line);
        ++n;
    }
    fclose(f);
    return n;
}

int main(void)
{
    ds_ctx *ctx = NULL;
    DS_CHECK_OK(ctx, ds_ctx_create(&ctx));
    DS_CHECK_OK(ctx, ds_threads_set(ctx, 2));
    const int64_t size[3] = {NX, NY, NZ};
    const double sp[3] = {2.0, 1.5, 3.0};
    static uint16_t a[N], b[N], empty[N];
    box_fill(a, 2, 2, 1, 4, 1);
    box_fill(b, 3, 2, 1, 4, 1);
    /* class 2: a 2x2x2 cube identical in both maps (all surface, distances 0, Dice 1) */
    box_fill(a, 6, 5, 5, 2, 2);
    box_fill(b, 6, 5, 5, 2, 2);

    ds_metrics_options o;
    ds_metrics_options_init(&o);
    o.num_classes = 3;
    ds_metrics_cohort *co = NULL;
    DS_CHECK_OK(ctx, ds_metrics_cohort_create(ctx, &o, &co));
    const ds_metrics_case cases[3] = {
        {"offset, \"one\"", a, b, {NX, NY, NZ}, {2.0, 1.5, 3.0}}, /* needs CSV quoting */
        {"same", a, a, {NX, NY, NZ}, {2.0, 1.5, 3.0}},
        {"empty_pred", empty, b, {NX, NY, NZ}, {2.0, 1.5, 3.0}},
    };
    DS_CHECK_OK(ctx, ds_metrics_cohort_evaluate(ctx, co, cases, 3));
    DS_CHECK(ds_metrics_cohort_cases(co) == 3);

    ds_metrics_result r;
    const char *name = NULL;
    DS_CHECK_OK(ctx, ds_metrics_cohort_row(ctx, co, 0, 1, &r, &name));
    DS_CHECK(name && strcmp(name, "offset, \"one\"") == 0);
    DS_CHECK_CLOSE(r.value[DS_METRIC_HD95], 2.0, 1e-12, 0.0);
    DS_CHECK_OK(ctx, ds_metrics_cohort_row(ctx, co, 2, 2, &r, NULL));
    DS_CHECK(r.flags == (DS_METRICS_PRED_EMPTY | DS_METRICS_EXCLUDED));

    /* class 1 over {0.75, 1, flagged}: 2 used, 1 excluded; Dice mean 0.875, std 0.125;
     * HD95 {2, 0}: mean 1, std 1; ASD {38/56, 0}: mean 19/56, std 19/56 */
    ds_metrics_summary s;
    DS_CHECK_OK(ctx, ds_metrics_cohort_summary(ctx, co, 1, &s));
    DS_CHECK(s.n_cases == 3 && s.n_used == 2 && s.n_excluded == 1 && s.n_pred_empty == 1 &&
             s.n_ref_empty == 0);
    DS_CHECK_CLOSE(s.mean[DS_METRIC_DICE], 0.875, 1e-12, 0.0);
    DS_CHECK_CLOSE(s.std[DS_METRIC_DICE], 0.125, 1e-12, 0.0);
    DS_CHECK_CLOSE(s.mean[DS_METRIC_HD95], 1.0, 1e-12, 0.0);
    DS_CHECK_CLOSE(s.std[DS_METRIC_HD95], 1.0, 1e-12, 0.0);
    DS_CHECK_CLOSE(s.mean[DS_METRIC_ASD], 19.0 / 56.0, 1e-12, 0.0);
    DS_CHECK_CLOSE(s.std[DS_METRIC_ASD], 19.0 / 56.0, 1e-12, 0.0);
    /* class 2: Dice {1, 1}, std 0 */
    DS_CHECK_OK(ctx, ds_metrics_cohort_summary(ctx, co, 2, &s));
    DS_CHECK(s.n_used == 2 && s.n_excluded == 1);
    DS_CHECK_CLOSE(s.mean[DS_METRIC_DICE], 1.0, 1e-15, 0.0);
    DS_CHECK_CLOSE(s.std[DS_METRIC_DICE], 0.0, 0.0, 1e-15);

    /* CSV: header + 3 cases x 2 classes + 2 classes x (mean, std) = 11 lines */
    char path[256], first[1024];
    snprintf(path, sizeof path, "ds_metrics_cohort_%ld.csv", (long)getpid()); /* in the test's folder */
    DS_CHECK_OK(ctx, ds_metrics_cohort_write_csv(ctx, co, path));
    DS_CHECK(count_lines(path, first, sizeof first) == 11);
    DS_CHECK(strncmp(first, "case,class,status,dice,jaccard,hd95_mm,asd_mm,", 46) == 0);
    FILE *f = fopen(path, "r");
    char buf[4096] = {0};
    if (f) {
        size_t got = fread(buf, 1, sizeof buf - 1, f);
        buf[got] = '\0';
        fclose(f);
    }
    DS_CHECK(strstr(buf, "\n\"offset, \"\"one\"\"\",1,ok,0.75,") != NULL);
    DS_CHECK(strstr(buf, "\nempty_pred,1,empty_pred,0,0,nan,nan,nan,nan,") != NULL);
    DS_CHECK(strstr(buf, "\nmean,1,summary,0.875,") != NULL);
    DS_CHECK(strstr(buf, ",2,1\n") != NULL); /* n_used, n_excluded of a summary row */
    remove(path);
    /* an unwritable path: a clear error, no file left behind */
    DS_CHECK_FAILS(ctx, ds_metrics_cohort_write_csv(ctx, co, "/nonexistent_dir_ds/metrics.csv"),
                   DS_ERR_IO);
    DS_CHECK(strstr(ds_ctx_message(ctx), "/nonexistent_dir_ds/metrics.csv") != NULL);
    DS_CHECK_FAILS(ctx, ds_metrics_cohort_write_csv(ctx, co, ""), DS_ERR_ARG);

    /* a failing case leaves the cohort unchanged and names the case */
    uint16_t bad[N] = {0};
    bad[5] = 7;
    DS_CHECK_FAILS(ctx, ds_metrics_cohort_add(ctx, co, "bad", bad, b, size, sp), DS_ERR_ARG);
    DS_CHECK(strstr(ds_ctx_message(ctx), "case 'bad'") != NULL);
    DS_CHECK(ds_metrics_cohort_cases(co) == 3);
    DS_CHECK_FAILS(ctx, ds_metrics_cohort_add(ctx, co, "", a, b, size, sp), DS_ERR_ARG);
    DS_CHECK_FAILS(ctx, ds_metrics_cohort_summary(ctx, co, 0, &s), DS_ERR_ARG);
    DS_CHECK_FAILS(ctx, ds_metrics_cohort_summary(ctx, co, 3, &s), DS_ERR_ARG);
    DS_CHECK_FAILS(ctx, ds_metrics_cohort_row(ctx, co, 3, 1, &r, NULL), DS_ERR_ARG);
    ds_metrics_cohort_free(co);

    /* literature convention: the empty prediction scores 0 and stays in the mean:
     * Dice {0.75, 1, 0}: mean 7/12, std sqrt(((1/6)^2 + (5/12)^2 + (7/12)^2) / 3);
     * HD95 {2, 0, 0}: mean 2/3 */
    o.empty = DS_METRICS_EMPTY_LITERATURE;
    o.units = DS_METRICS_VOXELS;
    DS_CHECK_OK(ctx, ds_metrics_cohort_create(ctx, &o, &co));
    DS_CHECK_OK(ctx, ds_metrics_cohort_evaluate(ctx, co, cases, 3));
    DS_CHECK_OK(ctx, ds_metrics_cohort_summary(ctx, co, 1, &s));
    DS_CHECK(s.n_used == 3 && s.n_excluded == 0 && s.n_pred_empty == 1);
    DS_CHECK_CLOSE(s.mean[DS_METRIC_DICE], 7.0 / 12.0, 1e-12, 0.0);
    const double d0 = 0.75 - 7.0 / 12.0, d1 = 1.0 - 7.0 / 12.0, d2 = 7.0 / 12.0;
    DS_CHECK_CLOSE(s.std[DS_METRIC_DICE], sqrt((d0 * d0 + d1 * d1 + d2 * d2) / 3.0), 1e-12, 0.0);
    /* in voxels the offset-1 cubes give HD95 1 (the 2 mm distances are 1 voxel along x, the
     * 1.5 mm ones are 1 voxel along y): mean 1/3 */
    DS_CHECK_CLOSE(s.mean[DS_METRIC_HD95], 1.0 / 3.0, 1e-12, 0.0);
    DS_CHECK_OK(ctx, ds_metrics_cohort_write_csv(ctx, co, path));
    f = fopen(path, "r");
    memset(buf, 0, sizeof buf);
    if (f) {
        size_t got = fread(buf, 1, sizeof buf - 1, f);
        buf[got] = '\0';
        fclose(f);
    }
    DS_CHECK(strstr(buf, ",hd95_vox,") != NULL);
    DS_CHECK(strstr(buf, "\nempty_pred,1,empty_pred_scored_0,0,0,0,0,0,0,") != NULL);
    remove(path);
    ds_metrics_cohort_free(co);

    DS_CHECK_FAILS(ctx, ds_metrics_cohort_create(ctx, &o, NULL), DS_ERR_ARG);
    o.num_classes = 1;
    DS_CHECK_FAILS(ctx, ds_metrics_cohort_create(ctx, &o, &co), DS_ERR_ARG);
    DS_CHECK(co == NULL);
    ds_ctx_free(ctx);
    return ds_test_finish("test_metrics_cohort");
}
