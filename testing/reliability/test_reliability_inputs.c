/* test_reliability_inputs - the table of hostile inputs of issue 15, through the three CLI modules
 * run as Slicer runs them (fork + exec). `test_reliability_inputs <row>` runs one row (ctest runs
 * each as its own test, reliability_<row>); no argument runs them all; `--names a b ...` checks
 * that the names given (the CMake list) are exactly the table's.
 * Every refused row must: exit with the expected non-zero code, print exactly one line on stderr,
 * name the offending input (the path or parameter appears in that line), leave nothing in its
 * output folder but the model file that was there before, and leave that file byte-identical.
 * The rows that must succeed (a patch larger than the volume: padded, as ds_train.h and
 * ds_infer.h document) check the output instead. Reference: the contract above (issue 15) and
 * the inputs' construction (inputs_fixtures.h); no numeric reference is involved. */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli_check.h"
#include "inputs_fixtures.h"
#include "ds_model.h"

typedef enum module { TRAIN, SEGMENT, EVALUATE } module;

/* limits of the child */
typedef enum row_limit { NO_LIMIT, FILE_SIZE, AS_NOBODY, ADDRESS_SPACE } row_limit;

typedef struct row {
    const char *name;
    module mod;
    const char *args[14]; /* "@x": the fixture x; "#x": x in the row's output folder */
    int code;             /* 0: must succeed; 1: failed run; 2: wrong arguments */
    const char *needle[2]; /* each must appear in the error line (same expansion) */
    row_limit limit;
} row;

#define GUI "--unlabelled", "@unl"
static const row rows[] = {
    {"train_missing_image", TRAIN, {"--input", "@missing.nrrd", "--label", "@lab.nrrd"}, 2,
     {"@missing.nrrd"}, NO_LIMIT},
    {"segment_missing_model", SEGMENT, {"--input", "@img.nrrd", "--output", "#label.nrrd",
     "@missing.dsm"}, 2, {"@missing.dsm"}, NO_LIMIT},
    {"evaluate_missing_reference", EVALUATE, {"--prediction", "@lab.nrrd",
     "--reference", "@missing.nrrd"}, 2, {"@missing.nrrd"}, NO_LIMIT},
    {"train_unreadable_image", TRAIN, {"--input", "@unreadable.nrrd", "--label", "@lab.nrrd", GUI},
     1, {"@unreadable.nrrd"}, AS_NOBODY},
    {"segment_unreadable_model", SEGMENT, {"--input", "@img.nrrd", "--output", "#label.nrrd",
     "@unreadable.dsm"}, 1, {"@unreadable.dsm"}, AS_NOBODY},
    {"train_truncated_niigz", TRAIN, {"--input", "@truncated.nii.gz", "--label", "@lab.nrrd", GUI},
     1, {"@truncated.nii.gz"}, NO_LIMIT},
    {"segment_truncated_niigz", SEGMENT, {"--input", "@truncated.nii.gz", "--output",
     "#label.nrrd"}, 1, {"@truncated.nii.gz"}, NO_LIMIT},
    {"train_nrrd_wrong_sizes", TRAIN, {"--input", "@wrong_sizes.nrrd", "--label", "@lab.nrrd",
     GUI}, 1, {"@wrong_sizes.nrrd"}, NO_LIMIT},
    {"segment_nrrd_wrong_sizes", SEGMENT, {"--input", "@wrong_sizes.nrrd", "--output",
     "#label.nrrd"}, 1, {"@wrong_sizes.nrrd"}, NO_LIMIT},
    {"train_image_2d", TRAIN, {"--input", "@flat2d.nrrd", "--label", "@lab.nrrd", GUI}, 1,
     {"@flat2d.nrrd"}, NO_LIMIT},
    {"segment_image_2d", SEGMENT, {"--input", "@flat2d.nrrd", "--output", "#label.nrrd"}, 1,
     {"@flat2d.nrrd"}, NO_LIMIT},
    {"train_image_4d", TRAIN, {"--input", "@four_d.nrrd", "--label", "@lab.nrrd", GUI}, 1,
     {"@four_d.nrrd"}, NO_LIMIT},
    {"segment_image_4d", SEGMENT, {"--input", "@four_d.nrrd", "--output", "#label.nrrd"}, 1,
     {"@four_d.nrrd"}, NO_LIMIT},
    {"train_geometry_mismatch", TRAIN, {"--input", "@img.nrrd", "--label", "@lab_off_grid.nrrd",
     GUI}, 1, {"@lab_off_grid.nrrd"}, NO_LIMIT},
    {"evaluate_geometry_mismatch", EVALUATE, {"--prediction", "@lab_off_grid.nrrd",
     "--reference", "@lab.nrrd"}, 1, {"@lab_off_grid.nrrd"}, NO_LIMIT},
    {"train_label_out_of_range", TRAIN, {"--input", "@img.nrrd", "--label",
     "@lab_out_of_range.nrrd", "--classes", "2", GUI}, 1, {"@lab_out_of_range.nrrd"}, NO_LIMIT},
    {"evaluate_label_out_of_range", EVALUATE, {"--prediction", "@lab_out_of_range.nrrd",
     "--reference", "@lab.nrrd", "--classes", "2"}, 1, {"@lab_out_of_range.nrrd"},
     NO_LIMIT},
    {"train_all_background", TRAIN, {"--input", "@img.nrrd", "--label", "@lab_background.nrrd",
     GUI}, 1, {"@lab_background.nrrd"}, NO_LIMIT},
    {"train_nan_intensities", TRAIN, {"--input", "@img_nan.nrrd", "--label", "@lab.nrrd", GUI}, 1,
     {"@img_nan.nrrd"}, NO_LIMIT},
    {"segment_nan_intensities", SEGMENT, {"--input", "@img_nan.nrrd", "--output", "#label.nrrd"},
     1, {"@img_nan.nrrd"}, NO_LIMIT},
    {"train_zero_variance", TRAIN, {"--input", "@img_constant.nrrd", "--label", "@lab.nrrd", GUI},
     1, {"@img_constant.nrrd"}, NO_LIMIT},
    {"segment_zero_variance", SEGMENT, {"--input", "@img_constant.nrrd", "--output",
     "#label.nrrd"}, 1, {"@img_constant.nrrd"}, NO_LIMIT},
    {"train_patch_larger_than_volume", TRAIN, {"--cohort", "@cohort", "--patch", "48,48,32"}, 0,
     {NULL}, NO_LIMIT},
    {"segment_patch_larger_than_volume", SEGMENT, {"--input", "@img.nrrd", "--output",
     "#label.nrrd", "--patch", "48,48,32"}, 0, {NULL}, NO_LIMIT},
    {"train_negative_iterations", TRAIN, {"--cohort", "@cohort", "--iterations", "-5"}, 2,
     {"--iterations"}, NO_LIMIT},
    {"train_patch_memory", TRAIN, {"--cohort", "@cohort", "--patch", "512,512,512", "--width",
     "16"}, 1, {"patch", "memory"}, ADDRESS_SPACE},
    {"segment_patch_memory", SEGMENT, {"--input", "@img.nrrd", "--output", "#label.nrrd",
     "--patch", "1024,1024,1024", "--windowBatch", "16"}, 1, {"patch", "memory"}, ADDRESS_SPACE},
    {"train_output_folder_missing", TRAIN, {"--cohort", "@cohort", "--model",
     "@nowhere/model.dsm"}, 2, {"@nowhere/model.dsm"}, NO_LIMIT},
    {"segment_output_folder_missing", SEGMENT, {"--input", "@img.nrrd", "--output",
     "@nowhere/label.nrrd"}, 2, {"@nowhere/label.nrrd"}, NO_LIMIT},
    {"evaluate_output_folder_missing", EVALUATE, {"--prediction", "@lab.nrrd",
     "--reference", "@lab.nrrd", "--outputTable", "@nowhere/table.csv"}, 2,
     {"@nowhere/table.csv"}, NO_LIMIT},
    {"train_disk_full", TRAIN, {"--cohort", "@cohort"}, 1, {"#model.dsm"}, FILE_SIZE},
    {"segment_disk_full", SEGMENT, {"--input", "@img.nrrd", "--output", "#label.nrrd"}, 1,
     {"#label.nrrd"}, FILE_SIZE},
    {"evaluate_disk_full", EVALUATE, {"--prediction", "@lab.nrrd", "--reference",
     "@lab.nrrd"}, 1, {"#table.csv"}, FILE_SIZE},
    {"segment_model_other_version", SEGMENT, {"--input", "@img.nrrd", "--output", "#label.nrrd",
     "@model_v_other.dsm"}, 1, {"@model_v_other.dsm", "version"}, NO_LIMIT},
    {"train_warm_start_other_version", TRAIN, {"--cohort", "@cohort", "--warmStart",
     "@model_v_other.dsm"}, 1, {"@model_v_other.dsm", "version"}, NO_LIMIT},
    {"train_warm_start_other_classes", TRAIN, {"--cohort", "@cohort", "--warmStart",
     "@model_k3.dsm"}, 1, {"@model_k3.dsm", "3"}, NO_LIMIT},
    {"train_empty_cohort", TRAIN, {"--cohort", "@empty_cohort"}, 1, {"@empty_cohort"}, NO_LIMIT},
    {"segment_empty_folder", SEGMENT, {"--inputFolder", "@empty_folder", "--outputFolder", "#"},
     1, {"@empty_folder"}, NO_LIMIT},
    {"evaluate_empty_folders", EVALUATE, {"--referenceFolder", "@empty_folder",
     "--predictionFolder", "@empty_folder"}, 1, {"@empty_folder"}, NO_LIMIT},
    {"train_duplicate_ids", TRAIN, {"--cohort", "@dup_cohort"}, 1, {"case_000"}, NO_LIMIT},
    {"segment_duplicate_ids", SEGMENT, {"--inputFolder", "@dup_folder", "--outputFolder", "#"}, 1,
     {"@dup_folder", "case_000"}, NO_LIMIT},
    {"evaluate_duplicate_ids", EVALUATE, {"--referenceFolder", "@dup_folder",
     "--predictionFolder", "@dup_folder"}, 1, {"@dup_folder", "case_000"}, NO_LIMIT},
};
#define ROW_COUNT (sizeof rows / sizeof rows[0])

static const char *g_out; /* the row's output folder */

static char *expand(const char *a)
{
    if (a[0] == '@')
        return path_in(a + 1);
    if (a[0] != '#')
        return (char *)a;
    static char buf[32][512];
    static int next;
    char *p = buf[next++ % 32];
    snprintf(p, 512, "%s%s%s", g_out, a[1] ? "/" : "", a + 1);
    return p;
}

static int row_gives(const row *r, const char *flag)
{
    for (int k = 0; k < 14 && r->args[k]; ++k)
        if (strcmp(r->args[k], flag) == 0)
            return 1;
    return 0;
}

/* The command line of a row: the module, its common options (flag and value; those the row
 * gives itself left out), the row's arguments. */
static int build_argv(const row *r, char **argv)
{
    static char *train[] = {DS_TRAIN_EXE, "--threads", "1", "--width", "2", "--patch", "16,16,16",
                            "--unlabelledBatch", "1", "--iterations", "2",
                            "--checkpointMinutes", "0", "--model", "#model.dsm", NULL};
    static char *segment[] = {DS_SEGMENT_EXE, "--threads", "1", NULL};
    static char *evaluate[] = {DS_EVALUATE_EXE, "--threads", "1", "--outputTable", "#table.csv",
                               NULL};
    char **common = r->mod == TRAIN ? train : r->mod == SEGMENT ? segment : evaluate;
    int n = 0, model_given = 0;
    argv[n++] = common[0];
    for (char **c = common + 1; *c; c += 2)
        if (!row_gives(r, c[0]))
            argv[n++] = expand(c[0]), argv[n++] = expand(c[1]);
    argv[n++] = "--returnparameterfile";
    argv[n++] = expand("#ret.txt");
    for (int k = 0; k < 14 && r->args[k]; ++k) {
        argv[n++] = expand(r->args[k]);
        model_given |= strstr(r->args[k], ".dsm") != NULL && r->args[k][0] == '@' &&
                       (k == 0 || r->args[k - 1][0] != '-');
    }
    if (r->mod == SEGMENT && !model_given)
        argv[n++] = expand("#model.dsm"); /* the index parameter, last */
    argv[n] = NULL;
    return n;
}

/* Everything in the output folder but model.dsm, which must hold `before`. */
static void check_untouched(const char *what, const unsigned char *before, size_t n_before)
{
    DIR *d = opendir(g_out);
    DS_CHECK(d != NULL);
    for (struct dirent *e; d && (e = readdir(d));)
        if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..") && strcmp(e->d_name, "model.dsm"))
            DS_CHECK_MSG(0, "%s: left %s/%s behind", what, g_out, e->d_name);
    if (d)
        closedir(d);
    size_t n = 0;
    unsigned char *after = cli_slurp(expand("#model.dsm"), &n);
    DS_CHECK_MSG(n == n_before && memcmp(after, before, n) == 0,
                 "%s: the existing model file changed (%zu -> %zu bytes)", what, n_before, n);
    free(after);
}

static void check_success(const row *r, const cli_result *res)
{
    DS_CHECK_MSG(res->code == 0 && res->err_n == 0, "%s: exit %d, stderr '%s'", r->name,
                 res->code, res->err);
    if (r->mod == TRAIN) {
        ds_model *m = NULL;
        DS_CHECK_OK(g_ctx, ds_model_load(g_ctx, &m, expand("#model.dsm")));
        DS_CHECK(m && m->meta.patch[0] == 48 && m->meta.patch[2] == 32 && m->meta.iteration == 2);
        ds_model_free(m);
    } else {
        ds_volume *v = NULL;
        DS_CHECK_OK(g_ctx, ds_io_read_label(g_ctx, expand("#label.nrrd"), &v));
        DS_CHECK(v && v->geom.size[0] == 24 && v->geom.size[1] == 24 && v->geom.size[2] == 20);
        ds_volume_free(v);
    }
    printf("%s: exit 0 (padded), output checked\n", r->name);
}

static void run_row(const row *r)
{
    static char dir[400];
    char *argv[64];
    snprintf(dir, sizeof dir, "%.250s/out_%.100s", g_tmp, r->name);
    mkdir(dir, 0777);
    chmod(dir, 0777); /* writable by the unprivileged user of the permission rows */
    g_out = dir;
    copy_file(path_in("model.dsm"), expand("#model.dsm"), 0);
    size_t n_before = 0;
    unsigned char *before = cli_slurp(expand("#model.dsm"), &n_before);
    build_argv(r, argv);
    cli_limits lim = {0};
    if (r->limit == FILE_SIZE)
        lim.fsize_bytes = 64; /* a full disk: every file a module writes is larger */
    else if (r->limit == AS_NOBODY && geteuid() == 0)
        lim.as_nobody = 1; /* root reads a mode-000 file: drop to nobody so permissions bite */
#if !defined(__SANITIZE_ADDRESS__)
    else if (r->limit == ADDRESS_SPACE)
        lim.as_bytes = 8ll << 30; /* an allocation of the absurd size fails instead of swapping */
#endif
    if (r->limit == AS_NOBODY)
        printf("%s: run as %s\n", r->name, lim.as_nobody ? "uid 65534 (the test runs as root)"
                                                         : "the current user");
    cli_result res;
    cli_run_with(argv, &lim, &res);
    if (r->code == 0) {
        check_success(r, &res);
    } else {
        DS_CHECK_MSG(res.code == r->code, "%s: exit %d, want %d; stderr '%s'", r->name, res.code,
                     r->code, res.err);
        DS_CHECK_MSG(cli_lines(res.err) == 1 && res.err[res.err_n - 1] == '\n',
                     "%s: stderr is not one line: '%s'", r->name, res.err);
        for (int k = 0; k < 2 && r->needle[k]; ++k)
            DS_CHECK_MSG(strstr(res.err, expand(r->needle[k])) != NULL,
                         "%s: the error does not name '%s': '%s'", r->name,
                         expand(r->needle[k]), res.err);
        check_untouched(r->name, before, n_before);
        printf("%s: exit %d, peak RSS <= %ld MiB: %s", r->name, res.code,
               res.max_rss_kib >> 10, res.err);
    }
    if (r->limit == ADDRESS_SPACE) /* refused before allocating: the run stayed small */
        DS_CHECK_MSG(res.max_rss_kib < (1l << 20), "%s: peak RSS %ld MiB", r->name,
                     res.max_rss_kib >> 10);
    free(before);
    cli_result_free(&res);
}

/* The names CMake registers must be the table's, in order. */
static int check_names(int argc, char **argv)
{
    DS_CHECK_MSG((size_t)argc == ROW_COUNT, "CMake lists %d rows, the table has %zu", argc,
                 ROW_COUNT);
    for (int i = 0; i < argc && (size_t)i < ROW_COUNT; ++i)
        DS_CHECK_MSG(strcmp(argv[i], rows[i].name) == 0, "row %d: CMake '%s', table '%s'", i,
                     argv[i], rows[i].name);
    return ds_test_finish("test_reliability_inputs --names");
}

int main(int argc, char **argv)
{
    if (argc >= 2 && strcmp(argv[1], "--names") == 0)
        return check_names(argc - 2, argv + 2);
    snprintf(g_tmp, sizeof g_tmp, "/tmp/ds_reliability_XXXXXX");
    if (!mkdtemp(g_tmp) || ds_ctx_create(&g_ctx) != DS_OK)
        return 1;
    chmod(g_tmp, 0755);
    write_fixtures();
    int ran = 0;
    for (size_t i = 0; i < ROW_COUNT; ++i)
        if (argc < 2 || strcmp(argv[1], rows[i].name) == 0) {
            run_row(&rows[i]);
            ++ran;
        }
    DS_CHECK_MSG(ran > 0, "no row named '%s'", argc > 1 ? argv[1] : "");
    ds_ctx_free(g_ctx);
    DS_CHECK(cli_remove_tree(g_tmp) == 0);
    return ds_test_finish(argc > 1 ? argv[1] : "test_reliability_inputs");
}
