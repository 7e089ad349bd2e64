/* cohort.c - writing results under a case id, and segmenting every image of a cohort. */
#include "infer_internal.h"

#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ds_io.h"

#define PATH_CAP 4096

static ds_status check_folder(ds_ctx *ctx, const char *dir)
{
    struct stat st;
    if (!dir || !dir[0])
        return ds_fail(ctx, DS_ERR_ARG, "inference output: no output folder given");
    if (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode))
        return ds_fail(ctx, DS_ERR_IO, "inference output: folder %s does not exist", dir);
    if (access(dir, W_OK | X_OK) != 0)
        return ds_fail(ctx, DS_ERR_IO, "inference output: folder %s is not writable", dir);
    return DS_OK;
}

static ds_status write_one(ds_ctx *ctx, const ds_volume *v, const char *dir, const char *id,
                           const char *what, const char *ext)
{
    char path[PATH_CAP];
    const int n = snprintf(path, sizeof path, "%s/%s_%s%s", dir, id, what, ext);
    if (n < 0 || (size_t)n >= sizeof path)
        return ds_fail(ctx, DS_ERR_ARG, "inference output: path for %s of %s too long", what, id);
    return ds_io_write(ctx, v, path, 1);
}

ds_status ds_infer_write(ds_ctx *ctx, const ds_infer_result *r, unsigned outputs, const char *dir,
                         const char *id, const char *ext)
{
    if (!r || !r->label || !id || !id[0])
        return ds_fail(ctx, DS_ERR_ARG, "inference output: empty result or case id");
    if (outputs & ~(unsigned)(DS_INFER_OUT_MAPS | DS_INFER_OUT_PROBABILITIES))
        return ds_fail(ctx, DS_ERR_ARG, "inference output: unknown output bits 0x%x", outputs);
    DS_TRY(check_folder(ctx, dir));
    ext = ext ? ext : ".nii.gz";
    if (outputs & DS_INFER_OUT_LABEL)
        DS_TRY(write_one(ctx, r->label, dir, id, "label", ext));
    if ((outputs & DS_INFER_OUT_ENTROPY) && r->entropy)
        DS_TRY(write_one(ctx, r->entropy, dir, id, "entropy", ext));
    if ((outputs & DS_INFER_OUT_DISAGREEMENT) && r->disagreement)
        DS_TRY(write_one(ctx, r->disagreement, dir, id, "disagreement", ext));
    for (int k = 0; (outputs & DS_INFER_OUT_PROBABILITIES) && k < r->classes; ++k) {
        char what[32];
        snprintf(what, sizeof what, "prob%d", k);
        if (r->probability[k])
            DS_TRY(write_one(ctx, r->probability[k], dir, id, what, ext));
    }
    return DS_OK;
}

void ds_infer_cohort_options_init(ds_infer_cohort_options *o)
{
    memset(o, 0, sizeof *o);
    o->outputs = DS_INFER_OUT_MAPS;
    o->margin = 3;
}

/* Reads, segments, writes and scores one case. */
static ds_status one_case(ds_ctx *ctx, const ds_model *model, const ds_case *c,
                          const ds_infer_options *opt, const ds_infer_cohort_options *co,
                          ds_infer_case_score *score)
{
    ds_volume *image = NULL;
    DS_TRY(ds_io_read_image(ctx, c->image_path, &image));
    ds_infer_result r;
    ds_status st = ds_infer_model(ctx, model, image, opt, &r);
    ds_volume_free(image);
    if (st == DS_OK)
        st = ds_infer_write(ctx, &r, co->outputs, co->out_dir, c->id, co->ext);
    if (st == DS_OK && score)
        st = ds_infer_score_case(ctx, r.label, r.entropy, co->margin, score);
    ds_infer_result_free(&r);
    return st;
}

/* Case i's progress: its share of the cohort, its messages prefixed with its number and id. */
typedef struct case_progress {
    const ds_infer_options *opt;
    char prefix[160];
    double base, span;
} case_progress;

static void forward_progress(void *user, double fraction, const char *message)
{
    const case_progress *cp = user;
    char msg[320];
    snprintf(msg, sizeof msg, "%s%s", cp->prefix, message);
    cp->opt->progress(cp->opt->progress_user, cp->base + cp->span * fraction, msg);
}

ds_status ds_infer_cohort(ds_ctx *ctx, const ds_model *model, const ds_cohort *cohort,
                          const ds_infer_options *opt, const ds_infer_cohort_options *co,
                          ds_infer_case_score *scores)
{
    if (!cohort || !opt || !co || !model)
        return ds_fail(ctx, DS_ERR_ARG, "cohort inference: null model, cohort or options");
    DS_TRY(check_folder(ctx, co->out_dir));
    int total = 0;
    for (int i = 0; i < cohort->count; ++i) {
        total += !co->test_only || cohort->cases[i].is_test;
        if (scores)
            scores[i] = (ds_infer_case_score){-1, 0.0, 0};
    }
    case_progress cp = {opt, "", 0.0, total ? 1.0 / total : 1.0};
    ds_infer_options o = *opt;
    o.progress = opt->progress ? forward_progress : NULL;
    o.progress_user = &cp;
    ds_infer_progress pr;
    ds_infer_progress_from(&pr, opt);
    for (int i = 0, done = 0; i < cohort->count; ++i) {
        const ds_case *c = &cohort->cases[i];
        if (co->test_only && !c->is_test)
            continue;
        DS_TRY(ds_infer_check_cancel(ctx, &pr));
        snprintf(cp.prefix, sizeof cp.prefix, "case %d/%d %s: ", done + 1, total, c->id);
        cp.base = (double)done / total;
        ds_status st = one_case(ctx, model, c, &o, co, scores ? &scores[i] : NULL);
        if (st != DS_OK) {
            char why[DS_MESSAGE_CAP];
            snprintf(why, sizeof why, "%s", ds_ctx_message(ctx));
            return ds_fail(ctx, st, "case %s: %s", c->id, why);
        }
        if (scores)
            scores[i].index = i;
        ++done;
    }
    return DS_OK;
}
