/* activation.c - ReLU, element-wise add, accumulate and channel softmax (see ds_activation.h).
 *
 * Element-wise loops are plain `for` loops over contiguous floats (vectorised by the compiler),
 * split statically over the threads. They are written so that an output may be the same buffer
 * as an input: every element is read before the same element is written.
 */
#include "ds_activation.h"
#include "layer_check.h"

#include <math.h>

ds_status ds_relu_forward(ds_ctx *ctx, const ds_tensor *x, ds_tensor *y)
{
    ds_status st = ds_layer_need_same(ctx, "relu forward", "input", x, "output", y);
    if (st != DS_OK)
        return st;
    const int64_t n = ds_tensor_numel(x);
    const float *xd = x->data;
    float *yd = y->data;
#pragma omp parallel for simd num_threads(ds_ctx_threads(ctx)) schedule(static) if (n > DS_LAYER_PARALLEL_MIN)
    for (int64_t i = 0; i < n; ++i)
        yd[i] = xd[i] > 0.0f ? xd[i] : 0.0f;
    return DS_OK;
}

ds_status ds_relu_backward(ds_ctx *ctx, const ds_tensor *y, const ds_tensor *dy, ds_tensor *dx)
{
    ds_status st = ds_layer_need_same(ctx, "relu backward", "output", y, "output gradient", dy);
    if (st == DS_OK)
        st = ds_layer_need_same(ctx, "relu backward", "output", y, "input gradient", dx);
    if (st != DS_OK)
        return st;
    const int64_t n = ds_tensor_numel(y);
    const float *yd = y->data, *gd = dy->data;
    float *dxd = dx->data;
#pragma omp parallel for simd num_threads(ds_ctx_threads(ctx)) schedule(static) if (n > DS_LAYER_PARALLEL_MIN)
    for (int64_t i = 0; i < n; ++i) {
        const float g = gd[i]; /* loaded unconditionally, so that the loop vectorises */
        dxd[i] += yd[i] > 0.0f ? g : 0.0f;
    }
    return DS_OK;
}

ds_status ds_add_forward(ds_ctx *ctx, const ds_tensor *a, const ds_tensor *b, ds_tensor *y)
{
    ds_status st = ds_layer_need_same(ctx, "add forward", "first input", a, "second input", b);
    if (st == DS_OK)
        st = ds_layer_need_same(ctx, "add forward", "first input", a, "output", y);
    if (st != DS_OK)
        return st;
    const int64_t n = ds_tensor_numel(a);
    const float *ad = a->data, *bd = b->data;
    float *yd = y->data;
#pragma omp parallel for simd num_threads(ds_ctx_threads(ctx)) schedule(static) if (n > DS_LAYER_PARALLEL_MIN)
    for (int64_t i = 0; i < n; ++i)
        yd[i] = ad[i] + bd[i];
    return DS_OK;
}

ds_status ds_tensor_accumulate(ds_ctx *ctx, ds_tensor *dst, const ds_tensor *src)
{
    ds_status st = ds_layer_need_same(ctx, "accumulate", "destination", dst, "source", src);
    if (st != DS_OK)
        return st;
    const int64_t n = ds_tensor_numel(dst);
    const float *sd = src->data;
    float *dd = dst->data;
#pragma omp parallel for simd num_threads(ds_ctx_threads(ctx)) schedule(static) if (n > DS_LAYER_PARALLEL_MIN)
    for (int64_t i = 0; i < n; ++i)
        dd[i] += sd[i];
    return DS_OK;
}

/* Softmax works on blocks of SOFTMAX_BLOCK voxels of one sample, so that the per-voxel loops over
 * channels become contiguous loops over voxels. */
#define SOFTMAX_BLOCK 512

ds_status ds_softmax_forward(ds_ctx *ctx, const ds_tensor *x, ds_tensor *y)
{
    ds_status st = ds_layer_need_same(ctx, "softmax forward", "input", x, "output", y);
    if (st != DS_OK)
        return st;
    const int64_t N = x->n, C = x->c, S = ds_tensor_spatial_numel(x);
    const int64_t blocks = (S + SOFTMAX_BLOCK - 1) / SOFTMAX_BLOCK;
    const float *xd = x->data;
    float *yd = y->data;
#pragma omp parallel for num_threads(ds_ctx_threads(ctx)) schedule(static) if (N * C * S > DS_LAYER_PARALLEL_MIN)
    for (int64_t task = 0; task < N * blocks; ++task) {
        const int64_t n = task / blocks, v0 = (task % blocks) * SOFTMAX_BLOCK;
        const int64_t len = S - v0 < SOFTMAX_BLOCK ? S - v0 : SOFTMAX_BLOCK;
        const float *xs = xd + n * C * S + v0;
        float *ys = yd + n * C * S + v0;
        float m[SOFTMAX_BLOCK], sum[SOFTMAX_BLOCK];
        for (int64_t j = 0; j < len; ++j) {
            m[j] = xs[j];
            sum[j] = 0.0f;
        }
        for (int64_t c = 1; c < C; ++c) {
            const float *xc = xs + c * S;
            for (int64_t j = 0; j < len; ++j)
                m[j] = xc[j] > m[j] ? xc[j] : m[j];
        }
        for (int64_t c = 0; c < C; ++c) {
            const float *xc = xs + c * S;
            float *yc = ys + c * S;
            for (int64_t j = 0; j < len; ++j) {
                const float e = expf(xc[j] - m[j]);
                yc[j] = e;
                sum[j] += e;
            }
        }
        for (int64_t j = 0; j < len; ++j)
            sum[j] = 1.0f / sum[j];
        for (int64_t c = 0; c < C; ++c) {
            float *yc = ys + c * S;
            for (int64_t j = 0; j < len; ++j)
                yc[j] *= sum[j];
        }
    }
    return DS_OK;
}

ds_status ds_softmax_backward(ds_ctx *ctx, const ds_tensor *y, const ds_tensor *dy, ds_tensor *dx)
{
    ds_status st = ds_layer_need_same(ctx, "softmax backward", "output", y, "output gradient", dy);
    if (st == DS_OK)
        st = ds_layer_need_same(ctx, "softmax backward", "output", y, "input gradient", dx);
    if (st != DS_OK)
        return st;
    const int64_t N = y->n, C = y->c, S = ds_tensor_spatial_numel(y);
    const int64_t blocks = (S + SOFTMAX_BLOCK - 1) / SOFTMAX_BLOCK;
    const float *yd = y->data, *gd = dy->data;
    float *dxd = dx->data;
#pragma omp parallel for num_threads(ds_ctx_threads(ctx)) schedule(static) if (N * C * S > DS_LAYER_PARALLEL_MIN)
    for (int64_t task = 0; task < N * blocks; ++task) {
        const int64_t n = task / blocks, v0 = (task % blocks) * SOFTMAX_BLOCK;
        const int64_t len = S - v0 < SOFTMAX_BLOCK ? S - v0 : SOFTMAX_BLOCK;
        const int64_t off = n * C * S + v0;
        float dot[SOFTMAX_BLOCK];
        for (int64_t j = 0; j < len; ++j)
            dot[j] = 0.0f;
        for (int64_t c = 0; c < C; ++c) {
            const float *yc = yd + off + c * S, *gc = gd + off + c * S;
            for (int64_t j = 0; j < len; ++j)
                dot[j] += yc[j] * gc[j];
        }
        for (int64_t c = 0; c < C; ++c) {
            const float *yc = yd + off + c * S, *gc = gd + off + c * S;
            float *dc = dxd + off + c * S;
            for (int64_t j = 0; j < len; ++j)
                dc[j] += yc[j] * (gc[j] - dot[j]);
        }
    }
    return DS_OK;
}
