/* nifti_scaled.c - the values of a scaled NIfTI-1 file, read here rather than through ITK 5.2,
 * which converts the stored values to float before scaling them (so int32 values beyond 2^24
 * are rounded twice; measured) and adds scl_inter even when scl_slope is 0 (the standard says
 * such a file is not scaled). Each value is slope * stored + inter computed in double, product and
 * sum rounded separately (as nibabel's numpy does; strict C11 keeps the compiler from fusing
 * them), then rounded once to float32. */
#include "io_internal.h"

#include <stdlib.h>
#include <string.h>
#include <zlib.h>

static void swap_bytes(unsigned char *p, size_t count, int width)
{
    for (size_t i = 0; i < count; ++i, p += width)
        for (int a = 0, b = width - 1; a < b; ++a, --b) {
            const unsigned char t = p[a];
            p[a] = p[b];
            p[b] = t;
        }
}

#define DS_SCALE_AS(type)                                                                      \
    for (size_t i = 0; i < count; ++i) {                                                       \
        type x;                                                                                \
        memcpy(&x, src + i * sizeof x, sizeof x);                                              \
        dst[i] = (float)((double)x * slope + inter);                                           \
    }                                                                                          \
    return 1

/* Converts count stored values (machine byte order) to floats; 0 if the datatype is not a real
 * scalar type. */
static int scale_chunk(const unsigned char *src, int datatype, size_t count, double slope,
                       double inter, float *dst)
{
    switch (datatype) {
    case 2:    DS_SCALE_AS(uint8_t);
    case 256:  DS_SCALE_AS(int8_t);
    case 4:    DS_SCALE_AS(int16_t);
    case 512:  DS_SCALE_AS(uint16_t);
    case 8:    DS_SCALE_AS(int32_t);
    case 768:  DS_SCALE_AS(uint32_t);
    case 1024: DS_SCALE_AS(int64_t);
    case 1280: DS_SCALE_AS(uint64_t);
    case 16:   DS_SCALE_AS(float);
    case 64:   DS_SCALE_AS(double);
    default:   return 0;
    }
}

#undef DS_SCALE_AS

ds_status ds_nifti_read_values(ds_ctx *ctx, const char *path, const ds_nifti_header *h,
                               float *dst, uint64_t n)
{
    if (h->voxels != n)
        return ds_fail(ctx, DS_ERR_FORMAT, "%s: the NIfTI header holds %llu voxels, ITK reads "
                       "%llu", path, (unsigned long long)h->voxels, (unsigned long long)n);
    const size_t width = (size_t)h->bytes_per_voxel;
    const uint16_t one = 1;
    const int swap = h->big_endian != (*(const unsigned char *)&one == 0);
    if (!scale_chunk(NULL, h->datatype, 0, 1.0, 0.0, NULL)) /* no values: is the type known? */
        return ds_fail(ctx, DS_ERR_UNSUPPORTED, "%s: scaled NIfTI data of datatype %d (not a "
                       "real scalar type) is not supported", path, h->datatype);
    enum { CHUNK = 1 << 16 }; /* voxels per read */
    unsigned char *buf = malloc(CHUNK * width);
    if (!buf)
        return ds_fail(ctx, DS_ERR_NOMEM, "%s: out of memory", path);
    gzFile g = gzopen(path, "rb");
    ds_status st = DS_OK;
    if (!g)
        st = ds_fail(ctx, DS_ERR_IO, "%s: cannot open", path);
    else if (gzseek(g, (z_off_t)h->data_offset, SEEK_SET) != (z_off_t)h->data_offset)
        st = ds_fail(ctx, DS_ERR_FORMAT, "%s: truncated before the NIfTI data", path);
    for (uint64_t done = 0; st == DS_OK && done < n;) {
        const size_t count = n - done < CHUNK ? (size_t)(n - done) : CHUNK;
        const int got = gzread(g, buf, (unsigned)(count * width));
        if (got != (int)(count * width)) {
            st = ds_fail(ctx, DS_ERR_FORMAT, "%s: truncated or corrupt NIfTI data", path);
            break;
        }
        if (swap)
            swap_bytes(buf, count, (int)width);
        scale_chunk(buf, h->datatype, count, h->slope, h->inter, dst + done);
        done += count;
    }
    if (g)
        gzclose(g);
    free(buf);
    return st;
}
