/* cohort_load.c - loading one case of a cohort: read, validate, partial labels, resample,
 * normalise. */
#include "ds_cohort.h"
#include "ds_io.h"

#include <math.h>
#include <string.h>

void ds_load_options_default(ds_load_options *o)
{
    memset(o, 0, sizeof *o);
    o->norm = DS_NORM_ZSCORE;
    o->window_lo = 0.0f;
    o->window_hi = 1.0f;
    o->num_classes = 0;
    o->ignore_label = DS_IGNORE_LABEL_DEFAULT;
    o->partial_axis = -1;
    o->geometry_tol = DS_GEOMETRY_TOL_DEFAULT;
}

void ds_sample_free(ds_sample *s)
{
    if (!s)
        return;
    ds_volume_free(s->image);
    ds_volume_free(s->label);
    memset(s, 0, sizeof *s);
}

static ds_status check_options(ds_ctx *ctx, const ds_load_options *o, int *resample)
{
    if (o->norm != DS_NORM_ZSCORE && o->norm != DS_NORM_WINDOW && o->norm != DS_NORM_NONE)
        return ds_fail(ctx, DS_ERR_ARG, "load options: unknown normalisation %d", (int)o->norm);
    if (o->ignore_label < -1 || o->ignore_label > 65535)
        return ds_fail(ctx, DS_ERR_ARG, "load options: ignore label %d not in -1..65535",
                       o->ignore_label);
    if (o->partial_axis < -1 || o->partial_axis > 2)
        return ds_fail(ctx, DS_ERR_ARG, "load options: partial axis %d not in -1..2",
                       o->partial_axis);
    if (o->partial_axis >= 0 && o->ignore_label < 0)
        return ds_fail(ctx, DS_ERR_ARG, "load options: partial slices need an ignore label");
    if (o->num_classes < 0 || o->num_classes > 65536)
        return ds_fail(ctx, DS_ERR_ARG, "load options: %d classes", o->num_classes);
    if (!(o->geometry_tol >= 0.0) || !isfinite(o->geometry_tol))
        return ds_fail(ctx, DS_ERR_ARG, "load options: geometry tolerance %g", o->geometry_tol);
    int set = 0;
    for (int a = 0; a < 3; ++a)
        set += o->target_spacing[a] != 0.0;
    if (set != 0 && set != 3)
        return ds_fail(ctx, DS_ERR_ARG, "load options: target spacing needs all three values");
    *resample = set == 3;
    return DS_OK;
}

/* Replaces *v by its resampling onto g. */
static ds_status resample_in_place(ds_ctx *ctx, ds_volume **v, const ds_geometry *g)
{
    ds_volume *r = NULL;
    ds_status st = ds_volume_resample(ctx, *v, g, (*v)->kind == DS_VOLUME_LABEL
                                                      ? DS_INTERP_NEAREST : DS_INTERP_LINEAR, &r);
    if (st != DS_OK)
        return st;
    ds_volume_free(*v);
    *v = r;
    return DS_OK;
}

static ds_status load(ds_ctx *ctx, const ds_case *k, const ds_load_options *o, ds_sample *s)
{
    int resample = 0;
    ds_status st = check_options(ctx, o, &resample);
    if (st != DS_OK)
        return st;
    st = ds_io_read_image(ctx, k->image_path, &s->image);
    if (st != DS_OK)
        return st;
    s->original = s->image->geom;
    st = ds_volume_check_finite(ctx, s->image, k->image_path);
    if (st != DS_OK)
        return st;
    if (k->label_path) {
        st = ds_io_read_label(ctx, k->label_path, &s->label);
        if (st != DS_OK)
            return st;
        st = ds_geometry_compare(ctx, &s->image->geom, &s->label->geom, o->geometry_tol,
                                 k->image_path, k->label_path);
        if (st != DS_OK)
            return st;
        /* the label takes the image's geometry exactly (they agree within the tolerance) */
        s->label->geom = s->image->geom;
        if (o->num_classes > 0) {
            st = ds_volume_check_labels(ctx, s->label, o->num_classes, o->ignore_label,
                                        k->label_path);
            if (st != DS_OK)
                return st;
        }
        if (o->partial_axis >= 0) {
            st = ds_label_mark_unannotated(ctx, s->label, o->partial_axis, o->ignore_label);
            if (st != DS_OK)
                return st;
        }
    }
    if (resample) {
        ds_geometry g;
        st = ds_geometry_at_spacing(ctx, &s->image->geom, o->target_spacing, &g);
        if (st == DS_OK)
            st = resample_in_place(ctx, &s->image, &g);
        if (st == DS_OK && s->label)
            st = resample_in_place(ctx, &s->label, &g);
        if (st != DS_OK)
            return st;
    }
    if (o->norm == DS_NORM_ZSCORE)
        st = ds_volume_zscore(ctx, s->image, k->image_path);
    else if (o->norm == DS_NORM_WINDOW)
        st = ds_volume_window(ctx, s->image, o->window_lo, o->window_hi);
    if (st != DS_OK)
        return st;
    if (s->label) {
        int64_t n = ds_volume_voxels(s->label), count = 0;
        for (int64_t i = 0; i < n; ++i)
            count += (int)s->label->labels[i] != o->ignore_label;
        s->annotated = count;
    }
    return DS_OK;
}

ds_status ds_cohort_load_case(ds_ctx *ctx, const ds_cohort *c, int index,
                              const ds_load_options *opt, ds_sample *out)
{
    if (!c || !out)
        return ds_fail(ctx, DS_ERR_ARG, "ds_cohort_load_case: null argument");
    memset(out, 0, sizeof *out);
    if (index < 0 || index >= c->count)
        return ds_fail(ctx, DS_ERR_ARG, "%s: case %d is not in 0..%d", c->source, index,
                       c->count - 1);
    ds_load_options def;
    if (!opt) {
        ds_load_options_default(&def);
        opt = &def;
    }
    ds_status st = load(ctx, &c->cases[index], opt, out);
    if (st != DS_OK)
        ds_sample_free(out);
    return st;
}

ds_status ds_sample_restore(ds_ctx *ctx, const ds_sample *s, const ds_volume *on_grid,
                            ds_volume **out)
{
    if (!s || !s->image || !on_grid || !out)
        return ds_fail(ctx, DS_ERR_ARG, "ds_sample_restore: null argument");
    *out = NULL;
    ds_status st = ds_geometry_compare(ctx, &on_grid->geom, &s->image->geom, 1e-6,
                                       "volume to restore", "sample grid");
    if (st != DS_OK)
        return st;
    return ds_volume_resample(ctx, on_grid, &s->original,
                              on_grid->kind == DS_VOLUME_LABEL ? DS_INTERP_NEAREST
                                                               : DS_INTERP_LINEAR,
                              out);
}
