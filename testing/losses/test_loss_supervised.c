/* test_loss_supervised - the supervised terms (CE, soft Dice on labelled voxels, ignore label
 * excluded) through ds_dual_loss_compute with one network, the options and the argument checks.
 * References: loss_fixtures.bin (make_loss_fixtures.py: PyTorch float64 autograd on the same
 * float32 inputs, cases sup_k2 and sup_k3) and central finite differences in double of the C
 * total (step 1e-3 on the logits; no discrete decision enters CE or Dice). */
#include <stdlib.h>
#include <string.h>

#include "loss_test_util.h"
#include "ds_threads.h"

static void test_options(ds_ctx *ctx)
{
    ds_loss_options o;
    ds_loss_options_init(&o);
    static const float want[DS_LOSS_TERM_COUNT] = {1.0f, 1.0f, 0.5f, 1.0f, 1.0f, 0.1f, 1.0f};
    for (int t = 0; t < DS_LOSS_TERM_COUNT; ++t) {
        DS_CHECK(o.enabled[t] == 1);
        DS_CHECK(o.weight[t] == want[t]);
    }
    DS_CHECK(o.confidence == 0.6f && o.percentile == 80.0f && o.tau == 0.1f);
    DS_CHECK(o.max_uncertain == 2000 && o.dice_smooth == 1e-5f);
    DS_CHECK(o.mask_mode == DS_ENTROPY_MASK_GLOBAL && o.pseudo_mode == DS_PSEUDO_PER_NETWORK &&
             o.kl_direction == DS_KL_BOTH);
    DS_CHECK_OK(ctx, ds_loss_options_check(ctx, &o, 2));
    DS_CHECK_OK(ctx, ds_loss_options_check(ctx, &o, 3));

    struct { const char *name; ds_loss_options o; int classes; } bad[12];
    for (int i = 0; i < 12; ++i) {
        bad[i].o = o;
        bad[i].classes = 3;
    }
    bad[0].o.weight[DS_LOSS_KL] = -1.0f;           bad[0].name = "weight[kl]";
    bad[1].o.weight[DS_LOSS_CE] = NAN;             bad[1].name = "weight[ce]";
    bad[2].o.confidence = 0.0f;                    bad[2].name = "confidence";
    bad[3].o.confidence = 1.5f;                    bad[3].name = "confidence";
    bad[4].o.percentile = 100.5f;                  bad[4].name = "percentile";
    bad[5].o.percentile = -1.0f;                   bad[5].name = "percentile";
    bad[6].o.tau = 0.0f;                           bad[6].name = "tau";
    bad[7].o.max_uncertain = 0;                    bad[7].name = "max_uncertain";
    bad[8].o.pseudo_mode = DS_PSEUDO_UNION;        bad[8].name = "union";
    bad[9].classes = 1;                            bad[9].name = "classes";
    bad[10].o.enabled[DS_LOSS_COS] = 2;            bad[10].name = "enabled[cos]";
    bad[11].o.dice_smooth = 0.0f;                  bad[11].name = "dice_smooth";
    for (int i = 0; i < 12; ++i) {
        DS_CHECK_FAILS(ctx, ds_loss_options_check(ctx, &bad[i].o, bad[i].classes), DS_ERR_ARG);
        DS_CHECK_MSG(strstr(ds_ctx_message(ctx), bad[i].name) != NULL, "'%s' lacks '%s'",
                     ds_ctx_message(ctx), bad[i].name);
    }
    o.pseudo_mode = DS_PSEUDO_UNION;
    DS_CHECK_OK(ctx, ds_loss_options_check(ctx, &o, 2));

    static const char *const names[] = {"ce", "dice", "cr", "cce", "kl", "con", "cos"};
    for (int t = 0; t < DS_LOSS_TERM_COUNT; ++t)
        DS_CHECK(strcmp(ds_loss_term_name((ds_loss_term)t), names[t]) == 0);
    DS_CHECK(strcmp(ds_loss_term_name(DS_LOSS_TERM_COUNT), "unknown") == 0);
}

/* Value and gradient against PyTorch, and the gradient of each term alone against finite
 * differences. */
static void test_case(ds_ctx *ctx, ds_dual_loss *work, const ds_fixture *fx, const char *name)
{
    loss_case c;
    if (!lc_load(ctx, fx, name, &c)) {
        DS_CHECK_MSG(0, "case %s missing", name);
        lc_free(&c);
        return;
    }
    ds_loss_report r;
    DS_CHECK_OK(ctx, lc_run(ctx, work, &c, &r));
    for (int t = 0; t < DS_LOSS_TERM_COUNT; ++t)
        DS_CHECK_CLOSE(r.term[0][t], c.terms->data[t], 1e-5, 1e-7);
    DS_CHECK_CLOSE(r.total[0], c.totals->data[0], 1e-5, 1e-7);
    const double err = lc_rel_error(c.dz[0], c.want_dz[0]);
    DS_CHECK_MSG(err < 1e-5, "%s: dlogits relative error %g", name, err);
    int64_t lab = 0;
    for (int64_t v = 0; v < c.z[0]->n * c.z[0]->d * c.z[0]->h * c.z[0]->w; ++v)
        lab += c.labels[v] != 255;
    DS_CHECK(r.labelled_voxels == lab && r.unlabelled_voxels > 0);

    /* The gradient is zero on every unlabelled voxel (ignore label excluded). */
    const int64_t K = c.z[0]->c, S = c.z[0]->d * c.z[0]->h * c.z[0]->w;
    int zero_off_labels = 1;
    for (int64_t v = 0; v < c.z[0]->n * S; ++v)
        for (int64_t k = 0; k < K && c.labels[v] == 255; ++k)
            zero_off_labels &= c.dz[0]->data[((v / S) * K + k) * S + v % S] == 0.0f;
    DS_CHECK(zero_off_labels);

    float *grad = malloc((size_t)ds_tensor_numel(c.z[0]) * sizeof *grad);
    for (int t = DS_LOSS_CE; t <= DS_LOSS_DICE; ++t) {
        loss_case one = c;
        for (int u = 0; u < DS_LOSS_TERM_COUNT; ++u)
            one.opt.enabled[u] = u == t;
        DS_CHECK_OK(ctx, lc_run(ctx, work, &one, &r));
        memcpy(grad, one.dz[0]->data, (size_t)ds_tensor_numel(c.z[0]) * sizeof *grad);
        const double worst = lc_check_fd(ctx, work, &one, 0, one.z[0], grad, 48, 1e-3f, 2e-3,
                                         ds_loss_term_name((ds_loss_term)t));
        printf("%s %s: finite-difference worst relative error %.2e\n", name,
               ds_loss_term_name((ds_loss_term)t), worst);
    }
    free(grad);
    lc_free(&c);
}

static void test_errors(ds_ctx *ctx, ds_dual_loss *work, const ds_fixture *fx)
{
    loss_case c;
    if (!lc_load(ctx, fx, "sup_k3", &c)) {
        DS_CHECK_MSG(0, "case sup_k3 missing");
        lc_free(&c);
        return;
    }
    ds_loss_report r;
    c.opt.enabled[DS_LOSS_KL] = 1;
    DS_CHECK_FAILS(ctx, lc_run(ctx, work, &c, &r), DS_ERR_ARG);
    DS_CHECK(strstr(ds_ctx_message(ctx), "'kl'") != NULL);
    c.opt.enabled[DS_LOSS_KL] = 0;

    c.labels[5] = 3; /* K = 3: neither a class nor the ignore label */
    DS_CHECK_FAILS(ctx, lc_run(ctx, work, &c, &r), DS_ERR_ARG);
    DS_CHECK(strstr(ds_ctx_message(ctx), "voxel 5") != NULL);
    c.labels[5] = 2;

    const float keep = c.z[0]->data[17];
    c.z[0]->data[17] = NAN;
    DS_CHECK_FAILS(ctx, lc_run(ctx, work, &c, &r), DS_ERR_NUMERIC);
    c.z[0]->data[17] = INFINITY;
    DS_CHECK_FAILS(ctx, lc_run(ctx, work, &c, &r), DS_ERR_NUMERIC);
    c.z[0]->data[17] = keep;

    ds_tensor *wrong = NULL;
    DS_CHECK_OK(ctx, ds_tensor_create(ctx, &wrong, c.z[0]->n, c.z[0]->c, c.z[0]->d, c.z[0]->h,
                                      c.z[0]->w + 1));
    ds_tensor *saved = c.dz[0];
    c.dz[0] = wrong;
    DS_CHECK_FAILS(ctx, lc_run(ctx, work, &c, &r), DS_ERR_SHAPE);
    c.dz[0] = saved;
    ds_tensor_free(wrong);

    c.in.net_count = 3;
    DS_CHECK_FAILS(ctx, lc_run(ctx, work, &c, &r), DS_ERR_ARG);
    c.in.net_count = 1;
    c.in.ramp = 1.5f;
    DS_CHECK_FAILS(ctx, lc_run(ctx, work, &c, &r), DS_ERR_ARG);
    c.in.ramp = 1.0f;
    DS_CHECK_FAILS(ctx, ds_dual_loss_compute(ctx, NULL, &c.opt, &c.in, c.dz, c.df, &r), DS_ERR_ARG);

    /* Nothing labelled: both terms 0 with a zero gradient, never NaN. */
    const int64_t V = c.z[0]->n * c.z[0]->d * c.z[0]->h * c.z[0]->w;
    for (int64_t v = 0; v < V; ++v)
        c.labels[v] = 255;
    DS_CHECK_OK(ctx, lc_run(ctx, work, &c, &r));
    DS_CHECK(r.term[0][DS_LOSS_CE] == 0.0 && r.term[0][DS_LOSS_DICE] == 0.0 && r.total[0] == 0.0);
    DS_CHECK(r.labelled_voxels == 0 && r.unlabelled_voxels == V);
    int zero = 1;
    for (int64_t i = 0; i < ds_tensor_numel(c.dz[0]); ++i)
        zero &= c.dz[0]->data[i] == 0.0f;
    DS_CHECK(zero);
    lc_free(&c);
}

int main(void)
{
    ds_ctx *ctx = NULL;
    ds_dual_loss *work = NULL;
    if (ds_ctx_create(&ctx) != DS_OK || ds_dual_loss_create(ctx, &work) != DS_OK)
        return 1;
    ds_fixture *fx = ds_fixture_load(DS_TESTING_DIR "/losses/loss_fixtures.bin");
    DS_CHECK(fx != NULL);
    test_options(ctx);
    if (fx) {
        test_case(ctx, work, fx, "sup_k2");
        test_case(ctx, work, fx, "sup_k3");
        test_errors(ctx, work, fx);
    }
    ds_fixture_free(fx);
    ds_dual_loss_free(work);
    ds_ctx_free(ctx);
    return ds_test_finish("test_loss_supervised");
}
