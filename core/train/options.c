/* options.c - the trainer's defaults and option checks (ds_train.h). */
#include "train_internal.h"

#include <math.h>
#include <string.h>

void ds_train_options_init(ds_train_options *opt)
{
    memset(opt, 0, sizeof *opt);
    opt->pair = DS_PAIR_HETEROGENEOUS;
    opt->width = 16;
    opt->iterations = 6000;
    opt->lr = 0.01f;
    opt->momentum = 0.9f;
    opt->weight_decay = 1e-4f;
    opt->gamma = 0.1f;
    opt->seed = 1337;
    opt->dropout = 1;
    opt->batch.labelled = 2;
    opt->batch.unlabelled = 2;
    ds_loss_options_init(&opt->loss);
    opt->resume = 1;
}

float ds_train_ramp(int64_t t, int64_t iterations)
{
    if (iterations <= 0)
        return 1.0f;
    double x = (double)(t < 0 ? 0 : t > iterations ? iterations : t) / (double)iterations;
    return (float)exp(-5.0 * (1.0 - x) * (1.0 - x));
}

ds_arch ds_train_arch(ds_pair_mode pair, int i)
{
    return pair == DS_PAIR_HETEROGENEOUS && i == 0 ? DS_ARCH_RESNET34_VNET : DS_ARCH_VNET;
}

uint32_t ds_train_rng_purpose(int slot)
{
    static const uint32_t purpose[RNG_COUNT] = {DS_RNG_SAMPLING, DS_RNG_CROP, DS_RNG_AUGMENT,
                                                DS_RNG_DROPOUT_A, DS_RNG_DROPOUT_B,
                                                DS_RNG_CONTRAST};
    return purpose[slot];
}

ds_status ds_train_options_check(ds_ctx *ctx, const ds_train_options *opt)
{
    if ((int)opt->pair < DS_PAIR_HETEROGENEOUS || (int)opt->pair > DS_PAIR_SINGLE)
        return ds_fail(ctx, DS_ERR_ARG, "train: pair mode %d (0..2)", (int)opt->pair);
    if (opt->width < 1 || opt->width > DS_NET_MAX_WIDTH)
        return ds_fail(ctx, DS_ERR_ARG, "train: width %d (1..%d)", opt->width, DS_NET_MAX_WIDTH);
    /* 0 only from a warm start: the run is then the warm start's load and save, a check */
    if (opt->iterations < (opt->warm_start_path ? 0 : 1) || opt->iterations > ((int64_t)1 << 40))
        return ds_fail(ctx, DS_ERR_ARG, "train: %lld iterations%s", (long long)opt->iterations,
                       opt->iterations == 0 ? " (0 needs a warm start)" : "");
    if (!(isfinite(opt->lr) && opt->lr >= 0) || !(opt->momentum >= 0 && opt->momentum < 1) ||
        !(isfinite(opt->weight_decay) && opt->weight_decay >= 0) ||
        !(opt->gamma > 0 && opt->gamma <= 1))
        return ds_fail(ctx, DS_ERR_ARG, "train: lr %g, momentum %g (0..1), weight decay %g, "
                       "gamma %g (0..1]", opt->lr, opt->momentum, opt->weight_decay, opt->gamma);
    if (opt->milestone_count < 0 || opt->milestone_count > DS_LR_MAX_MILESTONES)
        return ds_fail(ctx, DS_ERR_ARG, "train: %d milestones (0..%d)", opt->milestone_count,
                       DS_LR_MAX_MILESTONES);
    if (opt->checkpoint_every < 0 || opt->validate_every < 0)
        return ds_fail(ctx, DS_ERR_ARG, "train: negative checkpoint or validation interval");
    if (opt->validation && opt->validate_every > 0 && ds_train_data_labelled(opt->validation) == 0)
        return ds_fail(ctx, DS_ERR_ARG, "train: the validation set has no labelled case");
    if (opt->validate_every > 0 && !opt->validation)
        return ds_fail(ctx, DS_ERR_ARG, "train: validation every %lld iterations but no "
                       "validation set", (long long)opt->validate_every);
    for (int a = 0; a < 3; ++a)
        if (opt->validation_stride[a] < 0 || opt->validation_stride[a] > opt->batch.patch[a])
            return ds_fail(ctx, DS_ERR_ARG, "train: validation stride %lld on axis %d "
                           "(0..patch)", (long long)opt->validation_stride[a], a);
    if (opt->memory_cap_bytes < 0)
        return ds_fail(ctx, DS_ERR_ARG, "train: negative memory cap");
    return ds_batch_options_check(ctx, &opt->batch, opt->pair == DS_PAIR_SINGLE);
}
