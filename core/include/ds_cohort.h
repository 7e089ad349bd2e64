/* ds_cohort.h - a cohort: the list of (image, optional label) cases the trainer reads, and the
 * loading of one case (read, validate, resample, normalise, partial labels).
 *
 * Three layouts are recognised:
 *   (a) Medical Segmentation Decathlon / nnU-Net folder: dataset.json with "training":
 *       [{"image": .., "label": ..}] and "test": [..] lists (paths relative to the folder), or,
 *       when dataset.json has no such list (or is absent), the folders imagesTr/ (with labelsTr/)
 *       and imagesTs/. nnU-Net's channel suffix _0000 is removed from case ids; a case with more
 *       than one channel (_0001, ...) is refused (DS_ERR_UNSUPPORTED).
 *   (b) an images folder and a labels folder, matched by file name (case id = name without the
 *       volume extension and without _0000); an image without a label is unlabelled.
 *   (c) a CSV file, one case a line: image[,label]; paths relative to the CSV's folder; an optional
 *       header line whose first field is "image"; '#' lines and blank lines skipped; fields may be
 *       double-quoted.
 * Every listed file must exist when the cohort is opened; the error names the missing file.
 * Case ids are unique: two images of one id (case_000.nii.gz and case_000.nrrd, or two CSV rows
 * of one file name) are refused (DS_ERR_FORMAT), since outputs and table rows are named by id.
 * Cases are kept in the listed order (sorted by id for folder layouts).
 */
#ifndef DS_COHORT_H
#define DS_COHORT_H

#include <stdint.h>
#include "ds_intensity.h"
#include "ds_status.h"
#include "ds_volume.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct ds_case {
    char *id;          /* file name without extension (and without _0000) */
    char *image_path;  /* the listed path joined to the cohort's folder (usable from the cwd) */
    char *label_path;  /* NULL: unlabelled */
    int is_test;       /* from "test" / imagesTs (never has a label) */
} ds_case;

typedef struct ds_cohort {
    ds_case *cases;
    int count;
    int labelled;       /* cases with a label */
    char *source;       /* the folder or CSV it was opened from */
    char **class_names; /* layout (a): dataset.json "labels", the names of classes
                           0..class_name_count-1 (an entry is NULL where a class is not named);
                           NULL and 0 without names */
    int class_name_count;
} ds_cohort;

/* Opens a cohort: a CSV file (c), or a folder in layout (a). */
ds_status ds_cohort_open(ds_ctx *ctx, const char *path, ds_cohort **out);
ds_status ds_cohort_open_decathlon(ds_ctx *ctx, const char *dir, ds_cohort **out);
/* Layout (b); labels_dir may be NULL (all unlabelled). */
ds_status ds_cohort_open_folders(ds_ctx *ctx, const char *images_dir, const char *labels_dir,
                                 ds_cohort **out);
ds_status ds_cohort_open_csv(ds_ctx *ctx, const char *csv_path, ds_cohort **out);
void ds_cohort_free(ds_cohort *c);

/* ---- Loading a case ---- */

typedef struct ds_load_options {
    ds_norm_mode norm;
    float window_lo, window_hi;
    double target_spacing[3]; /* all > 0: resample to it (linear / nearest); all 0: keep */
    int num_classes;          /* > 0: labels must lie in 0..K-1 or be the ignore label */
    int ignore_label;         /* 0..65535, or -1 for none; default DS_IGNORE_LABEL_DEFAULT */
    int partial_axis;         /* -1 off; 0, 1, 2: slices along x, y, z without a non-zero label
                                 are unannotated and get the ignore label (METHOD.md section 4) */
    double geometry_tol;      /* image / label geometry tolerance (ds_geometry_compare) */
} ds_load_options;

/* z-score, no resampling, num_classes 0, ignore 255, partial_axis -1, tol 1e-4. */
void ds_load_options_default(ds_load_options *o);

typedef struct ds_sample {
    ds_volume *image;      /* normalised, on the training grid */
    ds_volume *label;      /* same grid as image; NULL when unlabelled */
    ds_geometry original;  /* geometry of the image file (for ds_sample_restore) */
    int64_t annotated;     /* label voxels that are not the ignore label (0 if unlabelled) */
} ds_sample;

/* Reads case `index`: image (float32), label (integer), checks (finite image, non-constant for
 * z-score, image/label geometry within tol, label values), resampling, partial labels,
 * normalisation. Every error names the file(s) concerned. out is zeroed first. */
ds_status ds_cohort_load_case(ds_ctx *ctx, const ds_cohort *c, int index,
                              const ds_load_options *opt, ds_sample *out);
void ds_sample_free(ds_sample *s);
/* Brings a volume on the sample's grid (a prediction, an entropy map) back to the original
 * geometry of the image file: nearest for labels, linear for scalars. */
ds_status ds_sample_restore(ds_ctx *ctx, const ds_sample *s, const ds_volume *on_grid,
                            ds_volume **out);

#ifdef __cplusplus
}
#endif

#endif /* DS_COHORT_H */
