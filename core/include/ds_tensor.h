/* ds_tensor.h - the 5-D float tensor (N, C, D, H, W) every layer works on.
 *
 * Memory is contiguous, row-major in the order N, C, D, H, W (W fastest, as in PyTorch's NCDHW),
 * and 64-byte aligned so that AVX2 / AVX-512 loads never straddle a cache line at the start of a
 * row. A tensor owns its buffer; ds_tensor_free releases both. Views (ds_tensor_view) borrow the
 * buffer of another tensor and never free it.
 */
#ifndef DS_TENSOR_H
#define DS_TENSOR_H

#include <stdint.h>
#include "ds_status.h"

#ifdef __cplusplus
extern "C" {
#endif

#define DS_TENSOR_ALIGN 64
/* Largest tensor accepted, in elements (64 GiB of floats); larger requests are refused as absurd. */
#define DS_TENSOR_MAX_NUMEL ((int64_t)1 << 34)

typedef struct ds_tensor {
    int64_t n, c, d, h, w;
    float *data;  /* 64-byte aligned, numel floats */
    int owns_data;
} ds_tensor;

/* Allocates an uninitialised tensor. Every dimension must be >= 1. */
ds_status ds_tensor_create(ds_ctx *ctx, ds_tensor **out, int64_t n, int64_t c, int64_t d,
                           int64_t h, int64_t w);
/* Allocates a tensor filled with zeros. */
ds_status ds_tensor_zeros(ds_ctx *ctx, ds_tensor **out, int64_t n, int64_t c, int64_t d,
                          int64_t h, int64_t w);
/* Sets count floats of data to zero on ds_ctx_threads(ctx) threads (one thread below 256 KiB);
 * cannot fail. For the buffers a training iteration clears (gradient pools, parameter
 * gradients): a serial memset of them left the other thread idle. */
void ds_fill_zero(const ds_ctx *ctx, float *data, int64_t count);
/* Allocates a tensor of the same shape as like (contents uninitialised). */
ds_status ds_tensor_create_like(ds_ctx *ctx, ds_tensor **out, const ds_tensor *like);
/* Allocates a copy of src. */
ds_status ds_tensor_clone(ds_ctx *ctx, ds_tensor **out, const ds_tensor *src);
/* Frees the tensor and, if it owns it, its buffer. NULL is allowed. */
void ds_tensor_free(ds_tensor *t);

/* Wraps caller-owned memory (which must stay valid, and be 64-byte aligned) without copying. */
ds_status ds_tensor_view(ds_ctx *ctx, ds_tensor **out, float *data, int64_t n, int64_t c,
                         int64_t d, int64_t h, int64_t w);

/* Reinterprets the shape in place; the element count must not change. */
ds_status ds_tensor_reshape(ds_ctx *ctx, ds_tensor *t, int64_t n, int64_t c, int64_t d,
                            int64_t h, int64_t w);

int64_t ds_tensor_numel(const ds_tensor *t);
/* Elements of one sample (C*D*H*W) and of one channel plane (D*H*W). */
int64_t ds_tensor_sample_numel(const ds_tensor *t);
int64_t ds_tensor_spatial_numel(const ds_tensor *t);
int ds_tensor_same_shape(const ds_tensor *a, const ds_tensor *b);

/* Pointer to element (n, c, d, h, w); no bounds check in release builds. */
static inline float *ds_tensor_at(const ds_tensor *t, int64_t n, int64_t c, int64_t d, int64_t h,
                                  int64_t w)
{
    return t->data + ((((n * t->c + c) * t->d + d) * t->h + h) * t->w + w);
}

void ds_tensor_fill(ds_tensor *t, float value);
/* dst = src; shapes must match. */
ds_status ds_tensor_copy(ds_ctx *ctx, ds_tensor *dst, const ds_tensor *src);
/* Fails with DS_ERR_NUMERIC, naming what and the first offending index, if t holds NaN or Inf. */
ds_status ds_tensor_check_finite(ds_ctx *ctx, const ds_tensor *t, const char *what);
/* Writes "NxCxDxHxW" into buf (always NUL-terminated); returns buf. */
char *ds_tensor_shape_str(const ds_tensor *t, char *buf, size_t cap);

/* 64-byte aligned allocation for buffers that are not tensors; free with ds_aligned_free.
 * Returns NULL on overflow or failure; a zero-byte request returns a valid unique pointer. */
void *ds_aligned_alloc(size_t bytes);
void ds_aligned_free(void *p);

#ifdef __cplusplus
}
#endif

#endif /* DS_TENSOR_H */
