/* cr.c - cross-reliability L_cr (MCF; METHOD.md 2.1): on labelled voxels where the two networks'
 * confident predictions disagree (exactly one confident, or both confident with different
 * classes), L_cr(n) = sum_M ||p_n - onehot(y)||^2 / (|M| + 1e-16). M is a discrete set: it
 * carries no gradient. */
#include "loss_internal.h"

static int cr_in_mask(const loss_geom *g, const loss_net *a, const loss_net *b, int64_t v,
                      float confidence)
{
    const int64_t K = g->k, S = g->s, n = v / S, s = v % S;
    const int ca = a->p[(n * K + a->argmax[v]) * S + s] >= confidence;
    const int cb = b->p[(n * K + b->argmax[v]) * S + s] >= confidence;
    return ca != cb || (ca && a->argmax[v] != b->argmax[v]);
}

void loss_cr_forward(const loss_geom *g, const loss_net *self, const loss_net *other,
                     const uint16_t *labels, const uint8_t *labelled, float confidence,
                     double *partials, double *sum, int64_t *count)
{
    const int64_t tasks = loss_tasks(g), K = g->k, S = g->s;
#pragma omp parallel for num_threads(g->threads) schedule(static, 1) if (loss_parallel(g))
    for (int64_t task = 0; task < tasks; ++task) {
        int64_t n, s0, s1;
        loss_task_range(g, task, &n, &s0, &s1);
        double acc = 0.0, cnt = 0.0;
        for (int64_t s = s0; s < s1; ++s) {
            const int64_t v = n * S + s;
            if (!labelled[v] || !cr_in_mask(g, self, other, v, confidence))
                continue;
            for (int64_t c = 0; c < K; ++c) {
                const double e = (double)self->p[(n * K + c) * S + s] - (labels[v] == c);
                acc += e * e;
            }
            cnt += 1.0;
        }
        partials[2 * task] = acc;
        partials[2 * task + 1] = cnt;
    }
    loss_sum_pairs(partials, tasks, sum, count);
}

void loss_cr_backward(const loss_geom *g, const loss_net *self, const loss_net *other,
                      const uint16_t *labels, const uint8_t *labelled, float confidence,
                      double scale, float *dz)
{
    const int64_t K = g->k, S = g->s, V = g->n * g->s;
#pragma omp parallel for num_threads(g->threads) schedule(static, LOSS_BLOCK) if (loss_parallel(g))
    for (int64_t v = 0; v < V; ++v) {
        if (!labelled[v] || !cr_in_mask(g, self, other, v, confidence))
            continue;
        const int64_t n = v / S, s = v % S;
        const float *p = self->p + n * K * S + s;
        double dp[DS_LOSS_MAX_CLASSES];
        for (int64_t c = 0; c < K; ++c)
            dp[c] = 2.0 * ((double)p[c * S] - (labels[v] == c));
        loss_softmax_chain(p, S, K, dp, scale, dz + n * K * S + s);
    }
}
