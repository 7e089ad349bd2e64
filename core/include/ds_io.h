/* ds_io.h - volumes and cohorts, read and written through the ITK bridge (core/io). */
#ifndef DS_IO_H
#define DS_IO_H

#include <stddef.h>
#include "ds_status.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Writes the version of the ITK library the bridge was built against ("5.2.1") into buf. */
ds_status ds_io_itk_version(ds_ctx *ctx, char *buf, size_t cap);

#ifdef __cplusplus
}
#endif

#endif /* DS_IO_H */
