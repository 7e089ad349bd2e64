/* infer.c - segmenting a volume: on its own grid (ds_infer_volume), and from a raw image with a
 * model's normalisation and spacing (ds_infer_model). */
#include "infer_internal.h"

#include <inttypes.h>
#include <math.h>
#include <string.h>

static ds_status check_image(ds_ctx *ctx, const ds_volume *image)
{
    if (!image || image->kind != DS_VOLUME_SCALAR || !image->values)
        return ds_fail(ctx, DS_ERR_ARG, "inference: the image must be a scalar volume");
    DS_TRY(ds_geometry_check(ctx, &image->geom, "image"));
    return ds_volume_check_finite(ctx, image, "image");
}

ds_status ds_infer_on_grid(ds_ctx *ctx, ds_net *const *nets, int net_count, const ds_volume *image,
                           ds_volume **owned, const ds_infer_options *o, ds_infer_progress *pr,
                           ds_infer_result *out)
{
    memset(out, 0, sizeof *out);
    int64_t patch[3], stride[3];
    ds_net *eval[2] = {NULL, NULL};
    int count = 0;
    DS_TRY(ds_infer_resolve(ctx, nets, net_count, o, patch, stride, eval, &count));
    DS_TRY(check_image(ctx, image));
    const ds_geometry geom = image->geom; /* image may be freed below */
    const int classes = ds_net_classes(eval[0]);
    float *lend[2][DS_NET_MAX_CLASSES];
    DS_TRY(ds_infer_outputs_create(ctx, &geom, classes, count, o->probabilities, out, lend));
    ds_infer_acc acc;
    ds_status st = ds_infer_acc_create(ctx, geom.size, classes, count, lend, &acc);
    ds_infer_progress windows = *pr;
    windows.span = 0.95 * pr->span;
    if (st == DS_OK)
        st = ds_infer_pass(ctx, eval, image->values, patch, stride, o, &windows, &acc);
    pr->last = windows.last;
    if (st == DS_OK && owned) { /* its memory goes to the label map */
        ds_volume_free(*owned);
        *owned = NULL;
    }
    if (st == DS_OK)
        st = ds_infer_finalize(ctx, &acc, &geom, out);
    ds_infer_acc_free(&acc);
    if (st == DS_OK && o->largest_component)
        st = ds_infer_keep_largest_component(ctx, out->label);
    if (st != DS_OK)
        ds_infer_result_free(out);
    else
        ds_infer_report(pr, 1.0, "segmented");
    return st;
}

/* The public calls' first step: the result zeroed whatever happens next, options present. */
static ds_status begin(ds_ctx *ctx, const ds_infer_options *opt, ds_infer_result *out)
{
    if (!out)
        return ds_fail(ctx, DS_ERR_ARG, "inference: null result");
    memset(out, 0, sizeof *out);
    return opt ? DS_OK : ds_fail(ctx, DS_ERR_ARG, "inference: null options");
}

ds_status ds_infer_volume(ds_ctx *ctx, ds_net *const *nets, int net_count, const ds_volume *image,
                          const ds_infer_options *opt, ds_infer_result *out)
{
    DS_TRY(begin(ctx, opt, out));
    ds_infer_progress pr;
    ds_infer_progress_from(&pr, opt);
    return ds_infer_on_grid(ctx, nets, net_count, image, NULL, opt, &pr, out);
}

/* ---- From a raw image with a model ---- */

static ds_status check_model(ds_ctx *ctx, const ds_model *m)
{
    if (!m || m->net_count < 1 || m->net_count > 2)
        return ds_fail(ctx, DS_ERR_ARG, "inference: the model holds no network (or more than 2)");
    if (m->meta.in_channels != 1)
        return ds_fail(ctx, DS_ERR_SHAPE, "inference: the model takes %d input channels, the "
                       "image has 1", m->meta.in_channels);
    for (int i = 0; i < m->net_count; ++i)
        if (!m->net[i] || ds_net_classes(m->net[i]) != m->meta.classes)
            return ds_fail(ctx, DS_ERR_FORMAT, "inference: the model's network %c does not have "
                           "the model's %d classes", 'A' + i, m->meta.classes);
    return DS_OK;
}

/* 1 when the model was trained at a spacing other than the image's. */
static int needs_resampling(const ds_model_meta *meta, const ds_geometry *g)
{
    if (!(meta->spacing[0] > 0.0 && meta->spacing[1] > 0.0 && meta->spacing[2] > 0.0))
        return 0;
    for (int a = 0; a < 3; ++a)
        if (fabs(meta->spacing[a] - g->spacing[a]) >
            DS_GEOMETRY_TOL_DEFAULT * fmax(meta->spacing[a], g->spacing[a]))
            return 1;
    return 0;
}

/* The image as the networks see it: resampled to the model's spacing, normalised. *work is NULL
 * when the image can be used as it is. */
static ds_status prepare(ds_ctx *ctx, const ds_model_meta *meta, const ds_volume *image,
                         int resample, ds_volume **work)
{
    *work = NULL;
    if (resample) {
        ds_geometry g;
        DS_TRY(ds_geometry_at_spacing(ctx, &image->geom, meta->spacing, &g));
        DS_TRY(ds_volume_resample(ctx, image, &g, DS_INTERP_LINEAR, work));
    } else if (meta->norm_mode != DS_NORM_NONE) {
        DS_TRY(ds_volume_clone(ctx, work, image));
    }
    ds_status st = DS_OK;
    if (meta->norm_mode == DS_NORM_ZSCORE)
        st = ds_volume_zscore(ctx, *work, "image");
    else if (meta->norm_mode == DS_NORM_WINDOW)
        st = ds_volume_window(ctx, *work, meta->norm_lo, meta->norm_hi);
    else if (meta->norm_mode != DS_NORM_NONE)
        st = ds_fail(ctx, DS_ERR_FORMAT, "inference: unknown normalisation %d in the model",
                     (int)meta->norm_mode);
    if (st != DS_OK) {
        ds_volume_free(*work);
        *work = NULL;
    }
    return st;
}

static ds_status restore_one(ds_ctx *ctx, ds_volume **v, const ds_geometry *g, ds_interp interp)
{
    if (!*v)
        return DS_OK;
    ds_volume *back = NULL;
    DS_TRY(ds_volume_resample(ctx, *v, g, interp, &back));
    ds_volume_free(*v);
    *v = back;
    return DS_OK;
}

/* Brings every output from the model's grid back to g. */
static ds_status restore(ds_ctx *ctx, ds_infer_result *r, const ds_geometry *g)
{
    DS_TRY(restore_one(ctx, &r->label, g, DS_INTERP_NEAREST));
    DS_TRY(restore_one(ctx, &r->entropy, g, DS_INTERP_LINEAR));
    DS_TRY(restore_one(ctx, &r->disagreement, g, DS_INTERP_LINEAR));
    for (int k = 0; k < r->classes; ++k)
        DS_TRY(restore_one(ctx, &r->probability[k], g, DS_INTERP_LINEAR));
    return DS_OK;
}

ds_status ds_infer_model(ds_ctx *ctx, const ds_model *model, const ds_volume *image,
                         const ds_infer_options *opt, ds_infer_result *out)
{
    DS_TRY(begin(ctx, opt, out));
    DS_TRY(check_model(ctx, model));
    DS_TRY(check_image(ctx, image));
    ds_infer_options o = *opt;
    if (!o.patch[0] && !o.patch[1] && !o.patch[2])
        memcpy(o.patch, model->meta.patch, sizeof o.patch);
    int64_t patch[3], stride[3];
    ds_net *eval[2];
    int count;
    DS_TRY(ds_infer_resolve(ctx, (ds_net *const *)model->net, model->net_count, &o, patch, stride,
                            eval, &count));
    const int resample = needs_resampling(&model->meta, &image->geom);
    ds_infer_progress pr;
    ds_infer_progress_from(&pr, opt);
    ds_infer_report(&pr, 0.0, "preparing the image");
    ds_volume *work = NULL;
    DS_TRY(prepare(ctx, &model->meta, image, resample, &work));
    if (resample)
        o.largest_component = 0; /* taken on the image's grid, after restoring */
    pr.span = resample ? 0.97 : 1.0;
    ds_status st = ds_infer_on_grid(ctx, (ds_net *const *)model->net, model->net_count,
                                    work ? work : image, work ? &work : NULL, &o, &pr, out);
    ds_volume_free(work); /* only left when the call failed before the outputs */
    if (st == DS_OK && resample) {
        pr.base = pr.last;
        pr.span = 1.0 - pr.last;
        ds_infer_report(&pr, 0.0, "resampling the outputs to the image's grid");
        st = restore(ctx, out, &image->geom);
        if (st == DS_OK && opt->largest_component)
            st = ds_infer_keep_largest_component(ctx, out->label);
        if (st == DS_OK)
            ds_infer_report(&pr, 1.0, "done");
    }
    if (st != DS_OK)
        ds_infer_result_free(out);
    return st;
}
