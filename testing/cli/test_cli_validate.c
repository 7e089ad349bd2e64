/* test_cli_validate - the validator of module descriptions (SLICER_CLI.md rules 1-8).
 * Every description given as an argument (every xml/<Name>.xml, and the tests' own) must be clean;
 * every bad/ruleN_*.xml must be rejected, with issues of rule N only (so each file shows that the
 * check of its rule works), and every rule 1..8 has at least one such file. References: the
 * rules as SLICER_CLI.md states them; the broken files are written by hand. */
#include <dirent.h>
#include <stdlib.h>
#include <string.h>

#include "cli_internal.h"
#include "ds_test.h"

static cli_spec *load(const char *path)
{
    FILE *f = fopen(path, "rb");
    char *buf = malloc(1 << 20);
    size_t n = f && buf ? fread(buf, 1, 1 << 20, f) : 0;
    if (f)
        fclose(f);
    cli_spec *s = buf && n ? cli_spec_load(buf, n) : NULL;
    free(buf);
    return s;
}

static void check_good(const char *path)
{
    cli_spec *s = load(path);
    DS_CHECK_MSG(s && s->n_issues == 0, "%s: %d issues, first: rule %d: %s", path,
                 s ? s->n_issues : -1, s && s->n_issues ? s->issues[0].rule : 0,
                 s && s->n_issues ? s->issues[0].text : "");
    DS_CHECK_MSG(s && s->n_params > 0 && s->n_groups > 0, "%s: nothing parsed", path);
    cli_spec_free(s);
}

static void check_bad(const char *dir, const char *name, int *covered)
{
    const int rule = name[4] - '0';
    char path[1024];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    cli_spec *s = load(path);
    DS_CHECK_MSG(s && s->n_issues > 0, "%s: accepted", name);
    int only = s != NULL;
    for (int i = 0; s && i < s->n_issues; ++i)
        if (s->issues[i].rule != rule) {
            only = 0;
            fprintf(stderr, "%s: also rule %d: %s\n", name, s->issues[i].rule, s->issues[i].text);
        }
    DS_CHECK_MSG(only, "%s: issues of other rules than %d", name, rule);
    if (s && s->n_issues > 0 && only && rule >= 1 && rule <= 8)
        covered[rule] = 1;
    cli_spec_free(s);
}

int main(int argc, char **argv)
{
    for (int i = 1; i < argc; ++i)
        check_good(argv[i]);
    DS_CHECK(argc >= 2); /* at least one module description */
    const char *dir = DS_TESTING_DIR "/cli/bad";
    int covered[9] = {0};
    DIR *d = opendir(dir);
    DS_CHECK(d != NULL);
    for (struct dirent *e; d && (e = readdir(d)) != NULL;)
        if (strncmp(e->d_name, "rule", 4) == 0 && strstr(e->d_name, ".xml"))
            check_bad(dir, e->d_name, covered);
    if (d)
        closedir(d);
    for (int r = 1; r <= 8; ++r)
        DS_CHECK_MSG(covered[r], "no broken description shows rule %d", r);
    return ds_test_finish("test_cli_validate");
}
