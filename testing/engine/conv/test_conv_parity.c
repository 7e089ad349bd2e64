/* test_conv_parity.c - Conv3d / ConvTranspose3d against PyTorch 1.13 (float32): forward output and
 * the gradients dx, dweight, dbias of sum(y * dy), for every variant the networks use, two
 * general ones, and shapes wide enough for the direct AVX2 kernels and deep enough for the split-K
 * forward. Reference: conv_fixtures.bin, written by make_conv_fixtures.py (VARIANTS there must
 * match the table below). Relative error = max abs difference / max abs reference <= 1e-4.
 * The output is NaN before the forward, which must overwrite every value (the transposed k2 s2
 * forward sets its output instead of filling the bias and adding).
 * Each variant names the kernels it is meant to reach and fails if another ran (ds_conv_paths;
 * without AVX2 + FMA, or in the DS_CONV_NO_DIRECT build, the SGEMM paths, as the test says).
 */
#include <math.h>
#include <stdlib.h>

#include "conv_test_util.h"
#include "ds_fixture.h"
#include "ds_tensor.h"
#include "ds_test.h"
#include "ds_threads.h"

typedef struct conv_variant {
    const char *name;
    int transposed, cin, cout, k, s, p, bias, d, h, w;
    conv_want want; /* forward, backward-data, backward-weights: with / without direct kernels */
} conv_variant;

#define SAME CONV_WANT_SAME

static const conv_variant variants[] = {
    {"conv_k3s1p1_bias", 0, 3, 4, 3, 1, 1, 1, 5, 6, 7, SAME(CP_GEMM, CP_GEMM, CP_GEMM)},
    {"conv_k3s1p1_nobias", 0, 3, 4, 3, 1, 1, 0, 5, 6, 7, SAME(CP_GEMM, CP_GEMM, CP_GEMM)},
    {"conv_k2s2_bias", 0, 3, 4, 2, 2, 0, 1, 7, 6, 5, SAME(CP_GEMM, CP_SCATTER, CP_GEMM)},
    {"conv_k1s1_bias", 0, 3, 4, 1, 1, 0, 1, 5, 3, 7, SAME(CP_PW, CP_PW, CP_PW)},
    /* split-K; the lowered GEMM with our kernel where it runs */
    {"conv_k7s1p3_nobias", 0, 2, 3, 7, 1, 3, 0, 5, 6, 7,
     {{CP_GEMM, CP_GEMM, CP_GEMM}, {CP_SPLITK, CP_SPLITK, CP_GEMM}}},
    {"conv_k1s2_nobias", 0, 3, 4, 1, 2, 0, 0, 7, 5, 9, SAME(CP_GEMM, CP_SCATTER, CP_GEMM)},
    {"conv_k3s2p1_bias", 0, 2, 3, 3, 2, 1, 1, 7, 6, 5, SAME(CP_GEMM, CP_SCATTER, CP_GEMM)},
    {"convT_k2s2_bias", 1, 3, 4, 2, 2, 0, 1, 3, 4, 5, SAME(CP_SCATTER, CP_GEMM, CP_GEMM)},
    {"convT_k2s2_nobias", 1, 3, 4, 2, 2, 0, 0, 3, 4, 5, SAME(CP_SCATTER, CP_GEMM, CP_GEMM)},
    {"convT_k3s2p1_bias", 1, 2, 3, 3, 2, 1, 1, 3, 4, 5, SAME(CP_SCATTER, CP_GEMM, CP_GEMM)},
    /* wide rows: the direct kernels (without them: the SGEMM paths they fall back to) */
    {"conv_k3s1p1_direct_bias", 0, 4, 8, 3, 1, 1, 1, 3, 5, 19,
     {{CP_DIRECT, CP_DIRECT, CP_DIRECT}, {CP_GEMM, CP_GEMM, CP_GEMM}}},
    {"conv_k3s1p1_direct_tail_nobias", 0, 3, 6, 3, 1, 1, 0, 2, 3, 17,
     {{CP_DIRECT, CP_DIRECT, CP_GEMM}, {CP_GEMM, CP_GEMM, CP_GEMM}}},
    {"conv_k7s1p3_direct_nobias", 0, 1, 4, 7, 1, 3, 0, 3, 3, 16,
     {{CP_DIRECT, CP_DIRECT, CP_DIRECT_AVX512}, {CP_GEMM, CP_SPLITK, CP_GEMM}}},
    {"convT_k3s1p1_direct_bias", 1, 8, 4, 3, 1, 1, 1, 3, 4, 17,
     {{CP_DIRECT, CP_DIRECT, CP_DIRECT}, {CP_GEMM, CP_GEMM, CP_GEMM}}},
    /* 36 output voxels: our few-voxel GEMM where it runs (20 rows: a tail of 4), else split-K */
    {"conv_k3s1p1_splitk_bias", 0, 20, 20, 3, 1, 1, 1, 3, 3, 4,
     {{CP_FEW, CP_FEW, CP_GEMM}, {CP_SPLITK, CP_SPLITK, CP_GEMM}}},
};

static const ds_fixture_array *get(const ds_fixture *fx, const char *variant, const char *what)
{
    char name[128];
    snprintf(name, sizeof name, "%s.%s", variant, what);
    return ds_fixture_get(fx, name);
}

static void compare(const char *variant, const char *what, const float *got,
                    const ds_fixture_array *want, int64_t numel)
{
    DS_CHECK_MSG(want && (int64_t)want->numel == numel, "%s.%s: missing or %zu elements, want %lld",
                 variant, what, want ? want->numel : 0, (long long)numel);
    if (!want || (int64_t)want->numel != numel)
        return;
    double e = ds_fixture_rel_error(got, want);
    DS_CHECK_MSG(e <= 1e-4, "%s.%s: relative error %.3g", variant, what, e);
}

static void run_variant(ds_ctx *ctx, const ds_fixture *fx, const conv_variant *v, int direct)
{
    conv_ref_shape r = {v->transposed, 2,    v->cin, v->cout, v->k, v->s, v->p,
                        v->d,          v->h, v->w,   0,       0,    0};
    conv_ref_fill_out(&r);
    const ds_fixture_array *fxx = get(fx, v->name, "x"), *fw = get(fx, v->name, "weight");
    const ds_fixture_array *fdy = get(fx, v->name, "dy"),
                           *fb = v->bias ? get(fx, v->name, "bias") : NULL;
    DS_CHECK_MSG(fxx && fw && fdy && (!v->bias || fb), "%s: arrays missing", v->name);
    if (!fxx || !fw || !fdy || (v->bias && !fb))
        return;
    DS_CHECK_MSG((int64_t)fxx->numel == conv_ref_in_numel(&r) &&
                     (int64_t)fw->numel == conv_ref_w_numel(&r) &&
                     (int64_t)fdy->numel == conv_ref_out_numel(&r),
                 "%s: fixture shapes do not match the table", v->name);
    if ((int64_t)fxx->numel != conv_ref_in_numel(&r) ||
        (int64_t)fw->numel != conv_ref_w_numel(&r) || (int64_t)fdy->numel != conv_ref_out_numel(&r))
        return;
    conv_any layer;
    ds_tensor *x = NULL, *y = NULL, *dy = NULL, *dx = NULL;
    DS_CHECK_OK(ctx, conv_any_init(ctx, &layer, &r, v->bias));
    DS_CHECK_OK(ctx, ds_tensor_create(ctx, &x, 2, v->cin, v->d, v->h, v->w));
    DS_CHECK_OK(ctx, ds_tensor_create(ctx, &y, 2, v->cout, r.od, r.oh, r.ow));
    DS_CHECK_OK(ctx, ds_tensor_create(ctx, &dy, 2, v->cout, r.od, r.oh, r.ow));
    DS_CHECK_OK(ctx, ds_tensor_zeros(ctx, &dx, 2, v->cin, v->d, v->h, v->w));
    if (x && y && dy && dx) {
        ds_fixture_to_float(fxx, x->data);
        ds_fixture_to_float(fw, conv_any_weight(&layer)->value);
        if (v->bias)
            ds_fixture_to_float(fb, conv_any_bias(&layer)->value);
        ds_fixture_to_float(fdy, dy->data);
        for (int64_t i = 0; i < ds_tensor_numel(y); ++i) /* forward overwrites every value */
            y->data[i] = NAN;
        DS_CHECK_OK(ctx, conv_any_forward(ctx, &layer, x, y));
        compare(v->name, "y", y->data, get(fx, v->name, "y"), ds_tensor_numel(y));
        DS_CHECK_OK(ctx, conv_any_backward(ctx, &layer, x, dy, dx));
        compare(v->name, "dx", dx->data, get(fx, v->name, "dx"), ds_tensor_numel(dx));
        compare(v->name, "dweight", conv_any_weight(&layer)->grad, get(fx, v->name, "dweight"),
                conv_any_weight(&layer)->numel);
        if (v->bias)
            compare(v->name, "dbias", conv_any_bias(&layer)->grad, get(fx, v->name, "dbias"),
                    v->cout);
        conv_test_check_paths(v->name, &layer, &v->want, direct, 1);
    }
    ds_tensor_free(x);
    ds_tensor_free(y);
    ds_tensor_free(dy);
    ds_tensor_free(dx);
    conv_any_free(&layer);
}

int main(void)
{
    ds_ctx *ctx = NULL;
    if (ds_ctx_create(&ctx) != DS_OK)
        return 1;
    DS_CHECK_OK(ctx, ds_threads_set(ctx, 0));
    const int direct = conv_test_direct_expected();
    ds_fixture *fx = ds_fixture_load(DS_TESTING_DIR "/engine/conv/conv_fixtures.bin");
    DS_CHECK(fx != NULL);
    for (size_t i = 0; fx && i < sizeof variants / sizeof variants[0]; ++i)
        run_variant(ctx, fx, &variants[i], direct);
    ds_fixture_free(fx);
    ds_ctx_free(ctx);
    return ds_test_finish("test_conv_parity");
}
