/* batchnorm.c - BatchNorm3d with PyTorch's semantics (see ds_norm.h).
 *
 * Work is split over the N * C planes of the input (one (n, c) plane = D * H * W contiguous
 * floats). Reductions give one partial result per plane, in double, and the partials of a channel
 * are added in n order by one thread: the result does not depend on the thread count.
 */
#include "ds_norm.h"
#include "layer_check.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

static const char *const LAYER = "batchnorm3d";

ds_status ds_batchnorm3d_init(ds_ctx *ctx, ds_batchnorm3d *bn, const char *name_prefix,
                              int channels)
{
    if (!bn)
        return ds_fail(ctx, DS_ERR_ARG, "%s: null layer", LAYER);
    memset(bn, 0, sizeof *bn);
    if (channels < 1)
        return ds_fail(ctx, DS_ERR_ARG, "%s %s: channel count %d is not positive", LAYER,
                       name_prefix ? name_prefix : "", channels);
    char name[DS_PARAM_NAME_CAP];
    const char *prefix = name_prefix ? name_prefix : "";
    const char *dot = name_prefix && name_prefix[0] ? "." : "";
    snprintf(name, sizeof name, "%s%sweight", prefix, dot);
    ds_status st = ds_param_init(ctx, &bn->weight, name, channels);
    if (st == DS_OK) {
        snprintf(name, sizeof name, "%s%sbias", prefix, dot);
        st = ds_param_init(ctx, &bn->bias, name, channels);
    }
    if (st != DS_OK) {
        ds_batchnorm3d_free(bn);
        return st;
    }
    const size_t bytes = (size_t)channels * sizeof(float);
    bn->running_mean = ds_aligned_alloc(bytes);
    bn->running_var = ds_aligned_alloc(bytes);
    bn->saved_mean = ds_aligned_alloc(bytes);
    bn->saved_invstd = ds_aligned_alloc(bytes);
    if (!bn->running_mean || !bn->running_var || !bn->saved_mean || !bn->saved_invstd) {
        ds_batchnorm3d_free(bn);
        return ds_fail(ctx, DS_ERR_NOMEM, "%s %s: out of memory for %d channels", LAYER, prefix,
                       channels);
    }
    bn->channels = channels;
    bn->momentum = 0.1f;
    bn->eps = 1e-5f;
    for (int c = 0; c < channels; ++c) {
        bn->weight.value[c] = 1.0f;
        bn->bias.value[c] = 0.0f;
        bn->running_mean[c] = 0.0f;
        bn->running_var[c] = 1.0f;
        bn->saved_mean[c] = 0.0f;
        bn->saved_invstd[c] = 1.0f;
    }
    return DS_OK;
}

void ds_batchnorm3d_free(ds_batchnorm3d *bn)
{
    if (!bn)
        return;
    ds_param_free(&bn->weight);
    ds_param_free(&bn->bias);
    ds_aligned_free(bn->running_mean);
    ds_aligned_free(bn->running_var);
    ds_aligned_free(bn->saved_mean);
    ds_aligned_free(bn->saved_invstd);
    ds_aligned_free(bn->work);
    memset(bn, 0, sizeof *bn);
}

/* work holds 2 doubles per plane followed by 4 per channel. */
static ds_status grow_work(ds_ctx *ctx, ds_batchnorm3d *bn, int64_t planes)
{
    const int64_t need = 2 * planes + 4 * (int64_t)bn->channels;
    if (need <= bn->work_cap)
        return DS_OK;
    double *w = ds_aligned_alloc((size_t)need * sizeof(double));
    if (!w)
        return ds_fail(ctx, DS_ERR_NOMEM, "%s: out of memory for %lld work values", LAYER,
                       (long long)need);
    ds_aligned_free(bn->work);
    bn->work = w;
    bn->work_cap = need;
    return DS_OK;
}

static ds_status check_layer(ds_ctx *ctx, const ds_batchnorm3d *bn)
{
    if (!bn || !bn->weight.value || !bn->bias.value || !bn->running_mean || !bn->running_var)
        return ds_fail(ctx, DS_ERR_ARG, "%s: null or uninitialised layer", LAYER);
    return DS_OK;
}

static ds_status check_channels(ds_ctx *ctx, const ds_batchnorm3d *bn, const ds_tensor *x)
{
    if (x->c != bn->channels) {
        char s[96];
        return ds_fail(ctx, DS_ERR_SHAPE, "%s %s: input %s has %lld channels, the layer %d", LAYER,
                       bn->weight.name, ds_tensor_shape_str(x, s, sizeof s), (long long)x->c,
                       bn->channels);
    }
    return DS_OK;
}

/* Sum of (x - k) and of (x - k)^2 over n floats, in double. */
static void shifted_sums(const float *x, int64_t n, double k, double *sum, double *sumsq)
{
    double s = 0.0, q = 0.0;
#pragma omp simd reduction(+ : s, q)
    for (int64_t i = 0; i < n; ++i) {
        const double v = (double)x[i] - k;
        s += v;
        q += v * v;
    }
    *sum = s;
    *sumsq = q;
}

/* Sum of dy and of dy * (x - mean) over n floats, in double. */
static void grad_sums(const float *dy, const float *x, int64_t n, double mean, double *sum_dy,
                      double *sum_dyx)
{
    double s = 0.0, q = 0.0;
#pragma omp simd reduction(+ : s, q)
    for (int64_t i = 0; i < n; ++i) {
        const double g = (double)dy[i];
        s += g;
        q += g * ((double)x[i] - mean);
    }
    *sum_dy = s;
    *sum_dyx = q;
}

ds_status ds_batchnorm3d_forward(ds_ctx *ctx, ds_batchnorm3d *bn, const ds_tensor *x, ds_tensor *y,
                                 int training)
{
    ds_status st = check_layer(ctx, bn);
    if (st == DS_OK)
        st = ds_layer_need_same(ctx, LAYER, "input", x, "output", y);
    if (st == DS_OK)
        st = check_channels(ctx, bn, x);
    if (st != DS_OK)
        return st;
    const int64_t N = x->n, C = x->c, S = ds_tensor_spatial_numel(x);
    const int64_t planes = N * C, M = N * S;
    if (training && M < 2)
        return ds_fail(ctx, DS_ERR_SHAPE,
                       "%s %s: training needs more than one value per channel (input has %lld)",
                       LAYER, bn->weight.name, (long long)M);
    if ((st = grow_work(ctx, bn, planes)) != DS_OK)
        return st;
    double *part = bn->work;          /* 2 per plane */
    double *coef = bn->work + 2 * planes; /* per channel: mean, scale (gamma * invstd) */
    const int threads = ds_ctx_threads(ctx);
    const float *xd = x->data;

    if (training) {
#pragma omp parallel for num_threads(threads) schedule(static) if (N * S * C > DS_LAYER_PARALLEL_MIN)
        for (int64_t p = 0; p < planes; ++p) {
            const int64_t c = p % C;
            shifted_sums(xd + p * S, S, (double)xd[c * S], &part[2 * p], &part[2 * p + 1]);
        }
        for (int64_t c = 0; c < C; ++c) {
            double s = 0.0, q = 0.0;
            for (int64_t n = 0; n < N; ++n) {
                s += part[2 * (n * C + c)];
                q += part[2 * (n * C + c) + 1];
            }
            const double ms = s / (double)M;
            double var = q / (double)M - ms * ms;
            if (var < 0.0)
                var = 0.0;
            const double mean = (double)xd[c * S] + ms;
            const double invstd = 1.0 / sqrt(var + (double)bn->eps);
            bn->saved_mean[c] = (float)mean;
            bn->saved_invstd[c] = (float)invstd;
            const double mom = (double)bn->momentum;
            bn->running_mean[c] = (float)((1.0 - mom) * bn->running_mean[c] + mom * mean);
            bn->running_var[c] = (float)((1.0 - mom) * bn->running_var[c] +
                                         mom * var * (double)M / (double)(M - 1));
            coef[2 * c] = mean;
            coef[2 * c + 1] = (double)bn->weight.value[c] * invstd;
        }
        bn->num_batches_tracked += 1;
    } else {
        for (int64_t c = 0; c < C; ++c) {
            const double invstd = 1.0 / sqrt((double)bn->running_var[c] + (double)bn->eps);
            bn->saved_mean[c] = bn->running_mean[c];
            bn->saved_invstd[c] = (float)invstd;
            coef[2 * c] = bn->running_mean[c];
            coef[2 * c + 1] = (double)bn->weight.value[c] * invstd;
        }
    }
    bn->saved_training = training ? 1 : 0;
    bn->saved_n = N;
    bn->saved_d = x->d;
    bn->saved_h = x->h;
    bn->saved_w = x->w;

    float *yd = y->data;
    const float *beta = bn->bias.value;
#pragma omp parallel for num_threads(threads) schedule(static) if (N * S * C > DS_LAYER_PARALLEL_MIN)
    for (int64_t p = 0; p < planes; ++p) {
        const int64_t c = p % C;
        const float mean = (float)coef[2 * c], a = (float)coef[2 * c + 1], b = beta[c];
        const float *xp = xd + p * S;
        float *yp = yd + p * S;
        for (int64_t i = 0; i < S; ++i)
            yp[i] = (xp[i] - mean) * a + b;
    }
    return DS_OK;
}

ds_status ds_batchnorm3d_backward(ds_ctx *ctx, ds_batchnorm3d *bn, const ds_tensor *x,
                                  const ds_tensor *dy, ds_tensor *dx)
{
    ds_status st = check_layer(ctx, bn);
    if (st == DS_OK)
        st = ds_layer_need_same(ctx, LAYER, "input", x, "output gradient", dy);
    if (st == DS_OK && dx)
        st = ds_layer_need_same(ctx, LAYER, "input", x, "input gradient", dx);
    if (st == DS_OK)
        st = check_channels(ctx, bn, x);
    if (st != DS_OK)
        return st;
    if (bn->saved_n == 0)
        return ds_fail(ctx, DS_ERR_ARG, "%s %s: backward called before any forward", LAYER,
                       bn->weight.name);
    if (x->n != bn->saved_n || x->d != bn->saved_d || x->h != bn->saved_h || x->w != bn->saved_w) {
        char s[96];
        return ds_fail(ctx, DS_ERR_SHAPE,
                       "%s %s: backward input %s differs from the last forward's "
                       "(%lld x %d x %lld x %lld x %lld)",
                       LAYER, bn->weight.name, ds_tensor_shape_str(x, s, sizeof s),
                       (long long)bn->saved_n, bn->channels, (long long)bn->saved_d,
                       (long long)bn->saved_h, (long long)bn->saved_w);
    }
    const int64_t N = x->n, C = x->c, S = ds_tensor_spatial_numel(x);
    const int64_t planes = N * C, M = N * S;
    if ((st = grow_work(ctx, bn, planes)) != DS_OK)
        return st;
    double *part = bn->work;
    double *coef = bn->work + 2 * planes; /* per channel: mean, A, B, K */
    const int threads = ds_ctx_threads(ctx);
    const float *xd = x->data, *dyd = dy->data;
    const int par = N * S * C > DS_LAYER_PARALLEL_MIN;

#pragma omp parallel for num_threads(threads) schedule(static) if (par)
    for (int64_t p = 0; p < planes; ++p) {
        const int64_t c = p % C;
        grad_sums(dyd + p * S, xd + p * S, S, (double)bn->saved_mean[c], &part[2 * p],
                  &part[2 * p + 1]);
    }
    for (int64_t c = 0; c < C; ++c) {
        double sdy = 0.0, sdyx = 0.0;
        for (int64_t n = 0; n < N; ++n) {
            sdy += part[2 * (n * C + c)];
            sdyx += part[2 * (n * C + c) + 1];
        }
        const double invstd = (double)bn->saved_invstd[c];
        const double dgamma = sdyx * invstd, dbeta = sdy;
        bn->weight.grad[c] += (float)dgamma;
        bn->bias.grad[c] += (float)dbeta;
        /* dx = A dy - B (x - mean) - K with A = gamma invstd; in training (batch statistics)
         * B = A invstd dgamma / M and K = A dbeta / M, in evaluation B = K = 0. */
        const double a = (double)bn->weight.value[c] * invstd;
        coef[4 * c] = (double)bn->saved_mean[c];
        coef[4 * c + 1] = a;
        coef[4 * c + 2] = bn->saved_training ? a * invstd * dgamma / (double)M : 0.0;
        coef[4 * c + 3] = bn->saved_training ? a * dbeta / (double)M : 0.0;
    }
    if (!dx)
        return DS_OK;
    float *dxd = dx->data;
#pragma omp parallel for num_threads(threads) schedule(static) if (par)
    for (int64_t p = 0; p < planes; ++p) {
        const int64_t c = p % C;
        const float mean = (float)coef[4 * c], a = (float)coef[4 * c + 1];
        const float b = (float)coef[4 * c + 2], k = (float)coef[4 * c + 3];
        const float *xp = xd + p * S, *gp = dyd + p * S;
        float *dp = dxd + p * S;
        for (int64_t i = 0; i < S; ++i)
            dp[i] += a * gp[i] - b * (xp[i] - mean) - k;
    }
    return DS_OK;
}
