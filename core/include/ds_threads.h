/* ds_threads.h - one control for the number of threads, shared by OpenMP and OpenBLAS.
 *
 * DualSeg links the OpenMP build of OpenBLAS, so OpenBLAS and DualSeg's own OpenMP loops draw
 * from the same thread pool: a GEMM called inside one of our parallel regions runs on the calling
 * thread only, and a GEMM called outside uses the threads set here. The total never exceeds the
 * number requested, so the machine is never oversubscribed.
 *
 * The OpenMP and OpenBLAS thread counts are process-wide settings of those libraries; the context
 * records the count so that the library's parallel loops can say num_threads(ds_ctx_threads(ctx))
 * explicitly rather than rely on the ambient setting.
 */
#ifndef DS_THREADS_H
#define DS_THREADS_H

#include "ds_status.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Upper bound accepted for a thread count; anything larger is refused as absurd. */
#define DS_MAX_THREADS 1024

/* The default thread count: DS_NUM_THREADS from the environment when set to a valid number,
 * otherwise the number of processors OpenMP reports. Always >= 1. */
int ds_threads_default(void);

/* Sets the context's thread count and applies it to OpenMP and OpenBLAS.
 * n must lie in 1..DS_MAX_THREADS; 0 means ds_threads_default(). */
ds_status ds_threads_set(ds_ctx *ctx, int n);

/* What OpenBLAS reports as its thread count (for tests and diagnostics). */
int ds_threads_blas(void);

/* The name of the OpenBLAS threading model in use ("openmp", "pthread", "serial" or "unknown"). */
const char *ds_threads_blas_model(void);

/* The kernel set OpenBLAS chose for this CPU when it was loaded ("Haswell", "SkylakeX",
 * "Prescott", ...), as openblas_get_corename() says. */
const char *ds_blas_core(void);

/* A kernel set to request through OPENBLAS_CORETYPE because OpenBLAS's own choice is known to be
 * wrong for this CPU, or NULL when its choice is fine. Why: OpenBLAS picks its kernels from the
 * CPU's family/model table, and a model newer than the table (Debian 12's 0.3.21 on a Xeon of
 * model 207, for one) falls back to "Prescott", SSE3 kernels that run SGEMM 2-3x slower than the
 * AVX-512 or AVX2 ones the CPU supports. The answer is only a correction of such a fallback: it is
 * non-NULL only when OpenBLAS chose a kernel set without AVX2 while the CPU and the operating
 * system support AVX2 and FMA ("Haswell") or AVX-512 F/BW/DQ/VL ("SkylakeX"). OPENBLAS_CORETYPE is
 * read once, when OpenBLAS is loaded, so only a program can act on this answer, by running itself
 * again with the variable set (the CLI modules do; see plugin/runtime). */
const char *ds_blas_core_correction(void);

#ifdef __cplusplus
}
#endif

#endif /* DS_THREADS_H */
