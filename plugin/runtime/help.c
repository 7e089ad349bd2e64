/* help.c - --help and --echo, generated from the module's XML (labels, descriptions, groups,
 * defaults, constraints, enumerations). */
#include "cli_internal.h"

#include <string.h>

/* Writes text wrapped at 78 columns, each line indented by indent spaces. */
static void wrap(FILE *out, const char *text, int indent)
{
    const int width = 78 - indent;
    const char *t = text;
    while (*t) {
        while (*t == ' ' || *t == '\n' || *t == '\t')
            ++t;
        if (!*t)
            break;
        int n = 0, last_space = -1;
        while (t[n] && n < width) {
            if (t[n] == ' ' || t[n] == '\n' || t[n] == '\t')
                last_space = n;
            ++n;
        }
        if (t[n] && last_space > 0)
            n = last_space;
        fprintf(out, "%*s", indent, "");
        for (int i = 0; i < n; ++i)
            fputc(t[i] == '\n' || t[i] == '\t' ? ' ' : t[i], out);
        fputc('\n', out);
        t += n;
    }
}

static void print_usage(const cli_spec *s, const char *exe, FILE *out)
{
    fprintf(out, "Usage: %s [options]", exe);
    for (int k = 0;; ++k) {
        const cli_param *p = NULL;
        for (int i = 0; i < s->n_params; ++i)
            if (s->params[i].index == k)
                p = &s->params[i];
        if (!p)
            break;
        fprintf(out, " <%s>", p->name);
    }
    fputc('\n', out);
}

static void print_param(const cli_param *p, FILE *out)
{
    char head[200];
    int n;
    if (p->index >= 0)
        n = snprintf(head, sizeof head, "  <%s>", p->name);
    else if (p->flag && p->longflag)
        n = snprintf(head, sizeof head, "  -%c, --%s", p->flag, p->longflag);
    else
        n = snprintf(head, sizeof head, "  --%s", p->longflag ? p->longflag : p->name);
    if (p->tag->elem != CLI_BOOL && n > 0 && (size_t)n < sizeof head)
        snprintf(head + n, sizeof head - (size_t)n, " <%s>", p->tag_name);
    fprintf(out, "%s\n", head);
    if (p->label)
        fprintf(out, "      %s.", p->label);
    if (p->default_text && *p->default_text)
        fprintf(out, " Default: %s.", p->default_text);
    if (p->has_min || p->has_max) {
        fprintf(out, " Range:");
        if (p->has_min)
            fprintf(out, " from %g", p->min);
        if (p->has_max)
            fprintf(out, " to %g", p->max);
        fputc('.', out);
    }
    if (p->n_elements) {
        fprintf(out, " One of:");
        for (int i = 0; i < p->n_elements; ++i)
            fprintf(out, "%s %s", i ? "," : "", p->elements[i]);
        fputc('.', out);
    }
    if (p->index >= 0)
        fprintf(out, " Required.");
    fputc('\n', out);
    if (p->description)
        wrap(out, p->description, 6);
}

void cli_print_help(const cli_spec *s, const char *exe, FILE *out)
{
    fprintf(out, "%s %s - %s\n", exe, s->version ? s->version : "", s->title ? s->title : "");
    print_usage(s, exe, out);
    fputc('\n', out);
    if (s->description)
        wrap(out, s->description, 0);
    for (int g = 0; g < s->n_groups; ++g) {
        const cli_group *grp = &s->groups[g];
        int advanced = grp->attr_advanced && strcmp(grp->attr_advanced, "true") == 0;
        fprintf(out, "\n%s%s\n", grp->label ? grp->label : "", advanced ? " (advanced)" : "");
        if (grp->description)
            wrap(out, grp->description, 2);
        for (int i = 0; i < s->n_params; ++i)
            if (s->params[i].group == g && !cli_param_is_return(&s->params[i]))
                print_param(&s->params[i], out);
    }
    fprintf(out, "\nStandard arguments\n"
                 "  --xml      print the module description (XML) and exit\n"
                 "  --logo     print the module logo (SEM's format) and exit\n"
                 "  --help     print this text and exit\n"
                 "  --version  print the version and exit\n"
                 "  --echo     print the parameters' values, then run\n"
                 "  --returnparameterfile <file>  write the results as 'name = value' lines\n"
                 "  --processinformationaddress <address>  accepted and ignored\n");
    if (s->contributor)
        fprintf(out, "\nContributors: %s\n", s->contributor);
}

void cli_print_echo(const cli_spec *s, FILE *out)
{
    fprintf(out, "Command Line Arguments\n");
    for (int i = 0; i < s->n_params; ++i) {
        const cli_param *p = &s->params[i];
        if (cli_param_is_return(p))
            continue;
        const char *v = p->value ? p->value : "";
        if (p->tag->elem == CLI_BOOL && !p->tag->vector)
            v = p->value && strcmp(p->value, "true") == 0 ? "true" : "false";
        fprintf(out, "    %s: %s\n", p->name, v);
    }
    fflush(out);
}
