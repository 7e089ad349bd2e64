/* cli_internal.h - the parsed module description (spec), shared by the runtime's files and the
 * validator. Everything is derived from the XML: the parser, --help, --echo, the getters.
 */
#ifndef DS_CLI_INTERNAL_H
#define DS_CLI_INTERNAL_H

#include <stddef.h>
#include <stdio.h>

#include "ds_cli.h"

/* What one value of a parameter is. */
typedef enum cli_elem {
    CLI_INT = 0,
    CLI_REAL,   /* float and double */
    CLI_BOOL,
    CLI_STRING, /* string, file, directory, image, ... */
} cli_elem;

typedef enum cli_path {
    CLI_NOT_PATH = 0,
    CLI_PATH_FILE, /* file, image, geometry, transform, table, measurement, pointfile */
    CLI_PATH_DIR   /* directory */
} cli_path;

typedef struct cli_tag {
    const char *tag;
    cli_elem elem;
    int vector;      /* comma-separated values */
    int enumeration; /* value must be one of <element> */
    cli_path path;
    int returnable;  /* may be a return parameter (SLICER_CLI.md rule 8) */
} cli_tag;

/* The tag's entry, or NULL when tag is not a parameter tag of SLICER_CLI.md rule 4. */
const cli_tag *cli_tag_find(const char *tag);

typedef enum cli_channel { CLI_CHANNEL_NONE = 0, CLI_CHANNEL_INPUT, CLI_CHANNEL_OUTPUT } cli_channel;

/* A remark about the XML found while loading it, with the SLICER_CLI.md rule it breaks; the
 * runtime refuses a description with any, the validator prints them. */
typedef struct cli_issue {
    int rule;
    int line;
    char text[240];
} cli_issue;

typedef struct cli_param {
    const cli_tag *tag;
    const char *tag_name;       /* as written */
    char *name, *label, *description, *default_text;
    char *flag_raw, *longflag_raw; /* as written (NULL when absent) */
    const char *longflag;       /* longflag_raw without leading dashes */
    char flag;                  /* 0: none */
    int index;                  /* -1: none */
    cli_channel channel;
    int has_min, has_max, has_step;
    double min, max, step;
    char **elements;
    int n_elements;
    char *attr_type, *attr_hidden, *attr_multiple, *attr_ext; /* raw attributes (may be NULL) */
    int group;
    int line;
    /* run time */
    const char *value;          /* the argument given, else the default, else NULL */
    int given;
    char *ret;                  /* return value, formatted */
} cli_param;

typedef struct cli_group {
    char *label, *description, *attr_advanced;
    int line;
} cli_group;

typedef struct cli_spec {
    /* module fields (rule 2), NULL when absent */
    char *category, *title, *description, *version, *doc_url, *license, *contributor, *ack;
    cli_group *groups;
    int n_groups;
    cli_param *params;
    int n_params;
    cli_issue *issues;
    int n_issues;
} cli_spec;

/* Builds the spec of an XML text; NULL only when out of memory. Problems with the text are issues
 * of the spec (an unparsable text is one rule-1 issue). */
cli_spec *cli_spec_load(const char *xml, size_t len);
void cli_spec_free(cli_spec *s);
void cli_spec_issue(cli_spec *s, int rule, int line, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 4, 5)))
#endif
    ;

/* Records an issue for every break of SLICER_CLI.md rules 1-8 (and of the project's own rules
 * that keep the runtime's parser unambiguous) in a loaded spec; called by cli_spec_load. */
void cli_spec_check(cli_spec *s);

/* The parameter called name, or NULL. */
cli_param *cli_spec_param(const cli_spec *s, const char *name);
/* 1 for a return parameter (rule 8): output channel, no flag, no longflag, no index. */
int cli_param_is_return(const cli_param *p);

/* Checks one value (a whole vector for vector tags) against the parameter's type, constraints
 * and elements; on failure writes one line into err. what names the value in the message. */
int cli_value_check(const cli_param *p, const char *value, char *err, size_t cap);

/* Parses argv (after the standard arguments are removed) into the spec's values. 0 on success,
 * otherwise one line in err. */
int cli_parse_args(cli_spec *s, int argc, char **argv, char *err, size_t cap);

/* Writes --help / --echo text. */
void cli_print_help(const cli_spec *s, const char *exe, FILE *out);
void cli_print_echo(const cli_spec *s, FILE *out);

/* After ds_cli_correct_blas_core's exec: one line saying which OpenBLAS kernels run instead of
 * which; nothing otherwise. */
void cli_report_blas_core(FILE *out);

#endif
