/* validate.c - validation on held-out cases during training, and the best model. */
#include "train_internal.h"
#include "ds_atomic_file.h"
#include "ds_metrics.h"
#ifdef DS_TRAIN_HAVE_INFER
#include "ds_infer.h"
#endif

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int64_t ds_train_validation_bytes(const ds_train_options *opt)
{
    const ds_train_data *v = opt->validate_every > 0 ? opt->validation : NULL;
    int64_t largest = 0;
    for (int i = 0; v && i < ds_train_data_count(v); ++i) {
        int64_t n = ds_volume_voxels(ds_train_data_image(v, i));
        largest = n > largest ? n : largest;
    }
    /* accumulators (K per network), label, entropy, disagreement */
    int k = v ? ds_train_data_classes(v) : 0;
    return largest * (int64_t)(4 * (2 * k + 2) + 2);
}

#ifdef DS_TRAIN_HAVE_INFER
static ds_status case_dice(ds_ctx *ctx, const ds_train_options *opt, ds_model *model,
                           const ds_volume *image, const ds_volume *label, double *sum, int *n)
{
    ds_infer_options io;
    ds_infer_options_init(&io);
    for (int a = 0; a < 3; ++a) {
        io.patch[a] = opt->batch.patch[a];
        io.stride[a] = opt->validation_stride[a];
    }
    ds_infer_result r;
    TRY(ds_infer_volume(ctx, model->net, model->net_count, image, &io, &r));
    int k = model->meta.classes;
    ds_metrics_result *res = calloc((size_t)k, sizeof *res);
    ds_metrics_options mo;
    ds_metrics_options_init(&mo);
    mo.num_classes = k;
    mo.empty = DS_METRICS_EMPTY_LITERATURE;
    ds_status st = res ? DS_OK : ds_fail(ctx, DS_ERR_NOMEM, "validation: out of memory");
    if (st == DS_OK)
        st = ds_metrics_labels(ctx, r.label->labels, label->labels, image->geom.size,
                               image->geom.spacing, &mo, res);
    for (int c = 0; st == DS_OK && c < k - 1; ++c) {
        *sum += res[c].value[DS_METRIC_DICE];
        ++*n;
    }
    free(res);
    ds_infer_result_free(&r);
    return st;
}

ds_status ds_train_validate(ds_ctx *ctx, const ds_train_options *opt, ds_model *model,
                            double *dice)
{
    const ds_train_data *v = opt->validation;
    double sum = 0;
    int n = 0;
    for (int i = 0; i < ds_train_data_count(v); ++i)
        if (ds_train_data_label(v, i))
            TRY(case_dice(ctx, opt, model, ds_train_data_image(v, i), ds_train_data_label(v, i),
                          &sum, &n));
    *dice = n ? sum / n : NAN;
    return DS_OK;
}
#else
ds_status ds_train_validate(ds_ctx *ctx, const ds_train_options *opt, ds_model *model,
                            double *dice)
{
    (void)opt;
    (void)model;
    *dice = NAN;
    return ds_fail(ctx, DS_ERR_UNSUPPORTED, "train: validation needs the infer library, which "
                   "this build lacks");
}
#endif

static char *best_state_path(const char *model_path)
{
    size_t n = strlen(model_path) + 6;
    char *p = malloc(n);
    if (p)
        snprintf(p, n, "%s.best", model_path);
    return p;
}

ds_status ds_train_best_load(ds_ctx *ctx, const ds_train_options *opt, int resumed,
                             double *dice, int64_t *iteration)
{
    *dice = NAN;
    *iteration = 0;
    if (!resumed || !opt->best_model_path)
        return DS_OK;
    char *path = best_state_path(opt->best_model_path);
    if (!path)
        return ds_fail(ctx, DS_ERR_NOMEM, "train: out of memory");
    FILE *f = fopen(path, "r");
    long long it = 0;
    double d = NAN;
    if (f && fscanf(f, "%lld %lf", &it, &d) == 2) {
        *dice = d;
        *iteration = it;
    }
    if (f)
        fclose(f);
    free(path);
    return DS_OK;
}

ds_status ds_train_best_save(ds_ctx *ctx, const ds_train_options *opt, ds_model *model,
                             double dice, int64_t iteration)
{
    if (!opt->best_model_path)
        return DS_OK;
    int has_optim = model->has_optim;
    model->has_optim = 0; /* a model for segmenting, not for resuming */
    ds_status st = ds_model_save(ctx, model, opt->best_model_path);
    model->has_optim = has_optim;
    TRY(st);
    char *path = best_state_path(opt->best_model_path);
    if (!path)
        return ds_fail(ctx, DS_ERR_NOMEM, "train: out of memory");
    ds_atomic_file af;
    st = ds_atomic_open(ctx, &af, path);
    if (st == DS_OK) {
        fprintf(af.f, "%lld %.17g\n", (long long)iteration, dice);
        st = ds_atomic_commit(ctx, &af);
    }
    free(path);
    return st;
}
