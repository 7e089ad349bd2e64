/* render_internal.h - what the C and C++ halves of core/render share. C linkage throughout. */
#ifndef DS_RENDER_INTERNAL_H
#define DS_RENDER_INTERNAL_H

#include "ds_render.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Number of outline colours before they repeat. */
#define DS_RENDER_CLASS_COLOURS 6

/* The outline colour of foreground class k >= 1. */
void ds_render_class_rgb(int k, uint8_t rgb[3]);
/* Checks o, the volumes' kinds and that label / entropy (may be NULL) have image's size. */
ds_status ds_render_check(ds_ctx *ctx, const ds_volume *image, const ds_volume *label,
                          const ds_volume *entropy, const ds_render_options *o,
                          const char *png_path);
/* The grey window [*lo, *hi] (hi > lo) of image from o's percentiles (histogram of 4096 bins
 * between the finite minimum and maximum). */
ds_status ds_render_window(ds_ctx *ctx, const ds_volume *image, const ds_render_options *o,
                           float *lo, float *hi);
/* Largest label value of a label volume (0 if none or NULL), the ignore label 255 excluded. */
int ds_render_max_class(const ds_volume *label);
/* Writes size bytes of data to path atomically (ds_atomic_file). */
ds_status ds_render_write_bytes(ds_ctx *ctx, const char *path, const void *data, size_t size);

#ifdef __cplusplus
}
#endif

#endif
