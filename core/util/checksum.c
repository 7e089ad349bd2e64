/* checksum.c - CRC-32 through zlib's crc32_z: the same reflected polynomial 0xEDB88320 and the
 * same pre/post inversion as the slicing-by-4 code it replaced, so older model files still load. */
#include "ds_checksum.h"

#include <zlib.h>

uint32_t ds_crc32(uint32_t crc, const void *data, size_t size)
{
    return (uint32_t)crc32_z(crc, data, size);
}
