/* optim.c - SGD with momentum and weight decay, PyTorch's torch.optim.SGD (see ds_optim.h). */
#include "ds_optim.h"
#include "ds_tensor.h"
#include "layer_check.h"

#include <math.h>
#include <omp.h>
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

/* The update of elements [a, b) of parameter k; zero: the gradient is zeroed once read. */
static void update_chunk(const ds_sgd *opt, int k, int64_t a, int64_t b, int first, int zero)
{
    const float lr = opt->lr, mom = opt->momentum, wd = opt->weight_decay;
    float *v = opt->params.items[k]->value, *buf = opt->momentum_buf[k];
    float *g = opt->params.items[k]->grad;
    if (mom == 0.0f) {
#pragma omp simd
        for (int64_t i = a; i < b; ++i)
            v[i] -= lr * (g[i] + wd * v[i]);
    } else if (first) {
#pragma omp simd
        for (int64_t i = a; i < b; ++i) {
            buf[i] = g[i] + wd * v[i];
            v[i] -= lr * buf[i];
        }
    } else {
#pragma omp simd
        for (int64_t i = a; i < b; ++i) {
            buf[i] = mom * buf[i] + (g[i] + wd * v[i]);
            v[i] -= lr * buf[i];
        }
    }
    if (zero)
        memset(g + a, 0, (size_t)(b - a) * sizeof(float));
}

/* Elements a chunk at a time, so that the zeroing finds the gradient's lines still in L1: zeroed
 * after the whole range (3.5 MB a thread for the 256-channel weights), they were read again from
 * memory first. */
#define DS_SGD_CHUNK 4096
static void update_range(const ds_sgd *opt, int k, int64_t a, int64_t b, int first, int zero)
{
    for (int64_t c = a; c < b; c += DS_SGD_CHUNK)
        update_chunk(opt, k, c, b - c < DS_SGD_CHUNK ? b : c + DS_SGD_CHUNK, first, zero);
}

/* The start of thread t's share of total elements: whole 64-byte lines, so that two threads
 * write the same line only where a parameter ends mid-line. */
static int64_t share_start(int64_t total, int t, int nt)
{
    return t >= nt ? total : total * t / nt / 16 * 16;
}

/* Thread t of nt updates its share of the parameters laid end to end: one parallel region for
 * the whole list (a region per parameter cost more in waking threads than the small ones took). */
static void update_share(const ds_sgd *opt, int t, int nt, int64_t total, int first, int zero)
{
    const int64_t lo = share_start(total, t, nt), hi = share_start(total, t + 1, nt);
    int64_t base = 0;
    for (int k = 0; k < opt->params.count && base < hi; base += opt->params.items[k++]->numel) {
        const int64_t n = opt->params.items[k]->numel;
        const int64_t a = lo > base ? lo - base : 0, b = hi - base < n ? hi - base : n;
        if (a < b)
            update_range(opt, k, a, b, first, zero);
    }
}

static ds_status sgd_step(ds_ctx *ctx, ds_sgd *opt, int zero)
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
    const int first = opt->steps == 0;
    const int64_t total = ds_param_list_numel(&opt->params);
    const int threads = total > DS_LAYER_PARALLEL_MIN ? ds_ctx_threads(ctx) : 1;
#pragma omp parallel num_threads(threads)
    update_share(opt, omp_get_thread_num(), omp_get_num_threads(), total, first, zero);
    opt->steps += 1;
    return DS_OK;
}

ds_status ds_sgd_step(ds_ctx *ctx, ds_sgd *opt) { return sgd_step(ctx, opt, 0); }

ds_status ds_sgd_step_zero_grad(ds_ctx *ctx, ds_sgd *opt) { return sgd_step(ctx, opt, 1); }
