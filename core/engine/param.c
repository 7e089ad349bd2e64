/* param.c - trainable parameters and parameter lists (see ds_param.h). */
#include "ds_param.h"
#include "ds_tensor.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

ds_status ds_param_init(ds_ctx *ctx, ds_param *p, const char *name, int64_t numel)
{
    if (!p)
        return ds_fail(ctx, DS_ERR_ARG, "parameter: null pointer");
    memset(p, 0, sizeof *p);
    snprintf(p->name, sizeof p->name, "%s", name ? name : "");
    if (numel < 1 || numel > DS_TENSOR_MAX_NUMEL)
        return ds_fail(ctx, DS_ERR_ARG, "parameter %s: size %" PRId64 " is out of range", p->name,
                       numel);
    p->value = ds_aligned_alloc((size_t)numel * sizeof(float));
    p->grad = ds_aligned_alloc((size_t)numel * sizeof(float));
    if (!p->value || !p->grad) {
        ds_param_free(p);
        return ds_fail(ctx, DS_ERR_NOMEM, "parameter %s: out of memory for %" PRId64 " floats",
                       name ? name : "", numel);
    }
    p->numel = numel;
    memset(p->grad, 0, (size_t)numel * sizeof(float));
    return DS_OK;
}

void ds_param_free(ds_param *p)
{
    if (!p)
        return;
    ds_aligned_free(p->value);
    ds_aligned_free(p->grad);
    memset(p, 0, sizeof *p);
}

void ds_param_zero_grad(ds_param *p)
{
    if (p && p->grad)
        ds_fill_zero(NULL, p->grad, p->numel);
}

ds_status ds_param_list_add(ds_ctx *ctx, ds_param_list *list, ds_param *p)
{
    if (!list || !p)
        return ds_fail(ctx, DS_ERR_ARG, "parameter list: null pointer");
    if (list->count == list->cap) {
        int cap = list->cap ? 2 * list->cap : 16;
        ds_param **items = realloc(list->items, (size_t)cap * sizeof *items);
        if (!items)
            return ds_fail(ctx, DS_ERR_NOMEM, "parameter list: out of memory");
        list->items = items;
        list->cap = cap;
    }
    list->items[list->count++] = p;
    return DS_OK;
}

void ds_param_list_free(ds_param_list *list)
{
    if (!list)
        return;
    free(list->items);
    memset(list, 0, sizeof *list);
}

void ds_param_list_zero_grad(const ds_ctx *ctx, ds_param_list *list)
{
    for (int i = 0; list && i < list->count; ++i)
        if (list->items[i] && list->items[i]->grad)
            ds_fill_zero(ctx, list->items[i]->grad, list->items[i]->numel);
}

int64_t ds_param_list_numel(const ds_param_list *list)
{
    int64_t total = 0;
    for (int i = 0; list && i < list->count; ++i)
        total += list->items[i]->numel;
    return total;
}
