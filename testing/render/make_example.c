/* make_example.c - the example pictures for the README, from a real (short) run: the demo cohort
 * (written by dualseg_make_demo), a homogeneous V-Net pair trained briefly, the first held-out
 * case segmented, then the overlay, the montage of the slices to label next, the training
 * curve, the .vti and the colour table written by ds_render. Not a test: a program to rerun
 * when the pictures change.
 *
 * usage: make_example DEMO_DIR OUT_DIR [ITERATIONS [WIDTH]]
 * OUT_DIR/model.dsm is kept: when it exists, training is skipped and only the pictures are
 * drawn again. The README's picture comes from a full scripts/demo.sh run instead (the README
 * gives its dualseg_report command); make_example DEMO OUT 150 4 after
 * dualseg_make_demo DEMO --seed 1 draws the set of pictures (about 12 minutes on 2 busy cores).
 */
#include "ds_cohort.h"
#include "ds_infer.h"
#include "ds_io.h"
#include "ds_render.h"
#include "ds_threads.h"
#include "ds_train.h"

#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#define CHECK(expr)                                                                            \
    do {                                                                                       \
        if ((expr) != DS_OK) {                                                                 \
            fprintf(stderr, "make_example: %s\n", ds_ctx_message(ctx));                        \
            return 1;                                                                          \
        }                                                                                      \
    } while (0)

static int progress(void *user, const ds_train_progress *p)
{
    (void)user;
    if (p->iteration % 50 == 0)
        fprintf(stderr, "iteration %lld / %lld, total A %.4f, %.2f s/it\n",
                (long long)p->iteration, (long long)p->iterations, p->loss.total[0],
                p->seconds_per_iteration);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: make_example DEMO_DIR OUT_DIR [ITERATIONS [WIDTH]]\n");
        return 2;
    }
    char path[4096];
    ds_ctx *ctx = NULL;
    ds_ctx_create(&ctx);
    CHECK(ds_threads_set(ctx, 2));
    ds_cohort *cohort = NULL;
    CHECK(ds_cohort_open(ctx, argv[1], &cohort));
    ds_load_options lo;
    ds_load_options_default(&lo);
    lo.num_classes = 3;
    ds_train_data *data = NULL;
    CHECK(ds_train_data_create(ctx, &lo, &data));
    int test = -1;
    for (int i = 0; i < cohort->count; ++i) {
        if (cohort->cases[i].is_test) {
            test = test < 0 ? i : test;
            continue;
        }
        CHECK(ds_train_data_add_case(ctx, data, cohort, i, 1));
    }
    ds_train_options to;
    ds_train_options_init(&to);
    to.pair = DS_PAIR_HOMOGENEOUS;
    to.iterations = argc > 3 ? atoll(argv[3]) : 400;
    to.width = argc > 4 ? atoi(argv[4]) : 8;
    to.batch.patch[0] = to.batch.patch[1] = 32;
    to.batch.patch[2] = 16;
    snprintf(path, sizeof path, "%s/train_log.csv", argv[2]);
    to.log_path = path;
    to.progress = progress;
    ds_model *model = NULL;
    char model_path[4096];
    snprintf(model_path, sizeof model_path, "%s/model.dsm", argv[2]);
    if (access(model_path, F_OK) == 0) { /* trained before: only draw again */
        CHECK(ds_model_load(ctx, &model, model_path));
    } else {
        ds_train_result tr;
        CHECK(ds_train_run(ctx, &to, data, &model, &tr));
        CHECK(ds_model_save(ctx, model, model_path));
    }
    ds_volume *image = NULL;
    CHECK(ds_io_read_image(ctx, cohort->cases[test].image_path, &image));
    ds_infer_options io;
    ds_infer_options_init(&io);
    io.largest_component = 1;
    ds_infer_result r;
    CHECK(ds_infer_model(ctx, model, image, &io, &r));
    ds_render_options ro;
    ds_render_options_init(&ro);
    const char *names[2] = {"structure", "core"};
    ro.class_names = names;
    ro.class_name_count = 2;
    ro.title = cohort->cases[test].id;
    snprintf(path, sizeof path, "%s/overlay.png", argv[2]);
    CHECK(ds_render_overlay(ctx, image, r.label, r.entropy, NULL, &ro, path));
    /* the README's copy: smaller, so that it stays a small file in the repository */
    ds_render_options small = ro;
    small.width = 600;
    small.height = 262;
    snprintf(path, sizeof path, "%s/overlay_small.png", argv[2]);
    CHECK(ds_render_overlay(ctx, image, r.label, r.entropy, NULL, &small, path));
    ds_infer_slice_options so;
    ds_infer_slice_options_init(&so);
    so.count = 6;
    so.min_distance = 3;
    int64_t idx[6];
    double sc[6];
    int found = 0;
    CHECK(ds_infer_rank_slices(ctx, r.label, r.entropy, &so, idx, sc, &found));
    snprintf(path, sizeof path, "%s/montage.png", argv[2]);
    if (found > 0)
        CHECK(ds_render_montage(ctx, image, r.label, r.entropy, so.axis, idx, sc, found, &ro,
                                path));
    ds_render_table t;
    snprintf(path, sizeof path, "%s/train_log.csv", argv[2]);
    CHECK(ds_render_read_csv(ctx, path, &t));
    ro.title = "training curve";
    ro.height = 760;
    ro.width = 960;
    snprintf(path, sizeof path, "%s/training_curve.png", argv[2]);
    CHECK(ds_render_training_curve(ctx, &t, &ro, path));
    snprintf(path, sizeof path, "%s/maps.vti", argv[2]);
    CHECK(ds_render_write_vti(ctx, path, image, r.label, r.entropy, r.disagreement));
    snprintf(path, sizeof path, "%s/entropy.ctbl", argv[2]);
    CHECK(ds_render_write_color_table(ctx, path));
    printf("make_example: %s (slices to label: %d)\n", argv[2], found);
    ds_render_table_free(&t);
    ds_infer_result_free(&r);
    ds_volume_free(image);
    ds_model_free(model);
    ds_train_data_free(data);
    ds_cohort_free(cohort);
    ds_ctx_free(ctx);
    return 0;
}
