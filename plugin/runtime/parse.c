/* parse.c - the command line, parsed the way Slicer builds it (SLICER_CLI.md rule 12):
 * "--longflag value" or "-f value" (also "--longflag=value"), booleans as bare flags, vectors
 * comma-separated, index parameters as positional arguments in index order. Every value is checked
 * against the XML (type, constraints, enumeration, files and folders) before the module runs. */
#include "cli_internal.h"

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* How the messages name a parameter: its flag as the user typed it, else its position. */
static void who(const cli_param *p, char *buf, size_t cap)
{
    if (p->longflag)
        snprintf(buf, cap, "--%s", p->longflag);
    else if (p->flag)
        snprintf(buf, cap, "-%c", p->flag);
    else
        snprintf(buf, cap, "argument %d (%s)", p->index + 1, p->label ? p->label : p->name);
}

static int check_number(const cli_param *p, const char *w, const char *t, char *err, size_t cap)
{
    char *end;
    double v;
    errno = 0;
    if (p->tag->elem == CLI_INT) {
        long long i = strtoll(t, &end, 10);
        if (*t == '\0' || *end != '\0' || errno || i < INT_MIN || i > INT_MAX) {
            snprintf(err, cap, "%s '%s' is not an integer", w, t);
            return 1;
        }
        v = (double)i;
    } else {
        v = strtod(t, &end);
        if (*t == '\0' || *end != '\0' || !isfinite(v)) {
            snprintf(err, cap, "%s '%s' is not a number", w, t);
            return 1;
        }
    }
    if (p->has_min && v < p->min) {
        snprintf(err, cap, "%s %s is below the minimum %g", w, t, p->min);
        return 1;
    }
    if (p->has_max && v > p->max) {
        snprintf(err, cap, "%s %s is above the maximum %g", w, t, p->max);
        return 1;
    }
    return 0;
}

static int check_one(const cli_param *p, const char *w, const char *t, char *err, size_t cap)
{
    if (p->tag->enumeration) {
        for (int i = 0; i < p->n_elements; ++i)
            if (strcmp(p->elements[i], t) == 0)
                return 0;
        int n = snprintf(err, cap, "%s '%s' is not one of:", w, t);
        for (int i = 0; i < p->n_elements && n >= 0 && (size_t)n < cap; ++i)
            n += snprintf(err + n, cap - (size_t)n, "%s %s", i ? "," : "", p->elements[i]);
        return 1;
    }
    switch (p->tag->elem) {
    case CLI_INT:
    case CLI_REAL:
        return check_number(p, w, t, err, cap);
    case CLI_BOOL:
        if (strcmp(t, "true") != 0 && strcmp(t, "false") != 0) {
            snprintf(err, cap, "%s '%s' is neither true nor false", w, t);
            return 1;
        }
        return 0;
    case CLI_STRING:
        return 0;
    }
    return 0;
}

int cli_value_check(const cli_param *p, const char *value, char *err, size_t cap)
{
    char w[160];
    who(p, w, sizeof w);
    if (!p->tag->vector)
        return check_one(p, w, value, err, cap);
    size_t len = strlen(value);
    char *copy = malloc(len + 1);
    if (!copy) {
        snprintf(err, cap, "out of memory");
        return 1;
    }
    memcpy(copy, value, len + 1);
    int bad = 0;
    char *item = copy;
    for (;;) {
        char *comma = strchr(item, ',');
        if (comma)
            *comma = '\0';
        if (*item == '\0' && len > 0) {
            snprintf(err, cap, "%s '%s' has an empty item (values are comma-separated)", w,
                     value);
            bad = 1;
        } else if (*item != '\0')
            bad = check_one(p, w, item, err, cap);
        if (bad || !comma)
            break;
        item = comma + 1;
    }
    free(copy);
    return bad;
}

/* Files must exist for inputs, folders must be folders; an output needs an existing folder. */
static int check_path(const cli_param *p, const char *v, char *err, size_t cap)
{
    char w[160];
    who(p, w, sizeof w);
    struct stat st;
    const int exists = stat(v, &st) == 0;
    const int is_dir = exists && S_ISDIR(st.st_mode);
    const int want_dir = p->tag->path == CLI_PATH_DIR;
    if (p->channel == CLI_CHANNEL_INPUT && !exists) {
        snprintf(err, cap, "%s: '%s' does not exist", w, v);
        return 1;
    }
    if (exists && is_dir != want_dir) {
        snprintf(err, cap, "%s: '%s' is a %s; a %s is expected here", w, v,
                 is_dir ? "folder" : "file", want_dir ? "folder" : "file");
        return 1;
    }
    if (p->channel == CLI_CHANNEL_OUTPUT && !exists) {
        const char *slash = strrchr(v, '/');
        char parent[4096];
        if (slash && slash != v && (size_t)(slash - v) < sizeof parent) {
            memcpy(parent, v, (size_t)(slash - v));
            parent[slash - v] = '\0';
            if (stat(parent, &st) != 0 || !S_ISDIR(st.st_mode)) {
                snprintf(err, cap, "%s: the folder of '%s' does not exist", w, v);
                return 1;
            }
        }
    }
    return 0;
}

static cli_param *by_flag(cli_spec *s, const char *a, size_t n)
{
    for (int i = 0; i < s->n_params; ++i) {
        cli_param *p = &s->params[i];
        if (a[1] == '-' ? (p->longflag && strlen(p->longflag) == n - 2 &&
                           strncmp(p->longflag, a + 2, n - 2) == 0)
                        : (n == 2 && p->flag == a[1]))
            return p;
    }
    return NULL;
}

static cli_param *by_index(cli_spec *s, int index)
{
    for (int i = 0; i < s->n_params; ++i)
        if (s->params[i].index == index)
            return &s->params[i];
    return NULL;
}

/* One option at argv[*i]; advances *i past its value. */
static int parse_option(cli_spec *s, int argc, char **argv, int *i, char *err, size_t cap)
{
    const char *a = argv[*i];
    const char *eq = a[1] == '-' ? strchr(a, '=') : NULL;
    const size_t n = eq ? (size_t)(eq - a) : strlen(a);
    cli_param *p = by_flag(s, a, n);
    if (!p) {
        snprintf(err, cap, "unknown option '%.*s'", (int)n, a);
        return 1;
    }
    if (p->given) {
        snprintf(err, cap, "option '%.*s' given twice", (int)n, a);
        return 1;
    }
    p->given = 1;
    if (p->tag->elem == CLI_BOOL && !p->tag->vector) {
        if (eq) {
            snprintf(err, cap, "option '%.*s' is a switch and takes no value", (int)n, a);
            return 1;
        }
        p->value = "true";
        return 0;
    }
    if (eq)
        p->value = eq + 1;
    else if (*i + 1 < argc)
        p->value = argv[++*i];
    else {
        snprintf(err, cap, "option '%s' needs a value", a);
        return 1;
    }
    return 0;
}

static int finish_values(cli_spec *s, char *err, size_t cap)
{
    for (int i = 0; i < s->n_params; ++i) {
        cli_param *p = &s->params[i];
        if (p->index >= 0 && !p->given) {
            snprintf(err, cap, "missing required argument %d (%s)", p->index + 1,
                     p->label ? p->label : p->name);
            return 1;
        }
        if (!p->given) {
            p->value = p->default_text;
            continue;
        }
        if (*p->value == '\0' && p->tag->elem == CLI_STRING)
            continue; /* Slicer passes empty strings and paths as nothing: same meaning */
        if (cli_value_check(p, p->value, err, cap))
            return 1;
        if (p->tag->path != CLI_NOT_PATH && check_path(p, p->value, err, cap))
            return 1;
    }
    return 0;
}

int cli_parse_args(cli_spec *s, int argc, char **argv, char *err, size_t cap)
{
    int positional = 0, only_positional = 0;
    for (int i = 0; i < argc; ++i) {
        const char *a = argv[i];
        if (!only_positional && strcmp(a, "--") == 0) {
            only_positional = 1;
            continue;
        }
        if (!only_positional && a[0] == '-' && a[1] != '\0') {
            if (parse_option(s, argc, argv, &i, err, cap))
                return 1;
            continue;
        }
        cli_param *p = by_index(s, positional++);
        if (!p) {
            snprintf(err, cap, "unexpected argument '%s'", a);
            return 1;
        }
        p->given = 1;
        p->value = a;
    }
    return finish_values(s, err, cap);
}
