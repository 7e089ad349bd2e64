/* nifti_check.c - detects truncated NIfTI files, which nifticlib (through ITK) reads without
 * complaint: the data of a .nii must be complete, and a .nii.gz must be a complete gzip stream
 * holding the whole image. */
#include "io_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <zlib.h>

/* Smallest header + padding of a single-file NIfTI-1 (.nii): 348 + 4 bytes. */
#define DS_NIFTI_MIN_OFFSET 352u

ds_status ds_nifti_check_complete(ds_ctx *ctx, const char *path, uint64_t image_bytes)
{
    uint64_t need = DS_NIFTI_MIN_OFFSET + image_bytes, have = 0;
    if (!ds_io_ends_with(path, ".gz")) {
        struct stat st;
        if (stat(path, &st) != 0)
            return ds_fail(ctx, DS_ERR_IO, "%s: cannot stat", path);
        have = (uint64_t)st.st_size;
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
