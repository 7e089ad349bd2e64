/* pool.c - gradient buffers of a network, reused across iterations (see pool.h). */
#include "pool.h"

#include <stdlib.h>
#include <string.h>

static int same_shape(const ds_tensor *t, int64_t n, int64_t c, int64_t d, int64_t h, int64_t w)
{
    return t->n == n && t->c == c && t->d == d && t->h == h && t->w == w;
}

ds_status ds_pool_acquire(ds_ctx *ctx, ds_pool *pool, int64_t n, int64_t c, int64_t d, int64_t h,
                          int64_t w, int zero, ds_tensor **out)
{
    *out = NULL;
    ds_pool_entry *found = NULL;
    for (int i = 0; i < pool->count && !found; ++i)
        if (!pool->entries[i].in_use && same_shape(pool->entries[i].tensor, n, c, d, h, w))
            found = &pool->entries[i];
    if (!found) {
        if (pool->count == pool->cap) {
            int cap = pool->cap ? 2 * pool->cap : 16;
            ds_pool_entry *e = realloc(pool->entries, (size_t)cap * sizeof *e);
            if (!e)
                return ds_fail(ctx, DS_ERR_NOMEM, "gradient pool: out of memory");
            pool->entries = e;
            pool->cap = cap;
        }
        ds_tensor *t = NULL;
        ds_status st = ds_tensor_create(ctx, &t, n, c, d, h, w);
        if (st != DS_OK)
            return st;
        found = &pool->entries[pool->count++];
        found->tensor = t;
    }
    found->in_use = 1;
    if (zero)
        ds_fill_zero(ctx, found->tensor->data, ds_tensor_numel(found->tensor));
    *out = found->tensor;
    return DS_OK;
}

ds_status ds_pool_acquire_like(ds_ctx *ctx, ds_pool *pool, const ds_tensor *like, int zero,
                               ds_tensor **out)
{
    return ds_pool_acquire(ctx, pool, like->n, like->c, like->d, like->h, like->w, zero, out);
}

void ds_pool_release(ds_pool *pool, ds_tensor *t)
{
    for (int i = 0; t && i < pool->count; ++i)
        if (pool->entries[i].tensor == t)
            pool->entries[i].in_use = 0;
}

void ds_pool_free(ds_pool *pool)
{
    for (int i = 0; i < pool->count; ++i)
        ds_tensor_free(pool->entries[i].tensor);
    free(pool->entries);
    memset(pool, 0, sizeof *pool);
}

void ds_pool_trim(ds_pool *pool)
{
    int kept = 0;
    for (int i = 0; i < pool->count; ++i) {
        if (pool->entries[i].in_use)
            pool->entries[kept++] = pool->entries[i];
        else
            ds_tensor_free(pool->entries[i].tensor);
    }
    pool->count = kept;
}

int64_t ds_pool_bytes(const ds_pool *pool)
{
    int64_t total = 0;
    for (int i = 0; i < pool->count; ++i)
        total += ds_tensor_numel(pool->entries[i].tensor) * (int64_t)sizeof(float);
    return total;
}

int ds_pool_in_use(const ds_pool *pool)
{
    int used = 0;
    for (int i = 0; i < pool->count; ++i)
        used += pool->entries[i].in_use;
    return used;
}
