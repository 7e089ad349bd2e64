/* unpack.h - decodes the packed masks / label maps of make_metric_fixtures.py (its docstring has the
 * layout): `bits` bits per voxel, 32 / bits voxels per int64 word (read back as double, exact). */
#ifndef DS_METRICS_TEST_UNPACK_H
#define DS_METRICS_TEST_UNPACK_H

#include <stdint.h>
#include "ds_fixture.h"

/* Fills out[0..n) from the packed array a; returns 0 when a is too short. */
static inline int unpack_u16(const ds_fixture_array *a, int bits, size_t n, uint16_t *out)
{
    const size_t per = (size_t)(32 / bits);
    if (!a || a->numel * per < n)
        return 0;
    for (size_t i = 0; i < n; ++i) {
        const uint64_t w = (uint64_t)a->data[i / per];
        out[i] = (uint16_t)((w >> (bits * (i % per))) & ((1u << bits) - 1u));
    }
    return 1;
}

#endif
