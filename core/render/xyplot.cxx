// xyplot.cxx - one panel of series against a numeric x: the benchmarks' scatter of two methods
// (with the diagonal) and their cost-against-size lines.
#include "axes.h"
#include "canvas.h"

#include <algorithm>
#include <cmath>
#include <vector>

using namespace dsr;

namespace {

bool usable(double v, ds_render_scale s)
{
    return std::isfinite(v) && (s == DS_RENDER_SCALE_LINEAR || v > 0);
}

bool drawable(const ds_render_series &s, int64_t i, const ds_render_plot_options &p)
{
    return usable(s.x[i], p.x_scale) && usable(s.y[i], p.y_scale);
}

// The data range of every drawable point; false when there is none.
bool ranges(const ds_render_series *ss, int count, const ds_render_plot_options &p, double x[2],
            double y[2])
{
    x[0] = y[0] = INFINITY;
    x[1] = y[1] = -INFINITY;
    for (int k = 0; k < count; ++k)
        for (int64_t i = 0; i < ss[k].count; ++i)
            if (drawable(ss[k], i, p)) {
                x[0] = std::min(x[0], ss[k].x[i]);
                x[1] = std::max(x[1], ss[k].x[i]);
                y[0] = std::min(y[0], ss[k].y[i]);
                y[1] = std::max(y[1], ss[k].y[i]);
            }
    return x[0] <= x[1];
}

// Draws series s; adds the pixels it passes through to marks (every point, and along each line
// segment one about every 2 pixels), for the legend's placement.
void draw_one(Canvas &c, const Box &b, const ds_render_series &s, const ds_render_plot_options &p,
              const Axis &x, const Axis &y, Rgb colour, int f, std::vector<Mark> &marks)
{
    const int dot = std::max(4, f / 2);
    double px = NAN, py = NAN;
    for (int64_t i = 0; i < s.count; ++i) {
        if (!drawable(s, i, p))
            continue;
        double xx = x.map(s.x[i], b.x, b.x + b.w - 1), yy = y.map(s.y[i], b.y + b.h - 1, b.y);
        if (s.mark == DS_RENDER_MARK_LINE && std::isfinite(px))
            data_line(c, px, py, xx, yy, colour, 2.0, marks);
        else
            marks.push_back(Mark{xx, yy});
        c.fill(static_cast<int>(std::lround(xx)) - dot / 2,
               static_cast<int>(std::lround(yy)) - dot / 2, dot, dot, colour);
        px = xx;
        py = yy;
    }
}

} // namespace

extern "C" void ds_render_plot_options_init(ds_render_plot_options *p)
{
    *p = ds_render_plot_options{nullptr, nullptr, DS_RENDER_SCALE_LINEAR, DS_RENDER_SCALE_LINEAR,
                                DS_RENDER_GUIDE_NONE};
}

extern "C" ds_status ds_render_xy_plot(ds_ctx *ctx, const ds_render_series *series, int count,
                                       const ds_render_plot_options *p,
                                       const ds_render_options *o, const char *png_path)
{
    if (!series || !p || !o || !png_path)
        return ds_fail(ctx, DS_ERR_ARG, "xy plot: null argument");
    if (count < 1 || count > 10)
        return ds_fail(ctx, DS_ERR_ARG, "xy plot: %d series (1..10)", count);
    if (o->width < 160 || o->height < 160 || o->width > DS_RENDER_MAX_SIDE ||
        o->height > DS_RENDER_MAX_SIDE)
        return ds_fail(ctx, DS_ERR_ARG, "xy plot: picture size %dx%d (160..%d each)", o->width,
                       o->height, DS_RENDER_MAX_SIDE);
    for (int k = 0; k < count; ++k)
        if (series[k].count < 0 || (series[k].count > 0 && (!series[k].x || !series[k].y)))
            return ds_fail(ctx, DS_ERR_ARG, "xy plot: series %d has no points array", k);
    double xr[2], yr[2];
    if (!ranges(series, count, *p, xr, yr))
        return ds_fail(ctx, DS_ERR_ARG, "xy plot: no drawable point");
    return guard(ctx, "xy plot", [&]() {
        if (p->guide == DS_RENDER_GUIDE_DIAGONAL) { // one range for both, so y = x is diagonal
            xr[0] = yr[0] = std::min(xr[0], yr[0]);
            xr[1] = yr[1] = std::max(xr[1], yr[1]);
        }
        Axis x = fit_axis(xr[0], xr[1], p->x_scale == DS_RENDER_SCALE_LOG);
        Axis y = fit_axis(yr[0], yr[1], p->y_scale == DS_RENDER_SCALE_LOG);
        Canvas c(o->width, o->height, BACKGROUND);
        int f = font_px(o->height);
        Box b{6 * f, f * 4, o->width - 7 * f, o->height - f * 8};
        if (o->title)
            c.text(f / 2, f / 3, o->title, f * 6 / 5, TEXT, Align::Left, true);
        draw_axes(c, b, x, y, f);
        if (p->guide == DS_RENDER_GUIDE_DIAGONAL)
            c.line(b.x, b.y + b.h - 1, b.x + b.w - 1, b.y, Rgb{110, 110, 110}, 1.5);
        std::vector<LegendEntry> legend;
        std::vector<Mark> marks;
        for (int k = 0; k < count; ++k) {
            draw_one(c, b, series[k], *p, x, y, PALETTE[k], f, marks);
            legend.push_back(LegendEntry{series[k].name ? series[k].name : "", PALETTE[k]});
        }
        draw_legend(c, b, legend, f, marks);
        if (p->x_label)
            c.text(b.x + b.w / 2, o->height - f * 2, p->x_label, f, TEXT, Align::Centre);
        if (p->y_label)
            c.text(f / 2, f * 3 / 2 + f / 4, p->y_label, f * 4 / 5, DIM_TEXT);
        return write_png(ctx, c, png_path);
    });
}
