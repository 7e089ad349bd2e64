/* test_tensor.c - the 5-D tensor: layout, alignment, ownership, checks. */
#include "ds_tensor.h"
#include "ds_test.h"

#include <stdint.h>
#include <stdlib.h>

int main(void)
{
    ds_ctx *ctx = NULL;
    ds_ctx_create(&ctx);

    ds_tensor *t = NULL;
    DS_CHECK_OK(ctx, ds_tensor_create(ctx, &t, 2, 3, 4, 5, 6));
    DS_CHECK(t && t->owns_data);
    DS_CHECK(((uintptr_t)t->data % DS_TENSOR_ALIGN) == 0);
    DS_CHECK(ds_tensor_numel(t) == 720 && ds_tensor_sample_numel(t) == 360);
    DS_CHECK(ds_tensor_spatial_numel(t) == 120);

    /* NCDHW, W fastest, as in PyTorch. */
    for (int64_t i = 0; i < ds_tensor_numel(t); ++i)
        t->data[i] = (float)i;
    DS_CHECK(*ds_tensor_at(t, 0, 0, 0, 0, 1) == 1.0f);
    DS_CHECK(*ds_tensor_at(t, 0, 0, 0, 1, 0) == 6.0f);
    DS_CHECK(*ds_tensor_at(t, 0, 0, 1, 0, 0) == 30.0f);
    DS_CHECK(*ds_tensor_at(t, 0, 1, 0, 0, 0) == 120.0f);
    DS_CHECK(*ds_tensor_at(t, 1, 2, 3, 4, 5) == 719.0f);

    char shape[64];
    DS_CHECK(strcmp(ds_tensor_shape_str(t, shape, sizeof shape), "2x3x4x5x6") == 0);

    /* A clone is an independent copy. */
    ds_tensor *c = NULL;
    DS_CHECK_OK(ctx, ds_tensor_clone(ctx, &c, t));
    DS_CHECK(c->data != t->data && memcmp(c->data, t->data, 720 * sizeof(float)) == 0);
    c->data[0] = -1.0f;
    DS_CHECK(t->data[0] == 0.0f);

    /* Zeros, fill, copy. */
    ds_tensor *z = NULL;
    DS_CHECK_OK(ctx, ds_tensor_zeros(ctx, &z, 2, 3, 4, 5, 6));
    int all_zero = 1;
    for (int64_t i = 0; i < 720; ++i)
        all_zero &= z->data[i] == 0.0f;
    DS_CHECK(all_zero);
    ds_tensor_fill(z, 2.5f);
    DS_CHECK(z->data[0] == 2.5f && z->data[719] == 2.5f);
    DS_CHECK_OK(ctx, ds_tensor_copy(ctx, z, t));
    DS_CHECK(z->data[719] == 719.0f);

    /* Reshape keeps the data and refuses a different element count. */
    DS_CHECK_OK(ctx, ds_tensor_reshape(ctx, z, 1, 6, 4, 5, 6));
    DS_CHECK(z->n == 1 && z->c == 6 && z->data[719] == 719.0f);
    DS_CHECK_FAILS(ctx, ds_tensor_reshape(ctx, z, 1, 6, 4, 5, 7), DS_ERR_SHAPE);
    DS_CHECK(z->c == 6 && z->w == 6);

    /* Shape mismatches and bad dimensions are refused with a message. */
    DS_CHECK_FAILS(ctx, ds_tensor_copy(ctx, z, t), DS_ERR_SHAPE);
    ds_tensor *bad = NULL;
    DS_CHECK_FAILS(ctx, ds_tensor_create(ctx, &bad, 1, 0, 4, 4, 4), DS_ERR_SHAPE);
    DS_CHECK(bad == NULL);
    DS_CHECK_FAILS(ctx, ds_tensor_create(ctx, &bad, 1, 1, -3, 4, 4), DS_ERR_SHAPE);
    DS_CHECK_FAILS(ctx, ds_tensor_create(ctx, &bad, 1024, 1024, 1024, 1024, 1024), DS_ERR_NOMEM);
    DS_CHECK_FAILS(ctx, ds_tensor_create(ctx, &bad, INT64_MAX, 2, 2, 2, 2), DS_ERR_NOMEM);
    DS_CHECK(bad == NULL);
    DS_CHECK_FAILS(ctx, ds_tensor_create(ctx, NULL, 1, 1, 1, 1, 1), DS_ERR_ARG);

    /* Views borrow aligned memory and never free it. */
    float *mem = ds_aligned_alloc(64 * sizeof(float));
    DS_CHECK(mem && ((uintptr_t)mem % DS_TENSOR_ALIGN) == 0);
    ds_tensor *v = NULL;
    DS_CHECK_OK(ctx, ds_tensor_view(ctx, &v, mem, 1, 1, 4, 4, 4));
    DS_CHECK(v && !v->owns_data && v->data == mem);
    ds_tensor_fill(v, 1.0f);
    ds_tensor_free(v); /* must not free mem: ASan would flag the write below otherwise */
    mem[63] = 3.0f;
    DS_CHECK(mem[0] == 1.0f && mem[63] == 3.0f);
    DS_CHECK_FAILS(ctx, ds_tensor_view(ctx, &v, mem + 1, 1, 1, 1, 1, 1), DS_ERR_ARG);
    ds_aligned_free(mem);

    /* NaN and Inf are found and located. */
    DS_CHECK_OK(ctx, ds_tensor_check_finite(ctx, t, "logits"));
    t->data[17] = NAN;
    DS_CHECK_FAILS(ctx, ds_tensor_check_finite(ctx, t, "logits"), DS_ERR_NUMERIC);
    DS_CHECK(strstr(ds_ctx_message(ctx), "logits") && strstr(ds_ctx_message(ctx), "NaN") &&
             strstr(ds_ctx_message(ctx), "17"));
    t->data[17] = INFINITY;
    DS_CHECK_FAILS(ctx, ds_tensor_check_finite(ctx, t, "grad"), DS_ERR_NUMERIC);
    DS_CHECK(strstr(ds_ctx_message(ctx), "Inf") != NULL);

    /* Aligned allocation of odd and zero sizes. */
    void *p0 = ds_aligned_alloc(0), *p1 = ds_aligned_alloc(13);
    DS_CHECK(p0 && p1 && ((uintptr_t)p1 % DS_TENSOR_ALIGN) == 0);
    DS_CHECK(ds_aligned_alloc(SIZE_MAX) == NULL);
    ds_aligned_free(p0);
    ds_aligned_free(p1);

    ds_tensor_free(t);
    ds_tensor_free(c);
    ds_tensor_free(z);
    ds_tensor_free(NULL);
    ds_ctx_free(ctx);
    return ds_test_finish("test_tensor");
}
