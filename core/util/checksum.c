/* checksum.c - CRC-32 (reflected polynomial 0xEDB88320), slicing-by-4 tables built on first use.
 * The tables are a pure function of the polynomial, so building them twice is harmless. */
#include "ds_checksum.h"

static uint32_t crc_table[4][256];
static int crc_table_ready;

static void build_tables(void)
{
    for (uint32_t i = 0; i < 256; ++i) {
        uint32_t c = i;
        for (int k = 0; k < 8; ++k)
            c = (c & 1u) ? 0xEDB88320u ^ (c >> 1) : c >> 1;
        crc_table[0][i] = c;
    }
    for (uint32_t i = 0; i < 256; ++i)
        for (int t = 1; t < 4; ++t)
            crc_table[t][i] = (crc_table[t - 1][i] >> 8) ^ crc_table[0][crc_table[t - 1][i] & 0xFFu];
#pragma omp atomic write
    crc_table_ready = 1;
}

uint32_t ds_crc32(uint32_t crc, const void *data, size_t size)
{
    int ready;
#pragma omp atomic read
    ready = crc_table_ready;
    if (!ready) {
#pragma omp critical(ds_crc32_tables)
        {
            if (!crc_table_ready)
                build_tables();
        }
    }
    const unsigned char *p = data;
    crc = ~crc;
    while (size >= 4) {
        crc ^= (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
        crc = crc_table[3][crc & 0xFFu] ^ crc_table[2][(crc >> 8) & 0xFFu] ^
              crc_table[1][(crc >> 16) & 0xFFu] ^ crc_table[0][crc >> 24];
        p += 4;
        size -= 4;
    }
    while (size--)
        crc = crc_table[0][(crc ^ *p++) & 0xFFu] ^ (crc >> 8);
    return ~crc;
}
