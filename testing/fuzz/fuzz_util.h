/* fuzz_util.h - what the libFuzzer harnesses share: a scratch folder that lives as long as the
 * process, files in it rewritten with each input, and the replay driver's entry point.
 *
 * The readers under test take paths, not buffers, so each input goes through a real file (cheap
 * on tmpfs, and the same code path users hit).
 */
#ifndef DS_FUZZ_UTIL_H
#define DS_FUZZ_UTIL_H

#include <stddef.h>
#include <stdint.h>

#include "ds_status.h"

/* The libFuzzer entry point each harness defines. */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* One context for the whole process (aborts if it cannot be made: nothing to fuzz without it). */
ds_ctx *fuzz_ctx(void);
/* The path of rel inside the scratch folder (created on first use, removed at exit); rel may
 * name one sub-folder level ("imagesTr/a.nii.gz"), which is created. The string is owned here. */
const char *fuzz_path(const char *rel);
/* Replaces the file at path with data[0..size); aborts on failure (a broken harness). */
void fuzz_write(const char *path, const uint8_t *data, size_t size);

#endif /* DS_FUZZ_UTIL_H */
