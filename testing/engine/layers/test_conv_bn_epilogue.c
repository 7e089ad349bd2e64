/* test_conv_bn_epilogue.c - a BatchNorm in evaluation folded into the convolution that feeds it
 * (ds_batchnorm3d_eval_epilogue + ds_conv3d_forward_epilogue) against the two passes it replaces
 * (ds_conv3d_forward, then ds_batchnorm3d_forward_fused with training 0): the same bits, for the
 * four epilogues, on Winograd layers of the forward's two plans (chunks of tile rows: 16 -> 16 at
 * 2 x 17x19x21, odd sizes whose last tile rows are clipped; the batch shared: 64 -> 64 at
 * 2 x 4x6x4) and on a layer whose kernel cannot fold it in (kernel 2 stride 2: fused = 0, the
 * caller's pass), at 1, 2 and 3 threads. The reference is the unfused pair (the definition of the
 * epilogue's value); random weights, statistics and skip. Also: the BatchNorm's saved state after
 * the fold equals the unfused forward's, and bad epilogues are refused.
 */
#include <math.h>
#include <string.h>

#include "ds_conv.h"
#include "ds_norm.h"
#include "ds_rng.h"
#include "ds_test.h"
#include "ds_threads.h"

static ds_ctx *ctx;

typedef struct shape {
    const char *name;
    int cin, cout, k, s, p;
    int64_t n, d, h, w;
    int want_fused;
} shape;

static void fill(ds_rng *rng, float *v, int64_t n, float lo, float hi)
{
    for (int64_t i = 0; i < n; ++i)
        v[i] = lo + (hi - lo) * ds_rng_uniform(rng);
}

static void run(const shape *sh, ds_bn_epilogue kind, int threads)
{
    DS_CHECK_OK(ctx, ds_threads_set(ctx, threads));
    ds_conv3d conv;
    ds_batchnorm3d bn;
    ds_rng rng;
    ds_rng_init(&rng, 7, DS_RNG_TEST);
    DS_CHECK_OK(ctx, ds_conv3d_init(ctx, &conv, "c", sh->cin, sh->cout, sh->k, sh->s, sh->p, 1));
    DS_CHECK_OK(ctx, ds_batchnorm3d_init(ctx, &bn, "bn", sh->cout));
    fill(&rng, conv.weight.value, conv.weight.numel, -0.3f, 0.3f);
    fill(&rng, conv.bias.value, conv.bias.numel, -0.2f, 0.2f);
    fill(&rng, bn.weight.value, sh->cout, 0.5f, 1.5f);
    fill(&rng, bn.bias.value, sh->cout, -0.5f, 0.5f);
    fill(&rng, bn.running_mean, sh->cout, -0.3f, 0.3f);
    fill(&rng, bn.running_var, sh->cout, 0.2f, 2.0f);
    ds_tensor *x = NULL, *y_ref = NULL, *y = NULL, *skip = NULL;
    int64_t n, c, d, h, w;
    DS_CHECK_OK(ctx, ds_tensor_create(ctx, &x, sh->n, sh->cin, sh->d, sh->h, sh->w));
    fill(&rng, x->data, ds_tensor_numel(x), -1.0f, 1.0f);
    DS_CHECK_OK(ctx, ds_conv3d_output_shape(ctx, &conv, x, &n, &c, &d, &h, &w));
    DS_CHECK_OK(ctx, ds_tensor_create(ctx, &y_ref, n, c, d, h, w));
    DS_CHECK_OK(ctx, ds_tensor_create(ctx, &y, n, c, d, h, w));
    DS_CHECK_OK(ctx, ds_tensor_create(ctx, &skip, n, c, d, h, w));
    fill(&rng, skip->data, ds_tensor_numel(skip), -1.0f, 1.0f);
    const ds_tensor *s = kind == DS_BN_RELU_ADD || kind == DS_BN_ADD_RELU ? skip : NULL;

    DS_CHECK_OK(ctx, ds_conv3d_forward(ctx, &conv, x, y_ref));
    DS_CHECK_OK(ctx, ds_batchnorm3d_forward_fused(ctx, &bn, y_ref, s, y_ref, 0, kind));
    float saved[3][64];
    memcpy(saved[0], bn.saved_mean, sizeof(float) * (size_t)sh->cout);
    memcpy(saved[1], bn.saved_invstd, sizeof(float) * (size_t)sh->cout);
    memcpy(saved[2], bn.saved_scale, sizeof(float) * (size_t)sh->cout);
    memset(bn.saved_mean, 0, sizeof(float) * (size_t)sh->cout);
    bn.saved_n = 0;

    for (int64_t i = 0; i < ds_tensor_numel(y); ++i)
        y->data[i] = NAN;
    ds_conv_epilogue e;
    int fused = -1;
    DS_CHECK_OK(ctx, ds_batchnorm3d_eval_epilogue(ctx, &bn, y, s, kind, &e));
    DS_CHECK_OK(ctx, ds_conv3d_forward_epilogue(ctx, &conv, x, y, &e, &fused));
    DS_CHECK_MSG(fused == sh->want_fused, "%s: fused %d, want %d", sh->name, fused,
                 sh->want_fused);
    if (!fused)
        DS_CHECK_OK(ctx, ds_batchnorm3d_forward_fused(ctx, &bn, y, s, y, 0, kind));
    DS_CHECK_MSG(memcmp(y->data, y_ref->data, sizeof(float) * (size_t)ds_tensor_numel(y)) == 0,
                 "%s, epilogue %d, %d threads: not the unfused values bit for bit", sh->name,
                 (int)kind, threads);
    DS_CHECK(memcmp(saved[0], bn.saved_mean, sizeof(float) * (size_t)sh->cout) == 0 &&
             memcmp(saved[1], bn.saved_invstd, sizeof(float) * (size_t)sh->cout) == 0 &&
             memcmp(saved[2], bn.saved_scale, sizeof(float) * (size_t)sh->cout) == 0 &&
             bn.saved_n == n && bn.saved_d == d && bn.saved_h == h && bn.saved_w == w &&
             bn.saved_training == 0);
    if (kind == DS_BN_RELU && threads == 1) { /* the values are not all clipped or all kept */
        int64_t zeros = 0;
        for (int64_t i = 0; i < ds_tensor_numel(y); ++i)
            zeros += y->data[i] == 0.0f;
        DS_CHECK(zeros > 0 && zeros < ds_tensor_numel(y));
    }
    ds_tensor_free(x);
    ds_tensor_free(y_ref);
    ds_tensor_free(y);
    ds_tensor_free(skip);
    ds_conv3d_free(&conv);
    ds_batchnorm3d_free(&bn);
}

static void bad_arguments(void)
{
    ds_conv3d conv;
    ds_batchnorm3d bn;
    DS_CHECK_OK(ctx, ds_conv3d_init(ctx, &conv, "c", 2, 4, 3, 1, 1, 1));
    DS_CHECK_OK(ctx, ds_batchnorm3d_init(ctx, &bn, "bn", 4));
    ds_tensor *x = NULL, *y = NULL, *wrong = NULL;
    DS_CHECK_OK(ctx, ds_tensor_zeros(ctx, &x, 1, 2, 4, 4, 4));
    DS_CHECK_OK(ctx, ds_tensor_zeros(ctx, &y, 1, 4, 4, 4, 4));
    DS_CHECK_OK(ctx, ds_tensor_zeros(ctx, &wrong, 1, 3, 4, 4, 4));
    ds_conv_epilogue e;
    int fused;
    DS_CHECK_FAILS(ctx, ds_batchnorm3d_eval_epilogue(ctx, &bn, wrong, NULL, DS_BN_RELU, &e),
                   DS_ERR_SHAPE);
    DS_CHECK_FAILS(ctx, ds_batchnorm3d_eval_epilogue(ctx, &bn, y, NULL, DS_BN_RELU_ADD, &e),
                   DS_ERR_ARG);
    DS_CHECK_FAILS(ctx, ds_batchnorm3d_eval_epilogue(ctx, &bn, y, NULL, DS_BN_RELU, NULL),
                   DS_ERR_ARG);
    DS_CHECK_OK(ctx, ds_batchnorm3d_eval_epilogue(ctx, &bn, y, NULL, DS_BN_RELU, &e));
    DS_CHECK_FAILS(ctx, ds_conv3d_forward_epilogue(ctx, &conv, x, y, NULL, &fused), DS_ERR_ARG);
    ds_conv_epilogue bad = e;
    bad.kind = DS_CONV_EPILOGUE_ADD_RELU; /* no skip */
    DS_CHECK_FAILS(ctx, ds_conv3d_forward_epilogue(ctx, &conv, x, y, &bad, &fused), DS_ERR_ARG);
    bad.skip = y->data; /* the output itself */
    DS_CHECK_FAILS(ctx, ds_conv3d_forward_epilogue(ctx, &conv, x, y, &bad, &fused), DS_ERR_ARG);
    bad = e;
    bad.scale = NULL;
    DS_CHECK_FAILS(ctx, ds_conv3d_forward_epilogue(ctx, &conv, x, y, &bad, &fused), DS_ERR_ARG);
    ds_tensor_free(x);
    ds_tensor_free(y);
    ds_tensor_free(wrong);
    ds_conv3d_free(&conv);
    ds_batchnorm3d_free(&bn);
}

int main(void)
{
    DS_CHECK(ds_ctx_create(&ctx) == DS_OK);
    const int winograd = ds_conv_direct_available(); /* the rule needs the AVX2 kernels */
    const shape shapes[] = {
        {"16 -> 16 at 2 x 17x19x21 (chunks)", 16, 16, 3, 1, 1, 2, 17, 19, 21, winograd},
        {"64 -> 64 at 2 x 4x6x4 (shared)", 64, 64, 3, 1, 1, 2, 4, 6, 4, winograd},
        {"8 -> 16 kernel 2 stride 2 (not folded)", 8, 16, 2, 2, 0, 2, 8, 6, 10, 0},
    };
    const ds_bn_epilogue kinds[] = {DS_BN_PLAIN, DS_BN_RELU, DS_BN_RELU_ADD, DS_BN_ADD_RELU};
    for (size_t i = 0; i < sizeof shapes / sizeof shapes[0]; ++i)
        for (int k = 0; k < 4; ++k)
            for (int t = 1; t <= 3; ++t)
                run(&shapes[i], kinds[k], t);
    bad_arguments();
    ds_ctx_free(ctx);
    return ds_test_finish("test_conv_bn_epilogue");
}
