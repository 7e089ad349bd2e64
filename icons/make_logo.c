/* make_logo.c - draws DualSeg's logo (128x128 RGBA) deterministically, in integer arithmetic so
 * that every machine draws the same bytes. Two overlapping discs (the two networks) on a rounded
 * dark tile, crossed by three slice lines (the few labelled slices).
 *
 *   make_logo png  PATH   the PNG (icons/DualSeg.png is this output, committed; a test compares)
 *   make_logo rgba PATH   the raw pixels, row by row (for tests)
 *   make_logo c    PATH   a C source with ds_logo_text[], what --logo prints (SEM's format)
 *
 * The PNG uses stored (uncompressed) deflate blocks, so no zlib is needed: CRC-32 from ds_util,
 * Adler-32 here. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ds_checksum.h"

#define W 128
#define H 128
#define SS 4 /* supersamples per axis */

typedef struct rgba {
    int r, g, b, a; /* 0..255 */
} rgba;

/* 1 when the supersample (x, y), in 1/SS pixels, lies inside the shape. */
static int in_disc(int x, int y, int cx, int cy, int r)
{
    const long dx = x - cx * SS, dy = y - cy * SS, rr = (long)r * SS;
    return dx * dx + dy * dy <= rr * rr;
}

static int in_tile(int x, int y)
{
    const int m = 4 * SS, rad = 22 * SS, lo = m, hi = W * SS - m;
    if (x < lo || x >= hi || y < lo || y >= hi)
        return 0;
    const int cx = x < lo + rad ? lo + rad : x >= hi - rad ? hi - rad : x;
    const int cy = y < lo + rad ? lo + rad : y >= hi - rad ? hi - rad : y;
    const long dx = x - cx, dy = y - cy;
    return dx * dx + dy * dy <= (long)rad * rad;
}

static rgba sample(int x, int y)
{
    rgba c = {0, 0, 0, 0};
    if (!in_tile(x, y))
        return c;
    c = (rgba){28, 43, 66, 255};
    const int a = in_disc(x, y, 50, 64, 30), b = in_disc(x, y, 78, 64, 30);
    if (a && b)
        c = (rgba){236, 236, 236, 255};
    else if (a)
        c = (rgba){38, 166, 184, 255};
    else if (b)
        c = (rgba){240, 140, 48, 255};
    const int row = y / SS;
    if ((row == 36 || row == 64 || row == 92) && x >= 14 * SS && x < 114 * SS)
        c = (rgba){250, 250, 250, 255};
    return c;
}

static void draw(unsigned char *px)
{
    for (int y = 0; y < H; ++y)
        for (int x = 0; x < W; ++x) {
            long r = 0, g = 0, b = 0, a = 0;
            for (int sy = 0; sy < SS; ++sy)
                for (int sx = 0; sx < SS; ++sx) {
                    const rgba s = sample(x * SS + sx, y * SS + sy);
                    r += s.r * s.a, g += s.g * s.a, b += s.b * s.a, a += s.a;
                }
            unsigned char *p = px + 4 * (y * W + x);
            p[0] = (unsigned char)(a ? r / a : 0);
            p[1] = (unsigned char)(a ? g / a : 0);
            p[2] = (unsigned char)(a ? b / a : 0);
            p[3] = (unsigned char)(a / (SS * SS));
        }
}

static void put32(FILE *f, uint32_t v)
{
    const unsigned char b[4] = {(unsigned char)(v >> 24), (unsigned char)(v >> 16),
                                (unsigned char)(v >> 8), (unsigned char)v};
    fwrite(b, 1, 4, f);
}

static void chunk(FILE *f, const char *type, const unsigned char *data, uint32_t n)
{
    put32(f, n);
    fwrite(type, 1, 4, f);
    if (n > 0)
        fwrite(data, 1, n, f);
    put32(f, n > 0 ? ds_crc32(ds_crc32(0, type, 4), data, n) : ds_crc32(0, type, 4));
}

static int write_png(const char *path, const unsigned char *px)
{
    const size_t raw_n = (size_t)H * (1 + 4 * W); /* a filter byte (0) before each row */
    const size_t blocks = (raw_n + 65534) / 65535;
    const size_t z_n = 2 + raw_n + 5 * blocks + 4;
    unsigned char *raw = malloc(raw_n), *z = malloc(z_n);
    FILE *f = raw && z ? fopen(path, "wb") : NULL;
    if (!f) {
        free(raw);
        free(z);
        return 1;
    }
    for (int y = 0; y < H; ++y) {
        raw[(size_t)y * (1 + 4 * W)] = 0;
        memcpy(raw + (size_t)y * (1 + 4 * W) + 1, px + 4 * y * W, 4 * W);
    }
    size_t o = 0;
    z[o++] = 0x78, z[o++] = 0x01;
    uint32_t s1 = 1, s2 = 0;
    for (size_t i = 0; i < raw_n; i += 65535) {
        const size_t n = raw_n - i < 65535 ? raw_n - i : 65535;
        z[o++] = i + n == raw_n;
        z[o++] = (unsigned char)n, z[o++] = (unsigned char)(n >> 8);
        z[o++] = (unsigned char)~n, z[o++] = (unsigned char)(~n >> 8);
        memcpy(z + o, raw + i, n);
        o += n;
    }
    for (size_t i = 0; i < raw_n; ++i) {
        s1 = (s1 + raw[i]) % 65521;
        s2 = (s2 + s1) % 65521;
    }
    const uint32_t adler = s2 << 16 | s1;
    z[o++] = (unsigned char)(adler >> 24), z[o++] = (unsigned char)(adler >> 16);
    z[o++] = (unsigned char)(adler >> 8), z[o++] = (unsigned char)adler;
    static const unsigned char sig[8] = {137, 'P', 'N', 'G', '\r', '\n', 26, '\n'};
    const unsigned char ihdr[13] = {0, 0, 0, W, 0, 0, 0, H, 8, 6, 0, 0, 0};
    fwrite(sig, 1, 8, f);
    chunk(f, "IHDR", ihdr, 13);
    chunk(f, "IDAT", z, (uint32_t)o);
    chunk(f, "IEND", NULL, 0);
    free(raw);
    free(z);
    return fclose(f) != 0;
}

/* The answer to --logo, as GenerateCLP's modules give it: "LOGO", width, height, pixel size,
 * length, then the pixels, one a line. The pixels are base64 (Slicer's kwIconToQImage decodes
 * base64 when the length is not width * height * pixel size and the text does not start with
 * zlib's 0x78 0xDA), RGBA in memory order (4 bytes a pixel, rows top to bottom). */
static int write_c(const char *path, const unsigned char *px)
{
    static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    const size_t n = 4 * W * H, len = (n + 2) / 3 * 4;
    FILE *f = fopen(path, "w");
    if (!f)
        return 1;
    fprintf(f, "/* Generated by icons/make_logo.c: DualSeg's logo for --logo. */\n"
               "const char ds_logo_text[] =\n\"LOGO\\n%d\\n%d\\n4\\n%zu\\n\"\n\"", W, H, len);
    for (size_t i = 0; i < n; i += 3) {
        const uint32_t v = (uint32_t)px[i] << 16 | (i + 1 < n ? (uint32_t)px[i + 1] << 8 : 0) |
                           (i + 2 < n ? px[i + 2] : 0);
        const char q[4] = {b64[v >> 18 & 63], b64[v >> 12 & 63],
                           i + 1 < n ? b64[v >> 6 & 63] : '=', i + 2 < n ? b64[v & 63] : '='};
        fwrite(q, 1, 4, f);
        if ((i / 3 + 1) % 19 == 0)
            fputs("\"\n\"", f);
    }
    fputs("\\n\";\n", f);
    return fclose(f) != 0;
}

int main(int argc, char **argv)
{
    static unsigned char px[4 * W * H];
    if (argc != 3) {
        fprintf(stderr, "usage: make_logo png|rgba|c PATH\n");
        return 2;
    }
    draw(px);
    int bad;
    if (strcmp(argv[1], "png") == 0)
        bad = write_png(argv[2], px);
    else if (strcmp(argv[1], "c") == 0)
        bad = write_c(argv[2], px);
    else if (strcmp(argv[1], "rgba") == 0) {
        FILE *f = fopen(argv[2], "wb");
        bad = !f || fwrite(px, 1, sizeof px, f) != sizeof px;
        bad |= f && fclose(f) != 0;
    } else {
        fprintf(stderr, "make_logo: unknown output '%s' (png, rgba or c)\n", argv[1]);
        return 2;
    }
    if (bad)
        fprintf(stderr, "make_logo: cannot write %s\n", argv[2]);
    return bad;
}
