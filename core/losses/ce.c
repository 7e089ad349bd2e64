/* ce.c - cross-entropy on a selection of voxels (the supervised CE on labelled voxels, and the
 * kernel of CCE on a teacher's reliable set). Value: -log p_t = lse - z_t. Gradient: p - onehot. */
#include "loss_internal.h"

void loss_ce_forward(const loss_geom *g, const loss_net *net, const uint16_t *target,
                     const uint8_t *sel, uint8_t want, double *partials, double *sum,
                     int64_t *count)
{
    const int64_t tasks = loss_tasks(g), K = g->k, S = g->s;
#pragma omp parallel for num_threads(g->threads) schedule(static, 1) if (loss_parallel(g))
    for (int64_t task = 0; task < tasks; ++task) {
        int64_t n, s0, s1;
        loss_task_range(g, task, &n, &s0, &s1);
        double acc = 0.0, cnt = 0.0;
        for (int64_t s = s0; s < s1; ++s) {
            const int64_t v = n * S + s;
            if (sel[v] != want)
                continue;
            acc += (double)net->lse[v] - (double)net->z[(n * K + target[v]) * S + s];
            cnt += 1.0;
        }
        partials[2 * task] = acc;
        partials[2 * task + 1] = cnt;
    }
    loss_sum_pairs(partials, tasks, sum, count);
}

void loss_ce_backward(const loss_geom *g, const loss_net *net, const uint16_t *target,
                      const uint8_t *sel, uint8_t want, double scale, float *dz)
{
    const int64_t K = g->k, S = g->s, V = g->n * g->s;
#pragma omp parallel for num_threads(g->threads) schedule(static, LOSS_BLOCK) if (loss_parallel(g))
    for (int64_t v = 0; v < V; ++v) {
        if (sel[v] != want)
            continue;
        const int64_t n = v / S, s = v % S;
        const float *p = net->p + n * K * S + s;
        float *d = dz + n * K * S + s;
        for (int64_t c = 0; c < K; ++c)
            d[c * S] += (float)(scale * ((double)p[c * S] - (c == target[v] ? 1.0 : 0.0)));
    }
}
