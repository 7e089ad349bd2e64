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

/* How the stored values of a NIfTI file become the values in memory (scl_slope, scl_inter). */
typedef enum ds_nifti_scaling {
    DS_NIFTI_UNSCALED = 0, /* values are the stored ones, and ITK reads them so */
    DS_NIFTI_SCALED,       /* slope * stored + inter; read by ds_nifti_read_values */
    DS_NIFTI_SLOPE_ZERO    /* slope 0 or not finite, intercept not 0: not scaled (NIfTI standard),
                              but ITK would add the intercept, so read by ds_nifti_read_values */
} ds_nifti_scaling;

/* What DualSeg takes from a single-file NIfTI-1 header (nifti_check.c). */
typedef struct ds_nifti_header {
    int big_endian;       /* the file's byte order */
    int datatype;         /* NIfTI datatype code */
    int bytes_per_voxel;  /* of that datatype (bitpix is ignored, as nifticlib does) */
    uint64_t voxels;      /* product of dim[1..dim[0]] */
    uint64_t data_offset; /* max(vox_offset, 348): where nifticlib starts reading */
    uint64_t data_bytes;  /* voxels * bytes_per_voxel */
    ds_nifti_scaling scaling;
    double slope, inter;  /* applied by ds_nifti_read_values: (1, 0) unless DS_NIFTI_SCALED */
} ds_nifti_header;

/* Parses the header of a .nii / .nii.gz (DS_ERR_FORMAT when it is cut, not NIfTI-1 or its sizes
 * or scaling are invalid; DS_ERR_UNSUPPORTED for NIfTI-2, which ITK 5.2 cannot read). */
ds_status ds_nifti_read_header(ds_ctx *ctx, const char *path, ds_nifti_header *h);
/* Fails (DS_ERR_FORMAT) if the file holds fewer than data_offset + data_bytes bytes, or if its
 * gzip stream is corrupt or cut (nifticlib does not notice either). */
ds_status ds_nifti_check_complete(ds_ctx *ctx, const char *path, const ds_nifti_header *h);
/* Reads the n stored values into dst as float32 slope * stored + inter (nifti_scaled.c). */
ds_status ds_nifti_read_values(ds_ctx *ctx, const char *path, const ds_nifti_header *h,
                               float *dst, uint64_t n);

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
