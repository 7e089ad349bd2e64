/* csv.c - the numeric CSV reader behind the training curve (the trainer's log, ds_train.h). */
#include "render_internal.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void ds_render_table_free(ds_render_table *t)
{
    if (!t)
        return;
    for (int c = 0; t->names && c < t->columns; ++c)
        free(t->names[c]);
    free(t->names);
    free(t->values);
    memset(t, 0, sizeof *t);
}

int ds_render_table_column(const ds_render_table *t, const char *name)
{
    for (int c = 0; c < t->columns; ++c)
        if (strcmp(t->names[c], name) == 0)
            return c;
    return -1;
}

static void chomp(char *s)
{
    size_t n = strlen(s);
    while (n > 0 && (s[n - 1] == '\n' || s[n - 1] == '\r'))
        s[--n] = '\0';
}

static ds_status read_header(ds_ctx *ctx, const char *path, char *line, ds_render_table *t)
{
    chomp(line);
    int n = 1;
    for (const char *p = line; *p; ++p)
        n += *p == ',';
    t->names = calloc((size_t)n, sizeof *t->names);
    if (!t->names)
        return ds_fail(ctx, DS_ERR_NOMEM, "%s: no memory for the header", path);
    char *field = line;
    for (int c = 0; c < n; ++c) {
        char *comma = strchr(field, ',');
        if (comma)
            *comma = '\0';
        t->names[c] = strdup(field);
        t->columns = c + 1;
        if (!t->names[c])
            return ds_fail(ctx, DS_ERR_NOMEM, "%s: no memory for the header", path);
        field = comma ? comma + 1 : field + strlen(field);
    }
    return DS_OK;
}

/* Parses one data line into row (columns values); empty fields are NaN. */
static ds_status parse_row(ds_ctx *ctx, const char *path, int64_t line_no, char *line,
                           int columns, double *row)
{
    chomp(line);
    char *p = line;
    for (int c = 0; c < columns; ++c) {
        if (*p == ',' || *p == '\0') {
            row[c] = NAN;
        } else {
            char *end;
            errno = 0;
            row[c] = strtod(p, &end);
            if (end == p || (*end != ',' && *end != '\0'))
                return ds_fail(ctx, DS_ERR_FORMAT, "%s:%lld: field %d is not a number", path,
                               (long long)line_no, c + 1);
            p = end;
        }
        if (c + 1 < columns) {
            if (*p != ',')
                return ds_fail(ctx, DS_ERR_FORMAT, "%s:%lld: %d fields, the header has %d", path,
                               (long long)line_no, c + 1, columns);
            ++p;
        }
    }
    if (*p != '\0')
        return ds_fail(ctx, DS_ERR_FORMAT, "%s:%lld: more fields than the header's %d", path,
                       (long long)line_no, columns);
    return DS_OK;
}

static ds_status read_rows(ds_ctx *ctx, const char *path, FILE *f, ds_render_table *t)
{
    char *line = NULL;
    size_t cap = 0;
    ssize_t len;
    int64_t room = 0, line_no = 1;
    ds_status st = DS_OK;
    while (st == DS_OK && (len = getline(&line, &cap, f)) > 0) {
        ++line_no;
        if (line[len - 1] != '\n')
            break; /* torn by a stop */
        if (len == 1)
            continue;
        if (t->rows == room) {
            room = room ? 2 * room : 256;
            double *grown = realloc(t->values, (size_t)(room * t->columns) * sizeof(double));
            if (!grown) {
                st = ds_fail(ctx, DS_ERR_NOMEM, "%s: no memory for %lld rows", path,
                             (long long)room);
                break;
            }
            t->values = grown;
        }
        st = parse_row(ctx, path, line_no, line, t->columns, t->values + t->rows * t->columns);
        t->rows += st == DS_OK;
    }
    free(line);
    if (st == DS_OK && ferror(f))
        st = ds_fail(ctx, DS_ERR_IO, "%s: reading failed", path);
    return st;
}

ds_status ds_render_read_csv(ds_ctx *ctx, const char *path, ds_render_table *out)
{
    if (!out || !path)
        return ds_fail(ctx, DS_ERR_ARG, "read csv: null argument");
    memset(out, 0, sizeof *out);
    FILE *f = fopen(path, "r");
    if (!f)
        return ds_fail(ctx, DS_ERR_IO, "%s: %s", path, strerror(errno));
    char *line = NULL;
    size_t cap = 0;
    ds_status st = getline(&line, &cap, f) > 0
                       ? read_header(ctx, path, line, out)
                       : ds_fail(ctx, DS_ERR_FORMAT, "%s: empty file, no header", path);
    free(line);
    if (st == DS_OK)
        st = read_rows(ctx, path, f, out);
    fclose(f);
    if (st != DS_OK)
        ds_render_table_free(out);
    return st;
}
