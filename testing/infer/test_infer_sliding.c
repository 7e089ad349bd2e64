/* test_infer_sliding.c - the sliding window against independent references:
 *   - the window starts of nnU-Net's rule, by hand (numpy's half-to-even rounding included);
 *   - the Gaussian importance map at its centre and corner, by hand (exp(-8) per axis);
 *   - one window of exactly the volume's size (stride = patch) equals a single forward's
 *     softmax, with either weighting;
 *   - overlapping windows (both networks; Gaussian with flips, batch 3 so the last batch is
 *     partial; uniform, overlapping on every axis) equal the brute-force reference of
 *     infer_test_util.h (each window alone, softmax and weights in double);
 *   - a volume smaller than the patch on two axes is padded with zeros centrally and cropped
 *     back (brute force with the padding written out by hand);
 *   - DS_INFER_NETS_A / _B equal a call with that network alone.
 */
#include "infer_test_util.h"
#include "ds_test.h"
#include "ds_threads.h"

static ds_ctx *ctx;

static void test_window_starts(void)
{
    int64_t s[8], n = 0;
    DS_CHECK_OK(ctx, ds_infer_window_starts(ctx, 40, 32, 16, s, 8, &n));
    DS_CHECK(n == 2 && s[0] == 0 && s[1] == 8);
    /* 100 - 32 = 68, stride 16: ceil(68 / 16) + 1 = 6 starts at round(i * 13.6). */
    DS_CHECK_OK(ctx, ds_infer_window_starts(ctx, 100, 32, 16, s, 8, &n));
    DS_CHECK(n == 6 && s[1] == 14 && s[2] == 27 && s[3] == 41 && s[4] == 54 && s[5] == 68);
    /* 5 / 2 = 2.5 rounds to 2 (numpy's round, half to even). */
    DS_CHECK_OK(ctx, ds_infer_window_starts(ctx, 37, 32, 3, s, 8, &n));
    DS_CHECK(n == 3 && s[0] == 0 && s[1] == 2 && s[2] == 5);
    DS_CHECK_OK(ctx, ds_infer_window_starts(ctx, 32, 32, 16, s, 8, &n));
    DS_CHECK(n == 1 && s[0] == 0);
    DS_CHECK_OK(ctx, ds_infer_window_starts(ctx, 100, 32, 16, NULL, 0, &n)); /* sizing call */
    DS_CHECK(n == 6);
    DS_CHECK_FAILS(ctx, ds_infer_window_starts(ctx, 20, 32, 16, s, 8, &n), DS_ERR_ARG);
    DS_CHECK_FAILS(ctx, ds_infer_window_starts(ctx, 40, 32, 33, s, 8, &n), DS_ERR_ARG);
}

static void test_importance_map(void)
{
    const int64_t p[3] = {32, 16, 48};
    float *map = malloc(32 * 16 * 48 * sizeof *map);
    DS_CHECK_OK(ctx, ds_infer_importance_map(ctx, DS_INFER_WEIGHT_GAUSSIAN, p, map));
    /* centre (16, 8, 24) is 1; corner (0, 0, 0) is 16, 8, 24 voxels = 4 sigma away on each axis */
    DS_CHECK(map[(24 * 16 + 8) * 32 + 16] == 1.0f);
    DS_CHECK_CLOSE(map[0], exp(-24.0), 1e-5, 0.0);
    /* one voxel from the centre along x: exp(-1 / (2 * 4^2)) */
    DS_CHECK_CLOSE(map[(24 * 16 + 8) * 32 + 17], exp(-1.0 / 32.0), 1e-6, 0.0);
    float lo = 1.0f;
    for (int i = 0; i < 32 * 16 * 48; ++i)
        lo = fminf(lo, map[i]);
    DS_CHECK(lo > 0.0f);
    DS_CHECK_OK(ctx, ds_infer_importance_map(ctx, DS_INFER_WEIGHT_UNIFORM, p, map));
    DS_CHECK(map[0] == 1.0f && map[12345] == 1.0f);
    free(map);
}

static void softmax_direct(ds_net *net, const ds_volume *img, double *p)
{
    ds_tensor *x = NULL;
    const int64_t *n = img->geom.size;
    DS_CHECK_OK(ctx, ds_tensor_create(ctx, &x, 1, 1, n[2], n[1], n[0]));
    memcpy(x->data, img->values, (size_t)(n[0] * n[1] * n[2]) * sizeof(float));
    const ds_tensor *logits = NULL;
    DS_CHECK_OK(ctx, ds_net_forward(ctx, net, x, 0, NULL, &logits, NULL));
    const int64_t v = n[0] * n[1] * n[2];
    for (int64_t i = 0; i < v; ++i) {
        const double a = logits->data[i], b = logits->data[v + i], m = fmax(a, b);
        p[i] = exp(a - m) / (exp(a - m) + exp(b - m));
        p[v + i] = 1.0 - p[i];
    }
    ds_tensor_free(x);
}

static void test_single_window(ds_net *net)
{
    ds_geometry g;
    ds_geometry_identity(&g, 32, 32, 16);
    ds_volume *img = tu_image(ctx, &g, 3);
    double *want = malloc(2 * 32 * 32 * 16 * sizeof *want);
    softmax_direct(net, img, want);
    for (int w = 0; w < 2; ++w) {
        ds_infer_options o;
        ds_infer_options_init(&o);
        o.patch[0] = o.stride[0] = 32;
        o.patch[1] = o.stride[1] = 32;
        o.patch[2] = o.stride[2] = 16;
        o.weighting = w ? DS_INFER_WEIGHT_UNIFORM : DS_INFER_WEIGHT_GAUSSIAN;
        o.probabilities = 1;
        ds_infer_result r;
        DS_CHECK_OK(ctx, ds_infer_volume(ctx, &net, 1, img, &o, &r));
        DS_CHECK(r.windows == 1 && r.passes == 1 && r.nets_used == 1 && !r.disagreement);
        if (r.probability[1]) {
            const double d = fmax(tu_max_diff(r.probability[0]->values, want, 16384),
                                  tu_max_diff(r.probability[1]->values, want + 16384, 16384));
            DS_CHECK_MSG(d < 2e-6, "single window vs forward: %.3g", d);
        }
        ds_infer_result_free(&r);
    }
    free(want);
    ds_volume_free(img);
}

/* Both networks, overlapping windows, against the brute force; returns the largest error. */
static double compare_pair(ds_net *const *nets, const ds_volume *img, const tu_ref_setup *s,
                           const ds_infer_options *o)
{
    const int64_t v = img->geom.size[0] * img->geom.size[1] * img->geom.size[2];
    double *pa = malloc(2 * (size_t)v * sizeof *pa), *pb = malloc(2 * (size_t)v * sizeof *pb);
    DS_CHECK(tu_reference(ctx, nets[0], img->values, s, pa) == 0);
    DS_CHECK(tu_reference(ctx, nets[1], img->values, s, pb) == 0);
    ds_infer_result r;
    DS_CHECK_OK(ctx, ds_infer_volume(ctx, nets, 2, img, o, &r));
    double err = r.probability[1] ? 0.0 : 1e9;
    for (int64_t i = 0; i < v && r.probability[1]; ++i) {
        double ent = 0.0, kl = 0.0;
        for (int k = 0; k < 2; ++k) {
            const double a = pa[k * v + i], b = pb[k * v + i], p = 0.5 * (a + b);
            err = fmax(err, fabs(r.probability[k]->values[i] - p));
            ent -= p * log(p);
            kl += (a - b) * (log(a) - log(b));
        }
        err = fmax(err, fabs(r.entropy->values[i] - ent / log(2.0)));
        err = fmax(err, fabs(r.disagreement->values[i] - kl));
        const int want = 0.5 * (pa[v + i] + pb[v + i]) > 0.5 * (pa[i] + pb[i]);
        if (fabs(pa[i] + pb[i] - 1.0) > 1e-4) /* not a near tie */
            err = fmax(err, r.label->labels[i] != want ? 1.0 : 0.0);
    }
    DS_CHECK(r.windows == (int64_t)s->nstarts[0] * s->nstarts[1] * s->nstarts[2]);
    DS_CHECK(r.passes == (s->flips ? 8 : 1));
    ds_infer_result_free(&r);
    free(pa);
    free(pb);
    return err;
}

static void test_overlap(ds_net *const *nets)
{
    /* Gaussian + flips on two windows along z (24 - 16 = 8, stride 8: starts 0, 8), batch 3:
     * 16 jobs, so the last batch holds one. */
    ds_geometry g;
    ds_geometry_identity(&g, 32, 32, 24);
    ds_volume *img = tu_image(ctx, &g, 4);
    tu_ref_setup s = {{32, 32, 24}, {32, 32, 16}, {0, 0, 0}, {1, 1, 2},
                      {{0}, {0}, {0, 8}}, 1, 1};
    ds_infer_options o;
    ds_infer_options_init(&o);
    o.patch[0] = o.patch[1] = 32;
    o.patch[2] = 16;
    o.tta = DS_INFER_TTA_FLIPS;
    o.probabilities = 1;
    o.batch = 3;
    double e = compare_pair(nets, img, &s, &o);
    DS_CHECK_MSG(e < 2e-5, "gaussian + flips: max error %.3g", e);
    ds_volume_free(img);
    /* Uniform, overlaps on every axis: x 40 - 32 = 8 < 16: starts 0, 8; y 0, 4; z 0, 4. */
    ds_geometry_identity(&g, 40, 36, 20);
    img = tu_image(ctx, &g, 5);
    s = (tu_ref_setup){{40, 36, 20}, {32, 32, 16}, {0, 0, 0}, {2, 2, 2},
                       {{0, 8}, {0, 4}, {0, 4}}, 0, 0};
    o.weighting = DS_INFER_WEIGHT_UNIFORM;
    o.tta = DS_INFER_TTA_NONE;
    o.batch = 2;
    e = compare_pair(nets, img, &s, &o);
    DS_CHECK_MSG(e < 2e-5, "uniform: max error %.3g", e);
    ds_volume_free(img);
}

static void test_padding(ds_net *const *nets)
{
    ds_geometry g;
    ds_geometry_identity(&g, 20, 40, 10);
    ds_volume *img = tu_image(ctx, &g, 5);
    /* x padded 20 -> 32 (6 before), z 10 -> 16 (3 before); y: 40 - 32 = 8: starts 0, 8 */
    tu_ref_setup s = {{20, 40, 10}, {32, 32, 16}, {6, 0, 3}, {1, 2, 1},
                      {{0}, {0, 8}, {0}}, 1, 0};
    ds_infer_options o;
    ds_infer_options_init(&o);
    o.patch[0] = o.patch[1] = 32;
    o.patch[2] = 16;
    o.probabilities = 1;
    const double e = compare_pair(nets, img, &s, &o);
    DS_CHECK_MSG(e < 2e-5, "padded: max error %.3g", e);
    ds_volume_free(img);
}

static int same_volume(const ds_volume *a, const ds_volume *b)
{
    const size_t n = (size_t)ds_volume_voxels(a);
    return a->kind == b->kind && ds_volume_voxels(a) == ds_volume_voxels(b) &&
           (a->kind == DS_VOLUME_LABEL ? memcmp(a->labels, b->labels, n * 2) == 0
                                       : memcmp(a->values, b->values, n * 4) == 0);
}

static void test_choice(ds_net *const *nets)
{
    ds_geometry g;
    ds_geometry_identity(&g, 32, 32, 24);
    ds_volume *img = tu_image(ctx, &g, 6);
    ds_infer_options o;
    ds_infer_options_init(&o);
    o.patch[0] = o.patch[1] = 32;
    o.patch[2] = 16;
    for (int which = 0; which < 2; ++which) {
        ds_infer_result alone, chosen;
        DS_CHECK_OK(ctx, ds_infer_volume(ctx, &nets[which], 1, img, &o, &alone));
        o.nets = which ? DS_INFER_NETS_B : DS_INFER_NETS_A;
        DS_CHECK_OK(ctx, ds_infer_volume(ctx, nets, 2, img, &o, &chosen));
        o.nets = DS_INFER_NETS_BOTH;
        DS_CHECK(chosen.nets_used == 1 && !chosen.disagreement);
        DS_CHECK(alone.label && chosen.label && same_volume(alone.label, chosen.label) &&
                 same_volume(alone.entropy, chosen.entropy));
        ds_infer_result_free(&alone);
        ds_infer_result_free(&chosen);
    }
    o.nets = DS_INFER_NETS_B;
    ds_infer_result r;
    DS_CHECK_FAILS(ctx, ds_infer_volume(ctx, nets, 1, img, &o, &r), DS_ERR_ARG);
    ds_volume_free(img);
}

int main(void)
{
    DS_CHECK(ds_ctx_create(&ctx) == DS_OK);
    DS_CHECK_OK(ctx, ds_threads_set(ctx, 0));
    ds_net *nets[2] = {tu_net(ctx, DS_ARCH_RESNET34_VNET, 2, 2, 11),
                       tu_net(ctx, DS_ARCH_VNET, 2, 3, 12)};
    DS_CHECK(nets[0] && nets[1]);
    if (nets[0] && nets[1]) {
        test_window_starts();
        test_importance_map();
        test_single_window(nets[1]);
        test_overlap(nets);
        test_padding(nets);
        test_choice(nets);
    }
    ds_net_free(nets[0]);
    ds_net_free(nets[1]);
    ds_ctx_free(ctx);
    return ds_test_finish("test_infer_sliding");
}
