/* loss_internal.h - the raw-buffer kernels behind ds_dual_loss_compute (private to core/losses).
 *
 * Layout: a batch of N samples of S = D*H*W voxels and K classes; voxel v = n*S + s; channel c of
 * voxel v is at (n*K + c)*S + s (NCDHW with the spatial dims flattened).
 *
 * Determinism: every sum over voxels is taken per block of LOSS_BLOCK voxels (never crossing a
 * sample), each block on one thread, and the blocks' partial sums are added in block order on
 * one thread. The result therefore does not depend on the thread count.
 *
 * Scheduling: the loops hand out blocks round robin (schedule(static, 1) over tasks,
 * schedule(static, LOSS_BLOCK) over voxels), never one contiguous range per thread: the labelled
 * samples come first in a batch, so a contiguous split gave one thread every voxel the
 * supervised terms work on while the other waited (perf, 2026-12-02, 2 threads: L_cr's loops
 * ran on the first thread while the second sat in the barrier). Which block goes to which
 * thread does not change a result: the partial sums are still added in block order.
 *
 * Each term has a _forward (value and whatever the backward needs) and a _backward that ADDS
 * scale * d(term)/dz (or d/df) into the gradient buffer, as the engine's layers do. The scale is
 * the term's weight in the total divided by the term's normaliser (count of voxels averaged).
 */
#ifndef DS_LOSS_INTERNAL_H
#define DS_LOSS_INTERNAL_H

#include <stdint.h>

#include "ds_losses.h"

#define LOSS_BLOCK 4096
/* Below this many voxels a loop runs on one thread (a parallel region costs more than it saves). */
#define LOSS_PARALLEL_MIN 16384

typedef struct loss_geom {
    int64_t n, k, s; /* samples, classes, voxels per sample */
    int threads;
} loss_geom;

/* One network's softmax, filled by loss_prepare from its logits z. */
typedef struct loss_net {
    const float *z;    /* (N, K, S) logits                                     */
    float *p;          /* (N, K, S) softmax                                    */
    float *lse;        /* (N, S) log sum exp z: log p_c = z_c - lse            */
    float *entropy;    /* (N, S) H(p) = -sum p log p, computed in double       */
    uint16_t *argmax;  /* (N, S) first index of the largest logit              */
} loss_net;

/* Role of a voxel in the entropy mask a teacher gives to its student. */
enum { LOSS_LABELLED = 0, LOSS_RELIABLE = 1, LOSS_UNCERTAIN = 2 };

/* What network n learns from its partner in CCE and CON. */
typedef struct loss_teacher {
    const uint16_t *label; /* (N, S) pseudo-label                                   */
    const uint8_t *role;   /* (N, S) LOSS_LABELLED / LOSS_RELIABLE / LOSS_UNCERTAIN */
    int64_t reliable, reliable_foreground;
    double threshold;      /* global mode; 0 in the class-aware mode               */
} loss_teacher;

/* Blocks of the geometry and the voxel range [s0, s1) of sample *n of block task. */
static inline int64_t loss_tasks(const loss_geom *g)
{
    return g->n * ((g->s + LOSS_BLOCK - 1) / LOSS_BLOCK);
}
static inline void loss_task_range(const loss_geom *g, int64_t task, int64_t *n, int64_t *s0,
                                   int64_t *s1)
{
    const int64_t per = (g->s + LOSS_BLOCK - 1) / LOSS_BLOCK;
    *n = task / per;
    *s0 = (task % per) * LOSS_BLOCK;
    *s1 = *s0 + LOSS_BLOCK < g->s ? *s0 + LOSS_BLOCK : g->s;
}
static inline int loss_parallel(const loss_geom *g)
{
    return g->n * g->s > LOSS_PARALLEL_MIN;
}

/* out[j] = sum over tasks of partials[task * stats + j], in task order. */
void loss_sum_partials(const double *partials, int64_t tasks, int stats, double *out);
/* The same for (sum, count) pairs. */
void loss_sum_pairs(const double *partials, int64_t tasks, double *sum, int64_t *count);

/* dz_j += scale * p_j (dp_j - sum_c p_c dp_c): the chain rule through the softmax at one voxel
 * (p and dz at stride S, dp dense). */
static inline void loss_softmax_chain(const float *p, int64_t stride, int64_t k, const double *dp,
                                      double scale, float *dz)
{
    double dot = 0.0;
    for (int64_t c = 0; c < k; ++c)
        dot += (double)p[c * stride] * dp[c];
    for (int64_t c = 0; c < k; ++c)
        dz[c * stride] += (float)(scale * (double)p[c * stride] * (dp[c] - dot));
}

/* prepare.c: softmax, lse, entropy, argmax of one network. Returns the index of the first
 * non-finite logit, or -1 when all are finite. */
int64_t loss_prepare(const loss_geom *g, loss_net *net, uint8_t *bad_blocks);

/* ce.c: cross-entropy -log p_target over the voxels where sel[v] == want.
 * forward: *sum of the per-voxel values and *count of the voxels. */
void loss_ce_forward(const loss_geom *g, const loss_net *net, const uint16_t *target,
                     const uint8_t *sel, uint8_t want, double *partials, double *sum,
                     int64_t *count);
/* dz += scale * (p - onehot(target)) on the selected voxels. */
void loss_ce_backward(const loss_geom *g, const loss_net *net, const uint16_t *target,
                      const uint8_t *sel, uint8_t want, double scale, float *dz);

/* dice.c: soft Dice over the foreground classes on labelled voxels (sel[v] == 1).
 * stats: 3 (K - 1) doubles, per class c >= 1: sum p g, sum p^2, sum g. */
double loss_dice_forward(const loss_geom *g, const loss_net *net, const uint16_t *labels,
                         const uint8_t *labelled, double smooth, double *partials, double *stats);
void loss_dice_backward(const loss_geom *g, const loss_net *net, const uint16_t *labels,
                        const uint8_t *labelled, double smooth, const double *stats, double scale,
                        float *dz);

/* cr.c: cross-reliability on labelled voxels where the two networks' confident predictions
 * disagree (M). forward: *sum over M of ||p_n - onehot(y)||^2 and *count = |M|. */
void loss_cr_forward(const loss_geom *g, const loss_net *self, const loss_net *other,
                     const uint16_t *labels, const uint8_t *labelled, float confidence,
                     double *partials, double *sum, int64_t *count);
void loss_cr_backward(const loss_geom *g, const loss_net *self, const loss_net *other,
                      const uint16_t *labels, const uint8_t *labelled, float confidence,
                      double scale, float *dz);

/* percentile.c: numpy.percentile(values, percent) with the default 'linear' method, found by
 * selection (values is reordered). n >= 1, 0 <= percent <= 100. */
double loss_percentile(float *values, int64_t n, double percent);

/* mask.c: the entropy mask of a teacher network: role[v] for every voxel (labelled voxels keep
 * LOSS_LABELLED), threshold(s) over the unlabelled voxels. scratch: N*S floats. */
void loss_entropy_mask(const loss_geom *g, const loss_net *teacher, const uint8_t *labelled,
                       const ds_loss_options *opt, float *scratch, uint8_t *role, double *threshold);
/* Counts of reliable voxels and of those with a non-zero label. */
void loss_teacher_counts(const loss_geom *g, loss_teacher *t, double *partials);
/* Public-code union (K = 2): label = union of the two foregrounds, reliable where either
 * network's mask keeps the voxel. */
void loss_union_teacher(const loss_geom *g, const loss_net *a, const loss_net *b,
                        const uint8_t *role_a, const uint8_t *role_b, uint16_t *label,
                        uint8_t *role);

/* cce.c: cross pseudo supervision: CE of the student against the teacher's pseudo-labels on its
 * reliable set. Returns the mean (0 when the set is empty). */
double loss_cce_forward(const loss_geom *g, const loss_net *student, const loss_teacher *t,
                        double *partials);
void loss_cce_backward(const loss_geom *g, const loss_net *student, const loss_teacher *t,
                       double weight, float *dz);

/* kl.c: KL-weighted rectified pseudo-label loss over every voxel, teacher = the partner. */
double loss_kl_forward(const loss_geom *g, const loss_net *student, const loss_net *teacher,
                       double *partials);
void loss_kl_backward(const loss_geom *g, const loss_net *student, const loss_net *teacher,
                      double weight, float *dz);

/* cos.c: mean over every voxel of 1 - cos(p_self, p_other); gradient w.r.t. self's logits. */
double loss_cos_forward(const loss_geom *g, const loss_net *self, const loss_net *other,
                        double *partials);
void loss_cos_backward(const loss_geom *g, const loss_net *self, const loss_net *other,
                       double weight, float *dz);

/* con.c: prototype contrastive alignment. The work of one call for one network. */
typedef struct loss_con {
    int64_t f;          /* feature channels                                              */
    double *proto;      /* K x F normalised prototypes (detached)                        */
    uint8_t *has_proto; /* K flags                                                       */
    int prototypes;     /* classes with a prototype                                      */
    uint32_t *sample;   /* eligible uncertain voxels, the drawn ones first (capacity N*S) */
    int64_t samples;
} loss_con;
/* Prototypes from the reliable voxels, the eligible uncertain voxels (pseudo-class with a
 * prototype), at most max_samples of them drawn from rng (partial Fisher-Yates over voxel
 * order, so the draw does not depend on the thread count). Returns L_con (0 with no sample). */
double loss_con_forward(const loss_geom *g, const float *feature, const loss_teacher *t,
                        double tau, int64_t max_samples, ds_rng *rng, double *partials,
                        loss_con *con);
/* df += weight / samples * dL/df at the sampled voxels. */
void loss_con_backward(const loss_geom *g, const float *feature, const loss_teacher *t,
                       double tau, const loss_con *con, double weight, float *df);

#endif /* DS_LOSS_INTERNAL_H */
