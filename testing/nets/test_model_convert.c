/* test_model_convert.c - a PyTorch state_dict converted by scripts/convert_pytorch.py loads and
 * computes what PyTorch computed (fixtures from make_converted_fixture.py: a width-1 V-Net with 3
 * classes, random weights and BatchNorm statistics, saved from nn.DataParallel). The Python writer
 * is independent of the C one, so this also cross-checks the file format. */
#include "ds_fixture.h"
#include "ds_model.h"
#include "ds_test.h"

#include <stdlib.h>

static double hash_uniform(uint64_t stream, uint64_t i) /* as in make_net_fixtures.py */
{
    uint64_t x = (i * 2654435761u + stream * 40503u + 12345u) & 0xFFFFFFFFu;
    x ^= x >> 15;
    x = (x * 2246822519u) & 0xFFFFFFFFu;
    x ^= x >> 13;
    x = (x * 3266489917u) & 0xFFFFFFFFu;
    x ^= x >> 16;
    return (double)x / 2147483648.0 - 1.0;
}

int main(void)
{
    ds_ctx *ctx = NULL;
    ds_ctx_create(&ctx);
    ds_model *m = NULL;
    DS_CHECK_OK(ctx, ds_model_load(ctx, &m, DS_TESTING_DIR "/nets/converted_vnet_w1.dsm"));
    ds_fixture *fx = ds_fixture_load(DS_TESTING_DIR "/nets/converted_vnet_w1.bin");
    DS_CHECK(fx != NULL);
    if (m && fx) {
        DS_CHECK(m->net_count == 1 && !m->has_optim && m->rng_count == 0);
        DS_CHECK(m->meta.classes == 3 && strcmp(m->meta.class_names[2], "posterior") == 0);
        DS_CHECK(m->meta.patch[0] == 48 && m->meta.patch[2] == 16 && m->meta.spacing[2] == 1.5);
        DS_CHECK(m->meta.iteration == 6000 && m->meta.norm_mode == DS_NORM_ZSCORE);
        DS_CHECK(ds_net_arch(m->net[0]) == DS_ARCH_VNET && ds_net_width(m->net[0]) == 1);
        ds_tensor *x = NULL;
        ds_tensor_create(ctx, &x, 1, 1, 16, 16, 16);
        for (int64_t i = 0; i < ds_tensor_numel(x); ++i)
            x->data[i] = (float)hash_uniform(1000, (uint64_t)i);
        const ds_tensor *logits = NULL;
        DS_CHECK_OK(ctx, ds_net_forward(ctx, m->net[0], x, 0, NULL, &logits, NULL));
        const ds_fixture_array *want = ds_fixture_get(fx, "logits");
        DS_CHECK(logits && want && (int64_t)want->numel == ds_tensor_numel(logits));
        if (logits && want && (int64_t)want->numel == ds_tensor_numel(logits)) {
            const double err = ds_fixture_rel_error(logits->data, want);
            DS_CHECK_MSG(err <= 1e-4, "evaluation logits: relative error %.3g", err);
        }
        ds_tensor_free(x);
    }
    ds_fixture_free(fx);
    ds_model_free(m);
    ds_ctx_free(ctx);
    return ds_test_finish("test_model_convert");
}
