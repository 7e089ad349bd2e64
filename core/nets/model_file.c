/* model_file.c - saving and loading the model file (format in ds_model.h). */
#include "ds_model.h"
#include "ds_atomic_file.h"
#include "ds_checksum.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static const unsigned char model_magic[8] = {'D', 'U', 'A', 'L', 'S', 'E', 'G', 0x1A};

enum { TAG_META = 0x4154454Du, TAG_NET = 0x2054454Eu, TAG_OPTIM = 0x4954504Fu,
       TAG_RNG = 0x20474E52u };

/* ---- writing: a byte sink that either counts or writes, keeping the running CRC ------------ */

typedef struct sink {
    FILE *f;       /* NULL: only count */
    uint64_t bytes;
    uint32_t crc;
    int failed;
} sink;

static void put_bytes(sink *s, const void *p, size_t n)
{
    s->bytes += n;
    if (!s->f || s->failed)
        return;
    s->crc = ds_crc32(s->crc, p, n);
    if (fwrite(p, 1, n, s->f) != n)
        s->failed = 1;
}

static void put_u32(sink *s, uint32_t v)
{
    unsigned char b[4] = {(unsigned char)v, (unsigned char)(v >> 8), (unsigned char)(v >> 16),
                          (unsigned char)(v >> 24)};
    put_bytes(s, b, 4);
}

static void put_u64(sink *s, uint64_t v)
{
    put_u32(s, (uint32_t)v);
    put_u32(s, (uint32_t)(v >> 32));
}

static void put_f64(sink *s, double v)
{
    uint64_t bits;
    memcpy(&bits, &v, 8);
    put_u64(s, bits);
}

static void put_f32s(sink *s, const float *v, int64_t n)
{
    unsigned char chunk[4096 * 4];
    while (n > 0) {
        const int64_t m = n < 4096 ? n : 4096;
        for (int64_t i = 0; i < m; ++i) {
            uint32_t bits;
            memcpy(&bits, &v[i], 4);
            chunk[4 * i] = (unsigned char)bits;
            chunk[4 * i + 1] = (unsigned char)(bits >> 8);
            chunk[4 * i + 2] = (unsigned char)(bits >> 16);
            chunk[4 * i + 3] = (unsigned char)(bits >> 24);
        }
        put_bytes(s, chunk, (size_t)m * 4);
        v += m;
        n -= m;
    }
}

static void put_str(sink *s, const char *str)
{
    const size_t n = strlen(str);
    put_u32(s, (uint32_t)n);
    put_bytes(s, str, n);
}

static void write_meta(sink *s, const ds_model *m)
{
    const ds_model_meta *meta = &m->meta;
    put_u32(s, (uint32_t)meta->classes);
    put_u32(s, (uint32_t)meta->in_channels);
    for (int c = 0; c < meta->classes; ++c)
        put_str(s, meta->class_names[c]);
    put_u32(s, (uint32_t)meta->norm_mode);
    put_f32s(s, &meta->norm_lo, 1);
    put_f32s(s, &meta->norm_hi, 1);
    for (int i = 0; i < 3; ++i)
        put_u64(s, (uint64_t)meta->patch[i]);
    for (int i = 0; i < 3; ++i)
        put_f64(s, meta->spacing[i]);
    put_u64(s, (uint64_t)meta->iteration);
    put_u64(s, meta->seed);
}

/* "<prefix>.weight" -> length of "<prefix>" */
static size_t bn_prefix_len(const char *weight_name)
{
    const size_t n = strlen(weight_name);
    return n > 7 && strcmp(weight_name + n - 7, ".weight") == 0 ? n - 7 : n;
}

static void write_net(sink *s, const ds_model *m, int index)
{
    ds_net *net = m->net[index];
    put_u32(s, (uint32_t)index);
    put_u32(s, (uint32_t)ds_net_arch(net));
    put_u32(s, (uint32_t)ds_net_in_channels(net));
    put_u32(s, (uint32_t)ds_net_classes(net));
    put_u32(s, (uint32_t)ds_net_width(net));
    const ds_param_list *params = ds_net_params(net);
    put_u32(s, (uint32_t)params->count);
    for (int i = 0; i < params->count; ++i) {
        put_str(s, params->items[i]->name);
        put_u64(s, (uint64_t)params->items[i]->numel);
        put_f32s(s, params->items[i]->value, params->items[i]->numel);
    }
    const int bn_count = ds_net_batchnorm_count(net);
    put_u32(s, (uint32_t)bn_count);
    for (int i = 0; i < bn_count; ++i) {
        const char *name;
        int channels;
        float *mean, *var;
        int64_t *tracked;
        ds_net_batchnorm_state(NULL, net, i, &name, &channels, &mean, &var, &tracked);
        const size_t len = bn_prefix_len(name);
        put_u32(s, (uint32_t)len);
        put_bytes(s, name, len);
        put_u32(s, (uint32_t)channels);
        put_f32s(s, mean, channels);
        put_f32s(s, var, channels);
        put_u64(s, (uint64_t)*tracked);
    }
}

static void write_optim(sink *s, const ds_model *m, int index)
{
    const ds_sgd *opt = &m->optim[index];
    put_u32(s, (uint32_t)index);
    put_f32s(s, &opt->lr, 1);
    put_f32s(s, &opt->momentum, 1);
    put_f32s(s, &opt->weight_decay, 1);
    put_u64(s, (uint64_t)opt->steps);
    put_u32(s, (uint32_t)opt->params.count);
    for (int i = 0; i < opt->params.count; ++i)
        put_f32s(s, opt->momentum_buf[i], opt->params.items[i]->numel);
}

static void write_rng(sink *s, const ds_model *m, int unused)
{
    (void)unused;
    put_u32(s, (uint32_t)m->rng_count);
    for (int i = 0; i < m->rng_count; ++i) {
        put_u32(s, m->rng[i].key[0]);
        put_u32(s, m->rng[i].key[1]);
        put_u32(s, m->rng[i].purpose);
        put_u64(s, m->rng[i].counter);
    }
}

typedef void (*section_writer)(sink *s, const ds_model *m, int index);

static void write_section(sink *s, uint32_t tag, section_writer fn, const ds_model *m, int index)
{
    sink counter = {NULL, 0, 0, 0};
    fn(&counter, m, index);
    put_u32(s, tag);
    put_u64(s, counter.bytes);
    fn(s, m, index);
}

static void write_meta_section(sink *s, const ds_model *m, int unused)
{
    (void)unused;
    write_meta(s, m);
}

static void write_model(sink *s, const ds_model *m)
{
    const uint32_t sections = 2u + (uint32_t)m->net_count * (m->has_optim ? 2u : 1u);
    put_bytes(s, model_magic, sizeof model_magic);
    put_u32(s, DS_MODEL_VERSION);
    put_u32(s, sections);
    write_section(s, TAG_META, write_meta_section, m, 0);
    for (int i = 0; i < m->net_count; ++i)
        write_section(s, TAG_NET, write_net, m, i);
    for (int i = 0; m->has_optim && i < m->net_count; ++i)
        write_section(s, TAG_OPTIM, write_optim, m, i);
    write_section(s, TAG_RNG, write_rng, m, 0);
    const uint32_t crc = s->crc;
    put_u32(s, crc);
}

static ds_status check_model(ds_ctx *ctx, const ds_model *m, const char *path)
{
    if (!m || m->net_count < 1 || m->net_count > DS_MODEL_MAX_NETS)
        return ds_fail(ctx, DS_ERR_ARG, "model %s: 1 or 2 networks needed", path);
    if (m->rng_count < 0 || m->rng_count > DS_MODEL_MAX_RNG)
        return ds_fail(ctx, DS_ERR_ARG, "model %s: %d RNG streams (at most %d)", path,
                       m->rng_count, DS_MODEL_MAX_RNG);
    for (int i = 0; i < m->net_count; ++i) {
        if (!m->net[i])
            return ds_fail(ctx, DS_ERR_ARG, "model %s: network %d is missing", path, i);
        if (ds_net_classes(m->net[i]) != m->meta.classes)
            return ds_fail(ctx, DS_ERR_ARG, "model %s: network %d has %d classes, metadata %d",
                           path, i, ds_net_classes(m->net[i]), m->meta.classes);
        if (m->has_optim && (m->optim[i].params.count != ds_net_params(m->net[i])->count ||
                             !m->optim[i].momentum_buf))
            return ds_fail(ctx, DS_ERR_ARG, "model %s: optimiser %d does not match its network",
                           path, i);
    }
    return DS_OK;
}

ds_status ds_model_save(ds_ctx *ctx, const ds_model *model, const char *path)
{
    if (!path || !*path)
        return ds_fail(ctx, DS_ERR_ARG, "model save: empty path");
    DS_TRY(check_model(ctx, model, path));
    ds_atomic_file af;
    DS_TRY(ds_atomic_open(ctx, &af, path));
    sink s = {af.f, 0, 0, 0};
    write_model(&s, model);
    if (s.failed) {
        ds_atomic_abort(&af);
        return ds_fail(ctx, DS_ERR_IO, "model %s: write failed: %s", path, strerror(errno));
    }
    return ds_atomic_commit(ctx, &af);
}

/* ---- reading: a bounds-checked cursor over the whole file ------------------------------------ */

typedef struct cursor {
    const unsigned char *p, *end;
} cursor;

static int get_bytes(cursor *c, void *out, size_t n)
{
    if ((size_t)(c->end - c->p) < n)
        return 0;
    if (out)
        memcpy(out, c->p, n);
    c->p += n;
    return 1;
}

static int get_u32(cursor *c, uint32_t *v)
{
    unsigned char b[4];
    if (!get_bytes(c, b, 4))
        return 0;
    *v = (uint32_t)b[0] | (uint32_t)b[1] << 8 | (uint32_t)b[2] << 16 | (uint32_t)b[3] << 24;
    return 1;
}

static int get_u64(cursor *c, uint64_t *v)
{
    uint32_t lo, hi;
    if (!get_u32(c, &lo) || !get_u32(c, &hi))
        return 0;
    *v = (uint64_t)hi << 32 | lo;
    return 1;
}

static int get_f64(cursor *c, double *v)
{
    uint64_t bits;
    if (!get_u64(c, &bits))
        return 0;
    memcpy(v, &bits, 8);
    return 1;
}

static int get_f32s(cursor *c, float *v, int64_t n)
{
    if (n < 0 || (uint64_t)(c->end - c->p) / 4 < (uint64_t)n)
        return 0;
    for (int64_t i = 0; i < n; ++i) {
        const unsigned char *b = c->p + 4 * i;
        const uint32_t bits = (uint32_t)b[0] | (uint32_t)b[1] << 8 | (uint32_t)b[2] << 16 |
                              (uint32_t)b[3] << 24;
        memcpy(&v[i], &bits, 4);
    }
    c->p += 4 * n;
    return 1;
}

/* Reads a length-prefixed string into out (cap bytes); fails if longer or if it holds a NUL
 * (the name compared would otherwise be only the part before it). */
static int get_str(cursor *c, char *out, size_t cap)
{
    uint32_t n;
    if (!get_u32(c, &n) || n >= cap || !get_bytes(c, out, n) || memchr(out, '\0', n))
        return 0;
    out[n] = '\0';
    return 1;
}

#define CORRUPT(what) ds_fail(ctx, DS_ERR_FORMAT, "model %s: corrupt %s", path, what)

/* Fails naming the file, quoting the message a lower layer left in ctx (copied first: ds_fail
 * formats into the buffer that holds it). */
static ds_status fail_quoting(ds_ctx *ctx, const char *path, const char *what, uint32_t index)
{
    char why[DS_MESSAGE_CAP];
    snprintf(why, sizeof why, "%s", ds_ctx_message(ctx));
    return ds_fail(ctx, DS_ERR_FORMAT, "model %s: %s %u: %s", path, what, index, why);
}

static ds_status read_meta(ds_ctx *ctx, cursor *c, ds_model_meta *meta, const char *path)
{
    uint32_t classes, in_channels, mode;
    if (!get_u32(c, &classes) || !get_u32(c, &in_channels))
        return CORRUPT("metadata");
    if (classes < 2 || classes > DS_NET_MAX_CLASSES || in_channels < 1 || in_channels > 16)
        return ds_fail(ctx, DS_ERR_FORMAT, "model %s: %u classes / %u input channels are out of range",
                       path, classes, in_channels);
    meta->classes = (int)classes;
    meta->in_channels = (int)in_channels;
    for (uint32_t k = 0; k < classes; ++k)
        if (!get_str(c, meta->class_names[k], DS_MODEL_NAME_CAP))
            return CORRUPT("class name");
    uint64_t patch[3], iteration;
    if (!get_u32(c, &mode) || mode > DS_NORM_NONE || !get_f32s(c, &meta->norm_lo, 1) ||
        !get_f32s(c, &meta->norm_hi, 1) || !get_u64(c, &patch[0]) || !get_u64(c, &patch[1]) ||
        !get_u64(c, &patch[2]) || !get_f64(c, &meta->spacing[0]) ||
        !get_f64(c, &meta->spacing[1]) || !get_f64(c, &meta->spacing[2]) ||
        !get_u64(c, &iteration) || !get_u64(c, &meta->seed))
        return CORRUPT("metadata");
    meta->norm_mode = (ds_norm_mode)mode;
    for (int i = 0; i < 3; ++i)
        meta->patch[i] = (int64_t)patch[i];
    meta->iteration = (int64_t)iteration;
    return DS_OK;
}

/* The parameter values of a network, without building it at its width: every weight is
 * cin * cout * k^3 with cin and cout each fixed or a multiple of the width (biases and BatchNorm:
 * one of them), so the count is a quadratic in the width, fixed by the networks of width 1, 2
 * and 3 (small). */
static ds_status planned_values(ds_ctx *ctx, ds_arch arch, int in_ch, int classes, int width,
                                int64_t *out)
{
    int64_t n[3];
    for (int w = 1; w <= 3; ++w) {
        ds_net *net = NULL;
        DS_TRY(ds_net_create(ctx, &net, arch, in_ch, classes, w));
        n[w - 1] = ds_net_param_count(net);
        ds_net_free(net);
    }
    const int64_t k = width - 1;
    *out = n[0] + k * (n[1] - n[0]) + k * (k - 1) / 2 * (n[2] - 2 * n[1] + n[0]);
    return DS_OK;
}

static ds_status read_net(ds_ctx *ctx, cursor *c, ds_model *m, const char *path)
{
    uint32_t index, arch, in_ch, classes, width, count;
    if (!get_u32(c, &index) || !get_u32(c, &arch) || !get_u32(c, &in_ch) ||
        !get_u32(c, &classes) || !get_u32(c, &width))
        return CORRUPT("network header");
    if (index >= DS_MODEL_MAX_NETS || m->net[index])
        return ds_fail(ctx, DS_ERR_FORMAT, "model %s: network index %u repeated or out of range",
                       path, index);
    if ((int)classes != m->meta.classes || (int)in_ch != m->meta.in_channels)
        return ds_fail(ctx, DS_ERR_FORMAT, "model %s: network %u disagrees with the metadata",
                       path, index);
    /* a few bytes claiming a wide network must not make us allocate gigabytes first */
    int64_t values = 0;
    if (width > 3 && width <= DS_NET_MAX_WIDTH) {
        if (planned_values(ctx, (ds_arch)arch, (int)in_ch, (int)classes, (int)width, &values) !=
            DS_OK)
            return fail_quoting(ctx, path, "network", index);
        if ((uint64_t)values > (uint64_t)(c->end - c->p) / 4)
            return ds_fail(ctx, DS_ERR_FORMAT,
                           "model %s: network %u (%s, width %u) needs %" PRId64
                           " parameter values, its section holds %zu bytes",
                           path, index, ds_arch_name((ds_arch)arch), width, values,
                           (size_t)(c->end - c->p));
    }
    if (ds_net_create(ctx, &m->net[index], (ds_arch)arch, (int)in_ch, (int)classes,
                      (int)width) != DS_OK)
        return fail_quoting(ctx, path, "network", index);
    m->net_count++;
    ds_net *net = m->net[index];
    const ds_param_list *params = ds_net_params(net);
    if (!get_u32(c, &count))
        return CORRUPT("parameter count");
    if ((int)count != params->count)
        return ds_fail(ctx, DS_ERR_FORMAT, "model %s: network %u has %u parameters, %s width %u expects %d",
                       path, index, count, ds_arch_name((ds_arch)arch), width, params->count);
    for (int i = 0; i < params->count; ++i) {
        char name[DS_PARAM_NAME_CAP];
        uint64_t numel;
        ds_param *p = params->items[i];
        if (!get_str(c, name, sizeof name) || !get_u64(c, &numel))
            return CORRUPT("parameter header");
        if (strcmp(name, p->name) != 0 || numel != (uint64_t)p->numel)
            return ds_fail(ctx, DS_ERR_FORMAT,
                           "model %s: parameter %d is %s (%" PRIu64 " values), expected %s (%" PRId64 ")",
                           path, i, name, numel, p->name, p->numel);
        if (!get_f32s(c, p->value, p->numel))
            return CORRUPT("parameter values");
    }
    if (!get_u32(c, &count) || (int)count != ds_net_batchnorm_count(net))
        return CORRUPT("BatchNorm count");
    for (int i = 0; i < (int)count; ++i) {
        char name[DS_PARAM_NAME_CAP];
        const char *want;
        int channels;
        float *mean, *var;
        int64_t *tracked;
        uint32_t file_channels;
        uint64_t file_tracked;
        ds_net_batchnorm_state(ctx, net, i, &want, &channels, &mean, &var, &tracked);
        if (!get_str(c, name, sizeof name) || !get_u32(c, &file_channels))
            return CORRUPT("BatchNorm header");
        if (strlen(name) != bn_prefix_len(want) || strncmp(name, want, strlen(name)) != 0 ||
            (int)file_channels != channels)
            return ds_fail(ctx, DS_ERR_FORMAT, "model %s: BatchNorm %d is %s, expected %.*s", path,
                           i, name, (int)bn_prefix_len(want), want);
        if (!get_f32s(c, mean, channels) || !get_f32s(c, var, channels) ||
            !get_u64(c, &file_tracked))
            return CORRUPT("BatchNorm statistics");
        *tracked = (int64_t)file_tracked;
    }
    return DS_OK;
}

static ds_status read_optim(ds_ctx *ctx, cursor *c, ds_model *m, const char *path)
{
    uint32_t index, count;
    float lr, momentum, decay;
    uint64_t steps;
    if (!get_u32(c, &index) || !get_f32s(c, &lr, 1) || !get_f32s(c, &momentum, 1) ||
        !get_f32s(c, &decay, 1) || !get_u64(c, &steps) || !get_u32(c, &count))
        return CORRUPT("optimiser header");
    if (index >= DS_MODEL_MAX_NETS || !m->net[index] || m->optim[index].momentum_buf)
        return ds_fail(ctx, DS_ERR_FORMAT,
                       "model %s: optimiser %u repeated or without a network before it", path,
                       index);
    const ds_param_list *params = ds_net_params(m->net[index]);
    if ((int)count != params->count)
        return CORRUPT("optimiser parameter count");
    if (ds_sgd_init(ctx, &m->optim[index], params, lr, momentum, decay) != DS_OK)
        return fail_quoting(ctx, path, "optimiser", index);
    m->optim[index].steps = (int64_t)steps;
    for (int i = 0; i < params->count; ++i)
        if (!get_f32s(c, m->optim[index].momentum_buf[i], params->items[i]->numel))
            return CORRUPT("optimiser state");
    return DS_OK;
}

static ds_status read_rng(ds_ctx *ctx, cursor *c, ds_model *m, const char *path)
{
    uint32_t count;
    if (!get_u32(c, &count) || count > DS_MODEL_MAX_RNG)
        return CORRUPT("RNG section");
    for (uint32_t i = 0; i < count; ++i) {
        ds_rng *r = &m->rng[i];
        if (!get_u32(c, &r->key[0]) || !get_u32(c, &r->key[1]) || !get_u32(c, &r->purpose) ||
            !get_u64(c, &r->counter))
            return CORRUPT("RNG state");
    }
    m->rng_count = (int)count;
    return DS_OK;
}

static ds_status parse_model(ds_ctx *ctx, const unsigned char *data, size_t size, ds_model *m,
                             const char *path)
{
    if (size < 8 + 4 + 4 + 4 || memcmp(data, model_magic, 8) != 0)
        return ds_fail(ctx, DS_ERR_FORMAT, "model %s: not a DualSeg model file (bad magic)", path);
    cursor c = {data + 8, data + size - 4};
    uint32_t version, sections, stored_crc;
    get_u32(&c, &version);
    if (version != DS_MODEL_VERSION)
        return ds_fail(ctx, DS_ERR_FORMAT, "model %s: format version %u, this build reads %d",
                       path, version, DS_MODEL_VERSION);
    cursor trailer = {data + size - 4, data + size};
    get_u32(&trailer, &stored_crc);
    if (ds_crc32(0, data, size - 4) != stored_crc)
        return ds_fail(ctx, DS_ERR_FORMAT, "model %s: checksum mismatch (truncated or corrupted)",
                       path);
    if (!get_u32(&c, &sections) || sections > 16)
        return CORRUPT("section count");
    int seen_meta = 0, seen_rng = 0;
    for (uint32_t s = 0; s < sections; ++s) {
        uint32_t tag;
        uint64_t length;
        if (!get_u32(&c, &tag) || !get_u64(&c, &length) || length > (uint64_t)(c.end - c.p))
            return CORRUPT("section header");
        cursor body = {c.p, c.p + length};
        c.p += length;
        /* a second META would re-describe networks already built from the first */
        if ((tag == TAG_META && seen_meta) || (tag == TAG_RNG && seen_rng))
            return ds_fail(ctx, DS_ERR_FORMAT, "model %s: %s section repeated", path,
                           tag == TAG_META ? "metadata" : "RNG");
        ds_status st;
        if (tag == TAG_META) {
            st = read_meta(ctx, &body, &m->meta, path);
            seen_meta = 1;
        } else if (!seen_meta) {
            return CORRUPT("section order (metadata must come first)");
        } else if (tag == TAG_NET) {
            st = read_net(ctx, &body, m, path);
        } else if (tag == TAG_OPTIM) {
            st = read_optim(ctx, &body, m, path);
            m->has_optim = 1;
        } else if (tag == TAG_RNG) {
            st = read_rng(ctx, &body, m, path);
            seen_rng = 1;
        } else {
            return ds_fail(ctx, DS_ERR_FORMAT, "model %s: unknown section tag 0x%08x", path, tag);
        }
        DS_TRY(st);
        if (body.p != body.end)
            return CORRUPT("section length");
    }
    if (c.p != c.end)
        return CORRUPT("file length");
    if (!seen_meta || m->net_count < 1)
        return ds_fail(ctx, DS_ERR_FORMAT, "model %s: no network in the file", path);
    for (int i = 0; i < DS_MODEL_MAX_NETS; ++i)
        if ((i < m->net_count) != (m->net[i] != NULL) ||
            (m->has_optim && m->net[i] && !m->optim[i].momentum_buf))
            return CORRUPT("network set");
    return DS_OK;
}

ds_status ds_model_load(ds_ctx *ctx, ds_model **out, const char *path)
{
    if (!out || !path)
        return ds_fail(ctx, DS_ERR_ARG, "model load: null argument");
    *out = NULL;
    FILE *f = fopen(path, "rb");
    if (!f)
        return ds_fail(ctx, DS_ERR_IO, "model %s: cannot open: %s", path, strerror(errno));
    struct stat info;
    if (fstat(fileno(f), &info) != 0 || !S_ISREG(info.st_mode)) {
        fclose(f);
        return ds_fail(ctx, DS_ERR_IO, "model %s: not a regular file", path);
    }
    const size_t size = (size_t)info.st_size;
    if ((uint64_t)info.st_size > ((uint64_t)1 << 36)) {
        fclose(f);
        return ds_fail(ctx, DS_ERR_FORMAT, "model %s: implausibly large (%lld bytes)", path,
                       (long long)info.st_size);
    }
    unsigned char *data = malloc(size ? size : 1);
    if (!data) {
        fclose(f);
        return ds_fail(ctx, DS_ERR_NOMEM, "model %s: out of memory for %zu bytes", path, size);
    }
    const int read_ok = fread(data, 1, size, f) == size;
    fclose(f);
    if (!read_ok) {
        free(data);
        return ds_fail(ctx, DS_ERR_IO, "model %s: read failed", path);
    }
    ds_model *m = calloc(1, sizeof *m);
    if (!m) {
        free(data);
        return ds_fail(ctx, DS_ERR_NOMEM, "model %s: out of memory", path);
    }
    ds_status st = parse_model(ctx, data, size, m, path);
    free(data);
    if (st != DS_OK) {
        ds_model_free(m);
        return st;
    }
    *out = m;
    return DS_OK;
}

void ds_model_free(ds_model *model)
{
    if (!model)
        return;
    for (int i = 0; i < DS_MODEL_MAX_NETS; ++i) {
        if (model->optim[i].momentum_buf)
            ds_sgd_free(&model->optim[i]);
        ds_net_free(model->net[i]);
    }
    free(model);
}
