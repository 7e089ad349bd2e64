/* test_vtk_bridge.c - the VTK bridge links and reports the VTK it was built against. */
#include "ds_render.h"
#include "ds_test.h"

int main(void)
{
    ds_ctx *ctx = NULL;
    ds_ctx_create(&ctx);
    char version[32];
    DS_CHECK_OK(ctx, ds_render_vtk_version(ctx, version, sizeof version));
    DS_CHECK_MSG(strncmp(version, "9.", 2) == 0, "VTK version %s", version);
    DS_CHECK_FAILS(ctx, ds_render_vtk_version(ctx, NULL, 8), DS_ERR_ARG);
    ds_ctx_free(ctx);
    return ds_test_finish("test_vtk_bridge");
}
