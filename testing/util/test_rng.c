/* test_rng.c - Philox4x32-10 streams: known answers, determinism, thread-count independence.
 *
 * The three known-answer vectors are the Philox4x32-10 "kat_vectors" of the Random123 library
 * (D. E. Shaw Research), the reference implementation of Salmon et al., SC 2011.
 */
#include "ds_rng.h"
#include "ds_test.h"
#include "ds_threads.h"

#include <stdlib.h>

static void check_kat(const uint32_t ctr[4], const uint32_t key[2], const uint32_t want[4])
{
    uint32_t got[4];
    ds_philox4x32_10(ctr, key, got);
    for (int i = 0; i < 4; ++i)
        DS_CHECK_MSG(got[i] == want[i], "lane %d: %08x, want %08x", i, got[i], want[i]);
}

int main(void)
{
    ds_ctx *ctx = NULL;
    ds_ctx_create(&ctx);

    {
        const uint32_t c[4] = {0, 0, 0, 0}, k[2] = {0, 0};
        const uint32_t w[4] = {0x6627e8d5, 0xe169c58d, 0xbc57ac4c, 0x9b00dbd8};
        check_kat(c, k, w);
    }
    {
        const uint32_t c[4] = {0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff};
        const uint32_t k[2] = {0xffffffff, 0xffffffff};
        const uint32_t w[4] = {0x408f276d, 0x41c83b0e, 0xa20bc7c6, 0x6d5451fd};
        check_kat(c, k, w);
    }
    {
        const uint32_t c[4] = {0x243f6a88, 0x85a308d3, 0x13198a2e, 0x03707344};
        const uint32_t k[2] = {0xa4093822, 0x299f31d0};
        const uint32_t w[4] = {0xd16cfe09, 0x94fdcceb, 0x5001e420, 0x24126ea1};
        check_kat(c, k, w);
    }

    /* Same seed and purpose: same stream; other purpose or seed: another stream. */
    ds_rng a, b, other_purpose, other_seed;
    ds_rng_init(&a, 1337, DS_RNG_CROP);
    ds_rng_init(&b, 1337, DS_RNG_CROP);
    ds_rng_init(&other_purpose, 1337, DS_RNG_DROPOUT_A);
    ds_rng_init(&other_seed, 1338, DS_RNG_CROP);
    int same = 1, differ_purpose = 0, differ_seed = 0;
    for (int i = 0; i < 1000; ++i) {
        uint32_t x = ds_rng_u32(&a);
        same &= x == ds_rng_u32(&b);
        differ_purpose += x != ds_rng_u32(&other_purpose);
        differ_seed += x != ds_rng_u32(&other_seed);
    }
    DS_CHECK(same);
    DS_CHECK(differ_purpose >= 999 && differ_seed >= 999);
    DS_CHECK(a.counter == 1000);

    /* ds_rng_at is the pure function behind the stream. */
    ds_rng_init(&a, 7, DS_RNG_TEST);
    uint32_t seq[9];
    for (int i = 0; i < 9; ++i)
        seq[i] = ds_rng_u32(&a);
    for (int i = 0; i < 9; ++i)
        DS_CHECK(ds_rng_at(&a, (uint64_t)i) == seq[i]);

    /* Bulk fills equal the sequential draws and are identical for 1 and 2 threads. */
    enum { N = 300001 };
    float *u1 = malloc(N * sizeof *u1), *u2 = malloc(N * sizeof *u2);
    float *n1 = malloc(N * sizeof *n1), *n2 = malloc(N * sizeof *n2);
    DS_CHECK(u1 && u2 && n1 && n2);
    ds_rng r1, r2, rs;
    ds_rng_init(&r1, 42, DS_RNG_INIT_A);
    r1.counter = 3; /* start mid-block */
    r2 = r1;
    rs = r1;
    DS_CHECK_OK(ctx, ds_threads_set(ctx, 1));
    DS_CHECK_OK(ctx, ds_rng_fill_uniform(ctx, &r1, u1, N));
    DS_CHECK_OK(ctx, ds_rng_fill_normal(ctx, &r1, n1, N, 0.0f, 1.0f));
    DS_CHECK_OK(ctx, ds_threads_set(ctx, 2));
    DS_CHECK_OK(ctx, ds_rng_fill_uniform(ctx, &r2, u2, N));
    DS_CHECK_OK(ctx, ds_rng_fill_normal(ctx, &r2, n2, N, 0.0f, 1.0f));
    DS_CHECK(memcmp(u1, u2, N * sizeof *u1) == 0);
    DS_CHECK(memcmp(n1, n2, N * sizeof *n1) == 0);
    DS_CHECK(r1.counter == r2.counter && r1.counter == 3u + 3u * N);
    int seq_match = 1;
    for (int i = 0; i < N; ++i)
        seq_match &= ds_rng_uniform(&rs) == u1[i];
    for (int i = 0; i < 1000; ++i)
        seq_match &= ds_rng_normal(&rs) == n1[i];
    DS_CHECK(seq_match);

    /* Moments: uniform mean 1/2, variance 1/12; normal mean 0, variance 1 (N = 3e5 draws, so the
     * standard error of the mean is about 5e-4 for the uniform and 2e-3 for the normal). */
    double su = 0, suu = 0, sn = 0, snn = 0;
    int in_range = 1;
    for (int i = 0; i < N; ++i) {
        in_range &= u1[i] >= 0.0f && u1[i] < 1.0f;
        su += u1[i];
        suu += (double)u1[i] * u1[i];
        sn += n1[i];
        snn += (double)n1[i] * n1[i];
    }
    DS_CHECK(in_range);
    DS_CHECK_CLOSE(su / N, 0.5, 0.0, 3e-3);
    DS_CHECK_CLOSE(suu / N - (su / N) * (su / N), 1.0 / 12.0, 0.0, 2e-3);
    DS_CHECK_CLOSE(sn / N, 0.0, 0.0, 1e-2);
    DS_CHECK_CLOSE(snn / N - (sn / N) * (sn / N), 1.0, 0.0, 2e-2);

    /* ds_rng_below: every value in range, all values hit, roughly equal counts. */
    int counts[7] = {0};
    ds_rng_init(&a, 99, DS_RNG_SAMPLING);
    for (int i = 0; i < 70000; ++i) {
        uint32_t v = ds_rng_below(&a, 7);
        DS_CHECK_MSG(v < 7, "below(7) gave %u", v);
        if (v < 7)
            counts[v]++;
    }
    for (int i = 0; i < 7; ++i)
        DS_CHECK_MSG(abs(counts[i] - 10000) < 500, "value %d drawn %d times of 70000", i, counts[i]);
    DS_CHECK(ds_rng_below(&a, 1) == 0 && ds_rng_below(&a, 0) == 0);

    /* Bad arguments are refused with a message. */
    DS_CHECK_FAILS(ctx, ds_rng_fill_normal(ctx, &a, n1, 10, 0.0f, -1.0f), DS_ERR_ARG);
    DS_CHECK_FAILS(ctx, ds_rng_fill_uniform(ctx, &a, NULL, 10), DS_ERR_ARG);

    free(u1);
    free(u2);
    free(n1);
    free(n2);
    ds_ctx_free(ctx);
    return ds_test_finish("test_rng");
}
