/* test_cli_runtime - the CLI runtime on testing/cli/runtime_test.xml (every kind of parameter):
 * command lines as Slicer builds them, defaults, each kind of wrong argument (one message), the
 * progress reporter on a fake clock, return parameter files, and the loud failure when the C asks
 * for a name or type its XML lacks. References: the XML's own values and hand-written
 * expectations. */
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cli_internal.h"
#include "ds_test.h"

static char g_tmp[256], g_file[300], g_out[300];
static ds_cli_module g_module;

static unsigned char *slurp(const char *path, size_t *n)
{
    FILE *f = fopen(path, "rb");
    unsigned char *buf = malloc(1 << 20);
    *n = f && buf ? fread(buf, 1, 1 << 20, f) : 0;
    if (f)
        fclose(f);
    return buf;
}

/* argv[0] is added; list ends with NULL. */
static ds_cli *begin(int *code, const char **list)
{
    char *argv[40] = {"RuntimeTest"};
    int argc = 1;
    while (list[argc - 1])
        argv[argc] = (char *)list[argc - 1], ++argc;
    return ds_cli_begin(&g_module, argc, argv, code);
}

static void test_slicer_command_line(void)
{
    const char *args[] = {"-c", "5", "--rate", "0.5", "--shift=-2", "-v", "--sizes", "1,2,3",
                          "--spacing", "0.5,0.5,2", "--mode", "exact", "--axis", "0",
                          "--inputFile", g_file, "--inputFolder", g_tmp, "--note", "a b",
                          "--processinformationaddress", "0x1234", g_file, g_out, NULL};
    int code = -1;
    ds_cli *cli = begin(&code, args);
    DS_CHECK(cli != NULL && code == 0);
    if (!cli)
        return;
    DS_CHECK(ds_cli_get_int(cli, "count") == 5);
    DS_CHECK(ds_cli_get_double(cli, "rate") == 0.5);
    DS_CHECK(ds_cli_get_double(cli, "shift") == -2.0);
    DS_CHECK(ds_cli_get_bool(cli, "verbose") == 1);
    int sizes[4] = {0};
    DS_CHECK(ds_cli_get_ints(cli, "sizes", sizes, 4) == 3);
    DS_CHECK(sizes[0] == 1 && sizes[1] == 2 && sizes[2] == 3);
    double sp[3] = {0};
    DS_CHECK(ds_cli_get_doubles(cli, "spacing", sp, 3) == 3 && sp[2] == 2.0 && sp[0] == 0.5);
    static const ds_cli_choice modes[] = {{"fast", 10}, {"exact", 20}, {"off", 30}};
    DS_CHECK(ds_cli_get_choice(cli, "mode", modes, 3) == 20);
    DS_CHECK(ds_cli_get_int(cli, "axis") == 0);
    DS_CHECK(strcmp(ds_cli_get_string(cli, "first"), g_file) == 0);
    DS_CHECK(strcmp(ds_cli_get_string(cli, "second"), g_out) == 0);
    DS_CHECK(strcmp(ds_cli_get_string(cli, "note"), "a b") == 0);
    DS_CHECK(ds_cli_end(cli, DS_OK, NULL) == 0);
}

static void test_defaults(void)
{
    const char *args[] = {g_file, g_out, NULL};
    int code = -1;
    ds_cli *cli = begin(&code, args);
    DS_CHECK(cli != NULL);
    if (!cli)
        return;
    DS_CHECK(ds_cli_get_int(cli, "count") == 3);
    DS_CHECK(ds_cli_get_double(cli, "rate") == 0.25);
    DS_CHECK(ds_cli_get_double(cli, "shift") == -1.5);
    DS_CHECK(ds_cli_get_bool(cli, "verbose") == 0);
    int sizes[3] = {0};
    DS_CHECK(ds_cli_get_ints(cli, "sizes", sizes, 3) == 3 && sizes[2] == 96);
    DS_CHECK(ds_cli_get_doubles(cli, "spacing", NULL, 0) == 0);
    DS_CHECK(!ds_cli_has_value(cli, "note") && strcmp(ds_cli_get_string(cli, "note"), "") == 0);
    DS_CHECK(ds_cli_get_int(cli, "axis") == 2);
    ds_cli_end(cli, DS_OK, NULL);
}

/* Each wrong command line fails with a message that contains want. */
static void expect_error(const char *want, const char **args)
{
    cli_spec *s = cli_spec_load((const char *)g_module.xml, g_module.xml_size);
    char *argv[40];
    int argc = 0;
    while (args[argc])
        argv[argc] = (char *)args[argc], ++argc;
    char err[600] = "";
    const int bad = cli_parse_args(s, argc, argv, err, sizeof err);
    DS_CHECK_MSG(bad && strstr(err, want) && !strchr(err, '\n'), "want '%s', got '%s'", want,
                 err);
    cli_spec_free(s);
}

static void test_wrong_arguments(void)
{
    char missing_dir_out[400];
    snprintf(missing_dir_out, sizeof missing_dir_out, "%s/nowhere/x.nrrd", g_tmp);
    expect_error("unknown option '--nope'", (const char *[]){"--nope", "1", g_file, g_out, NULL});
    expect_error("--count 0 is below the minimum 1", (const char *[]){"-c", "0", g_file, g_out, NULL});
    expect_error("--count 11 is above the maximum 10",
                 (const char *[]){"--count", "11", g_file, g_out, NULL});
    expect_error("'2.5' is not an integer", (const char *[]){"-c", "2.5", g_file, g_out, NULL});
    expect_error("--rate 'abc' is not a number",
                 (const char *[]){"--rate", "abc", g_file, g_out, NULL});
    expect_error("--rate 1.5 is above the maximum 1",
                 (const char *[]){"--rate", "1.5", g_file, g_out, NULL});
    expect_error("empty item", (const char *[]){"--sizes", "1,,2", g_file, g_out, NULL});
    expect_error("--sizes 600 is above the maximum 512",
                 (const char *[]){"--sizes", "1,600", g_file, g_out, NULL});
    expect_error("--mode 'slow' is not one of: fast, exact, off",
                 (const char *[]){"--mode", "slow", g_file, g_out, NULL});
    expect_error("--axis '3' is not one of: 0, 1, 2",
                 (const char *[]){"--axis", "3", g_file, g_out, NULL});
    expect_error("is a switch and takes no value",
                 (const char *[]){"--verbose=true", g_file, g_out, NULL});
    expect_error("option '-c' needs a value", (const char *[]){g_file, g_out, "-c", NULL});
    expect_error("given twice", (const char *[]){"-c", "1", "--count", "2", g_file, g_out, NULL});
    expect_error("missing required argument 2 (Second image)", (const char *[]){g_file, NULL});
    expect_error("unexpected argument 'extra'",
                 (const char *[]){g_file, g_out, "extra", NULL});
    expect_error("is a folder; a file is expected",
                 (const char *[]){"--inputFile", g_tmp, g_file, g_out, NULL});
    expect_error("is a file; a folder is expected",
                 (const char *[]){"--inputFolder", g_file, g_file, g_out, NULL});
    expect_error("does not exist",
                 (const char *[]){"--inputFile", "/no/such/file", g_file, g_out, NULL});
    expect_error("the folder of", (const char *[]){g_file, missing_dir_out, NULL});
    /* through ds_cli_begin: exit code 2, nothing returned */
    int code = -1;
    DS_CHECK(begin(&code, (const char *[]){"--nope", NULL}) == NULL && code == 2);
    DS_CHECK(begin(&code, (const char *[]){"--returnparameterfile", NULL}) == NULL && code == 2);
}

/* ---- progress on a fake clock ---- */

static double g_clock;
static double fake_clock(void *user)
{
    (void)user;
    return g_clock;
}

static void test_progress(void)
{
    char *text = NULL;
    size_t len = 0;
    FILE *out = open_memstream(&text, &len);
    ds_cli_reporter p;
    g_clock = 100;
    ds_cli_reporter_init(&p, out, fake_clock, NULL);
    ds_cli_reporter_start(&p, "Runtime <Test>", "go & see");
    /* 200 s of work reporting every 0.5 s; the fraction stalls from 50 s to 120 s */
    double last_emit = g_clock, max_gap = 0;
    size_t seen = 0;
    for (int i = 0; i <= 400; ++i) {
        g_clock = 100 + 0.5 * i;
        double f = i < 100 ? i / 400.0 : i < 240 ? 0.25 : i / 400.0;
        if (i == 300)
            f = 0.1; /* going back is ignored */
        ds_cli_reporter_update(&p, f, -1, "Step");
        fflush(out);
        if (len != seen) { /* a line was written at this time */
            max_gap = g_clock - last_emit > max_gap ? g_clock - last_emit : max_gap;
            last_emit = g_clock;
            seen = len;
        }
    }
    ds_cli_reporter_update(&p, 0.0 / 0.0, -1, NULL);
    ds_cli_reporter_end(&p, "Runtime <Test>");
    fclose(out);
    DS_CHECK(strncmp(text, "<filter-start><filter-name>Runtime &lt;Test&gt;</filter-name>"
                           "<filter-comment>go &amp; see</filter-comment></filter-start>\n",
                     120) == 0);
    double last = -1;
    int lines = 0, monotone = 1, in_range = 1, stall_lines = 0;
    for (const char *c = strstr(text, "<filter-progress>"); c;
         c = strstr(c + 1, "<filter-progress>")) {
        const double f = strtod(c + 17, NULL);
        monotone &= f >= last;
        in_range &= f >= 0 && f <= 1;
        stall_lines += f == 0.25;
        last = f;
        ++lines;
    }
    DS_CHECK(lines > 10 && lines < 400); /* throttled, not silent */
    DS_CHECK(monotone && in_range);
    DS_CHECK(last == 1.0);
    /* 70 s of stall: still a line every few seconds, never 5 s without one */
    DS_CHECK_MSG(stall_lines >= 20, "%d lines during the stall", stall_lines);
    DS_CHECK_MSG(max_gap <= 5.0, "%.1f s without a progress line", max_gap);
    DS_CHECK(strstr(text, "<filter-end><filter-name>Runtime &lt;Test&gt;</filter-name>"
                          "<filter-time>200.000</filter-time></filter-end>\n") != NULL);
    DS_CHECK(strstr(text, "<filter-comment>Step: about ") != NULL);
    DS_CHECK(strstr(text, " left</filter-comment>") != NULL);
    free(text);
    /* a fresh reporter prints its first update; stages and fractions above 1 are clamped */
    out = open_memstream(&text, &len);
    ds_cli_reporter_init(&p, out, fake_clock, NULL);
    ds_cli_reporter_update(&p, 7.0, 1.5, NULL);
    fclose(out);
    DS_CHECK(strcmp(text, "<filter-progress>1.0000</filter-progress>\n"
                          "<filter-stage-progress>1.0000</filter-stage-progress>\n") == 0);
    free(text);
}

/* ---- return parameter file ---- */

static void test_return_file(void)
{
    char ret[400];
    snprintf(ret, sizeof ret, "%s/ret.txt", g_tmp);
    int code = -1;
    ds_cli *cli = begin(&code, (const char *[]){"--returnparameterfile", ret, g_file, g_out,
                                                NULL});
    DS_CHECK(cli != NULL);
    if (!cli)
        return;
    const double v[2] = {1, 2.5};
    ds_cli_return_string(cli, "where", "here");
    ds_cli_return_doubles(cli, "perClass", v, 2);
    ds_cli_return_double(cli, "score", 0.5);
    const int slices[3] = {12, 40, 7};
    ds_cli_return_ints(cli, "slices", slices, 3);
    DS_CHECK(ds_cli_end(cli, DS_OK, NULL) == 0);
    size_t n = 0;
    unsigned char *got = slurp(ret, &n);
    const char *want = "score = 0.5\nperClass = 1,2.5\nslices = 12,40,7\nwhere = here\n";
    DS_CHECK(n == strlen(want) && memcmp(got, want, n) == 0);
    free(got);
    /* a failed run writes no return file */
    remove(ret);
    cli = begin(&code, (const char *[]){"--returnparameterfile", ret, g_file, g_out, NULL});
    if (!cli)
        return;
    ds_cli_return_double(cli, "score", 0.5);
    DS_CHECK(ds_cli_end(cli, DS_ERR_IO, "reading failed") == 1);
    struct stat st;
    DS_CHECK(stat(ret, &st) != 0);
}

/* ---- the C asks for what the XML lacks: exit 70 with a message, in a child ---- */

typedef void (*misuse_fn)(ds_cli *cli);
static void ask_unknown(ds_cli *cli) { (void)ds_cli_get_int(cli, "nope"); }
static void ask_wrong_type(ds_cli *cli) { (void)ds_cli_get_double(cli, "count"); }
static void return_non_return(ds_cli *cli) { ds_cli_return_int(cli, "count", 1); }
static void return_wrong_type(ds_cli *cli) { ds_cli_return_int(cli, "score", 1); }
static void choice_table_short(ds_cli *cli)
{
    static const ds_cli_choice two[] = {{"fast", 1}, {"exact", 2}};
    (void)ds_cli_get_choice(cli, "mode", two, 2);
}

static void expect_bug(misuse_fn fn, const char *want)
{
    int fds[2];
    if (pipe(fds) != 0)
        return;
    pid_t pid = fork();
    if (pid == 0) {
        dup2(fds[1], 2);
        int code;
        ds_cli *cli = begin(&code, (const char *[]){g_file, g_out, NULL});
        if (cli)
            fn(cli);
        _exit(0);
    }
    close(fds[1]);
    char buf[1024] = "";
    size_t n = 0;
    ssize_t got;
    while (n < sizeof buf - 1 && (got = read(fds[0], buf + n, sizeof buf - 1 - n)) > 0)
        n += (size_t)got;
    buf[n] = '\0';
    close(fds[0]);
    int status = 0;
    waitpid(pid, &status, 0);
    DS_CHECK_MSG(WIFEXITED(status) && WEXITSTATUS(status) == DS_CLI_EXIT_BUG && strstr(buf, want),
                 "status %d, stderr '%s'", status, buf);
}

/* A module whose embedded XML breaks a rule refuses to run (exit 70), whatever the arguments. */
static void test_broken_description(void)
{
    size_t n = 0;
    unsigned char *xml = slurp(DS_TESTING_DIR "/cli/bad/rule7_no_extensions.xml", &n);
    const ds_cli_module broken = {"Broken", xml, n, NULL};
    char *argv[] = {"Broken", "--count", "2", NULL};
    int code = -1;
    DS_CHECK(n > 0 && ds_cli_begin(&broken, 3, argv, &code) == NULL && code == DS_CLI_EXIT_BUG);
    free(xml);
}

int main(void)
{
    size_t n = 0;
    unsigned char *xml = slurp(DS_TESTING_DIR "/cli/runtime_test.xml", &n);
    g_module = (ds_cli_module){"RuntimeTest", xml, n, NULL};
    snprintf(g_tmp, sizeof g_tmp, "/tmp/ds_cli_runtime_XXXXXX");
    if (!mkdtemp(g_tmp))
        return 1;
    snprintf(g_file, sizeof g_file, "%s/in.nrrd", g_tmp);
    snprintf(g_out, sizeof g_out, "%s/out.nrrd", g_tmp);
    FILE *f = fopen(g_file, "w");
    if (f)
        fclose(f);
    test_slicer_command_line();
    test_defaults();
    test_wrong_arguments();
    test_progress();
    test_return_file();
    test_broken_description();
    expect_bug(ask_unknown, "declares no such parameter");
    expect_bug(ask_wrong_type, "ds_cli_get_double(\"count\") on a <integer> parameter");
    expect_bug(return_non_return, "not a return parameter");
    expect_bug(return_wrong_type, "ds_cli_return_int(\"score\") on a <double> parameter");
    expect_bug(choice_table_short, "the table has 2 choices, the XML 3 elements");
    remove(g_file);
    rmdir(g_tmp);
    free(xml);
    return ds_test_finish("test_cli_runtime");
}
