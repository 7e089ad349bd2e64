/* json.c - the strict JSON parser of json.h: recursive descent with a depth limit. */
#include "json.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

typedef struct parser {
    const char *s;
    size_t len, pos;
    const char *error; /* first error, constant text */
} parser;

static void fail_at(parser *p, const char *msg)
{
    if (!p->error)
        p->error = msg;
}

static void skip_ws(parser *p)
{
    while (p->pos < p->len) {
        char c = p->s[p->pos];
        if (c != ' ' && c != '\t' && c != '\n' && c != '\r')
            break;
        ++p->pos;
    }
}

static int peek(const parser *p)
{
    return p->pos < p->len ? (unsigned char)p->s[p->pos] : -1;
}

static void free_value(ds_json *j)
{
    if (!j)
        return;
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

static int hex4(parser *p, unsigned *out)
{
    if (p->len - p->pos < 4)
        return 0;
    unsigned v = 0;
    for (int i = 0; i < 4; ++i) {
        char c = p->s[p->pos++];
        v <<= 4;
        if (c >= '0' && c <= '9')
            v |= (unsigned)(c - '0');
        else if (c >= 'a' && c <= 'f')
            v |= (unsigned)(c - 'a' + 10);
        else if (c >= 'A' && c <= 'F')
            v |= (unsigned)(c - 'A' + 10);
        else
            return 0;
    }
    *out = v;
    return 1;
}

/* Appends code point cp as UTF-8 at buf[*n] (buf has room: escapes are >= 6 bytes long). */
static void put_utf8(char *buf, size_t *n, unsigned cp)
{
    if (cp < 0x80) {
        buf[(*n)++] = (char)cp;
    } else if (cp < 0x800) {
        buf[(*n)++] = (char)(0xC0 | (cp >> 6));
        buf[(*n)++] = (char)(0x80 | (cp & 0x3F));
    } else if (cp < 0x10000) {
        buf[(*n)++] = (char)(0xE0 | (cp >> 12));
        buf[(*n)++] = (char)(0x80 | ((cp >> 6) & 0x3F));
        buf[(*n)++] = (char)(0x80 | (cp & 0x3F));
    } else {
        buf[(*n)++] = (char)(0xF0 | (cp >> 18));
        buf[(*n)++] = (char)(0x80 | ((cp >> 12) & 0x3F));
        buf[(*n)++] = (char)(0x80 | ((cp >> 6) & 0x3F));
        buf[(*n)++] = (char)(0x80 | (cp & 0x3F));
    }
}

/* Parses a string starting at '"'; returns a malloc'd copy or NULL (error set). */
static char *parse_string(parser *p)
{
    ++p->pos; /* opening quote */
    size_t start = p->pos, end = start;
    while (end < p->len && p->s[end] != '"') {
        if (p->s[end] == '\\')
            ++end;
        ++end;
    }
    if (end >= p->len) {
        fail_at(p, "unterminated string");
        return NULL;
    }
    char *buf = malloc(end - start + 1);
    if (!buf) {
        fail_at(p, "out of memory");
        return NULL;
    }
    size_t n = 0;
    while (p->pos < end) {
        unsigned char c = (unsigned char)p->s[p->pos];
        if (c < 0x20) {
            fail_at(p, "control character in string");
            free(buf);
            return NULL;
        }
        if (c != '\\') {
            buf[n++] = (char)c;
            ++p->pos;
            continue;
        }
        ++p->pos;
        char e = p->s[p->pos++];
        switch (e) {
        case '"': buf[n++] = '"'; break;
        case '\\': buf[n++] = '\\'; break;
        case '/': buf[n++] = '/'; break;
        case 'b': buf[n++] = '\b'; break;
        case 'f': buf[n++] = '\f'; break;
        case 'n': buf[n++] = '\n'; break;
        case 'r': buf[n++] = '\r'; break;
        case 't': buf[n++] = '\t'; break;
        case 'u': {
            unsigned cp = 0, lo = 0;
            if (!hex4(p, &cp)) {
                fail_at(p, "bad \\u escape");
                free(buf);
                return NULL;
            }
            if (cp >= 0xD800 && cp <= 0xDBFF) {
                if (p->pos + 6 > end || p->s[p->pos] != '\\' || p->s[p->pos + 1] != 'u') {
                    fail_at(p, "unpaired surrogate");
                    free(buf);
                    return NULL;
                }
                p->pos += 2;
                if (!hex4(p, &lo) || lo < 0xDC00 || lo > 0xDFFF) {
                    fail_at(p, "bad surrogate pair");
                    free(buf);
                    return NULL;
                }
                cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
            } else if (cp >= 0xDC00 && cp <= 0xDFFF) {
                fail_at(p, "unpaired surrogate");
                free(buf);
                return NULL;
            }
            if (cp == 0) {
                fail_at(p, "\\u0000 in string");
                free(buf);
                return NULL;
            }
            put_utf8(buf, &n, cp);
            break;
        }
        default:
            fail_at(p, "bad escape in string");
            free(buf);
            return NULL;
        }
    }
    ++p->pos; /* closing quote */
    buf[n] = '\0';
    return buf;
}

static int parse_number(parser *p, double *out)
{
    size_t start = p->pos;
    if (peek(p) == '-')
        ++p->pos;
    if (peek(p) == '0') {
        ++p->pos;
    } else if (peek(p) >= '1' && peek(p) <= '9') {
        while (peek(p) >= '0' && peek(p) <= '9')
            ++p->pos;
    } else {
        fail_at(p, "bad number");
        return 0;
    }
    if (peek(p) == '.') {
        ++p->pos;
        if (!(peek(p) >= '0' && peek(p) <= '9')) {
            fail_at(p, "bad number");
            return 0;
        }
        while (peek(p) >= '0' && peek(p) <= '9')
            ++p->pos;
    }
    if (peek(p) == 'e' || peek(p) == 'E') {
        ++p->pos;
        if (peek(p) == '+' || peek(p) == '-')
            ++p->pos;
        if (!(peek(p) >= '0' && peek(p) <= '9')) {
            fail_at(p, "bad number");
            return 0;
        }
        while (peek(p) >= '0' && peek(p) <= '9')
            ++p->pos;
    }
    size_t n = p->pos - start;
    char tmp[64];
    if (n >= sizeof tmp) {
        fail_at(p, "number too long");
        return 0;
    }
    memcpy(tmp, p->s + start, n);
    tmp[n] = '\0';
    *out = strtod(tmp, NULL);
    if (!isfinite(*out)) {
        fail_at(p, "number out of range");
        return 0;
    }
    return 1;
}

static int literal(parser *p, const char *word)
{
    size_t n = strlen(word);
    if (p->len - p->pos < n || memcmp(p->s + p->pos, word, n) != 0) {
        fail_at(p, "unexpected character");
        return 0;
    }
    p->pos += n;
    return 1;
}

static int parse_value(parser *p, ds_json *v, int depth);

/* Appends one value (and key) to an array / object, growing by doubling. */
static int grow(parser *p, ds_json *v, size_t *cap, int with_keys)
{
    if (v->count < *cap)
        return 1;
    size_t nc = *cap ? *cap * 2 : 4;
    ds_json *items = realloc(v->items, nc * sizeof *items);
    if (!items) {
        fail_at(p, "out of memory");
        return 0;
    }
    v->items = items;
    if (with_keys) {
        char **keys = realloc(v->keys, nc * sizeof *keys);
        if (!keys) {
            fail_at(p, "out of memory");
            return 0;
        }
        v->keys = keys;
    }
    *cap = nc;
    return 1;
}

static int parse_container(parser *p, ds_json *v, int depth, int object)
{
    v->type = object ? DS_JSON_OBJECT : DS_JSON_ARRAY;
    ++p->pos;
    skip_ws(p);
    if (peek(p) == (object ? '}' : ']')) {
        ++p->pos;
        return 1;
    }
    size_t cap = 0;
    for (;;) {
        skip_ws(p);
        if (!grow(p, v, &cap, object))
            return 0;
        char *key = NULL;
        if (object) {
            if (peek(p) != '"') {
                fail_at(p, "expected a string key");
                return 0;
            }
            key = parse_string(p);
            if (!key)
                return 0;
            skip_ws(p);
            if (peek(p) != ':') {
                free(key);
                fail_at(p, "expected ':'");
                return 0;
            }
            ++p->pos;
            v->keys[v->count] = key;
        }
        memset(&v->items[v->count], 0, sizeof v->items[0]);
        ++v->count; /* counted now so that free_value releases a partial value */
        if (!parse_value(p, &v->items[v->count - 1], depth + 1))
            return 0;
        skip_ws(p);
        int c = peek(p);
        ++p->pos;
        if (c == ',')
            continue;
        if (c == (object ? '}' : ']'))
            return 1;
        fail_at(p, object ? "expected ',' or '}'" : "expected ',' or ']'");
        return 0;
    }
}

static int parse_value(parser *p, ds_json *v, int depth)
{
    if (depth > DS_JSON_MAX_DEPTH) {
        fail_at(p, "nesting too deep");
        return 0;
    }
    skip_ws(p);
    switch (peek(p)) {
    case '{': return parse_container(p, v, depth, 1);
    case '[': return parse_container(p, v, depth, 0);
    case '"':
        v->type = DS_JSON_STRING;
        v->string = parse_string(p);
        return v->string != NULL;
    case 't': v->type = DS_JSON_TRUE; return literal(p, "true");
    case 'f': v->type = DS_JSON_FALSE; return literal(p, "false");
    case 'n': v->type = DS_JSON_NULL; return literal(p, "null");
    case -1: fail_at(p, "unexpected end of input"); return 0;
    default:
        v->type = DS_JSON_NUMBER;
        return parse_number(p, &v->number);
    }
}

ds_status ds_json_parse(ds_ctx *ctx, const char *text, size_t len, const char *what, ds_json **out)
{
    if (!text || !out)
        return ds_fail(ctx, DS_ERR_ARG, "ds_json_parse: null argument");
    *out = NULL;
    ds_json *root = calloc(1, sizeof *root);
    if (!root)
        return ds_fail(ctx, DS_ERR_NOMEM, "%s: out of memory", what);
    parser p = {text, len, 0, NULL};
    /* A UTF-8 byte order mark is tolerated at the start. */
    if (len >= 3 && memcmp(text, "\xEF\xBB\xBF", 3) == 0)
        p.pos = 3;
    if (parse_value(&p, root, 0)) {
        skip_ws(&p);
        if (p.pos < p.len)
            fail_at(&p, "unexpected text after the value");
    } else if (!p.error) {
        fail_at(&p, "invalid JSON");
    }
    if (p.error) {
        size_t line = 1, col = 1, stop = p.pos < len ? p.pos : len;
        for (size_t i = 0; i < stop; ++i) {
            if (text[i] == '\n') {
                ++line;
                col = 1;
            } else {
                ++col;
            }
        }
        ds_json_free(root);
        return ds_fail(ctx, DS_ERR_FORMAT, "%s: invalid JSON at line %zu, column %zu: %s", what,
                       line, col, p.error);
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
