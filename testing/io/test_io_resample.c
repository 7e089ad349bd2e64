/* test_io_resample.c - resampling through physical space and back to the original geometry.
 *
 * References (hand derivations): trilinear interpolation reproduces an affine function of the
 * index exactly inside the source grid; nearest-neighbour resampling at half the spacing and back
 * is the identity; ds_geometry_at_spacing keeps origin and direction and gives size
 * round(n * s / s').
 */
#include "ds_cohort.h"
#include "ds_test.h"
#include "io_test_util.h"

static float ramp(double i, double j, double k)
{
    return (float)(2.0 * i + 3.0 * j - k + 5.0);
}

int main(void)
{
    ds_ctx *ctx = NULL;
    ds_ctx_create(&ctx);
    ds_geometry g;
    io_oblique_geometry(&g, 7, 5, 4);
    ds_volume *img = NULL, *lab = NULL;
    DS_CHECK_OK(ctx, ds_volume_create(ctx, &img, &g, DS_VOLUME_SCALAR));
    DS_CHECK_OK(ctx, ds_volume_create(ctx, &lab, &g, DS_VOLUME_LABEL));
    for (int k = 0; k < 4; ++k)
        for (int j = 0; j < 5; ++j)
            for (int i = 0; i < 7; ++i) {
                img->values[i + 7 * (j + 5 * k)] = ramp(i, j, k);
                lab->labels[i + 7 * (j + 5 * k)] = (uint16_t)((i * 3 + j * 5 + k * 7) % 4);
            }
    /* half the spacing: size 14 x 10 x 8, same origin and direction */
    const double half[3] = {g.spacing[0] / 2, g.spacing[1] / 2, g.spacing[2] / 2};
    ds_geometry fine;
    DS_CHECK_OK(ctx, ds_geometry_at_spacing(ctx, &g, half, &fine));
    DS_CHECK(fine.size[0] == 14 && fine.size[1] == 10 && fine.size[2] == 8);
    DS_CHECK(memcmp(fine.origin, g.origin, sizeof g.origin) == 0);
    DS_CHECK(memcmp(fine.direction, g.direction, sizeof g.direction) == 0);
    const double coarse_sp[3] = {1.5, 2.5, 5.0};
    ds_geometry coarse;
    DS_CHECK_OK(ctx, ds_geometry_at_spacing(ctx, &g, coarse_sp, &coarse));
    DS_CHECK(coarse.size[0] == 4 && coarse.size[1] == 3 && coarse.size[2] == 2);
    const double zero[3] = {1, 0, 1};
    DS_CHECK_FAILS(ctx, ds_geometry_at_spacing(ctx, &g, zero, &coarse), DS_ERR_ARG);

    ds_volume *up = NULL, *lup = NULL, *back = NULL;
    DS_CHECK_OK(ctx, ds_volume_resample(ctx, img, &fine, DS_INTERP_LINEAR, &up));
    if (up) {
        int bad = 0;
        for (int k = 0; k <= 6; ++k)
            for (int j = 0; j <= 8; ++j)
                for (int i = 0; i <= 12; ++i) {
                    float want = ramp(i / 2.0, j / 2.0, k / 2.0);
                    float got = up->values[i + 14 * (j + 10 * k)];
                    bad += fabsf(got - want) > 1e-4f;
                }
        DS_CHECK_MSG(bad == 0, "%d voxels off the ramp", bad);
        /* beyond the last source voxel: the edge value (x = 13 -> source x = 6.5 -> 6) */
        DS_CHECK_CLOSE(up->values[13], ramp(6, 0, 0), 0, 1e-4);
    }
    DS_CHECK_FAILS(ctx, ds_volume_resample(ctx, lab, &fine, DS_INTERP_LINEAR, &lup), DS_ERR_ARG);
    DS_CHECK_OK(ctx, ds_volume_resample(ctx, lab, &fine, DS_INTERP_NEAREST, &lup));
    /* back to the original geometry through a sample: the identity for nearest */
    ds_sample s;
    memset(&s, 0, sizeof s);
    s.image = up;
    s.original = g;
    DS_CHECK_OK(ctx, ds_sample_restore(ctx, &s, lup, &back));
    if (back) {
        DS_CHECK(memcmp(back->labels, lab->labels, 140 * sizeof(uint16_t)) == 0);
        DS_CHECK(memcmp(&back->geom, &g, sizeof g) == 0);
    }
    ds_volume_free(back);
    back = NULL;
    DS_CHECK_OK(ctx, ds_sample_restore(ctx, &s, up, &back));
    if (back) {
        int bad = 0;
        for (int i = 0; i < 140; ++i)
            bad += fabsf(back->values[i] - img->values[i]) > 1e-4f;
        DS_CHECK_MSG(bad == 0, "%d voxels changed by the round trip", bad);
    }
    ds_volume_free(back);
    back = NULL;
    /* a volume not on the sample's grid is refused */
    DS_CHECK_FAILS(ctx, ds_sample_restore(ctx, &s, img, &back), DS_ERR_SHAPE);
    /* onto its own grid: an exact copy (integer source indices, zero interpolation weights) */
    ds_volume *same = NULL;
    DS_CHECK_OK(ctx, ds_volume_resample(ctx, img, &g, DS_INTERP_LINEAR, &same));
    DS_CHECK(same && memcmp(same->values, img->values, 140 * sizeof(float)) == 0);
    ds_volume_free(same);
    ds_volume_free(up);
    ds_volume_free(lup);
    ds_volume_free(img);
    ds_volume_free(lab);
    ds_ctx_free(ctx);
    return ds_test_finish("test_io_resample");
}
