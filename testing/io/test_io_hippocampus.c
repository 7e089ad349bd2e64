/* test_io_hippocampus.c - the real cohort (MSD Task04 Hippocampus, read in place from the shared
 * folder) opens and loads: 260 image / label pairs, image and label geometry agree, labels are
 * integers in 0..2 (two label files, hippocampus_003 and hippocampus_243, are stored as float32:
 * found by reading the NIfTI datatype field of every label header with Debian's python3), images
 * z-scored. Fails loudly if the shared folder is missing: the data is part of the suite. */
#include "ds_cohort.h"
#include "ds_io.h"
#include "ds_test.h"

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
        ds_sample_free(&s);
    }
    DS_CHECK_MSG(loaded == 260, "%d of 260 cases loaded", loaded);
    DS_CHECK(float_labels_seen == 2);
    printf("test_io_hippocampus: %d cases, %lld foreground voxels\n", loaded, (long long)fg);
    ds_cohort_free(c);
    ds_ctx_free(ctx);
    return ds_test_finish("test_io_hippocampus");
}
