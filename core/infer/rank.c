/* rank.c - what to label next: slices and cases ranked by the mean entropy of the predicted
 * foreground grown by a margin (so that confident background never wins). */
#include "infer_internal.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

void ds_infer_slice_options_init(ds_infer_slice_options *o)
{
    o->axis = 2;
    o->margin = 3;
    o->min_distance = 5;
    o->count = 5;
    o->skip = NULL;
}

/* Dilates mask along axis a by radius r into out (a line at a time: distance to the nearest set
 * voxel before and after, through two sweeps). */
static void dilate_axis(ds_ctx *ctx, const int64_t size[3], int a, int64_t r, const uint8_t *in,
                        uint8_t *out)
{
    const int64_t step = a == 0 ? 1 : a == 1 ? size[0] : size[0] * size[1];
    const int64_t len = size[a], lines = size[0] * size[1] * size[2] / len;
#pragma omp parallel for num_threads(ds_ctx_threads(ctx)) schedule(static)
    for (int64_t l = 0; l < lines; ++l) {
        /* The first voxel of line l: lines enumerate the other two axes. */
        const int64_t base = a == 0 ? l * size[0]
                           : a == 1 ? (l % size[0]) + (l / size[0]) * size[0] * size[1]
                                    : l;
        int64_t last = -r - 1; /* position of the last set voxel seen */
        for (int64_t i = 0; i < len; ++i) {
            if (in[base + i * step])
                last = i;
            out[base + i * step] = i - last <= r;
        }
        last = len + r;
        for (int64_t i = len - 1; i >= 0; --i) {
            if (in[base + i * step])
                last = i;
            if (last - i <= r)
                out[base + i * step] = 1;
        }
    }
}

/* The region: label != 0 grown by a cube of radius margin. Returns NULL when out of memory. */
static uint8_t *region_of(ds_ctx *ctx, const ds_volume *label, int margin)
{
    const int64_t n = ds_volume_voxels(label);
    uint8_t *a = malloc((size_t)n), *b = margin > 0 ? malloc((size_t)n) : NULL;
    if (!a || (margin > 0 && !b)) {
        free(a);
        free(b);
        return NULL;
    }
    for (int64_t i = 0; i < n; ++i)
        a[i] = label->labels[i] != 0;
    if (margin > 0) {
        dilate_axis(ctx, label->geom.size, 0, margin, a, b);
        dilate_axis(ctx, label->geom.size, 1, margin, b, a);
        dilate_axis(ctx, label->geom.size, 2, margin, a, b);
        free(a);
        a = b;
    }
    return a;
}

static ds_status check_pair(ds_ctx *ctx, const ds_volume *label, const ds_volume *entropy,
                            const char *what)
{
    if (!label || label->kind != DS_VOLUME_LABEL || !entropy || entropy->kind != DS_VOLUME_SCALAR)
        return ds_fail(ctx, DS_ERR_ARG, "%s: needs a label map and a scalar entropy map", what);
    for (int a = 0; a < 3; ++a)
        if (label->geom.size[a] != entropy->geom.size[a])
            return ds_fail(ctx, DS_ERR_SHAPE, "%s: label map and entropy map differ in size", what);
    return DS_OK;
}

typedef struct slice_score {
    int64_t index;
    double score;
} slice_score;

static int by_score(const void *pa, const void *pb)
{
    const slice_score *a = pa, *b = pb;
    if (a->score != b->score)
        return a->score < b->score ? 1 : -1;
    return (a->index > b->index) - (a->index < b->index);
}

/* Mean entropy inside the region per slice along axis; slices without region voxels get none.
 * Returns the number of scored slices written to s. */
static int64_t score_slices(const ds_volume *entropy, const uint8_t *region, int axis,
                            slice_score *s)
{
    const int64_t *size = entropy->geom.size;
    const int64_t len = size[axis];
    double *sum = calloc((size_t)len, sizeof *sum);
    int64_t *count = calloc((size_t)len, sizeof *count);
    if (!sum || !count) {
        free(sum);
        free(count);
        return -1;
    }
    int64_t i = 0;
    for (int64_t z = 0; z < size[2]; ++z)
        for (int64_t y = 0; y < size[1]; ++y)
            for (int64_t x = 0; x < size[0]; ++x, ++i)
                if (region[i]) {
                    const int64_t at = axis == 0 ? x : axis == 1 ? y : z;
                    sum[at] += entropy->values[i];
                    ++count[at];
                }
    int64_t scored = 0;
    for (int64_t k = 0; k < len; ++k)
        if (count[k])
            s[scored++] = (slice_score){k, sum[k] / (double)count[k]};
    free(sum);
    free(count);
    return scored;
}

/* Greedy choice: best first, then the best at least min_distance from all chosen; annotated
 * slices (skip) never. */
static int choose(const slice_score *s, int64_t scored, const ds_infer_slice_options *o,
                  int64_t *indices, double *scores)
{
    int found = 0;
    for (int64_t c = 0; c < scored && found < o->count; ++c) {
        int far = !(o->skip && o->skip[s[c].index]);
        for (int f = 0; f < found && far; ++f)
            far = llabs(s[c].index - indices[f]) >= o->min_distance;
        if (far) {
            indices[found] = s[c].index;
            scores[found++] = s[c].score;
        }
    }
    return found;
}

ds_status ds_infer_rank_slices(ds_ctx *ctx, const ds_volume *label, const ds_volume *entropy,
                               const ds_infer_slice_options *o, int64_t *indices, double *scores,
                               int *found)
{
    if (found)
        *found = 0;
    DS_TRY(check_pair(ctx, label, entropy, "slice ranking"));
    if (!o || o->axis < 0 || o->axis > 2 || o->margin < 0 || o->min_distance < 1 ||
        o->count < 1 || !indices || !scores || !found)
        return ds_fail(ctx, DS_ERR_ARG, "slice ranking: axis must be 0..2, margin >= 0, "
                       "min_distance >= 1, count >= 1, and the outputs set");
    const int64_t len = label->geom.size[o->axis];
    uint8_t *region = region_of(ctx, label, o->margin);
    slice_score *s = malloc((size_t)len * sizeof *s);
    const int64_t scored = region && s ? score_slices(entropy, region, o->axis, s) : -1;
    free(region);
    if (scored < 0) {
        free(s);
        return ds_fail(ctx, DS_ERR_NOMEM, "slice ranking: no memory");
    }
    qsort(s, (size_t)scored, sizeof *s, by_score);
    *found = choose(s, scored, o, indices, scores);
    free(s);
    return DS_OK;
}

ds_status ds_infer_score_case(ds_ctx *ctx, const ds_volume *label, const ds_volume *entropy,
                              int margin, ds_infer_case_score *out)
{
    DS_TRY(check_pair(ctx, label, entropy, "case score"));
    if (margin < 0 || !out)
        return ds_fail(ctx, DS_ERR_ARG, "case score: margin must be >= 0 and out set");
    uint8_t *region = region_of(ctx, label, margin);
    if (!region)
        return ds_fail(ctx, DS_ERR_NOMEM, "case score: no memory");
    const int64_t n = ds_volume_voxels(label);
    double sum = 0.0;
    int64_t count = 0;
    for (int64_t i = 0; i < n; ++i)
        if (region[i]) {
            sum += entropy->values[i];
            ++count;
        }
    free(region);
    out->score = count ? sum / (double)count : 0.0;
    out->region_voxels = count;
    return DS_OK;
}

static int by_case_score(const void *pa, const void *pb)
{
    const ds_infer_case_score *a = pa, *b = pb;
    if (a->score != b->score)
        return a->score < b->score ? 1 : -1;
    return (a->index > b->index) - (a->index < b->index);
}

void ds_infer_sort_scores(ds_infer_case_score *scores, int count)
{
    if (scores && count > 1)
        qsort(scores, (size_t)count, sizeof *scores, by_case_score);
}

ds_status ds_infer_rank_cases(ds_ctx *ctx, const ds_infer_result *const *results, int count,
                              int margin, ds_infer_case_score *ranked)
{
    if (!results || count < 0 || !ranked)
        return ds_fail(ctx, DS_ERR_ARG, "case ranking: null results or output");
    for (int i = 0; i < count; ++i) {
        if (!results[i])
            return ds_fail(ctx, DS_ERR_ARG, "case ranking: result %d is null", i);
        DS_TRY(ds_infer_score_case(ctx, results[i]->label, results[i]->entropy, margin,
                                   &ranked[i]));
        ranked[i].index = i;
    }
    ds_infer_sort_scores(ranked, count);
    return DS_OK;
}
