/* test_itk_bridge.c - the ITK bridge links and reports the ITK it was built against. */
#include "ds_io.h"
#include "ds_test.h"

int main(void)
{
    ds_ctx *ctx = NULL;
    ds_ctx_create(&ctx);
    char version[32];
    DS_CHECK_OK(ctx, ds_io_itk_version(ctx, version, sizeof version));
    DS_CHECK_MSG(strncmp(version, "5.", 2) == 0, "ITK version %s", version);
    DS_CHECK_FAILS(ctx, ds_io_itk_version(ctx, version, 0), DS_ERR_ARG);
    ds_ctx_free(ctx);
    return ds_test_finish("test_itk_bridge");
}
