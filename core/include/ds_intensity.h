/* ds_intensity.h - how image intensities are normalised before the networks see them. Shared by
 * the loading of cohorts (ds_cohort.h) and the model file (ds_model.h), which records the mode a
 * model was trained with so that new volumes are normalised the same way. Values are part of the
 * model file format: append only. */
#ifndef DS_INTENSITY_H
#define DS_INTENSITY_H

typedef enum ds_norm_mode {
    DS_NORM_ZSCORE = 0, /* per-volume z-score (default) */
    DS_NORM_WINDOW = 1, /* clip to [window_lo, window_hi], scale to [0, 1] (CT) */
    DS_NORM_NONE = 2    /* intensities used as they are */
} ds_norm_mode;

#endif
