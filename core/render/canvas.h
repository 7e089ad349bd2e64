// canvas.h - the picture every renderer draws into: 8-bit RGB, top row first, with blending,
// rectangles, anti-aliased lines and FreeType text (VTK's embedded Arial: no OpenGL, no font
// files on the machine). C++ only, private to core/render.
#ifndef DS_RENDER_CANVAS_H
#define DS_RENDER_CANVAS_H

#include "render_internal.h"

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

namespace dsr {

struct Rgb {
    uint8_t r, g, b;
};

enum class Align { Left, Centre, Right };

// Text is pure grey so that the tests can tell it from the coloured overlays.
constexpr Rgb TEXT{225, 225, 225};
constexpr Rgb DIM_TEXT{160, 160, 160};
constexpr Rgb BACKGROUND{18, 18, 18};

class Canvas {
public:
    Canvas(int w, int h, Rgb bg);
    int width() const { return w_; }
    int height() const { return h_; }
    const std::vector<uint8_t> &pixels() const { return px_; }

    void put(int x, int y, Rgb c);
    void blend(int x, int y, Rgb c, double alpha);
    void fill(int x, int y, int w, int h, Rgb c);
    void frame(int x, int y, int w, int h, Rgb c);
    // A segment of the given width, anti-aliased by the distance of each pixel centre.
    void line(double x0, double y0, double x1, double y1, Rgb c, double width);
    // Draws s with its top-left (Left), top-centre or top-right at (x, y); px is the font's
    // size in pixels. Returns the text's width.
    int text(int x, int y, const std::string &s, int px, Rgb c, Align a = Align::Left,
             bool bold = false);
    static int text_width(const std::string &s, int px, bool bold = false);
    // Copies a w x h RGB block with its top-left at (x, y); flip: the block's rows bottom first.
    void blit(int x, int y, int w, int h, const uint8_t *rgb, bool flip);

private:
    int w_, h_;
    std::vector<uint8_t> px_;
};

// Encodes the canvas as a PNG (vtkPNGWriter, in memory) and writes it atomically.
ds_status write_png(ds_ctx *ctx, const Canvas &c, const char *path);

// Runs body, turning any C++ exception into a status with a message naming what.
ds_status guard(ds_ctx *ctx, const char *what, const std::function<ds_status()> &body);

// The font size that suits a picture of this height.
int font_px(int height);

} // namespace dsr

#endif
