/* io_internal.h - private interfaces between the parts of the io area (not installed). */
#ifndef DS_IO_INTERNAL_H
#define DS_IO_INTERNAL_H

#include <stdint.h>

#include "ds_io.h"
#include "ds_volume.h"

#ifdef __cplusplus
extern "C" {
#endif

/* The ITK bridge proper (itk_bridge.cxx). ds_itk_read reads a file or a DICOM folder; as_label
 * converts to uint16 (refusing non-integral or out-of-range values) and, for a .seg.nrrd, reads
 * the segment list. ds_itk_write writes v to exactly `path`, not atomically (write.c wraps it);
 * messages name `shown` (the final path). */
ds_status ds_itk_read(ds_ctx *ctx, const char *path, int as_label, ds_volume **out);
ds_status ds_itk_write(ds_ctx *ctx, const ds_volume *v, const char *path, int compress,
                       const char *shown);

/* Fails (DS_ERR_FORMAT) if a .nii / .nii.gz holds fewer than header + image_bytes bytes, or if
 * its gzip stream is corrupt or cut (nifticlib does not notice either). */
ds_status ds_nifti_check_complete(ds_ctx *ctx, const char *path, uint64_t image_bytes);

/* Case-insensitive "s ends with suffix". */
int ds_io_ends_with(const char *s, const char *suffix);
/* Allocates dir + "/" + name (dir may be NULL or empty: name alone); NULL on failure. */
char *ds_path_join(const char *dir, const char *name);
/* Allocates a copy of s; NULL on failure. */
char *ds_strdup(const char *s);
/* 1 if path names an existing regular file / directory. */
int ds_path_is_file(const char *path);
int ds_path_is_dir(const char *path);

#ifdef __cplusplus
}
#endif

#endif /* DS_IO_INTERNAL_H */
