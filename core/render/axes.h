// axes.h - what the plots share: the palette, linear and log axes with their ticks, the frame
// with tick labels, and the legend box. C++ only, private to core/render.
#ifndef DS_RENDER_AXES_H
#define DS_RENDER_AXES_H

#include "canvas.h"

#include <string>
#include <vector>

namespace dsr {

// Okabe-Ito: told apart with every common colour-vision deficiency, bright on the dark ground.
// Two greys extend it to the nine series of the loss panel.
extern const Rgb PALETTE[10];

struct Axis {
    double lo, hi;
    bool log;
    double map(double v, double a, double b) const;
};

struct Box {
    int x, y, w, h;
};

struct LegendEntry {
    std::string name;
    Rgb colour;
};

// An axis around the data range [lo, hi] (lo <= hi; log: both > 0): quarter decades on a log
// axis; 5 % padding on a linear one, starting at 0 when the padding would cross it.
Axis fit_axis(double lo, double hi, bool log);
// Ticks at 1, 2 or 5 times a power of ten, about `want` of them.
std::vector<double> linear_ticks(double lo, double hi, int want);
std::vector<double> log_ticks(double lo, double hi);
std::string tick_label(double v);
// The grid, ticks and tick labels of both axes (log ticks on a log axis) and the frame.
void draw_axes(Canvas &c, const Box &b, const Axis &x, const Axis &y, int f);
// A point the data passes through, in pixels.
struct Mark {
    double x, y;
};

// Draws a line of the data from (x0, y0) to (x1, y1) and adds the pixels it passes through to
// marks (one about every 2 pixels, the end point included), for the legend's placement.
void data_line(Canvas &c, double x0, double y0, double x1, double y1, Rgb colour, double width,
               std::vector<Mark> &marks);
// The legend in the corner of b that hides the fewest of marks (pixels of the data), top-right,
// top-left, bottom-right, bottom-left in that order on a tie, so that it never covers the data
// where a free corner exists.
void draw_legend(Canvas &c, const Box &b, const std::vector<LegendEntry> &entries, int f,
                 const std::vector<Mark> &marks);

} // namespace dsr

#endif
