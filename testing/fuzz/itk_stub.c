/* itk_stub.c - the ITK bridge of io_internal.h for the fuzz build only: Debian's ITK 5.2 headers
 * refuse clang, and no harness reads or writes a volume through ITK (they fuzz DualSeg's own
 * parsers), so these refuse. */
#include "ds_io.h"
#include "io_internal.h"

ds_status ds_io_itk_version(ds_ctx *ctx, char *buf, size_t cap)
{
    (void)buf;
    (void)cap;
    return ds_fail(ctx, DS_ERR_UNSUPPORTED, "fuzz build: no ITK");
}

ds_status ds_itk_read(ds_ctx *ctx, const char *path, int as_label, ds_volume **out)
{
    (void)as_label;
    *out = NULL;
    return ds_fail(ctx, DS_ERR_UNSUPPORTED, "%s: fuzz build: no ITK", path);
}

ds_status ds_itk_write(ds_ctx *ctx, const ds_volume *v, const char *path, int compress,
                       const char *shown)
{
    (void)v;
    (void)path;
    (void)compress;
    return ds_fail(ctx, DS_ERR_UNSUPPORTED, "%s: fuzz build: no ITK", shown);
}
