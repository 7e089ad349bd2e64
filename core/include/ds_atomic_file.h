/* ds_atomic_file.h - writing a file so that it appears whole or not at all.
 *
 * ds_atomic_open creates a temporary file beside the destination (same folder, so the final
 * rename is atomic) with mode 0644; the caller writes through ->f; ds_atomic_commit flushes it to
 * disk, renames it over the destination and syncs the folder; ds_atomic_abort (or a failed
 * commit) removes the temporary file. An existing destination is never left half-written, and a
 * cancelled process leaves at most a "<name>.tmp.XXXXXX" file, never a truncated <name>.
 */
#ifndef DS_ATOMIC_FILE_H
#define DS_ATOMIC_FILE_H

#include <stdio.h>
#include "ds_status.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct ds_atomic_file {
    FILE *f;
    char *tmp_path;
    char *path;
} ds_atomic_file;

ds_status ds_atomic_open(ds_ctx *ctx, ds_atomic_file *af, const char *path);
/* Commits what was written; on any failure (including an earlier write error on f) removes the
 * temporary file and fails with a message naming path. Always releases af. */
ds_status ds_atomic_commit(ds_ctx *ctx, ds_atomic_file *af);
/* Discards the temporary file and releases af; safe on a zeroed or released af. */
void ds_atomic_abort(ds_atomic_file *af);

#ifdef __cplusplus
}
#endif

#endif
