/* json.h - strict JSON (RFC 8259) for dataset.json (private to the io area), parsed by jansson.
 *
 * Strict: no comments, no trailing commas, no single quotes, no leading zeros, no control
 * characters in strings, no duplicate keys in an object, valid UTF-8 only, nothing after the top
 * value but white space. \u escapes (with surrogate pairs) are decoded to UTF-8; a string holding
 * \u0000 is refused. Nesting is limited to DS_JSON_MAX_DEPTH. Input size is bounded by the
 * caller. The whole tree is owned by its root.
 */
#ifndef DS_JSON_H
#define DS_JSON_H

#include <stddef.h>
#include "ds_status.h"

#define DS_JSON_MAX_DEPTH 64

typedef enum ds_json_type {
    DS_JSON_NULL = 0,
    DS_JSON_FALSE,
    DS_JSON_TRUE,
    DS_JSON_NUMBER,
    DS_JSON_STRING,
    DS_JSON_ARRAY,
    DS_JSON_OBJECT
} ds_json_type;

typedef struct ds_json ds_json;
struct ds_json {
    ds_json_type type;
    double number;   /* DS_JSON_NUMBER */
    char *string;    /* DS_JSON_STRING: UTF-8, NUL-terminated */
    char **keys;     /* DS_JSON_OBJECT: count keys                        */
    ds_json *items;  /* DS_JSON_ARRAY / DS_JSON_OBJECT: count values      */
    size_t count;
};

/* Parses text[0..len) into *out (allocated). On failure: DS_ERR_FORMAT naming `what` with the
 * line and column of the error. */
ds_status ds_json_parse(ds_ctx *ctx, const char *text, size_t len, const char *what, ds_json **out);
void ds_json_free(ds_json *j);
/* The value of key in an object, or NULL. */
const ds_json *ds_json_get(const ds_json *obj, const char *key);

#endif /* DS_JSON_H */
