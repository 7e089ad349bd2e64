/* test_net_init.c - ds_net_init_weights draws every parameter as the literature's PyTorch
 * initialisation does (reference_models.kaiming_init; expectations from make_state_fixture.py,
 * computed by torch's own fan-in and gain functions on the real modules):
 *   Conv3d weights          normal(0, sqrt(2 / fan_in))        (kaiming_normal_)
 *   ConvTranspose3d weights uniform(+-1 / sqrt(fan_in)), torch's fan_in = dim 1 * kernel volume
 *   conv biases             uniform(+-1 / sqrt(fan_in))         (PyTorch's default)
 *   BatchNorm               weight 1, bias 0, running statistics (0, 1), num_batches_tracked 0
 * for both networks at width 16, after every value was first set to garbage.
 *
 * Tolerances are 5 standard errors of the statistic over the tensor's n values: the mean within
 * 5 std / sqrt(n); the sample std within 5 x its relative standard error sqrt((kappa - 1) / 4n)
 * (kappa the kurtosis: 3 for a normal, 1.8 for a uniform); for normals of n >= 10^4 values the
 * kurtosis within 5 sqrt(24 / n) of 3 (at most 0.24, against the uniform's 1.8: the shape is
 * told apart); uniform values never beyond the bound. With a fixed seed the outcome is fixed; the
 * 5-sigma margins say that a correct implementation passes for essentially any seed (about 400
 * tensors x 3 statistics x 6e-7), while a wrong fan-in (a factor 2 in the transposed convs'
 * variance) misses by far more than 5 sigma on every tensor of 10^3 values or more.
 */
#include "ds_fixture.h"
#include "ds_nets.h"
#include "ds_test.h"
#include "ds_threads.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

enum { NORMAL = 1, UNIFORM = 2, CONSTANT = 3 };

static int check_param(const ds_param *p, int kind, double std, double bound, double value)
{
    const double n = (double)p->numel;
    if (kind == CONSTANT) {
        int64_t same = 0;
        for (int64_t i = 0; i < p->numel; ++i)
            same += p->value[i] == (float)value;
        DS_CHECK_MSG(same == p->numel, "%s: %lld of %lld values are %g", p->name, (long long)same,
                     (long long)p->numel, value);
        return same == p->numel;
    }
    double s = 0.0, outside = 0.0;
    for (int64_t i = 0; i < p->numel; ++i) {
        s += p->value[i];
        outside += kind == UNIFORM && fabs(p->value[i]) > bound;
    }
    const double mean = s / n;
    double m2 = 0.0, m4 = 0.0;
    for (int64_t i = 0; i < p->numel; ++i) {
        const double d = p->value[i] - mean, d2 = d * d;
        m2 += d2;
        m4 += d2 * d2;
    }
    const double sample_std = sqrt(m2 / n), kurtosis = (m4 / n) / ((m2 / n) * (m2 / n));
    const double rel_se = sqrt((kind == NORMAL ? 2.0 : 0.8) / (4.0 * n));
    int ok = 1;
    if (fabs(mean) > 5.0 * std / sqrt(n)) {
        fprintf(stderr, "%s: mean %.3g, more than 5 SE (%.3g) from 0\n", p->name, mean,
                std / sqrt(n));
        ok = 0;
    }
    if (fabs(sample_std / std - 1.0) > 5.0 * rel_se) {
        fprintf(stderr, "%s: std %.6g, PyTorch's %.6g (ratio %.4f, 5 SE = %.4f)\n", p->name,
                sample_std, std, sample_std / std, 5.0 * rel_se);
        ok = 0;
    }
    if (kind == NORMAL && n >= 1e4 && fabs(kurtosis - 3.0) > 5.0 * sqrt(24.0 / n)) {
        fprintf(stderr, "%s: kurtosis %.3f, a normal's is 3\n", p->name, kurtosis);
        ok = 0;
    }
    if (outside > 0) {
        fprintf(stderr, "%s: %.0f values beyond the bound %.6g\n", p->name, outside, bound);
        ok = 0;
    }
    DS_CHECK_MSG(ok, "%s (n = %lld)", p->name, (long long)p->numel);
    return ok;
}

static void check_arch(ds_ctx *ctx, const ds_fixture *fx, ds_arch arch)
{
    const char *name = ds_arch_name(arch);
    char key[64];
    const ds_fixture_array *e[4];
    static const char *fields[4] = {"kind", "std", "bound", "value"};
    for (int i = 0; i < 4; ++i) {
        snprintf(key, sizeof key, "%s.init.%s", name, fields[i]);
        e[i] = ds_fixture_get(fx, key);
    }
    ds_net *net = NULL;
    DS_CHECK_OK(ctx, ds_net_create(ctx, &net, arch, 1, 2, 16));
    if (!net || !e[0] || !e[1] || !e[2] || !e[3])
        goto done;
    const ds_param_list *params = ds_net_params(net);
    DS_CHECK_MSG((int)e[0]->numel == params->count, "%s: %d parameters, PyTorch has %zu", name,
                 params->count, e[0]->numel);
    if ((int)e[0]->numel != params->count)
        goto done;
    /* Garbage first: initialisation must set everything, including the BatchNorm buffers. */
    for (int k = 0; k < params->count; ++k)
        for (int64_t i = 0; i < params->items[k]->numel; ++i)
            params->items[k]->value[i] = 7.0f;
    for (int b = 0; b < ds_net_batchnorm_count(net); ++b) {
        int channels;
        float *mean, *var;
        int64_t *tracked;
        ds_net_batchnorm_state(ctx, net, b, NULL, &channels, &mean, &var, &tracked);
        for (int c = 0; c < channels; ++c) {
            mean[c] = 3.0f;
            var[c] = 5.0f;
        }
        *tracked = 9;
    }
    ds_rng rng;
    ds_rng_init(&rng, 1337, DS_RNG_INIT_A);
    DS_CHECK_OK(ctx, ds_net_init_weights(ctx, net, &rng));
    int ok = 0;
    for (int k = 0; k < params->count; ++k)
        ok += check_param(params->items[k], (int)e[0]->data[k], e[1]->data[k], e[2]->data[k],
                          e[3]->data[k]);
    DS_CHECK_MSG(ok == params->count, "%s: %d of %d parameters initialised as PyTorch does", name,
                 ok, params->count);
    int stats_ok = 0;
    for (int b = 0; b < ds_net_batchnorm_count(net); ++b) {
        int channels, good = 1;
        float *mean, *var;
        int64_t *tracked;
        ds_net_batchnorm_state(ctx, net, b, NULL, &channels, &mean, &var, &tracked);
        for (int c = 0; c < channels; ++c)
            good &= mean[c] == 0.0f && var[c] == 1.0f;
        stats_ok += good && *tracked == 0;
    }
    DS_CHECK_MSG(stats_ok == ds_net_batchnorm_count(net), "%s: %d of %d BatchNorms at (0, 1), 0",
                 name, stats_ok, ds_net_batchnorm_count(net));
    printf("%s: %d parameters and %d BatchNorms checked\n", name, params->count,
           ds_net_batchnorm_count(net));
done:
    ds_net_free(net);
}

int main(void)
{
    ds_ctx *ctx = NULL;
    ds_ctx_create(&ctx);
    ds_threads_set(ctx, 2);
    ds_fixture *fx = ds_fixture_load(DS_TESTING_DIR "/nets/state_dict.bin");
    DS_CHECK(fx != NULL);
    if (fx) {
        check_arch(ctx, fx, DS_ARCH_VNET);
        check_arch(ctx, fx, DS_ARCH_RESNET34_VNET);
    }
    ds_fixture_free(fx);
    ds_ctx_free(ctx);
    return ds_test_finish("test_net_init");
}
