/* test_model_convert.c - PyTorch state_dicts converted by scripts/convert_pytorch.py load and
 * compute what PyTorch computed, and the networks' names are PyTorch's.
 *
 * Converted checkpoints (fixtures from make_converted_fixture.py): a width-1 V-Net with 3
 * classes saved from nn.DataParallel, and a width-1 ResNet34-V-Net with 2, both with random
 * weights and BatchNorm statistics; the evaluation logits on a 16^3 hash input must match
 * PyTorch's within 1e-4. The Python writer is independent of the C one, so this also
 * cross-checks the file format.
 *
 * Names (fixture from make_state_fixture.py): the state_dict of each network at width 16, as
 * PyTorch lists it, entry by entry: the C network's parameters and BatchNorm buffers in
 * state_dict order must carry the same names, in the same order, with the same sizes; the
 * converted width-1 networks carry the same names too.
 */
#include "ds_fixture.h"
#include "ds_model.h"
#include "ds_test.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static double hash_uniform(uint64_t stream, uint64_t i) /* as in make_net_fixtures.py */
{
    uint64_t x = (i * 2654435761u + stream * 40503u + 12345u) & 0xFFFFFFFFu;
    x ^= x >> 15;
    x = (x * 2246822519u) & 0xFFFFFFFFu;
    x ^= x >> 13;
    x = (x * 3266489917u) & 0xFFFFFFFFu;
    x ^= x >> 16;
    return (double)x / 2147483648.0 - 1.0;
}

/* The C network's state_dict, in PyTorch's order: each module's parameters, then its buffers;
 * a BatchNorm's buffers follow its bias. */
typedef struct entry {
    char name[DS_PARAM_NAME_CAP + 32];
    int64_t numel;
} entry;

static int c_state_dict(ds_ctx *ctx, ds_net *net, entry *out, int cap)
{
    const ds_param_list *params = ds_net_params(net);
    int n = 0, bn = 0;
    for (int k = 0; k < params->count && n < cap; ++k) {
        snprintf(out[n].name, sizeof out[n].name, "%s", params->items[k]->name);
        out[n++].numel = params->items[k]->numel;
        const char *prefix = NULL;
        int channels = 0;
        if (bn >= ds_net_batchnorm_count(net) ||
            ds_net_batchnorm_state(ctx, net, bn, &prefix, &channels, NULL, NULL, NULL) != DS_OK)
            continue;
        const size_t len = strlen(prefix) - strlen("weight"); /* "<module>." */
        const char *name = params->items[k]->name;
        if (strncmp(name, prefix, len) != 0 || strcmp(name + len, "bias") != 0)
            continue;
        static const char *buffers[3] = {"running_mean", "running_var", "num_batches_tracked"};
        for (int b = 0; b < 3 && n < cap; ++b) {
            snprintf(out[n].name, sizeof out[n].name, "%.*s%s", (int)len, prefix, buffers[b]);
            out[n++].numel = b < 2 ? channels : 1;
        }
        ++bn;
    }
    return bn == ds_net_batchnorm_count(net) ? n : -1;
}

/* Compares net's state_dict with the fixture's "<arch>.sd.<name>" entries, one by one; sizes
 * too when the network has the fixture's width (16). */
static void check_names(ds_ctx *ctx, const ds_fixture *fx, ds_net *net)
{
    const char *arch = ds_arch_name(ds_net_arch(net));
    char prefix[64];
    const int plen = snprintf(prefix, sizeof prefix, "%s.sd.", arch);
    enum { CAP = 1024 };
    entry *mine = malloc(CAP * sizeof *mine);
    const int n = mine ? c_state_dict(ctx, net, mine, CAP) : -1;
    DS_CHECK_MSG(n > 0, "%s: BatchNorms out of order with the parameters", arch);
    int at = 0, same = 0, torch_count = 0;
    for (int i = 0; i < fx->count; ++i) {
        const ds_fixture_array *a = &fx->arrays[i];
        if (strncmp(a->name, prefix, (size_t)plen) != 0)
            continue;
        ++torch_count;
        const char *want = a->name + plen;
        int64_t numel = 1;
        for (size_t d = 1; d < a->numel; ++d)
            numel *= (int64_t)a->data[d];
        const int name_ok = at < n && strcmp(mine[at].name, want) == 0;
        const int size_ok = ds_net_width(net) != 16 || (at < n && mine[at].numel == numel);
        if (!name_ok || !size_ok)
            fprintf(stderr, "%s (width %d) state_dict entry %d: ours '%s' (%lld values), "
                    "PyTorch's '%s' (%lld)\n", arch, ds_net_width(net), at,
                    at < n ? mine[at].name : "(none)", at < n ? (long long)mine[at].numel : 0LL,
                    want, (long long)numel);
        same += name_ok && size_ok;
        ++at;
    }
    DS_CHECK_MSG(torch_count > 0 && same == torch_count && n == torch_count,
                 "%s (width %d): %d of PyTorch's %d state_dict entries match, we have %d", arch,
                 ds_net_width(net), same, torch_count, n);
    free(mine);
}

static void check_converted(ds_ctx *ctx, const ds_fixture *names, const char *model_path,
                            const char *logits_path, ds_arch arch, int classes)
{
    ds_model *m = NULL;
    DS_CHECK_OK(ctx, ds_model_load(ctx, &m, model_path));
    ds_fixture *fx = ds_fixture_load(logits_path);
    DS_CHECK(fx != NULL);
    if (m && fx) {
        DS_CHECK(m->net_count == 1 && !m->has_optim && m->rng_count == 0);
        DS_CHECK(m->meta.classes == classes && m->meta.iteration == 6000);
        DS_CHECK(m->meta.norm_mode == DS_NORM_ZSCORE);
        DS_CHECK(ds_net_arch(m->net[0]) == arch && ds_net_width(m->net[0]) == 1);
        if (arch == DS_ARCH_VNET) {
            DS_CHECK(strcmp(m->meta.class_names[2], "posterior") == 0);
            DS_CHECK(m->meta.patch[0] == 48 && m->meta.patch[2] == 16 && m->meta.spacing[2] == 1.5);
        }
        if (names && ds_net_arch(m->net[0]) == arch)
            check_names(ctx, names, m->net[0]);
        ds_tensor *x = NULL;
        ds_tensor_create(ctx, &x, 1, 1, 16, 16, 16);
        for (int64_t i = 0; x && i < ds_tensor_numel(x); ++i)
            x->data[i] = (float)hash_uniform(1000, (uint64_t)i);
        const ds_tensor *logits = NULL;
        DS_CHECK_OK(ctx, ds_net_forward(ctx, m->net[0], x, 0, NULL, &logits, NULL));
        const ds_fixture_array *want = ds_fixture_get(fx, "logits");
        DS_CHECK(logits && want && (int64_t)want->numel == ds_tensor_numel(logits));
        if (logits && want && (int64_t)want->numel == ds_tensor_numel(logits)) {
            const double err = ds_fixture_rel_error(logits->data, want);
            DS_CHECK_MSG(err <= 1e-4, "%s evaluation logits: relative error %.3g",
                         ds_arch_name(arch), err);
            printf("%s (converted): evaluation logits error %.3g\n", ds_arch_name(arch), err);
        }
        ds_tensor_free(x);
    }
    ds_fixture_free(fx);
    ds_model_free(m);
}

int main(void)
{
    ds_ctx *ctx = NULL;
    ds_ctx_create(&ctx);
    ds_fixture *names = ds_fixture_load(DS_TESTING_DIR "/nets/state_dict.bin");
    DS_CHECK(names != NULL);
    static const ds_arch archs[2] = {DS_ARCH_VNET, DS_ARCH_RESNET34_VNET};
    for (int i = 0; i < 2 && names; ++i) {
        ds_net *net = NULL;
        DS_CHECK_OK(ctx, ds_net_create(ctx, &net, archs[i], 1, 2, 16));
        if (net)
            check_names(ctx, names, net);
        ds_net_free(net);
    }
    check_converted(ctx, names, DS_TESTING_DIR "/nets/converted_vnet_w1.dsm",
                    DS_TESTING_DIR "/nets/converted_vnet_w1.bin", DS_ARCH_VNET, 3);
    check_converted(ctx, names, DS_TESTING_DIR "/nets/converted_resnet34_vnet_w1.dsm",
                    DS_TESTING_DIR "/nets/converted_resnet34_vnet_w1.bin",
                    DS_ARCH_RESNET34_VNET, 2);
    ds_fixture_free(names);
    ds_ctx_free(ctx);
    return ds_test_finish("test_model_convert");
}
