// itk_bridge.cxx - the thin C++ layer between the C core and ITK. Every function here has C
// linkage, takes a ds_ctx for its error message, and lets no C++ exception cross into C.
#include "ds_io.h"

#include <itkVersion.h>

#include <cstdio>
#include <exception>

extern "C" ds_status ds_io_itk_version(ds_ctx *ctx, char *buf, size_t cap)
{
    if (!buf || cap == 0)
        return ds_fail(ctx, DS_ERR_ARG, "ds_io_itk_version: empty output buffer");
    try {
        std::snprintf(buf, cap, "%s", itk::Version::GetITKVersion());
        return DS_OK;
    } catch (const std::exception &e) {
        return ds_fail(ctx, DS_ERR_INTERNAL, "ITK: %s", e.what());
    }
}
