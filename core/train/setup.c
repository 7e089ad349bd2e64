/* setup.c - the model a run starts from: fresh, warm-started from a model file, or resumed from
 * its checkpoint. */
#include "train_internal.h"
#include "setup.h"

#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static int file_exists(const char *path)
{
    struct stat s;
    return path && stat(path, &s) == 0;
}

/* Copies at most cap - 1 bytes of name, never cutting a UTF-8 sequence. */
static void copy_name(char *dst, size_t cap, const char *name)
{
    size_t n = strlen(name);
    if (n > cap - 1) {
        n = cap - 1;
        while (n > 0 && ((unsigned char)name[n] & 0xC0) == 0x80)
            --n; /* name[n] continues a sequence: cut before the sequence starts */
    }
    memcpy(dst, name, n);
    dst[n] = '\0';
}

static void fill_meta(const ds_train_options *opt, const ds_train_data *data, ds_model_meta *m)
{
    memset(m, 0, sizeof *m);
    const ds_load_options *lo = ds_train_data_load_options(data);
    m->classes = ds_train_data_classes(data);
    m->in_channels = 1;
    m->norm_mode = lo->norm;
    m->norm_lo = lo->window_lo;
    m->norm_hi = lo->window_hi;
    for (int a = 0; a < 3; ++a) {
        m->patch[a] = opt->batch.patch[a];
        m->spacing[a] = lo->target_spacing[a];
    }
    m->seed = opt->seed;
    for (int k = 0; k < m->classes && k < opt->class_name_count && opt->class_names; ++k)
        if (opt->class_names[k])
            copy_name(m->class_names[k], DS_MODEL_NAME_CAP, opt->class_names[k]);
}

/* The model file's networks must be those the options ask for. */
static ds_status check_nets(ds_ctx *ctx, const ds_train_options *opt, const ds_model *m,
                            int classes, const char *path)
{
    int want = opt->pair == DS_PAIR_SINGLE ? 1 : 2;
    if (m->meta.classes != classes)
        return ds_fail(ctx, DS_ERR_ARG, "model %s has %d classes but the training data %d", path,
                       m->meta.classes, classes);
    if (m->net_count != want)
        return ds_fail(ctx, DS_ERR_ARG, "model %s has %d network(s); the %s mode needs %d", path,
                       m->net_count, opt->pair == DS_PAIR_SINGLE ? "single" : "pair", want);
    for (int i = 0; i < want; ++i) {
        ds_arch arch = ds_train_arch(opt->pair, i);
        if (ds_net_arch(m->net[i]) != arch || ds_net_width(m->net[i]) != opt->width ||
            ds_net_in_channels(m->net[i]) != 1)
            return ds_fail(ctx, DS_ERR_ARG, "model %s: network %c is %s width %d; the options "
                           "ask for %s width %d", path, 'A' + i, ds_arch_name(ds_net_arch(m->net[i])),
                           ds_net_width(m->net[i]), ds_arch_name(arch), opt->width);
    }
    return DS_OK;
}

static ds_status add_optimisers(ds_ctx *ctx, const ds_train_options *opt, ds_model *m)
{
    for (int i = 0; i < m->net_count; ++i)
        DS_TRY(ds_sgd_init(ctx, &m->optim[i], ds_net_params(m->net[i]), opt->lr, opt->momentum,
                           opt->weight_decay));
    m->has_optim = 1;
    return DS_OK;
}

static void init_rngs(const ds_train_options *opt, ds_model *m)
{
    m->rng_count = RNG_COUNT;
    for (int s = 0; s < RNG_COUNT; ++s)
        ds_rng_init(&m->rng[s], opt->seed, ds_train_rng_purpose(s));
}

static ds_status fresh(ds_ctx *ctx, const ds_train_options *opt, const ds_train_data *data,
                       ds_model *m)
{
    m->net_count = opt->pair == DS_PAIR_SINGLE ? 1 : 2;
    for (int i = 0; i < m->net_count; ++i) {
        DS_TRY(ds_net_create(ctx, &m->net[i], ds_train_arch(opt->pair, i), 1,
                             ds_train_data_classes(data), opt->width));
        ds_rng init;
        ds_rng_init(&init, opt->seed, i == 0 ? DS_RNG_INIT_A : DS_RNG_INIT_B);
        DS_TRY(ds_net_init_weights(ctx, m->net[i], &init));
    }
    return DS_OK;
}

/* Takes the networks of a warm-start file; its optimisers and RNG streams are dropped. */
static ds_status warm(ds_ctx *ctx, const ds_train_options *opt, const ds_train_data *data,
                      ds_model *m)
{
    ds_model *src = NULL;
    DS_TRY(ds_model_load(ctx, &src, opt->warm_start_path));
    ds_status st = check_nets(ctx, opt, src, ds_train_data_classes(data), opt->warm_start_path);
    if (st == DS_OK) {
        m->net_count = src->net_count;
        for (int i = 0; i < src->net_count; ++i) {
            m->net[i] = src->net[i];
            src->net[i] = NULL;
        }
    }
    ds_model_free(src);
    return st;
}

/* Everything the checkpoint must hold for an exact resume. */
static ds_status check_checkpoint(ds_ctx *ctx, const ds_train_options *opt, const ds_model *m,
                                  int classes)
{
    const char *path = opt->checkpoint_path;
    DS_TRY(check_nets(ctx, opt, m, classes, path));
    if (!m->has_optim || m->rng_count != RNG_COUNT)
        return ds_fail(ctx, DS_ERR_FORMAT, "checkpoint %s lacks the optimiser or RNG state of a "
                       "run", path);
    for (int s = 0; s < RNG_COUNT; ++s)
        if (m->rng[s].purpose != ds_train_rng_purpose(s))
            return ds_fail(ctx, DS_ERR_FORMAT, "checkpoint %s: RNG stream %d has purpose %u",
                           path, s, m->rng[s].purpose);
    if (m->meta.seed != opt->seed)
        return ds_fail(ctx, DS_ERR_ARG, "checkpoint %s was made with seed %llu, not %llu", path,
                       (unsigned long long)m->meta.seed, (unsigned long long)opt->seed);
    for (int a = 0; a < 3; ++a)
        if (m->meta.patch[a] != opt->batch.patch[a])
            return ds_fail(ctx, DS_ERR_ARG, "checkpoint %s was made with another patch size",
                           path);
    if (m->meta.iteration < 0 || m->meta.iteration > opt->iterations)
        return ds_fail(ctx, DS_ERR_ARG, "checkpoint %s is at iteration %lld, beyond the %lld of "
                       "the run", path, (long long)m->meta.iteration, (long long)opt->iterations);
    return DS_OK;
}

ds_status ds_train_setup_model(ds_ctx *ctx, const ds_train_options *opt,
                               const ds_train_data *data, ds_model **out, int *resumed)
{
    *out = NULL;
    *resumed = 0;
    int classes = ds_train_data_classes(data);
    if (opt->resume && file_exists(opt->checkpoint_path)) {
        ds_model *m = NULL;
        DS_TRY(ds_model_load(ctx, &m, opt->checkpoint_path));
        ds_status st = check_checkpoint(ctx, opt, m, classes);
        if (st != DS_OK) {
            ds_model_free(m);
            return st;
        }
        *out = m;
        *resumed = 1;
        return DS_OK;
    }
    ds_model *m = calloc(1, sizeof *m);
    if (!m)
        return ds_fail(ctx, DS_ERR_NOMEM, "train: out of memory");
    fill_meta(opt, data, &m->meta);
    init_rngs(opt, m);
    ds_status st = opt->warm_start_path ? warm(ctx, opt, data, m) : fresh(ctx, opt, data, m);
    if (st == DS_OK)
        st = add_optimisers(ctx, opt, m);
    if (st != DS_OK) {
        ds_model_free(m);
        return st;
    }
    *out = m;
    return DS_OK;
}
