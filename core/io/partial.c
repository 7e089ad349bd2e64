/* partial.c - partial labels as an annotator grows them: which slices already hold an
 * annotation, and revealing one more slice from a reference (the simulated annotator). */
#include "io_internal.h"

#include <string.h>

/* Offset of voxel (i, j, k) of v (x fastest). */
#define AT(v, i, j, k) ((i) + (v)->geom.size[0] * ((j) + (v)->geom.size[1] * (k)))

ds_status ds_label_annotated_slices(ds_ctx *ctx, const ds_volume *v, int axis, int ignore_label,
                                    uint8_t *flags, int64_t *count)
{
    if (!v || v->kind != DS_VOLUME_LABEL || !flags)
        return ds_fail(ctx, DS_ERR_ARG, "annotated slices: needs a label volume and the flags");
    if (axis < 0 || axis > 2)
        return ds_fail(ctx, DS_ERR_ARG, "annotated slices: axis %d is not 0, 1 or 2", axis);
    const int64_t *n = v->geom.size;
    memset(flags, 0, (size_t)n[axis]);
    for (int64_t k = 0; k < n[2]; ++k)
        for (int64_t j = 0; j < n[1]; ++j)
            for (int64_t i = 0; i < n[0]; ++i)
                if (v->labels[AT(v, i, j, k)] != ignore_label)
                    flags[axis == 0 ? i : axis == 1 ? j : k] = 1;
    int64_t c = 0;
    for (int64_t s = 0; s < n[axis]; ++s)
        c += flags[s];
    if (count)
        *count = c;
    return DS_OK;
}

ds_status ds_label_reveal_slice(ds_ctx *ctx, ds_volume *partial, const ds_volume *reference,
                                int axis, int64_t index, int ignore_label, int64_t *changed)
{
    if (!partial || !reference || partial->kind != DS_VOLUME_LABEL ||
        reference->kind != DS_VOLUME_LABEL)
        return ds_fail(ctx, DS_ERR_ARG, "reveal slice: needs two label volumes");
    if (axis < 0 || axis > 2 || ignore_label < 0 || ignore_label > 65535)
        return ds_fail(ctx, DS_ERR_ARG, "reveal slice: axis %d (0..2), ignore label %d "
                       "(0..65535)", axis, ignore_label);
    for (int a = 0; a < 3; ++a)
        if (partial->geom.size[a] != reference->geom.size[a])
            return ds_fail(ctx, DS_ERR_SHAPE, "reveal slice: the partial and reference labels "
                           "differ in size");
    if (index < 0 || index >= partial->geom.size[axis])
        return ds_fail(ctx, DS_ERR_ARG, "reveal slice: slice %lld outside 0..%lld",
                       (long long)index, (long long)partial->geom.size[axis] - 1);
    /* the slice's two other axes, as loop bounds; the slice axis is pinned to index */
    const int64_t *n = partial->geom.size;
    int64_t lo[3] = {0, 0, 0}, hi[3] = {n[0], n[1], n[2]}, c = 0;
    lo[axis] = index;
    hi[axis] = index + 1;
    for (int64_t k = lo[2]; k < hi[2]; ++k)
        for (int64_t j = lo[1]; j < hi[1]; ++j)
            for (int64_t i = lo[0]; i < hi[0]; ++i) {
                uint16_t *p = &partial->labels[AT(partial, i, j, k)];
                if (*p == ignore_label) {
                    *p = reference->labels[AT(reference, i, j, k)];
                    ++c;
                }
            }
    if (changed)
        *changed = c;
    return DS_OK;
}
