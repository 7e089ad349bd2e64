// axes.cxx - axes, ticks and legends shared by the training curve and the xy plots.
#include "axes.h"

#include <algorithm>
#include <cstdint>
#include <cmath>
#include <cstdio>

namespace dsr {

const Rgb PALETTE[10] = {{86, 180, 233},  {230, 159, 0}, {0, 158, 115}, {240, 228, 66},
                         {204, 121, 167}, {213, 94, 0},  {0, 114, 178}, {255, 255, 255},
                         {150, 150, 150}, {255, 160, 160}};

double Axis::map(double v, double a, double b) const
{
    double t = log ? (std::log10(v) - std::log10(lo)) / (std::log10(hi) - std::log10(lo))
                   : (v - lo) / (hi - lo);
    return a + t * (b - a);
}

std::vector<double> linear_ticks(double lo, double hi, int want)
{
    double raw = (hi - lo) / std::max(want, 1), mag = std::pow(10.0, std::floor(std::log10(raw)));
    double step = raw / mag < 1.5 ? mag : raw / mag < 3.5 ? 2 * mag : raw / mag < 7.5 ? 5 * mag
                                                                                     : 10 * mag;
    std::vector<double> t;
    for (double v = std::ceil(lo / step - 1e-9) * step; v <= hi + step * 1e-9; v += step)
        t.push_back(std::fabs(v) < step * 1e-9 ? 0.0 : v);
    return t;
}

std::vector<double> log_ticks(double lo, double hi)
{
    std::vector<double> t;
    int a = static_cast<int>(std::floor(std::log10(lo)));
    int b = static_cast<int>(std::ceil(std::log10(hi)));
    const double steps[3] = {1, 2, 5};
    for (int e = a; e <= b; ++e)
        for (int k = 0; k < (b - a > 2 ? 1 : 3); ++k) {
            double v = steps[k] * std::pow(10.0, e);
            if (v >= lo * (1 - 1e-9) && v <= hi * (1 + 1e-9))
                t.push_back(v);
        }
    return t;
}

std::string tick_label(double v)
{
    char b[32];
    std::snprintf(b, sizeof b, "%g", v);
    return b;
}

void draw_axes(Canvas &c, const Box &b, const Axis &x, const Axis &y, int f)
{
    const Rgb grid{52, 52, 52}, axis{150, 150, 150};
    std::vector<double> xt = x.log ? log_ticks(x.lo, x.hi)
                                   : linear_ticks(x.lo, x.hi, std::max(2, b.w / (6 * f)));
    for (double v : xt) {
        int xx = static_cast<int>(std::lround(x.map(v, b.x, b.x + b.w - 1)));
        c.fill(xx, b.y, 1, b.h, grid);
        c.fill(xx, b.y + b.h, 1, f / 3, axis);
        c.text(xx, b.y + b.h + f / 3, tick_label(v), f * 4 / 5, TEXT, Align::Centre);
    }
    std::vector<double> yt = y.log ? log_ticks(y.lo, y.hi)
                                   : linear_ticks(y.lo, y.hi, std::max(2, b.h / (3 * f)));
    for (double v : yt) {
        int yy = static_cast<int>(std::lround(y.map(v, b.y + b.h - 1, b.y)));
        c.fill(b.x, yy, b.w, 1, grid);
        c.fill(b.x - f / 3, yy, f / 3, 1, axis);
        c.text(b.x - f / 2, yy - f * 2 / 3, tick_label(v), f * 4 / 5, TEXT, Align::Right);
    }
    c.frame(b.x - 1, b.y - 1, b.w + 2, b.h + 2, axis);
}

void data_line(Canvas &c, double x0, double y0, double x1, double y1, Rgb colour, double width,
               std::vector<Mark> &marks)
{
    c.line(x0, y0, x1, y1, colour, width);
    const int n = static_cast<int>(std::hypot(x1 - x0, y1 - y0) / 2) + 1;
    for (int k = 1; k <= n; ++k)
        marks.push_back(Mark{x0 + (x1 - x0) * k / n, y0 + (y1 - y0) * k / n});
}

void draw_legend(Canvas &c, const Box &b, const std::vector<LegendEntry> &ss, int f,
                 const std::vector<Mark> &marks)
{
    int fs = f * 4 / 5, w = 0;
    for (const LegendEntry &s : ss)
        w = std::max(w, Canvas::text_width(s.name, fs));
    int lw = w + fs * 3, lh = static_cast<int>(ss.size()) * fs * 5 / 4 + fs / 2;
    const int left = b.x + fs / 2, right = b.x + b.w - lw - fs / 2;
    const int top = b.y + fs / 2, bottom = b.y + b.h - lh - fs / 2;
    const int corners[4][2] = {{right, top}, {left, top}, {right, bottom}, {left, bottom}};
    int x = right, y = top;
    size_t fewest = SIZE_MAX;
    for (const auto &k : corners) {
        size_t hidden = 0; // a margin of fs / 2 around the box keeps the lines clear of it
        for (const Mark &m : marks)
            hidden += m.x >= k[0] - fs / 2 && m.x <= k[0] + lw + fs / 2 && m.y >= k[1] - fs / 2 &&
                      m.y <= k[1] + lh + fs / 2;
        if (hidden < fewest) {
            fewest = hidden;
            x = k[0];
            y = k[1];
        }
    }
    c.fill(x, y, lw, lh, Rgb{28, 28, 28});
    c.frame(x, y, lw, lh, Rgb{90, 90, 90});
    for (size_t k = 0; k < ss.size(); ++k) {
        int yy = y + fs / 4 + static_cast<int>(k) * fs * 5 / 4;
        c.line(x + fs / 2, yy + fs * 3 / 4, x + fs * 2, yy + fs * 3 / 4, ss[k].colour, 2.5);
        c.text(x + fs * 5 / 2, yy, ss[k].name, fs, TEXT);
    }
}

Axis fit_axis(double lo, double hi, bool log)
{
    Axis y{};
    if (log) {
        y = Axis{std::pow(10.0, std::floor(std::log10(lo) * 4) / 4),
                 std::pow(10.0, std::ceil(std::log10(hi) * 4) / 4), true};
        if (y.hi <= y.lo)
            y.hi = y.lo * 10;
    } else {
        double pad = hi > lo ? 0.05 * (hi - lo) : std::max(std::fabs(hi) * 0.1, 1e-3);
        y = Axis{lo >= 0 && lo - pad < 0 ? 0.0 : lo - pad, hi + pad, false};
    }
    return y;
}

} // namespace dsr
