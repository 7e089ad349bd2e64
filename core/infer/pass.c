/* pass.c - the window pass: every window (and its flipped copies) through the networks, each
 * softmax weighted by the importance map and added into the accumulators. Windows are streamed
 * in batches; the accumulators are the only buffers of the volume's size. */
#include "infer_internal.h"

#include <inttypes.h>
#include <math.h>
#include <string.h>

#include "ds_tensor.h"

/* The window grid on the padded volume. */
typedef struct grid {
    int64_t size[3];    /* the image */
    int64_t pad[3];     /* zeros before the image along each axis */
    int64_t patch[3];
    int64_t *starts[3]; /* window starts on the padded axis */
    int64_t n[3];
    int64_t windows;
    int passes;         /* 1, or 8 flip combinations */
} grid;

static void grid_free(grid *g)
{
    for (int a = 0; a < 3; ++a)
        ds_aligned_free(g->starts[a]);
}

static ds_status grid_make(ds_ctx *ctx, const int64_t size[3], const int64_t patch[3],
                           const int64_t stride[3], int passes, grid *g)
{
    memset(g, 0, sizeof *g);
    g->windows = 1;
    g->passes = passes;
    ds_status st = DS_OK;
    for (int a = 0; a < 3 && st == DS_OK; ++a) {
        const int64_t padded = size[a] > patch[a] ? size[a] : patch[a];
        g->size[a] = size[a];
        g->patch[a] = patch[a];
        g->pad[a] = (padded - size[a]) / 2;
        st = ds_infer_window_starts(ctx, padded, patch[a], stride[a], NULL, 0, &g->n[a]);
        if (st == DS_OK) {
            g->starts[a] = ds_aligned_alloc((size_t)g->n[a] * sizeof(int64_t));
            st = g->starts[a] ? ds_infer_window_starts(ctx, padded, patch[a], stride[a],
                                                       g->starts[a], g->n[a], &g->n[a])
                              : ds_fail(ctx, DS_ERR_NOMEM, "inference: no memory for the "
                                        "window grid");
        }
        g->windows *= g->n[a];
    }
    if (st != DS_OK)
        grid_free(g);
    return st;
}

/* Window w's start (padded coordinates) and flip f's axes of job j (window-major). */
static void job_of(const grid *g, int64_t j, int64_t start[3], int flip[3])
{
    const int64_t w = j / g->passes;
    const int f = (int)(j % g->passes);
    start[0] = g->starts[0][w % g->n[0]];
    start[1] = g->starts[1][(w / g->n[0]) % g->n[1]];
    start[2] = g->starts[2][w / (g->n[0] * g->n[1])];
    for (int a = 0; a < 3; ++a)
        flip[a] = (f >> a) & 1;
}

/* Image coordinate along axis a of window-local index i of a (possibly flipped) window;
 * outside 0..size-1 it lies in the padding. */
static inline int64_t image_coord(const grid *g, int a, const int64_t start[3], const int flip[3],
                                  int64_t i)
{
    return start[a] + (flip[a] ? g->patch[a] - 1 - i : i) - g->pad[a];
}

/* Copies window j (mirrored as its flip says, zeros in the padding) into dst. */
static void extract(ds_ctx *ctx, const grid *g, const float *values, int64_t j, float *dst)
{
    int64_t start[3];
    int flip[3];
    job_of(g, j, start, flip);
    const int64_t px = g->patch[0], py = g->patch[1], pz = g->patch[2];
#pragma omp parallel for num_threads(ds_ctx_threads(ctx)) schedule(static)
    for (int64_t z = 0; z < pz; ++z)
        for (int64_t y = 0; y < py; ++y) {
            float *row = dst + (z * py + y) * px;
            const int64_t iz = image_coord(g, 2, start, flip, z);
            const int64_t iy = image_coord(g, 1, start, flip, y);
            if (iz < 0 || iz >= g->size[2] || iy < 0 || iy >= g->size[1]) {
                memset(row, 0, (size_t)px * sizeof(float));
                continue;
            }
            const float *src = values + (iz * g->size[1] + iy) * g->size[0];
            for (int64_t x = 0; x < px; ++x) {
                const int64_t ix = image_coord(g, 0, start, flip, x);
                row[x] = ix >= 0 && ix < g->size[0] ? src[ix] : 0.0f;
            }
        }
}

/* Adds scale * map * softmax(logits) of window j into the K planes of the image's size.
 * Output voxel (x, y, z) of a flipped window belongs to image voxel image_coord(..). */
static void accumulate(ds_ctx *ctx, const grid *g, const float *logits, int classes,
                       const float *map, float scale, int64_t j, float *const *planes)
{
    int64_t start[3];
    int flip[3];
    job_of(g, j, start, flip);
    const int64_t px = g->patch[0], py = g->patch[1], pz = g->patch[2];
    const int64_t plane = px * py * pz;
#pragma omp parallel for num_threads(ds_ctx_threads(ctx)) schedule(static)
    for (int64_t z = 0; z < pz; ++z) {
        const int64_t iz = image_coord(g, 2, start, flip, z);
        if (iz < 0 || iz >= g->size[2])
            continue;
        const int64_t lz = flip[2] ? pz - 1 - z : z;
        for (int64_t y = 0; y < py; ++y) {
            const int64_t iy = image_coord(g, 1, start, flip, y);
            if (iy < 0 || iy >= g->size[1])
                continue;
            const int64_t ly = flip[1] ? py - 1 - y : y;
            const float *wrow = map + (lz * py + ly) * px;
            const int64_t out_row = (z * py + y) * px;
            const int64_t img_row = (iz * g->size[1] + iy) * g->size[0];
            for (int64_t x = 0; x < px; ++x) {
                const int64_t ix = image_coord(g, 0, start, flip, x);
                if (ix < 0 || ix >= g->size[0])
                    continue;
                float e[DS_NET_MAX_CLASSES];
                float top = logits[out_row + x];
                for (int k = 1; k < classes; ++k)
                    top = fmaxf(top, logits[k * plane + out_row + x]);
                float total = 0.0f;
                for (int k = 0; k < classes; ++k) {
                    e[k] = expf(logits[k * plane + out_row + x] - top);
                    total += e[k];
                }
                const float w = scale * wrow[flip[0] ? px - 1 - x : x] / total;
                for (int k = 0; k < classes; ++k)
                    planes[k][img_row + ix] += w * e[k];
            }
        }
    }
}

void ds_infer_acc_free(ds_infer_acc *a)
{
    if (!a)
        return;
    for (int n = 0; n < 2; ++n)
        for (int k = 0; k < DS_NET_MAX_CLASSES; ++k)
            if (!a->lent[n][k])
                ds_aligned_free(a->plane[n][k]);
    memset(a, 0, sizeof *a);
}

ds_status ds_infer_acc_create(ds_ctx *ctx, const int64_t size[3], int classes, int nets,
                              float *const lend[2][DS_NET_MAX_CLASSES], ds_infer_acc *acc)
{
    memset(acc, 0, sizeof *acc);
    for (int a = 0; a < 3; ++a)
        acc->size[a] = size[a];
    acc->voxels = size[0] * size[1] * size[2];
    acc->classes = classes;
    acc->nets = nets;
    const size_t bytes = (size_t)acc->voxels * sizeof(float);
    for (int n = 0; n < nets; ++n)
        for (int k = 0; k < classes; ++k) {
            acc->lent[n][k] = lend && lend[n][k];
            acc->plane[n][k] = acc->lent[n][k] ? lend[n][k] : ds_aligned_alloc(bytes);
            if (!acc->plane[n][k]) {
                ds_infer_acc_free(acc);
                return ds_fail(ctx, DS_ERR_NOMEM, "inference: no memory for the accumulators "
                               "(%d x %d planes of %.0f MB)", nets, classes, (double)bytes / 1e6);
            }
            if (!acc->lent[n][k])
                memset(acc->plane[n][k], 0, bytes);
        }
    return DS_OK;
}

/* One batch: jobs j0..j0+nb-1 extracted into x, each network's softmax accumulated. */
static ds_status run_batch(ds_ctx *ctx, ds_net *const *nets, const grid *g, const float *values,
                           const float *map, ds_tensor *x, int64_t j0, ds_infer_acc *acc)
{
    const int64_t plane = g->patch[0] * g->patch[1] * g->patch[2];
    for (int64_t b = 0; b < x->n; ++b)
        extract(ctx, g, values, j0 + b, x->data + b * plane);
    for (int n = 0; n < acc->nets; ++n) {
        const ds_tensor *logits = NULL;
        DS_TRY(ds_net_forward(ctx, nets[n], x, 0, NULL, &logits, NULL));
        for (int64_t b = 0; b < x->n; ++b)
            accumulate(ctx, g, logits->data + b * acc->classes * plane, acc->classes, map,
                       1.0f / (float)g->passes, j0 + b, acc->plane[n]);
    }
    return DS_OK;
}

static ds_status run_jobs(ds_ctx *ctx, ds_net *const *nets, const grid *g, const float *values,
                          const float *map, int batch, ds_infer_progress *pr, ds_infer_acc *acc)
{
    const int64_t jobs = g->windows * g->passes;
    const int64_t full = batch < jobs ? batch : jobs;
    ds_tensor *x = NULL, *tail = NULL;
    ds_status st = ds_tensor_create(ctx, &x, full, 1, g->patch[2], g->patch[1], g->patch[0]);
    for (int64_t j = 0; j < jobs && st == DS_OK; j += full) {
        st = ds_infer_check_cancel(ctx, pr);
        if (st != DS_OK)
            break;
        ds_tensor *use = x;
        if (jobs - j < full) { /* the last, shorter batch: a view of the first samples */
            st = ds_tensor_view(ctx, &tail, x->data, jobs - j, 1, g->patch[2], g->patch[1],
                                g->patch[0]);
            use = tail;
        }
        if (st == DS_OK)
            st = run_batch(ctx, nets, g, values, map, use, j, acc);
        const int64_t done = j + use->n < jobs ? j + use->n : jobs;
        ds_infer_report(pr, (double)done / (double)jobs, "window %" PRId64 "/%" PRId64,
                        (done + g->passes - 1) / g->passes, g->windows);
    }
    ds_tensor_free(tail);
    ds_tensor_free(x);
    return st;
}

ds_status ds_infer_pass(ds_ctx *ctx, ds_net *const *nets, const float *values,
                        const int64_t patch[3], const int64_t stride[3],
                        const ds_infer_options *o, ds_infer_progress *pr, ds_infer_acc *acc)
{
    grid g;
    DS_TRY(grid_make(ctx, acc->size, patch, stride, o->tta == DS_INFER_TTA_FLIPS ? 8 : 1, &g));
    float *map = ds_aligned_alloc((size_t)(patch[0] * patch[1] * patch[2]) * sizeof(float));
    ds_status st = map ? ds_infer_importance_map(ctx, o->weighting, patch, map)
                       : ds_fail(ctx, DS_ERR_NOMEM, "inference: no memory for the importance map");
    if (st == DS_OK)
        st = run_jobs(ctx, nets, &g, values, map, o->batch, pr, acc);
    if (st == DS_OK) {
        acc->windows = g.windows;
        acc->passes = g.passes;
    }
    ds_aligned_free(map);
    grid_free(&g);
    return st;
}
