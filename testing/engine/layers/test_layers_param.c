/* test_layers_param.c - ds_param and ds_param_list (core/engine/param.c).
 * References: the contracts in ds_param.h (hand-checked values). */
#include "ds_param.h"
#include "ds_tensor.h"
#include "ds_threads.h"
#include "ds_test.h"

#include <stdint.h>
#include <string.h>

int main(void)
{
    ds_ctx *ctx = NULL;
    if (ds_ctx_create(&ctx) != DS_OK)
        return 1;

    ds_param p;
    DS_CHECK_OK(ctx, ds_param_init(ctx, &p, "block_one.conv.0.weight", 1000));
    DS_CHECK(strcmp(p.name, "block_one.conv.0.weight") == 0 && p.numel == 1000);
    DS_CHECK(((uintptr_t)p.value % DS_TENSOR_ALIGN) == 0 && ((uintptr_t)p.grad % DS_TENSOR_ALIGN) == 0);
    int zero = 1;
    for (int i = 0; i < 1000; ++i)
        zero &= p.grad[i] == 0.0f;
    DS_CHECK(zero);
    for (int i = 0; i < 1000; ++i) {
        p.value[i] = (float)i;
        p.grad[i] = 1.0f;
    }
    ds_param_zero_grad(&p);
    DS_CHECK(p.grad[999] == 0.0f && p.grad[0] == 0.0f && p.value[999] == 999.0f);

    /* NULL name gives an empty one; a too long name is cut, NUL-terminated. */
    ds_param q, r;
    DS_CHECK_OK(ctx, ds_param_init(ctx, &q, NULL, 3));
    DS_CHECK(q.name[0] == '\0');
    char longname[200];
    memset(longname, 'a', sizeof longname - 1);
    longname[sizeof longname - 1] = '\0';
    DS_CHECK_OK(ctx, ds_param_init(ctx, &r, longname, 1));
    DS_CHECK(strlen(r.name) == DS_PARAM_NAME_CAP - 1);

    /* Bad sizes and null pointers fail with a message. */
    ds_param bad;
    DS_CHECK_FAILS(ctx, ds_param_init(ctx, &bad, "w", 0), DS_ERR_ARG);
    DS_CHECK(strstr(ds_ctx_message(ctx), "w") != NULL);
    DS_CHECK(bad.value == NULL && bad.grad == NULL);
    DS_CHECK_FAILS(ctx, ds_param_init(ctx, &bad, "w", DS_TENSOR_MAX_NUMEL + 1), DS_ERR_ARG);
    DS_CHECK_FAILS(ctx, ds_param_init(ctx, NULL, "w", 4), DS_ERR_ARG);

    /* A list grows past its first capacity, keeps the order, and sums sizes. */
    ds_param_list list = {0};
    ds_param many[40];
    int64_t want = 0;
    for (int i = 0; i < 40; ++i) {
        DS_CHECK_OK(ctx, ds_param_init(ctx, &many[i], "m", i + 1));
        many[i].grad[0] = 5.0f;
        DS_CHECK_OK(ctx, ds_param_list_add(ctx, &list, &many[i]));
        want += i + 1;
    }
    DS_CHECK(list.count == 40 && list.cap >= 40);
    DS_CHECK(list.items[0] == &many[0] && list.items[39] == &many[39]);
    DS_CHECK(ds_param_list_numel(&list) == want && want == 820);
    ds_param_list_zero_grad(ctx, &list);
    DS_CHECK(many[0].grad[0] == 0.0f && many[39].grad[0] == 0.0f);
    DS_CHECK_FAILS(ctx, ds_param_list_add(ctx, &list, NULL), DS_ERR_ARG);
    DS_CHECK_FAILS(ctx, ds_param_list_add(ctx, NULL, &p), DS_ERR_ARG);
    ds_param_list_free(&list);
    DS_CHECK(list.items == NULL && list.count == 0);
    DS_CHECK(ds_param_list_numel(&list) == 0 && ds_param_list_numel(NULL) == 0);
    ds_param_list_zero_grad(ctx, NULL);
    for (int i = 0; i < 40; ++i)
        ds_param_free(&many[i]);

    /* A gradient big enough for ds_fill_zero's parallel path (5 blocks of 16384 floats and an
     * odd tail) is zeroed entirely on 2 threads, and nothing past its end is touched. */
    DS_CHECK_OK(ctx, ds_threads_set(ctx, 2));
    const int64_t big = 4 * 16384 + 12345;
    ds_param huge;
    DS_CHECK_OK(ctx, ds_param_init(ctx, &huge, "huge", big));
    ds_param_list one = {0};
    DS_CHECK_OK(ctx, ds_param_list_add(ctx, &one, &huge));
    for (int64_t i = 0; i < big; ++i)
        huge.grad[i] = 3.0f;
    huge.grad[big - 1] = 4.0f;
    ds_param_list_zero_grad(ctx, &one);
    int cleared = 1;
    for (int64_t i = 0; i < big; ++i)
        cleared &= huge.grad[i] == 0.0f;
    DS_CHECK(cleared);
    float guard[5] = {7, 7, 7, 7, 7};
    ds_fill_zero(ctx, guard + 1, 3);
    DS_CHECK(guard[0] == 7.0f && guard[1] == 0.0f && guard[3] == 0.0f && guard[4] == 7.0f);
    ds_fill_zero(NULL, guard, 0);
    DS_CHECK(guard[0] == 7.0f);
    ds_param_list_free(&one);
    ds_param_free(&huge);

    /* Free resets and is safe twice and on NULL. */
    ds_param_free(&p);
    DS_CHECK(p.value == NULL && p.numel == 0);
    ds_param_free(&p);
    ds_param_free(NULL);
    ds_param_zero_grad(&p);
    ds_param_free(&q);
    ds_param_free(&r);
    ds_ctx_free(ctx);
    return ds_test_finish("test_layers_param");
}
