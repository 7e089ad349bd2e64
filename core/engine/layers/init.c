/* init.c - weight initialisation with PyTorch's formulas (see ds_init.h). */
#include "ds_init.h"

#include <math.h>

static ds_status check(ds_ctx *ctx, const char *what, const ds_param *p, int64_t fan_in,
                       const ds_rng *rng)
{
    if (!p || !p->value || p->numel < 1)
        return ds_fail(ctx, DS_ERR_ARG, "%s: null or unallocated parameter", what);
    if (!rng)
        return ds_fail(ctx, DS_ERR_ARG, "%s %s: null random stream", what, p->name);
    if (fan_in < 1)
        return ds_fail(ctx, DS_ERR_ARG, "%s %s: fan_in %lld is not positive", what, p->name,
                       (long long)fan_in);
    return DS_OK;
}

ds_status ds_init_kaiming_normal(ds_ctx *ctx, ds_param *weight, int64_t fan_in, ds_rng *rng)
{
    ds_status st = check(ctx, "kaiming_normal", weight, fan_in, rng);
    if (st != DS_OK)
        return st;
    /* gain sqrt(2) (leaky_relu with a = 0), std = gain / sqrt(fan_in) */
    const double std = sqrt(2.0 / (double)fan_in);
    return ds_rng_fill_normal(ctx, rng, weight->value, (size_t)weight->numel, 0.0f, (float)std);
}

void ds_init_constant(ds_param *p, float v)
{
    if (!p || !p->value)
        return;
    for (int64_t i = 0; i < p->numel; ++i)
        p->value[i] = v;
}

ds_status ds_init_uniform_bias(ds_ctx *ctx, ds_param *bias, int64_t fan_in, ds_rng *rng)
{
    ds_status st = check(ctx, "uniform_bias", bias, fan_in, rng);
    if (st != DS_OK)
        return st;
    st = ds_rng_fill_uniform(ctx, rng, bias->value, (size_t)bias->numel);
    if (st != DS_OK)
        return st;
    const float bound = (float)(1.0 / sqrt((double)fan_in));
    for (int64_t i = 0; i < bias->numel; ++i)
        bias->value[i] = (2.0f * bias->value[i] - 1.0f) * bound; /* [0, 1) -> [-bound, bound) */
    return DS_OK;
}
