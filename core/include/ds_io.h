/* ds_io.h - volumes read and written through the ITK bridge (core/io).
 *
 * Formats, chosen by the file name: NRRD (.nrrd, .nhdr), NIfTI (.nii, .nii.gz), MetaImage (.mha,
 * .mhd), Slicer segmentations (.seg.nrrd, read as a label map with their segment names and
 * values), and a DICOM series (a folder, read through GDCM; the series with the most files when a
 * folder holds several). Only 3-D single-component images are accepted (a 4-D file whose extra
 * axes have size 1 counts as 3-D). Geometry is kept as ITK reads it (ds_volume.h).
 *
 * Scalar images become float32 in memory. Label maps are uint16 in memory; a label file stored as
 * floats (or scaled) is accepted when every value is within 1e-3 of an integer in 0..65535.
 * Label maps are written with the smallest unsigned integer type that holds them (uint8 or
 * uint16), compressed.
 *
 * NIfTI specifics (NIfTI-1 single files, either byte order; NIfTI-2 is refused with
 * DS_ERR_UNSUPPORTED, as ITK 5.2 cannot read it):
 * - A file shorter than its header says (vox_offset + the data of its datatype and dimensions),
 *   or whose gzip stream is cut or corrupt, is refused (DS_ERR_FORMAT); nifticlib would not notice.
 * - Scaling: when scl_slope is finite and not 0, each value is scl_slope * stored + scl_inter,
 *   computed in double and rounded once to float32 (what nibabel's get_fdata() gives, as float32),
 *   for every integer and float datatype; a scaled label map must still hold integers (above).
 *   scl_slope 0 (or not finite) means no scaling, scl_inter included, as the standard says (ITK
 *   5.2 alone would add scl_inter; it also rounds int32 data to float32 before scaling).
 * - Geometry when a file holds a qform and an sform: we follow ITK 5.2.1 (hence Slicer), which
 *   uses the sform when sform_code is 1 (NIFTI_XFORM_SCANNER_ANAT), or when qform_code is 0 and
 *   sform_code is not; otherwise the qform (measured on Debian's ITK 5.2.1 for qform_code 0..2
 *   against sform_code 0..4). ITK also falls back to the qform when the sform's columns divided
 *   by pixdim are not orthonormal (and refuses the file when there is no qform then). nibabel
 *   instead prefers the sform whenever sform_code is not 0, so a file with qform_code 1 and
 *   sform_code 2, 3 or 4 and different transforms has a different geometry in nibabel.
 *
 * Writes are atomic: the file (and, for .nhdr / .mhd, its detached data file) is written into a
 * temporary folder created beside the target, then renamed into place (data file first, header
 * last); on failure the temporary folder is removed and what was on disk before is untouched.
 */
#ifndef DS_IO_H
#define DS_IO_H

#include <stddef.h>
#include "ds_status.h"
#include "ds_volume.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Writes the version of the ITK library the bridge was built against ("5.2.1") into buf. */
ds_status ds_io_itk_version(ds_ctx *ctx, char *buf, size_t cap);

/* Reads a scalar image as float32 (kind DS_VOLUME_SCALAR). */
ds_status ds_io_read_image(ds_ctx *ctx, const char *path, ds_volume **out);
/* Reads a label map (kind DS_VOLUME_LABEL); a .seg.nrrd also fills out's segment list from its
 * Segment<N>_Name / _LabelValue / _Layer keys. A multi-layer (4-D) .seg.nrrd is refused
 * (DS_ERR_UNSUPPORTED). */
ds_status ds_io_read_label(ds_ctx *ctx, const char *path, ds_volume **out);
/* Writes v atomically; the format follows the extension. A label volume is written as uint8 when
 * its values fit (else uint16), compressed; a scalar volume as float32 (compressed for .nii.gz
 * and, when compress != 0, for NRRD / MetaImage). DICOM output is refused. The file is read back
 * and compared before it replaces anything (ITK's NRRD writer reports no full disk), so a failed
 * write fails (DS_ERR_IO) and leaves an existing file as it was. */
ds_status ds_io_write(ds_ctx *ctx, const ds_volume *v, const char *path, int compress);

/* Which format a path names by its extension, for messages and checks. */
typedef enum ds_io_format {
    DS_IO_UNKNOWN = 0,
    DS_IO_NRRD,       /* .nrrd          */
    DS_IO_NHDR,       /* .nhdr          */
    DS_IO_SEG_NRRD,   /* .seg.nrrd      */
    DS_IO_NIFTI,      /* .nii, .nii.gz  */
    DS_IO_MHA,        /* .mha           */
    DS_IO_MHD,        /* .mhd           */
    DS_IO_DICOM_DIR   /* a folder       */
} ds_io_format;
ds_io_format ds_io_format_of(const char *path);
/* 1 if path ends with one of the volume extensions above (case-insensitive). */
int ds_io_is_volume_name(const char *path);

#ifdef __cplusplus
}
#endif

#endif /* DS_IO_H */
