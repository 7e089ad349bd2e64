/* test_io_hippocampus.c - the real cohort (MSD Task04 Hippocampus, read in place from the shared
 * folder) opens and loads: 260 image / label pairs, image and label geometry agree, labels are
 * integers in 0..2 (two label files, hippocampus_003 and hippocampus_243, are stored as float32:
 * found by reading the NIfTI datatype field of every label header with Debian's python3), images
 * z-scored. Seven cases are compared with an independent reader: nibabel, through
 * testing/io/make_hippocampus_fixture.py (hippocampus_reference.bin): raw voxel sums and sums of
 * squares, voxel values and labels at fixed points, label counts, and the geometry in ITK's LPS
 * convention; then the z-scored values at those points, from the fixture's sums. Fails loudly if
 * the shared folder is missing: the data is part of the suite. */
#include "ds_cohort.h"
#include "ds_fixture.h"
#include "ds_io.h"
#include "ds_test.h"

#include <stdlib.h>

/* Row r of a [C, k] fixture array. */
static const double *row(const ds_fixture *fx, const char *name, int r)
{
    const ds_fixture_array *a = ds_fixture_get(fx, name);
    return a->data + (size_t)r * (a->numel / a->dims[0]);
}

static void check_geometry(const ds_geometry *g, const ds_fixture *fx, int r, const char *what)
{
    const double *size = row(fx, "size", r), *spacing = row(fx, "spacing", r),
                 *origin = row(fx, "origin", r), *direction = row(fx, "direction", r);
    double worst = 0;
    for (int a = 0; a < 3; ++a) {
        DS_CHECK_MSG(g->size[a] == (int64_t)size[a], "%s: size[%d] %lld, nibabel %g", what, a,
                     (long long)g->size[a], size[a]);
        worst = fmax(worst, fmax(fabs(g->spacing[a] - spacing[a]), fabs(g->origin[a] - origin[a])));
    }
    for (int e = 0; e < 9; ++e)
        worst = fmax(worst, fabs(g->direction[e] - direction[e]));
    DS_CHECK_MSG(worst <= 1e-6, "%s: geometry differs from nibabel's by %g (origin %g %g %g, "
                 "nibabel in LPS %g %g %g)", what, worst, g->origin[0], g->origin[1], g->origin[2],
                 origin[0], origin[1], origin[2]);
}

/* Case index of the cohort against row r of the fixture; z is the z-scored sample. */
static void check_reference(ds_ctx *ctx, const ds_cohort *c, int index, const ds_fixture *fx,
                            int r, const ds_sample *z)
{
    const char *id = c->cases[index].id;
    ds_load_options o;
    ds_load_options_default(&o);
    o.norm = DS_NORM_NONE;
    o.num_classes = 3;
    ds_sample raw;
    DS_CHECK_OK(ctx, ds_cohort_load_case(ctx, c, index, &o, &raw));
    ds_volume *label = NULL;
    DS_CHECK_OK(ctx, ds_io_read_label(ctx, c->cases[index].label_path, &label));
    if (!raw.image || !label) {
        ds_sample_free(&raw);
        ds_volume_free(label);
        return;
    }
    check_geometry(&raw.image->geom, fx, r, id);
    check_geometry(&label->geom, fx, r, c->cases[index].label_path);
    const ds_geometry *g = &raw.image->geom;
    const int64_t n = ds_volume_voxels(raw.image);
    double sum = 0, ss = 0;
    int64_t counts[3] = {0, 0, 0};
    for (int64_t k = 0; k < n; ++k) {
        sum += raw.image->values[k];
        ss += (double)raw.image->values[k] * raw.image->values[k];
        if (label->labels[k] < 3)
            ++counts[label->labels[k]];
    }
    const double want_sum = row(fx, "sum", r)[0], want_ss = row(fx, "sumsq", r)[0];
    DS_CHECK_MSG(fabs(sum - want_sum) <= 1e-12 * fabs(want_sum), "%s: sum %.17g, nibabel %.17g",
                 id, sum, want_sum);
    DS_CHECK_MSG(fabs(ss - want_ss) <= 1e-12 * fabs(want_ss), "%s: sum of squares %.17g, "
                 "nibabel %.17g", id, ss, want_ss);
    const double *want_counts = row(fx, "label_counts", r);
    for (int l = 0; l < 3; ++l)
        DS_CHECK_MSG(counts[l] == (int64_t)want_counts[l], "%s: %lld voxels of label %d, nibabel "
                     "%g", id, (long long)counts[l], l, want_counts[l]);
    /* z-score statistics from the raw sums: mean S / n, population variance SS / n - mean^2 */
    const double mean = want_sum / (double)n, sd = sqrt(want_ss / (double)n - mean * mean);
    const ds_fixture_array *pts = ds_fixture_get(fx, "points");
    const int count = (int)pts->dims[1];
    const double *p = row(fx, "points", r), *values = row(fx, "values", r),
                 *labels = row(fx, "label_values", r);
    for (int q = 0; q < count; ++q) {
        const int64_t i = (int64_t)p[3 * q], j = (int64_t)p[3 * q + 1], k = (int64_t)p[3 * q + 2];
        const int64_t at = i + g->size[0] * (j + g->size[1] * k);
        DS_CHECK_MSG(raw.image->values[at] == values[q], "%s (%lld, %lld, %lld): %.9g, nibabel "
                     "%.9g", id, (long long)i, (long long)j, (long long)k,
                     (double)raw.image->values[at], values[q]);
        DS_CHECK_MSG(label->labels[at] == (uint16_t)labels[q] && raw.label->labels[at] ==
                     (uint16_t)labels[q], "%s (%lld, %lld, %lld): label %d, nibabel %g", id,
                     (long long)i, (long long)j, (long long)k, label->labels[at], labels[q]);
        DS_CHECK_CLOSE(z->image->values[at], (values[q] - mean) / sd, 0, 1e-5);
    }
    ds_sample_free(&raw);
    ds_volume_free(label);
}

int main(void)
{
    ds_ctx *ctx = NULL;
    ds_ctx_create(&ctx);
    const char *dir = DS_SHARED_DIR "/data/Task04_Hippocampus";
    ds_cohort *c = NULL;
    DS_CHECK_OK(ctx, ds_cohort_open(ctx, dir, &c));
    if (!c) {
        fprintf(stderr, "test_io_hippocampus: the shared cohort %s is required and could not be "
                        "opened: %s\n", dir, ds_ctx_message(ctx));
        ds_ctx_free(ctx);
        return 1;
    }
    DS_CHECK_MSG(c->count == 260 && c->labelled == 260, "%d cases, %d labelled", c->count,
                 c->labelled);
    ds_fixture *fx = ds_fixture_load(DS_TESTING_DIR "/io/hippocampus_reference.bin");
    DS_CHECK(fx != NULL);
    const ds_fixture_array *numbers = fx ? ds_fixture_get(fx, "case_number") : NULL;
    int compared = 0;
    ds_load_options o;
    ds_load_options_default(&o);
    o.num_classes = 3;
    int loaded = 0, float_labels_seen = 0;
    int64_t fg = 0;
    for (int i = 0; i < c->count; ++i) {
        ds_sample s;
        ds_status st = ds_cohort_load_case(ctx, c, i, &o, &s);
        DS_CHECK_MSG(st == DS_OK, "case %s: %s", c->cases[i].id, ds_ctx_message(ctx));
        if (st != DS_OK)
            continue;
        ++loaded;
        DS_CHECK(s.label && s.label->kind == DS_VOLUME_LABEL);
        DS_CHECK(s.image->kind == DS_VOLUME_SCALAR);
        DS_CHECK(ds_geometry_compare(ctx, &s.image->geom, &s.label->geom, 0.0, "image", "label") ==
                 DS_OK);
        DS_CHECK(s.annotated == ds_volume_voxels(s.label));
        int64_t n = ds_volume_voxels(s.label), here = 0;
        for (int64_t k = 0; k < n; ++k)
            here += s.label->labels[k] != 0;
        DS_CHECK_MSG(here > 0, "case %s has no foreground", c->cases[i].id);
        fg += here;
        if (strcmp(c->cases[i].id, "hippocampus_003") == 0 ||
            strcmp(c->cases[i].id, "hippocampus_243") == 0)
            float_labels_seen += here > 0;
        /* z-scored: mean 0, std 1 (population), computed here in double */
        double sum = 0, ss = 0;
        for (int64_t k = 0; k < n; ++k) {
            sum += s.image->values[k];
            ss += (double)s.image->values[k] * s.image->values[k];
        }
        DS_CHECK_CLOSE(sum / (double)n, 0.0, 0, 1e-4);
        DS_CHECK_CLOSE(ss / (double)n, 1.0, 1e-4, 0);
        const int number = atoi(c->cases[i].id + strlen("hippocampus_"));
        for (int r = 0; numbers && r < (int)numbers->numel; ++r)
            if ((int)numbers->data[r] == number) {
                check_reference(ctx, c, i, fx, r, &s);
                ++compared;
            }
        ds_sample_free(&s);
    }
    DS_CHECK_MSG(loaded == 260, "%d of 260 cases loaded", loaded);
    DS_CHECK(float_labels_seen == 2);
    DS_CHECK_MSG(numbers && compared == (int)numbers->numel, "%d cases compared with nibabel",
                 compared);
    ds_fixture_free(fx);
    printf("test_io_hippocampus: %d cases, %lld foreground voxels\n", loaded, (long long)fg);
    ds_cohort_free(c);
    ds_ctx_free(ctx);
    return ds_test_finish("test_io_hippocampus");
}
