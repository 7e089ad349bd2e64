/* optim.c - SGD with momentum and weight decay, PyTorch's torch.optim.SGD (see ds_optim.h). */
#include "ds_optim.h"
#include "ds_tensor.h"
#include "layer_check.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

float ds_lr_multistep_at(void *multistep, int64_t iteration)
{
    const ds_lr_multistep *s = multistep;
    if (!s)
        return 0.0f;
    const int count = s->count < 0 ? 0
                      : s->count > DS_LR_MAX_MILESTONES ? DS_LR_MAX_MILESTONES
                                                        : s->count;
    int k = 0;
    for (int i = 0; i < count; ++i)
        k += s->milestones[i] <= iteration;
    return (float)((double)s->base_lr * pow((double)s->gamma, (double)k));
}

static int valid_hyper(float v) { return isfinite(v) && v >= 0.0f; }

ds_status ds_sgd_init(ds_ctx *ctx, ds_sgd *opt, const ds_param_list *params, float lr,
                      float momentum, float weight_decay)
{
    if (!opt || !params)
        return ds_fail(ctx, DS_ERR_ARG, "sgd: null optimiser or parameter list");
    memset(opt, 0, sizeof *opt);
    if (!valid_hyper(lr) || !valid_hyper(momentum) || !valid_hyper(weight_decay))
        return ds_fail(ctx, DS_ERR_ARG,
                       "sgd: lr %g, momentum %g, weight decay %g must be finite and >= 0",
                       (double)lr, (double)momentum, (double)weight_decay);
    for (int i = 0; i < params->count; ++i) {
        const ds_param *p = params->items[i];
        if (!p || !p->value || !p->grad || p->numel < 1)
            return ds_fail(ctx, DS_ERR_ARG, "sgd: parameter %d of the list is null or unallocated",
                           i);
    }
    opt->lr = lr;
    opt->momentum = momentum;
    opt->weight_decay = weight_decay;
    for (int i = 0; i < params->count; ++i) {
        ds_status st = ds_param_list_add(ctx, &opt->params, params->items[i]);
        if (st != DS_OK) {
            ds_sgd_free(opt);
            return st;
        }
    }
    if (params->count > 0) {
        opt->momentum_buf = calloc((size_t)params->count, sizeof *opt->momentum_buf);
        if (!opt->momentum_buf) {
            ds_sgd_free(opt);
            return ds_fail(ctx, DS_ERR_NOMEM, "sgd: out of memory");
        }
    }
    for (int i = 0; i < params->count; ++i) {
        const ds_param *p = params->items[i];
        opt->momentum_buf[i] = ds_aligned_alloc((size_t)p->numel * sizeof(float));
        if (!opt->momentum_buf[i]) {
            ds_sgd_free(opt);
            return ds_fail(ctx, DS_ERR_NOMEM, "sgd: out of memory for the momentum of %s", p->name);
        }
        memset(opt->momentum_buf[i], 0, (size_t)p->numel * sizeof(float));
    }
    return DS_OK;
}

void ds_sgd_free(ds_sgd *opt)
{
    if (!opt)
        return;
    for (int i = 0; opt->momentum_buf && i < opt->params.count; ++i)
        ds_aligned_free(opt->momentum_buf[i]);
    free(opt->momentum_buf);
    ds_param_list_free(&opt->params);
    memset(opt, 0, sizeof *opt);
}

void ds_sgd_set_schedule(ds_sgd *opt, ds_lr_schedule_fn fn, void *user)
{
    if (!opt)
        return;
    opt->schedule = fn;
    opt->schedule_user = user;
}

ds_status ds_sgd_step(ds_ctx *ctx, ds_sgd *opt)
{
    if (!opt)
        return ds_fail(ctx, DS_ERR_ARG, "sgd step: null optimiser");
    if (opt->params.count > 0 && !opt->momentum_buf)
        return ds_fail(ctx, DS_ERR_ARG, "sgd step: optimiser is not initialised");
    if (opt->schedule)
        opt->lr = opt->schedule(opt->schedule_user, opt->steps);
    if (!valid_hyper(opt->lr) || !valid_hyper(opt->momentum) || !valid_hyper(opt->weight_decay))
        return ds_fail(ctx, DS_ERR_ARG,
                       "sgd step %lld: lr %g, momentum %g, weight decay %g must be finite and >= 0",
                       (long long)opt->steps, (double)opt->lr, (double)opt->momentum,
                       (double)opt->weight_decay);
    const float lr = opt->lr, mom = opt->momentum, wd = opt->weight_decay;
    const int first = opt->steps == 0;
    const int threads = ds_ctx_threads(ctx);
    for (int k = 0; k < opt->params.count; ++k) {
        ds_param *p = opt->params.items[k];
        float *v = p->value, *buf = opt->momentum_buf[k];
        const float *g = p->grad;
        const int64_t n = p->numel;
        if (mom == 0.0f) {
#pragma omp parallel for simd num_threads(threads) schedule(static) if (n > DS_LAYER_PARALLEL_MIN)
            for (int64_t i = 0; i < n; ++i)
                v[i] -= lr * (g[i] + wd * v[i]);
        } else if (first) {
#pragma omp parallel for simd num_threads(threads) schedule(static) if (n > DS_LAYER_PARALLEL_MIN)
            for (int64_t i = 0; i < n; ++i) {
                buf[i] = g[i] + wd * v[i];
                v[i] -= lr * buf[i];
            }
        } else {
#pragma omp parallel for simd num_threads(threads) schedule(static) if (n > DS_LAYER_PARALLEL_MIN)
            for (int64_t i = 0; i < n; ++i) {
                buf[i] = mom * buf[i] + (g[i] + wd * v[i]);
                v[i] -= lr * buf[i];
            }
        }
    }
    opt->steps += 1;
    return DS_OK;
}
