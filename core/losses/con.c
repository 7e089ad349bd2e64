/* con.c - prototype contrastive alignment of uncertain voxels (METHOD.md 2.4).
 *   g = f / max(|f|, 1e-12) (F.normalize), per voxel, for the student network n;
 *   mu_c = normalised mean of g over R_m with y_m = c (detached); classes with no reliable voxel
 *   have no prototype and are left out of every denominator;
 *   U = unlabelled voxels outside R_m whose pseudo-class has a prototype; at most S of them are
 *   drawn (partial Fisher-Yates over voxel order: the draw does not depend on the thread count);
 *   L_con = mean over drawn u of -log softmax_k(g_u . mu_k / tau)[y_m(u)].
 * dL/dg_u = (sum_k q_k mu_k - mu_c) / tau with q the softmax, then through the normalisation:
 * df = (dg - g (g . dg)) / |f| (the public code computed this term without gradient). */
#include "loss_internal.h"

#include <math.h>

#define CON_EPS 1e-12

/* g of voxel (n, s) into out; returns max(|f|, eps). */
static double con_normalise(const loss_geom *g, const float *feature, int64_t F, int64_t n,
                            int64_t s, double *out)
{
    const float *f = feature + n * F * g->s + s;
    double ss = 0.0;
    for (int64_t j = 0; j < F; ++j) {
        out[j] = f[j * g->s];
        ss += out[j] * out[j];
    }
    const double r = fmax(sqrt(ss), CON_EPS);
    for (int64_t j = 0; j < F; ++j)
        out[j] /= r;
    return r;
}

static void con_prototypes(const loss_geom *g, const float *feature, const loss_teacher *t,
                           double *partials, loss_con *con)
{
    const int64_t tasks = loss_tasks(g), K = g->k, S = g->s, F = con->f;
    const int nstat = (int)(K * (F + 1));
#pragma omp parallel for num_threads(g->threads) schedule(static, 1) if (loss_parallel(g))
    for (int64_t task = 0; task < tasks; ++task) {
        int64_t n, s0, s1;
        loss_task_range(g, task, &n, &s0, &s1);
        double *acc = partials + task * nstat, gv[DS_LOSS_MAX_FEATURES];
        for (int j = 0; j < nstat; ++j)
            acc[j] = 0.0;
        for (int64_t s = s0; s < s1; ++s) {
            const int64_t v = n * S + s;
            if (t->role[v] != LOSS_RELIABLE)
                continue;
            con_normalise(g, feature, F, n, s, gv);
            double *row = acc + t->label[v] * (F + 1);
            for (int64_t j = 0; j < F; ++j)
                row[j] += gv[j];
            row[F] += 1.0;
        }
    }
    double *sums = partials + tasks * nstat; /* room left by the caller */
    loss_sum_partials(partials, tasks, nstat, sums);
    con->prototypes = 0;
    for (int64_t c = 0; c < K; ++c) {
        const double *row = sums + c * (F + 1);
        double *mu = con->proto + c * F, ss = 0.0;
        con->has_proto[c] = row[F] > 0.0;
        if (!con->has_proto[c])
            continue;
        ++con->prototypes;
        for (int64_t j = 0; j < F; ++j) {
            mu[j] = row[j] / row[F];
            ss += mu[j] * mu[j];
        }
        const double r = fmax(sqrt(ss), CON_EPS);
        for (int64_t j = 0; j < F; ++j)
            mu[j] /= r;
    }
}

/* The eligible uncertain voxels in voxel order (per-block counts, then offsets). */
static int64_t con_eligible(const loss_geom *g, const loss_teacher *t, double *partials,
                            loss_con *con)
{
    const int64_t tasks = loss_tasks(g), S = g->s;
#pragma omp parallel for num_threads(g->threads) schedule(static, 1) if (loss_parallel(g))
    for (int64_t task = 0; task < tasks; ++task) {
        int64_t n, s0, s1, cnt = 0;
        loss_task_range(g, task, &n, &s0, &s1);
        for (int64_t s = s0; s < s1; ++s)
            cnt += t->role[n * S + s] == LOSS_UNCERTAIN && con->has_proto[t->label[n * S + s]];
        partials[task] = (double)cnt;
    }
    int64_t total = 0;
    for (int64_t task = 0; task < tasks; ++task) {
        const int64_t cnt = (int64_t)partials[task];
        partials[task] = (double)total;
        total += cnt;
    }
#pragma omp parallel for num_threads(g->threads) schedule(static, 1) if (loss_parallel(g))
    for (int64_t task = 0; task < tasks; ++task) {
        int64_t n, s0, s1, at = (int64_t)partials[task];
        loss_task_range(g, task, &n, &s0, &s1);
        for (int64_t s = s0; s < s1; ++s) {
            const int64_t v = n * S + s;
            if (t->role[v] == LOSS_UNCERTAIN && con->has_proto[t->label[v]])
                con->sample[at++] = (uint32_t)v;
        }
    }
    return total;
}

/* Loss at one voxel and, when dg is not NULL, dL/dg; g holds the normalised feature. */
static double con_voxel(const loss_con *con, int64_t k, const double *gv, int cls, double tau,
                        double *dg)
{
    const int64_t F = con->f;
    double sc[DS_LOSS_MAX_CLASSES], m = -INFINITY;
    for (int64_t c = 0; c < k; ++c) {
        if (!con->has_proto[c])
            continue;
        double d = 0.0;
        for (int64_t j = 0; j < F; ++j)
            d += gv[j] * con->proto[c * F + j];
        sc[c] = d / tau;
        m = fmax(m, sc[c]);
    }
    double sum = 0.0;
    for (int64_t c = 0; c < k; ++c)
        if (con->has_proto[c])
            sum += exp(sc[c] - m);
    if (dg) {
        for (int64_t j = 0; j < F; ++j)
            dg[j] = -con->proto[cls * F + j] / tau;
        for (int64_t c = 0; c < k; ++c) {
            if (!con->has_proto[c])
                continue;
            const double q = exp(sc[c] - m) / sum;
            for (int64_t j = 0; j < F; ++j)
                dg[j] += q * con->proto[c * F + j] / tau;
        }
    }
    return m + log(sum) - sc[cls];
}

double loss_con_forward(const loss_geom *g, const float *feature, const loss_teacher *t,
                        double tau, int64_t max_samples, ds_rng *rng, double *partials,
                        loss_con *con)
{
    con_prototypes(g, feature, t, partials, con);
    const int64_t eligible = con_eligible(g, t, partials, con);
    con->samples = eligible;
    if (eligible > max_samples) {
        for (int64_t i = 0; i < max_samples; ++i) {
            const int64_t j = i + (int64_t)ds_rng_below(rng, (uint32_t)(eligible - i));
            const uint32_t tmp = con->sample[i];
            con->sample[i] = con->sample[j];
            con->sample[j] = tmp;
        }
        con->samples = max_samples;
    }
    /* chunks of LOSS_BLOCK samples: at most as many as voxel blocks, so partials has room */
    const int64_t count = con->samples, S = g->s, chunks = (count + LOSS_BLOCK - 1) / LOSS_BLOCK;
#pragma omp parallel for num_threads(g->threads) schedule(static) if (chunks > 1)
    for (int64_t ch = 0; ch < chunks; ++ch) {
        const int64_t end = (ch + 1) * LOSS_BLOCK < count ? (ch + 1) * LOSS_BLOCK : count;
        double acc = 0.0, gv[DS_LOSS_MAX_FEATURES];
        for (int64_t i = ch * LOSS_BLOCK; i < end; ++i) {
            const int64_t v = con->sample[i];
            con_normalise(g, feature, con->f, v / S, v % S, gv);
            acc += con_voxel(con, g->k, gv, t->label[v], tau, NULL);
        }
        partials[ch] = acc;
    }
    double sum;
    loss_sum_partials(partials, chunks, 1, &sum);
    return count > 0 ? sum / (double)count : 0.0;
}

void loss_con_backward(const loss_geom *g, const float *feature, const loss_teacher *t,
                       double tau, const loss_con *con, double weight, float *df)
{
    const int64_t count = con->samples, S = g->s, F = con->f;
    if (count == 0)
        return;
    const double scale = weight / (double)count;
#pragma omp parallel for num_threads(g->threads) schedule(static) if (count > 256)
    for (int64_t i = 0; i < count; ++i) {
        const int64_t v = con->sample[i], n = v / S, s = v % S;
        double gv[DS_LOSS_MAX_FEATURES], dg[DS_LOSS_MAX_FEATURES];
        const double r = con_normalise(g, feature, F, n, s, gv);
        con_voxel(con, g->k, gv, t->label[v], tau, dg);
        double dot = 0.0;
        for (int64_t j = 0; j < F; ++j)
            dot += gv[j] * dg[j];
        const int below_eps = r <= CON_EPS; /* F.normalize divides by the constant eps there */
        float *d = df + n * F * S + s;
        for (int64_t j = 0; j < F; ++j)
            d[j * S] += (float)(scale * (below_eps ? dg[j] : dg[j] - gv[j] * dot) / r);
    }
}
