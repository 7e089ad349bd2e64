/* test_headers.c - all public headers compile together in C (and, in test_headers_cxx.cxx, in
 * C++), and each module's status-returning API links: a few calls whose results are checked. */
#include "ds_all_headers.h"
#include "ds_test.h"

int cxx_headers_compiled(void); /* test_headers_cxx.cxx */

int main(void)
{
    ds_ctx *ctx = NULL;
    DS_CHECK(ds_ctx_create(&ctx) == DS_OK);
    DS_CHECK(cxx_headers_compiled() == DS_ERR_ARG);
    /* Enumerations shared between modules keep their file-format values. */
    DS_CHECK(DS_NORM_ZSCORE == 0 && DS_NORM_WINDOW == 1 && DS_NORM_NONE == 2);
    DS_CHECK(DS_ARCH_VNET == 1 && DS_ARCH_RESNET34_VNET == 2);
    DS_CHECK(strcmp(ds_arch_name(DS_ARCH_RESNET34_VNET), "resnet34_vnet") == 0);
    ds_ctx_free(ctx);
    return ds_test_finish("test_headers");
}
