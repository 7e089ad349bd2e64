/* rng.c - Philox4x32-10 streams (see ds_rng.h).
 *
 * Position p of the stream (seed, purpose) is lane p % 4 of the block
 * philox(ctr = {block lo, block hi, purpose, 0}, key = {seed lo, seed hi}) with block = p / 4.
 */
#include "ds_rng.h"
#include "ds_threads.h"

#include <math.h>

#define PHILOX_M0 0xD2511F53u
#define PHILOX_M1 0xCD9E8D57u
#define PHILOX_W0 0x9E3779B9u
#define PHILOX_W1 0xBB67AE85u

void ds_philox4x32_10(const uint32_t ctr[4], const uint32_t key[2], uint32_t out[4])
{
    uint32_t c0 = ctr[0], c1 = ctr[1], c2 = ctr[2], c3 = ctr[3];
    uint32_t k0 = key[0], k1 = key[1];
    for (int round = 0; round < 10; ++round) {
        if (round > 0) {
            k0 += PHILOX_W0;
            k1 += PHILOX_W1;
        }
        uint64_t p0 = (uint64_t)PHILOX_M0 * c0;
        uint64_t p1 = (uint64_t)PHILOX_M1 * c2;
        uint32_t n0 = (uint32_t)(p1 >> 32) ^ c1 ^ k0;
        uint32_t n1 = (uint32_t)p1;
        uint32_t n2 = (uint32_t)(p0 >> 32) ^ c3 ^ k1;
        uint32_t n3 = (uint32_t)p0;
        c0 = n0;
        c1 = n1;
        c2 = n2;
        c3 = n3;
    }
    out[0] = c0;
    out[1] = c1;
    out[2] = c2;
    out[3] = c3;
}

void ds_rng_init(ds_rng *rng, uint64_t seed, uint32_t purpose)
{
    rng->key[0] = (uint32_t)seed;
    rng->key[1] = (uint32_t)(seed >> 32);
    rng->purpose = purpose;
    rng->counter = 0;
}

static void block_at(const ds_rng *rng, uint64_t block, uint32_t out[4])
{
    const uint32_t ctr[4] = {(uint32_t)block, (uint32_t)(block >> 32), rng->purpose, 0u};
    ds_philox4x32_10(ctr, rng->key, out);
}

uint32_t ds_rng_at(const ds_rng *rng, uint64_t index)
{
    uint32_t out[4];
    block_at(rng, index >> 2, out);
    return out[index & 3];
}

uint32_t ds_rng_u32(ds_rng *rng) { return ds_rng_at(rng, rng->counter++); }

static inline float to_unit_float(uint32_t x) { return (float)(x >> 8) * (1.0f / 16777216.0f); }

float ds_rng_uniform(ds_rng *rng) { return to_unit_float(ds_rng_u32(rng)); }

uint32_t ds_rng_below(ds_rng *rng, uint32_t n)
{
    if (n <= 1)
        return 0;
    const uint32_t threshold = (uint32_t)(-n) % n; /* 2^32 mod n: values below it are biased */
    for (;;) {
        uint32_t x = ds_rng_u32(rng);
        if (x >= threshold)
            return x % n;
    }
}

/* Box-Muller on two consecutive stream values a, b: u1 in (0, 1], u2 in [0, 1). */
static inline float box_muller(uint32_t a, uint32_t b)
{
    const double u1 = ((double)a + 1.0) * (1.0 / 4294967296.0);
    const double u2 = (double)b * (1.0 / 4294967296.0);
    return (float)(sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2));
}

float ds_rng_normal(ds_rng *rng)
{
    const uint32_t a = ds_rng_u32(rng);
    const uint32_t b = ds_rng_u32(rng);
    return box_muller(a, b);
}

/* Reads stream positions in increasing order, computing each Philox block once. */
typedef struct block_cursor {
    const ds_rng *rng;
    uint64_t block;
    uint32_t lanes[4];
    int valid;
} block_cursor;

static inline uint32_t cursor_at(block_cursor *cur, uint64_t index)
{
    const uint64_t block = index >> 2;
    if (!cur->valid || cur->block != block) {
        block_at(cur->rng, block, cur->lanes);
        cur->block = block;
        cur->valid = 1;
    }
    return cur->lanes[index & 3];
}

ds_status ds_rng_fill_uniform(ds_ctx *ctx, ds_rng *rng, float *out, size_t n)
{
    if (!rng || (!out && n))
        return ds_fail(ctx, DS_ERR_ARG, "ds_rng_fill_uniform: null stream or output");
    const uint64_t base = rng->counter;
    const int64_t count = (int64_t)n;
#pragma omp parallel num_threads(ds_ctx_threads(ctx)) if (count > 65536)
    {
        block_cursor cur = {rng, 0, {0, 0, 0, 0}, 0};
#pragma omp for schedule(static)
        for (int64_t i = 0; i < count; ++i)
            out[i] = to_unit_float(cursor_at(&cur, base + (uint64_t)i));
    }
    rng->counter = base + (uint64_t)n;
    return DS_OK;
}

ds_status ds_rng_fill_normal(ds_ctx *ctx, ds_rng *rng, float *out, size_t n, float mean, float std)
{
    if (!rng || (!out && n))
        return ds_fail(ctx, DS_ERR_ARG, "ds_rng_fill_normal: null stream or output");
    if (!isfinite(mean) || !isfinite(std) || std < 0.0f)
        return ds_fail(ctx, DS_ERR_ARG, "ds_rng_fill_normal: mean %g / std %g are not valid",
                       (double)mean, (double)std);
    const uint64_t base = rng->counter;
    const int64_t count = (int64_t)n;
#pragma omp parallel num_threads(ds_ctx_threads(ctx)) if (count > 32768)
    {
        block_cursor cur = {rng, 0, {0, 0, 0, 0}, 0};
#pragma omp for schedule(static)
        for (int64_t i = 0; i < count; ++i) {
            const uint64_t p = base + 2u * (uint64_t)i;
            const uint32_t a = cursor_at(&cur, p);
            const uint32_t b = cursor_at(&cur, p + 1);
            out[i] = mean + std * box_muller(a, b);
        }
    }
    rng->counter = base + 2u * (uint64_t)n;
    return DS_OK;
}
