/* loss_test_util.h - helpers shared by the loss tests: a fixture case of make_loss_fixtures.py
 * turned into tensors and options, one call of ds_dual_loss_compute on it, and central finite
 * differences of a network's total in double. */
#ifndef DS_LOSS_TEST_UTIL_H
#define DS_LOSS_TEST_UTIL_H

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ds_fixture.h"
#include "ds_losses.h"
#include "ds_test.h"

typedef struct loss_case {
    ds_tensor *z[2], *f[2], *dz[2], *df[2];
    uint16_t *labels;
    ds_loss_options opt;
    ds_loss_inputs in;
    ds_rng rng;
    const ds_fixture_array *terms, *totals, *info, *want_dz[2], *want_df[2];
} loss_case;

static inline const ds_fixture_array *lc_get(const ds_fixture *fx, const char *name,
                                             const char *what)
{
    char key[128];
    snprintf(key, sizeof key, "%s.%s", name, what);
    return ds_fixture_get(fx, key);
}

static inline ds_tensor *lc_tensor(ds_ctx *ctx, const ds_fixture_array *a)
{
    ds_tensor *t = NULL;
    if (!a || a->ndim != 5 ||
        ds_tensor_create(ctx, &t, (int64_t)a->dims[0], (int64_t)a->dims[1], (int64_t)a->dims[2],
                         (int64_t)a->dims[3], (int64_t)a->dims[4]) != DS_OK)
        return NULL;
    ds_fixture_to_float(a, t->data);
    return t;
}

/* The option vector of make_loss_fixtures.option_vector(). */
static inline void lc_options(const double *v, loss_case *c)
{
    ds_loss_options *o = &c->opt;
    ds_loss_options_init(o);
    for (int t = 0; t < DS_LOSS_TERM_COUNT; ++t) {
        o->enabled[t] = (int)v[t];
        o->weight[t] = (float)v[DS_LOSS_TERM_COUNT + t];
    }
    const double *r = v + 2 * DS_LOSS_TERM_COUNT;
    o->confidence = (float)r[0];
    o->percentile = (float)r[1];
    o->mask_mode = (ds_entropy_mask_mode)(int)r[2];
    o->pseudo_mode = (ds_pseudo_label_mode)(int)r[3];
    o->kl_direction = (ds_kl_direction)(int)r[4];
    o->tau = (float)r[5];
    o->max_uncertain = (int)r[6];
    o->dice_smooth = (float)r[7];
    c->in.ramp = (float)r[8];
    c->in.ignore_label = (int)r[9];
    c->in.net_count = (int)r[10];
}

static inline void lc_free(loss_case *c)
{
    for (int n = 0; n < 2; ++n) {
        ds_tensor_free(c->z[n]);
        ds_tensor_free(c->f[n]);
        ds_tensor_free(c->dz[n]);
        ds_tensor_free(c->df[n]);
    }
    free(c->labels);
    memset(c, 0, sizeof *c);
}

/* Loads case name; returns 0 (after printing) when something is missing. */
static inline int lc_load(ds_ctx *ctx, const ds_fixture *fx, const char *name, loss_case *c)
{
    static const char *const Z[2] = {"z0", "z1"}, *const F[2] = {"f0", "f1"};
    static const char *const DZ[2] = {"dz0", "dz1"}, *const DF[2] = {"df0", "df1"};
    memset(c, 0, sizeof *c);
    const ds_fixture_array *opt = lc_get(fx, name, "options"), *y = lc_get(fx, name, "labels");
    if (!opt || !y)
        return 0;
    lc_options(opt->data, c);
    for (int n = 0; n < 2; ++n) {
        c->z[n] = lc_tensor(ctx, lc_get(fx, name, Z[n]));
        c->f[n] = lc_tensor(ctx, lc_get(fx, name, F[n]));
        if (!c->z[n] || !c->f[n] || ds_tensor_create_like(ctx, &c->dz[n], c->z[n]) != DS_OK ||
            ds_tensor_create_like(ctx, &c->df[n], c->f[n]) != DS_OK)
            return 0;
        c->want_dz[n] = lc_get(fx, name, DZ[n]);
        c->want_df[n] = lc_get(fx, name, DF[n]);
        c->in.logits[n] = c->z[n];
        c->in.feature[n] = c->f[n];
    }
    c->labels = malloc(y->numel * sizeof *c->labels);
    for (size_t i = 0; i < y->numel; ++i)
        c->labels[i] = (uint16_t)y->data[i];
    c->in.labels = c->labels;
    ds_rng_init(&c->rng, 1337, DS_RNG_CONTRAST);
    c->in.contrast_rng = &c->rng;
    c->terms = lc_get(fx, name, "terms");
    c->totals = lc_get(fx, name, "totals");
    c->info = lc_get(fx, name, "info");
    return c->terms && c->totals && c->info && c->want_dz[0] && c->want_df[1];
}

/* One computation; the contrast rng is restored afterwards, so repeated calls draw the same
 * uncertain voxels (the finite differences need the sample held fixed). */
static inline ds_status lc_run(ds_ctx *ctx, ds_dual_loss *work, loss_case *c, ds_loss_report *r)
{
    const ds_rng saved = c->rng;
    ds_status st = ds_dual_loss_compute(ctx, work, &c->opt, &c->in, c->dz, c->df, r);
    c->rng = saved;
    return st;
}

/* Largest |got - want| over the array, relative to max |want|. */
static inline double lc_rel_error(const ds_tensor *got, const ds_fixture_array *want)
{
    return ds_fixture_rel_error(got->data, want);
}

/* Central difference of total[n] with respect to element i of t (a logits or feature tensor of
 * the case), in double: the step actually taken is the difference of the two float inputs. */
static inline double lc_central_diff(ds_ctx *ctx, ds_dual_loss *work, loss_case *c, int n,
                                     ds_tensor *t, int64_t i, float h)
{
    const float x = t->data[i], xp = x + h, xm = x - h;
    ds_loss_report rp, rm;
    t->data[i] = xp;
    ds_status st = lc_run(ctx, work, c, &rp);
    t->data[i] = xm;
    if (st == DS_OK)
        st = lc_run(ctx, work, c, &rm);
    t->data[i] = x;
    if (st != DS_OK)
        return NAN;
    return (rp.total[n] - rm.total[n]) / ((double)xp - (double)xm);
}

/* Checks the gradient of total[n] in t (grad = its analytic gradient, already computed at the
 * unperturbed point and copied by the caller) at `count` entries spread over t, with step h:
 * |fd - grad| <= tol * max |grad| + 1e-9. Returns the worst relative error seen. */
static inline double lc_check_fd(ds_ctx *ctx, ds_dual_loss *work, loss_case *c, int n,
                                 ds_tensor *t, const float *grad, int count, float h, double tol,
                                 const char *what)
{
    const int64_t numel = ds_tensor_numel(t);
    double gmax = 0.0, worst = 0.0;
    for (int64_t i = 0; i < numel; ++i)
        gmax = fmax(gmax, fabs(grad[i]));
    for (int j = 0; j < count; ++j) {
        const int64_t i = (int64_t)(((uint64_t)j * 2654435761u + 7u) % (uint64_t)numel);
        const double fd = lc_central_diff(ctx, work, c, n, t, i, h);
        const double err = fabs(fd - grad[i]);
        worst = fmax(worst, err / fmax(gmax, 1e-30));
        DS_CHECK_MSG(err <= tol * gmax + 1e-9, "%s net %d element %lld: fd %.9g analytic %.9g",
                     what, n, (long long)i, fd, (double)grad[i]);
    }
    return worst;
}

#endif /* DS_LOSS_TEST_UTIL_H */
