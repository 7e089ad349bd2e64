/* conv_core.h - private: the lowered (im2col + GEMM) kernels behind ds_conv.h.
 *
 * Everything here works on one geometry: a convolution (PyTorch Conv3d semantics, cubic kernel,
 * equal stride and padding on the three axes) from cin x d x h x w to cout x od x oh x ow, weight
 * cout x cin x k x k x k. The transposed convolution is expressed with the same three kernels
 * (its forward is a convolution's backward-data, and so on).
 *
 * Lowering is tiled: a tile is a run of consecutive output rows (od, oh) of one sample, and the
 * lowered matrix of a tile (cin*k^3 x tile columns) is bounded by DS_CONV_TILE_FLOATS per thread.
 * Every partition of the work (tiles, and the DS_CONV_SPLIT parts of the lowered rows or input
 * channels that threads share out) depends on the geometry only, never on the thread count: each
 * SGEMM call then has the same arguments whichever thread runs it, and since OpenBLAS's rounding
 * depends on a call's sizes, this is what makes results identical for every thread count.
 */
#ifndef DS_CONV_CORE_H
#define DS_CONV_CORE_H

#include <stddef.h>
#include <stdint.h>

#include "ds_conv.h"
#include "ds_param.h"
#include "ds_status.h"
#include "ds_tensor.h"

/* Lowered-matrix budget per thread, in floats (4 MiB). */
#ifndef DS_CONV_TILE_FLOATS
#define DS_CONV_TILE_FLOATS ((int64_t)1 << 20)
#endif

/* The multiple of tiles per sample in the forward pass, so that 1, 2 and 4 threads share the
 * work evenly, and the fewest parts split-K cuts the lowered rows into. */
#define DS_CONV_SPLIT 4

/* The reductions (backward-weights over samples and positions, split-K over lowered rows) and the
 * scattered backward-data are cut into parts fixed by the geometry, never by the thread count, so
 * that results are the same for every thread count; up to DS_CONV_PARTS parts, so that 32 threads
 * find work. Parts of lowered rows keep at least DS_CONV_PART_ROWS rows where there are more than
 * DS_CONV_SPLIT of them: each part packs the other operand again, and thinner parts measured
 * 12-24 % slower on one thread (bench_conv, k2 s2 and k7 backward). Backward-weights keeps
 * DS_CONV_SPLIT parts of lowered rows and cuts the samples' tiles into runs instead, each summed
 * into its own partial weight gradient; the partials are added in run order. */
#define DS_CONV_PARTS 32
#define DS_CONV_PART_ROWS 64

/* Parts of `rows` lowered rows: rows / DS_CONV_PART_ROWS within DS_CONV_SPLIT..DS_CONV_PARTS,
 * then at most limit (and at least 1). */
int ds_conv_part_count(int64_t rows, int64_t limit);
/* dst[i] += part[0][i] + part[1][i] + ... + part[runs - 1][i] (added in that order), i < n; the
 * partials are n floats apart. */
void ds_conv_add_partials(ds_ctx *ctx, const float *part, int64_t runs, int64_t n, float *dst);
/* The same as an orphaned worksharing loop (ends in a barrier): inside a parallel region the
 * team shares it, so that it needs no region of its own. */
void ds_conv_add_partials_team(const float *part, int64_t runs, int64_t n, float *dst);

typedef struct ds_conv_geom {
    int64_t n;          /* batch                                */
    int64_t cin, cout;  /* channels                             */
    int64_t k, s, p;    /* kernel, stride, padding              */
    int64_t d, h, w;    /* input spatial size                   */
    int64_t od, oh, ow; /* output spatial size                  */
    ds_conv_algo algo;  /* the layer's choice (AUTO: the rules)  */
} ds_conv_geom;

/* The lowering (conv_lower.c): col[kr - k0][t] (rows ldc floats apart) for K rows [k0, k1) of
 * the output rows [r0, r1) of one sample x; and its adjoint, x[...] += col for K rows [k0, k1)
 * (rows of (r1 - r0) * ow floats). */
void ds_conv_im2col(const ds_conv_geom *g, const float *x, int64_t r0, int64_t r1, int64_t k0,
                    int64_t k1, float *col, int64_t ldc);
void ds_conv_col2im_add(const ds_conv_geom *g, const float *col, int64_t r0, int64_t r1,
                        int64_t k0, int64_t k1, float *x);
/* Whether g is kernel 2, stride 2, padding 0 with an input (x) of exactly twice the output's
 * size: then every input voxel is the adjoint's image of exactly one lowered value, and the
 * adjoint may set x instead of adding into it: x[...] = bias[ci] + col for K rows [k0, k1)
 * (bias NULL: 0 + col), bit for bit x = bias followed by the add. */
int ds_conv_k2s2_exact(const ds_conv_geom *g);
void ds_conv_col2im_k2s2_set(const ds_conv_geom *g, const float *col, int64_t r0, int64_t r1,
                             int64_t k0, int64_t k1, const float *bias, float *x);

/* Growable, 64-byte aligned scratch owned by a layer. */
typedef struct ds_conv_work {
    float *col; /* lowered tiles, one slot per thread       */
    size_t col_cap;
    float *wt; /* transformed (flipped, transposed) weight */
    size_t wt_cap;
    float *part; /* split-K partial outputs                  */
    size_t part_cap;
    float *wpk; /* weight repacked for the direct kernel    */
    size_t wpk_cap;
} ds_conv_work;

/* Largest kernel, stride, padding and channel count accepted; larger is refused as absurd. */
#define DS_CONV_MAX_KSP 64
#define DS_CONV_MAX_CHANNELS 65536

/* What the two layer types' init and free share: checks the sizes (messages say "<kind>
 * <prefix>: ..."), makes the zeroed weight (in * out * k^3 values: the same count for both
 * layouts) and bias (out, when has_bias), named "<prefix>.weight" / "<prefix>.bias", and the
 * layer's own work buffers. On failure everything made is freed. */
ds_status ds_conv_layer_init(ds_ctx *ctx, const char *kind, const char *prefix, int in_channels,
                             int out_channels, int kernel, int stride, int padding, int has_bias,
                             ds_param *weight, ds_param *bias, void **own_work);
void ds_conv_layer_free(ds_param *weight, ds_param *bias, void *own_work);

ds_status ds_conv_work_reserve(ds_ctx *ctx, float **buf, size_t *cap, size_t floats);
void ds_conv_work_release(ds_conv_work *work);

/* The three kernels below set *path (when path != NULL) to the kernel they ran. */

/* y = conv(x, w) (+ bias if bias != NULL) when beta == 0; y += conv(x, w) when beta == 1
 * (the bias is then not added). */
ds_status ds_conv_core_forward(ds_ctx *ctx, ds_conv_work *work, const ds_conv_geom *g,
                               const float *x, const float *w, const float *bias, float beta,
                               float *y, ds_conv_path *path);
/* y = conv(x, w) + bias with the epilogue e (NULL: none) applied where the kernel folds it in
 * (*fused = 1: Winograd), else the plain convolution (*fused = 0). */
ds_status ds_conv_core_forward_epilogue(ds_ctx *ctx, ds_conv_work *work, const ds_conv_geom *g,
                                        const float *x, const float *w, const float *bias,
                                        float *y, const ds_conv_epilogue *e, int *fused,
                                        ds_conv_path *path);
/* The builds of the hand-vectorised loops (Winograd, direct kernel), for the tests that they
 * agree. */
typedef enum ds_wino_build {
    DS_WINO_BUILD_PORTABLE, /* plain C (Winograd's products: OpenBLAS SGEMM, one per xi) */
    DS_WINO_BUILD_AVX2,     /* AVX2 + FMA                                                */
    DS_WINO_BUILD_AVX512    /* the same sums in 16-wide vectors                          */
} ds_wino_build;

/* The direct AVX2 + FMA kernel (conv_direct.c), in AVX-512 where the CPU has it: whether it can
 * run this geometry here (ds_conv_direct_available(), stride 1, padded planes within budget), and
 * the same contract as ds_conv_core_forward. _build runs one build (AVX2 or AVX-512, for the test
 * that they agree bit for bit): DS_ERR_UNSUPPORTED, y untouched, when it cannot run here. */
int ds_conv_direct_usable(const ds_conv_geom *g);
ds_status ds_conv_direct_forward(ds_ctx *ctx, ds_conv_work *work, const ds_conv_geom *g,
                                 const float *x, const float *w, const float *bias, float beta,
                                 float *y);
ds_status ds_conv_direct_forward_build(ds_ctx *ctx, ds_conv_work *work, const ds_conv_geom *g,
                                       const float *x, const float *w, const float *bias,
                                       float beta, float *y, ds_wino_build build);
/* Direct backward-weights (kernel 3, or 7 with AVX-512; stride 1, cout a multiple of 4,
 * cin * cout <= 1024). */
int ds_conv_direct_weight_usable(const ds_conv_geom *g);
ds_status ds_conv_direct_backward_weight(ds_ctx *ctx, ds_conv_work *work, const ds_conv_geom *g,
                                         const float *x, const float *dy, float *dw);
/* Deep layers with few output voxels (at most DS_CONV_FEW_VOXELS over the batch): whether a
 * forward of g takes the path that lowers the whole batch side by side and multiplies with our
 * own kernel (conv_gemm.h), on the weights as they are (OpenBLAS packs all of them for a product
 * a few columns wide, once per sample). */
#define DS_CONV_FEW_VOXELS 256
int ds_conv_few_voxels_chosen(const ds_conv_geom *g);
/* Winograd F(2x2x2, 3x3x3) (conv_winograd.c): kernel 3, stride 1, padding 1 only. chosen: whether
 * a forward of g runs it (g->algo, else the measured rule); same contract as ds_conv_core_forward.
 * work_floats: the work buffer floats it takes for g with that many threads. */
int ds_conv_winograd_applicable(const ds_conv_geom *g);
int ds_conv_winograd_chosen(const ds_conv_geom *g);
int64_t ds_conv_winograd_work_floats(const ds_conv_geom *g, int threads);
ds_status ds_conv_winograd_forward(ds_ctx *ctx, ds_conv_work *work, const ds_conv_geom *g,
                                   const float *x, const float *w, const float *bias, float beta,
                                   float *y, const ds_conv_epilogue *e);
/* The weights of a stride-1 backward-data run as a forward: wt[ci][co] = w[co][ci] with its k^3
 * taps reversed. ds_conv_flip_weights_team is an orphaned worksharing loop (ends in a barrier):
 * called inside a parallel region the team shares it, outside one thread runs it. It lives in
 * conv_winograd.c, beside the AVX-512 builds its 27-tap copy uses. */
typedef struct ds_conv_flip {
    const float *w;
    float *wt;
    int64_t cin, cout, k3;
} ds_conv_flip;
void ds_conv_flip_weights_team(const ds_conv_flip *f);
/* ds_conv_winograd_forward with the weights flip->wt, flipped from flip->w in the same parallel
 * region as the convolution (a region of their own woke the threads once more). */
ds_status ds_conv_winograd_forward_flipped(ds_ctx *ctx, ds_conv_work *work,
                                           const ds_conv_geom *g, const float *x,
                                           const ds_conv_flip *flip, float beta, float *y);
/* The Winograd forward's 64 products M[xi] (cout x ld) = U[xi] (cout x cin) V[xi] (cin x ld), ld
 * a multiple of 8, in one build of the loops: for a test that the builds agree. Returns 0 (m
 * untouched) when that build cannot run on this CPU. */
int ds_conv_winograd_products(ds_wino_build build, int64_t cin, int64_t cout, const float *u,
                              const float *v, int64_t ld, float *m);
/* The input transform of tile rows [r0, r1) (tile row r = td * th + th_index) of one channel
 * plane xc of g, into v (rows of (r1 - r0) * tw values one after another, vstride floats between
 * the 64 xi), in one build of the loops: for a test that the builds agree bit for bit. Returns 1,
 * 0 (v untouched) when that build cannot run on this CPU, -1 when out of memory. */
int ds_conv_winograd_input(ds_wino_build build, const ds_conv_geom *g, const float *xc,
                           int64_t r0, int64_t r1, float *v, int64_t vstride);
/* The dM transform of backward-weights (dM = A dy A^T) of tile rows [r0, r1) of one gradient
 * plane dyc of g, into dm (as ds_conv_winograd_input lays out v), in one build of the loops: for
 * a test that the builds agree bit for bit. Returns 1, 0 (dm untouched) when that build cannot
 * run on this CPU, -1 when out of memory. */
int ds_conv_winograd_dy(ds_wino_build build, const ds_conv_geom *g, const float *dyc, int64_t r0,
                        int64_t r1, float *dm, int64_t stride);
/* Winograd backward-weights (conv_winograd_weight.c): whether g runs it, and the contract of
 * ds_conv_core_backward_weight. */
int ds_conv_winograd_weight_chosen(const ds_conv_geom *g);
ds_status ds_conv_winograd_backward_weight(ds_ctx *ctx, ds_conv_work *work, const ds_conv_geom *g,
                                           const float *x, const float *dy, float *dw);
/* dx += conv^T(dy, w): the gradient of a convolution with respect to its input; with set, dx =
 * 0 + conv^T(dy, w) whatever it held (the Winograd path writes it, the others zero it first). */
ds_status ds_conv_core_backward_data(ds_ctx *ctx, ds_conv_work *work, const ds_conv_geom *g,
                                     const float *dy, const float *w, float *dx, int set,
                                     ds_conv_path *path);
/* dx = bias + conv^T(dy, w) (bias per dx channel; NULL: zeros): a transposed convolution's
 * forward. Overwrites dx; no prior fill is needed. */
ds_status ds_conv_core_transposed_forward(ds_ctx *ctx, ds_conv_work *work, const ds_conv_geom *g,
                                          const float *dy, const float *w, const float *bias,
                                          float *dx, ds_conv_path *path);
/* dw += the gradient of a convolution with respect to its weight. */
ds_status ds_conv_core_backward_weight(ds_ctx *ctx, ds_conv_work *work, const ds_conv_geom *g,
                                       const float *x, const float *dy, float *dw,
                                       ds_conv_path *path);
/* Fails with DS_ERR_SHAPE, naming layer and what, unless t is n x c x d x h x w. */
ds_status ds_conv_check_shape(ds_ctx *ctx, const char *layer, const char *what, const ds_tensor *t,
                              int64_t n, int64_t c, int64_t d, int64_t h, int64_t w);
/* Fills each channel plane of t (n x c x spatial) with bias[c], or zeros when bias is NULL. */
void ds_conv_fill_bias(ds_ctx *ctx, int64_t n, int64_t c, int64_t spatial, const float *bias,
                       float *t);
/* db[c] += sum over samples and positions of t[n][c][...] (t has n x c x spatial floats). */
void ds_conv_core_bias_grad(ds_ctx *ctx, int64_t n, int64_t c, int64_t spatial, const float *t,
                            float *db);

#endif /* DS_CONV_CORE_H */
