/* dice.c - soft Dice over the foreground classes on labelled voxels (METHOD.md 2.1):
 * Dice = mean_{c >= 1} 1 - (2 I_c + s) / (P_c + G_c + s), I_c = sum p_c g_c, P_c = sum p_c^2,
 * G_c = sum g_c (g one-hot, so g^2 = g). */
#include "loss_internal.h"

double loss_dice_forward(const loss_geom *g, const loss_net *net, const uint16_t *labels,
                         const uint8_t *labelled, double smooth, double *partials, double *stats)
{
    const int64_t tasks = loss_tasks(g), K = g->k, S = g->s;
    const int nstat = (int)(3 * (K - 1));
#pragma omp parallel for num_threads(g->threads) schedule(static, 1) if (loss_parallel(g))
    for (int64_t task = 0; task < tasks; ++task) {
        int64_t n, s0, s1;
        loss_task_range(g, task, &n, &s0, &s1);
        double *acc = partials + task * nstat;
        for (int j = 0; j < nstat; ++j)
            acc[j] = 0.0;
        for (int64_t s = s0; s < s1; ++s) {
            const int64_t v = n * S + s;
            if (!labelled[v])
                continue;
            for (int64_t c = 1; c < K; ++c) {
                const double pc = net->p[(n * K + c) * S + s];
                const double gc = labels[v] == c ? 1.0 : 0.0;
                acc[3 * (c - 1)] += pc * gc;
                acc[3 * (c - 1) + 1] += pc * pc;
                acc[3 * (c - 1) + 2] += gc;
            }
        }
    }
    loss_sum_partials(partials, tasks, nstat, stats);
    double loss = 0.0;
    for (int64_t c = 1; c < K; ++c) {
        const double *st = stats + 3 * (c - 1);
        loss += 1.0 - (2.0 * st[0] + smooth) / (st[1] + st[2] + smooth);
    }
    return loss / (double)(K - 1);
}

void loss_dice_backward(const loss_geom *g, const loss_net *net, const uint16_t *labels,
                        const uint8_t *labelled, double smooth, const double *stats, double scale,
                        float *dz)
{
    const int64_t K = g->k, S = g->s, V = g->n * g->s;
    const double per_class = scale / (double)(K - 1);
#pragma omp parallel for num_threads(g->threads) schedule(static, LOSS_BLOCK) if (loss_parallel(g))
    for (int64_t v = 0; v < V; ++v) {
        if (!labelled[v])
            continue;
        const int64_t n = v / S, s = v % S;
        const float *p = net->p + n * K * S + s;
        double dp[DS_LOSS_MAX_CLASSES];
        dp[0] = 0.0;
        for (int64_t c = 1; c < K; ++c) {
            const double *st = stats + 3 * (c - 1);
            const double num = 2.0 * st[0] + smooth, den = st[1] + st[2] + smooth;
            const double gc = labels[v] == c ? 1.0 : 0.0;
            /* d/dp of -(num / den) */
            dp[c] = -(2.0 * gc * den - num * 2.0 * (double)p[c * S]) / (den * den);
        }
        loss_softmax_chain(p, S, K, dp, per_class, dz + n * K * S + s);
    }
}
