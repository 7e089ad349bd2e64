/* test_infer_maps.c - the uncertainty maps and the outputs' geometry:
 *   - entropy of a uniform softmax is 1 (K = 2 and 3) and of a one-hot softmax 0 (networks with
 *     zero weights whose output biases fix the softmax; hand values);
 *   - disagreement of two identical networks is exactly 0; of constant softmaxes
 *     (1, e) / (1 + e) and (e, 1) / (1 + e) it is 2 tanh(1/2) (by hand);
 *   - every output has the input's exact geometry (oblique direction, anisotropic spacing), from
 *     ds_infer_volume and from ds_infer_model;
 *   - with a model trained at another spacing, ds_infer_model equals the same steps composed by
 *     hand from ds_volume.h (resample, z-score, segment, resample back) on the input grid;
 *   - progress never decreases and ends at 1; a cancel flag set during the pass stops it;
 *   - the largest component is 26-connected (a constructed case that 6-connectivity would
 *     decide the other way) and ties keep the first component in scan order.
 */
#include "infer_test_util.h"
#include "ds_test.h"
#include "ds_threads.h"
#include "io/io_test_util.h"

static ds_ctx *ctx;

static void window_options(ds_infer_options *o)
{
    ds_infer_options_init(o);
    o->patch[0] = o->patch[1] = o->patch[2] = 16;
}

static ds_volume *small_image(int64_t nx, int64_t ny, int64_t nz)
{
    ds_geometry g;
    ds_geometry_identity(&g, nx, ny, nz);
    return tu_image(ctx, &g, 9);
}

static void test_entropy_extremes(void)
{
    ds_volume *img = small_image(20, 16, 18);
    ds_infer_options o;
    window_options(&o);
    for (int classes = 2; classes <= 3; ++classes) {
        const float zero[3] = {0, 0, 0}, peaked[3] = {-20, 20, -20};
        for (int hot = 0; hot < 2; ++hot) {
            ds_net *net = tu_constant_net(ctx, classes, hot ? peaked : zero);
            ds_infer_result r;
            DS_CHECK_OK(ctx, ds_infer_volume(ctx, &net, 1, img, &o, &r));
            double lo = 1e9, hi = -1e9;
            int labels_ok = 1;
            for (int64_t i = 0; r.entropy && i < ds_volume_voxels(img); ++i) {
                lo = fmin(lo, r.entropy->values[i]);
                hi = fmax(hi, r.entropy->values[i]);
                labels_ok &= r.label->labels[i] == (hot ? 1 : 0); /* ties: the lowest class */
            }
            if (hot)
                DS_CHECK_MSG(hi < 1e-6, "one-hot entropy up to %.3g", hi);
            else
                DS_CHECK_MSG(fabs(lo - 1.0) < 1e-6 && fabs(hi - 1.0) < 1e-6,
                             "uniform entropy in [%.8f, %.8f], K = %d", lo, hi, classes);
            DS_CHECK(labels_ok);
            ds_infer_result_free(&r);
            ds_net_free(net);
        }
    }
    ds_volume_free(img);
}

static void test_disagreement(void)
{
    ds_volume *img = small_image(24, 16, 16);
    ds_infer_options o;
    window_options(&o);
    ds_net *same[2] = {tu_net(ctx, DS_ARCH_VNET, 2, 2, 21), tu_net(ctx, DS_ARCH_VNET, 2, 2, 21)};
    ds_infer_result r;
    DS_CHECK_OK(ctx, ds_infer_volume(ctx, same, 2, img, &o, &r));
    double hi = r.disagreement ? 0.0 : 1e9, ent_hi = 0.0;
    for (int64_t i = 0; r.disagreement && i < ds_volume_voxels(img); ++i) {
        hi = fmax(hi, r.disagreement->values[i]);
        ent_hi = fmax(ent_hi, r.entropy->values[i]);
    }
    DS_CHECK_MSG(hi == 0.0, "identical networks disagree by %.3g", hi);
    DS_CHECK(ent_hi > 0.0); /* not a degenerate case */
    ds_infer_result_free(&r);
    const float ba[2] = {0, 1}, bb[2] = {1, 0};
    ds_net *opposite[2] = {tu_constant_net(ctx, 2, ba), tu_constant_net(ctx, 2, bb)};
    DS_CHECK_OK(ctx, ds_infer_volume(ctx, opposite, 2, img, &o, &r));
    double err = r.disagreement ? 0.0 : 1e9;
    for (int64_t i = 0; r.disagreement && i < ds_volume_voxels(img); ++i)
        err = fmax(err, fabs(r.disagreement->values[i] - 2.0 * tanh(0.5)));
    DS_CHECK_MSG(err < 1e-5, "disagreement off 2 tanh(1/2) by %.3g", err);
    ds_infer_result_free(&r);
    for (int i = 0; i < 2; ++i) {
        ds_net_free(same[i]);
        ds_net_free(opposite[i]);
    }
    ds_volume_free(img);
}

static int same_geometry(const ds_volume *v, const ds_geometry *g)
{
    return v && memcmp(&v->geom, g, sizeof *g) == 0;
}

static int result_on(const ds_infer_result *r, const ds_geometry *g)
{
    int ok = same_geometry(r->label, g) && same_geometry(r->entropy, g);
    ok &= !r->disagreement || same_geometry(r->disagreement, g);
    for (int k = 0; k < r->classes; ++k)
        ok &= !r->probability[k] || same_geometry(r->probability[k], g);
    return ok;
}

static ds_model *pair_model(ds_net *a, ds_net *b)
{
    ds_model *m = calloc(1, sizeof *m);
    m->meta.classes = 2;
    m->meta.in_channels = 1;
    m->meta.norm_mode = DS_NORM_ZSCORE;
    m->meta.patch[0] = m->meta.patch[1] = m->meta.patch[2] = 16;
    m->net_count = 2;
    m->net[0] = a;
    m->net[1] = b;
    return m;
}

/* What ds_infer_model promises, done by hand. */
static void by_hand(ds_model *m, const ds_volume *img, const ds_infer_options *o,
                    ds_infer_result *want)
{
    ds_geometry g;
    ds_volume *work = NULL;
    DS_CHECK_OK(ctx, ds_geometry_at_spacing(ctx, &img->geom, m->meta.spacing, &g));
    DS_CHECK_OK(ctx, ds_volume_resample(ctx, img, &g, DS_INTERP_LINEAR, &work));
    DS_CHECK_OK(ctx, ds_volume_zscore(ctx, work, "hand"));
    ds_infer_result on_grid;
    DS_CHECK_OK(ctx, ds_infer_volume(ctx, m->net, 2, work, o, &on_grid));
    memset(want, 0, sizeof *want);
    DS_CHECK_OK(ctx, ds_volume_resample(ctx, on_grid.label, &img->geom, DS_INTERP_NEAREST,
                                        &want->label));
    DS_CHECK_OK(ctx, ds_volume_resample(ctx, on_grid.entropy, &img->geom, DS_INTERP_LINEAR,
                                        &want->entropy));
    DS_CHECK_OK(ctx, ds_volume_resample(ctx, on_grid.disagreement, &img->geom, DS_INTERP_LINEAR,
                                        &want->disagreement));
    ds_infer_result_free(&on_grid);
    ds_volume_free(work);
}

static int volumes_equal(const ds_volume *a, const ds_volume *b)
{
    const size_t n = (size_t)ds_volume_voxels(a);
    return a && b && ds_volume_voxels(b) == (int64_t)n &&
           (a->labels ? memcmp(a->labels, b->labels, 2 * n) == 0
                      : memcmp(a->values, b->values, 4 * n) == 0);
}

static void test_geometry(void)
{
    ds_geometry g;
    io_oblique_geometry(&g, 22, 17, 9); /* spacing 0.75, 1.25, 2.5; rotated */
    ds_volume *img = tu_image(ctx, &g, 10);
    ds_model *m = pair_model(tu_net(ctx, DS_ARCH_RESNET34_VNET, 2, 1, 31),
                             tu_net(ctx, DS_ARCH_VNET, 2, 2, 32));
    ds_infer_options o;
    window_options(&o);
    o.probabilities = 1;
    ds_infer_result r;
    DS_CHECK_OK(ctx, ds_infer_volume(ctx, m->net, 2, img, &o, &r));
    DS_CHECK(result_on(&r, &g));
    ds_infer_result_free(&r);
    DS_CHECK_OK(ctx, ds_infer_model(ctx, m, img, &o, &r));
    DS_CHECK(result_on(&r, &g));
    ds_infer_result_free(&r);
    /* Trained at 1.5 mm isotropic: 22 x 17 x 9 at (0.75, 1.25, 2.5) becomes 11 x 14 x 15. */
    m->meta.spacing[0] = m->meta.spacing[1] = m->meta.spacing[2] = 1.5;
    o.probabilities = 0;
    DS_CHECK_OK(ctx, ds_infer_model(ctx, m, img, &o, &r));
    DS_CHECK(result_on(&r, &g));
    ds_infer_result want;
    by_hand(m, img, &o, &want);
    DS_CHECK(volumes_equal(r.label, want.label) && volumes_equal(r.entropy, want.entropy) &&
             volumes_equal(r.disagreement, want.disagreement));
    ds_infer_result_free(&want);
    ds_infer_result_free(&r);
    ds_model_free(m);
    ds_volume_free(img);
}

typedef struct progress_log {
    double last;
    int calls, decreasing, cancel_after;
    volatile int cancel;
} progress_log;

static void on_progress(void *user, double fraction, const char *message)
{
    progress_log *p = user;
    p->decreasing |= fraction < p->last || !message;
    p->last = fraction;
    if (++p->calls == p->cancel_after)
        p->cancel = 1;
}

static void test_progress_and_cancel(void)
{
    ds_volume *img = small_image(40, 16, 16);
    ds_net *net = tu_net(ctx, DS_ARCH_VNET, 2, 1, 41);
    ds_infer_options o;
    window_options(&o);
    o.batch = 1;
    progress_log log = {0.0, 0, 0, 0, 0};
    o.progress = on_progress;
    o.progress_user = &log;
    o.cancel = &log.cancel;
    ds_infer_result r;
    DS_CHECK_OK(ctx, ds_infer_volume(ctx, &net, 1, img, &o, &r));
    DS_CHECK(r.windows == 4 && log.calls >= 4 && !log.decreasing && log.last == 1.0);
    ds_infer_result_free(&r);
    log = (progress_log){0.0, 0, 0, 2, 0};
    DS_CHECK_FAILS(ctx, ds_infer_volume(ctx, &net, 1, img, &o, &r), DS_INFER_CANCELLED);
    DS_CHECK(strcmp(ds_ctx_message(ctx), "cancelled") == 0);
    DS_CHECK(log.calls == 2 && r.label == NULL && r.entropy == NULL);
    ds_net_free(net);
    ds_volume_free(img);
}

static void put(ds_volume *v, int64_t x, int64_t y, int64_t z, uint16_t c)
{
    v->labels[x + 10 * (y + 10 * z)] = c;
}

static void test_largest_component(void)
{
    ds_geometry g;
    ds_geometry_identity(&g, 10, 10, 10);
    ds_volume *v = NULL;
    DS_CHECK_OK(ctx, ds_volume_create(ctx, &v, &g, DS_VOLUME_LABEL));
    /* Class 1: a 2x2x2 cube at the origin with a diagonal chain (2,2,2)..(5,5,5), 12 voxels
     * 26-connected (6-connected: 8 and four singles), and a 3x3 plate of 9 voxels far away. */
    for (int i = 0; i < 8; ++i)
        put(v, i & 1, (i >> 1) & 1, i >> 2, 1);
    for (int d = 2; d <= 5; ++d)
        put(v, d, d, d, 1);
    for (int i = 0; i < 9; ++i)
        put(v, i % 3, 7 + i / 3, 9, 1);
    /* Class 2: two single voxels: the first in scan order stays. */
    put(v, 9, 0, 0, 2);
    put(v, 9, 9, 0, 2);
    DS_CHECK_OK(ctx, ds_infer_keep_largest_component(ctx, v));
    int ones = 0, twos = 0;
    for (int i = 0; i < 1000; ++i) {
        ones += v->labels[i] == 1;
        twos += v->labels[i] == 2;
    }
    DS_CHECK_MSG(ones == 12, "class 1 keeps %d voxels, want 12 (the 26-connected cube+chain)",
                 ones);
    DS_CHECK(v->labels[0] == 1 && v->labels[5 + 10 * (5 + 10 * 5)] == 1);
    DS_CHECK(v->labels[0 + 10 * (7 + 10 * 9)] == 0);
    DS_CHECK(twos == 1 && v->labels[9] == 2);
    ds_volume_free(v);
}

int main(void)
{
    DS_CHECK(ds_ctx_create(&ctx) == DS_OK);
    DS_CHECK_OK(ctx, ds_threads_set(ctx, 0));
    test_entropy_extremes();
    test_disagreement();
    test_geometry();
    test_progress_and_cancel();
    test_largest_component();
    ds_ctx_free(ctx);
    return ds_test_finish("test_infer_maps");
}
