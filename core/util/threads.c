/* threads.c - one thread count for OpenMP and OpenBLAS (see ds_threads.h). */
#include "ctx_internal.h"
#include "ds_threads.h"

#include <errno.h>
#include <stdlib.h>
#include <strings.h>

#ifdef _OPENMP
#include <omp.h>
#endif

/* OpenBLAS extensions (declared in its cblas.h, repeated here so that this file does not depend
 * on which cblas.h the include path finds first). */
extern void openblas_set_num_threads(int num_threads);
extern int openblas_get_num_threads(void);
extern int openblas_get_parallel(void);
extern char *openblas_get_corename(void);

int ds_threads_default(void)
{
    const char *env = getenv("DS_NUM_THREADS");
    if (env && *env) {
        char *end = NULL;
        errno = 0;
        long v = strtol(env, &end, 10);
        if (errno == 0 && end && *end == '\0' && v >= 1 && v <= DS_MAX_THREADS)
            return (int)v;
    }
#ifdef _OPENMP
    int n = omp_get_num_procs();
    return n >= 1 ? n : 1;
#else
    return 1;
#endif
}

ds_status ds_threads_set(ds_ctx *ctx, int n)
{
    if (!ctx)
        return DS_ERR_ARG;
    if (n == 0)
        n = ds_threads_default();
    if (n < 1 || n > DS_MAX_THREADS)
        return ds_fail(ctx, DS_ERR_ARG, "thread count %d is outside 1..%d", n, DS_MAX_THREADS);
    ctx->threads = n;
#ifdef _OPENMP
    omp_set_num_threads(n);
#endif
    openblas_set_num_threads(n);
    ds_log(ctx, DS_LOG_DEBUG, "threads: %d (OpenBLAS %s, %s kernels)", n, ds_threads_blas_model(),
           ds_blas_core());
    return DS_OK;
}

int ds_threads_blas(void) { return openblas_get_num_threads(); }

const char *ds_threads_blas_model(void)
{
    switch (openblas_get_parallel()) {
    case 0: return "serial";
    case 1: return "pthread";
    case 2: return "openmp";
    default: return "unknown";
    }
}

const char *ds_blas_core(void)
{
    const char *name = openblas_get_corename();
    return name ? name : "unknown";
}

/* Kernel sets of OpenBLAS's DYNAMIC_ARCH build that use AVX2 or better; any other choice on a CPU
 * with AVX2 is the fallback ds_blas_core_correction() corrects. */
static int blas_core_has_avx2(const char *name)
{
    static const char *const avx2[] = {"haswell", "skylakex", "cooperlake", "sapphirerapids",
                                       "zen", "excavator"};
    for (size_t i = 0; i < sizeof avx2 / sizeof avx2[0]; i++)
        if (strcasecmp(name, avx2[i]) == 0)
            return 1;
    return 0;
}

const char *ds_blas_core_correction(void)
{
#if defined(__GNUC__) && (defined(__x86_64__) || defined(__i386__))
    __builtin_cpu_init();
    /* libgcc's answers include the operating system's support (XSAVE state) for AVX and AVX-512. */
    if (!__builtin_cpu_supports("avx2") || !__builtin_cpu_supports("fma"))
        return NULL;
    if (blas_core_has_avx2(ds_blas_core()))
        return NULL;
    if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
        __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("avx512vl"))
        return "SkylakeX";
    return "Haswell";
#else
    return NULL;
#endif
}
