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

#ifdef __cplusplus
}
#endif

#endif /* DS_THREADS_H */
