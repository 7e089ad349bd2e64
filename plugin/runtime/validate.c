/* validate.c - SLICER_CLI.md rules 1-8 checked on a loaded spec (plus the project's rules that
 * keep the parser unambiguous, reported as rule 0, and the reserved standard flags of rule 11).
 * The runtime refuses a description with any issue; the validator program prints them all. */
#include "cli_internal.h"

#include <ctype.h>
#include <string.h>

static int is_identifier(const char *t)
{
    if (!t || !(isalpha((unsigned char)t[0]) || t[0] == '_'))
        return 0;
    for (const char *c = t + 1; *c; ++c)
        if (!(isalnum((unsigned char)*c) || *c == '_'))
            return 0;
    return 1;
}

static int empty(const char *t)
{
    return !t || *t == '\0';
}

static int true_or_false(const char *t)
{
    return !t || strcmp(t, "true") == 0 || strcmp(t, "false") == 0;
}

static void check_module(cli_spec *s)
{
    const struct {
        const char *tag;
        const char *text;
    } f[] = {{"category", s->category},       {"title", s->title},
             {"description", s->description}, {"version", s->version},
             {"documentation-url", s->doc_url}, {"license", s->license},
             {"contributor", s->contributor}, {"acknowledgements", s->ack}};
    for (size_t i = 0; i < sizeof f / sizeof f[0]; ++i)
        if (empty(f[i].text))
            cli_spec_issue(s, 2, 0, "module field <%s> is missing or empty", f[i].tag);
    if (s->n_groups == 0)
        cli_spec_issue(s, 3, 0, "no <parameters> group");
    for (int g = 0; g < s->n_groups; ++g) {
        const cli_group *grp = &s->groups[g];
        if (empty(grp->label) || empty(grp->description))
            cli_spec_issue(s, 3, grp->line, "a <parameters> group needs <label> and <description>");
        if (!true_or_false(grp->attr_advanced))
            cli_spec_issue(s, 3, grp->line, "advanced=\"%s\" is neither true nor false",
                           grp->attr_advanced);
    }
}

static void check_values(cli_spec *s, const cli_param *p)
{
    const int numeric = (p->tag->elem == CLI_INT || p->tag->elem == CLI_REAL) &&
                        p->tag->path == CLI_NOT_PATH;
    if (p->tag->enumeration && p->n_elements == 0)
        cli_spec_issue(s, 4, p->line, "%s: an enumeration needs <element> children", p->name);
    if (p->tag->enumeration && p->n_elements > 0 && empty(p->default_text) &&
        !cli_param_is_return(p))
        cli_spec_issue(s, 0, p->line, "%s: an enumeration needs a <default> (Slicer shows one "
                       "element chosen)", p->name);
    if (!p->tag->enumeration && p->n_elements > 0)
        cli_spec_issue(s, 4, p->line, "%s: <element> belongs to enumerations only", p->name);
    if (!numeric && (p->has_min || p->has_max || p->has_step))
        cli_spec_issue(s, 4, p->line, "%s: <constraints> on a <%s>", p->name, p->tag_name);
    if (p->has_min && p->has_max && p->min > p->max)
        cli_spec_issue(s, 4, p->line, "%s: minimum %g above maximum %g", p->name, p->min, p->max);
    if (p->has_step && !(p->step > 0))
        cli_spec_issue(s, 4, p->line, "%s: step %g is not positive", p->name, p->step);
    char err[200];
    if (p->default_text && *p->default_text && cli_value_check(p, p->default_text, err, sizeof err))
        cli_spec_issue(s, 4, p->line, "%s: bad <default>: %s", p->name, err);
    if (p->tag->elem == CLI_BOOL && p->default_text && strcmp(p->default_text, "true") == 0)
        cli_spec_issue(s, 0, p->line, "%s: a boolean defaulting to true cannot be switched off "
                       "(Slicer passes a boolean only when true, rule 12)", p->name);
    if (empty(p->label) || empty(p->description))
        cli_spec_issue(s, 0, p->line, "%s: every parameter needs a <label> and a <description>",
                       p->name);
}

static void check_flags(cli_spec *s, const cli_param *p)
{
    static const char *const reserved[] = {"xml", "echo", "help", "version", "logo",
                                           "processinformationaddress", "returnparameterfile"};
    if (!is_identifier(p->name))
        cli_spec_issue(s, 5, p->line, "<name> '%s' does not match [_A-Za-z][_A-Za-z0-9]*",
                       p->name);
    if (p->longflag_raw && !is_identifier(p->longflag))
        cli_spec_issue(s, 5, p->line, "%s: <longflag> '%s' does not match [_A-Za-z][_A-Za-z0-9]*",
                       p->name, p->longflag_raw);
    if (p->flag_raw) {
        const char *f = p->flag_raw[0] == '-' ? p->flag_raw + 1 : p->flag_raw;
        if (strlen(f) != 1 || !isalpha((unsigned char)f[0]) || f[0] == 'h')
            cli_spec_issue(s, 5, p->line, "%s: <flag> '%s' is not one letter (h is --help)",
                           p->name, p->flag_raw);
    }
    if (p->index >= 0 && (p->flag_raw || p->longflag_raw))
        cli_spec_issue(s, 5, p->line, "%s: a parameter has <index> or a flag, never both",
                       p->name);
    if (p->index < 0 && !p->longflag_raw && !cli_param_is_return(p))
        cli_spec_issue(s, 5, p->line, "%s: a parameter without <index> needs a <longflag>",
                       p->name);
    for (size_t i = 0; p->longflag && i < sizeof reserved / sizeof reserved[0]; ++i)
        if (strcmp(p->longflag, reserved[i]) == 0)
            cli_spec_issue(s, 11, p->line, "%s: --%s is a standard argument", p->name,
                           p->longflag);
}

static void check_attributes(cli_spec *s, const cli_param *p)
{
    static const char *const types[] = {"any", "scalar", "label", "tensor", "diffusion-weighted",
                                        "vector", "signal", "multichannel",
                                        "dynamic-contrast-enhanced"};
    if (strcmp(p->tag_name, "image") == 0 && p->attr_type) {
        size_t i = 0;
        while (i < sizeof types / sizeof types[0] && strcmp(types[i], p->attr_type) != 0)
            ++i;
        if (i == sizeof types / sizeof types[0])
            cli_spec_issue(s, 6, p->line, "%s: image type '%s' is not one of SEM's", p->name,
                           p->attr_type);
    }
    if (!true_or_false(p->attr_hidden) || !true_or_false(p->attr_multiple))
        cli_spec_issue(s, 6, p->line, "%s: hidden and multiple are true or false", p->name);
    if (p->attr_multiple && strcmp(p->attr_multiple, "true") == 0)
        cli_spec_issue(s, 0, p->line, "%s: multiple=\"true\" is not supported by DualSeg's "
                       "runtime", p->name);
    const int needs_ext = strcmp(p->tag_name, "image") == 0 ||
                          strcmp(p->tag_name, "transform") == 0 ||
                          strcmp(p->tag_name, "table") == 0;
    if (needs_ext && (empty(p->attr_ext) || p->attr_ext[0] != '.'))
        cli_spec_issue(s, 7, p->line, "%s: <%s> needs fileExtensions=\".ext,...\"", p->name,
                       p->tag_name);
    if (cli_param_is_return(p) && !p->tag->returnable)
        cli_spec_issue(s, 8, p->line, "%s: a return parameter (output, no flag, no index) must "
                       "be a number, boolean, string, vector or enumeration, not <%s>",
                       p->name, p->tag_name);
}

/* Names, long flags, flags and indices are unique; indices run 0..n-1. */
static void check_unique(cli_spec *s)
{
    int n_index = 0;
    for (int i = 0; i < s->n_params; ++i) {
        const cli_param *a = &s->params[i];
        n_index += a->index >= 0;
        for (int j = 0; j < i; ++j) {
            const cli_param *b = &s->params[j];
            if (strcmp(a->name, b->name) == 0)
                cli_spec_issue(s, 5, a->line, "<name> %s used twice", a->name);
            if (a->longflag && b->longflag && strcmp(a->longflag, b->longflag) == 0)
                cli_spec_issue(s, 5, a->line, "<longflag> %s used twice", a->longflag);
            if (a->flag && a->flag == b->flag)
                cli_spec_issue(s, 5, a->line, "<flag> %c used twice", a->flag);
            if (a->index >= 0 && a->index == b->index)
                cli_spec_issue(s, 5, a->line, "<index> %d used twice", a->index);
        }
    }
    for (int i = 0; i < s->n_params; ++i)
        if (s->params[i].index >= n_index)
            cli_spec_issue(s, 5, s->params[i].line, "%s: indices must run 0..%d", s->params[i].name,
                           n_index - 1);
}

void cli_spec_check(cli_spec *s)
{
    check_module(s);
    for (int i = 0; i < s->n_params; ++i) {
        check_values(s, &s->params[i]);
        check_flags(s, &s->params[i]);
        check_attributes(s, &s->params[i]);
    }
    check_unique(s);
}
