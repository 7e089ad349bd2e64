/* data.c - the training cases, loaded once and kept in memory (ds_train.h). */
#include "train_internal.h"

#include <stdlib.h>
#include <string.h>

ds_status ds_train_data_create(ds_ctx *ctx, const ds_load_options *opt, ds_train_data **out)
{
    if (!out || !opt)
        return ds_fail(ctx, DS_ERR_ARG, "train data: null argument");
    *out = NULL;
    if (opt->num_classes < 2 || opt->num_classes > DS_NET_MAX_CLASSES)
        return ds_fail(ctx, DS_ERR_ARG, "train data: %d classes (2..%d; set num_classes)",
                       opt->num_classes, DS_NET_MAX_CLASSES);
    if (opt->ignore_label < 0 || opt->ignore_label > 65535)
        return ds_fail(ctx, DS_ERR_ARG, "train data: ignore label %d (0..65535 required)",
                       opt->ignore_label);
    if (opt->ignore_label < opt->num_classes)
        return ds_fail(ctx, DS_ERR_ARG, "train data: ignore label %d is one of the %d classes",
                       opt->ignore_label, opt->num_classes);
    ds_train_data *d = calloc(1, sizeof *d);
    if (!d)
        return ds_fail(ctx, DS_ERR_NOMEM, "train data: out of memory");
    d->opt = *opt;
    *out = d;
    return DS_OK;
}

void ds_train_data_free(ds_train_data *data)
{
    if (!data)
        return;
    for (int i = 0; i < data->count; ++i) {
        ds_volume_free(data->cases[i].image);
        ds_volume_free(data->cases[i].label);
    }
    free(data->cases);
    free(data);
}

static ds_status grow(ds_ctx *ctx, ds_train_data *d)
{
    if (d->count < d->cap)
        return DS_OK;
    int cap = d->cap ? 2 * d->cap : 16;
    ds_train_case *c = realloc(d->cases, (size_t)cap * sizeof *c);
    if (!c)
        return ds_fail(ctx, DS_ERR_NOMEM, "train data: out of memory for %d cases", cap);
    d->cases = c;
    d->cap = cap;
    return DS_OK;
}

/* Takes ownership of image and label (label may be NULL). */
static ds_status keep(ds_ctx *ctx, ds_train_data *d, ds_volume *image, ds_volume *label,
                      int64_t annotated)
{
    ds_status st = grow(ctx, d);
    if (st != DS_OK) {
        ds_volume_free(image);
        ds_volume_free(label);
        return st;
    }
    if (label && annotated == 0) { /* nothing to learn from: an unlabelled case */
        ds_volume_free(label);
        label = NULL;
    }
    d->cases[d->count++] = (ds_train_case){image, label, annotated};
    d->labelled += label != NULL;
    for (int64_t v = 0, n = label ? ds_volume_voxels(label) : 0; v < n; ++v)
        d->foreground += label->labels[v] != 0 && label->labels[v] != d->opt.ignore_label;
    return DS_OK;
}

ds_status ds_train_data_add_case(ds_ctx *ctx, ds_train_data *data, const ds_cohort *cohort,
                                 int index, int use_label)
{
    if (!data || !cohort)
        return ds_fail(ctx, DS_ERR_ARG, "train data: null argument");
    ds_sample s;
    ds_status st = ds_cohort_load_case(ctx, cohort, index, &data->opt, &s);
    if (st != DS_OK)
        return st;
    ds_volume *label = use_label ? s.label : NULL;
    if (!use_label)
        ds_volume_free(s.label);
    return keep(ctx, data, s.image, label, label ? s.annotated : 0);
}

ds_status ds_train_data_add(ds_ctx *ctx, ds_train_data *data, const ds_volume *image,
                            const ds_volume *label)
{
    if (!data || !image || image->kind != DS_VOLUME_SCALAR)
        return ds_fail(ctx, DS_ERR_ARG, "train data: a scalar image is required");
    ds_status st = ds_volume_check_finite(ctx, image, "training image");
    if (st != DS_OK)
        return st;
    if (label) {
        if (label->kind != DS_VOLUME_LABEL)
            return ds_fail(ctx, DS_ERR_ARG, "train data: the label is not a label volume");
        for (int a = 0; a < 3; ++a)
            if (label->geom.size[a] != image->geom.size[a])
                return ds_fail(ctx, DS_ERR_SHAPE, "train data: label size differs from image's");
        st = ds_volume_check_labels(ctx, label, data->opt.num_classes, data->opt.ignore_label,
                                    "training label");
        if (st != DS_OK)
            return st;
    }
    ds_volume *img = NULL, *lab = NULL;
    int64_t annotated = 0;
    st = ds_volume_clone(ctx, &img, image);
    if (st == DS_OK && label)
        st = ds_volume_clone(ctx, &lab, label);
    if (st == DS_OK && lab && data->opt.partial_axis >= 0)
        st = ds_label_mark_unannotated(ctx, lab, data->opt.partial_axis, data->opt.ignore_label);
    if (st != DS_OK) {
        ds_volume_free(img);
        ds_volume_free(lab);
        return st;
    }
    if (lab) {
        int64_t n = ds_volume_voxels(lab);
        for (int64_t v = 0; v < n; ++v)
            annotated += lab->labels[v] != data->opt.ignore_label;
    }
    return keep(ctx, data, img, lab, annotated);
}

int ds_train_data_count(const ds_train_data *data) { return data ? data->count : 0; }
int ds_train_data_labelled(const ds_train_data *data) { return data ? data->labelled : 0; }
int64_t ds_train_data_foreground(const ds_train_data *data) { return data ? data->foreground : 0; }
int ds_train_data_classes(const ds_train_data *data) { return data ? data->opt.num_classes : 0; }

int64_t ds_train_data_bytes(const ds_train_data *data)
{
    int64_t bytes = 0;
    for (int i = 0; data && i < data->count; ++i) {
        int64_t n = ds_volume_voxels(data->cases[i].image);
        bytes += n * (int64_t)sizeof(float);
        if (data->cases[i].label)
            bytes += n * (int64_t)sizeof(uint16_t);
    }
    return bytes;
}

const ds_volume *ds_train_data_image(const ds_train_data *data, int i)
{
    return data && i >= 0 && i < data->count ? data->cases[i].image : NULL;
}

const ds_volume *ds_train_data_label(const ds_train_data *data, int i)
{
    return data && i >= 0 && i < data->count ? data->cases[i].label : NULL;
}

const ds_load_options *ds_train_data_load_options(const ds_train_data *data)
{
    return &data->opt;
}
