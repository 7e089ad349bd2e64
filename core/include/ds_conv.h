/* ds_conv.h - 3-D convolution and transposed convolution, forward and backward.
 *
 * Semantics are PyTorch's nn.Conv3d / nn.ConvTranspose3d with cubic kernels, equal strides and
 * paddings on the three axes, dilation 1, groups 1. Weights: Conv3d (out, in, k, k, k);
 * ConvTranspose3d (in, out, k, k, k); bias (out). Tensors are NCDHW (ds_tensor.h).
 *
 * Shapes the networks use (METHOD.md section 1): k3 s1 p1, k2 s2 p0, k1 s1 p0, k7 s1 p3, k1 s2 p0
 * (projection shortcuts), and the transposed k2 s2 p0. Other (k, s, p) combinations are accepted
 * as long as the output is non-empty.
 *
 * Contract of every function pair here:
 *   _forward(ctx, layer, x, y): y must be allocated with the output shape; it is overwritten.
 *   _backward(ctx, layer, x, dy, dx): ADDS the gradients into dx (may be NULL: not wanted), and
 *   into layer->weight.grad and layer->bias.grad. x is the forward input.
 * Work buffers are owned by the layer, grow on demand and are reused: a training loop over
 * fixed shapes allocates only in its first iteration. Parallel over ds_ctx_threads(ctx) threads.
 * Results are bit-identical for every thread count (every partition of the work, and so every
 * summation order, depends on the shapes only); the reductions are cut into up to 32 such parts
 * (conv_core.h, DS_CONV_PARTS), so that up to 32 threads find work in backward.
 *
 * Implementation (core/engine/conv/): stride-1 layers with rows of 16 or more columns and at most
 * 64 x 64 channels run direct AVX2 + FMA kernels (chosen at run time; backward-data as a
 * convolution with the flipped, transposed kernel; backward-weights direct up to 32 x 32 channels
 * for kernel 3; their buffers: padded input planes, at most 8 MiB per thread). Everything else is
 * lowered in bounded tiles (at most 4 MiB of lowered matrix per thread; never a whole im2col) and
 * multiplied with OpenBLAS SGEMM, one GEMM per thread inside our parallel region. Kernel-1
 * stride-1 layers need no lowering. Also per layer: a copy of the weight, for the deepest
 * layers (split-K) 4 to 32 partial outputs of 16 MiB in all at most, and for backward-weights
 * partial weight gradients (runs of tiles or planes summed apart: at most 16 MiB lowered, 32
 * runs direct). Kernel-3, stride-1, padding-1 layers
 * (forward, backward-data as the flipped convolution, backward-weights as their adjoint) run
 * Winograd F(2x2x2, 3x3x3) where the rules of ds_conv_algo pick it: input transform, 64 products
 * over channels (our AVX2 + FMA kernels, or SGEMM without AVX2), output transform, in chunks of
 * tile rows (forward: about 1 MiB per thread; backward-weights: 8 MiB shared), and the transformed
 * weight or its gradient (64 x cin x cout floats: 16 MiB at 256 x 256). Its float32 error is 2-4x
 * the direct kernel's (test_conv_winograd). Which
 * of these kernels a call ran is recorded in the layer (`paths`), so that tests can tell which
 * one they checked.
 */
#ifndef DS_CONV_H
#define DS_CONV_H

#include "ds_param.h"
#include "ds_tensor.h"

#ifdef __cplusplus
extern "C" {
#endif

/* The kernel a convolution call ran (the choice depends on the geometry and the CPU only). */
typedef enum ds_conv_path {
    DS_CONV_PATH_NONE = 0,       /* no call yet, or the last backward did not want dx       */
    DS_CONV_PATH_DIRECT,         /* direct AVX2 + FMA kernel                                 */
    DS_CONV_PATH_GEMM,           /* im2col tiles + SGEMM                                     */
    DS_CONV_PATH_GEMM_POINTWISE, /* kernel 1, stride 1, no padding: SGEMM on the input itself */
    DS_CONV_PATH_GEMM_SPLIT_K,   /* deep layers: lowered rows in parts, partial outputs added */
    DS_CONV_PATH_GEMM_SCATTER,   /* backward-data with stride > 1: SGEMM, then col2im         */
    DS_CONV_PATH_WINOGRAD,       /* Winograd F(2x2x2, 3x3x3): transforms + 64 SGEMMs          */
    DS_CONV_PATH_GEMM_FEW_VOXELS /* few output voxels: the batch lowered side by side, our GEMM */
} ds_conv_path;

/* Which kernels a layer may run (ds_conv3d.algo). AUTO: a fixed rule of the layer's shape
 * (channels, spatial size; measured with testing/engine/conv/bench_winograd), never a timing, so
 * results are the same in every run. The others force a family where the geometry allows it and
 * fall back to REFERENCE where not: for tests and benchmarks. */
typedef enum ds_conv_algo {
    DS_CONV_ALGO_AUTO = 0,
    DS_CONV_ALGO_REFERENCE, /* the kernels before Winograd: direct where usable, else SGEMM  */
    DS_CONV_ALGO_GEMM,      /* lowered SGEMM only (no direct kernel, no Winograd)           */
    DS_CONV_ALGO_WINOGRAD   /* Winograd for kernel 3, stride 1, padding 1                   */
} ds_conv_algo;

/* What the last forward and backward calls of a layer ran. */
typedef struct ds_conv_paths {
    ds_conv_path forward, backward_data, backward_weight;
} ds_conv_paths;

/* "direct", "gemm", "gemm-pointwise", "gemm-split-k", "gemm-scatter", "winograd", "none"
 * ("unknown" for a value outside the enum). */
const char *ds_conv_path_name(ds_conv_path path);
/* Whether the direct kernels can run here: built in (not -DDS_CONV_NO_DIRECT, an x86 GCC-compatible
 * compiler) and the CPU has AVX2 and FMA. Layers outside the direct kernels' shapes never use
 * them. */
int ds_conv_direct_available(void);

typedef struct ds_conv3d {
    int in_channels, out_channels;
    int kernel, stride, padding;
    int has_bias;
    ds_param weight; /* out x in x k x k x k           */
    ds_param bias;   /* out (unallocated if !has_bias) */
    void *work;      /* the work buffers in use: own_work or a shared workspace */
    void *own_work;  /* private work buffers                                    */
    ds_conv_paths paths; /* the kernels of the last forward and backward            */
    ds_conv_algo algo;   /* AUTO after init; set it to force a kernel family          */
} ds_conv3d;

/* name_prefix (may be NULL) names the parameters "<prefix>.weight" and "<prefix>.bias".
 * Weights are zero after init (the networks initialise them, see ds_init.h). */
ds_status ds_conv3d_init(ds_ctx *ctx, ds_conv3d *conv, const char *name_prefix, int in_channels,
                         int out_channels, int kernel, int stride, int padding, int has_bias);
void ds_conv3d_free(ds_conv3d *conv);
/* Output spatial size for an input of d x h x w; fails (DS_ERR_SHAPE) if it would be empty or the
 * channel count differs. */
ds_status ds_conv3d_output_shape(ds_ctx *ctx, const ds_conv3d *conv, const ds_tensor *x,
                                 int64_t *n, int64_t *c, int64_t *d, int64_t *h, int64_t *w);
ds_status ds_conv3d_forward(ds_ctx *ctx, ds_conv3d *conv, const ds_tensor *x, ds_tensor *y);
ds_status ds_conv3d_backward(ds_ctx *ctx, ds_conv3d *conv, const ds_tensor *x, const ds_tensor *dy,
                             ds_tensor *dx);
/* The same with dx overwritten instead of added into: bit for bit what a zeroed dx would
 * receive, whatever it held; the Winograd path writes it without a zeroing pass. */
ds_status ds_conv3d_backward_set(ds_ctx *ctx, ds_conv3d *conv, const ds_tensor *x,
                                 const ds_tensor *dy, ds_tensor *dx);

/* An affine map per output channel, then a ReLU and a skip, applied to each output value as the
 * convolution writes it: a BatchNorm in evaluation mode folded into the convolution, so that its
 * pass over the output (a read and a write of the whole tensor) disappears. The value is the one
 * ds_batchnorm3d_forward_fused computes in evaluation (both run ds_conv_epilogue_run; ds_norm.h
 * builds the epilogue: ds_batchnorm3d_eval_epilogue), so the result is bit for bit the same:
 *   t = (v - mean[c]) * scale[c] + shift[c]
 *   AFFINE: t   RELU: max(t, 0)   RELU_ADD: max(t, 0) + skip   ADD_RELU: max(t + skip, 0)
 * with skip a tensor of the output's shape, read at the same index (it may not be y). */
typedef enum ds_conv_epilogue_kind {
    DS_CONV_EPILOGUE_AFFINE = 0,
    DS_CONV_EPILOGUE_RELU,
    DS_CONV_EPILOGUE_RELU_ADD,
    DS_CONV_EPILOGUE_ADD_RELU
} ds_conv_epilogue_kind;

typedef struct ds_conv_epilogue {
    ds_conv_epilogue_kind kind;
    const float *mean, *scale, *shift; /* out_channels each         */
    const float *skip;                 /* RELU_ADD, ADD_RELU: n x out x od x oh x ow */
} ds_conv_epilogue;

/* The epilogue on n values: y[i] from x[i] (and skip[i]); y may be x. The one definition of its
 * value, for the kernels that fold it in and for BatchNorm's own pass (so the same bits by
 * construction); always inlined, so that each caller's build vectorises it. */
static inline __attribute__((always_inline)) void
ds_conv_epilogue_run(const float *x, const float *skip, float *y, int64_t n, float mean,
                     float scale, float shift, ds_conv_epilogue_kind kind)
{
    switch (kind) {
    case DS_CONV_EPILOGUE_AFFINE:
        for (int64_t i = 0; i < n; ++i)
            y[i] = (x[i] - mean) * scale + shift;
        break;
    case DS_CONV_EPILOGUE_RELU:
        for (int64_t i = 0; i < n; ++i) {
            const float t = (x[i] - mean) * scale + shift;
            y[i] = t > 0.0f ? t : 0.0f;
        }
        break;
    case DS_CONV_EPILOGUE_RELU_ADD:
        for (int64_t i = 0; i < n; ++i) {
            const float t = (x[i] - mean) * scale + shift;
            y[i] = (t > 0.0f ? t : 0.0f) + skip[i];
        }
        break;
    case DS_CONV_EPILOGUE_ADD_RELU:
        for (int64_t i = 0; i < n; ++i) {
            const float t = (x[i] - mean) * scale + shift + skip[i];
            y[i] = t > 0.0f ? t : 0.0f;
        }
        break;
    }
}

/* ds_conv3d_forward with the epilogue e folded in where the layer's kernel can (Winograd: the
 * output rows just written, while in L1): then *fused = 1 and y holds the epilogue's values.
 * Elsewhere *fused = 0 and y holds the plain convolution, for the caller to finish. On failure y
 * is undefined. */
ds_status ds_conv3d_forward_epilogue(ds_ctx *ctx, ds_conv3d *conv, const ds_tensor *x,
                                     ds_tensor *y, const ds_conv_epilogue *e, int *fused);

typedef struct ds_conv_transpose3d {
    int in_channels, out_channels;
    int kernel, stride, padding;
    int has_bias;
    ds_param weight; /* in x out x k x k x k */
    ds_param bias;   /* out                  */
    void *work;      /* as in ds_conv3d */
    void *own_work;
    ds_conv_paths paths; /* as in ds_conv3d (forward runs the equivalent convolution's
                            backward-data kernel, backward-data its forward kernel) */
} ds_conv_transpose3d;

ds_status ds_conv_transpose3d_init(ds_ctx *ctx, ds_conv_transpose3d *conv, const char *name_prefix,
                                   int in_channels, int out_channels, int kernel, int stride,
                                   int padding, int has_bias);
void ds_conv_transpose3d_free(ds_conv_transpose3d *conv);
ds_status ds_conv_transpose3d_output_shape(ds_ctx *ctx, const ds_conv_transpose3d *conv,
                                           const ds_tensor *x, int64_t *n, int64_t *c, int64_t *d,
                                           int64_t *h, int64_t *w);
ds_status ds_conv_transpose3d_forward(ds_ctx *ctx, ds_conv_transpose3d *conv, const ds_tensor *x,
                                      ds_tensor *y);
ds_status ds_conv_transpose3d_backward(ds_ctx *ctx, ds_conv_transpose3d *conv, const ds_tensor *x,
                                       const ds_tensor *dy, ds_tensor *dx);
/* The same with dx overwritten: its backward-data adds only, so dx is zeroed first (bit for bit
 * what a zeroed dx would receive). */
ds_status ds_conv_transpose3d_backward_set(ds_ctx *ctx, ds_conv_transpose3d *conv,
                                           const ds_tensor *x, const ds_tensor *dy,
                                           ds_tensor *dx);

/* A workspace that layers run one after another can share, instead of each keeping its own
 * work buffers at their largest size (a network has dozens of layers). Layers that share one must
 * never run at the same time. The workspace must outlive its users' last call. */
typedef struct ds_conv_workspace ds_conv_workspace;
ds_status ds_conv_workspace_create(ds_ctx *ctx, ds_conv_workspace **out);
void ds_conv_workspace_free(ds_conv_workspace *ws);
/* Makes the layer use ws (NULL: its own buffers again). */
void ds_conv3d_use_workspace(ds_conv3d *conv, ds_conv_workspace *ws);
void ds_conv_transpose3d_use_workspace(ds_conv_transpose3d *conv, ds_conv_workspace *ws);

#ifdef __cplusplus
}
#endif

#endif /* DS_CONV_H */
