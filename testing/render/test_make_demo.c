/* test_make_demo.c - the demo cohort generator (plugin/dualseg_make_demo): two runs with the
 * same seed write the same bytes, another seed other images; the cohort opens with
 * ds_cohort_open (labelled, unlabelled and test cases as listed), labelled cases load with
 * K = 3 and are annotated on one axial slice in `every` only (the rest is the ignore label), and
 * the held-out references in labelsTs have the images' geometry and every class.
 * argv[1]: the generator's path. */
#include "ds_cohort.h"
#include "ds_io.h"
#include "ds_test.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int run(const char *exe, const char *dir, int seed)
{
    char cmd[2048];
    snprintf(cmd, sizeof cmd, "'%s' '%s' --seed %d --labelled 2 --unlabelled 3 --test 2 "
                              "--size 32 28 20 --every 4 > /dev/null", exe, dir, seed);
    return system(cmd);
}

static int same_file(const char *a, const char *b)
{
    FILE *fa = fopen(a, "rb"), *fb = fopen(b, "rb");
    int same = fa && fb;
    while (same) {
        int ca = fgetc(fa), cb = fgetc(fb);
        same = ca == cb;
        if (ca == EOF || cb == EOF)
            break;
    }
    if (fa)
        fclose(fa);
    if (fb)
        fclose(fb);
    return same;
}

static const char *FILES[] = {"dataset.json", "imagesTr/demo_000.nrrd", "labelsTr/demo_001.nrrd",
                              "imagesTr/demo_004.nrrd", "imagesTs/demo_005.nrrd",
                              "labelsTs/demo_006.nrrd"};

static void check_cohort(ds_ctx *ctx, const char *dir)
{
    ds_cohort *c = NULL;
    DS_CHECK_OK(ctx, ds_cohort_open(ctx, dir, &c));
    if (!c)
        return;
    DS_CHECK_MSG(c->count == 7 && c->labelled == 2, "%d cases, %d labelled", c->count,
                 c->labelled);
    int tests = 0;
    for (int i = 0; i < c->count; ++i)
        tests += c->cases[i].is_test;
    DS_CHECK(tests == 2 && c->cases[5].is_test && !c->cases[2].label_path);
    ds_load_options o;
    ds_load_options_default(&o);
    o.num_classes = 3;
    ds_sample s;
    DS_CHECK_OK(ctx, ds_cohort_load_case(ctx, c, 0, &o, &s));
    int64_t n = ds_volume_voxels(s.label), plane = 32 * 28, classes[3] = {0, 0, 0};
    /* slices 10, 14, 18, 6, 2 of 20 (every 4th from the middle): 5 of 20 */
    DS_CHECK_MSG(s.annotated == 5 * plane, "annotated %lld of %lld", (long long)s.annotated,
                 (long long)n);
    DS_CHECK(s.label->labels[10 * plane] != 255 && s.label->labels[11 * plane] == 255);
    ds_sample_free(&s);
    char path[1024];
    snprintf(path, sizeof path, "%s/labelsTs/demo_006.nrrd", dir);
    ds_volume *ref = NULL, *img = NULL;
    DS_CHECK_OK(ctx, ds_io_read_label(ctx, path, &ref));
    DS_CHECK_OK(ctx, ds_io_read_image(ctx, c->cases[6].image_path, &img));
    if (ref && img) {
        DS_CHECK_OK(ctx, ds_geometry_compare(ctx, &ref->geom, &img->geom, 1e-9, "ref", "img"));
        for (int64_t i = 0; i < ds_volume_voxels(ref); ++i)
            classes[ref->labels[i] < 3 ? ref->labels[i] : 0]++;
        DS_CHECK_MSG(classes[1] > 0 && classes[2] > 0, "reference classes %lld %lld",
                     (long long)classes[1], (long long)classes[2]);
        DS_CHECK(img->geom.spacing[2] == 1.5);
    }
    ds_volume_free(ref);
    ds_volume_free(img);
    ds_cohort_free(c);
}

int main(int argc, char **argv)
{
    DS_CHECK(argc == 2);
    if (argc != 2)
        return ds_test_finish("test_make_demo");
    ds_ctx *ctx = NULL;
    ds_ctx_create(&ctx);
    char root[] = "/tmp/ds_demo_XXXXXX";
    DS_CHECK(mkdtemp(root) != NULL);
    char dirs[3][512];
    for (int k = 0; k < 3; ++k) {
        snprintf(dirs[k], sizeof dirs[k], "%s/run%d", root, k);
        DS_CHECK(run(argv[1], dirs[k], k < 2 ? 11 : 12) == 0);
    }
    for (size_t f = 0; f < sizeof FILES / sizeof *FILES; ++f) {
        char a[1024], b[1024], o[1024];
        snprintf(a, sizeof a, "%s/%s", dirs[0], FILES[f]);
        snprintf(b, sizeof b, "%s/%s", dirs[1], FILES[f]);
        snprintf(o, sizeof o, "%s/%s", dirs[2], FILES[f]);
        DS_CHECK_MSG(same_file(a, b), "%s differs between two runs of one seed", FILES[f]);
        if (strstr(FILES[f], "images"))
            DS_CHECK_MSG(!same_file(a, o), "%s is the same for another seed", FILES[f]);
    }
    check_cohort(ctx, dirs[0]);
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", root);
    DS_CHECK(system(cmd) == 0);
    DS_CHECK(run(argv[1], "/proc/no/such/demo", 1) != 0); /* an uncreatable folder fails */
    ds_ctx_free(ctx);
    return ds_test_finish("test_make_demo");
}
