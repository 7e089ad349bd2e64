/* cli_check.h - checks shared by the module tests: the return parameter file, the progress tags,
 * refused command lines. */
#ifndef DS_CLI_CHECK_H
#define DS_CLI_CHECK_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cli_run.h"
#include "ds_test.h"

static inline int cli_exists(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0;
}

/* The numbers of "name = v1,v2,..." in a return parameter file; returns the count, -1 when the
 * name is absent. */
static inline int cli_read_return(const char *path, const char *name, double *out, int cap)
{
    FILE *f = fopen(path, "r");
    char line[4096];
    int n = -1;
    while (f && fgets(line, sizeof line, f)) {
        size_t len = strlen(name);
        if (strncmp(line, name, len) != 0 || strncmp(line + len, " = ", 3) != 0)
            continue;
        n = 0;
        for (char *t = line + len + 3; *t && *t != '\n' && n < cap;) {
            char *end;
            out[n++] = strtod(t, &end);
            t = *end == ',' ? end + 1 : end;
        }
    }
    if (f)
        fclose(f);
    return n;
}

/* The text of "name = text" (without its newline) into buf; 0 when the name is absent. */
static inline int cli_read_return_text(const char *path, const char *name, char *buf, size_t cap)
{
    FILE *f = fopen(path, "r");
    char line[4096];
    int found = 0;
    while (f && fgets(line, sizeof line, f)) {
        size_t len = strlen(name);
        if (strncmp(line, name, len) == 0 && strncmp(line + len, " = ", 3) == 0) {
            snprintf(buf, cap, "%.*s", (int)strcspn(line + len + 3, "\n"), line + len + 3);
            found = 1;
        }
    }
    if (f)
        fclose(f);
    return found;
}

/* Progress lines of the module titled title: first <filter-start>, last <filter-end>, values
 * monotone within [0, 1] ending at 1. Returns how many values were seen. */
static inline int cli_check_progress(const char *out, const char *title)
{
    char start[200], end[200];
    snprintf(start, sizeof start, "<filter-start><filter-name>%s</filter-name>", title);
    snprintf(end, sizeof end, "<filter-end><filter-name>%s</filter-name><filter-time>", title);
    DS_CHECK_MSG(strncmp(out, start, strlen(start)) == 0, "stdout starts '%.80s'", out);
    DS_CHECK(strstr(out, end) != NULL);
    double last = -1;
    int n = 0, ok = 1;
    for (const char *c = strstr(out, "<filter-progress>"); c;
         c = strstr(c + 1, "<filter-progress>"), ++n) {
        const double f = strtod(c + 17, NULL);
        ok &= f >= last && f >= 0 && f <= 1;
        last = f;
    }
    DS_CHECK_MSG(ok && n >= 1 && last == 1.0, "%d progress values, last %g", n, last);
    return n;
}

/* Runs argv, which must be refused with want_code: one line on stderr, nothing on stdout for an
 * argument error (2), and none of the paths in must_not_exist (NULL-terminated) written. */
static inline void cli_expect_refused(const char *what, int want_code, char **argv,
                                      char **must_not_exist)
{
    cli_result r;
    cli_run(argv, &r);
    DS_CHECK_MSG(r.code == want_code && cli_lines(r.err) == 1 && r.err[r.err_n - 1] == '\n',
                 "%s: exit %d, stderr '%s'", what, r.code, r.err);
    DS_CHECK_MSG(want_code != 2 || r.out_n == 0, "%s: stdout '%s'", what, r.out);
    for (char **p = must_not_exist; *p; ++p)
        DS_CHECK_MSG(!cli_exists(*p), "%s: %s was written", what, *p);
    printf("%s -> %s", what, r.err);
    cli_result_free(&r);
}

/* The whole file (up to 4 MiB) into a new buffer; *n its size (0 when unreadable). */
static inline unsigned char *cli_slurp(const char *path, size_t *n)
{
    FILE *f = fopen(path, "rb");
    unsigned char *buf = malloc(1 << 22);
    *n = f && buf ? fread(buf, 1, 1 << 22, f) : 0;
    if (f)
        fclose(f);
    return buf;
}

/* --xml prints exactly the source XML (and the copy beside the executable), on stdout only,
 * exit 0, within 5 s. */
static inline void cli_check_xml(const char *exe, const char *source_xml, const char *installed)
{
    size_t n_src = 0, n_inst = 0;
    unsigned char *src = cli_slurp(source_xml, &n_src), *inst = cli_slurp(installed, &n_inst);
    char *argv[] = {(char *)exe, "--xml", NULL};
    cli_result r;
    cli_run(argv, &r);
    DS_CHECK(r.code == 0 && r.err_n == 0);
    DS_CHECK(n_src > 100 && r.out_n == n_src && memcmp(r.out, src, n_src) == 0);
    DS_CHECK(n_inst == n_src && memcmp(inst, src, n_src) == 0);
    DS_CHECK_MSG(r.seconds < 5.0, "--xml took %.2f s", r.seconds);
    printf("%s --xml: %.3f s\n", exe, r.seconds);
    cli_result_free(&r);
    free(src);
    free(inst);
}

#endif
