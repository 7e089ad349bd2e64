/* test_infer_memory.c - the window memory estimate that refuses a patch the machine cannot hold
 * (core/infer/memory.c): extrapolated from tiny networks of widths 1 and 2, it must equal the
 * bytes a real evaluation forward of the full-width network holds (ds_net_activation_bytes after
 * the forward; the reference is that measurement itself, so equality is exact), for both
 * architectures, two class counts, an odd width and a batch of 2 windows of a non-cubic patch.
 * A wrong width or voxel dependence (a buffer not a multiple of the width, a pool that keeps
 * buffers of another shape) shows as a difference. */
#include <stdio.h>

#include "ds_test.h"
#include "infer_internal.h"

static ds_ctx *ctx;

static void check(ds_arch arch, int classes, int width, int64_t n, int64_t d, int64_t h,
                  int64_t w)
{
    ds_net *net = NULL;
    ds_tensor *x = NULL;
    const ds_tensor *logits = NULL;
    DS_CHECK_OK(ctx, ds_net_create(ctx, &net, arch, 1, classes, width));
    double estimate = -1;
    DS_CHECK_OK(ctx, ds_infer_window_bytes(ctx, net, (double)(n * d * h * w), &estimate));
    DS_CHECK_OK(ctx, ds_tensor_zeros(ctx, &x, n, 1, d, h, w));
    DS_CHECK_OK(ctx, ds_net_forward(ctx, net, x, 0, NULL, &logits, NULL));
    const double held = (double)ds_net_activation_bytes(net);
    printf("%s K=%d width %d, %lldx%lldx%lldx%lld: estimate %.0f bytes, forward held %.0f\n",
           ds_arch_name(arch), classes, width, (long long)n, (long long)d, (long long)h,
           (long long)w, estimate, held);
    DS_CHECK_MSG(estimate == held && held > 0, "estimate %.0f, held %.0f", estimate, held);
    ds_tensor_free(x);
    ds_net_free(net);
}

int main(void)
{
    DS_CHECK(ds_ctx_create(&ctx) == DS_OK);
    check(DS_ARCH_VNET, 2, 16, 2, 32, 48, 32);
    check(DS_ARCH_RESNET34_VNET, 2, 16, 2, 32, 48, 32);
    check(DS_ARCH_VNET, 3, 5, 1, 48, 32, 16);
    check(DS_ARCH_RESNET34_VNET, 3, 5, 1, 48, 32, 16);
    ds_ctx_free(ctx);
    return ds_test_finish("test_infer_memory");
}
