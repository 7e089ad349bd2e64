/* test_net_behaviour.c - the networks' contracts beyond parity: determinism for a seed,
 * accumulation of gradients, reuse of memory across iterations, evaluation mode, scratch
 * sharing, and refusal of bad shapes and arguments. */
#include "ds_nets.h"
#include "ds_test.h"
#include "ds_threads.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static void fill_normal(ds_tensor *t, uint64_t seed)
{
    ds_rng rng;
    ds_rng_init(&rng, seed, DS_RNG_TEST);
    for (int64_t i = 0; i < ds_tensor_numel(t); ++i)
        t->data[i] = ds_rng_normal(&rng);
}

static float *copy_grads(const ds_param_list *params, int64_t total)
{
    float *out = malloc((size_t)total * sizeof *out);
    int64_t at = 0;
    for (int k = 0; k < params->count; ++k) {
        memcpy(out + at, params->items[k]->grad, (size_t)params->items[k]->numel * sizeof *out);
        at += params->items[k]->numel;
    }
    return out;
}

/* The activation report after a training step: its rows add up to ds_net_activation_bytes, a
 * count query gives the same count, the first unit (conv-BN-ReLU, full resolution) keeps its
 * conv output only (4 channels at width 4), the pool comes last and BasicBlocks keep 3 or 4. */
static void check_report(ds_ctx *ctx, ds_net *net, ds_arch arch, const ds_tensor *x)
{
    int count = 0, again = 0;
    DS_CHECK_OK(ctx, ds_net_activation_report(ctx, net, NULL, 0, &count));
    ds_net_activation_row rows[64];
    DS_CHECK(count > 4 && count <= 64);
    DS_CHECK_OK(ctx, ds_net_activation_report(ctx, net, rows, 64, &again));
    DS_CHECK(again == count);
    DS_CHECK_FAILS(ctx, ds_net_activation_report(ctx, net, NULL, 3, &again), DS_ERR_ARG);
    int64_t total = 0;
    for (int i = 0; i < count && i < 64; ++i) {
        total += rows[i].bytes;
        if (strncmp(rows[i].name, "layer", 5) == 0)
            DS_CHECK_MSG(rows[i].tensors == 3 || rows[i].tensors == 4, "%s keeps %d tensors",
                         rows[i].name, rows[i].tensors);
    }
    DS_CHECK(total == ds_net_activation_bytes(net));
    DS_CHECK(strcmp(rows[0].name, arch == DS_ARCH_VNET ? "block_one.conv.0" : "stem.0") == 0);
    DS_CHECK_MSG(rows[0].tensors == 1 && rows[0].bytes == ds_tensor_numel(x) * 4 * 4,
                 "%s keeps %d tensors, %lld bytes", rows[0].name, rows[0].tensors,
                 (long long)rows[0].bytes);
    DS_CHECK(count <= 64 && strcmp(rows[count - 1].name, "pool") == 0 && rows[count - 1].bytes > 0);
}

static void check_arch(ds_ctx *ctx, ds_arch arch)
{
    const char *name = ds_arch_name(arch);
    ds_net *net = NULL;
    DS_CHECK_OK(ctx, ds_net_create(ctx, &net, arch, 1, 3, 4));
    if (!net)
        return;
    ds_rng init;
    ds_rng_init(&init, 1337, DS_RNG_INIT_A);
    DS_CHECK_OK(ctx, ds_net_init_weights(ctx, net, &init));
    const ds_param_list *params = ds_net_params(net);
    DS_CHECK(strcmp(params->items[params->count - 1]->name, "out_conv.bias") == 0);
    DS_CHECK(strcmp(params->items[0]->name,
                    arch == DS_ARCH_VNET ? "block_one.conv.0.weight" : "stem.0.weight") == 0);

    ds_tensor *x = NULL, *g = NULL;
    ds_tensor_create(ctx, &x, 2, 1, 16, 32, 16);
    fill_normal(x, 11);

    /* Same seed: same dropout masks, same logits. */
    const ds_tensor *logits = NULL, *feature = NULL;
    ds_rng drop;
    ds_rng_init(&drop, 1337, DS_RNG_DROPOUT_A);
    DS_CHECK_OK(ctx, ds_net_forward(ctx, net, x, 1, &drop, &logits, &feature));
    DS_CHECK(logits && logits->n == 2 && logits->c == 3 && logits->d == 16 && logits->h == 32);
    DS_CHECK(feature && feature->c == 4);
    ds_tensor *first = NULL;
    ds_tensor_clone(ctx, &first, logits);
    ds_rng_init(&drop, 1337, DS_RNG_DROPOUT_A);
    DS_CHECK_OK(ctx, ds_net_forward(ctx, net, x, 1, &drop, &logits, &feature));
    DS_CHECK_MSG(memcmp(first->data, logits->data, (size_t)ds_tensor_numel(first) * 4) == 0,
                 "%s: same seed, different logits", name);
    DS_CHECK_OK(ctx, ds_tensor_check_finite(ctx, logits, "logits"));
    /* Dropout on: the feature has whole channels at zero (with 2 x 4 channels and p = 0.5, all
     * kept has probability 1/256; this seed drops some). */
    int zero_channels = 0;
    for (int64_t n = 0; n < feature->n; ++n)
        for (int64_t c = 0; c < feature->c; ++c) {
            int all_zero = 1;
            for (int64_t v = 0; v < ds_tensor_spatial_numel(feature); ++v)
                all_zero &= *ds_tensor_at(feature, n, c, 0, 0, 0) == 0.0f &&
                            feature->data[(n * feature->c + c) * ds_tensor_spatial_numel(feature) + v] == 0.0f;
            zero_channels += all_zero;
        }
    DS_CHECK_MSG(zero_channels > 0 && zero_channels < 8, "%s: %d dropped feature channels", name,
                 zero_channels);

    /* Gradients accumulate: two backward passes of the same forward give twice one (to rounding:
     * the second pass adds its tile sums onto the first pass's total, not onto zero). */
    ds_tensor_create_like(ctx, &g, logits);
    fill_normal(g, 12);
    ds_param_list_zero_grad(ctx, (ds_param_list *)params);
    DS_CHECK_OK(ctx, ds_net_backward(ctx, net, g, NULL));
    const int64_t total = ds_net_param_count(net);
    float *once = copy_grads(params, total);
    DS_CHECK_OK(ctx, ds_net_backward(ctx, net, g, NULL));
    float *twice = copy_grads(params, total);
    int64_t doubled = 0, nonzero = 0, at = 0;
    for (int k = 0; k < params->count; ++k) {
        const int64_t n = params->items[k]->numel;
        double scale = 0.0;
        for (int64_t i = 0; i < n; ++i)
            scale = fmax(scale, fabs(once[at + i]));
        for (int64_t i = 0; i < n; ++i) {
            doubled += fabs(twice[at + i] - 2.0 * once[at + i]) <= 1e-5 * scale;
            nonzero += once[at + i] != 0.0f;
        }
        at += n;
    }
    DS_CHECK_MSG(doubled == total, "%s: %lld of %lld gradients doubled", name, (long long)doubled,
                 (long long)total);
    /* Dropout (p = 0.5 on the bottleneck and the feature) silences whole channels, so many
     * gradients are exactly zero; still, most of the network must receive a gradient. */
    DS_CHECK_MSG(nonzero > total / 4, "%s: only %lld non-zero gradients", name, (long long)nonzero);
    free(once);
    free(twice);

    /* Memory: the third iteration uses exactly the buffers of the second. */
    const int64_t bytes_after_two = ds_net_activation_bytes(net);
    DS_CHECK_OK(ctx, ds_net_forward(ctx, net, x, 1, &drop, &logits, &feature));
    DS_CHECK_OK(ctx, ds_net_backward(ctx, net, g, NULL));
    DS_CHECK(ds_net_activation_bytes(net) == bytes_after_two);
    check_report(ctx, net, arch, x);

    /* Evaluation: deterministic, no dropout, running statistics; backward refused after it. */
    DS_CHECK_OK(ctx, ds_net_forward(ctx, net, x, 0, NULL, &logits, &feature));
    ds_tensor *eval1 = NULL;
    ds_tensor_clone(ctx, &eval1, logits);
    DS_CHECK_OK(ctx, ds_net_forward(ctx, net, x, 0, NULL, &logits, &feature));
    DS_CHECK(memcmp(eval1->data, logits->data, (size_t)ds_tensor_numel(eval1) * 4) == 0);
    DS_CHECK(memcmp(eval1->data, first->data, (size_t)ds_tensor_numel(eval1) * 4) != 0);
    DS_CHECK_FAILS(ctx, ds_net_backward(ctx, net, g, NULL), DS_ERR_ARG);

    /* Bad shapes and arguments. */
    ds_tensor *odd = NULL, *two_channels = NULL;
    ds_tensor_create(ctx, &odd, 1, 1, 16, 24, 16);
    ds_tensor_create(ctx, &two_channels, 1, 2, 16, 16, 16);
    DS_CHECK_FAILS(ctx, ds_net_forward(ctx, net, odd, 1, &drop, &logits, &feature), DS_ERR_SHAPE);
    DS_CHECK_FAILS(ctx, ds_net_forward(ctx, net, two_channels, 0, NULL, &logits, &feature),
                   DS_ERR_SHAPE);
    DS_CHECK_FAILS(ctx, ds_net_forward(ctx, net, x, 1, NULL, &logits, &feature), DS_ERR_ARG);
    DS_CHECK_OK(ctx, ds_net_forward(ctx, net, x, 1, &drop, &logits, &feature));
    DS_CHECK_FAILS(ctx, ds_net_backward(ctx, net, x, NULL), DS_ERR_SHAPE);
    DS_CHECK_FAILS(ctx, ds_net_backward(ctx, net, g, g), DS_ERR_SHAPE);

    ds_tensor_free(odd);
    ds_tensor_free(two_channels);
    ds_tensor_free(eval1);
    ds_tensor_free(first);
    ds_tensor_free(x);
    ds_tensor_free(g);
    ds_net_free(net);
}

/* One training step of a pair (both forwards, then both backwards, as the trainer does);
 * returns all gradients of both networks concatenated. */
static float *pair_step(ds_ctx *ctx, ds_net_scratch *shared, int64_t *total)
{
    ds_net *nets[2] = {NULL, NULL};
    ds_net_create(ctx, &nets[0], DS_ARCH_RESNET34_VNET, 1, 2, 4);
    ds_net_create(ctx, &nets[1], DS_ARCH_VNET, 1, 2, 4);
    ds_tensor *x = NULL, *g = NULL;
    ds_tensor_create(ctx, &x, 2, 1, 16, 16, 32);
    ds_tensor_create(ctx, &g, 2, 2, 16, 16, 32);
    fill_normal(x, 21);
    fill_normal(g, 22);
    *total = 0;
    for (int i = 0; i < 2; ++i) {
        ds_rng init;
        ds_rng_init(&init, 1337, i ? DS_RNG_INIT_B : DS_RNG_INIT_A);
        ds_net_init_weights(ctx, nets[i], &init);
        ds_net_use_scratch(nets[i], shared);
        *total += ds_net_param_count(nets[i]);
    }
    ds_rng drop[2];
    for (int i = 0; i < 2; ++i) {
        const ds_tensor *logits = NULL;
        ds_rng_init(&drop[i], 1337, i ? DS_RNG_DROPOUT_B : DS_RNG_DROPOUT_A);
        DS_CHECK_OK(ctx, ds_net_forward(ctx, nets[i], x, 1, &drop[i], &logits, NULL));
    }
    for (int i = 0; i < 2; ++i)
        DS_CHECK_OK(ctx, ds_net_backward(ctx, nets[i], g, NULL));
    float *a = copy_grads(ds_net_params(nets[0]), ds_net_param_count(nets[0]));
    float *b = copy_grads(ds_net_params(nets[1]), ds_net_param_count(nets[1]));
    float *all = malloc((size_t)*total * sizeof *all);
    memcpy(all, a, (size_t)ds_net_param_count(nets[0]) * sizeof *all);
    memcpy(all + ds_net_param_count(nets[0]), b, (size_t)ds_net_param_count(nets[1]) * sizeof *all);
    free(a);
    free(b);
    ds_tensor_free(x);
    ds_tensor_free(g);
    ds_net_free(nets[0]);
    ds_net_free(nets[1]);
    return all;
}

int main(void)
{
    ds_ctx *ctx = NULL;
    ds_ctx_create(&ctx);
    ds_threads_set(ctx, 2);
    check_arch(ctx, DS_ARCH_VNET);
    check_arch(ctx, DS_ARCH_RESNET34_VNET);

    /* (The initialisation's statistics are test_net_init's.) */

    /* A pair sharing one scratch (gradient pool and conv workspace) computes exactly what two
     * separate networks compute. */
    ds_net_scratch *shared = NULL;
    DS_CHECK_OK(ctx, ds_net_scratch_create(ctx, &shared));
    int64_t total_own = 0, total_shared = 0;
    float *own = pair_step(ctx, NULL, &total_own);
    float *with_shared = pair_step(ctx, shared, &total_shared);
    DS_CHECK(total_own == total_shared &&
             memcmp(own, with_shared, (size_t)total_own * sizeof *own) == 0);
    free(own);
    free(with_shared);
    ds_net_scratch_free(shared);

    /* Evaluation with a shared scratch: the second network's forward does not disturb the first
     * one's results (its feature stays lent to it), and evaluation holds far less memory than a
     * training forward of the same shape. */
    {
        ds_net *a = NULL, *b = NULL;
        ds_net_scratch *scratch = NULL;
        ds_net_create(ctx, &a, DS_ARCH_RESNET34_VNET, 1, 2, 4);
        ds_net_create(ctx, &b, DS_ARCH_VNET, 1, 2, 4);
        ds_net_scratch_create(ctx, &scratch);
        ds_rng init_ab;
        ds_rng_init(&init_ab, 3, DS_RNG_INIT_A);
        ds_net_init_weights(ctx, a, &init_ab);
        ds_net_init_weights(ctx, b, &init_ab);
        ds_net_use_scratch(a, scratch);
        ds_net_use_scratch(b, scratch);
        ds_tensor *x = NULL, *fa = NULL, *la = NULL;
        ds_tensor_create(ctx, &x, 1, 1, 32, 32, 32);
        fill_normal(x, 31);
        const ds_tensor *logits = NULL, *feature = NULL, *lb = NULL, *fb = NULL;
        DS_CHECK_OK(ctx, ds_net_forward(ctx, a, x, 0, NULL, &logits, &feature));
        ds_tensor_clone(ctx, &la, logits);
        ds_tensor_clone(ctx, &fa, feature);
        const int64_t eval_bytes = ds_net_activation_bytes(a);
        DS_CHECK_OK(ctx, ds_net_forward(ctx, b, x, 0, NULL, &lb, &fb));
        DS_CHECK(fb != feature);
        DS_CHECK(memcmp(feature->data, fa->data, (size_t)ds_tensor_numel(fa) * 4) == 0);
        DS_CHECK(memcmp(logits->data, la->data, (size_t)ds_tensor_numel(la) * 4) == 0);
        /* The same network's next forward reproduces its outputs exactly. */
        DS_CHECK_OK(ctx, ds_net_forward(ctx, a, x, 0, NULL, &logits, &feature));
        DS_CHECK(memcmp(feature->data, fa->data, (size_t)ds_tensor_numel(fa) * 4) == 0);
        ds_rng drop;
        ds_rng_init(&drop, 1, DS_RNG_DROPOUT_A);
        DS_CHECK_OK(ctx, ds_net_forward(ctx, a, x, 1, &drop, &logits, &feature));
        DS_CHECK_MSG(2 * eval_bytes < ds_net_activation_bytes(a),
                     "evaluation holds %lld bytes, training %lld", (long long)eval_bytes,
                     (long long)ds_net_activation_bytes(a));
        ds_tensor_free(x);
        ds_tensor_free(fa);
        ds_tensor_free(la);
        ds_net_free(a); /* gives its lent buffers back to the scratch */
        ds_net_free(b);
        ds_net_scratch_free(scratch);
    }

    ds_net *bad = NULL;
    DS_CHECK_FAILS(ctx, ds_net_create(ctx, &bad, DS_ARCH_VNET, 1, 1, 16), DS_ERR_ARG);
    DS_CHECK_FAILS(ctx, ds_net_create(ctx, &bad, DS_ARCH_VNET, 1, 2, 0), DS_ERR_ARG);
    DS_CHECK_FAILS(ctx, ds_net_create(ctx, &bad, (ds_arch)7, 1, 2, 16), DS_ERR_ARG);
    DS_CHECK_FAILS(ctx, ds_net_create(ctx, &bad, DS_ARCH_VNET, 0, 2, 16), DS_ERR_ARG);
    DS_CHECK(bad == NULL);

    ds_ctx_free(ctx);
    return ds_test_finish("test_net_behaviour");
}
