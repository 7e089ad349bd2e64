/* fuzz_model_load.c - ds_model_load on any bytes. The harness rewrites the CRC-32 trailer to
 * match, so that the fuzzer gets past the checksum into the section, network and parameter
 * checks behind it (the checksum test itself is a single comparison). */
#include "ds_checksum.h"
#include "ds_model.h"
#include "fuzz_util.h"

#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    uint8_t *copy = malloc(size ? size : 1);
    if (!copy)
        return 0;
    memcpy(copy, data, size);
    if (size >= 20) {
        uint32_t crc = ds_crc32(0, copy, size - 4);
        for (int i = 0; i < 4; ++i)
            copy[size - 4 + i] = (uint8_t)(crc >> (8 * i));
    }
    const char *path = fuzz_path("model.dsm");
    fuzz_write(path, copy, size);
    free(copy);
    ds_model *m = NULL;
    if (ds_model_load(fuzz_ctx(), &m, path) == DS_OK && !m)
        abort(); /* success must come with a model */
    ds_model_free(m);
    return 0;
}
