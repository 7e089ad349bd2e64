/* infer_internal.h - what the files of core/infer share (private). */
#ifndef DS_INFER_INTERNAL_H
#define DS_INFER_INTERNAL_H

#include "ds_infer.h"

/* Progress of one phase mapped into [base, base + span] of the caller's scale; never decreasing. */
typedef struct ds_infer_progress {
    ds_infer_progress_fn fn;
    void *user;
    double base, span;
    double last;
    const char *prefix;        /* "case 3/10 <id>: " in cohort mode, else NULL */
    const volatile int *cancel;
} ds_infer_progress;

void ds_infer_progress_from(ds_infer_progress *p, const ds_infer_options *o);
/* Reports frac (0..1) of the current phase with a printf-style message. */
void ds_infer_report(ds_infer_progress *p, double frac, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;
/* DS_INFER_CANCELLED with the message "cancelled" once the flag is set, else DS_OK. */
ds_status ds_infer_check_cancel(ds_ctx *ctx, const ds_infer_progress *p);

/* Checks the options against the networks; fills the patch and stride to use (x, y, z) and
 * which networks to evaluate (nets_eval[0..*count-1]). */
ds_status ds_infer_resolve(ds_ctx *ctx, ds_net *const *nets, int net_count,
                           const ds_infer_options *o, int64_t patch[3], int64_t stride[3],
                           ds_net *nets_eval[2], int *count);

/* DS_ERR_NOMEM, before anything of the window's size is allocated, when evaluating a batch of
 * windows of `patch` voxels would need more than the machine's memory (memory.c). */
ds_status ds_infer_check_memory(ds_ctx *ctx, ds_net *const *nets, int count, int batch,
                                const int64_t patch[3]);
/* The bytes an evaluation forward of net holds for `voxels` input voxels (batch x patch, each
 * spatial size a multiple of 16), extrapolated from tiny fresh networks of widths 1 and 2
 * (exact, memory.c); nothing of net is touched. */
ds_status ds_infer_window_bytes(ds_ctx *ctx, const ds_net *net, double voxels, double *bytes);

/* The per-class accumulators of the window pass, on the image's grid (windows that reach into
 * the padding read zeros there and add nothing there): plane[n][k][i] for network n, class k,
 * voxel i (x fastest). A plane may be lent by an output volume of the same grid (lent[n][k]):
 * the finalisation then writes that output over it in place, voxel by voxel, and only the other
 * planes are freed, so the outputs need little memory beyond the accumulators. */
typedef struct ds_infer_acc {
    int64_t size[3];
    int64_t voxels;
    int classes;
    int nets;
    float *plane[2][DS_NET_MAX_CLASSES];
    unsigned char lent[2][DS_NET_MAX_CLASSES];
    int64_t windows;
    int passes;
} ds_infer_acc;

/* Zeroed planes for (nets, classes) on a grid of the given size; lend[n][k] non-NULL: use that
 * zeroed buffer of size[0] * size[1] * size[2] floats (owned elsewhere) for plane (n, k). */
ds_status ds_infer_acc_create(ds_ctx *ctx, const int64_t size[3], int classes, int nets,
                              float *const lend[2][DS_NET_MAX_CLASSES], ds_infer_acc *acc);
/* Frees the planes that were not lent. */
void ds_infer_acc_free(ds_infer_acc *a);

/* The window pass: streams every window through the networks into acc (created for this
 * grid). values: finite, normalised, size[0] * size[1] * size[2] (x fastest); an axis shorter
 * than the patch is padded with zeros, evenly before and after. */
ds_status ds_infer_pass(ds_ctx *ctx, ds_net *const *nets, const float *values,
                        const int64_t patch[3], const int64_t stride[3],
                        const ds_infer_options *o, ds_infer_progress *pr, ds_infer_acc *acc);

/* Creates the scalar outputs on g (entropy; disagreement with two networks; the probabilities
 * when asked) and says which accumulator planes they lend: the probabilities take network A's
 * planes (else the entropy takes A's class 0), the disagreement B's class 0. */
ds_status ds_infer_outputs_create(ds_ctx *ctx, const ds_geometry *g, int classes, int nets,
                                  int probabilities, ds_infer_result *out,
                                  float *lend[2][DS_NET_MAX_CLASSES]);
/* Creates the label map and computes every output from the accumulators, in place where the
 * outputs lent their planes. */
ds_status ds_infer_finalize(ds_ctx *ctx, const ds_infer_acc *acc, const ds_geometry *g,
                            ds_infer_result *out);

/* Segments a normalised image on its own grid; *owned, when non-NULL, is image itself, and is
 * freed (and set NULL) after the window pass so that its memory is reused by the outputs. */
ds_status ds_infer_on_grid(ds_ctx *ctx, ds_net *const *nets, int net_count, const ds_volume *image,
                           ds_volume **owned, const ds_infer_options *o, ds_infer_progress *pr,
                           ds_infer_result *out);

#endif
