/* cli_model.h - a randomly initialised model file (no optimisers) for the segmentation tests and
 * the benchmark: DualSegSegment's plumbing does not need trained weights. */
#ifndef DS_CLI_MODEL_H
#define DS_CLI_MODEL_H

#include <stdlib.h>

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

/* The same with K = 2. */
static inline ds_status cli_random_model(ds_ctx *ctx, int net_count, int width, int patch,
                                         uint64_t seed, const char *path)
{
    return cli_random_model_k(ctx, net_count, width, patch, 2, seed, path);
}

#endif
