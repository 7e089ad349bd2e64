/* test_conv_api.c - argument checking of the convolution layers, and identical results for 1, 2,
 * 3 and 8 threads (the reference for the others is the first: the tilings and the parts of the
 * reductions that fix summation orders do not depend on the thread count, so the bits must agree),
 * on shapes large enough to be cut into several tiles and parts: 8 threads on 2 cores check
 * results, not speed. The AVX2 and AVX-512 builds of the direct kernel agree bit for bit.
 * ds_conv3d_backward_set gives bit for bit what ds_conv3d_backward adds into a zeroed dx,
 * whatever dx held (NaN here), on every backward-data path; so does the transposed layer's.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "conv_core.h"
#include "conv_test_util.h"
#include "ds_tensor.h"
#include "ds_test.h"
#include "ds_threads.h"

static void bad_arguments(ds_ctx *ctx)
{
    ds_conv3d c;
    ds_conv_transpose3d t;
    ds_tensor *x = NULL, *y = NULL, *ybad = NULL, *x4 = NULL, *tiny = NULL, *dx = NULL;
    int64_t n, ch, d, h, w;
    /* init */
    DS_CHECK_FAILS(ctx, ds_conv3d_init(ctx, NULL, "c", 1, 1, 3, 1, 1, 1), DS_ERR_ARG);
    DS_CHECK_FAILS(ctx, ds_conv3d_init(ctx, &c, "c", 0, 4, 3, 1, 1, 1), DS_ERR_ARG);
    DS_CHECK_FAILS(ctx, ds_conv3d_init(ctx, &c, "c", 3, 4, 0, 1, 1, 1), DS_ERR_ARG);
    DS_CHECK_FAILS(ctx, ds_conv3d_init(ctx, &c, "c", 3, 4, 3, 0, 1, 1), DS_ERR_ARG);
    DS_CHECK_FAILS(ctx, ds_conv3d_init(ctx, &c, "c", 3, 4, 3, 1, -1, 1), DS_ERR_ARG);
    DS_CHECK_FAILS(ctx, ds_conv_transpose3d_init(ctx, &t, "t", 3, -4, 2, 2, 0, 1), DS_ERR_ARG);
    /* a zeroed (never initialised) layer */
    memset(&c, 0, sizeof c);
    DS_CHECK_OK(ctx, ds_tensor_zeros(ctx, &x, 1, 3, 5, 6, 7));
    DS_CHECK_OK(ctx, ds_tensor_zeros(ctx, &y, 1, 4, 5, 6, 7));
    DS_CHECK_FAILS(ctx, ds_conv3d_forward(ctx, &c, x, y), DS_ERR_ARG);

    DS_CHECK_OK(ctx, ds_conv3d_init(ctx, &c, "enc.conv", 3, 4, 3, 1, 1, 1));
    DS_CHECK(strcmp(c.weight.name, "enc.conv.weight") == 0 &&
             strcmp(c.bias.name, "enc.conv.bias") == 0);
    DS_CHECK(c.weight.numel == 4 * 3 * 27 && c.bias.numel == 4);
    DS_CHECK_OK(ctx, ds_conv3d_output_shape(ctx, &c, x, &n, &ch, &d, &h, &w));
    DS_CHECK(n == 1 && ch == 4 && d == 5 && h == 6 && w == 7);
    DS_CHECK_OK(ctx, ds_tensor_zeros(ctx, &ybad, 1, 4, 5, 6, 6));
    DS_CHECK_OK(ctx, ds_tensor_zeros(ctx, &x4, 1, 4, 5, 6, 7));
    DS_CHECK_OK(ctx, ds_tensor_zeros(ctx, &dx, 1, 3, 5, 6, 6));
    /* null */
    DS_CHECK_FAILS(ctx, ds_conv3d_forward(ctx, &c, NULL, y), DS_ERR_ARG);
    DS_CHECK_FAILS(ctx, ds_conv3d_forward(ctx, &c, x, NULL), DS_ERR_ARG);
    DS_CHECK_FAILS(ctx, ds_conv3d_backward(ctx, &c, x, NULL, NULL), DS_ERR_ARG);
    DS_CHECK_FAILS(ctx, ds_conv3d_output_shape(ctx, &c, x, NULL, &ch, &d, &h, &w), DS_ERR_ARG);
    /* channel mismatch */
    DS_CHECK_FAILS(ctx, ds_conv3d_forward(ctx, &c, x4, y), DS_ERR_SHAPE);
    DS_CHECK(strstr(ds_ctx_message(ctx), "channels") != NULL);
    DS_CHECK_FAILS(ctx, ds_conv3d_output_shape(ctx, &c, x4, &n, &ch, &d, &h, &w), DS_ERR_SHAPE);
    /* output shape mismatch */
    DS_CHECK_FAILS(ctx, ds_conv3d_forward(ctx, &c, x, ybad), DS_ERR_SHAPE);
    DS_CHECK(strstr(ds_ctx_message(ctx), "1x4x5x6x6") != NULL);
    DS_CHECK_FAILS(ctx, ds_conv3d_backward(ctx, &c, x, ybad, NULL), DS_ERR_SHAPE);
    DS_CHECK_FAILS(ctx, ds_conv3d_backward(ctx, &c, x, y, dx), DS_ERR_SHAPE);
    /* aliasing */
    DS_CHECK_FAILS(ctx, ds_conv3d_backward(ctx, &c, x, y, x), DS_ERR_ARG);
    ds_conv3d_free(&c);
    ds_conv3d_free(&c); /* a second free is harmless */
    /* empty output: kernel 7 without padding on 5x6x7 */
    DS_CHECK_OK(ctx, ds_conv3d_init(ctx, &c, NULL, 3, 4, 7, 1, 0, 0));
    DS_CHECK(strcmp(c.weight.name, "weight") == 0 && c.bias.value == NULL);
    DS_CHECK_FAILS(ctx, ds_conv3d_forward(ctx, &c, x, y), DS_ERR_SHAPE);
    DS_CHECK(strstr(ds_ctx_message(ctx), "too small") != NULL);
    ds_conv3d_free(&c);

    /* transposed */
    DS_CHECK_OK(ctx, ds_conv_transpose3d_init(ctx, &t, "up", 4, 3, 2, 2, 0, 1));
    DS_CHECK(t.weight.numel == 4 * 3 * 8);
    DS_CHECK_OK(ctx, ds_conv_transpose3d_output_shape(ctx, &t, x4, &n, &ch, &d, &h, &w));
    DS_CHECK(n == 1 && ch == 3 && d == 10 && h == 12 && w == 14);
    DS_CHECK_FAILS(ctx, ds_conv_transpose3d_forward(ctx, &t, x, y), DS_ERR_SHAPE);  /* 3 channels */
    DS_CHECK_FAILS(ctx, ds_conv_transpose3d_forward(ctx, &t, x4, x), DS_ERR_SHAPE); /* 5x6x7 */
    DS_CHECK_FAILS(ctx, ds_conv_transpose3d_forward(ctx, &t, NULL, x), DS_ERR_ARG);
    DS_CHECK_FAILS(ctx, ds_conv_transpose3d_backward(ctx, &t, x4, x, NULL), DS_ERR_SHAPE);
    ds_conv_transpose3d_free(&t);
    /* empty output: kernel 1, padding 1 on a 1x1x1 input gives -1 */
    DS_CHECK_OK(ctx, ds_conv_transpose3d_init(ctx, &t, "up", 3, 3, 1, 1, 1, 0));
    DS_CHECK_OK(ctx, ds_tensor_zeros(ctx, &tiny, 1, 3, 1, 1, 1));
    DS_CHECK_FAILS(ctx, ds_conv_transpose3d_forward(ctx, &t, tiny, tiny), DS_ERR_SHAPE);
    DS_CHECK(strstr(ds_ctx_message(ctx), "empty") != NULL);
    ds_conv_transpose3d_free(&t);

    ds_tensor_free(x);
    ds_tensor_free(y);
    ds_tensor_free(ybad);
    ds_tensor_free(x4);
    ds_tensor_free(tiny);
    ds_tensor_free(dx);
}

typedef struct result {
    float *y, *dx, *dw, *db;
} result;

/* Forward and backward with the given thread count and kernels (algo, convolutions only);
 * returns copies of everything produced. With want != NULL, checks the kernels that ran (direct:
 * whether the direct kernels should). */
static result run(ds_ctx *ctx, const conv_ref_shape *r, int threads, const char *name,
                  const conv_want *want, int direct, ds_conv_algo algo)
{
    result out = {NULL, NULL, NULL, NULL};
    conv_any layer;
    ds_tensor *x = NULL, *y = NULL, *dy = NULL, *dx = NULL;
    uint64_t st = 99;
    DS_CHECK_OK(ctx, ds_threads_set(ctx, threads));
    DS_CHECK_OK(ctx, conv_any_init(ctx, &layer, r, 1));
    if (!r->transposed)
        layer.c.algo = algo;
    DS_CHECK_OK(ctx, ds_tensor_create(ctx, &x, r->n, r->cin, r->d, r->h, r->w));
    DS_CHECK_OK(ctx, ds_tensor_create(ctx, &y, r->n, r->cout, r->od, r->oh, r->ow));
    DS_CHECK_OK(ctx, ds_tensor_create(ctx, &dy, r->n, r->cout, r->od, r->oh, r->ow));
    DS_CHECK_OK(ctx, ds_tensor_zeros(ctx, &dx, r->n, r->cin, r->d, r->h, r->w));
    if (x && y && dy && dx) {
        ds_param *pw = conv_any_weight(&layer), *pb = conv_any_bias(&layer);
        for (int64_t i = 0; i < ds_tensor_numel(x); ++i)
            x->data[i] = (float)conv_ref_uniform(&st);
        for (int64_t i = 0; i < ds_tensor_numel(dy); ++i)
            dy->data[i] = (float)conv_ref_uniform(&st);
        for (int64_t i = 0; i < pw->numel; ++i)
            pw->value[i] = (float)(0.1 * conv_ref_uniform(&st));
        for (int64_t i = 0; i < pb->numel; ++i)
            pb->value[i] = (float)conv_ref_uniform(&st);
        DS_CHECK_OK(ctx, conv_any_forward(ctx, &layer, x, y));
        DS_CHECK_OK(ctx, conv_any_backward(ctx, &layer, x, dy, dx));
        if (want)
            conv_test_check_paths(name, &layer, want, direct, 1);
        size_t ny = (size_t)ds_tensor_numel(y), nx = (size_t)ds_tensor_numel(x);
        out.y = malloc(ny * sizeof(float));
        out.dx = malloc(nx * sizeof(float));
        out.dw = malloc((size_t)pw->numel * sizeof(float));
        out.db = malloc((size_t)pb->numel * sizeof(float));
        memcpy(out.y, y->data, ny * sizeof(float));
        memcpy(out.dx, dx->data, nx * sizeof(float));
        memcpy(out.dw, pw->grad, (size_t)pw->numel * sizeof(float));
        memcpy(out.db, pb->grad, (size_t)pb->numel * sizeof(float));
    }
    ds_tensor_free(x);
    ds_tensor_free(y);
    ds_tensor_free(dy);
    ds_tensor_free(dx);
    conv_any_free(&layer);
    return out;
}

static void same(const char *name, const char *what, const float *a, const float *b, int64_t n,
                 int threads)
{
    DS_CHECK_MSG(a && b && memcmp(a, b, (size_t)n * sizeof(float)) == 0,
                 "%s: %s differs between 1 and %d threads", name, what, threads);
}

static void thread_invariance(ds_ctx *ctx, int direct)
{
    static const struct {
        const char *name;
        int transposed, cin, cout, k, s, p, d, h, w;
        conv_want want;
        ds_conv_algo algo; /* of a convolution (AUTO unless given) */
    } cases[] = {
        /* Winograd forward, backward-data (AUTO from 128 voxels) and backward-weights (from
         * 1024) */
        {"k3 s1 p1", 0, 16, 16, 3, 1, 1, 12, 20, 40, CONV_WANT_SAME(CP_WINO, CP_WINO, CP_WINO),
         DS_CONV_ALGO_AUTO},
        /* the same layer with the kernels before Winograd: direct throughout */
        {"k3 s1 p1, reference kernels", 0, 16, 16, 3, 1, 1, 12, 20, 40,
         {{CP_DIRECT, CP_DIRECT, CP_DIRECT}, {CP_GEMM, CP_GEMM, CP_GEMM}},
         DS_CONV_ALGO_REFERENCE},
        /* one input channel: direct backward-weights sums runs of planes into partials */
        {"k3 s1 p1, 1 -> 16", 0, 1, 16, 3, 1, 1, 9, 7, 20,
         {{CP_DIRECT, CP_DIRECT, CP_DIRECT}, {CP_GEMM, CP_GEMM, CP_GEMM}}, DS_CONV_ALGO_AUTO},
        /* deep and small (2 x 45 voxels): our few-voxel GEMM forward and backward-data, else
         * split-K */
        {"k3 s1 p1, 64 -> 64 on 3x3x5", 0, 64, 64, 3, 1, 1, 3, 3, 5,
         {{CP_FEW, CP_FEW, CP_GEMM}, {CP_SPLITK, CP_SPLITK, CP_GEMM}}, DS_CONV_ALGO_AUTO},
        /* the same with the kernels before it: split-K */
        {"k3 s1 p1, 64 -> 64 on 3x3x5, reference kernels", 0, 64, 64, 3, 1, 1, 3, 3, 5,
         CONV_WANT_SAME(CP_SPLITK, CP_SPLITK, CP_GEMM), DS_CONV_ALGO_REFERENCE},
        /* stride 2, 36 output rows (a tail of 4 below the kernel's 8), 2 x 36 voxels */
        {"k3 s2 p1, 40 -> 36 on 3x4x3", 0, 40, 36, 3, 2, 1, 5, 7, 5,
         {{CP_FEW, CP_SCATTER, CP_GEMM}, {CP_SPLITK, CP_SCATTER, CP_GEMM}}, DS_CONV_ALGO_AUTO},
        {"k2 s2", 0, 16, 32, 2, 2, 0, 13, 20, 41,
         CONV_WANT_SAME(CP_GEMM, CP_SCATTER, CP_GEMM), DS_CONV_ALGO_AUTO},
        {"k1 s1", 0, 16, 2, 1, 1, 0, 12, 20, 41,
         CONV_WANT_SAME(CP_PW, CP_PW, CP_PW), DS_CONV_ALGO_AUTO},
        {"k7 s1 p3", 0, 2, 16, 7, 1, 3, 9, 10, 21,
         {{CP_DIRECT, CP_DIRECT, CP_DIRECT_AVX512}, {CP_SPLITK, CP_GEMM, CP_GEMM}},
         DS_CONV_ALGO_AUTO},
        {"k1 s2", 0, 16, 32, 1, 2, 0, 13, 20, 41,
         CONV_WANT_SAME(CP_GEMM, CP_SCATTER, CP_GEMM), DS_CONV_ALGO_AUTO},
        {"k3 s2 p1", 0, 8, 8, 3, 2, 1, 17, 15, 33,
         CONV_WANT_SAME(CP_GEMM, CP_SCATTER, CP_GEMM), DS_CONV_ALGO_AUTO},
        {"transposed k2 s2", 1, 32, 16, 2, 2, 0, 6, 7, 11,
         CONV_WANT_SAME(CP_SCATTER, CP_GEMM, CP_GEMM), DS_CONV_ALGO_AUTO},
        {"transposed k3 s2 p1", 1, 8, 8, 3, 2, 1, 7, 6, 9,
         CONV_WANT_SAME(CP_SCATTER, CP_GEMM, CP_GEMM), DS_CONV_ALGO_AUTO},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; ++i) {
        conv_ref_shape r = {cases[i].transposed,
                            2,
                            cases[i].cin,
                            cases[i].cout,
                            cases[i].k,
                            cases[i].s,
                            cases[i].p,
                            cases[i].d,
                            cases[i].h,
                            cases[i].w,
                            0,
                            0,
                            0};
        conv_ref_fill_out(&r);
        result a = run(ctx, &r, 1, NULL, NULL, direct, cases[i].algo);
        static const int counts[] = {2, 3, 8};
        for (size_t t = 0; t < sizeof counts / sizeof counts[0]; ++t) {
            const int nt = counts[t];
            result b = run(ctx, &r, nt, cases[i].name, &cases[i].want, direct, cases[i].algo);
            same(cases[i].name, "y", a.y, b.y, conv_ref_out_numel(&r), nt);
            same(cases[i].name, "dx", a.dx, b.dx, conv_ref_in_numel(&r), nt);
            same(cases[i].name, "dweight", a.dw, b.dw, conv_ref_w_numel(&r), nt);
            same(cases[i].name, "dbias", a.db, b.db, r.cout, nt);
            free(b.y), free(b.dx), free(b.dw), free(b.db);
        }
        free(a.y), free(a.dx), free(a.dw), free(a.db);
    }
}

/* Values in [-1, 1) from a fixed integer hash: the test needs any fixed data, not a distribution. */
static void fill_hashed(float *v, int64_t n, uint32_t seed)
{
    for (int64_t i = 0; i < n; ++i) {
        uint32_t h = (uint32_t)i * 2654435761u ^ seed;
        h ^= h >> 15;
        h *= 2246822519u;
        h ^= h >> 13;
        v[i] = (float)(h & 0xffffff) / 8388608.0f - 1.0f;
    }
}

/* A backward's inputs and its two input gradients: one zeroed (for the add), one NaN (for
 * _set, which must overwrite every value). */
typedef struct set_tensors {
    ds_tensor *x, *dy, *added, *set;
} set_tensors;

static void set_tensors_make(ds_ctx *ctx, set_tensors *t, int64_t n, int64_t c, int64_t d,
                             int64_t h, int64_t w, const int64_t out[5], uint32_t seed)
{
    memset(t, 0, sizeof *t);
    DS_CHECK_OK(ctx, ds_tensor_create(ctx, &t->x, n, c, d, h, w));
    DS_CHECK_OK(ctx, ds_tensor_create(ctx, &t->dy, out[0], out[1], out[2], out[3], out[4]));
    DS_CHECK_OK(ctx, ds_tensor_zeros(ctx, &t->added, n, c, d, h, w));
    DS_CHECK_OK(ctx, ds_tensor_create_like(ctx, &t->set, t->x));
    fill_hashed(t->x->data, ds_tensor_numel(t->x), seed);
    fill_hashed(t->dy->data, ds_tensor_numel(t->dy), seed + 1);
    for (int64_t k = 0; k < ds_tensor_numel(t->set); ++k)
        t->set->data[k] = NAN;
}

static int same_floats(const float *a, const float *b, int64_t n)
{
    return memcmp(a, b, (size_t)n * sizeof(float)) == 0;
}

static void set_tensors_free(set_tensors *t)
{
    ds_tensor_free(t->x), ds_tensor_free(t->dy), ds_tensor_free(t->added), ds_tensor_free(t->set);
}

static void backward_set(ds_ctx *ctx)
{
    static const struct {
        const char *name;
        int cin, cout, k, s, p, d, h, w;
    } cases[] = {
        {"k3 s1 p1 (Winograd)", 16, 16, 3, 1, 1, 12, 20, 40},
        {"k3 s1 p1, 64 -> 64 on 3x3x5 (few voxels)", 64, 64, 3, 1, 1, 3, 3, 5},
        {"k2 s2 (scatter)", 16, 32, 2, 2, 0, 13, 20, 41},
        {"k1 s1 (pointwise)", 16, 2, 1, 1, 0, 12, 20, 41},
    };
    DS_CHECK_OK(ctx, ds_threads_set(ctx, 2));
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; ++i) {
        ds_conv3d a, b;
        DS_CHECK_OK(ctx, ds_conv3d_init(ctx, &a, "a", cases[i].cin, cases[i].cout, cases[i].k,
                                        cases[i].s, cases[i].p, 1));
        DS_CHECK_OK(ctx, ds_conv3d_init(ctx, &b, "b", cases[i].cin, cases[i].cout, cases[i].k,
                                        cases[i].s, cases[i].p, 1));
        fill_hashed(a.weight.value, a.weight.numel, 1);
        memcpy(b.weight.value, a.weight.value, (size_t)a.weight.numel * sizeof(float));
        ds_tensor *probe = NULL;
        int64_t out[5];
        DS_CHECK_OK(ctx, ds_tensor_create(ctx, &probe, 2, cases[i].cin, cases[i].d, cases[i].h,
                                          cases[i].w));
        DS_CHECK_OK(ctx, ds_conv3d_output_shape(ctx, &a, probe, &out[0], &out[1], &out[2],
                                                &out[3], &out[4]));
        ds_tensor_free(probe);
        set_tensors t;
        set_tensors_make(ctx, &t, 2, cases[i].cin, cases[i].d, cases[i].h, cases[i].w, out, 2);
        DS_CHECK_OK(ctx, ds_conv3d_backward(ctx, &a, t.x, t.dy, t.added));
        DS_CHECK_OK(ctx, ds_conv3d_backward_set(ctx, &b, t.x, t.dy, t.set));
        DS_CHECK_MSG(a.paths.backward_data == b.paths.backward_data,
                     "%s: backward_set took another path", cases[i].name);
        DS_CHECK_MSG(same_floats(t.added->data, t.set->data, ds_tensor_numel(t.x)) &&
                         same_floats(a.weight.grad, b.weight.grad, a.weight.numel) &&
                         same_floats(a.bias.grad, b.bias.grad, out[1]),
                     "%s: backward_set differs from the add into zeros", cases[i].name);
        set_tensors_free(&t);
        ds_conv3d_free(&a);
        ds_conv3d_free(&b);
    }
    /* the transposed k2 s2 (the up-sampling), whose _set zeroes dx before its adding path */
    ds_conv_transpose3d a, b;
    DS_CHECK_OK(ctx, ds_conv_transpose3d_init(ctx, &a, "a", 32, 16, 2, 2, 0, 1));
    DS_CHECK_OK(ctx, ds_conv_transpose3d_init(ctx, &b, "b", 32, 16, 2, 2, 0, 1));
    fill_hashed(a.weight.value, a.weight.numel, 4);
    memcpy(b.weight.value, a.weight.value, (size_t)a.weight.numel * sizeof(float));
    const int64_t out[5] = {2, 16, 12, 14, 22}; /* 2 x 32 x 6x7x11, up-sampled by 2 */
    set_tensors t;
    set_tensors_make(ctx, &t, 2, 32, 6, 7, 11, out, 5);
    DS_CHECK_OK(ctx, ds_conv_transpose3d_backward(ctx, &a, t.x, t.dy, t.added));
    DS_CHECK_OK(ctx, ds_conv_transpose3d_backward_set(ctx, &b, t.x, t.dy, t.set));
    DS_CHECK_MSG(same_floats(t.added->data, t.set->data, ds_tensor_numel(t.x)) &&
                     same_floats(a.weight.grad, b.weight.grad, a.weight.numel),
                 "transposed k2 s2: backward_set differs from the add into zeros");
    set_tensors_free(&t);
    ds_conv_transpose3d_free(&a);
    ds_conv_transpose3d_free(&b);
}

/* Forward, backward-data and backward-weights of one layer against the double reference of
 * conv_ref.h, and the kernels that ran. */
static void against_reference(ds_ctx *ctx, const char *name, conv_ref_shape r,
                              const conv_want *want, int direct)
{
    conv_ref_fill_out(&r);
    const int64_t nx = conv_ref_in_numel(&r), ny = conv_ref_out_numel(&r);
    const int64_t nw = conv_ref_w_numel(&r);
    double *x = malloc(sizeof(double) * (size_t)nx), *w = malloc(sizeof(double) * (size_t)nw);
    double *dy = malloc(sizeof(double) * (size_t)ny), *y = malloc(sizeof(double) * (size_t)ny);
    double *dx = malloc(sizeof(double) * (size_t)nx), *dw = malloc(sizeof(double) * (size_t)nw);
    conv_any layer;
    ds_tensor *tx = NULL, *ty = NULL, *tdy = NULL, *tdx = NULL;
    uint64_t st = 5;
    DS_CHECK_OK(ctx, conv_any_init(ctx, &layer, &r, 0));
    DS_CHECK_OK(ctx, ds_tensor_create(ctx, &tx, r.n, r.cin, r.d, r.h, r.w));
    DS_CHECK_OK(ctx, ds_tensor_create(ctx, &ty, r.n, r.cout, r.od, r.oh, r.ow));
    DS_CHECK_OK(ctx, ds_tensor_create(ctx, &tdy, r.n, r.cout, r.od, r.oh, r.ow));
    DS_CHECK_OK(ctx, ds_tensor_zeros(ctx, &tdx, r.n, r.cin, r.d, r.h, r.w));
    if (x && w && dy && y && dx && dw && tx && ty && tdy && tdx) {
        ds_param *pw = conv_any_weight(&layer);
        for (int64_t i = 0; i < nx; ++i)
            x[i] = tx->data[i] = (float)conv_ref_uniform(&st);
        for (int64_t i = 0; i < nw; ++i)
            w[i] = pw->value[i] = (float)conv_ref_uniform(&st);
        for (int64_t i = 0; i < ny; ++i)
            dy[i] = tdy->data[i] = (float)conv_ref_uniform(&st);
        conv_ref_forward(&r, x, w, NULL, y);
        conv_ref_backward(&r, x, w, dy, dx, dw, NULL);
        DS_CHECK_OK(ctx, conv_any_forward(ctx, &layer, tx, ty));
        DS_CHECK_OK(ctx, conv_any_backward(ctx, &layer, tx, tdy, tdx));
        conv_test_check_paths(name, &layer, want, direct, 1);
        double ey = conv_rel_err(ty->data, y, ny), edx = conv_rel_err(tdx->data, dx, nx);
        double edw = conv_rel_err(pw->grad, dw, nw);
        DS_CHECK_MSG(ey <= 1e-5 && edx <= 1e-5 && edw <= 1e-5,
                     "%s: rel errors y %.3g, dx %.3g, dW %.3g", name, ey, edx, edw);
    }
    ds_tensor_free(tx);
    ds_tensor_free(ty);
    ds_tensor_free(tdy);
    ds_tensor_free(tdx);
    conv_any_free(&layer);
    free(x), free(w), free(dy), free(y), free(dx), free(dw);
}

/* A stride-1 kernel of 57 (the largest sizes are accepted) on rows of 24: the direct forward's
 * last block then reads 71 floats past its padded planes, which overran the fixed 64 floats of
 * zeros after them (seen by ASan; the values read only fed dropped positions). */
static void large_kernel(ds_ctx *ctx, int direct)
{
    const conv_ref_shape r = {0, 1, 1, 4, 57, 1, 28, 1, 1, 24, 0, 0, 0};
    const conv_want want = {{CP_DIRECT, CP_DIRECT, CP_GEMM}, {CP_GEMM, CP_GEMM, CP_GEMM}};
    against_reference(ctx, "k57 s1 p28 on 24 columns", r, &want, direct);
}

/* The lowered backward-weights through our kernel (from 32 output channels, kernels up to 3):
 * one tile of the batch's samples side by side (output columns padded to whole vectors: 36),
 * and tiles within each sample (2 x 12x12x13 output voxels at 16 -> 36 channels: 2 tiles a
 * sample). */
static void our_weight_gemm(ds_ctx *ctx, int direct)
{
    const conv_ref_shape one = {0, 2, 40, 36, 3, 2, 1, 5, 7, 5, 0, 0, 0};
    const conv_ref_shape tiles = {0, 2, 16, 36, 3, 2, 1, 24, 24, 26, 0, 0, 0};
    const conv_ref_shape k2 = {0, 2, 64, 128, 2, 2, 0, 8, 12, 8, 0, 0, 0};
    const conv_want small = {{CP_FEW, CP_SCATTER, CP_GEMM}, {CP_SPLITK, CP_SCATTER, CP_GEMM}};
    const conv_want lowered = CONV_WANT_SAME(CP_GEMM, CP_SCATTER, CP_GEMM);
    against_reference(ctx, "k3 s2 p1, 40 -> 36 on 5x7x5 (one tile)", one, &small, direct);
    against_reference(ctx, "k3 s2 p1, 16 -> 36 on 24x24x26 (tiles)", tiles, &lowered, direct);
    against_reference(ctx, "k2 s2, 64 -> 128 on 8x12x8", k2, &small, direct);
}

/* The AVX2 and AVX-512 builds of the direct forward make each value with the same FMAs in the
 * same order: the same bits, on shapes whose rows end inside a block of 24 or 48 positions (the
 * stem, 1 -> 16 channels, kernel 7; odd sizes; kernel 57), with a bias and accumulating into y;
 * both against the double reference of conv_ref.h. */
static void direct_builds(ds_ctx *ctx)
{
    static const int64_t shapes[][7] = {/* n, cin, cout, k, d, h, w (padding (k - 1) / 2) */
                                        {2, 1, 16, 7, 9, 13, 37}, {1, 3, 5, 3, 5, 7, 19},
                                        {1, 2, 8, 5, 4, 6, 16},   {1, 1, 4, 57, 1, 1, 24}};
    int ran[2] = {0, 0};
    for (size_t i = 0; i < sizeof shapes / sizeof shapes[0]; ++i) {
        const int64_t *q = shapes[i];
        conv_ref_shape r = {0, q[0], q[1], q[2], q[3], 1, (q[3] - 1) / 2, q[4], q[5], q[6],
                            0, 0, 0};
        conv_ref_fill_out(&r);
        const ds_conv_geom g = {r.n,    r.cin, r.cout, r.k, r.s, r.p, r.d, r.h, r.w, r.od, r.oh,
                                r.ow,   DS_CONV_ALGO_AUTO};
        const int64_t nx = conv_ref_in_numel(&r), ny = conv_ref_out_numel(&r);
        const int64_t nw = conv_ref_w_numel(&r);
        double *xd = malloc(sizeof(double) * (size_t)nx), *wd = malloc(sizeof(double) * (size_t)nw);
        double *bd = malloc(sizeof(double) * (size_t)r.cout), *yd = malloc(sizeof(double) * (size_t)ny);
        float *x = malloc(sizeof(float) * (size_t)nx), *w = malloc(sizeof(float) * (size_t)nw);
        float *b = malloc(sizeof(float) * (size_t)r.cout), *y[2];
        y[0] = malloc(sizeof(float) * (size_t)ny);
        y[1] = malloc(sizeof(float) * (size_t)ny);
        DS_CHECK(xd && wd && bd && yd && x && w && b && y[0] && y[1]);
        uint64_t st = 31 + i;
        for (int64_t j = 0; j < nx; ++j)
            xd[j] = x[j] = (float)conv_ref_uniform(&st);
        for (int64_t j = 0; j < nw; ++j)
            wd[j] = w[j] = (float)conv_ref_uniform(&st);
        for (int64_t j = 0; j < r.cout; ++j)
            bd[j] = b[j] = (float)conv_ref_uniform(&st);
        conv_ref_forward(&r, xd, wd, bd, yd);
        int done[2] = {0, 0};
        for (int v = 0; v < 2; ++v) {
            ds_conv_work work;
            memset(&work, 0, sizeof work);
            /* the bias, then once more accumulated (beta 1): y = 2 conv + bias */
            ds_status s1 = ds_conv_direct_forward_build(
                ctx, &work, &g, x, w, b, 0.0f, y[v], v ? DS_WINO_BUILD_AVX512 : DS_WINO_BUILD_AVX2);
            if (s1 == DS_OK)
                DS_CHECK_OK(ctx, ds_conv_direct_forward_build(ctx, &work, &g, x, w, NULL, 1.0f, y[v],
                                                              v ? DS_WINO_BUILD_AVX512
                                                                : DS_WINO_BUILD_AVX2));
            else
                DS_CHECK(s1 == DS_ERR_UNSUPPORTED);
            ds_conv_work_release(&work);
            done[v] = s1 == DS_OK;
            ran[v] |= done[v];
        }
        for (int64_t j = 0; j < ny; ++j)
            yd[j] = 2.0 * yd[j] - bd[(j / (r.od * r.oh * r.ow)) % r.cout];
        for (int v = 0; v < 2; ++v)
            if (done[v]) {
                const double e = conv_rel_err(y[v], yd, ny);
                DS_CHECK_MSG(e <= 1e-5, "direct build %d, shape %zu: rel error %.3g", v, i, e);
            }
        if (done[0] && done[1])
            DS_CHECK_MSG(memcmp(y[0], y[1], sizeof(float) * (size_t)ny) == 0,
                         "direct kernel, shape %zu: AVX2 and AVX-512 differ", i);
        free(xd), free(wd), free(bd), free(yd), free(x), free(w), free(b), free(y[0]), free(y[1]);
    }
    printf("direct kernel: %s, %s\n", ran[0] ? "AVX2" : "AVX2 not built or not on this CPU",
           ran[1] ? "AVX-512 (bit-identical)" : "no AVX-512 build here");
}

/* The lowering against its definition, col[kr][t] = x[ci][od s + kd - p][oh s + kh - p][o s + kw - p]
 * (zero outside the volume), and the adjoint against the sum of that map's transpose: for the
 * kernel-2 stride-2 permutation (odd sizes, whose last plane no tap reads; K ranges and row ranges
 * that start or end between the two kw taps of a row) and the general loops (k3 s2 p1, k2 s1 p1,
 * k3 s1 p1, k1 s2; K ranges starting inside a channel's taps).
 * Both are copies and sums of single values, so they must agree bit for bit. */
static void lowering(void)
{
    static const int64_t shapes[][6] = {/* cin, d, h, w, k, s (p = k == 3 || s == 1) */
                                        {3, 5, 6, 7, 2, 2}, {2, 4, 4, 4, 2, 2}, {1, 2, 2, 32, 2, 2},
                                        {2, 5, 6, 7, 3, 2}, {2, 3, 4, 5, 2, 1}, {2, 4, 5, 6, 3, 1},
                                        {3, 5, 6, 7, 1, 2}};
    for (size_t si = 0; si < sizeof shapes / sizeof shapes[0]; ++si) {
        const int64_t *v = shapes[si];
        ds_conv_geom g = {.n = 1, .cin = v[0], .cout = 1, .k = v[4], .s = v[5],
                          .p = v[4] == 3 || v[5] == 1, .d = v[1], .h = v[2], .w = v[3]};
        g.od = (g.d + 2 * g.p - g.k) / g.s + 1;
        g.oh = (g.h + 2 * g.p - g.k) / g.s + 1;
        g.ow = (g.w + 2 * g.p - g.k) / g.s + 1;
        const int64_t k3 = g.k * g.k * g.k, kdim = g.cin * k3, rows = g.od * g.oh;
        const int64_t xn = g.cin * g.d * g.h * g.w, ld = rows * g.ow + 3;
        float *x = malloc((size_t)xn * sizeof *x), *col = malloc((size_t)(kdim * ld) * sizeof *col);
        float *ref = malloc((size_t)(kdim * ld) * sizeof *ref);
        float *dx = calloc((size_t)xn, sizeof *dx), *dref = calloc((size_t)xn, sizeof *dref);
        DS_CHECK(x && col && ref && dx && dref);
        if (!x || !col || !ref || !dx || !dref)
            return;
        for (int64_t i = 0; i < xn; ++i)
            x[i] = (float)(i % 97) * 0.25f - 7.0f;
        /* whole, K rows from an odd start to an odd end, and output rows across a plane */
        const int64_t ranges[][4] = {{0, rows, 0, kdim}, {1, rows - 1, 1, kdim - 1},
                                     {g.oh - 1, rows, 3, 4}, {0, 1, 0, 2},
                                     {g.oh + 1, rows, k3 + k3 / 2, kdim}};
        int bad = 0;
        for (size_t ri = 0; ri < sizeof ranges / sizeof ranges[0]; ++ri) {
            const int64_t r0 = ranges[ri][0], r1 = ranges[ri][1], k0 = ranges[ri][2],
                          k1 = ranges[ri][3] < kdim ? ranges[ri][3] : kdim;
            if (r0 >= r1 || k0 >= k1)
                continue;
            const int64_t len = (r1 - r0) * g.ow;
            memset(col, 0x7f, (size_t)(kdim * ld) * sizeof *col);
            ds_conv_im2col(&g, x, r0, r1, k0, k1, col, ld);
            /* the adjoint's input: rows of len floats, small integers (exact sums) */
            for (int64_t i = 0; i < (k1 - k0) * len; ++i)
                ref[i] = (float)(i % 13) - 6.0f;
            ds_conv_col2im_add(&g, ref, r0, r1, k0, k1, dx);
            for (int64_t kr = k0; kr < k1; ++kr) {
                const int64_t ci = kr / k3, kd = kr % k3 / (g.k * g.k), kh = kr / g.k % g.k,
                              kw = kr % g.k;
                for (int64_t t = 0; t < len; ++t) {
                    const int64_t r = r0 + t / g.ow, o = t % g.ow;
                    const int64_t id = r / g.oh * g.s + kd - g.p, ih = r % g.oh * g.s + kh - g.p,
                                  iw = o * g.s + kw - g.p;
                    const int in = id >= 0 && id < g.d && ih >= 0 && ih < g.h && iw >= 0 &&
                                   iw < g.w;
                    const int64_t xi = ((ci * g.d + id) * g.h + ih) * g.w + iw;
                    bad += col[(kr - k0) * ld + t] != (in ? x[xi] : 0.0f);
                    if (in)
                        dref[xi] += ref[(kr - k0) * len + t];
                }
            }
        }
        for (int64_t i = 0; i < xn; ++i)
            bad += dx[i] != dref[i];
        DS_CHECK_MSG(bad == 0, "lowering of shape %zu (k%lld s%lld): %d values differ", si,
                     (long long)g.k, (long long)g.s, bad);
        free(x);
        free(col);
        free(ref);
        free(dx);
        free(dref);
    }
}

int main(void)
{
    ds_ctx *ctx = NULL;
    if (ds_ctx_create(&ctx) != DS_OK)
        return 1;
    const int direct = conv_test_direct_expected();
    bad_arguments(ctx);
    lowering();
    thread_invariance(ctx, direct);
    backward_set(ctx);
    DS_CHECK_OK(ctx, ds_threads_set(ctx, 0));
    large_kernel(ctx, direct);
    our_weight_gemm(ctx, direct);
    direct_builds(ctx);
    ds_ctx_free(ctx);
    return ds_test_finish("test_conv_api");
}
