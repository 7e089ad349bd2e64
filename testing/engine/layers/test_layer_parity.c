/* test_layer_parity.c - parity with PyTorch 1.13 (float32, CPU) for BatchNorm3d (training and
 * evaluation), channel softmax, ReLU and SGD with MultiStepLR.
 *
 * Reference: testing/engine/layers/layer_fixtures.bin, written by make_layer_fixtures.py (run with
 * /usr/bin/python3; seeded, regenerates byte-identical files). Every array must agree within a
 * relative error (max |diff| / max |reference|) of 1e-4; SGD's trajectory, which involves no long
 * sums, within a few float32 roundings of every value (weight decay there moves the values
 * thousands of times more, which the test checks too).
 */
#include "ds_activation.h"
#include "ds_fixture.h"
#include "ds_norm.h"
#include "ds_optim.h"
#include "ds_test.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define TOL 1e-4

static const ds_fixture *fx;

static const ds_fixture_array *get(const char *name)
{
    const ds_fixture_array *a = ds_fixture_get(fx, name);
    DS_CHECK_MSG(a != NULL, "fixture array %s missing", name);
    return a;
}

/* A new tensor of the given shape holding the fixture array name (NULL if absent or mismatched). */
static ds_tensor *tensor_from(ds_ctx *ctx, const char *name, const ds_tensor *like)
{
    const ds_fixture_array *a = get(name);
    if (!a)
        return NULL;
    ds_tensor *t = NULL;
    if (a->ndim != 5) {
        DS_CHECK_MSG(0, "%s has %d dimensions", name, a->ndim);
        return NULL;
    }
    if (ds_tensor_create(ctx, &t, (int64_t)a->dims[0], (int64_t)a->dims[1], (int64_t)a->dims[2],
                         (int64_t)a->dims[3], (int64_t)a->dims[4]) != DS_OK)
        return NULL;
    if (like && !ds_tensor_same_shape(t, like)) {
        DS_CHECK_MSG(0, "%s has an unexpected shape", name);
        ds_tensor_free(t);
        return NULL;
    }
    ds_fixture_to_float(a, t->data);
    return t;
}

static void expect(const char *name, const float *got, size_t n)
{
    const ds_fixture_array *a = get(name);
    if (!a)
        return;
    DS_CHECK_MSG(a->numel == n, "%s: %zu values, want %zu", name, n, a->numel);
    if (a->numel != n)
        return;
    const double e = ds_fixture_rel_error(got, a);
    printf("  %-28s rel error %.2g\n", name, e);
    DS_CHECK_MSG(e <= TOL, "%s rel error %.3g", name, e);
}

static void load_vec(const char *name, float *out, size_t n)
{
    const ds_fixture_array *a = get(name);
    DS_CHECK(a && a->numel == n);
    if (a && a->numel == n)
        ds_fixture_to_float(a, out);
}

static void check_bn_train(ds_ctx *ctx)
{
    ds_tensor *x1 = tensor_from(ctx, "bn_train_x1", NULL);
    ds_tensor *x2 = tensor_from(ctx, "bn_train_x2", x1);
    ds_tensor *dy = tensor_from(ctx, "bn_train_dy", x1);
    if (!x1 || !x2 || !dy)
        goto done;
    ds_batchnorm3d bn;
    DS_CHECK_OK(ctx, ds_batchnorm3d_init(ctx, &bn, "bn", (int)x1->c));
    load_vec("bn_train_weight", bn.weight.value, (size_t)x1->c);
    load_vec("bn_train_bias", bn.bias.value, (size_t)x1->c);
    ds_tensor *y = NULL, *dx = NULL;
    DS_CHECK_OK(ctx, ds_tensor_create_like(ctx, &y, x1));
    DS_CHECK_OK(ctx, ds_tensor_zeros(ctx, &dx, x1->n, x1->c, x1->d, x1->h, x1->w));
    const size_t n = (size_t)ds_tensor_numel(x1), c = (size_t)x1->c;
    DS_CHECK_OK(ctx, ds_batchnorm3d_forward(ctx, &bn, x1, y, 1));
    expect("bn_train_y1", y->data, n);
    DS_CHECK_OK(ctx, ds_batchnorm3d_forward(ctx, &bn, x2, y, 1));
    expect("bn_train_y2", y->data, n);
    expect("bn_train_running_mean", bn.running_mean, c);
    expect("bn_train_running_var", bn.running_var, c);
    const ds_fixture_array *nbt = get("bn_train_num_batches_tracked");
    DS_CHECK(nbt && nbt->numel == 1 && (int64_t)nbt->data[0] == bn.num_batches_tracked);
    DS_CHECK_OK(ctx, ds_batchnorm3d_backward(ctx, &bn, x2, dy, dx));
    expect("bn_train_dx", dx->data, n);
    expect("bn_train_dweight", bn.weight.grad, c);
    expect("bn_train_dbias", bn.bias.grad, c);
    ds_tensor_free(y);
    ds_tensor_free(dx);
    ds_batchnorm3d_free(&bn);
done:
    ds_tensor_free(x1);
    ds_tensor_free(x2);
    ds_tensor_free(dy);
}

static void check_bn_eval(ds_ctx *ctx)
{
    ds_tensor *x = tensor_from(ctx, "bn_eval_x", NULL);
    ds_tensor *dy = tensor_from(ctx, "bn_eval_dy", x);
    if (!x || !dy)
        goto done;
    const size_t n = (size_t)ds_tensor_numel(x), c = (size_t)x->c;
    ds_batchnorm3d bn;
    DS_CHECK_OK(ctx, ds_batchnorm3d_init(ctx, &bn, "bn", (int)x->c));
    load_vec("bn_eval_weight", bn.weight.value, c);
    load_vec("bn_eval_bias", bn.bias.value, c);
    load_vec("bn_eval_running_mean", bn.running_mean, c);
    load_vec("bn_eval_running_var", bn.running_var, c);
    ds_tensor *y = NULL, *dx = NULL;
    DS_CHECK_OK(ctx, ds_tensor_create_like(ctx, &y, x));
    DS_CHECK_OK(ctx, ds_tensor_zeros(ctx, &dx, x->n, x->c, x->d, x->h, x->w));
    DS_CHECK_OK(ctx, ds_batchnorm3d_forward(ctx, &bn, x, y, 0));
    expect("bn_eval_y", y->data, n);
    expect("bn_eval_running_mean", bn.running_mean, c); /* unchanged in evaluation */
    expect("bn_eval_running_var", bn.running_var, c);
    DS_CHECK(bn.num_batches_tracked == 0);
    DS_CHECK_OK(ctx, ds_batchnorm3d_backward(ctx, &bn, x, dy, dx));
    expect("bn_eval_dx", dx->data, n);
    expect("bn_eval_dweight", bn.weight.grad, c);
    expect("bn_eval_dbias", bn.bias.grad, c);
    ds_tensor_free(y);
    ds_tensor_free(dx);
    ds_batchnorm3d_free(&bn);
done:
    ds_tensor_free(x);
    ds_tensor_free(dy);
}

/* softmax or relu: forward, then backward into zeros */
static void check_activation(ds_ctx *ctx, const char *prefix, int softmax)
{
    char name[64];
    snprintf(name, sizeof name, "%s_x", prefix);
    ds_tensor *x = tensor_from(ctx, name, NULL);
    snprintf(name, sizeof name, "%s_dy", prefix);
    ds_tensor *dy = tensor_from(ctx, name, x);
    ds_tensor *y = NULL, *dx = NULL;
    if (!x || !dy)
        goto done;
    const size_t n = (size_t)ds_tensor_numel(x);
    DS_CHECK_OK(ctx, ds_tensor_create_like(ctx, &y, x));
    DS_CHECK_OK(ctx, ds_tensor_zeros(ctx, &dx, x->n, x->c, x->d, x->h, x->w));
    DS_CHECK_OK(ctx, softmax ? ds_softmax_forward(ctx, x, y) : ds_relu_forward(ctx, x, y));
    DS_CHECK_OK(ctx, softmax ? ds_softmax_backward(ctx, y, dy, dx) : ds_relu_backward(ctx, y, dy, dx));
    snprintf(name, sizeof name, "%s_y", prefix);
    expect(name, y->data, n);
    snprintf(name, sizeof name, "%s_dx", prefix);
    expect(name, dx->data, n);
done:
    ds_tensor_free(x);
    ds_tensor_free(dy);
    ds_tensor_free(y);
    ds_tensor_free(dx);
}

/* Largest |a - b| over the elements of one step, in units of float32 rounding of the values
 * involved: 2^-24 (|b| + |prev|), prev the values before the step (a step rounds a few times at
 * that scale: g + wd p, momentum, p - lr buf). */
static double sgd_ulps(const double *a, const double *b, const double *prev, int64_t n)
{
    double worst = 0.0;
    for (int64_t i = 0; i < n; ++i) {
        const double scale = 0x1p-24 * (fabs(b[i]) + fabs(prev[i])) + 1e-30;
        worst = fmax(worst, fabs(a[i] - b[i]) / scale);
    }
    return worst;
}

static const double *as_double(const float *v, int64_t n, double *out)
{
    for (int64_t i = 0; i < n; ++i)
        out[i] = v[i];
    return out;
}

/* Float32 allows a few roundings per step, compounding over the 5 steps (measured: at most 1.1). */
#define SGD_ULPS 4.0

/* One parameter of the SGD fixture: its values before step s (the initial values at s = 0). */
static const double *sgd_prev(const ds_fixture_array *init, const ds_fixture_array *traj, int s,
                              int64_t n)
{
    return s ? traj->data + (s - 1) * n : init->data;
}

static void check_sgd(ds_ctx *ctx)
{
    const ds_fixture_array *g0 = get("sgd_g0"), *g1 = get("sgd_g1");
    const ds_fixture_array *t0 = get("sgd_p0_traj"), *t1 = get("sgd_p1_traj"), *lr = get("sgd_lr");
    const ds_fixture_array *u0 = get("sgd_p0_traj_nowd"), *u1 = get("sgd_p1_traj_nowd");
    const ds_fixture_array *i0 = get("sgd_p0_init"), *i1 = get("sgd_p1_init");
    if (!g0 || !g1 || !t0 || !t1 || !u0 || !u1 || !lr || !i0 || !i1)
        return;
    const int steps = (int)g0->dims[0];
    const int64_t n0 = (int64_t)i0->numel, n1 = (int64_t)i1->numel;
    const int sizes_ok = steps == 5 && lr->numel == (size_t)steps &&
                         t0->numel == (size_t)(steps * n0) && t1->numel == (size_t)(steps * n1) &&
                         u0->numel == t0->numel && u1->numel == t1->numel &&
                         g0->numel == t0->numel && g1->numel == t1->numel;
    DS_CHECK_MSG(sizes_ok, "sgd fixture arrays have unexpected sizes");
    if (!sizes_ok)
        return;
    ds_param p0, p1;
    DS_CHECK_OK(ctx, ds_param_init(ctx, &p0, "p0", n0));
    DS_CHECK_OK(ctx, ds_param_init(ctx, &p1, "p1", n1));
    ds_fixture_to_float(i0, p0.value);
    ds_fixture_to_float(i1, p1.value);
    float *g0f = malloc(g0->numel * sizeof(float)), *g1f = malloc(g1->numel * sizeof(float));
    double *v0 = malloc((size_t)n0 * sizeof(double)), *v1 = malloc((size_t)n1 * sizeof(double));
    ds_param_list list = {0};
    DS_CHECK_OK(ctx, ds_param_list_add(ctx, &list, &p0));
    DS_CHECK_OK(ctx, ds_param_list_add(ctx, &list, &p1));
    ds_sgd opt;
    /* torch.optim.SGD(lr=0.1, momentum=0.9, weight_decay=0.05), MultiStepLR([2, 4], 0.1) */
    DS_CHECK_OK(ctx, ds_sgd_init(ctx, &opt, &list, 0.1f, 0.9f, 0.05f));
    ds_lr_multistep sched = {0.1f, 0.1f, 2, {2, 4}};
    ds_sgd_set_schedule(&opt, ds_lr_multistep_at, &sched);
    if (g0f && g1f && v0 && v1) {
        ds_fixture_to_float(g0, g0f);
        ds_fixture_to_float(g1, g1f);
        for (int k = 0; k < steps; ++k) {
            memcpy(p0.grad, g0f + k * n0, (size_t)n0 * sizeof(float));
            memcpy(p1.grad, g1f + k * n1, (size_t)n1 * sizeof(float));
            DS_CHECK_OK(ctx, ds_sgd_step(ctx, &opt));
            DS_CHECK_CLOSE(opt.lr, lr->data[k], 1e-6, 0.0);
            const double *w0 = t0->data + k * n0, *w1 = t1->data + k * n1;
            const double *q0 = sgd_prev(i0, t0, k, n0), *q1 = sgd_prev(i1, t1, k, n1);
            const double e0 = sgd_ulps(as_double(p0.value, n0, v0), w0, q0, n0);
            const double e1 = sgd_ulps(as_double(p1.value, n1, v1), w1, q1, n1);
            /* The reference must be able to see weight decay: without it, PyTorch's own
             * trajectory is this far from the one with it, in the same units. */
            const double wd0 = sgd_ulps(u0->data + k * n0, w0, q0, n0);
            const double wd1 = sgd_ulps(u1->data + k * n1, w1, q1, n1);
            printf("  sgd step %d (lr %.4g): %.2g and %.2g roundings from PyTorch (allowed %g); "
                   "weight decay moves them %.3g and %.3g\n",
                   k, lr->data[k], e0, e1, SGD_ULPS, wd0, wd1);
            DS_CHECK_MSG(e0 <= SGD_ULPS && e1 <= SGD_ULPS,
                         "step %d: %.3g and %.3g roundings from PyTorch's values", k, e0, e1);
            DS_CHECK_MSG(wd0 >= 1000 * SGD_ULPS && wd1 >= 1000 * SGD_ULPS,
                         "step %d: the fixture's weight decay is too small to see (%.3g, %.3g)",
                         k, wd0, wd1);
        }
    }
    free(g0f);
    free(g1f);
    free(v0);
    free(v1);
    ds_sgd_free(&opt);
    ds_param_list_free(&list);
    ds_param_free(&p0);
    ds_param_free(&p1);
}

int main(void)
{
    ds_ctx *ctx = NULL;
    if (ds_ctx_create(&ctx) != DS_OK)
        return 1;
    ds_fixture *f = ds_fixture_load(DS_TESTING_DIR "/engine/layers/layer_fixtures.bin");
    DS_CHECK(f != NULL);
    if (f) {
        fx = f;
        check_bn_train(ctx);
        check_bn_eval(ctx);
        check_activation(ctx, "softmax", 1);
        check_activation(ctx, "relu", 0);
        check_sgd(ctx);
        ds_fixture_free(f);
    }
    ds_ctx_free(ctx);
    return ds_test_finish("test_layer_parity");
}
