/* batch.c - batches of random crops with centred padding and optional augmentation
 * (rules in ds_train.h). */
#include "train_internal.h"

#include <stdlib.h>
#include <string.h>

ds_status ds_batch_options_check(ds_ctx *ctx, const ds_batch_options *opt, int single)
{
    for (int a = 0; a < 3; ++a)
        if (opt->patch[a] < DS_NET_SIZE_MULTIPLE || opt->patch[a] % DS_NET_SIZE_MULTIPLE != 0 ||
            opt->patch[a] > 4096)
            return ds_fail(ctx, DS_ERR_ARG,
                           "patch %lldx%lldx%lld: each size must be a positive multiple of %d "
                           "(the networks down-sample four times)",
                           (long long)opt->patch[0], (long long)opt->patch[1],
                           (long long)opt->patch[2], DS_NET_SIZE_MULTIPLE);
    if (opt->labelled < 1 || opt->labelled > 256)
        return ds_fail(ctx, DS_ERR_ARG, "batch: %d labelled samples (1..256)", opt->labelled);
    if (!single && (opt->unlabelled < 0 || opt->unlabelled > 256))
        return ds_fail(ctx, DS_ERR_ARG, "batch: %d unlabelled samples (0..256)", opt->unlabelled);
    const ds_augment_options *g = &opt->augment;
    if (!(g->intensity_scale >= 0 && g->intensity_scale < 1) ||
        !(g->intensity_shift >= 0 && g->intensity_shift < 1e6))
        return ds_fail(ctx, DS_ERR_ARG, "augmentation: intensity scale %g (0..1) / shift %g (>= 0)",
                       g->intensity_scale, g->intensity_shift);
    if (g->rotate90) {
        static const int axes[3][2] = {{0, 1}, {0, 2}, {1, 2}};
        if ((int)g->plane < 0 || (int)g->plane > 2)
            return ds_fail(ctx, DS_ERR_ARG, "augmentation: rotation plane %d (0..2)", g->plane);
        const int *ax = axes[g->plane];
        if (opt->patch[ax[0]] != opt->patch[ax[1]])
            return ds_fail(ctx, DS_ERR_ARG,
                           "augmentation: 90-degree rotations in a plane need equal patch sizes "
                           "there (%lld and %lld)",
                           (long long)opt->patch[ax[0]], (long long)opt->patch[ax[1]]);
    }
    return DS_OK;
}

ds_status ds_batch_create(ds_ctx *ctx, const ds_batch_options *opt, int unlabelled,
                          ds_batch *out)
{
    memset(out, 0, sizeof *out);
    int64_t n = opt->labelled + unlabelled;
    TRY(ds_tensor_create(ctx, &out->image, n, 1, opt->patch[2], opt->patch[1], opt->patch[0]));
    int64_t voxels = ds_tensor_numel(out->image);
    out->labels = malloc((size_t)voxels * sizeof(uint16_t));
    out->scratch = ds_aligned_alloc((size_t)(voxels / n) * sizeof(float));
    out->scratch_labels = malloc((size_t)(voxels / n) * sizeof(uint16_t));
    if (!out->labels || !out->scratch || !out->scratch_labels) {
        ds_batch_free(out);
        return ds_fail(ctx, DS_ERR_NOMEM, "batch: out of memory for %lld voxels",
                       (long long)voxels);
    }
    out->labelled = opt->labelled;
    out->unlabelled = unlabelled;
    return DS_OK;
}

void ds_batch_free(ds_batch *b)
{
    if (!b)
        return;
    ds_tensor_free(b->image);
    free(b->labels);
    ds_aligned_free(b->scratch);
    free(b->scratch_labels);
    memset(b, 0, sizeof *b);
}

/* The case of a sample: the k-th labelled case, or the k-th unlabelled one (any case when the
 * data has none). */
static int pick_case(const ds_train_data *d, ds_rng *sampling, int labelled, int *hide_label)
{
    int unl = d->count - d->labelled;
    int pool = labelled ? d->labelled : (unl > 0 ? unl : d->count);
    int k = (int)ds_rng_below(sampling, (uint32_t)pool);
    *hide_label = !labelled;
    if (!labelled && unl == 0)
        return k;
    for (int i = 0; i < d->count; ++i)
        if ((d->cases[i].label != NULL) == (labelled != 0) && k-- == 0)
            return i;
    return 0; /* unreachable: pool counts the matching cases */
}

/* Copies the crop at offset off (negative: centred padding) of case c into img / lab. */
static void crop(const ds_ctx *ctx, const ds_train_case *c, int hide_label, int ignore,
                 const int64_t patch[3], const int64_t off[3], float *img, uint16_t *lab)
{
    const int64_t *size = c->image->geom.size;
    const float *src = c->image->values;
    const uint16_t *srl = hide_label || !c->label ? NULL : c->label->labels;
#pragma omp parallel for num_threads(ds_ctx_threads(ctx)) schedule(static)
    for (int64_t z = 0; z < patch[2]; ++z)
        for (int64_t y = 0; y < patch[1]; ++y) {
            int64_t sz = z + off[2], sy = y + off[1];
            int inside = sz >= 0 && sz < size[2] && sy >= 0 && sy < size[1];
            float *o = img + (z * patch[1] + y) * patch[0];
            uint16_t *ol = lab + (z * patch[1] + y) * patch[0];
            for (int64_t x = 0; x < patch[0]; ++x) {
                int64_t sx = x + off[0];
                if (inside && sx >= 0 && sx < size[0]) {
                    int64_t v = sx + size[0] * (sy + size[1] * sz);
                    o[x] = src[v];
                    ol[x] = srl ? srl[v] : (uint16_t)ignore;
                } else {
                    o[x] = 0.0f;
                    ol[x] = (uint16_t)ignore;
                }
            }
        }
}

static void flip_axis(const int64_t p[3], int axis, float *img, uint16_t *lab)
{
    int64_t stride = axis == 0 ? 1 : axis == 1 ? p[0] : p[0] * p[1];
    int64_t n = p[axis];
    for (int64_t v = 0; v < p[0] * p[1] * p[2]; ++v) {
        int64_t i = v / stride % n;
        if (i >= n / 2)
            continue;
        int64_t w = v + (n - 1 - 2 * i) * stride;
        float t = img[v];
        img[v] = img[w];
        img[w] = t;
        uint16_t tl = lab[v];
        lab[v] = lab[w];
        lab[w] = tl;
    }
}

/* Rotation by k * 90 degrees in the plane of axes (a, b), whose sizes are equal (P):
 * out(u, v) = in(src(u, v)). */
static void rotate(const int64_t p[3], ds_plane plane, int k, float *img, uint16_t *lab,
                   float *tmp, uint16_t *tmpl)
{
    static const int axes[3][2] = {{0, 1}, {0, 2}, {1, 2}};
    const int a = axes[plane][0], b = axes[plane][1];
    int64_t voxels = p[0] * p[1] * p[2], P = p[a];
    memcpy(tmp, img, (size_t)voxels * sizeof(float));
    memcpy(tmpl, lab, (size_t)voxels * sizeof(uint16_t));
    const int64_t stride[3] = {1, p[0], p[0] * p[1]};
    for (int64_t v = 0; v < voxels; ++v) {
        int64_t u = v / stride[a] % P, w = v / stride[b] % P, su, sw;
        if (k == 1) { su = w; sw = P - 1 - u; }
        else if (k == 2) { su = P - 1 - u; sw = P - 1 - w; }
        else { su = P - 1 - w; sw = u; }
        int64_t s = v + (su - u) * stride[a] + (sw - w) * stride[b];
        img[v] = tmp[s];
        lab[v] = tmpl[s];
    }
}

static void augment(const ds_batch_options *opt, ds_rng *rng, float *img, uint16_t *lab,
                    float *tmp, uint16_t *tmpl)
{
    const ds_augment_options *g = &opt->augment;
    for (int a = 0; a < 3; ++a)
        if (g->flip[a] && ds_rng_below(rng, 2))
            flip_axis(opt->patch, a, img, lab);
    if (g->rotate90) {
        int k = (int)ds_rng_below(rng, 4);
        if (k)
            rotate(opt->patch, g->plane, k, img, lab, tmp, tmpl);
    }
    if (g->intensity_scale > 0 || g->intensity_shift > 0) {
        float s = 1.0f + g->intensity_scale * (2.0f * ds_rng_uniform(rng) - 1.0f);
        float b = g->intensity_shift * (2.0f * ds_rng_uniform(rng) - 1.0f);
        int64_t n = opt->patch[0] * opt->patch[1] * opt->patch[2];
        for (int64_t v = 0; v < n; ++v)
            img[v] = img[v] * s + b;
    }
}

ds_status ds_batch_draw(ds_ctx *ctx, const ds_train_data *data, const ds_batch_options *opt,
                        ds_rng *sampling, ds_rng *crop_rng, ds_rng *aug_rng, ds_batch *b)
{
    if (!data || data->count == 0)
        return ds_fail(ctx, DS_ERR_ARG, "batch: no training case");
    if (b->labelled > 0 && data->labelled == 0)
        return ds_fail(ctx, DS_ERR_ARG, "batch: no labelled training case");
    int64_t voxels = opt->patch[0] * opt->patch[1] * opt->patch[2];
    for (int s = 0; s < b->labelled + b->unlabelled; ++s) {
        int hide;
        const ds_train_case *c = &data->cases[pick_case(data, sampling, s < b->labelled, &hide)];
        int64_t off[3];
        for (int a = 0; a < 3; ++a) {
            int64_t n = c->image->geom.size[a], p = opt->patch[a];
            off[a] = n >= p ? (int64_t)ds_rng_below(crop_rng, (uint32_t)(n - p + 1))
                            : -((p - n) / 2);
        }
        float *img = b->image->data + s * voxels;
        uint16_t *lab = b->labels + s * voxels;
        crop(ctx, c, hide, data->opt.ignore_label, opt->patch, off, img, lab);
        augment(opt, aug_rng, img, lab, b->scratch, b->scratch_labels);
    }
    return DS_OK;
}
