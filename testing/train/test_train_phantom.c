/* test_train_phantom.c - end to end on phantoms (1 labelled + 10 unlabelled 24^3 cases, width 4,
 * patch 16^3, 300 iterations, lr 0.05; Dice from ds_metrics, medpy's definition, on six 32^3
 * held-out phantoms per seed, the dual pair's softmax averaged), against the supervised-only
 * baseline (one V-Net, CE + Dice, the same labelled case, the same iterations):
 * (a) one site, seed 0: the dual method reaches Dice >= 0.8 (measured 0.838; supervised 0.791);
 * (b) a shifted site (the labelled case from site A, the unlabelled and held-out ones with
 *     contrast 0.75 instead of 1, bias 0.7 instead of 0.5, noise 0.5), SEEDS seeds (new cohort
 *     and training seed each): the dual method keeps a mean Dice >= MIN_SHIFTED_DICE and is on no
 *     seed worse than the baseline by more than MAX_LOSS. That is a guard against the method
 *     collapsing or hurting, NOT the claim that it beats the baseline: that claim is not
 *     established at CI size (issue 10 stays open on it), as the measurements below show.
 *
 * Measured (explore_phantom seeds=N key=value..., release, one thread; gain = dual - supervised
 * mean held-out Dice per seed):
 *   one site, noise 0.9 (the old test's setting): +0.021, +0.012 here; the earlier seven
 *     configurations +0.004 +0.009 +0.062 -0.015 -0.044 -0.024 +0.058: no real gain
 *   one site, 4 labelled cases annotated on 3 z slices each (slices=3): -0.029 +0.014 -0.030
 *   shift 1, noise 0.9: +0.060 (dual 0.53); shift 1, noise 0.5: +0.101 (dual 0.56)
 *   shift 0.6, noise 0.7: +0.059 (dual 0.74); the same with 2 labelled: -0.041
 *   shift 0.5, noise 0.6: +0.061 +0.017 -0.023 (mean +0.018, sd 0.042; dual mean 0.69)
 *   shift 0.5, noise 0.5 (this test), engine of 2026-12-01 morning: +0.155 +0.085 +0.730 (the
 *     baseline segmented nothing on seed 2's shifted cases); after the backward reductions were
 *     re-partitioned for many threads (rounding-level changes only): +0.112 -0.018 -0.041 (dual
 *     0.808 0.620 0.721, mean 0.716; baseline 0.696 0.638 0.762). The per-seed gain of the old
 *     test (>= 0.03 on every seed) was carried by a baseline collapse, not by the method.
 * So: within one site, and with a shifted site once the baseline does not collapse, the dual
 * method matches the supervised baseline at this size; it does not beat it reliably.
 *
 * usage: test_train_phantom, or test_train_phantom smoke (the sanitizer build's variant: the
 * same code path for a few iterations and one seed, checked for memory errors and sane outputs) */
#include "phantom_study.h"

#include "ds_test.h"
#include "ds_threads.h"

#include <string.h>

enum { SEEDS = 3 };
/* from the second measurement above: dual mean 0.716, worst per-seed gain -0.041 */
static const double MIN_SHIFTED_DICE = 0.6, MAX_LOSS = 0.08;
static const float SHIFT = 0.5f, NOISE = 0.5f;

int main(int argc, char **argv)
{
    int smoke = argc > 1 && strcmp(argv[1], "smoke") == 0;
    ds_ctx *ctx = NULL;
    ds_ctx_create(&ctx);
    /* Results are bit-identical only for one thread count: the outcome was measured at one. */
    ds_threads_set(ctx, 1);
    /* (a) one site, seed 0 of the defaults: the Dice the dual method reaches */
    phantom_study same;
    phantom_study_init(&same);
    if (smoke)
        same.iterations = 12;
    phantom_result d0, b0;
    phantom_study_seed(ctx, &same, 0, &d0, &b0);
    fprintf(stderr, "one site, seed 0: dual %.4f supervised-only %.4f\n", d0.mean, b0.mean);
    /* (b) shifted site: the gain on every seed */
    phantom_study s;
    phantom_study_init(&s);
    s.shift = SHIFT;
    s.noise = NOISE;
    if (smoke)
        s.iterations = 12;
    const int seeds = smoke ? 1 : SEEDS;
    double dual_sum = 0;
    for (int k = 0; k < seeds; ++k) {
        phantom_result d, b;
        phantom_study_seed(ctx, &s, k, &d, &b);
        fprintf(stderr, "shifted, seed %d: dual %.4f supervised-only %.4f (kept %.3f, "
                "foreground %.3f)\n", k, d.mean, b.mean, d.kept_fraction, d.kept_foreground);
        if (smoke)
            DS_CHECK(d.mean >= 0 && d.mean <= 1 && b.mean >= 0 && b.mean <= 1);
        else
            DS_CHECK_MSG(d.mean - b.mean >= -MAX_LOSS, "shifted, seed %d: dual %.4f is worse "
                         "than supervised-only %.4f by more than %.2f", k, d.mean, b.mean, MAX_LOSS);
        dual_sum += d.mean;
    }
    if (!smoke)
        DS_CHECK_MSG(dual_sum / seeds >= MIN_SHIFTED_DICE, "shifted: dual mean Dice %.4f < %.2f",
                     dual_sum / seeds, MIN_SHIFTED_DICE);
    if (smoke)
        DS_CHECK(d0.mean >= 0 && d0.mean <= 1 && b0.mean >= 0 && b0.mean <= 1);
    else
        DS_CHECK_MSG(d0.mean >= 0.8, "dual method Dice %.4f < 0.8 (one site)", d0.mean);
    ds_ctx_free(ctx);
    printf("%d passed, %d failed\n", ds_test_passed, ds_test_failed);
    return ds_test_failed != 0;
}
