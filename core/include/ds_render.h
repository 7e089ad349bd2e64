/* ds_render.h - overlays and snapshots of volumes and uncertainty maps, through the VTK bridge
 * (core/render). */
#ifndef DS_RENDER_H
#define DS_RENDER_H

#include <stddef.h>
#include "ds_status.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Writes the version of the VTK library the bridge was built against ("9.1.0") into buf. */
ds_status ds_render_vtk_version(ds_ctx *ctx, char *buf, size_t cap);

#ifdef __cplusplus
}
#endif

#endif /* DS_RENDER_H */
