/* test_loss_terms - every term of the dual loss (CE, Dice, L_cr, L_cce with the entropy mask,
 * L_kl, L_con, L_cos) for K = 2 and K = 3, global and class-aware masks, the union pseudo-label
 * and the one-direction KL.
 * References: loss_fixtures.bin (make_loss_fixtures.py: PyTorch float64 autograd of
 * reference_losses.py on the same float32 inputs, partner detached, every eligible uncertain voxel
 * used by CON) and central finite differences in double of the C total (step 1e-3). The fixture
 * inputs were drawn far from every discrete boundary (argmax ties, the confidence 0.6, the entropy
 * thresholds), so the masks stay fixed under the finite-difference steps; the features perturbed
 * for CON are those of sampled uncertain voxels, which no prototype depends on.
 * Also: a term switched on changes the gradient, switched off changes nothing; the public code's
 * three defects (entropy of raw logits, pseudo-label CE and contrastive term without gradient);
 * the seeded sampling of CON; bit-identical results for 1, 2 and 3 threads. */
#include <stdlib.h>
#include <string.h>

#include "ds_threads.h"
#include "loss_test_util.h"

static const char *const CASES[] = {"all_k3", "all_k2", "union_k2", "class_k3"};

static float *copy_of(const ds_tensor *t)
{
    float *p = malloc((size_t)ds_tensor_numel(t) * sizeof *p);
    memcpy(p, t->data, (size_t)ds_tensor_numel(t) * sizeof *p);
    return p;
}

static double max_abs(const ds_tensor *t)
{
    double m = 0.0;
    for (int64_t i = 0; i < ds_tensor_numel(t); ++i)
        m = fmax(m, fabs(t->data[i]));
    return m;
}

static int same_data(const ds_tensor *a, const float *b)
{
    return memcmp(a->data, b, (size_t)ds_tensor_numel(a) * sizeof *b) == 0;
}

static void only(loss_case *c, int term)
{
    for (int t = 0; t < DS_LOSS_TERM_COUNT; ++t)
        c->opt.enabled[t] = t == term;
}

static void test_parity(ds_ctx *ctx, ds_dual_loss *work, loss_case *c, const char *name)
{
    ds_loss_report r;
    DS_CHECK_OK(ctx, lc_run(ctx, work, c, &r));
    for (int n = 0; n < 2; ++n) {
        for (int t = 0; t < DS_LOSS_TERM_COUNT; ++t)
            DS_CHECK_MSG(fabs(r.term[n][t] - c->terms->data[n * DS_LOSS_TERM_COUNT + t]) <=
                             1e-5 * fabs(c->terms->data[n * DS_LOSS_TERM_COUNT + t]) + 1e-7,
                         "%s net %d %s: %.9g vs PyTorch %.9g", name, n,
                         ds_loss_term_name((ds_loss_term)t), r.term[n][t],
                         c->terms->data[n * DS_LOSS_TERM_COUNT + t]);
        DS_CHECK_CLOSE(r.total[n], c->totals->data[n], 1e-5, 1e-7);
        const double ez = lc_rel_error(c->dz[n], c->want_dz[n]);
        const double ef = lc_rel_error(c->df[n], c->want_df[n]);
        DS_CHECK_MSG(ez < 1e-5 && ef < 1e-5, "%s net %d: dlogits error %g, dfeature error %g",
                     name, n, ez, ef);
        const double *info = c->info->data;
        DS_CHECK_CLOSE(r.entropy_threshold[n], info[n], 1e-6, 1e-9);
        DS_CHECK_CLOSE(r.kept_fraction[n], info[2 + n], 1e-12, 0.0);
        DS_CHECK_CLOSE(r.kept_foreground[n], info[4 + n], 1e-12, 0.0);
        DS_CHECK(r.prototypes[n] == (int)info[6 + n]);
    }
}

/* Each term alone: d total(n) / dz_n (and / df_n for CON) against finite differences. */
static void test_finite_differences(ds_ctx *ctx, ds_dual_loss *work, loss_case *c,
                                    const char *name)
{
    const ds_loss_options keep = c->opt;
    for (int t = 0; t < DS_LOSS_TERM_COUNT; ++t) {
        if (!keep.enabled[t])
            continue;
        only(c, t);
        ds_loss_report r;
        DS_CHECK_OK(ctx, lc_run(ctx, work, c, &r));
        double worst = 0.0;
        for (int n = 0; n < 2; ++n) {
            if (t == DS_LOSS_KL && keep.kl_direction == DS_KL_B_TEACHES_A && n == 1) {
                DS_CHECK(max_abs(c->dz[1]) == 0.0 && r.term[1][DS_LOSS_KL] == 0.0);
                continue;
            }
            float *gz = copy_of(c->dz[n]), *gf = copy_of(c->df[n]);
            DS_CHECK_OK(ctx, lc_run(ctx, work, c, &r)); /* restores the other network's buffers */
            if (t != DS_LOSS_CON)
                worst = fmax(worst, lc_check_fd(ctx, work, c, n, c->z[n], gz, 32, 1e-3f, 2e-3,
                                                ds_loss_term_name((ds_loss_term)t)));
            else {
                /* finite differences at the sampled voxels' features, zero everywhere else */
                const int64_t numel = ds_tensor_numel(c->f[n]);
                double gmax = 0.0;
                for (int64_t i = 0; i < numel; ++i)
                    gmax = fmax(gmax, fabs(gf[i]));
                int checked = 0;
                for (int64_t i = 0; i < numel && checked < 32; i += 3) {
                    if (gf[i] == 0.0f)
                        continue;
                    const double fd = lc_central_diff(ctx, work, c, n, c->f[n], i, 1e-3f);
                    worst = fmax(worst, fabs(fd - gf[i]) / gmax);
                    DS_CHECK_MSG(fabs(fd - gf[i]) <= 2e-3 * gmax, "%s con f%d[%lld]: fd %.9g "
                                 "analytic %.9g", name, n, (long long)i, fd, (double)gf[i]);
                    ++checked;
                }
                DS_CHECK(checked > 8);
                DS_CHECK(max_abs(c->dz[n]) == 0.0); /* L_con does not reach the logits */
            }
            free(gz);
            free(gf);
        }
        printf("%s %s: finite-difference worst relative error %.2e\n", name,
               ds_loss_term_name((ds_loss_term)t), worst);
    }
    c->opt = keep;
}

/* A term switched on changes some gradient; switched off, its weight and parameters change
 * nothing and its report entry is 0. */
static void test_switches(ds_ctx *ctx, ds_dual_loss *work, loss_case *c)
{
    const ds_loss_options keep = c->opt;
    ds_loss_report r;
    DS_CHECK_OK(ctx, lc_run(ctx, work, c, &r));
    float *all[4] = {copy_of(c->dz[0]), copy_of(c->dz[1]), copy_of(c->df[0]), copy_of(c->df[1])};
    for (int t = 0; t < DS_LOSS_TERM_COUNT; ++t) {
        c->opt = keep;
        c->opt.enabled[t] = 0;
        DS_CHECK_OK(ctx, lc_run(ctx, work, c, &r));
        DS_CHECK(r.term[0][t] == 0.0 && r.term[1][t] == 0.0);
        const int changed = !same_data(c->dz[0], all[0]) || !same_data(c->dz[1], all[1]) ||
                            !same_data(c->df[0], all[2]) || !same_data(c->df[1], all[3]);
        DS_CHECK_MSG(changed, "switching %s off changed no gradient",
                     ds_loss_term_name((ds_loss_term)t));
        float *off[4] = {copy_of(c->dz[0]), copy_of(c->dz[1]), copy_of(c->df[0]),
                         copy_of(c->df[1])};
        const double total0 = r.total[0], total1 = r.total[1];
        c->opt.weight[t] *= 3.0f;
        if (t == DS_LOSS_CON) {
            c->opt.tau = 0.37f;
            c->opt.max_uncertain = 3;
        }
        if (t == DS_LOSS_CR)
            c->opt.confidence = 0.9f;
        if (t == DS_LOSS_DICE)
            c->opt.dice_smooth = 0.5f;
        DS_CHECK_OK(ctx, lc_run(ctx, work, c, &r));
        DS_CHECK(same_data(c->dz[0], off[0]) && same_data(c->dz[1], off[1]) &&
                 same_data(c->df[0], off[2]) && same_data(c->df[1], off[3]));
        DS_CHECK(r.total[0] == total0 && r.total[1] == total1);
        for (int j = 0; j < 4; ++j)
            free(off[j]);
    }
    for (int j = 0; j < 4; ++j)
        free(all[j]);
    c->opt = keep;
}

/* The public code's defects, each of which this test would have caught:
 * 1. entropy of raw logits: NaN threshold, nothing filtered; here the mask keeps exactly the
 *    floor(P/100 (U - 1)) + 1 least uncertain of the U unlabelled voxels (no ties in the data);
 * 2. pseudo-label CE on detached probabilities: here L_cce alone gives non-zero dlogits, exactly
 *    on the kept voxels;
 * 3. contrastive term without gradient: here L_con alone gives non-zero dfeature. */
static void test_defects(ds_ctx *ctx, ds_dual_loss *work, loss_case *c, const char *name)
{
    const ds_loss_options keep = c->opt;
    ds_loss_report r;
    only(c, DS_LOSS_CCE);
    DS_CHECK_OK(ctx, lc_run(ctx, work, c, &r));
    const int64_t U = r.unlabelled_voxels, K = c->z[0]->c;
    const int64_t S = c->z[0]->d * c->z[0]->h * c->z[0]->w, V = c->z[0]->n * S;
    for (int n = 0; n < 2; ++n) {
        DS_CHECK(isfinite(r.entropy_threshold[n]));
        if (keep.pseudo_mode == DS_PSEUDO_PER_NETWORK && keep.mask_mode == DS_ENTROPY_MASK_GLOBAL) {
            const double want = floor(keep.percentile / 100.0 * (double)(U - 1)) + 1.0;
            DS_CHECK_MSG(fabs(r.kept_fraction[n] * (double)U - want) < 1e-9,
                         "%s net %d kept %.1f of %lld unlabelled voxels, want %.0f", name, n,
                         r.kept_fraction[n] * (double)U, (long long)U, want);
            DS_CHECK(r.entropy_threshold[n] > 0.0);
        }
        DS_CHECK(r.kept_fraction[n] > 0.0 && r.kept_fraction[n] < 1.0);
        int64_t moved = 0;
        for (int64_t v = 0; v < V; ++v) {
            int any = 0;
            for (int64_t k = 0; k < K; ++k)
                any |= c->dz[n]->data[((v / S) * K + k) * S + v % S] != 0.0f;
            moved += any;
            if (any)
                DS_CHECK(c->labels[v] == 255);
        }
        DS_CHECK_MSG(moved > 0 && moved == (int64_t)llround(r.kept_fraction[n] * (double)U),
                     "%s net %d: L_cce moved %lld voxels' logits, kept %.0f", name, n,
                     (long long)moved, r.kept_fraction[n] * (double)U);
    }
    only(c, DS_LOSS_CON);
    DS_CHECK_OK(ctx, lc_run(ctx, work, c, &r));
    for (int n = 0; n < 2; ++n)
        DS_CHECK_MSG(max_abs(c->df[n]) > 1e-4 && r.prototypes[n] >= 2,
                     "%s net %d: L_con gave no feature gradient", name, n);
    c->opt = keep;
}

/* At most S uncertain voxels, drawn from the contrast stream: S voxels get a feature gradient,
 * the stream advances, the same state gives the same draw, and the gradient is still exact. */
static void test_sampling(ds_ctx *ctx, ds_dual_loss *work, loss_case *c)
{
    const ds_loss_options keep = c->opt;
    only(c, DS_LOSS_CON);
    c->opt.max_uncertain = 7;
    const ds_rng start = c->rng;
    ds_loss_report r;
    DS_CHECK_OK(ctx, ds_dual_loss_compute(ctx, work, &c->opt, &c->in, c->dz, c->df, &r));
    DS_CHECK(c->rng.counter >= start.counter + 14);
    const int64_t F = c->f[0]->c, S = c->f[0]->d * c->f[0]->h * c->f[0]->w;
    for (int n = 0; n < 2; ++n) {
        int64_t touched = 0;
        for (int64_t v = 0; v < c->f[n]->n * S; ++v) {
            int any = 0;
            for (int64_t j = 0; j < F; ++j)
                any |= c->df[n]->data[((v / S) * F + j) * S + v % S] != 0.0f;
            touched += any;
        }
        DS_CHECK_MSG(touched == 7, "net %d: %lld voxels sampled, want 7", n, (long long)touched);
    }
    float *first = copy_of(c->df[0]);
    const ds_rng after = c->rng;
    c->rng = start;
    DS_CHECK_OK(ctx, ds_dual_loss_compute(ctx, work, &c->opt, &c->in, c->dz, c->df, &r));
    DS_CHECK(same_data(c->df[0], first) && c->rng.counter == after.counter);
    ds_rng_init(&c->rng, 4242, DS_RNG_CONTRAST);
    DS_CHECK_OK(ctx, ds_dual_loss_compute(ctx, work, &c->opt, &c->in, c->dz, c->df, &r));
    DS_CHECK(!same_data(c->df[0], first)); /* another seed, another draw */
    c->rng = start;
    DS_CHECK_OK(ctx, lc_run(ctx, work, c, &r));
    float *gf = copy_of(c->df[1]);
    int checked = 0;
    for (int64_t i = 0; i < ds_tensor_numel(c->f[1]) && checked < 12; ++i) {
        if (gf[i] == 0.0f)
            continue;
        const double fd = lc_central_diff(ctx, work, c, 1, c->f[1], i, 1e-3f);
        DS_CHECK_MSG(fabs(fd - gf[i]) <= 2e-3 * fabs(gf[i]) + 1e-6, "sampled f1[%lld]: fd %.9g "
                     "analytic %.9g", (long long)i, fd, (double)gf[i]);
        ++checked;
    }
    DS_CHECK(checked == 12);
    free(gf);
    free(first);
    c->rng = start;
    c->opt = keep;
}

/* A batch above the parallel threshold: 2 + 2 samples of 8x16x64, K = 3, F = 8, every term on,
 * CON sampling 500 of the uncertain voxels. Same results, bit for bit, for 1, 2 and 3 threads; the
 * global mask keeps floor(0.8 (U - 1)) + 1 voxels, the class-aware one about 80 % per class. */
static void test_threads(ds_ctx *ctx)
{
    const int64_t N = 4, K = 3, F = 8, D = 8, H = 16, W = 64, S = D * H * W;
    ds_tensor *z[2], *f[2], *dz[2], *df[2];
    ds_rng rng;
    ds_rng_init(&rng, 99, DS_RNG_TEST);
    for (int n = 0; n < 2; ++n) {
        DS_CHECK_OK(ctx, ds_tensor_create(ctx, &z[n], N, K, D, H, W));
        DS_CHECK_OK(ctx, ds_tensor_create(ctx, &f[n], N, F, D, H, W));
        DS_CHECK_OK(ctx, ds_tensor_create_like(ctx, &dz[n], z[n]));
        DS_CHECK_OK(ctx, ds_tensor_create_like(ctx, &df[n], f[n]));
        DS_CHECK_OK(ctx, ds_rng_fill_normal(ctx, &rng, z[n]->data, (size_t)(N * K * S), 0.0f, 2.0f));
        DS_CHECK_OK(ctx, ds_rng_fill_normal(ctx, &rng, f[n]->data, (size_t)(N * F * S), 0.0f, 1.0f));
    }
    uint16_t *labels = malloc((size_t)(N * S) * sizeof *labels);
    for (int64_t v = 0; v < N * S; ++v)
        labels[v] = v >= 2 * S || v % W < 5 ? 255 : (uint16_t)ds_rng_below(&rng, (uint32_t)K);
    ds_loss_options opt;
    ds_loss_options_init(&opt);
    opt.max_uncertain = 500;
    ds_loss_inputs in = {2, {z[0], z[1]}, {f[0], f[1]}, labels, 255, 0.6f, NULL};
    float *ref[4] = {NULL, NULL, NULL, NULL};
    ds_loss_report ref_r;
    for (int threads = 1; threads <= 3; ++threads) {
        DS_CHECK_OK(ctx, ds_threads_set(ctx, threads));
        ds_dual_loss *work = NULL;
        DS_CHECK_OK(ctx, ds_dual_loss_create(ctx, &work));
        ds_rng crng;
        ds_rng_init(&crng, 5, DS_RNG_CONTRAST);
        in.contrast_rng = &crng;
        ds_loss_report r;
        DS_CHECK_OK(ctx, ds_dual_loss_compute(ctx, work, &opt, &in, dz, df, &r));
        if (threads == 1) {
            ref_r = r;
            for (int n = 0; n < 2; ++n) {
                ref[n] = copy_of(dz[n]);
                ref[2 + n] = copy_of(df[n]);
            }
            const int64_t U = r.unlabelled_voxels;
            for (int n = 0; n < 2; ++n) {
                DS_CHECK(llround(r.kept_fraction[n] * (double)U) ==
                         (int64_t)floor(0.8 * (double)(U - 1)) + 1);
                DS_CHECK(r.prototypes[n] == 3);
            }
        } else {
            DS_CHECK_MSG(same_data(dz[0], ref[0]) && same_data(dz[1], ref[1]) &&
                             same_data(df[0], ref[2]) && same_data(df[1], ref[3]),
                         "%d threads: gradients differ from 1 thread", threads);
            DS_CHECK(memcmp(r.term, ref_r.term, sizeof r.term) == 0 &&
                     memcmp(r.total, ref_r.total, sizeof r.total) == 0 &&
                     memcmp(r.kept_fraction, ref_r.kept_fraction, sizeof r.kept_fraction) == 0);
        }
        opt.mask_mode = DS_ENTROPY_MASK_CLASS_AWARE;
        DS_CHECK_OK(ctx, ds_dual_loss_compute(ctx, work, &opt, &in, dz, df, &r));
        for (int n = 0; n < 2; ++n)
            DS_CHECK_MSG(fabs(r.kept_fraction[n] - 0.8) < 1e-3, "class-aware kept %g",
                         r.kept_fraction[n]);
        opt.mask_mode = DS_ENTROPY_MASK_GLOBAL;
        ds_dual_loss_free(work);
    }
    DS_CHECK_OK(ctx, ds_threads_set(ctx, 0));
    for (int n = 0; n < 2; ++n) {
        ds_tensor_free(z[n]);
        ds_tensor_free(f[n]);
        ds_tensor_free(dz[n]);
        ds_tensor_free(df[n]);
    }
    for (int j = 0; j < 4; ++j)
        free(ref[j]);
    free(labels);
}

int main(void)
{
    ds_ctx *ctx = NULL;
    ds_dual_loss *work = NULL;
    if (ds_ctx_create(&ctx) != DS_OK || ds_dual_loss_create(ctx, &work) != DS_OK)
        return 1;
    ds_fixture *fx = ds_fixture_load(DS_TESTING_DIR "/losses/loss_fixtures.bin");
    DS_CHECK(fx != NULL);
    for (size_t i = 0; fx && i < sizeof CASES / sizeof *CASES; ++i) {
        loss_case c;
        if (!lc_load(ctx, fx, CASES[i], &c)) {
            DS_CHECK_MSG(0, "case %s missing", CASES[i]);
            lc_free(&c);
            continue;
        }
        test_parity(ctx, work, &c, CASES[i]);
        test_finite_differences(ctx, work, &c, CASES[i]);
        test_switches(ctx, work, &c);
        test_defects(ctx, work, &c, CASES[i]);
        if (i == 0)
            test_sampling(ctx, work, &c);
        lc_free(&c);
    }
    test_threads(ctx);
    ds_fixture_free(fx);
    ds_dual_loss_free(work);
    ds_ctx_free(ctx);
    return ds_test_finish("test_loss_terms");
}
