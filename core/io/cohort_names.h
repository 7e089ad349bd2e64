/* cohort_names.h - class names from dataset.json (private to the io area; cohort_names.c). */
#ifndef DS_COHORT_NAMES_H
#define DS_COHORT_NAMES_H

#include "ds_cohort.h"
#include "json.h"

/* Fills c->class_names / class_name_count from the "labels" object of dataset.json (NULL: the
 * file has none, nothing is filled). DS_ERR_FORMAT, naming json_path, on an entry that is neither
 * "index": "name" nor "name": index, or a class named twice. What was filled before a failure
 * is freed by ds_cohort_free. */
ds_status ds_cohort_read_class_names(ds_ctx *ctx, ds_cohort *c, const ds_json *labels,
                                     const char *json_path);

#endif /* DS_COHORT_NAMES_H */
