/* bench_activations.c - the activation report (ds_net_activation_report) of both networks after
 * one training forward (dropout on) and backward: bytes kept per unit, the pool, the total.
 *
 * usage: bench_activations [WIDTH [D H W [N [THREADS]]]]   (defaults: 16 32 48 32 2 2)
 * The column "unfused" is what the layout before fusion kept for the same unit, computed from the
 * report (a conv-BN-ReLU unit kept its ReLU output beside the conv output, a BasicBlock its inner
 * activation, a decoder level its sum up + skip); the pool is not part of it.
 */
#include "ds_nets.h"
#include "ds_threads.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static double mib(int64_t b) { return (double)b / (1024.0 * 1024.0); }

static int report(ds_ctx *ctx, ds_arch arch, int width, int64_t d, int64_t h, int64_t w,
                  int64_t n)
{
    ds_net *net = NULL;
    ds_tensor *x = NULL, *g = NULL, *gf = NULL;
    ds_rng rng;
    ds_rng_init(&rng, 1, DS_RNG_DROPOUT_A);
    const ds_tensor *logits = NULL, *feature = NULL;
    ds_status st = ds_net_create(ctx, &net, arch, 1, 2, width);
    if (st == DS_OK)
        st = ds_tensor_zeros(ctx, &x, n, 1, d, h, w);
    for (int64_t i = 0; st == DS_OK && i < ds_tensor_numel(x); ++i)
        x->data[i] = (float)((i * 7919) % 101) / 50.0f - 1.0f;
    if (st == DS_OK)
        st = ds_net_forward(ctx, net, x, 1, &rng, &logits, &feature);
    if (st == DS_OK)
        st = ds_tensor_zeros(ctx, &g, n, 2, d, h, w);
    if (st == DS_OK)
        st = ds_tensor_zeros(ctx, &gf, n, width, d, h, w);
    if (st == DS_OK)
        st = ds_net_backward(ctx, net, g, gf);
    int count = 0;
    ds_net_activation_row *rows = NULL;
    if (st == DS_OK)
        st = ds_net_activation_report(ctx, net, NULL, 0, &count);
    if (st == DS_OK && !(rows = calloc((size_t)count, sizeof *rows)))
        st = DS_ERR_NOMEM;
    if (st == DS_OK)
        st = ds_net_activation_report(ctx, net, rows, count, &count);
    if (st == DS_OK) {
        printf("%s width %d, input %lldx1x%lldx%lldx%lld\n", ds_arch_name(arch), width,
               (long long)n, (long long)d, (long long)h, (long long)w);
        printf("  %-28s %8s %12s %12s\n", "unit", "tensors", "MiB kept", "MiB unfused");
        int64_t total = 0, unfused = 0;
        for (int i = 0; i < count; ++i) {
            const ds_net_activation_row *r = &rows[i];
            int64_t before = r->bytes;
            if (r->tensors == 1 && strchr(r->name, '.') && strncmp(r->name, "dropout", 7) != 0)
                before = 2 * r->bytes; /* conv-BN-ReLU: z and a */
            else if (r->tensors >= 3)
                before = r->bytes + r->bytes / r->tensors; /* BasicBlock: a1 */
            if (strstr(r->name, "_up.conv.0"))
                before += r->bytes; /* the decoder level's sum */
            total += r->bytes;
            if (strcmp(r->name, "pool") != 0)
                unfused += before;
            printf("  %-28s %8d %12.2f %12.2f\n", r->name, r->tensors, mib(r->bytes),
                   strcmp(r->name, "pool") ? mib(before) : 0.0);
        }
        printf("  total %.2f MiB (kept without the pool %.2f MiB, unfused layout %.2f MiB)\n",
               mib(total), mib(total - rows[count - 1].bytes), mib(unfused));
    } else {
        fprintf(stderr, "bench_activations: %s\n", ds_ctx_message(ctx));
    }
    free(rows);
    ds_tensor_free(x);
    ds_tensor_free(g);
    ds_tensor_free(gf);
    ds_net_free(net);
    return st == DS_OK ? 0 : 1;
}

int main(int argc, char **argv)
{
    const int width = argc > 1 ? atoi(argv[1]) : 16;
    const int64_t d = argc > 4 ? atoll(argv[2]) : 32, h = argc > 4 ? atoll(argv[3]) : 48;
    const int64_t w = argc > 4 ? atoll(argv[4]) : 32, n = argc > 5 ? atoll(argv[5]) : 2;
    const int threads = argc > 6 ? atoi(argv[6]) : 2;
    ds_ctx *ctx = NULL;
    if (ds_ctx_create(&ctx) != DS_OK || ds_threads_set(ctx, threads) != DS_OK)
        return 1;
    int rc = report(ctx, DS_ARCH_VNET, width, d, h, w, n) |
             report(ctx, DS_ARCH_RESNET34_VNET, width, d, h, w, n);
    ds_ctx_free(ctx);
    return rc;
}
