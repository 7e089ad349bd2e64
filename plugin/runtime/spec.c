/* spec.c - a module description (XML, parsed with libxml2) turned into a cli_spec. Anything that
 * breaks SLICER_CLI.md rules 1-8 is recorded as an issue naming the rule; the runtime refuses a
 * spec with issues and the validator prints them. */
#include "cli_internal.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include <libxml/parser.h>
#include <libxml/tree.h>

static const cli_tag k_tags[] = {
    {"integer", CLI_INT, 0, 0, CLI_NOT_PATH, 1},
    {"float", CLI_REAL, 0, 0, CLI_NOT_PATH, 1},
    {"double", CLI_REAL, 0, 0, CLI_NOT_PATH, 1},
    {"boolean", CLI_BOOL, 0, 0, CLI_NOT_PATH, 1},
    {"string", CLI_STRING, 0, 0, CLI_NOT_PATH, 1},
    {"integer-vector", CLI_INT, 1, 0, CLI_NOT_PATH, 1},
    {"float-vector", CLI_REAL, 1, 0, CLI_NOT_PATH, 1},
    {"double-vector", CLI_REAL, 1, 0, CLI_NOT_PATH, 1},
    {"string-vector", CLI_STRING, 1, 0, CLI_NOT_PATH, 1},
    {"string-enumeration", CLI_STRING, 0, 1, CLI_NOT_PATH, 1},
    {"integer-enumeration", CLI_INT, 0, 1, CLI_NOT_PATH, 1},
    {"float-enumeration", CLI_REAL, 0, 1, CLI_NOT_PATH, 1},
    {"double-enumeration", CLI_REAL, 0, 1, CLI_NOT_PATH, 1},
    {"file", CLI_STRING, 0, 0, CLI_PATH_FILE, 0},
    {"directory", CLI_STRING, 0, 0, CLI_PATH_DIR, 0},
    {"image", CLI_STRING, 0, 0, CLI_PATH_FILE, 0},
    {"geometry", CLI_STRING, 0, 0, CLI_PATH_FILE, 0},
    {"transform", CLI_STRING, 0, 0, CLI_PATH_FILE, 0},
    {"table", CLI_STRING, 0, 0, CLI_PATH_FILE, 0},
    {"measurement", CLI_STRING, 0, 0, CLI_PATH_FILE, 0},
    {"pointfile", CLI_STRING, 0, 0, CLI_PATH_FILE, 0},
    {"point", CLI_REAL, 1, 0, CLI_NOT_PATH, 0},
    {"region", CLI_REAL, 1, 0, CLI_NOT_PATH, 0},
};

const cli_tag *cli_tag_find(const char *tag)
{
    for (size_t i = 0; i < sizeof k_tags / sizeof k_tags[0]; ++i)
        if (strcmp(k_tags[i].tag, tag) == 0)
            return &k_tags[i];
    return NULL;
}

void cli_spec_issue(cli_spec *s, int rule, int line, const char *fmt, ...)
{
    cli_issue *grown = realloc(s->issues, (size_t)(s->n_issues + 1) * sizeof *grown);
    if (!grown)
        return; /* the issues already recorded still refuse the spec */
    s->issues = grown;
    cli_issue *is = &s->issues[s->n_issues++];
    is->rule = rule;
    is->line = line;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(is->text, sizeof is->text, fmt, ap);
    va_end(ap);
}

static int is_elem(const xmlNode *n, const char *name)
{
    return n->type == XML_ELEMENT_NODE && strcmp((const char *)n->name, name) == 0;
}

/* The element's text, trimmed (malloc'd; "" for an empty element). */
static char *text_of(const xmlNode *n)
{
    xmlChar *c = xmlNodeGetContent(n);
    const char *t = c ? (const char *)c : "";
    while (*t == ' ' || *t == '\n' || *t == '\t' || *t == '\r')
        ++t;
    size_t len = strlen(t);
    while (len > 0 && (t[len - 1] == ' ' || t[len - 1] == '\n' || t[len - 1] == '\t' ||
                       t[len - 1] == '\r'))
        --len;
    char *out = malloc(len + 1);
    if (out) {
        memcpy(out, t, len);
        out[len] = '\0';
    }
    xmlFree(c);
    return out;
}

static char *attr_of(const xmlNode *n, const char *name)
{
    xmlChar *a = xmlGetProp(n, (const xmlChar *)name);
    if (!a)
        return NULL;
    char *out = malloc(strlen((const char *)a) + 1);
    if (out)
        strcpy(out, (const char *)a);
    xmlFree(a);
    return out;
}

/* Sets *slot to the text of n; a second occurrence is an issue. */
static void take_text(cli_spec *s, char **slot, const xmlNode *n, int rule)
{
    if (*slot) {
        cli_spec_issue(s, rule, n->line, "<%s> given twice", (const char *)n->name);
        free(*slot);
    }
    *slot = text_of(n);
}

static int parse_real(const char *t, double *out)
{
    char *end;
    *out = strtod(t, &end);
    return *t != '\0' && *end == '\0';
}

static void load_constraints(cli_spec *s, cli_param *p, const xmlNode *c)
{
    for (const xmlNode *n = c->children; n; n = n->next) {
        if (n->type != XML_ELEMENT_NODE)
            continue;
        int *has = NULL;
        double *val = NULL;
        if (is_elem(n, "minimum"))
            has = &p->has_min, val = &p->min;
        else if (is_elem(n, "maximum"))
            has = &p->has_max, val = &p->max;
        else if (is_elem(n, "step"))
            has = &p->has_step, val = &p->step;
        if (!has) {
            cli_spec_issue(s, 4, n->line, "%s: unknown element <%s> in <constraints>", p->name,
                           (const char *)n->name);
            continue;
        }
        char *t = text_of(n);
        if (!t || !parse_real(t, val))
            cli_spec_issue(s, 4, n->line, "%s: <%s> '%s' is not a number", p->name,
                           (const char *)n->name, t ? t : "");
        *has = 1;
        free(t);
    }
}

static void add_element(cli_spec *s, cli_param *p, const xmlNode *n)
{
    char **grown = realloc(p->elements, (size_t)(p->n_elements + 1) * sizeof *grown);
    if (!grown) {
        cli_spec_issue(s, 4, n->line, "out of memory");
        return;
    }
    p->elements = grown;
    p->elements[p->n_elements++] = text_of(n);
}

static void load_child(cli_spec *s, cli_param *p, const xmlNode *n)
{
    char *t;
    if (is_elem(n, "name"))
        take_text(s, &p->name, n, 4);
    else if (is_elem(n, "flag"))
        take_text(s, &p->flag_raw, n, 4);
    else if (is_elem(n, "longflag"))
        take_text(s, &p->longflag_raw, n, 4);
    else if (is_elem(n, "label"))
        take_text(s, &p->label, n, 4);
    else if (is_elem(n, "description"))
        take_text(s, &p->description, n, 4);
    else if (is_elem(n, "default"))
        take_text(s, &p->default_text, n, 4);
    else if (is_elem(n, "element"))
        add_element(s, p, n);
    else if (is_elem(n, "constraints"))
        load_constraints(s, p, n);
    else if (is_elem(n, "channel")) {
        t = text_of(n);
        if (t && strcmp(t, "input") == 0)
            p->channel = CLI_CHANNEL_INPUT;
        else if (t && strcmp(t, "output") == 0)
            p->channel = CLI_CHANNEL_OUTPUT;
        else
            cli_spec_issue(s, 4, n->line, "<channel> '%s' is neither input nor output",
                           t ? t : "");
        free(t);
    } else if (is_elem(n, "index")) {
        t = text_of(n);
        char *end;
        long v = t ? strtol(t, &end, 10) : -1;
        if (!t || *t == '\0' || *end != '\0' || v < 0 || v > 1000)
            cli_spec_issue(s, 4, n->line, "<index> '%s' is not a small non-negative integer",
                           t ? t : "");
        else
            p->index = (int)v;
        free(t);
    } else if (n->type == XML_ELEMENT_NODE)
        cli_spec_issue(s, 4, n->line, "unknown element <%s> in <%s>", (const char *)n->name,
                       p->tag_name);
}

static void load_param(cli_spec *s, const xmlNode *pn, int group)
{
    cli_param *grown = realloc(s->params, (size_t)(s->n_params + 1) * sizeof *grown);
    if (!grown) {
        cli_spec_issue(s, 4, pn->line, "out of memory");
        return;
    }
    s->params = grown;
    cli_param *p = &s->params[s->n_params++];
    memset(p, 0, sizeof *p);
    p->tag = cli_tag_find((const char *)pn->name);
    p->tag_name = (const char *)p->tag->tag;
    p->index = -1;
    p->group = group;
    p->line = pn->line;
    p->attr_type = attr_of(pn, "type");
    p->attr_hidden = attr_of(pn, "hidden");
    p->attr_multiple = attr_of(pn, "multiple");
    p->attr_ext = attr_of(pn, "fileExtensions");
    for (const xmlNode *n = pn->children; n; n = n->next)
        load_child(s, p, n);
    if (!p->name) {
        cli_spec_issue(s, 4, pn->line, "<%s> without <name>", p->tag_name);
        p->name = calloc(1, 1); /* "": the getters never find it */
    }
    p->longflag = p->longflag_raw;
    while (p->longflag && *p->longflag == '-')
        ++p->longflag;
    if (p->flag_raw) {
        const char *f = p->flag_raw[0] == '-' ? p->flag_raw + 1 : p->flag_raw;
        p->flag = f[0];
    }
}

static void load_group(cli_spec *s, const xmlNode *g)
{
    cli_group *grown = realloc(s->groups, (size_t)(s->n_groups + 1) * sizeof *grown);
    if (!grown) {
        cli_spec_issue(s, 3, g->line, "out of memory");
        return;
    }
    s->groups = grown;
    const int gi = s->n_groups++;
    cli_group *grp = &s->groups[gi];
    memset(grp, 0, sizeof *grp);
    grp->line = g->line;
    grp->attr_advanced = attr_of(g, "advanced");
    for (const xmlNode *n = g->children; n; n = n->next) {
        if (n->type != XML_ELEMENT_NODE)
            continue;
        if (is_elem(n, "label"))
            take_text(s, &s->groups[gi].label, n, 3);
        else if (is_elem(n, "description"))
            take_text(s, &s->groups[gi].description, n, 3);
        else if (cli_tag_find((const char *)n->name))
            load_param(s, n, gi);
        else
            cli_spec_issue(s, 3, n->line, "unknown element <%s> in <parameters>",
                           (const char *)n->name);
    }
}

static void load_executable(cli_spec *s, const xmlNode *root)
{
    struct {
        const char *tag;
        char **slot;
    } fields[] = {{"category", &s->category},   {"title", &s->title},
                  {"description", &s->description}, {"version", &s->version},
                  {"documentation-url", &s->doc_url}, {"license", &s->license},
                  {"contributor", &s->contributor}, {"acknowledgements", &s->ack}};
    const size_t nf = sizeof fields / sizeof fields[0];
    for (const xmlNode *n = root->children; n; n = n->next) {
        if (n->type != XML_ELEMENT_NODE)
            continue;
        size_t i = 0;
        while (i < nf && !is_elem(n, fields[i].tag))
            ++i;
        if (i < nf)
            take_text(s, fields[i].slot, n, 2);
        else if (is_elem(n, "parameters"))
            load_group(s, n);
        else
            cli_spec_issue(s, 2, n->line, "unknown element <%s> in <executable>",
                           (const char *)n->name);
    }
}

cli_spec *cli_spec_load(const char *xml, size_t len)
{
    cli_spec *s = calloc(1, sizeof *s);
    if (!s)
        return NULL;
    if (!(len >= 6 && memcmp(xml, "<?xml ", 6) == 0))
        cli_spec_issue(s, 1, 1, "the text must start with the bytes '<?xml ' (no BOM, no space)");
    xmlDoc *doc = len > 0 && len < (size_t)1 << 30
                      ? xmlReadMemory(xml, (int)len, "module.xml", NULL,
                                      XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING)
                      : NULL;
    xmlNode *root = doc ? xmlDocGetRootElement(doc) : NULL;
    if (!root)
        cli_spec_issue(s, 1, 0, "the text is not well-formed XML");
    else if (!is_elem(root, "executable"))
        cli_spec_issue(s, 1, root->line, "the root element is <%s>, not <executable>",
                       (const char *)root->name);
    else {
        load_executable(s, root);
        cli_spec_check(s);
    }
    xmlFreeDoc(doc);
    return s;
}

cli_param *cli_spec_param(const cli_spec *s, const char *name)
{
    for (int i = 0; i < s->n_params; ++i)
        if (strcmp(s->params[i].name, name) == 0)
            return &s->params[i];
    return NULL;
}

int cli_param_is_return(const cli_param *p)
{
    return p->channel == CLI_CHANNEL_OUTPUT && !p->flag_raw && !p->longflag_raw && p->index < 0;
}

void cli_spec_free(cli_spec *s)
{
    if (!s)
        return;
    char **mod[] = {&s->category, &s->title,       &s->description, &s->version,
                    &s->doc_url,  &s->license,     &s->contributor, &s->ack};
    for (size_t i = 0; i < sizeof mod / sizeof mod[0]; ++i)
        free(*mod[i]);
    for (int i = 0; i < s->n_groups; ++i) {
        free(s->groups[i].label);
        free(s->groups[i].description);
        free(s->groups[i].attr_advanced);
    }
    for (int i = 0; i < s->n_params; ++i) {
        cli_param *p = &s->params[i];
        char *strs[] = {p->name,      p->label,     p->description, p->default_text,
                        p->flag_raw,  p->longflag_raw, p->attr_type, p->attr_hidden,
                        p->attr_multiple, p->attr_ext, p->ret};
        for (size_t k = 0; k < sizeof strs / sizeof strs[0]; ++k)
            free(strs[k]);
        for (int k = 0; k < p->n_elements; ++k)
            free(p->elements[k]);
        free(p->elements);
    }
    free(s->groups);
    free(s->params);
    free(s->issues);
    free(s);
}
