/* dropout.c - Dropout3d (see ds_activation.h).
 *
 * The keep decisions are drawn sequentially (N * C uniforms, few), then applied plane by plane in
 * parallel: the mask depends only on the stream, never on the thread count.
 */
#include "ds_activation.h"
#include "layer_check.h"

#include <math.h>
#include <string.h>

static const char *const LAYER = "dropout3d";

ds_status ds_dropout3d_init(ds_ctx *ctx, ds_dropout3d *drop, float p)
{
    if (!drop)
        return ds_fail(ctx, DS_ERR_ARG, "%s: null layer", LAYER);
    memset(drop, 0, sizeof *drop);
    if (!(p >= 0.0f && p < 1.0f))
        return ds_fail(ctx, DS_ERR_ARG, "%s: probability p = %g is outside [0, 1)", LAYER,
                       (double)p);
    drop->p = p;
    return DS_OK;
}

void ds_dropout3d_free(ds_dropout3d *drop)
{
    if (!drop)
        return;
    ds_aligned_free(drop->scale);
    memset(drop, 0, sizeof *drop);
}

/* y[plane] = x[plane] * scale[plane] (scale NULL: y = x). */
static void apply(ds_ctx *ctx, const float *xd, float *yd, const float *scale, int64_t planes,
                  int64_t S)
{
#pragma omp parallel for num_threads(ds_ctx_threads(ctx)) schedule(static) if (planes * S > DS_LAYER_PARALLEL_MIN)
    for (int64_t p = 0; p < planes; ++p) {
        const float s = scale ? scale[p] : 1.0f;
        const float *xp = xd + p * S;
        float *yp = yd + p * S;
        for (int64_t i = 0; i < S; ++i)
            yp[i] = xp[i] * s;
    }
}

ds_status ds_dropout3d_forward(ds_ctx *ctx, ds_dropout3d *drop, const ds_tensor *x, ds_tensor *y,
                               int training, ds_rng *rng)
{
    if (!drop)
        return ds_fail(ctx, DS_ERR_ARG, "%s: null layer", LAYER);
    ds_status st = ds_layer_need_same(ctx, LAYER, "input", x, "output", y);
    if (st != DS_OK)
        return st;
    const float p = drop->p;
    if (!(p >= 0.0f && p < 1.0f))
        return ds_fail(ctx, DS_ERR_ARG, "%s: probability p = %g is outside [0, 1)", LAYER,
                       (double)p);
    const int64_t planes = x->n * x->c, S = ds_tensor_spatial_numel(x);
    drop->n = x->n;
    drop->c = x->c;
    drop->last_training = training ? 1 : 0;
    if (!training) {
        if (y->data != x->data)
            memcpy(y->data, x->data, (size_t)(planes * S) * sizeof(float));
        return DS_OK;
    }
    if (p > 0.0f && !rng)
        return ds_fail(ctx, DS_ERR_ARG, "%s: training with p = %g needs a random stream", LAYER,
                       (double)p);
    if (planes > drop->scale_cap) {
        float *s = ds_aligned_alloc((size_t)planes * sizeof(float));
        if (!s) {
            drop->n = drop->c = 0;
            return ds_fail(ctx, DS_ERR_NOMEM, "%s: out of memory for %lld channel scales", LAYER,
                           (long long)planes);
        }
        ds_aligned_free(drop->scale);
        drop->scale = s;
        drop->scale_cap = planes;
    }
    /* PyTorch multiplies the survivors by the float 1 / (1 - p). */
    const float keep_scale = (float)(1.0 / (1.0 - (double)p));
    for (int64_t i = 0; i < planes; ++i)
        drop->scale[i] = p > 0.0f && ds_rng_uniform(rng) < p ? 0.0f : keep_scale;
    apply(ctx, x->data, y->data, drop->scale, planes, S);
    return DS_OK;
}

ds_status ds_dropout3d_backward(ds_ctx *ctx, ds_dropout3d *drop, const ds_tensor *dy, ds_tensor *dx)
{
    if (!drop)
        return ds_fail(ctx, DS_ERR_ARG, "%s: null layer", LAYER);
    ds_status st = ds_layer_need_same(ctx, LAYER, "output gradient", dy, "input gradient", dx);
    if (st != DS_OK)
        return st;
    if (drop->n == 0)
        return ds_fail(ctx, DS_ERR_ARG, "%s: backward called before any forward", LAYER);
    if (dy->n != drop->n || dy->c != drop->c) {
        char s[96];
        return ds_fail(ctx, DS_ERR_SHAPE,
                       "%s: output gradient %s does not match the last forward (%lld x %lld)",
                       LAYER, ds_tensor_shape_str(dy, s, sizeof s), (long long)drop->n,
                       (long long)drop->c);
    }
    const int64_t planes = dy->n * dy->c, S = ds_tensor_spatial_numel(dy);
    const float *scale = drop->last_training ? drop->scale : NULL;
    const float *gd = dy->data;
    float *dd = dx->data;
#pragma omp parallel for num_threads(ds_ctx_threads(ctx)) schedule(static) if (planes * S > DS_LAYER_PARALLEL_MIN)
    for (int64_t p = 0; p < planes; ++p) {
        const float s = scale ? scale[p] : 1.0f;
        const float *gp = gd + p * S;
        float *dp = dd + p * S;
        for (int64_t i = 0; i < S; ++i)
            dp[i] += gp[i] * s;
    }
    return DS_OK;
}
