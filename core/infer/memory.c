/* memory.c - refusing a window the machine cannot hold, before anything of its size is allocated.
 *
 * An evaluation forward's bytes are exactly bilinear in (width, voxels), as the trainer's
 * estimate's (ds_net_bilinear_bytes): four forwards of fresh networks of widths 1 and 2 at 16^3
 * and 16x16x32 fix them. Measuring at the network's own width instead made and zeroed two full
 * networks with their gradients: 0.3 s of a 1.6 s segmentation at 112x112x80 (width 16, the
 * pair), on every volume. The measurement is skipped when even a generous bound
 * (DS_WINDOW_BOUND bytes a voxel per unit of width) fits. */
#include "infer_internal.h"

#include <inttypes.h>
#include <sys/resource.h>
#include <unistd.h>

#define DS_WINDOW_BOUND 1024.0 /* bytes per window voxel and unit of width: far above measured */

/* The machine's memory, or the process's address-space limit when that is lower. */
static double machine_bytes(void)
{
    long pages = sysconf(_SC_PHYS_PAGES), size = sysconf(_SC_PAGE_SIZE);
    double bytes = pages > 0 && size > 0 ? (double)pages * (double)size : 1e300;
    struct rlimit rl;
    if (getrlimit(RLIMIT_AS, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY &&
        (double)rl.rlim_cur < bytes)
        bytes = (double)rl.rlim_cur;
    return bytes;
}

/* Evaluation bytes of a fresh network like `like` but of `width`, for 16 x 16 x w voxels. */
static ds_status measure(ds_ctx *ctx, const ds_net *like, int width, int64_t w, double *bytes)
{
    ds_net *net = NULL;
    ds_tensor *x = NULL;
    const ds_tensor *logits = NULL;
    ds_status st = ds_net_create(ctx, &net, ds_net_arch(like), 1, ds_net_classes(like), width);
    if (st == DS_OK)
        st = ds_tensor_zeros(ctx, &x, 1, 1, 16, 16, w);
    if (st == DS_OK)
        st = ds_net_forward(ctx, net, x, 0, NULL, &logits, NULL);
    if (st == DS_OK)
        *bytes = (double)ds_net_activation_bytes(net);
    ds_tensor_free(x);
    ds_net_free(net);
    return st;
}

ds_status ds_infer_window_bytes(ds_ctx *ctx, const ds_net *net, double voxels, double *bytes)
{
    const double v[2] = {16.0 * 16 * 16, 32.0 * 16 * 16};
    double b[2][2];
    for (int width = 1; width <= 2; ++width)
        for (int i = 0; i < 2; ++i)
            DS_TRY(measure(ctx, net, width, 16 << i, &b[width - 1][i]));
    *bytes = ds_net_bilinear_bytes((const double(*)[2])b, v, ds_net_width(net), voxels);
    return DS_OK;
}

ds_status ds_infer_check_memory(ds_ctx *ctx, ds_net *const *nets, int count, int batch,
                                const int64_t patch[3])
{
    const double voxels = (double)batch * (double)patch[0] * (double)patch[1] * (double)patch[2];
    const double limit = machine_bytes();
    double need = 0;
    for (int n = 0; n < count; ++n) {
        const double bound = voxels * DS_WINDOW_BOUND * ds_net_width(nets[n]);
        if (bound < limit / 4)
            continue;
        double bytes;
        DS_TRY(ds_infer_window_bytes(ctx, nets[n], voxels, &bytes));
        need = bytes > need ? bytes : need; /* the networks run one after the other */
    }
    need += voxels * 4.0 * 2; /* the window batch and its flipped copy */
    if (need <= limit)
        return DS_OK;
    return ds_fail(ctx, DS_ERR_NOMEM, "inference: a patch of %" PRId64 "x%" PRId64 "x%" PRId64
                   " (batch %d) needs about %.0f MiB for the networks, more than the memory "
                   "available (%.0f MiB); use a smaller patch or batch", patch[0], patch[1],
                   patch[2], batch, need / 1048576.0, limit / 1048576.0);
}
