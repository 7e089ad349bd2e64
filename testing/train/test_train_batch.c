/* test_train_batch.c - batches: crops, centred padding, unlabelled and partial labels,
 * augmentation, the in-memory cache. References are computed here independently: the expected
 * crop from the source volume by index arithmetic, rotations the way numpy.rot90 defines them,
 * and hand-known values (pad 0 / ignore label, counts). */
#include "ds_test.h"
#include "ds_train.h"

#include <stdlib.h>
#include <string.h>

#define IGN 255

/* A volume whose voxel (i, j, k) holds 1 + i + 100 j + 10000 k, and a label of 1 where i > j. */
static void coded_case(ds_ctx *ctx, int64_t nx, int64_t ny, int64_t nz, ds_volume **img,
                       ds_volume **lab)
{
    ds_geometry g;
    ds_geometry_identity(&g, nx, ny, nz);
    DS_CHECK_OK(ctx, ds_volume_create(ctx, img, &g, DS_VOLUME_SCALAR));
    DS_CHECK_OK(ctx, ds_volume_create(ctx, lab, &g, DS_VOLUME_LABEL));
    for (int64_t k = 0; k < nz; ++k)
        for (int64_t j = 0; j < ny; ++j)
            for (int64_t i = 0; i < nx; ++i) {
                int64_t v = i + nx * (j + ny * k);
                (*img)->values[v] = (float)(1 + i + 100 * j + 10000 * k);
                (*lab)->labels[v] = i > j;
            }
}

static ds_train_data *new_data(ds_ctx *ctx, int partial_axis)
{
    ds_load_options lo;
    ds_load_options_default(&lo);
    lo.num_classes = 2;
    lo.ignore_label = IGN;
    lo.partial_axis = partial_axis;
    ds_train_data *d = NULL;
    DS_CHECK_OK(ctx, ds_train_data_create(ctx, &lo, &d));
    return d;
}

static void options(ds_batch_options *o)
{
    memset(o, 0, sizeof *o);
    o->patch[0] = o->patch[1] = o->patch[2] = 16;
    o->labelled = 1;
    o->unlabelled = 1;
}

static void rngs(ds_rng r[3], uint64_t seed)
{
    ds_rng_init(&r[0], seed, DS_RNG_SAMPLING);
    ds_rng_init(&r[1], seed, DS_RNG_CROP);
    ds_rng_init(&r[2], seed, DS_RNG_AUGMENT);
}

/* A 10 x 20 x 12 case in a 16^3 patch: x and z centred with 3 and 2 voxels of padding before,
 * y cropped at some offset 0..4; the unlabelled sample (the same case, its label hidden, since
 * the set has no unlabelled case) is all ignore. */
static void test_crop_and_padding(ds_ctx *ctx)
{
    ds_train_data *d = new_data(ctx, -1);
    ds_volume *img, *lab;
    coded_case(ctx, 10, 20, 12, &img, &lab);
    DS_CHECK_OK(ctx, ds_train_data_add(ctx, d, img, lab));
    DS_CHECK(ds_train_data_bytes(d) == 10 * 20 * 12 * 6);
    ds_batch_options o;
    options(&o);
    ds_batch b;
    DS_CHECK_OK(ctx, ds_batch_create(ctx, &o, 1, &b));
    ds_rng r[3];
    rngs(r, 3);
    int offsets_seen[5] = {0};
    for (int draw = 0; draw < 20; ++draw) {
        DS_CHECK_OK(ctx, ds_batch_draw(ctx, d, &o, &r[0], &r[1], &r[2], &b));
        /* the y offset from the first inside voxel (x 3, z 2 hold source (0, oy, 0)) */
        int64_t oy = (int64_t)(b.image->data[(2 * 16 + 0) * 16 + 3] - 1) / 100;
        DS_CHECK(oy >= 0 && oy <= 4);
        if (oy >= 0 && oy <= 4)
            offsets_seen[oy] = 1;
        int bad = 0, bad_unl = 0;
        for (int64_t z = 0; z < 16; ++z)
            for (int64_t y = 0; y < 16; ++y)
                for (int64_t x = 0; x < 16; ++x) {
                    int64_t v = (z * 16 + y) * 16 + x, sx = x - 3, sy = y + oy, sz = z - 2;
                    int in = sx >= 0 && sx < 10 && sz >= 0 && sz < 12;
                    float want = in ? (float)(1 + sx + 100 * sy + 10000 * sz) : 0.0f;
                    uint16_t wl = in ? (uint16_t)(sx > sy) : IGN;
                    bad += b.image->data[v] != want || b.labels[v] != wl;
                    bad_unl += b.labels[4096 + v] != IGN;
                }
        DS_CHECK_MSG(bad == 0, "draw %d: %d voxels differ from the expected crop", draw, bad);
        DS_CHECK_MSG(bad_unl == 0, "unlabelled sample has %d labelled voxels", bad_unl);
    }
    DS_CHECK(offsets_seen[0] + offsets_seen[1] + offsets_seen[2] + offsets_seen[3] +
                 offsets_seen[4] >= 3);
    ds_batch_free(&b);
    ds_volume_free(img);
    ds_volume_free(lab);
    ds_train_data_free(d);
}

/* Partial labels: slices along z without foreground become ignore; an unlabelled case is
 * drawn for the unlabelled stream when there is one. */
static void test_partial_and_streams(ds_ctx *ctx)
{
    ds_train_data *d = new_data(ctx, 2);
    ds_volume *img, *lab;
    coded_case(ctx, 16, 16, 16, &img, &lab);
    for (int64_t v = 0; v < 16 * 16 * 16; ++v)
        if (v / 256 % 2) /* odd z slices: no foreground -> unannotated */
            lab->labels[v] = 0;
    DS_CHECK_OK(ctx, ds_train_data_add(ctx, d, img, lab));
    for (int64_t v = 0; v < 16 * 16 * 16; ++v)
        img->values[v] = -1.0f; /* the unlabelled case, told apart by its values */
    DS_CHECK_OK(ctx, ds_train_data_add(ctx, d, img, NULL));
    DS_CHECK(ds_train_data_count(d) == 2 && ds_train_data_labelled(d) == 1);
    ds_batch_options o;
    options(&o);
    ds_batch b;
    DS_CHECK_OK(ctx, ds_batch_create(ctx, &o, 1, &b));
    ds_rng r[3];
    rngs(r, 5);
    DS_CHECK_OK(ctx, ds_batch_draw(ctx, d, &o, &r[0], &r[1], &r[2], &b));
    int bad = 0;
    for (int64_t v = 0; v < 4096; ++v) {
        uint16_t want = v / 256 % 2 ? IGN : (uint16_t)(v % 16 > v / 16 % 16);
        bad += b.labels[v] != want;
        bad += b.image->data[4096 + v] != -1.0f || b.labels[4096 + v] != IGN;
    }
    DS_CHECK_MSG(bad == 0, "%d voxels wrong", bad);
    ds_batch_free(&b);
    ds_volume_free(img);
    ds_volume_free(lab);
    ds_train_data_free(d);
}

/* numpy.rot90(a, k, axes=(p, q)) on a (z, y, x) array with axes given in array order. */
static void rot90_ref(const float *in, float *out, int64_t n, int k, int p, int q)
{
    for (int64_t a0 = 0; a0 < n; ++a0)
        for (int64_t a1 = 0; a1 < n; ++a1)
            for (int64_t a2 = 0; a2 < n; ++a2) {
                int64_t idx[3] = {a0, a1, a2}, src[3] = {a0, a1, a2};
                /* rot90 once: out[..i..j..] = in[..j..n-1-i..] along (p, q) */
                for (int t = 0; t < k; ++t) {
                    int64_t i = src[p], j = src[q];
                    src[p] = j;
                    src[q] = n - 1 - i;
                }
                out[(idx[0] * n + idx[1]) * n + idx[2]] = in[(src[0] * n + src[1]) * n + src[2]];
            }
}

/* Augmentation moves image and label together (a coded image equal to its label stays equal),
 * a rotation is one of the four rotations in the plane, intensity follows s x + b. */
static void test_augmentation(ds_ctx *ctx)
{
    ds_train_data *d = new_data(ctx, -1);
    ds_volume *img, *lab;
    coded_case(ctx, 16, 16, 16, &img, &lab);
    DS_CHECK_OK(ctx, ds_train_data_add(ctx, d, img, lab));
    ds_batch_options plain, aug;
    options(&plain);
    plain.unlabelled = 0;
    aug = plain;
    aug.augment.flip[0] = aug.augment.flip[1] = aug.augment.flip[2] = 1;
    ds_batch b0, b1;
    DS_CHECK_OK(ctx, ds_batch_create(ctx, &plain, 0, &b0));
    DS_CHECK_OK(ctx, ds_batch_create(ctx, &aug, 0, &b1));
    ds_rng r0[3], r1[3];
    rngs(r0, 9);
    rngs(r1, 9);
    int changed = 0, consistent = 1;
    for (int draw = 0; draw < 8; ++draw) {
        DS_CHECK_OK(ctx, ds_batch_draw(ctx, d, &plain, &r0[0], &r0[1], &r0[2], &b0));
        DS_CHECK_OK(ctx, ds_batch_draw(ctx, d, &aug, &r1[0], &r1[1], &r1[2], &b1));
        changed += memcmp(b0.image->data, b1.image->data, 4096 * 4) != 0;
        for (int64_t v = 0; v < 4096; ++v) { /* the code says where a voxel came from */
            int64_t c = (int64_t)b1.image->data[v] - 1, i = c % 100, j = c / 100 % 100;
            consistent &= b1.labels[v] == (i > j);
        }
    }
    DS_CHECK(changed >= 4 && consistent);

    /* rotations in each plane: the augmented sample is one of numpy's four rotations */
    static const int axes[3][2] = {{2, 1}, {2, 0}, {1, 0}}; /* xy, xz, yz in (z, y, x) order */
    float *ref = malloc(4096 * sizeof(float));
    for (int plane = 0; plane < 3; ++plane) {
        aug = plain;
        aug.augment.rotate90 = 1;
        aug.augment.plane = (ds_plane)plane;
        DS_CHECK_OK(ctx, ds_batch_options_check(ctx, &aug, 0));
        rngs(r0, 11);
        rngs(r1, 11);
        int rotated = 0, matched_all = 1;
        for (int draw = 0; draw < 6; ++draw) {
            DS_CHECK_OK(ctx, ds_batch_draw(ctx, d, &plain, &r0[0], &r0[1], &r0[2], &b0));
            DS_CHECK_OK(ctx, ds_batch_draw(ctx, d, &aug, &r1[0], &r1[1], &r1[2], &b1));
            int match = 0;
            for (int k = 0; k < 4; ++k) {
                rot90_ref(b0.image->data, ref, 16, k, axes[plane][0], axes[plane][1]);
                if (memcmp(ref, b1.image->data, 4096 * 4) == 0) {
                    match = 1;
                    rotated += k != 0;
                }
            }
            matched_all &= match;
        }
        DS_CHECK_MSG(matched_all && rotated > 0, "plane %d: matched %d, rotated %d", plane,
                     matched_all, rotated);
    }
    free(ref);
    aug = plain;
    aug.augment.rotate90 = 1;
    aug.patch[0] = 32;
    DS_CHECK_FAILS(ctx, ds_batch_options_check(ctx, &aug, 0), DS_ERR_ARG);

    /* intensity: x' = s x + b with s in [0.9, 1.1], b in [-0.5, 0.5], labels untouched */
    aug = plain;
    aug.augment.intensity_scale = 0.1f;
    aug.augment.intensity_shift = 0.5f;
    rngs(r0, 13);
    rngs(r1, 13);
    DS_CHECK_OK(ctx, ds_batch_draw(ctx, d, &plain, &r0[0], &r0[1], &r0[2], &b0));
    DS_CHECK_OK(ctx, ds_batch_draw(ctx, d, &aug, &r1[0], &r1[1], &r1[2], &b1));
    double x0 = b0.image->data[0], x1 = b0.image->data[4095];
    double s = (b1.image->data[4095] - b1.image->data[0]) / (x1 - x0), off = b1.image->data[0] - s * x0;
    DS_CHECK_MSG(s >= 0.9 - 1e-4 && s <= 1.1 + 1e-4 && off >= -0.5 - 1e-2 && off <= 0.5 + 1e-2 &&
                 (fabs(s - 1) > 1e-6 || fabs(off) > 1e-6), "s %g b %g", s, off);
    DS_CHECK(memcmp(b0.labels, b1.labels, 4096 * 2) == 0);
    ds_batch_free(&b0);
    ds_batch_free(&b1);
    ds_volume_free(img);
    ds_volume_free(lab);
    ds_train_data_free(d);
}

static void test_data_checks(ds_ctx *ctx)
{
    ds_train_data *d = new_data(ctx, -1);
    ds_volume *img, *lab;
    coded_case(ctx, 8, 8, 8, &img, &lab);
    lab->labels[5] = 7; /* K = 2 */
    DS_CHECK_FAILS(ctx, ds_train_data_add(ctx, d, img, lab), DS_ERR_FORMAT);
    lab->labels[5] = IGN;
    DS_CHECK_OK(ctx, ds_train_data_add(ctx, d, img, lab));
    DS_CHECK(ds_train_data_labelled(d) == 1);
    for (int64_t v = 0; v < 512; ++v)
        lab->labels[v] = IGN; /* nothing annotated: kept as an unlabelled case */
    DS_CHECK_OK(ctx, ds_train_data_add(ctx, d, img, lab));
    DS_CHECK(ds_train_data_labelled(d) == 1 && ds_train_data_count(d) == 2);
    DS_CHECK(ds_train_data_label(d, 1) == NULL);
    ds_load_options lo;
    ds_load_options_default(&lo);
    lo.num_classes = 0;
    ds_train_data *bad = NULL;
    DS_CHECK_FAILS(ctx, ds_train_data_create(ctx, &lo, &bad), DS_ERR_ARG);
    ds_volume_free(img);
    ds_volume_free(lab);
    ds_train_data_free(d);
}

int main(void)
{
    ds_ctx *ctx = NULL;
    ds_ctx_create(&ctx);
    test_crop_and_padding(ctx);
    test_partial_and_streams(ctx);
    test_augmentation(ctx);
    test_data_checks(ctx);
    ds_ctx_free(ctx);
    printf("%d passed, %d failed\n", ds_test_passed, ds_test_failed);
    return ds_test_failed != 0;
}
