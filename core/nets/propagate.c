/* propagate.c - planning, forward and backward of the two networks (see ds_nets.h).
 *
 * Encoder: a chain of units; level l (x1..x5) is the output of unit level_end[l].
 * Decoder, for j = 3..0: s_j = up_j(y_{j+1}) + x_j, y_j = stage_j(s_j), with y_4 the bottleneck
 * (after dropout for the V-Net); then f = dropout(y_0) and logits = out_conv(f).
 *
 * Training memory: a conv-BN-ReLU unit keeps only its conv output z; its output relu(bn(z)) lives
 * in the pool while its consumers run and is recomputed (bit for bit) when a backward needs it as
 * its input, and so are the sums s_j (the up-sampling unit's fused epilogue adds the skip) and
 * the V-Net's skips. BasicBlocks keep their outputs (their ReLU masks).
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

/* The output of encoder unit u: kept (BasicBlock), or recomputed into *lent (conv-BN-ReLU), which
 * the caller gives back to the pool. */
static ds_status enc_output(ds_ctx *ctx, ds_net *net, int u, const ds_tensor **out,
                            ds_tensor **lent)
{
    *lent = NULL;
    *out = NULL;
    ds_enc_unit *e = &net->enc[u];
    if (e->is_basic) {
        *out = e->basic.out;
        return DS_OK;
    }
    DS_TRY(ds_cbr_output(ctx, &e->cbr, &net->scratch->pool, NULL, lent));
    *out = *lent;
    return DS_OK;
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

/* Applies dropout to x into *out (allocated on first use). */
static ds_status apply_dropout(ds_ctx *ctx, ds_dropout3d *drop, const ds_tensor *x, ds_tensor **out,
                               ds_rng *rng)
{
    DS_TRY(ds_shape_alloc(ctx, out, ds_shape_of(x)));
    return ds_dropout3d_forward(ctx, drop, x, *out, 1, rng);
}

/* One step of a training chain: *cur (lent from the pool, or borrowed when *lent is NULL) is
 * replaced by y, and the old one given back. */
static void advance(ds_pool *pool, const ds_tensor **cur, ds_tensor **lent, ds_tensor *y)
{
    ds_pool_release(pool, *lent);
    *lent = y;
    *cur = y;
}

static ds_status encoder_training(ds_ctx *ctx, ds_net *net, const ds_tensor *x,
                                  const ds_tensor **cur, ds_tensor **lent)
{
    ds_pool *pool = &net->scratch->pool;
    *cur = x;
    *lent = NULL;
    for (int u = 0; u < net->enc_count; ++u) {
        ds_enc_unit *e = &net->enc[u];
        if (e->is_basic) {
            DS_TRY(ds_basic_forward(ctx, &e->basic, pool, *cur));
            ds_pool_release(pool, *lent);
            *lent = NULL;
            *cur = e->basic.out;
        } else {
            ds_tensor *y = NULL;
            DS_TRY(ds_cbr_forward(ctx, &e->cbr, pool, *cur, NULL, &y));
            advance(pool, cur, lent, y);
        }
    }
    return DS_OK;
}

static ds_status decoder_training(ds_ctx *ctx, ds_net *net, const ds_tensor **cur,
                                  ds_tensor **lent)
{
    ds_pool *pool = &net->scratch->pool;
    for (int j = 3; j >= 0; --j) {
        const ds_tensor *skip = NULL;
        ds_tensor *skip_lent = NULL, *y = NULL;
        DS_TRY(enc_output(ctx, net, net->level_end[j], &skip, &skip_lent));
        ds_status st = ds_cbr_forward(ctx, &net->up[j], pool, *cur, skip, &y); /* s_j */
        ds_pool_release(pool, skip_lent);
        DS_TRY(st);
        advance(pool, cur, lent, y);
        for (int i = 0; i < net->stage_count[j]; ++i) {
            DS_TRY(ds_cbr_forward(ctx, &net->stage[j][i], pool, *cur, NULL, &y));
            advance(pool, cur, lent, y);
        }
    }
    return DS_OK;
}

/* Training: every unit keeps what its backward cannot recompute. */
static ds_status forward_training(ds_ctx *ctx, ds_net *net, const ds_tensor *x, int dropout,
                                  ds_rng *rng)
{
    ds_pool *pool = &net->scratch->pool;
    const ds_tensor *cur = NULL;
    ds_tensor *lent = NULL;
    ds_status st = encoder_training(ctx, net, x, &cur, &lent);
    net->bottleneck_dropped = dropout && net->bottleneck_dropout;
    if (st == DS_OK && net->bottleneck_dropped) {
        st = apply_dropout(ctx, &net->drop_bottleneck, cur, &net->x5_dropped, rng);
        advance(pool, &cur, &lent, NULL);
        cur = net->x5_dropped;
    }
    if (st == DS_OK)
        st = decoder_training(ctx, net, &cur, &lent);
    if (st == DS_OK && dropout) {
        st = apply_dropout(ctx, &net->drop_feature, cur, &net->feature, rng);
        net->feature_used = net->feature;
    } else if (st == DS_OK) { /* the feature stays lent until the next forward */
        net->eval_feature = lent;
        net->feature_used = lent;
        return DS_OK;
    }
    ds_pool_release(pool, lent);
    return st;
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
                             : ds_cbr_forward_into(ctx, &e->cbr, cur ? cur : x, NULL, y);
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
        if (st == DS_OK) /* the skip added in the same pass */
            st = ds_cbr_forward_into(ctx, &net->up[j], cur, level[j], y);
        ds_pool_release(pool, cur);
        ds_pool_release(pool, level[j]);
        level[j] = NULL;
        cur = y;
        for (int i = 0; i < net->stage_count[j] && st == DS_OK; ++i) {
            const ds_shape t = net->stage[j][i].out_shape;
            ds_tensor *z = NULL;
            st = ds_pool_acquire(ctx, pool, t.n, t.c, t.d, t.h, t.w, 0, &z);
            if (st == DS_OK)
                st = ds_cbr_forward_into(ctx, &net->stage[j][i], cur, NULL, z);
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

/* Back through a chain of conv-BN-ReLU units whose first input is x: d_out is the gradient of
 * the last output (consumed: overwritten), d_in is written with the gradient of x. The inputs of
 * the other units are recomputed. */
static ds_status chain_backward(ds_ctx *ctx, ds_net *net, ds_cbr *units, int count,
                                const ds_tensor *x, ds_tensor *d_out, ds_tensor *d_in)
{
    ds_pool *pool = &net->scratch->pool;
    ds_tensor *cur = d_out;
    ds_tensor *cur_lent = NULL;
    ds_status st = DS_OK;
    for (int i = count - 1; i >= 0 && st == DS_OK; --i) {
        ds_tensor *dx = d_in, *in = NULL;
        if (i > 0) {
            st = ds_pool_acquire_like(ctx, pool, units[i - 1].z, 0, &dx);
            if (st == DS_OK)
                st = ds_cbr_output(ctx, &units[i - 1], pool, NULL, &in);
        }
        if (st == DS_OK)
            st = ds_cbr_backward(ctx, &units[i], pool, i > 0 ? in : x, cur, DS_GRAD_CONSUME,
                                 DS_GRAD_WRITE, dx);
        ds_pool_release(pool, in);
        ds_pool_release(pool, cur_lent);
        cur_lent = dx != d_in ? dx : NULL;
        cur = dx;
    }
    ds_pool_release(pool, cur_lent);
    return st;
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

/* The input of up[j]: the bottleneck (dropped out, or recomputed) or the last output of stage
 * j + 1 (recomputed); *lent (may be NULL) goes back to the pool. */
static ds_status up_input(ds_ctx *ctx, ds_net *net, int j, const ds_tensor **out, ds_tensor **lent)
{
    *lent = NULL;
    if (j == 3 && net->bottleneck_dropped) {
        *out = net->x5_dropped;
        return DS_OK;
    }
    if (j == 3)
        return enc_output(ctx, net, net->level_end[4], out, lent);
    DS_TRY(ds_cbr_output(ctx, &net->stage[j + 1][net->stage_count[j + 1] - 1],
                         &net->scratch->pool, NULL, lent));
    *out = *lent;
    return DS_OK;
}

/* Decoder level j: dy (the gradient of y_j, given back) into d_level[j] (the gradient of the sum
 * s_j, which is the skip's) and *d_prev (the gradient of up[j]'s input). */
static ds_status level_backward(ds_ctx *ctx, ds_net *net, int j, ds_tensor *dy,
                                ds_tensor *d_level[DS_NET_LEVELS], ds_tensor **d_prev)
{
    ds_pool *pool = &net->scratch->pool;
    const ds_tensor *skip = NULL, *in = NULL;
    ds_tensor *skip_lent = NULL, *sum = NULL, *in_lent = NULL, *dsum = NULL;
    ds_status st = ds_pool_acquire_like(ctx, pool, net->up[j].z, 0, &dsum); /* written whole */
    if (st == DS_OK)
        st = enc_output(ctx, net, net->level_end[j], &skip, &skip_lent);
    if (st == DS_OK && skip_lent) { /* s_j again, in the recomputed skip's own buffer */
        st = ds_cbr_output_into(ctx, &net->up[j], skip, skip_lent);
        sum = skip_lent;
    } else if (st == DS_OK) {
        st = ds_cbr_output(ctx, &net->up[j], pool, skip, &sum);
    }
    if (sum != skip_lent)
        ds_pool_release(pool, skip_lent);
    if (st == DS_OK)
        st = chain_backward(ctx, net, net->stage[j], net->stage_count[j], sum, dy, dsum);
    ds_pool_release(pool, sum);
    ds_pool_release(pool, dy);
    if (st == DS_OK)
        st = up_input(ctx, net, j, &in, &in_lent);
    if (st == DS_OK)
        st = ds_pool_acquire_like(ctx, pool, in, 0, d_prev);
    if (st == DS_OK)
        st = ds_cbr_backward(ctx, &net->up[j], pool, in, dsum, DS_GRAD_KEEP, DS_GRAD_WRITE,
                             *d_prev);
    ds_pool_release(pool, in_lent);
    d_level[j] = dsum; /* the sum's gradient goes to the skip x_j unchanged */
    return st;
}

static ds_status decoder_backward(ds_ctx *ctx, ds_net *net, const ds_tensor *dlogits,
                                  const ds_tensor *dfeature, ds_tensor *d_level[DS_NET_LEVELS])
{
    ds_tensor *df = NULL;
    DS_TRY(ds_pool_acquire_like(ctx, &net->scratch->pool, net->feature_used, 1, &df));
    d_level[4] = df; /* owned by the caller from here on, whatever fails */
    if (dfeature)
        DS_TRY(ds_tensor_accumulate(ctx, df, dfeature));
    DS_TRY(ds_conv3d_backward(ctx, &net->out_conv, net->feature_used, dlogits, df));
    dropout_backward(ctx, &net->drop_feature, net->last_dropout, df);
    for (int j = 0; j <= 3; ++j) {
        ds_tensor *dy = d_level[4];
        d_level[4] = NULL;
        DS_TRY(level_backward(ctx, net, j, dy, d_level, &d_level[4]));
    }
    dropout_backward(ctx, &net->drop_bottleneck, net->bottleneck_dropped, d_level[4]);
    return DS_OK;
}

static ds_status encoder_backward(ds_ctx *ctx, ds_net *net, ds_tensor *d_level[DS_NET_LEVELS])
{
    ds_pool *pool = &net->scratch->pool;
    ds_tensor *cur = d_level[4];
    d_level[4] = NULL;
    for (int u = net->enc_count - 1; u >= 0; --u) {
        ds_tensor *dx = NULL, *in_lent = NULL;
        const ds_tensor *in = net->input;
        ds_status st = DS_OK;
        ds_grad_into into = DS_GRAD_WRITE; /* a fresh buffer, or none (the input's) */
        if (u > 0) {
            int level = -1;
            for (int l = 0; l < DS_NET_LEVELS - 1; ++l)
                if (net->level_end[l] == u - 1)
                    level = l;
            if (level >= 0) { /* the previous unit's output is a skip: its gradient is there */
                dx = d_level[level];
                d_level[level] = NULL;
                into = DS_GRAD_ADD;
            } else {
                const ds_shape s = ds_enc_shape(&net->enc[u - 1]);
                st = ds_pool_acquire(ctx, pool, s.n, s.c, s.d, s.h, s.w, 0, &dx);
            }
            if (st == DS_OK)
                st = enc_output(ctx, net, u - 1, &in, &in_lent);
        }
        ds_enc_unit *e = &net->enc[u];
        if (st == DS_OK)
            st = e->is_basic
                     ? ds_basic_backward(ctx, &e->basic, pool, in, cur, into, dx)
                     : ds_cbr_backward(ctx, &e->cbr, pool, in, cur, DS_GRAD_CONSUME, into, dx);
        ds_pool_release(pool, in_lent);
        ds_pool_release(pool, cur);
        cur = dx;
        if (st != DS_OK) {
            ds_pool_release(pool, cur);
            return st;
        }
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
