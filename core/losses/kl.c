/* kl.c - KL-weighted (uncertainty-rectified) pseudo-label loss (METHOD.md 2.3), every voxel:
 *   D_v = KL(p_m || p_n) = sum_c p_m,c (log p_m,c - log p_n,c)     (p_m detached)
 *   L_kl(n) = mean_v [exp(-D_v) CE(z_n, argmax p_m)] + mean_v [D_v]
 * The gradient goes through every occurrence of p_n, the weight exp(-D_v) included:
 *   dD/dz_j = p_n,j - p_m,j, dCE/dz_j = p_n,j - [j = y_m],
 *   d/dz_j = exp(-D) (dCE/dz_j - CE dD/dz_j) + dD/dz_j. */
#include "loss_internal.h"

#include <math.h>

/* D, CE at voxel (n, s). */
static void kl_voxel(const loss_geom *g, const loss_net *st, const loss_net *te, int64_t n,
                     int64_t s, double *d_out, double *ce_out)
{
    const int64_t K = g->k, S = g->s, v = n * S + s;
    const double lse_n = st->lse[v], lse_m = te->lse[v];
    double d = 0.0;
    for (int64_t c = 0; c < K; ++c) {
        const int64_t at = (n * K + c) * S + s;
        const double pm = te->p[at];
        if (pm > 0.0)
            d += pm * (((double)te->z[at] - lse_m) - ((double)st->z[at] - lse_n));
    }
    *d_out = d;
    *ce_out = lse_n - (double)st->z[(n * K + te->argmax[v]) * S + s];
}

double loss_kl_forward(const loss_geom *g, const loss_net *student, const loss_net *teacher,
                       double *partials)
{
    const int64_t tasks = loss_tasks(g);
#pragma omp parallel for num_threads(g->threads) schedule(static, 1) if (loss_parallel(g))
    for (int64_t task = 0; task < tasks; ++task) {
        int64_t n, s0, s1;
        loss_task_range(g, task, &n, &s0, &s1);
        double acc = 0.0;
        for (int64_t s = s0; s < s1; ++s) {
            double d, ce;
            kl_voxel(g, student, teacher, n, s, &d, &ce);
            acc += exp(-d) * ce + d;
        }
        partials[task] = acc;
    }
    double sum;
    loss_sum_partials(partials, tasks, 1, &sum);
    return sum / (double)(g->n * g->s);
}

void loss_kl_backward(const loss_geom *g, const loss_net *student, const loss_net *teacher,
                      double weight, float *dz)
{
    const int64_t K = g->k, S = g->s, V = g->n * g->s;
    const double scale = weight / (double)V;
#pragma omp parallel for num_threads(g->threads) schedule(static, LOSS_BLOCK) if (loss_parallel(g))
    for (int64_t v = 0; v < V; ++v) {
        const int64_t n = v / S, s = v % S;
        double d, ce;
        kl_voxel(g, student, teacher, n, s, &d, &ce);
        const double w = exp(-d);
        const uint16_t y = teacher->argmax[v];
        for (int64_t c = 0; c < K; ++c) {
            const int64_t at = (n * K + c) * S + s;
            const double pn = student->p[at], dd = pn - (double)teacher->p[at];
            const double dce = pn - (c == y ? 1.0 : 0.0);
            dz[at] += (float)(scale * (w * (dce - ce * dd) + dd));
        }
    }
}
