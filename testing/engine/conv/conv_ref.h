/* conv_ref.h - naive double-precision reference convolutions for the convolution tests.
 *
 * Written straight from the definitions (PyTorch Conv3d / ConvTranspose3d, cubic kernel, equal
 * stride and padding), sharing no code with the library's lowering: every output voxel is the sum
 * over input channels and kernel taps of input * weight, padding reading zeros.
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

/* y = conv(x, w) + b (b may be NULL), all double. Conv weight (cout, cin, k^3); transposed weight
 * (cin, cout, k^3): input voxel i and tap t feed output voxel i*s - p + t. */
static inline void conv_ref_forward(const conv_ref_shape *r, const double *x, const double *w,
                                    const double *b, double *y)
{
    const int64_t k = r->k, ospat = r->od * r->oh * r->ow, ispat = r->d * r->h * r->w;
    for (int64_t i = 0; i < conv_ref_out_numel(r); ++i)
        y[i] = b ? b[(i / ospat) % r->cout] : 0.0;
    for (int64_t n = 0; n < r->n; ++n)
        for (int64_t co = 0; co < r->cout; ++co)
            for (int64_t ci = 0; ci < r->cin; ++ci)
                for (int64_t kd = 0; kd < k; ++kd)
                    for (int64_t kh = 0; kh < k; ++kh)
                        for (int64_t kw = 0; kw < k; ++kw) {
                            int64_t tap = (kd * k + kh) * k + kw;
                            double wv = r->transposed ? w[(ci * r->cout + co) * k * k * k + tap]
                                                      : w[(co * r->cin + ci) * k * k * k + tap];
                            const double *xs = x + (n * r->cin + ci) * ispat;
                            double *ys = y + (n * r->cout + co) * ospat;
                            if (!r->transposed) {
                                for (int64_t a = 0; a < r->od; ++a)
                                    for (int64_t bb = 0; bb < r->oh; ++bb)
                                        for (int64_t c = 0; c < r->ow; ++c) {
                                            int64_t id = a * r->s - r->p + kd;
                                            int64_t ih = bb * r->s - r->p + kh;
                                            int64_t iw = c * r->s - r->p + kw;
                                            if (id < 0 || id >= r->d || ih < 0 || ih >= r->h ||
                                                iw < 0 || iw >= r->w)
                                                continue;
                                            ys[(a * r->oh + bb) * r->ow + c] +=
                                                wv * xs[(id * r->h + ih) * r->w + iw];
                                        }
                            } else {
                                for (int64_t a = 0; a < r->d; ++a)
                                    for (int64_t bb = 0; bb < r->h; ++bb)
                                        for (int64_t c = 0; c < r->w; ++c) {
                                            int64_t od = a * r->s - r->p + kd;
                                            int64_t oh = bb * r->s - r->p + kh;
                                            int64_t ow = c * r->s - r->p + kw;
                                            if (od < 0 || od >= r->od || oh < 0 || oh >= r->oh ||
                                                ow < 0 || ow >= r->ow)
                                                continue;
                                            ys[(od * r->oh + oh) * r->ow + ow] +=
                                                wv * xs[(a * r->h + bb) * r->w + c];
                                        }
                            }
                        }
}

/* Deterministic values in [-1, 1) from a 64-bit LCG (the tests need no statistical quality). */
static inline double conv_ref_uniform(uint64_t *state)
{
    *state = *state * 6364136223846793005ULL + 1442695040888963407ULL;
    return (double)(*state >> 11) / 9007199254740992.0 * 2.0 - 1.0;
}

#endif /* DS_CONV_REF_H */
