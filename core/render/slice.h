// slice.h - one slice of a volume and its maps, resampled to square pixels in mm and composed
// (grey window, heat overlay, class outlines) through VTK's imaging pipeline. C++, private.
#ifndef DS_RENDER_SLICE_H
#define DS_RENDER_SLICE_H

#include "canvas.h"

namespace dsr {

struct Scene {
    const ds_volume *image, *label, *entropy;
    float lo, hi; // grey window
    const ds_render_options *opt;
    int threads; // VTK's imaging filters run on ds_ctx_threads(ctx), not on every core
};

// Draws slice `index` across `axis` (0, 1, 2) of the scene into the cell (x, y, w, h) of the
// canvas, as large as fits with square mm pixels, centred; the rest of the cell stays as it is.
// Returns the drawn rectangle in rect (x, y, w, h).
void draw_slice(Canvas &c, const Scene &s, int axis, int64_t index, int x, int y, int w, int h,
                int rect[4]);

// The side band: the entropy colour bar with ticks, then the legend of the class outlines.
void draw_side_band(Canvas &c, const Scene &s, int x, int y, int w, int h);

// Width of the side band of a picture of width w.
int side_band_width(int w, int font);

} // namespace dsr

#endif
