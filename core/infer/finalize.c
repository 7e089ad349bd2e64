/* finalize.c - from the accumulated sums to the label, entropy, disagreement and probability
 * volumes. The weight a voxel received is the sum of its class sums (each window's softmax sums
 * to 1), so no weight volume is kept. */
#include "infer_internal.h"

#include <math.h>
#include <string.h>

void ds_infer_result_free(ds_infer_result *r)
{
    if (!r)
        return;
    ds_volume_free(r->label);
    ds_volume_free(r->entropy);
    ds_volume_free(r->disagreement);
    for (int k = 0; k < DS_NET_MAX_CLASSES; ++k)
        ds_volume_free(r->probability[k]);
    memset(r, 0, sizeof *r);
}

ds_status ds_infer_outputs_create(ds_ctx *ctx, const ds_geometry *g, int classes, int nets,
                                  int probabilities, ds_infer_result *out,
                                  float *lend[2][DS_NET_MAX_CLASSES])
{
    memset(out, 0, sizeof *out);
    memset(lend, 0, 2 * sizeof lend[0]);
    ds_status st = ds_volume_create(ctx, &out->entropy, g, DS_VOLUME_SCALAR);
    if (st == DS_OK && nets == 2)
        st = ds_volume_create(ctx, &out->disagreement, g, DS_VOLUME_SCALAR);
    for (int k = 0; st == DS_OK && probabilities && k < classes; ++k)
        st = ds_volume_create(ctx, &out->probability[k], g, DS_VOLUME_SCALAR);
    if (st != DS_OK) {
        ds_infer_result_free(out);
        return st;
    }
    for (int k = 0; probabilities && k < classes; ++k)
        lend[0][k] = out->probability[k]->values;
    if (!probabilities)
        lend[0][0] = out->entropy->values;
    if (nets == 2)
        lend[1][0] = out->disagreement->values;
    return DS_OK;
}

/* Network n's probabilities at voxel i: its class sums over their total. */
static void probabilities_at(const ds_infer_acc *acc, int n, int64_t i, float *p)
{
    float total = 0.0f;
    for (int k = 0; k < acc->classes; ++k)
        total += acc->plane[n][k][i];
    const float inv = total > 0.0f ? 1.0f / total : 0.0f;
    for (int k = 0; k < acc->classes; ++k)
        p[k] = total > 0.0f ? acc->plane[n][k][i] * inv : 1.0f / acc->classes;
}

/* Every voxel reads all its accumulators before writing its outputs, which may be the same
 * memory (lent planes): in place is safe because voxel i only ever touches index i. */
static void finalize_voxels(ds_ctx *ctx, const ds_infer_acc *acc, ds_infer_result *out)
{
    const int classes = acc->classes;
    const float inv_log_k = 1.0f / logf((float)classes);
#pragma omp parallel for num_threads(ds_ctx_threads(ctx)) schedule(static)
    for (int64_t i = 0; i < acc->voxels; ++i) {
        float pa[DS_NET_MAX_CLASSES], pb[DS_NET_MAX_CLASSES], p[DS_NET_MAX_CLASSES];
        probabilities_at(acc, 0, i, pa);
        if (acc->nets == 2)
            probabilities_at(acc, 1, i, pb);
        int best = 0;
        float entropy = 0.0f, kl = 0.0f;
        for (int k = 0; k < classes; ++k) {
            p[k] = acc->nets == 2 ? 0.5f * (pa[k] + pb[k]) : pa[k];
            if (p[k] > p[best])
                best = k;
            entropy -= p[k] * logf(fmaxf(p[k], DS_INFER_LOG_EPS));
            if (acc->nets == 2)
                kl += (pa[k] - pb[k]) * (logf(fmaxf(pa[k], DS_INFER_LOG_EPS)) -
                                         logf(fmaxf(pb[k], DS_INFER_LOG_EPS)));
        }
        out->label->labels[i] = (uint16_t)best;
        out->entropy->values[i] = fminf(fmaxf(entropy * inv_log_k, 0.0f), 1.0f);
        if (out->disagreement)
            out->disagreement->values[i] = fmaxf(kl, 0.0f);
        for (int k = 0; out->probability[0] && k < classes; ++k)
            out->probability[k]->values[i] = p[k];
    }
}

ds_status ds_infer_finalize(ds_ctx *ctx, const ds_infer_acc *acc, const ds_geometry *g,
                            ds_infer_result *out)
{
    DS_TRY(ds_volume_create(ctx, &out->label, g, DS_VOLUME_LABEL));
    finalize_voxels(ctx, acc, out);
    out->classes = acc->classes;
    out->nets_used = acc->nets;
    out->windows = acc->windows;
    out->passes = acc->passes;
    return DS_OK;
}
