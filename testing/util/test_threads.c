/* test_threads.c - one thread count for OpenMP and OpenBLAS; no oversubscription. */
#include "ds_test.h"
#include "ds_threads.h"

#include <omp.h>
#include <stdlib.h>

int main(void)
{
    ds_ctx *ctx = NULL;
    ds_ctx_create(&ctx);

    /* The tests run with DS_NUM_THREADS=2 (testing/CMakeLists.txt): that is the default. */
    const char *env = getenv("DS_NUM_THREADS");
    if (env && strcmp(env, "2") == 0)
        DS_CHECK(ds_threads_default() == 2 && ds_ctx_threads(ctx) == 2);
    DS_CHECK(ds_threads_default() >= 1);

    /* The OpenMP build of OpenBLAS is the one loaded: it shares OpenMP's pool and runs a GEMM
     * called inside one of our parallel regions on the calling thread only. */
    DS_CHECK_MSG(strcmp(ds_threads_blas_model(), "openmp") == 0, "OpenBLAS threading model is %s",
                 ds_threads_blas_model());

    for (int n = 1; n <= 3; ++n) {
        DS_CHECK_OK(ctx, ds_threads_set(ctx, n));
        DS_CHECK(ds_ctx_threads(ctx) == n);
        DS_CHECK(ds_threads_blas() == n);
        DS_CHECK(omp_get_max_threads() == n);
        int team = 0;
#pragma omp parallel num_threads(ds_ctx_threads(ctx))
        {
#pragma omp single
            team = omp_get_num_threads();
        }
        DS_CHECK(team == n);
    }

    DS_CHECK_OK(ctx, ds_threads_set(ctx, 0));
    DS_CHECK(ds_ctx_threads(ctx) == ds_threads_default());

    DS_CHECK_FAILS(ctx, ds_threads_set(ctx, -1), DS_ERR_ARG);
    DS_CHECK_FAILS(ctx, ds_threads_set(ctx, DS_MAX_THREADS + 1), DS_ERR_ARG);
    DS_CHECK(ds_ctx_threads(ctx) == ds_threads_default()); /* unchanged by refused requests */
    DS_CHECK(ds_threads_set(NULL, 1) == DS_ERR_ARG);

    ds_ctx_free(ctx);
    return ds_test_finish("test_threads");
}
