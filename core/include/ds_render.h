/* ds_render.h - pictures and files for people and other viewers: overlay and montage PNGs of a
 * segmentation with its entropy map, the training-curve plot, xy plots (benchmarks), a Slicer
 * colour table for the entropy and VTK image data (.vti) for ParaView. Everything goes through
 * the VTK bridge (core/render, C++ inside) with VTK's imaging pipeline only (vtkImageReslice,
 * vtkImageMapToColors, vtkImageBlend, vtkPNGWriter / vtkXMLImageDataWriter) and FreeType for
 * text: no OpenGL, no display.
 *
 * Pictures. Slices are cut in voxel index space (x, y, z of the volume; the direction matrix is
 * not applied) and shown in the radiological convention for an axis-aligned LPS volume: axial
 * (across z) with x to the right and y downwards, coronal (across y) and sagittal (across x)
 * with z upwards. Pixels are square in mm: anisotropic spacing is resampled (vtkImageReslice,
 * linear for the image and entropy, nearest for the labels), never stretched. The grey image is
 * windowed to robust percentiles; every foreground class's outline is drawn in its own colour;
 * the entropy is a heat overlay (dark red -> yellow) whose opacity rises from 0 at
 * entropy_min, so zero-entropy voxels stay plain grey.
 *
 * Every file is written atomically (encoded in memory, then ds_atomic_file). Inputs are
 * borrowed. The library never prints. VTK's imaging filters run on ds_ctx_threads(ctx) threads;
 * the pictures are the same for every thread count (each output pixel is computed alone).
 * Pictures must not be drawn from two threads at once: VTK's FreeType cache is a process-wide
 * singleton (vtkFreeTypeTools), the one global state the bridge touches.
 */
#ifndef DS_RENDER_H
#define DS_RENDER_H

#include <stddef.h>
#include <stdint.h>
#include "ds_status.h"
#include "ds_volume.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Writes the version of the VTK library the bridge was built against ("9.1.0") into buf. */
ds_status ds_render_vtk_version(ds_ctx *ctx, char *buf, size_t cap);

/* Largest picture side accepted, in pixels. */
#define DS_RENDER_MAX_SIDE 8192
/* Entries of the entropy colour table (ds_render_write_color_table). */
#define DS_RENDER_HEAT_ENTRIES 256

typedef struct ds_render_options {
    int width, height;            /* the PNG's size in pixels, each 160..DS_RENDER_MAX_SIDE */
    double percentile_lo;         /* grey window: these percentiles of the image, 0..100 */
    double percentile_hi;
    float entropy_min;            /* normalised entropy at or below it is transparent */
    float entropy_opacity;        /* opacity of the heat at entropy 1 (0..1) */
    const char *title;            /* top line (e.g. the case id); NULL: none */
    const char *const *class_names; /* names of classes 1..class_name_count for the legend;
                                       NULL (the array or an entry) or "": "class k" */
    int class_name_count;
} ds_render_options;

/* 1200 x 520, percentiles 1 and 99, entropy_min 0.05, opacity 0.8, no title, "class k". */
void ds_render_options_init(ds_render_options *o);

/* The voxel the overlay is centred on: along each axis the slice holding the largest sum of
 * entropy (the most uncertain slice; lowest index on ties); where the entropy is 0 everywhere,
 * the centre of the predicted foreground's bounding box, or of the volume if nothing is
 * predicted. label may be NULL (then only the entropy counts). */
ds_status ds_render_focus(ds_ctx *ctx, const ds_volume *label, const ds_volume *entropy,
                          int64_t focus[3]);

/* Axial, coronal and sagittal slices through focus (NULL: ds_render_focus, or the volume's
 * centre without entropy), side by side, with
 * the colour bar of the entropy, the legend of the outlines and the title, as a PNG of
 * o->width x o->height. image is scalar; label (a label map) and entropy (scalar, [0, 1]) may be
 * NULL and must otherwise have the image's size. */
ds_status ds_render_overlay(ds_ctx *ctx, const ds_volume *image, const ds_volume *label,
                            const ds_volume *entropy, const int64_t focus[3],
                            const ds_render_options *o, const char *png_path);

/* The slices indices[0..count-1] across axis (0, 1, 2: x, y, z, as ds_infer_rank_slices) in a
 * grid (count 1..64), each captioned with its index and score (scores may be NULL), with the
 * colour bar and legend, as a PNG of o->width x o->height. */
ds_status ds_render_montage(ds_ctx *ctx, const ds_volume *image, const ds_volume *label,
                            const ds_volume *entropy, int axis, const int64_t *indices,
                            const double *scores, int count, const ds_render_options *o,
                            const char *png_path);

/* ---- Files for other viewers ---- */

/* The heat colour of normalised entropy t in [0, 1] (clamped), with the overlay's opacity ramp
 * of o (NULL: the defaults) as alpha: the one palette of the overlays, bar and colour table. */
void ds_render_heat_rgba(const ds_render_options *o, double t, uint8_t rgba[4]);

/* A Slicer colour table (.ctbl / .txt, "# Color table file" header, lines "index name R G B
 * A") of DS_RENDER_HEAT_ENTRIES entries: entry i is the heat of entropy i / 255, entry 0
 * transparent. Loaded on an entropy map with window 0..1 it shows the overlays' heat. */
ds_status ds_render_write_color_table(ds_ctx *ctx, const char *path);

/* VTK XML image data (.vti, binary, zlib): the image's geometry (origin, spacing and the
 * direction matrix, in LPS as everywhere in DualSeg; ParaView shows the coordinates as they
 * are) with point arrays "image" (float32), "label" (uint16), "entropy" and "disagreement"
 * (float32); every volume but image may be NULL, and those given must have the image's size. */
ds_status ds_render_write_vti(ds_ctx *ctx, const char *path, const ds_volume *image,
                              const ds_volume *label, const ds_volume *entropy,
                              const ds_volume *disagreement);

/* ---- The training curve ---- */

/* A numeric CSV table: a header of column names, then rows of numbers; an empty field is NaN. */
typedef struct ds_render_table {
    int columns;
    int64_t rows;
    char **names;    /* columns names */
    double *values;  /* rows x columns, row-major */
} ds_render_table;

/* Reads a CSV such as the trainer's log (ds_train.h); a torn last line (no newline: a stopped
 * run) is dropped. DS_ERR_FORMAT, naming the line, on a field that is not a number or a row of
 * the wrong width. out is zeroed first. */
ds_status ds_render_read_csv(ds_ctx *ctx, const char *path, ds_render_table *out);
void ds_render_table_free(ds_render_table *t);
/* Index of the column called name, or -1. */
int ds_render_table_column(const ds_render_table *t, const char *name);

/* Three panels against "iteration": the loss totals and terms of both networks (log scale; a
 * term that is 0 or NaN throughout is left out), the learning rate, and the kept fraction of
 * the entropy mask (and the validation Dice where logged), each with axes, ticks and a legend,
 * as a PNG of o->width x o->height. */
ds_status ds_render_training_curve(ds_ctx *ctx, const ds_render_table *log,
                                   const ds_render_options *o, const char *png_path);

/* ---- Plots of numbers (benchmarks: a scatter of two methods, cost against size) ---- */

typedef enum ds_render_mark {
    DS_RENDER_MARK_LINE = 0, /* points joined in the given order, a dot at each */
    DS_RENDER_MARK_POINTS    /* dots only (a scatter) */
} ds_render_mark;

typedef enum ds_render_scale { DS_RENDER_SCALE_LINEAR = 0, DS_RENDER_SCALE_LOG } ds_render_scale;

typedef enum ds_render_guide {
    DS_RENDER_GUIDE_NONE = 0,
    DS_RENDER_GUIDE_DIAGONAL /* the line y = x, both axes on one range (method B against A) */
} ds_render_guide;

typedef struct ds_render_series {
    const char *name;    /* the legend entry */
    const double *x, *y; /* count points; a point with a non-finite coordinate (or <= 0 on a log
                            axis) is skipped */
    int64_t count;
    ds_render_mark mark;
} ds_render_series;

typedef struct ds_render_plot_options {
    const char *x_label, *y_label; /* NULL: none */
    ds_render_scale x_scale, y_scale;
    ds_render_guide guide;
} ds_render_plot_options;

/* No labels, linear axes, no guide. */
void ds_render_plot_options_init(ds_render_plot_options *p);

/* One panel: the series (1..10, each in its palette colour; the legend in the corner that hides the
 * fewest of their pixels, the top-right on a tie)
 * on axes fitted to their points, o->title on top, as a PNG of o->width x o->height.
 * DS_ERR_ARG when no point of any series is drawable. */
ds_status ds_render_xy_plot(ds_ctx *ctx, const ds_render_series *series, int count,
                            const ds_render_plot_options *p, const ds_render_options *o,
                            const char *png_path);

/* One panel: every column of t but x_column drawn against it as a line (its name in the
 * legend; NaN values are left out), y_label above the panel, x_column below, as a PNG of
 * o->width x o->height. For small result tables (a benchmark's score per round and strategy). */
ds_status ds_render_line_plot(ds_ctx *ctx, const ds_render_table *t, const char *x_column,
                              const char *y_label, const ds_render_options *o,
                              const char *png_path);

/* ---- Reading pictures back (tests, tools) ---- */

typedef struct ds_render_png {
    int width, height;
    uint8_t *rgb;    /* width x height x 3, top row first */
} ds_render_png;

/* Reads a PNG (vtkPNGReader) as 8-bit RGB (grey is expanded, alpha dropped). out is zeroed
 * first. */
ds_status ds_render_read_png(ds_ctx *ctx, const char *path, ds_render_png *out);
void ds_render_png_free(ds_render_png *p);

#ifdef __cplusplus
}
#endif

#endif /* DS_RENDER_H */
