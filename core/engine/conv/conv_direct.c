/* conv_direct.c - direct AVX2 + FMA forward kernel for stride-1 convolutions (see conv_core.h).
 *
 * For each output plane od, a thread copies the k input planes it needs into a zero-padded buffer
 * (cin x k planes of hp x wq, hp = h + 2p, wq = w + 2p rounded up to 8). On that padded grid,
 * output position j = oh * wq + ow reads tap (kh, kw) at j + kh * wq + kw, so runs of consecutive j
 * need no boundary tests: the few positions with ow >= out width are computed and dropped. Register
 * block: 4 output channels x 3 vectors of 8 positions (AVX-512: of 16); per tap, 3 input loads
 * and 4 weight broadcasts feed 12 FMAs. Weights are repacked once per call as
 * [co / 4][ci][kd][kh][kw][4]. Each output value sums its terms in a fixed order (ci, kd, kh, kw),
 * whatever the thread count and the build. Selected at run time when the CPU has AVX2 and FMA.
 */
#include "conv_core.h"

#include <omp.h>
#include <string.h>

/* -DDS_CONV_NO_DIRECT builds without these kernels (everything then goes through SGEMM). */
#if defined(__GNUC__) && (defined(__x86_64__) || defined(__i386__)) && !defined(DS_CONV_NO_DIRECT)
#define DS_CONV_HAVE_DIRECT 1
#include <immintrin.h>
#endif

#define CB 4 /* output channels per register block         */
/* The AVX-512 backward-weights kernel: kernels up to this size (the stem's 7), in runs of 4 taps
 * of a row; strips of output rows of this many bytes of dy and input beside the accumulators. */
#define DS_CONV_K512_MAX 7
#define DS_CONV_K512_RUNS ((DS_CONV_K512_MAX + 3) / 4)
#define DS_CONV_STRIP_BYTES (24 * 1024) /* dy and input rows of a strip, beside acc, in L1 */
#define VW 3 /* vectors of 8 positions per register block  */

#ifdef DS_CONV_HAVE_DIRECT
/* Row length of the padded planes: w + 2p rounded up to 8 floats (32-byte aligned rows). */
static int64_t row_q(const ds_conv_geom *g) { return (g->w + 2 * g->p + 7) & ~(int64_t)7; }

/* Zeros after the last plane, for the loads that run past it: the forward's last block starts at
 * most 8 positions before the end of the output rows and reads 48 positions (AVX-512; AVX2: 24)
 * from tap (k - 1, k - 1), up to k + 38 floats past the planes (backward-weights: at most 7). A
 * fixed 64 let kernels over 50 read past the buffer. */
static int64_t slack(const ds_conv_geom *g) { return 16 * VW + g->k; }

/* Floats of the padded plane buffer of one thread. */
static int64_t plane_floats(const ds_conv_geom *g)
{
    return g->cin * g->k * (g->h + 2 * g->p) * row_q(g) + slack(g);
}

#endif

int ds_conv_direct_available(void)
{
#ifdef DS_CONV_HAVE_DIRECT
    /* libgcc fills the CPU model before main; nothing is cached here (no global state). */
    return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
#else
    return 0;
#endif
}

int ds_conv_direct_usable(const ds_conv_geom *g)
{
#ifdef DS_CONV_HAVE_DIRECT
    /* Measured against the lowered SGEMM path (bench_conv): faster for narrow layers on wide
     * planes; with 128 channels or more, or short rows, SGEMM wins. Kernel 1 needs no lowering. */
    return ds_conv_direct_available() && g->s == 1 && g->k > 1 && g->cin * g->cout <= 64 * 64 && g->ow >= 16 &&
           plane_floats(g) <= 2 * DS_CONV_TILE_FLOATS;
#else
    (void)g;
    return 0;
#endif
}

#ifdef DS_CONV_HAVE_DIRECT

/* Copies the k input planes od - p + kd (zeros outside the volume) of every channel into buf. */
static void fill_planes(const ds_conv_geom *g, const float *x, int64_t od, float *buf)
{
    const int64_t k = g->k, p = g->p, hp = g->h + 2 * p, wq = row_q(g);
    for (int64_t ci = 0; ci < g->cin; ++ci)
        for (int64_t kd = 0; kd < k; ++kd) {
            float *dst = buf + (ci * k + kd) * hp * wq;
            int64_t id = od - p + kd;
            if (id < 0 || id >= g->d) {
                memset(dst, 0, (size_t)(hp * wq) * sizeof(float));
                continue;
            }
            memset(dst, 0, (size_t)(p * wq + p) * sizeof(float));
            const float *src = x + (ci * g->d + id) * g->h * g->w;
            for (int64_t ih = 0; ih < g->h; ++ih) {
                float *row = dst + (p + ih) * wq + p;
                memcpy(row, src + ih * g->w, (size_t)g->w * sizeof(float));
                /* right padding of this row and left padding of the next */
                memset(row + g->w, 0, (size_t)(wq - g->w) * sizeof(float));
            }
            memset(dst + (p + g->h) * wq + p, 0, (size_t)(p * wq - p) * sizeof(float));
        }
    memset(buf + g->cin * k * hp * wq, 0, (size_t)slack(g) * sizeof(float));
}

/* The values of positions [j0, j0 + npos) of the padded output plane for output channels
 * [cb*CB, cb*CB + CB) (tmp: CB rows of npos) into their planes, only the positions inside an
 * output row. */
static void store_block(const ds_conv_geom *g, const float *tmp, int64_t npos, int64_t cb,
                        int64_t j0, const float *bias, float beta, float *yplane)
{
    const int64_t wq = row_q(g), plane = g->od * g->oh * g->ow, jend = g->oh * wq;
    const int64_t nco = g->cout - cb * CB < CB ? g->cout - cb * CB : CB;
    for (int64_t i = 0; i < npos && j0 + i < jend;) {
        /* a run of valid positions within one output row */
        int64_t oh = (j0 + i) / wq, ow = (j0 + i) % wq;
        int64_t run = npos - i < wq - ow ? npos - i : wq - ow;
        if (j0 + i + run > jend)
            run = jend - j0 - i;
        int64_t nvalid = ow < g->ow ? (g->ow - ow < run ? g->ow - ow : run) : 0;
        for (int64_t c = 0; c < nco; ++c) {
            float *yr = yplane + (cb * CB + c) * plane + oh * g->ow + ow;
            const float *t = tmp + c * npos + i;
            if (beta == 0.0f) {
                float add = bias ? bias[cb * CB + c] : 0.0f;
                for (int64_t q = 0; q < nvalid; ++q)
                    yr[q] = t[q] + add;
            } else {
                for (int64_t q = 0; q < nvalid; ++q)
                    yr[q] += t[q];
            }
        }
        i += run;
    }
}

/* Positions [j0, j0 + 24) of the padded output plane for output channels [cb*CB, cb*CB + CB). */
__attribute__((target("avx2,fma"))) static void
block_kernel(const ds_conv_geom *g, const float *buf, const float *wpk, int64_t cb, int64_t j0,
             const float *bias, float beta, float *yplane)
{
    const int64_t k = g->k, hp = g->h + 2 * g->p, wq = row_q(g), taps = g->cin * k * k * k;
    /* Twelve named accumulators (CB = 4 channels x VW = 3 vectors): an array here tends to be
     * kept in memory by the compiler. */
    __m256 a00 = _mm256_setzero_ps(), a01 = a00, a02 = a00, a10 = a00, a11 = a00, a12 = a00;
    __m256 a20 = a00, a21 = a00, a22 = a00, a30 = a00, a31 = a00, a32 = a00;
    const float *wt = wpk + cb * taps * CB;
    for (int64_t ci = 0; ci < g->cin; ++ci)
        for (int64_t kd = 0; kd < k; ++kd)
            for (int64_t kh = 0; kh < k; ++kh) {
                const float *row = buf + (ci * k + kd) * hp * wq + kh * wq + j0;
                for (int64_t kw = 0; kw < k; ++kw, wt += CB) {
                    __m256 x0 = _mm256_loadu_ps(row + kw), x1 = _mm256_loadu_ps(row + kw + 8);
                    __m256 x2 = _mm256_loadu_ps(row + kw + 16), w;
                    w = _mm256_broadcast_ss(wt);
                    a00 = _mm256_fmadd_ps(w, x0, a00);
                    a01 = _mm256_fmadd_ps(w, x1, a01);
                    a02 = _mm256_fmadd_ps(w, x2, a02);
                    w = _mm256_broadcast_ss(wt + 1);
                    a10 = _mm256_fmadd_ps(w, x0, a10);
                    a11 = _mm256_fmadd_ps(w, x1, a11);
                    a12 = _mm256_fmadd_ps(w, x2, a12);
                    w = _mm256_broadcast_ss(wt + 2);
                    a20 = _mm256_fmadd_ps(w, x0, a20);
                    a21 = _mm256_fmadd_ps(w, x1, a21);
                    a22 = _mm256_fmadd_ps(w, x2, a22);
                    w = _mm256_broadcast_ss(wt + 3);
                    a30 = _mm256_fmadd_ps(w, x0, a30);
                    a31 = _mm256_fmadd_ps(w, x1, a31);
                    a32 = _mm256_fmadd_ps(w, x2, a32);
                }
            }
    float tmp[CB][8 * VW];
    _mm256_storeu_ps(&tmp[0][0], a00);
    _mm256_storeu_ps(&tmp[0][8], a01);
    _mm256_storeu_ps(&tmp[0][16], a02);
    _mm256_storeu_ps(&tmp[1][0], a10);
    _mm256_storeu_ps(&tmp[1][8], a11);
    _mm256_storeu_ps(&tmp[1][16], a12);
    _mm256_storeu_ps(&tmp[2][0], a20);
    _mm256_storeu_ps(&tmp[2][8], a21);
    _mm256_storeu_ps(&tmp[2][16], a22);
    _mm256_storeu_ps(&tmp[3][0], a30);
    _mm256_storeu_ps(&tmp[3][8], a31);
    _mm256_storeu_ps(&tmp[3][16], a32);
    store_block(g, &tmp[0][0], 8 * VW, cb, j0, bias, beta, yplane);
}

/* block_kernel in AVX-512: 48 positions, the same FMAs in the same order (the same values). The
 * 7x7x7 stem (1 -> 16 channels, 2 x 32x48x32) took 19 ms of a Hippocampus inference's 184 ms of
 * convolutions in AVX2. */
__attribute__((target("avx2,fma,avx512f"))) static void
block_kernel512(const ds_conv_geom *g, const float *buf, const float *wpk, int64_t cb, int64_t j0,
                const float *bias, float beta, float *yplane)
{
    const int64_t k = g->k, hp = g->h + 2 * g->p, wq = row_q(g), taps = g->cin * k * k * k;
    __m512 a00 = _mm512_setzero_ps(), a01 = a00, a02 = a00, a10 = a00, a11 = a00, a12 = a00;
    __m512 a20 = a00, a21 = a00, a22 = a00, a30 = a00, a31 = a00, a32 = a00;
    const float *wt = wpk + cb * taps * CB;
    for (int64_t ci = 0; ci < g->cin; ++ci)
        for (int64_t kd = 0; kd < k; ++kd)
            for (int64_t kh = 0; kh < k; ++kh) {
                const float *row = buf + (ci * k + kd) * hp * wq + kh * wq + j0;
                for (int64_t kw = 0; kw < k; ++kw, wt += CB) {
                    __m512 x0 = _mm512_loadu_ps(row + kw), x1 = _mm512_loadu_ps(row + kw + 16);
                    __m512 x2 = _mm512_loadu_ps(row + kw + 32), w;
                    w = _mm512_set1_ps(wt[0]);
                    a00 = _mm512_fmadd_ps(w, x0, a00);
                    a01 = _mm512_fmadd_ps(w, x1, a01);
                    a02 = _mm512_fmadd_ps(w, x2, a02);
                    w = _mm512_set1_ps(wt[1]);
                    a10 = _mm512_fmadd_ps(w, x0, a10);
                    a11 = _mm512_fmadd_ps(w, x1, a11);
                    a12 = _mm512_fmadd_ps(w, x2, a12);
                    w = _mm512_set1_ps(wt[2]);
                    a20 = _mm512_fmadd_ps(w, x0, a20);
                    a21 = _mm512_fmadd_ps(w, x1, a21);
                    a22 = _mm512_fmadd_ps(w, x2, a22);
                    w = _mm512_set1_ps(wt[3]);
                    a30 = _mm512_fmadd_ps(w, x0, a30);
                    a31 = _mm512_fmadd_ps(w, x1, a31);
                    a32 = _mm512_fmadd_ps(w, x2, a32);
                }
            }
    float tmp[CB][16 * VW];
    _mm512_storeu_ps(&tmp[0][0], a00);
    _mm512_storeu_ps(&tmp[0][16], a01);
    _mm512_storeu_ps(&tmp[0][32], a02);
    _mm512_storeu_ps(&tmp[1][0], a10);
    _mm512_storeu_ps(&tmp[1][16], a11);
    _mm512_storeu_ps(&tmp[1][32], a12);
    _mm512_storeu_ps(&tmp[2][0], a20);
    _mm512_storeu_ps(&tmp[2][16], a21);
    _mm512_storeu_ps(&tmp[2][32], a22);
    _mm512_storeu_ps(&tmp[3][0], a30);
    _mm512_storeu_ps(&tmp[3][16], a31);
    _mm512_storeu_ps(&tmp[3][32], a32);
    store_block(g, &tmp[0][0], 16 * VW, cb, j0, bias, beta, yplane);
}

ds_status ds_conv_direct_forward(ds_ctx *ctx, ds_conv_work *work, const ds_conv_geom *g,
                                 const float *x, const float *w, const float *bias, float beta,
                                 float *y)
{
    const int avx512 = __builtin_cpu_supports("avx512f");
    return ds_conv_direct_forward_build(ctx, work, g, x, w, bias, beta, y,
                                        avx512 ? DS_WINO_BUILD_AVX512 : DS_WINO_BUILD_AVX2);
}

ds_status ds_conv_direct_forward_build(ds_ctx *ctx, ds_conv_work *work, const ds_conv_geom *g,
                                       const float *x, const float *w, const float *bias,
                                       float beta, float *y, ds_wino_build build)
{
    const int avx512 = build == DS_WINO_BUILD_AVX512;
    if (build == DS_WINO_BUILD_PORTABLE || !ds_conv_direct_available() ||
        (avx512 && !__builtin_cpu_supports("avx512f")))
        return ds_fail(ctx, DS_ERR_UNSUPPORTED, "convolution: this build of the direct kernel "
                                                "cannot run on this CPU");
    const int nt = ds_ctx_threads(ctx);
    const int64_t k3 = g->k * g->k * g->k, taps = g->cin * k3, nblk = (g->cout + CB - 1) / CB;
    const int64_t slot = (plane_floats(g) + 15) & ~(int64_t)15;
    ds_status st =
        ds_conv_work_reserve(ctx, &work->wpk, &work->wpk_cap, (size_t)(nblk * taps * CB));
    if (st == DS_OK)
        st = ds_conv_work_reserve(ctx, &work->col, &work->col_cap, (size_t)(slot * nt));
    if (st != DS_OK)
        return st;
    float *wpk = work->wpk, *bufbase = work->col;
    for (int64_t cb = 0; cb < nblk; ++cb)
        for (int64_t t = 0; t < taps; ++t)
            for (int64_t c = 0; c < CB; ++c) {
                int64_t co = cb * CB + c;
                wpk[(cb * taps + t) * CB + c] = co < g->cout ? w[co * taps + t] : 0.0f;
            }
    const int64_t plane = g->od * g->oh * g->ow, in_sample = g->cin * g->d * g->h * g->w;
    const int64_t jend = g->oh * row_q(g);
#pragma omp parallel for num_threads(nt) schedule(dynamic, 1)
    for (int64_t u = 0; u < g->n * g->od; ++u) {
        int64_t ni = u / g->od, od = u % g->od;
        float *buf = bufbase + (int64_t)omp_get_thread_num() * slot;
        fill_planes(g, x + ni * in_sample, od, buf);
        float *yplane = y + ni * g->cout * plane + od * g->oh * g->ow;
        if (avx512) {
            for (int64_t j0 = 0; j0 < jend; j0 += 16 * VW)
                for (int64_t cb = 0; cb < nblk; ++cb)
                    block_kernel512(g, buf, wpk, cb, j0, bias, beta, yplane);
        } else {
            for (int64_t j0 = 0; j0 < jend; j0 += 8 * VW)
                for (int64_t cb = 0; cb < nblk; ++cb)
                    block_kernel(g, buf, wpk, cb, j0, bias, beta, yplane);
        }
    }
    return DS_OK;
}

/* ---- backward-weights, kernel 3, stride 1 ---------------------------------------------------- */

int ds_conv_direct_weight_usable(const ds_conv_geom *g)
{
    /* Measured (bench_conv): faster than the lowered SGEMM up to 32 x 32 channels; at 64 x 64 on
     * 20-column rows SGEMM wins. Kernel 7 (the stem) with the AVX-512 kernel only. */
    const int k7 = g->k == 7 && g->k <= DS_CONV_K512_MAX && __builtin_cpu_supports("avx512f");
    return ds_conv_direct_usable(g) && (g->k == 3 || k7) && g->cout % CB == 0 &&
           g->cin * g->cout <= 32 * 32;
}

/* dW[co0..co0+3][ci][kd][kh][0..2] += sum over the output plane od of dy * x, where planes holds
 * the 3 padded input planes od - p + kd of channel ci. */
__attribute__((target("avx2,fma"))) static void weight_kernel(const ds_conv_geom *g,
                                                              const float *planes,
                                                              const float *dyplane, int64_t co0,
                                                              int64_t ci, float *dw)
{
    const int64_t hp = g->h + 2 * g->p, wq = row_q(g), plane = g->od * g->oh * g->ow;
    const int64_t tail = g->ow % 8, full = g->ow - tail;
    for (int64_t kd = 0; kd < 3; ++kd)
        for (int64_t kh = 0; kh < 3; ++kh) {
            __m256 a00 = _mm256_setzero_ps(), a01 = a00, a02 = a00, a10 = a00, a11 = a00;
            __m256 a12 = a00, a20 = a00, a21 = a00, a22 = a00, a30 = a00, a31 = a00, a32 = a00;
            for (int64_t oh = 0; oh < g->oh; ++oh) {
                const float *xr = planes + kd * hp * wq + (oh + kh) * wq;
                const float *d0 = dyplane + co0 * plane + oh * g->ow;
                /* Full vectors, then the tail through a zero-padded copy of dy (a mask register
                 * would push an accumulator out of the 16 registers). */
                for (int64_t ow = 0; ow < g->ow; ow += 8) {
                    float tb[CB][8];
                    const float *dp[CB];
                    if (ow < full) {
                        for (int c = 0; c < CB; ++c)
                            dp[c] = d0 + c * plane + ow;
                    } else {
                        for (int c = 0; c < CB; ++c) {
                            memset(tb[c], 0, sizeof tb[c]);
                            memcpy(tb[c], d0 + c * plane + ow, (size_t)tail * sizeof(float));
                            dp[c] = tb[c];
                        }
                    }
                    __m256 x0 = _mm256_loadu_ps(xr + ow), x1 = _mm256_loadu_ps(xr + ow + 1);
                    __m256 x2 = _mm256_loadu_ps(xr + ow + 2), d;
                    d = _mm256_loadu_ps(dp[0]);
                    a00 = _mm256_fmadd_ps(d, x0, a00);
                    a01 = _mm256_fmadd_ps(d, x1, a01);
                    a02 = _mm256_fmadd_ps(d, x2, a02);
                    d = _mm256_loadu_ps(dp[1]);
                    a10 = _mm256_fmadd_ps(d, x0, a10);
                    a11 = _mm256_fmadd_ps(d, x1, a11);
                    a12 = _mm256_fmadd_ps(d, x2, a12);
                    d = _mm256_loadu_ps(dp[2]);
                    a20 = _mm256_fmadd_ps(d, x0, a20);
                    a21 = _mm256_fmadd_ps(d, x1, a21);
                    a22 = _mm256_fmadd_ps(d, x2, a22);
                    d = _mm256_loadu_ps(dp[3]);
                    a30 = _mm256_fmadd_ps(d, x0, a30);
                    a31 = _mm256_fmadd_ps(d, x1, a31);
                    a32 = _mm256_fmadd_ps(d, x2, a32);
                }
            }
            float t[12][8];
            _mm256_storeu_ps(t[0], a00);
            _mm256_storeu_ps(t[1], a01);
            _mm256_storeu_ps(t[2], a02);
            _mm256_storeu_ps(t[3], a10);
            _mm256_storeu_ps(t[4], a11);
            _mm256_storeu_ps(t[5], a12);
            _mm256_storeu_ps(t[6], a20);
            _mm256_storeu_ps(t[7], a21);
            _mm256_storeu_ps(t[8], a22);
            _mm256_storeu_ps(t[9], a30);
            _mm256_storeu_ps(t[10], a31);
            _mm256_storeu_ps(t[11], a32);
            for (int c = 0; c < CB; ++c)
                for (int kw = 0; kw < 3; ++kw) {
                    const float *v = t[c * 3 + kw];
                    float sum = ((v[0] + v[1]) + (v[2] + v[3])) + ((v[4] + v[5]) + (v[6] + v[7]));
                    dw[(((co0 + c) * g->cin + ci) * 3 + kd) * 9 + kh * 3 + kw] += sum;
                }
        }
}

/* weight_kernel in AVX-512 for kernels up to DS_CONV_K512_MAX (run for kernel 7, only where the
 * CPU has AVX-512): dW[co0..co0+3][ci][kd][kh][kw] for kw in runs of 4 (16 accumulators), 16
 * positions a vector, the row's tail through masked loads of dy (the padded input rows read past
 * it hold finite values or the zero slack). Each sum in a fixed order: the same for every thread
 * count. The 7x7x7 stem (1 -> 16 on 4 x 32x48x32) took 72-78 ms through the lowered SGEMM, 40-49
 * here (1 thread).
 * The output rows go in strips that fit L1 with the input rows they read (every (kh, kw) pass
 * over a whole 112x112 plane read its 200 KB of dy from L2 again), and each pass runs with a
 * constant tap count (strip_pass512), so that all 16 accumulators stay in registers (with a
 * variable count GCC kept four of them on the stack). The stem on 112x112x80, bench_conv, 2
 * threads: 103 GFLOP/s before, 188 with the constant count, 217 with the strips too (the
 * forward: 260-275). The accumulators of one kd wait in acc between strips, so each lane sums its
 * positions in the same order as before (row by row, vector by vector): the same values. */
/* Rows [oh0, oh1) of one (kd, kh, run of nk taps) pass of weight_kernel512 into acc; xr: the
 * input row of output row 0 for the run's first tap, d0: dy of the block's first channel. */
__attribute__((target("avx2,fma,avx512f"), always_inline)) static inline void
strip_pass512(const ds_conv_geom *g, const float *xr, const float *d0, int64_t plane,
              int64_t oh0, int64_t oh1, const int nk, __m512 acc[CB][4])
{
    const int64_t wq = row_q(g);
    __m512 a[CB][4];
    for (int c = 0; c < CB; ++c)
        for (int q = 0; q < nk; ++q)
            a[c][q] = acc[c][q];
    for (int64_t oh = oh0; oh < oh1; ++oh) {
        const float *x = xr + oh * wq, *dr = d0 + oh * g->ow;
        for (int64_t ow = 0; ow < g->ow; ow += 16) {
            const __mmask16 m = g->ow - ow >= 16 ? (__mmask16)0xFFFF
                                                 : (__mmask16)((1u << (g->ow - ow)) - 1u);
            __m512 d[CB];
            for (int c = 0; c < CB; ++c)
                d[c] = _mm512_maskz_loadu_ps(m, dr + c * plane + ow);
            for (int q = 0; q < nk; ++q) {
                const __m512 xv = _mm512_loadu_ps(x + ow + q);
                for (int c = 0; c < CB; ++c)
                    a[c][q] = _mm512_fmadd_ps(d[c], xv, a[c][q]);
            }
        }
    }
    for (int c = 0; c < CB; ++c)
        for (int q = 0; q < nk; ++q)
            acc[c][q] = a[c][q];
}

__attribute__((target("avx2,fma,avx512f"))) static void
weight_kernel512(const ds_conv_geom *g, const float *planes, const float *dyplane, int64_t co0,
                 int64_t ci, float *dw)
{
    const int64_t k = g->k, hp = g->h + 2 * g->p, wq = row_q(g), plane = g->od * g->oh * g->ow;
    const int64_t runs = (k + 3) / 4;
    int64_t strip = DS_CONV_STRIP_BYTES / (int64_t)sizeof(float) / (CB * g->ow + wq);
    strip = strip < 1 ? 1 : strip;
    __m512 acc[DS_CONV_K512_MAX][DS_CONV_K512_RUNS][CB][4];
    for (int64_t kd = 0; kd < k; ++kd) {
        for (int64_t kh = 0; kh < k; ++kh)
            for (int64_t r = 0; r < runs; ++r)
                for (int c = 0; c < CB; ++c)
                    for (int q = 0; q < 4; ++q)
                        acc[kh][r][c][q] = _mm512_setzero_ps();
        for (int64_t oh0 = 0; oh0 < g->oh; oh0 += strip) {
            const int64_t oh1 = oh0 + strip < g->oh ? oh0 + strip : g->oh;
            for (int64_t kh = 0; kh < k; ++kh)
                for (int64_t r = 0; r < runs; ++r) {
                    const int64_t kw0 = 4 * r;
                    const int nk = k - kw0 < 4 ? (int)(k - kw0) : 4;
                    const float *xr = planes + kd * hp * wq + kh * wq + kw0;
                    const float *d0 = dyplane + co0 * plane;
                    switch (nk) { /* a constant count, so that every accumulator is a register */
                    case 4: strip_pass512(g, xr, d0, plane, oh0, oh1, 4, acc[kh][r]); break;
                    case 3: strip_pass512(g, xr, d0, plane, oh0, oh1, 3, acc[kh][r]); break;
                    case 2: strip_pass512(g, xr, d0, plane, oh0, oh1, 2, acc[kh][r]); break;
                    default: strip_pass512(g, xr, d0, plane, oh0, oh1, 1, acc[kh][r]); break;
                    }
                }
        }
        for (int64_t kh = 0; kh < k; ++kh)
            for (int64_t r = 0; r < runs; ++r) {
                const int64_t kw0 = 4 * r;
                const int nk = k - kw0 < 4 ? (int)(k - kw0) : 4;
                for (int c = 0; c < CB; ++c)
                    for (int q = 0; q < nk; ++q)
                        dw[(((co0 + c) * g->cin + ci) * k + kd) * k * k + kh * k + kw0 + q] +=
                            _mm512_reduce_add_ps(acc[kh][r][c][q]);
            }
    }
}

/* Copies the k padded input planes od - p + kd of channel ci into buf (layout of fill_planes). */
static void fill_channel(const ds_conv_geom *g, const float *x, int64_t od, int64_t ci, float *buf)
{
    ds_conv_geom one = *g;
    one.cin = 1;
    fill_planes(&one, x + ci * g->d * g->h * g->w, od, buf);
}

/* Cuts of the (sample, plane) sequence: with few input channels (the first layer has one) the
 * planes are cut into runs, each summed into its own partial dW, so that DS_CONV_PARTS threads
 * find work; the partials are then added in run order. */
static int64_t weight_runs(const ds_conv_geom *g)
{
    const int64_t units = g->cin, planes = g->n * g->od;
    int64_t runs = (DS_CONV_PARTS + units - 1) / units;
    return runs < planes ? runs : planes;
}

ds_status ds_conv_direct_backward_weight(ds_ctx *ctx, ds_conv_work *work, const ds_conv_geom *g,
                                         const float *x, const float *dy, float *dw)
{
    const int nt = ds_ctx_threads(ctx);
    ds_conv_geom one = *g;
    one.cin = 1;
    const int64_t slot = (plane_floats(&one) + 15) & ~(int64_t)15;
    const int64_t runs = weight_runs(g), wn = g->cout * g->cin * g->k * g->k * g->k;
    const int64_t planes = g->n * g->od, per = (planes + runs - 1) / runs;
    ds_status st = ds_conv_work_reserve(ctx, &work->col, &work->col_cap, (size_t)(slot * nt));
    if (st == DS_OK && runs > 1)
        st = ds_conv_work_reserve(ctx, &work->part, &work->part_cap, (size_t)(runs * wn));
    if (st != DS_OK)
        return st;
    float *bufbase = work->col;
    if (runs > 1)
        memset(work->part, 0, (size_t)(runs * wn) * sizeof(float));
    const int64_t plane = g->od * g->oh * g->ow, in_sample = g->cin * g->d * g->h * g->w;
    /* One unit per (run of planes, input channel): its dW entries, summed over the run's samples
     * and planes in a fixed order, each plane's padded copy serving every block of 4 output
     * channels (a unit per block copied the planes once per block: 7x7x7 planes for the stem). */
    const int64_t nblk = g->cout / CB, units = g->cin;
    /* kernel 3: the AVX2 kernel (the AVX-512 one took 6.3-7.0 ms for 1 -> 16 on 4 x 32x48x32,
     * against 3.4); other sizes (the stem) are usable only with AVX-512 */
    const int any_size = g->k != 3;
#pragma omp parallel for num_threads(nt) schedule(dynamic, 1)
    for (int64_t u = 0; u < runs * units; ++u) {
        const int64_t r = u / units, ci = u % units;
        float *buf = bufbase + (int64_t)omp_get_thread_num() * slot;
        float *target = runs > 1 ? work->part + r * wn : dw;
        const int64_t q1 = (r + 1) * per < planes ? (r + 1) * per : planes;
        for (int64_t q = r * per; q < q1; ++q) {
            const int64_t ni = q / g->od, od = q % g->od;
            fill_channel(g, x + ni * in_sample, od, ci, buf);
            const float *dyp = dy + ni * g->cout * plane + od * g->oh * g->ow;
            for (int64_t cb = 0; cb < nblk; ++cb) {
                if (any_size)
                    weight_kernel512(g, buf, dyp, cb * CB, ci, target);
                else
                    weight_kernel(g, buf, dyp, cb * CB, ci, target);
            }
        }
    }
    if (runs > 1)
        ds_conv_add_partials(ctx, work->part, runs, wn, dw);
    return DS_OK;
}

#else

ds_status ds_conv_direct_forward(ds_ctx *ctx, ds_conv_work *work, const ds_conv_geom *g,
                                 const float *x, const float *w, const float *bias, float beta,
                                 float *y)
{
    (void)work, (void)g, (void)x, (void)w, (void)bias, (void)beta, (void)y;
    return ds_fail(ctx, DS_ERR_INTERNAL, "convolution: direct kernel not built");
}

ds_status ds_conv_direct_forward_build(ds_ctx *ctx, ds_conv_work *work, const ds_conv_geom *g,
                                       const float *x, const float *w, const float *bias,
                                       float beta, float *y, ds_wino_build build)
{
    (void)work, (void)g, (void)x, (void)w, (void)bias, (void)beta, (void)y, (void)build;
    return ds_fail(ctx, DS_ERR_UNSUPPORTED, "convolution: direct kernel not built");
}

int ds_conv_direct_weight_usable(const ds_conv_geom *g)
{
    (void)g;
    return 0;
}

ds_status ds_conv_direct_backward_weight(ds_ctx *ctx, ds_conv_work *work, const ds_conv_geom *g,
                                         const float *x, const float *dy, float *dw)
{
    (void)work, (void)g, (void)x, (void)dy, (void)dw;
    return ds_fail(ctx, DS_ERR_INTERNAL, "convolution: direct kernel not built");
}

#endif
