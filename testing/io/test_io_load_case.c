/* test_io_load_case.c - the options of ds_cohort_load_case, each on a small volume written to a
 * scratch folder: window normalisation, DS_NORM_NONE, z-score, a target spacing (size by the
 * documented rounding, values at known points), ds_sample_restore, the ignore label against
 * num_classes, partial_axis on each axis, and the image / label geometry tolerance.
 *
 * References: hand computations, written out beside each check (the volumes are built so that
 * the expected values are short formulas or tables). */
#include "ds_cohort.h"
#include "ds_io.h"
#include "ds_test.h"
#include "io_test_util.h"

static char g_root[64];

enum { NX = 4, NY = 3, NZ = 2, N = NX * NY * NZ };

/* The image's geometry: 4 x 3 x 2, spacing (1, 1, 2), origin (-3, 5, 10), identity direction. */
static void base_geometry(ds_geometry *g)
{
    ds_geometry_identity(g, NX, NY, NZ);
    g->spacing[2] = 2.0;
    g->origin[0] = -3.0;
    g->origin[1] = 5.0;
    g->origin[2] = 10.0;
}

static int at(int i, int j, int k)
{
    return i + NX * (j + NY * k);
}

/* f(i, j, k) = 2i + 3j - 5k + 1: affine, so trilinear interpolation reproduces it exactly. */
static double affine(double i, double j, double k)
{
    return 2.0 * i + 3.0 * j - 5.0 * k + 1.0;
}

static void put_image(ds_ctx *ctx, const char *name, const ds_geometry *g, int affine_values)
{
    char path[512];
    io_path(path, sizeof path, g_root, name);
    ds_volume *v = NULL;
    DS_CHECK_OK(ctx, ds_volume_create(ctx, &v, g, DS_VOLUME_SCALAR));
    for (int k = 0; k < NZ; ++k)
        for (int j = 0; j < NY; ++j)
            for (int i = 0; i < NX; ++i) /* the ramp: voxel index n holds -50 + 25 n */
                v->values[at(i, j, k)] = affine_values ? (float)affine(i, j, k)
                                                       : (float)(-50 + 25 * at(i, j, k));
    DS_CHECK_OK(ctx, ds_io_write(ctx, v, path, 0));
    ds_volume_free(v);
}

static void put_label(ds_ctx *ctx, const char *name, const ds_geometry *g, const uint16_t *labels)
{
    char path[512];
    io_path(path, sizeof path, g_root, name);
    ds_volume *v = NULL;
    DS_CHECK_OK(ctx, ds_volume_create(ctx, &v, g, DS_VOLUME_LABEL));
    memcpy(v->labels, labels, N * sizeof(uint16_t));
    DS_CHECK_OK(ctx, ds_io_write(ctx, v, path, 0));
    ds_volume_free(v);
}

/* A one-case cohort: image[,label] through a CSV in the scratch folder. */
static ds_cohort *one_case(ds_ctx *ctx, const char *image, const char *label)
{
    char csv[512], line[256];
    io_path(csv, sizeof csv, g_root, "case.csv");
    snprintf(line, sizeof line, "%s%s%s\n", image, label ? "," : "", label ? label : "");
    DS_CHECK(io_write_text(csv, line, strlen(line)) == 0);
    ds_cohort *c = NULL;
    DS_CHECK_OK(ctx, ds_cohort_open_csv(ctx, csv, &c));
    return c;
}

static void normalisation(ds_ctx *ctx)
{
    ds_geometry g;
    base_geometry(&g);
    put_image(ctx, "ramp.nrrd", &g, 0);
    ds_cohort *c = one_case(ctx, "ramp.nrrd", NULL);
    if (!c)
        return;
    ds_load_options o;
    ds_load_options_default(&o);
    ds_sample s;
    /* window [-10, 390] on x_n = -50 + 25 n: clip, then (x + 10) / 400 = n / 16 - 0.1 */
    static const float window[N] = {0,      0,      0.025f, 0.0875f, 0.15f,  0.2125f,
                                    0.275f, 0.3375f, 0.4f,  0.4625f, 0.525f, 0.5875f,
                                    0.65f,  0.7125f, 0.775f, 0.8375f, 0.9f,  0.9625f,
                                    1,      1,      1,      1,       1,      1};
    o.norm = DS_NORM_WINDOW;
    o.window_lo = -10.0f;
    o.window_hi = 390.0f;
    DS_CHECK_OK(ctx, ds_cohort_load_case(ctx, c, 0, &o, &s));
    if (s.image) {
        int bad = 0;
        for (int n = 0; n < N; ++n)
            bad += fabsf(s.image->values[n] - window[n]) > 1e-6f;
        DS_CHECK_MSG(bad == 0, "%d voxels off the window map (voxel 3: %g, want 0.0875)", bad,
                     (double)s.image->values[3]);
    }
    ds_sample_free(&s);
    o.window_lo = o.window_hi; /* an empty window is refused */
    DS_CHECK_FAILS(ctx, ds_cohort_load_case(ctx, c, 0, &o, &s), DS_ERR_ARG);
    /* none: the values as written, bit for bit */
    o.norm = DS_NORM_NONE;
    DS_CHECK_OK(ctx, ds_cohort_load_case(ctx, c, 0, &o, &s));
    if (s.image) {
        int bad = 0;
        for (int n = 0; n < N; ++n)
            bad += s.image->values[n] != (float)(-50 + 25 * n);
        DS_CHECK_MSG(bad == 0, "%d voxels changed without normalisation", bad);
    }
    ds_sample_free(&s);
    /* z-score: mean -50 + 25 * 11.5 = 237.5, population std 25 * sqrt((24^2 - 1) / 12) =
     * 173.0546..., so z_n = (n - 11.5) / 6.9221865; z_0 = -1.6613248 */
    o.norm = DS_NORM_ZSCORE;
    DS_CHECK_OK(ctx, ds_cohort_load_case(ctx, c, 0, &o, &s));
    if (s.image) {
        DS_CHECK_CLOSE(s.image->values[0], -1.6613248, 0, 1e-6);
        DS_CHECK_CLOSE(s.image->values[23], 1.6613248, 0, 1e-6);
        DS_CHECK_CLOSE(s.image->values[12], 0.5 / 6.9221865, 0, 1e-6);
    }
    ds_sample_free(&s);
    o.norm = (ds_norm_mode)7;
    DS_CHECK_FAILS(ctx, ds_cohort_load_case(ctx, c, 0, &o, &s), DS_ERR_ARG);
    ds_cohort_free(c);
    /* a constant image: only the z-score refuses it */
    ds_volume *flat = NULL;
    DS_CHECK_OK(ctx, ds_volume_create(ctx, &flat, &g, DS_VOLUME_SCALAR));
    char path[512];
    io_path(path, sizeof path, g_root, "flat.nrrd");
    DS_CHECK_OK(ctx, ds_io_write(ctx, flat, path, 0));
    ds_volume_free(flat);
    c = one_case(ctx, "flat.nrrd", NULL);
    o.norm = DS_NORM_NONE;
    DS_CHECK_OK(ctx, ds_cohort_load_case(ctx, c, 0, &o, &s));
    ds_sample_free(&s);
    o.norm = DS_NORM_WINDOW;
    o.window_lo = -1.0f;
    o.window_hi = 1.0f;
    DS_CHECK_OK(ctx, ds_cohort_load_case(ctx, c, 0, &o, &s));
    DS_CHECK(s.image && s.image->values[5] == 0.5f);
    ds_sample_free(&s);
    o.norm = DS_NORM_ZSCORE;
    DS_CHECK_FAILS(ctx, ds_cohort_load_case(ctx, c, 0, &o, &s), DS_ERR_NUMERIC);
    ds_cohort_free(c);
}

/* Target spacing (0.5, 2, 1.6) on spacing (1, 1, 2): sizes round(4 / 0.5) = 8,
 * round(3 / 2) = round(1.5) = 2, round(4 / 1.6) = round(2.5) = 3 (halves round up). New voxel
 * (a, b, c) sits at source index (0.5 a, 2 b, 0.8 c), clamped to the source grid. */
static void target_spacing(ds_ctx *ctx)
{
    ds_geometry g;
    base_geometry(&g);
    put_image(ctx, "affine.nrrd", &g, 1);
    uint16_t labels[N];
    for (int n = 0; n < N; ++n)
        labels[n] = (uint16_t)(n % NX); /* the x index */
    put_label(ctx, "xindex.nrrd", &g, labels);
    ds_cohort *c = one_case(ctx, "affine.nrrd", "xindex.nrrd");
    if (!c)
        return;
    ds_load_options o;
    ds_load_options_default(&o);
    o.norm = DS_NORM_NONE;
    o.num_classes = NX;
    o.target_spacing[0] = 0.5;
    o.target_spacing[1] = 2.0;
    o.target_spacing[2] = 1.6;
    ds_sample s;
    DS_CHECK_OK(ctx, ds_cohort_load_case(ctx, c, 0, &o, &s));
    if (!s.image || !s.label) {
        ds_cohort_free(c);
        return;
    }
    const ds_geometry *r = &s.image->geom;
    const int sized = r->size[0] == 8 && r->size[1] == 2 && r->size[2] == 3;
    DS_CHECK_MSG(sized, "size %lld x %lld x %lld", (long long)r->size[0], (long long)r->size[1],
                 (long long)r->size[2]);
    DS_CHECK(r->spacing[0] == 0.5 && r->spacing[1] == 2.0 && r->spacing[2] == 1.6);
    DS_CHECK(memcmp(r->origin, g.origin, sizeof g.origin) == 0);
    DS_CHECK(memcmp(&s.label->geom, r, sizeof *r) == 0);
    DS_CHECK(memcmp(&s.original, &g, sizeof g) == 0);
    DS_CHECK(s.annotated == 8 * 2 * 3);
    if (!sized) { /* the checks below index the 8 x 2 x 3 grid */
        ds_sample_free(&s);
        ds_cohort_free(c);
        return;
    }
    const int64_t rx = 8, ry = 2;
#define AT(a, b, c) ((a) + rx * ((b) + ry * (c)))
    /* inside: f(0.5 a, 2 b, 0.8 c); (3, 1, 1): 3 + 6 - 4 + 1 = 6; (5, 1, 0): 5 + 6 + 1 = 12 */
    DS_CHECK_CLOSE(s.image->values[AT(0, 0, 0)], 1.0, 0, 1e-5);
    DS_CHECK_CLOSE(s.image->values[AT(3, 1, 1)], 6.0, 0, 1e-5);
    DS_CHECK_CLOSE(s.image->values[AT(5, 1, 0)], 12.0, 0, 1e-5);
    /* (7, 0, 2): source (3.5, 0, 1.6) clamped to (3, 0, 1): 6 + 0 - 5 + 1 = 2 */
    DS_CHECK_CLOSE(s.image->values[AT(7, 0, 2)], 2.0, 0, 1e-5);
    /* labels by nearest: x index round(0.5 a) with halves up, clamped to 3 */
    static const uint16_t nearest_x[8] = {0, 1, 1, 2, 2, 3, 3, 3};
    int bad = 0;
    for (int cc = 0; cc < 3; ++cc)
        for (int b = 0; b < 2; ++b)
            for (int a = 0; a < 8; ++a)
                bad += s.label->labels[AT(a, b, cc)] != nearest_x[a];
    DS_CHECK_MSG(bad == 0, "%d resampled labels off", bad);
#undef AT
    /* back to the file's grid: original voxel (i, j, k) is at new index (2 i, j / 2, 1.25 k).
     * Labels: nearest picks new x = 2 i, whose label is i: the original exactly. Image: k = 0
     * is f(i, j, 0) exactly; k = 1 interpolates new z 1.25 between c = 1 (f at source z 0.8) and
     * c = 2 (clamped, f at z 1): f at z 0.85, i.e. 2 i + 3 j - 3.25. */
    ds_volume *back = NULL;
    DS_CHECK_OK(ctx, ds_sample_restore(ctx, &s, s.label, &back));
    if (back) {
        DS_CHECK(memcmp(&back->geom, &g, sizeof g) == 0 && back->kind == DS_VOLUME_LABEL);
        DS_CHECK(memcmp(back->labels, labels, sizeof labels) == 0);
    }
    ds_volume_free(back);
    back = NULL;
    DS_CHECK_OK(ctx, ds_sample_restore(ctx, &s, s.image, &back));
    if (back) {
        DS_CHECK(memcmp(&back->geom, &g, sizeof g) == 0 && back->kind == DS_VOLUME_SCALAR);
        int off = 0;
        for (int k = 0; k < NZ; ++k)
            for (int j = 0; j < NY; ++j)
                for (int i = 0; i < NX; ++i) {
                    const double want = k == 0 ? affine(i, j, 0) : 2.0 * i + 3.0 * j - 3.25;
                    off += fabs(back->values[at(i, j, k)] - want) > 1e-5;
                }
        DS_CHECK_MSG(off == 0, "%d restored voxels off", off);
    }
    ds_volume_free(back);
    ds_sample_free(&s);
    /* all three values or none */
    o.target_spacing[1] = 0.0;
    DS_CHECK_FAILS(ctx, ds_cohort_load_case(ctx, c, 0, &o, &s), DS_ERR_ARG);
    o.target_spacing[1] = -2.0;
    DS_CHECK_FAILS(ctx, ds_cohort_load_case(ctx, c, 0, &o, &s), DS_ERR_ARG);
    ds_cohort_free(c);
}

/* Labels 0, 1, 2 and 255 (two voxels), 7 (one voxel) on the 4 x 3 x 2 grid. */
static void ignore_label(ds_ctx *ctx)
{
    ds_geometry g;
    base_geometry(&g);
    uint16_t labels[N] = {0};
    labels[1] = 1;
    labels[2] = 2;
    labels[5] = 255;
    labels[17] = 255;
    put_label(ctx, "ign.nrrd", &g, labels);
    labels[9] = 7;
    put_label(ctx, "ign7.nrrd", &g, labels);
    ds_cohort *c = one_case(ctx, "ramp.nrrd", "ign.nrrd");
    ds_cohort *c7 = one_case(ctx, "ramp.nrrd", "ign7.nrrd");
    if (!c || !c7)
        return;
    ds_load_options o;
    ds_load_options_default(&o);
    o.num_classes = 3;
    ds_sample s;
    /* default ignore 255: accepted, 24 - 2 voxels annotated, the 255s kept */
    DS_CHECK_OK(ctx, ds_cohort_load_case(ctx, c, 0, &o, &s));
    DS_CHECK(s.label && s.annotated == 22 && s.label->labels[5] == 255);
    ds_sample_free(&s);
    /* 7 is neither a class nor the ignore label */
    DS_CHECK_FAILS(ctx, ds_cohort_load_case(ctx, c7, 0, &o, &s), DS_ERR_FORMAT);
    DS_CHECK(strstr(ds_ctx_message(ctx), "ign7.nrrd") && strstr(ds_ctx_message(ctx), "label 7"));
    /* no ignore label: 255 is out of 0..2 */
    o.ignore_label = -1;
    DS_CHECK_FAILS(ctx, ds_cohort_load_case(ctx, c, 0, &o, &s), DS_ERR_FORMAT);
    DS_CHECK(strstr(ds_ctx_message(ctx), "ign.nrrd") && strstr(ds_ctx_message(ctx), "label 255"));
    /* ignore 7: the 7 is unknown, and now the 255s are refused */
    o.ignore_label = 7;
    DS_CHECK_FAILS(ctx, ds_cohort_load_case(ctx, c7, 0, &o, &s), DS_ERR_FORMAT);
    DS_CHECK(strstr(ds_ctx_message(ctx), "label 255") != NULL);
    /* 256 classes: 255 and 7 are classes; with ignore 7 one voxel is unknown */
    o.num_classes = 256;
    DS_CHECK_OK(ctx, ds_cohort_load_case(ctx, c7, 0, &o, &s));
    DS_CHECK(s.label && s.annotated == 23);
    ds_sample_free(&s);
    /* an ignore label that is also a class (2): its voxel is not annotated */
    o.num_classes = 3;
    o.ignore_label = 2;
    DS_CHECK_FAILS(ctx, ds_cohort_load_case(ctx, c, 0, &o, &s), DS_ERR_FORMAT); /* the 255s */
    o.num_classes = 0; /* no class check */
    DS_CHECK_OK(ctx, ds_cohort_load_case(ctx, c, 0, &o, &s));
    DS_CHECK(s.label && s.annotated == 23);
    ds_sample_free(&s);
    const int bad_ignore[] = {-2, 65536};
    for (int k = 0; k < 2; ++k) {
        o.ignore_label = bad_ignore[k];
        DS_CHECK_FAILS(ctx, ds_cohort_load_case(ctx, c, 0, &o, &s), DS_ERR_ARG);
    }
    ds_cohort_free(c);
    ds_cohort_free(c7);
}

/* Label 1 at (0, 0, 0), the ignore label 9 at (3, 1, 1), zeros elsewhere. Along x only slice
 * x = 0 holds a label (x = 3 holds only the ignore label): 3 x 2 = 6 voxels stay annotated. Along
 * y, slice y = 0: 4 x 2 = 8. Along z, slice z = 0: 4 x 3 = 12. */
static void partial_axis(ds_ctx *ctx)
{
    ds_geometry g;
    base_geometry(&g);
    uint16_t labels[N] = {0};
    labels[at(0, 0, 0)] = 1;
    labels[at(3, 1, 1)] = 9;
    put_label(ctx, "partial.nrrd", &g, labels);
    ds_cohort *c = one_case(ctx, "ramp.nrrd", "partial.nrrd");
    if (!c)
        return;
    ds_load_options o;
    ds_load_options_default(&o);
    o.num_classes = 2;
    o.ignore_label = 9;
    const int64_t want[3] = {6, 8, 12};
    for (int axis = 0; axis < 3; ++axis) {
        o.partial_axis = axis;
        ds_sample s;
        DS_CHECK_OK(ctx, ds_cohort_load_case(ctx, c, 0, &o, &s));
        if (!s.label)
            continue;
        DS_CHECK_MSG(s.annotated == want[axis], "axis %d: %lld annotated", axis,
                     (long long)s.annotated);
        int bad = 0;
        for (int k = 0; k < NZ; ++k)
            for (int j = 0; j < NY; ++j)
                for (int i = 0; i < NX; ++i) {
                    const int slice = axis == 0 ? i : (axis == 1 ? j : k);
                    const int expect = slice != 0 ? 9 : labels[at(i, j, k)];
                    bad += s.label->labels[at(i, j, k)] != expect;
                }
        DS_CHECK_MSG(bad == 0, "axis %d: %d voxels wrong", axis, bad);
        ds_sample_free(&s);
    }
    o.partial_axis = 3;
    ds_sample s;
    DS_CHECK_FAILS(ctx, ds_cohort_load_case(ctx, c, 0, &o, &s), DS_ERR_ARG);
    o.partial_axis = 0;
    o.ignore_label = -1;
    DS_CHECK_FAILS(ctx, ds_cohort_load_case(ctx, c, 0, &o, &s), DS_ERR_ARG);
    ds_cohort_free(c);
}

/* Loads the ramp with a label whose origin is shifted and spacing scaled on one axis; returns 1
 * if accepted. */
static int accepted_with(ds_ctx *ctx, const ds_load_options *o, int axis, double origin_shift,
                         double spacing_scale)
{
    ds_geometry g;
    base_geometry(&g);
    g.origin[axis] += origin_shift;
    g.spacing[axis] *= spacing_scale;
    uint16_t labels[N] = {0};
    labels[7] = 1;
    put_label(ctx, "near.nrrd", &g, labels);
    char path[512];
    io_path(path, sizeof path, g_root, "near.nrrd");
    ds_volume *written = NULL;
    DS_CHECK_OK(ctx, ds_io_read_label(ctx, path, &written));
    /* the file holds the geometry asked for (else the test would measure the writer) */
    DS_CHECK(written && fabs(written->geom.origin[axis] - g.origin[axis]) < 1e-12 &&
             fabs(written->geom.spacing[axis] - g.spacing[axis]) < 1e-12);
    ds_volume_free(written);
    ds_cohort *c = one_case(ctx, "ramp.nrrd", "near.nrrd");
    ds_sample s;
    ds_ctx_clear(ctx);
    const ds_status st = ds_cohort_load_case(ctx, c, 0, o, &s);
    if (st == DS_OK) { /* the label takes the image's geometry */
        ds_geometry want;
        base_geometry(&want);
        DS_CHECK(memcmp(&s.label->geom, &want, sizeof want) == 0 && s.label->labels[7] == 1);
    } else {
        DS_CHECK(st == DS_ERR_SHAPE && strstr(ds_ctx_message(ctx), "ramp.nrrd") &&
                 strstr(ds_ctx_message(ctx), "near.nrrd"));
    }
    ds_sample_free(&s);
    ds_cohort_free(c);
    return st == DS_OK;
}

/* ds_geometry_compare's rule: origins within tol * max(spacing, 1) (x: spacing 1, z: spacing 2),
 * spacings within tol * max(|s|, 1) relative. Shifts of 0.9 and 1.1 times the limit. */
static void geometry_tolerance(ds_ctx *ctx)
{
    ds_load_options o;
    ds_load_options_default(&o); /* tol 1e-4 */
    DS_CHECK(accepted_with(ctx, &o, 0, 0.9e-4, 1.0));
    DS_CHECK(!accepted_with(ctx, &o, 0, 1.1e-4, 1.0));
    DS_CHECK(accepted_with(ctx, &o, 0, -0.9e-4, 1.0));
    DS_CHECK(!accepted_with(ctx, &o, 0, -1.1e-4, 1.0));
    DS_CHECK(accepted_with(ctx, &o, 2, 1.8e-4, 1.0)); /* 2 * 0.9e-4 */
    DS_CHECK(!accepted_with(ctx, &o, 2, 2.2e-4, 1.0));
    DS_CHECK(accepted_with(ctx, &o, 1, 0.0, 1.0 + 0.9e-4));
    DS_CHECK(!accepted_with(ctx, &o, 1, 0.0, 1.0 + 1.1e-4));
    DS_CHECK(accepted_with(ctx, &o, 2, 0.0, 1.0 + 0.9e-4)); /* 2 * 0.9e-4 of spacing 2 */
    DS_CHECK(!accepted_with(ctx, &o, 2, 0.0, 1.0 + 1.1e-4));
    o.geometry_tol = 1e-2;
    DS_CHECK(accepted_with(ctx, &o, 0, 0.9e-2, 1.0));
    DS_CHECK(!accepted_with(ctx, &o, 0, 1.1e-2, 1.0));
    o.geometry_tol = 0.0; /* exact */
    DS_CHECK(accepted_with(ctx, &o, 0, 0.0, 1.0));
    DS_CHECK(!accepted_with(ctx, &o, 0, 1e-9, 1.0));
    const double bad_tol[] = {-1e-4, NAN, INFINITY};
    for (int k = 0; k < 3; ++k) {
        o.geometry_tol = bad_tol[k];
        ds_cohort *c = one_case(ctx, "ramp.nrrd", "near.nrrd");
        ds_sample s;
        DS_CHECK_FAILS(ctx, ds_cohort_load_case(ctx, c, 0, &o, &s), DS_ERR_ARG);
        ds_cohort_free(c);
    }
}

int main(void)
{
    ds_ctx *ctx = NULL;
    ds_ctx_create(&ctx);
    if (!io_scratch("io-load-case", g_root, sizeof g_root)) {
        fprintf(stderr, "cannot create a scratch folder\n");
        return 1;
    }
    normalisation(ctx);
    target_spacing(ctx);
    ignore_label(ctx);
    partial_axis(ctx);
    geometry_tolerance(ctx);
    io_rm_rf(g_root);
    ds_ctx_free(ctx);
    return ds_test_finish("test_io_load_case");
}
