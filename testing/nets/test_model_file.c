/* test_model_file.c - the model file: bit-exact round trips (pair, single network, without
 * optimiser state), atomic writes, and every kind of bad file rejected with a message naming the
 * file and the problem (never a crash; the sanitizer build checks memory safety).
 *
 * The crafted files are edited at the byte offsets of the layout documented in ds_model.h and
 * then given a valid CRC-32 trailer again, so that the checks behind the checksum (lengths,
 * counts, names, tags, network headers) are what refuses them; every such message is checked not
 * to be the checksum's. Reference: the layout of ds_model.h, read by the small walker below. */
#include "ds_checksum.h"
#include "ds_model.h"
#include "ds_test.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static char dir[256];

static void path_in(char *buf, size_t cap, const char *name)
{
    snprintf(buf, cap, "%s/%s", dir, name);
}

static unsigned char *read_all(const char *path, size_t *size)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    unsigned char *data = malloc((size_t)n + 1);
    if (data && fread(data, 1, (size_t)n, f) != (size_t)n) {
        free(data);
        data = NULL;
    }
    fclose(f);
    *size = (size_t)n;
    return data;
}

static int write_all(const char *path, const void *data, size_t size)
{
    FILE *f = fopen(path, "wb");
    if (!f)
        return 0;
    const int ok = fwrite(data, 1, size, f) == size;
    return fclose(f) == 0 && ok;
}

static void fill(ds_param *p, ds_rng *rng)
{
    for (int64_t i = 0; i < p->numel; ++i)
        p->value[i] = ds_rng_normal(rng);
}

static void fill_net(ds_ctx *ctx, ds_net *net, ds_rng *rng)
{
    const ds_param_list *params = ds_net_params(net);
    for (int k = 0; k < params->count; ++k)
        fill(params->items[k], rng);
    for (int b = 0; b < ds_net_batchnorm_count(net); ++b) {
        int channels;
        float *mean, *var;
        int64_t *tracked;
        ds_net_batchnorm_state(ctx, net, b, NULL, &channels, &mean, &var, &tracked);
        for (int c = 0; c < channels; ++c) {
            mean[c] = ds_rng_normal(rng);
            var[c] = 1.0f + ds_rng_uniform(rng);
        }
        *tracked = 4321 + b;
    }
}

/* A trained-looking model: random weights, statistics, optimiser state (when asked) and RNG
 * streams; archs[i] is network i's architecture. */
static ds_model *make_model(ds_ctx *ctx, const ds_arch *archs, int net_count, int width,
                            int has_optim)
{
    ds_model *m = calloc(1, sizeof *m);
    m->meta.classes = 3;
    m->meta.in_channels = 1;
    strcpy(m->meta.class_names[0], "background");
    strcpy(m->meta.class_names[1], "anterior");
    strcpy(m->meta.class_names[2], "posterior \xc3\xa9"); /* UTF-8 survives */
    m->meta.norm_mode = DS_NORM_WINDOW;
    m->meta.norm_lo = -125.5f;
    m->meta.norm_hi = 275.25f;
    m->meta.patch[0] = 48;
    m->meta.patch[1] = 64;
    m->meta.patch[2] = 32;
    m->meta.spacing[0] = 0.625;
    m->meta.spacing[1] = 0.625;
    m->meta.spacing[2] = 1.25;
    m->meta.iteration = 4321;
    m->meta.seed = 1337;
    m->net_count = net_count;
    m->has_optim = has_optim;
    ds_rng rng;
    ds_rng_init(&rng, 5, DS_RNG_TEST);
    for (int i = 0; i < net_count; ++i) {
        ds_net_create(ctx, &m->net[i], archs[i], 1, 3, width);
        fill_net(ctx, m->net[i], &rng);
        if (!has_optim)
            continue;
        const ds_param_list *params = ds_net_params(m->net[i]);
        ds_sgd_init(ctx, &m->optim[i], params, 0.01f, 0.9f, 1e-4f);
        m->optim[i].steps = 4321 + i;
        for (int k = 0; k < params->count; ++k)
            for (int64_t e = 0; e < params->items[k]->numel; ++e)
                m->optim[i].momentum_buf[k][e] = ds_rng_normal(&rng);
    }
    m->rng_count = 3;
    ds_rng_init(&m->rng[0], 1337, DS_RNG_CROP);
    m->rng[0].counter = 99;
    ds_rng_init(&m->rng[1], 1337, DS_RNG_DROPOUT_A);
    m->rng[1].counter = 123456789012ull;
    ds_rng_init(&m->rng[2], 0xFFFFFFFFFFFFull, DS_RNG_SAMPLING);
    return m;
}

static const ds_arch pair_archs[2] = {DS_ARCH_RESNET34_VNET, DS_ARCH_VNET};

static int same_meta(const ds_model_meta *a, const ds_model_meta *b)
{
    int same = a->classes == b->classes && a->in_channels == b->in_channels &&
               a->norm_mode == b->norm_mode && !memcmp(&a->norm_lo, &b->norm_lo, 4) &&
               !memcmp(&a->norm_hi, &b->norm_hi, 4) && !memcmp(a->patch, b->patch, 24) &&
               !memcmp(a->spacing, b->spacing, 24) && a->iteration == b->iteration &&
               a->seed == b->seed;
    for (int c = 0; same && c < a->classes; ++c)
        same = strcmp(a->class_names[c], b->class_names[c]) == 0;
    return same;
}

static int same_net(const ds_net *a, const ds_net *b)
{
    if (ds_net_arch(a) != ds_net_arch(b) || ds_net_width(a) != ds_net_width(b) ||
        ds_net_classes(a) != ds_net_classes(b) || ds_net_in_channels(a) != ds_net_in_channels(b))
        return 0;
    const ds_param_list *pa = ds_net_params(a), *pb = ds_net_params(b);
    int same = pa->count == pb->count && ds_net_batchnorm_count(a) == ds_net_batchnorm_count(b);
    for (int k = 0; same && k < pa->count; ++k)
        same = strcmp(pa->items[k]->name, pb->items[k]->name) == 0 &&
               pa->items[k]->numel == pb->items[k]->numel &&
               memcmp(pa->items[k]->value, pb->items[k]->value,
                      (size_t)pa->items[k]->numel * 4) == 0;
    for (int k = 0; same && k < ds_net_batchnorm_count(a); ++k) {
        int ca, cb;
        float *ma, *va, *mb, *vb;
        int64_t *ta, *tb;
        const char *na, *nb;
        ds_net_batchnorm_state(NULL, (ds_net *)a, k, &na, &ca, &ma, &va, &ta);
        ds_net_batchnorm_state(NULL, (ds_net *)b, k, &nb, &cb, &mb, &vb, &tb);
        same = strcmp(na, nb) == 0 && ca == cb && !memcmp(ma, mb, (size_t)ca * 4) &&
               !memcmp(va, vb, (size_t)ca * 4) && *ta == *tb;
    }
    return same;
}

static int same_optim(const ds_sgd *a, const ds_sgd *b)
{
    int same = a->steps == b->steps && a->lr == b->lr && a->momentum == b->momentum &&
               a->weight_decay == b->weight_decay && a->params.count == b->params.count;
    for (int k = 0; same && k < a->params.count; ++k)
        same = memcmp(a->momentum_buf[k], b->momentum_buf[k],
                      (size_t)a->params.items[k]->numel * 4) == 0;
    return same;
}

/* Every field: metadata, networks (parameters, BatchNorm state), optimisers, RNG streams (their
 * state, and the next values they draw). */
static int same_model(const ds_model *a, const ds_model *b)
{
    int same = same_meta(&a->meta, &b->meta) && a->net_count == b->net_count &&
               a->has_optim == b->has_optim && a->rng_count == b->rng_count;
    for (int r = 0; same && r < a->rng_count; ++r) {
        ds_rng ra = a->rng[r], rb = b->rng[r];
        same = memcmp(&ra, &rb, sizeof ra) == 0 && ds_rng_u32(&ra) == ds_rng_u32(&rb) &&
               ds_rng_u32(&ra) == ds_rng_u32(&rb);
    }
    for (int i = 0; same && i < a->net_count; ++i) {
        same = same_net(a->net[i], b->net[i]);
        if (same && a->has_optim)
            same = same_optim(&a->optim[i], &b->optim[i]);
        else if (same)
            same = b->optim[i].momentum_buf == NULL;
    }
    return same;
}

static void expect_rejected(ds_ctx *ctx, const char *path, const char *what, const char *needle)
{
    ds_model *m = (ds_model *)1;
    ds_ctx_clear(ctx);
    ds_status st = ds_model_load(ctx, &m, path);
    DS_CHECK_MSG(st != DS_OK && m == NULL, "%s was accepted", what);
    if (st == DS_OK && m != (ds_model *)1)
        ds_model_free(m);
    DS_CHECK_MSG(strstr(ds_ctx_message(ctx), path) != NULL, "%s: message does not name the file: %s",
                 what, ds_ctx_message(ctx));
    if (needle)
        DS_CHECK_MSG(strstr(ds_ctx_message(ctx), needle) != NULL, "%s: message '%s' lacks '%s'",
                     what, ds_ctx_message(ctx), needle);
}

/* Saves, loads, compares every field, and saves again: the same bytes. */
static void round_trip(ds_ctx *ctx, ds_model *model, const char *name)
{
    char path[512], again[512];
    path_in(path, sizeof path, name);
    path_in(again, sizeof again, "again.dsm");
    DS_CHECK_OK(ctx, ds_model_save(ctx, model, path));
    ds_model *loaded = NULL;
    DS_CHECK_OK(ctx, ds_model_load(ctx, &loaded, path));
    DS_CHECK_MSG(loaded && same_model(model, loaded), "%s: the loaded model differs", name);
    if (loaded)
        DS_CHECK_OK(ctx, ds_model_save(ctx, loaded, again));
    size_t size = 0, size2 = 0;
    unsigned char *bytes = read_all(path, &size), *bytes2 = read_all(again, &size2);
    DS_CHECK_MSG(bytes && bytes2 && size == size2 && memcmp(bytes, bytes2, size) == 0,
                 "%s: a second save writes other bytes", name);
    free(bytes);
    free(bytes2);
    ds_model_free(loaded);
}

/* Single networks of each architecture, with and without optimiser state, a pair without it, no
 * RNG stream, and float bit patterns that a conversion through double or text would change. */
static void round_trip_variants(ds_ctx *ctx)
{
    for (int a = 0; a < 2; ++a)
        for (int optim = 0; optim < 2; ++optim) {
            ds_model *m = make_model(ctx, &pair_archs[a], 1, 2, optim);
            round_trip(ctx, m, optim ? "single_optim.dsm" : "single.dsm");
            ds_model_free(m);
        }
    ds_model *m = make_model(ctx, pair_archs, 2, 1, 0);
    m->rng_count = 0;
    ds_param *p = ds_net_params(m->net[1])->items[0];
    const uint32_t patterns[] = {0x7FC01234u /* NaN with a payload */, 0xFF800000u /* -inf */,
                                 0x80000000u /* -0 */, 0x00000001u /* smallest denormal */};
    for (int k = 0; k < 4; ++k)
        memcpy(&p->value[k], &patterns[k], 4);
    round_trip(ctx, m, "pair_no_optim.dsm");
    ds_model_free(m);
}

/* ---- crafted files ------------------------------------------------------------------------ */

typedef struct blob {
    unsigned char *p;
    size_t n;
} blob;

static uint32_t rd32(const blob *b, size_t o)
{
    return (uint32_t)b->p[o] | (uint32_t)b->p[o + 1] << 8 | (uint32_t)b->p[o + 2] << 16 |
           (uint32_t)b->p[o + 3] << 24;
}

static uint64_t rd64(const blob *b, size_t o)
{
    return (uint64_t)rd32(b, o) | (uint64_t)rd32(b, o + 4) << 32;
}

static void wr32(blob *b, size_t o, uint32_t v)
{
    for (int k = 0; k < 4; ++k)
        b->p[o + k] = (unsigned char)(v >> (8 * k));
}

static void wr64(blob *b, size_t o, uint64_t v)
{
    wr32(b, o, (uint32_t)v);
    wr32(b, o + 4, (uint32_t)(v >> 32));
}

static blob blob_copy(const blob *b)
{
    blob c = {malloc(b->n), b->n};
    memcpy(c.p, b->p, b->n);
    return c;
}

/* Replaces `remove` bytes at off by n bytes of add (NULL: zeros). */
static void splice(blob *b, size_t off, size_t remove, const void *add, size_t n)
{
    unsigned char *p = malloc(b->n - remove + n);
    memcpy(p, b->p, off);
    if (add)
        memcpy(p + off, add, n);
    else
        memset(p + off, 0, n);
    memcpy(p + off + n, b->p + off + remove, b->n - off - remove);
    free(b->p);
    b->p = p;
    b->n = b->n - remove + n;
}

/* Offset of section s's header (u32 tag, u64 length); the payload follows at +12. */
static size_t section(const blob *b, int s)
{
    size_t o = 16;
    for (int k = 0; k < s; ++k)
        o += 12 + (size_t)rd64(b, o + 4);
    return o;
}

/* A splice inside section s that keeps the section's length field consistent. */
static void section_splice(blob *b, int s, size_t off, size_t remove, const void *add, size_t n)
{
    const size_t head = section(b, s);
    wr64(b, head + 4, rd64(b, head + 4) - remove + n);
    splice(b, off, remove, add, n);
}

/* NET payload: index, arch, in_channels, classes, width, parameter count (6 x u32), then per
 * parameter: str name, u64 numel, values. Offset of parameter k's entry. */
static size_t net_param(const blob *b, int s, int k)
{
    size_t o = section(b, s) + 12 + 24;
    for (int i = 0; i < k; ++i) {
        o += 4 + rd32(b, o);
        o += 8 + 4 * (size_t)rd64(b, o);
    }
    return o;
}

/* The size of parameter k's entry. */
static size_t net_param_size(const blob *b, int s, int k)
{
    return net_param(b, s, k + 1) - net_param(b, s, k);
}

/* Offset of the BatchNorm count; then per BatchNorm: str prefix, u32 channels, 2 x channels f32,
 * i64. Offset of BatchNorm k's entry. */
static size_t net_bn_count(const blob *b, int s)
{
    return net_param(b, s, (int)rd32(b, section(b, s) + 12 + 20));
}

static size_t net_bn(const blob *b, int s, int k)
{
    size_t o = net_bn_count(b, s) + 4;
    for (int i = 0; i < k; ++i) {
        o += 4 + rd32(b, o);
        o += 4 + 8 * (size_t)rd32(b, o) + 8;
    }
    return o;
}

/* META payload (section s): classes, in_channels, str class names, mode, ... Offset of class
 * name k (k = classes: of the mode). */
static size_t meta_name(const blob *b, int s, int k)
{
    size_t o = section(b, s) + 12 + 8;
    for (int i = 0; i < k; ++i)
        o += 4 + rd32(b, o);
    return o;
}

static void seal(blob *b)
{
    wr32(b, b->n - 4, ds_crc32(0, b->p, b->n - 4));
}

static char bad_path[512];

/* Seals the edited copy, expects it refused with a message holding needle (NULL: any), never the
 * checksum's, and frees it. */
static void refused(ds_ctx *ctx, blob *b, const char *what, const char *needle)
{
    seal(b);
    write_all(bad_path, b->p, b->n);
    expect_rejected(ctx, bad_path, what, needle);
    DS_CHECK_MSG(strstr(ds_ctx_message(ctx), "checksum") == NULL, "%s: refused by the checksum",
                 what);
    free(b->p);
}

/* The sections of the crafted-from file: META, NET 0 (ResNet), NET 1 (V-Net), OPTIM 0, OPTIM 1,
 * RNG. */
enum { S_META, S_NET0, S_NET1, S_OPT0, S_OPT1, S_RNG, S_COUNT };

static void crafted_lengths(ds_ctx *ctx, const blob *good)
{
    blob b = blob_copy(good);
    wr64(&b, section(&b, S_META) + 4, b.n - 4 - section(&b, S_META) - 12 + 1);
    refused(ctx, &b, "a section one byte past the end", "section header");
    b = blob_copy(good);
    wr64(&b, section(&b, S_NET1) + 4, UINT64_MAX);
    refused(ctx, &b, "a section of 2^64 - 1 bytes", "section header");
    b = blob_copy(good);
    wr64(&b, section(&b, S_NET0) + 4, rd64(&b, section(&b, S_NET0) + 4) - 4);
    refused(ctx, &b, "a section 4 bytes short (not cut)", NULL);
    /* bytes the section's reader does not consume */
    const int grown[] = {S_META, S_NET0, S_OPT1, S_RNG};
    for (int k = 0; k < 4; ++k) {
        b = blob_copy(good);
        const size_t end = section(&b, grown[k] + 1);
        section_splice(&b, grown[k], end, 0, NULL, 4);
        refused(ctx, &b, "a section with 4 trailing bytes", "section length");
    }
    b = blob_copy(good);
    splice(&b, b.n - 4, 0, NULL, 8);
    refused(ctx, &b, "bytes after the last section", "file length");
    /* strings whose length runs past the section (cut there), past their cap, or absurd */
    b = blob_copy(good);
    const size_t name0 = meta_name(&b, S_META, 0);
    section_splice(&b, S_META, name0 + 4 + 5, section(&b, S_NET0) - (name0 + 4 + 5), NULL, 0);
    refused(ctx, &b, "a class name cut by the section's end", "class name");
    b = blob_copy(good);
    const size_t p0 = net_param(&b, S_NET1, 0);
    section_splice(&b, S_NET1, p0 + 4 + 3, section(&b, S_OPT0) - (p0 + 4 + 3), NULL, 0);
    refused(ctx, &b, "a parameter name cut by the section's end", "parameter header");
    b = blob_copy(good);
    wr32(&b, meta_name(&b, S_META, 1), DS_MODEL_NAME_CAP);
    refused(ctx, &b, "a class name of the cap's length", "class name");
    b = blob_copy(good);
    wr32(&b, meta_name(&b, S_META, 2), UINT32_MAX);
    refused(ctx, &b, "a class name of 2^32 - 1 bytes", "class name");
    b = blob_copy(good);
    wr32(&b, net_param(&b, S_NET0, 3), DS_PARAM_NAME_CAP);
    refused(ctx, &b, "a parameter name of the cap's length", "parameter header");
    b = blob_copy(good);
    wr32(&b, net_bn(&b, S_NET1, 2), 0xFFFFFF00u);
    refused(ctx, &b, "an absurd BatchNorm name length", "BatchNorm header");
    /* parameter sizes that disagree with the network, with and without the values to match */
    const int64_t deltas[] = {1, -1, (int64_t)1 << 40};
    for (int k = 0; k < 3; ++k) {
        b = blob_copy(good);
        const size_t at = net_param(&b, S_NET0, 2);
        const size_t numel_at = at + 4 + rd32(&b, at);
        wr64(&b, numel_at, rd64(&b, numel_at) + (uint64_t)deltas[k]);
        refused(ctx, &b, "a parameter numel off", "parameter 2 is");
    }
    b = blob_copy(good);
    const size_t at = net_param(&b, S_NET1, 5);
    const size_t numel_at = at + 4 + rd32(&b, at);
    wr64(&b, numel_at, rd64(&b, numel_at) + 1);
    section_splice(&b, S_NET1, numel_at + 8, 0, NULL, 4);
    refused(ctx, &b, "one value too many, numel to match", "parameter 5 is");
    b = blob_copy(good);
    const size_t bn = net_bn(&b, S_NET0, 1);
    wr32(&b, bn + 4 + rd32(&b, bn), rd32(&b, bn + 4 + rd32(&b, bn)) + 1);
    refused(ctx, &b, "a BatchNorm channel count + 1", "BatchNorm 1 is");
    b = blob_copy(good);
    wr32(&b, bn + 4 + rd32(&b, bn), 0);
    refused(ctx, &b, "a BatchNorm channel count 0", "BatchNorm 1 is");
}

/* Every cut of a section's payload (the section's length adjusted, the file sealed) is refused.
 * Cuts are taken at every byte of the small sections (META, RNG) and, in the others, of the
 * headers and first values, around BatchNorm 1, the last 40 bytes and every 16381st byte: other
 * positions inside the long value runs add nothing. */
static void crafted_cuts(ds_ctx *ctx, const blob *good)
{
    int cuts = 0, accepted = 0;
    for (int s = 0; s < S_COUNT; ++s) {
        const size_t head = section(good, s), len = (size_t)rd64(good, head + 4);
        const int is_net = s == S_NET0 || s == S_NET1;
        size_t first = 40, bn_at = len; /* through the first values; around BatchNorm 1 */
        if (is_net) {
            const size_t p0 = net_param(good, s, 0);
            first = p0 + 4 + rd32(good, p0) + 8 + 16 - head - 12;
            bn_at = net_bn(good, s, 1) - head - 12;
        }
        for (size_t k = 0; k < len; ++k) {
            const int wanted = s == S_META || s == S_RNG || k < first || k + 40 > len ||
                               (k + 40 > bn_at && k < bn_at + 40) || k % 16381 == 0;
            if (!wanted)
                continue;
            blob b = blob_copy(good);
            section_splice(&b, s, head + 12 + k, len - k, NULL, 0);
            seal(&b);
            write_all(bad_path, b.p, b.n);
            free(b.p);
            ds_model *m = NULL;
            ++cuts;
            if (ds_model_load(ctx, &m, bad_path) == DS_OK) {
                ++accepted;
                ds_model_free(m);
                fprintf(stderr, "section %d cut at %zu of %zu bytes was accepted\n", s, k, len);
            } else if (!strstr(ds_ctx_message(ctx), bad_path) ||
                       strstr(ds_ctx_message(ctx), "checksum")) {
                ++accepted;
                fprintf(stderr, "section %d cut at %zu: message '%s'\n", s, k,
                        ds_ctx_message(ctx));
            }
        }
    }
    DS_CHECK_MSG(accepted == 0 && cuts > 700, "%d of %d cut sections accepted or badly refused",
                 accepted, cuts);
    printf("crafted cuts: %d\n", cuts);
}

static void crafted_counts(ds_ctx *ctx, const blob *good)
{
    const uint32_t sections[] = {0, 5, 7, 17, UINT32_MAX};
    const char *section_needles[] = {"file length", "file length", "section header",
                                     "section count", "section count"};
    for (int k = 0; k < 5; ++k) {
        blob b = blob_copy(good);
        wr32(&b, 12, sections[k]);
        refused(ctx, &b, "a wrong section count", section_needles[k]);
    }
    const uint32_t classes[] = {0, 1, DS_NET_MAX_CLASSES + 1, UINT32_MAX};
    for (int k = 0; k < 4; ++k) {
        blob b = blob_copy(good);
        wr32(&b, section(&b, S_META) + 12, classes[k]);
        refused(ctx, &b, "classes out of range", "out of range");
    }
    blob b = blob_copy(good);
    wr32(&b, section(&b, S_META) + 12, 2); /* in range: the third name is read as the mode */
    refused(ctx, &b, "two classes where three names follow", NULL);
    const uint32_t channels[] = {0, 17};
    for (int k = 0; k < 2; ++k) {
        b = blob_copy(good);
        wr32(&b, section(&b, S_META) + 16, channels[k]);
        refused(ctx, &b, "input channels out of range", "out of range");
    }
    b = blob_copy(good);
    wr32(&b, meta_name(&b, S_META, 3), DS_NORM_NONE + 1);
    refused(ctx, &b, "an unknown normalisation mode", "metadata");
    const int32_t param_deltas[] = {1, -1};
    for (int k = 0; k < 2; ++k) {
        b = blob_copy(good);
        const size_t o = section(&b, S_NET1) + 12 + 20;
        wr32(&b, o, rd32(&b, o) + (uint32_t)param_deltas[k]);
        refused(ctx, &b, "a parameter count off by one", "vnet width 1 expects");
        b = blob_copy(good);
        wr32(&b, net_bn_count(&b, S_NET0), rd32(&b, net_bn_count(&b, S_NET0)) +
                                               (uint32_t)param_deltas[k]);
        refused(ctx, &b, "a BatchNorm count off by one", "BatchNorm count");
        b = blob_copy(good);
        const size_t o2 = section(&b, S_OPT1) + 12 + 24;
        wr32(&b, o2, rd32(&b, o2) + (uint32_t)param_deltas[k]);
        refused(ctx, &b, "an optimiser parameter count off by one", "optimiser parameter count");
    }
    const uint32_t rngs[] = {DS_MODEL_MAX_RNG + 1, 4, 2};
    const char *rng_needles[] = {"RNG section", "RNG state", "section length"};
    for (int k = 0; k < 3; ++k) {
        b = blob_copy(good);
        wr32(&b, section(&b, S_RNG) + 12, rngs[k]);
        refused(ctx, &b, "a wrong RNG count", rng_needles[k]);
    }
}

/* Parameter k's name replaced by `name` (the section's length kept consistent). */
static void rename_param(blob *b, int s, int k, const char *name)
{
    const size_t at = net_param(b, s, k);
    const uint32_t n = (uint32_t)strlen(name);
    unsigned char *entry = malloc(4 + n);
    memcpy(entry + 4, name, n);
    for (int i = 0; i < 4; ++i)
        entry[i] = (unsigned char)(n >> (8 * i));
    section_splice(b, s, at, 4 + rd32(b, at), entry, 4 + n);
    free(entry);
}

static void crafted_names(ds_ctx *ctx, const blob *good, const ds_model *model)
{
    const ds_param_list *params = ds_net_params(model->net[0]);
    blob b = blob_copy(good);
    b.p[net_param(&b, S_NET0, 4) + 4 + 2] ^= 0x01;
    refused(ctx, &b, "a parameter name with one letter changed", "parameter 4 is");
    b = blob_copy(good);
    rename_param(&b, S_NET0, 1, params->items[0]->name);
    refused(ctx, &b, "a duplicated parameter name", "parameter 1 is");
    b = blob_copy(good);
    rename_param(&b, S_NET0, 1, "");
    refused(ctx, &b, "an empty parameter name", "parameter 1 is");
    /* the name in the file must be the name, not a prefix before an embedded NUL */
    char with_nul[DS_PARAM_NAME_CAP + 8];
    const size_t n3 = strlen(params->items[3]->name);
    memcpy(with_nul, params->items[3]->name, n3);
    memcpy(with_nul + n3, "\0xy", 3);
    b = blob_copy(good);
    const size_t at3 = net_param(&b, S_NET0, 3);
    section_splice(&b, S_NET0, at3 + 4, n3, with_nul, n3 + 3);
    wr32(&b, at3, (uint32_t)(n3 + 3));
    refused(ctx, &b, "a parameter name with an embedded NUL", "parameter header");
    b = blob_copy(good);
    const size_t c1 = meta_name(&b, S_META, 1);
    section_splice(&b, S_META, c1 + 4 + rd32(&b, c1), 0, "\0z", 2);
    wr32(&b, c1, rd32(&b, c1) + 2);
    refused(ctx, &b, "a class name with an embedded NUL", "class name");
    /* a parameter missing, with the count kept and with the count lowered to match */
    b = blob_copy(good);
    section_splice(&b, S_NET1, net_param(&b, S_NET1, 7), net_param_size(&b, S_NET1, 7), NULL, 0);
    refused(ctx, &b, "a missing parameter", "parameter 7 is");
    b = blob_copy(good);
    section_splice(&b, S_NET1, net_param(&b, S_NET1, 7), net_param_size(&b, S_NET1, 7), NULL, 0);
    wr32(&b, section(&b, S_NET1) + 12 + 20, rd32(&b, section(&b, S_NET1) + 12 + 20) - 1);
    refused(ctx, &b, "a missing parameter, count lowered", "expects");
    /* two parameters swapped (entries whole) */
    b = blob_copy(good);
    const size_t e1 = net_param(&b, S_NET1, 1), s1 = net_param_size(&b, S_NET1, 1);
    unsigned char *entry = malloc(s1);
    memcpy(entry, b.p + e1, s1);
    section_splice(&b, S_NET1, e1, s1, NULL, 0);
    section_splice(&b, S_NET1, net_param(&b, S_NET1, 2), 0, entry, s1);
    free(entry);
    refused(ctx, &b, "two parameters swapped", "parameter 1 is");
    /* BatchNorm prefixes: one letter, the full ".weight" name, one letter short */
    b = blob_copy(good);
    b.p[net_bn(&b, S_NET1, 3) + 4] ^= 0x02;
    refused(ctx, &b, "a BatchNorm prefix with one letter changed", "BatchNorm 3 is");
    b = blob_copy(good);
    const size_t bn = net_bn(&b, S_NET1, 3), bn_len = rd32(&b, bn);
    section_splice(&b, S_NET1, bn + 4 + bn_len, 0, ".weight", 7);
    wr32(&b, bn, (uint32_t)(bn_len + 7));
    refused(ctx, &b, "a BatchNorm named by its weight", "BatchNorm 3 is");
    b = blob_copy(good);
    section_splice(&b, S_NET1, bn + 4 + bn_len - 1, 1, NULL, 0);
    wr32(&b, bn, (uint32_t)(bn_len - 1));
    refused(ctx, &b, "a BatchNorm prefix one letter short", "BatchNorm 3 is");
}

/* Moves section `from` to the place of section `to` (to < from). */
static void move_section(blob *b, int from, int to)
{
    const size_t at = section(b, from), n = section(b, from + 1) - at;
    unsigned char *copy = malloc(n);
    memcpy(copy, b->p + at, n);
    splice(b, at, n, NULL, 0);
    splice(b, section(b, to), 0, copy, n);
    free(copy);
}

/* Section s appended again after the last one (the section count raised). */
static void repeat_section(blob *b, int s)
{
    const size_t at = section(b, s), n = section(b, s + 1) - at;
    unsigned char *copy = malloc(n);
    memcpy(copy, b->p + at, n);
    splice(b, b->n - 4, 0, copy, n);
    free(copy);
    wr32(b, 12, rd32(b, 12) + 1);
}

static void drop_section(blob *b, int s)
{
    splice(b, section(b, s), section(b, s + 1) - section(b, s), NULL, 0);
    wr32(b, 12, rd32(b, 12) - 1);
}

static void crafted_sections(ds_ctx *ctx, const blob *good)
{
    blob b = blob_copy(good);
    wr32(&b, section(&b, S_RNG), 0x12345678u);
    refused(ctx, &b, "an unknown section tag", "unknown section tag 0x12345678");
    b = blob_copy(good);
    move_section(&b, S_NET0, S_META);
    refused(ctx, &b, "a network before the metadata", "section order");
    const int twice[] = {S_META, S_NET1, S_OPT1, S_RNG};
    const char *twice_needles[] = {"metadata section repeated", "network index 1 repeated",
                                   "optimiser 1 repeated", "RNG section repeated"};
    for (int k = 0; k < 4; ++k) {
        b = blob_copy(good);
        repeat_section(&b, twice[k]);
        refused(ctx, &b, "a section twice", twice_needles[k]);
    }
    /* a second, valid META (section 6) with 4 classes: the networks have 3 */
    b = blob_copy(good);
    repeat_section(&b, S_META);
    wr32(&b, section(&b, S_COUNT) + 12, 4);
    section_splice(&b, S_COUNT, meta_name(&b, S_COUNT, 3), 0, "\x05\0\0\0extra", 9);
    refused(ctx, &b, "a second, different metadata section", "metadata section repeated");
    const uint32_t indices[] = {2, 0, UINT32_MAX};
    for (int k = 0; k < 3; ++k) {
        b = blob_copy(good);
        wr32(&b, section(&b, S_NET1) + 12, indices[k]);
        refused(ctx, &b, "a bad network index", "repeated or out of range");
        b = blob_copy(good);
        wr32(&b, section(&b, S_OPT1) + 12, indices[k]);
        refused(ctx, &b, "a bad optimiser index", "optimiser");
    }
    b = blob_copy(good);
    drop_section(&b, S_OPT1);
    refused(ctx, &b, "an optimiser missing for network 1", "network set");
    b = blob_copy(good);
    drop_section(&b, S_OPT1);
    drop_section(&b, S_OPT0);
    drop_section(&b, S_NET0);
    refused(ctx, &b, "network 1 without network 0", "network set");
    b = blob_copy(good);
    drop_section(&b, S_RNG);
    drop_section(&b, S_OPT1);
    drop_section(&b, S_OPT0);
    drop_section(&b, S_NET1);
    drop_section(&b, S_NET0);
    refused(ctx, &b, "metadata only", "no network");
    /* optimiser hyper-parameters ds_sgd refuses: the message still names the file */
    const uint32_t hyper[] = {0x7FC00000u /* NaN */, 0xBF800000u /* -1 */};
    for (int k = 0; k < 2; ++k) {
        b = blob_copy(good);
        wr32(&b, section(&b, S_OPT0) + 12 + 4, hyper[k]);
        refused(ctx, &b, "an invalid learning rate", "optimiser 0");
    }
}

static int count_of(const char *hay, const char *needle)
{
    int n = 0;
    for (const char *p = strstr(hay, needle); p; p = strstr(p + 1, needle))
        ++n;
    return n;
}

static void crafted_headers(ds_ctx *ctx, const blob *good)
{
    const uint32_t archs[] = {0, 3, UINT32_MAX};
    for (int k = 0; k < 3; ++k) {
        blob b = blob_copy(good);
        wr32(&b, section(&b, S_NET0) + 12 + 4, archs[k]);
        refused(ctx, &b, "an unknown architecture", "unknown architecture");
        /* the network's own message is quoted once, not garbled by being formatted into itself */
        DS_CHECK_MSG(count_of(ds_ctx_message(ctx), bad_path) == 1 &&
                     count_of(ds_ctx_message(ctx), "network") == 2,
                     "garbled message '%s'", ds_ctx_message(ctx));
    }
    blob b = blob_copy(good);
    wr32(&b, section(&b, S_NET0) + 12 + 4, DS_ARCH_VNET);
    refused(ctx, &b, "a ResNet's parameters under the V-Net's tag", "vnet width 1 expects");
    b = blob_copy(good);
    wr32(&b, section(&b, S_NET1) + 12 + 4, DS_ARCH_RESNET34_VNET);
    refused(ctx, &b, "a V-Net's parameters under the ResNet's tag", "resnet34_vnet width 1");
    const int fields[] = {8, 12};
    for (int k = 0; k < 2; ++k) {
        b = blob_copy(good);
        wr32(&b, section(&b, S_NET1) + 12 + (size_t)fields[k], 4);
        refused(ctx, &b, "a network disagreeing with the metadata", "disagrees with the metadata");
    }
    b = blob_copy(good);
    wr32(&b, section(&b, S_NET1) + 12 + 16, 0);
    refused(ctx, &b, "width 0", "width 0");
    b = blob_copy(good);
    wr32(&b, section(&b, S_NET1) + 12 + 16, 2);
    refused(ctx, &b, "width 2 over width-1 values", NULL);
    /* a few kilobytes claiming the widest network: refused before its gigabytes are allocated */
    const uint32_t widths[] = {DS_NET_MAX_WIDTH, 64};
    for (int k = 0; k < 2; ++k) {
        b = blob_copy(good);
        wr32(&b, section(&b, S_NET0) + 12 + 16, widths[k]);
        refused(ctx, &b, "a huge width over small values", "needs");
    }
    /* the control: an edit behind a valid trailer that breaks no rule is accepted as it is */
    b = blob_copy(good);
    const size_t v0 = net_param(&b, S_NET1, 0);
    const size_t value_at = v0 + 4 + rd32(&b, v0) + 8;
    b.p[value_at] ^= 0x01;
    seal(&b);
    write_all(bad_path, b.p, b.n);
    free(b.p);
    ds_model *m = NULL;
    DS_CHECK_OK(ctx, ds_model_load(ctx, &m, bad_path));
    if (m) {
        uint32_t bits;
        memcpy(&bits, &ds_net_params(m->net[1])->items[0]->value[0], 4);
        DS_CHECK(bits == (rd32(good, value_at) ^ 1u));
    }
    ds_model_free(m);
}

/* A width-1 pair with optimiser state, saved, then edited byte by byte. */
static void crafted(ds_ctx *ctx)
{
    ds_model *model = make_model(ctx, pair_archs, 2, 1, 1);
    char path[512];
    path_in(path, sizeof path, "craft.dsm");
    path_in(bad_path, sizeof bad_path, "crafted.dsm");
    DS_CHECK_OK(ctx, ds_model_save(ctx, model, path));
    blob good = {NULL, 0};
    good.p = read_all(path, &good.n);
    DS_CHECK(good.p && rd32(&good, 12) == S_COUNT && section(&good, S_COUNT) == good.n - 4);
    if (!good.p || section(&good, S_COUNT) != good.n - 4) {
        free(good.p);
        ds_model_free(model);
        return;
    }
    crafted_lengths(ctx, &good);
    crafted_cuts(ctx, &good);
    crafted_counts(ctx, &good);
    crafted_names(ctx, &good, model);
    crafted_sections(ctx, &good);
    crafted_headers(ctx, &good);
    free(good.p);
    ds_model_free(model);
}

int main(void)
{
    ds_ctx *ctx = NULL;
    ds_ctx_create(&ctx);
    snprintf(dir, sizeof dir, "/tmp/ds_model_test_XXXXXX");
    DS_CHECK(mkdtemp(dir) != NULL);

    DS_CHECK(ds_crc32(0, "123456789", 9) == 0xCBF43926u); /* the standard CRC-32 check value */

    ds_model *model = make_model(ctx, pair_archs, 2, 2, 1);
    char path[512], bad[512];
    path_in(path, sizeof path, "pair.dsm");
    /* Round trip: every byte of state comes back, and a second save writes the same bytes. */
    round_trip(ctx, model, "pair.dsm");
    round_trip_variants(ctx);

    /* Saving over an existing file replaces it whole, and leaves no temporary file. */
    ds_model *loaded = NULL;
    model->meta.iteration = 5000;
    DS_CHECK_OK(ctx, ds_model_save(ctx, model, path));
    DS_CHECK_OK(ctx, ds_model_load(ctx, &loaded, path));
    DS_CHECK(loaded && loaded->meta.iteration == 5000);
    ds_model_free(loaded);
    char cmd[600];
    snprintf(cmd, sizeof cmd, "ls %s | grep -c tmp > /dev/null", dir);
    DS_CHECK(system(cmd) != 0); /* grep found no temporary file */

    /* A failing save (here: an invalid model) leaves the existing file untouched. */
    ds_net *keep = model->net[1];
    model->net[1] = NULL;
    DS_CHECK_FAILS(ctx, ds_model_save(ctx, model, path), DS_ERR_ARG);
    model->net[1] = keep;
    DS_CHECK_OK(ctx, ds_model_load(ctx, &loaded, path));
    ds_model_free(loaded);
    /* An unwritable destination fails cleanly. */
    DS_CHECK_FAILS(ctx, ds_model_save(ctx, model, "/nonexistent-dir/model.dsm"), DS_ERR_IO);

    size_t size = 0;
    unsigned char *bytes = read_all(path, &size);
    DS_CHECK(bytes != NULL && size > 1000);

    /* Truncations at many lengths, including inside the header and just before the checksum. */
    path_in(bad, sizeof bad, "bad.dsm");
    const size_t cuts[] = {0, 3, 8, 12, 16, 100, size / 2, size - 5, size - 1};
    for (size_t i = 0; i < sizeof cuts / sizeof cuts[0]; ++i) {
        write_all(bad, bytes, cuts[i]);
        expect_rejected(ctx, bad, "a truncated file", NULL);
    }
    /* A flipped bit anywhere: the checksum (or the magic) catches it. */
    const size_t flips[] = {0, 9, 20, size / 3, size - 2};
    for (size_t i = 0; i < sizeof flips / sizeof flips[0]; ++i) {
        bytes[flips[i]] ^= 0x10;
        write_all(bad, bytes, size);
        expect_rejected(ctx, bad, "a corrupted file", NULL);
        bytes[flips[i]] ^= 0x10;
    }
    /* Wrong magic: a foreign file. */
    static const char foreign[] = "PK\x03\x04 this is a zip file, not a model";
    write_all(bad, foreign, sizeof foreign - 1);
    expect_rejected(ctx, bad, "a foreign file", "magic");
    /* Another format version, with a valid checksum. */
    blob b = {bytes, size};
    wr32(&b, 8, 99);
    seal(&b);
    write_all(bad, bytes, size);
    expect_rejected(ctx, bad, "a future version", "version");
    free(bytes);
    /* Missing file and a directory. */
    path_in(bad, sizeof bad, "absent.dsm");
    expect_rejected(ctx, bad, "a missing file", "cannot open");
    expect_rejected(ctx, dir, "a directory", NULL);

    /* Files whose checksum is valid but whose contents break the layout's rules. */
    crafted(ctx);

    ds_model_free(model);
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    DS_CHECK(system(cmd) == 0);
    ds_ctx_free(ctx);
    return ds_test_finish("test_model_file");
}
