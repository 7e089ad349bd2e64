/* dualseg_report - draws, from files, what the annotator looks at: for one segmented case (its
 * image, the label map and the entropy map as DualSegSegment writes them) the overlay PNG and a
 * montage of the slices to label next (ds_infer_rank_slices, captioned with index and score),
 * optionally the .vti for ParaView and the Slicer colour table of the entropy; for a trainer CSV
 * log, the training-curve PNG; for a small CSV table of results, a line plot (one line per
 * column against the --x column). --at i,j,... draws those slices in the montage (the ones a
 * caller already chose, e.g. DualSegSegment's suggestions) instead of ranking its own. The legend
 * names the classes as the model file given with --model does (DualSegTrain keeps the names of
 * the cohort's dataset.json there), else "class k". Every file is written atomically
 * (ds_render). The suggested slices are printed on stdout as one line "slices: i1 i2 ..." so that
 * scripts can show them.
 *
 * Usage: dualseg_report --image I --label L --entropy E [--overlay O.png] [--montage M.png]
 *                       [--slices N | --at i,j,...] [--vti V.vti] [--ctbl C.ctbl] [--title T]
 *                       [--size W H] [--model M.dsm]
 *        dualseg_report --log LOG.csv --curve C.png [--title T] [--size W H]
 *        dualseg_report --table T.csv --plot P.png --x COLUMN [--ylabel Y] [--title T]
 *                       [--size W H]
 * Exit status: 0 done, 1 a failure (one line on stderr naming the input), 2 bad arguments.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ds_infer.h"
#include "ds_io.h"
#include "ds_model.h"
#include "ds_render.h"

#define MAX_SLICES 64

typedef struct report_args {
    const char *image, *label, *entropy, *overlay, *montage, *vti, *ctbl, *title, *model;
    const char *log, *curve, *table, *plot, *x, *ylabel, *at;
    int slices;
    int size[2]; /* 0 0: ds_render's defaults */
} report_args;

static const char *const usage =
    "usage: dualseg_report --image I --label L --entropy E [--overlay O.png] [--montage M.png]\n"
    "                      [--slices N] [--vti V.vti] [--ctbl C.ctbl] [--title T] [--size W H]\n"
    "                      [--model M.dsm]\n"
    "       dualseg_report --log LOG.csv --curve C.png [--title T] [--size W H]\n"
    "       dualseg_report --table T.csv --plot P.png --x COLUMN [--ylabel Y] [--title T]\n"
    "                      [--size W H]\n";

static const char **flag_slot(report_args *a, const char *flag)
{
    static const char *const names[] = {"--image", "--label", "--entropy", "--overlay",
                                        "--montage", "--vti", "--ctbl", "--title",
                                        "--log", "--curve", "--table", "--plot", "--x",
                                        "--ylabel", "--at", "--model"};
    const char **slots[] = {&a->image, &a->label, &a->entropy, &a->overlay, &a->montage,
                            &a->vti, &a->ctbl, &a->title, &a->log, &a->curve, &a->table,
                            &a->plot, &a->x, &a->ylabel, &a->at, &a->model};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; ++i)
        if (strcmp(flag, names[i]) == 0)
            return slots[i];
    return NULL;
}

static int parse_args(int argc, char **argv, report_args *a)
{
    *a = (report_args){.slices = 6};
    for (int i = 1; i < argc; ++i) {
        const char **slot = flag_slot(a, argv[i]);
        char *end = NULL;
        if (strcmp(argv[i], "--size") == 0 && i + 2 < argc) {
            for (int k = 0; k < 2; ++k) {
                long v = strtol(argv[++i], &end, 10);
                if (*end || end == argv[i] || v < 160 || v > DS_RENDER_MAX_SIDE) {
                    fprintf(stderr, "dualseg_report: --size wants 160..%d, not '%s'\n",
                            DS_RENDER_MAX_SIDE, argv[i]);
                    return 0;
                }
                a->size[k] = (int)v;
            }
            continue;
        }
        if (i + 1 >= argc || (!slot && strcmp(argv[i], "--slices") != 0)) {
            fprintf(stderr, "dualseg_report: bad argument '%s'\n%s", argv[i], usage);
            return 0;
        }
        if (slot) {
            *slot = argv[++i];
            continue;
        }
        long v = strtol(argv[++i], &end, 10);
        if (*end || end == argv[i] || v < 1 || v > MAX_SLICES) {
            fprintf(stderr, "dualseg_report: --slices wants 1..%d, not '%s'\n", MAX_SLICES,
                    argv[i]);
            return 0;
        }
        a->slices = (int)v;
    }
    int is_case = a->image || a->label || a->entropy;
    int is_curve = a->log || a->curve;
    int is_plot = a->table || a->plot;
    if (is_case + is_curve + is_plot != 1 || (is_case && !(a->image && a->label && a->entropy)) ||
        (is_curve && !(a->log && a->curve)) || (is_plot && !(a->table && a->plot && a->x))) {
        fprintf(stderr, "dualseg_report: give --image, --label and --entropy, or --log and "
                        "--curve, or --table, --plot and --x\n%s", usage);
        return 0;
    }
    return 1;
}

/* Prefixes the context's message with the input it is about, unless it names it already. */
static ds_status name_input(ds_ctx *ctx, ds_status st, const char *path)
{
    char why[1024];
    if (st == DS_OK || strstr(ds_ctx_message(ctx), path))
        return st;
    snprintf(why, sizeof why, "%s", ds_ctx_message(ctx)); /* ds_fail overwrites the message */
    return ds_fail(ctx, st, "%s: %s", path, why);
}

static ds_status read_input(ds_ctx *ctx, const char *path, int is_label, ds_volume **out)
{
    ds_status st = is_label ? ds_io_read_label(ctx, path, out) : ds_io_read_image(ctx, path, out);
    return name_input(ctx, st, path);
}

/* The slices of --at: "i,j,..." within the volume, scored by their mean entropy. */
static ds_status given_slices(ds_ctx *ctx, const char *list, int axis, const ds_volume *entropy,
                              int64_t *idx, double *score, int *found)
{
    const int64_t *n = entropy->geom.size, plane = n[0] * n[1];
    for (const char *p = list; *p && *found < MAX_SLICES; p += *p == ',') {
        char *end = NULL;
        long long v = strtoll(p, &end, 10);
        if (end == p || v < 0 || v >= n[axis])
            return ds_fail(ctx, DS_ERR_ARG, "--at: '%s' is not a list of slices 0..%lld", list,
                           (long long)n[axis] - 1);
        double sum = 0;
        for (int64_t k = 0; k < n[2]; ++k) /* the slice's voxels: those whose index is v */
            for (int64_t j = 0; j < n[1]; ++j)
                for (int64_t i = 0; i < n[0]; ++i)
                    if ((axis == 0 ? i : axis == 1 ? j : k) == v)
                        sum += entropy->values[i + n[0] * j + plane * k];
        idx[*found] = v;
        score[(*found)++] = sum * (double)n[axis] / (double)(plane * n[2]);
        p = end;
    }
    return DS_OK;
}

static ds_status draw_case(ds_ctx *ctx, const report_args *a, const ds_render_options *ro)
{
    ds_volume *image = NULL, *label = NULL, *entropy = NULL;
    ds_status st = read_input(ctx, a->image, 0, &image);
    if (st == DS_OK)
        st = read_input(ctx, a->label, 1, &label);
    if (st == DS_OK)
        st = read_input(ctx, a->entropy, 0, &entropy);
    ds_infer_slice_options so;
    ds_infer_slice_options_init(&so);
    so.count = a->slices;
    so.min_distance = 3;
    int64_t idx[MAX_SLICES];
    double score[MAX_SLICES];
    int found = 0;
    if (st == DS_OK && a->at)
        st = given_slices(ctx, a->at, so.axis, entropy, idx, score, &found);
    else if (st == DS_OK)
        st = ds_infer_rank_slices(ctx, label, entropy, &so, idx, score, &found);
    if (st == DS_OK && a->overlay)
        st = ds_render_overlay(ctx, image, label, entropy, NULL, ro, a->overlay);
    /* Nothing predicted means no slice to suggest: the montage would be empty, so it is not
     * written and the printed line says so. */
    if (st == DS_OK && a->montage && found > 0)
        st = ds_render_montage(ctx, image, label, entropy, so.axis, idx, score, found, ro,
                               a->montage);
    if (st == DS_OK && a->vti)
        st = ds_render_write_vti(ctx, a->vti, image, label, entropy, NULL);
    if (st == DS_OK && a->ctbl)
        st = ds_render_write_color_table(ctx, a->ctbl);
    if (st == DS_OK) {
        printf("slices:");
        for (int i = 0; i < found; ++i)
            printf(" %lld (%.3f)", (long long)idx[i], score[i]);
        printf(found ? "\n" : " none (nothing predicted)\n");
    }
    ds_volume_free(image);
    ds_volume_free(label);
    ds_volume_free(entropy);
    return st;
}

static ds_status draw_plot(ds_ctx *ctx, const report_args *a, ds_render_options *ro)
{
    ds_render_table t;
    ds_status st = ds_render_read_csv(ctx, a->table, &t);
    if (st != DS_OK)
        return name_input(ctx, st, a->table);
    if (!a->size[0]) {
        ro->width = 900;
        ro->height = 600;
    }
    st = ds_render_line_plot(ctx, &t, a->x, a->ylabel ? a->ylabel : "", ro, a->plot);
    ds_render_table_free(&t);
    return st;
}

static ds_status draw_curve(ds_ctx *ctx, const report_args *a, ds_render_options *ro)
{
    ds_render_table t;
    ds_status st = ds_render_read_csv(ctx, a->log, &t);
    if (st != DS_OK)
        return name_input(ctx, st, a->log);
    if (!a->size[0]) {
        ro->width = 960;
        ro->height = 760;
    }
    st = ds_render_training_curve(ctx, &t, ro, a->curve);
    ds_render_table_free(&t);
    return st;
}

/* The legend's names of classes 1.. from the model file's metadata (an unnamed class stays "").
 * names must hold DS_NET_MAX_CLASSES - 1 strings of DS_MODEL_NAME_CAP bytes. */
static ds_status model_names(ds_ctx *ctx, const char *path, char (*names)[DS_MODEL_NAME_CAP],
                             int *count)
{
    ds_model *m = NULL;
    DS_TRY(name_input(ctx, ds_model_load(ctx, &m, path), path));
    *count = m->meta.classes - 1;
    for (int k = 1; k < m->meta.classes; ++k)
        memcpy(names[k - 1], m->meta.class_names[k], DS_MODEL_NAME_CAP);
    ds_model_free(m);
    return DS_OK;
}

int main(int argc, char **argv)
{
    report_args a;
    if (!parse_args(argc, argv, &a))
        return 2;
    ds_ctx *ctx = NULL;
    if (ds_ctx_create(&ctx) != DS_OK) {
        fprintf(stderr, "dualseg_report: out of memory\n");
        return 1;
    }
    ds_render_options ro;
    ds_render_options_init(&ro);
    char names[DS_NET_MAX_CLASSES - 1][DS_MODEL_NAME_CAP] = {{0}};
    const char *name_ptr[DS_NET_MAX_CLASSES - 1];
    for (int k = 0; k < DS_NET_MAX_CLASSES - 1; ++k)
        name_ptr[k] = names[k];
    ro.class_names = name_ptr;
    ro.title = a.title;
    if (a.size[0]) {
        ro.width = a.size[0];
        ro.height = a.size[1];
    }
    ds_status st = a.model ? model_names(ctx, a.model, names, &ro.class_name_count) : DS_OK;
    if (st == DS_OK)
        st = a.log     ? draw_curve(ctx, &a, &ro)
           : a.table ? draw_plot(ctx, &a, &ro)
                     : draw_case(ctx, &a, &ro);
    if (st != DS_OK)
        fprintf(stderr, "dualseg_report: %s\n", ds_ctx_message(ctx));
    ds_ctx_free(ctx);
    return st == DS_OK ? 0 : 1;
}
