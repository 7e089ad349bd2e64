/* conv_lower.c - the lowering of the GEMM paths (see conv_core.h): im2col and its adjoint.
 *
 * Each row of the lowered matrix is a kernel tap's view of one output row: a copy of every s-th
 * input value with zeros where the tap falls outside the volume. The rows of deep layers are a
 * few floats long, so the copies are inline loops. (At 16 floats a row the 16 -> 32 stride-2
 * layer of the V-Net spends half its forward here; AVX-512 masked moves, two loads and a
 * permute a row, measured no faster: the cost is the loops around the rows.)
 */
#include "conv_core.h"

#include <string.h>

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

/* The rows of one depth plane for tap (kh, kw) of a kernel-3, stride-1, padding-1 convolution
 * (output rows oh0 .. oh1 - 1 of plane xd into dst): the rows the tap reaches are one
 * contiguous run of the plane shifted by (kh - 1) rows and (kw - 1) columns, copied at once, then
 * the column that wrapped into the neighbouring row set to zero. Row by row, planes of 4 x 6
 * (128 channels at the Hippocampus patch) spent a third of their backward-weights in the loops. */
static void lower_plane3(const ds_conv_geom *g, const float *xd, int64_t oh0, int64_t oh1,
                         int64_t kh, int64_t kw, float *dst)
{
    const int64_t w = g->w, lo = oh0 + kh - 1 < 0 ? oh0 + 1 : oh0;
    const int64_t hi = oh1 - 1 + kh - 1 >= g->h ? oh1 - 1 : oh1; /* rows [lo, hi) have an input */
    for (int64_t i = 0; i < (lo - oh0) * w; ++i)
        dst[i] = 0.0f;
    for (int64_t i = (hi - oh0) * w; i < (oh1 - oh0) * w; ++i)
        dst[i] = 0.0f;
    if (lo >= hi)
        return;
    float *d = dst + (lo - oh0) * w;
    const float *src = xd + (lo + kh - 1) * w + kw - 1;
    const int64_t n = (hi - lo) * w;
    /* never read before the first or past the last value of the rows: those lanes are zeros */
    const int64_t c0 = kw == 0 ? 1 : 0, c1 = kw == 2 ? n - 1 : n;
    memcpy(d + c0, src + c0, (size_t)(c1 - c0) * sizeof(float));
    if (kw == 0)
        for (int64_t r = 0; r < hi - lo; ++r)
            d[r * w] = 0.0f;
    else if (kw == 2)
        for (int64_t r = 0; r < hi - lo; ++r)
            d[r * w + w - 1] = 0.0f;
}

/* Kernel 2, stride 2, no padding: the V-Net's down-sampling convolutions and, transposed, its
 * up-sampling ones. Every tap reads inside the volume, and the two kw taps of one (ci, kd, kh)
 * read the even and the odd values of the same input rows, so the lowering is a permutation: each
 * input row is read once and split into its two lowered rows, with no bounds and no zeros. (The
 * general loops spent a third of the k2 s2 layers' lowering on the bounds and the zero runs.) */
static int is_k2s2(const ds_conv_geom *g) { return g->k == 2 && g->s == 2 && g->p == 0; }

/* (od, oh) of the next output row. */
static inline void next_output_row(const ds_conv_geom *g, int64_t *od, int64_t *oh)
{
    if (++*oh == g->oh) {
        *oh = 0;
        ++*od;
    }
}

/* The lowered rows of taps kr (and kr + 1 when both): even[t] = src[2 t], odd[t] = src[2 t + 1]
 * over the output rows [r0, r1), src the input row of output row r. */
static void im2col_k2s2(const ds_conv_geom *g, const float *x, int64_t r0, int64_t r1,
                        int64_t k0, int64_t k1, float *col, int64_t ldc)
{
    const int64_t ow = g->ow, w = g->w, plane = g->h * w;
    for (int64_t kr = k0; kr < k1;) {
        const int64_t ci = kr / 8, kd = kr / 4 % 2, kh = kr / 2 % 2, kw = kr % 2;
        const int both = kw == 0 && kr + 1 < k1;
        float *restrict even = col + (kr - k0) * ldc, *restrict odd = even + ldc;
        const float *xc = x + (ci * g->d + kd) * plane + kh * w + kw;
        int64_t od = r0 / g->oh, oh = r0 % g->oh;
        for (int64_t r = r0; r < r1; ++r) {
            const float *restrict src = xc + 2 * od * plane + 2 * oh * w;
            if (both) {
                for (int64_t o = 0; o < ow; ++o) {
                    even[o] = src[2 * o];
                    odd[o] = src[2 * o + 1];
                }
            } else {
                for (int64_t o = 0; o < ow; ++o)
                    even[o] = src[2 * o];
            }
            even += ow;
            odd += ow;
            next_output_row(g, &od, &oh);
        }
        kr += both ? 2 : 1;
    }
}

/* The adjoint of im2col_k2s2 (rows of (r1 - r0) * ow floats in col). */
/* x[...] += col, or where set x[...] = col + bias[ci] (bias NULL: + 0; ds_conv_col2im_k2s2_set). */
static void col2im_k2s2(const ds_conv_geom *g, const float *col, int64_t r0, int64_t r1,
                        int64_t k0, int64_t k1, int set, const float *bias, float *x)
{
    const int64_t ow = g->ow, w = g->w, plane = g->h * w, len = (r1 - r0) * ow;
    for (int64_t kr = k0; kr < k1;) {
        const int64_t ci = kr / 8, kd = kr / 4 % 2, kh = kr / 2 % 2, kw = kr % 2;
        const int both = kw == 0 && kr + 1 < k1;
        const float *restrict even = col + (kr - k0) * len, *restrict odd = even + len;
        float *xc = x + (ci * g->d + kd) * plane + kh * w + kw;
        const float b = bias ? bias[ci] : 0.0f;
        int64_t od = r0 / g->oh, oh = r0 % g->oh;
        for (int64_t r = r0; r < r1; ++r) {
            float *restrict dst = xc + 2 * od * plane + 2 * oh * w;
            if (set && both) {
                for (int64_t o = 0; o < ow; ++o) {
                    dst[2 * o] = b + even[o];
                    dst[2 * o + 1] = b + odd[o];
                }
            } else if (set) {
                for (int64_t o = 0; o < ow; ++o)
                    dst[2 * o] = b + even[o];
            } else if (both) {
                for (int64_t o = 0; o < ow; ++o) {
                    dst[2 * o] += even[o];
                    dst[2 * o + 1] += odd[o];
                }
            } else {
                for (int64_t o = 0; o < ow; ++o)
                    dst[2 * o] += even[o];
            }
            even += ow;
            odd += ow;
            next_output_row(g, &od, &oh);
        }
        kr += both ? 2 : 1;
    }
}

/* col[kr - k0][t] (rows ldc floats apart) for K rows [k0, k1) and the output rows [r0, r1) of
 * one sample x. */
void ds_conv_im2col(const ds_conv_geom *g, const float *x, int64_t r0, int64_t r1, int64_t k0,
                    int64_t k1, float *col, int64_t ldc)
{
    if (is_k2s2(g)) {
        im2col_k2s2(g, x, r0, r1, k0, k1, col, ldc);
        return;
    }
    const int64_t k = g->k, s = g->s, p = g->p, ow = g->ow;
    const int same3 = k == 3 && s == 1 && p == 1;
    /* The tap (ci, kd, kh, kw) of row kr and the first output row's (depth, height) are counted
     * on from k0 and r0, not divided out per row: the deep layers lower thousands of K rows of a
     * few output rows each, where the divisions measured a fifth of the lowering. */
    int64_t ci = k0 / (k * k * k), kd = k0 / (k * k) % k, kh = k0 / k % k, kw = k0 % k;
    const int64_t od0 = r0 / g->oh, oh00 = r0 % g->oh;
    int64_t ca[8], cb[8]; /* the valid columns of each kw, for kernels up to 8 */
    for (int64_t j = 0; j < k && j < 8; ++j)
        valid_cols(g, j, &ca[j], &cb[j]);
    for (int64_t kr = k0; kr < k1; ++kr) {
        int64_t a, b;
        if (kw < 8) {
            a = ca[kw];
            b = cb[kw];
        } else {
            valid_cols(g, kw, &a, &b);
        }
        float *dst = col + (kr - k0) * ldc;
        const float *xc = x + ci * g->d * g->h * g->w + kw - p;
        /* output rows r0 .. r1 - 1 as runs of (depth, height) pairs within one depth */
        int64_t r = r0, od = od0, oh0 = oh00;
        while (r < r1) {
            const int64_t oh1 = min64(g->oh, oh0 + (r1 - r));
            const int64_t id = od * s + kd - p;
            if (id < 0 || id >= g->d || a == b) {
                for (int64_t i = 0; i < (oh1 - oh0) * ow; ++i)
                    dst[i] = 0.0f;
            } else if (same3) {
                lower_plane3(g, x + (ci * g->d + id) * g->h * g->w, oh0, oh1, kh, kw, dst);
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
            oh0 = 0;
            ++od;
        }
        if (++kw == k) { /* the next tap */
            kw = 0;
            if (++kh == k) {
                kh = 0;
                if (++kd == k) {
                    kd = 0;
                    ++ci;
                }
            }
        }
    }
}

int ds_conv_k2s2_exact(const ds_conv_geom *g)
{
    return is_k2s2(g) && g->d == 2 * g->od && g->h == 2 * g->oh && g->w == 2 * g->ow;
}

void ds_conv_col2im_k2s2_set(const ds_conv_geom *g, const float *col, int64_t r0, int64_t r1,
                             int64_t k0, int64_t k1, const float *bias, float *x)
{
    col2im_k2s2(g, col, r0, r1, k0, k1, 1, bias, x);
}

/* x[...] += col[kr - k0][t]: the adjoint of im2col, for K rows [k0, k1). */
void ds_conv_col2im_add(const ds_conv_geom *g, const float *col, int64_t r0, int64_t r1,
                        int64_t k0, int64_t k1, float *x)
{
    if (is_k2s2(g)) {
        col2im_k2s2(g, col, r0, r1, k0, k1, 0, NULL, x);
        return;
    }
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

