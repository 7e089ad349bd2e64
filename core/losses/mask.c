/* mask.c - the percentile-based adaptive entropy mask of a teacher network (METHOD.md 2.2):
 * t_m = P-th percentile of H(p_m) over the batch's unlabelled voxels (or per pseudo-class in the
 * class-aware mode), R_m = {unlabelled v : H(p_m) <= t_m}. The entropy is that of the softmax
 * (the public code took it of raw logits, which gave a NaN threshold and a mask that kept all). */
#include "loss_internal.h"

/* Copies the entropies of the unlabelled voxels of pseudo-class cls (all classes when cls < 0)
 * into out, in voxel order; returns their count. */
static int64_t gather(const loss_geom *g, const loss_net *t, const uint8_t *labelled, int cls,
                      float *out)
{
    const int64_t V = g->n * g->s;
    int64_t m = 0;
    for (int64_t v = 0; v < V; ++v)
        if (!labelled[v] && (cls < 0 || t->argmax[v] == cls))
            out[m++] = t->entropy[v];
    return m;
}

void loss_entropy_mask(const loss_geom *g, const loss_net *teacher, const uint8_t *labelled,
                       const ds_loss_options *opt, float *scratch, uint8_t *role, double *threshold)
{
    const int64_t V = g->n * g->s, K = g->k;
    double t[DS_LOSS_MAX_CLASSES];
    const int class_aware = opt->mask_mode == DS_ENTROPY_MASK_CLASS_AWARE;
    *threshold = 0.0;
    if (class_aware) {
        for (int64_t c = 0; c < K; ++c) {
            const int64_t m = gather(g, teacher, labelled, (int)c, scratch);
            t[c] = m > 0 ? loss_percentile(scratch, m, opt->percentile) : 0.0;
        }
    } else {
        const int64_t m = gather(g, teacher, labelled, -1, scratch);
        *threshold = m > 0 ? loss_percentile(scratch, m, opt->percentile) : 0.0;
    }
#pragma omp parallel for num_threads(g->threads) schedule(static, LOSS_BLOCK) if (loss_parallel(g))
    for (int64_t v = 0; v < V; ++v) {
        const double tv = class_aware ? t[teacher->argmax[v]] : *threshold;
        role[v] = labelled[v] ? LOSS_LABELLED
                              : ((double)teacher->entropy[v] <= tv ? LOSS_RELIABLE : LOSS_UNCERTAIN);
    }
}

void loss_teacher_counts(const loss_geom *g, loss_teacher *t, double *partials)
{
    const int64_t tasks = loss_tasks(g), S = g->s;
#pragma omp parallel for num_threads(g->threads) schedule(static, 1) if (loss_parallel(g))
    for (int64_t task = 0; task < tasks; ++task) {
        int64_t n, s0, s1;
        loss_task_range(g, task, &n, &s0, &s1);
        double kept = 0.0, fg = 0.0;
        for (int64_t s = s0; s < s1; ++s) {
            const int64_t v = n * S + s;
            if (t->role[v] == LOSS_RELIABLE) {
                kept += 1.0;
                fg += t->label[v] != 0;
            }
        }
        partials[2 * task] = kept;
        partials[2 * task + 1] = fg;
    }
    double kept;
    loss_sum_pairs(partials, tasks, &kept, &t->reliable_foreground);
    t->reliable = (int64_t)kept;
}

void loss_union_teacher(const loss_geom *g, const loss_net *a, const loss_net *b,
                        const uint8_t *role_a, const uint8_t *role_b, uint16_t *label,
                        uint8_t *role)
{
    const int64_t V = g->n * g->s;
#pragma omp parallel for num_threads(g->threads) schedule(static, LOSS_BLOCK) if (loss_parallel(g))
    for (int64_t v = 0; v < V; ++v) {
        label[v] = (uint16_t)(a->argmax[v] == 1 || b->argmax[v] == 1);
        if (role_a[v] == LOSS_LABELLED)
            role[v] = LOSS_LABELLED;
        else
            role[v] = role_a[v] == LOSS_RELIABLE || role_b[v] == LOSS_RELIABLE ? LOSS_RELIABLE
                                                                             : LOSS_UNCERTAIN;
    }
}
