/* cli_data.h - small generated data for the module tests: phantom volumes (ds_phantom.h) written
 * the way Slicer hands them over (temporary .nrrd files) or as a Decathlon cohort. */
#ifndef DS_CLI_DATA_H
#define DS_CLI_DATA_H

#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "ds_io.h"
#include "ds_phantom.h"
#include "ds_test.h"

/* Phantom case `index` (24 x 24 x 20 voxels, K = 2) written to image_path and, when label_path
 * is not NULL, label_path; with keep_every > 0 only every keep_every-th z slice keeps its
 * labels (a partial label painted on a few axial slices; the rest 0). */
static inline void cli_write_phantom(ds_ctx *ctx, uint32_t index, const char *image_path,
                                     const char *label_path, int keep_every)
{
    ds_phantom_options o;
    ds_phantom_options_init(&o);
    o.size[0] = 24, o.size[1] = 24, o.size[2] = 20;
    ds_volume *image = NULL, *label = NULL;
    DS_CHECK_OK(ctx, ds_phantom_generate(ctx, &o, 20261201, index, &image, &label));
    if (image && label) {
        const int64_t plane = o.size[0] * o.size[1];
        for (int64_t z = 0; keep_every > 0 && z < o.size[2]; ++z)
            if (z % keep_every != 0)
                memset(label->labels + z * plane, 0, sizeof *label->labels * (size_t)plane);
        DS_CHECK_OK(ctx, ds_io_write(ctx, image, image_path, 0));
        if (label_path)
            DS_CHECK_OK(ctx, ds_io_write(ctx, label, label_path, 1));
    }
    ds_volume_free(image);
    ds_volume_free(label);
}

/* A Decathlon-layout cohort under dir: `labelled` cases in imagesTr/ + labelsTr/, `unlabelled`
 * in imagesTs/ (nnU-Net names, case_XXX_0000.nii.gz). */
static inline void cli_write_cohort(ds_ctx *ctx, const char *dir, int labelled, int unlabelled)
{
    char a[600], b[600];
    mkdir(dir, 0755);
    const char *sub[3] = {"imagesTr", "labelsTr", "imagesTs"};
    for (int i = 0; i < 3; ++i) {
        snprintf(a, sizeof a, "%s/%s", dir, sub[i]);
        mkdir(a, 0755);
    }
    for (int i = 0; i < labelled + unlabelled; ++i) {
        const int tr = i < labelled;
        snprintf(a, sizeof a, "%s/%s/case_%03d_0000.nii.gz", dir, tr ? "imagesTr" : "imagesTs", i);
        snprintf(b, sizeof b, "%s/labelsTr/case_%03d.nii.gz", dir, i);
        cli_write_phantom(ctx, (uint32_t)i, a, tr ? b : NULL, 0);
    }
}

/* What a file compared by cli_check_same_file_data holds. */
typedef enum cli_volume_kind { CLI_IMAGE, CLI_LABEL } cli_volume_kind;

/* Checks that files a and b read back as the same voxels (labels or float values, bit for bit). */
static inline void cli_check_same_file_data(ds_ctx *ctx, const char *a, const char *b,
                                            cli_volume_kind kind)
{
    ds_volume *x = NULL, *y = NULL;
    const int label = kind == CLI_LABEL;
    DS_CHECK_OK(ctx, label ? ds_io_read_label(ctx, a, &x) : ds_io_read_image(ctx, a, &x));
    DS_CHECK_OK(ctx, label ? ds_io_read_label(ctx, b, &y) : ds_io_read_image(ctx, b, &y));
    const int64_t n = x ? ds_volume_voxels(x) : 0;
    DS_CHECK_MSG(x && y && n > 0 && ds_volume_voxels(y) == n &&
                     memcmp(label ? (const void *)x->labels : (const void *)x->values,
                            label ? (const void *)y->labels : (const void *)y->values,
                            (size_t)n * (label ? sizeof(uint16_t) : sizeof(float))) == 0,
                 "%s and %s differ", a, b);
    ds_volume_free(x);
    ds_volume_free(y);
}

#endif
