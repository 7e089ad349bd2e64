/* test_model_file.c - the model file: bit-exact round trip, atomic writes, and every kind of bad
 * file rejected with a message (never a crash; the sanitizer build checks memory safety). */
#include "ds_checksum.h"
#include "ds_init.h"
#include "ds_model.h"
#include "ds_test.h"

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

/* A small trained-looking pair: random weights, statistics, optimiser state and RNG streams. */
static ds_model *make_model(ds_ctx *ctx)
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
    m->net_count = 2;
    ds_net_create(ctx, &m->net[0], DS_ARCH_RESNET34_VNET, 1, 3, 2);
    ds_net_create(ctx, &m->net[1], DS_ARCH_VNET, 1, 3, 2);
    ds_rng rng;
    ds_rng_init(&rng, 5, DS_RNG_TEST);
    m->has_optim = 1;
    for (int i = 0; i < 2; ++i) {
        const ds_param_list *params = ds_net_params(m->net[i]);
        for (int k = 0; k < params->count; ++k)
            fill(params->items[k], &rng);
        for (int b = 0; b < ds_net_batchnorm_count(m->net[i]); ++b) {
            int channels;
            float *mean, *var;
            int64_t *tracked;
            ds_net_batchnorm_state(ctx, m->net[i], b, NULL, &channels, &mean, &var, &tracked);
            for (int c = 0; c < channels; ++c) {
                mean[c] = ds_rng_normal(&rng);
                var[c] = 1.0f + ds_rng_uniform(&rng);
            }
            *tracked = 4321 + b;
        }
        ds_sgd_init(ctx, &m->optim[i], params, 0.01f, 0.9f, 1e-4f);
        m->optim[i].steps = 4321;
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

static int same_model(const ds_model *a, const ds_model *b)
{
    int same = memcmp(&a->meta, &b->meta, sizeof a->meta) == 0 && a->net_count == b->net_count &&
               a->has_optim == b->has_optim && a->rng_count == b->rng_count;
    for (int r = 0; same && r < a->rng_count; ++r)
        same = memcmp(&a->rng[r], &b->rng[r], sizeof a->rng[r]) == 0;
    for (int i = 0; same && i < a->net_count; ++i) {
        same = ds_net_arch(a->net[i]) == ds_net_arch(b->net[i]) &&
               ds_net_width(a->net[i]) == ds_net_width(b->net[i]);
        const ds_param_list *pa = ds_net_params(a->net[i]), *pb = ds_net_params(b->net[i]);
        for (int k = 0; same && k < pa->count; ++k)
            same = strcmp(pa->items[k]->name, pb->items[k]->name) == 0 &&
                   memcmp(pa->items[k]->value, pb->items[k]->value,
                          (size_t)pa->items[k]->numel * 4) == 0 &&
                   memcmp(a->optim[i].momentum_buf[k], b->optim[i].momentum_buf[k],
                          (size_t)pa->items[k]->numel * 4) == 0;
        same = same && a->optim[i].steps == b->optim[i].steps && a->optim[i].lr == b->optim[i].lr &&
               a->optim[i].momentum == b->optim[i].momentum &&
               a->optim[i].weight_decay == b->optim[i].weight_decay;
        for (int k = 0; same && k < ds_net_batchnorm_count(a->net[i]); ++k) {
            int ca, cb;
            float *ma, *va, *mb, *vb;
            int64_t *ta, *tb;
            ds_net_batchnorm_state(NULL, a->net[i], k, NULL, &ca, &ma, &va, &ta);
            ds_net_batchnorm_state(NULL, b->net[i], k, NULL, &cb, &mb, &vb, &tb);
            same = ca == cb && !memcmp(ma, mb, (size_t)ca * 4) && !memcmp(va, vb, (size_t)ca * 4) &&
                   *ta == *tb;
        }
    }
    return same;
}

static void expect_rejected(ds_ctx *ctx, const char *path, const char *what, const char *needle)
{
    ds_model *m = (ds_model *)1;
    ds_ctx_clear(ctx);
    ds_status st = ds_model_load(ctx, &m, path);
    DS_CHECK_MSG(st != DS_OK && m == NULL, "%s was accepted", what);
    DS_CHECK_MSG(strstr(ds_ctx_message(ctx), path) != NULL, "%s: message does not name the file: %s",
                 what, ds_ctx_message(ctx));
    if (needle)
        DS_CHECK_MSG(strstr(ds_ctx_message(ctx), needle) != NULL, "%s: message '%s' lacks '%s'",
                     what, ds_ctx_message(ctx), needle);
}

int main(void)
{
    ds_ctx *ctx = NULL;
    ds_ctx_create(&ctx);
    snprintf(dir, sizeof dir, "/tmp/ds_model_test_XXXXXX");
    DS_CHECK(mkdtemp(dir) != NULL);

    DS_CHECK(ds_crc32(0, "123456789", 9) == 0xCBF43926u); /* the standard CRC-32 check value */

    ds_model *model = make_model(ctx);
    char path[512], bad[512];
    path_in(path, sizeof path, "pair.dsm");
    DS_CHECK_OK(ctx, ds_model_save(ctx, model, path));

    /* Round trip: every byte of state comes back, and a second save writes the same bytes. */
    ds_model *loaded = NULL;
    DS_CHECK_OK(ctx, ds_model_load(ctx, &loaded, path));
    DS_CHECK(loaded && same_model(model, loaded));
    char again[512];
    path_in(again, sizeof again, "again.dsm");
    if (loaded)
        DS_CHECK_OK(ctx, ds_model_save(ctx, loaded, again));
    size_t size = 0, size2 = 0;
    unsigned char *bytes = read_all(path, &size), *bytes2 = read_all(again, &size2);
    DS_CHECK(bytes && bytes2 && size == size2 && memcmp(bytes, bytes2, size) == 0);
    free(bytes2);
    ds_model_free(loaded);

    /* Saving over an existing file replaces it whole, and leaves no temporary file. */
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

    free(bytes);
    bytes = read_all(path, &size);
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
    bytes[8] = 99;
    const uint32_t crc = ds_crc32(0, bytes, size - 4);
    unsigned char saved_crc[4];
    memcpy(saved_crc, bytes + size - 4, 4);
    for (int k = 0; k < 4; ++k)
        bytes[size - 4 + k] = (unsigned char)(crc >> (8 * k));
    write_all(bad, bytes, size);
    expect_rejected(ctx, bad, "a future version", "version");
    bytes[8] = 1;
    memcpy(bytes + size - 4, saved_crc, 4);
    /* Missing file and a directory. */
    path_in(bad, sizeof bad, "absent.dsm");
    expect_rejected(ctx, bad, "a missing file", "cannot open");
    expect_rejected(ctx, dir, "a directory", NULL);

    free(bytes);
    ds_model_free(model);
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    DS_CHECK(system(cmd) == 0);
    ds_ctx_free(ctx);
    return ds_test_finish("test_model_file");
}
