/* ds_losses.h - the loss terms of METHOD.md section 2, with their gradients, for one network or
 * for the dual pair.
 *
 * Shapes (N = labelled + unlabelled samples of the batch, K classes, F feature channels):
 *   logits  z      (N, K, D, H, W)  float32, the network's output
 *   feature f      (N, F, D, H, W)  float32, the last decoder feature (input of the 1x1x1 conv)
 *   labels  y      N * D * H * W    uint16, same voxel order as the tensors; a voxel holding
 *                                   ignore_label is unlabelled (every voxel of an unlabelled
 *                                   sample, and unannotated voxels of a partial label, METHOD.md
 *                                   section 4): it takes no supervised loss and counts as
 *                                   unlabelled for CCE, CON; KL and COS use every voxel.
 *
 * Each network n (0 = A, 1 = B) minimises its own total L(n) of METHOD.md section 2; everything
 * computed from the partner m is a detached teacher value. The gradient written for network n is
 * dL(n)/dz_n and dL(n)/df_n, with z_m and f_m held constant (so L_cos, which belongs to both
 * totals, gives each network the gradient of L_cos with respect to its own logits).
 *
 * Totals (ramp = w(t) of METHOD.md section 2, supplied by the trainer):
 *   L(n) = w[CE] CE + w[DICE] Dice + w[CR] L_cr
 *        + ramp * (w[CCE] L_cce + w[KL] L_kl) + ramp * w[CON] L_con + w[COS] L_cos
 * with the paper's weights w[CE] = w[DICE] = 1, w[CR] = alpha = 0.5, w[CCE] = w[KL] = 1,
 * w[CON] = 0.1 (so lambda_c(t) = 0.1 w(t)), w[COS] = 1. A term switched off is neither computed
 * nor reported (its report entry is 0).
 *
 * Each term lives in its own file of core/losses/ with a _forward / _backward pair in the
 * engine's style; ds_dual_loss_compute is the one entry the trainer calls.
 */
#ifndef DS_LOSSES_H
#define DS_LOSSES_H

#include <stdint.h>
#include "ds_rng.h"
#include "ds_tensor.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Largest class count and feature width the losses accept (per-voxel work lives on the stack). */
#define DS_LOSS_MAX_CLASSES 256
#define DS_LOSS_MAX_FEATURES 256

typedef enum ds_loss_term {
    DS_LOSS_CE = 0,   /* cross-entropy on labelled voxels                          */
    DS_LOSS_DICE,     /* soft Dice over foreground classes, labelled voxels        */
    DS_LOSS_CR,       /* cross-reliability L_cr (needs two networks)               */
    DS_LOSS_CCE,      /* entropy-filtered cross pseudo supervision (two networks)  */
    DS_LOSS_KL,       /* KL-weighted rectified pseudo-label loss (two networks)    */
    DS_LOSS_CON,      /* prototype contrastive alignment (two networks, features)  */
    DS_LOSS_COS,      /* output consistency 1 - cos(p_A, p_B) (two networks)       */
    DS_LOSS_TERM_COUNT
} ds_loss_term;

/* Short constant name of a term ("ce", "dice", "cr", "cce", "kl", "con", "cos"); "unknown". */
const char *ds_loss_term_name(ds_loss_term term);

typedef enum ds_entropy_mask_mode {
    DS_ENTROPY_MASK_GLOBAL = 0,      /* one percentile over the batch's unlabelled voxels      */
    DS_ENTROPY_MASK_CLASS_AWARE = 1  /* one percentile per pseudo-class (ablation)             */
} ds_entropy_mask_mode;

typedef enum ds_pseudo_label_mode {
    DS_PSEUDO_PER_NETWORK = 0,  /* y_m = argmax p_m, R_m from network m's entropy (paper)     */
    DS_PSEUDO_UNION = 1         /* public code, K = 2 only: shared label = union of the two
                                   foregrounds; dropped only when both are above threshold */
} ds_pseudo_label_mode;

typedef enum ds_kl_direction {
    DS_KL_BOTH = 0,        /* A learns from B and B from A (default)                       */
    DS_KL_B_TEACHES_A = 1  /* public code: only network A (ResNet) gets L_kl, taught by B  */
} ds_kl_direction;

typedef struct ds_loss_options {
    int enabled[DS_LOSS_TERM_COUNT];  /* switches (1 on, 0 off)                               */
    float weight[DS_LOSS_TERM_COUNT]; /* weights of the totals above                           */
    float confidence;      /* L_cr: a prediction is confident when max p >= this (0.6)         */
    float percentile;      /* CCE / CON: P of the entropy threshold, 0..100 (80)              */
    ds_entropy_mask_mode mask_mode;
    ds_pseudo_label_mode pseudo_mode;
    ds_kl_direction kl_direction;
    float tau;             /* CON temperature (0.1)                                            */
    int max_uncertain;     /* CON: at most S uncertain voxels sampled per batch (2000)        */
    float dice_smooth;     /* Dice smoothing (1e-5)                                            */
} ds_loss_options;

/* The paper's defaults: every term on, the weights above, confidence 0.6, P = 80, global mask,
 * per-network pseudo-labels, both KL directions, tau 0.1, S = 2000, smoothing 1e-5. */
void ds_loss_options_init(ds_loss_options *opt);
/* Checks ranges (weights finite and >= 0, 0 < confidence <= 1, 0 <= P <= 100, tau > 0,
 * S >= 1, the union mode only with K = 2); the message names the option. */
ds_status ds_loss_options_check(ds_ctx *ctx, const ds_loss_options *opt, int classes);

typedef struct ds_loss_inputs {
    int net_count;                 /* 1 (supervised-only: CE, Dice only) or 2                  */
    const ds_tensor *logits[2];    /* (N, K, D, H, W), same shape for both                     */
    const ds_tensor *feature[2];   /* (N, F, D, H, W); may be NULL when CON is off             */
    const uint16_t *labels;        /* N * D * H * W                                            */
    int ignore_label;              /* 0..65535; other values must lie in 0..K-1               */
    float ramp;                    /* w(t) in [0, 1]                                           */
    ds_rng *contrast_rng;          /* DS_RNG_CONTRAST stream, advanced by the sampling of CON  */
} ds_loss_inputs;

typedef struct ds_loss_report {
    double term[2][DS_LOSS_TERM_COUNT]; /* unweighted value of each term for network n         */
    double total[2];                    /* L(n), weighted as above                             */
    double entropy_threshold[2];        /* t_m used for network n's pseudo-labels (global mode) */
    double kept_fraction[2];            /* unlabelled voxels kept by the mask for network n    */
    double kept_foreground[2];          /* of those, the fraction pseudo-labelled foreground   */
    int prototypes[2];                  /* classes with a prototype in CON for network n      */
    int64_t labelled_voxels;            /* voxels with a label in the batch                    */
    int64_t unlabelled_voxels;
} ds_loss_report;

/* Work buffers of the loss computation (entropies, masks, selection scratch); they grow on the
 * first call and are reused, so a training loop allocates only once. */
typedef struct ds_dual_loss ds_dual_loss;
ds_status ds_dual_loss_create(ds_ctx *ctx, ds_dual_loss **out);
void ds_dual_loss_free(ds_dual_loss *work);

/* Computes every enabled term for each network and OVERWRITES dlogits[n] (shape of logits) and,
 * when dfeature[n] is not NULL, dfeature[n] (shape of feature) with dL(n)/dz_n and dL(n)/df_n.
 * report may be NULL. Fails (DS_ERR_ARG / DS_ERR_SHAPE, naming the input) on mismatched shapes,
 * a label out of range, or a term that needs two networks with net_count 1; DS_ERR_NUMERIC when
 * a logit is not finite. On failure the gradients' contents are unspecified and nothing else
 * (the rng included) has changed. Deterministic for a given thread count and rng state. */
ds_status ds_dual_loss_compute(ds_ctx *ctx, ds_dual_loss *work, const ds_loss_options *opt,
                               const ds_loss_inputs *in, ds_tensor *dlogits[2],
                               ds_tensor *dfeature[2], ds_loss_report *report);

#ifdef __cplusplus
}
#endif

#endif /* DS_LOSSES_H */
