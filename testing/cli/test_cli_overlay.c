/* test_cli_overlay - DualSegSegment's --overlay PNG, run as Slicer runs it, on a phantom with a
 * randomly initialised width-2 pair whose model file names class 1 "blob". Reference: the library
 * called directly (ds_render_overlay on the volume and on the label and entropy maps the module
 * wrote, titled with the case id, legend from the model's names): the PNG must equal it pixel for
 * pixel, at the default 1200 x 520, and differ from the picture with the fallback "class 1"
 * legend. Entropy colours: the random pair is unsure almost everywhere (max entropy checked
 * > 0.5), so many panel pixels must be warm (R > B, as every heat colour), while the picture of
 * the same slices without entropy has none. --overlay with a folder is refused (exit 2, nothing
 * written). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli_check.h"
#include "cli_data.h"
#include "cli_model.h"
#include "ds_render.h"
#include "ds_threads.h"

static char g_tmp[256];
static ds_ctx *g_ctx;

static char *path_in(const char *name) { return cli_path(g_tmp, name); }

static ds_render_png read_png(const char *path)
{
    ds_render_png p;
    memset(&p, 0, sizeof p);
    DS_CHECK_OK(g_ctx, ds_render_read_png(g_ctx, path, &p));
    return p;
}

static int same_png(const ds_render_png *a, const ds_render_png *b)
{
    return a->rgb && b->rgb && a->width == b->width && a->height == b->height &&
           memcmp(a->rgb, b->rgb, (size_t)a->width * a->height * 3) == 0;
}

/* Warm pixels in the left 7/10 of the picture, where the slices are (the side band is right). */
static int64_t warm_panel_pixels(const ds_render_png *p, int64_t *panel)
{
    int64_t warm = 0;
    *panel = 0;
    for (int y = 0; y < p->height; ++y)
        for (int x = 0; x < p->width * 7 / 10; ++x) {
            const uint8_t *q = p->rgb + 3 * ((size_t)y * p->width + x);
            warm += q[0] > q[2] && q[0] >= q[1];
            ++*panel;
        }
    return warm;
}

/* The model of cli_random_model with class names "background", "blob". */
static void name_classes(const char *path)
{
    ds_model *m = NULL;
    DS_CHECK_OK(g_ctx, ds_model_load(g_ctx, &m, path));
    if (!m)
        return;
    strcpy(m->meta.class_names[0], "background");
    strcpy(m->meta.class_names[1], "blob");
    DS_CHECK_OK(g_ctx, ds_model_save(g_ctx, m, path));
    ds_model_free(m);
}

static void test_overlay(const char *model)
{
    char *vol = path_in("case7.nrrd"), *lab = path_in("lab.nrrd"), *ent = path_in("ent.nrrd");
    char *png = path_in("overlay.png");
    cli_write_phantom(g_ctx, 7, vol, NULL, 0);
    char *argv[] = {DS_SEGMENT_EXE, "--threads", "1", "--input", vol, "--output", lab,
                    "--entropy", ent, "--overlay", png, (char *)model, NULL};
    cli_result r;
    cli_run(argv, &r);
    DS_CHECK_MSG(r.code == 0 && r.err_n == 0, "exit %d, stderr '%s'", r.code, r.err);
    cli_result_free(&r);

    ds_volume *image = NULL, *label = NULL, *entropy = NULL;
    DS_CHECK_OK(g_ctx, ds_io_read_image(g_ctx, vol, &image));
    DS_CHECK_OK(g_ctx, ds_io_read_label(g_ctx, lab, &label));
    DS_CHECK_OK(g_ctx, ds_io_read_image(g_ctx, ent, &entropy));
    if (!image || !label || !entropy)
        return;
    float top = 0;
    for (int64_t i = 0; i < ds_volume_voxels(entropy); ++i)
        top = entropy->values[i] > top ? entropy->values[i] : top;
    DS_CHECK_MSG(top > 0.5f, "the random pair is sure everywhere (max entropy %g)", (double)top);
    ds_render_options o;
    ds_render_options_init(&o);
    const char *names[1] = {"blob"};
    o.class_names = names;
    o.class_name_count = 1;
    o.title = "case7";
    DS_CHECK_OK(g_ctx, ds_threads_set(g_ctx, 1));
    DS_CHECK_OK(g_ctx, ds_render_overlay(g_ctx, image, label, entropy, NULL, &o,
                                         path_in("want.png")));
    o.class_names = NULL;
    DS_CHECK_OK(g_ctx, ds_render_overlay(g_ctx, image, label, entropy, NULL, &o,
                                         path_in("unnamed.png")));
    int64_t focus[3];
    DS_CHECK_OK(g_ctx, ds_render_focus(g_ctx, label, entropy, focus));
    DS_CHECK_OK(g_ctx, ds_render_overlay(g_ctx, image, label, NULL, focus, &o,
                                         path_in("no_entropy.png")));
    ds_render_png got = read_png(png), want = read_png(path_in("want.png"));
    ds_render_png unnamed = read_png(path_in("unnamed.png"));
    ds_render_png plain = read_png(path_in("no_entropy.png"));
    DS_CHECK_MSG(got.width == 1200 && got.height == 520, "overlay is %d x %d", got.width,
                 got.height);
    DS_CHECK_MSG(same_png(&got, &want), "the module's overlay differs from the library's");
    DS_CHECK_MSG(!same_png(&got, &unnamed), "the legend ignores the model's class names");
    int64_t panel = 0, warm = warm_panel_pixels(&got, &panel), plain_panel = 0;
    int64_t plain_warm = warm_panel_pixels(&plain, &plain_panel);
    printf("max entropy %.3f; warm panel pixels %lld of %lld (without entropy %lld)\n",
           (double)top, (long long)warm, (long long)panel, (long long)plain_warm);
    DS_CHECK_MSG(warm > panel / 10, "only %lld of %lld panel pixels heat-coloured",
                 (long long)warm, (long long)panel);
    DS_CHECK_MSG(plain_warm < warm / 20, "%lld warm pixels without entropy",
                 (long long)plain_warm);
    ds_render_png_free(&got);
    ds_render_png_free(&want);
    ds_render_png_free(&unnamed);
    ds_render_png_free(&plain);
    ds_volume_free(image);
    ds_volume_free(label);
    ds_volume_free(entropy);
}

static void test_refused(const char *model)
{
    char *in = path_in("folder"), *out = path_in("folder_out"), *png = path_in("folder.png");
    mkdir(in, 0755);
    mkdir(out, 0755);
    cli_write_phantom(g_ctx, 3, path_in("folder/c3.nrrd"), NULL, 0);
    char *none[] = {png, NULL};
    char *argv[] = {DS_SEGMENT_EXE, "--inputFolder", in, "--outputFolder", out, "--overlay", png,
                    (char *)model, NULL};
    cli_expect_refused("an overlay for a folder", 2, argv, none);
}

int main(void)
{
    snprintf(g_tmp, sizeof g_tmp, "/tmp/ds_cli_overlay_XXXXXX");
    if (!mkdtemp(g_tmp) || ds_ctx_create(&g_ctx) != DS_OK)
        return 1;
    char *pair = path_in("pair.dsm");
    DS_CHECK_OK(g_ctx, cli_random_model(g_ctx, 2, 2, 16, 11, pair));
    name_classes(pair);
    test_overlay(pair);
    test_refused(pair);
    ds_ctx_free(g_ctx);
    DS_CHECK(cli_remove_tree(g_tmp) == 0);
    return ds_test_finish("test_cli_overlay");
}
