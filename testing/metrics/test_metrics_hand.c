/* test_metrics_hand.c - metrics on masks whose values are derived by hand (each derivation is in
 * the comment of its case), the empty-mask conventions, thread-count independence and bad input. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "ds_metrics.h"
#include "ds_test.h"
#include "ds_threads.h"

static void box_fill(uint8_t *m, const int64_t size[3], int x0, int y0, int z0, int lx, int ly,
                     int lz)
{
    for (int z = z0; z < z0 + lz; ++z)
        for (int y = y0; y < y0 + ly; ++y)
            for (int x = x0; x < x0 + lx; ++x)
                m[x + size[0] * (y + size[1] * z)] = 1;
}

static void expect(const char *what, const ds_metrics_result *r, double dice, double jac,
                   double hd95, double asd, double assd, double hd)
{
    const double want[6] = {dice, jac, hd95, asd, assd, hd};
    const ds_metric m[6] = {DS_METRIC_DICE, DS_METRIC_JACCARD, DS_METRIC_HD95,
                            DS_METRIC_ASD,  DS_METRIC_ASSD,    DS_METRIC_HD};
    for (int i = 0; i < 6; ++i) {
        const double got = r->value[m[i]];
        const int ok = isnan(want[i]) ? isnan(got) : fabs(got - want[i]) <= 1e-12 * fabs(want[i]) + 1e-12;
        DS_CHECK_MSG(ok, "%s: %s = %.15g, want %.15g", what, ds_metric_name(m[i]), got, want[i]);
    }
}

/* Two 4x4x4 cubes, B = A shifted by k = 1 voxel along x, spacing (2, 1.5, 3).
 * |A n B| = 3*4*4 = 48, |A| = |B| = 64: Dice = 96/128 = 0.75, Jaccard = 48/80 = 0.6.
 * surface(A) = 56 voxels (64 - the 2x2x2 core). Their distances to surface(B):
 *   x = 0 face (16 voxels): outside B, every B voxel has x >= 1: nearest (1, y, z), 1 * sx = 2;
 *   x = 1, 2 rings and x = 3 ring (36): inside B on its lateral faces, so on surface(B): 0;
 *   x = 3 face interior (4): inside B; nearest B face: y (1 voxel, 1.5), x = 4 (2), z (3): 1.5.
 * sds(A,B) = {16 x 2, 36 x 0, 4 x 1.5}, mean 38/56; sds(B,A) is the mirror image, the same.
 * Pool of 112: 72 x 0, 8 x 1.5, 32 x 2; numpy's virtual index 112*0.95 + 0.05 - 1 = 105.45 lies
 * between sorted entries 105 and 106, both 2: HD95 = 2, HD = 2, ASD = ASSD = 38/56. */
static void overlapping_cubes(ds_ctx *ctx)
{
    const double sp[3] = {2.0, 1.5, 3.0};
    const int64_t big[3] = {9, 8, 7}, tight[3] = {5, 4, 4};
    uint8_t a[9 * 8 * 7] = {0}, b[9 * 8 * 7] = {0};
    ds_metrics_result r;
    box_fill(a, big, 2, 2, 1, 4, 4, 4); /* away from the array border */
    box_fill(b, big, 3, 2, 1, 4, 4, 4);
    DS_CHECK_OK(ctx, ds_metrics_binary(ctx, a, b, big, sp, NULL, &r));
    expect("cubes offset 1", &r, 0.75, 0.6, 2.0, 38.0 / 56.0, 38.0 / 56.0, 2.0);
    DS_CHECK(r.pred_surface == 56 && r.ref_surface == 56 && r.flags == 0);
    /* the same cubes filling a 5x4x4 array: they touch the array border, whose voxels erode
     * (border_value 0), and they were surface voxels anyway: nothing changes */
    memset(a, 0, sizeof a);
    memset(b, 0, sizeof b);
    box_fill(a, tight, 0, 0, 0, 4, 4, 4);
    box_fill(b, tight, 1, 0, 0, 4, 4, 4);
    DS_CHECK_OK(ctx, ds_metrics_binary(ctx, a, b, tight, sp, NULL, &r));
    expect("cubes offset 1 at the array border", &r, 0.75, 0.6, 2.0, 38.0 / 56.0, 38.0 / 56.0, 2.0);
    /* a 2x2x2 cube filling a 2x2x2 array is all surface: 8 voxels */
    const int64_t two[3] = {2, 2, 2};
    uint8_t full[8] = {1, 1, 1, 1, 1, 1, 1, 1};
    DS_CHECK_OK(ctx, ds_metrics_binary(ctx, full, full, two, sp, NULL, &r));
    DS_CHECK(r.pred_surface == 8);
    expect("full array", &r, 1.0, 1.0, 0.0, 0.0, 0.0, 0.0);
}

/* Two 4x4x4 cubes, B = A shifted by k = 5 along x (a gap of one voxel), spacing (0.75, 1, 2).
 * Every B voxel has x >= 5, so the nearest surface(B) voxel of A's (i, y, z) is (5, y, z) at
 * (5 - i) * 0.75. surface(A) per x slice: 16 (i = 0), 12 (ring, i = 1), 12 (i = 2), 16 (i = 3):
 * sds(A,B) = {16 x 5, 12 x 4, 12 x 3, 16 x 2} * 0.75, mean (80+48+36+32)/56 * 0.75 = 3.5 * 0.75;
 * sds(B,A) is the mirror image. Pool of 112 sorted: 32 x 2, 24 x 3, 24 x 4, 32 x 5 (times 0.75):
 * entries 105 and 106 are 5 * 0.75: HD95 = HD = 3.75, ASD = ASSD = 2.625; Dice = Jaccard = 0. */
static void disjoint_cubes(ds_ctx *ctx)
{
    const double sp[3] = {0.75, 1.0, 2.0};
    const int64_t size[3] = {11, 6, 6};
    uint8_t a[11 * 6 * 6] = {0}, b[11 * 6 * 6] = {0};
    box_fill(a, size, 1, 1, 1, 4, 4, 4);
    box_fill(b, size, 6, 1, 1, 4, 4, 4);
    ds_metrics_result r;
    DS_CHECK_OK(ctx, ds_metrics_binary(ctx, a, b, size, sp, NULL, &r));
    expect("cubes offset 5", &r, 0.0, 0.0, 3.75, 2.625, 2.625, 3.75);
    /* in voxels: the same divided by sx = 0.75; volumes stay in mm^3 (64 * 1.5) */
    ds_metrics_options o;
    ds_metrics_options_init(&o);
    o.units = DS_METRICS_VOXELS;
    DS_CHECK_OK(ctx, ds_metrics_binary(ctx, a, b, size, sp, &o, &r));
    expect("cubes offset 5 (voxels)", &r, 0.0, 0.0, 5.0, 3.5, 3.5, 5.0);
    DS_CHECK_CLOSE(r.value[DS_METRIC_PRED_MM3], 96.0, 1e-15, 0.0);
    DS_CHECK_CLOSE(r.value[DS_METRIC_VOL_DIFF_MM3], 0.0, 0.0, 1e-12);
    DS_CHECK_CLOSE(r.value[DS_METRIC_RAVD], 0.0, 0.0, 1e-15);
}

/* A ball against itself: every surface voxel lies on the other surface: all distances 0, Dice and
 * Jaccard 1. Against the ball shifted by one voxel, the result must not depend on the thread
 * count (bitwise). */
static void sphere(ds_ctx *ctx)
{
    enum { S = 15 };
    const int64_t size[3] = {S, S, S};
    const double sp[3] = {0.8, 0.8, 1.5};
    uint8_t *a = calloc(S * S * S, 1), *b = calloc(S * S * S, 1);
    for (int z = 0; z < S; ++z)
        for (int y = 0; y < S; ++y)
            for (int x = 0; x < S; ++x) {
                const int dx = x - 7, dy = y - 7, dz = z - 7;
                a[x + S * (y + S * z)] = dx * dx + dy * dy + dz * dz <= 25;
                b[x + S * (y + S * z)] = (dx - 1) * (dx - 1) + dy * dy + dz * dz <= 25;
            }
    ds_metrics_result r, r1, r2;
    DS_CHECK_OK(ctx, ds_metrics_binary(ctx, a, a, size, sp, NULL, &r));
    expect("sphere vs itself", &r, 1.0, 1.0, 0.0, 0.0, 0.0, 0.0);
    DS_CHECK(r.pred_voxels == r.ref_voxels && r.pred_voxels > 400 && r.flags == 0);
    DS_CHECK_OK(ctx, ds_threads_set(ctx, 1));
    DS_CHECK_OK(ctx, ds_metrics_binary(ctx, a, b, size, sp, NULL, &r1));
    DS_CHECK_OK(ctx, ds_threads_set(ctx, 2));
    DS_CHECK_OK(ctx, ds_metrics_binary(ctx, a, b, size, sp, NULL, &r2));
    DS_CHECK(memcmp(r1.value, r2.value, sizeof r1.value) == 0);
    DS_CHECK(r2.value[DS_METRIC_HD95] > 0.0 && r2.value[DS_METRIC_DICE] < 1.0);
    free(a);
    free(b);
}

/* Single voxels: P at (1, 2, 3), R at (4, 6, 3), spacing (0.5, 0.75, 2): each is its own surface;
 * the only distance is sqrt((3 * 0.5)^2 + (4 * 0.75)^2) = sqrt(11.25) in both directions, so
 * HD95 = ASD = ASSD = HD = sqrt(11.25); Dice = Jaccard = 0. Opposite corners of the array:
 * sqrt((5 * 0.5)^2 + (7 * 0.75)^2 + (4 * 2)^2). The same voxel: all 0, Dice 1. */
static void single_voxels(ds_ctx *ctx)
{
    const int64_t size[3] = {6, 8, 5};
    const double sp[3] = {0.5, 0.75, 2.0};
    uint8_t p[6 * 8 * 5] = {0}, r[6 * 8 * 5] = {0};
    ds_metrics_result m;
    p[1 + 6 * (2 + 8 * 3)] = 1;
    r[4 + 6 * (6 + 8 * 3)] = 1;
    DS_CHECK_OK(ctx, ds_metrics_binary(ctx, p, r, size, sp, NULL, &m));
    const double d = sqrt(11.25);
    expect("single voxels", &m, 0.0, 0.0, d, d, d, d);
    memset(p, 0, sizeof p);
    memset(r, 0, sizeof r);
    p[0] = 1;
    r[sizeof r - 1] = 1;
    DS_CHECK_OK(ctx, ds_metrics_binary(ctx, p, r, size, sp, NULL, &m));
    const double c = sqrt(2.5 * 2.5 + 5.25 * 5.25 + 8.0 * 8.0);
    expect("opposite corners", &m, 0.0, 0.0, c, c, c, c);
    DS_CHECK_OK(ctx, ds_metrics_binary(ctx, p, p, size, sp, NULL, &m));
    expect("same voxel", &m, 1.0, 1.0, 0.0, 0.0, 0.0, 0.0);
}

/* Empty masks: flagged, NaN distances, excluded; Dice / Jaccard from the formulas (0 with one
 * empty mask, NaN with both). The literature option scores an empty prediction 0 everywhere. */
static void empty_masks(ds_ctx *ctx)
{
    const int64_t size[3] = {5, 5, 5};
    const double sp[3] = {1.0, 1.0, 1.0};
    uint8_t none[125] = {0}, some[125] = {0};
    box_fill(some, size, 1, 1, 1, 2, 2, 2);
    ds_metrics_options lit;
    ds_metrics_options_init(&lit);
    lit.empty = DS_METRICS_EMPTY_LITERATURE;
    ds_metrics_result r;

    DS_CHECK_OK(ctx, ds_metrics_binary(ctx, none, some, size, sp, NULL, &r));
    DS_CHECK(r.flags == (DS_METRICS_PRED_EMPTY | DS_METRICS_EXCLUDED));
    expect("empty prediction", &r, 0.0, 0.0, NAN, NAN, NAN, NAN);
    DS_CHECK_CLOSE(r.value[DS_METRIC_RAVD], -1.0, 0.0, 1e-15);
    DS_CHECK_OK(ctx, ds_metrics_binary(ctx, none, some, size, sp, &lit, &r));
    DS_CHECK(r.flags == (DS_METRICS_PRED_EMPTY | DS_METRICS_SCORED_ZERO));
    expect("empty prediction (literature)", &r, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0);

    DS_CHECK_OK(ctx, ds_metrics_binary(ctx, some, none, size, sp, NULL, &r));
    DS_CHECK(r.flags == (DS_METRICS_REF_EMPTY | DS_METRICS_EXCLUDED));
    expect("empty reference", &r, 0.0, 0.0, NAN, NAN, NAN, NAN);
    DS_CHECK(isnan(r.value[DS_METRIC_RAVD]));
    DS_CHECK_OK(ctx, ds_metrics_binary(ctx, some, none, size, sp, &lit, &r));
    DS_CHECK(r.flags == (DS_METRICS_REF_EMPTY | DS_METRICS_EXCLUDED)); /* no rule: still excluded */
    expect("empty reference (literature)", &r, 0.0, 0.0, NAN, NAN, NAN, NAN);

    DS_CHECK_OK(ctx, ds_metrics_binary(ctx, none, none, size, sp, NULL, &r));
    DS_CHECK(r.flags == (DS_METRICS_PRED_EMPTY | DS_METRICS_REF_EMPTY | DS_METRICS_EXCLUDED));
    expect("both empty", &r, NAN, NAN, NAN, NAN, NAN, NAN);
    DS_CHECK_OK(ctx, ds_metrics_binary(ctx, none, none, size, sp, &lit, &r));
    DS_CHECK(r.flags == (DS_METRICS_PRED_EMPTY | DS_METRICS_REF_EMPTY | DS_METRICS_SCORED_ZERO));
    expect("both empty (literature)", &r, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0);
}

/* A 3-class label map: class 1 = the offset-1 cubes of overlapping_cubes (same hand values), class 2
 * present in the reference only (flagged). */
static void label_map(ds_ctx *ctx)
{
    const int64_t size[3] = {9, 8, 7};
    const double sp[3] = {2.0, 1.5, 3.0};
    uint8_t a[9 * 8 * 7] = {0}, b[9 * 8 * 7] = {0};
    uint16_t pred[9 * 8 * 7], ref[9 * 8 * 7];
    box_fill(a, size, 2, 2, 1, 4, 4, 4);
    box_fill(b, size, 3, 2, 1, 4, 4, 4);
    for (int i = 0; i < 9 * 8 * 7; ++i) {
        pred[i] = a[i];
        ref[i] = b[i];
    }
    ref[8 + 9 * (7 + 8 * 6)] = 2; /* one class-2 voxel in a corner of the reference */
    ds_metrics_options o;
    ds_metrics_options_init(&o);
    o.num_classes = 3;
    ds_metrics_result r[2];
    DS_CHECK_OK(ctx, ds_metrics_labels(ctx, pred, ref, size, sp, &o, r));
    expect("label map class 1", &r[0], 0.75, 0.6, 2.0, 38.0 / 56.0, 38.0 / 56.0, 2.0);
    DS_CHECK(r[1].flags == (DS_METRICS_PRED_EMPTY | DS_METRICS_EXCLUDED) && r[1].ref_voxels == 1);

    /* bad input, each with a one-line message */
    const int64_t zero[3] = {9, 0, 7}, huge[3] = {1 << 20, 1 << 20, 1 << 20};
    const double sp0[3] = {2.0, 0.0, 3.0}, spinf[3] = {INFINITY, 1.0, 1.0},
                 spnan[3] = {1.0, 1.0, NAN}, spneg[3] = {1.0, -1.0, 1.0};
    DS_CHECK_FAILS(ctx, ds_metrics_labels(ctx, NULL, ref, size, sp, &o, r), DS_ERR_ARG);
    DS_CHECK_FAILS(ctx, ds_metrics_labels(ctx, pred, NULL, size, sp, &o, r), DS_ERR_ARG);
    DS_CHECK_FAILS(ctx, ds_metrics_labels(ctx, pred, ref, size, sp, &o, NULL), DS_ERR_ARG);
    DS_CHECK_FAILS(ctx, ds_metrics_labels(ctx, pred, ref, size, sp, NULL, r), DS_ERR_ARG);
    DS_CHECK_FAILS(ctx, ds_metrics_labels(ctx, pred, ref, NULL, sp, &o, r), DS_ERR_ARG);
    DS_CHECK_FAILS(ctx, ds_metrics_labels(ctx, pred, ref, size, NULL, &o, r), DS_ERR_ARG);
    DS_CHECK_FAILS(ctx, ds_metrics_labels(ctx, pred, ref, zero, sp, &o, r), DS_ERR_SHAPE);
    DS_CHECK_FAILS(ctx, ds_metrics_labels(ctx, pred, ref, huge, sp, &o, r), DS_ERR_SHAPE);
    DS_CHECK_FAILS(ctx, ds_metrics_labels(ctx, pred, ref, size, sp0, &o, r), DS_ERR_ARG);
    DS_CHECK_FAILS(ctx, ds_metrics_labels(ctx, pred, ref, size, spinf, &o, r), DS_ERR_ARG);
    DS_CHECK_FAILS(ctx, ds_metrics_labels(ctx, pred, ref, size, spnan, &o, r), DS_ERR_ARG);
    DS_CHECK_FAILS(ctx, ds_metrics_labels(ctx, pred, ref, size, spneg, &o, r), DS_ERR_ARG);
    DS_CHECK(strstr(ds_ctx_message(ctx), "spacing[1]") != NULL);
    o.num_classes = 1;
    DS_CHECK_FAILS(ctx, ds_metrics_labels(ctx, pred, ref, size, sp, &o, r), DS_ERR_ARG);
    DS_CHECK(strstr(ds_ctx_message(ctx), "num_classes") != NULL);
    o.num_classes = 0;
    DS_CHECK_FAILS(ctx, ds_metrics_labels(ctx, pred, ref, size, sp, &o, r), DS_ERR_ARG);
    o.num_classes = 2; /* the class-2 voxel of ref is now out of range */
    DS_CHECK_FAILS(ctx, ds_metrics_labels(ctx, pred, ref, size, sp, &o, r), DS_ERR_ARG);
    DS_CHECK(strstr(ds_ctx_message(ctx), "ref") && strstr(ds_ctx_message(ctx), "(8, 7, 6)"));
    o.num_classes = 3;
    o.units = (ds_metrics_units)7;
    DS_CHECK_FAILS(ctx, ds_metrics_labels(ctx, pred, ref, size, sp, &o, r), DS_ERR_ARG);
    o.units = DS_METRICS_MM;
    o.empty = (ds_metrics_empty)-1;
    DS_CHECK_FAILS(ctx, ds_metrics_labels(ctx, pred, ref, size, sp, &o, r), DS_ERR_ARG);
    DS_CHECK_FAILS(ctx, ds_metrics_binary(ctx, a, b, size, sp, &o, r), DS_ERR_ARG);
    DS_CHECK_FAILS(ctx, ds_metrics_binary(ctx, a, NULL, size, sp, NULL, r), DS_ERR_ARG);
    DS_CHECK_FAILS(ctx, ds_metrics_binary(ctx, a, b, size, spnan, NULL, r), DS_ERR_ARG);
    const int64_t other[3] = {9, 8, 6};
    DS_CHECK_OK(ctx, ds_metrics_check_same_size(ctx, size, size, "pred.nrrd", "ref.nrrd"));
    DS_CHECK_FAILS(ctx, ds_metrics_check_same_size(ctx, size, other, "pred.nrrd", "ref.nrrd"),
                   DS_ERR_SHAPE);
    DS_CHECK(strstr(ds_ctx_message(ctx), "ref.nrrd") != NULL);
}

int main(void)
{
    ds_ctx *ctx = NULL;
    DS_CHECK_OK(ctx, ds_ctx_create(&ctx));
    DS_CHECK_OK(ctx, ds_threads_set(ctx, 2));
    overlapping_cubes(ctx);
    disjoint_cubes(ctx);
    sphere(ctx);
    single_voxels(ctx);
    empty_masks(ctx);
    label_map(ctx);
    DS_CHECK(strcmp(ds_metric_name(DS_METRIC_HD95), "hd95") == 0);
    DS_CHECK(strcmp(ds_metric_name(DS_METRIC_COUNT), "?") == 0);
    ds_ctx_free(ctx);
    return ds_test_finish("test_metrics_hand");
}
