/* ds_optim.h - SGD with momentum and weight decay (PyTorch's torch.optim.SGD semantics) and the
 * learning-rate schedule hook.
 *
 * One step, for every parameter p with gradient g (dampening 0, not Nesterov):
 *   g = g + weight_decay * p
 *   buf = g                       at the first step,   buf = momentum * buf + g   afterwards
 *   p = p - lr * buf
 */
#ifndef DS_OPTIM_H
#define DS_OPTIM_H

#include "ds_param.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Learning rate for a given iteration (0-based); user is the schedule's own data. */
typedef float (*ds_lr_schedule_fn)(void *user, int64_t iteration);

/* The paper's step schedule: base_lr * gamma^k, k = number of milestones <= iteration. */
#define DS_LR_MAX_MILESTONES 8
typedef struct ds_lr_multistep {
    float base_lr;
    float gamma;
    int count;
    int64_t milestones[DS_LR_MAX_MILESTONES];
} ds_lr_multistep;
/* A ds_lr_schedule_fn, as torch MultiStepLR stepped once per iteration: milestones may come in
 * any order, a repeated milestone applies gamma twice; count is clamped to 0..MAX. */
float ds_lr_multistep_at(void *multistep, int64_t iteration);

typedef struct ds_sgd {
    float lr, momentum, weight_decay;
    ds_param_list params;   /* borrowed parameters, in a fixed order */
    float **momentum_buf;   /* one per parameter, allocated at init  */
    int64_t steps;          /* steps taken (0: the next is the first) */
    ds_lr_schedule_fn schedule; /* optional: sets lr before each step */
    void *schedule_user;
} ds_sgd;

/* Copies the list of parameter pointers (not the parameters); the caller may free its list.
 * lr, momentum and weight_decay must be finite and >= 0; every parameter must be allocated.
 * Momentum buffers start at zero (saved and restored by whoever writes model files). */
ds_status ds_sgd_init(ds_ctx *ctx, ds_sgd *opt, const ds_param_list *params, float lr,
                      float momentum, float weight_decay);
void ds_sgd_free(ds_sgd *opt);
void ds_sgd_set_schedule(ds_sgd *opt, ds_lr_schedule_fn fn, void *user);
/* If a schedule is set, lr = schedule(user, steps) first; then one update; steps += 1.
 * Gradients are read, not modified (zero them with ds_param_list_zero_grad). Fails, changing no
 * parameter or gradient, if the learning rate is negative or not finite. Parallel over elements:
 * one region for the whole list, the same bits for any thread count. */
ds_status ds_sgd_step(ds_ctx *ctx, ds_sgd *opt);
/* ds_sgd_step, then every gradient zeroed in the same pass over memory (what a training loop
 * would do next with ds_param_list_zero_grad, without a second pass). */
ds_status ds_sgd_step_zero_grad(ds_ctx *ctx, ds_sgd *opt);

#ifdef __cplusplus
}
#endif

#endif /* DS_OPTIM_H */
