/* test_pair_parity - the dual method trained for 10 SGD steps, every loss term on, against
 * PyTorch: from the same initial weights and batches (the hash formula of make_pair_parity.py,
 * reproduced here), the total loss of each network at every step is within 1 % of PyTorch's
 * float64 run (pair_parity.bin, make_pair_parity.py; its docstring gives the setup: ResNet34-V-Net
 * A and V-Net B of width 4, K = 3 and K = 2, 1 + 1 samples of 16x32x32 with a partial label, dropout off, CON
 * on every uncertain voxel so that no random draw enters, ramp 0.5 + 0.05 t, SGD lr 0.01,
 * momentum 0.9, weight decay 1e-4).
 * Also, at the first step: for each term switched on, the gradient reaching the parameters of each
 * network it trains changes (compared with the term off); switched off, a change of its weight
 * changes no parameter gradient. */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ds_fixture.h"
#include "ds_losses.h"
#include "ds_nets.h"
#include "ds_optim.h"
#include "ds_test.h"
#include "ds_threads.h"

#define STEPS 10
#define WIDTH 4
#define IGNORE 255

static const int64_t SHAPE[5] = {2, 1, 16, 32, 32};
/* The switch checks need no PyTorch: a smaller batch (same rules) keeps the test fast. */
static const int64_t SHAPE_REACH[5] = {2, 1, 16, 16, 16};

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

typedef struct pair {
    ds_net *net[2];
    ds_sgd sgd[2];
    ds_dual_loss *work;
    ds_tensor *x, *dz[2], *df[2];
    const int64_t *shape;
    int classes;
    uint16_t *labels;
    ds_loss_options opt;
    ds_rng rng;
} pair;

/* The convolutions' kernel family: AUTO, or Winograd on every kernel-3 stride-1 layer when the
 * test runs with the argument "winograd" (test_pair_parity_winograd). */
static ds_conv_algo conv_algo = DS_CONV_ALGO_AUTO;

static int pair_init(ds_ctx *ctx, const ds_fixture *fx, int classes, const int64_t *shape,
                     pair *p)
{
    static const ds_arch arch[2] = {DS_ARCH_RESNET34_VNET, DS_ARCH_VNET};
    static const char *const tag[2] = {"a", "b"};
    static const uint64_t base[2] = {0, 500};
    memset(p, 0, sizeof *p);
    p->shape = shape;
    p->classes = classes;
    for (int n = 0; n < 2; ++n) {
        char key[64];
        if (ds_net_create(ctx, &p->net[n], arch[n], 1, classes, WIDTH) != DS_OK)
            return 0;
        ds_net_set_dropout(p->net[n], 0);
        ds_net_set_conv_algo(p->net[n], conv_algo);
        const ds_param_list *params = ds_net_params(p->net[n]);
        snprintf(key, sizeof key, "k%d.%s.param_scale", classes, tag[n]);
        const ds_fixture_array *scale = ds_fixture_get(fx, key);
        snprintf(key, sizeof key, "k%d.%s.param_offset", classes, tag[n]);
        const ds_fixture_array *offset = ds_fixture_get(fx, key);
        if (!scale || !offset || (int)scale->numel != params->count)
            return 0;
        for (int k = 0; k < params->count; ++k)
            hash_fill(params->items[k]->value, params->items[k]->numel, base[n] + (uint64_t)k,
                      scale->data[k], offset->data[k]);
        if (ds_sgd_init(ctx, &p->sgd[n], params, 0.01f, 0.9f, 1e-4f) != DS_OK)
            return 0;
    }
    if (ds_dual_loss_create(ctx, &p->work) != DS_OK ||
        ds_tensor_create(ctx, &p->x, shape[0], shape[1], shape[2], shape[3], shape[4]) != DS_OK)
        return 0;
    p->labels = malloc((size_t)(shape[0] * shape[2] * shape[3] * shape[4]) * sizeof *p->labels);
    ds_loss_options_init(&p->opt);
    p->opt.max_uncertain = 1000000;
    ds_rng_init(&p->rng, 1, DS_RNG_CONTRAST);
    return p->labels != NULL;
}

static void pair_free(pair *p)
{
    for (int n = 0; n < 2; ++n) {
        ds_sgd_free(&p->sgd[n]);
        ds_net_free(p->net[n]);
        ds_tensor_free(p->dz[n]);
        ds_tensor_free(p->df[n]);
    }
    ds_dual_loss_free(p->work);
    ds_tensor_free(p->x);
    free(p->labels);
}

static void make_batch(pair *p, int step)
{
    const int64_t S = p->shape[2] * p->shape[3] * p->shape[4];
    hash_fill(p->x->data, ds_tensor_numel(p->x), 3000 + (uint64_t)step, 1.0, 0.0);
    for (int64_t v = 0; v < 2 * S; ++v) {
        const float x = p->x->data[v];
        if (p->classes == 3)
            p->labels[v] = (uint16_t)(x > 0.4f ? 2 : (x > -0.2f ? 1 : 0));
        else
            p->labels[v] = (uint16_t)(x > 0.2f);
        if (v >= S || v % p->shape[4] < 6)
            p->labels[v] = IGNORE;
    }
}

/* Forward of both networks, the losses, backward into freshly zeroed parameter gradients. */
static ds_status pair_gradients(ds_ctx *ctx, pair *p, float ramp, ds_loss_report *r)
{
    const ds_tensor *z[2], *f[2];
    for (int n = 0; n < 2; ++n) {
        ds_status st = ds_net_forward(ctx, p->net[n], p->x, 1, NULL, &z[n], &f[n]);
        if (st != DS_OK)
            return st;
        if (!p->dz[n] && (ds_tensor_create_like(ctx, &p->dz[n], z[n]) != DS_OK ||
                          ds_tensor_create_like(ctx, &p->df[n], f[n]) != DS_OK))
            return DS_ERR_NOMEM;
    }
    ds_loss_inputs in = {2, {z[0], z[1]}, {f[0], f[1]}, p->labels, IGNORE, ramp, &p->rng};
    ds_status st = ds_dual_loss_compute(ctx, p->work, &p->opt, &in, p->dz, p->df, r);
    for (int n = 0; n < 2 && st == DS_OK; ++n) {
        ds_param_list_zero_grad(ctx, (ds_param_list *)ds_net_params(p->net[n]));
        st = ds_net_backward(ctx, p->net[n], p->dz[n], p->df[n]);
    }
    return st;
}

static float *param_grads(const ds_net *net)
{
    const ds_param_list *params = ds_net_params(net);
    float *g = malloc((size_t)ds_param_list_numel(params) * sizeof *g), *at = g;
    for (int k = 0; k < params->count; ++k) {
        memcpy(at, params->items[k]->grad, (size_t)params->items[k]->numel * sizeof *g);
        at += params->items[k]->numel;
    }
    return g;
}

static int same_grads(const ds_net *net, const float *g)
{
    float *now = param_grads(net);
    const int same = memcmp(now, g, (size_t)ds_param_list_numel(ds_net_params(net)) * sizeof *g) == 0;
    free(now);
    return same;
}

/* Which networks a term trains with these options (bit 0: A, bit 1: B). */
static int trained_by(int term, const ds_loss_options *opt)
{
    return term == DS_LOSS_KL && opt->kl_direction == DS_KL_B_TEACHES_A ? 1 : 3;
}

/* Each term off in turn must change the parameter gradients of every network it trains; with
 * every term but CE off, multiplying all the weights of the terms that are off changes nothing. */
static void test_reach(ds_ctx *ctx, pair *p)
{
    const ds_loss_options keep = p->opt;
    ds_loss_report r;
    make_batch(p, 0);
    DS_CHECK_OK(ctx, pair_gradients(ctx, p, 0.5f, &r));
    float *all[2] = {param_grads(p->net[0]), param_grads(p->net[1])};
    for (int t = 0; t < DS_LOSS_TERM_COUNT; ++t) {
        p->opt = keep;
        p->opt.enabled[t] = 0;
        DS_CHECK_OK(ctx, pair_gradients(ctx, p, 0.5f, &r));
        for (int n = 0; n < 2; ++n)
            if (trained_by(t, &keep) & (1 << n))
                DS_CHECK_MSG(!same_grads(p->net[n], all[n]), "%s does not reach network %c",
                             ds_loss_term_name((ds_loss_term)t), "AB"[n]);
    }
    for (int pass = 0; pass < 2; ++pass) {
        p->opt = keep;
        for (int t = DS_LOSS_DICE; t < DS_LOSS_TERM_COUNT; ++t) {
            p->opt.enabled[t] = 0;
            p->opt.weight[t] *= pass ? 7.0f : 1.0f;
        }
        DS_CHECK_OK(ctx, pair_gradients(ctx, p, 0.5f, &r));
        for (int n = 0; n < 2; ++n) {
            if (pass == 0) {
                free(all[n]);
                all[n] = param_grads(p->net[n]);
            } else {
                DS_CHECK_MSG(same_grads(p->net[n], all[n]), "terms off still change network %c",
                             "AB"[n]);
            }
        }
    }
    p->opt = keep;
    free(all[0]);
    free(all[1]);
}

static void test_steps(ds_ctx *ctx, pair *p, const ds_fixture *fx)
{
    char key[3][64];
    snprintf(key[0], sizeof key[0], "k%d.totals", p->classes);
    snprintf(key[1], sizeof key[1], "k%d.totals_float32", p->classes);
    snprintf(key[2], sizeof key[2], "k%d.terms", p->classes);
    const ds_fixture_array *totals = ds_fixture_get(fx, key[0]);
    const ds_fixture_array *totals32 = ds_fixture_get(fx, key[1]);
    const ds_fixture_array *terms = ds_fixture_get(fx, key[2]);
    DS_CHECK(totals && totals32 && terms && totals->numel == 2 * STEPS);
    if (!totals || !totals32 || !terms || totals->numel != 2 * STEPS)
        return;
    double worst = 0.0;
    for (int step = 0; step < STEPS; ++step) {
        ds_loss_report r;
        make_batch(p, step);
        DS_CHECK_OK(ctx, pair_gradients(ctx, p, 0.5f + 0.05f * (float)step, &r));
        for (int n = 0; n < 2; ++n) {
            DS_CHECK_OK(ctx, ds_sgd_step(ctx, &p->sgd[n]));
            const double want = totals->data[2 * step + n];
            const double rel = fabs(r.total[n] - want) / fabs(want);
            worst = fmax(worst, rel);
            DS_CHECK_MSG(rel < 0.01, "K=%d step %d network %c: total %.6f, PyTorch %.6f",
                         p->classes, step, "AB"[n], r.total[n], want);
            for (int t = 0; t < DS_LOSS_TERM_COUNT; ++t)
                DS_CHECK(r.term[n][t] > 0.0 || terms->data[(2 * step + n) * 7 + t] == 0.0);
        }
        printf("K=%d step %d: L(A) %.6f (PyTorch %.6f, its float32 %.6f)  L(B) %.6f (PyTorch "
               "%.6f)  kept %.3f %.3f\n", p->classes, step, r.total[0], totals->data[2 * step],
               totals32->data[2 * step], r.total[1], totals->data[2 * step + 1],
               r.kept_fraction[0], r.kept_fraction[1]);
    }
    printf("K=%d: worst relative difference of a step's total: %.2e (limit 1e-2)\n",
           p->classes, worst);
}

int main(int argc, char **argv)
{
    if (argc > 1 && strcmp(argv[1], "winograd") == 0)
        conv_algo = DS_CONV_ALGO_WINOGRAD;
    printf("convolutions: %s\n", conv_algo == DS_CONV_ALGO_WINOGRAD ? "Winograd forced" : "auto");
    ds_ctx *ctx = NULL;
    if (ds_ctx_create(&ctx) != DS_OK)
        return 1;
    /* One thread: the checks do not depend on it (test_loss_terms covers thread counts), and
     * small layers on two threads spin in OpenMP barriers on a loaded machine (measured: 1.6 s
     * of CPU on one thread, 20-35 s on two beside other jobs). */
    DS_CHECK_OK(ctx, ds_threads_set(ctx, 1));
    ds_fixture *fx = ds_fixture_load(DS_TESTING_DIR "/losses/pair_parity.bin");
    DS_CHECK(fx != NULL);
    pair p;
    if (fx) {
        clock_t t0 = clock();
        for (int classes = 3; classes >= 2; --classes) {
            const int ok = pair_init(ctx, fx, classes, SHAPE, &p);
            DS_CHECK_MSG(ok, "pair setup (K = %d): %s", classes, ds_ctx_message(ctx));
            if (ok)
                test_steps(ctx, &p, fx);
            pair_free(&p);
        }
        printf("10 steps for K = 3 and K = 2: %.1f s of CPU\n",
               (double)(clock() - t0) / CLOCKS_PER_SEC);
        /* The switch checks are about the losses' gradients, not the convolutions: the Winograd
         * variant skips them (under the sanitizers they would double its time). */
        t0 = clock();
        if (conv_algo == DS_CONV_ALGO_AUTO) {
            if (pair_init(ctx, fx, 3, SHAPE_REACH, &p))
                test_reach(ctx, &p);
            printf("switch checks: %.1f s of CPU\n", (double)(clock() - t0) / CLOCKS_PER_SEC);
            pair_free(&p);
        }
    }
    ds_fixture_free(fx);
    ds_ctx_free(ctx);
    return ds_test_finish("test_pair_parity");
}
