/* ds_param.h - a trainable parameter: value and accumulated gradient, owned together.
 *
 * Layers embed their ds_param members (weight, bias); networks gather pointers to them in a
 * ds_param_list for the optimiser and the model file. Gradients accumulate: every _backward adds
 * into grad, and the caller zeroes the gradients between steps (ds_param_list_zero_grad, or the
 * optimiser's ds_sgd_step_zero_grad as it reads them).
 */
#ifndef DS_PARAM_H
#define DS_PARAM_H

#include <stdint.h>
#include "ds_status.h"

#ifdef __cplusplus
extern "C" {
#endif

#define DS_PARAM_NAME_CAP 96

typedef struct ds_param {
    char name[DS_PARAM_NAME_CAP]; /* PyTorch state_dict style, e.g. "block_one.conv.0.weight" */
    int64_t numel;
    float *value; /* 64-byte aligned, numel floats */
    float *grad;  /* 64-byte aligned, numel floats, zero after init */
} ds_param;

/* Allocates value (uninitialised) and grad (zeros). name may be NULL (empty name). */
ds_status ds_param_init(ds_ctx *ctx, ds_param *p, const char *name, int64_t numel);
/* Frees both buffers and resets p to all zeros; safe on a zeroed or already freed param. */
void ds_param_free(ds_param *p);
void ds_param_zero_grad(ds_param *p);

/* A growable list of borrowed parameter pointers (the parameters stay owned by their layers). */
typedef struct ds_param_list {
    ds_param **items;
    int count;
    int cap;
} ds_param_list;

ds_status ds_param_list_add(ds_ctx *ctx, ds_param_list *list, ds_param *p);
void ds_param_list_free(ds_param_list *list); /* frees the array, not the parameters */
/* Zeroes every gradient of the list on ds_ctx_threads(ctx) threads (ctx NULL: one thread). */
void ds_param_list_zero_grad(const ds_ctx *ctx, ds_param_list *list);
int64_t ds_param_list_numel(const ds_param_list *list);

#ifdef __cplusplus
}
#endif

#endif /* DS_PARAM_H */
