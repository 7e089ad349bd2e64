// plot.cxx - the training curve: three panels against the iteration (losses on a log scale,
// learning rate, entropy-mask kept fraction with the validation Dice), from the trainer's CSV.
#include "axes.h"
#include "canvas.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <string>
#include <vector>

using namespace dsr;

namespace {

struct Series {
    std::string name;
    int column;
    Rgb colour;
    double width;
    bool smooth; // noisy per-iteration values (not a schedule, not sparse validations)
    bool dots;   // every point marked (sparse results)
};

bool usable(double v, bool log) { return std::isfinite(v) && (!log || v > 0.0); }

// The y range of the series (log: positive values only); false when nothing is drawable.
bool y_range(const ds_render_table &t, const std::vector<Series> &ss, bool log, Axis &y)
{
    double lo = INFINITY, hi = -INFINITY;
    for (const Series &s : ss)
        for (int64_t r = 0; r < t.rows; ++r) {
            double v = t.values[r * t.columns + s.column];
            if (usable(v, log)) {
                lo = std::min(lo, v);
                hi = std::max(hi, v);
            }
        }
    if (!(lo <= hi))
        return false;
    y = fit_axis(lo, hi, log);
    return true;
}

// A polyline through the points, averaged per pixel column so that a dense log stays a line;
// the pixels it passes through (about every 2 along a segment) added to marks for the legend.
void polyline(Canvas &c, const Box &b, const std::vector<double> &xs, const std::vector<double> &ys,
              const Axis &x, const Axis &y, Rgb colour, double width, std::vector<Mark> &marks)
{
    double px = -1, sum = 0, prev_x = NAN, prev_y = NAN;
    int n = 0;
    auto flush = [&]() {
        if (n == 0)
            return;
        double yy = y.map(sum / n, b.y + b.h - 1, b.y);
        if (std::isfinite(prev_x)) {
            data_line(c, prev_x, prev_y, px, yy, colour, width, marks);
        } else {
            c.fill(static_cast<int>(px) - 1, static_cast<int>(yy) - 1, 3, 3, colour);
            marks.push_back(Mark{px, yy});
        }
        prev_x = px;
        prev_y = yy;
        sum = 0;
        n = 0;
    };
    for (size_t i = 0; i < xs.size(); ++i) {
        double xx = std::round(x.map(xs[i], b.x, b.x + b.w - 1));
        if (xx != px)
            flush();
        px = xx;
        sum += ys[i];
        ++n;
    }
    flush();
}

// Per-iteration losses are noisy: the raw values are drawn faint, and a centred moving average
// over about 1/40 of the run drawn on top in the series' colour.
void draw_series(Canvas &c, const Box &b, const ds_render_table &t, const Series &s,
                 const Axis &x, const Axis &y, int xcol, std::vector<Mark> &marks)
{
    std::vector<double> xs, ys;
    for (int64_t r = 0; r < t.rows; ++r) {
        double xv = t.values[r * t.columns + xcol], v = t.values[r * t.columns + s.column];
        if (std::isfinite(xv) && usable(v, y.log)) {
            xs.push_back(xv);
            ys.push_back(v);
        }
    }
    if (s.dots)
        for (size_t i = 0; i < xs.size(); ++i)
            c.fill(static_cast<int>(std::lround(x.map(xs[i], b.x, b.x + b.w - 1))) - 3,
                   static_cast<int>(std::lround(y.map(ys[i], b.y + b.h - 1, b.y))) - 3, 7, 7,
                   s.colour);
    size_t half = s.smooth ? xs.size() / 80 : 0;
    if (half == 0) {
        polyline(c, b, xs, ys, x, y, s.colour, s.width, marks);
        return;
    }
    Rgb faint{static_cast<uint8_t>((s.colour.r + 2 * BACKGROUND.r) / 3),
              static_cast<uint8_t>((s.colour.g + 2 * BACKGROUND.g) / 3),
              static_cast<uint8_t>((s.colour.b + 2 * BACKGROUND.b) / 3)};
    polyline(c, b, xs, ys, x, y, faint, 1.0, marks);
    std::vector<double> smooth(ys.size());
    for (size_t i = 0; i < ys.size(); ++i) {
        size_t lo = i >= half ? i - half : 0, hi = std::min(ys.size() - 1, i + half);
        double sum = 0;
        for (size_t k = lo; k <= hi; ++k)
            sum += ys[k];
        smooth[i] = sum / double(hi - lo + 1);
    }
    polyline(c, b, xs, smooth, x, y, s.colour, s.width, marks);
}

void draw_legend(Canvas &c, const Box &b, const std::vector<Series> &ss, int f,
                 const std::vector<Mark> &marks)
{
    std::vector<LegendEntry> entries;
    for (const Series &s : ss)
        entries.push_back(LegendEntry{s.name, s.colour});
    draw_legend(c, b, entries, f, marks);
}

void add_if(const ds_render_table &t, std::vector<Series> &ss, const char *col,
            const std::string &name, double width, bool smooth = true)
{
    int k = ds_render_table_column(&t, col);
    if (k < 0)
        return;
    bool any = false;
    for (int64_t r = 0; r < t.rows && !any; ++r) {
        double v = t.values[r * t.columns + k];
        any = std::isfinite(v) && v != 0.0;
    }
    if (any)
        ss.push_back(Series{name, k, PALETTE[ss.size() % 10], width, smooth, false});
}

void draw_panel(Canvas &c, const Box &b, const ds_render_table &t, const std::vector<Series> &ss,
                const Axis &x, bool log, const std::string &title, int xcol, int f)
{
    c.text(b.x, b.y - f * 3 / 2, title, f, TEXT, Align::Left, true);
    Axis y{};
    if (ss.empty() || !y_range(t, ss, log, y)) {
        c.frame(b.x - 1, b.y - 1, b.w + 2, b.h + 2, Rgb{150, 150, 150});
        c.text(b.x + b.w / 2, b.y + b.h / 2 - f / 2, "not logged", f, DIM_TEXT, Align::Centre);
        return;
    }
    draw_axes(c, b, x, y, f);
    std::vector<Mark> marks;
    for (const Series &s : ss)
        draw_series(c, b, t, s, x, y, xcol, marks);
    draw_legend(c, b, ss, f, marks);
}

} // namespace

extern "C" ds_status ds_render_training_curve(ds_ctx *ctx, const ds_render_table *log,
                                              const ds_render_options *o, const char *png_path)
{
    if (!log || !o || !png_path)
        return ds_fail(ctx, DS_ERR_ARG, "training curve: null argument");
    if (o->width < 160 || o->height < 160 || o->width > DS_RENDER_MAX_SIDE ||
        o->height > DS_RENDER_MAX_SIDE)
        return ds_fail(ctx, DS_ERR_ARG, "training curve: picture size %dx%d (160..%d each)",
                       o->width, o->height, DS_RENDER_MAX_SIDE);
    int xcol = ds_render_table_column(log, "iteration");
    if (xcol < 0 || log->rows < 1)
        return ds_fail(ctx, DS_ERR_FORMAT, "training curve: no \"iteration\" column or no rows");
    return guard(ctx, "training curve", [&]() {
        const ds_render_table &t = *log;
        double x0 = INFINITY, x1 = -INFINITY;
        for (int64_t r = 0; r < t.rows; ++r) {
            double v = t.values[r * t.columns + xcol];
            if (std::isfinite(v)) {
                x0 = std::min(x0, v);
                x1 = std::max(x1, v);
            }
        }
        Axis x{x0, x1 > x0 ? x1 : x0 + 1, false};
        std::vector<Series> loss, lr, mask;
        add_if(t, loss, "total_a", "total A", 2.5);
        add_if(t, loss, "total_b", "total B", 2.5);
        static const char *const TERMS[] = {"ce", "dice", "cr", "cce", "kl", "con", "cos"};
        for (const char *term : TERMS)
            add_if(t, loss, (std::string(term) + "_a").c_str(), std::string(term) + " (A)", 1.5);
        add_if(t, lr, "lr", "learning rate", 2.0, false);
        add_if(t, mask, "kept_fraction_a", "kept fraction A", 2.0);
        add_if(t, mask, "kept_fraction_b", "kept fraction B", 2.0);
        add_if(t, mask, "validation_dice", "validation Dice", 2.0, false);
        Canvas c(o->width, o->height, BACKGROUND);
        int f = font_px(o->height * 3 / 4);
        int left = 6 * f, right = f, top = f * 2 + f * 3 / 2, bottom = f * 3;
        if (o->title)
            c.text(f / 2, f / 3, o->title, f * 6 / 5, TEXT, Align::Left, true);
        int ph = (o->height - top - bottom - 2 * (f * 3)) / 3;
        const std::vector<Series> *sets[3] = {&loss, &lr, &mask};
        const char *titles[3] = {"Loss (log scale; terms of network A, unweighted)",
                                 "Learning rate (log scale)",
                                 "Entropy mask: kept fraction; validation Dice"};
        for (int p = 0; p < 3; ++p) {
            Box b{left, top + p * (ph + f * 3), o->width - left - right, ph};
            draw_panel(c, b, t, *sets[p], x, p < 2, titles[p], xcol, f);
        }
        c.text(left + (o->width - left - right) / 2, o->height - f * 3 / 2, "iteration", f, TEXT,
               Align::Centre);
        return write_png(ctx, c, png_path);
    });
}

extern "C" ds_status ds_render_line_plot(ds_ctx *ctx, const ds_render_table *t,
                                         const char *x_column, const char *y_label,
                                         const ds_render_options *o, const char *png_path)
{
    if (!t || !x_column || !y_label || !o || !png_path)
        return ds_fail(ctx, DS_ERR_ARG, "line plot: null argument");
    if (o->width < 160 || o->height < 160 || o->width > DS_RENDER_MAX_SIDE ||
        o->height > DS_RENDER_MAX_SIDE)
        return ds_fail(ctx, DS_ERR_ARG, "line plot: picture size %dx%d (160..%d each)",
                       o->width, o->height, DS_RENDER_MAX_SIDE);
    int xcol = ds_render_table_column(t, x_column);
    if (xcol < 0 || t->rows < 1 || t->columns < 2)
        return ds_fail(ctx, DS_ERR_FORMAT, "line plot: no \"%s\" column, no rows or no series",
                       x_column);
    return guard(ctx, "line plot", [&]() {
        double x0 = INFINITY, x1 = -INFINITY;
        for (int64_t r = 0; r < t->rows; ++r) {
            double v = t->values[r * t->columns + xcol];
            if (std::isfinite(v)) {
                x0 = std::min(x0, v);
                x1 = std::max(x1, v);
            }
        }
        Axis x{x0, x1 > x0 ? x1 : x0 + 1, false};
        std::vector<Series> ss;
        for (int k = 0; k < t->columns; ++k)
            if (k != xcol) // sparse points: no smoothing, every point marked
                ss.push_back(Series{t->names[k], k, PALETTE[ss.size() % 10], 2.5, false, true});
        Canvas c(o->width, o->height, BACKGROUND);
        int f = font_px(o->height);
        int left = 6 * f, right = f, top = f * 2 + f * 3 / 2, bottom = f * 3;
        if (o->title)
            c.text(f / 2, f / 3, o->title, f * 6 / 5, TEXT, Align::Left, true);
        Box b{left, top, o->width - left - right, o->height - top - bottom};
        draw_panel(c, b, *t, ss, x, false, y_label, xcol, f);
        c.text(left + b.w / 2, o->height - f * 3 / 2, x_column, f, TEXT, Align::Centre);
        return write_png(ctx, c, png_path);
    });
}
