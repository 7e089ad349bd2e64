/* ds_model.h - the model file: a trained pair (or a single network) with everything needed to
 * segment new volumes the way the training volumes were seen, and to resume training exactly.
 *
 * Layout (all integers and floats little-endian; "str" = u32 length + UTF-8 bytes):
 *   magic "DUALSEG\x1A" (8 bytes), u32 format version (DS_MODEL_VERSION), u32 section count
 *   sections: u32 tag, u64 payload length, payload
 *     META   classes, in_channels, class names, normalisation, patch size, spacing, iteration,
 *            seed
 *     NET    index, arch, in_channels, classes, width; u32 parameter count, per parameter:
 *            str name, u64 numel, f32 values; u32 BatchNorm count, per BatchNorm: str name prefix,
 *            u32 channels, f32 running_mean, f32 running_var, i64 num_batches_tracked
 *     OPTIM  index, f32 lr, momentum, weight_decay, i64 steps, per parameter f32 momentum buffer
 *     RNG    u32 count, per stream: u32 key[2], u32 purpose, u64 counter
 *   trailer: u32 CRC-32 of every byte before it.
 * Saving writes a temporary file in the same folder, flushes it to disk, then renames it over the
 * destination: an existing file is never left half-written. Loading checks the size, magic,
 * version, checksum and every length before using anything (a network's size against its section
 * before building it; each section once, NET and OPTIM once per index; names without NUL bytes),
 * and fails with a message naming the file and the problem. Values (weights, statistics,
 * metadata numbers) are stored bit for bit and not judged: a NaN weight loads as a NaN.
 */
#ifndef DS_MODEL_H
#define DS_MODEL_H

#include "ds_intensity.h"
#include "ds_nets.h"
#include "ds_optim.h"
#include "ds_rng.h"

#ifdef __cplusplus
extern "C" {
#endif

#define DS_MODEL_VERSION 1
#define DS_MODEL_MAX_NETS 2
#define DS_MODEL_MAX_RNG 16
#define DS_MODEL_NAME_CAP 64

typedef struct ds_model_meta {
    int classes;
    int in_channels;
    char class_names[DS_NET_MAX_CLASSES][DS_MODEL_NAME_CAP];
    ds_norm_mode norm_mode;
    float norm_lo, norm_hi;   /* the window, for DS_NORM_WINDOW */
    int64_t patch[3];         /* training patch size, (x, y, z) voxels */
    double spacing[3];        /* voxel spacing the model was trained at, (x, y, z) mm; 0 = native */
    int64_t iteration;        /* training iterations done */
    uint64_t seed;
} ds_model_meta;

typedef struct ds_model {
    ds_model_meta meta;
    int net_count;
    ds_net *net[DS_MODEL_MAX_NETS];
    int has_optim;
    ds_sgd optim[DS_MODEL_MAX_NETS]; /* over net[i]'s parameters, when has_optim */
    int rng_count;
    ds_rng rng[DS_MODEL_MAX_RNG];
} ds_model;

/* Writes the model atomically. The networks (and optimisers, when has_optim) must be set. */
ds_status ds_model_save(ds_ctx *ctx, const ds_model *model, const char *path);
/* Reads a model written by ds_model_save (or by the PyTorch converter); creates its networks and,
 * if the file has them, optimisers bound to their parameters. */
ds_status ds_model_load(ds_ctx *ctx, ds_model **out, const char *path);
/* Frees the networks and optimisers the model holds, then the model. NULL is allowed. */
void ds_model_free(ds_model *model);

#ifdef __cplusplus
}
#endif

#endif /* DS_MODEL_H */
