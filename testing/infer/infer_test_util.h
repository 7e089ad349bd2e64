/* infer_test_util.h - helpers of the infer tests: small networks with random weights, smooth
 * test images, and an independent brute-force sliding window (double precision, its own window
 * extraction, flips, softmax and Gaussian) to compare the library against. */
#ifndef DS_INFER_TEST_UTIL_H
#define DS_INFER_TEST_UTIL_H

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "ds_infer.h"
#include "ds_rng.h"
#include "ds_tensor.h"

/* A network with kaiming weights drawn from seed and BatchNorm statistics away from (0, 1), so
 * that evaluation-mode BatchNorm is not the identity. NULL on failure. */
static inline ds_net *tu_net(ds_ctx *ctx, ds_arch arch, int classes, int width, uint64_t seed)
{
    ds_net *net = NULL;
    if (ds_net_create(ctx, &net, arch, 1, classes, width) != DS_OK)
        return NULL;
    ds_rng rng;
    ds_rng_init(&rng, seed, DS_RNG_TEST);
    if (ds_net_init_weights(ctx, net, &rng) != DS_OK) {
        ds_net_free(net);
        return NULL;
    }
    for (int i = 0; i < ds_net_batchnorm_count(net); ++i) {
        const char *name;
        int channels;
        float *mean, *var;
        int64_t *tracked;
        if (ds_net_batchnorm_state(ctx, net, i, &name, &channels, &mean, &var, &tracked) != DS_OK)
            continue;
        for (int c = 0; c < channels; ++c) {
            mean[c] = 0.2f * (ds_rng_uniform(&rng) - 0.5f);
            var[c] = 0.5f + ds_rng_uniform(&rng);
        }
    }
    return net;
}

/* A network with every weight zero (ds_net_create's state) and the output biases given: its
 * softmax is softmax(bias) at every voxel. */
static inline ds_net *tu_constant_net(ds_ctx *ctx, int classes, const float *bias)
{
    ds_net *net = NULL;
    if (ds_net_create(ctx, &net, DS_ARCH_VNET, 1, classes, 2) != DS_OK)
        return NULL;
    const ds_param_list *params = ds_net_params(net);
    ds_param *b = params->items[params->count - 1]; /* out_conv.bias, the last in state_dict */
    for (int k = 0; k < classes; ++k)
        b->value[k] = bias[k];
    return net;
}

/* A smooth image with some noise: a sum of sines, finite, not constant. */
static inline ds_volume *tu_image(ds_ctx *ctx, const ds_geometry *g, uint64_t seed)
{
    ds_volume *v = NULL;
    if (ds_volume_create(ctx, &v, g, DS_VOLUME_SCALAR) != DS_OK)
        return NULL;
    ds_rng rng;
    ds_rng_init(&rng, seed, DS_RNG_TEST);
    int64_t i = 0;
    for (int64_t z = 0; z < g->size[2]; ++z)
        for (int64_t y = 0; y < g->size[1]; ++y)
            for (int64_t x = 0; x < g->size[0]; ++x, ++i)
                v->values[i] = (float)(sin(0.31 * x) + cos(0.23 * y + 0.5) * sin(0.41 * z + 1.0) +
                                       0.3 * ds_rng_normal(&rng));
    return v;
}

/* ---- The brute-force reference ---- */

typedef struct tu_ref_setup {
    int64_t size[3];      /* the image */
    int64_t patch[3];
    int64_t pad[3];       /* zeros before, along each axis */
    int nstarts[3];
    int64_t starts[3][8]; /* by hand, on the padded axis */
    int gaussian;
    int flips;
} tu_ref_setup;

static inline double tu_gauss(int64_t p, int64_t i, int gaussian)
{
    const double s = p / 8.0, d = (double)(i - p / 2);
    return gaussian ? exp(-d * d / (2 * s * s)) : 1.0;
}

/* Brute force: prob[k * voxels + i] (double) of network net on image values, every window
 * evaluated alone (batch 1), softmax in double, weights summed in a separate volume. 0 on
 * success. */
static inline int tu_reference(ds_ctx *ctx, ds_net *net, const float *values,
                               const tu_ref_setup *s, double *prob)
{
    const int64_t nx = s->size[0], ny = s->size[1], nz = s->size[2], voxels = nx * ny * nz;
    const int64_t px = s->patch[0], py = s->patch[1], pz = s->patch[2], plane = px * py * pz;
    const int classes = ds_net_classes(net);
    double *wsum = calloc((size_t)voxels, sizeof *wsum);
    ds_tensor *x = NULL;
    if (!wsum || ds_tensor_create(ctx, &x, 1, 1, pz, py, px) != DS_OK) {
        free(wsum);
        return -1;
    }
    memset(prob, 0, (size_t)(classes * voxels) * sizeof *prob);
    int fail = 0;
    for (int a = 0; a < s->nstarts[0]; ++a)
    for (int b = 0; b < s->nstarts[1]; ++b)
    for (int c = 0; c < s->nstarts[2]; ++c)
    for (int f = 0; f < (s->flips ? 8 : 1) && !fail; ++f) {
        const int64_t o[3] = {s->starts[0][a] - s->pad[0], s->starts[1][b] - s->pad[1],
                              s->starts[2][c] - s->pad[2]};
        /* The window's voxel (i, j, k) in its own frame; the network sees it mirrored. */
        for (int64_t k = 0; k < pz; ++k)
            for (int64_t j = 0; j < py; ++j)
                for (int64_t i = 0; i < px; ++i) {
                    const int64_t X = o[0] + i, Y = o[1] + j, Z = o[2] + k;
                    const int64_t mi = (f & 1) ? px - 1 - i : i, mj = (f & 2) ? py - 1 - j : j,
                                  mk = (f & 4) ? pz - 1 - k : k;
                    const int inside = X >= 0 && X < nx && Y >= 0 && Y < ny && Z >= 0 && Z < nz;
                    x->data[(mk * py + mj) * px + mi] =
                        inside ? values[(Z * ny + Y) * nx + X] : 0.0f;
                }
        const ds_tensor *logits = NULL;
        if (ds_net_forward(ctx, net, x, 0, NULL, &logits, NULL) != DS_OK) {
            fail = 1;
            break;
        }
        for (int64_t k = 0; k < pz; ++k)
            for (int64_t j = 0; j < py; ++j)
                for (int64_t i = 0; i < px; ++i) {
                    const int64_t X = o[0] + i, Y = o[1] + j, Z = o[2] + k;
                    if (X < 0 || X >= nx || Y < 0 || Y >= ny || Z < 0 || Z >= nz)
                        continue;
                    const int64_t mi = (f & 1) ? px - 1 - i : i, mj = (f & 2) ? py - 1 - j : j,
                                  mk = (f & 4) ? pz - 1 - k : k;
                    const int64_t at = (mk * py + mj) * px + mi, v = (Z * ny + Y) * nx + X;
                    double e[64], tot = 0.0, top = -1e300;
                    for (int q = 0; q < classes; ++q)
                        top = fmax(top, logits->data[q * plane + at]);
                    for (int q = 0; q < classes; ++q)
                        tot += e[q] = exp(logits->data[q * plane + at] - top);
                    const double w = tu_gauss(px, i, s->gaussian) * tu_gauss(py, j, s->gaussian) *
                                     tu_gauss(pz, k, s->gaussian);
                    for (int q = 0; q < classes; ++q)
                        prob[q * voxels + v] += w * e[q] / tot;
                    wsum[v] += w;
                }
    }
    for (int64_t v = 0; v < voxels && !fail; ++v)
        for (int q = 0; q < classes; ++q)
            prob[q * voxels + v] /= wsum[v];
    ds_tensor_free(x);
    free(wsum);
    return fail ? -1 : 0;
}

/* Largest |a - b| over n voxels of a float volume against doubles. */
static inline double tu_max_diff(const float *a, const double *b, int64_t n)
{
    double m = 0.0;
    for (int64_t i = 0; i < n; ++i)
        m = fmax(m, fabs((double)a[i] - b[i]));
    return m;
}

#endif
