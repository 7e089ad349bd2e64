/* phantom.c - deterministic synthetic volumes (ds_phantom.h). */
#include "ds_phantom.h"
#include "ds_rng.h"

#include <math.h>
#include <stdlib.h>

void ds_phantom_options_init(ds_phantom_options *opt)
{
    *opt = (ds_phantom_options){{32, 32, 32}, {1, 1, 1}, 2, 2, 0, 0.12, 0.25, 1.0f, 0.3f, 0.3f,
                                0.5, 1.6f};
}

typedef struct ellipsoid {
    double c[3];     /* centre, voxels */
    double r[3];     /* semi-axes, voxels */
    double rot[9];   /* row-major rotation: body coordinates = rot * (p - c) */
} ellipsoid;

static double uniform(ds_rng *rng, double lo, double hi)
{
    return lo + (hi - lo) * ds_rng_uniform(rng);
}

/* A random orientation from three angles (z-y-z Euler; not uniform on SO(3), which a phantom
 * does not need). */
static void random_rotation(ds_rng *rng, double rot[9])
{
    const double pi = 3.14159265358979323846;
    double a = uniform(rng, 0, 2 * pi), b = uniform(rng, 0, pi), g = uniform(rng, 0, 2 * pi);
    double ca = cos(a), sa = sin(a), cb = cos(b), sb = sin(b), cg = cos(g), sg = sin(g);
    double m[9] = {ca * cb * cg - sa * sg, -ca * cb * sg - sa * cg, ca * sb,
                   sa * cb * cg + ca * sg, -sa * cb * sg + ca * cg, sa * sb,
                   -sb * cg, sb * sg, cb};
    for (int i = 0; i < 9; ++i)
        rot[i] = m[i];
}

static void random_ellipsoid(ds_rng *rng, const int64_t size[3], const double r[3],
                             ellipsoid *e)
{
    double rmax = fmax(r[0], fmax(r[1], r[2]));
    for (int a = 0; a < 3; ++a) {
        double lo = fmin(rmax, size[a] / 2.0), hi = fmax(lo, size[a] - 1 - rmax);
        e->c[a] = uniform(rng, lo, hi);
        e->r[a] = r[a];
    }
    random_rotation(rng, e->rot);
}

/* (body-frame distance)^2 / 1 at voxel p scaled by s: <= 1 inside the ellipsoid scaled by s. */
static double inside(const ellipsoid *e, double x, double y, double z, double s)
{
    double d[3] = {x - e->c[0], y - e->c[1], z - e->c[2]}, q = 0;
    for (int i = 0; i < 3; ++i) {
        double b = e->rot[3 * i] * d[0] + e->rot[3 * i + 1] * d[1] + e->rot[3 * i + 2] * d[2];
        q += (b / (s * e->r[i])) * (b / (s * e->r[i]));
    }
    return q;
}

static ds_status check(ds_ctx *ctx, const ds_phantom_options *o)
{
    for (int a = 0; a < 3; ++a)
        if (o->size[a] < 4 || o->size[a] > 1024 || !(o->spacing[a] > 0))
            return ds_fail(ctx, DS_ERR_ARG, "phantom: size %lld / spacing %g along axis %d",
                           (long long)o->size[a], o->spacing[a], a);
    if (o->classes < 2 || o->classes > 3 || o->blobs < 1 || o->blobs > 16 ||
        o->distractors < 0 || o->distractors > 16)
        return ds_fail(ctx, DS_ERR_ARG, "phantom: %d classes (2..3), %d blobs (1..16), "
                       "%d distractors (0..16)", o->classes, o->blobs, o->distractors);
    if (!(o->radius_min > 0 && o->radius_min <= o->radius_max && o->radius_max <= 0.5) ||
        !(o->noise >= 0) || !(o->bias >= 0 && o->bias < 1) || !isfinite(o->contrast))
        return ds_fail(ctx, DS_ERR_ARG, "phantom: radii %g..%g (0..0.5), noise %g, bias %g (0..1)",
                       o->radius_min, o->radius_max, o->noise, o->bias);
    if (!(o->core_scale > 0 && o->core_scale < 1) || !isfinite(o->core_contrast))
        return ds_fail(ctx, DS_ERR_ARG, "phantom: core scale %g (0..1), core contrast %g",
                       o->core_scale, (double)o->core_contrast);
    return DS_OK;
}

/* Draws the shapes, writes labels and noise-free intensities. */
static void draw_shapes(const ds_phantom_options *o, ds_rng *rng, float *img, uint16_t *lab)
{
    const int64_t *n = o->size;
    double smallest = (double)(n[0] < n[1] ? (n[0] < n[2] ? n[0] : n[2]) : (n[1] < n[2] ? n[1] : n[2]));
    ellipsoid shapes[32];
    int kinds[32], count = 0; /* 0: distractor, 1: blob */
    for (int i = 0; i < o->distractors; ++i, ++count) {
        double thin = o->radius_min * smallest * 0.4, len = o->radius_max * smallest * 1.4;
        random_ellipsoid(rng, n, (double[3]){len, thin, thin}, &shapes[count]);
        kinds[count] = 0;
    }
    for (int i = 0; i < o->blobs; ++i, ++count) {
        double r[3];
        for (int a = 0; a < 3; ++a)
            r[a] = uniform(rng, o->radius_min, o->radius_max) * smallest;
        random_ellipsoid(rng, n, r, &shapes[count]);
        kinds[count] = 1;
    }
    double dir[3], norm = 0;
    for (int a = 0; a < 3; ++a) {
        dir[a] = uniform(rng, -1, 1);
        norm += dir[a] * dir[a];
    }
    norm = sqrt(norm) + 1e-12;
    for (int64_t z = 0; z < n[2]; ++z)
        for (int64_t y = 0; y < n[1]; ++y)
            for (int64_t x = 0; x < n[0]; ++x) {
                int64_t v = x + n[0] * (y + n[1] * z);
                float value = 0.0f;
                uint16_t label = 0;
                for (int s = 0; s < count; ++s) {
                    if (inside(&shapes[s], (double)x, (double)y, (double)z, 1.0) > 1.0)
                        continue;
                    value = o->contrast;
                    label = (uint16_t)kinds[s];
                    if (kinds[s] && o->classes == 3 &&
                        inside(&shapes[s], (double)x, (double)y, (double)z,
                               o->core_scale) <= 1.0) {
                        value = o->core_contrast * o->contrast;
                        label = 2;
                    }
                }
                /* a linear bias across the volume in a random direction, in [-1, 1] */
                double b = (dir[0] * (2.0 * x / n[0] - 1) + dir[1] * (2.0 * y / n[1] - 1) +
                            dir[2] * (2.0 * z / n[2] - 1)) / norm;
                img[v] = value * (float)(1.0 + o->bias * b) + (float)(0.2 * o->bias * b);
                lab[v] = label;
            }
}

ds_status ds_phantom_generate(ds_ctx *ctx, const ds_phantom_options *opt, uint64_t seed,
                              uint32_t index, ds_volume **image, ds_volume **label)
{
    if (!opt || !image || !label)
        return ds_fail(ctx, DS_ERR_ARG, "phantom: null argument");
    *image = *label = NULL;
    ds_status st = check(ctx, opt);
    if (st != DS_OK)
        return st;
    ds_geometry g;
    ds_geometry_identity(&g, opt->size[0], opt->size[1], opt->size[2]);
    for (int a = 0; a < 3; ++a)
        g.spacing[a] = opt->spacing[a];
    ds_volume *img = NULL, *lab = NULL;
    float *noise = NULL;
    int64_t voxels = ds_geometry_voxels(&g);
    st = ds_volume_create(ctx, &img, &g, DS_VOLUME_SCALAR);
    if (st == DS_OK)
        st = ds_volume_create(ctx, &lab, &g, DS_VOLUME_LABEL);
    if (st == DS_OK && !(noise = malloc((size_t)voxels * sizeof(float))))
        st = ds_fail(ctx, DS_ERR_NOMEM, "phantom: out of memory");
    if (st == DS_OK) {
        ds_rng rng;
        ds_rng_init(&rng, seed, DS_RNG_SYNTHETIC);
        rng.counter = (uint64_t)index << 40;
        ds_rng noise_rng = rng;
        noise_rng.counter += (uint64_t)1 << 20; /* the shapes use far fewer draws */
        draw_shapes(opt, &rng, img->values, lab->labels);
        st = ds_rng_fill_normal(ctx, &noise_rng, noise, (size_t)voxels, 0.0f, opt->noise);
    }
    if (st != DS_OK) {
        free(noise);
        ds_volume_free(img);
        ds_volume_free(lab);
        return st;
    }
    for (int64_t v = 0; v < voxels; ++v)
        img->values[v] += noise[v];
    free(noise);
    *image = img;
    *label = lab;
    return DS_OK;
}
