/* test_net_threads.c - both networks compute bit for bit the same at 1, 2, 3 and 8 threads
 * (ARCHITECTURE.md: results are deterministic for a seed, whatever the thread count).
 *
 * For the V-Net and the ResNet34-V-Net at width 16 on a 2x1x16x16x16 input: a whole training step
 * (a training forward with dropout, a backward, an SGD step with momentum and weight decay: logits,
 * feature, every parameter gradient and updated value, every BatchNorm running statistic), then
 * an evaluation forward (logits, feature). The reference is the 1-thread run; 2, 3 and 8 threads
 * split every parallel loop and GEMM differently, 3 unevenly, 8 over more threads than the
 * reductions had parts before they were cut for many cores (8 threads on 2 cores: a check of
 * results, not of speed).
 */
#include "ds_nets.h"
#include "ds_optim.h"
#include "ds_test.h"
#include "ds_threads.h"

#include <stdlib.h>
#include <string.h>

/* Everything a run produces, concatenated. */
typedef struct outputs {
    float *values;
    int64_t count, cap;
} outputs;

static void append(outputs *o, const float *v, int64_t n)
{
    if (o->count + n > o->cap) {
        const int64_t cap = 2 * (o->count + n);
        float *grown = realloc(o->values, (size_t)cap * sizeof *grown);
        DS_CHECK(grown != NULL);
        if (!grown)
            return;
        o->values = grown;
        o->cap = cap;
    }
    memcpy(o->values + o->count, v, (size_t)n * sizeof *v);
    o->count += n;
}

static void fill_normal(ds_tensor *t, uint64_t seed)
{
    ds_rng rng;
    ds_rng_init(&rng, seed, DS_RNG_TEST);
    for (int64_t i = 0; i < ds_tensor_numel(t); ++i)
        t->data[i] = ds_rng_normal(&rng);
}

/* The BatchNorm running statistics of a network, saved or restored (a training forward moves
 * them, and every run must start from the same state). */
static void batchnorm_state(ds_ctx *ctx, ds_net *net, float *saved, int restore)
{
    for (int b = 0; b < ds_net_batchnorm_count(net); ++b) {
        int channels;
        float *mean, *var;
        int64_t *tracked;
        ds_net_batchnorm_state(ctx, net, b, NULL, &channels, &mean, &var, &tracked);
        float *m = restore ? mean : saved, *v = restore ? var : saved + channels;
        memcpy(m, restore ? saved : mean, (size_t)channels * sizeof *m);
        memcpy(v, restore ? saved + channels : var, (size_t)channels * sizeof *v);
        if (restore)
            *tracked = 0;
        saved += 2 * channels;
    }
}

/* Training forward + backward, then an evaluation forward, at the given thread count. */
static outputs run(ds_ctx *ctx, ds_net *net, const ds_tensor *x, const ds_tensor *g,
                   const ds_tensor *gf, int threads, int64_t *train_count)
{
    outputs o = {NULL, 0, 0};
    ds_threads_set(ctx, threads);
    ds_rng drop;
    ds_rng_init(&drop, 7, DS_RNG_DROPOUT_A);
    const ds_param_list *params = ds_net_params(net);
    ds_param_list_zero_grad(ctx, (ds_param_list *)params);
    const ds_tensor *logits = NULL, *feature = NULL;
    DS_CHECK_OK(ctx, ds_net_forward(ctx, net, x, 1, &drop, &logits, &feature));
    if (!logits || !feature)
        return o;
    append(&o, logits->data, ds_tensor_numel(logits));
    append(&o, feature->data, ds_tensor_numel(feature));
    DS_CHECK_OK(ctx, ds_net_backward(ctx, net, g, gf));
    for (int k = 0; k < params->count; ++k)
        append(&o, params->items[k]->grad, params->items[k]->numel);
    /* the step, on a copy of the values (every run starts from the same weights) */
    float **kept = calloc((size_t)params->count, sizeof *kept);
    ds_sgd sgd;
    DS_CHECK_OK(ctx, ds_sgd_init(ctx, &sgd, params, 0.01f, 0.9f, 1e-4f));
    for (int k = 0; kept && k < params->count; ++k) {
        kept[k] = malloc((size_t)params->items[k]->numel * sizeof(float));
        if (kept[k])
            memcpy(kept[k], params->items[k]->value, (size_t)params->items[k]->numel * 4);
    }
    DS_CHECK_OK(ctx, ds_sgd_step(ctx, &sgd));
    DS_CHECK_OK(ctx, ds_sgd_step(ctx, &sgd)); /* the second uses the momentum */
    for (int k = 0; kept && k < params->count; ++k) {
        append(&o, params->items[k]->value, params->items[k]->numel);
        if (kept[k])
            memcpy(params->items[k]->value, kept[k], (size_t)params->items[k]->numel * 4);
        free(kept[k]);
    }
    free(kept);
    ds_sgd_free(&sgd);
    for (int b = 0; b < ds_net_batchnorm_count(net); ++b) {
        int channels;
        float *mean, *var;
        ds_net_batchnorm_state(ctx, net, b, NULL, &channels, &mean, &var, NULL);
        append(&o, mean, channels);
        append(&o, var, channels);
    }
    *train_count = o.count;
    DS_CHECK_OK(ctx, ds_net_forward(ctx, net, x, 0, NULL, &logits, &feature));
    if (logits && feature) {
        append(&o, logits->data, ds_tensor_numel(logits));
        append(&o, feature->data, ds_tensor_numel(feature));
    }
    return o;
}

/* Compares the runs at 2, 3 and 8 threads with the run at 1 thread, on one network made once
 * (its initialisation's independence of the thread count is test_rng's). */
static void compare_runs(ds_ctx *ctx, ds_net *net, const ds_tensor *x, const ds_tensor *g,
                         const ds_tensor *gf, float *saved)
{
    const char *name = ds_arch_name(ds_net_arch(net));
    int64_t train_count = 0;
    outputs ref = run(ctx, net, x, g, gf, 1, &train_count);
    DS_CHECK(train_count > 0 && ref.count > train_count);
    static const int counts[] = {2, 3, 8};
    for (size_t t = 0; t < sizeof counts / sizeof counts[0]; ++t) {
        const int threads = counts[t];
        int64_t count = 0;
        batchnorm_state(ctx, net, saved, 1);
        outputs o = run(ctx, net, x, g, gf, threads, &count);
        int64_t first_train = -1, first_eval = -1;
        for (int64_t i = 0; i < o.count && i < ref.count; ++i)
            if (memcmp(&o.values[i], &ref.values[i], sizeof(float)) != 0) {
                if (i < train_count && first_train < 0)
                    first_train = i;
                if (i >= train_count && first_eval < 0)
                    first_eval = i;
            }
        DS_CHECK(o.count == ref.count && count == train_count);
        DS_CHECK_MSG(first_train < 0, "%s, %d threads: training outputs differ from 1 thread's "
                     "from value %lld of %lld", name, threads, (long long)first_train,
                     (long long)train_count);
        DS_CHECK_MSG(first_eval < 0, "%s, %d threads: evaluation outputs differ from 1 thread's "
                     "from value %lld", name, threads, (long long)(first_eval - train_count));
        free(o.values);
    }
    free(ref.values);
}

static void check_arch(ds_ctx *ctx, ds_arch arch)
{
    ds_net *net = NULL;
    ds_tensor *x = NULL, *g = NULL, *gf = NULL;
    DS_CHECK_OK(ctx, ds_net_create(ctx, &net, arch, 1, 2, 16));
    DS_CHECK_OK(ctx, ds_tensor_create(ctx, &x, 2, 1, 16, 16, 16));
    DS_CHECK_OK(ctx, ds_tensor_create(ctx, &g, 2, 2, 16, 16, 16));
    DS_CHECK_OK(ctx, ds_tensor_create(ctx, &gf, 2, 16, 16, 16, 16));
    int64_t channels = 0;
    for (int b = 0; net && b < ds_net_batchnorm_count(net); ++b) {
        int c;
        ds_net_batchnorm_state(ctx, net, b, NULL, &c, NULL, NULL, NULL);
        channels += c;
    }
    float *saved = malloc((size_t)(2 * channels) * sizeof *saved);
    if (net && x && g && gf && saved) {
        ds_rng init;
        ds_rng_init(&init, 7, DS_RNG_INIT_A);
        DS_CHECK_OK(ctx, ds_net_init_weights(ctx, net, &init));
        fill_normal(x, 1);
        fill_normal(g, 2);
        fill_normal(gf, 3);
        batchnorm_state(ctx, net, saved, 0);
        compare_runs(ctx, net, x, g, gf, saved);
    }
    free(saved);
    ds_tensor_free(x);
    ds_tensor_free(g);
    ds_tensor_free(gf);
    ds_net_free(net);
}

int main(void)
{
    ds_ctx *ctx = NULL;
    ds_ctx_create(&ctx);
    check_arch(ctx, DS_ARCH_VNET);
    check_arch(ctx, DS_ARCH_RESNET34_VNET);
    ds_ctx_free(ctx);
    return ds_test_finish("test_net_threads");
}
