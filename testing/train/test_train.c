/* test_train.c - the trainer's behaviour: determinism, exact resume, warm start, cancel, the
 * CSV log, bad inputs, the memory estimate and its refusal. Runs tiny pairs (width 2, patch
 * 16^3) on phantoms (ds_phantom.h). References: the uninterrupted run itself (resume must equal
 * it bit for bit), the model file's weights (warm start with lr 0 must keep them), the
 * networks' own ds_net_activation_bytes after a real forward/backward (the estimate). */
#include "ds_phantom.h"
#include "ds_test.h"
#include "ds_threads.h"
#include "ds_train.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char dir[256];

static void path_in(char *out, size_t cap, const char *name)
{
    snprintf(out, cap, "%s/%s", dir, name);
}

/* K = 3 phantoms of 20^3 (smaller than nothing: the 16^3 patch crops them); case i is labelled
 * when i < labelled. */
static ds_train_data *make_data(ds_ctx *ctx, int count, int labelled, int classes)
{
    ds_load_options lo;
    ds_load_options_default(&lo);
    lo.num_classes = classes;
    ds_train_data *data = NULL;
    DS_CHECK_OK(ctx, ds_train_data_create(ctx, &lo, &data));
    ds_phantom_options po;
    ds_phantom_options_init(&po);
    po.size[0] = po.size[1] = po.size[2] = 20;
    po.classes = classes;
    for (int i = 0; i < count; ++i) {
        ds_volume *img = NULL, *lab = NULL;
        DS_CHECK_OK(ctx, ds_phantom_generate(ctx, &po, 7, (uint32_t)i, &img, &lab));
        DS_CHECK_OK(ctx, ds_volume_zscore(ctx, img, "phantom"));
        DS_CHECK_OK(ctx, ds_train_data_add(ctx, data, img, i < labelled ? lab : NULL));
        ds_volume_free(img);
        ds_volume_free(lab);
    }
    return data;
}

static void small_options(ds_train_options *o, int64_t iterations)
{
    ds_train_options_init(o);
    o->width = 2;
    o->iterations = iterations;
    o->batch.patch[0] = o->batch.patch[1] = o->batch.patch[2] = 16;
    o->loss.max_uncertain = 64;
}

/* Every parameter, BatchNorm buffer and momentum buffer of a and b are bit-identical. */
static int same_model(ds_model *a, ds_model *b)
{
    if (a->net_count != b->net_count || a->meta.iteration != b->meta.iteration)
        return 0;
    for (int i = 0; i < a->net_count; ++i) {
        const ds_param_list *pa = ds_net_params(a->net[i]), *pb = ds_net_params(b->net[i]);
        for (int p = 0; p < pa->count; ++p) {
            size_t n = (size_t)pa->items[p]->numel * sizeof(float);
            if (memcmp(pa->items[p]->value, pb->items[p]->value, n) != 0)
                return 0;
            if (a->has_optim && b->has_optim &&
                memcmp(a->optim[i].momentum_buf[p], b->optim[i].momentum_buf[p], n) != 0)
                return 0;
        }
        for (int k = 0; k < ds_net_batchnorm_count(a->net[i]); ++k) {
            const char *na, *nb;
            int ca, cb;
            float *ma, *va, *mb, *vb;
            int64_t *ta, *tb;
            ds_net_batchnorm_state(NULL, a->net[i], k, &na, &ca, &ma, &va, &ta);
            ds_net_batchnorm_state(NULL, b->net[i], k, &nb, &cb, &mb, &vb, &tb);
            if (memcmp(ma, mb, (size_t)ca * 4) || memcmp(va, vb, (size_t)ca * 4) || *ta != *tb)
                return 0;
        }
    }
    return 1;
}

static int cancel_at(void *user, const ds_train_progress *p)
{
    return p->iteration >= *(int64_t *)user;
}

/* Same seed and thread count (the environment's: 2 under ctest): bit-identical. */
static void test_determinism(ds_ctx *ctx, ds_train_data *data)
{
    ds_train_options o;
    small_options(&o, 3);
    ds_model *a = NULL, *b = NULL;
    ds_train_result r;
    DS_CHECK_OK(ctx, ds_train_run(ctx, &o, data, &a, &r));
    DS_CHECK(r.iterations_done == 3 && !r.resumed && !r.cancelled);
    DS_CHECK_OK(ctx, ds_train_run(ctx, &o, data, &b, &r));
    DS_CHECK_MSG(a && b && same_model(a, b), "two runs of the same seed differ (%d threads)",
                 ds_ctx_threads(ctx));
    ds_model_free(a);
    ds_model_free(b);
}

static void test_resume(ds_ctx *ctx, ds_train_data *data)
{
    ds_train_options o;
    small_options(&o, 4);
    ds_model *a = NULL, *c = NULL;
    ds_train_result r;
    DS_CHECK_OK(ctx, ds_train_run(ctx, &o, data, &a, &r));

    /* a different seed must give different weights (the comparison can fail) */
    ds_train_options o2 = o;
    o2.seed = 1338;
    ds_model *d = NULL;
    DS_CHECK_OK(ctx, ds_train_run(ctx, &o2, data, &d, &r));
    DS_CHECK(d && a && !same_model(a, d));
    ds_model_free(d);

    /* interrupted after iteration 2 (the callback stops it; a checkpoint is written), then
     * resumed from that checkpoint: equal to the uninterrupted run */
    char ckpt[512], log[512];
    path_in(ckpt, sizeof ckpt, "resume.dsm");
    path_in(log, sizeof log, "resume.csv");
    unlink(ckpt);
    int64_t stop = 2;
    ds_train_options oi = o;
    oi.checkpoint_path = ckpt;
    oi.checkpoint_every = 100;
    oi.log_path = log;
    oi.progress = cancel_at;
    oi.progress_user = &stop;
    DS_CHECK_OK(ctx, ds_train_run(ctx, &oi, data, NULL, &r));
    DS_CHECK(r.cancelled && r.iterations_done == 2);
    oi.progress = NULL;
    DS_CHECK_OK(ctx, ds_train_run(ctx, &oi, data, &c, &r));
    DS_CHECK(r.resumed && r.resumed_from == 2 && r.iterations_done == 4);
    DS_CHECK_MSG(c && a && same_model(a, c), "resumed run differs from the uninterrupted one");

    /* the log holds iterations 1..4 once each, in order */
    FILE *f = fopen(log, "r");
    char line[4096];
    int rows = 0, in_order = 1;
    DS_CHECK(f && fgets(line, sizeof line, f) && strncmp(line, "iteration,", 10) == 0);
    while (f && fgets(line, sizeof line, f))
        in_order &= atoi(line) == ++rows;
    if (f)
        fclose(f);
    DS_CHECK_MSG(rows == 4 && in_order, "log has %d rows", rows);
    /* resuming a finished run does nothing more */
    ds_model *e = NULL;
    DS_CHECK_OK(ctx, ds_train_run(ctx, &oi, data, &e, &r));
    DS_CHECK(r.resumed && r.iterations_done == 4 && e && same_model(a, e));
    ds_model_free(e);
    ds_model_free(a);
    ds_model_free(c);
}

static void test_warm_start(ds_ctx *ctx, ds_train_data *data)
{
    ds_train_options o;
    small_options(&o, 2);
    ds_model *a = NULL, *w = NULL;
    DS_CHECK_OK(ctx, ds_train_run(ctx, &o, data, &a, NULL));
    char path[512];
    path_in(path, sizeof path, "warm.dsm");
    DS_CHECK_OK(ctx, ds_model_save(ctx, a, path));
    /* lr 0: a warm start keeps the file's weights exactly; iterations restart at 0 */
    ds_train_options ow = o;
    ow.warm_start_path = path;
    ow.lr = 0.0f;
    ow.iterations = 1;
    ds_train_result r;
    DS_CHECK_OK(ctx, ds_train_run(ctx, &ow, data, &w, &r));
    DS_CHECK(r.iterations_done == 1 && w && w->optim[0].steps == 1);
    for (int i = 0; w && a && i < 2; ++i) {
        const ds_param_list *pa = ds_net_params(a->net[i]), *pw = ds_net_params(w->net[i]);
        int same = 1;
        for (int p = 0; p < pa->count; ++p)
            same &= memcmp(pa->items[p]->value, pw->items[p]->value,
                           (size_t)pa->items[p]->numel * 4) == 0;
        DS_CHECK_MSG(same, "warm start did not keep network %c's weights", 'A' + i);
    }
    ds_model_free(w);
    /* a model of another K, or of another mode, is refused */
    ds_train_data *k2 = make_data(ctx, 3, 2, 2);
    DS_CHECK_FAILS(ctx, ds_train_run(ctx, &ow, k2, NULL, NULL), DS_ERR_ARG);
    DS_CHECK(strstr(ds_ctx_message(ctx), "classes") != NULL);
    ds_train_data_free(k2);
    ow.pair = DS_PAIR_SINGLE;
    DS_CHECK_FAILS(ctx, ds_train_run(ctx, &ow, data, NULL, NULL), DS_ERR_ARG);
    ds_model_free(a);
}

/* The homogeneous pair: two V-Nets from different initialisation streams; the single network:
 * one V-Net, CE + Dice only, labelled samples only. */
static void test_modes(ds_ctx *ctx, ds_train_data *data)
{
    ds_train_options o;
    small_options(&o, 2);
    o.pair = DS_PAIR_HOMOGENEOUS;
    ds_model *m = NULL;
    ds_train_result r;
    DS_CHECK_OK(ctx, ds_train_run(ctx, &o, data, &m, &r));
    if (m) {
        DS_CHECK(m->net_count == 2 && ds_net_arch(m->net[0]) == DS_ARCH_VNET &&
                 ds_net_arch(m->net[1]) == DS_ARCH_VNET);
        const ds_param_list *a = ds_net_params(m->net[0]), *b = ds_net_params(m->net[1]);
        DS_CHECK(memcmp(a->items[0]->value, b->items[0]->value,
                        (size_t)a->items[0]->numel * 4) != 0);
        DS_CHECK(r.last.term[0][DS_LOSS_COS] > 0 && r.last.term[1][DS_LOSS_KL] > 0);
    }
    ds_model_free(m);
    o.pair = DS_PAIR_SINGLE;
    DS_CHECK_OK(ctx, ds_train_run(ctx, &o, data, &m, &r));
    DS_CHECK(m && m->net_count == 1 && ds_net_arch(m->net[0]) == DS_ARCH_VNET);
    DS_CHECK(r.last.term[0][DS_LOSS_CE] > 0 && r.last.term[0][DS_LOSS_DICE] > 0);
    for (int k = DS_LOSS_CR; k < DS_LOSS_TERM_COUNT; ++k)
        DS_CHECK_MSG(r.last.term[0][k] == 0, "term %s on in the single mode",
                     ds_loss_term_name((ds_loss_term)k));
    DS_CHECK(r.last.unlabelled_voxels == 0); /* labelled samples only */
    ds_model_free(m);
}

static void test_cancel_flag(ds_ctx *ctx, ds_train_data *data)
{
    ds_train_options o;
    small_options(&o, 50);
    volatile int flag = 1; /* set before the start: nothing runs, iteration 0 */
    o.cancel = &flag;
    ds_train_result r;
    ds_model *m = NULL;
    DS_CHECK_OK(ctx, ds_train_run(ctx, &o, data, &m, &r));
    DS_CHECK(r.cancelled && r.iterations_done == 0);
    ds_model_free(m);
}

static int set_flag(void *user, const ds_train_progress *p)
{
    if (p->iteration == 2)
        *(volatile int *)user = 1;
    return 0;
}

static void test_cancel_during(ds_ctx *ctx, ds_train_data *data)
{
    ds_train_options o;
    small_options(&o, 50);
    volatile int flag = 0;
    o.cancel = &flag;
    o.progress = set_flag;
    o.progress_user = (void *)&flag;
    ds_train_result r;
    DS_CHECK_OK(ctx, ds_train_run(ctx, &o, data, NULL, &r));
    DS_CHECK_MSG(r.cancelled && r.iterations_done == 2, "stopped at %lld",
                 (long long)r.iterations_done);
}

/* Validation every 2 iterations keeps the best model (without optimiser state) and its score. */
static void test_validation(ds_ctx *ctx, ds_train_data *data)
{
    ds_train_data *held = make_data(ctx, 2, 2, 3);
    ds_train_options o;
    small_options(&o, 4);
    char best[512], state[600];
    path_in(best, sizeof best, "best.dsm");
    snprintf(state, sizeof state, "%s.best", best);
    o.validation = held;
    o.validate_every = 2;
    o.best_model_path = best;
    ds_train_result r;
    DS_CHECK_OK(ctx, ds_train_run(ctx, &o, data, NULL, &r));
    DS_CHECK_MSG(r.best_validation_dice >= 0 && r.best_validation_dice <= 1 &&
                 (r.best_iteration == 2 || r.best_iteration == 4), "best %g at %lld",
                 r.best_validation_dice, (long long)r.best_iteration);
    ds_model *m = NULL;
    DS_CHECK_OK(ctx, ds_model_load(ctx, &m, best));
    DS_CHECK(m && !m->has_optim && m->meta.iteration == r.best_iteration);
    ds_model_free(m);
    FILE *f = fopen(state, "r");
    long long it = -1;
    double dice = -1;
    DS_CHECK(f && fscanf(f, "%lld %lf", &it, &dice) == 2);
    DS_CHECK(it == r.best_iteration && dice == r.best_validation_dice);
    if (f)
        fclose(f);
    /* validation without a validation set is refused */
    o.validation = NULL;
    DS_CHECK_FAILS(ctx, ds_train_run(ctx, &o, data, NULL, NULL), DS_ERR_ARG);
    ds_train_data_free(held);
}

static void test_bad_inputs(ds_ctx *ctx, ds_train_data *data)
{
    ds_train_options o;
    small_options(&o, 2);
    o.batch.patch[1] = 24;
    DS_CHECK_FAILS(ctx, ds_train_run(ctx, &o, data, NULL, NULL), DS_ERR_ARG);
    DS_CHECK(strstr(ds_ctx_message(ctx), "multiple of 16") != NULL);
    small_options(&o, 2);
    ds_train_data *none = make_data(ctx, 3, 0, 3);
    DS_CHECK_FAILS(ctx, ds_train_run(ctx, &o, none, NULL, NULL), DS_ERR_ARG);
    DS_CHECK(strstr(ds_ctx_message(ctx), "no labelled case") != NULL);
    ds_train_data_free(none);
    /* labels of background only: annotated, but nothing to learn */
    ds_load_options lo;
    ds_load_options_default(&lo);
    lo.num_classes = 2;
    DS_CHECK_OK(ctx, ds_train_data_create(ctx, &lo, &none));
    ds_phantom_options po;
    ds_phantom_options_init(&po);
    po.size[0] = po.size[1] = po.size[2] = 20;
    ds_volume *img = NULL, *lab = NULL;
    DS_CHECK_OK(ctx, ds_phantom_generate(ctx, &po, 7, 0, &img, &lab));
    if (lab)
        memset(lab->labels, 0, sizeof *lab->labels * (size_t)ds_volume_voxels(lab));
    DS_CHECK_OK(ctx, ds_train_data_add(ctx, none, img, lab));
    DS_CHECK(ds_train_data_labelled(none) == 1 && ds_train_data_foreground(none) == 0);
    DS_CHECK_FAILS(ctx, ds_train_run(ctx, &o, none, NULL, NULL), DS_ERR_ARG);
    DS_CHECK(strstr(ds_ctx_message(ctx), "background only") != NULL);
    ds_volume_free(img);
    ds_volume_free(lab);
    ds_train_data_free(none);
    o.batch.augment.rotate90 = 1;
    o.batch.augment.plane = DS_PLANE_XZ;
    o.batch.patch[2] = 32;
    DS_CHECK_FAILS(ctx, ds_train_run(ctx, &o, data, NULL, NULL), DS_ERR_ARG);
    DS_CHECK(strstr(ds_ctx_message(ctx), "equal patch sizes") != NULL);

    /* NaN: a diverging learning rate stops the run; the last checkpoint stays a good one */
    small_options(&o, 20);
    char ckpt[512];
    path_in(ckpt, sizeof ckpt, "diverge.dsm");
    unlink(ckpt);
    o.checkpoint_path = ckpt;
    o.checkpoint_every = 1;
    o.lr = 1e30f;
    ds_train_result r;
    DS_CHECK_FAILS(ctx, ds_train_run(ctx, &o, data, NULL, &r), DS_ERR_NUMERIC);
    DS_CHECK(strstr(ds_ctx_message(ctx), "diverged") != NULL);
    fprintf(stderr, "diverging run: %s\n", ds_ctx_message(ctx));
    ds_model *m = NULL;
    DS_CHECK_OK(ctx, ds_model_load(ctx, &m, ckpt));
    if (m) {
        DS_CHECK(m->meta.iteration >= 1 && m->meta.iteration < r.iterations_done + 1);
        int finite = 1;
        for (int i = 0; i < m->net_count; ++i) {
            const ds_param_list *l = ds_net_params(m->net[i]);
            for (int p = 0; p < l->count; ++p)
                for (int64_t k = 0; k < l->items[p]->numel; ++k)
                    finite &= isfinite(l->items[p]->value[k]) != 0;
        }
        DS_CHECK_MSG(finite, "the checkpoint left by a diverged run holds non-finite weights");
    }
    ds_model_free(m);
}

static void test_memory(ds_ctx *ctx, ds_train_data *data)
{
    ds_train_options o;
    small_options(&o, 1);
    o.memory_cap_bytes = (int64_t)1 << 20;
    DS_CHECK_FAILS(ctx, ds_train_run(ctx, &o, data, NULL, NULL), DS_ERR_NOMEM);
    DS_CHECK(strstr(ds_ctx_message(ctx), "the memory cap") != NULL &&
             strstr(ds_ctx_message(ctx), "MiB") != NULL);
    fprintf(stderr, "refusal: %s\n", ds_ctx_message(ctx));

    /* the activation estimate against the networks' own count after a real forward and
     * backward of the pair with one shared scratch, as the trainer runs it */
    o.memory_cap_bytes = 0;
    o.width = 3;
    o.batch.patch[0] = 32;
    o.batch.patch[2] = 32;
    ds_train_memory est;
    DS_CHECK_OK(ctx, ds_train_estimate_memory(ctx, &o, data, &est));
    ds_net *net[2] = {NULL, NULL};
    ds_net_scratch *scratch = NULL;
    ds_tensor *x = NULL, *g[2] = {NULL, NULL}, *gf[2] = {NULL, NULL};
    ds_rng rng;
    ds_rng_init(&rng, 1, DS_RNG_TEST);
    DS_CHECK_OK(ctx, ds_net_scratch_create(ctx, &scratch));
    DS_CHECK_OK(ctx, ds_tensor_zeros(ctx, &x, 4, 1, 32, 16, 32));
    double act = 0, params = 0, with_pool = 0;
    for (int i = 0; i < 2; ++i) {
        DS_CHECK_OK(ctx, ds_net_create(ctx, &net[i], i ? DS_ARCH_VNET : DS_ARCH_RESNET34_VNET, 1,
                                       3, 3));
        ds_net_use_scratch(net[i], scratch);
        const ds_tensor *lg, *ft;
        DS_CHECK_OK(ctx, ds_net_forward(ctx, net[i], x, 1, &rng, &lg, &ft));
        act += (double)ds_net_activation_bytes(net[i]);
        params += 12.0 * (double)ds_net_param_count(net[i]);
        DS_CHECK_OK(ctx, ds_tensor_zeros(ctx, &g[i], lg->n, lg->c, lg->d, lg->h, lg->w));
        DS_CHECK_OK(ctx, ds_tensor_zeros(ctx, &gf[i], ft->n, ft->c, ft->d, ft->h, ft->w));
    }
    for (int i = 0; i < 2; ++i)
        DS_CHECK_OK(ctx, ds_net_backward(ctx, net[i], g[i], gf[i]));
    /* each network's count now includes the one shared pool */
    with_pool = (double)ds_net_activation_bytes(net[0]) + (double)ds_net_activation_bytes(net[1]);
    double pool = (with_pool - act) / 2, measured = act + pool;
    DS_CHECK_MSG(fabs(params - (double)est.parameters) <= 16, "parameters %.0f vs %lld", params,
                 (long long)est.parameters);
    fprintf(stderr, "activations + pool: estimated %lld, measured %.0f\n",
            (long long)est.activations, measured);
    DS_CHECK_MSG(fabs((double)est.activations - measured) <= 0.01 * measured,
                 "estimate %lld, measured %.0f", (long long)est.activations, measured);
    for (int i = 0; i < 2; ++i) {
        ds_net_use_scratch(net[i], NULL);
        ds_net_free(net[i]);
        ds_tensor_free(g[i]);
        ds_tensor_free(gf[i]);
    }
    ds_tensor_free(x);
    ds_net_scratch_free(scratch);
}

int main(void)
{
    ds_ctx *ctx = NULL;
    ds_ctx_create(&ctx);
    snprintf(dir, sizeof dir, "/tmp/ds_test_train_XXXXXX");
    if (!mkdtemp(dir))
        return 1;
    ds_train_data *data = make_data(ctx, 5, 3, 3);
    test_determinism(ctx, data);
    /* the rest at one thread: tiny patches gain nothing from a second one on a busy machine */
    ds_threads_set(ctx, 1);
    test_resume(ctx, data);
    test_warm_start(ctx, data);
    test_modes(ctx, data);
    test_cancel_flag(ctx, data);
    test_cancel_during(ctx, data);
    test_validation(ctx, data);
    test_bad_inputs(ctx, data);
    test_memory(ctx, data);
    ds_train_data_free(data);
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    if (system(cmd) != 0)
        fprintf(stderr, "could not remove %s\n", dir);
    ds_ctx_free(ctx);
    printf("%d passed, %d failed\n", ds_test_passed, ds_test_failed);
    return ds_test_failed != 0;
}
