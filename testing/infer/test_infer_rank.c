/* test_infer_rank.c - what to label next, on constructed cases (expected values by hand):
 *   - slices: a box of foreground (x, y 10..20, z 5..35) in a 40 x 40 x 50 volume; entropy is a
 *     per-slice value inside the box grown by the margin (2) and 1 everywhere else (so a wrong
 *     region shows in the scores, and empty background slices 40..49 would win if counted);
 *     planted uncertain slices 10 (0.9), 11 (0.85), 25 (0.8), 30 (0.7), the rest 0.1. With
 *     min_distance 5 the greedy choice is 10, 25, 30 (11 is 10's neighbour), then the 0.1
 *     slices 3, 15, 20, 35, and no more (7 found of 10 asked);
 *   - slices flagged as annotated (skip 10 and 25): never chosen, so 11 and 30 are the two best;
 *   - the same along x;
 *   - cases: mean entropy of the grown foreground, highest first; an empty prediction scores 0
 *     with region_voxels 0 and ranks last.
 */
#include "infer_test_util.h"
#include "ds_test.h"

static ds_ctx *ctx;

static double planted(int64_t s)
{
    return s == 10 ? 0.9 : s == 11 ? 0.85 : s == 25 ? 0.8 : s == 30 ? 0.7 : 0.1;
}

/* The box case with its axis a = "z" of the description (a = 2: z, a = 0: x). */
static void make_case(int a, ds_volume **label, ds_volume **entropy)
{
    ds_geometry g;
    int64_t n[3] = {40, 40, 40};
    n[a] = 50;
    ds_geometry_identity(&g, n[0], n[1], n[2]);
    DS_CHECK_OK(ctx, ds_volume_create(ctx, label, &g, DS_VOLUME_LABEL));
    DS_CHECK_OK(ctx, ds_volume_create(ctx, entropy, &g, DS_VOLUME_SCALAR));
    int64_t i = 0;
    for (int64_t z = 0; z < n[2]; ++z)
        for (int64_t y = 0; y < n[1]; ++y)
            for (int64_t x = 0; x < n[0]; ++x, ++i) {
                const int64_t c[3] = {x, y, z};
                int in_box = 1, in_grown = 1;
                for (int b = 0; b < 3; ++b) {
                    const int64_t lo = b == a ? 5 : 10, hi = b == a ? 35 : 20;
                    in_box &= c[b] >= lo && c[b] <= hi;
                    in_grown &= c[b] >= lo - 2 && c[b] <= hi + 2;
                }
                (*label)->labels[i] = in_box ? 1 : 0;
                (*entropy)->values[i] = in_grown ? (float)planted(c[a]) : 1.0f;
            }
}

static void test_slices(int axis)
{
    ds_volume *label = NULL, *entropy = NULL;
    make_case(axis, &label, &entropy);
    ds_infer_slice_options o;
    ds_infer_slice_options_init(&o);
    o.axis = axis;
    o.margin = 2;
    o.min_distance = 5;
    o.count = 10;
    int64_t idx[10];
    double score[10];
    int found = -1;
    DS_CHECK_OK(ctx, ds_infer_rank_slices(ctx, label, entropy, &o, idx, score, &found));
    const int64_t want[7] = {10, 25, 30, 3, 15, 20, 35};
    DS_CHECK_MSG(found == 7, "axis %d: found %d", axis, found);
    for (int k = 0; k < 7 && k < found; ++k) {
        DS_CHECK_MSG(idx[k] == want[k], "axis %d: suggestion %d is slice %ld, want %ld", axis, k,
                     (long)idx[k], (long)want[k]);
        DS_CHECK_CLOSE(score[k], planted(want[k]), 1e-6, 0.0);
    }
    for (int j = 0; j < found; ++j)
        for (int k = 0; k < j; ++k)
            DS_CHECK(llabs((long long)(idx[j] - idx[k])) >= o.min_distance);
    /* count 2: the two planted far-apart slices only */
    o.count = 2;
    DS_CHECK_OK(ctx, ds_infer_rank_slices(ctx, label, entropy, &o, idx, score, &found));
    DS_CHECK(found == 2 && idx[0] == 10 && idx[1] == 25);
    /* 10 and 25 already annotated: never suggested, and not in the way of 11 (0.85), so the
     * two best are 11 and 30 */
    uint8_t skip[50] = {0};
    skip[10] = skip[25] = 1;
    o.skip = skip;
    DS_CHECK_OK(ctx, ds_infer_rank_slices(ctx, label, entropy, &o, idx, score, &found));
    DS_CHECK_MSG(found == 2 && idx[0] == 11 && idx[1] == 30, "with skip: %ld %ld",
                 (long)idx[0], (long)idx[1]);
    o.skip = NULL;
    o.axis = 3;
    DS_CHECK_FAILS(ctx, ds_infer_rank_slices(ctx, label, entropy, &o, idx, score, &found),
                   DS_ERR_ARG);
    ds_volume_free(label);
    ds_volume_free(entropy);
}

static void test_cases(void)
{
    ds_geometry g;
    ds_geometry_identity(&g, 12, 12, 12);
    ds_infer_result r[3];
    const float inside[3] = {0.2f, 0.6f, 0.0f};
    for (int c = 0; c < 3; ++c) {
        memset(&r[c], 0, sizeof r[c]);
        DS_CHECK_OK(ctx, ds_volume_create(ctx, &r[c].label, &g, DS_VOLUME_LABEL));
        DS_CHECK_OK(ctx, ds_volume_create(ctx, &r[c].entropy, &g, DS_VOLUME_SCALAR));
        for (int i = 0; i < 1728; ++i) {
            const int x = i % 12, y = (i / 12) % 12, z = i / 144;
            const int fg = c < 2 && x >= 4 && x < 8 && y >= 4 && y < 8 && z >= 4 && z < 8;
            r[c].label->labels[i] = (uint16_t)fg;
            /* margin 1 grows the 4^3 cube to 6^3: give that shell the case's value too */
            const int grown = x >= 3 && x < 9 && y >= 3 && y < 9 && z >= 3 && z < 9;
            r[c].entropy->values[i] = grown ? inside[c] : 0.95f;
        }
    }
    const ds_infer_result *set[3] = {&r[0], &r[1], &r[2]};
    ds_infer_case_score ranked[3];
    DS_CHECK_OK(ctx, ds_infer_rank_cases(ctx, set, 3, 1, ranked));
    DS_CHECK(ranked[0].index == 1 && ranked[1].index == 0 && ranked[2].index == 2);
    DS_CHECK_CLOSE(ranked[0].score, 0.6, 1e-6, 0.0);
    DS_CHECK_CLOSE(ranked[1].score, 0.2, 1e-6, 0.0);
    DS_CHECK(ranked[0].region_voxels == 216 && ranked[2].region_voxels == 0 &&
             ranked[2].score == 0.0);
    for (int c = 0; c < 3; ++c)
        ds_infer_result_free(&r[c]);
}

int main(void)
{
    DS_CHECK(ds_ctx_create(&ctx) == DS_OK);
    test_slices(2);
    test_slices(0);
    test_cases();
    ds_ctx_free(ctx);
    return ds_test_finish("test_infer_rank");
}
