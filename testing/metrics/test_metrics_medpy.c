/* test_metrics_medpy.c - Dice, Jaccard, HD95, ASD, ASSD, HD and voxel counts against medpy's
 * definitions. Reference: make_metric_fixtures.py, which restates medpy.metric.binary (0.4) with
 * scipy (binary_erosion with the 6-connected cross, distance_transform_edt with the sampling,
 * np.percentile(..., 95)) on random blobs, small scattered blobs, one-voxel-thin structures, masks
 * touching the array border and 3- and 4-class label maps, all with anisotropic spacing, in mm and
 * in voxels. Tolerance: 1e-4 relative. Binary cases also go through ds_metrics_binary (uint8). */
#include <stdlib.h>

#include "ds_fixture.h"
#include "ds_metrics.h"
#include "ds_test.h"
#include "ds_threads.h"
#include "unpack.h"

static const char *const case_names[] = {"blobs", "small_blobs", "thin", "border", "labels4",
                                         "labels3"};

static const ds_fixture_array *get(const ds_fixture *fx, int i, const char *what)
{
    char key[64];
    snprintf(key, sizeof key, "case%d/%s", i, what);
    return ds_fixture_get(fx, key);
}

/* Columns of the fixture's metrics arrays: dc, jc, hd95, asd, assd, hd, |P|, |R|. */
static void compare(const char *label, int c, const ds_metrics_result *r, const double *want)
{
    const ds_metric order[6] = {DS_METRIC_DICE, DS_METRIC_JACCARD, DS_METRIC_HD95,
                                DS_METRIC_ASD,  DS_METRIC_ASSD,    DS_METRIC_HD};
    for (int m = 0; m < 6; ++m) {
        const double got = r->value[order[m]];
        DS_CHECK_MSG(fabs(got - want[m]) <= 1e-4 * fabs(want[m]) + 1e-12,
                     "%s class %d %s: %.10g vs medpy %.10g", label, c, ds_metric_name(order[m]),
                     got, want[m]);
    }
    DS_CHECK_MSG((double)r->pred_voxels == want[6] && (double)r->ref_voxels == want[7],
                 "%s class %d voxels %lld/%lld vs %g/%g", label, c, (long long)r->pred_voxels,
                 (long long)r->ref_voxels, want[6], want[7]);
    DS_CHECK_MSG(r->flags == 0, "%s class %d flags %u", label, c, r->flags);
}

static void run_case(ds_ctx *ctx, const ds_fixture *fx, int i)
{
    const ds_fixture_array *sh = get(fx, i, "shape"), *sp = get(fx, i, "spacing");
    const ds_fixture_array *kk = get(fx, i, "k"), *bb = get(fx, i, "bits");
    const ds_fixture_array *pp = get(fx, i, "pred"), *rr = get(fx, i, "ref");
    const ds_fixture_array *mm = get(fx, i, "metrics_mm"), *vx = get(fx, i, "metrics_vox");
    DS_CHECK(sh && sp && kk && bb && pp && rr && mm && vx);
    if (!sh || !sp || !kk || !bb || !pp || !rr || !mm || !vx)
        return;
    const int64_t size[3] = {(int64_t)sh->data[2], (int64_t)sh->data[1], (int64_t)sh->data[0]};
    const double spacing[3] = {sp->data[0], sp->data[1], sp->data[2]};
    const int k = (int)kk->data[0], bits = (int)bb->data[0];
    const size_t n = (size_t)(size[0] * size[1] * size[2]);
    uint16_t *pred = malloc(n * sizeof *pred), *ref = malloc(n * sizeof *ref);
    ds_metrics_result *res = malloc(sizeof *res * (size_t)(k - 1));
    DS_CHECK(unpack_u16(pp, bits, n, pred) && unpack_u16(rr, bits, n, ref));
    DS_CHECK(mm->numel == (size_t)(k - 1) * 8 && vx->numel == (size_t)(k - 1) * 8);

    ds_metrics_options opts;
    ds_metrics_options_init(&opts);
    opts.num_classes = k;
    char label[64];
    snprintf(label, sizeof label, "%s (mm)", case_names[i]);
    DS_CHECK_OK(ctx, ds_metrics_labels(ctx, pred, ref, size, spacing, &opts, res));
    for (int c = 1; c < k; ++c)
        compare(label, c, &res[c - 1], mm->data + (c - 1) * 8);
    opts.units = DS_METRICS_VOXELS;
    snprintf(label, sizeof label, "%s (voxels)", case_names[i]);
    DS_CHECK_OK(ctx, ds_metrics_labels(ctx, pred, ref, size, spacing, &opts, res));
    for (int c = 1; c < k; ++c)
        compare(label, c, &res[c - 1], vx->data + (c - 1) * 8);

    if (k == 2) { /* the same through the binary entry point */
        uint8_t *p8 = malloc(n), *r8 = malloc(n);
        for (size_t v = 0; v < n; ++v) {
            p8[v] = (uint8_t)(pred[v] ? 1 + (v % 200) : 0); /* any non-zero value is foreground */
            r8[v] = (uint8_t)ref[v];
        }
        ds_metrics_result b;
        snprintf(label, sizeof label, "%s (binary, mm)", case_names[i]);
        DS_CHECK_OK(ctx, ds_metrics_binary(ctx, p8, r8, size, spacing, NULL, &b));
        compare(label, 1, &b, mm->data);
        /* the volumes follow from the counts and the spacing */
        const double vox = spacing[0] * spacing[1] * spacing[2];
        DS_CHECK_CLOSE(b.value[DS_METRIC_PRED_MM3], mm->data[6] * vox, 1e-12, 0.0);
        DS_CHECK_CLOSE(b.value[DS_METRIC_REF_MM3], mm->data[7] * vox, 1e-12, 0.0);
        DS_CHECK_CLOSE(b.value[DS_METRIC_RAVD], (mm->data[6] - mm->data[7]) / mm->data[7], 1e-12,
                       0.0);
        free(p8);
        free(r8);
    }
    free(pred);
    free(ref);
    free(res);
}

int main(void)
{
    ds_ctx *ctx = NULL;
    DS_CHECK_OK(ctx, ds_ctx_create(&ctx));
    DS_CHECK_OK(ctx, ds_threads_set(ctx, 2));
    ds_fixture *fx = ds_fixture_load(DS_TESTING_DIR "/metrics/metric_fixtures.bin");
    DS_CHECK(fx != NULL);
    if (fx) {
        const ds_fixture_array *nc = ds_fixture_get(fx, "ncases");
        const int ncases = nc ? (int)nc->data[0] : 0;
        DS_CHECK(ncases == (int)(sizeof case_names / sizeof case_names[0]));
        for (int i = 0; i < ncases && i < (int)(sizeof case_names / sizeof case_names[0]); ++i)
            run_case(ctx, fx, i);
        ds_fixture_free(fx);
    }
    ds_ctx_free(ctx);
    return ds_test_finish("test_metrics_medpy");
}
