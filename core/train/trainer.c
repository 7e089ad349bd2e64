/* trainer.c - the training loop of ds_train_run (ds_train.h). One iteration: draw a batch, both
 * training forwards, the losses of ds_losses.h, both backwards, both SGD steps; then the log
 * row, the progress callback, validation and the checkpoint. */
#include "train_internal.h"
#include "setup.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

typedef struct trainer {
    const ds_train_options *opt;
    const ds_train_data *data;
    ds_loss_options loss_opt;
    ds_lr_multistep schedule;
    ds_model *model;
    ds_net_scratch *scratch;
    ds_dual_loss *loss;
    ds_tensor *dlogits[2], *dfeature[2];
    ds_batch batch;
    ds_train_log log;
    int64_t last_checkpoint;   /* iteration of the last checkpoint written (-1: none) */
    double best_dice, validation_dice;
    int64_t best_iteration;
} trainer;

static double now_seconds(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static int cancelled(const trainer *t)
{
    return t->opt->cancel && *t->opt->cancel;
}

/* The single network trains on CE + Dice only; the pair on the terms the options switch on. */
static void loss_options(const ds_train_options *opt, ds_loss_options *lo)
{
    *lo = opt->loss;
    if (opt->pair != DS_PAIR_SINGLE)
        return;
    for (int k = 0; k < DS_LOSS_TERM_COUNT; ++k)
        if (k != DS_LOSS_CE && k != DS_LOSS_DICE)
            lo->enabled[k] = 0;
}

static void make_schedule(const ds_train_options *opt, ds_lr_multistep *s)
{
    s->base_lr = opt->lr;
    s->gamma = opt->gamma;
    if (opt->milestone_count > 0) {
        s->count = opt->milestone_count;
        memcpy(s->milestones, opt->milestones, sizeof s->milestones);
    } else { /* the paper's 5/12 and 10/12: 2500 and 5000 of 6000 */
        s->count = 2;
        s->milestones[0] = opt->iterations * 5 / 12;
        s->milestones[1] = opt->iterations * 10 / 12;
    }
}

static ds_status check_data(ds_ctx *ctx, const ds_train_options *opt, const ds_train_data *data)
{
    if (!data || ds_train_data_count(data) == 0)
        return ds_fail(ctx, DS_ERR_ARG, "train: the training set is empty");
    if (ds_train_data_labelled(data) == 0)
        return ds_fail(ctx, DS_ERR_ARG, "train: the training set has no labelled case (%d "
                       "cases, none with an annotated voxel)", ds_train_data_count(data));
    if (ds_train_data_foreground(data) == 0) /* the networks would learn to say "background" */
        return ds_fail(ctx, DS_ERR_ARG, "train: the %d labelled cases hold background only: no "
                       "voxel of a class above 0", ds_train_data_labelled(data));
    if (opt->validation &&
        ds_train_data_classes(opt->validation) != ds_train_data_classes(data))
        return ds_fail(ctx, DS_ERR_ARG, "train: the validation set has %d classes, the training "
                       "set %d", ds_train_data_classes(opt->validation),
                       ds_train_data_classes(data));
    return DS_OK;
}

static ds_status check_memory(ds_ctx *ctx, const ds_train_options *opt, const ds_train_data *data)
{
    ds_train_memory m;
    DS_TRY(ds_train_estimate_memory(ctx, opt, data, &m));
    if (m.total <= m.limit)
        return DS_OK;
    const double mib = 1024.0 * 1024.0;
    return ds_fail(ctx, DS_ERR_NOMEM,
                   "train: the run needs about %.0f MiB (parameters %.0f, activations %.0f, "
                   "losses %.0f, data %.0f) but the limit is %.0f MiB (%s); use a smaller patch, "
                   "batch or width", m.total / mib, m.parameters / mib, m.activations / mib,
                   m.losses / mib, m.data / mib, m.limit / mib,
                   opt->memory_cap_bytes > 0 && opt->memory_cap_bytes == m.limit
                       ? "the memory cap" : "the machine's memory");
}

static ds_status start(ds_ctx *ctx, trainer *t, ds_train_result *res)
{
    const ds_train_options *opt = t->opt;
    loss_options(opt, &t->loss_opt);
    make_schedule(opt, &t->schedule);
    DS_TRY(ds_loss_options_check(ctx, &t->loss_opt, ds_train_data_classes(t->data)));
    int resumed = 0;
    DS_TRY(ds_train_setup_model(ctx, opt, t->data, &t->model, &resumed));
    ds_model *m = t->model;
    res->resumed = resumed;
    res->resumed_from = resumed ? m->meta.iteration : 0;
    t->last_checkpoint = resumed ? m->meta.iteration : -1;
    DS_TRY(ds_net_scratch_create(ctx, &t->scratch));
    for (int i = 0; i < m->net_count; ++i) {
        ds_net_use_scratch(m->net[i], t->scratch);
        ds_net_set_dropout(m->net[i], opt->dropout);
        ds_sgd_set_schedule(&m->optim[i], ds_lr_multistep_at, &t->schedule);
        /* zero here; then each step's SGD zeroes them as it reads them (ds_sgd_step_zero_grad) */
        ds_param_list_zero_grad(ctx, (ds_param_list *)ds_net_params(m->net[i]));
    }
    int unlabelled = opt->pair == DS_PAIR_SINGLE ? 0 : opt->batch.unlabelled;
    DS_TRY(ds_batch_create(ctx, &opt->batch, unlabelled, &t->batch));
    DS_TRY(ds_dual_loss_create(ctx, &t->loss));
    DS_TRY(ds_train_best_load(ctx, opt, resumed, &t->best_dice, &t->best_iteration));
    return ds_train_log_open(ctx, &t->log, opt->log_path, resumed, m->meta.iteration);
}

/* The gradient tensors, made on the first iteration from the logits' and features' shapes. */
static ds_status grads_like(ds_ctx *ctx, trainer *t, int i, const ds_tensor *logits,
                            const ds_tensor *feature)
{
    if (!t->dlogits[i])
        DS_TRY(ds_tensor_create_like(ctx, &t->dlogits[i], logits));
    if (!t->dfeature[i] && t->loss_opt.enabled[DS_LOSS_CON])
        DS_TRY(ds_tensor_create_like(ctx, &t->dfeature[i], feature));
    return DS_OK;
}

static ds_status diverged(ds_ctx *ctx, const trainer *t, int64_t iteration, const char *why)
{
    char msg[DS_MESSAGE_CAP];
    snprintf(msg, sizeof msg, "%s", why);
    if (t->opt->checkpoint_path && t->last_checkpoint >= 0)
        return ds_fail(ctx, DS_ERR_NUMERIC, "train: diverged at iteration %lld (%s; learning rate "
                       "too high?); the last checkpoint %s (iteration %lld) is left intact",
                       (long long)iteration + 1, msg, t->opt->checkpoint_path,
                       (long long)t->last_checkpoint);
    return ds_fail(ctx, DS_ERR_NUMERIC, "train: diverged at iteration %lld (%s; learning rate too "
                   "high?)", (long long)iteration + 1, msg);
}

/* One iteration from model->meta.iteration; report receives the losses. */
static ds_status iterate(ds_ctx *ctx, trainer *t, ds_train_progress *p)
{
    ds_loss_report *report = &p->loss;
    ds_model *m = t->model;
    const int64_t it = m->meta.iteration;
    ds_rng *rng = m->rng;
    DS_TRY(ds_batch_draw(ctx, t->data, &t->opt->batch, &rng[RNG_SAMPLING], &rng[RNG_CROP],
                         &rng[RNG_AUGMENT], &t->batch));
    ds_loss_inputs in = {m->net_count, {NULL, NULL}, {NULL, NULL}, t->batch.labels,
                         ds_train_data_load_options(t->data)->ignore_label,
                         ds_train_ramp(it, t->opt->iterations), &rng[RNG_CONTRAST]};
    for (int i = 0; i < m->net_count; ++i) {
        DS_TRY(ds_net_forward(ctx, m->net[i], t->batch.image, 1, &rng[RNG_DROPOUT_A + i],
                              &in.logits[i], &in.feature[i]));
        DS_TRY(grads_like(ctx, t, i, in.logits[i], in.feature[i]));
    }
    double t0 = now_seconds();
    ds_status st = ds_dual_loss_compute(ctx, t->loss, &t->loss_opt, &in, t->dlogits,
                                        t->dfeature, report);
    p->loss_seconds = now_seconds() - t0;
    if (st == DS_ERR_NUMERIC)
        return diverged(ctx, t, it, ds_ctx_message(ctx));
    DS_TRY(st);
    for (int i = 0; i < m->net_count; ++i)
        if (!isfinite(report->total[i]))
            return diverged(ctx, t, it, i == 0 ? "the loss of network A is not finite"
                                               : "the loss of network B is not finite");
    for (int i = 0; i < m->net_count; ++i)
        DS_TRY(ds_net_backward(ctx, m->net[i], t->dlogits[i],
                               t->loss_opt.enabled[DS_LOSS_CON] ? t->dfeature[i] : NULL));
    for (int i = 0; i < m->net_count; ++i)
        DS_TRY(ds_sgd_step_zero_grad(ctx, &m->optim[i]));
    p->lr = m->optim[0].lr;
    m->meta.iteration = it + 1;
    return DS_OK;
}

static int params_finite(const ds_model *m)
{
    for (int i = 0; i < m->net_count; ++i) {
        const ds_param_list *l = ds_net_params(m->net[i]);
        for (int p = 0; p < l->count; ++p)
            for (int64_t k = 0; k < l->items[p]->numel; ++k)
                if (!isfinite(l->items[p]->value[k]))
                    return 0;
    }
    return 1;
}

static ds_status checkpoint(ds_ctx *ctx, trainer *t)
{
    if (!t->opt->checkpoint_path || t->last_checkpoint == t->model->meta.iteration)
        return DS_OK;
    if (!params_finite(t->model)) /* never replace a good checkpoint by a diverged one */
        return diverged(ctx, t, t->model->meta.iteration - 1, "a weight is not finite");
    DS_TRY(ds_model_save(ctx, t->model, t->opt->checkpoint_path));
    t->last_checkpoint = t->model->meta.iteration;
    return DS_OK;
}

static ds_status after_iteration(ds_ctx *ctx, trainer *t, ds_train_progress *p, double seconds)
{
    const ds_train_options *opt = t->opt;
    int64_t it = t->model->meta.iteration;
    if (opt->validate_every > 0 && (it % opt->validate_every == 0 || it == opt->iterations)) {
        DS_TRY(ds_train_validate(ctx, opt, t->model, &t->validation_dice));
        if (!(t->validation_dice <= t->best_dice)) { /* also the first, best_dice NaN */
            t->best_dice = t->validation_dice;
            t->best_iteration = it;
            DS_TRY(ds_train_best_save(ctx, opt, t->model, t->best_dice, it));
        }
    }
    p->validation_dice = t->validation_dice;
    DS_TRY(ds_train_log_row(ctx, &t->log, p, seconds));
    if (opt->checkpoint_every > 0 && it % opt->checkpoint_every == 0)
        DS_TRY(checkpoint(ctx, t));
    return DS_OK;
}

static ds_status loop(ds_ctx *ctx, trainer *t, ds_train_result *res)
{
    const ds_train_options *opt = t->opt;
    ds_model *m = t->model;
    const int64_t first = m->meta.iteration;
    const double t0 = now_seconds();
    while (m->meta.iteration < opt->iterations && !cancelled(t)) {
        double t1 = now_seconds();
        ds_train_progress p = {0};
        /* an iteration, once started, completes: its forwards have already moved the RNG
         * streams and BatchNorm statistics, and a checkpoint must hold a consistent state */
        DS_TRY(iterate(ctx, t, &p));
        double t2 = now_seconds();
        p.iteration = m->meta.iteration;
        p.iterations = opt->iterations;
        p.ramp = ds_train_ramp(p.iteration - 1, opt->iterations);
        p.seconds_per_iteration = (t2 - t0) / (double)(p.iteration - first);
        p.seconds_left = p.seconds_per_iteration * (double)(opt->iterations - p.iteration);
        DS_TRY(after_iteration(ctx, t, &p, t2 - t1));
        res->last = p.loss;
        if (opt->progress && opt->progress(opt->progress_user, &p)) {
            res->cancelled = 1;
            break;
        }
    }
    res->cancelled |= cancelled(t);
    return checkpoint(ctx, t);
}

static void finish(trainer *t)
{
    ds_train_log_close(&t->log);
    for (int i = 0; i < 2; ++i) {
        ds_tensor_free(t->dlogits[i]);
        ds_tensor_free(t->dfeature[i]);
    }
    ds_batch_free(&t->batch);
    ds_dual_loss_free(t->loss);
    if (t->model)
        for (int i = 0; i < t->model->net_count; ++i)
            ds_net_use_scratch(t->model->net[i], NULL);
    ds_net_scratch_free(t->scratch);
}

ds_status ds_train_run(ds_ctx *ctx, const ds_train_options *opt, const ds_train_data *data,
                       ds_model **out_model, ds_train_result *result)
{
    ds_train_result local;
    ds_train_result *res = result ? result : &local;
    memset(res, 0, sizeof *res);
    res->best_validation_dice = NAN;
    if (out_model)
        *out_model = NULL;
    if (!opt)
        return ds_fail(ctx, DS_ERR_ARG, "train: null options");
    DS_TRY(ds_train_options_check(ctx, opt));
    DS_TRY(check_data(ctx, opt, data));
    DS_TRY(check_memory(ctx, opt, data));
    trainer t = {.opt = opt, .data = data, .best_dice = NAN, .validation_dice = NAN};
    ds_status st = start(ctx, &t, res);
    if (st == DS_OK)
        st = loop(ctx, &t, res);
    finish(&t);
    if (t.model) {
        res->iterations_done = t.model->meta.iteration;
        res->best_validation_dice = t.best_dice;
        res->best_iteration = t.best_iteration;
    }
    if (st == DS_OK && out_model)
        *out_model = t.model;
    else
        ds_model_free(t.model);
    return st;
}
