/* train_module.h - DualSegTrain's two halves: the training data (data.c) and the run (main.c). */
#ifndef DS_TRAIN_MODULE_H
#define DS_TRAIN_MODULE_H

#include "ds_cli.h"
#include "ds_train.h"

/* The progress reporter shared by the training and a thread that repeats the last report every
 * 3 s (heartbeat.c). start returns NULL when no thread could be made: train_progress then
 * reports directly. Between start and stop, report only through train_progress. */
typedef struct train_heartbeat train_heartbeat;
train_heartbeat *train_heartbeat_start(ds_cli *cli);
void train_progress(train_heartbeat *h, ds_cli *cli, double fraction, const char *comment);
void train_heartbeat_stop(train_heartbeat *h);

/* Where the cases come from: the volume and its label given one by one (the GUI path), a folder
 * of unlabelled volumes, a cohort folder or CSV (the batch path); any that is given. */
typedef struct train_sources {
    ds_cohort *cohorts[3];
    int count;
} train_sources;

/* Opens every source the parameters name. */
ds_status train_sources_open(ds_ctx *ctx, const ds_cli *cli, train_sources *s);
void train_sources_free(train_sources *s);

/* Background plus structures from the largest label value of every label file (at least 2). */
ds_status train_sources_count_classes(ds_ctx *ctx, const train_sources *s, int ignore_label,
                                      int *classes);

/* The class names of the first source that has them (a cohort's dataset.json "labels"), borrowed
 * from s; NULL and 0 when none has. */
void train_sources_class_names(const train_sources *s, const char *const **names, int *count);

/* Loads every case with opt into a new training set, reporting progress over [0, share]. */
ds_status train_sources_load(ds_ctx *ctx, ds_cli *cli, train_heartbeat *h,
                             const train_sources *s, const ds_load_options *opt, double share,
                             ds_train_data **out);

#endif
