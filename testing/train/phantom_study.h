/* phantom_study.h - one semi-supervised experiment on generated phantoms, shared by the CI test
 * (test_train_phantom) and the exploration driver (explore_phantom): a cohort of labelled,
 * unlabelled and held-out phantoms, the dual method and the supervised-only baseline trained on
 * it, and the held-out Dice of each. Test code: failures go through ds_test.h's checks. */
#ifndef PHANTOM_STUDY_H
#define PHANTOM_STUDY_H

#include "ds_train.h"

enum { PHANTOM_STUDY_MAX_HELD = 16 };

typedef struct phantom_study {
    uint64_t data_seed;   /* the phantom cohort */
    uint64_t train_seed;  /* the trainer's seed (crops, dropout, sampling) */
    float noise;          /* Gaussian noise of every phantom */
    int labelled;         /* labelled training cases */
    int unlabelled;       /* unlabelled training cases */
    int held_out;         /* held-out cases (32^3), <= PHANTOM_STUDY_MAX_HELD */
    int slices;           /* > 0: each labelled case is annotated on this many z slices only
                             (partial labels, METHOD.md section 4); 0: fully labelled */
    float shift;          /* 0..1: the unlabelled and held-out cases come from a shifted "site"
                             (contrast 1 - shift / 2, bias 0.5 + 0.4 shift) */
    int width;
    int64_t iterations;
    float lr;
    int patch;            /* cubic training patch, a multiple of 16 */
    ds_entropy_mask_mode mask; /* the entropy mask of CCE / CON (global) */
} phantom_study;

/* 1 labelled + 10 unlabelled, 6 held out, full labels, no shift, width 4, 300 iterations,
 * lr 0.05, patch 16, noise 0.9, seeds 2026 / 1337. */
void phantom_study_init(phantom_study *s);

typedef struct phantom_result {
    double dice[PHANTOM_STUDY_MAX_HELD]; /* per held-out case */
    double mean;
    double kept_fraction, kept_foreground; /* network A's entropy mask, last iteration */
    double seconds, cpu_seconds; /* of the training, wall and CPU */
} phantom_result;

/* Trains the dual method (heterogeneous pair, every term on) or, with pair DS_PAIR_SINGLE, the
 * supervised-only baseline on the labelled cases alone, and scores it on the held-out cases. */
void phantom_study_run(ds_ctx *ctx, const phantom_study *s, ds_pair_mode pair,
                       phantom_result *out);

/* Seed k of a study: the phantom cohort of data seed 2026 + k and the trainer's seed 1337 + k
 * (the other settings of s), both methods trained and scored on it. */
void phantom_study_seed(ds_ctx *ctx, const phantom_study *s, int k, phantom_result *dual,
                        phantom_result *supervised);

#endif /* PHANTOM_STUDY_H */
