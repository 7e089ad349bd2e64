/* nifti_check.c - detects truncated NIfTI files, which nifticlib (through ITK) reads without
 * complaint: the data of a .nii must be complete, and a .nii.gz must be a complete gzip stream
 * holding the whole image. */
#include "io_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <zlib.h>

/* Smallest header + padding of a single-file NIfTI-1 (.nii): 348 + 4 bytes. */
#define DS_NIFTI_MIN_OFFSET 352u

static uint32_t le32(const unsigned char *p, int swap)
{
    uint32_t v = (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
    if (swap)
        v = (v >> 24) | ((v >> 8) & 0xFF00u) | ((v << 8) & 0xFF0000u) | (v << 24);
    return v;
}

/* Fast path for a single-member gzip file: the header's vox_offset plus the image size equals
 * the uncompressed size stored in the gzip trailer (ISIZE, mod 2^32). A cut file ends inside the
 * deflate data, whose last bytes match by chance with probability 2^-32; any mismatch (also a
 * valid multi-member file) falls back to decompressing everything. */
static int gz_trailer_matches(const char *path, uint64_t image_bytes)
{
    gzFile g = gzopen(path, "rb");
    if (!g)
        return 0;
    unsigned char h[176];
    int n = gzread(g, h, sizeof h);
    gzclose(g);
    if (n < 352 - 4) /* shorter than a NIfTI-1 header */
        return 0;
    uint64_t offset = 0;
    uint32_t size = le32(h, 0);
    int swap = size != 348 && size != 540;
    size = le32(h, swap);
    if (size == 348) {
        uint32_t bits = le32(h + 108, swap);
        float f;
        memcpy(&f, &bits, sizeof f);
        if (!(f >= 0.0f && f < 1e12f))
            return 0;
        offset = (uint64_t)f;
    } else if (size == 540 && n >= 176) {
        uint64_t lo = le32(h + 168, swap), hi = le32(h + 172, swap);
        offset = swap ? (lo << 32 | hi) : (hi << 32 | lo);
    } else {
        return 0;
    }
    FILE *f = fopen(path, "rb");
    if (!f)
        return 0;
    unsigned char t[4];
    int ok = fseek(f, -4, SEEK_END) == 0 && fread(t, 1, 4, f) == 4;
    fclose(f);
    return ok && le32(t, 0) == (uint32_t)(offset + image_bytes);
}

ds_status ds_nifti_check_complete(ds_ctx *ctx, const char *path, uint64_t image_bytes)
{
    uint64_t need = DS_NIFTI_MIN_OFFSET + image_bytes, have = 0;
    if (!ds_io_ends_with(path, ".gz")) {
        struct stat st;
        if (stat(path, &st) != 0)
            return ds_fail(ctx, DS_ERR_IO, "%s: cannot stat", path);
        have = (uint64_t)st.st_size;
    } else if (gz_trailer_matches(path, image_bytes)) {
        return DS_OK;
    } else {
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
        while ((n = gzread(f, buf, CHUNK)) > 0)
            have += (uint64_t)n;
        int err = Z_OK;
        const char *msg = gzerror(f, &err);
        ds_status st = DS_OK;
        if (n < 0 || (err != Z_OK && err != Z_STREAM_END))
            st = ds_fail(ctx, DS_ERR_FORMAT, "%s: corrupt or truncated gzip data (%s)", path,
                         msg && msg[0] ? msg : "read error");
        free(buf);
        gzclose(f);
        if (st != DS_OK)
            return st;
    }
    if (have < need)
        return ds_fail(ctx, DS_ERR_FORMAT, "%s: truncated: %llu bytes of NIfTI data, at least "
                       "%llu expected", path, (unsigned long long)have,
                       (unsigned long long)need);
    return DS_OK;
}
