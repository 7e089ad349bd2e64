/* test_render_xyplot.c - the xy plot (ds_render_xy_plot), read back from its PNG: its size; a
 * scatter series at the data's lower-left corner drawn in the left half of the lower part of
 * the picture and a line series along the lower-right edge drawn only in the right half, each in
 * its palette colour (Okabe-Ito sky blue and orange, axes.cxx); the diagonal guide through the
 * centre of the panel; the legend in a corner free of data; log axes skipping points <= 0;
 * refusals (nothing drawable, bad sizes). */
#include "ds_render.h"
#include "ds_test.h"

#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

static const uint8_t SKY[3] = {86, 180, 233}, ORANGE[3] = {230, 159, 0};

static int near(const uint8_t *px, const uint8_t c[3])
{
    return abs(px[0] - c[0]) + abs(px[1] - c[1]) + abs(px[2] - c[2]) < 40;
}

/* Pixels close to colour c in the lower half of the picture (the legend is in the top right),
 * counted separately in its left and right halves. */
static void count_lower(const ds_render_png *p, const uint8_t c[3], int *left, int *right)
{
    *left = *right = 0;
    for (int y = p->height / 2; y < p->height; ++y)
        for (int x = 0; x < p->width; ++x)
            if (near(p->rgb + 3 * ((size_t)y * p->width + x), c))
                ++*(x < p->width / 2 ? left : right);
}

static void test_scatter_and_line(ds_ctx *ctx, const char *png)
{
    const double sx[3] = {0.0, 0.02, 0.04}, sy[3] = {0.0, 0.03, 0.01};
    const double lx[3] = {0.7, 0.85, 1.0}, ly[3] = {0.0, 0.0, 1.0};
    ds_render_series s[2] = {{"scatter", sx, sy, 3, DS_RENDER_MARK_POINTS},
                             {"line", lx, ly, 3, DS_RENDER_MARK_LINE}};
    ds_render_plot_options p;
    ds_render_plot_options_init(&p);
    p.x_label = "x";
    p.y_label = "y";
    ds_render_options o;
    ds_render_options_init(&o);
    o.width = 640;
    o.height = 480;
    o.title = "xy";
    DS_CHECK_OK(ctx, ds_render_xy_plot(ctx, s, 2, &p, &o, png));
    ds_render_png r;
    DS_CHECK_OK(ctx, ds_render_read_png(ctx, png, &r));
    DS_CHECK(r.width == 640 && r.height == 480);
    int l = 0, rt = 0;
    count_lower(&r, SKY, &l, &rt);
    DS_CHECK_MSG(l >= 3 * 9 && rt == 0, "scatter pixels: %d left, %d right", l, rt);
    count_lower(&r, ORANGE, &l, &rt);
    DS_CHECK_MSG(l == 0 && rt > 100, "line pixels: %d left, %d right", l, rt);
    ds_render_png_free(&r);
}

/* With the diagonal both axes share one range, so y = x crosses the panel's centre. */
static void test_diagonal(ds_ctx *ctx, const char *png)
{
    const double x[4] = {0.80, 0.82, 0.86, 0.90}, y[4] = {0.81, 0.85, 0.84, 0.92};
    ds_render_series s = {"B against A", x, y, 4, DS_RENDER_MARK_POINTS};
    ds_render_plot_options p;
    ds_render_plot_options_init(&p);
    p.guide = DS_RENDER_GUIDE_DIAGONAL;
    ds_render_options o;
    ds_render_options_init(&o);
    o.width = o.height = 480;
    DS_CHECK_OK(ctx, ds_render_xy_plot(ctx, &s, 1, &p, &o, png));
    ds_render_png r;
    DS_CHECK_OK(ctx, ds_render_read_png(ctx, png, &r));
    /* the panel of xyplot.cxx: f = 480 / 34 = 14, x from 6f to w - f, y from 4f to h - 4f */
    const int f = 14, cx = (6 * f + 480 - f) / 2, cy = (4 * f + 480 - 4 * f) / 2;
    int grey = 0;
    for (int py = cy - 3; py <= cy + 3; ++py)
        for (int px = cx - 3; px <= cx + 3; ++px) {
            const uint8_t *q = r.rgb + 3 * ((size_t)py * r.width + px);
            grey += q[0] == q[1] && q[1] == q[2] && q[0] >= 90 && q[0] <= 120;
        }
    DS_CHECK_MSG(grey >= 3, "%d diagonal pixels around (%d, %d)", grey, cx, cy);
    ds_render_png_free(&r);
}

/* Pixels of the legend box's fill (28, 28, 28, axes.cxx) in the top-left and top-right quarter
 * of the picture (a few stray ones where text is drawn). */
static void legend_pixels(const ds_render_png *p, int *left, int *right)
{
    *left = *right = 0;
    for (int y = 0; y < p->height / 2; ++y)
        for (int x = 0; x < p->width; ++x) {
            const uint8_t *q = p->rgb + 3 * ((size_t)y * p->width + x);
            if (q[0] == 28 && q[1] == 28 && q[2] == 28)
                ++*(x < p->width / 2 ? left : right);
        }
}

/* The legend goes to the corner that hides the fewest of the data's pixels: a line rising to the
 * top-right corner pushes it to the top-left; a flat line (y constant: drawn through the middle,
 * every corner free) leaves it top-right. */
static void test_legend_corner(ds_ctx *ctx, const char *png)
{
    const double x[2] = {0.0, 1.0}, rising[2] = {0.0, 1.0}, flat[2] = {0.5, 0.5};
    ds_render_plot_options p;
    ds_render_plot_options_init(&p);
    ds_render_options o;
    ds_render_options_init(&o);
    o.width = 640;
    o.height = 480;
    const double *ys[2] = {rising, flat};
    const int want_left[2] = {1, 0};
    for (int k = 0; k < 2; ++k) {
        ds_render_series s = {"a long legend entry", x, ys[k], 2, DS_RENDER_MARK_LINE};
        DS_CHECK_OK(ctx, ds_render_xy_plot(ctx, &s, 1, &p, &o, png));
        ds_render_png r;
        int l = 0, rt = 0;
        DS_CHECK_OK(ctx, ds_render_read_png(ctx, png, &r));
        legend_pixels(&r, &l, &rt);
        DS_CHECK_MSG(want_left[k] ? l > 500 && rt < 20 : rt > 500 && l < 20,
                     "%s line: legend pixels %d left, %d right", k ? "flat" : "rising", l, rt);
        ds_render_png_free(&r);
    }
}

static void test_refusals(ds_ctx *ctx, const char *png)
{
    const double x[2] = {0.0, -1.0}, y[2] = {1.0, 2.0};
    ds_render_series s = {"s", x, y, 2, DS_RENDER_MARK_LINE};
    ds_render_plot_options p;
    ds_render_plot_options_init(&p);
    ds_render_options o;
    ds_render_options_init(&o);
    p.x_scale = DS_RENDER_SCALE_LOG; /* no x > 0: nothing drawable */
    DS_CHECK_FAILS(ctx, ds_render_xy_plot(ctx, &s, 1, &p, &o, png), DS_ERR_ARG);
    p.x_scale = DS_RENDER_SCALE_LINEAR;
    DS_CHECK_FAILS(ctx, ds_render_xy_plot(ctx, &s, 0, &p, &o, png), DS_ERR_ARG);
    o.width = 100;
    DS_CHECK_FAILS(ctx, ds_render_xy_plot(ctx, &s, 1, &p, &o, png), DS_ERR_ARG);
    DS_CHECK(access(png, F_OK) != 0); /* nothing written by a refusal */
}

int main(void)
{
    ds_ctx *ctx = NULL;
    if (ds_ctx_create(&ctx) != DS_OK)
        return 1;
    char dir[] = "/tmp/ds_test_xyplot_XXXXXX", png[64], png2[64], png3[64];
    if (!mkdtemp(dir))
        return 1;
    snprintf(png, sizeof png, "%s/a.png", dir);
    snprintf(png2, sizeof png2, "%s/b.png", dir);
    snprintf(png3, sizeof png3, "%s/c.png", dir);
    test_scatter_and_line(ctx, png);
    test_diagonal(ctx, png2);
    test_legend_corner(ctx, png2);
    test_refusals(ctx, png3);
    remove(png);
    remove(png2);
    rmdir(dir);
    ds_ctx_free(ctx);
    return ds_test_finish("test_render_xyplot");
}
