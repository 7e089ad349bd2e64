/* options.c - option defaults and checks, progress reporting and cancellation. */
#include "infer_internal.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

void ds_infer_options_init(ds_infer_options *o)
{
    memset(o, 0, sizeof *o);
    o->weighting = DS_INFER_WEIGHT_GAUSSIAN;
    o->nets = DS_INFER_NETS_BOTH;
    o->tta = DS_INFER_TTA_NONE;
    o->batch = 2;
}

void ds_infer_progress_from(ds_infer_progress *p, const ds_infer_options *o)
{
    memset(p, 0, sizeof *p);
    p->fn = o->progress;
    p->user = o->progress_user;
    p->span = 1.0;
    p->cancel = o->cancel;
}

void ds_infer_report(ds_infer_progress *p, double frac, const char *fmt, ...)
{
    if (!p || !p->fn)
        return;
    double f = p->base + p->span * (frac < 0.0 ? 0.0 : frac > 1.0 ? 1.0 : frac);
    if (f < p->last)
        f = p->last;
    p->last = f;
    char msg[256];
    int n = snprintf(msg, sizeof msg, "%s", p->prefix ? p->prefix : "");
    if (n < 0 || (size_t)n >= sizeof msg)
        n = 0;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg + n, sizeof msg - (size_t)n, fmt, ap);
    va_end(ap);
    p->fn(p->user, f, msg);
}

ds_status ds_infer_check_cancel(ds_ctx *ctx, const ds_infer_progress *p)
{
    if (p && p->cancel && *p->cancel)
        return ds_fail(ctx, DS_INFER_CANCELLED, "cancelled");
    return DS_OK;
}

static ds_status check_nets(ds_ctx *ctx, ds_net *const *nets, int net_count)
{
    if (!nets || net_count < 1 || net_count > 2)
        return ds_fail(ctx, DS_ERR_ARG, "inference: %d networks given, 1 or 2 expected", net_count);
    for (int i = 0; i < net_count; ++i) {
        if (!nets[i])
            return ds_fail(ctx, DS_ERR_ARG, "inference: network %d is null", i);
        if (ds_net_in_channels(nets[i]) != 1)
            return ds_fail(ctx, DS_ERR_SHAPE, "inference: network %c takes %d input channels, "
                           "the image has 1", 'A' + i, ds_net_in_channels(nets[i]));
    }
    if (net_count == 2 && ds_net_classes(nets[0]) != ds_net_classes(nets[1]))
        return ds_fail(ctx, DS_ERR_SHAPE, "inference: network A has %d classes, network B %d",
                       ds_net_classes(nets[0]), ds_net_classes(nets[1]));
    return DS_OK;
}

static ds_status check_window(ds_ctx *ctx, const ds_infer_options *o, int64_t patch[3],
                              int64_t stride[3])
{
    static const char axis[3] = {'x', 'y', 'z'};
    for (int a = 0; a < 3; ++a) {
        patch[a] = o->patch[a];
        if (patch[a] < DS_NET_SIZE_MULTIPLE || patch[a] % DS_NET_SIZE_MULTIPLE || patch[a] > 4096)
            return ds_fail(ctx, DS_ERR_ARG, "inference: patch %" PRId64 " along %c: the networks "
                           "need a positive multiple of %d", patch[a], axis[a],
                           DS_NET_SIZE_MULTIPLE);
        stride[a] = o->stride[a] ? o->stride[a] : patch[a] / 2;
        if (stride[a] < 1 || stride[a] > patch[a])
            return ds_fail(ctx, DS_ERR_ARG, "inference: stride %" PRId64 " along %c is not in "
                           "1..%" PRId64 " (the patch)", stride[a], axis[a], patch[a]);
    }
    return DS_OK;
}

ds_status ds_infer_resolve(ds_ctx *ctx, ds_net *const *nets, int net_count,
                           const ds_infer_options *o, int64_t patch[3], int64_t stride[3],
                           ds_net *nets_eval[2], int *count)
{
    if (!o)
        return ds_fail(ctx, DS_ERR_ARG, "inference: null options");
    DS_TRY(check_nets(ctx, nets, net_count));
    DS_TRY(check_window(ctx, o, patch, stride));
    if (o->batch < 1 || o->batch > DS_INFER_MAX_BATCH)
        return ds_fail(ctx, DS_ERR_ARG, "inference: batch %d is not in 1..%d", o->batch,
                       DS_INFER_MAX_BATCH);
    if (o->weighting != DS_INFER_WEIGHT_GAUSSIAN && o->weighting != DS_INFER_WEIGHT_UNIFORM)
        return ds_fail(ctx, DS_ERR_ARG, "inference: unknown weighting %d", (int)o->weighting);
    if (o->tta != DS_INFER_TTA_NONE && o->tta != DS_INFER_TTA_FLIPS)
        return ds_fail(ctx, DS_ERR_ARG, "inference: unknown test-time augmentation %d",
                       (int)o->tta);
    switch (o->nets) {
    case DS_INFER_NETS_BOTH:
        nets_eval[0] = nets[0];
        nets_eval[1] = net_count == 2 ? nets[1] : NULL;
        *count = net_count;
        return ds_infer_check_memory(ctx, nets_eval, *count, o->batch, patch);
    case DS_INFER_NETS_A:
        nets_eval[0] = nets[0];
        break;
    case DS_INFER_NETS_B:
        if (net_count < 2)
            return ds_fail(ctx, DS_ERR_ARG, "inference: network B asked for, one network given");
        nets_eval[0] = nets[1];
        break;
    default:
        return ds_fail(ctx, DS_ERR_ARG, "inference: unknown network choice %d", (int)o->nets);
    }
    nets_eval[1] = NULL;
    *count = 1;
    return ds_infer_check_memory(ctx, nets_eval, *count, o->batch, patch);
}
