/* inputs_fixtures.h - the hostile inputs of test_reliability_inputs, written once into a temporary
 * folder: good phantoms and their broken variants (truncated, wrong NRRD sizes, 2-D, 4-D, off
 * grid, labels out of range or all background, NaN, constant), models of another version or class
 * count, empty cohorts and cohorts with two files for one case id. */
#ifndef DS_INPUTS_FIXTURES_H
#define DS_INPUTS_FIXTURES_H

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cli_check.h"
#include "cli_data.h"
#include "cli_model.h"
#include "ds_io.h"
#include "ds_test.h"

static char g_tmp[256];
static ds_ctx *g_ctx;

static char *path_in(const char *name) { return cli_path(g_tmp, name); }

static void write_bytes(const char *path, const void *data, size_t n)
{
    FILE *f = fopen(path, "wb");
    DS_CHECK_MSG(f && fwrite(data, 1, n, f) == n, "cannot write %s", path);
    if (f)
        fclose(f);
}

static void copy_file(const char *from, const char *to, size_t keep)
{
    size_t n = 0;
    unsigned char *data = cli_slurp(from, &n);
    DS_CHECK_MSG(n > 0, "cannot read %s", from);
    write_bytes(to, data, keep && keep < n ? keep : n);
    free(data);
}

/* A raw little-endian float NRRD whose header claims `sizes` (dim numbers) but holds `voxels`
 * floats. */
static void write_raw_nrrd(const char *path, int dim, const char *sizes, size_t voxels)
{
    char head[256];
    int h = snprintf(head, sizeof head, "NRRD0004\ntype: float\ndimension: %d\nsizes: %s\n"
                     "encoding: raw\nendian: little\n\n", dim, sizes);
    float *v = calloc(voxels, sizeof *v);
    unsigned char *all = malloc((size_t)h + voxels * sizeof *v);
    for (size_t i = 0; v && i < voxels; ++i)
        v[i] = (float)(i % 7);
    if (v && all) {
        memcpy(all, head, (size_t)h);
        memcpy(all + h, v, voxels * sizeof *v);
        write_bytes(path, all, (size_t)h + voxels * sizeof *v);
    }
    free(v);
    free(all);
}

/* A copy of the volume at from (label or image) changed by edit, written to to. */
static void edit_volume(const char *from, const char *to, int label,
                        void (*edit)(ds_volume *v))
{
    ds_volume *v = NULL;
    DS_CHECK_OK(g_ctx, label ? ds_io_read_label(g_ctx, from, &v)
                             : ds_io_read_image(g_ctx, from, &v));
    if (!v)
        return;
    edit(v);
    DS_CHECK_OK(g_ctx, ds_io_write(g_ctx, v, to, label));
    ds_volume_free(v);
}

static void edit_out_of_range(ds_volume *v) { v->labels[100] = 5; }
static void edit_background(ds_volume *v)
{
    memset(v->labels, 0, sizeof *v->labels * (size_t)ds_volume_voxels(v));
}
static void edit_nan(ds_volume *v) { v->values[321] = NAN; }
static void edit_constant(ds_volume *v)
{
    for (int64_t i = 0, n = ds_volume_voxels(v); i < n; ++i)
        v->values[i] = 100.0f;
}
static void edit_spacing(ds_volume *v) { v->geom.spacing[2] *= 2.5; }

/* A Decathlon cohort with two images of case_000 (one .nii.gz, one .nrrd). */
static void write_duplicate_cohort(void)
{
    cli_write_cohort(g_ctx, path_in("dup_cohort"), 2, 0);
    cli_write_phantom(g_ctx, 5, path_in("dup_cohort/imagesTr/case_000.nrrd"), NULL, 0);
    mkdir(path_in("dup_folder"), 0755);
    cli_write_phantom(g_ctx, 5, path_in("dup_folder/case_000.nii.gz"), NULL, 0);
    cli_write_phantom(g_ctx, 6, path_in("dup_folder/case_000.nrrd"), NULL, 0);
}

static void write_fixtures(void)
{
    char *img = path_in("img.nrrd"), *lab = path_in("lab.nrrd");
    cli_write_phantom(g_ctx, 3, img, lab, 0);
    cli_write_phantom(g_ctx, 4, path_in("img.nii.gz"), NULL, 0);
    struct stat st;
    DS_CHECK(stat(path_in("img.nii.gz"), &st) == 0 && st.st_size > 200);
    copy_file(path_in("img.nii.gz"), path_in("truncated.nii.gz"), (size_t)st.st_size / 2);
    copy_file(img, path_in("unreadable.nrrd"), 0);
    chmod(path_in("unreadable.nrrd"), 0);
    mkdir(path_in("unl"), 0755);
    cli_write_phantom(g_ctx, 8, path_in("unl/u0.nrrd"), NULL, 0);
    write_raw_nrrd(path_in("wrong_sizes.nrrd"), 3, "24 24 40", 24 * 24 * 20);
    write_raw_nrrd(path_in("flat2d.nrrd"), 2, "24 24", 24 * 24);
    write_raw_nrrd(path_in("four_d.nrrd"), 4, "24 24 20 2", 24 * 24 * 20 * 2);
    edit_volume(lab, path_in("lab_off_grid.nrrd"), 1, edit_spacing);
    edit_volume(lab, path_in("lab_out_of_range.nrrd"), 1, edit_out_of_range);
    edit_volume(lab, path_in("lab_background.nrrd"), 1, edit_background);
    edit_volume(img, path_in("img_nan.nrrd"), 0, edit_nan);
    edit_volume(img, path_in("img_constant.nrrd"), 0, edit_constant);
    cli_write_cohort(g_ctx, path_in("cohort"), 2, 1);
    mkdir(path_in("empty_cohort"), 0755);
    mkdir(path_in("empty_cohort/imagesTr"), 0755);
    mkdir(path_in("empty_cohort/labelsTr"), 0755);
    mkdir(path_in("empty_folder"), 0755);
    write_duplicate_cohort();
    DS_CHECK_OK(g_ctx, cli_random_model(g_ctx, 2, 2, 16, 7, path_in("model.dsm")));
    DS_CHECK_OK(g_ctx, cli_random_model_k(g_ctx, 2, 2, 16, 3, 7, path_in("model_k3.dsm")));
    copy_file(path_in("model.dsm"), path_in("unreadable.dsm"), 0);
    chmod(path_in("unreadable.dsm"), 0);
    size_t n = 0;
    unsigned char *m = cli_slurp(path_in("model.dsm"), &n);
    DS_CHECK(n > 12);
    if (n > 12) {
        m[8] ^= 0x40; /* the version field, after the 8-byte magic: version 65 or so */
        write_bytes(path_in("model_v_other.dsm"), m, n);
    }
    free(m);
}

#endif
