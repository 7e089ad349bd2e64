/* test_metrics_edt.c - the exact anisotropic distance transform (ds_metrics_edt).
 * Reference: scipy.ndimage.distance_transform_edt(~feature, sampling=(sz, sy, sx)) written by
 * make_metric_fixtures.py into edt_fixtures.bin (a 17 x 13 x 11 volume with empty lines and planes
 * and a 23 x 1 x 7 one with a degenerate axis). Hand cases: no feature gives +inf; a single
 * feature voxel gives the analytic distance sqrt(sum (d_a s_a)^2). */
#include <math.h>
#include <stdlib.h>

#include "ds_fixture.h"
#include "ds_metrics.h"
#include "ds_test.h"
#include "ds_threads.h"
#include "unpack.h"

static void check_against(ds_ctx *ctx, const ds_fixture *fx, const char *shape_name,
                          const char *spacing_name, const char *feature_name, const char *dist_name)
{
    const ds_fixture_array *sh = ds_fixture_get(fx, shape_name);
    const ds_fixture_array *sp = ds_fixture_get(fx, spacing_name);
    const ds_fixture_array *fe = ds_fixture_get(fx, feature_name);
    const ds_fixture_array *di = ds_fixture_get(fx, dist_name);
    DS_CHECK(sh && sp && fe && di);
    if (!sh || !sp || !fe || !di)
        return;
    const int64_t size[3] = {(int64_t)sh->data[2], (int64_t)sh->data[1], (int64_t)sh->data[0]};
    const double spacing[3] = {sp->data[0], sp->data[1], sp->data[2]};
    const size_t n = (size_t)(size[0] * size[1] * size[2]);
    DS_CHECK(di->numel == n);
    uint16_t *f16 = malloc(n * sizeof *f16);
    uint8_t *feat = malloc(n);
    double *d1 = malloc(n * sizeof *d1), *d2 = malloc(n * sizeof *d2);
    DS_CHECK(unpack_u16(fe, 1, n, f16));
    for (size_t i = 0; i < n; ++i)
        feat[i] = (uint8_t)f16[i];
    DS_CHECK_OK(ctx, ds_threads_set(ctx, 2));
    DS_CHECK_OK(ctx, ds_metrics_edt(ctx, feat, size, spacing, d2));
    DS_CHECK_OK(ctx, ds_threads_set(ctx, 1));
    DS_CHECK_OK(ctx, ds_metrics_edt(ctx, feat, size, spacing, d1));
    double worst = 0.0;
    int same = 1;
    for (size_t i = 0; i < n; ++i) {
        const double want = di->data[i];
        const double err = fabs(d2[i] - want) / (want > 1.0 ? want : 1.0);
        worst = err > worst ? err : worst;
        same &= d1[i] == d2[i];
    }
    DS_CHECK_MSG(worst <= 1e-12, "%s: worst relative error %g vs scipy", dist_name, worst);
    DS_CHECK_MSG(same, "%s: 1 and 2 threads differ", dist_name);
    free(f16);
    free(feat);
    free(d1);
    free(d2);
}

int main(void)
{
    ds_ctx *ctx = NULL;
    DS_CHECK_OK(ctx, ds_ctx_create(&ctx));
    ds_fixture *fx = ds_fixture_load(DS_TESTING_DIR "/metrics/edt_fixtures.bin");
    DS_CHECK(fx != NULL);
    if (fx) {
        check_against(ctx, fx, "shape", "spacing", "feature", "dist");
        check_against(ctx, fx, "shape2", "spacing2", "feature2", "dist2");
        ds_fixture_free(fx);
    }
    DS_CHECK_OK(ctx, ds_threads_set(ctx, 2));

    /* one feature voxel at (2, 3, 1) in a 6 x 5 x 4 grid: dist = sqrt((dx sx)^2 + (dy sy)^2 +
     * (dz sz)^2), by hand */
    enum { NX = 6, NY = 5, NZ = 4, N = NX * NY * NZ };
    const int64_t size[3] = {NX, NY, NZ};
    const double spacing[3] = {0.5, 2.0, 1.25};
    uint8_t feat[N] = {0};
    double dist[N];
    feat[2 + NX * (3 + NY * 1)] = 1;
    DS_CHECK_OK(ctx, ds_metrics_edt(ctx, feat, size, spacing, dist));
    for (int z = 0; z < NZ; ++z)
        for (int y = 0; y < NY; ++y)
            for (int x = 0; x < NX; ++x) {
                const double dx = (x - 2) * 0.5, dy = (y - 3) * 2.0, dz = (z - 1) * 1.25;
                DS_CHECK_CLOSE(dist[x + NX * (y + NY * z)], sqrt(dx * dx + dy * dy + dz * dz),
                               1e-14, 1e-14);
            }
    /* no feature voxel: +inf everywhere */
    feat[2 + NX * (3 + NY * 1)] = 0;
    DS_CHECK_OK(ctx, ds_metrics_edt(ctx, feat, size, spacing, dist));
    int all_inf = 1;
    for (int i = 0; i < N; ++i)
        all_inf &= isinf(dist[i]) && dist[i] > 0;
    DS_CHECK(all_inf);

    /* bad input */
    const int64_t bad_size[3] = {NX, 0, NZ};
    const double bad_sp[3] = {0.5, NAN, 1.0}, neg_sp[3] = {0.5, -1.0, 1.0};
    DS_CHECK_FAILS(ctx, ds_metrics_edt(ctx, feat, bad_size, spacing, dist), DS_ERR_SHAPE);
    DS_CHECK_FAILS(ctx, ds_metrics_edt(ctx, feat, size, bad_sp, dist), DS_ERR_ARG);
    DS_CHECK_FAILS(ctx, ds_metrics_edt(ctx, feat, size, neg_sp, dist), DS_ERR_ARG);
    DS_CHECK_FAILS(ctx, ds_metrics_edt(ctx, NULL, size, spacing, dist), DS_ERR_ARG);
    DS_CHECK_FAILS(ctx, ds_metrics_edt(ctx, feat, size, spacing, NULL), DS_ERR_ARG);
    DS_CHECK_FAILS(ctx, ds_metrics_edt(ctx, feat, NULL, spacing, dist), DS_ERR_ARG);

    ds_ctx_free(ctx);
    return ds_test_finish("test_metrics_edt");
}
