/* test_optim.c - SGD (momentum, weight decay) and the MultiStepLR schedule (ds_optim.h).
 *
 * Reference: the update rule of torch.optim.SGD as documented (dampening 0, no Nesterov),
 * re-implemented here in double; MultiStepLR values computed by hand. Parity with PyTorch's own
 * trajectory is in test_layer_parity.c.
 */
#include "ds_optim.h"
#include "ds_threads.h"
#include "ds_test.h"
#include "layer_test_util.h"

#include <stdlib.h>
#include <string.h>

enum { STEPS = 7, N0 = 40000, N1 = 7 };

static void check_schedule(void)
{
    ds_lr_multistep s = {0.01f, 0.1f, 2, {5, 10}};
    DS_CHECK_CLOSE(ds_lr_multistep_at(&s, 0), 0.01, 1e-6, 0.0);
    DS_CHECK_CLOSE(ds_lr_multistep_at(&s, 4), 0.01, 1e-6, 0.0);
    DS_CHECK_CLOSE(ds_lr_multistep_at(&s, 5), 0.001, 1e-6, 0.0);
    DS_CHECK_CLOSE(ds_lr_multistep_at(&s, 9), 0.001, 1e-6, 0.0);
    DS_CHECK_CLOSE(ds_lr_multistep_at(&s, 10), 0.0001, 1e-6, 0.0);
    DS_CHECK_CLOSE(ds_lr_multistep_at(&s, 1000000), 0.0001, 1e-6, 0.0);
    /* Order does not matter; a repeated milestone applies gamma twice (as PyTorch's Counter). */
    ds_lr_multistep u = {1.0f, 0.5f, 3, {8, 3, 3}};
    DS_CHECK(ds_lr_multistep_at(&u, 2) == 1.0f);
    DS_CHECK(ds_lr_multistep_at(&u, 3) == 0.25f);
    DS_CHECK(ds_lr_multistep_at(&u, 8) == 0.125f);
    ds_lr_multistep none = {0.5f, 0.1f, 0, {0}};
    DS_CHECK(ds_lr_multistep_at(&none, 100) == 0.5f);
    DS_CHECK(ds_lr_multistep_at(NULL, 0) == 0.0f);
}

/* The documented rule in double: g = grad + wd p; buf = g (first) or mom buf + g; p -= lr buf. */
static void ref_step(double *p, double *buf, const double *g, int64_t n, double lr, double mom,
                     double wd, int first)
{
    for (int64_t i = 0; i < n; ++i) {
        const double d = g[i] + wd * p[i];
        buf[i] = first || mom == 0.0 ? d : mom * buf[i] + d;
        p[i] -= lr * buf[i];
    }
}

static void check_trajectory(ds_ctx *ctx, float momentum, float weight_decay)
{
    ds_rng rng;
    ds_rng_init(&rng, 77, DS_RNG_TEST);
    ds_param a, b;
    DS_CHECK_OK(ctx, ds_param_init(ctx, &a, "a", N0)); /* large enough to run in parallel */
    DS_CHECK_OK(ctx, ds_param_init(ctx, &b, "b", N1));
    lt_fill_normal(&rng, a.value, N0, 0.0f, 1.0f);
    lt_fill_normal(&rng, b.value, N1, 0.0f, 0.1f);
    static double pa[N0], ba[N0], ga[N0];
    double pb[N1], bb[N1] = {0}, gb[N1];
    lt_to_double(a.value, pa, N0);
    lt_to_double(b.value, pb, N1);
    ds_param_list list = {0};
    DS_CHECK_OK(ctx, ds_param_list_add(ctx, &list, &a));
    DS_CHECK_OK(ctx, ds_param_list_add(ctx, &list, &b));
    ds_sgd opt;
    DS_CHECK_OK(ctx, ds_sgd_init(ctx, &opt, &list, 0.5f, momentum, weight_decay));
    ds_param_list_free(&list); /* the optimiser keeps its own copy of the pointers */
    ds_lr_multistep sched = {0.5f, 0.1f, 2, {2, 5}};
    ds_sgd_set_schedule(&opt, ds_lr_multistep_at, &sched);
    double worst = 0.0;
    for (int k = 0; k < STEPS; ++k) {
        lt_fill_normal(&rng, a.grad, N0, 0.0f, 1.0f);
        lt_fill_normal(&rng, b.grad, N1, 0.0f, 1.0f);
        lt_to_double(a.grad, ga, N0);
        lt_to_double(b.grad, gb, N1);
        const float keep = a.grad[3];
        DS_CHECK_OK(ctx, ds_sgd_step(ctx, &opt));
        DS_CHECK(a.grad[3] == keep); /* gradients are read, not modified */
        const double lr = k < 2 ? 0.5 : k < 5 ? 0.05 : 0.005;
        DS_CHECK_CLOSE(opt.lr, lr, 1e-6, 0.0);
        ref_step(pa, ba, ga, N0, lr, momentum, weight_decay, k == 0);
        ref_step(pb, bb, gb, N1, lr, momentum, weight_decay, k == 0);
        worst = fmax(worst, lt_rel_error(a.value, pa, N0));
        worst = fmax(worst, lt_rel_error(b.value, pb, N1));
    }
    printf("sgd momentum %.1f weight decay %g: worst trajectory rel error %.2g\n",
           (double)momentum, (double)weight_decay, worst);
    DS_CHECK_MSG(worst < 1e-5, "trajectory rel error %.3g", worst);
    DS_CHECK(opt.steps == STEPS);
    ds_sgd_free(&opt);
    ds_sgd_free(&opt);
    ds_param_free(&a);
    ds_param_free(&b);
}

/* Parameters of odd sizes laid end to end, so that the threads' shares of the one region start
 * and end inside parameters: three steps with each thread count and with the zeroing variant
 * give the same bits as one thread's ds_sgd_step; the zeroing variant leaves every gradient 0. */
enum { LISTED = 5 };
static void run_steps(ds_ctx *ctx, int threads, int zero, float *out, float *out_buf)
{
    static const int64_t sizes[LISTED] = {40001, 7, 33, 17, 50003};
    DS_CHECK_OK(ctx, ds_threads_set(ctx, threads));
    ds_rng rng;
    ds_rng_init(&rng, 78, DS_RNG_TEST);
    ds_param p[LISTED];
    ds_param_list list = {0};
    for (int k = 0; k < LISTED; ++k) {
        DS_CHECK_OK(ctx, ds_param_init(ctx, &p[k], "p", sizes[k]));
        lt_fill_normal(&rng, p[k].value, sizes[k], 0.0f, 1.0f);
        DS_CHECK_OK(ctx, ds_param_list_add(ctx, &list, &p[k]));
    }
    ds_sgd opt;
    DS_CHECK_OK(ctx, ds_sgd_init(ctx, &opt, &list, 0.1f, 0.9f, 1e-3f));
    for (int step = 0; step < 3; ++step) {
        for (int k = 0; k < LISTED; ++k) /* a backward accumulates into the (zeroed) gradient */
            for (int64_t i = 0; i < sizes[k]; ++i)
                p[k].grad[i] += ds_rng_uniform(&rng) - 0.5f;
        DS_CHECK_OK(ctx, zero ? ds_sgd_step_zero_grad(ctx, &opt) : ds_sgd_step(ctx, &opt));
        int nonzero = 0;
        for (int k = 0; k < LISTED; ++k)
            for (int64_t i = 0; i < sizes[k]; ++i)
                nonzero += p[k].grad[i] != 0.0f;
        DS_CHECK_MSG(zero ? nonzero == 0 : nonzero > 0, "%d gradients non-zero after a step (zeroing %d)",
                     nonzero, zero);
        if (!zero)
            ds_param_list_zero_grad(ctx, &list);
    }
    for (int k = 0, o = 0; k < LISTED; o += (int)sizes[k], ++k) {
        memcpy(out + o, p[k].value, (size_t)sizes[k] * sizeof(float));
        memcpy(out_buf + o, opt.momentum_buf[k], (size_t)sizes[k] * sizeof(float));
        ds_param_free(&p[k]);
    }
    ds_sgd_free(&opt);
    ds_param_list_free(&list);
}

static void check_threads_and_zeroing(ds_ctx *ctx)
{
    enum { TOTAL = 40001 + 7 + 33 + 17 + 50003 };
    static float ref[TOTAL], ref_buf[TOTAL], got[TOTAL], got_buf[TOTAL];
    run_steps(ctx, 1, 0, ref, ref_buf);
    static const int counts[] = {1, 2, 3, 8};
    for (int c = 0; c < 4; ++c)
        for (int zero = 0; zero < 2; ++zero) {
            run_steps(ctx, counts[c], zero, got, got_buf);
            DS_CHECK_MSG(!memcmp(ref, got, sizeof ref) && !memcmp(ref_buf, got_buf, sizeof ref_buf),
                         "sgd with %d threads (zeroing %d) differs from one thread", counts[c], zero);
        }
    DS_CHECK_OK(ctx, ds_threads_set(ctx, 0));
}

static float bad_schedule(void *user, int64_t iteration)
{
    (void)user;
    return iteration < 1 ? 0.1f : -1.0f;
}

static void check_bad_input(ds_ctx *ctx)
{
    ds_param a;
    DS_CHECK_OK(ctx, ds_param_init(ctx, &a, "a", 4));
    memset(a.value, 0, 4 * sizeof(float));
    ds_param_list list = {0};
    DS_CHECK_OK(ctx, ds_param_list_add(ctx, &list, &a));
    ds_sgd opt;
    DS_CHECK_FAILS(ctx, ds_sgd_init(ctx, &opt, &list, -0.1f, 0.9f, 0.0f), DS_ERR_ARG);
    DS_CHECK_FAILS(ctx, ds_sgd_init(ctx, &opt, &list, 0.1f, NAN, 0.0f), DS_ERR_ARG);
    DS_CHECK_FAILS(ctx, ds_sgd_init(ctx, &opt, &list, 0.1f, 0.9f, -1e-4f), DS_ERR_ARG);
    DS_CHECK_FAILS(ctx, ds_sgd_init(ctx, &opt, NULL, 0.1f, 0.9f, 0.0f), DS_ERR_ARG);
    DS_CHECK_FAILS(ctx, ds_sgd_init(ctx, NULL, &list, 0.1f, 0.9f, 0.0f), DS_ERR_ARG);
    ds_param unallocated;
    memset(&unallocated, 0, sizeof unallocated);
    DS_CHECK_OK(ctx, ds_param_list_add(ctx, &list, &unallocated));
    DS_CHECK_FAILS(ctx, ds_sgd_init(ctx, &opt, &list, 0.1f, 0.9f, 0.0f), DS_ERR_ARG);
    list.count = 1;
    DS_CHECK_OK(ctx, ds_sgd_init(ctx, &opt, &list, 0.1f, 0.9f, 0.0f));
    ds_sgd_set_schedule(&opt, bad_schedule, NULL);
    a.grad[0] = 1.0f;
    DS_CHECK_OK(ctx, ds_sgd_step(ctx, &opt));
    DS_CHECK_CLOSE(a.value[0], -0.1, 1e-6, 0.0);
    DS_CHECK_FAILS(ctx, ds_sgd_step(ctx, &opt), DS_ERR_ARG); /* negative lr from the schedule */
    DS_CHECK_CLOSE(a.value[0], -0.1, 1e-6, 0.0);             /* and nothing changed */
    DS_CHECK_FAILS(ctx, ds_sgd_step(ctx, NULL), DS_ERR_ARG);
    ds_sgd_free(&opt);
    /* An empty list is a valid (idle) optimiser. */
    ds_param_list empty = {0};
    DS_CHECK_OK(ctx, ds_sgd_init(ctx, &opt, &empty, 0.1f, 0.9f, 0.0f));
    DS_CHECK_OK(ctx, ds_sgd_step(ctx, &opt));
    ds_sgd_free(&opt);
    ds_sgd_set_schedule(NULL, NULL, NULL);
    ds_param_list_free(&list);
    ds_param_free(&a);
}

int main(void)
{
    ds_ctx *ctx = NULL;
    if (ds_ctx_create(&ctx) != DS_OK)
        return 1;
    check_schedule();
    check_trajectory(ctx, 0.9f, 1e-4f);
    check_trajectory(ctx, 0.9f, 0.0f);
    check_trajectory(ctx, 0.0f, 1e-2f);
    check_threads_and_zeroing(ctx);
    check_bad_input(ctx);
    ds_ctx_free(ctx);
    return ds_test_finish("test_optim");
}
