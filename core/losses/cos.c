/* cos.c - output consistency (METHOD.md 2.5): L_cos = mean_v [1 - cos(p_A, p_B)], in both totals;
 * each network gets the gradient with respect to its own logits:
 *   d(1 - cos)/da = -(b / (|a| |b|) - cos a / |a|^2), then the softmax chain. */
#include "loss_internal.h"

#include <math.h>

static double cos_voxel(const float *a, const float *b, int64_t stride, int64_t k, double *na,
                        double *nb)
{
    double ab = 0.0, aa = 0.0, bb = 0.0;
    for (int64_t c = 0; c < k; ++c) {
        const double x = a[c * stride], y = b[c * stride];
        ab += x * y;
        aa += x * x;
        bb += y * y;
    }
    *na = sqrt(aa);
    *nb = sqrt(bb);
    return ab / (*na * *nb); /* |p| >= 1/sqrt(K): never near zero */
}

double loss_cos_forward(const loss_geom *g, const loss_net *self, const loss_net *other,
                        double *partials)
{
    const int64_t tasks = loss_tasks(g), K = g->k, S = g->s;
#pragma omp parallel for num_threads(g->threads) schedule(static, 1) if (loss_parallel(g))
    for (int64_t task = 0; task < tasks; ++task) {
        int64_t n, s0, s1;
        loss_task_range(g, task, &n, &s0, &s1);
        double acc = 0.0, na, nb;
        for (int64_t s = s0; s < s1; ++s) {
            const int64_t at = n * K * S + s;
            acc += 1.0 - cos_voxel(self->p + at, other->p + at, S, K, &na, &nb);
        }
        partials[task] = acc;
    }
    double sum;
    loss_sum_partials(partials, tasks, 1, &sum);
    return sum / (double)(g->n * g->s);
}

void loss_cos_backward(const loss_geom *g, const loss_net *self, const loss_net *other,
                       double weight, float *dz)
{
    const int64_t K = g->k, S = g->s, V = g->n * g->s;
    const double scale = weight / (double)V;
#pragma omp parallel for num_threads(g->threads) schedule(static, LOSS_BLOCK) if (loss_parallel(g))
    for (int64_t v = 0; v < V; ++v) {
        const int64_t at = (v / S) * K * S + v % S;
        const float *a = self->p + at, *b = other->p + at;
        double na, nb, dp[DS_LOSS_MAX_CLASSES];
        const double cs = cos_voxel(a, b, S, K, &na, &nb);
        for (int64_t c = 0; c < K; ++c)
            dp[c] = -((double)b[c * S] / (na * nb) - cs * (double)a[c * S] / (na * na));
        loss_softmax_chain(a, S, K, dp, scale, dz + at);
    }
}
