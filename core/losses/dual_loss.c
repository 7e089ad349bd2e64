/* dual_loss.c - ds_dual_loss_compute: checks, work buffers, and the order of the terms
 * (see ds_losses.h). Each network's gradient buffers are zeroed, then every enabled term's
 * backward adds weight * d(term) into them. */
#include "loss_internal.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#define TRY(expr)                                                                              \
    do {                                                                                       \
        ds_status try_st_ = (expr);                                                            \
        if (try_st_ != DS_OK)                                                                  \
            return try_st_;                                                                    \
    } while (0)

struct ds_dual_loss {
    int64_t cap_values, cap_voxels, cap_partials, cap_classes, cap_features;
    float *p[2], *lse[2], *entropy[2], *scratch;
    uint16_t *argmax[2], *union_label;
    uint8_t *labelled, *role[2], *union_role, *bad_blocks;
    double *partials, *dice_stats;
    loss_con con;
};

ds_status ds_dual_loss_create(ds_ctx *ctx, ds_dual_loss **out)
{
    if (!out)
        return ds_fail(ctx, DS_ERR_ARG, "dual loss create: null output");
    *out = calloc(1, sizeof **out);
    return *out ? DS_OK : ds_fail(ctx, DS_ERR_NOMEM, "dual loss create: out of memory");
}

static void free_voxel_buffers(ds_dual_loss *w)
{
    for (int n = 0; n < 2; ++n) {
        ds_aligned_free(w->p[n]);
        ds_aligned_free(w->lse[n]);
        ds_aligned_free(w->entropy[n]);
        ds_aligned_free(w->argmax[n]);
        ds_aligned_free(w->role[n]);
        w->p[n] = w->lse[n] = w->entropy[n] = NULL;
        w->argmax[n] = NULL;
        w->role[n] = NULL;
    }
    ds_aligned_free(w->scratch);
    ds_aligned_free(w->union_label);
    ds_aligned_free(w->labelled);
    ds_aligned_free(w->union_role);
    ds_aligned_free(w->con.sample);
    ds_aligned_free(w->con.sample_loss);
    w->scratch = NULL;
    w->union_label = NULL;
    w->labelled = w->union_role = NULL;
    w->con.sample = NULL;
    w->con.sample_loss = NULL;
    w->cap_values = w->cap_voxels = 0;
}

static void free_small_buffers(ds_dual_loss *w)
{
    ds_aligned_free(w->partials);
    ds_aligned_free(w->bad_blocks);
    ds_aligned_free(w->dice_stats);
    ds_aligned_free(w->con.proto);
    ds_aligned_free(w->con.has_proto);
    w->partials = w->dice_stats = w->con.proto = NULL;
    w->bad_blocks = w->con.has_proto = NULL;
    w->cap_partials = w->cap_classes = w->cap_features = 0;
}

void ds_dual_loss_free(ds_dual_loss *work)
{
    if (!work)
        return;
    free_voxel_buffers(work);
    free_small_buffers(work);
    free(work);
}

/* Grows the buffers to a batch of V voxels of K classes and F features (whole sets at a time:
 * a training loop has one shape, so this allocates once). */
static ds_status grow(ds_ctx *ctx, ds_dual_loss *w, const loss_geom *g, int64_t F)
{
    const int64_t V = g->n * g->s, VK = V * g->k, tasks = loss_tasks(g);
    int64_t stats = 3 * (g->k - 1);
    if (g->k * (F + 1) > stats)
        stats = g->k * (F + 1);
    const int64_t partials = (tasks + 1) * stats;
    if (VK > w->cap_values || V > w->cap_voxels) {
        free_voxel_buffers(w);
        int ok = 1;
        for (int n = 0; n < 2; ++n) {
            ok &= (w->p[n] = ds_aligned_alloc((size_t)VK * sizeof(float))) != NULL;
            ok &= (w->lse[n] = ds_aligned_alloc((size_t)V * sizeof(float))) != NULL;
            ok &= (w->entropy[n] = ds_aligned_alloc((size_t)V * sizeof(float))) != NULL;
            ok &= (w->argmax[n] = ds_aligned_alloc((size_t)V * sizeof(uint16_t))) != NULL;
            ok &= (w->role[n] = ds_aligned_alloc((size_t)V)) != NULL;
        }
        ok &= (w->scratch = ds_aligned_alloc((size_t)V * sizeof(float))) != NULL;
        ok &= (w->union_label = ds_aligned_alloc((size_t)V * sizeof(uint16_t))) != NULL;
        ok &= (w->labelled = ds_aligned_alloc((size_t)V)) != NULL;
        ok &= (w->union_role = ds_aligned_alloc((size_t)V)) != NULL;
        ok &= (w->con.sample = ds_aligned_alloc((size_t)V * sizeof(int64_t))) != NULL;
        ok &= (w->con.sample_loss = ds_aligned_alloc((size_t)V * sizeof(double))) != NULL;
        if (!ok) {
            free_voxel_buffers(w);
            return ds_fail(ctx, DS_ERR_NOMEM, "dual loss: out of memory for %" PRId64 " voxels", V);
        }
        w->cap_values = VK;
        w->cap_voxels = V;
    }
    if (partials > w->cap_partials || g->k > w->cap_classes || F > w->cap_features) {
        free_small_buffers(w);
        const int64_t f = F > 1 ? F : 1;
        w->partials = ds_aligned_alloc((size_t)partials * sizeof(double));
        w->bad_blocks = ds_aligned_alloc((size_t)tasks);
        w->dice_stats = ds_aligned_alloc((size_t)(3 * g->k) * sizeof(double));
        w->con.proto = ds_aligned_alloc((size_t)(g->k * f) * sizeof(double));
        w->con.has_proto = ds_aligned_alloc((size_t)g->k);
        if (!w->partials || !w->bad_blocks || !w->dice_stats || !w->con.proto ||
            !w->con.has_proto) {
            free_small_buffers(w);
            return ds_fail(ctx, DS_ERR_NOMEM, "dual loss: out of memory for work sums");
        }
        w->cap_partials = partials;
        w->cap_classes = g->k;
        w->cap_features = f;
    }
    return DS_OK;
}

static int needs_two(const ds_loss_options *opt)
{
    return opt->enabled[DS_LOSS_CR] || opt->enabled[DS_LOSS_CCE] || opt->enabled[DS_LOSS_KL] ||
           opt->enabled[DS_LOSS_CON] || opt->enabled[DS_LOSS_COS];
}

static ds_status need_shape(ds_ctx *ctx, const char *what, const ds_tensor *t, const ds_tensor *like,
                            int same_channels)
{
    char a[96], b[96];
    if (!t || !t->data)
        return ds_fail(ctx, DS_ERR_ARG, "dual loss: %s is null", what);
    if (t->n != like->n || t->d != like->d || t->h != like->h || t->w != like->w ||
        (same_channels && t->c != like->c))
        return ds_fail(ctx, DS_ERR_SHAPE, "dual loss: %s is %s, logits are %s", what,
                       ds_tensor_shape_str(t, a, sizeof a), ds_tensor_shape_str(like, b, sizeof b));
    return DS_OK;
}

static ds_status check_tensors(ds_ctx *ctx, const ds_loss_options *opt, const ds_loss_inputs *in,
                               ds_tensor *dlogits[2], ds_tensor *dfeature[2])
{
    static const char *const LOGITS[2] = {"logits[0]", "logits[1]"};
    static const char *const DLOGITS[2] = {"dlogits[0]", "dlogits[1]"};
    static const char *const FEATURE[2] = {"feature[0]", "feature[1]"};
    static const char *const DFEATURE[2] = {"dfeature[0]", "dfeature[1]"};
    const ds_tensor *z0 = in->logits[0];
    for (int n = 0; n < in->net_count; ++n) {
        TRY(need_shape(ctx, LOGITS[n], in->logits[n], z0, 1));
        TRY(need_shape(ctx, DLOGITS[n], dlogits[n], z0, 1));
        const ds_tensor *f = in->feature[n];
        if (opt->enabled[DS_LOSS_CON]) {
            TRY(need_shape(ctx, FEATURE[n], f, z0, 0));
            if (f->c > DS_LOSS_MAX_FEATURES)
                return ds_fail(ctx, DS_ERR_SHAPE, "dual loss: feature[%d] has %" PRId64
                               " channels (at most %d)", n, f->c, DS_LOSS_MAX_FEATURES);
            if (in->feature[0]->c != f->c)
                return ds_fail(ctx, DS_ERR_SHAPE, "dual loss: feature widths differ");
        }
        if (dfeature && dfeature[n] && f && !ds_tensor_same_shape(dfeature[n], f))
            return ds_fail(ctx, DS_ERR_SHAPE, "dual loss: %s differs from %s in shape",
                           DFEATURE[n], FEATURE[n]);
    }
    return DS_OK;
}

static ds_status check_inputs(ds_ctx *ctx, const ds_dual_loss *work, const ds_loss_options *opt,
                              const ds_loss_inputs *in, ds_tensor *dlogits[2],
                              ds_tensor *dfeature[2])
{
    if (!work || !opt || !in || !dlogits)
        return ds_fail(ctx, DS_ERR_ARG, "dual loss: null work, options, inputs or gradients");
    if (in->net_count != 1 && in->net_count != 2)
        return ds_fail(ctx, DS_ERR_ARG, "dual loss: net_count %d (1 or 2)", in->net_count);
    if (!in->logits[0] || !in->logits[0]->data)
        return ds_fail(ctx, DS_ERR_ARG, "dual loss: logits[0] is null");
    const int64_t K = in->logits[0]->c;
    TRY(ds_loss_options_check(ctx, opt, K > DS_LOSS_MAX_CLASSES ? DS_LOSS_MAX_CLASSES + 1 : (int)K));
    if (in->net_count == 1 && needs_two(opt))
        for (int t = DS_LOSS_CR; t < DS_LOSS_TERM_COUNT; ++t)
            if (opt->enabled[t])
                return ds_fail(ctx, DS_ERR_ARG, "dual loss: term '%s' needs two networks "
                               "(net_count 1)", ds_loss_term_name((ds_loss_term)t));
    if (!in->labels)
        return ds_fail(ctx, DS_ERR_ARG, "dual loss: labels are null");
    if (in->ignore_label < 0 || in->ignore_label > 65535)
        return ds_fail(ctx, DS_ERR_ARG, "dual loss: ignore_label %d (0..65535)", in->ignore_label);
    if (!(in->ramp >= 0.0f && in->ramp <= 1.0f))
        return ds_fail(ctx, DS_ERR_ARG, "dual loss: ramp %g (0..1)", (double)in->ramp);
    if (opt->enabled[DS_LOSS_CON] && in->net_count == 2 && !in->contrast_rng)
        return ds_fail(ctx, DS_ERR_ARG, "dual loss: contrast_rng is null with CON on");
    TRY(check_tensors(ctx, opt, in, dlogits, dfeature));
    const ds_tensor *z = in->logits[0];
    const int64_t V = z->n * z->d * z->h * z->w;
    if (V >= ((int64_t)1 << 32))
        return ds_fail(ctx, DS_ERR_SHAPE, "dual loss: %" PRId64 " voxels (below 2^32)", V);
    for (int64_t v = 0; v < V; ++v)
        if (in->labels[v] >= K && in->labels[v] != in->ignore_label)
            return ds_fail(ctx, DS_ERR_ARG, "dual loss: label %u at voxel %" PRId64
                           " is neither a class (0..%" PRId64 ") nor the ignore label %d",
                           (unsigned)in->labels[v], v, K - 1, in->ignore_label);
    return DS_OK;
}

/* Everything of one call that the terms share. */
typedef struct loss_call {
    loss_geom g;
    loss_net net[2];
    loss_teacher teacher[2]; /* teacher[n]: what network n learns from (the partner's mask) */
    const ds_loss_options *opt;
    const ds_loss_inputs *in;
    ds_dual_loss *w;
    int64_t labelled;
} loss_call;

static ds_status prepare_nets(ds_ctx *ctx, loss_call *c)
{
    ds_dual_loss *w = c->w;
    for (int n = 0; n < c->in->net_count; ++n) {
        c->net[n] = (loss_net){c->in->logits[n]->data, w->p[n], w->lse[n], w->entropy[n],
                               w->argmax[n]};
        const int64_t bad = loss_prepare(&c->g, &c->net[n], w->bad_blocks);
        if (bad >= 0)
            return ds_fail(ctx, DS_ERR_NUMERIC, "dual loss: logits[%d] hold a non-finite value "
                           "at element %" PRId64, n, bad);
    }
    const int64_t V = c->g.n * c->g.s;
    int64_t count = 0;
    for (int64_t v = 0; v < V; ++v) {
        w->labelled[v] = c->in->labels[v] != c->in->ignore_label;
        count += w->labelled[v];
    }
    c->labelled = count;
    return DS_OK;
}

static void supervised(loss_call *c, int n, ds_tensor *dz, ds_loss_report *r)
{
    const ds_loss_options *opt = c->opt;
    ds_dual_loss *w = c->w;
    const uint16_t *y = c->in->labels;
    if (opt->enabled[DS_LOSS_CE]) {
        double sum;
        int64_t count;
        loss_ce_forward(&c->g, &c->net[n], y, w->labelled, 1, w->partials, &sum, &count);
        r->term[n][DS_LOSS_CE] = count > 0 ? sum / (double)count : 0.0;
        if (count > 0)
            loss_ce_backward(&c->g, &c->net[n], y, w->labelled, 1,
                             opt->weight[DS_LOSS_CE] / (double)count, dz->data);
    }
    if (opt->enabled[DS_LOSS_DICE]) {
        r->term[n][DS_LOSS_DICE] = loss_dice_forward(&c->g, &c->net[n], y, w->labelled,
                                                     opt->dice_smooth, w->partials, w->dice_stats);
        loss_dice_backward(&c->g, &c->net[n], y, w->labelled, opt->dice_smooth, w->dice_stats,
                           opt->weight[DS_LOSS_DICE], dz->data);
    }
    if (opt->enabled[DS_LOSS_CR]) {
        const loss_net *self = &c->net[n], *other = &c->net[1 - n];
        double sum;
        int64_t count;
        loss_cr_forward(&c->g, self, other, y, w->labelled, opt->confidence, w->partials, &sum,
                        &count);
        const double norm = (double)count + 1e-16;
        r->term[n][DS_LOSS_CR] = sum / norm;
        loss_cr_backward(&c->g, self, other, y, w->labelled, opt->confidence,
                         opt->weight[DS_LOSS_CR] / norm, dz->data);
    }
}

/* The entropy masks of both networks and, for each network, the teacher it learns from. */
static void build_teachers(loss_call *c)
{
    ds_dual_loss *w = c->w;
    double threshold[2];
    for (int m = 0; m < 2; ++m)
        loss_entropy_mask(&c->g, &c->net[m], w->labelled, c->opt, w->scratch, w->role[m],
                          &threshold[m]);
    if (c->opt->pseudo_mode == DS_PSEUDO_UNION)
        loss_union_teacher(&c->g, &c->net[0], &c->net[1], w->role[0], w->role[1],
                           w->union_label, w->union_role);
    for (int n = 0; n < 2; ++n) {
        const int m = 1 - n;
        loss_teacher *t = &c->teacher[n];
        if (c->opt->pseudo_mode == DS_PSEUDO_UNION) {
            t->label = w->union_label;
            t->role = w->union_role;
        } else {
            t->label = w->argmax[m];
            t->role = w->role[m];
        }
        t->threshold = threshold[m];
        loss_teacher_counts(&c->g, t, w->partials);
    }
}

static void unsupervised(loss_call *c, int n, ds_tensor *dz, ds_tensor *df, ds_rng *rng,
                         ds_loss_report *r)
{
    const ds_loss_options *opt = c->opt;
    const double ramp = c->in->ramp;
    ds_dual_loss *w = c->w;
    const loss_net *self = &c->net[n], *other = &c->net[1 - n];
    const loss_teacher *t = &c->teacher[n];
    if (opt->enabled[DS_LOSS_CCE]) {
        r->term[n][DS_LOSS_CCE] = loss_cce_forward(&c->g, self, t, w->partials);
        loss_cce_backward(&c->g, self, t, ramp * opt->weight[DS_LOSS_CCE], dz->data);
    }
    if (opt->enabled[DS_LOSS_KL] && (opt->kl_direction == DS_KL_BOTH || n == 0)) {
        r->term[n][DS_LOSS_KL] = loss_kl_forward(&c->g, self, other, w->partials);
        loss_kl_backward(&c->g, self, other, ramp * opt->weight[DS_LOSS_KL], dz->data);
    }
    if (opt->enabled[DS_LOSS_CON]) {
        const float *f = c->in->feature[n]->data;
        w->con.f = c->in->feature[n]->c;
        r->term[n][DS_LOSS_CON] = loss_con_forward(&c->g, f, t, opt->tau, opt->max_uncertain,
                                                   rng, w->partials, &w->con);
        r->prototypes[n] = w->con.prototypes;
        if (df)
            loss_con_backward(&c->g, f, t, opt->tau, &w->con, ramp * opt->weight[DS_LOSS_CON],
                              df->data);
    }
    if (opt->enabled[DS_LOSS_COS]) {
        r->term[n][DS_LOSS_COS] = loss_cos_forward(&c->g, self, other, w->partials);
        loss_cos_backward(&c->g, self, other, opt->weight[DS_LOSS_COS], dz->data);
    }
}

static void report_totals(const loss_call *c, ds_loss_report *r)
{
    const ds_loss_options *opt = c->opt;
    const double ramp = c->in->ramp;
    for (int n = 0; n < c->in->net_count; ++n) {
        double total = 0.0;
        for (int t = 0; t < DS_LOSS_TERM_COUNT; ++t) {
            double wt = opt->weight[t];
            if (t == DS_LOSS_CCE || t == DS_LOSS_KL || t == DS_LOSS_CON)
                wt *= ramp;
            total += opt->enabled[t] ? wt * r->term[n][t] : 0.0;
        }
        r->total[n] = total;
    }
    r->labelled_voxels = c->labelled;
    r->unlabelled_voxels = c->g.n * c->g.s - c->labelled;
    if (c->in->net_count < 2 || !(opt->enabled[DS_LOSS_CCE] || opt->enabled[DS_LOSS_CON]))
        return;
    for (int n = 0; n < 2; ++n) {
        const loss_teacher *t = &c->teacher[n];
        r->entropy_threshold[n] = t->threshold;
        r->kept_fraction[n] = r->unlabelled_voxels > 0
                                  ? (double)t->reliable / (double)r->unlabelled_voxels : 0.0;
        r->kept_foreground[n] = t->reliable > 0
                                    ? (double)t->reliable_foreground / (double)t->reliable : 0.0;
    }
}

ds_status ds_dual_loss_compute(ds_ctx *ctx, ds_dual_loss *work, const ds_loss_options *opt,
                               const ds_loss_inputs *in, ds_tensor *dlogits[2],
                               ds_tensor *dfeature[2], ds_loss_report *report)
{
    TRY(check_inputs(ctx, work, opt, in, dlogits, dfeature));
    const ds_tensor *z = in->logits[0];
    loss_call c = {.opt = opt, .in = in, .w = work};
    c.g = (loss_geom){z->n, z->c, z->d * z->h * z->w, ds_ctx_threads(ctx)};
    const int two = in->net_count == 2;
    const int64_t F = opt->enabled[DS_LOSS_CON] && two ? in->feature[0]->c : 0;
    TRY(grow(ctx, work, &c.g, F));
    TRY(prepare_nets(ctx, &c));

    ds_loss_report r;
    memset(&r, 0, sizeof r);
    ds_rng rng = in->contrast_rng ? *in->contrast_rng : (ds_rng){{0, 0}, 0, 0};
    for (int n = 0; n < in->net_count; ++n) {
        ds_tensor_fill(dlogits[n], 0.0f);
        if (dfeature && dfeature[n])
            ds_tensor_fill(dfeature[n], 0.0f);
    }
    for (int n = 0; n < in->net_count; ++n)
        supervised(&c, n, dlogits[n], &r);
    if (two && (opt->enabled[DS_LOSS_CCE] || opt->enabled[DS_LOSS_CON]))
        build_teachers(&c);
    for (int n = 0; two && n < 2; ++n)
        unsupervised(&c, n, dlogits[n], dfeature ? dfeature[n] : NULL, &rng, &r);
    report_totals(&c, &r);
    if (in->contrast_rng)
        *in->contrast_rng = rng;
    if (report)
        *report = r;
    return DS_OK;
}
