/* component.c - the largest 26-connected component of every foreground class of a label map.
 * One scan labels every component (depth-first, with an explicit stack that grows to at most the
 * size of the component being visited), a second clears the voxels outside each class's largest. */
#include "infer_internal.h"

#include <stdlib.h>
#include <string.h>

typedef struct u32_stack {
    uint32_t *v;
    size_t n, cap;
} u32_stack;

static int push(u32_stack *s, uint32_t x)
{
    if (s->n == s->cap) {
        size_t cap = s->cap ? 2 * s->cap : 4096;
        uint32_t *v = realloc(s->v, cap * sizeof *v);
        if (!v)
            return 0;
        s->v = v;
        s->cap = cap;
    }
    s->v[s->n++] = x;
    return 1;
}

/* Visits the component of voxel seed (label value c) and marks it id; returns its size, or -1
 * when out of memory. */
static int64_t visit(const ds_volume *label, uint32_t *comp, uint32_t seed, uint32_t id,
                     u32_stack *stack)
{
    const int64_t nx = label->geom.size[0], ny = label->geom.size[1], nz = label->geom.size[2];
    const uint16_t c = label->labels[seed];
    int64_t size = 0;
    stack->n = 0;
    comp[seed] = id;
    if (!push(stack, seed))
        return -1;
    while (stack->n) {
        const int64_t v = stack->v[--stack->n];
        ++size;
        const int64_t x = v % nx, y = (v / nx) % ny, z = v / (nx * ny);
        for (int64_t dz = z > 0 ? -1 : 0; dz <= (z + 1 < nz ? 1 : 0); ++dz)
            for (int64_t dy = y > 0 ? -1 : 0; dy <= (y + 1 < ny ? 1 : 0); ++dy)
                for (int64_t dx = x > 0 ? -1 : 0; dx <= (x + 1 < nx ? 1 : 0); ++dx) {
                    const int64_t u = v + dx + nx * (dy + ny * dz);
                    if (label->labels[u] == c && comp[u] == 0) {
                        comp[u] = id;
                        if (!push(stack, (uint32_t)u))
                            return -1;
                    }
                }
    }
    return size;
}

typedef struct best_of_class {
    uint32_t id;
    int64_t size;
} best_of_class;

static ds_status label_components(ds_ctx *ctx, const ds_volume *label, uint32_t *comp,
                                  best_of_class *best)
{
    const int64_t n = ds_volume_voxels(label);
    u32_stack stack = {NULL, 0, 0};
    uint32_t next = 0;
    for (int64_t i = 0; i < n; ++i) {
        const uint16_t c = label->labels[i];
        if (c == 0 || comp[i])
            continue;
        const int64_t size = visit(label, comp, (uint32_t)i, ++next, &stack);
        if (size < 0) {
            free(stack.v);
            return ds_fail(ctx, DS_ERR_NOMEM, "largest component: no memory for the search");
        }
        if (size > best[c].size) /* strictly: the first found wins ties */
            best[c] = (best_of_class){next, size};
    }
    free(stack.v);
    return DS_OK;
}

ds_status ds_infer_keep_largest_component(ds_ctx *ctx, ds_volume *label)
{
    if (!label || label->kind != DS_VOLUME_LABEL || !label->labels)
        return ds_fail(ctx, DS_ERR_ARG, "largest component: not a label volume");
    const int64_t n = ds_volume_voxels(label);
    if (n >= ((int64_t)1 << 32))
        return ds_fail(ctx, DS_ERR_ARG, "largest component: volume too large");
    uint32_t *comp = calloc((size_t)n, sizeof *comp);
    best_of_class *best = calloc(65536, sizeof *best);
    ds_status st = comp && best ? label_components(ctx, label, comp, best)
                                : ds_fail(ctx, DS_ERR_NOMEM, "largest component: no memory");
    if (st == DS_OK)
        for (int64_t i = 0; i < n; ++i)
            if (label->labels[i] && comp[i] != best[label->labels[i]].id)
                label->labels[i] = 0;
    free(best);
    free(comp);
    return st;
}
