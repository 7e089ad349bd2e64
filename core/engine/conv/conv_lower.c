/* conv_lower.c - the lowering of the GEMM paths (see conv_core.h): im2col and its adjoint.
 *
 * Each row of the lowered matrix is a kernel tap's view of one output row: a copy of every s-th
 * input value with zeros where the tap falls outside the volume. The rows of deep layers are a
 * few floats long, so the copies are inline loops. (At 16 floats a row the 16 -> 32 stride-2
 * layer of the V-Net spends half its forward here; AVX-512 masked moves, two loads and a
 * permute a row, measured no faster: the cost is the loops around the rows.)
 */
#include "conv_core.h"

static int64_t min64(int64_t a, int64_t b) { return a < b ? a : b; }

/* Valid output columns [*a, *b) for kernel column kw: those whose input column ow*s + kw - p lies
 * in [0, w). */
static void valid_cols(const ds_conv_geom *g, int64_t kw, int64_t *a, int64_t *b)
{
    int64_t lo = g->p - kw, hi = g->w - 1 + g->p - kw;
    *a = lo > 0 ? min64((lo + g->s - 1) / g->s, g->ow) : 0;
    *b = hi < 0 ? 0 : min64(hi / g->s + 1, g->ow);
    if (*b < *a)
        *b = *a;
}

/* One lowered row: dst[o] = src[o s] for o in [a, b), zeros elsewhere in [0, ow). Inline loops:
 * the rows of deep layers are a few floats long, where calls to memcpy and memset cost more than
 * the copy. */
static inline void lower_row(float *dst, const float *src, int64_t a, int64_t b, int64_t ow,
                             int64_t s)
{
    for (int64_t o = 0; o < a; ++o)
        dst[o] = 0.0f;
    if (s == 1) {
        for (int64_t o = a; o < b; ++o)
            dst[o] = src[o];
    } else if (s == 2) {
        for (int64_t o = a; o < b; ++o)
            dst[o] = src[2 * o];
    } else {
        for (int64_t o = a; o < b; ++o)
            dst[o] = src[o * s];
    }
    for (int64_t o = b; o < ow; ++o)
        dst[o] = 0.0f;
}

/* col[kr - k0][t] (rows ldc floats apart) for K rows [k0, k1) and the output rows [r0, r1) of
 * one sample x. */
void ds_conv_im2col(const ds_conv_geom *g, const float *x, int64_t r0, int64_t r1, int64_t k0,
                    int64_t k1, float *col, int64_t ldc)
{
    const int64_t k = g->k, k3 = k * k * k, s = g->s, p = g->p, ow = g->ow;
    for (int64_t kr = k0; kr < k1; ++kr) {
        int64_t ci = kr / k3, rem = kr % k3;
        int64_t kd = rem / (k * k), kh = (rem / k) % k, kw = rem % k;
        int64_t a, b;
        valid_cols(g, kw, &a, &b);
        float *dst = col + (kr - k0) * ldc;
        const float *xc = x + ci * g->d * g->h * g->w + kw - p;
        /* output rows r0 .. r1 - 1 as (depth, height) pairs, without a division per row */
        int64_t r = r0;
        while (r < r1) {
            const int64_t od = r / g->oh, oh0 = r % g->oh, oh1 = min64(g->oh, oh0 + (r1 - r));
            const int64_t id = od * s + kd - p;
            if (id < 0 || id >= g->d || a == b) {
                for (int64_t i = 0; i < (oh1 - oh0) * ow; ++i)
                    dst[i] = 0.0f;
            } else {
                const float *xd = xc + id * g->h * g->w;
                for (int64_t oh = oh0; oh < oh1; ++oh) {
                    const int64_t ih = oh * s + kh - p;
                    float *row = dst + (oh - oh0) * ow;
                    if (ih < 0 || ih >= g->h)
                        lower_row(row, NULL, 0, 0, ow, s);
                    else
                        lower_row(row, xd + ih * g->w, a, b, ow, s);
                }
            }
            dst += (oh1 - oh0) * ow;
            r += oh1 - oh0;
        }
    }
}

/* x[...] += col[kr - k0][t]: the adjoint of im2col, for K rows [k0, k1). */
void ds_conv_col2im_add(const ds_conv_geom *g, const float *col, int64_t r0, int64_t r1,
                        int64_t k0, int64_t k1, float *x)
{
    const int64_t k = g->k, k3 = k * k * k, s = g->s, p = g->p, ow = g->ow;
    const float *src = col;
    for (int64_t kr = k0; kr < k1; ++kr) {
        int64_t ci = kr / k3, rem = kr % k3;
        int64_t kd = rem / (k * k), kh = (rem / k) % k, kw = rem % k;
        int64_t a, b;
        valid_cols(g, kw, &a, &b);
        for (int64_t r = r0; r < r1; ++r, src += ow) {
            int64_t id = (r / g->oh) * s + kd - p, ih = (r % g->oh) * s + kh - p;
            if (id < 0 || id >= g->d || ih < 0 || ih >= g->h)
                continue;
            float *dst = x + ((ci * g->d + id) * g->h + ih) * g->w + kw - p;
            if (s == 1) {
                for (int64_t o = a; o < b; ++o)
                    dst[o] += src[o];
            } else {
                for (int64_t o = a; o < b; ++o)
                    dst[o * s] += src[o];
            }
        }
    }
}

