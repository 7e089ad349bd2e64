/* test_io_nifti_scaled.c - scaled NIfTI-1 files (scl_slope / scl_inter) read with the values and
 * geometry nibabel gives them, and truncated copies still refused (issue 17).
 *
 * Reference: nibabel 5.0 (Debian's python3-nibabel), testing/io/make_nifti_scaled.py: it wrote
 * the small files of testing/io/nifti_scaled/ (every integer datatype, float32, big-endian, slope
 * 0, qform only, sform only, both with different codes, an sform whose zooms are not pixdim,
 * 4-D with one time point, label maps, an unscaled file whose data follow a header extension) and
 * recorded get_fdata() and the geometry in nifti_scaled_ref.bin. The plain .nii copies, the cut
 * copies and the scaled copies of a real Hippocampus image are made here, in a scratch folder.
 * Values are compared exactly (float32 of nibabel's float64), geometry to 1e-6 (ITK's float
 * quaternion arithmetic differs from nibabel's double in the last float bits).
 */
#include <zlib.h>

#include "ds_fixture.h"
#include "ds_io.h"
#include "ds_test.h"
#include "io_test_util.h"

static char g_root[64];
static ds_fixture *g_fx;

#define FIXTURE_DIR DS_TESTING_DIR "/io/nifti_scaled"
#define HIPPOCAMPUS DS_SHARED_DIR "/data/Task04_Hippocampus"

/* ---- files ---- */

static unsigned char *read_gz(const char *path, size_t *len)
{
    gzFile g = gzopen(path, "rb");
    if (!g)
        return NULL;
    size_t cap = 1 << 16, n = 0;
    unsigned char *buf = malloc(cap);
    int got;
    while (buf && (got = gzread(g, buf + n, (unsigned)(cap - n))) > 0) {
        n += (size_t)got;
        if (n == cap) {
            unsigned char *more = realloc(buf, cap *= 2);
            if (!more)
                free(buf);
            buf = more;
        }
    }
    gzclose(g);
    *len = n;
    return buf;
}

static int write_file(const char *path, const unsigned char *b, size_t len, int gz)
{
    if (!gz)
        return io_write_text(path, (const char *)b, len);
    gzFile g = gzopen(path, "wb");
    if (!g)
        return -1;
    int ok = gzwrite(g, b, (unsigned)len) == (int)len;
    return gzclose(g) == Z_OK && ok ? 0 : -1;
}

/* ---- comparisons with the fixture ---- */

static const ds_fixture_array *fx(const char *a, const char *b)
{
    char key[128];
    snprintf(key, sizeof key, "%s/%s", a, b);
    const ds_fixture_array *arr = ds_fixture_get(g_fx, key);
    DS_CHECK_MSG(arr != NULL, "fixture array %s missing", key);
    return arr;
}

static void check_values(const char *what, const ds_volume *v, const ds_fixture_array *want)
{
    const int64_t n = ds_volume_voxels(v);
    DS_CHECK_MSG(want && (int64_t)want->numel == n, "%s: %lld voxels", what, (long long)n);
    if (!want || (int64_t)want->numel != n)
        return;
    int64_t bad = 0, first = -1;
    for (int64_t i = 0; i < n; ++i) {
        const double got = v->kind == DS_VOLUME_LABEL ? v->labels[i] : v->values[i];
        if (got != (double)(float)want->data[i] && bad++ == 0)
            first = i;
    }
    DS_CHECK_MSG(bad == 0, "%s: %lld values differ from nibabel's, first at %lld: %.9g vs %.9g",
                 what, (long long)bad, (long long)first,
                 first < 0 ? 0.0 : v->kind == DS_VOLUME_LABEL ? v->labels[first] : v->values[first],
                 first < 0 ? 0.0 : want->data[first]);
}

/* want: origin[3], spacing[3], direction[9] in LPS */
static void check_geometry(const char *what, const ds_geometry *g, const ds_fixture_array *want)
{
    if (!want || want->numel != 15)
        return;
    double err = 0;
    for (int a = 0; a < 3; ++a) {
        err = fmax(err, fabs(g->origin[a] - want->data[a]));
        err = fmax(err, fabs(g->spacing[a] - want->data[3 + a]));
    }
    for (int k = 0; k < 9; ++k)
        err = fmax(err, fabs(g->direction[k] - want->data[6 + k]));
    DS_CHECK_MSG(err <= 1e-6, "%s: geometry differs from nibabel's by %g", what, err);
}

/* Expects reading path to fail with want, naming the file. */
static void expect_refused(ds_ctx *ctx, const char *path, int as_label, ds_status want)
{
    ds_volume *v = NULL;
    ds_ctx_clear(ctx);
    ds_status st = as_label ? ds_io_read_label(ctx, path, &v) : ds_io_read_image(ctx, path, &v);
    DS_CHECK_MSG(st == want, "%s: got '%s' (%s), want '%s'", path, ds_status_name(st),
                 ds_ctx_message(ctx), ds_status_name(want));
    DS_CHECK_MSG(strstr(ds_ctx_message(ctx), path) != NULL, "message does not name %s: %s",
                 path, ds_ctx_message(ctx));
    DS_CHECK(v == NULL);
    ds_volume_free(v);
}

/* Cut copies of a NIfTI file's bytes b: one byte short and inside the header (plain), a gzip
 * file cut in half, and a complete gzip stream of the content less one byte. */
static void check_truncated(ds_ctx *ctx, const char *name, const unsigned char *b, size_t len,
                            int as_label)
{
    static const char *kinds[4] = {"cut1.nii", "cuthead.nii", "gzhalf.nii.gz", "gzshort.nii.gz"};
    for (int k = 0; k < 4; ++k) {
        char path[512];
        snprintf(path, sizeof path, "%s/%s-%s", g_root, name, kinds[k]);
        if (k == 0 || k == 1 || k == 3) {
            DS_CHECK(write_file(path, b, k == 1 ? 200 : len - 1, k == 3) == 0);
        } else {
            char full[512];
            snprintf(full, sizeof full, "%s/%s-full.nii.gz", g_root, name);
            DS_CHECK(write_file(full, b, len, 1) == 0);
            struct stat st;
            DS_CHECK(stat(full, &st) == 0 && rename(full, path) == 0);
            DS_CHECK(truncate(path, st.st_size / 2) == 0);
        }
        expect_refused(ctx, path, as_label, DS_ERR_FORMAT);
    }
}

/* ---- the committed cases ---- */

typedef struct scaled_case {
    const char *name;   /* file nifti_scaled/<name>.nii.gz */
    const char *values; /* fixture value set */
    int as_label;
} scaled_case;

static const scaled_case k_cases[] = {
    {"i8", "i8", 0},           {"u8", "u8", 0},
    {"i16", "i16", 0},         {"u16", "u16", 0},
    {"i32", "i32", 0},         {"i16_ct", "i16_ct", 0},
    {"f32", "f32", 0},         {"slope0", "slope0", 0},
    {"i16_be", "i16", 0},      {"i32_be", "i32", 0},
    {"qform_only", "i16", 0},  {"sform_only", "i16", 0},
    {"q1_s2", "i16", 0},       {"q2_s1", "i16", 0},
    {"time1", "i16", 0},       {"label_s2", "label_s2", 1},
    {"label_half", "label_half", 0},    {"i16_ext", "i16_plain", 0},
    {"s1_zooms", "i16", 0},
};

static void read_and_compare(ds_ctx *ctx, const scaled_case *c, const char *path)
{
    ds_volume *v = NULL;
    ds_ctx_clear(ctx);
    ds_status st = c->as_label ? ds_io_read_label(ctx, path, &v) : ds_io_read_image(ctx, path, &v);
    DS_CHECK_MSG(st == DS_OK, "%s: %s", path, ds_ctx_message(ctx));
    if (st != DS_OK)
        return;
    DS_CHECK(v->geom.size[0] == 5 && v->geom.size[1] == 4 && v->geom.size[2] == 3);
    check_values(path, v, fx(c->values, "values"));
    const ds_fixture_array *uses = fx(c->name, "uses");
    if (uses)
        check_geometry(path, &v->geom, fx(uses->data[0] != 0 ? "sform" : "qform", "geometry"));
    ds_volume_free(v);
}

static void committed_cases(ds_ctx *ctx)
{
    for (size_t k = 0; k < sizeof k_cases / sizeof k_cases[0]; ++k) {
        const scaled_case *c = &k_cases[k];
        char gz[512], plain[512];
        snprintf(gz, sizeof gz, "%s/%s.nii.gz", FIXTURE_DIR, c->name);
        snprintf(plain, sizeof plain, "%s/%s.nii", g_root, c->name);
        size_t len = 0;
        unsigned char *b = read_gz(gz, &len);
        DS_CHECK_MSG(b && len > 352, "cannot read the fixture %s", gz);
        if (!b || len <= 352) {
            free(b);
            continue;
        }
        DS_CHECK(write_file(plain, b, len, 0) == 0);
        read_and_compare(ctx, c, gz);
        read_and_compare(ctx, c, plain);
        check_truncated(ctx, c->name, b, len, c->as_label);
        free(b);
    }
    /* the two transforms differ, so the geometry checks tell which one was used */
    const ds_fixture_array *q = fx("qform", "geometry"), *s = fx("sform", "geometry");
    DS_CHECK(q && s && fabs(q->data[0] - s->data[0]) > 1.0);
}

static void refused_cases(ds_ctx *ctx)
{
    /* stored 1 and 3 scaled by 0.5: read as an image, but not as a label map */
    const char *half = FIXTURE_DIR "/label_half.nii.gz";
    expect_refused(ctx, half, 1, DS_ERR_FORMAT);
    const char *msg = ds_ctx_message(ctx);
    DS_CHECK_MSG(strstr(msg, "label value 0.5 at voxel 0 is not an integer") &&
                     strstr(msg, "scl_slope 0.5"), "unclear message: %s", msg);
    /* ITK 5.2 cannot read NIfTI-2: said so, rather than "bad header" */
    expect_refused(ctx, FIXTURE_DIR "/nifti2.nii.gz", 0, DS_ERR_UNSUPPORTED);
    DS_CHECK_MSG(strstr(ds_ctx_message(ctx), "NIfTI-2") != NULL, "%s", ds_ctx_message(ctx));
}

/* ---- the issue's own cases, on a real image ---- */

static void put_le(unsigned char *p, uint32_t v, int bytes)
{
    for (int k = 0; k < bytes; ++k)
        p[k] = (unsigned char)(v >> (8 * k));
}

static void put_float(unsigned char *p, float f)
{
    uint32_t bits;
    memcpy(&bits, &f, sizeof bits);
    put_le(p, bits, 4);
}

typedef struct hippo_case {
    const char *name; /* fixture hippocampus/<name>/... */
    const char *src;  /* imagesTr or labelsTr */
    int datatype;     /* 4 int16, 2 uint8 */
    float slope, inter;
    int as_label;
} hippo_case;

/* A copy of the uint8 file src (header + 62475 voxels at 352) stored as datatype with the given
 * scaling: the header's datatype, bitpix, scl_slope and scl_inter patched, the values widened,
 * as nibabel stores them (make_nifti_scaled.py checks that it keeps the stored values). */
static unsigned char *scaled_copy(const unsigned char *src, size_t len, const hippo_case *c,
                                  size_t *out_len)
{
    const int width = c->datatype == 4 ? 2 : 1;
    const size_t n = len - 352;
    unsigned char *b = calloc(352 + n * (size_t)width, 1);
    if (!b)
        return NULL;
    memcpy(b, src, 352);
    put_le(b + 70, (uint32_t)c->datatype, 2);
    put_le(b + 72, (uint32_t)(8 * width), 2);
    put_float(b + 112, c->slope);
    put_float(b + 116, c->inter);
    for (size_t i = 0; i < n; ++i)
        put_le(b + 352 + (size_t)width * i, src[352 + i], width);
    *out_len = 352 + n * (size_t)width;
    return b;
}

/* Every voxel is slope * stored + inter (hand formula); the sum and three voxels equal
 * nibabel's (exact: every value is a multiple of 0.5 below 2^20, so every partial sum of the 62475
 * is exact in double whatever the order). */
static void check_hippo_volume(const char *path, const ds_volume *v, const unsigned char *src,
                               const hippo_case *c)
{
    const int64_t n = ds_volume_voxels(v);
    double sum = 0;
    int64_t bad = 0;
    for (int64_t i = 0; i < n; ++i) {
        const double got = c->as_label ? v->labels[i] : v->values[i];
        const float want = (float)((double)src[352 + i] * c->slope + c->inter);
        bad += got != (double)want;
        sum += got;
    }
    DS_CHECK_MSG(bad == 0, "%s: %lld voxels differ from slope * stored + inter", path,
                 (long long)bad);
    const ds_fixture_array *s = fx(c->name, "sum"), *picks = fx(c->name, "picks");
    DS_CHECK_MSG(s && sum == s->data[0], "%s: sum %.17g, nibabel %.17g", path, sum,
                 s ? s->data[0] : 0.0);
    for (int k = 0; picks && k < 3; ++k) {
        const int64_t i = (int64_t)picks->data[k];
        const double got = c->as_label ? v->labels[i] : v->values[i];
        DS_CHECK_MSG(i < n && got == picks->data[3 + k], "%s: voxel %lld", path, (long long)i);
    }
    check_geometry(path, &v->geom, fx(c->name, "geometry"));
}

static void hippocampus_case(ds_ctx *ctx, const hippo_case *c, const unsigned char *src,
                             size_t len)
{
    size_t n = 0;
    unsigned char *b = scaled_copy(src, len, c, &n);
    DS_CHECK(b != NULL);
    char name[128];
    snprintf(name, sizeof name, "hip-%s", strrchr(c->name, '/') + 1);
    for (int gz = 0; b && gz < 2; ++gz) {
        char path[512];
        snprintf(path, sizeof path, "%s/%s%s", g_root, name, gz ? "-gz.nii.gz" : ".nii");
        DS_CHECK(write_file(path, b, n, gz) == 0);
        ds_volume *v = NULL;
        ds_ctx_clear(ctx);
        ds_status st = c->as_label ? ds_io_read_label(ctx, path, &v)
                                   : ds_io_read_image(ctx, path, &v);
        DS_CHECK_MSG(st == DS_OK, "%s: %s", path, ds_ctx_message(ctx));
        if (v)
            check_hippo_volume(path, v, src, c);
        ds_volume_free(v);
    }
    if (b)
        check_truncated(ctx, name, b, n, c->as_label);
    free(b);
}

static void hippocampus_cases(ds_ctx *ctx)
{
    static const hippo_case cases[] = {
        {"hippocampus/img_i16_s2.5_i-100", "imagesTr", 4, 2.5f, -100.0f, 0},
        {"hippocampus/img_i16_s1_i-1024", "imagesTr", 4, 1.0f, -1024.0f, 0},
        {"hippocampus/img_u8_s0.5", "imagesTr", 2, 0.5f, 0.0f, 0},
        {"hippocampus/lab_u8_s2", "labelsTr", 2, 2.0f, 0.0f, 1},
    };
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; ++k) {
        char path[512];
        snprintf(path, sizeof path, "%s/%s/hippocampus_001.nii.gz", HIPPOCAMPUS, cases[k].src);
        size_t len = 0;
        unsigned char *src = read_gz(path, &len);
        /* the shared data is part of the suite: a missing file fails here */
        DS_CHECK_MSG(src && len == 352 + 35 * 51 * 35 && src[70] == 2 && src[71] == 0,
                     "%s: not the uint8 35x51x35 image expected", path);
        if (src && len == 352 + 35 * 51 * 35)
            hippocampus_case(ctx, &cases[k], src, len);
        free(src);
    }
}

int main(void)
{
    ds_ctx *ctx = NULL;
    ds_ctx_create(&ctx);
    g_fx = ds_fixture_load(DS_TESTING_DIR "/io/nifti_scaled_ref.bin");
    if (!g_fx || !io_scratch("io-nifti-scaled", g_root, sizeof g_root)) {
        fprintf(stderr, "test_io_nifti_scaled: no fixture or scratch folder\n");
        return 1;
    }
    committed_cases(ctx);
    refused_cases(ctx);
    hippocampus_cases(ctx);
    if (!getenv("IO_KEEP"))
        io_rm_rf(g_root);
    ds_fixture_free(g_fx);
    ds_ctx_free(ctx);
    return ds_test_finish("test_io_nifti_scaled");
}
