/* prepare.c - one network's softmax, log-sum-exp, entropy and argmax (see loss_internal.h), and
 * the ordered reduction of block partial sums that every term uses. */
#include "loss_internal.h"

#include <math.h>

void loss_sum_partials(const double *partials, int64_t tasks, int stats, double *out)
{
    for (int j = 0; j < stats; ++j)
        out[j] = 0.0;
    for (int64_t t = 0; t < tasks; ++t)
        for (int j = 0; j < stats; ++j)
            out[j] += partials[t * stats + j];
}

void loss_sum_pairs(const double *partials, int64_t tasks, double *sum, int64_t *count)
{
    double out[2];
    loss_sum_partials(partials, tasks, 2, out);
    *sum = out[0];
    *count = (int64_t)out[1];
}

/* Softmax of one voxel: one expf per class, sums and the log in double, so that the entropy and
 * the teachers' thresholds carry only the float rounding of each probability. */
static int prepare_voxel(const float *z, int64_t stride, int64_t k, float *p, float *lse_out,
                         float *entropy_out, uint16_t *argmax_out)
{
    float m = z[0], e[DS_LOSS_MAX_CLASSES];
    int64_t best = 0;
    for (int64_t c = 1; c < k; ++c)
        if (z[c * stride] > m) {
            m = z[c * stride];
            best = c;
        }
    if (!isfinite(m))
        return 0;
    double sum = 0.0, dot = 0.0;
    for (int64_t c = 0; c < k; ++c) {
        e[c] = expf(z[c * stride] - m);
        sum += (double)e[c];
        dot += (double)e[c] * ((double)z[c * stride] - (double)m);
    }
    if (!isfinite(sum) || !isfinite(dot))
        return 0; /* a NaN or -Inf logit below the maximum */
    const double inv = 1.0 / sum;
    for (int64_t c = 0; c < k; ++c)
        p[c * stride] = (float)((double)e[c] * inv);
    const double log_sum = log(sum);
    *lse_out = (float)((double)m + log_sum);
    *entropy_out = (float)(log_sum - dot * inv); /* -sum p (z - m - log sum) */
    *argmax_out = (uint16_t)best;
    return 1;
}

int64_t loss_prepare(const loss_geom *g, loss_net *net, uint8_t *bad_blocks)
{
    const int64_t tasks = loss_tasks(g), K = g->k, S = g->s;
#pragma omp parallel for num_threads(g->threads) schedule(static, 1) if (loss_parallel(g))
    for (int64_t task = 0; task < tasks; ++task) {
        int64_t n, s0, s1;
        loss_task_range(g, task, &n, &s0, &s1);
        int ok = 1;
        for (int64_t s = s0; s < s1; ++s) {
            const int64_t at = n * K * S + s, v = n * S + s;
            ok &= prepare_voxel(net->z + at, S, K, net->p + at, net->lse + v, net->entropy + v,
                                net->argmax + v);
        }
        bad_blocks[task] = (uint8_t)!ok;
    }
    for (int64_t task = 0; task < tasks; ++task) {
        if (!bad_blocks[task])
            continue;
        int64_t n, s0, s1;
        loss_task_range(g, task, &n, &s0, &s1);
        for (int64_t c = 0; c < K; ++c)
            for (int64_t s = s0; s < s1; ++s)
                if (!isfinite(net->z[(n * K + c) * S + s]))
                    return (n * K + c) * S + s;
    }
    return -1;
}
