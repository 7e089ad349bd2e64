/* fuzz_nifti_check.c - the NIfTI-1 header parser and completeness check (nifti_check.c) and, for
 * a header they accept with a small volume, the reader of scaled values (nifti_scaled.c). Input
 * starting with the gzip magic goes to a .nii.gz file, other input to a .nii file. */
#include "fuzz_util.h"
#include "io_internal.h"

#include <stdlib.h>

/* Larger volumes are only header-checked: reading them would measure memory, not parsing. */
#define FUZZ_NIFTI_MAX_VALUES ((uint64_t)1 << 20)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const int gz = size >= 2 && data[0] == 0x1f && data[1] == 0x8b;
    const char *path = fuzz_path(gz ? "x.nii.gz" : "x.nii");
    fuzz_write(path, data, size);
    ds_ctx *ctx = fuzz_ctx();
    ds_nifti_header h;
    if (ds_nifti_read_header(ctx, path, &h) != DS_OK)
        return 0;
    if (ds_nifti_check_complete(ctx, path, &h) != DS_OK)
        return 0;
    const uint64_t n = h.voxels;
    if (h.scaling != DS_NIFTI_UNSCALED && n > 0 && n <= FUZZ_NIFTI_MAX_VALUES) {
        float *dst = malloc((size_t)n * sizeof *dst);
        if (dst)
            ds_nifti_read_values(ctx, path, &h, dst, n);
        free(dst);
    }
    return 0;
}
