// overlay.cxx - the overlay (three orthogonal slices through the focus) and the montage of the
// suggested slices. Layout: a title band on top, the slices in the width left of the side band
// (colour bar and legend) on the right, a caption under every slice.
#include "slice.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <string>

using namespace dsr;

namespace {

const char *const AXIS_NAMES[3] = {"sagittal", "coronal", "axial"};
const char AXIS_LETTERS[3] = {'x', 'y', 'z'};

ds_status prepare(ds_ctx *ctx, const ds_volume *image, const ds_volume *label,
                  const ds_volume *entropy, const ds_render_options *o, const char *path,
                  Scene &s)
{
    ds_status st = ds_render_check(ctx, image, label, entropy, o, path);
    if (st != DS_OK)
        return st;
    for (int a = 0; a < 3; ++a)
        if (image->geom.size[a] > (1 << 24))
            return ds_fail(ctx, DS_ERR_ARG, "render: a side of %lld voxels is too long",
                           static_cast<long long>(image->geom.size[a]));
    s = Scene{image, label, entropy, 0.0f, 1.0f, o, std::max(ds_ctx_threads(ctx), 1)};
    return ds_render_window(ctx, image, o, &s.lo, &s.hi);
}

void draw_title(Canvas &c, const ds_render_options *o, const std::string &right, int f)
{
    if (o->title)
        c.text(f / 2, f / 3, o->title, f * 6 / 5, TEXT, Align::Left, true);
    c.text(c.width() - f / 2, f / 3, right, f, DIM_TEXT, Align::Right);
}

std::string slice_caption(int axis, int64_t index, const ds_volume *image)
{
    char buf[96];
    std::snprintf(buf, sizeof buf, "%s  %c = %lld / %lld", AXIS_NAMES[axis], AXIS_LETTERS[axis],
                  static_cast<long long>(index), static_cast<long long>(image->geom.size[axis]));
    return buf;
}

} // namespace

extern "C" ds_status ds_render_overlay(ds_ctx *ctx, const ds_volume *image,
                                       const ds_volume *label, const ds_volume *entropy,
                                       const int64_t focus[3], const ds_render_options *o,
                                       const char *png_path)
{
    Scene s;
    ds_status st = prepare(ctx, image, label, entropy, o, png_path, s);
    if (st != DS_OK)
        return st;
    int64_t at[3];
    if (focus) {
        std::copy(focus, focus + 3, at);
    } else if (entropy) {
        if ((st = ds_render_focus(ctx, label, entropy, at)) != DS_OK)
            return st;
    } else {
        for (int a = 0; a < 3; ++a)
            at[a] = image->geom.size[a] / 2;
    }
    return guard(ctx, "render overlay", [&]() {
        Canvas c(o->width, o->height, BACKGROUND);
        int f = font_px(o->height);
        int top = f * 2, caption = f * 2, gap = f / 2;
        int band = side_band_width(o->width, f);
        int cell_w = (o->width - band - 4 * gap) / 3, cell_h = o->height - top - caption - gap;
        const int order[3] = {2, 1, 0}; // axial, coronal, sagittal
        for (int p = 0; p < 3; ++p) {
            int a = order[p], x = gap + p * (cell_w + gap), rect[4];
            draw_slice(c, s, a, at[a], x, top, cell_w, cell_h, rect);
            c.text(x + cell_w / 2, rect[1] + rect[3] + f / 4, slice_caption(a, at[a], image), f,
                   TEXT, Align::Centre);
        }
        char right[128];
        std::snprintf(right, sizeof right, "window %.4g .. %.4g   spacing %.3g x %.3g x %.3g mm",
                      double(s.lo), double(s.hi), image->geom.spacing[0], image->geom.spacing[1],
                      image->geom.spacing[2]);
        draw_title(c, o, right, f);
        draw_side_band(c, s, o->width - band + gap, top, band - 2 * gap, cell_h);
        return write_png(ctx, c, png_path);
    });
}

extern "C" ds_status ds_render_montage(ds_ctx *ctx, const ds_volume *image,
                                       const ds_volume *label, const ds_volume *entropy,
                                       int axis, const int64_t *indices, const double *scores,
                                       int count, const ds_render_options *o,
                                       const char *png_path)
{
    if (axis < 0 || axis > 2 || !indices || count < 1 || count > 64)
        return ds_fail(ctx, DS_ERR_ARG, "render montage: axis %d (0..2), count %d (1..64)", axis,
                       count);
    Scene s;
    ds_status st = prepare(ctx, image, label, entropy, o, png_path, s);
    if (st != DS_OK)
        return st;
    return guard(ctx, "render montage", [&]() {
        Canvas c(o->width, o->height, BACKGROUND);
        int f = font_px(o->height);
        int top = f * 2, caption = f * 3 / 2, gap = f / 2;
        int band = side_band_width(o->width, f);
        int area_w = o->width - band - gap, area_h = o->height - top;
        // the grid whose cells come closest to the slices' own aspect
        int u = axis == 0 ? 1 : 0, v = axis == 2 ? 1 : 2;
        double aspect = image->geom.size[u] * image->geom.spacing[u] /
                        (image->geom.size[v] * image->geom.spacing[v]);
        int best_cols = 1;
        double best = -1.0;
        for (int cols = 1; cols <= count; ++cols) {
            int rows = (count + cols - 1) / cols;
            double cw = double(area_w) / cols - gap, ch = double(area_h) / rows - caption - gap;
            double side = std::min(cw, ch * aspect); // drawn width of a slice
            if (side > best) {
                best = side;
                best_cols = cols;
            }
        }
        int cols = best_cols, rows = (count + cols - 1) / cols;
        int cw = area_w / cols - gap, ch = area_h / rows - caption - gap;
        for (int n = 0; n < count; ++n) {
            int x = gap + (n % cols) * (cw + gap), y = top + (n / cols) * (ch + caption + gap);
            int rect[4];
            draw_slice(c, s, axis, indices[n], x, y, cw, ch, rect);
            char cap[96];
            if (scores)
                std::snprintf(cap, sizeof cap, "#%d  %c = %lld   score %.3f", n + 1,
                              AXIS_LETTERS[axis], static_cast<long long>(indices[n]), scores[n]);
            else
                std::snprintf(cap, sizeof cap, "#%d  %c = %lld", n + 1, AXIS_LETTERS[axis],
                              static_cast<long long>(indices[n]));
            c.text(x + cw / 2, rect[1] + rect[3] + f / 6, cap, f, TEXT, Align::Centre);
        }
        char right[96];
        std::snprintf(right, sizeof right, "%s slices to label next, most uncertain first",
                      AXIS_NAMES[axis]);
        draw_title(c, o, right, f);
        draw_side_band(c, s, o->width - band + gap, top, band - 2 * gap, area_h - gap);
        return write_png(ctx, c, png_path);
    });
}
