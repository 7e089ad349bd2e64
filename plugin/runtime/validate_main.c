/* validate_main.c - ds_cli_validate FILE...: checks module descriptions against SLICER_CLI.md
 * rules 1-8 (and the project's rule 0, rule 11's reserved flags); prints one line per issue,
 * "FILE:LINE: rule N: text", and exits 1 if any file has one. */
#include <stdio.h>
#include <stdlib.h>

#include "cli_internal.h"

static char *slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    char *buf = NULL;
    size_t cap = 0, n = 0, got;
    do {
        if (n == cap) {
            char *grown = realloc(buf, cap = cap ? 2 * cap : 65536);
            if (!grown) {
                free(buf);
                fclose(f);
                return NULL;
            }
            buf = grown;
        }
        got = fread(buf + n, 1, cap - n, f);
        n += got;
    } while (got > 0);
    fclose(f);
    *len = n;
    return buf;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: ds_cli_validate FILE.xml...\n");
        return 2;
    }
    int bad = 0;
    for (int i = 1; i < argc; ++i) {
        size_t len = 0;
        char *text = slurp(argv[i], &len);
        cli_spec *s = text ? cli_spec_load(text, len) : NULL;
        if (!s) {
            fprintf(stderr, "%s: cannot read\n", argv[i]);
            bad = 1;
        }
        for (int k = 0; s && k < s->n_issues; ++k)
            printf("%s:%d: rule %d: %s\n", argv[i], s->issues[k].line, s->issues[k].rule,
                   s->issues[k].text);
        bad |= !s || s->n_issues > 0;
        cli_spec_free(s);
        free(text);
    }
    return bad;
}
