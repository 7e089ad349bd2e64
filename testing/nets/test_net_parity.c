/* test_net_parity.c - whole-network parity with PyTorch in float64 (fixtures from
 * make_net_fixtures.py, which explains the design and the tolerances).
 *
 * Training: the V-Net and the ResNet34-V-Net (K = 2, width 16) on a 1x1x32x32x32 input with
 * Dropout3d on. The weights, the input and the upstream gradients come from the hash formula
 * shared with the script (no weights are stored); the BatchNorm biases in front of every ReLU are
 * the ones the script chose so that no pre-activation lies near its threshold (float32 and float64
 * then take the same ReLU masks), and the dropout masks are those of the Philox stream the test
 * passes, reproduced by the script. The logits, the feature, every parameter's gradient and
 * every BatchNorm's running statistics must match: every row (output channel; input channel of
 * a transposed conv) by its norm, its projection on a hash vector and its values (all of them
 * up to 4096 per tensor, else at least 4 per row), every column (dim 1) by its norm, each error
 * scaled by the row's (column's) size, within 1e-3 (or 6x PyTorch float32's own error where that
 * is larger: the ResNet's 8-voxel bottleneck).
 *
 * Evaluation: both networks on a 1x1x16x16x16 input with running statistics from PyTorch
 * training forwards; logits and feature within 1e-4.
 */
#include "ds_fixture.h"
#include "ds_nets.h"
#include "ds_test.h"
#include "ds_threads.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define FULL_LIMIT 4096
#define SAMPLE_BUDGET 1024
#define SAMPLES_MIN 4
#define FLOOR 1e-2

/* Printed per network: largest error / tolerance, and the largest errors of ours and of
 * PyTorch's float32 run, both against the float64 reference. */
static double worst, worst_ours, worst_torch;

/* The hash of make_net_fixtures.py: values in [-1, 1). */
static double hash_uniform(uint64_t stream, uint64_t i)
{
    uint64_t x = (i * 2654435761u + stream * 40503u + 12345u) & 0xFFFFFFFFu;
    x ^= x >> 15;
    x = (x * 2246822519u) & 0xFFFFFFFFu;
    x ^= x >> 13;
    x = (x * 3266489917u) & 0xFFFFFFFFu;
    x ^= x >> 16;
    return (double)x / 2147483648.0 - 1.0;
}

static void hash_fill(float *v, int64_t n, uint64_t stream, double scale, double offset)
{
    for (int64_t i = 0; i < n; ++i)
        v[i] = (float)(offset + scale * hash_uniform(stream, (uint64_t)i));
}

/* The array "<prefix>.<key>", or NULL (silently: several entries are optional). */
static const ds_fixture_array *entry(const ds_fixture *fx, const char *prefix, const char *key)
{
    char name[160];
    snprintf(name, sizeof name, "%s.%s", prefix, key);
    for (int i = 0; i < fx->count; ++i)
        if (strcmp(fx->arrays[i].name, name) == 0)
            return &fx->arrays[i];
    return NULL;
}

/* Where the largest scaled error of a tensor was found. */
typedef struct where {
    double err;
    const char *what;
    int64_t index;
} where;

static void note(where *w, double err, const char *what, int64_t index)
{
    if (!(err <= w->err)) { /* NaN is the worst */
        w->err = err;
        w->what = what;
        w->index = index;
    }
}

/* Scaled error of n floats against the summary "<prefix>.*" (summary_error() of the script).
 * activation: the tensor is (1, C, ...) and its rows are channels; otherwise a parameter whose
 * rows are dim 0 (one row for vectors). Returns -1 when the summary is missing or mismatched. */
static double summary_error(const ds_fixture *fx, const char *prefix, const float *got, int64_t n,
                            int activation, where *w)
{
    const ds_fixture_array *shape = entry(fx, prefix, "shape");
    const ds_fixture_array *row_norm = entry(fx, prefix, "row_norm");
    if (!shape || !row_norm)
        return -1.0;
    int64_t numel = 1;
    for (size_t i = 0; i < shape->numel; ++i)
        numel *= (int64_t)shape->data[i];
    if (numel != n)
        return -1.0;
    const int64_t rows = activation ? (int64_t)shape->data[1]
                         : shape->numel >= 2 ? (int64_t)shape->data[0] : 1;
    const int64_t len = n / rows;
    if ((int64_t)row_norm->numel != rows)
        return -1.0;
    *w = (where){0.0, "", 0};
    double total = 0.0;
    for (int64_t r = 0; r < rows; ++r)
        total += row_norm->data[r] * row_norm->data[r];
    const double row_floor = FLOOR * sqrt(total / (double)rows);
    const ds_fixture_array *proj = entry(fx, prefix, "row_proj");
    for (int64_t r = 0; r < rows; ++r) {
        const float *g = got + r * len;
        double sq = 0.0, dot = 0.0, qq = 0.0;
        for (int64_t i = 0; i < len; ++i) {
            const double q = hash_uniform(7777, (uint64_t)(r * len + i));
            sq += (double)g[i] * g[i];
            dot += g[i] * q;
            qq += q * q;
        }
        const double scale = fmax(row_norm->data[r], row_floor);
        note(w, fabs(sqrt(sq) - row_norm->data[r]) / scale, "row norm", r);
        if (proj)
            note(w, fabs(dot - proj->data[r]) / (scale * sqrt(qq)), "row projection", r);
    }
    const ds_fixture_array *col_norm = entry(fx, prefix, "col_norm");
    if (col_norm && !activation) {
        const int64_t cols = (int64_t)shape->data[1], inner = len / cols;
        double col_total = 0.0;
        for (int64_t k = 0; k < cols; ++k)
            col_total += col_norm->data[k] * col_norm->data[k];
        for (int64_t k = 0; k < cols; ++k) {
            double sq = 0.0;
            for (int64_t r = 0; r < rows; ++r)
                for (int64_t i = 0; i < inner; ++i) {
                    const double g = got[(r * cols + k) * inner + i];
                    sq += g * g;
                }
            const double scale = fmax(col_norm->data[k], FLOOR * sqrt(col_total / (double)cols));
            note(w, fabs(sqrt(sq) - col_norm->data[k]) / scale, "column norm", k);
        }
    }
    const ds_fixture_array *full = entry(fx, prefix, "full");
    const ds_fixture_array *samples = entry(fx, prefix, "samples");
    const int64_t per_row = full ? len : (SAMPLE_BUDGET / rows > SAMPLES_MIN ? SAMPLE_BUDGET / rows
                                                                             : SAMPLES_MIN);
    const ds_fixture_array *values = full ? full : samples;
    if (!values || (int64_t)values->numel != rows * per_row)
        return -1.0;
    for (int64_t r = 0; r < rows; ++r) {
        const double rms = fmax(row_norm->data[r], row_floor) / sqrt((double)len);
        for (int64_t i = 0; i < per_row; ++i) {
            const uint64_t pos = full ? (uint64_t)i
                                      : ((uint64_t)i * 2654435761u + (uint64_t)r * 40503u + 17u) %
                                            (uint64_t)len;
            note(w, fabs(got[r * len + (int64_t)pos] - values->data[r * per_row + i]) / rms,
                 "element", r * len + (int64_t)pos);
        }
    }
    return w->err;
}

/* Checks a tensor against its fixture: within "<prefix>.tol", or, for a gradient that is exactly
 * zero in exact arithmetic ("<prefix>.zero"), below zero_tol in absolute terms. */
static int matches(const ds_fixture *fx, const char *prefix, const float *got, int64_t n,
                   int activation)
{
    const ds_fixture_array *zero = entry(fx, prefix, "zero");
    if (zero) {
        const ds_fixture_array *zero_tol = ds_fixture_get(fx, "zero_tol");
        double max_abs = 0.0;
        for (int64_t k = 0; k < n; ++k)
            max_abs = fmax(max_abs, fabs(got[k]));
        const int ok = zero_tol && max_abs <= zero_tol->data[0];
        if (!ok)
            fprintf(stderr, "%s: |grad| up to %.3g, should be ~0 (PyTorch float32: %.3g)\n",
                    prefix, max_abs, zero->data[0]);
        return ok;
    }
    const ds_fixture_array *tol = entry(fx, prefix, "tol");
    const ds_fixture_array *torch32 = entry(fx, prefix, "torch32");
    where w;
    const double err = summary_error(fx, prefix, got, n, activation, &w);
    const int ok = tol && err >= 0.0 && err <= tol->data[0];
    if (!ok)
        fprintf(stderr, "%s: %s %lld: scaled error %.3g, tolerance %.3g\n", prefix,
                err >= 0.0 ? w.what : "summary missing", (long long)(err >= 0.0 ? w.index : 0),
                err, tol ? tol->data[0] : 0.0);
    worst = fmax(worst, tol && err >= 0.0 ? err / tol->data[0] : INFINITY);
    worst_ours = fmax(worst_ours, err);
    if (torch32)
        worst_torch = fmax(worst_torch, torch32->data[0]);
    return ok;
}

static void report(const char *what, ds_arch arch)
{
    printf("%s %s: largest error / tolerance %.3f; largest scaled error: ours %.3g, PyTorch "
           "float32 %.3g\n", ds_arch_name(arch), what, worst, worst_ours, worst_torch);
    worst = worst_ours = worst_torch = 0.0;
}

/* The convolutions' kernel family: AUTO, or Winograd on every kernel-3 stride-1 layer when the
 * test runs with the argument "winograd" (test_net_parity_winograd). */
static ds_conv_algo conv_algo = DS_CONV_ALGO_AUTO;

/* A width-16 network with the fixture's hash weights and the parameters it overrides. */
static ds_net *make_net(ds_ctx *ctx, ds_arch arch, const ds_fixture *fx)
{
    ds_net *net = NULL;
    DS_CHECK_OK(ctx, ds_net_create(ctx, &net, arch, 1, 2, 16));
    ds_net_set_conv_algo(net, conv_algo);
    const ds_fixture_array *scale = ds_fixture_get(fx, "param_scale");
    const ds_fixture_array *offset = ds_fixture_get(fx, "param_offset");
    const ds_param_list *params = net ? ds_net_params(net) : NULL;
    DS_CHECK(params && scale && offset && (int)scale->numel == params->count);
    if (!params || !scale || !offset || (int)scale->numel != params->count) {
        ds_net_free(net);
        return NULL;
    }
    for (int k = 0; k < params->count; ++k) {
        ds_param *p = params->items[k];
        char prefix[32];
        snprintf(prefix, sizeof prefix, "param.%d", k);
        const ds_fixture_array *value = entry(fx, prefix, "value");
        if (value && (int64_t)value->numel == p->numel)
            ds_fixture_to_float(value, p->value);
        else
            hash_fill(p->value, p->numel, (uint64_t)k, scale->data[k], offset->data[k]);
        DS_CHECK(!value || (int64_t)value->numel == p->numel);
    }
    return net;
}

static ds_tensor *hash_input(ds_ctx *ctx, int64_t size)
{
    ds_tensor *x = NULL;
    DS_CHECK_OK(ctx, ds_tensor_create(ctx, &x, 1, 1, size, size, size));
    if (x)
        hash_fill(x->data, ds_tensor_numel(x), 1000, 1.0, 0.0);
    return x;
}

/* The feature's dropped channels are those of the fixture's mask. */
static void check_dropout(const ds_fixture *fx, const ds_tensor *feature)
{
    const ds_fixture_array *mask = ds_fixture_get(fx, "dropout.feature");
    DS_CHECK(mask && (int64_t)mask->numel == feature->c);
    if (!mask || (int64_t)mask->numel != feature->c)
        return;
    const int64_t plane = ds_tensor_spatial_numel(feature);
    int agree = 0;
    for (int64_t c = 0; c < feature->c; ++c) {
        int64_t nonzero = 0;
        for (int64_t i = 0; i < plane; ++i)
            nonzero += feature->data[c * plane + i] != 0.0f;
        agree += (nonzero == 0) == (mask->data[c] == 0.0);
    }
    DS_CHECK_MSG(agree == feature->c, "%d of %lld feature channels dropped as in the fixture",
                 agree, (long long)feature->c);
}

static void check_gradients(ds_ctx *ctx, ds_net *net, const ds_fixture *fx,
                            const ds_tensor *logits, const ds_tensor *feature)
{
    ds_tensor *g_logits = NULL, *g_feature = NULL;
    DS_CHECK_OK(ctx, ds_tensor_create_like(ctx, &g_logits, logits));
    DS_CHECK_OK(ctx, ds_tensor_create_like(ctx, &g_feature, feature));
    if (!g_logits || !g_feature)
        goto done;
    hash_fill(g_logits->data, ds_tensor_numel(g_logits), 1001,
              1.0 / (double)ds_tensor_numel(g_logits), 0.0);
    hash_fill(g_feature->data, ds_tensor_numel(g_feature), 1002,
              1.0 / (double)ds_tensor_numel(g_feature), 0.0);
    const ds_param_list *params = ds_net_params(net);
    ds_param_list_zero_grad(ctx, (ds_param_list *)params);
    DS_CHECK_OK(ctx, ds_net_backward(ctx, net, g_logits, g_feature));
    int grads_ok = 0;
    for (int k = 0; k < params->count; ++k) {
        char prefix[32];
        snprintf(prefix, sizeof prefix, "grad.%d", k);
        const int ok = matches(fx, prefix, params->items[k]->grad, params->items[k]->numel, 0);
        if (!ok)
            fprintf(stderr, "  (%s: %s)\n", ds_arch_name(ds_net_arch(net)), params->items[k]->name);
        grads_ok += ok;
    }
    DS_CHECK_MSG(grads_ok == params->count, "%s: %d of %d gradients match",
                 ds_arch_name(ds_net_arch(net)), grads_ok, params->count);
done:
    ds_tensor_free(g_logits);
    ds_tensor_free(g_feature);
}

static void check_training(ds_ctx *ctx, ds_arch arch, const char *fixture, int64_t expected_params)
{
    ds_fixture *fx = ds_fixture_load(fixture);
    DS_CHECK(fx != NULL);
    ds_net *net = fx ? make_net(ctx, arch, fx) : NULL;
    ds_tensor *x = hash_input(ctx, 32);
    const ds_fixture_array *count = fx ? ds_fixture_get(fx, "param_count") : NULL;
    const ds_fixture_array *seed = fx ? ds_fixture_get(fx, "dropout.seed") : NULL;
    const ds_fixture_array *purpose = fx ? ds_fixture_get(fx, "dropout.purpose") : NULL;
    DS_CHECK(count && seed && purpose && x);
    if (!net || !count || !seed || !purpose || !x)
        goto done;
    DS_CHECK((int64_t)count->data[0] == expected_params);
    DS_CHECK_MSG(ds_net_param_count(net) == expected_params, "%s: %lld parameters",
                 ds_arch_name(arch), (long long)ds_net_param_count(net));
    ds_rng drop;
    ds_rng_init(&drop, (uint64_t)seed->data[0], (uint32_t)purpose->data[0]);
    const ds_tensor *logits = NULL, *feature = NULL;
    DS_CHECK_OK(ctx, ds_net_forward(ctx, net, x, 1, &drop, &logits, &feature));
    if (!logits || !feature)
        goto done;
    DS_CHECK(logits->c == 2 && logits->d == 32 && feature->c == 16 && feature->w == 32);
    check_dropout(fx, feature);
    DS_CHECK_MSG(matches(fx, "logits", logits->data, ds_tensor_numel(logits), 1), "%s logits",
                 ds_arch_name(arch));
    DS_CHECK_MSG(matches(fx, "feature", feature->data, ds_tensor_numel(feature), 1), "%s feature",
                 ds_arch_name(arch));
    check_gradients(ctx, net, fx, logits, feature);
    int stats_ok = 0;
    for (int b = 0; b < ds_net_batchnorm_count(net); ++b) {
        int channels;
        float *mean, *var;
        char key[64];
        ds_net_batchnorm_state(ctx, net, b, NULL, &channels, &mean, &var, NULL);
        snprintf(key, sizeof key, "bn.%d.running_mean", b);
        const int mean_ok = matches(fx, key, mean, channels, 0);
        snprintf(key, sizeof key, "bn.%d.running_var", b);
        stats_ok += mean_ok && matches(fx, key, var, channels, 0);
    }
    DS_CHECK_MSG(stats_ok == ds_net_batchnorm_count(net), "%s: %d of %d BatchNorm statistics",
                 ds_arch_name(arch), stats_ok, ds_net_batchnorm_count(net));
    report("training", arch);
done:
    ds_tensor_free(x);
    ds_net_free(net);
    ds_fixture_free(fx);
}

static void check_evaluation(ds_ctx *ctx, ds_arch arch, const char *fixture)
{
    ds_fixture *fx = ds_fixture_load(fixture);
    DS_CHECK(fx != NULL);
    ds_net *net = fx ? make_net(ctx, arch, fx) : NULL;
    ds_tensor *x = hash_input(ctx, 16);
    if (!net || !x)
        goto done;
    int stats_ok = 0;
    for (int b = 0; b < ds_net_batchnorm_count(net); ++b) {
        int channels;
        float *mean, *var;
        char key[64];
        ds_net_batchnorm_state(ctx, net, b, NULL, &channels, &mean, &var, NULL);
        snprintf(key, sizeof key, "bn.%d.running_mean", b);
        const ds_fixture_array *m = ds_fixture_get(fx, key);
        snprintf(key, sizeof key, "bn.%d.running_var", b);
        const ds_fixture_array *v = ds_fixture_get(fx, key);
        if (m && v && (int)m->numel == channels && (int)v->numel == channels) {
            ds_fixture_to_float(m, mean);
            ds_fixture_to_float(v, var);
            ++stats_ok;
        }
    }
    DS_CHECK(stats_ok == ds_net_batchnorm_count(net));
    const ds_tensor *logits = NULL, *feature = NULL;
    DS_CHECK_OK(ctx, ds_net_forward(ctx, net, x, 0, NULL, &logits, &feature));
    if (logits && feature) {
        DS_CHECK_MSG(matches(fx, "logits", logits->data, ds_tensor_numel(logits), 1),
                     "%s evaluation logits", ds_arch_name(arch));
        DS_CHECK_MSG(matches(fx, "feature", feature->data, ds_tensor_numel(feature), 1),
                     "%s evaluation feature", ds_arch_name(arch));
    }
    report("evaluation", arch);
done:
    ds_tensor_free(x);
    ds_net_free(net);
    ds_fixture_free(fx);
}

int main(int argc, char **argv)
{
    if (argc > 1 && strcmp(argv[1], "winograd") == 0)
        conv_algo = DS_CONV_ALGO_WINOGRAD;
    printf("convolutions: %s\n", conv_algo == DS_CONV_ALGO_WINOGRAD ? "Winograd forced" : "auto");
    ds_ctx *ctx = NULL;
    ds_ctx_create(&ctx);
    ds_threads_set(ctx, 2);
    /* Parameter counts from the issue and from PyTorch (reference_models.py). */
    check_training(ctx, DS_ARCH_VNET, DS_TESTING_DIR "/nets/parity_vnet.bin", 9448866);
    check_training(ctx, DS_ARCH_RESNET34_VNET, DS_TESTING_DIR "/nets/parity_resnet34_vnet.bin",
                   17930354);
    check_evaluation(ctx, DS_ARCH_VNET, DS_TESTING_DIR "/nets/eval_vnet.bin");
    check_evaluation(ctx, DS_ARCH_RESNET34_VNET, DS_TESTING_DIR "/nets/eval_resnet34_vnet.bin");
    ds_ctx_free(ctx);
    return ds_test_finish("test_net_parity");
}
