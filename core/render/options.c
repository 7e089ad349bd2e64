/* options.c - defaults, the palettes, input checks, the grey window and the focus voxel. */
#include "render_internal.h"
#include "ds_atomic_file.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

void ds_render_options_init(ds_render_options *o)
{
    memset(o, 0, sizeof *o);
    o->width = 1200;
    o->height = 520;
    o->percentile_lo = 1.0;
    o->percentile_hi = 99.0;
    o->entropy_min = 0.05f;
    o->entropy_opacity = 0.8f;
}

/* Dark red -> red -> orange -> light yellow: warm colours read as "attention" and none of them
 * is grey, so an overlaid voxel is never mistaken for tissue. */
static const double HEAT_STOPS[4][4] = {
    {0.00, 110, 0, 0}, {0.35, 215, 25, 0}, {0.70, 255, 150, 0}, {1.00, 255, 250, 120}};

void ds_render_heat_rgba(const ds_render_options *o, double t, uint8_t rgba[4])
{
    ds_render_options def;
    if (!o) {
        ds_render_options_init(&def);
        o = &def;
    }
    t = isnan(t) ? 0.0 : t < 0.0 ? 0.0 : t > 1.0 ? 1.0 : t;
    int s = 0;
    while (s < 2 && t > HEAT_STOPS[s + 1][0])
        ++s;
    double f = (t - HEAT_STOPS[s][0]) / (HEAT_STOPS[s + 1][0] - HEAT_STOPS[s][0]);
    for (int c = 0; c < 3; ++c)
        rgba[c] = (uint8_t)lround(HEAT_STOPS[s][c + 1] +
                                  f * (HEAT_STOPS[s + 1][c + 1] - HEAT_STOPS[s][c + 1]));
    double lo = o->entropy_min;
    /* opacity in proportion to the uncertainty: a faintly unsure background does not hide the
     * anatomy, a region the networks cannot decide on does */
    double a = t <= lo ? 0.0 : o->entropy_opacity * (t - lo) / (1.0 - lo);
    rgba[3] = (uint8_t)lround(255.0 * (a > 1.0 ? 1.0 : a));
}

/* Green, sky blue, magenta, white, cyan, pale violet: apart from each other and from the heat. */
static const uint8_t CLASS_RGB[DS_RENDER_CLASS_COLOURS][3] = {
    {40, 255, 40}, {40, 150, 255}, {255, 60, 255}, {255, 255, 255}, {0, 255, 255},
    {190, 160, 255}};

void ds_render_class_rgb(int k, uint8_t rgb[3])
{
    memcpy(rgb, CLASS_RGB[(k < 1 ? 0 : k - 1) % DS_RENDER_CLASS_COLOURS], 3);
}

static ds_status check_companion(ds_ctx *ctx, const ds_volume *image, const ds_volume *v,
                                 ds_volume_kind kind, const char *what)
{
    if (!v)
        return DS_OK;
    if (v->kind != kind)
        return ds_fail(ctx, DS_ERR_ARG, "render: the %s is not a %s volume", what,
                       kind == DS_VOLUME_LABEL ? "label" : "scalar");
    for (int a = 0; a < 3; ++a)
        if (v->geom.size[a] != image->geom.size[a])
            return ds_fail(ctx, DS_ERR_SHAPE,
                           "render: the %s is %lldx%lldx%lld, the image %lldx%lldx%lld", what,
                           (long long)v->geom.size[0], (long long)v->geom.size[1],
                           (long long)v->geom.size[2], (long long)image->geom.size[0],
                           (long long)image->geom.size[1], (long long)image->geom.size[2]);
    return DS_OK;
}

ds_status ds_render_check(ds_ctx *ctx, const ds_volume *image, const ds_volume *label,
                          const ds_volume *entropy, const ds_render_options *o,
                          const char *png_path)
{
    if (!o || !png_path || !png_path[0])
        return ds_fail(ctx, DS_ERR_ARG, "render: options or output path missing");
    if (o->width < 160 || o->height < 160 || o->width > DS_RENDER_MAX_SIDE ||
        o->height > DS_RENDER_MAX_SIDE)
        return ds_fail(ctx, DS_ERR_ARG, "render: picture size %dx%d (160..%d each)", o->width,
                       o->height, DS_RENDER_MAX_SIDE);
    if (!(o->percentile_lo >= 0.0 && o->percentile_lo < o->percentile_hi &&
          o->percentile_hi <= 100.0))
        return ds_fail(ctx, DS_ERR_ARG, "render: percentiles %g, %g (0 <= lo < hi <= 100)",
                       o->percentile_lo, o->percentile_hi);
    if (!(o->entropy_min >= 0.0f && o->entropy_min < 1.0f && o->entropy_opacity >= 0.0f &&
          o->entropy_opacity <= 1.0f))
        return ds_fail(ctx, DS_ERR_ARG, "render: entropy_min %g (0..1), opacity %g (0..1)",
                       (double)o->entropy_min, (double)o->entropy_opacity);
    if (!image || image->kind != DS_VOLUME_SCALAR)
        return ds_fail(ctx, DS_ERR_ARG, "render: the image is missing or not scalar");
    ds_status st = check_companion(ctx, image, label, DS_VOLUME_LABEL, "label map");
    return st != DS_OK ? st : check_companion(ctx, image, entropy, DS_VOLUME_SCALAR, "entropy");
}

#define WINDOW_BINS 4096

ds_status ds_render_window(ds_ctx *ctx, const ds_volume *image, const ds_render_options *o,
                           float *lo, float *hi)
{
    int64_t n = ds_volume_voxels(image), finite = 0;
    float mn = INFINITY, mx = -INFINITY;
    for (int64_t i = 0; i < n; ++i) {
        float v = image->values[i];
        if (isfinite(v)) {
            mn = v < mn ? v : mn;
            mx = v > mx ? v : mx;
            ++finite;
        }
    }
    if (finite == 0)
        return ds_fail(ctx, DS_ERR_NUMERIC, "render: the image has no finite value");
    int64_t *hist = calloc(WINDOW_BINS, sizeof *hist);
    if (!hist)
        return ds_fail(ctx, DS_ERR_NOMEM, "render: no memory for the histogram");
    double scale = mx > mn ? WINDOW_BINS / ((double)mx - mn) : 0.0;
    for (int64_t i = 0; i < n; ++i)
        if (isfinite(image->values[i])) {
            int b = (int)((image->values[i] - (double)mn) * scale);
            hist[b >= WINDOW_BINS ? WINDOW_BINS - 1 : b]++;
        }
    double want[2] = {o->percentile_lo / 100.0 * finite, o->percentile_hi / 100.0 * finite};
    float out[2] = {mn, mx};
    for (int e = 0; e < 2; ++e) {
        int64_t seen = 0;
        for (int b = 0; b < WINDOW_BINS; ++b) {
            seen += hist[b];
            if ((double)seen >= want[e]) {
                out[e] = (float)(mn + (e == 0 ? b : b + 1) / scale);
                break;
            }
        }
    }
    free(hist);
    *lo = out[0];
    *hi = out[1] > out[0] ? out[1] : out[0] + 1.0f;
    return DS_OK;
}

int ds_render_max_class(const ds_volume *label)
{
    int k = 0;
    int64_t n = label ? ds_volume_voxels(label) : 0;
    for (int64_t i = 0; i < n; ++i)
        if (label->labels[i] != DS_IGNORE_LABEL_DEFAULT && label->labels[i] > k)
            k = label->labels[i];
    return k;
}

/* The centre of the foreground's bounding box, or of the volume. */
static void box_centre(const ds_volume *label, const int64_t *size, int64_t focus[3])
{
    int64_t lo[3] = {size[0], size[1], size[2]}, hi[3] = {-1, -1, -1};
    for (int64_t k = 0; label && k < size[2]; ++k)
        for (int64_t j = 0; j < size[1]; ++j)
            for (int64_t i = 0; i < size[0]; ++i) {
                uint16_t l = label->labels[i + size[0] * (j + size[1] * k)];
                if (l == 0 || l == DS_IGNORE_LABEL_DEFAULT)
                    continue;
                int64_t p[3] = {i, j, k};
                for (int a = 0; a < 3; ++a) {
                    lo[a] = p[a] < lo[a] ? p[a] : lo[a];
                    hi[a] = p[a] > hi[a] ? p[a] : hi[a];
                }
            }
    for (int a = 0; a < 3; ++a)
        focus[a] = hi[a] < 0 ? size[a] / 2 : (lo[a] + hi[a]) / 2;
}

ds_status ds_render_focus(ds_ctx *ctx, const ds_volume *label, const ds_volume *entropy,
                          int64_t focus[3])
{
    if (!entropy || entropy->kind != DS_VOLUME_SCALAR || !focus)
        return ds_fail(ctx, DS_ERR_ARG, "render focus: entropy (scalar) and focus required");
    const int64_t *size = entropy->geom.size;
    if (label && (label->kind != DS_VOLUME_LABEL || label->geom.size[0] != size[0] ||
                  label->geom.size[1] != size[1] || label->geom.size[2] != size[2]))
        return ds_fail(ctx, DS_ERR_SHAPE, "render focus: the label map does not fit the entropy");
    double *sums[3];
    sums[0] = calloc((size_t)(size[0] + size[1] + size[2]), sizeof(double));
    if (!sums[0])
        return ds_fail(ctx, DS_ERR_NOMEM, "render focus: no memory");
    sums[1] = sums[0] + size[0];
    sums[2] = sums[1] + size[1];
    double total = 0.0;
    for (int64_t k = 0; k < size[2]; ++k)
        for (int64_t j = 0; j < size[1]; ++j)
            for (int64_t i = 0; i < size[0]; ++i) {
                float e = entropy->values[i + size[0] * (j + size[1] * k)];
                if (!(e > 0.0f))
                    continue;
                sums[0][i] += e;
                sums[1][j] += e;
                sums[2][k] += e;
                total += e;
            }
    if (total > 0.0) {
        for (int a = 0; a < 3; ++a) {
            focus[a] = 0;
            for (int64_t s = 1; s < size[a]; ++s)
                if (sums[a][s] > sums[a][focus[a]])
                    focus[a] = s;
        }
    } else {
        box_centre(label, size, focus);
    }
    free(sums[0]);
    return DS_OK;
}

ds_status ds_render_write_bytes(ds_ctx *ctx, const char *path, const void *data, size_t size)
{
    ds_atomic_file af;
    ds_status st = ds_atomic_open(ctx, &af, path);
    if (st != DS_OK)
        return st;
    if (size > 0 && fwrite(data, 1, size, af.f) != size) {
        ds_atomic_abort(&af);
        return ds_fail(ctx, DS_ERR_IO, "render: writing %s failed", path);
    }
    return ds_atomic_commit(ctx, &af);
}

ds_status ds_render_write_color_table(ds_ctx *ctx, const char *path)
{
    if (!path || !path[0])
        return ds_fail(ctx, DS_ERR_ARG, "colour table: no path");
    ds_atomic_file af;
    ds_status st = ds_atomic_open(ctx, &af, path);
    if (st != DS_OK)
        return st;
    fprintf(af.f, "# Color table file %s\n# %d values\n", path, DS_RENDER_HEAT_ENTRIES);
    fputs("# DualSeg normalised entropy (0..1 over the entries), heat, 0 transparent\n", af.f);
    for (int i = 0; i < DS_RENDER_HEAT_ENTRIES; ++i) {
        uint8_t c[4];
        double t = i / (double)(DS_RENDER_HEAT_ENTRIES - 1);
        ds_render_heat_rgba(NULL, t, c);
        fprintf(af.f, "%d entropy_%.3f %u %u %u %u\n", i, t, c[0], c[1], c[2], c[3]);
    }
    return ds_atomic_commit(ctx, &af);
}
