/* ds_phantom.h - small deterministic synthetic volumes for tests and the demo cohort.
 *
 * A phantom is a 3-D image with a label map: a textured background, `blobs` randomly placed,
 * sized and oriented ellipsoids of foreground class 1 (with K = 3, each blob holds an inner
 * ellipsoid of class 2, the core: same centre and orientation, smaller, brighter), optional distractors (ellipsoids as bright as class 1 but
 * labelled background, elongated into rods so that shape, not only intensity, tells them apart),
 * Gaussian noise and a smooth multiplicative bias field. Everything is drawn from the
 * DS_RNG_SYNTHETIC stream of `seed`, case `index` starting at its own position of the stream
 * (index << 40), so a case depends only on (options, seed, index) and on no other case, and is
 * the same for every thread count. The image is raw (mean ~0 background, ~contrast foreground):
 * normalise it as any other image.
 */
#ifndef DS_PHANTOM_H
#define DS_PHANTOM_H

#include <stdint.h>
#include "ds_volume.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct ds_phantom_options {
    int64_t size[3];     /* (x, y, z) voxels, each 4..1024 */
    double spacing[3];   /* mm */
    int classes;         /* 2 or 3 */
    int blobs;           /* foreground ellipsoids, 1..16 */
    int distractors;     /* bright rods labelled background, 0..16 */
    double radius_min, radius_max; /* blob semi-axes, as fractions of the smallest size */
    float contrast;      /* foreground mean minus background mean (in noise-free units) */
    float noise;         /* standard deviation of the Gaussian noise */
    float bias;          /* amplitude of the bias field: intensities times 1 + bias * b(x) */
    double core_scale;   /* K = 3: the core's semi-axes as a fraction of its blob's, (0, 1) */
    float core_contrast; /* K = 3: the core's mean as a multiple of contrast */
} ds_phantom_options;

/* 32^3 voxels of 1 mm, K = 2, 2 blobs, no distractor, radii 0.12..0.25, contrast 1, noise 0.3,
 * bias 0.3; a core (K = 3) of half the blob's size, 1.6 times as bright. */
void ds_phantom_options_init(ds_phantom_options *opt);

/* Generates case `index` of the phantom cohort of `seed`: *image (scalar) and *label. */
ds_status ds_phantom_generate(ds_ctx *ctx, const ds_phantom_options *opt, uint64_t seed,
                              uint32_t index, ds_volume **image, ds_volume **label);

#ifdef __cplusplus
}
#endif

#endif /* DS_PHANTOM_H */
