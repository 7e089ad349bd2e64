/* layer_check.c - argument checks shared by the layers (see layer_check.h). */
#include "layer_check.h"

ds_status ds_layer_need_tensor(ds_ctx *ctx, const char *layer, const char *what, const ds_tensor *t)
{
    if (!t || !t->data)
        return ds_fail(ctx, DS_ERR_ARG, "%s: %s is null", layer, what);
    return DS_OK;
}

ds_status ds_layer_need_same(ds_ctx *ctx, const char *layer, const char *what_a, const ds_tensor *a,
                             const char *what_b, const ds_tensor *b)
{
    ds_status st = ds_layer_need_tensor(ctx, layer, what_a, a);
    if (st == DS_OK)
        st = ds_layer_need_tensor(ctx, layer, what_b, b);
    if (st != DS_OK)
        return st;
    if (!ds_tensor_same_shape(a, b)) {
        char sa[96], sb[96];
        return ds_fail(ctx, DS_ERR_SHAPE, "%s: %s is %s but %s is %s", layer, what_a,
                       ds_tensor_shape_str(a, sa, sizeof sa), what_b,
                       ds_tensor_shape_str(b, sb, sizeof sb));
    }
    return DS_OK;
}
