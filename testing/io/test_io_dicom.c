/* test_io_dicom.c - a DICOM series folder is read through ITK's GDCM support with its geometry.
 *
 * The series is written here by hand, byte by byte, as DICOM Part 10 files (explicit VR little
 * endian, MR Image Storage, 16-bit unsigned pixels): 4 slices of 6 x 5 pixels, pixel spacing
 * 0.75 mm between rows and 0.5 mm between columns, slices 2.5 mm apart, an oblique orientation
 * (row direction (0.6, 0.8, 0), column direction (-0.8, 0.6, 0)). The files are named in the
 * reverse of their order in space, so the reader must sort them by position. Expected geometry
 * from the DICOM definitions (PS3.3 C.7.6.2): x spacing = PixelSpacing[1], y = PixelSpacing[0],
 * origin = ImagePositionPatient of the first slice, direction columns = row, column, normal.
 */
#include "ds_io.h"
#include "ds_test.h"
#include "io_test_util.h"

typedef struct buf {
    unsigned char data[4096];
    size_t n;
} buf;

static void put16(buf *b, unsigned v)
{
    b->data[b->n++] = (unsigned char)(v & 0xFF);
    b->data[b->n++] = (unsigned char)(v >> 8);
}

static void put32(buf *b, unsigned long v)
{
    put16(b, (unsigned)(v & 0xFFFF));
    put16(b, (unsigned)(v >> 16));
}

/* One element with a short (2-byte length) VR; the value is padded to an even length. */
static void elem(buf *b, unsigned group, unsigned element, const char *vr, const void *value,
                 size_t len, char pad)
{
    put16(b, group);
    put16(b, element);
    b->data[b->n++] = (unsigned char)vr[0];
    b->data[b->n++] = (unsigned char)vr[1];
    size_t padded = len + (len & 1);
    put16(b, (unsigned)padded);
    memcpy(b->data + b->n, value, len);
    b->n += len;
    if (len & 1)
        b->data[b->n++] = (unsigned char)pad;
}

static void str(buf *b, unsigned g, unsigned e, const char *vr, const char *s)
{
    elem(b, g, e, vr, s, strlen(s), strcmp(vr, "UI") == 0 ? '\0' : ' ');
}

static void us(buf *b, unsigned g, unsigned e, unsigned v)
{
    unsigned char x[2] = {(unsigned char)(v & 0xFF), (unsigned char)(v >> 8)};
    elem(b, g, e, "US", x, 2, 0);
}

static int write_slice(const char *path, int k)
{
    const char *sop_class = "1.2.840.10008.5.1.4.1.1.4";
    char sop_inst[64], ipp[64], inst[16];
    snprintf(sop_inst, sizeof sop_inst, "1.2.826.0.1.3680043.9.7777.1.%d", k + 1);
    snprintf(ipp, sizeof ipp, "10\\-20\\%g", 30.0 + 2.5 * k);
    snprintf(inst, sizeof inst, "%d", k + 1);

    buf meta = {{0}, 0}, ds = {{0}, 0};
    /* file meta information (group 2), after its group length */
    put16(&meta, 0x0002);
    put16(&meta, 0x0001);
    meta.data[meta.n++] = 'O';
    meta.data[meta.n++] = 'B';
    put16(&meta, 0);
    put32(&meta, 2);
    meta.data[meta.n++] = 0;
    meta.data[meta.n++] = 1;
    str(&meta, 0x0002, 0x0002, "UI", sop_class);
    str(&meta, 0x0002, 0x0003, "UI", sop_inst);
    str(&meta, 0x0002, 0x0010, "UI", "1.2.840.10008.1.2.1");
    str(&meta, 0x0002, 0x0012, "UI", "1.2.826.0.1.3680043.9.7777.0");
    /* data set, ascending tags */
    str(&ds, 0x0008, 0x0016, "UI", sop_class);
    str(&ds, 0x0008, 0x0018, "UI", sop_inst);
    str(&ds, 0x0008, 0x0060, "CS", "MR");
    str(&ds, 0x0010, 0x0010, "PN", "Phantom^DualSeg");
    str(&ds, 0x0010, 0x0020, "LO", "DS0001");
    str(&ds, 0x0018, 0x0050, "DS", "2.5");
    str(&ds, 0x0020, 0x000D, "UI", "1.2.826.0.1.3680043.9.7777.2");
    str(&ds, 0x0020, 0x000E, "UI", "1.2.826.0.1.3680043.9.7777.3");
    str(&ds, 0x0020, 0x0011, "IS", "1");
    str(&ds, 0x0020, 0x0013, "IS", inst);
    str(&ds, 0x0020, 0x0032, "DS", ipp);
    str(&ds, 0x0020, 0x0037, "DS", "0.6\\0.8\\0\\-0.8\\0.6\\0");
    us(&ds, 0x0028, 0x0002, 1);
    str(&ds, 0x0028, 0x0004, "CS", "MONOCHROME2");
    us(&ds, 0x0028, 0x0010, 5); /* rows (y) */
    us(&ds, 0x0028, 0x0011, 6); /* columns (x) */
    str(&ds, 0x0028, 0x0030, "DS", "0.75\\0.5");
    us(&ds, 0x0028, 0x0100, 16);
    us(&ds, 0x0028, 0x0101, 16);
    us(&ds, 0x0028, 0x0102, 15);
    us(&ds, 0x0028, 0x0103, 0);
    put16(&ds, 0x7FE0);
    put16(&ds, 0x0010);
    ds.data[ds.n++] = 'O';
    ds.data[ds.n++] = 'W';
    put16(&ds, 0);
    put32(&ds, 6 * 5 * 2);
    for (int j = 0; j < 5; ++j)
        for (int i = 0; i < 6; ++i)
            put16(&ds, (unsigned)(i + 10 * j + 100 * k));

    FILE *f = fopen(path, "wb");
    if (!f)
        return -1;
    unsigned char pre[132] = {0};
    memcpy(pre + 128, "DICM", 4);
    buf gl = {{0}, 0};
    put16(&gl, 0x0002);
    put16(&gl, 0x0000);
    gl.data[gl.n++] = 'U';
    gl.data[gl.n++] = 'L';
    put16(&gl, 4);
    put32(&gl, (unsigned long)meta.n);
    int ok = fwrite(pre, 1, sizeof pre, f) == sizeof pre && fwrite(gl.data, 1, gl.n, f) == gl.n &&
             fwrite(meta.data, 1, meta.n, f) == meta.n && fwrite(ds.data, 1, ds.n, f) == ds.n;
    return fclose(f) == 0 && ok ? 0 : -1;
}

int main(void)
{
    ds_ctx *ctx = NULL;
    ds_ctx_create(&ctx);
    char root[64];
    if (!io_scratch("io-dicom", root, sizeof root)) {
        fprintf(stderr, "cannot create a scratch folder\n");
        return 1;
    }
    for (int k = 0; k < 4; ++k) {
        char path[256];
        snprintf(path, sizeof path, "%s/IM%d.dcm", root, 3 - k);
        DS_CHECK(write_slice(path, k) == 0);
    }
    ds_volume *v = NULL;
    DS_CHECK_OK(ctx, ds_io_read_image(ctx, root, &v));
    if (v) {
        DS_CHECK(v->geom.size[0] == 6 && v->geom.size[1] == 5 && v->geom.size[2] == 4);
        DS_CHECK_CLOSE(v->geom.spacing[0], 0.5, 1e-9, 0);
        DS_CHECK_CLOSE(v->geom.spacing[1], 0.75, 1e-9, 0);
        DS_CHECK_CLOSE(v->geom.spacing[2], 2.5, 1e-9, 0);
        DS_CHECK_CLOSE(v->geom.origin[0], 10.0, 0, 1e-9);
        DS_CHECK_CLOSE(v->geom.origin[1], -20.0, 0, 1e-9);
        DS_CHECK_CLOSE(v->geom.origin[2], 30.0, 0, 1e-9);
        const double dir[9] = {0.6, -0.8, 0, 0.8, 0.6, 0, 0, 0, 1};
        for (int i = 0; i < 9; ++i)
            DS_CHECK_CLOSE(v->geom.direction[i], dir[i], 0, 1e-9);
        int bad = 0;
        for (int k = 0; k < 4; ++k)
            for (int j = 0; j < 5; ++j)
                for (int i = 0; i < 6; ++i)
                    bad += v->values[i + 6 * (j + 5 * k)] != (float)(i + 10 * j + 100 * k);
        DS_CHECK_MSG(bad == 0, "%d voxels differ", bad);
    }
    ds_volume_free(v);
    io_rm_rf(root);
    ds_ctx_free(ctx);
    return ds_test_finish("test_io_dicom");
}
