/* conv_winograd.h - private: what the Winograd forward (conv_winograd.c) and backward-weights
 * (conv_winograd_weight.c) share: the input transform of a row of tiles. */
#ifndef DS_CONV_WINOGRAD_H
#define DS_CONV_WINOGRAD_H

#include <string.h>

#include "conv_core.h"

#if defined(__GNUC__) && (defined(__x86_64__) || defined(__i386__)) && !defined(DS_CONV_NO_DIRECT)
#define DS_WINO_AVX2 1
#endif

#define XI 64 /* transformed values per tile: 4 x 4 x 4 */

/* Whether the layer's choice decides (0: no Winograd, 1: Winograd) or leaves it to the rule (-1). */
static inline int ds_wino_decided(const ds_conv_geom *g)
{
    if (!ds_conv_winograd_applicable(g))
        return 0;
    if (g->algo != DS_CONV_ALGO_AUTO)
        return g->algo == DS_CONV_ALGO_WINOGRAD;
    return -1;
}

/* Whether the AVX2 + FMA builds of the loops can run here. */
static inline int ds_wino_avx2(void)
{
#ifdef DS_WINO_AVX2
    return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
#else
    return 0;
#endif
}

/* Rows of V and M hold a chunk's tiles rounded up to whole vectors of 8 (zeros past them). */
static inline int64_t ds_wino_round8(int64_t v) { return (v + 7) & ~(int64_t)7; }

/* B^T = [1 0 -1 0; 0 1 1 0; 0 -1 1 0; 0 1 0 -1] on four rows of n values, in place. */
static inline __attribute__((always_inline)) void ds_wino_bt4(float *r0, float *r1, float *r2,
                                                              float *r3, int64_t n)
{
    for (int64_t i = 0; i < n; ++i) {
        float a = r0[i], b = r1[i], c = r2[i], d = r3[i];
        r0[i] = a - c;
        r1[i] = b + c;
        r2[i] = c - b;
        r3[i] = b - d;
    }
}

/* V[xi][ci][t0 + tw] for the tiles of tile row (td, th) of channel plane xc; t holds 64 rows of
 * tw values ([a][b][c] = depth, height, width offset in the patch), prow a padded input row.
 * vstride = floats between consecutive xi in V. */
static inline __attribute__((always_inline)) void
ds_wino_input_row(const ds_conv_geom *g, const float *xc, int64_t td, int64_t th, int64_t tw,
                  float *t, float *prow, float *v, int64_t vstride)
{
    for (int a = 0; a < 4; ++a)
        for (int b = 0; b < 4; ++b) {
            float *r = t + (a * 4 + b) * 4 * tw;
            int64_t id = 2 * td - 1 + a, ih = 2 * th - 1 + b;
            if (id < 0 || id >= g->d || ih < 0 || ih >= g->h) {
                memset(r, 0, (size_t)(4 * tw) * sizeof(float));
                continue;
            }
            /* prow[j] = x[j - 1], zeros outside [0, w): the patch of tile i starts at 2i. */
            prow[0] = 0.0f;
            memcpy(prow + 1, xc + (id * g->h + ih) * g->w, (size_t)g->w * sizeof(float));
            for (int64_t j = g->w + 1; j < 2 * tw + 2; ++j)
                prow[j] = 0.0f;
            float *r0 = r, *r1 = r + tw, *r2 = r + 2 * tw, *r3 = r + 3 * tw;
            for (int64_t i = 0; i < tw; ++i) {
                float p0 = prow[2 * i], p1 = prow[2 * i + 1], p2 = prow[2 * i + 2],
                      p3 = prow[2 * i + 3];
                r0[i] = p0 - p2;
                r1[i] = p1 + p2;
                r2[i] = p2 - p1;
                r3[i] = p1 - p3;
            }
        }
    for (int a = 0; a < 4; ++a)
        for (int c = 0; c < 4; ++c) {
            float *base = t + (a * 16 + c) * tw;
            ds_wino_bt4(base, base + 4 * tw, base + 8 * tw, base + 12 * tw, tw);
        }
    for (int bc = 0; bc < 16; ++bc) {
        float *base = t + bc * tw;
        ds_wino_bt4(base, base + 16 * tw, base + 32 * tw, base + 48 * tw, tw);
    }
    for (int xi = 0; xi < XI; ++xi)
        memcpy(v + xi * vstride, t + xi * tw, (size_t)tw * sizeof(float));
}

#endif /* DS_CONV_WINOGRAD_H */
