/* infer_internal.h - what the files of core/infer share (private). */
#ifndef DS_INFER_INTERNAL_H
#define DS_INFER_INTERNAL_H

#include "ds_infer.h"

#define TRY(expr)                                                                              \
    do {                                                                                       \
        ds_status try_st_ = (expr);                                                            \
        if (try_st_ != DS_OK)                                                                  \
            return try_st_;                                                                    \
    } while (0)

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

/* The per-class accumulators of the window pass, on the image's grid (windows that reach into
 * the padding read zeros there and add nothing there):
 * sum[n][k * voxels + i] for network n, class k, voxel i (x fastest). */
typedef struct ds_infer_acc {
    int64_t size[3];
    int64_t voxels;
    int classes;
    int nets;
    float *sum[2];
    int64_t windows;
    int passes;
} ds_infer_acc;

void ds_infer_acc_free(ds_infer_acc *a);

/* The window pass: streams every window through the networks into acc (allocated here).
 * values: finite, normalised, size[0] * size[1] * size[2] (x fastest); an axis shorter than the
 * patch is padded with zeros, evenly before and after. */
ds_status ds_infer_pass(ds_ctx *ctx, ds_net *const *nets, int count, const float *values,
                        const int64_t size[3], const int64_t patch[3], const int64_t stride[3],
                        const ds_infer_options *o, ds_infer_progress *pr, ds_infer_acc *acc);

/* Turns the accumulators into the outputs on geometry g (of the accumulators' size).
 * probabilities: also the K class volumes. */
ds_status ds_infer_finalize(ds_ctx *ctx, const ds_infer_acc *acc, const ds_geometry *g,
                            int probabilities, ds_infer_result *out);

/* Segments a normalised image on its own grid; *owned, when non-NULL, is image itself, and is
 * freed (and set NULL) after the window pass so that its memory is reused by the outputs. */
ds_status ds_infer_on_grid(ds_ctx *ctx, ds_net *const *nets, int net_count, const ds_volume *image,
                           ds_volume **owned, const ds_infer_options *o, ds_infer_progress *pr,
                           ds_infer_result *out);

#endif
