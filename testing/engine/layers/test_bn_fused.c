/* test_bn_fused.c - the fused BatchNorm passes (ds_norm.h): forward with a ReLU / skip epilogue,
 * recompute, and the ReLU backward with the mask recomputed.
 *
 * References:
 *   (a) the unfused sequence of the same library (BatchNorm, then ReLU, then add, or add then
 *       ReLU; backward: the ReLU mask applied to dy, then the BatchNorm backward). The fused
 *       passes compute the same float expressions in the same order, so the check is bit for bit
 *       (tolerance 0), in training and evaluation, on a shape whose planes span 2 reduction blocks.
 *   (b) central finite differences of L = sum(w * relu(bn(x)) + w * skip) through a double
 *       BatchNorm + ReLU written here (PyTorch's formulas); x is drawn so that no bn(x) lies
 *       within 1e-3 of the ReLU's kink (the differences use a step of 1e-6). Tolerance 1e-5
 *       relative to the largest gradient (float32 arithmetic against a double reference, as in
 *       test_batchnorm).
 *   (c) the 1-thread run: 2, 3 and 8 threads give bit for bit the same outputs, gradients and
 *       running statistics.
 *   (d) the _set backwards against the adding ones into a zeroed dx: bit for bit, whatever dx
 *       held before (NaN here), plain and ReLU, training and evaluation, and in place.
 */
#include "ds_activation.h"
#include "ds_norm.h"
#include "ds_tensor.h"
#include "ds_test.h"
#include "ds_threads.h"
#include "layer_test_util.h"

#include <stdlib.h>
#include <string.h>

/* (a), (c): 2 x 3 x 8 x 32 x 80 = 20480 values a plane (DS_BN_BLOCK 16384: 2 blocks). */
enum { BN_ = 2, BC = 3, BD = 8, BH = 32, BW = 80 };

static ds_tensor *make(ds_ctx *ctx, int64_t n, int64_t c, int64_t d, int64_t h, int64_t w)
{
    ds_tensor *t = NULL;
    DS_CHECK_OK(ctx, ds_tensor_create(ctx, &t, n, c, d, h, w));
    return t;
}

static int same_bits(const float *a, const float *b, int64_t n)
{
    return memcmp(a, b, (size_t)n * sizeof(float)) == 0;
}

static void init_bn(ds_ctx *ctx, ds_batchnorm3d *bn, ds_rng *rng)
{
    DS_CHECK_OK(ctx, ds_batchnorm3d_init(ctx, bn, "bn", BC));
    lt_fill_uniform(rng, bn->weight.value, BC, 0.5f, 1.5f);
    bn->weight.value[1] = -bn->weight.value[1];
    lt_fill_uniform(rng, bn->bias.value, BC, -0.5f, 0.5f);
    lt_fill_uniform(rng, bn->running_mean, BC, -1.0f, 1.0f);
    lt_fill_uniform(rng, bn->running_var, BC, 0.5f, 2.0f);
}

/* Two layers with equal state, and rng left where the second's drawing left it. */
static void init_pair(ds_ctx *ctx, ds_batchnorm3d *a, ds_batchnorm3d *b, ds_rng *rng,
                      uint64_t seed)
{
    ds_rng_init(rng, seed, DS_RNG_TEST);
    init_bn(ctx, a, rng);
    ds_rng_init(rng, seed, DS_RNG_TEST);
    init_bn(ctx, b, rng);
}

/* (a): one epilogue, one mode. Two layers with equal state: one runs fused, one unfused. */
static void check_against_unfused(ds_ctx *ctx, ds_bn_epilogue e, int training)
{
    ds_rng rng;
    ds_batchnorm3d f, u;
    init_pair(ctx, &f, &u, &rng, 21 + (uint64_t)e);
    ds_tensor *x = make(ctx, BN_, BC, BD, BH, BW), *skip = make(ctx, BN_, BC, BD, BH, BW);
    ds_tensor *yf = make(ctx, BN_, BC, BD, BH, BW), *yu = make(ctx, BN_, BC, BD, BH, BW);
    ds_tensor *yr = make(ctx, BN_, BC, BD, BH, BW), *dy = make(ctx, BN_, BC, BD, BH, BW);
    ds_tensor *dxf = make(ctx, BN_, BC, BD, BH, BW), *dxu = make(ctx, BN_, BC, BD, BH, BW);
    if (!x || !skip || !yf || !yu || !yr || !dy || !dxf || !dxu)
        return;
    const int64_t n = ds_tensor_numel(x);
    lt_fill_normal(&rng, x->data, n, 0.3f, 1.2f);
    lt_fill_normal(&rng, skip->data, n, 0.0f, 1.0f);
    lt_fill_normal(&rng, dy->data, n, 0.0f, 1.0f);
    lt_fill_uniform(&rng, dxf->data, n, -1.0f, 1.0f);
    memcpy(dxu->data, dxf->data, (size_t)n * sizeof(float));
    const ds_tensor *s = e == DS_BN_RELU_ADD || e == DS_BN_ADD_RELU ? skip : NULL;
    DS_CHECK_OK(ctx, ds_batchnorm3d_forward_fused(ctx, &f, x, s, yf, training, e));
    DS_CHECK_OK(ctx, ds_batchnorm3d_forward(ctx, &u, x, yu, training));
    if (e == DS_BN_ADD_RELU)
        DS_CHECK_OK(ctx, ds_add_forward(ctx, yu, skip, yu));
    if (e != DS_BN_PLAIN)
        DS_CHECK_OK(ctx, ds_relu_forward(ctx, yu, yu));
    if (e == DS_BN_RELU_ADD)
        DS_CHECK_OK(ctx, ds_add_forward(ctx, yu, skip, yu));
    DS_CHECK_MSG(same_bits(yf->data, yu->data, n), "epilogue %d, %s: fused forward differs",
                 (int)e, training ? "training" : "evaluation");
    DS_CHECK(same_bits(f.running_mean, u.running_mean, BC) &&
             same_bits(f.running_var, u.running_var, BC));
    DS_CHECK_OK(ctx, ds_batchnorm3d_recompute(ctx, &f, x, s, yr, e));
    DS_CHECK_MSG(same_bits(yr->data, yf->data, n), "epilogue %d: recompute differs", (int)e);
    if (e == DS_BN_RELU || e == DS_BN_RELU_ADD) {
        DS_CHECK_OK(ctx, ds_batchnorm3d_relu_backward(ctx, &f, x, dy, dxf));
        ds_tensor *relu_out = yu;
        if (e == DS_BN_RELU_ADD) /* the unfused ReLU's own output, for its mask */
            DS_CHECK_OK(ctx, ds_batchnorm3d_recompute(ctx, &u, x, NULL, relu_out, DS_BN_RELU));
        ds_tensor *masked = yr;
        memset(masked->data, 0, (size_t)n * sizeof(float));
        DS_CHECK_OK(ctx, ds_relu_backward(ctx, relu_out, dy, masked));
        DS_CHECK_OK(ctx, ds_batchnorm3d_backward(ctx, &u, x, masked, dxu));
        DS_CHECK_MSG(same_bits(dxf->data, dxu->data, n) &&
                         same_bits(f.weight.grad, u.weight.grad, BC) &&
                         same_bits(f.bias.grad, u.bias.grad, BC),
                     "epilogue %d, %s: fused ReLU backward differs", (int)e,
                     training ? "training" : "evaluation");
    }
    ds_tensor *all[] = {x, skip, yf, yu, yr, dy, dxf, dxu};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; ++i)
        ds_tensor_free(all[i]);
    ds_batchnorm3d_free(&f);
    ds_batchnorm3d_free(&u);
}

/* (d) */
static void check_set(ds_ctx *ctx, int relu, int training)
{
    ds_rng rng;
    ds_batchnorm3d a, b;
    init_pair(ctx, &a, &b, &rng, 31 + (uint64_t)relu);
    ds_tensor *x = make(ctx, BN_, BC, BD, BH, BW), *y = make(ctx, BN_, BC, BD, BH, BW);
    ds_tensor *dy = make(ctx, BN_, BC, BD, BH, BW), *added = make(ctx, BN_, BC, BD, BH, BW);
    ds_tensor *set = make(ctx, BN_, BC, BD, BH, BW), *inplace = make(ctx, BN_, BC, BD, BH, BW);
    if (!x || !y || !dy || !added || !set || !inplace)
        return;
    const int64_t n = ds_tensor_numel(x);
    lt_fill_normal(&rng, x->data, n, 0.3f, 1.2f);
    lt_fill_normal(&rng, dy->data, n, 0.0f, 1.0f);
    for (int64_t i = 0; i < n; ++i)
        set->data[i] = NAN;
    memset(added->data, 0, (size_t)n * sizeof(float));
    memcpy(inplace->data, dy->data, (size_t)n * sizeof(float));
    DS_CHECK_OK(ctx, ds_batchnorm3d_forward(ctx, &a, x, y, training));
    DS_CHECK_OK(ctx, ds_batchnorm3d_forward(ctx, &b, x, y, training));
    if (relu) {
        DS_CHECK_OK(ctx, ds_batchnorm3d_relu_backward(ctx, &a, x, dy, added));
        DS_CHECK_OK(ctx, ds_batchnorm3d_relu_backward_set(ctx, &b, x, dy, set));
    } else {
        DS_CHECK_OK(ctx, ds_batchnorm3d_backward(ctx, &a, x, dy, added));
        DS_CHECK_OK(ctx, ds_batchnorm3d_backward_set(ctx, &b, x, dy, set));
    }
    DS_CHECK_MSG(same_bits(added->data, set->data, n) &&
                     same_bits(a.weight.grad, b.weight.grad, BC) &&
                     same_bits(a.bias.grad, b.bias.grad, BC),
                 "%s backward_set, %s: differs from the add into zeros", relu ? "ReLU" : "plain",
                 training ? "training" : "evaluation");
    DS_CHECK_OK(ctx, relu ? ds_batchnorm3d_relu_backward_set(ctx, &b, x, inplace, inplace)
                          : ds_batchnorm3d_backward_set(ctx, &b, x, inplace, inplace));
    DS_CHECK_MSG(same_bits(added->data, inplace->data, n), "%s backward_set in place differs",
                 relu ? "ReLU" : "plain");
    ds_tensor *all[] = {x, y, dy, added, set, inplace};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; ++i)
        ds_tensor_free(all[i]);
    ds_batchnorm3d_free(&a);
    ds_batchnorm3d_free(&b);
}

/* (b): a small case against finite differences. */
enum { FN = 2, FC = 2, FS = 40, FNUMEL = FN * FC * FS };

typedef struct fd_state {
    double x[FNUMEL], gamma[FC], beta[FC], w[FNUMEL];
} fd_state;

static void fd_bn(const fd_state *s, double *t)
{
    for (int c = 0; c < FC; ++c) {
        double mean = 0.0, var = 0.0;
        for (int n = 0; n < FN; ++n)
            for (int i = 0; i < FS; ++i)
                mean += s->x[(n * FC + c) * FS + i];
        mean /= FN * FS;
        for (int n = 0; n < FN; ++n)
            for (int i = 0; i < FS; ++i) {
                const double d = s->x[(n * FC + c) * FS + i] - mean;
                var += d * d;
            }
        var /= FN * FS;
        for (int n = 0; n < FN; ++n)
            for (int i = 0; i < FS; ++i) {
                const int k = (n * FC + c) * FS + i;
                t[k] = (s->x[k] - mean) / sqrt(var + 1e-5) * s->gamma[c] + s->beta[c];
            }
    }
}

/* The skip term w * skip does not depend on x, gamma, beta: it drops out of the differences. */
static double fd_loss(const void *state)
{
    const fd_state *s = state;
    double t[FNUMEL], l = 0.0;
    fd_bn(s, t);
    for (int i = 0; i < FNUMEL; ++i)
        l += s->w[i] * (t[i] > 0.0 ? t[i] : 0.0);
    return l;
}

static void check_finite_differences(ds_ctx *ctx)
{
    ds_rng rng;
    ds_rng_init(&rng, 5, DS_RNG_TEST);
    ds_batchnorm3d bn;
    DS_CHECK_OK(ctx, ds_batchnorm3d_init(ctx, &bn, "bn", FC));
    ds_tensor *x = make(ctx, FN, FC, 1, 1, FS), *skip = make(ctx, FN, FC, 1, 1, FS);
    ds_tensor *y = make(ctx, FN, FC, 1, 1, FS), *dy = make(ctx, FN, FC, 1, 1, FS);
    ds_tensor *dx = make(ctx, FN, FC, 1, 1, FS);
    if (!x || !skip || !y || !dy || !dx)
        return;
    static fd_state s;
    bn.weight.value[0] = 1.3f;
    bn.weight.value[1] = -0.7f;
    bn.bias.value[0] = 0.2f;
    bn.bias.value[1] = -0.1f;
    lt_to_double(bn.weight.value, s.gamma, FC);
    lt_to_double(bn.bias.value, s.beta, FC);
    /* redraw until no pre-activation lies near the kink */
    double t[FNUMEL], near = 0.0;
    do {
        lt_fill_normal(&rng, x->data, FNUMEL, 0.0f, 1.0f);
        lt_to_double(x->data, s.x, FNUMEL);
        fd_bn(&s, t);
        near = INFINITY;
        for (int i = 0; i < FNUMEL; ++i)
            near = fmin(near, fabs(t[i]));
    } while (near < 1e-3);
    lt_fill_normal(&rng, skip->data, FNUMEL, 0.0f, 1.0f);
    lt_fill_normal(&rng, dy->data, FNUMEL, 0.0f, 1.0f);
    lt_to_double(dy->data, s.w, FNUMEL);
    memset(dx->data, 0, sizeof(float) * FNUMEL);
    memset(bn.weight.grad, 0, sizeof(float) * FC);
    memset(bn.bias.grad, 0, sizeof(float) * FC);
    DS_CHECK_OK(ctx, ds_batchnorm3d_forward_fused(ctx, &bn, x, skip, y, 1, DS_BN_RELU_ADD));
    DS_CHECK_OK(ctx, ds_batchnorm3d_relu_backward(ctx, &bn, x, dy, dx));
    double gx[FNUMEL], gg[FC], gb[FC];
    for (int i = 0; i < FNUMEL; ++i)
        gx[i] = lt_central_diff(fd_loss, &s, &s.x[i], 1e-6);
    for (int c = 0; c < FC; ++c) {
        gg[c] = lt_central_diff(fd_loss, &s, &s.gamma[c], 1e-6);
        gb[c] = lt_central_diff(fd_loss, &s, &s.beta[c], 1e-6);
    }
    const double ex = lt_rel_error(dx->data, gx, FNUMEL);
    const double eg = lt_rel_error(bn.weight.grad, gg, FC), eb = lt_rel_error(bn.bias.grad, gb, FC);
    printf("relu backward vs finite differences: dx %.2g, dgamma %.2g, dbeta %.2g\n", ex, eg, eb);
    DS_CHECK_MSG(ex < 1e-5 && eg < 1e-5 && eb < 1e-5, "relu backward: rel errors %.3g %.3g %.3g",
                 ex, eg, eb);
    ds_tensor *all[] = {x, skip, y, dy, dx};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; ++i)
        ds_tensor_free(all[i]);
    ds_batchnorm3d_free(&bn);
}

/* (c): forward (training, RELU_ADD), relu backward: everything a run produces, concatenated. */
static float *thread_run(ds_ctx *ctx, int threads, int64_t *count)
{
    ds_threads_set(ctx, threads);
    ds_rng rng;
    ds_rng_init(&rng, 9, DS_RNG_TEST);
    ds_batchnorm3d bn;
    init_bn(ctx, &bn, &rng);
    ds_tensor *x = make(ctx, BN_, BC, BD, BH, BW), *skip = make(ctx, BN_, BC, BD, BH, BW);
    ds_tensor *y = make(ctx, BN_, BC, BD, BH, BW), *dx = make(ctx, BN_, BC, BD, BH, BW);
    const int64_t n = x && skip && y && dx ? ds_tensor_numel(x) : 0;
    float *out = n ? calloc((size_t)(2 * n + 4 * BC), sizeof(float)) : NULL;
    if (out) {
        lt_fill_normal(&rng, x->data, n, 0.3f, 1.2f);
        lt_fill_normal(&rng, skip->data, n, 0.0f, 1.0f);
        memset(dx->data, 0, (size_t)n * sizeof(float));
        DS_CHECK_OK(ctx, ds_batchnorm3d_forward_fused(ctx, &bn, x, skip, y, 1, DS_BN_RELU_ADD));
        DS_CHECK_OK(ctx, ds_batchnorm3d_relu_backward(ctx, &bn, x, skip, dx));
        memcpy(out, y->data, (size_t)n * sizeof(float));
        memcpy(out + n, dx->data, (size_t)n * sizeof(float));
        memcpy(out + 2 * n, bn.weight.grad, BC * sizeof(float));
        memcpy(out + 2 * n + BC, bn.bias.grad, BC * sizeof(float));
        memcpy(out + 2 * n + 2 * BC, bn.running_mean, BC * sizeof(float));
        memcpy(out + 2 * n + 3 * BC, bn.running_var, BC * sizeof(float));
        *count = 2 * n + 4 * BC;
    }
    ds_tensor *all[] = {x, skip, y, dx};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; ++i)
        ds_tensor_free(all[i]);
    ds_batchnorm3d_free(&bn);
    return out;
}

static void check_threads(ds_ctx *ctx)
{
    int64_t n1 = 0;
    float *ref = thread_run(ctx, 1, &n1);
    static const int counts[] = {2, 3, 8};
    for (size_t k = 0; ref && k < sizeof counts / sizeof counts[0]; ++k) {
        int64_t n = 0;
        float *o = thread_run(ctx, counts[k], &n);
        DS_CHECK_MSG(o && n == n1 && same_bits(o, ref, n1),
                     "batchnorm fused: %d threads differ from 1 thread", counts[k]);
        free(o);
    }
    free(ref);
}

int main(void)
{
    ds_ctx *ctx = NULL;
    ds_ctx_create(&ctx);
    const ds_bn_epilogue all[] = {DS_BN_PLAIN, DS_BN_RELU, DS_BN_RELU_ADD, DS_BN_ADD_RELU};
    for (int training = 0; training <= 1; ++training)
        for (size_t e = 0; e < sizeof all / sizeof all[0]; ++e)
            check_against_unfused(ctx, all[e], training);
    for (int training = 0; training <= 1; ++training)
        for (int relu = 0; relu <= 1; ++relu)
            check_set(ctx, relu, training);
    check_finite_differences(ctx);
    check_threads(ctx);
    ds_ctx_free(ctx);
    return ds_test_finish("test_bn_fused");
}
