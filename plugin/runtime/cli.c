/* cli.c - a module run: the standard arguments, the parsed values, return parameters, the end. */
#include "cli_internal.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "ds_atomic_file.h"

struct ds_cli {
    const ds_cli_module *m;
    cli_spec *spec;
    const char *return_file;   /* --returnparameterfile (argv, borrowed) */
    ds_cli_reporter progress;
    int started;
    char **rest;               /* argv without the standard arguments */
};

/* A request the XML cannot answer: the C and its XML disagree. Loud, never silent. */
static void bug(const ds_cli *cli, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3), noreturn))
#endif
    ;
static void bug(const ds_cli *cli, const char *fmt, ...)
{
    fprintf(stderr, "%s: internal error: ", cli->m->name);
    va_list ap;
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    exit(DS_CLI_EXIT_BUG);
}

static void cli_free(ds_cli *cli)
{
    if (!cli)
        return;
    cli_spec_free(cli->spec);
    free(cli->rest);
    free(cli);
}

typedef enum early { EARLY_NONE = 0, EARLY_XML, EARLY_LOGO, EARLY_HELP, EARLY_VERSION } early;

/* Takes the standard arguments out of argv; 1 with a message in err when one is malformed. */
static int standard_args(ds_cli *cli, int argc, char **argv, int *n_rest, early *e, int *echo,
                         char *err, size_t cap)
{
    *n_rest = 0;
    for (int i = 1; i < argc; ++i) {
        const char *a = argv[i];
        if (strcmp(a, "--xml") == 0)
            *e = *e ? *e : EARLY_XML;
        else if (strcmp(a, "--logo") == 0)
            *e = *e ? *e : EARLY_LOGO;
        else if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0)
            *e = *e ? *e : EARLY_HELP;
        else if (strcmp(a, "--version") == 0)
            *e = *e ? *e : EARLY_VERSION;
        else if (strcmp(a, "--echo") == 0)
            *echo = 1;
        else if (strcmp(a, "--processinformationaddress") == 0 ||
                 strcmp(a, "--returnparameterfile") == 0) {
            if (i + 1 >= argc) {
                snprintf(err, cap, "option '%s' needs a value", a);
                return 1;
            }
            if (a[2] == 'r')
                cli->return_file = argv[i + 1];
            ++i;
        } else
            cli->rest[(*n_rest)++] = argv[i];
    }
    return 0;
}

/* The return parameter file's folder must exist; it is written only at the end. */
static int check_return_file(const char *path, char *err, size_t cap)
{
    struct stat st;
    const char *slash = strrchr(path, '/');
    char dir[4096];
    if (!slash)
        snprintf(dir, sizeof dir, ".");
    else
        snprintf(dir, sizeof dir, "%.*s", slash == path ? 1 : (int)(slash - path), path);
    if (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode)) {
        snprintf(err, cap, "--returnparameterfile: the folder of '%s' does not exist", path);
        return 1;
    }
    if (stat(path, &st) == 0 && S_ISDIR(st.st_mode)) {
        snprintf(err, cap, "--returnparameterfile: '%s' is a folder; a file is expected", path);
        return 1;
    }
    return 0;
}

/* --xml, --logo, --help, --version: the answer on stdout, then the exit code. */
static int early_answer(const ds_cli *cli, early e)
{
    const ds_cli_module *m = cli->m;
    if (e == EARLY_XML)
        fwrite(m->xml, 1, m->xml_size, stdout);
    else if (e == EARLY_LOGO && m->logo)
        fputs(m->logo, stdout);
    else if (e == EARLY_HELP)
        cli_print_help(cli->spec, m->name, stdout);
    else if (e == EARLY_VERSION)
        printf("%s %s\n", m->name, cli->spec->version ? cli->spec->version : "");
    return fflush(stdout) == 0 ? DS_CLI_EXIT_OK : DS_CLI_EXIT_FAILED;
}

ds_cli *ds_cli_begin(const ds_cli_module *m, int argc, char **argv, int *exit_code)
{
    if (argc >= 2 && strcmp(argv[1], "--xml") == 0) {
        /* The fast path Slicer takes when it scans modules: the bytes, nothing else. */
        fwrite(m->xml, 1, m->xml_size, stdout);
        *exit_code = fflush(stdout) == 0 ? DS_CLI_EXIT_OK : DS_CLI_EXIT_FAILED;
        return NULL;
    }
    ds_cli *cli = calloc(1, sizeof *cli);
    if (cli) {
        cli->m = m;
        cli->spec = cli_spec_load((const char *)m->xml, m->xml_size);
        cli->rest = calloc((size_t)argc + 1, sizeof *cli->rest);
    }
    if (!cli || !cli->spec || !cli->rest) {
        fprintf(stderr, "%s: out of memory\n", m->name);
        cli_free(cli);
        *exit_code = DS_CLI_EXIT_FAILED;
        return NULL;
    }
    if (cli->spec->n_issues > 0) {
        const cli_issue *is = &cli->spec->issues[0];
        fprintf(stderr, "%s: internal error: the embedded %s.xml breaks rule %d (line %d): %s\n",
                m->name, m->name, is->rule, is->line, is->text);
        cli_free(cli);
        *exit_code = DS_CLI_EXIT_BUG;
        return NULL;
    }
    early e = EARLY_NONE;
    int echo = 0, n_rest = 0;
    char err[600] = "";
    int bad = standard_args(cli, argc, argv, &n_rest, &e, &echo, err, sizeof err);
    if (!bad && e == EARLY_NONE) {
        bad = cli_parse_args(cli->spec, n_rest, cli->rest, err, sizeof err);
        if (!bad && cli->return_file)
            bad = check_return_file(cli->return_file, err, sizeof err);
    }
    if (e != EARLY_NONE) {
        *exit_code = early_answer(cli, e);
        cli_free(cli);
        return NULL;
    }
    if (bad) {
        fprintf(stderr, "%s: %s (see %s --help)\n", m->name, err, m->name);
        cli_free(cli);
        *exit_code = DS_CLI_EXIT_USAGE;
        return NULL;
    }
    if (echo)
        cli_print_echo(cli->spec, stdout);
    ds_cli_reporter_init(&cli->progress, stdout, NULL, NULL);
    *exit_code = DS_CLI_EXIT_OK;
    return cli;
}

int ds_cli_usage_error(ds_cli *cli, const char *fmt, ...)
{
    fprintf(stderr, "%s: ", cli->m->name);
    va_list ap;
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, " (see %s --help)\n", cli->m->name);
    cli_free(cli);
    return DS_CLI_EXIT_USAGE;
}

/* Writes the return parameter file atomically; on failure the reason goes into msg. */
static ds_status write_returns(const ds_cli *cli, char *msg, size_t cap)
{
    ds_ctx *ctx = NULL;
    ds_atomic_file af;
    ds_status st = ds_ctx_create(&ctx);
    if (st == DS_OK)
        st = ds_atomic_open(ctx, &af, cli->return_file);
    for (int i = 0; st == DS_OK && i < cli->spec->n_params; ++i)
        if (cli->spec->params[i].ret)
            fprintf(af.f, "%s = %s\n", cli->spec->params[i].name, cli->spec->params[i].ret);
    if (st == DS_OK)
        st = ds_atomic_commit(ctx, &af);
    if (st != DS_OK)
        snprintf(msg, cap, "%s", ctx ? ds_ctx_message(ctx) : "out of memory");
    ds_ctx_free(ctx);
    return st;
}

int ds_cli_end(ds_cli *cli, ds_status st, const char *message)
{
    char msg[DS_MESSAGE_CAP];
    snprintf(msg, sizeof msg, "%s", message && *message ? message : ds_status_name(st));
    if (st == DS_OK && cli->return_file)
        st = write_returns(cli, msg, sizeof msg);
    if (st != DS_OK)
        fprintf(stderr, "%s: error: %s\n", cli->m->name, msg);
    else if (cli->started) {
        ds_cli_reporter_update(&cli->progress, 1, -1, NULL);
        ds_cli_reporter_end(&cli->progress, cli->spec->title);
    }
    fflush(stdout);
    cli_free(cli);
    return st == DS_OK ? DS_CLI_EXIT_OK : DS_CLI_EXIT_FAILED;
}

/* ---- getters ---- */

static cli_param *lookup(const ds_cli *cli, const char *name, const char *getter)
{
    cli_param *p = cli_spec_param(cli->spec, name);
    if (!p)
        bug(cli, "%s(\"%s\"): %s.xml declares no such parameter", getter, name, cli->m->name);
    return p;
}

static void want(const ds_cli *cli, const cli_param *p, const char *getter, int ok)
{
    if (!ok)
        bug(cli, "%s(\"%s\") on a <%s> parameter", getter, p->name, p->tag_name);
}

int ds_cli_get_int(const ds_cli *cli, const char *name)
{
    const cli_param *p = lookup(cli, name, __func__);
    want(cli, p, __func__, p->tag->elem == CLI_INT && !p->tag->vector);
    return p->value && *p->value ? (int)strtol(p->value, NULL, 10) : 0;
}

double ds_cli_get_double(const ds_cli *cli, const char *name)
{
    const cli_param *p = lookup(cli, name, __func__);
    want(cli, p, __func__, p->tag->elem == CLI_REAL && !p->tag->vector);
    return p->value && *p->value ? strtod(p->value, NULL) : 0.0;
}

int ds_cli_get_bool(const ds_cli *cli, const char *name)
{
    const cli_param *p = lookup(cli, name, __func__);
    want(cli, p, __func__, p->tag->elem == CLI_BOOL && !p->tag->vector);
    return p->value && strcmp(p->value, "true") == 0;
}

const char *ds_cli_get_string(const ds_cli *cli, const char *name)
{
    const cli_param *p = lookup(cli, name, __func__);
    want(cli, p, __func__, p->tag->elem == CLI_STRING && !p->tag->vector);
    return p->value ? p->value : "";
}

const char *ds_cli_longflag(const ds_cli *cli, const char *name)
{
    const cli_param *p = lookup(cli, name, __func__);
    if (!p->longflag)
        bug(cli, "%s(\"%s\"): the parameter has no <longflag>", __func__, name);
    return p->longflag;
}

int ds_cli_has_value(const ds_cli *cli, const char *name)
{
    const cli_param *p = lookup(cli, name, __func__);
    return p->value && *p->value;
}

static int get_numbers(const ds_cli *cli, const char *name, const char *getter, cli_elem elem,
                       int *iv, double *dv, int cap)
{
    const cli_param *p = lookup(cli, name, getter);
    want(cli, p, getter, p->tag->elem == elem && p->tag->vector);
    int n = 0;
    for (const char *t = p->value; t && *t; ++n) {
        char *end;
        if (n < cap && iv)
            iv[n] = (int)strtol(t, &end, 10);
        else if (n < cap && dv)
            dv[n] = strtod(t, &end);
        t = strchr(t, ',');
        t = t ? t + 1 : NULL;
    }
    return n;
}

int ds_cli_get_ints(const ds_cli *cli, const char *name, int *out, int cap)
{
    return get_numbers(cli, name, __func__, CLI_INT, out, NULL, cap);
}

int ds_cli_get_doubles(const ds_cli *cli, const char *name, double *out, int cap)
{
    return get_numbers(cli, name, __func__, CLI_REAL, NULL, out, cap);
}

int ds_cli_get_choice(const ds_cli *cli, const char *name, const ds_cli_choice *table, int n)
{
    const cli_param *p = lookup(cli, name, __func__);
    want(cli, p, __func__, p->tag->enumeration && p->tag->elem == CLI_STRING);
    if (n != p->n_elements)
        bug(cli, "%s(\"%s\"): the table has %d choices, the XML %d elements", __func__, name, n,
            p->n_elements);
    int found = -1;
    for (int k = 0; k < n; ++k) {
        int in_xml = 0;
        for (int e = 0; e < p->n_elements; ++e)
            in_xml |= strcmp(p->elements[e], table[k].element) == 0;
        if (!in_xml)
            bug(cli, "%s(\"%s\"): '%s' is not an <element> of the XML", __func__, name,
                table[k].element);
        if (p->value && strcmp(p->value, table[k].element) == 0)
            found = k;
    }
    if (found < 0)
        bug(cli, "%s(\"%s\"): no value (the XML needs a <default>)", __func__, name);
    return table[found].value;
}

/* ---- return parameters ---- */

static void set_return(ds_cli *cli, const char *name, const char *getter, int vector,
                       cli_elem elem, char *text)
{
    cli_param *p = lookup(cli, name, getter);
    if (!cli_param_is_return(p))
        bug(cli, "%s(\"%s\"): not a return parameter (output, no flag, no index)", getter, name);
    want(cli, p, getter, p->tag->vector == vector && p->tag->elem == elem);
    if (!text)
        bug(cli, "%s(\"%s\"): out of memory", getter, name);
    free(p->ret);
    p->ret = text;
}

static char *format(const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 1, 2)))
#endif
    ;
static char *format(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    char *s = n >= 0 ? malloc((size_t)n + 1) : NULL;
    if (s) {
        va_start(ap, fmt);
        vsnprintf(s, (size_t)n + 1, fmt, ap);
        va_end(ap);
    }
    return s;
}

void ds_cli_return_int(ds_cli *cli, const char *name, long long v)
{
    set_return(cli, name, __func__, 0, CLI_INT, format("%lld", v));
}

void ds_cli_return_double(ds_cli *cli, const char *name, double v)
{
    set_return(cli, name, __func__, 0, CLI_REAL, format("%.17g", v));
}

void ds_cli_return_doubles(ds_cli *cli, const char *name, const double *v, int n)
{
    char *text = format("%s", "");
    for (int i = 0; i < n && text; ++i) {
        char *grown = format("%s%s%.17g", text, i ? "," : "", v[i]);
        free(text);
        text = grown;
    }
    set_return(cli, name, __func__, 1, CLI_REAL, text);
}

void ds_cli_return_ints(ds_cli *cli, const char *name, const int *v, int n)
{
    char *text = format("%s", "");
    for (int i = 0; i < n && text; ++i) {
        char *grown = format("%s%s%d", text, i ? "," : "", v[i]);
        free(text);
        text = grown;
    }
    set_return(cli, name, __func__, 1, CLI_INT, text);
}

void ds_cli_return_string(ds_cli *cli, const char *name, const char *v)
{
    set_return(cli, name, __func__, 0, CLI_STRING, format("%s", v ? v : ""));
}

/* ---- progress and log ---- */

void ds_cli_start(ds_cli *cli, const char *comment)
{
    if (cli->started)
        return;
    cli->started = 1;
    ds_cli_reporter_start(&cli->progress, cli->spec->title, comment);
    cli_report_blas_core(stdout);
}

void ds_cli_progress(ds_cli *cli, double fraction, const char *comment)
{
    ds_cli_start(cli, comment);
    ds_cli_reporter_update(&cli->progress, fraction, -1, comment);
}

void ds_cli_log(void *user, ds_log_level level, const char *msg)
{
    (void)user;
    printf("%s%s\n", level >= DS_LOG_WARN ? "warning: " : "", msg);
    fflush(stdout);
}
