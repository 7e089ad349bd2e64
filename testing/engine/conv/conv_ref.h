/* conv_ref.h - naive double-precision reference convolutions for the convolution tests.
 *
 * Written straight from the definitions (PyTorch Conv3d / ConvTranspose3d, cubic kernel, equal
 * stride and padding), sharing no code with the library's lowering: every output voxel is the sum
 * over input channels and kernel taps of input * weight, padding reading zeros; the gradients are
 * the same terms read backwards (each term x * w -> y gives dy * w to dx and dy * x to dw).
 */
#ifndef DS_CONV_REF_H
#define DS_CONV_REF_H

#include <stdint.h>
#include <stdlib.h>

typedef struct conv_ref_shape {
    int transposed;
    int64_t n, cin, cout, k, s, p;
    int64_t d, h, w;    /* input spatial  */
    int64_t od, oh, ow; /* output spatial */
} conv_ref_shape;

static inline void conv_ref_fill_out(conv_ref_shape *r)
{
    if (r->transposed) {
        r->od = (r->d - 1) * r->s - 2 * r->p + r->k;
        r->oh = (r->h - 1) * r->s - 2 * r->p + r->k;
        r->ow = (r->w - 1) * r->s - 2 * r->p + r->k;
    } else {
        r->od = (r->d + 2 * r->p - r->k) / r->s + 1;
        r->oh = (r->h + 2 * r->p - r->k) / r->s + 1;
        r->ow = (r->w + 2 * r->p - r->k) / r->s + 1;
    }
}

static inline int64_t conv_ref_in_numel(const conv_ref_shape *r)
{
    return r->n * r->cin * r->d * r->h * r->w;
}
static inline int64_t conv_ref_out_numel(const conv_ref_shape *r)
{
    return r->n * r->cout * r->od * r->oh * r->ow;
}
static inline int64_t conv_ref_w_numel(const conv_ref_shape *r)
{
    return r->cin * r->cout * r->k * r->k * r->k;
}

/* Every term of the convolution, x[xi] * w[wi] into y[yi], straight from the definition. Conv
 * weight (cout, cin, k^3); transposed weight (cin, cout, k^3): input voxel i and tap t feed
 * output voxel i*s - p + t. With y != NULL: y[yi] += w[wi] * x[xi] (the forward); otherwise the
 * adjoint, dx[xi] += w[wi] * dy[yi] and dw[wi] += x[xi] * dy[yi]. */
static inline void conv_ref_terms(const conv_ref_shape *r, const double *x, const double *w,
                                  double *y, const double *dy, double *dx, double *dw)
{
    const int64_t k = r->k, ospat = r->od * r->oh * r->ow, ispat = r->d * r->h * r->w;
    for (int64_t n = 0; n < r->n; ++n)
        for (int64_t co = 0; co < r->cout; ++co)
            for (int64_t ci = 0; ci < r->cin; ++ci)
                for (int64_t kd = 0; kd < k; ++kd)
                    for (int64_t kh = 0; kh < k; ++kh)
                        for (int64_t kw = 0; kw < k; ++kw) {
                            int64_t tap = (kd * k + kh) * k + kw;
                            int64_t wi = r->transposed ? (ci * r->cout + co) * k * k * k + tap
                                                       : (co * r->cin + ci) * k * k * k + tap;
                            int64_t x0 = (n * r->cin + ci) * ispat, y0 = (n * r->cout + co) * ospat;
                            /* (a, bb, c): the output voxel of a convolution, the input voxel of
                             * a transposed one; (id, ih, iw) the voxel it meets through tap t. */
                            int64_t na = r->transposed ? r->d : r->od;
                            int64_t nb = r->transposed ? r->h : r->oh;
                            int64_t nc = r->transposed ? r->w : r->ow;
                            int64_t md = r->transposed ? r->od : r->d;
                            int64_t mh = r->transposed ? r->oh : r->h;
                            int64_t mw = r->transposed ? r->ow : r->w;
                            for (int64_t a = 0; a < na; ++a)
                                for (int64_t bb = 0; bb < nb; ++bb)
                                    for (int64_t c = 0; c < nc; ++c) {
                                        int64_t id = a * r->s - r->p + kd;
                                        int64_t ih = bb * r->s - r->p + kh;
                                        int64_t iw = c * r->s - r->p + kw;
                                        if (id < 0 || id >= md || ih < 0 || ih >= mh || iw < 0 ||
                                            iw >= mw)
                                            continue;
                                        int64_t far = (id * mh + ih) * mw + iw;
                                        int64_t near = (a * nb + bb) * nc + c;
                                        int64_t xi = x0 + (r->transposed ? near : far);
                                        int64_t yi = y0 + (r->transposed ? far : near);
                                        if (y) {
                                            y[yi] += w[wi] * x[xi];
                                        } else {
                                            dx[xi] += w[wi] * dy[yi];
                                            dw[wi] += x[xi] * dy[yi];
                                        }
                                    }
                        }
}

/* y = conv(x, w) + b (b may be NULL), all double. */
static inline void conv_ref_forward(const conv_ref_shape *r, const double *x, const double *w,
                                    const double *b, double *y)
{
    const int64_t ospat = r->od * r->oh * r->ow;
    for (int64_t i = 0; i < conv_ref_out_numel(r); ++i)
        y[i] = b ? b[(i / ospat) % r->cout] : 0.0;
    conv_ref_terms(r, x, w, y, NULL, NULL, NULL);
}

/* The gradients of sum(dy * conv(x, w, b)): dx, dw and db (db may be NULL) are overwritten. */
static inline void conv_ref_backward(const conv_ref_shape *r, const double *x, const double *w,
                                     const double *dy, double *dx, double *dw, double *db)
{
    const int64_t ospat = r->od * r->oh * r->ow;
    for (int64_t i = 0; i < conv_ref_in_numel(r); ++i)
        dx[i] = 0.0;
    for (int64_t i = 0; i < conv_ref_w_numel(r); ++i)
        dw[i] = 0.0;
    for (int64_t c = 0; db && c < r->cout; ++c)
        db[c] = 0.0;
    for (int64_t i = 0; db && i < conv_ref_out_numel(r); ++i)
        db[(i / ospat) % r->cout] += dy[i];
    conv_ref_terms(r, x, w, NULL, dy, dx, dw);
}

/* Deterministic values in [-1, 1) from a 64-bit LCG (the tests need no statistical quality). */
static inline double conv_ref_uniform(uint64_t *state)
{
    *state = *state * 6364136223846793005ULL + 1442695040888963407ULL;
    return (double)(*state >> 11) / 9007199254740992.0 * 2.0 - 1.0;
}

#endif /* DS_CONV_REF_H */
