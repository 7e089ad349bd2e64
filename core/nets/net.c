/* net.c - construction of the two networks, parameters, initialisation (see ds_nets.h). */
#include "net_internal.h"
#include "ds_init.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *ds_arch_name(ds_arch arch)
{
    switch (arch) {
    case DS_ARCH_VNET: return "vnet";
    case DS_ARCH_RESNET34_VNET: return "resnet34_vnet";
    }
    return "unknown";
}

ds_shape ds_enc_shape(const ds_enc_unit *u)
{
    return u->is_basic ? u->basic.out_shape : u->cbr.out_shape;
}

/* A V-Net conv block: n conv-BN-ReLU stages named "<block>.conv.{3i}" / "<block>.conv.{3i+1}". */
static ds_status add_stack(ds_ctx *ctx, ds_cbr *units, const char *block, int n, int c_in,
                           int c_out)
{
    for (int i = 0; i < n; ++i) {
        char conv[DS_PARAM_NAME_CAP], bn[DS_PARAM_NAME_CAP];
        snprintf(conv, sizeof conv, "%s.conv.%d", block, 3 * i);
        snprintf(bn, sizeof bn, "%s.conv.%d", block, 3 * i + 1);
        DS_TRY(ds_cbr_init(ctx, &units[i], conv, bn, i == 0 ? c_in : c_out, c_out, 3, 1, 1, 1, 0));
    }
    return DS_OK;
}

/* A down (k2 s2 conv) or up (k2 s2 transposed conv) block "<block>.conv.0" / ".conv.1". */
static ds_status add_resample(ds_ctx *ctx, ds_cbr *u, const char *block, int c_in, int c_out,
                              int transposed)
{
    char conv[DS_PARAM_NAME_CAP], bn[DS_PARAM_NAME_CAP];
    snprintf(conv, sizeof conv, "%s.conv.0", block);
    snprintf(bn, sizeof bn, "%s.conv.1", block);
    return ds_cbr_init(ctx, u, conv, bn, c_in, c_out, 2, 2, 0, 1, transposed);
}

static ds_status build_vnet_encoder(ds_ctx *ctx, ds_net *net)
{
    static const char *blocks[5] = {"block_one", "block_two", "block_three", "block_four",
                                     "block_five"};
    static const char *downs[4] = {"block_one_dw", "block_two_dw", "block_three_dw",
                                   "block_four_dw"};
    static const int stages[5] = {1, 2, 3, 3, 3};
    const int w = net->width;
    int c_in = net->in_channels, u = 0;
    for (int l = 0; l < DS_NET_LEVELS; ++l) {
        const int c = w << l;
        ds_cbr tmp[3];
        DS_TRY(add_stack(ctx, tmp, blocks[l], stages[l], c_in, c));
        for (int i = 0; i < stages[l]; ++i)
            net->enc[u++].cbr = tmp[i];
        net->level_end[l] = u - 1;
        if (l < 4) {
            DS_TRY(add_resample(ctx, &net->enc[u++].cbr, downs[l], c, 2 * c, 0));
            c_in = 2 * c;
        }
    }
    net->enc_count = u;
    net->bottleneck_dropout = 1;
    return DS_OK;
}

static ds_status build_resnet_encoder(ds_ctx *ctx, ds_net *net)
{
    static const int blocks_per_stage[4] = {3, 4, 6, 3};
    const int w = net->width;
    DS_TRY(ds_cbr_init(ctx, &net->enc[0].cbr, "stem.0", "stem.1", net->in_channels, w, 7, 1, 3, 0,
                       0));
    net->level_end[0] = 0;
    int u = 1, c_in = w;
    for (int s = 0; s < 4; ++s) {
        const int c = w << (s + 1);
        for (int b = 0; b < blocks_per_stage[s]; ++b) {
            char prefix[DS_PARAM_NAME_CAP];
            snprintf(prefix, sizeof prefix, "layer%d.%d", s + 1, b);
            net->enc[u].is_basic = 1;
            DS_TRY(ds_basic_init(ctx, &net->enc[u].basic, prefix, b == 0 ? c_in : c, c,
                                 b == 0 ? 2 : 1));
            ++u;
        }
        net->level_end[s + 1] = u - 1;
        c_in = c;
    }
    net->enc_count = u;
    net->bottleneck_dropout = 0;
    return DS_OK;
}

static ds_status build_decoder(ds_ctx *ctx, ds_net *net)
{
    static const char *ups[4] = {"block_eight_up", "block_seven_up", "block_six_up",
                                 "block_five_up"};
    static const char *stages[4] = {"block_nine", "block_eight", "block_seven", "block_six"};
    static const int counts[4] = {1, 2, 3, 3};
    const int w = net->width;
    for (int j = 3; j >= 0; --j) {
        DS_TRY(add_resample(ctx, &net->up[j], ups[j], w << (j + 1), w << j, 1));
        DS_TRY(add_stack(ctx, net->stage[j], stages[j], counts[j], w << j, w << j));
        net->stage_count[j] = counts[j];
    }
    DS_TRY(ds_conv3d_init(ctx, &net->out_conv, "out_conv", w, net->classes, 1, 1, 0, 1));
    DS_TRY(ds_dropout3d_init(ctx, &net->drop_bottleneck, 0.5f));
    return ds_dropout3d_init(ctx, &net->drop_feature, 0.5f);
}

/* Parameters and BatchNorms in PyTorch's registration (state_dict) order. */
static ds_status register_all(ds_ctx *ctx, ds_net *net)
{
    for (int u = 0; u < net->enc_count; ++u) {
        if (net->bn_count + 3 > DS_NET_MAX_BN)
            return ds_fail(ctx, DS_ERR_INTERNAL, "network: too many BatchNorm layers");
        if (net->enc[u].is_basic)
            DS_TRY(ds_basic_register(ctx, &net->enc[u].basic, &net->params, net->bns,
                                     &net->bn_count));
        else
            DS_TRY(ds_cbr_register(ctx, &net->enc[u].cbr, &net->params, net->bns, &net->bn_count));
    }
    for (int j = 3; j >= 0; --j) {
        DS_TRY(ds_cbr_register(ctx, &net->up[j], &net->params, net->bns, &net->bn_count));
        for (int i = 0; i < net->stage_count[j]; ++i)
            DS_TRY(ds_cbr_register(ctx, &net->stage[j][i], &net->params, net->bns, &net->bn_count));
    }
    DS_TRY(ds_param_list_add(ctx, &net->params, &net->out_conv.weight));
    return ds_param_list_add(ctx, &net->params, &net->out_conv.bias);
}

ds_status ds_net_create(ds_ctx *ctx, ds_net **out, ds_arch arch, int in_channels, int classes,
                        int width)
{
    if (!out)
        return ds_fail(ctx, DS_ERR_ARG, "network: null output pointer");
    *out = NULL;
    if (arch != DS_ARCH_VNET && arch != DS_ARCH_RESNET34_VNET)
        return ds_fail(ctx, DS_ERR_ARG, "network: unknown architecture %d", (int)arch);
    if (in_channels < 1 || in_channels > 16)
        return ds_fail(ctx, DS_ERR_ARG, "network: %d input channels (1..16 allowed)", in_channels);
    if (classes < 2 || classes > DS_NET_MAX_CLASSES)
        return ds_fail(ctx, DS_ERR_ARG, "network: %d classes (2..%d allowed)", classes,
                       DS_NET_MAX_CLASSES);
    if (width < 1 || width > DS_NET_MAX_WIDTH)
        return ds_fail(ctx, DS_ERR_ARG, "network: width %d (1..%d allowed)", width,
                       DS_NET_MAX_WIDTH);
    ds_net *net = calloc(1, sizeof *net);
    if (!net)
        return ds_fail(ctx, DS_ERR_NOMEM, "network: out of memory");
    net->arch = arch;
    net->in_channels = in_channels;
    net->classes = classes;
    net->width = width;
    net->dropout_enabled = 1;
    net->scratch = &net->own_scratch;
    ds_status st = ds_conv_workspace_create(ctx, &net->own_scratch.conv_work);
    if (st == DS_OK)
        st = arch == DS_ARCH_VNET ? build_vnet_encoder(ctx, net)
                                        : build_resnet_encoder(ctx, net);
    if (st == DS_OK)
        st = build_decoder(ctx, net);
    if (st == DS_OK)
        st = register_all(ctx, net);
    if (st != DS_OK) {
        ds_net_free(net);
        return st;
    }
    ds_net_use_scratch(net, NULL);
    *out = net;
    return DS_OK;
}

void ds_net_free(ds_net *net)
{
    if (!net)
        return;
    if (net->eval_feature) /* lent from a scratch that may outlive the network */
        ds_pool_release(&net->scratch->pool, net->eval_feature);
    for (int u = 0; u < DS_NET_MAX_UNITS; ++u) {
        if (net->enc[u].is_basic)
            ds_basic_free(&net->enc[u].basic);
        else
            ds_cbr_free(&net->enc[u].cbr);
    }
    for (int j = 0; j < 4; ++j) {
        ds_cbr_free(&net->up[j]);
        for (int i = 0; i < 3; ++i)
            ds_cbr_free(&net->stage[j][i]);
    }
    ds_conv3d_free(&net->out_conv);
    ds_dropout3d_free(&net->drop_bottleneck);
    ds_dropout3d_free(&net->drop_feature);
    ds_tensor_free(net->x5_dropped);
    ds_tensor_free(net->feature);
    ds_tensor_free(net->logits);
    ds_param_list_free(&net->params);
    ds_pool_free(&net->own_scratch.pool);
    ds_conv_workspace_free(net->own_scratch.conv_work);
    free(net);
}

ds_arch ds_net_arch(const ds_net *net) { return net->arch; }
int ds_net_classes(const ds_net *net) { return net->classes; }
int ds_net_width(const ds_net *net) { return net->width; }
int ds_net_in_channels(const ds_net *net) { return net->in_channels; }
const ds_param_list *ds_net_params(const ds_net *net) { return &net->params; }
int64_t ds_net_param_count(const ds_net *net) { return ds_param_list_numel(&net->params); }
int ds_net_batchnorm_count(const ds_net *net) { return net->bn_count; }
void ds_net_set_dropout(ds_net *net, int enabled) { net->dropout_enabled = enabled != 0; }

ds_status ds_net_batchnorm_state(ds_ctx *ctx, ds_net *net, int index, const char **name_prefix,
                                 int *channels, float **running_mean, float **running_var,
                                 int64_t **num_batches_tracked)
{
    if (!net || index < 0 || index >= net->bn_count)
        return ds_fail(ctx, DS_ERR_ARG, "network: BatchNorm index %d out of range", index);
    ds_batchnorm3d *bn = net->bns[index];
    if (name_prefix)
        *name_prefix = bn->weight.name; /* "<prefix>.weight": callers strip the suffix */
    if (channels)
        *channels = bn->channels;
    if (running_mean)
        *running_mean = bn->running_mean;
    if (running_var)
        *running_var = bn->running_var;
    if (num_batches_tracked)
        *num_batches_tracked = &bn->num_batches_tracked;
    return DS_OK;
}

/* The literature's initialisation (kaiming_normal_init_weight of the semi-supervised LA code):
 * kaiming_normal_ on Conv3d weights; everything else keeps PyTorch's default: conv biases and
 * transposed-conv weights and biases U(-1/sqrt(fan_in), 1/sqrt(fan_in)) (kaiming_uniform_ with
 * a = sqrt(5) has exactly that bound). */
static ds_status init_conv(ds_ctx *ctx, ds_conv3d *c, ds_rng *rng)
{
    const int64_t fan_in = (int64_t)c->in_channels * c->kernel * c->kernel * c->kernel;
    DS_TRY(ds_init_kaiming_normal(ctx, &c->weight, fan_in, rng));
    return c->has_bias ? ds_init_uniform_bias(ctx, &c->bias, fan_in, rng) : DS_OK;
}

static ds_status init_cbr(ds_ctx *ctx, ds_cbr *u, ds_rng *rng)
{
    if (!u->transposed)
        return init_conv(ctx, &u->conv, rng);
    ds_conv_transpose3d *t = &u->tconv; /* PyTorch's fan_in of a (in, out, k^3) weight: out * k^3 */
    const int64_t fan_in = (int64_t)t->out_channels * t->kernel * t->kernel * t->kernel;
    DS_TRY(ds_init_uniform_bias(ctx, &t->weight, fan_in, rng));
    return t->has_bias ? ds_init_uniform_bias(ctx, &t->bias, fan_in, rng) : DS_OK;
}

ds_status ds_net_init_weights(ds_ctx *ctx, ds_net *net, ds_rng *rng)
{
    if (!net || !rng)
        return ds_fail(ctx, DS_ERR_ARG, "network init: null network or RNG");
    for (int u = 0; u < net->enc_count; ++u) {
        if (net->enc[u].is_basic) {
            ds_basic *b = &net->enc[u].basic;
            DS_TRY(init_conv(ctx, &b->conv1, rng));
            DS_TRY(init_conv(ctx, &b->conv2, rng));
            if (b->has_proj)
                DS_TRY(init_conv(ctx, &b->proj, rng));
        } else {
            DS_TRY(init_cbr(ctx, &net->enc[u].cbr, rng));
        }
    }
    for (int j = 3; j >= 0; --j) {
        DS_TRY(init_cbr(ctx, &net->up[j], rng));
        for (int i = 0; i < net->stage_count[j]; ++i)
            DS_TRY(init_cbr(ctx, &net->stage[j][i], rng));
    }
    DS_TRY(init_conv(ctx, &net->out_conv, rng));
    for (int i = 0; i < net->bn_count; ++i) {
        ds_batchnorm3d *bn = net->bns[i];
        ds_init_constant(&bn->weight, 1.0f);
        ds_init_constant(&bn->bias, 0.0f);
        for (int c = 0; c < bn->channels; ++c) {
            bn->running_mean[c] = 0.0f;
            bn->running_var[c] = 1.0f;
        }
        bn->num_batches_tracked = 0;
    }
    return DS_OK;
}

ds_status ds_net_scratch_create(ds_ctx *ctx, ds_net_scratch **out)
{
    if (!out)
        return ds_fail(ctx, DS_ERR_ARG, "network scratch: null output pointer");
    *out = calloc(1, sizeof **out);
    if (!*out)
        return ds_fail(ctx, DS_ERR_NOMEM, "network scratch: out of memory");
    ds_status st = ds_conv_workspace_create(ctx, &(*out)->conv_work);
    if (st != DS_OK) {
        free(*out);
        *out = NULL;
    }
    return st;
}

void ds_net_scratch_free(ds_net_scratch *scratch)
{
    if (!scratch)
        return;
    ds_pool_free(&scratch->pool);
    ds_conv_workspace_free(scratch->conv_work);
    free(scratch);
}

/* Calls fn on every convolution of the network (c for a Conv3d, t for a ConvTranspose3d; the
 * other NULL). */
typedef void (*conv_visit)(ds_conv3d *c, ds_conv_transpose3d *t, void *arg);

static void cbr_visit(ds_cbr *u, conv_visit fn, void *arg)
{
    if (u->transposed)
        fn(NULL, &u->tconv, arg);
    else
        fn(&u->conv, NULL, arg);
}

static void visit_convs(ds_net *net, conv_visit fn, void *arg)
{
    for (int u = 0; u < net->enc_count; ++u) {
        if (net->enc[u].is_basic) {
            fn(&net->enc[u].basic.conv1, NULL, arg);
            fn(&net->enc[u].basic.conv2, NULL, arg);
            if (net->enc[u].basic.has_proj)
                fn(&net->enc[u].basic.proj, NULL, arg);
        } else {
            cbr_visit(&net->enc[u].cbr, fn, arg);
        }
    }
    for (int j = 0; j < 4; ++j) {
        cbr_visit(&net->up[j], fn, arg);
        for (int i = 0; i < net->stage_count[j]; ++i)
            cbr_visit(&net->stage[j][i], fn, arg);
    }
    fn(&net->out_conv, NULL, arg);
}

static void use_workspace(ds_conv3d *c, ds_conv_transpose3d *t, void *ws)
{
    if (c)
        ds_conv3d_use_workspace(c, ws);
    else
        ds_conv_transpose3d_use_workspace(t, ws);
}

/* Every convolution of the network runs in the scratch's workspace: they run one at a time. */
void ds_net_use_scratch(ds_net *net, ds_net_scratch *scratch)
{
    if (!net)
        return;
    if (net->eval_feature) {
        ds_pool_release(&net->scratch->pool, net->eval_feature);
        net->eval_feature = NULL;
        net->feature_used = NULL;
    }
    net->scratch = scratch ? scratch : &net->own_scratch;
    visit_convs(net, use_workspace, net->scratch->conv_work);
}

static void set_algo(ds_conv3d *c, ds_conv_transpose3d *t, void *algo)
{
    (void)t;
    if (c)
        c->algo = *(const ds_conv_algo *)algo;
}

void ds_net_set_conv_algo(ds_net *net, ds_conv_algo algo)
{
    if (net)
        visit_convs(net, set_algo, &algo);
}
