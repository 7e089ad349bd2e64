// vtk_bridge.cxx - the thin C++ layer between the C core and VTK. Every function here has C
// linkage, takes a ds_ctx for its error message, and lets no C++ exception cross into C.
#include "ds_render.h"

#include <vtkVersion.h>

#include <cstdio>
#include <exception>

extern "C" ds_status ds_render_vtk_version(ds_ctx *ctx, char *buf, size_t cap)
{
    if (!buf || cap == 0)
        return ds_fail(ctx, DS_ERR_ARG, "ds_render_vtk_version: empty output buffer");
    try {
        std::snprintf(buf, cap, "%s", vtkVersion::GetVTKVersion());
        return DS_OK;
    } catch (const std::exception &e) {
        return ds_fail(ctx, DS_ERR_INTERNAL, "VTK: %s", e.what());
    }
}
