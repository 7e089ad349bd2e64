/* test_io_roundtrip.c - every format keeps geometry and values through a write and a read, and
 * writes are atomic.
 *
 * References: the generated volumes themselves (exact equality), except NIfTI, whose header
 * stores spacing, origin and the qform/sform in float32: there geometry is compared within float32
 * precision (1e-6 relative), values still exactly.
 */
#include "ds_io.h"
#include "ds_test.h"
#include "io_test_util.h"

static ds_volume *make_scalar(ds_ctx *ctx)
{
    ds_geometry g;
    io_oblique_geometry(&g, 7, 5, 4);
    ds_volume *v = NULL;
    DS_CHECK_OK(ctx, ds_volume_create(ctx, &v, &g, DS_VOLUME_SCALAR));
    for (int64_t i = 0; i < ds_volume_voxels(v); ++i)
        v->values[i] = (float)(sin(0.37 * (double)i) * 1000.0) + 1e-3f * (float)i;
    return v;
}

static ds_volume *make_label(ds_ctx *ctx, int big)
{
    ds_geometry g;
    io_oblique_geometry(&g, 7, 5, 4);
    ds_volume *v = NULL;
    DS_CHECK_OK(ctx, ds_volume_create(ctx, &v, &g, DS_VOLUME_LABEL));
    for (int64_t i = 0; i < ds_volume_voxels(v); ++i)
        v->labels[i] = (uint16_t)(big ? (i * 997) % 65536 : (i * 7) % 5);
    return v;
}

static void check_geometry(const ds_geometry *a, const ds_geometry *b, double tol, const char *what)
{
    for (int k = 0; k < 3; ++k)
        DS_CHECK_MSG(a->size[k] == b->size[k], "%s: size", what);
    for (int k = 0; k < 3; ++k) {
        DS_CHECK_MSG(fabs(a->spacing[k] - b->spacing[k]) <= tol * fabs(a->spacing[k]),
                     "%s: spacing[%d] %.17g vs %.17g", what, k, a->spacing[k], b->spacing[k]);
        DS_CHECK_MSG(fabs(a->origin[k] - b->origin[k]) <= tol * 40.0,
                     "%s: origin[%d] %.17g vs %.17g", what, k, a->origin[k], b->origin[k]);
    }
    for (int k = 0; k < 9; ++k)
        DS_CHECK_MSG(fabs(a->direction[k] - b->direction[k]) <= tol,
                     "%s: direction[%d] %.17g vs %.17g", what, k, a->direction[k],
                     b->direction[k]);
}

static void roundtrip(ds_ctx *ctx, const char *dir, const char *name, int compress)
{
    char path[512];
    io_path(path, sizeof path, dir, name);
    /* NRRD stores direction * spacing: recovered within a few ulps; NIfTI: float32 header */
    ds_io_format f = ds_io_format_of(path);
    double tol = f == DS_IO_NIFTI ? 1e-6 : (f == DS_IO_MHA || f == DS_IO_MHD ? 0.0 : 1e-14);
    ds_volume *s = make_scalar(ctx), *r = NULL;
    DS_CHECK_OK(ctx, ds_io_write(ctx, s, path, compress));
    DS_CHECK_OK(ctx, ds_io_read_image(ctx, path, &r));
    if (r) {
        DS_CHECK(r->kind == DS_VOLUME_SCALAR);
        check_geometry(&s->geom, &r->geom, tol, path);
        int64_t bad = -1;
        for (int64_t i = 0; i < ds_volume_voxels(s) && bad < 0; ++i)
            if (memcmp(&s->values[i], &r->values[i], 4) != 0)
                bad = i;
        DS_CHECK_MSG(bad < 0, "%s: values differ at %lld: %.9g vs %.9g", path, (long long)bad,
                     bad < 0 ? 0.0 : s->values[bad], bad < 0 ? 0.0 : r->values[bad]);
    }
    ds_volume_free(r);
    r = NULL;
    for (int big = 0; big < 2; ++big) {
        ds_volume *l = make_label(ctx, big);
        DS_CHECK_OK(ctx, ds_io_write(ctx, l, path, 0));
        DS_CHECK_OK(ctx, ds_io_read_label(ctx, path, &r));
        if (r) {
            DS_CHECK(r->kind == DS_VOLUME_LABEL);
            check_geometry(&l->geom, &r->geom, tol, path);
            DS_CHECK_MSG(memcmp(l->labels, r->labels, (size_t)ds_volume_voxels(l) * 2) == 0,
                         "%s: labels differ (big %d)", path, big);
        }
        ds_volume_free(r);
        r = NULL;
        ds_volume_free(l);
        if (f == DS_IO_NRRD) { /* label maps: integer type, compressed (read from the header) */
            char head[1024] = {0};
            FILE *fp = fopen(path, "rb");
            size_t got = fp ? fread(head, 1, sizeof head - 1, fp) : 0;
            if (fp)
                fclose(fp);
            DS_CHECK(got > 0 && strstr(head, "encoding: gzip") != NULL);
            DS_CHECK(strstr(head, big ? "type: unsigned short" : "type: unsigned char") != NULL);
        }
    }
    ds_volume_free(s);
}

static void seg_nrrd(ds_ctx *ctx, const char *dir)
{
    char path[512];
    io_path(path, sizeof path, dir, "case.seg.nrrd");
    ds_volume *l = make_label(ctx, 0), *r = NULL;
    ds_segment segs[2] = {{"Anterior", 1}, {"Posterior, left", 4}};
    l->segments = malloc(sizeof segs);
    memcpy(l->segments, segs, sizeof segs);
    l->segment_count = 2;
    DS_CHECK_OK(ctx, ds_io_write(ctx, l, path, 1));
    DS_CHECK_OK(ctx, ds_io_read_label(ctx, path, &r));
    if (r) {
        check_geometry(&l->geom, &r->geom, 1e-14, path);
        DS_CHECK(memcmp(l->labels, r->labels, (size_t)ds_volume_voxels(l) * 2) == 0);
        DS_CHECK(r->segment_count == 2);
        if (r->segment_count == 2) {
            DS_CHECK(strcmp(r->segments[0].name, "Anterior") == 0);
            DS_CHECK(r->segments[0].label_value == 1);
            DS_CHECK(strcmp(r->segments[1].name, "Posterior, left") == 0);
            DS_CHECK(r->segments[1].label_value == 4);
        }
    }
    ds_volume_free(r);
    ds_volume_free(l);

    /* A hand-written Slicer segmentation header (NRRD text, raw data) as Slicer writes it. */
    char hand[512];
    io_path(hand, sizeof hand, dir, "hand.seg.nrrd");
    const char hdr[] =
        "NRRD0004\n# Complete NRRD file format specification at:\n"
        "type: unsigned char\ndimension: 3\nspace: left-posterior-superior\nsizes: 2 2 2\n"
        "space directions: (2,0,0) (0,1,0) (0,0,3)\nkinds: domain domain domain\n"
        "endian: little\nencoding: raw\nspace origin: (10,20,30)\n"
        "Segment0_ID:=Segment_1\nSegment0_Name:=liver\nSegment0_LabelValue:=1\n"
        "Segment0_Layer:=0\nSegment1_ID:=Segment_2\nSegment1_Name:=tumour\n"
        "Segment1_LabelValue:=3\nSegment1_Layer:=0\n\n"
        "\x00\x01\x03\x00\x01\x01\x00\x03";
    DS_CHECK(io_write_text(hand, hdr, sizeof hdr - 1) == 0);
    DS_CHECK_OK(ctx, ds_io_read_label(ctx, hand, &r));
    if (r) {
        DS_CHECK(r->segment_count == 2);
        if (r->segment_count == 2) {
            DS_CHECK(strcmp(r->segments[1].name, "tumour") == 0);
            DS_CHECK(r->segments[1].label_value == 3);
        }
        DS_CHECK(r->labels[2] == 3 && r->labels[1] == 1 && r->labels[0] == 0);
        DS_CHECK(r->geom.spacing[0] == 2.0 && r->geom.spacing[2] == 3.0);
        DS_CHECK(r->geom.origin[1] == 20.0);
    }
    ds_volume_free(r);
    r = NULL;
    /* A 4-D segmentation (a list axis of layers first, as Slicer writes overlapping segments):
     * refused with a message. */
    const char four[] = "NRRD0004\ntype: unsigned char\ndimension: 4\nsizes: 2 2 2 2\n"
                        "kinds: list domain domain domain\nencoding: raw\n\n"
                        "\x00\x01\x01\x00\x00\x00\x01\x01\x00\x00\x00\x00\x01\x01\x00\x00";
    char four_path[512];
    io_path(four_path, sizeof four_path, dir, "layers.seg.nrrd");
    DS_CHECK(io_write_text(four_path, four, sizeof four - 1) == 0);
    DS_CHECK_FAILS(ctx, ds_io_read_label(ctx, four_path, &r), DS_ERR_UNSUPPORTED);
    DS_CHECK(strstr(ds_ctx_message(ctx), "multi-layer") != NULL);
    /* A segment on layer 1: a multi-layer segmentation, refused with a message. */
    char layered[sizeof hdr];
    memcpy(layered, hdr, sizeof hdr);
    char *p = strstr(layered, "Segment1_Layer:=0");
    p[strlen("Segment1_Layer:=")] = '1';
    DS_CHECK(io_write_text(hand, layered, sizeof hdr - 1) == 0);
    DS_CHECK_FAILS(ctx, ds_io_read_label(ctx, hand, &r), DS_ERR_UNSUPPORTED);
    DS_CHECK(r == NULL);
}

static void atomic_writes(ds_ctx *ctx, const char *root)
{
    char dir[512], path[600], blocker[600];
    io_path(dir, sizeof dir, root, "atomic");
    mkdir(dir, 0700);
    ds_volume *s = make_scalar(ctx), *r = NULL;
    /* overwrite: the new content replaces the old, no temporary left behind */
    io_path(path, sizeof path, dir, "a.nhdr");
    DS_CHECK_OK(ctx, ds_io_write(ctx, s, path, 1));
    s->values[3] = 42.0f;
    DS_CHECK_OK(ctx, ds_io_write(ctx, s, path, 1));
    DS_CHECK_OK(ctx, ds_io_read_image(ctx, path, &r));
    DS_CHECK(r && r->values[3] == 42.0f);
    ds_volume_free(r);
    r = NULL;
    DS_CHECK_MSG(io_count_entries(dir) == 2, "%d entries (header + data expected)",
                 io_count_entries(dir));
    /* failure at the rename (the target is a folder): error, folder untouched, no temporary */
    io_path(blocker, sizeof blocker, dir, "b.mha");
    mkdir(blocker, 0700);
    DS_CHECK_FAILS(ctx, ds_io_write(ctx, s, blocker, 0), DS_ERR_IO);
    DS_CHECK(io_is_dir(blocker));
    DS_CHECK_MSG(io_count_entries(dir) == 3, "%d entries after a failed write",
                 io_count_entries(dir));
    /* unwritable formats and folders */
    io_path(path, sizeof path, dir, "c.png");
    DS_CHECK_FAILS(ctx, ds_io_write(ctx, s, path, 0), DS_ERR_UNSUPPORTED);
    DS_CHECK_FAILS(ctx, ds_io_write(ctx, s, "/nonexistent-dir-ds/x.nrrd", 0), DS_ERR_IO);
    ds_volume_free(s);
}

int main(void)
{
    ds_ctx *ctx = NULL;
    ds_ctx_create(&ctx);
    char root[64];
    if (!io_scratch("io-roundtrip", root, sizeof root)) {
        fprintf(stderr, "cannot create a scratch folder\n");
        return 1;
    }
    /* distinct base names: nifticlib would read v.nii for v.nii.gz (checked below) */
    const char *names[] = {"v.nrrd", "v.nhdr", "w.nii", "v.nii.gz", "v.mha", "v.mhd"};
    for (int i = 0; i < 6; ++i) {
        roundtrip(ctx, root, names[i], 0);
        roundtrip(ctx, root, names[i], 1);
    }
    seg_nrrd(ctx, root);
    atomic_writes(ctx, root);
    /* x.nii beside x.nii.gz: refused rather than silently reading the other file */
    {
        char a[512], b[512];
        io_path(a, sizeof a, root, "x.nii");
        io_path(b, sizeof b, root, "x.nii.gz");
        ds_volume *s = make_scalar(ctx), *r = NULL;
        DS_CHECK_OK(ctx, ds_io_write(ctx, s, a, 0));
        DS_CHECK_OK(ctx, ds_io_write(ctx, s, b, 0));
        DS_CHECK_FAILS(ctx, ds_io_read_image(ctx, b, &r), DS_ERR_UNSUPPORTED);
        ds_volume_free(s);
    }
    if (!getenv("IO_KEEP")) io_rm_rf(root);
    ds_ctx_free(ctx);
    return ds_test_finish("test_io_roundtrip");
}
