/* test_io_partial - the annotator's partial labels: which slices hold an annotation
 * (ds_label_annotated_slices) and revealing a slice from a reference (ds_label_reveal_slice).
 * Reference: an independent voxel-by-voxel expectation written here (the revealed volume must
 * equal the partial one everywhere except the ignore voxels of that one slice, which must equal
 * the reference; compared bit for bit on every voxel), and hand counts. */
#include <stdlib.h>
#include <string.h>

#include "ds_test.h"
#include "ds_volume.h"

enum { NX = 7, NY = 5, NZ = 6, IGNORE = 255 };

static ds_volume *labels(ds_ctx *ctx)
{
    ds_geometry g;
    ds_geometry_identity(&g, NX, NY, NZ);
    ds_volume *v = NULL;
    DS_CHECK_OK(ctx, ds_volume_create(ctx, &v, &g, DS_VOLUME_LABEL));
    return v;
}

/* The partial label: all ignore, but for z = 1 (fully painted: background 0 with a 2x2 of 1),
 * and one voxel of value 0 at (3, 2, 4): a painted background voxel counts as annotated. */
static void fill_partial(ds_volume *p)
{
    for (int64_t i = 0; i < NX * NY * NZ; ++i)
        p->labels[i] = IGNORE;
    for (int64_t i = 0; i < NX * NY; ++i)
        p->labels[NX * NY * 1 + i] = 0;
    p->labels[2 + NX * (2 + NY * 1)] = p->labels[3 + NX * (2 + NY * 1)] = 1;
    p->labels[3 + NX * (2 + NY * 4)] = 0;
}

static void test_annotated_slices(ds_ctx *ctx, const ds_volume *p)
{
    uint8_t z[NZ], x[NX], y[NY];
    int64_t count = -1;
    DS_CHECK_OK(ctx, ds_label_annotated_slices(ctx, p, 2, IGNORE, z, &count));
    const uint8_t want_z[NZ] = {0, 1, 0, 0, 1, 0}; /* hand: z = 1 painted, z = 4 one voxel */
    DS_CHECK(count == 2 && memcmp(z, want_z, NZ) == 0);
    /* along x every slice crosses the painted z = 1 plane */
    DS_CHECK_OK(ctx, ds_label_annotated_slices(ctx, p, 0, IGNORE, x, &count));
    DS_CHECK(count == NX);
    DS_CHECK_OK(ctx, ds_label_annotated_slices(ctx, p, 1, IGNORE, y, NULL));
    DS_CHECK(y[0] == 1 && y[NY - 1] == 1);
    DS_CHECK(ds_label_annotated_slices(ctx, p, 3, IGNORE, z, NULL) == DS_ERR_ARG);
}

/* Reveals slice `index` along axis and compares every voxel with the expectation. */
static void check_reveal(ds_ctx *ctx, const ds_volume *p, const ds_volume *ref, int axis,
                         int64_t index)
{
    ds_volume *got = NULL;
    DS_CHECK_OK(ctx, ds_volume_clone(ctx, &got, p));
    if (!got)
        return;
    int64_t changed = -1, want_changed = 0, diff = 0;
    DS_CHECK_OK(ctx, ds_label_reveal_slice(ctx, got, ref, axis, index, IGNORE, &changed));
    for (int64_t k = 0; k < NZ; ++k)
        for (int64_t j = 0; j < NY; ++j)
            for (int64_t i = 0; i < NX; ++i) {
                const int64_t o = i + NX * (j + NY * k), at[3] = {i, j, k};
                const int in_slice = at[axis] == index, unknown = p->labels[o] == IGNORE;
                const uint16_t want = in_slice && unknown ? ref->labels[o] : p->labels[o];
                want_changed += in_slice && unknown;
                diff += got->labels[o] != want;
            }
    DS_CHECK_MSG(diff == 0, "axis %d slice %lld: %lld voxels differ", axis, (long long)index,
                 (long long)diff);
    DS_CHECK(changed == want_changed);
    ds_volume_free(got);
}

static void test_reveal(ds_ctx *ctx, const ds_volume *p)
{
    ds_volume *ref = labels(ctx);
    if (!ref)
        return;
    /* a reference with every value present (0, 1, 2) at pseudo-random places */
    for (int64_t i = 0; i < NX * NY * NZ; ++i)
        ref->labels[i] = (uint16_t)((i * 7 + i / 3) % 3);
    check_reveal(ctx, p, ref, 2, 3); /* an empty slice: NX * NY voxels revealed */
    check_reveal(ctx, p, ref, 2, 4); /* one voxel already painted: it keeps its 0 */
    check_reveal(ctx, p, ref, 2, 1); /* fully painted: nothing changes */
    check_reveal(ctx, p, ref, 0, 6); /* the last x slice */
    check_reveal(ctx, p, ref, 1, 0);
    ds_volume *v = NULL;
    int64_t changed = -1;
    DS_CHECK_OK(ctx, ds_volume_clone(ctx, &v, p));
    DS_CHECK_OK(ctx, ds_label_reveal_slice(ctx, v, ref, 2, 3, IGNORE, &changed));
    DS_CHECK(changed == NX * NY);
    DS_CHECK(ds_label_reveal_slice(ctx, v, ref, 2, NZ, IGNORE, NULL) == DS_ERR_ARG);
    DS_CHECK(ds_label_reveal_slice(ctx, v, ref, 2, -1, IGNORE, NULL) == DS_ERR_ARG);
    ds_volume *small = NULL;
    ds_geometry g;
    ds_geometry_identity(&g, NX, NY, NZ - 1);
    DS_CHECK_OK(ctx, ds_volume_create(ctx, &small, &g, DS_VOLUME_LABEL));
    DS_CHECK(ds_label_reveal_slice(ctx, v, small, 2, 0, IGNORE, NULL) == DS_ERR_SHAPE);
    ds_volume_free(small);
    ds_volume_free(v);
    ds_volume_free(ref);
}

int main(void)
{
    ds_ctx *ctx = NULL;
    if (ds_ctx_create(&ctx) != DS_OK)
        return 1;
    ds_volume *p = labels(ctx);
    if (p) {
        fill_partial(p);
        test_annotated_slices(ctx, p);
        test_reveal(ctx, p);
    }
    ds_volume_free(p);
    ds_ctx_free(ctx);
    return ds_test_finish("test_io_partial");
}
