/* report.c - the activation report of a network (see ds_nets.h). */
#include "net_internal.h"

#include <stdio.h>
#include <string.h>

/* Rows are filled through a cursor that counts past the caller's capacity. */
typedef struct cursor {
    ds_net_activation_row *rows;
    int cap, count;
} cursor;

static void add(cursor *c, const char *name, size_t name_len, const ds_tensor *const *held, int n)
{
    if (c->count < c->cap) {
        ds_net_activation_row *r = &c->rows[c->count];
        memset(r, 0, sizeof *r);
        if (name_len >= sizeof r->name)
            name_len = sizeof r->name - 1;
        memcpy(r->name, name, name_len);
        for (int i = 0; i < n; ++i)
            if (held[i]) {
                r->tensors += 1;
                r->bytes += ds_tensor_numel(held[i]) * (int64_t)sizeof(float);
            }
    }
    c->count += 1;
}

/* The unit's name: its first parameter's name up to the suffix (".weight", ".conv1.weight"). */
static void add_named(cursor *c, const char *param_name, const char *suffix,
                      const ds_tensor *const *held, int n)
{
    const char *end = strstr(param_name, suffix);
    add(c, param_name, end ? (size_t)(end - param_name) : strlen(param_name), held, n);
}

static void add_cbr(cursor *c, const ds_cbr *u)
{
    const ds_tensor *held[] = {u->z};
    add_named(c, u->transposed ? u->tconv.weight.name : u->conv.weight.name, ".weight", held, 1);
}

static void add_other(cursor *c, const char *name, const ds_tensor *t)
{
    add(c, name, strlen(name), &t, 1);
}

static void fill(const ds_net *net, cursor *c)
{
    for (int u = 0; u < net->enc_count; ++u) {
        const ds_enc_unit *e = &net->enc[u];
        if (e->is_basic) {
            const ds_basic *b = &e->basic;
            const ds_tensor *held[] = {b->z1, b->z2, b->zp, b->out};
            add_named(c, b->conv1.weight.name, ".conv1.weight", held, 4);
        } else {
            add_cbr(c, &e->cbr);
        }
    }
    for (int j = 3; j >= 0; --j) {
        add_cbr(c, &net->up[j]);
        for (int i = 0; i < net->stage_count[j]; ++i)
            add_cbr(c, &net->stage[j][i]);
    }
    add_other(c, "dropout.bottleneck", net->x5_dropped);
    add_other(c, "dropout.feature", net->feature);
    add_other(c, "logits", net->logits);
    if (c->count < c->cap) {
        ds_net_activation_row *r = &c->rows[c->count];
        memset(r, 0, sizeof *r);
        snprintf(r->name, sizeof r->name, "pool");
        const ds_pool *pool = &net->scratch->pool;
        for (int i = 0; i < pool->count; ++i)
            r->tensors += pool->entries[i].tensor != NULL;
        r->bytes = ds_pool_bytes(pool);
    }
    c->count += 1;
}

ds_status ds_net_activation_report(ds_ctx *ctx, const ds_net *net, ds_net_activation_row *rows,
                                   int cap, int *count)
{
    if (!net || !count || cap < 0 || (cap > 0 && !rows))
        return ds_fail(ctx, DS_ERR_ARG, "activation report: null network, count or rows");
    cursor c = {rows, cap, 0};
    fill(net, &c);
    *count = c.count;
    return DS_OK;
}

int64_t ds_net_activation_bytes(const ds_net *net)
{
    ds_net_activation_row rows[DS_NET_MAX_UNITS + 4 * 4 + 4];
    cursor c = {rows, (int)(sizeof rows / sizeof rows[0]), 0};
    fill(net, &c);
    int64_t total = 0;
    for (int i = 0; i < c.count && i < c.cap; ++i)
        total += rows[i].bytes;
    return total;
}

double ds_net_bilinear_bytes(const double b[2][2], const double v[2], int width, double voxels)
{
    double slope[2], icpt[2]; /* per width 1, 2: bytes = slope V + icpt */
    for (int w = 0; w < 2; ++w) {
        slope[w] = (b[w][1] - b[w][0]) / (v[1] - v[0]);
        icpt[w] = b[w][0] - slope[w] * v[0];
    }
    double p = 2 * slope[0] - slope[1], q = slope[1] - slope[0];
    double r = 2 * icpt[0] - icpt[1], s = icpt[1] - icpt[0];
    return voxels * (p + q * width) + r + s * width;
}
