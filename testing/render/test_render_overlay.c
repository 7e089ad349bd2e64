/* test_render_overlay.c - the overlay and montage PNGs, read back and checked pixel by pixel.
 * References are the inputs' own construction: where the entropy is 0 a panel pixel must be
 * plain grey (R = G = B); where it is high, warm (R well above B); outlines are the exact class
 * colours and only where the label changes; a sphere stays round with 1 x 1 x 3 mm voxels.
 * DS_RENDER_KEEP=<dir> keeps the pictures for looking at. */
#include "ds_phantom.h"
#include "ds_render.h"
#include "ds_test.h"
#include "ds_threads.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char g_dir[256];

static const char *out_path(const char *name)
{
    static char buf[512];
    snprintf(buf, sizeof buf, "%s/%s", g_dir, name);
    return buf;
}

static ds_volume *make(ds_ctx *ctx, const int64_t n[3], const double sp[3], ds_volume_kind kind)
{
    ds_geometry g;
    ds_geometry_identity(&g, n[0], n[1], n[2]);
    memcpy(g.spacing, sp, sizeof g.spacing);
    ds_volume *v = NULL;
    DS_CHECK_OK(ctx, ds_volume_create(ctx, &v, &g, kind));
    return v;
}

static int is_grey(const uint8_t *p) { return p[0] == p[1] && p[1] == p[2]; }
/* Every heat colour has R >= G >= B and R - B >= 110: blended over grey at any opacity that
 * changes a pixel, R stays above B and at least G; at entropy 0.9 far above. */
static int is_warm(const uint8_t *p) { return p[0] > p[2] && p[0] >= p[1]; }
static int is_hot(const uint8_t *p) { return p[0] >= p[2] + 60 && p[0] >= p[1]; }

/* The left part of the picture holds only the slices (the side band is on the right). */
static int in_panels(const ds_render_png *p, int x) { return x < p->width * 7 / 10; }

static ds_render_png render_read(ds_ctx *ctx, const ds_volume *img, const ds_volume *lab,
                                 const ds_volume *ent, const int64_t *focus,
                                 const ds_render_options *o, const char *name)
{
    ds_render_png png;
    memset(&png, 0, sizeof png);
    DS_CHECK_OK(ctx, ds_render_overlay(ctx, img, lab, ent, focus, o, out_path(name)));
    DS_CHECK_OK(ctx, ds_render_read_png(ctx, out_path(name), &png));
    return png;
}

/* Entropy 0 -> panels are grey; entropy 0.9 on x < nx/2 -> the pixels that change are warm. */
static void test_heat(ds_ctx *ctx)
{
    const int64_t n[3] = {40, 36, 12};
    const double sp[3] = {1.0, 1.0, 3.0};
    ds_volume *img = make(ctx, n, sp, DS_VOLUME_SCALAR), *ent = make(ctx, n, sp, DS_VOLUME_SCALAR);
    for (int64_t i = 0; i < ds_volume_voxels(img); ++i)
        img->values[i] = (float)(i % 40) * 0.5f + (float)((i / 40) % 36) * 0.25f;
    ds_render_options o;
    ds_render_options_init(&o);
    o.width = 900;
    o.height = 360;
    o.title = "heat test";
    const int64_t focus[3] = {30, 18, 6};
    ds_render_png a = render_read(ctx, img, NULL, ent, focus, &o, "grey.png");
    DS_CHECK_MSG(a.width == 900 && a.height == 360, "size %dx%d", a.width, a.height);
    int64_t not_grey = 0, changed = 0, bad = 0, panel = 0, hot = 0;
    for (int y = 0; y < a.height; ++y)
        for (int x = 0; x < a.width; ++x)
            if (in_panels(&a, x))
                not_grey += !is_grey(a.rgb + 3 * ((size_t)y * a.width + x));
    DS_CHECK_MSG(not_grey == 0, "%lld coloured pixels with zero entropy", (long long)not_grey);
    for (int64_t i = 0; i < ds_volume_voxels(ent); ++i)
        ent->values[i] = (i % 40) < 20 ? 0.9f : 0.0f;
    ds_render_png b = render_read(ctx, img, NULL, ent, focus, &o, "heat.png");
    for (int y = 0; y < b.height; ++y)
        for (int x = 0; x < b.width; ++x) {
            if (!in_panels(&b, x))
                continue;
            const uint8_t *pa = a.rgb + 3 * ((size_t)y * a.width + x);
            const uint8_t *pb = b.rgb + 3 * ((size_t)y * b.width + x);
            panel += pa[0] > 18; /* brighter than the background: inside a slice */
            if (memcmp(pa, pb, 3) != 0) {
                ++changed;
                bad += !is_warm(pb);
                hot += is_hot(pb);
            }
        }
    /* axial and coronal: half of each slice; sagittal at x = 30: nothing */
    DS_CHECK_MSG(changed > panel / 5 && changed < panel * 7 / 10, "%lld of %lld pixels changed",
                 (long long)changed, (long long)panel);
    DS_CHECK_MSG(bad == 0, "%lld changed pixels are not heat-coloured", (long long)bad);
    DS_CHECK_MSG(hot > changed * 8 / 10, "only %lld of %lld changed pixels strongly warm",
                 (long long)hot, (long long)changed);
    ds_render_png_free(&a);
    ds_render_png_free(&b);
    o.width = 100;
    DS_CHECK_FAILS(ctx, ds_render_overlay(ctx, img, NULL, ent, focus, &o, out_path("x.png")),
                   DS_ERR_ARG);
    ds_volume_free(img);
    ds_volume_free(ent);
}

/* A sphere of radius 12 mm in 1 x 1 x 3 mm voxels, class 1 outside r 6 and class 2 inside:
 * outlines in both class colours, each panel's ring as wide as high. */
static void test_outlines(ds_ctx *ctx)
{
    const int64_t n[3] = {40, 40, 14};
    const double sp[3] = {1.0, 1.0, 3.0};
    ds_volume *img = make(ctx, n, sp, DS_VOLUME_SCALAR), *lab = make(ctx, n, sp, DS_VOLUME_LABEL);
    for (int64_t k = 0; k < n[2]; ++k)
        for (int64_t j = 0; j < n[1]; ++j)
            for (int64_t i = 0; i < n[0]; ++i) {
                double dx = i - 19.5, dy = j - 19.5, dz = (k - 6.5) * 3.0;
                double r = sqrt(dx * dx + dy * dy + dz * dz);
                int64_t at = i + n[0] * (j + n[1] * k);
                lab->labels[at] = r < 6 ? 2 : r < 12 ? 1 : 0;
                img->values[at] = (float)(lab->labels[at] * 40 + (i * 7 + j * 3) % 11);
            }
    ds_render_options o;
    ds_render_options_init(&o);
    o.width = 960;
    o.height = 400;
    const int64_t focus[3] = {20, 20, 6};
    ds_render_png p = render_read(ctx, img, lab, NULL, focus, &o, "outlines.png");
    int64_t counts[3] = {0, 0, 0}, other = 0;
    /* column extents of the green ring per panel (panels are separated by green-free columns) */
    int xmin[3] = {9999, 9999, 9999}, xmax[3] = {-1, -1, -1}, ymin[3] = {9999, 9999, 9999},
        ymax[3] = {-1, -1, -1}, panel = -1, last_x = -100;
    for (int x = 0; x < p.width * 5 / 6; ++x) /* the legend starts further right */
        for (int y = 0; y < p.height; ++y) {
            const uint8_t *q = p.rgb + 3 * ((size_t)y * p.width + x);
            if (is_grey(q))
                continue;
            if (q[0] == 40 && q[1] == 255 && q[2] == 40) {
                if (x > last_x + 5 && panel < 2)
                    ++panel;
                last_x = x;
                counts[0]++;
                int k = panel < 0 ? 0 : panel;
                xmin[k] = x < xmin[k] ? x : xmin[k];
                xmax[k] = x > xmax[k] ? x : xmax[k];
                ymin[k] = y < ymin[k] ? y : ymin[k];
                ymax[k] = y > ymax[k] ? y : ymax[k];
            } else if (q[0] == 40 && q[1] == 150 && q[2] == 255) {
                counts[1]++;
            } else {
                ++other;
            }
        }
    DS_CHECK_MSG(counts[0] > 100 && counts[1] > 50, "outline pixels %lld / %lld",
                 (long long)counts[0], (long long)counts[1]);
    DS_CHECK_MSG(other == 0, "%lld pixels neither grey nor an outline colour", (long long)other);
    DS_CHECK_MSG(panel == 2, "%d rings found (3 expected)", panel + 1);
    for (int k = 0; k < 3; ++k) {
        double w = xmax[k] - xmin[k] + 1, h = ymax[k] - ymin[k] + 1;
        DS_CHECK_MSG(fabs(w / h - 1.0) < 0.08, "panel %d ring %gx%g: not round", k, w, h);
    }
    /* one thread draws the same picture as two */
    DS_CHECK_OK(ctx, ds_threads_set(ctx, 1));
    ds_render_png one = render_read(ctx, img, lab, NULL, focus, &o, "outlines1.png");
    DS_CHECK(one.rgb && memcmp(one.rgb, p.rgb, (size_t)p.width * p.height * 3) == 0);
    DS_CHECK_OK(ctx, ds_threads_set(ctx, 2));
    ds_render_png_free(&one);
    ds_render_png_free(&p);
    /* the montage: requested size, outlines present */
    const int64_t idx[4] = {6, 4, 8, 2};
    const double sc[4] = {0.5, 0.4, 0.3, 0.2};
    o.title = "montage test";
    DS_CHECK_OK(ctx, ds_render_montage(ctx, img, lab, NULL, 2, idx, sc, 4, &o,
                                       out_path("montage.png")));
    DS_CHECK_OK(ctx, ds_render_read_png(ctx, out_path("montage.png"), &p));
    DS_CHECK_MSG(p.width == 960 && p.height == 400, "montage %dx%d", p.width, p.height);
    int64_t green = 0;
    for (int64_t i = 0; i < (int64_t)p.width * p.height; ++i)
        green += p.rgb[3 * i] == 40 && p.rgb[3 * i + 1] == 255 && p.rgb[3 * i + 2] == 40;
    DS_CHECK_MSG(green > 200, "montage outline pixels %lld", (long long)green);
    ds_render_png_free(&p);
    DS_CHECK_FAILS(ctx, ds_render_montage(ctx, img, lab, NULL, 3, idx, sc, 4, &o,
                                          out_path("x.png")), DS_ERR_ARG);
    ds_volume_free(img);
    ds_volume_free(lab);
}

/* The focus: the slice with the most entropy along each axis. */
static void test_focus(ds_ctx *ctx)
{
    const int64_t n[3] = {10, 12, 8};
    const double sp[3] = {1, 1, 1};
    ds_volume *ent = make(ctx, n, sp, DS_VOLUME_SCALAR), *lab = make(ctx, n, sp, DS_VOLUME_LABEL);
    int64_t f[3];
    lab->labels[2 + 10 * (4 + 12 * 6)] = 1;
    lab->labels[4 + 10 * (8 + 12 * 6)] = 1;
    DS_CHECK_OK(ctx, ds_render_focus(ctx, lab, ent, f)); /* no entropy: the box centre */
    DS_CHECK_MSG(f[0] == 3 && f[1] == 6 && f[2] == 6, "focus %lld %lld %lld", (long long)f[0],
                 (long long)f[1], (long long)f[2]);
    ent->values[7 + 10 * (1 + 12 * 2)] = 0.5f;
    ent->values[7 + 10 * (9 + 12 * 2)] = 0.4f;
    DS_CHECK_OK(ctx, ds_render_focus(ctx, lab, ent, f));
    DS_CHECK_MSG(f[0] == 7 && f[1] == 1 && f[2] == 2, "focus %lld %lld %lld", (long long)f[0],
                 (long long)f[1], (long long)f[2]);
    ds_volume_free(ent);
    ds_volume_free(lab);
}

int main(void)
{
    ds_ctx *ctx = NULL;
    ds_ctx_create(&ctx);
    DS_CHECK_OK(ctx, ds_threads_set(ctx, 2));
    const char *keep = getenv("DS_RENDER_KEEP");
    if (keep) {
        snprintf(g_dir, sizeof g_dir, "%s", keep);
    } else {
        snprintf(g_dir, sizeof g_dir, "/tmp/ds_render_XXXXXX");
        DS_CHECK(mkdtemp(g_dir) != NULL);
    }
    test_heat(ctx);
    test_outlines(ctx);
    test_focus(ctx);
    if (!keep) {
        const char *names[] = {"grey.png", "heat.png", "outlines.png", "outlines1.png",
                               "montage.png"};
        for (size_t i = 0; i < sizeof names / sizeof *names; ++i)
            unlink(out_path(names[i]));
        rmdir(g_dir);
    }
    ds_ctx_free(ctx);
    return ds_test_finish("test_render_overlay");
}
