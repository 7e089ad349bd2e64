/* conv_test_util.h - one wrapper over ds_conv3d and ds_conv_transpose3d for the tests. */
#ifndef DS_CONV_TEST_UTIL_H
#define DS_CONV_TEST_UTIL_H

#include <math.h>
#include <stdio.h>

#include "conv_ref.h"
#include "ds_conv.h"
#include "ds_test.h"

typedef struct conv_any {
    int transposed;
    ds_conv3d c;
    ds_conv_transpose3d t;
} conv_any;

static inline ds_status conv_any_init(ds_ctx *ctx, conv_any *a, const conv_ref_shape *r, int bias)
{
    a->transposed = r->transposed;
    if (r->transposed)
        return ds_conv_transpose3d_init(ctx, &a->t, "t", (int)r->cin, (int)r->cout, (int)r->k,
                                        (int)r->s, (int)r->p, bias);
    return ds_conv3d_init(ctx, &a->c, "c", (int)r->cin, (int)r->cout, (int)r->k, (int)r->s,
                          (int)r->p, bias);
}
static inline void conv_any_free(conv_any *a)
{
    if (a->transposed)
        ds_conv_transpose3d_free(&a->t);
    else
        ds_conv3d_free(&a->c);
}
static inline ds_param *conv_any_weight(conv_any *a)
{
    return a->transposed ? &a->t.weight : &a->c.weight;
}
static inline ds_param *conv_any_bias(conv_any *a)
{
    return a->transposed ? &a->t.bias : &a->c.bias;
}
static inline ds_status conv_any_forward(ds_ctx *ctx, conv_any *a, const ds_tensor *x, ds_tensor *y)
{
    return a->transposed ? ds_conv_transpose3d_forward(ctx, &a->t, x, y)
                         : ds_conv3d_forward(ctx, &a->c, x, y);
}
static inline ds_status conv_any_backward(ds_ctx *ctx, conv_any *a, const ds_tensor *x,
                                          const ds_tensor *dy, ds_tensor *dx)
{
    return a->transposed ? ds_conv_transpose3d_backward(ctx, &a->t, x, dy, dx)
                         : ds_conv3d_backward(ctx, &a->c, x, dy, dx);
}

static inline ds_conv_paths conv_any_paths(const conv_any *a)
{
    return a->transposed ? a->t.paths : a->c.paths;
}

/* Whether the direct kernels should run in this test: the library was built with them (this test
 * is compiled with the library's DS_CONV_NO_DIRECT setting) and the CPU has AVX2 and FMA (GCC's
 * run-time detection, which the library uses too). Says which, and checks that the library
 * agrees. */
static inline int conv_test_direct_expected(void)
{
#if defined(DS_CONV_NO_DIRECT)
    const int built = 0;
#elif defined(__GNUC__) && (defined(__x86_64__) || defined(__i386__))
    const int built = 1;
#else
    const int built = 0;
#endif
#if defined(__GNUC__) && (defined(__x86_64__) || defined(__i386__))
    const int cpu = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
#else
    const int cpu = 0;
#endif
    if (!built)
        printf("direct kernels: not built in (DS_CONV_NO_DIRECT or not x86): checking the SGEMM "
               "paths\n");
    else if (!cpu)
        printf("direct kernels: NOT AVAILABLE on this CPU (no AVX2 + FMA): checking the SGEMM "
               "paths only\n");
    else
        printf("direct kernels: built in, CPU has AVX2 + FMA: the direct cases must run them\n");
    DS_CHECK_MSG(ds_conv_direct_available() == (built && cpu),
                 "the library says the direct kernels are %savailable, the test expects %s",
                 ds_conv_direct_available() ? "" : "not ", built && cpu ? "them" : "none");
    return built && cpu;
}

/* Short names for the tables of intended kernels. */
#define CP_DIRECT DS_CONV_PATH_DIRECT
#define CP_GEMM DS_CONV_PATH_GEMM
#define CP_PW DS_CONV_PATH_GEMM_POINTWISE
#define CP_SPLITK DS_CONV_PATH_GEMM_SPLIT_K
#define CP_SCATTER DS_CONV_PATH_GEMM_SCATTER
#define CP_WINO DS_CONV_PATH_WINOGRAD
#define CP_FEW DS_CONV_PATH_GEMM_FEW_VOXELS
/* Not a path: the direct kernel where the CPU has AVX-512 (kernel-7 backward-weights), else the
 * lowered SGEMM. */
#define CP_DIRECT_AVX512 ((ds_conv_path)1000)

static inline ds_conv_path conv_test_resolve(ds_conv_path p)
{
    if (p != CP_DIRECT_AVX512)
        return p;
#if defined(__GNUC__) && (defined(__x86_64__) || defined(__i386__))
    return __builtin_cpu_supports("avx512f") ? CP_DIRECT : CP_GEMM;
#else
    return CP_GEMM;
#endif
}

/* The kernels a forward + backward should take: with the direct kernels (direct) and without
 * them (plain), as forward, backward-data, backward-weights. */
typedef struct conv_want {
    ds_conv_paths direct, plain;
} conv_want;

/* A conv_want for a layer that takes the same kernels either way. */
#define CONV_WANT_SAME(f, bd, bw)                                                                  \
    {                                                                                              \
        {f, bd, bw}, { f, bd, bw }                                                                 \
    }

/* Checks (and prints) which kernels the layer's last forward and backward ran. */
static inline void conv_test_check_paths(const char *name, const conv_any *a, const conv_want *want,
                                         int direct, int dx_wanted)
{
    ds_conv_paths got = conv_any_paths(a), w = direct ? want->direct : want->plain;
    w.forward = conv_test_resolve(w.forward);
    w.backward_data = conv_test_resolve(w.backward_data);
    w.backward_weight = conv_test_resolve(w.backward_weight);
    if (!dx_wanted)
        w.backward_data = DS_CONV_PATH_NONE;
    printf("  %-44s forward %-14s backward-data %-14s backward-weights %s\n", name,
           ds_conv_path_name(got.forward), ds_conv_path_name(got.backward_data),
           ds_conv_path_name(got.backward_weight));
    DS_CHECK_MSG(got.forward == w.forward && got.backward_data == w.backward_data &&
                     got.backward_weight == w.backward_weight,
                 "%s: ran %s / %s / %s, intended %s / %s / %s", name,
                 ds_conv_path_name(got.forward), ds_conv_path_name(got.backward_data),
                 ds_conv_path_name(got.backward_weight), ds_conv_path_name(w.forward),
                 ds_conv_path_name(w.backward_data), ds_conv_path_name(w.backward_weight));
}

/* max |got - want| / max(max |want|, 1e-30) */
static inline double conv_rel_err(const float *got, const double *want, int64_t n)
{
    double md = 0.0, mw = 0.0;
    for (int64_t i = 0; i < n; ++i) {
        double d = fabs((double)got[i] - want[i]);
        md = d > md ? d : md;
        mw = fabs(want[i]) > mw ? fabs(want[i]) : mw;
    }
    return md / (mw > 1e-30 ? mw : 1e-30);
}

#endif /* DS_CONV_TEST_UTIL_H */
