/* binary.c - Dice, Jaccard, HD95, ASD, ASSD, HD and volumes of one pair of masks, as
 * medpy.metric.binary computes them (definitions in ds_metrics.h).
 *
 * Work is confined to the bounding box of P u R, padded by one background voxel on each side.
 * This changes nothing: outside the box both masks are background, which is also what scipy's
 * erosion assumes beyond the array (border_value = 0); every surface voxel (query or feature of the
 * distance transform) lies in the box, and an exact distance transform restricted to a box that
 * holds all the features is exact at every voxel of the box.
 */
#include "metrics_internal.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* A mask read from a binary map (non-zero) or from a label map (== label). */
typedef struct source {
    const uint8_t *u8;
    const uint16_t *u16;
    uint16_t label;
} source;

static inline int in_mask(const source *s, int64_t i)
{
    return s->u16 ? s->u16[i] == s->label : s->u8[i] != 0;
}

enum { BIT_P = 1, BIT_R = 2 }; /* bits of the box buffers: prediction, reference */

/* The k-th smallest of a[0..n) (0 <= k < n), partitioning a around it (Hoare, median of three). */
static double select_kth(double *a, int64_t n, int64_t k)
{
    int64_t l = 0, r = n - 1;
    while (r > l) {
        const int64_t m = l + (r - l) / 2;
        double t;
        if (a[m] < a[l]) { t = a[m]; a[m] = a[l]; a[l] = t; }
        if (a[r] < a[l]) { t = a[r]; a[r] = a[l]; a[l] = t; }
        if (a[r] < a[m]) { t = a[r]; a[r] = a[m]; a[m] = t; }
        const double pivot = a[m];
        int64_t i = l, j = r;
        while (i <= j) {
            while (a[i] < pivot)
                ++i;
            while (a[j] > pivot)
                --j;
            if (i <= j) {
                t = a[i]; a[i] = a[j]; a[j] = t;
                ++i;
                --j;
            }
        }
        if (k <= j)
            r = j;
        else if (k >= i)
            l = i;
        else
            return a[k];
    }
    return a[k];
}

/* numpy.percentile(a, q) with the default 'linear' method (numpy 1.22+ arithmetic: the virtual
 * index n q + (1 - q) - 1, and _lerp's two-sided form). Reorders a. n >= 1. */
static double percentile_linear(double *a, int64_t n, double q_percent)
{
    const double q = q_percent / 100.0;
    const double virt = (double)n * q + (1.0 + q * (1.0 - 1.0 - 1.0)) - 1.0;
    if (virt >= (double)(n - 1)) {
        double mx = a[0];
        for (int64_t i = 1; i < n; ++i)
            mx = a[i] > mx ? a[i] : mx;
        return mx;
    }
    if (virt < 0.0) {
        double mn = a[0];
        for (int64_t i = 1; i < n; ++i)
            mn = a[i] < mn ? a[i] : mn;
        return mn;
    }
    const double prev = floor(virt);
    const int64_t lo = (int64_t)prev;
    const double below = select_kth(a, n, lo);
    double above = a[lo + 1];
    for (int64_t i = lo + 2; i < n; ++i)
        above = a[i] < above ? a[i] : above;
    const double t = virt - prev, diff = above - below;
    return t >= 0.5 ? above - diff * (1.0 - t) : below + diff * t;
}

typedef struct box {
    int64_t x0, y0, z0;   /* array coordinates of the box's first interior voxel */
    int64_t nx, ny, nz;   /* padded dimensions */
} box;

/* Counts |P|, |R|, |P n R| and the bounding box of P u R (x1 < x0 when both are empty). */
static void count_and_bound(int threads, const source *P, const source *R, const int64_t size[3],
                            int64_t *np_, int64_t *nr_, int64_t *ni_, int64_t lo[3], int64_t hi[3])
{
    const int64_t nx = size[0], ny = size[1], nz = size[2];
    int64_t np = 0, nr = 0, ni = 0;
    int64_t x0 = nx, y0 = ny, z0 = nz, x1 = -1, y1 = -1, z1 = -1;
#pragma omp parallel for num_threads(threads) schedule(static) \
    reduction(+ : np, nr, ni) reduction(min : x0, y0, z0) reduction(max : x1, y1, z1)
    for (int64_t z = 0; z < nz; ++z)
        for (int64_t y = 0; y < ny; ++y) {
            const int64_t row = nx * (y + ny * z);
            for (int64_t x = 0; x < nx; ++x) {
                const int p = in_mask(P, row + x), r = in_mask(R, row + x);
                np += p;
                nr += r;
                ni += p & r;
                if (p | r) {
                    x0 = x < x0 ? x : x0;
                    x1 = x > x1 ? x : x1;
                    y0 = y < y0 ? y : y0;
                    y1 = y > y1 ? y : y1;
                    z0 = z < z0 ? z : z0;
                    z1 = z > z1 ? z : z1;
                }
            }
        }
    *np_ = np;
    *nr_ = nr;
    *ni_ = ni;
    lo[0] = x0; lo[1] = y0; lo[2] = z0;
    hi[0] = x1; hi[1] = y1; hi[2] = z1;
}

/* Fills the padded box with BIT_P / BIT_R, then marks the surfaces (mask voxels with a 6-neighbour
 * outside the mask) in surf and counts them per box slice. */
static void fill_and_surface(int threads, const source *P, const source *R, const int64_t size[3],
                             const box *b, uint8_t *mask, uint8_t *surf, int64_t *cnt_p,
                             int64_t *cnt_r)
{
    const int64_t sx = 1, sy = b->nx, sz = b->nx * b->ny;
#pragma omp parallel num_threads(threads)
    {
#pragma omp for schedule(static)
        for (int64_t z = 0; z < b->nz; ++z) {
            uint8_t *slice = mask + z * sz;
            memset(slice, 0, (size_t)sz);
            if (z == 0 || z == b->nz - 1)
                continue;
            for (int64_t y = 1; y < b->ny - 1; ++y) {
                const int64_t src = (b->x0) + size[0] * ((b->y0 + y - 1) + size[1] * (b->z0 + z - 1));
                uint8_t *dst = slice + y * sy;
                for (int64_t x = 1; x < b->nx - 1; ++x) {
                    const int64_t i = src + x - 1;
                    dst[x] = (uint8_t)((in_mask(P, i) ? BIT_P : 0) | (in_mask(R, i) ? BIT_R : 0));
                }
            }
        }
        /* implicit barrier: the whole mask is filled before its neighbours are read */
#pragma omp for schedule(static)
        for (int64_t z = 0; z < b->nz; ++z) {
            uint8_t *out = surf + z * sz;
            int64_t cp = 0, cr = 0;
            memset(out, 0, (size_t)sz);
            if (z > 0 && z < b->nz - 1)
                for (int64_t y = 1; y < b->ny - 1; ++y)
                    for (int64_t x = 1; x < b->nx - 1; ++x) {
                        const int64_t i = x * sx + y * sy + z * sz;
                        const uint8_t m = mask[i];
                        if (!m)
                            continue;
                        const uint8_t all = mask[i - sx] & mask[i + sx] & mask[i - sy] &
                                            mask[i + sy] & mask[i - sz] & mask[i + sz];
                        const uint8_t s = (uint8_t)(m & ~all);
                        out[x + y * sy] = s;
                        cp += (s & BIT_P) != 0;
                        cr += (s & BIT_R) != 0;
                    }
            cnt_p[z] = cp;
            cnt_r[z] = cr;
        }
    }
}

/* For every voxel of surf with bit `query` (in index order), the distance sqrt(dist_sq) there,
 * written at dst + offset[z] for box slice z. */
static void gather(int threads, const box *b, const uint8_t *surf, uint8_t query,
                   const double *dist_sq, const int64_t *offset, double *dst)
{
    const int64_t sz = b->nx * b->ny;
#pragma omp parallel for num_threads(threads) schedule(static)
    for (int64_t z = 0; z < b->nz; ++z) {
        double *o = dst + offset[z];
        for (int64_t i = z * sz; i < (z + 1) * sz; ++i)
            if (surf[i] & query)
                *o++ = sqrt(dist_sq[i]);
    }
}

static void set_distances(ds_metrics_result *out, double v)
{
    out->value[DS_METRIC_HD95] = v;
    out->value[DS_METRIC_ASD] = v;
    out->value[DS_METRIC_ASSD] = v;
    out->value[DS_METRIC_HD] = v;
}

static ds_status evaluate(ds_ctx *ctx, const source *P, const source *R, const int64_t size[3],
                          const double spacing[3], const ds_metrics_options *opts,
                          ds_metrics_result *out, const char *what)
{
    const int threads = ds_ctx_threads(ctx);
    int64_t np, nr, ni, lo[3], hi[3];
    count_and_bound(threads, P, R, size, &np, &nr, &ni, lo, hi);

    memset(out, 0, sizeof *out);
    const double voxel_mm3 = spacing[0] * spacing[1] * spacing[2];
    out->pred_voxels = np;
    out->ref_voxels = nr;
    out->value[DS_METRIC_PRED_MM3] = (double)np * voxel_mm3;
    out->value[DS_METRIC_REF_MM3] = (double)nr * voxel_mm3;
    out->value[DS_METRIC_VOL_DIFF_MM3] = out->value[DS_METRIC_PRED_MM3] - out->value[DS_METRIC_REF_MM3];
    out->value[DS_METRIC_RAVD] = nr > 0 ? (double)(np - nr) / (double)nr : NAN;
    out->value[DS_METRIC_DICE] = np + nr > 0 ? 2.0 * (double)ni / (double)(np + nr) : NAN;
    out->value[DS_METRIC_JACCARD] = np + nr > 0 ? (double)ni / (double)(np + nr - ni) : NAN;

    if (np == 0 || nr == 0) {
        out->flags = (np == 0 ? DS_METRICS_PRED_EMPTY : 0u) | (nr == 0 ? DS_METRICS_REF_EMPTY : 0u);
        if (np == 0 && opts->empty == DS_METRICS_EMPTY_LITERATURE) {
            out->flags |= DS_METRICS_SCORED_ZERO;
            out->value[DS_METRIC_DICE] = 0.0;
            out->value[DS_METRIC_JACCARD] = 0.0;
            set_distances(out, 0.0);
        } else {
            out->flags |= DS_METRICS_EXCLUDED;
            set_distances(out, NAN);
        }
        return DS_OK;
    }

    box b;
    b.x0 = lo[0]; b.y0 = lo[1]; b.z0 = lo[2];
    b.nx = hi[0] - lo[0] + 3;
    b.ny = hi[1] - lo[1] + 3;
    b.nz = hi[2] - lo[2] + 3;
    const int64_t bn = b.nx * b.ny * b.nz;
    uint8_t *mask = malloc((size_t)bn), *surf = malloc((size_t)bn);
    int64_t *cnt = malloc(sizeof(int64_t) * 4 * (size_t)b.nz);
    double *dist = malloc(sizeof(double) * (size_t)bn);
    double *pool = NULL;
    ds_status st = DS_OK;
    if (!mask || !surf || !cnt || !dist) {
        st = ds_fail(ctx, DS_ERR_NOMEM, "%s: out of memory for a %lld x %lld x %lld box", what,
                     (long long)b.nx, (long long)b.ny, (long long)b.nz);
        goto done;
    }
    int64_t *cnt_p = cnt, *cnt_r = cnt + b.nz, *off_p = cnt + 2 * b.nz, *off_r = cnt + 3 * b.nz;
    fill_and_surface(threads, P, R, size, &b, mask, surf, cnt_p, cnt_r);
    int64_t sp = 0, sr = 0;
    for (int64_t z = 0; z < b.nz; ++z) {
        off_p[z] = sp;
        sp += cnt_p[z];
    }
    for (int64_t z = 0; z < b.nz; ++z) {
        off_r[z] = sp + sr; /* the reference's distances follow the prediction's in the pool */
        sr += cnt_r[z];
    }
    out->pred_surface = sp;
    out->ref_surface = sr;
    pool = malloc(sizeof(double) * (size_t)(sp + sr));
    if (!pool || sp == 0 || sr == 0) {
        st = !pool ? ds_fail(ctx, DS_ERR_NOMEM, "%s: out of memory for %lld surface distances",
                             what, (long long)(sp + sr))
                   : ds_fail(ctx, DS_ERR_INTERNAL, "%s: a non-empty mask has no surface", what);
        goto done;
    }

    const double unit[3] = {1.0, 1.0, 1.0};
    const double *dspacing = opts->units == DS_METRICS_VOXELS ? unit : spacing;
    /* sds(P, R): distance transform of surface(R), read at surface(P); then the converse */
    if (ds_metrics_edt_sq(threads, surf, BIT_R, b.nx, b.ny, b.nz, dspacing, dist) != DS_OK) {
        st = ds_fail(ctx, DS_ERR_NOMEM, "%s: out of memory for the distance transform", what);
        goto done;
    }
    gather(threads, &b, surf, BIT_P, dist, off_p, pool);
    if (ds_metrics_edt_sq(threads, surf, BIT_P, b.nx, b.ny, b.nz, dspacing, dist) != DS_OK) {
        st = ds_fail(ctx, DS_ERR_NOMEM, "%s: out of memory for the distance transform", what);
        goto done;
    }
    gather(threads, &b, surf, BIT_R, dist, off_r, pool);

    double sum_p = 0.0, sum_r = 0.0, mx = 0.0;
    for (int64_t i = 0; i < sp; ++i) {
        sum_p += pool[i];
        mx = pool[i] > mx ? pool[i] : mx;
    }
    for (int64_t i = sp; i < sp + sr; ++i) {
        sum_r += pool[i];
        mx = pool[i] > mx ? pool[i] : mx;
    }
    const double asd_p = sum_p / (double)sp, asd_r = sum_r / (double)sr;
    out->value[DS_METRIC_ASD] = asd_p;
    out->value[DS_METRIC_ASSD] = 0.5 * (asd_p + asd_r);
    out->value[DS_METRIC_HD] = mx;
    out->value[DS_METRIC_HD95] = percentile_linear(pool, sp + sr, 95.0);

done:
    free(pool);
    free(dist);
    free(cnt);
    free(surf);
    free(mask);
    return st;
}

ds_status ds_metrics_binary(ds_ctx *ctx, const uint8_t *pred, const uint8_t *ref,
                            const int64_t size[3], const double spacing[3],
                            const ds_metrics_options *opts, ds_metrics_result *out)
{
    static const char what[] = "ds_metrics_binary";
    int64_t voxels;
    ds_status st = ds_metrics_check_grid(ctx, size, spacing, what, &voxels);
    if (st != DS_OK)
        return st;
    if (!pred || !ref || !out)
        return ds_fail(ctx, DS_ERR_ARG, "%s: %s is NULL", what,
                       !pred ? "pred" : !ref ? "ref" : "out");
    ds_metrics_options o;
    ds_metrics_options_init(&o);
    if (opts) { /* num_classes is not used for binary masks */
        o.units = opts->units;
        o.empty = opts->empty;
        st = ds_metrics_resolve_options(ctx, &o, &o, what);
        if (st != DS_OK)
            return st;
    }
    const source P = {pred, NULL, 0}, R = {ref, NULL, 0};
    return evaluate(ctx, &P, &R, size, spacing, &o, out, what);
}

ds_status ds_metrics_labels(ds_ctx *ctx, const uint16_t *pred, const uint16_t *ref,
                            const int64_t size[3], const double spacing[3],
                            const ds_metrics_options *opts, ds_metrics_result *out)
{
    static const char what[] = "ds_metrics_labels";
    int64_t voxels;
    ds_status st = ds_metrics_check_grid(ctx, size, spacing, what, &voxels);
    if (st != DS_OK)
        return st;
    if (!pred || !ref || !out || !opts)
        return ds_fail(ctx, DS_ERR_ARG, "%s: %s is NULL", what,
                       !pred ? "pred" : !ref ? "ref" : !out ? "out" : "opts");
    ds_metrics_options o;
    st = ds_metrics_resolve_options(ctx, opts, &o, what);
    if (st == DS_OK)
        st = ds_metrics_check_labels(ctx, pred, voxels, o.num_classes, "ds_metrics_labels: pred", size);
    if (st == DS_OK)
        st = ds_metrics_check_labels(ctx, ref, voxels, o.num_classes, "ds_metrics_labels: ref", size);
    for (int c = 1; st == DS_OK && c < o.num_classes; ++c) {
        const source P = {NULL, pred, (uint16_t)c}, R = {NULL, ref, (uint16_t)c};
        st = evaluate(ctx, &P, &R, size, spacing, &o, &out[c - 1], what);
    }
    return st;
}
