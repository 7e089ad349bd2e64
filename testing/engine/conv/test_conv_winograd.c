/* test_conv_winograd.c - Winograd F(2x2x2, 3x3x3) forward, backward-data and backward-weights
 * (forced with DS_CONV_ALGO_WINOGRAD) on every kernel-3 stride-1 layer shape of the V-Net and the
 * ResNet34-V-Net (width 16: 1 -> 16, 16, 32, 64, 128, 256 channels; deep levels at the
 * Hippocampus patch's sizes, 32x48x32 / 2^level), odd sizes, planes of one voxel (partial tiles
 * on every border), batch 2.
 *
 * References: the naive float64 convolution written from the definition (conv_ref.h, shares no
 * code with the library), the reference float32 path of the library (direct or SGEMM), and
 * central finite differences of L(x) = sum(dy * winograd_forward(x)) for the gradient. Prints the
 * largest error of each layer shape and bounds it; results must be bit-identical for 1, 2, 3 and
 * 8 threads.
 *
 * The bound. An output of the direct convolution is a sum of m = cin * 27 terms; float32 makes an
 * error of at most about m^(1/2) 2^-24 of the sum S of their magnitudes (the reference path
 * measured 2e-8 .. 2.3e-7 of S here). Winograd adds the terms in the transformed domain, where U
 * has entries up to (3/2)^3 |w|, V up to 8 |x|, and the output transform adds 27 of the 64
 * products: intermediate sums a few times S cancel, so the error relative to S grows by that few
 * (measured here 1-4x the reference path's, at most 3.1e-7 of S; Barabasz et al. 2020 report 2-5x
 * for F(2,3)). The test allows 1e-6 of S: 3x the largest measured, and still 1000x below what a
 * wrong or missing term makes (about S / m >= 1e-3 here). For backward-weights S is the largest
 * tap of the kernel's 27 (see check_case: Winograd mixes the taps of a kernel).
 */
#include <inttypes.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "conv_core.h"
#include "conv_test_util.h"
#include "ds_tensor.h"
#include "ds_test.h"
#include "ds_threads.h"

typedef struct wg_case {
    const char *name;
    int n, cin, cout, d, h, w;
} wg_case;

static const wg_case cases[] = {
    {"vnet block_one 1->16 (odd)", 2, 1, 16, 9, 10, 11},
    {"16->16 level 0 (odd)", 1, 16, 16, 9, 10, 11},
    {"16->16 rows of 19 tiles (odd)", 1, 16, 16, 3, 5, 37},
    {"32->32 level 1 (Hippocampus /4)", 1, 32, 32, 8, 12, 8},
    {"64->64 level 2 (Hippocampus)", 1, 64, 64, 8, 12, 8},
    {"64->64 (Left Atrium level 4 size, odd)", 1, 64, 64, 7, 7, 5},
    {"128->128 level 3 (Hippocampus)", 1, 128, 128, 4, 6, 4},
    /* a batch of two small volumes goes through the shared path (make_plan): one block of 16
     * output channels a thread at 128 -> 128; 8 + 8 + 4 at 200 -> 20 */
    {"128->128 level 3, batch 2 (shared)", 2, 128, 128, 4, 6, 4},
    {"200->20 batch 2 (shared, a short last block)", 2, 200, 20, 4, 6, 4},
    {"256->256 level 4 (Hippocampus)", 1, 256, 256, 2, 3, 2},
    {"256->256 one-voxel planes", 1, 256, 256, 1, 3, 1},
    {"16->16 1x1x1", 2, 16, 16, 1, 1, 1},
    {"32->32 3x1x7", 1, 32, 32, 3, 1, 7},
    {"16->16 1x5x4", 2, 16, 16, 1, 5, 4},
    {"3->5 5x4x1", 1, 3, 5, 5, 4, 1},
    /* backward-weights in parts (conv_winograd_weight.c): 7 parts of 10-11 tile rows across
     * samples of 25; 16 parts; 6 parts at cin 24, cout 40; cin 20 (not a multiple of 8) stays
     * in the shared chunks */
    {"16->16 batch 3 (7 parts across samples)", 3, 16, 16, 9, 10, 11},
    {"32->32 batch 2 (16 parts)", 2, 32, 32, 16, 20, 18},
    {"24->40 batch 2 (6 parts, odd)", 2, 24, 40, 11, 9, 13},
    {"20->16 (shared chunks: cin not a multiple of 8)", 1, 20, 16, 16, 16, 16},
};

#define WG_TOL 1e-6

static void fill_uniform(double *d, float *f, int64_t n, uint64_t seed)
{
    for (int64_t i = 0; i < n; ++i) {
        f[i] = (float)conv_ref_uniform(&seed);
        d[i] = f[i];
    }
}

/* max over i of |got - want| / bound (bound: the sum of the magnitudes of element i's terms);
 * want is wd (float64) or, when wd is NULL, wf (another float32 path). */
static double worst(const float *got, const double *wd, const float *wf, const double *bound,
                    int64_t n)
{
    double r = 0.0;
    for (int64_t i = 0; i < n; ++i) {
        double want = wd ? wd[i] : (double)wf[i];
        double e = fabs((double)got[i] - want) / (bound[i] + 1e-30);
        r = e > r ? e : r;
    }
    return r;
}

typedef struct run_out {
    ds_tensor *y, *dx;
    float *dw;
    ds_conv_paths paths;
} run_out;

/* Forward and backward-data of layer c (weight already set) with algo, at `threads` threads. */
static void run(ds_ctx *ctx, ds_conv3d *c, ds_conv_algo algo, int threads, const ds_tensor *x,
                const ds_tensor *dy, run_out *o)
{
    DS_CHECK_OK(ctx, ds_threads_set(ctx, threads));
    c->algo = algo;
    DS_CHECK_OK(ctx, ds_tensor_create(ctx, &o->y, dy->n, dy->c, dy->d, dy->h, dy->w));
    DS_CHECK_OK(ctx, ds_tensor_create(ctx, &o->dx, x->n, x->c, x->d, x->h, x->w));
    memset(o->dx->data, 0, (size_t)ds_tensor_numel(o->dx) * sizeof(float));
    const size_t wbytes = (size_t)c->weight.numel * sizeof(float);
    memset(c->weight.grad, 0, wbytes);
    DS_CHECK_OK(ctx, ds_conv3d_forward(ctx, c, x, o->y));
    DS_CHECK_OK(ctx, ds_conv3d_backward(ctx, c, x, dy, o->dx));
    o->paths = c->paths;
    o->dw = malloc(wbytes);
    DS_CHECK(o->dw != NULL);
    if (o->dw)
        memcpy(o->dw, c->weight.grad, wbytes);
}

static void run_free(run_out *o)
{
    ds_tensor_free(o->y);
    ds_tensor_free(o->dx);
    free(o->dw);
}

static int same_bits(const ds_tensor *a, const ds_tensor *b)
{
    return memcmp(a->data, b->data, (size_t)ds_tensor_numel(a) * sizeof(float)) == 0;
}

/* L = sum(dy * y) in double, y the Winograd forward of x. */
static double fd_loss(ds_ctx *ctx, ds_conv3d *c, const ds_tensor *x, const ds_tensor *dy,
                      ds_tensor *y, double *mag)
{
    DS_CHECK_OK(ctx, ds_conv3d_forward(ctx, c, x, y));
    double s = 0.0, m = 0.0;
    for (int64_t i = 0; i < ds_tensor_numel(y); ++i) {
        s += (double)dy->data[i] * y->data[i];
        m += fabs((double)dy->data[i] * y->data[i]);
    }
    *mag = m;
    return s;
}

/* Central differences of L on 16 entries of x spread over the volume (L is linear in x, so the
 * step can be large: only float32 rounding of y, about 1e-7 of sum |dy y|, separates them). */
static double check_fd(ds_ctx *ctx, ds_conv3d *c, ds_tensor *x, const ds_tensor *dy,
                       const ds_tensor *dx)
{
    ds_tensor *y = NULL;
    DS_CHECK_OK(ctx, ds_tensor_create(ctx, &y, dy->n, dy->c, dy->d, dy->h, dy->w));
    const int64_t n = ds_tensor_numel(x);
    const double h = 0.5;
    double worst_err = 0.0;
    for (int s = 0; s < 16; ++s) {
        int64_t i = (int64_t)((double)s * (double)(n - 1) / 15.0);
        float keep = x->data[i];
        double mp, mm;
        x->data[i] = keep + (float)h;
        double lp = fd_loss(ctx, c, x, dy, y, &mp);
        x->data[i] = keep - (float)h;
        double lm = fd_loss(ctx, c, x, dy, y, &mm);
        x->data[i] = keep;
        double fd = (lp - lm) / (2.0 * h), tol = 2e-7 * (mp + mm) / h + 1e-6 * fabs(fd);
        double err = fabs(fd - (double)dx->data[i]);
        DS_CHECK_MSG(err <= tol, "finite difference at x[%lld]: %.9g, backward-data %.9g",
                     (long long)i, fd, (double)dx->data[i]);
        worst_err = err / (tol + 1e-30) > worst_err ? err / (tol + 1e-30) : worst_err;
    }
    ds_tensor_free(y);
    return worst_err;
}

static void check_case(ds_ctx *ctx, const wg_case *k)
{
    conv_ref_shape r = {0, k->n, k->cin, k->cout, 3, 1, 1, k->d, k->h, k->w, 0, 0, 0};
    conv_ref_fill_out(&r);
    const int64_t nx = conv_ref_in_numel(&r), ny = conv_ref_out_numel(&r);
    const int64_t nw = conv_ref_w_numel(&r);
    ds_conv3d c;
    DS_CHECK_OK(ctx, ds_conv3d_init(ctx, &c, "wg", k->cin, k->cout, 3, 1, 1, 0));
    ds_tensor *x = NULL, *dy = NULL;
    DS_CHECK_OK(ctx, ds_tensor_create(ctx, &x, k->n, k->cin, k->d, k->h, k->w));
    DS_CHECK_OK(ctx, ds_tensor_create(ctx, &dy, k->n, k->cout, r.od, r.oh, r.ow));
    double *xd = malloc((size_t)nx * sizeof(double)), *wd = malloc((size_t)nw * sizeof(double));
    double *dyd = malloc((size_t)ny * sizeof(double)), *yd = malloc((size_t)ny * sizeof(double));
    double *dxd = malloc((size_t)nx * sizeof(double)), *dwd = malloc((size_t)nw * sizeof(double));
    double *yb = malloc((size_t)ny * sizeof(double)), *dxb = malloc((size_t)nx * sizeof(double));
    double *dwb = malloc((size_t)nw * sizeof(double));
    DS_CHECK(xd && wd && dyd && yd && dxd && dwd && yb && dxb && dwb);
    fill_uniform(xd, x->data, nx, 11);
    fill_uniform(wd, c.weight.value, nw, 12);
    fill_uniform(dyd, dy->data, ny, 13);
    conv_ref_forward(&r, xd, wd, NULL, yd);
    conv_ref_backward(&r, xd, wd, dyd, dxd, dwd, NULL);
    /* term magnitudes: the same convolutions of |x|, |w|, |dy| */
    for (int64_t i = 0; i < nx; ++i)
        xd[i] = fabs(xd[i]);
    for (int64_t i = 0; i < nw; ++i)
        wd[i] = fabs(wd[i]);
    for (int64_t i = 0; i < ny; ++i)
        dyd[i] = fabs(dyd[i]);
    conv_ref_forward(&r, xd, wd, NULL, yb);
    conv_ref_backward(&r, xd, wd, dyd, dxb, dwb, NULL);
    /* Winograd's backward-weights mixes the 27 taps of a kernel (dU[xi] holds terms of several
     * taps, G^T dU G takes them apart by cancellation), so its error scales with the largest
     * tap of the kernel, not with each tap: a corner tap of a 2x3x2 volume has 2 terms, the
     * centre 12, and a tap outside a 1-voxel plane none. */
    for (int64_t o = 0; o < nw; o += 27) {
        double m = 0.0;
        for (int q = 0; q < 27; ++q)
            m = dwb[o + q] > m ? dwb[o + q] : m;
        for (int q = 0; q < 27; ++q)
            dwb[o + q] = m;
    }

    run_out ref = {0}, wg[4] = {{0}};
    run(ctx, &c, DS_CONV_ALGO_REFERENCE, 2, x, dy, &ref);
    static const int threads[4] = {1, 2, 3, 8};
    for (int t = 0; t < 4; ++t)
        run(ctx, &c, DS_CONV_ALGO_WINOGRAD, threads[t], x, dy, &wg[t]);
    DS_CHECK_MSG(wg[0].paths.forward == DS_CONV_PATH_WINOGRAD &&
                     wg[0].paths.backward_data == DS_CONV_PATH_WINOGRAD &&
                     wg[0].paths.backward_weight == DS_CONV_PATH_WINOGRAD,
                 "%s: ran %s / %s / %s, intended winograd everywhere", k->name,
                 ds_conv_path_name(wg[0].paths.forward),
                 ds_conv_path_name(wg[0].paths.backward_data),
                 ds_conv_path_name(wg[0].paths.backward_weight));
    for (int t = 1; t < 4; ++t)
        DS_CHECK_MSG(same_bits(wg[0].y, wg[t].y) && same_bits(wg[0].dx, wg[t].dx) &&
                         memcmp(wg[0].dw, wg[t].dw, (size_t)nw * sizeof(float)) == 0,
                     "%s: %d threads differ from 1 thread", k->name, threads[t]);
    double ef = worst(wg[0].y->data, yd, NULL, yb, ny);
    double eb = worst(wg[0].dx->data, dxd, NULL, dxb, nx);
    double rf = worst(ref.y->data, yd, NULL, yb, ny), rb = worst(ref.dx->data, dxd, NULL, dxb, nx);
    double vf = worst(wg[0].y->data, NULL, ref.y->data, yb, ny);
    double vb = worst(wg[0].dx->data, NULL, ref.dx->data, dxb, nx);
    double ew = worst(wg[0].dw, dwd, NULL, dwb, nw), rw = worst(ref.dw, dwd, NULL, dwb, nw);
    double fd = check_fd(ctx, &c, x, dy, wg[0].dx);
    printf("  %-40s fwd %.2e (ref path %.2e, vs it %.2e)  bwd-data %.2e (ref path %.2e, vs it "
           "%.2e)  bwd-weights %.2e (ref path %.2e)  fd %.2f of tol\n",
           k->name, ef, rf, vf, eb, rb, vb, ew, rw, fd);
    DS_CHECK_MSG(ef <= WG_TOL && eb <= WG_TOL && ew <= WG_TOL,
                 "%s: error %.3g / %.3g / %.3g of the term magnitudes", k->name, ef, eb, ew);
    DS_CHECK_MSG(vf <= 2 * WG_TOL && vb <= 2 * WG_TOL, "%s: %.3g / %.3g from the reference path",
                 k->name, vf, vb);
    run_free(&ref);
    for (int t = 0; t < 4; ++t)
        run_free(&wg[t]);
    free(xd), free(wd), free(dyd), free(yd), free(dxd), free(dwd), free(yb), free(dxb), free(dwb);
    ds_tensor_free(x);
    ds_tensor_free(dy);
    ds_conv3d_free(&c);
}

/* The rules (AUTO) are a fixed function of the shape: which kernels a few shapes must get. */
static void check_rules(ds_ctx *ctx)
{
    static const struct {
        int n, cin, cout, d, h, w;
        ds_conv_path forward, weight;
    } rule[] = {
        {1, 16, 16, 1, 32, 32, DS_CONV_PATH_WINOGRAD, DS_CONV_PATH_WINOGRAD}, /* 1024 voxels */
        {1, 16, 16, 1, 7, 16, DS_CONV_PATH_DIRECT, DS_CONV_PATH_DIRECT},    /* 112: neither */
        {2, 16, 16, 16, 64, 64, DS_CONV_PATH_WINOGRAD, DS_CONV_PATH_WINOGRAD}, /* 16 ch too */
        {2, 32, 32, 8, 16, 16, DS_CONV_PATH_WINOGRAD, DS_CONV_PATH_WINOGRAD}, /* 4096: both */
        {2, 64, 64, 4, 8, 16, DS_CONV_PATH_WINOGRAD, DS_CONV_PATH_WINOGRAD}, /* 1024, 64 ch */
        {2, 64, 64, 2, 4, 8, DS_CONV_PATH_WINOGRAD, DS_CONV_PATH_GEMM}, /* 128: not for weights */
        {1, 64, 64, 2, 4, 8, DS_CONV_PATH_GEMM_FEW_VOXELS, DS_CONV_PATH_GEMM}, /* 64: neither */
        {1, 1, 16, 2, 8, 16, DS_CONV_PATH_DIRECT, DS_CONV_PATH_DIRECT},     /* one input channel */
    };
    DS_CHECK(strcmp(ds_conv_path_name(DS_CONV_PATH_WINOGRAD), "winograd") == 0);
    const int direct = conv_test_direct_expected();
    for (size_t i = 0; i < sizeof rule / sizeof rule[0]; ++i) {
        ds_conv3d c;
        ds_tensor *x = NULL, *y = NULL;
        DS_CHECK_OK(ctx, ds_conv3d_init(ctx, &c, "rule", rule[i].cin, rule[i].cout, 3, 1, 1, 0));
        DS_CHECK_OK(ctx, ds_tensor_zeros(ctx, &x, rule[i].n, rule[i].cin, rule[i].d, rule[i].h,
                                         rule[i].w));
        DS_CHECK_OK(ctx, ds_tensor_zeros(ctx, &y, rule[i].n, rule[i].cout, rule[i].d, rule[i].h,
                                         rule[i].w));
        DS_CHECK_OK(ctx, ds_conv3d_forward(ctx, &c, x, y));
        DS_CHECK_OK(ctx, ds_conv3d_backward(ctx, &c, x, y, NULL));
        /* without the direct kernels, what they would run is the lowered SGEMM */
        ds_conv_path f = rule[i].forward, w = rule[i].weight;
        if (!direct && f == DS_CONV_PATH_DIRECT)
            f = DS_CONV_PATH_GEMM;
        if (!direct && w == DS_CONV_PATH_DIRECT)
            w = DS_CONV_PATH_GEMM;
        if (!direct && f == DS_CONV_PATH_GEMM_FEW_VOXELS) /* our kernels: where direct ones are */
            f = DS_CONV_PATH_GEMM_SPLIT_K;
        printf("  rule %d->%d, %dx%dx%dx%d: forward %s, backward-weights %s\n", rule[i].cin,
               rule[i].cout, rule[i].n, rule[i].d, rule[i].h, rule[i].w,
               ds_conv_path_name(c.paths.forward), ds_conv_path_name(c.paths.backward_weight));
        DS_CHECK_MSG(c.paths.forward == f && c.paths.backward_weight == w,
                     "rule case %zu: ran %s / %s, intended %s / %s", i,
                     ds_conv_path_name(c.paths.forward),
                     ds_conv_path_name(c.paths.backward_weight), ds_conv_path_name(f),
                     ds_conv_path_name(w));
        ds_tensor_free(x);
        ds_tensor_free(y);
        ds_conv3d_free(&c);
    }
}

/* The 64 products of the forward in each build of the loops that runs here, on awkward shapes
 * (rows not a multiple of the kernels' 8 or 4, every column tail of 8 .. 40): the AVX2 and the
 * AVX-512 kernels make each value with the same FMAs in the same order, so they must agree bit
 * for bit; each is checked against a float64 product, and so is OpenBLAS (the portable build). */
static void check_products(void)
{
    static const int64_t shapes[][3] = {{16, 16, 8},  {16, 16, 24}, {3, 5, 40},   {17, 9, 56},
                                        {64, 64, 136}, {32, 8, 16}, {1, 1, 8},    {128, 12, 88}};
    int ran_avx2 = 0, ran_avx512 = 0;
    for (size_t i = 0; i < sizeof shapes / sizeof shapes[0]; ++i) {
        const int64_t ci = shapes[i][0], co = shapes[i][1], ld = shapes[i][2];
        const int64_t nu = 64 * ci * co, nv = 64 * ci * ld, nm = 64 * co * ld;
        float *u = malloc((size_t)nu * sizeof(float)), *v = malloc((size_t)nv * sizeof(float));
        float *m[3];
        for (int b = 0; b < 3; ++b)
            m[b] = malloc((size_t)nm * sizeof(float));
        double *du = malloc((size_t)nu * sizeof(double)), *dv = malloc((size_t)nv * sizeof(double));
        fill_uniform(du, u, nu, 11 + i);
        fill_uniform(dv, v, nv, 23 + i);
        int ran[3];
        for (int b = 0; b < 3; ++b)
            ran[b] = ds_conv_winograd_products((ds_wino_build)b, ci, co, u, v, ld, m[b]);
        DS_CHECK(ran[DS_WINO_BUILD_PORTABLE]);
        ran_avx2 |= ran[DS_WINO_BUILD_AVX2];
        ran_avx512 |= ran[DS_WINO_BUILD_AVX512];
        if (ran[DS_WINO_BUILD_AVX2] && ran[DS_WINO_BUILD_AVX512])
            DS_CHECK_MSG(memcmp(m[1], m[2], (size_t)nm * sizeof(float)) == 0,
                         "products %" PRId64 "x%" PRId64 "x%" PRId64 ": AVX2 and AVX-512 differ",
                         ci, co, ld);
        double worst = 0.0;
        for (int xi = 0; xi < 64; ++xi)
            for (int64_t r = 0; r < co; ++r)
                for (int64_t c = 0; c < ld; ++c) {
                    double ref = 0.0, mag = 0.0;
                    for (int64_t k = 0; k < ci; ++k) {
                        const double t = du[(xi * co + r) * ci + k] * dv[(xi * ci + k) * ld + c];
                        ref += t;
                        mag += fabs(t);
                    }
                    for (int b = 0; b < 3; ++b)
                        if (ran[b]) {
                            const double e =
                                fabs(m[b][(xi * co + r) * ld + c] - ref) / (mag + 1e-30);
                            worst = e > worst ? e : worst;
                        }
                }
        /* each value is a float32 sum of ci products: a few 2^-24 of the magnitudes */
        DS_CHECK_MSG(worst < 1e-6, "products %" PRId64 "x%" PRId64 "x%" PRId64 ": error %.2e",
                     ci, co, ld, worst);
        for (int b = 0; b < 3; ++b)
            free(m[b]);
        free(u), free(v), free(du), free(dv);
    }
    printf("products: portable, %s, %s\n", ran_avx2 ? "AVX2" : "no AVX2 build here",
           ran_avx512 ? "AVX-512 (bit-identical to AVX2)" : "no AVX-512 build here");
}

/* The signature both transform hooks share (ds_conv_winograd_input, ds_conv_winograd_dy). */
typedef int (*transform_fn)(ds_wino_build build, const ds_conv_geom *g, const float *plane,
                            int64_t r0, int64_t r1, float *out, int64_t stride);

/* Runs transform fn of tile rows [r0, rows) of plane in every build that runs here into buffers
 * of 64 rows of len + 5 floats filled with guards; checks that the portable build wrote nothing
 * past its len tiles and that every other build agrees with it bit for bit (guards included).
 * Returns the portable build's output (the caller frees it; *stride: its row stride) and sets
 * ran_any[b] for each other build that ran. */
static float *run_each_build(transform_fn fn, const char *what, const ds_conv_geom *g,
                             const float *plane, int64_t r0, int64_t rows, int64_t len,
                             int64_t *stride, int ran_any[3])
{
    const int64_t vs = len + 5;
    float *v[3];
    int ran[3];
    for (int b = 0; b < 3; ++b) {
        v[b] = malloc((size_t)(64 * vs) * sizeof(float));
        for (int64_t i = 0; i < 64 * vs; ++i)
            v[b][i] = -7.0f; /* guards */
        ran[b] = fn((ds_wino_build)b, g, plane, r0, rows, v[b], vs);
        DS_CHECK(ran[b] >= 0);
    }
    DS_CHECK(ran[DS_WINO_BUILD_PORTABLE] == 1);
    for (int64_t xi = 0; xi < 64; ++xi)
        for (int64_t i = len; i < vs; ++i)
            DS_CHECK_MSG(v[0][xi * vs + i] == -7.0f, "%s %" PRId64 "x%" PRId64 "x%" PRId64
                         ": the portable build wrote past its tiles", what, g->d, g->h, g->w);
    for (int b = 1; b < 3; ++b) {
        if (ran[b] == 1) {
            DS_CHECK_MSG(memcmp(v[0], v[b], (size_t)(64 * vs) * sizeof(float)) == 0,
                         "%s %" PRId64 "x%" PRId64 "x%" PRId64 " from tile row %" PRId64
                         ": the %s build differs from the portable one",
                         what, g->d, g->h, g->w, r0, b == 1 ? "AVX2" : "AVX-512");
            ran_any[b] = 1;
        }
        free(v[b]);
    }
    *stride = vs;
    return v[0];
}

/* The input transform of one channel plane in each build of the loops that runs here, on every
 * width from 1 to 37 voxels (tile rows of 1 to 19 tiles: every vector tail of the AVX2 and the
 * AVX-512 loops), planes of one voxel, and runs of tile rows that start inside a depth (the
 * vector builds reuse the width stage of the tile row before, the portable one never does): the
 * same additions in the same order, so V must agree bit for bit. Guard values after each run of
 * tiles check that nothing past it is written. */
static void check_input(void)
{
    static const int64_t sizes[][2] = {{1, 1}, {2, 3}, {5, 4}, {4, 7}, {3, 6}};
    int ran[3] = {0, 0, 0}, planes = 0;
    for (size_t s = 0; s < sizeof sizes / sizeof sizes[0]; ++s)
        for (int64_t w = 1; w <= 37; ++w) {
            ds_conv_geom g;
            memset(&g, 0, sizeof g);
            g.n = 1, g.cin = 1, g.cout = 1, g.k = 3, g.s = 1, g.p = 1;
            g.d = g.od = sizes[s][0], g.h = g.oh = sizes[s][1], g.w = g.ow = w;
            const int64_t th = (g.h + 1) / 2, tw = (w + 1) / 2, rows = (g.d + 1) / 2 * th;
            const int64_t vox = g.d * g.h * w;
            float *x = malloc((size_t)vox * sizeof(float));
            double *dx = malloc((size_t)vox * sizeof(double));
            fill_uniform(dx, x, vox, 101 + (uint64_t)(s * 64 + w));
            /* every run [r0, rows) with r0 = 0 and r0 = a tile row inside the second depth */
            const int64_t starts[2] = {0, rows > th + 1 ? th + 1 : 0};
            for (int k = 0; k < 2; ++k) {
                const int64_t r0 = starts[k], len = (rows - r0) * tw;
                int64_t vs;
                free(run_each_build(ds_conv_winograd_input, "input", &g, x, r0, rows, len, &vs,
                                    ran));
                ++planes;
            }
            free(x), free(dx);
        }
    printf("input transform: %d runs of tile rows, portable, %s, %s\n", planes,
           ran[1] ? "AVX2 (bit-identical)" : "no AVX2 build here",
           ran[2] ? "AVX-512 (bit-identical)" : "no AVX-512 build here");
}

/* The dM transform of backward-weights (dM = A dy A^T, A = [1 0; 1 1; 1 -1; 0 -1]) in each build
 * that runs here, on every output width from 1 to 37 (every vector tail of the AVX2 and AVX-512
 * loops), heights and depths that end inside a tile (rows past the output read as zeros) and
 * runs of tile rows that start inside a depth: bit for bit the same in every build, each value
 * within float rounding of the definition summed in float64, nothing written past the run. */
static void check_dy(void)
{
    static const int64_t sizes[][2] = {{1, 1}, {2, 3}, {5, 4}, {3, 6}};
    static const double A[4][2] = {{1, 0}, {1, 1}, {1, -1}, {0, -1}};
    int ran[3] = {0, 0, 0}, runs = 0;
    for (size_t s = 0; s < sizeof sizes / sizeof sizes[0]; ++s)
        for (int64_t w = 1; w <= 37; ++w) {
            ds_conv_geom g;
            memset(&g, 0, sizeof g);
            g.n = 1, g.cin = 1, g.cout = 1, g.k = 3, g.s = 1, g.p = 1;
            g.d = g.od = sizes[s][0], g.h = g.oh = sizes[s][1], g.w = g.ow = w;
            const int64_t th = (g.oh + 1) / 2, tw = (w + 1) / 2, rows = (g.od + 1) / 2 * th;
            const int64_t vox = g.od * g.oh * w;
            float *dy = malloc((size_t)vox * sizeof(float));
            double *ddy = malloc((size_t)vox * sizeof(double));
            fill_uniform(ddy, dy, vox, 307 + (uint64_t)(s * 64 + w));
            const int64_t starts[2] = {0, rows > th + 1 ? th + 1 : 0};
            for (int k = 0; k < 2; ++k) {
                const int64_t r0 = starts[k], len = (rows - r0) * tw;
                int64_t ms;
                float *m = run_each_build(ds_conv_winograd_dy, "dM", &g, dy, r0, rows, len, &ms,
                                          ran);
                double worst = 0.0;
                for (int64_t r = r0; r < rows; ++r)
                    for (int64_t q = 0; q < tw; ++q)
                        for (int xi = 0; xi < 64; ++xi) {
                            const int a = xi / 16, b = xi / 4 % 4, c = xi % 4;
                            double ref = 0.0, mag = 0.0;
                            for (int i = 0; i < 2; ++i)
                                for (int j = 0; j < 2; ++j)
                                    for (int l = 0; l < 2; ++l) {
                                        const int64_t od = 2 * (r / th) + i, oh = 2 * (r % th) + j,
                                                      ow = 2 * q + l;
                                        if (od >= g.od || oh >= g.oh || ow >= w)
                                            continue;
                                        const double t = A[a][i] * A[b][j] * A[c][l] *
                                                         ddy[(od * g.oh + oh) * w + ow];
                                        ref += t, mag += fabs(t);
                                    }
                            const double e = fabs(m[xi * ms + (r - r0) * tw + q] - ref) /
                                             (mag + 1e-30);
                            worst = e > worst ? e : worst;
                        }
                DS_CHECK_MSG(worst < 1e-6, "dM %" PRId64 "x%" PRId64 "x%" PRId64
                             ": error %.2e against the definition", g.od, g.oh, w, worst);
                free(m);
                ++runs;
            }
            free(dy), free(ddy);
        }
    printf("dM transform: %d runs of tile rows, portable, %s, %s\n", runs,
           ran[1] ? "AVX2 (bit-identical)" : "no AVX2 build here",
           ran[2] ? "AVX-512 (bit-identical)" : "no AVX-512 build here");
}

int main(void)
{
    ds_ctx *ctx = NULL;
    DS_CHECK(ds_ctx_create(&ctx) == DS_OK);
    printf("largest error / sum of term magnitudes (float64 reference), tolerance %.0e:\n",
           WG_TOL);
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; ++i)
        check_case(ctx, &cases[i]);
    check_rules(ctx);
    check_products();
    check_input();
    check_dy();
    ds_ctx_free(ctx);
    return ds_test_finish("test_conv_winograd");
}
