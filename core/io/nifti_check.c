/* nifti_check.c - what DualSeg reads from a NIfTI-1 header itself: the size and place of the data
 * on disk (to detect truncated files, which nifticlib, through ITK, reads without complaint) and
 * the scaling of the stored values (which ITK 5.2 applies differently from the standard). */
#include "io_internal.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <zlib.h>

#define NIFTI1_HEADER_BYTES 348u
#define NIFTI2_HEADER_BYTES 540u

static uint32_t load32(const unsigned char *p, int swap)
{
    uint32_t v = (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
    if (swap)
        v = (v >> 24) | ((v >> 8) & 0xFF00u) | ((v << 8) & 0xFF0000u) | (v << 24);
    return v;
}

static int load16(const unsigned char *p, int swap)
{
    uint16_t v = swap ? (uint16_t)(p[0] << 8 | p[1]) : (uint16_t)(p[1] << 8 | p[0]);
    return (int16_t)v;
}

static float loadf(const unsigned char *p, int swap)
{
    uint32_t bits = load32(p, swap);
    float f;
    memcpy(&f, &bits, sizeof f);
    return f;
}

/* Bytes per voxel of a NIfTI datatype code, 0 if the code is unknown. */
static int datatype_bytes(int code)
{
    switch (code) {
    case 2: case 256:                       return 1;  /* uint8, int8 */
    case 4: case 512:                       return 2;  /* int16, uint16 */
    case 128:                               return 3;  /* rgb24 */
    case 8: case 16: case 768: case 2304:   return 4;  /* int32, float32, uint32, rgba32 */
    case 32: case 64: case 1024: case 1280: return 8;  /* complex64, float64, int64, uint64 */
    case 1536: case 1792:                   return 16; /* float128, complex128 */
    case 2048:                              return 32; /* complex256 */
    default:                                return 0;
    }
}

/* nifticlib replaces a non-finite scl_slope / scl_inter by 0 and ITK then turns slope 0 into 1;
 * the standard says slope 0 (or not finite) means no scaling at all, intercept included. Files
 * on which the two disagree, and every scaled file (ITK rounds int32 to float before scaling),
 * are scaled here. */
static ds_status scaling_from_header(ds_ctx *ctx, const char *path, float slope, float inter,
                                     ds_nifti_header *h)
{
    h->slope = 1.0;
    h->inter = 0.0;
    if (!isfinite(slope) || slope == 0.0f) {
        h->scaling = isfinite(inter) && inter != 0.0f ? DS_NIFTI_SLOPE_ZERO : DS_NIFTI_UNSCALED;
        return DS_OK;
    }
    if (!isfinite(inter))
        return ds_fail(ctx, DS_ERR_FORMAT, "%s: scl_slope is %g but scl_inter is not finite",
                       path, (double)slope);
    h->scaling = slope == 1.0f && inter == 0.0f ? DS_NIFTI_UNSCALED : DS_NIFTI_SCALED;
    h->slope = slope;
    h->inter = inter;
    return DS_OK;
}

static ds_status parse_header(ds_ctx *ctx, const char *path, const unsigned char *b,
                              ds_nifti_header *h)
{
    const uint32_t native = load32(b, 0);
    const int swap = native != NIFTI1_HEADER_BYTES && native != NIFTI2_HEADER_BYTES;
    const uint32_t size = load32(b, swap);
    if (size == NIFTI2_HEADER_BYTES)
        return ds_fail(ctx, DS_ERR_UNSUPPORTED, "%s: is a NIfTI-2 file, which the ITK NIfTI "
                       "reader (5.2) does not read; save it as NIfTI-1", path);
    if (size != NIFTI1_HEADER_BYTES || memcmp(b + 344, "n+1", 4) != 0)
        return ds_fail(ctx, DS_ERR_FORMAT, "%s: not a single-file NIfTI-1 file (header size "
                       "or magic 'n+1' wrong)", path);
    h->big_endian = swap; /* load32 reads little-endian whatever the machine */
    h->datatype = load16(b + 70, swap);
    h->bytes_per_voxel = datatype_bytes(h->datatype);
    if (h->bytes_per_voxel == 0)
        return ds_fail(ctx, DS_ERR_FORMAT, "%s: unknown NIfTI datatype %d", path, h->datatype);
    /* nifticlib sizes the data by the datatype and ignores bitpix, so this does too */
    const int ndim = load16(b + 40, swap);
    if (ndim < 1 || ndim > 7)
        return ds_fail(ctx, DS_ERR_FORMAT, "%s: NIfTI dim[0] is %d, not 1..7", path, ndim);
    h->voxels = 1;
    for (int d = 1; d <= ndim; ++d) {
        const int n = load16(b + 40 + 2 * d, swap);
        if (n < 1)
            return ds_fail(ctx, DS_ERR_FORMAT, "%s: NIfTI dim[%d] is %d", path, d, n);
        h->voxels *= (uint64_t)n; /* < 2^40 * 2^15: no overflow */
        if (h->voxels > ((uint64_t)1 << 40))
            return ds_fail(ctx, DS_ERR_FORMAT, "%s: absurd NIfTI dimensions", path);
    }
    const float offset = loadf(b + 108, swap);
    if (!(offset >= 0.0f && offset < 1e12f))
        return ds_fail(ctx, DS_ERR_FORMAT, "%s: NIfTI vox_offset %g is not valid", path,
                       (double)offset);
    /* nifticlib reads a single file's data from max(vox_offset, 348) */
    h->data_offset = (uint64_t)offset < NIFTI1_HEADER_BYTES ? NIFTI1_HEADER_BYTES
                                                             : (uint64_t)offset;
    h->data_bytes = h->voxels * (uint64_t)h->bytes_per_voxel;
    return scaling_from_header(ctx, path, loadf(b + 112, swap), loadf(b + 116, swap), h);
}

ds_status ds_nifti_read_header(ds_ctx *ctx, const char *path, ds_nifti_header *h)
{
    memset(h, 0, sizeof *h);
    gzFile g = gzopen(path, "rb"); /* reads plain files as they are */
    if (!g)
        return ds_fail(ctx, DS_ERR_IO, "%s: cannot open", path);
    unsigned char b[NIFTI1_HEADER_BYTES];
    const int n = gzread(g, b, sizeof b);
    gzclose(g);
    if (n < (int)sizeof b) /* a NIfTI-2 header is longer still */
        return ds_fail(ctx, DS_ERR_FORMAT, "%s: truncated or corrupt inside the NIfTI header "
                       "(%d of 348 bytes read)", path, n < 0 ? 0 : n);
    return parse_header(ctx, path, b, h);
}

/* Fast path for a single-member gzip file: the whole NIfTI content (data offset + data) equals
 * the uncompressed size stored in the gzip trailer (ISIZE, mod 2^32). A cut file ends inside the
 * deflate data, whose last bytes match by chance with probability 2^-32; any mismatch (also a
 * valid multi-member file, or data followed by more bytes) falls back to decompressing all. */
static int gz_trailer_matches(const char *path, uint64_t need)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return 0;
    unsigned char t[4];
    int ok = fseek(f, -4, SEEK_END) == 0 && fread(t, 1, 4, f) == 4;
    fclose(f);
    return ok && load32(t, 0) == (uint32_t)need;
}

/* Uncompressed length of a gzip file, failing on a corrupt or cut stream. */
static ds_status gz_length(ds_ctx *ctx, const char *path, uint64_t *have)
{
    gzFile f = gzopen(path, "rb");
    if (!f)
        return ds_fail(ctx, DS_ERR_IO, "%s: cannot open", path);
    enum { CHUNK = 1 << 20 };
    char *buf = malloc(CHUNK);
    if (!buf) {
        gzclose(f);
        return ds_fail(ctx, DS_ERR_NOMEM, "%s: out of memory", path);
    }
    int n;
    *have = 0;
    while ((n = gzread(f, buf, CHUNK)) > 0)
        *have += (uint64_t)n;
    int err = Z_OK;
    const char *msg = gzerror(f, &err);
    ds_status st = DS_OK;
    if (n < 0 || (err != Z_OK && err != Z_STREAM_END))
        st = ds_fail(ctx, DS_ERR_FORMAT, "%s: corrupt or truncated gzip data (%s)", path,
                     msg && msg[0] ? msg : "read error");
    free(buf);
    gzclose(f);
    return st;
}

ds_status ds_nifti_check_complete(ds_ctx *ctx, const char *path, const ds_nifti_header *h)
{
    const uint64_t need = h->data_offset + h->data_bytes;
    uint64_t have = 0;
    if (!ds_io_ends_with(path, ".gz")) {
        struct stat st;
        if (stat(path, &st) != 0)
            return ds_fail(ctx, DS_ERR_IO, "%s: cannot stat", path);
        have = (uint64_t)st.st_size;
    } else if (gz_trailer_matches(path, need)) {
        return DS_OK;
    } else {
        ds_status st = gz_length(ctx, path, &have);
        if (st != DS_OK)
            return st;
    }
    if (have < need)
        return ds_fail(ctx, DS_ERR_FORMAT, "%s: truncated: %llu bytes of NIfTI data, at least "
                       "%llu expected", path, (unsigned long long)have,
                       (unsigned long long)need);
    return DS_OK;
}
