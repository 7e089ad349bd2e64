/* pool.h - gradient buffers of a network, reused across iterations (private to core/nets).
 *
 * Backward asks for a tensor of a given shape, uses it, and gives it back. The pool keeps every
 * tensor it ever made: after the first backward it holds as many buffers of each shape as were
 * live at once, and later iterations allocate nothing.
 */
#ifndef DS_NETS_POOL_H
#define DS_NETS_POOL_H

#include "ds_tensor.h"

typedef struct ds_pool_entry {
    ds_tensor *tensor;
    int in_use;
} ds_pool_entry;

typedef struct ds_pool {
    ds_pool_entry *entries;
    int count, cap;
} ds_pool;

/* A free buffer of exactly this shape (made if none), zero-filled when zero != 0. */
ds_status ds_pool_acquire(ds_ctx *ctx, ds_pool *pool, int64_t n, int64_t c, int64_t d, int64_t h,
                          int64_t w, int zero, ds_tensor **out);
/* Same shape as like. */
ds_status ds_pool_acquire_like(ds_ctx *ctx, ds_pool *pool, const ds_tensor *like, int zero,
                               ds_tensor **out);
/* Gives a buffer back (NULL and foreign tensors are ignored). */
void ds_pool_release(ds_pool *pool, ds_tensor *t);
void ds_pool_free(ds_pool *pool);
/* Frees the buffers not lent out (those lent, e.g. another network's feature, stay). */
void ds_pool_trim(ds_pool *pool);
int64_t ds_pool_bytes(const ds_pool *pool);
/* Number of buffers currently lent out (0 between iterations: tests check it). */
int ds_pool_in_use(const ds_pool *pool);

#endif
