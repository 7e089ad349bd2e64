/* test_cli_segment - DualSegSegment end to end, run as Slicer runs it (the model as the index
 * parameter, last; booleans bare; vectors comma-separated; temporary .nrrd paths;
 * --processinformationaddress, --returnparameterfile), on phantoms with a randomly initialised
 * width-2 pair (cli_model.h). Reference: the library called directly on the same files
 * (ds_infer_model, ds_infer_rank_slices, ds_infer_score_case with the same options): every output
 * volume must equal it voxel for voxel, and the return parameters its values. Also: --xml
 * exact; progress monotone in [0, 1]; painted slices (--annotated) never suggested; the folder
 * mode's files and case ranking; wrong arguments
 * and impossible requests exit non-zero with one line and write nothing. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "cli_check.h"
#include "cli_data.h"
#include "cli_model.h"
#include "ds_cli.h"
#include "ds_infer.h"
#include "ds_threads.h"

static char g_tmp[256];
static ds_ctx *g_ctx;

static char *path_in(const char *name) { return cli_path(g_tmp, name); }

/* Runs the module: extra (NULL-terminated) after the standard arguments, the model last. */
static void run_module(char **extra, const char *model, cli_result *r)
{
    char *argv[48] = {DS_SEGMENT_EXE, "--processinformationaddress", "0x7ffd1234",
                      "--threads", "1"};
    int n = 5;
    while (*extra && n < 46)
        argv[n++] = *extra++;
    argv[n++] = (char *)model;
    argv[n] = NULL;
    cli_run(argv, r);
}

/* The volume at path equals want voxel for voxel (labels or floats). */
static void check_same(const char *path, const ds_volume *want, int label)
{
    ds_volume *got = NULL;
    DS_CHECK_OK(g_ctx, label ? ds_io_read_label(g_ctx, path, &got)
                             : ds_io_read_image(g_ctx, path, &got));
    if (!got || !want)
        return;
    const int64_t n = ds_volume_voxels(want);
    DS_CHECK_MSG(ds_volume_voxels(got) == n &&
                     (label ? memcmp(got->labels, want->labels, sizeof(uint16_t) * (size_t)n)
                            : memcmp(got->values, want->values, sizeof(float) * (size_t)n)) == 0,
                 "%s differs from the library's result", path);
    ds_volume_free(got);
}

static void test_one_volume(const char *model)
{
    char *vol = path_in("1234_inputVolume.nrrd"), *lab = path_in("1234_outputLabel.nrrd");
    char *ent = path_in("1234_outputEntropy.nrrd"), *dis = path_in("1234_outputDisagreement.nrrd");
    char *prob = path_in("prob"), *ret = path_in("ret_one.txt");
    mkdir(prob, 0755);
    cli_write_phantom(g_ctx, 3, vol, NULL, 0);
    char *extra[] = {"--returnparameterfile", ret, "--input", vol, "--output", lab,
                     "--entropy", ent, "--disagreement", dis, "--probabilities", prob,
                     "--stride", "4,8,8", "--weighting", "uniform", "--flips",
                     "--sliceAxis", "coronal", "--sliceCount", "3", "--sliceSpacing", "2",
                     "--margin", "1", NULL};
    cli_result r;
    run_module(extra, model, &r);
    DS_CHECK_MSG(r.code == 0 && r.err_n == 0, "exit %d, stderr '%s'", r.code, r.err);
    cli_check_progress(r.out, "DualSeg Segment");
    cli_result_free(&r);

    /* the reference: the same options through the library */
    ds_model *m = NULL;
    ds_volume *image = NULL;
    ds_infer_result want = {0};
    ds_infer_options o;
    ds_infer_options_init(&o);
    o.stride[0] = 4, o.stride[1] = 8, o.stride[2] = 8; /* x: 3 windows, not 2 */
    o.weighting = DS_INFER_WEIGHT_UNIFORM;
    o.tta = DS_INFER_TTA_FLIPS;
    o.probabilities = 1;
    DS_CHECK_OK(g_ctx, ds_threads_set(g_ctx, 1));
    DS_CHECK_OK(g_ctx, ds_model_load(g_ctx, &m, model));
    DS_CHECK_OK(g_ctx, ds_io_read_image(g_ctx, vol, &image));
    DS_CHECK_OK(g_ctx, ds_infer_model(g_ctx, m, image, &o, &want));
    check_same(lab, want.label, 1);
    check_same(ent, want.entropy, 0);
    check_same(dis, want.disagreement, 0);
    check_same(path_in("prob/1234_inputVolume_prob0.nrrd"), want.probability[0], 0);
    check_same(path_in("prob/1234_inputVolume_prob1.nrrd"), want.probability[1], 0);
    ds_infer_slice_options so;
    ds_infer_slice_options_init(&so);
    so.axis = 1, so.count = 3, so.min_distance = 2, so.margin = 1;
    int64_t idx[3];
    double score[3], v[8];
    int found = -1;
    ds_infer_case_score cs;
    DS_CHECK_OK(g_ctx, ds_infer_rank_slices(g_ctx, want.label, want.entropy, &so, idx, score,
                                            &found));
    DS_CHECK_OK(g_ctx, ds_infer_score_case(g_ctx, want.label, want.entropy, 1, &cs));
    printf("suggested %d slices; case score %.4f over %lld voxels\n", found, cs.score,
           (long long)cs.region_voxels);
    DS_CHECK(cli_read_return(ret, "suggestedSlices", v, 8) == found);
    for (int i = 0; i < found; ++i)
        DS_CHECK(v[i] == (double)idx[i]);
    DS_CHECK(cli_read_return(ret, "sliceScores", v, 8) == found);
    for (int i = 0; i < found; ++i)
        DS_CHECK(v[i] == score[i]); /* %.17g: exact */
    DS_CHECK(cli_read_return(ret, "meanEntropy", v, 8) == 1 && v[0] == cs.score);
    DS_CHECK(cli_read_return(ret, "casesSegmented", v, 8) == 1 && v[0] == 1);
    ds_infer_result_free(&want);
    ds_volume_free(image);
    ds_model_free(m);
}

/* The plain ranking of the phantom's axial slices (spacing 1, at most 10) into all; returns how
 * many (the reference of the --annotated and --sliceRange tests). */
static int plain_ranking(const char *model, char *lab, char *ret, double all[10])
{
    char *vol = path_in("1234_inputVolume.nrrd");
    char *base[] = {"--returnparameterfile", ret, "--input", vol, "--output", lab,
                    "--sliceAxis", "axial", "--sliceSpacing", "1", "--sliceCount", "10", NULL};
    cli_result r;
    run_module(base, model, &r);
    DS_CHECK_MSG(r.code == 0, "exit %d, stderr '%s'", r.code, r.err);
    cli_result_free(&r);
    return cli_read_return(ret, "suggestedSlices", all, 10);
}

/* --annotated: slices of the painted labels are never suggested. Reference: with a spacing of 1
 * the greedy choice is the plain ranking, so the suggestions with painted slices must be the
 * ranking without them (asked for 10) with the painted ones left out, in the same order. */
static void test_annotated(const char *model)
{
    char *vol = path_in("1234_inputVolume.nrrd"), *lab = path_in("ann_label.nrrd");
    char *painted = path_in("ann_painted.nrrd"), *ret = path_in("ret_ann.txt");
    cli_result r;
    double all[10], got[10];
    const int n = plain_ranking(model, lab, ret, all);
    DS_CHECK_MSG(n >= 5, "only %d slices ranked", n);
    if (n < 5)
        return;
    /* paint slice all[0] with background only and slice all[2] with one voxel of 1; ignore 7 */
    ds_volume *p = NULL;
    DS_CHECK_OK(g_ctx, ds_io_read_label(g_ctx, lab, &p));
    if (!p)
        return;
    const int64_t plane = p->geom.size[0] * p->geom.size[1], nz = p->geom.size[2];
    for (int64_t i = 0; i < plane * nz; ++i)
        p->labels[i] = 7;
    memset(p->labels + plane * (int64_t)all[0], 0, sizeof *p->labels * (size_t)plane);
    p->labels[plane * (int64_t)all[2] + 5] = 1;
    DS_CHECK_OK(g_ctx, ds_io_write(g_ctx, p, painted, 1));
    ds_volume_free(p);
    char *with[] = {"--returnparameterfile", ret, "--input", vol, "--output", lab,
                    "--sliceAxis", "axial", "--sliceSpacing", "1", "--sliceCount", "3",
                    "--annotated", painted, "--ignoreLabel", "7", NULL};
    run_module(with, model, &r);
    DS_CHECK_MSG(r.code == 0 && r.err_n == 0, "exit %d, stderr '%s'", r.code, r.err);
    cli_result_free(&r);
    const double want[3] = {all[1], all[3], all[4]};
    DS_CHECK(cli_read_return(ret, "suggestedSlices", got, 10) == 3);
    for (int i = 0; i < 3; ++i) {
        DS_CHECK_MSG(got[i] == want[i], "suggestion %d: slice %g, want %g", i, got[i], want[i]);
        DS_CHECK(got[i] != all[0] && got[i] != all[2]);
    }
    /* painted labels of another size: a failed run, checked before segmenting, so nothing
     * written and nothing returned */
    ds_volume *small = NULL;
    ds_geometry g;
    ds_geometry_identity(&g, 5, 5, 5);
    DS_CHECK_OK(g_ctx, ds_volume_create(g_ctx, &small, &g, DS_VOLUME_LABEL));
    DS_CHECK_OK(g_ctx, ds_io_write(g_ctx, small, painted, 1));
    ds_volume_free(small);
    remove(ret);
    remove(lab);
    run_module(with, model, &r);
    DS_CHECK_MSG(r.code == 1 && strstr(r.err, "painted labels") != NULL, "exit %d, stderr '%s'",
                 r.code, r.err);
    DS_CHECK_MSG(access(lab, F_OK) != 0, "%s written by the failed run", lab);
    cli_result_free(&r);
}

/* --sliceRange first,last: only slices inside it are suggested. Reference: the plain ranking
 * with a spacing of 1 (asked for 10); restricted to a range that excludes its best slice, the
 * suggestions must be the ranked slices inside the range, in the same order. */
static void test_slice_range(const char *model)
{
    char *vol = path_in("1234_inputVolume.nrrd"), *lab = path_in("range_label.nrrd");
    char *ret = path_in("ret_range.txt");
    cli_result r;
    double all[10], got[10], want[10];
    const int n = plain_ranking(model, lab, ret, all);
    DS_CHECK_MSG(n >= 2, "only %d slices ranked", n);
    if (n < 2)
        return;
    ds_volume *v = NULL;
    DS_CHECK_OK(g_ctx, ds_io_read_image(g_ctx, vol, &v));
    if (!v)
        return;
    const int nz = (int)v->geom.size[2];
    ds_volume_free(v);
    /* the side of the best slice that holds the second best, the best one excluded */
    const int lo = all[1] > all[0] ? (int)all[0] + 1 : 0;
    const int hi = all[1] > all[0] ? nz - 1 : (int)all[0] - 1;
    int m = 0;
    for (int i = 0; i < n; ++i)
        if (all[i] >= lo && all[i] <= hi)
            want[m++] = all[i];
    int inner = -1; /* a ranked slice away from both ends, for the range of one slice below */
    for (int i = n - 1; i >= 0; --i)
        if (all[i] > 0 && all[i] < nz - 1)
            inner = (int)all[i];
    char range[32], count[16];
    snprintf(range, sizeof range, "%d,%d", lo, hi);
    snprintf(count, sizeof count, "%d", m);
    char *with[] = {"--returnparameterfile", ret, "--input", vol, "--output", lab,
                    "--sliceAxis", "axial", "--sliceSpacing", "1", "--sliceCount", count,
                    "--sliceRange", range, NULL};
    run_module(with, model, &r);
    DS_CHECK_MSG(r.code == 0 && r.err_n == 0, "exit %d, stderr '%s'", r.code, r.err);
    cli_result_free(&r);
    printf("range %s: %d suggestions, best slice overall %g\n", range, m, all[0]);
    DS_CHECK(cli_read_return(ret, "suggestedSlices", got, 10) == m);
    for (int i = 0; i < m; ++i)
        DS_CHECK_MSG(got[i] == want[i], "suggestion %d: slice %g, want %g", i, got[i], want[i]);
    /* a range of one slice away from the ends (both bounds bite): that slice only, though 3
     * are asked for */
    DS_CHECK_MSG(inner >= 0, "no ranked slice away from the ends of %d", nz);
    snprintf(range, sizeof range, "%d,%d", inner, inner);
    snprintf(count, sizeof count, "3");
    run_module(with, model, &r);
    DS_CHECK_MSG(r.code == 0 && r.err_n == 0, "exit %d, stderr '%s'", r.code, r.err);
    cli_result_free(&r);
    DS_CHECK_MSG(cli_read_return(ret, "suggestedSlices", got, 10) == 1 && got[0] == inner,
                 "range %s: suggested %g first", range, got[0]);
}

static void test_folder(const char *model)
{
    char *in = path_in("cohort/imagesTr"), *out = path_in("out"), *ret = path_in("ret_dir.txt");
    mkdir(out, 0755);
    char *extra[] = {"--returnparameterfile", ret, "--inputFolder", in, "--outputFolder", out,
                     "--folderFormat", ".nrrd", "--networks", "both", NULL};
    cli_result r;
    run_module(extra, model, &r);
    DS_CHECK_MSG(r.code == 0 && r.err_n == 0, "exit %d, stderr '%s'", r.code, r.err);
    cli_check_progress(r.out, "DualSeg Segment");
    DS_CHECK(strstr(r.out, "Case 2 of 2 (case_001)") != NULL); /* per-case progress */
    cli_result_free(&r);
    const char *ids[2] = {"case_000", "case_001"};
    double sum = 0, v[4];
    ds_infer_case_score s[2];
    ds_model *m = NULL;
    DS_CHECK_OK(g_ctx, ds_model_load(g_ctx, &m, model));
    for (int i = 0; i < 2 && m; ++i) {
        char name[600];
        ds_volume *image = NULL;
        ds_infer_result want = {0};
        ds_infer_options o;
        ds_infer_options_init(&o);
        snprintf(name, sizeof name, "%s/%s_0000.nii.gz", in, ids[i]);
        DS_CHECK_OK(g_ctx, ds_io_read_image(g_ctx, name, &image));
        DS_CHECK_OK(g_ctx, ds_infer_model(g_ctx, m, image, &o, &want));
        snprintf(name, sizeof name, "%s/%s_label.nrrd", out, ids[i]);
        check_same(name, want.label, 1);
        snprintf(name, sizeof name, "%s/%s_entropy.nrrd", out, ids[i]);
        check_same(name, want.entropy, 0);
        snprintf(name, sizeof name, "%s/%s_disagreement.nrrd", out, ids[i]);
        check_same(name, want.disagreement, 0);
        DS_CHECK_OK(g_ctx, ds_infer_score_case(g_ctx, want.label, want.entropy, 3, &s[i]));
        s[i].index = i;
        sum += s[i].score;
        ds_infer_result_free(&want);
        ds_volume_free(image);
    }
    ds_model_free(m);
    ds_infer_sort_scores(s, 2);
    char want_rank[64], got[256] = "";
    snprintf(want_rank, sizeof want_rank, "%s,%s", ids[s[0].index], ids[s[1].index]);
    DS_CHECK(cli_read_return_text(ret, "casesToLabel", got, sizeof got) &&
             strcmp(got, want_rank) == 0);
    DS_CHECK(cli_read_return(ret, "casesSegmented", v, 4) == 1 && v[0] == 2);
    DS_CHECK(cli_read_return(ret, "meanEntropy", v, 4) == 1 && fabs(v[0] - sum / 2) < 1e-15);
}

static void test_refused(const char *model, const char *single_model)
{
    char *vol = path_in("1234_inputVolume.nrrd"), *lab = path_in("refused_label.nrrd");
    char *ret = path_in("ret_refused.txt"), *dis = path_in("refused_dis.nrrd");
    char *none[] = {ret, lab, dis, NULL};
    static const struct {
        const char *what;
        char *args[6];
        int with_model;
    } cases[] = {
        {"unknown flag", {"--frobnicate", NULL}, 1},
        {"value outside its constraints", {"--sliceCount", "0", NULL}, 1},
        {"bad enumeration value", {"--weighting", "cosine", NULL}, 1},
        {"missing required input (the model)", {NULL}, 0},
        {"two window sizes", {"--patch", "16,16", NULL}, 1},
        {"slice range first > last", {"--sliceRange", "5,2", NULL}, 1},
        {"slice range of one number", {"--sliceRange", "3", NULL}, 1},
        {"slice range below 0", {"--sliceRange", "-1,3", NULL}, 1},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; ++i) {
        char *argv[32] = {DS_SEGMENT_EXE, "--returnparameterfile", ret, "--input", vol,
                          "--output", lab};
        int n = 7;
        for (int k = 0; cases[i].args[k]; ++k)
            argv[n++] = cases[i].args[k];
        if (cases[i].with_model)
            argv[n++] = (char *)model;
        argv[n] = NULL;
        cli_expect_refused(cases[i].what, 2, argv, none);
    }
    char *folder[] = {DS_SEGMENT_EXE, "--returnparameterfile", ret, "--inputFolder", vol,
                      "--outputFolder", g_tmp, (char *)model, NULL};
    cli_expect_refused("file where a folder is expected", 2, folder, none);
    char *both[] = {DS_SEGMENT_EXE, "--returnparameterfile", ret, "--input", vol, "--inputFolder",
                    g_tmp, "--output", lab, (char *)model, NULL};
    cli_expect_refused("a volume and a folder", 2, both, none);
    char *ann[] = {DS_SEGMENT_EXE, "--returnparameterfile", ret, "--inputFolder", g_tmp,
                   "--outputFolder", g_tmp, "--annotated", vol, (char *)model, NULL};
    cli_expect_refused("painted labels in the folder mode", 2, ann, none);
    char *range_dir[] = {DS_SEGMENT_EXE, "--returnparameterfile", ret, "--inputFolder", g_tmp,
                         "--outputFolder", g_tmp, "--sliceRange", "0,1", (char *)model, NULL};
    cli_expect_refused("slice range in the folder mode", 2, range_dir, none);
    char *beyond[] = {DS_SEGMENT_EXE, "--returnparameterfile", ret, "--input", vol, "--output",
                      lab, "--sliceRange", "0,100000", (char *)model, NULL};
    cli_expect_refused("slice range beyond the volume (checked before segmenting)", 1, beyond,
                       none);
    char *one[] = {DS_SEGMENT_EXE, "--returnparameterfile", ret, "--input", vol, "--output", lab,
                   "--disagreement", dis, (char *)single_model, NULL};
    cli_expect_refused("disagreement of one network", 1, one, none);
    char *a_only[] = {DS_SEGMENT_EXE, "--returnparameterfile", ret, "--input", vol, "--output",
                      lab, "--disagreement", dis, "--networks", "a", (char *)model, NULL};
    cli_expect_refused("disagreement with --networks a", 1, a_only, none);
}

/* One real run of the module with OPENBLAS_CORETYPE as given (NULL: unset, so that the module
 * decides); returns whether its stdout reports a corrected kernel set, and which. */
static int run_reports_blas_core(const char *model, const char *coretype, char core[64])
{
    char *saved_type = getenv("OPENBLAS_CORETYPE"), *saved_from = getenv("DS_BLAS_CORE_CORRECTED_FROM");
    saved_type = saved_type ? strdup(saved_type) : NULL;
    saved_from = saved_from ? strdup(saved_from) : NULL;
    unsetenv("DS_BLAS_CORE_CORRECTED_FROM");
    if (coretype)
        setenv("OPENBLAS_CORETYPE", coretype, 1);
    else
        unsetenv("OPENBLAS_CORETYPE");
    char *vol = path_in("1234_inputVolume.nrrd"), *lab = path_in("blas_label.nrrd");
    char *extra[] = {"--input", vol, "--output", lab, NULL};
    cli_result r;
    run_module(extra, model, &r);
    DS_CHECK_MSG(r.code == 0, "exit %d, stderr '%s'", r.code, r.err);
    const char *line = strstr(r.out, "OpenBLAS: ");
    int reported = line != NULL;
    if (line && sscanf(line, "OpenBLAS: %63s kernels", core) != 1)
        reported = 0;
    cli_result_free(&r);
    if (saved_type)
        setenv("OPENBLAS_CORETYPE", saved_type, 1);
    else
        unsetenv("OPENBLAS_CORETYPE");
    if (saved_from)
        setenv("DS_BLAS_CORE_CORRECTED_FROM", saved_from, 1);
    free(saved_type), free(saved_from);
    return reported;
}

/* ds_cli_correct_blas_core: where OpenBLAS fell back to kernels without AVX2 on a CPU with AVX2
 * (this test process was itself run again, so DS_BLAS_CORE_CORRECTED_FROM is set), the module
 * runs itself again and says so, naming the kernels it then uses; elsewhere it says nothing. A
 * user's OPENBLAS_CORETYPE is always kept and never reported as a correction. */
static void test_blas_core(const char *model)
{
    const char *from = getenv("DS_BLAS_CORE_CORRECTED_FROM");
    const char *machine = from ? NULL : getenv("OPENBLAS_CORETYPE");
    char core[64] = "";
    if (machine) { /* the machine's own choice stays as it is, in tests too */
        printf("OPENBLAS_CORETYPE=%s is set here: the correction itself is not exercised\n", machine);
        DS_CHECK(!run_reports_blas_core(model, machine, core));
        return;
    }
    const int reported = run_reports_blas_core(model, NULL, core);
    printf("OpenBLAS kernels: %s in this test; correction expected %d, reported %d (%s)\n",
           ds_blas_core(), from != NULL, reported, core);
    DS_CHECK(reported == (from != NULL));
    if (from) /* the module uses the kernels this test process was corrected to */
        DS_CHECK_MSG(strcasecmp(core, ds_blas_core()) == 0, "module %s, test %s", core,
                     ds_blas_core());
    DS_CHECK(!run_reports_blas_core(model, "Prescott", core));
}

int main(int argc, char **argv)
{
    (void)argc;
    ds_cli_correct_blas_core(argv); /* the module's kernels, so that results compare bit for bit */
    snprintf(g_tmp, sizeof g_tmp, "/tmp/ds_cli_segment_XXXXXX");
    if (!mkdtemp(g_tmp) || ds_ctx_create(&g_ctx) != DS_OK)
        return 1;
    cli_check_xml(DS_SEGMENT_EXE, DS_SOURCE_DIR "/xml/DualSegSegment.xml", DS_SEGMENT_XML);
    char *pair = path_in("pair.dsm"), *single = path_in("single.dsm");
    DS_CHECK_OK(g_ctx, cli_random_model(g_ctx, 2, 2, 16, 11, pair));
    DS_CHECK_OK(g_ctx, cli_random_model(g_ctx, 1, 2, 16, 12, single));
    cli_write_cohort(g_ctx, path_in("cohort"), 2, 0);
    test_one_volume(pair);
    test_annotated(pair);
    test_slice_range(pair);
    test_folder(pair);
    test_refused(pair, single);
    test_blas_core(pair);
    ds_ctx_free(g_ctx);
    DS_CHECK(cli_remove_tree(g_tmp) == 0);
    return ds_test_finish("test_cli_segment");
}
