/* cohort_names.c - the class names of a Decathlon / nnU-Net cohort, from dataset.json "labels".
 * The Decathlon writes {"0": "background", "1": "Anterior"} (index -> name), nnU-Net v2
 * {"background": 0, "Anterior": 1} (name -> index); both are read. nnU-Net's region labels
 * (a name -> a list of indices) are not classes and are skipped. */
#include "io_internal.h"
#include "cohort_names.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

/* Classes beyond this are not named (no DualSeg network has that many outputs). */
#define NAMED_CLASSES_MAX 256

static int parse_index(const char *s, long *out)
{
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || end == s || *end || s[0] == '-' || s[0] == '+' || s[0] == ' ' || v < 0)
        return 0;
    *out = v;
    return 1;
}

/* One "labels" entry as (index, name); 0 for a region entry (skipped), -1 for a malformed one. */
static int entry(const char *key, const ds_json *value, long *index, const char **name)
{
    if (value->type == DS_JSON_ARRAY)
        return 0;
    if (value->type == DS_JSON_STRING) {
        *name = value->string;
        return parse_index(key, index) ? 1 : -1;
    }
    if (value->type == DS_JSON_NUMBER && value->number >= 0 &&
        value->number < NAMED_CLASSES_MAX && value->number == (double)(long)value->number) {
        *index = (long)value->number;
        *name = key;
        return 1;
    }
    return -1;
}

ds_status ds_cohort_read_class_names(ds_ctx *ctx, ds_cohort *c, const ds_json *labels,
                                     const char *json_path)
{
    if (!labels)
        return DS_OK;
    if (labels->type != DS_JSON_OBJECT)
        return ds_fail(ctx, DS_ERR_FORMAT, "%s: \"labels\" is not an object", json_path);
    long top = -1, index = 0;
    const char *name = NULL;
    for (size_t i = 0; i < labels->count; ++i) {
        int e = entry(labels->keys[i], &labels->items[i], &index, &name);
        if (e < 0)
            return ds_fail(ctx, DS_ERR_FORMAT, "%s: \"labels\" entry \"%s\" is neither "
                           "\"index\": \"name\" nor \"name\": index", json_path, labels->keys[i]);
        if (e > 0 && index >= NAMED_CLASSES_MAX)
            return ds_fail(ctx, DS_ERR_FORMAT, "%s: \"labels\" index %ld (at most %d)", json_path,
                           index, NAMED_CLASSES_MAX - 1);
        if (e > 0 && index > top)
            top = index;
    }
    if (top < 0)
        return DS_OK;
    c->class_names = calloc((size_t)top + 1, sizeof *c->class_names);
    if (!c->class_names)
        return ds_fail(ctx, DS_ERR_NOMEM, "%s: out of memory", json_path);
    c->class_name_count = (int)top + 1;
    for (size_t i = 0; i < labels->count; ++i) {
        if (entry(labels->keys[i], &labels->items[i], &index, &name) <= 0)
            continue;
        if (c->class_names[index])
            return ds_fail(ctx, DS_ERR_FORMAT, "%s: \"labels\" names class %ld twice", json_path,
                           index);
        if (!(c->class_names[index] = ds_strdup(name)))
            return ds_fail(ctx, DS_ERR_NOMEM, "%s: out of memory", json_path);
    }
    return DS_OK;
}
