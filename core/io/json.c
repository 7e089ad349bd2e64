/* json.c - json.h over jansson: jansson parses (strictly, see the flags), this file copies the
 * result into the ds_json tree the cohort code walks, refusing nesting beyond the depth limit.
 *
 * Jansson rather than json-c: with JSON_REJECT_DUPLICATES it refuses duplicate keys, and by
 * default raw control characters, \u0000, lone surrogates, invalid UTF-8 and trailing text;
 * json-c's strict tokener accepts the first four (measured on the cases of test_io_cohort.c). */
#include "json.h"
#include "io_internal.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

/* Every number becomes a double (ds_json has no integers); an overflowing one is refused. */
#define DS_JANSSON_FLAGS (JSON_REJECT_DUPLICATES | JSON_DECODE_ANY | JSON_DECODE_INT_AS_REAL)

static void free_value(ds_json *j)
{
    free(j->string);
    for (size_t i = 0; i < j->count; ++i) {
        if (j->keys)
            free(j->keys[i]);
        if (j->items)
            free_value(&j->items[i]);
    }
    free(j->keys);
    free(j->items);
    memset(j, 0, sizeof *j);
}

typedef enum copy_result { COPY_OK = 0, COPY_NOMEM, COPY_DEEP } copy_result;

static copy_result copy_value(const json_t *src, ds_json *dst, int depth);

/* Arrays and objects: count slots first, so a failure half-way leaves a freeable tree. */
static copy_result copy_container(const json_t *src, ds_json *dst, int depth)
{
    int object = json_is_object(src);
    size_t n = object ? json_object_size(src) : json_array_size(src);
    dst->type = object ? DS_JSON_OBJECT : DS_JSON_ARRAY;
    if (depth >= DS_JSON_MAX_DEPTH)
        return COPY_DEEP;
    if (n == 0)
        return COPY_OK;
    if (!(dst->items = calloc(n, sizeof *dst->items)) ||
        (object && !(dst->keys = calloc(n, sizeof *dst->keys))))
        return COPY_NOMEM;
    dst->count = n;
    if (!object) {
        for (size_t i = 0; i < n; ++i) {
            copy_result r = copy_value(json_array_get(src, i), &dst->items[i], depth + 1);
            if (r != COPY_OK)
                return r;
        }
        return COPY_OK;
    }
    size_t i = 0;
    const char *key;
    json_t *value;
    json_object_foreach((json_t *)src, key, value) {
        if (!(dst->keys[i] = ds_strdup(key)))
            return COPY_NOMEM;
        copy_result r = copy_value(value, &dst->items[i++], depth + 1);
        if (r != COPY_OK)
            return r;
    }
    return COPY_OK;
}

static copy_result copy_value(const json_t *src, ds_json *dst, int depth)
{
    switch (json_typeof(src)) {
    case JSON_OBJECT:
    case JSON_ARRAY:
        return copy_container(src, dst, depth);
    case JSON_STRING:
        dst->type = DS_JSON_STRING;
        return (dst->string = ds_strdup(json_string_value(src))) ? COPY_OK : COPY_NOMEM;
    case JSON_INTEGER:
    case JSON_REAL:
        dst->type = DS_JSON_NUMBER;
        dst->number = json_number_value(src);
        return COPY_OK;
    case JSON_TRUE:
        dst->type = DS_JSON_TRUE;
        return COPY_OK;
    case JSON_FALSE:
        dst->type = DS_JSON_FALSE;
        return COPY_OK;
    case JSON_NULL:
    default:
        dst->type = DS_JSON_NULL;
        return COPY_OK;
    }
}

ds_status ds_json_parse(ds_ctx *ctx, const char *text, size_t len, const char *what, ds_json **out)
{
    if (!text || !out)
        return ds_fail(ctx, DS_ERR_ARG, "ds_json_parse: null argument");
    *out = NULL;
    /* A UTF-8 byte order mark is tolerated at the start (jansson refuses it). */
    if (len >= 3 && memcmp(text, "\xEF\xBB\xBF", 3) == 0) {
        text += 3;
        len -= 3;
    }
    json_error_t err;
    json_t *doc = json_loadb(text, len, DS_JANSSON_FLAGS, &err);
    if (!doc)
        return ds_fail(ctx, DS_ERR_FORMAT, "%s: invalid JSON at line %d, column %d: %s", what,
                       err.line, err.column, err.text);
    ds_json *root = calloc(1, sizeof *root);
    copy_result r = root ? copy_value(doc, root, 0) : COPY_NOMEM;
    json_decref(doc);
    if (r != COPY_OK) {
        ds_json_free(root);
        if (r == COPY_DEEP)
            return ds_fail(ctx, DS_ERR_FORMAT, "%s: invalid JSON: nested deeper than %d levels",
                           what, DS_JSON_MAX_DEPTH);
        return ds_fail(ctx, DS_ERR_NOMEM, "%s: out of memory", what);
    }
    *out = root;
    return DS_OK;
}

void ds_json_free(ds_json *j)
{
    if (!j)
        return;
    free_value(j);
    free(j);
}

const ds_json *ds_json_get(const ds_json *obj, const char *key)
{
    if (!obj || obj->type != DS_JSON_OBJECT)
        return NULL;
    for (size_t i = 0; i < obj->count; ++i)
        if (strcmp(obj->keys[i], key) == 0)
            return &obj->items[i];
    return NULL;
}
