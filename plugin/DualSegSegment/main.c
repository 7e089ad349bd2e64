/* DualSegSegment - segments one volume or a folder of volumes with a DualSeg model, writes the
 * label map, the uncertainty maps and (one volume) an overlay picture, and suggests what to label
 * next (the slices of one volume, the cases of a folder), as a Slicer CLI module. Every parameter
 * is declared in xml/DualSegSegment.xml; this file asks for them by name. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ds_cli.h"
#include "ds_infer.h"
#include "ds_io.h"
#include "ds_render.h"
#include "ds_threads.h"

/* Maps one case's inference progress into its share [from, from + span] of the whole run. */
typedef struct share {
    ds_cli *cli;
    double from, span;
    const char *what;
} share;

static void on_progress(void *user, double fraction, const char *message)
{
    const share *s = user;
    char comment[200];
    snprintf(comment, sizeof comment, "%s: %s", s->what, message);
    ds_cli_progress(s->cli, s->from + s->span * fraction, comment);
}

static void infer_options(const ds_cli *cli, ds_infer_options *o)
{
    static const ds_cli_choice nets[] = {{"both", DS_INFER_NETS_BOTH}, {"a", DS_INFER_NETS_A},
                                         {"b", DS_INFER_NETS_B}};
    static const ds_cli_choice weighting[] = {{"gaussian", DS_INFER_WEIGHT_GAUSSIAN},
                                              {"uniform", DS_INFER_WEIGHT_UNIFORM}};
    int v[3];
    ds_infer_options_init(o);
    o->nets = (ds_infer_nets)ds_cli_get_choice(cli, "networks", nets, 3);
    o->weighting = (ds_infer_weighting)ds_cli_get_choice(cli, "weighting", weighting, 2);
    o->tta = ds_cli_get_bool(cli, "flips") ? DS_INFER_TTA_FLIPS : DS_INFER_TTA_NONE;
    o->largest_component = ds_cli_get_bool(cli, "largestComponent");
    o->probabilities = ds_cli_has_value(cli, "probabilityFolder");
    o->batch = ds_cli_get_int(cli, "windowBatch");
    if (ds_cli_get_ints(cli, "stride", v, 3) == 3)
        for (int a = 0; a < 3; ++a)
            o->stride[a] = v[a];
    if (ds_cli_get_ints(cli, "patch", v, 3) == 3)
        for (int a = 0; a < 3; ++a)
            o->patch[a] = v[a];
}

/* The case name of a file: its base name up to the first dot, without nnU-Net's _0000. */
static void case_id(const char *path, char *id, size_t cap)
{
    const char *base = strrchr(path, '/');
    base = base ? base + 1 : path;
    size_t n = strcspn(base, ".");
    if (n >= 5 && strncmp(base + n - 5, "_0000", 5) == 0)
        n -= 5;
    snprintf(id, cap, "%.*s", (int)n, base[0] ? base : "case");
}

/* A failure of the library, which knows the volume only as "image", made to name its file. */
static ds_status name_input(ds_ctx *ctx, ds_status st, const char *path)
{
    const char *msg = ds_ctx_message(ctx);
    if (st == DS_OK || strstr(msg, path))
        return st;
    char copy[DS_MESSAGE_CAP];
    snprintf(copy, sizeof copy, "%s", strncmp(msg, "image: ", 7) == 0 ? msg + 7 : msg);
    return ds_fail(ctx, st, "%s: %s", path, copy);
}

/* The slices of the painted labels (if given) that already hold an annotation, as skip flags
 * for the ranking; *flags stays NULL without painted labels. */
static ds_status annotated_flags(ds_ctx *ctx, const ds_cli *cli, const ds_volume *image,
                                 int axis, uint8_t **flags)
{
    *flags = NULL;
    if (!ds_cli_has_value(cli, "annotatedLabel"))
        return DS_OK;
    const char *path = ds_cli_get_string(cli, "annotatedLabel");
    ds_volume *painted = NULL;
    DS_TRY(ds_io_read_label(ctx, path, &painted));
    ds_status st = DS_OK;
    for (int a = 0; a < 3 && st == DS_OK; ++a)
        if (painted->geom.size[a] != image->geom.size[a])
            st = ds_fail(ctx, DS_ERR_SHAPE, "%s: the painted labels are %lldx%lldx%lld, the volume "
                         "%lldx%lldx%lld", path, (long long)painted->geom.size[0],
                         (long long)painted->geom.size[1], (long long)painted->geom.size[2],
                         (long long)image->geom.size[0], (long long)image->geom.size[1],
                         (long long)image->geom.size[2]);
    if (st == DS_OK && !(*flags = malloc((size_t)image->geom.size[axis])))
        st = ds_fail(ctx, DS_ERR_NOMEM, "out of memory");
    if (st == DS_OK)
        st = ds_label_annotated_slices(ctx, painted, axis, ds_cli_get_int(cli, "ignoreLabel"),
                                       *flags, NULL);
    ds_volume_free(painted);
    return st;
}

/* --sliceRange first,last: every slice outside it flagged as skipped too; *flags is allocated,
 * all clear, when there were no painted labels. A range beyond the volume is an error, as a
 * silently clipped range would suggest slices the user did not mean. */
static ds_status range_flags(ds_ctx *ctx, const ds_cli *cli, const ds_volume *image, int axis,
                             uint8_t **flags)
{
    static const char *const dir[] = {"sagittal", "coronal", "axial"};
    int r[2];
    if (ds_cli_get_ints(cli, "sliceRange", r, 2) != 2)
        return DS_OK;
    const int64_t n = image->geom.size[axis];
    if (r[1] >= n)
        return ds_fail(ctx, DS_ERR_ARG, "--%s %d,%d: %s has %lld %s slices (0 to %lld)",
                       ds_cli_longflag(cli, "sliceRange"), r[0], r[1],
                       ds_cli_get_string(cli, "inputVolume"), (long long)n, dir[axis],
                       (long long)(n - 1));
    if (!*flags && !(*flags = calloc((size_t)n, 1)))
        return ds_fail(ctx, DS_ERR_NOMEM, "out of memory");
    for (int64_t i = 0; i < n; ++i)
        if (i < r[0] || i > r[1])
            (*flags)[i] = 1;
    return DS_OK;
}

/* The overlay PNG (ds_render_overlay) of one volume, its legend naming the classes as the model
 * file does ("class k" where it names none). */
static ds_status write_overlay(ds_ctx *ctx, const ds_cli *cli, const ds_model *model,
                               const ds_volume *image, const ds_infer_result *r, const char *id)
{
    const char *names[DS_NET_MAX_CLASSES];
    ds_render_options ro;
    ds_render_options_init(&ro);
    for (int k = 1; k < model->meta.classes; ++k)
        names[k - 1] = model->meta.class_names[k];
    ro.class_names = names;
    ro.class_name_count = model->meta.classes - 1;
    ro.title = id;
    return ds_render_overlay(ctx, image, r->label, r->entropy, NULL, &ro,
                             ds_cli_get_string(cli, "outputOverlay"));
}

/* The slices to label next and the case's score, as return parameters. */
static ds_status suggest(ds_ctx *ctx, ds_cli *cli, const ds_infer_result *r, int axis,
                         const uint8_t *skip)
{
    ds_infer_slice_options so;
    ds_infer_slice_options_init(&so);
    so.axis = axis;
    so.count = ds_cli_get_int(cli, "sliceCount");
    so.min_distance = ds_cli_get_int(cli, "sliceSpacing");
    so.margin = ds_cli_get_int(cli, "margin");
    so.skip = skip;
    int64_t *idx = malloc(sizeof *idx * (size_t)so.count);
    double *score = malloc(sizeof *score * (size_t)so.count);
    int *slices = malloc(sizeof *slices * (size_t)so.count), found = 0;
    ds_infer_case_score cs;
    ds_status st = idx && score && slices ? DS_OK : ds_fail(ctx, DS_ERR_NOMEM, "out of memory");
    if (st == DS_OK)
        st = ds_infer_rank_slices(ctx, r->label, r->entropy, &so, idx, score, &found);
    if (st == DS_OK)
        st = ds_infer_score_case(ctx, r->label, r->entropy, so.margin, &cs);
    if (st == DS_OK) {
        for (int i = 0; i < found; ++i)
            slices[i] = (int)idx[i];
        ds_cli_return_double(cli, "meanEntropy", cs.score);
        ds_cli_return_ints(cli, "suggestedSlices", slices, found);
        ds_cli_return_doubles(cli, "sliceScores", score, found);
        ds_cli_return_int(cli, "casesSegmented", 1);
    }
    free(idx);
    free(score);
    free(slices);
    return st;
}

/* One volume: the maps at the paths given, the slices to label next. The painted labels and the
 * slice range are checked before segmenting, so that a wrong one writes nothing. */
static ds_status segment_one(ds_ctx *ctx, ds_cli *cli, const ds_model *model,
                             ds_infer_options *opt)
{
    static const ds_cli_choice axes[] = {{"sagittal", 0}, {"coronal", 1}, {"axial", 2}};
    const int axis = ds_cli_get_choice(cli, "sliceAxis", axes, 3);
    const char *input = ds_cli_get_string(cli, "inputVolume");
    share sh = {cli, 0.05, 0.85, "Segmenting"};
    opt->progress = on_progress;
    opt->progress_user = &sh;
    ds_volume *image = NULL;
    ds_infer_result r = {0};
    uint8_t *skip = NULL;
    ds_status st = ds_io_read_image(ctx, input, &image);
    if (st == DS_OK)
        st = annotated_flags(ctx, cli, image, axis, &skip);
    if (st == DS_OK)
        st = range_flags(ctx, cli, image, axis, &skip);
    if (st == DS_OK)
        st = name_input(ctx, ds_infer_model(ctx, model, image, opt, &r), input);
    ds_cli_progress(cli, 0.9, "Writing the results");
    if (st == DS_OK)
        st = ds_io_write(ctx, r.label, ds_cli_get_string(cli, "outputLabel"), 1);
    if (st == DS_OK && ds_cli_has_value(cli, "outputEntropy"))
        st = ds_io_write(ctx, r.entropy, ds_cli_get_string(cli, "outputEntropy"), 0);
    if (st == DS_OK && ds_cli_has_value(cli, "outputDisagreement"))
        st = ds_io_write(ctx, r.disagreement, ds_cli_get_string(cli, "outputDisagreement"), 0);
    char id[256];
    case_id(input, id, sizeof id);
    if (st == DS_OK && ds_cli_has_value(cli, "outputOverlay"))
        st = write_overlay(ctx, cli, model, image, &r, id);
    ds_volume_free(image);
    if (st == DS_OK && opt->probabilities)
        st = ds_infer_write(ctx, &r, DS_INFER_OUT_PROBABILITIES,
                            ds_cli_get_string(cli, "probabilityFolder"), id, ".nrrd");
    if (st == DS_OK)
        st = suggest(ctx, cli, &r, axis, skip);
    free(skip);
    ds_infer_result_free(&r);
    return st;
}

static ds_status segment_case(ds_ctx *ctx, ds_cli *cli, const ds_model *model,
                              const ds_infer_options *opt, const ds_case *c,
                              ds_infer_case_score *score)
{
    static const ds_cli_choice ext[] = {{".nii.gz", 0}, {".nrrd", 1}};
    const char *e = ds_cli_get_choice(cli, "folderFormat", ext, 2) ? ".nrrd" : ".nii.gz";
    ds_volume *image = NULL;
    ds_infer_result r = {0};
    ds_status st = ds_io_read_image(ctx, c->image_path, &image);
    if (st == DS_OK)
        st = name_input(ctx, ds_infer_model(ctx, model, image, opt, &r), c->image_path);
    ds_volume_free(image);
    if (st == DS_OK)
        st = ds_infer_write(ctx, &r, DS_INFER_OUT_MAPS, ds_cli_get_string(cli, "outputFolder"),
                            c->id, e);
    if (st == DS_OK && opt->probabilities)
        st = ds_infer_write(ctx, &r, DS_INFER_OUT_PROBABILITIES,
                            ds_cli_get_string(cli, "probabilityFolder"), c->id, e);
    if (st == DS_OK)
        st = ds_infer_score_case(ctx, r.label, r.entropy, ds_cli_get_int(cli, "margin"), score);
    ds_infer_result_free(&r);
    return st;
}

/* A folder: each case in turn (its share of the progress bar), then the cases ranked. */
static ds_status segment_folder(ds_ctx *ctx, ds_cli *cli, const ds_model *model,
                                ds_infer_options *opt)
{
    ds_cohort *cohort = NULL;
    ds_status st = ds_cohort_open_folders(ctx, ds_cli_get_string(cli, "inputFolder"), NULL,
                                          &cohort);
    if (st != DS_OK)
        return st;
    ds_infer_case_score *scores = calloc((size_t)cohort->count + 1, sizeof *scores);
    char *ranked = calloc(1, 1);
    if (!scores || !ranked)
        st = ds_fail(ctx, DS_ERR_NOMEM, "out of memory");
    for (int i = 0; st == DS_OK && i < cohort->count; ++i) {
        char what[300];
        snprintf(what, sizeof what, "Case %d of %d (%s)", i + 1, cohort->count,
                 cohort->cases[i].id);
        share sh = {cli, 0.05 + 0.95 * i / cohort->count, 0.95 / cohort->count, what};
        opt->progress = on_progress;
        opt->progress_user = &sh;
        st = segment_case(ctx, cli, model, opt, &cohort->cases[i], &scores[i]);
        scores[i].index = i;
    }
    double sum = 0;
    for (int i = 0; st == DS_OK && i < cohort->count; ++i)
        sum += scores[i].score;
    if (st == DS_OK)
        ds_infer_sort_scores(scores, cohort->count);
    size_t len = 0;
    for (int i = 0; st == DS_OK && i < cohort->count; ++i) {
        const char *id = cohort->cases[scores[i].index].id;
        char *grown = realloc(ranked, len + strlen(id) + 2);
        if (!grown) {
            st = ds_fail(ctx, DS_ERR_NOMEM, "out of memory");
            break;
        }
        ranked = grown;
        len += (size_t)sprintf(ranked + len, "%s%s", i ? "," : "", id);
    }
    if (st == DS_OK) {
        ds_cli_return_double(cli, "meanEntropy", cohort->count ? sum / cohort->count : 0);
        ds_cli_return_int(cli, "casesSegmented", cohort->count);
        ds_cli_return_string(cli, "casesToLabel", ranked);
    }
    free(ranked);
    free(scores);
    ds_cohort_free(cohort);
    return st;
}

static ds_status run(ds_ctx *ctx, ds_cli *cli)
{
    ds_infer_options opt;
    infer_options(cli, &opt);
    ds_model *model = NULL;
    ds_status st = ds_threads_set(ctx, ds_cli_get_int(cli, "threads"));
    ds_cli_progress(cli, 0, "Loading the model");
    if (st == DS_OK)
        st = ds_model_load(ctx, &model, ds_cli_get_string(cli, "modelFile"));
    const int one = opt.nets != DS_INFER_NETS_BOTH || (model && model->net_count < 2);
    if (st == DS_OK && one && ds_cli_has_value(cli, "outputDisagreement"))
        st = ds_fail(ctx, DS_ERR_ARG, "a disagreement map needs two networks: the model has %d "
                     "and --%s is %s", model->net_count, ds_cli_longflag(cli, "networks"),
                     ds_cli_get_string(cli, "networks"));
    if (st == DS_OK)
        st = ds_cli_has_value(cli, "inputVolume") ? segment_one(ctx, cli, model, &opt)
                                                  : segment_folder(ctx, cli, model, &opt);
    ds_model_free(model);
    return st;
}

static int check_arguments(ds_cli *cli)
{
    const int one = ds_cli_has_value(cli, "inputVolume");
    const int folder = ds_cli_has_value(cli, "inputFolder");
    int v[3];
    if (one == folder)
        return ds_cli_usage_error(cli, "give either --%s (one volume) or --%s (a folder)",
                                  ds_cli_longflag(cli, "inputVolume"),
                                  ds_cli_longflag(cli, "inputFolder"));
    if (one && !ds_cli_has_value(cli, "outputLabel"))
        return ds_cli_usage_error(cli, "missing --%s (where to write the segmentation)",
                                  ds_cli_longflag(cli, "outputLabel"));
    if (folder && !ds_cli_has_value(cli, "outputFolder"))
        return ds_cli_usage_error(cli, "--%s needs --%s", ds_cli_longflag(cli, "inputFolder"),
                                  ds_cli_longflag(cli, "outputFolder"));
    if (folder && (ds_cli_has_value(cli, "outputLabel") || ds_cli_has_value(cli, "outputEntropy") ||
                   ds_cli_has_value(cli, "outputDisagreement") ||
                   ds_cli_has_value(cli, "outputOverlay")))
        return ds_cli_usage_error(cli, "a folder's maps go to --%s, not to single files",
                                  ds_cli_longflag(cli, "outputFolder"));
    if (folder && ds_cli_has_value(cli, "annotatedLabel"))
        return ds_cli_usage_error(cli, "--%s belongs to one volume, not to a folder",
                                  ds_cli_longflag(cli, "annotatedLabel"));
    const int nr = ds_cli_get_ints(cli, "sliceRange", v, 3);
    if (nr != 0 && (nr != 2 || v[0] > v[1]))
        return ds_cli_usage_error(cli, "--%s takes two slice numbers first,last with first <= last",
                                  ds_cli_longflag(cli, "sliceRange"));
    if (folder && nr != 0)
        return ds_cli_usage_error(cli, "--%s belongs to one volume, not to a folder",
                                  ds_cli_longflag(cli, "sliceRange"));
    const int ns = ds_cli_get_ints(cli, "stride", v, 3), np = ds_cli_get_ints(cli, "patch", v, 3);
    if ((ns != 0 && ns != 3) || (np != 0 && np != 3))
        return ds_cli_usage_error(cli, "--%s and --%s take three sizes x,y,z (or none)",
                                  ds_cli_longflag(cli, "stride"), ds_cli_longflag(cli, "patch"));
    return 0;
}

int main(int argc, char **argv)
{
    int code;
    ds_cli *cli = ds_cli_begin(&DS_CLI_MODULE, argc, argv, &code);
    if (!cli)
        return code;
    ds_cli_correct_blas_core(argv);
    if ((code = check_arguments(cli)) != 0)
        return code;
    ds_ctx *ctx = NULL;
    if (ds_ctx_create(&ctx) != DS_OK)
        return ds_cli_end(cli, DS_ERR_NOMEM, "out of memory");
    ds_ctx_set_log(ctx, ds_cli_log, cli, DS_LOG_WARN);
    ds_cli_start(cli, ds_cli_has_value(cli, "inputVolume") ? "Segmenting a volume"
                                                            : "Segmenting a folder");
    ds_status st = run(ctx, cli);
    code = ds_cli_end(cli, st, ds_ctx_message(ctx));
    ds_ctx_free(ctx);
    return code;
}
