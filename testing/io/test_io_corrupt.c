/* test_io_corrupt.c - unreadable, corrupt or unsuitable inputs give a clean error naming the
 * file (no crash, no leak under the sanitizer build), and the validation checks fire.
 *
 * The corrupt files are written by hand here (NRRD headers as text) or derived from a good file
 * (a truncated .nii.gz); the expected outcome of each is the documented status of ds_io.h /
 * ds_volume.h.
 */
#include "ds_cohort.h"
#include "ds_io.h"
#include "ds_test.h"
#include "io_test_util.h"

static char g_root[64];

/* Expects reading `name` (written with `text`) to fail with `want` and a message naming it. */
static void expect_read_fails(ds_ctx *ctx, const char *name, const char *text, size_t len,
                              int as_label, ds_status want)
{
    char path[512];
    io_path(path, sizeof path, g_root, name);
    if (text)
        DS_CHECK(io_write_text(path, text, len) == 0);
    ds_volume *v = NULL;
    ds_ctx_clear(ctx);
    ds_status st = as_label ? ds_io_read_label(ctx, path, &v) : ds_io_read_image(ctx, path, &v);
    DS_CHECK_MSG(st == want, "%s: got '%s' (%s), want '%s'", name, ds_status_name(st),
                 ds_ctx_message(ctx), ds_status_name(want));
    DS_CHECK_MSG(strstr(ds_ctx_message(ctx), name) != NULL, "message does not name %s: %s", name,
                 ds_ctx_message(ctx));
    DS_CHECK(v == NULL);
    ds_volume_free(v);
}

static const char k_nrrd_head[] = "NRRD0004\ntype: float\ndimension: 3\nsizes: 10 10 10\n"
                                  "encoding: raw\nendian: little\n\n";

static void corrupt_files(ds_ctx *ctx)
{
    expect_read_fails(ctx, "missing.nrrd", NULL, 0, 0, DS_ERR_IO);
    expect_read_fails(ctx, "empty.nii", "", 0, 0, DS_ERR_FORMAT);
    const char junk[] = "HELLO, this is not an image at all.\n0123456789012345678901234567890";
    expect_read_fails(ctx, "magic.nrrd", junk, sizeof junk - 1, 0, DS_ERR_FORMAT);
    expect_read_fails(ctx, "magic.mha", junk, sizeof junk - 1, 0, DS_ERR_FORMAT);
    char nii[400];
    memset(nii, 0x5A, sizeof nii);
    expect_read_fails(ctx, "magic.nii", nii, sizeof nii, 0, DS_ERR_FORMAT);
    expect_read_fails(ctx, "unknown.xyz", junk, sizeof junk - 1, 0, DS_ERR_FORMAT);

    /* NRRD header announcing 10x10x10 floats with only 100 bytes of data */
    char buf[1024];
    size_t n = strlen(k_nrrd_head);
    memcpy(buf, k_nrrd_head, n);
    memset(buf + n, 0, 100);
    expect_read_fails(ctx, "short.nrrd", buf, n + 100, 0, DS_ERR_FORMAT);
    /* sizes that are not numbers, or negative */
    const char bad_sizes[] = "NRRD0004\ntype: float\ndimension: 3\nsizes: 10 -3 x\n"
                             "encoding: raw\n\n";
    expect_read_fails(ctx, "badsizes.nrrd", bad_sizes, sizeof bad_sizes - 1, 0, DS_ERR_FORMAT);
    /* detached header whose data file is missing */
    const char nhdr[] = "NRRD0004\ntype: float\ndimension: 3\nsizes: 2 2 2\nencoding: raw\n"
                        "endian: little\ndata file: gone.raw\n\n";
    expect_read_fails(ctx, "detached.nhdr", nhdr, sizeof nhdr - 1, 0, DS_ERR_FORMAT);
    /* 2-D, 4-D with 3 time points, 3-vector voxels */
    char two_d[256];
    int m = snprintf(two_d, sizeof two_d, "NRRD0004\ntype: uint8\ndimension: 2\nsizes: 2 2\n"
                                          "encoding: raw\n\n");
    memset(two_d + m, 1, 4);
    expect_read_fails(ctx, "flat.nrrd", two_d, (size_t)m + 4, 0, DS_ERR_SHAPE);
    char four_d[256];
    m = snprintf(four_d, sizeof four_d, "NRRD0004\ntype: uint8\ndimension: 4\nsizes: 2 2 2 3\n"
                                        "encoding: raw\n\n");
    memset(four_d + m, 1, 24);
    expect_read_fails(ctx, "time.nrrd", four_d, (size_t)m + 24, 0, DS_ERR_SHAPE);
    /* ... but 4-D with a single time point counts as 3-D */
    m = snprintf(four_d, sizeof four_d, "NRRD0004\ntype: uint8\ndimension: 4\nsizes: 2 2 2 1\n"
                                        "encoding: raw\n\n");
    for (int i = 0; i < 8; ++i)
        four_d[m + i] = (char)i;
    char one_t[512];
    io_path(one_t, sizeof one_t, g_root, "onetime.nrrd");
    DS_CHECK(io_write_text(one_t, four_d, (size_t)m + 8) == 0);
    ds_volume *t1 = NULL;
    DS_CHECK_OK(ctx, ds_io_read_image(ctx, one_t, &t1));
    DS_CHECK(t1 && t1->geom.size[2] == 2 && t1->values[7] == 7.0f);
    ds_volume_free(t1);
    char vec[256];
    m = snprintf(vec, sizeof vec, "NRRD0004\ntype: uint8\ndimension: 4\nsizes: 3 2 2 2\n"
                                  "kinds: 3-vector domain domain domain\nencoding: raw\n\n");
    memset(vec + m, 1, 24);
    expect_read_fails(ctx, "vector.nrrd", vec, (size_t)m + 24, 0, DS_ERR_FORMAT);
    /* a label stored as floats with a non-integer value */
    char lab[256];
    m = snprintf(lab, sizeof lab, "NRRD0004\ntype: float\ndimension: 3\nsizes: 2 1 1\n"
                                  "encoding: raw\nendian: little\n\n");
    const float vals[2] = {1.0f, 1.5f};
    memcpy(lab + m, vals, sizeof vals);
    expect_read_fails(ctx, "halflabel.nrrd", lab, (size_t)m + sizeof vals, 1, DS_ERR_FORMAT);
    /* ... while integral floats are accepted as labels */
    const float ok_vals[2] = {2.0f, 0.0f};
    memcpy(lab + m, ok_vals, sizeof ok_vals);
    char path[512];
    io_path(path, sizeof path, g_root, "floatlabel.nrrd");
    DS_CHECK(io_write_text(path, lab, (size_t)m + sizeof ok_vals) == 0);
    ds_volume *v = NULL;
    DS_CHECK_OK(ctx, ds_io_read_label(ctx, path, &v));
    DS_CHECK(v && v->labels[0] == 2 && v->labels[1] == 0);
    ds_volume_free(v);
    /* a folder without DICOM files */
    char sub[512];
    io_path(sub, sizeof sub, g_root, "nodicom");
    mkdir(sub, 0700);
    v = NULL;
    DS_CHECK_FAILS(ctx, ds_io_read_image(ctx, sub, &v), DS_ERR_FORMAT);
    DS_CHECK(v == NULL);
}

static void truncated_gz(ds_ctx *ctx)
{
    ds_geometry g;
    ds_geometry_identity(&g, 24, 24, 24);
    ds_volume *v = NULL;
    DS_CHECK_OK(ctx, ds_volume_create(ctx, &v, &g, DS_VOLUME_SCALAR));
    uint32_t x = 12345;
    for (int64_t i = 0; i < ds_volume_voxels(v); ++i) {
        x = x * 1664525u + 1013904223u; /* incompressible content */
        v->values[i] = (float)(x >> 8);
    }
    char path[512];
    io_path(path, sizeof path, g_root, "cut.nii.gz");
    DS_CHECK_OK(ctx, ds_io_write(ctx, v, path, 0));
    char plain[512];
    io_path(plain, sizeof plain, g_root, "cut.nii");
    DS_CHECK_OK(ctx, ds_io_write(ctx, v, plain, 0));
    ds_volume_free(v);
    DS_CHECK(truncate(plain, 352 + 24 * 24 * 24 * 4 - 1) == 0); /* one byte short */
    expect_read_fails(ctx, "cut.nii", NULL, 0, 0, DS_ERR_FORMAT);
    unlink(plain);
    struct stat st;
    DS_CHECK(stat(path, &st) == 0);
    DS_CHECK(truncate(path, st.st_size / 2) == 0);
    expect_read_fails(ctx, "cut.nii.gz", NULL, 0, 0, DS_ERR_FORMAT);
    DS_CHECK(truncate(path, 200) == 0); /* inside the header */
    expect_read_fails(ctx, "cut.nii.gz", NULL, 0, 0, DS_ERR_FORMAT);
}

static void validation(ds_ctx *ctx)
{
    ds_geometry g;
    ds_geometry_identity(&g, 4, 3, 2);
    ds_volume *img = NULL, *lab = NULL;
    DS_CHECK_OK(ctx, ds_volume_create(ctx, &img, &g, DS_VOLUME_SCALAR));
    DS_CHECK_OK(ctx, ds_volume_create(ctx, &lab, &g, DS_VOLUME_LABEL));
    /* zero variance */
    DS_CHECK_FAILS(ctx, ds_volume_zscore(ctx, img, "flat.nii"), DS_ERR_NUMERIC);
    DS_CHECK(strstr(ds_ctx_message(ctx), "flat.nii") != NULL);
    /* NaN / Inf */
    img->values[5] = NAN;
    DS_CHECK_FAILS(ctx, ds_volume_check_finite(ctx, img, "nan.nii"), DS_ERR_NUMERIC);
    DS_CHECK(strstr(ds_ctx_message(ctx), "nan.nii") != NULL);
    img->values[5] = INFINITY;
    DS_CHECK_FAILS(ctx, ds_volume_zscore(ctx, img, "inf.nii"), DS_ERR_NUMERIC);
    /* z-score: mean 0, population std 1 (reference: the definition, computed here in double) */
    for (int i = 0; i < 24; ++i)
        img->values[i] = (float)(i * i);
    DS_CHECK_OK(ctx, ds_volume_zscore(ctx, img, "ok"));
    double s = 0, ss = 0;
    for (int i = 0; i < 24; ++i) {
        s += img->values[i];
        ss += (double)img->values[i] * img->values[i];
    }
    DS_CHECK_CLOSE(s / 24, 0.0, 0, 1e-6);
    DS_CHECK_CLOSE(ss / 24, 1.0, 1e-6, 0);
    /* window: clip to [-1, 3], then (x + 1) / 4 (hand computation) */
    for (int i = 0; i < 24; ++i)
        img->values[i] = (float)i - 5.0f;
    DS_CHECK_OK(ctx, ds_volume_window(ctx, img, -1.0f, 3.0f));
    DS_CHECK(img->values[0] == 0.0f && img->values[5] == 0.25f && img->values[23] == 1.0f);
    DS_CHECK_FAILS(ctx, ds_volume_window(ctx, img, 3.0f, 3.0f), DS_ERR_ARG);
    /* labels outside 0..K-1 and not the ignore label */
    lab->labels[7] = 255;
    DS_CHECK_OK(ctx, ds_volume_check_labels(ctx, lab, 3, 255, "lab.nii"));
    lab->labels[8] = 3;
    DS_CHECK_FAILS(ctx, ds_volume_check_labels(ctx, lab, 3, 255, "lab.nii"), DS_ERR_FORMAT);
    DS_CHECK(strstr(ds_ctx_message(ctx), "lab.nii") != NULL);
    /* geometry mismatch: size, spacing, origin, direction; within tolerance passes */
    ds_geometry h = g;
    h.size[2] = 3;
    DS_CHECK_FAILS(ctx, ds_geometry_compare(ctx, &g, &h, 1e-4, "img.nii", "seg.nii"),
                   DS_ERR_SHAPE);
    DS_CHECK(strstr(ds_ctx_message(ctx), "img.nii") && strstr(ds_ctx_message(ctx), "seg.nii"));
    h = g;
    h.spacing[1] = 1.01;
    DS_CHECK_FAILS(ctx, ds_geometry_compare(ctx, &g, &h, 1e-4, "a", "b"), DS_ERR_SHAPE);
    h = g;
    h.origin[0] = 0.5;
    DS_CHECK_FAILS(ctx, ds_geometry_compare(ctx, &g, &h, 1e-4, "a", "b"), DS_ERR_SHAPE);
    h = g;
    h.direction[1] = 0.01;
    DS_CHECK_FAILS(ctx, ds_geometry_compare(ctx, &g, &h, 1e-4, "a", "b"), DS_ERR_SHAPE);
    h = g;
    h.origin[2] = 1e-6;
    h.spacing[0] = 1.0 + 1e-7;
    DS_CHECK_OK(ctx, ds_geometry_compare(ctx, &g, &h, 1e-4, "a", "b"));
    /* absurd geometry */
    h = g;
    h.spacing[0] = 0.0;
    DS_CHECK_FAILS(ctx, ds_geometry_check(ctx, &h, "zero spacing"), DS_ERR_FORMAT);
    h = g;
    memset(h.direction, 0, sizeof h.direction);
    DS_CHECK_FAILS(ctx, ds_geometry_check(ctx, &h, "singular"), DS_ERR_FORMAT);
    ds_volume_free(img);
    ds_volume_free(lab);
}

int main(void)
{
    ds_ctx *ctx = NULL;
    ds_ctx_create(&ctx);
    if (!io_scratch("io-corrupt", g_root, sizeof g_root)) {
        fprintf(stderr, "cannot create a scratch folder\n");
        return 1;
    }
    corrupt_files(ctx);
    truncated_gz(ctx);
    validation(ctx);
    if (!getenv("IO_KEEP")) io_rm_rf(g_root);
    ds_ctx_free(ctx);
    return ds_test_finish("test_io_corrupt");
}
