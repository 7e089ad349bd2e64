/* ds_rng.h - deterministic, seeded, counter-based random numbers (Philox4x32-10).
 *
 * A stream is fixed by (seed, purpose). Each purpose (initialisation of network A, cropping,
 * dropout of network B, ...) has its own stream, so adding draws for one purpose never shifts the
 * numbers of another. Because Philox is counter-based, the value at position i of a stream is a
 * pure function of (seed, purpose, i): bulk fills split the range across threads and still give
 * the same numbers for any thread count. The whole state is two integers and a counter, so it can
 * be saved in a model file and training resumed exactly.
 *
 * Reference: Salmon, Moraes, Dror, Shaw, "Parallel random numbers: as easy as 1, 2, 3", SC 2011.
 */
#ifndef DS_RNG_H
#define DS_RNG_H

#include <stdint.h>
#include "ds_status.h"

#ifdef __cplusplus
extern "C" {
#endif

/* The purposes that own a stream. Values are part of the model file format: append only. */
typedef enum ds_rng_purpose {
    DS_RNG_INIT_A = 1,        /* weight initialisation of network A     */
    DS_RNG_INIT_B = 2,        /* weight initialisation of network B     */
    DS_RNG_DROPOUT_A = 3,     /* Dropout3d masks of network A           */
    DS_RNG_DROPOUT_B = 4,     /* Dropout3d masks of network B           */
    DS_RNG_SAMPLING = 5,      /* choice of cases for a batch            */
    DS_RNG_CROP = 6,          /* random crop positions                  */
    DS_RNG_CONTRAST = 7,      /* uncertain-voxel sampling for L_con     */
    DS_RNG_AUGMENT = 8,       /* data augmentation                      */
    DS_RNG_SYNTHETIC = 9,     /* synthetic phantoms and the demo cohort */
    DS_RNG_ANNOTATOR = 10,    /* the simulated annotator's slices     */
    DS_RNG_TEST = 100         /* tests and benchmarks                   */
} ds_rng_purpose;

typedef struct ds_rng {
    uint32_t key[2];  /* the seed, low and high 32 bits                  */
    uint32_t purpose; /* the stream's purpose, part of every Philox counter */
    uint64_t counter; /* index of the next 32-bit value of the stream     */
} ds_rng;

/* The raw Philox4x32-10 block function: out = philox(ctr, key). Exposed for known-answer tests. */
void ds_philox4x32_10(const uint32_t ctr[4], const uint32_t key[2], uint32_t out[4]);

/* Starts the stream of (seed, purpose) at position 0. */
void ds_rng_init(ds_rng *rng, uint64_t seed, uint32_t purpose);

/* The 32-bit value at position index of rng's stream (does not advance rng). */
uint32_t ds_rng_at(const ds_rng *rng, uint64_t index);

/* Next values of the stream; each advances the counter. */
uint32_t ds_rng_u32(ds_rng *rng);
/* Uniform float in [0, 1) with 24 random bits. */
float ds_rng_uniform(ds_rng *rng);
/* Uniform integer in [0, n) without modulo bias; n >= 1. */
uint32_t ds_rng_below(ds_rng *rng, uint32_t n);
/* Standard normal draw (Box-Muller on two stream values, computed in double). */
float ds_rng_normal(ds_rng *rng);

/* Bulk fills, parallel over ds_ctx_threads(ctx) threads, identical for every thread count.
 * Element i uses stream position counter + i (uniform) or counter + 2i, +2i+1 (normal); the
 * counter advances by n (uniform) or 2n (normal). */
ds_status ds_rng_fill_uniform(ds_ctx *ctx, ds_rng *rng, float *out, size_t n);
ds_status ds_rng_fill_normal(ds_ctx *ctx, ds_rng *rng, float *out, size_t n, float mean, float std);

#ifdef __cplusplus
}
#endif

#endif /* DS_RNG_H */
