/* ds_checksum.h - CRC-32 (IEEE 802.3, the polynomial of zlib, PNG and gzip) for file integrity. */
#ifndef DS_CHECKSUM_H
#define DS_CHECKSUM_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Continues a CRC: start with crc = 0; ds_crc32(0, "123456789", 9) == 0xCBF43926. */
uint32_t ds_crc32(uint32_t crc, const void *data, size_t size);

#ifdef __cplusplus
}
#endif

#endif
