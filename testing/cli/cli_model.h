/* cli_model.h - a randomly initialised model file (no optimisers) for the segmentation tests and
 * the benchmark: DualSegSegment's plumbing does not need trained weights. */
#ifndef DS_CLI_MODEL_H
#define DS_CLI_MODEL_H

#include <stdlib.h>
#include <string.h>

#include "ds_model.h"

/* net_count 1: a V-Net; 2: ResNet34-V-Net + V-Net (the paper's pair). `classes` classes,
 * z-score, patch^3, native spacing. */
static inline ds_status cli_random_model_k(ds_ctx *ctx, int net_count, int width, int patch,
                                           int classes, uint64_t seed, const char *path)
{
    ds_model *m = calloc(1, sizeof *m);
    if (!m)
        return ds_fail(ctx, DS_ERR_NOMEM, "out of memory");
    m->meta.classes = classes;
    m->meta.in_channels = 1;
    m->meta.norm_mode = DS_NORM_ZSCORE;
    m->meta.patch[0] = m->meta.patch[1] = m->meta.patch[2] = patch;
    m->meta.seed = seed;
    ds_status st = DS_OK;
    for (int i = 0; st == DS_OK && i < net_count; ++i) {
        const ds_arch arch = net_count == 2 && i == 0 ? DS_ARCH_RESNET34_VNET : DS_ARCH_VNET;
        ds_rng rng;
        ds_rng_init(&rng, seed, i ? DS_RNG_INIT_B : DS_RNG_INIT_A);
        st = ds_net_create(ctx, &m->net[i], arch, 1, classes, width);
        if (st == DS_OK) {
            m->net_count = i + 1;
            st = ds_net_init_weights(ctx, m->net[i], &rng);
        }
    }
    if (st == DS_OK)
        st = ds_model_save(ctx, m, path);
    ds_model_free(m);
    return st;
}

/* 1 when both models hold the same networks, weights and BatchNorm statistics, bit for bit. */
static inline int cli_same_weights(ds_ctx *ctx, const ds_model *a, const ds_model *b)
{
    if (!a || !b || a->net_count != b->net_count)
        return 0;
    for (int i = 0; i < a->net_count; ++i) {
        const ds_param_list *pa = ds_net_params(a->net[i]), *pb = ds_net_params(b->net[i]);
        if (pa->count != pb->count)
            return 0;
        for (int p = 0; p < pa->count; ++p)
            if (pa->items[p]->numel != pb->items[p]->numel ||
                memcmp(pa->items[p]->value, pb->items[p]->value,
                       sizeof(float) * (size_t)pa->items[p]->numel) != 0)
                return 0;
        for (int k = 0;; ++k) {
            const char *na, *nb;
            int ca, cb;
            float *ma, *va, *mb, *vb;
            int64_t *ta, *tb;
            if (ds_net_batchnorm_state(ctx, a->net[i], k, &na, &ca, &ma, &va, &ta) != DS_OK)
                break;
            if (ds_net_batchnorm_state(ctx, b->net[i], k, &nb, &cb, &mb, &vb, &tb) != DS_OK ||
                ca != cb || memcmp(ma, mb, sizeof(float) * (size_t)ca) != 0 ||
                memcmp(va, vb, sizeof(float) * (size_t)ca) != 0 || *ta != *tb)
                return 0;
        }
    }
    return 1;
}

/* The same with K = 2. */
static inline ds_status cli_random_model(ds_ctx *ctx, int net_count, int width, int patch,
                                         uint64_t seed, const char *path)
{
    return cli_random_model_k(ctx, net_count, width, patch, 2, seed, path);
}

#endif
