/* options.c - the loss options' defaults and checks, and the terms' names (see ds_losses.h). */
#include "ds_losses.h"

#include <math.h>

static const char *const TERM_NAMES[DS_LOSS_TERM_COUNT] = {"ce",  "dice", "cr", "cce",
                                                           "kl",  "con",  "cos"};

const char *ds_loss_term_name(ds_loss_term term)
{
    return (int)term >= 0 && term < DS_LOSS_TERM_COUNT ? TERM_NAMES[term] : "unknown";
}

void ds_loss_options_init(ds_loss_options *opt)
{
    if (!opt)
        return;
    static const float weights[DS_LOSS_TERM_COUNT] = {1.0f, 1.0f, 0.5f, 1.0f, 1.0f, 0.1f, 1.0f};
    for (int t = 0; t < DS_LOSS_TERM_COUNT; ++t) {
        opt->enabled[t] = 1;
        opt->weight[t] = weights[t];
    }
    opt->confidence = 0.6f;
    opt->percentile = 80.0f;
    opt->mask_mode = DS_ENTROPY_MASK_GLOBAL;
    opt->pseudo_mode = DS_PSEUDO_PER_NETWORK;
    opt->kl_direction = DS_KL_BOTH;
    opt->tau = 0.1f;
    opt->max_uncertain = 2000;
    opt->dice_smooth = 1e-5f;
}

ds_status ds_loss_options_check(ds_ctx *ctx, const ds_loss_options *opt, int classes)
{
    if (!opt)
        return ds_fail(ctx, DS_ERR_ARG, "loss options: null");
    if (classes < 2 || classes > DS_LOSS_MAX_CLASSES)
        return ds_fail(ctx, DS_ERR_ARG, "loss options: %d classes (2..%d)", classes,
                       DS_LOSS_MAX_CLASSES);
    for (int t = 0; t < DS_LOSS_TERM_COUNT; ++t) {
        if (opt->enabled[t] != 0 && opt->enabled[t] != 1)
            return ds_fail(ctx, DS_ERR_ARG, "loss options: enabled[%s] is %d (0 or 1)",
                           TERM_NAMES[t], opt->enabled[t]);
        if (!isfinite(opt->weight[t]) || opt->weight[t] < 0.0f)
            return ds_fail(ctx, DS_ERR_ARG, "loss options: weight[%s] is %g (finite, >= 0)",
                           TERM_NAMES[t], (double)opt->weight[t]);
    }
    if (!(opt->confidence > 0.0f && opt->confidence <= 1.0f))
        return ds_fail(ctx, DS_ERR_ARG, "loss options: confidence %g (0 < c <= 1)",
                       (double)opt->confidence);
    if (!(opt->percentile >= 0.0f && opt->percentile <= 100.0f))
        return ds_fail(ctx, DS_ERR_ARG, "loss options: percentile %g (0..100)",
                       (double)opt->percentile);
    if (!(opt->tau > 0.0f) || !isfinite(opt->tau))
        return ds_fail(ctx, DS_ERR_ARG, "loss options: tau %g (> 0)", (double)opt->tau);
    if (opt->max_uncertain < 1)
        return ds_fail(ctx, DS_ERR_ARG, "loss options: max_uncertain %d (>= 1)",
                       opt->max_uncertain);
    if (!(opt->dice_smooth > 0.0f) || !isfinite(opt->dice_smooth))
        return ds_fail(ctx, DS_ERR_ARG, "loss options: dice_smooth %g (> 0)",
                       (double)opt->dice_smooth);
    if (opt->mask_mode != DS_ENTROPY_MASK_GLOBAL && opt->mask_mode != DS_ENTROPY_MASK_CLASS_AWARE)
        return ds_fail(ctx, DS_ERR_ARG, "loss options: mask_mode %d unknown", (int)opt->mask_mode);
    if (opt->pseudo_mode != DS_PSEUDO_PER_NETWORK && opt->pseudo_mode != DS_PSEUDO_UNION)
        return ds_fail(ctx, DS_ERR_ARG, "loss options: pseudo_mode %d unknown",
                       (int)opt->pseudo_mode);
    if (opt->pseudo_mode == DS_PSEUDO_UNION && classes != 2)
        return ds_fail(ctx, DS_ERR_ARG,
                       "loss options: the union pseudo-label needs 2 classes, not %d", classes);
    if (opt->kl_direction != DS_KL_BOTH && opt->kl_direction != DS_KL_B_TEACHES_A)
        return ds_fail(ctx, DS_ERR_ARG, "loss options: kl_direction %d unknown",
                       (int)opt->kl_direction);
    return DS_OK;
}
