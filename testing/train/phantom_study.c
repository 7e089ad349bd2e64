/* phantom_study.c - see phantom_study.h. */
#include "phantom_study.h"

#include "ds_metrics.h"
#include "ds_phantom.h"
#include "ds_test.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

enum { TILE = 16, SIZE = 32, TRAIN_SIZE = 24 };

void phantom_study_init(phantom_study *s)
{
    memset(s, 0, sizeof *s);
    s->data_seed = 2026;
    s->train_seed = 1337;
    s->noise = 0.9f;
    s->labelled = 1;
    s->unlabelled = 10;
    s->held_out = 6;
    s->width = 4;
    s->iterations = 300;
    s->lr = 0.05f;
    s->patch = 16;
}

/* Site A (the labelled cases) or the shifted site B (unlabelled and held-out cases). */
static void site_options(const phantom_study *s, int shifted, int64_t size, ds_phantom_options *po)
{
    ds_phantom_options_init(po);
    po->size[0] = po->size[1] = po->size[2] = size;
    po->blobs = 2;
    po->distractors = 2;
    po->noise = s->noise;
    po->bias = 0.5f;
    if (shifted) {
        po->contrast = 1.0f - 0.5f * s->shift;
        po->bias = 0.5f + 0.4f * s->shift;
    }
}

/* Keeps the label on `slices` z slices spread evenly through the ones holding foreground; the
 * others get the ignore label, as an annotator who labels a few slices leaves them. */
static void keep_slices(ds_volume *lab, int slices)
{
    int64_t nx = lab->geom.size[0], ny = lab->geom.size[1], nz = lab->geom.size[2];
    int64_t plane = nx * ny, lo = -1, hi = -1;
    for (int64_t z = 0; z < nz; ++z)
        for (int64_t v = 0; v < plane; ++v)
            if (lab->labels[z * plane + v] != 0) {
                lo = lo < 0 ? z : lo;
                hi = z;
                break;
            }
    for (int64_t z = 0; z < nz; ++z) {
        int keep = 0;
        for (int k = 0; k < slices && lo >= 0; ++k)
            keep |= z == lo + (2 * k + 1) * (hi - lo + 1) / (2 * slices);
        if (!keep)
            for (int64_t v = 0; v < plane; ++v)
                lab->labels[z * plane + v] = DS_IGNORE_LABEL_DEFAULT;
    }
}

/* Cases first .. first + count - 1 of site `shifted`; labels kept when `labelled` (on s->slices
 * slices only when `partial`). */
static void add_cases(ds_ctx *ctx, const phantom_study *s, ds_train_data *d, uint32_t first,
                      int count, int labelled, int partial, int shifted, int64_t size)
{
    ds_phantom_options po;
    site_options(s, shifted, size, &po);
    for (int i = 0; i < count; ++i) {
        ds_volume *img = NULL, *lab = NULL;
        DS_CHECK_OK(ctx, ds_phantom_generate(ctx, &po, s->data_seed, first + (uint32_t)i, &img,
                                             &lab));
        DS_CHECK_OK(ctx, ds_volume_zscore(ctx, img, "phantom"));
        if (labelled && partial && s->slices > 0)
            keep_slices(lab, s->slices);
        DS_CHECK_OK(ctx, ds_train_data_add(ctx, d, img, labelled ? lab : NULL));
        ds_volume_free(img);
        ds_volume_free(lab);
    }
}

static ds_train_data *new_set(ds_ctx *ctx)
{
    ds_load_options lo;
    ds_load_options_default(&lo);
    lo.num_classes = 2;
    ds_train_data *d = NULL;
    DS_CHECK_OK(ctx, ds_train_data_create(ctx, &lo, &d));
    return d;
}

/* Softmax of class 1, averaged over the networks, for one tile at (x0, y0, z0). */
static void segment_tile(ds_ctx *ctx, ds_model *m, const ds_volume *img, int64_t x0, int64_t y0,
                         int64_t z0, ds_tensor *x, uint16_t *out)
{
    for (int64_t z = 0; z < TILE; ++z)
        for (int64_t y = 0; y < TILE; ++y)
            memcpy(ds_tensor_at(x, 0, 0, z, y, 0),
                   img->values + x0 + SIZE * ((y0 + y) + SIZE * (z0 + z)), TILE * sizeof(float));
    float p1[TILE * TILE * TILE] = {0};
    for (int i = 0; i < m->net_count; ++i) {
        const ds_tensor *logits, *feature;
        DS_CHECK_OK(ctx, ds_net_forward(ctx, m->net[i], x, 0, NULL, &logits, &feature));
        for (int64_t v = 0; v < TILE * TILE * TILE; ++v) {
            float a = logits->data[v], b = logits->data[TILE * TILE * TILE + v];
            p1[v] += 1.0f / (1.0f + expf(a - b)) / (float)m->net_count;
        }
    }
    for (int64_t z = 0; z < TILE; ++z)
        for (int64_t y = 0; y < TILE; ++y)
            for (int64_t xx = 0; xx < TILE; ++xx)
                out[(x0 + xx) + SIZE * ((y0 + y) + SIZE * (z0 + z))] =
                    p1[(z * TILE + y) * TILE + xx] > 0.5f;
}

/* Dice (ds_metrics, medpy's definition) of each held-out case, segmented as eight 16^3 tiles. */
static void score(ds_ctx *ctx, ds_model *m, const ds_train_data *held, phantom_result *out)
{
    ds_tensor *x = NULL;
    DS_CHECK_OK(ctx, ds_tensor_create(ctx, &x, 1, 1, TILE, TILE, TILE));
    uint16_t *pred = malloc(SIZE * SIZE * SIZE * sizeof(uint16_t));
    out->mean = 0;
    for (int c = 0; c < ds_train_data_count(held); ++c) {
        const ds_volume *img = ds_train_data_image(held, c);
        for (int64_t z = 0; z < SIZE; z += TILE)
            for (int64_t y = 0; y < SIZE; y += TILE)
                for (int64_t xx = 0; xx < SIZE; xx += TILE)
                    segment_tile(ctx, m, img, xx, y, z, x, pred);
        ds_metrics_options mo;
        ds_metrics_options_init(&mo);
        mo.empty = DS_METRICS_EMPTY_LITERATURE;
        ds_metrics_result r;
        DS_CHECK_OK(ctx, ds_metrics_labels(ctx, pred, ds_train_data_label(held, c)->labels,
                                           img->geom.size, img->geom.spacing, &mo, &r));
        out->dice[c] = r.value[DS_METRIC_DICE];
        out->mean += out->dice[c] / ds_train_data_count(held);
    }
    free(pred);
    ds_tensor_free(x);
}

void phantom_study_run(ds_ctx *ctx, const phantom_study *s, ds_pair_mode pair,
                       phantom_result *out)
{
    memset(out, 0, sizeof *out);
    int single = pair == DS_PAIR_SINGLE;
    /* The unlabelled cases start at index 100 and the held-out ones at 1000 so that a study's
     * cases do not change with the number of labelled or unlabelled ones. */
    ds_train_data *train = new_set(ctx), *held = new_set(ctx);
    add_cases(ctx, s, train, 0, s->labelled, 1, 1, 0, TRAIN_SIZE);
    if (!single)
        add_cases(ctx, s, train, 100, s->unlabelled, 0, 0, 1, TRAIN_SIZE);
    add_cases(ctx, s, held, 1000, s->held_out, 1, 0, 1, SIZE);
    ds_train_options o;
    ds_train_options_init(&o);
    o.pair = pair;
    o.width = s->width;
    o.iterations = s->iterations;
    o.lr = s->lr;
    o.seed = s->train_seed;
    o.batch.patch[0] = o.batch.patch[1] = o.batch.patch[2] = s->patch;
    o.loss.max_uncertain = 500;
    o.loss.mask_mode = s->mask;
    ds_model *m = NULL;
    ds_train_result r;
    struct timespec t0, t1;
    clock_t c0 = clock();
    clock_gettime(CLOCK_MONOTONIC, &t0);
    DS_CHECK_OK(ctx, ds_train_run(ctx, &o, train, &m, &r));
    clock_gettime(CLOCK_MONOTONIC, &t1);
    out->seconds = (double)(t1.tv_sec - t0.tv_sec) + 1e-9 * (double)(t1.tv_nsec - t0.tv_nsec);
    out->cpu_seconds = (double)(clock() - c0) / CLOCKS_PER_SEC;
    if (m)
        score(ctx, m, held, out);
    out->kept_fraction = r.last.kept_fraction[0];
    out->kept_foreground = r.last.kept_foreground[0];
    ds_model_free(m);
    ds_train_data_free(train);
    ds_train_data_free(held);
}

void phantom_study_seed(ds_ctx *ctx, const phantom_study *s, int k, phantom_result *dual,
                        phantom_result *supervised)
{
    phantom_study run = *s;
    run.data_seed = 2026 + (uint64_t)k;
    run.train_seed = 1337 + (uint64_t)k;
    phantom_study_run(ctx, &run, DS_PAIR_HETEROGENEOUS, dual);
    phantom_study_run(ctx, &run, DS_PAIR_SINGLE, supervised);
}
