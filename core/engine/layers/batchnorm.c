/* batchnorm.c - BatchNorm3d with PyTorch's semantics, plain and fused (see ds_norm.h).
 *
 * Work is split into units: blocks of DS_BN_BLOCK values of one (n, c) plane (D * H * W
 * contiguous floats). Reductions give one partial result per unit, in double, and the partials of
 * a channel are added in (n, block) order by one thread: the result does not depend on the thread
 * count, and a plane of a million voxels is 64 units for 64 threads.
 */
#include "ds_norm.h"
#include "layer_check.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

/* The loops over a unit's values, built for baseline x86-64, AVX2 and AVX-512 and chosen when the
 * program loads (GCC's target_clones): BatchNorm is a fifth of a training step, and the baseline
 * build sums doubles two at a time. ISO C contracts no a * b + c into an FMA in any build, so
 * each build computes bn(x) (and the ReLU's mask from it) exactly as the forward did; the double
 * sums of a unit group their terms by the vector width, so their last bits may differ between
 * CPUs, never between runs or thread counts on one machine. */
#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__)
#define DS_BN_CLONES __attribute__((target_clones("default", "avx2", "avx512f")))
#else
#define DS_BN_CLONES
#endif

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
    bn->saved_scale = ds_aligned_alloc(bytes);
    if (!bn->running_mean || !bn->running_var || !bn->saved_mean || !bn->saved_invstd ||
        !bn->saved_scale) {
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
        bn->saved_scale[c] = 1.0f;
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
    ds_aligned_free(bn->saved_scale);
    ds_aligned_free(bn->work);
    memset(bn, 0, sizeof *bn);
}

/* The partition of an input into units (see the top of the file). */
typedef struct bn_units {
    int64_t n, c, s;   /* samples, channels, values per plane */
    int64_t blocks;    /* units per plane                     */
    int64_t count;     /* units in all                        */
} bn_units;

static bn_units units_of(const ds_tensor *x)
{
    bn_units u = {x->n, x->c, ds_tensor_spatial_numel(x), 0, 0};
    u.blocks = (u.s + DS_BN_BLOCK - 1) / DS_BN_BLOCK;
    u.count = u.n * u.c * u.blocks;
    return u;
}

/* Unit k: the channel, the offset of its first value and its length. */
static void unit_at(const bn_units *u, int64_t k, int64_t *c, int64_t *off, int64_t *len)
{
    const int64_t plane = k / u->blocks, i0 = (k % u->blocks) * DS_BN_BLOCK;
    *c = plane % u->c;
    *off = plane * u->s + i0;
    *len = u->s - i0 < DS_BN_BLOCK ? u->s - i0 : DS_BN_BLOCK;
}

/* Adds the two partials of every unit of channel c, in (n, block) order. */
static void channel_sums(const bn_units *u, const double *part, int64_t c, double *a, double *b)
{
    double s = 0.0, q = 0.0;
    for (int64_t n = 0; n < u->n; ++n)
        for (int64_t k = (n * u->c + c) * u->blocks, e = k + u->blocks; k < e; ++k) {
            s += part[2 * k];
            q += part[2 * k + 1];
        }
    *a = s;
    *b = q;
}

/* work holds 2 doubles per unit followed by 4 per channel. */
static ds_status grow_work(ds_ctx *ctx, ds_batchnorm3d *bn, int64_t units)
{
    const int64_t need = 2 * units + 4 * (int64_t)bn->channels;
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

/* x has the shape of the last forward (which must exist). */
static ds_status check_like_last(ds_ctx *ctx, const ds_batchnorm3d *bn, const ds_tensor *x,
                                 const char *call)
{
    DS_TRY(check_channels(ctx, bn, x));
    if (bn->saved_n == 0)
        return ds_fail(ctx, DS_ERR_ARG, "%s %s: %s called before any forward", LAYER,
                       bn->weight.name, call);
    if (x->n != bn->saved_n || x->d != bn->saved_d || x->h != bn->saved_h || x->w != bn->saved_w) {
        char s[96];
        return ds_fail(ctx, DS_ERR_SHAPE,
                       "%s %s: %s input %s differs from the last forward's "
                       "(%lld x %d x %lld x %lld x %lld)",
                       LAYER, bn->weight.name, call, ds_tensor_shape_str(x, s, sizeof s),
                       (long long)bn->saved_n, bn->channels, (long long)bn->saved_d,
                       (long long)bn->saved_h, (long long)bn->saved_w);
    }
    return DS_OK;
}

static int needs_skip(ds_bn_epilogue e) { return e == DS_BN_RELU_ADD || e == DS_BN_ADD_RELU; }

static ds_status check_epilogue(ds_ctx *ctx, const ds_tensor *x, const ds_tensor *skip,
                                ds_bn_epilogue e)
{
    if (e != DS_BN_PLAIN && e != DS_BN_RELU && !needs_skip(e))
        return ds_fail(ctx, DS_ERR_ARG, "%s: unknown epilogue %d", LAYER, (int)e);
    return needs_skip(e) ? ds_layer_need_same(ctx, LAYER, "input", x, "skip", skip) : DS_OK;
}

/* Sum of (x - k) and of (x - k)^2 over n floats, in double. */
DS_BN_CLONES static void shifted_sums(const float *x, int64_t n, double k, double *sum, double *sumsq)
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

/* The per-channel affine map of the last forward: bn(x) = (x - mean) * scale + shift. */
typedef struct bn_affine {
    float mean, scale, shift;
} bn_affine;

static bn_affine affine_of(const ds_batchnorm3d *bn, int64_t c)
{
    bn_affine f = {bn->saved_mean[c], bn->saved_scale[c], bn->bias.value[c]};
    return f;
}

/* Sum of g and of g * (x - mean) over n floats, in double, where g = dy, or with relu != 0
 * g = dy where bn(x) > 0 and 0 elsewhere (the ReLU's mask, computed as the forward did). */
DS_BN_CLONES static void grad_sums(const float *dy, const float *x, int64_t n, bn_affine f,
                                   int relu, double *sum_dy, double *sum_dyx)
{
    const double mean = (double)f.mean;
    double s = 0.0, q = 0.0;
    if (relu) { /* a select, not a branch: the loop runs in vectors */
#pragma omp simd reduction(+ : s, q)
        for (int64_t i = 0; i < n; ++i) {
            const float t = (x[i] - f.mean) * f.scale + f.shift;
            union { /* dy, or +0 where t <= 0 (or NaN): a mask, so that the loop has no branch */
                float f;
                uint32_t u;
            } d = {dy[i]};
            d.u &= -(uint32_t)(t > 0.0f);
            const double g = (double)d.f;
            s += g;
            q += g * ((double)x[i] - mean);
        }
    } else {
#pragma omp simd reduction(+ : s, q)
        for (int64_t i = 0; i < n; ++i) {
            const double g = (double)dy[i];
            s += g;
            q += g * ((double)x[i] - mean);
        }
    }
    *sum_dy = s;
    *sum_dyx = q;
}

/* The convolution epilogue's kind that computes epilogue e (ds_conv.h): the same value. */
static ds_conv_epilogue_kind epilogue_kind(ds_bn_epilogue e)
{
    switch (e) {
    case DS_BN_RELU:
        return DS_CONV_EPILOGUE_RELU;
    case DS_BN_RELU_ADD:
        return DS_CONV_EPILOGUE_RELU_ADD;
    case DS_BN_ADD_RELU:
        return DS_CONV_EPILOGUE_ADD_RELU;
    default:
        return DS_CONV_EPILOGUE_AFFINE;
    }
}

/* y = epilogue((x - mean) * scale + shift, skip) over n floats. Every expression is the one the
 * unfused layers compute (BatchNorm, then ReLU, then add, or add then ReLU). */
DS_BN_CLONES static void apply_run(const float *x, const float *skip, float *y, int64_t n,
                                   bn_affine f, ds_bn_epilogue e)
{
    ds_conv_epilogue_run(x, skip, y, n, f.mean, f.scale, f.shift, epilogue_kind(e));
}

static void apply(ds_ctx *ctx, const ds_batchnorm3d *bn, const ds_tensor *x, const ds_tensor *skip,
                  ds_tensor *y, ds_bn_epilogue e)
{
    const bn_units u = units_of(x);
    const float *xd = x->data, *sd = skip ? skip->data : NULL;
    float *yd = y->data;
#pragma omp parallel for num_threads(ds_ctx_threads(ctx)) schedule(static) if (u.n * u.c * u.s > DS_LAYER_PARALLEL_MIN)
    for (int64_t k = 0; k < u.count; ++k) {
        int64_t c, off, len;
        unit_at(&u, k, &c, &off, &len);
        apply_run(xd + off, sd ? sd + off : NULL, yd + off, len, affine_of(bn, c), e);
    }
}

/* The batch statistics of x into the saved ones, and the running ones updated. */
static void batch_statistics(ds_ctx *ctx, ds_batchnorm3d *bn, const ds_tensor *x)
{
    const bn_units u = units_of(x);
    const int64_t M = u.n * u.s;
    const float *xd = x->data;
    double *part = bn->work;
#pragma omp parallel for num_threads(ds_ctx_threads(ctx)) schedule(static) if (u.n * u.c * u.s > DS_LAYER_PARALLEL_MIN)
    for (int64_t k = 0; k < u.count; ++k) {
        int64_t c, off, len;
        unit_at(&u, k, &c, &off, &len);
        shifted_sums(xd + off, len, (double)xd[c * u.s], &part[2 * k], &part[2 * k + 1]);
    }
    for (int64_t c = 0; c < u.c; ++c) {
        double s, q;
        channel_sums(&u, part, c, &s, &q);
        const double ms = s / (double)M;
        double var = q / (double)M - ms * ms;
        if (var < 0.0)
            var = 0.0;
        const double mean = (double)xd[c * u.s] + ms;
        const double invstd = 1.0 / sqrt(var + (double)bn->eps);
        bn->saved_mean[c] = (float)mean;
        bn->saved_invstd[c] = (float)invstd;
        bn->saved_scale[c] = (float)((double)bn->weight.value[c] * invstd);
        const double mom = (double)bn->momentum;
        bn->running_mean[c] = (float)((1.0 - mom) * bn->running_mean[c] + mom * mean);
        bn->running_var[c] = (float)((1.0 - mom) * bn->running_var[c] +
                                     mom * var * (double)M / (double)(M - 1));
    }
    bn->num_batches_tracked += 1;
}

/* The statistics an evaluation forward applies: the running ones. */
static void running_statistics(ds_batchnorm3d *bn)
{
    for (int64_t c = 0; c < bn->channels; ++c) {
        const double invstd = 1.0 / sqrt((double)bn->running_var[c] + (double)bn->eps);
        bn->saved_mean[c] = bn->running_mean[c];
        bn->saved_invstd[c] = (float)invstd;
        bn->saved_scale[c] = (float)((double)bn->weight.value[c] * invstd);
    }
}

static void save_shape(ds_batchnorm3d *bn, const ds_tensor *x, int training)
{
    bn->saved_training = training ? 1 : 0;
    bn->saved_n = x->n;
    bn->saved_d = x->d;
    bn->saved_h = x->h;
    bn->saved_w = x->w;
}

ds_status ds_batchnorm3d_forward_fused(ds_ctx *ctx, ds_batchnorm3d *bn, const ds_tensor *x,
                                       const ds_tensor *skip, ds_tensor *y, int training,
                                       ds_bn_epilogue epilogue)
{
    DS_TRY(check_layer(ctx, bn));
    DS_TRY(ds_layer_need_same(ctx, LAYER, "input", x, "output", y));
    DS_TRY(check_channels(ctx, bn, x));
    DS_TRY(check_epilogue(ctx, x, skip, epilogue));
    const bn_units u = units_of(x);
    if (training && u.n * u.s < 2)
        return ds_fail(ctx, DS_ERR_SHAPE,
                       "%s %s: training needs more than one value per channel (input has %lld)",
                       LAYER, bn->weight.name, (long long)(u.n * u.s));
    DS_TRY(grow_work(ctx, bn, u.count));
    if (training)
        batch_statistics(ctx, bn, x);
    else
        running_statistics(bn);
    save_shape(bn, x, training);
    apply(ctx, bn, x, needs_skip(epilogue) ? skip : NULL, y, epilogue);
    return DS_OK;
}

ds_status ds_batchnorm3d_eval_epilogue(ds_ctx *ctx, ds_batchnorm3d *bn, const ds_tensor *x,
                                       const ds_tensor *skip, ds_bn_epilogue epilogue,
                                       ds_conv_epilogue *out)
{
    DS_TRY(check_layer(ctx, bn));
    DS_TRY(check_channels(ctx, bn, x));
    DS_TRY(check_epilogue(ctx, x, skip, epilogue));
    if (!out)
        return ds_fail(ctx, DS_ERR_ARG, "%s %s: null epilogue", LAYER, bn->weight.name);
    running_statistics(bn);
    save_shape(bn, x, 0);
    out->kind = epilogue_kind(epilogue);
    out->mean = bn->saved_mean;
    out->scale = bn->saved_scale;
    out->shift = bn->bias.value; /* affine_of's shift */
    out->skip = needs_skip(epilogue) ? skip->data : NULL;
    return DS_OK;
}

ds_status ds_batchnorm3d_forward(ds_ctx *ctx, ds_batchnorm3d *bn, const ds_tensor *x, ds_tensor *y,
                                 int training)
{
    return ds_batchnorm3d_forward_fused(ctx, bn, x, NULL, y, training, DS_BN_PLAIN);
}

ds_status ds_batchnorm3d_recompute(ds_ctx *ctx, const ds_batchnorm3d *bn, const ds_tensor *x,
                                   const ds_tensor *skip, ds_tensor *y, ds_bn_epilogue epilogue)
{
    DS_TRY(check_layer(ctx, bn));
    DS_TRY(ds_layer_need_same(ctx, LAYER, "input", x, "output", y));
    DS_TRY(check_like_last(ctx, bn, x, "recompute"));
    DS_TRY(check_epilogue(ctx, x, skip, epilogue));
    apply(ctx, bn, x, needs_skip(epilogue) ? skip : NULL, y, epilogue);
    return DS_OK;
}

/* The backward of bn (relu == 0) or of relu(bn) (relu != 0). */
/* dx = (overwrite ? 0 : dx) + a g - b (x - mean) - kk over n floats, g as in grad_sums. */
DS_BN_CLONES static void dx_run(const float *x, const float *dy, float *dx, int64_t n, bn_affine f,
                                int relu, int overwrite, float a, float b, float kk)
{
    for (int64_t i = 0; i < n; ++i) {
        const float t = (x[i] - f.mean) * f.scale + f.shift;
        const float g = relu && !(t > 0.0f) ? 0.0f : dy[i];
        dx[i] = (overwrite ? 0.0f : dx[i]) + (a * g - b * (x[i] - f.mean) - kk);
    }
}

/* set: dx is overwritten (0 + dL/dx, what a zeroed dx would receive), else added into. */
static ds_status backward(ds_ctx *ctx, ds_batchnorm3d *bn, const ds_tensor *x, const ds_tensor *dy,
                          ds_tensor *dx, int relu, int set)
{
    DS_TRY(check_layer(ctx, bn));
    DS_TRY(ds_layer_need_same(ctx, LAYER, "input", x, "output gradient", dy));
    if (dx)
        DS_TRY(ds_layer_need_same(ctx, LAYER, "input", x, "input gradient", dx));
    DS_TRY(check_like_last(ctx, bn, x, "backward"));
    if (dx == dy && !relu && !set)
        return ds_fail(ctx, DS_ERR_ARG, "%s %s: backward in place is the ReLU backward's only",
                       LAYER, bn->weight.name);
    /* in place, dx is written as set: pass 1 has read all of dy before pass 2 writes */
    const int overwrite = set || dx == dy;
    const bn_units u = units_of(x);
    const int64_t M = u.n * u.s;
    DS_TRY(grow_work(ctx, bn, u.count));
    double *part = bn->work;
    double *coef = bn->work + 2 * u.count; /* per channel: A, B, K */
    const int threads = ds_ctx_threads(ctx);
    const float *xd = x->data, *dyd = dy->data;
    const int par = u.n * u.s * u.c > DS_LAYER_PARALLEL_MIN;

#pragma omp parallel for num_threads(threads) schedule(static) if (par)
    for (int64_t k = 0; k < u.count; ++k) {
        int64_t c, off, len;
        unit_at(&u, k, &c, &off, &len);
        grad_sums(dyd + off, xd + off, len, affine_of(bn, c), relu, &part[2 * k],
                  &part[2 * k + 1]);
    }
    for (int64_t c = 0; c < u.c; ++c) {
        double sdy, sdyx;
        channel_sums(&u, part, c, &sdy, &sdyx);
        const double invstd = (double)bn->saved_invstd[c];
        const double dgamma = sdyx * invstd, dbeta = sdy;
        bn->weight.grad[c] += (float)dgamma;
        bn->bias.grad[c] += (float)dbeta;
        /* dx = A dy - B (x - mean) - K with A = gamma invstd; in training (batch statistics)
         * B = A invstd dgamma / M and K = A dbeta / M, in evaluation B = K = 0. */
        const double a = (double)bn->weight.value[c] * invstd;
        coef[3 * c] = a;
        coef[3 * c + 1] = bn->saved_training ? a * invstd * dgamma / (double)M : 0.0;
        coef[3 * c + 2] = bn->saved_training ? a * dbeta / (double)M : 0.0;
    }
    if (!dx)
        return DS_OK;
    float *dxd = dx->data;
#pragma omp parallel for num_threads(threads) schedule(static) if (par)
    for (int64_t k = 0; k < u.count; ++k) {
        int64_t c, off, len;
        unit_at(&u, k, &c, &off, &len);
        const float a = (float)coef[3 * c], b = (float)coef[3 * c + 1], kk = (float)coef[3 * c + 2];
        dx_run(xd + off, dyd + off, dxd + off, len, affine_of(bn, c), relu, overwrite, a, b, kk);
    }
    return DS_OK;
}

ds_status ds_batchnorm3d_backward(ds_ctx *ctx, ds_batchnorm3d *bn, const ds_tensor *x,
                                  const ds_tensor *dy, ds_tensor *dx)
{
    return backward(ctx, bn, x, dy, dx, 0, 0);
}

ds_status ds_batchnorm3d_relu_backward(ds_ctx *ctx, ds_batchnorm3d *bn, const ds_tensor *x,
                                       const ds_tensor *dy, ds_tensor *dx)
{
    return backward(ctx, bn, x, dy, dx, 1, 0);
}

ds_status ds_batchnorm3d_backward_set(ds_ctx *ctx, ds_batchnorm3d *bn, const ds_tensor *x,
                                      const ds_tensor *dy, ds_tensor *dx)
{
    return backward(ctx, bn, x, dy, dx, 0, 1);
}

ds_status ds_batchnorm3d_relu_backward_set(ds_ctx *ctx, ds_batchnorm3d *bn, const ds_tensor *x,
                                           const ds_tensor *dy, ds_tensor *dx)
{
    return backward(ctx, bn, x, dy, dx, 1, 1);
}
