/* memory.c - the peak-memory estimate made before a run allocates (ds_train.h).
 *
 * Why measure instead of summing layer shapes by hand: the networks own their buffer layout
 * (kept conv outputs, pooled gradients), and a hand count would drift from it. Every buffer the
 * networks hold has a channel count that is a multiple of the width (or K, for the logits) and a
 * spatial size that is the input's divided by a power of two, so for sizes that are multiples of
 * 16 the bytes are exactly bilinear in (width, voxels): bytes = V (p + q w) + r + s w. Four
 * tiny measurements (widths 1 and 2, two small inputs) fix the four numbers. Parameter counts are
 * exactly quadratic in the width (conv weights w^2, biases and BatchNorm w, the output conv
 * w K + K), so widths 1, 2 and 3 fix them. Nothing is allocated at the real size.
 */
#include "train_internal.h"

#include "ds_threads.h"

#include <unistd.h>

typedef struct net_bytes {
    double act[2][2];  /* [width 1, 2][size 1, 2]: forward activations */
    double pool[2][2]; /* backward's gradient pool */
} net_bytes;

static ds_status measure(ds_ctx *ctx, ds_arch arch, int classes, int width, int64_t w_size,
                         double *act, double *pool)
{
    ds_net *net = NULL;
    ds_tensor *x = NULL, *g = NULL, *gf = NULL;
    ds_rng rng;
    ds_rng_init(&rng, 0, DS_RNG_TEST);
    ds_status st = ds_net_create(ctx, &net, arch, 1, classes, width);
    if (st == DS_OK)
        st = ds_tensor_zeros(ctx, &x, 2, 1, 16, 16, w_size); /* BN needs 2 values */
    const ds_tensor *logits = NULL, *feature = NULL;
    if (st == DS_OK)
        st = ds_net_forward(ctx, net, x, 1, &rng, &logits, &feature);
    if (st == DS_OK) {
        *act = (double)ds_net_activation_bytes(net);
        st = ds_tensor_zeros(ctx, &g, logits->n, logits->c, logits->d, logits->h, logits->w);
    }
    if (st == DS_OK)
        st = ds_tensor_zeros(ctx, &gf, feature->n, feature->c, feature->d, feature->h,
                             feature->w);
    if (st == DS_OK)
        st = ds_net_backward(ctx, net, g, gf);
    if (st == DS_OK)
        *pool = (double)ds_net_activation_bytes(net) - *act;
    ds_tensor_free(x);
    ds_tensor_free(g);
    ds_tensor_free(gf);
    ds_net_free(net);
    return st;
}

/* Activation and pool bytes of one network of `width` for `voxels` input voxels. */
static ds_status net_estimate(ds_ctx *ctx, ds_arch arch, int classes, int width, double voxels,
                              double *act, double *pool, double *params)
{
    net_bytes m;
    for (int w = 0; w < 2; ++w)
        for (int s = 0; s < 2; ++s)
            DS_TRY(measure(ctx, arch, classes, w + 1, 16 << s, &m.act[w][s], &m.pool[w][s]));
    const double v[2] = {2 * 16.0 * 16 * 16, 4 * 16.0 * 16 * 16};
    *act = ds_net_bilinear_bytes((const double(*)[2])m.act, v, width, voxels);
    *pool = ds_net_bilinear_bytes((const double(*)[2])m.pool, v, width, voxels);
    double c[3];
    for (int w = 0; w < 3; ++w) {
        ds_net *net = NULL;
        DS_TRY(ds_net_create(ctx, &net, arch, 1, classes, w + 1));
        c[w] = (double)ds_net_param_count(net);
        ds_net_free(net);
    }
    /* quadratic through (1, c0), (2, c1), (3, c2) */
    double a2 = (c[2] - 2 * c[1] + c[0]) / 2, a1 = c[1] - c[0] - 3 * a2, a0 = c[0] - a1 - a2;
    *params = a0 + a1 * width + a2 * (double)width * width;
    return DS_OK;
}

static int64_t machine_bytes(void)
{
    long pages = sysconf(_SC_PHYS_PAGES), size = sysconf(_SC_PAGE_SIZE);
    return pages > 0 && size > 0 ? (int64_t)pages * size : INT64_MAX;
}

ds_status ds_train_estimate_memory(ds_ctx *ctx, const ds_train_options *opt,
                                   const ds_train_data *data, ds_train_memory *out)
{
    if (!opt || !data || !out)
        return ds_fail(ctx, DS_ERR_ARG, "memory estimate: null argument");
    *out = (ds_train_memory){0};
    int single = opt->pair == DS_PAIR_SINGLE, nets = single ? 1 : 2;
    int classes = ds_train_data_classes(data);
    const int64_t *p = opt->batch.patch;
    double n = opt->batch.labelled + (single ? 0 : opt->batch.unlabelled);
    double voxels = n * (double)p[0] * (double)p[1] * (double)p[2];
    double act[2] = {0, 0}, pool[2] = {0, 0}, params[2] = {0, 0};
    /* the measurements are tiny: one thread is faster than waking a pool on a busy machine */
    int threads = ds_ctx_threads(ctx);
    ds_status st = ds_threads_set(ctx, 1);
    for (int i = 0; st == DS_OK && i < nets; ++i)
        st = net_estimate(ctx, ds_train_arch(opt->pair, i), classes, opt->width, voxels, &act[i],
                          &pool[i], &params[i]);
    ds_status restored = ds_threads_set(ctx, threads);
    DS_TRY(st);
    DS_TRY(restored);
    /* values, gradients, momentum */
    out->parameters = (int64_t)(3 * 4 * (params[0] + params[1]));
    /* the pair shares one gradient pool: the larger of the two */
    out->activations = (int64_t)(act[0] + act[1] + (pool[0] > pool[1] ? pool[0] : pool[1]));
    /* dlogits, dfeature per network, and about K + 4 floats a voxel of loss work buffers */
    out->losses = (int64_t)(4 * voxels * (nets * (classes + opt->width) + classes + 4));
    out->batch = (int64_t)(voxels * 6);
    out->data = ds_train_data_bytes(data) + ds_train_data_bytes(opt->validation);
    /* conv work buffers (im2col tiles), the runtime, the validation's probability maps */
    const int64_t margin = (int64_t)64 << 20;
    out->total = out->parameters + out->activations + out->losses + out->batch + out->data +
                 margin + ds_train_validation_bytes(opt);
    out->limit = machine_bytes();
    if (opt->memory_cap_bytes > 0 && opt->memory_cap_bytes < out->limit)
        out->limit = opt->memory_cap_bytes;
    return DS_OK;
}
