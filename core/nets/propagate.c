/* propagate.c - planning, forward and backward of the two networks (see ds_nets.h).
 *
 * Encoder: a chain of units; level l (x1..x5) is the output of unit level_end[l].
 * Decoder, for j = 3..0: s_j = up_j(y_{j+1}) + x_j, y_j = stage_j(s_j), with y_4 the bottleneck
 * (after dropout for the V-Net); then f = dropout(y_0) and logits = out_conv(f).
 */
#include "net_internal.h"

#include <inttypes.h>
#include <string.h>

/* Gives back the evaluation feature lent from the scratch pool by the last forward. */
static void release_eval_feature(ds_net *net)
{
    if (net->eval_feature) {
        ds_pool_release(&net->scratch->pool, net->eval_feature);
        net->eval_feature = NULL;
        net->feature_used = NULL;
    }
}

static const ds_tensor *level_output(const ds_net *net, int l)
{
    return ds_enc_output(&net->enc[net->level_end[l]]);
}

ds_status ds_net_plan(ds_ctx *ctx, ds_net *net, int64_t n, int64_t d, int64_t h, int64_t w)
{
    if (!net)
        return ds_fail(ctx, DS_ERR_ARG, "network plan: null network");
    if (n < 1 || d < DS_NET_SIZE_MULTIPLE || h < DS_NET_SIZE_MULTIPLE || w < DS_NET_SIZE_MULTIPLE ||
        d % DS_NET_SIZE_MULTIPLE || h % DS_NET_SIZE_MULTIPLE || w % DS_NET_SIZE_MULTIPLE)
        return ds_fail(ctx, DS_ERR_SHAPE,
                       "network input %" PRId64 "x%" PRId64 "x%" PRId64 "x%" PRId64
                       ": batch must be >= 1 and every spatial size a positive multiple of %d",
                       n, d, h, w, DS_NET_SIZE_MULTIPLE);
    release_eval_feature(net);
    ds_shape s = {n, net->in_channels, d, h, w};
    for (int u = 0; u < net->enc_count; ++u) {
        ds_shape next;
        if (net->enc[u].is_basic)
            DS_TRY(ds_basic_plan(ctx, &net->enc[u].basic, s, &next));
        else
            DS_TRY(ds_cbr_plan(ctx, &net->enc[u].cbr, s, &next));
        s = next;
    }
    for (int j = 3; j >= 0; --j) {
        ds_shape up;
        DS_TRY(ds_cbr_plan(ctx, &net->up[j], s, &up));
        ds_tensor_free(net->sum[j]); /* made by the next training forward */
        net->sum[j] = NULL;
        s = up;
        for (int i = 0; i < net->stage_count[j]; ++i) {
            ds_shape next;
            DS_TRY(ds_cbr_plan(ctx, &net->stage[j][i], s, &next));
            s = next;
        }
    }
    ds_shape logits = {n, net->classes, d, h, w};
    DS_TRY(ds_shape_alloc(ctx, &net->logits, logits));
    /* Dropout outputs are made on the first training forward that needs them. */
    ds_tensor_free(net->x5_dropped);
    ds_tensor_free(net->feature);
    net->x5_dropped = net->feature = NULL;
    ds_pool_trim(&net->scratch->pool); /* buffers of the old shape; a partner's lent ones stay */
    net->planned = (ds_shape){n, net->in_channels, d, h, w};
    net->input = NULL;
    return DS_OK;
}

/* Applies dropout to x into *out (allocated on first use) when active; returns what to use. */
static ds_status maybe_dropout(ds_ctx *ctx, ds_dropout3d *drop, const ds_tensor *x, ds_tensor **out,
                               int active, ds_rng *rng, const ds_tensor **used)
{
    if (!active) {
        *used = x;
        return DS_OK;
    }
    DS_TRY(ds_shape_alloc(ctx, out, ds_shape_of(x)));
    DS_TRY(ds_dropout3d_forward(ctx, drop, x, *out, 1, rng));
    *used = *out;
    return DS_OK;
}

/* Training: every unit keeps what its backward needs. */
static ds_status forward_training(ds_ctx *ctx, ds_net *net, const ds_tensor *x, int dropout,
                                  ds_rng *rng)
{
    const ds_tensor *cur = x;
    for (int u = 0; u < net->enc_count; ++u) {
        ds_enc_unit *e = &net->enc[u];
        if (e->is_basic)
            DS_TRY(ds_basic_forward(ctx, &e->basic, &net->scratch->pool, cur));
        else
            DS_TRY(ds_cbr_forward(ctx, &e->cbr, cur));
        cur = ds_enc_output(e);
    }
    DS_TRY(maybe_dropout(ctx, &net->drop_bottleneck, cur, &net->x5_dropped,
                         dropout && net->bottleneck_dropout, rng, &net->bottleneck_used));
    cur = net->bottleneck_used;
    for (int j = 3; j >= 0; --j) {
        /* The up-sampled output (its ReLU mask) stays apart from the sum (the next conv's input). */
        DS_TRY(ds_cbr_forward(ctx, &net->up[j], cur));
        DS_TRY(ds_shape_alloc(ctx, &net->sum[j], ds_shape_of(net->up[j].a)));
        DS_TRY(ds_add_forward(ctx, net->up[j].a, level_output(net, j), net->sum[j]));
        cur = net->sum[j];
        for (int i = 0; i < net->stage_count[j]; ++i) {
            DS_TRY(ds_cbr_forward(ctx, &net->stage[j][i], cur));
            cur = net->stage[j][i].a;
        }
    }
    return maybe_dropout(ctx, &net->drop_feature, cur, &net->feature, dropout, rng,
                         &net->feature_used);
}

/* Evaluation: activations live in the scratch pool only while something still reads them (the
 * skips until the decoder adds them), so a pair sharing a scratch needs the memory of one
 * network; the feature is kept (lent) until the next forward or plan. */
static ds_status forward_evaluation(ds_ctx *ctx, ds_net *net, const ds_tensor *x)
{
    ds_pool *pool = &net->scratch->pool;
    ds_tensor *level[DS_NET_LEVELS] = {NULL, NULL, NULL, NULL, NULL};
    ds_tensor *cur = NULL; /* the pool buffer holding the current activation (NULL: x) */
    ds_status st = DS_OK;
    int next_level = 0;
    for (int u = 0; u < net->enc_count && st == DS_OK; ++u) {
        ds_enc_unit *e = &net->enc[u];
        ds_shape s = e->is_basic ? e->basic.out_shape : e->cbr.out_shape;
        ds_tensor *y = NULL;
        st = ds_pool_acquire(ctx, pool, s.n, s.c, s.d, s.h, s.w, 0, &y);
        if (st == DS_OK)
            st = e->is_basic ? ds_basic_forward_into(ctx, &e->basic, pool, cur ? cur : x, y)
                             : ds_cbr_forward_into(ctx, &e->cbr, cur ? cur : x, y);
        if (cur && (next_level == 0 || cur != level[next_level - 1]))
            ds_pool_release(pool, cur);
        cur = y;
        if (y && next_level < DS_NET_LEVELS && net->level_end[next_level] == u)
            level[next_level++] = y;
    }
    for (int j = 3; j >= 0 && st == DS_OK; --j) {
        const ds_shape s = net->up[j].out_shape;
        ds_tensor *y = NULL;
        st = ds_pool_acquire(ctx, pool, s.n, s.c, s.d, s.h, s.w, 0, &y);
        if (st == DS_OK)
            st = ds_cbr_forward_into(ctx, &net->up[j], cur, y);
        if (st == DS_OK)
            st = ds_add_forward(ctx, y, level[j], y); /* the skip, added in place */
        ds_pool_release(pool, cur);
        ds_pool_release(pool, level[j]);
        level[j] = NULL;
        cur = y;
        for (int i = 0; i < net->stage_count[j] && st == DS_OK; ++i) {
            const ds_shape t = net->stage[j][i].out_shape;
            ds_tensor *z = NULL;
            st = ds_pool_acquire(ctx, pool, t.n, t.c, t.d, t.h, t.w, 0, &z);
            if (st == DS_OK)
                st = ds_cbr_forward_into(ctx, &net->stage[j][i], cur, z);
            ds_pool_release(pool, cur);
            cur = z;
        }
    }
    for (int l = 0; l < DS_NET_LEVELS; ++l)
        if (level[l] != cur)
            ds_pool_release(pool, level[l]);
    if (st != DS_OK) {
        ds_pool_release(pool, cur);
        return st;
    }
    net->eval_feature = cur;
    net->feature_used = cur;
    return DS_OK;
}

ds_status ds_net_forward(ds_ctx *ctx, ds_net *net, const ds_tensor *x, int training,
                         ds_rng *dropout_rng, const ds_tensor **logits, const ds_tensor **feature)
{
    if (!net || !x)
        return ds_fail(ctx, DS_ERR_ARG, "network forward: null network or input");
    if (x->c != net->in_channels)
        return ds_fail(ctx, DS_ERR_SHAPE, "network forward: input has %" PRId64
                       " channels, the network takes %d", x->c, net->in_channels);
    const ds_shape want = {x->n, x->c, x->d, x->h, x->w};
    if (memcmp(&want, &net->planned, sizeof want) != 0)
        DS_TRY(ds_net_plan(ctx, net, x->n, x->d, x->h, x->w));
    const int dropout = training && net->dropout_enabled;
    if (dropout && !dropout_rng)
        return ds_fail(ctx, DS_ERR_ARG, "network forward: training with dropout needs an RNG");
    release_eval_feature(net);
    net->input = NULL;
    DS_TRY(training ? forward_training(ctx, net, x, dropout, dropout_rng)
                 : forward_evaluation(ctx, net, x));
    DS_TRY(ds_conv3d_forward(ctx, &net->out_conv, net->feature_used, net->logits));
    net->input = x;
    net->last_training = training;
    net->last_dropout = dropout;
    if (logits)
        *logits = net->logits;
    if (feature)
        *feature = net->feature_used;
    return DS_OK;
}

/* Back through a chain of conv-BN-ReLU units: d_out is the gradient of the last output (consumed),
 * d_in receives (adds) the gradient of the chain's input. */
static ds_status chain_backward(ds_ctx *ctx, ds_net *net, ds_cbr *units, int count,
                                ds_tensor *d_out, ds_tensor *d_in)
{
    ds_tensor *cur = d_out;
    for (int i = count - 1; i >= 0; --i) {
        ds_tensor *dx = d_in;
        if (i > 0)
            DS_TRY(ds_pool_acquire_like(ctx, &net->scratch->pool, units[i - 1].a, 1, &dx));
        ds_status st = ds_cbr_backward(ctx, &units[i], &net->scratch->pool, cur, dx);
        if (cur != d_out)
            ds_pool_release(&net->scratch->pool, cur);
        if (st != DS_OK) {
            if (dx != d_in)
                ds_pool_release(&net->scratch->pool, dx);
            return st;
        }
        cur = dx;
    }
    return DS_OK;
}

/* Back through a dropout (when it was active), in place: each (n, c) plane of the gradient is
 * multiplied by the factor its forward applied (0 or 1 / (1 - p)). */
static void dropout_backward(ds_ctx *ctx, const ds_dropout3d *drop, int active, ds_tensor *d)
{
    if (!active)
        return;
    const int64_t planes = d->n * d->c, plane = ds_tensor_spatial_numel(d);
#pragma omp parallel for num_threads(ds_ctx_threads(ctx)) schedule(static)
    for (int64_t p = 0; p < planes; ++p) {
        const float scale = drop->scale[p];
        float *v = d->data + p * plane;
        for (int64_t i = 0; i < plane; ++i)
            v[i] *= scale;
    }
}

static ds_status decoder_backward(ds_ctx *ctx, ds_net *net, const ds_tensor *dlogits,
                                  const ds_tensor *dfeature, ds_tensor *d_level[DS_NET_LEVELS])
{
    ds_tensor *df = NULL;
    DS_TRY(ds_pool_acquire_like(ctx, &net->scratch->pool, net->feature_used, 1, &df));
    if (dfeature)
        DS_TRY(ds_tensor_accumulate(ctx, df, dfeature));
    DS_TRY(ds_conv3d_backward(ctx, &net->out_conv, net->feature_used, dlogits, df));
    dropout_backward(ctx, &net->drop_feature, net->last_dropout, df);
    ds_tensor *dy = df;
    for (int j = 0; j <= 3; ++j) {
        ds_tensor *dsum = NULL;
        DS_TRY(ds_pool_acquire_like(ctx, &net->scratch->pool, net->sum[j], 1, &dsum));
        DS_TRY(chain_backward(ctx, net, net->stage[j], net->stage_count[j], dy, dsum));
        ds_pool_release(&net->scratch->pool, dy);
        /* The sum's gradient goes to the skip x_j unchanged... */
        DS_TRY(ds_pool_acquire_like(ctx, &net->scratch->pool, dsum, 0, &d_level[j]));
        memcpy(d_level[j]->data, dsum->data, (size_t)ds_tensor_numel(dsum) * sizeof(float));
        /* ...and through the up-sampling unit to y_{j+1}. */
        const ds_tensor *up_in = net->up[j].x;
        ds_tensor *dprev = NULL;
        DS_TRY(ds_pool_acquire_like(ctx, &net->scratch->pool, up_in, 1, &dprev));
        DS_TRY(ds_cbr_backward(ctx, &net->up[j], &net->scratch->pool, dsum, dprev));
        ds_pool_release(&net->scratch->pool, dsum);
        dy = dprev;
    }
    dropout_backward(ctx, &net->drop_bottleneck, net->last_dropout && net->bottleneck_dropout, dy);
    d_level[4] = dy;
    return DS_OK;
}

static ds_status encoder_backward(ds_ctx *ctx, ds_net *net, ds_tensor *d_level[DS_NET_LEVELS])
{
    ds_tensor *cur = d_level[4];
    d_level[4] = NULL;
    for (int u = net->enc_count - 1; u >= 0; --u) {
        ds_tensor *dx = NULL;
        if (u > 0) {
            int level = -1;
            for (int l = 0; l < DS_NET_LEVELS - 1; ++l)
                if (net->level_end[l] == u - 1)
                    level = l;
            if (level >= 0) { /* the previous unit's output is a skip: its gradient is there */
                dx = d_level[level];
                d_level[level] = NULL;
            } else {
                DS_TRY(ds_pool_acquire_like(ctx, &net->scratch->pool,
                                            ds_enc_output(&net->enc[u - 1]), 1, &dx));
            }
        }
        ds_enc_unit *e = &net->enc[u];
        ds_status st = e->is_basic ? ds_basic_backward(ctx, &e->basic, &net->scratch->pool, cur, dx)
                                   : ds_cbr_backward(ctx, &e->cbr, &net->scratch->pool, cur, dx);
        ds_pool_release(&net->scratch->pool, cur);
        if (st != DS_OK) {
            ds_pool_release(&net->scratch->pool, dx);
            return st;
        }
        cur = dx;
    }
    return DS_OK;
}

ds_status ds_net_backward(ds_ctx *ctx, ds_net *net, const ds_tensor *dlogits,
                          const ds_tensor *dfeature)
{
    if (!net || !dlogits)
        return ds_fail(ctx, DS_ERR_ARG, "network backward: null network or gradient");
    if (!net->input || !net->last_training)
        return ds_fail(ctx, DS_ERR_ARG, "network backward: no training forward to go back through");
    if (!ds_tensor_same_shape(dlogits, net->logits))
        return ds_fail(ctx, DS_ERR_SHAPE, "network backward: logits gradient has the wrong shape");
    if (dfeature && !ds_tensor_same_shape(dfeature, net->feature_used))
        return ds_fail(ctx, DS_ERR_SHAPE, "network backward: feature gradient has the wrong shape");
    ds_tensor *d_level[DS_NET_LEVELS] = {NULL, NULL, NULL, NULL, NULL};
    const int lent_before = ds_pool_in_use(&net->scratch->pool); /* e.g. a partner's feature */
    ds_status st = decoder_backward(ctx, net, dlogits, dfeature, d_level);
    if (st == DS_OK)
        st = encoder_backward(ctx, net, d_level);
    for (int l = 0; l < DS_NET_LEVELS; ++l)
        ds_pool_release(&net->scratch->pool, d_level[l]);
    /* (After a failure, buffers may stay lent: the pool still owns and eventually frees them.) */
    if (st == DS_OK && ds_pool_in_use(&net->scratch->pool) != lent_before)
        return ds_fail(ctx, DS_ERR_INTERNAL, "network backward: %d gradient buffers not returned",
                       ds_pool_in_use(&net->scratch->pool) - lent_before);
    return st;
}

int64_t ds_net_activation_bytes(const ds_net *net)
{
    int64_t total = ds_pool_bytes(&net->scratch->pool);
    for (int u = 0; u < net->enc_count; ++u)
        total += net->enc[u].is_basic ? ds_basic_bytes(&net->enc[u].basic)
                                      : ds_cbr_bytes(&net->enc[u].cbr);
    for (int j = 0; j < 4; ++j) {
        total += ds_cbr_bytes(&net->up[j]);
        total += net->sum[j] ? ds_tensor_numel(net->sum[j]) * 4 : 0;
        for (int i = 0; i < net->stage_count[j]; ++i)
            total += ds_cbr_bytes(&net->stage[j][i]);
    }
    const ds_tensor *extra[] = {net->x5_dropped, net->feature, net->logits};
    for (int i = 0; i < 3; ++i)
        total += extra[i] ? ds_tensor_numel(extra[i]) * 4 : 0;
    return total;
}
