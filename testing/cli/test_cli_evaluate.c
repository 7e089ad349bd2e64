/* test_cli_evaluate - DualSegEvaluate end to end, run as Slicer runs it: command lines built as
 * Slicer builds them (every parameter with a value as "--flag value", temporary .nrrd paths,
 * --processinformationaddress, --returnparameterfile), on small label maps written with ds_io_write.
 * References: ds_metrics called directly on the same maps (metrics and cohort summaries), and one
 * Dice computed by hand (two 4x4x4 cubes shifted by one voxel: 2 * 48 / 128 = 0.75). Also: --xml
 * is the installed XML byte for byte, on stdout only, fast; progress values are monotone in
 * [0, 1]; wrong arguments exit non-zero with one line and write nothing; --logo is the logo. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cli_check.h"
#include "ds_io.h"
#include "ds_metrics.h"
#include "ds_test.h"

#define NX 20
#define NY 16
#define NZ 12
static const double k_spacing[3] = {1.0, 1.5, 2.0};
static char g_tmp[256];
static ds_ctx *g_ctx;

/* Class 1: a 4x4x4 cube at (x0, 4, 4); class 2: a ball of radius r at (13, 8, 6) (r 0: none). */
static ds_volume *phantom(int x0, double r)
{
    ds_geometry g;
    ds_geometry_identity(&g, NX, NY, NZ);
    memcpy(g.spacing, k_spacing, sizeof k_spacing);
    ds_volume *v = NULL;
    if (ds_volume_create(g_ctx, &v, &g, DS_VOLUME_LABEL) != DS_OK)
        return NULL;
    for (int k = 0; k < NZ; ++k)
        for (int j = 0; j < NY; ++j)
            for (int i = 0; i < NX; ++i) {
                const double d2 = (i - 13.0) * (i - 13.0) + (j - 8.0) * (j - 8.0) +
                                  (k - 6.0) * (k - 6.0);
                uint16_t l = 0;
                if (i >= x0 && i < x0 + 4 && j >= 4 && j < 8 && k >= 4 && k < 8)
                    l = 1;
                else if (r > 0 && d2 <= r * r)
                    l = 2;
                v->labels[i + NX * (j + NY * k)] = l;
            }
    return v;
}

static void write_map(ds_volume *v, const char *path)
{
    DS_CHECK_OK(g_ctx, ds_io_write(g_ctx, v, path, 1));
}

static char *path_in(const char *name)
{
    static char buf[64][512];
    static int next;
    char *p = buf[next++ % 64];
    snprintf(p, 512, "%s/%s", g_tmp, name);
    return p;
}

static void check_close_vec(const double *got, int n, const ds_metrics_result *want, int k,
                            ds_metric m)
{
    DS_CHECK(n == k - 1);
    for (int c = 0; c < k - 1 && c < n; ++c)
        DS_CHECK_CLOSE(got[c], want[c].value[m], 1e-12, 1e-12);
}

static void test_pair(void)
{
    ds_volume *pred = phantom(4, 3.0), *ref = phantom(5, 3.5);
    if (!pred || !ref)
        return;
    char *pp = path_in("1234_predictionVolume.nrrd"), *rp = path_in("1234_referenceVolume.nrrd");
    write_map(pred, pp);
    write_map(ref, rp);
    ds_metrics_options o;
    ds_metrics_options_init(&o);
    o.num_classes = 3;
    ds_metrics_result want[2];
    DS_CHECK_OK(g_ctx, ds_metrics_labels(g_ctx, pred->labels, ref->labels, pred->geom.size,
                                         k_spacing, &o, want));
    char *ret = path_in("ret_pair.txt"), *csv = path_in("table_pair.csv");
    char *argv[] = {DS_EVALUATE_EXE, "--processinformationaddress", "0x7ffd1234",
                    "--returnparameterfile", ret, "--prediction", pp, "--reference", rp,
                    "--outputTable", csv, "--classes", "3", "--units", "mm", "--empty", "flag",
                    "--threads", "2", NULL};
    cli_result r;
    cli_run(argv, &r);
    DS_CHECK_MSG(r.code == 0 && r.err_n == 0, "exit %d, stderr '%s'", r.code, r.err);
    cli_check_progress(r.out, "DualSeg Evaluate");
    double v[8];
    int n = cli_read_return(ret, "dice", v, 8);
    check_close_vec(v, n, want, 3, DS_METRIC_DICE);
    DS_CHECK(n >= 1 && fabs(v[0] - 0.75) < 1e-15); /* by hand: 2 * 48 / (64 + 64) */
    n = cli_read_return(ret, "jaccard", v, 8);
    check_close_vec(v, n, want, 3, DS_METRIC_JACCARD);
    n = cli_read_return(ret, "hd95", v, 8);
    check_close_vec(v, n, want, 3, DS_METRIC_HD95);
    n = cli_read_return(ret, "asd", v, 8);
    check_close_vec(v, n, want, 3, DS_METRIC_ASD);
    n = cli_read_return(ret, "diceStd", v, 8);
    DS_CHECK(n == 2 && v[0] == 0 && v[1] == 0);
    DS_CHECK(cli_read_return(ret, "casesEvaluated", v, 8) == 1 && v[0] == 1);
    DS_CHECK(cli_read_return(ret, "rowsExcluded", v, 8) == 1 && v[0] == 0);
    FILE *f = fopen(csv, "r");
    char line[1024] = "";
    int lines = 0;
    if (f && fgets(line, sizeof line, f))
        ++lines;
    const char *header = "case,class,status,dice,jaccard,hd95_mm,asd_mm,";
    DS_CHECK(strncmp(line, header, strlen(header)) == 0);
    while (f && fgets(line, sizeof line, f))
        lines += strncmp(line, "1234_predictionVolume,", 22) == 0 || strncmp(line, "mean,", 5) == 0 ||
                 strncmp(line, "std,", 4) == 0;
    if (f)
        fclose(f);
    DS_CHECK_MSG(lines == 1 + 2 + 2 + 2, "%d table lines", lines);
    cli_result_free(&r);
    /* --echo prints the values (from the XML's names and defaults) and still runs */
    char *echo[] = {DS_EVALUATE_EXE, "--echo", "--prediction", pp, "--reference", rp, NULL};
    cli_run(echo, &r);
    DS_CHECK(r.code == 0 && strncmp(r.out, "Command Line Arguments\n", 23) == 0 &&
             strstr(r.out, "\n    numberOfClasses: 0\n") && strstr(r.out, "\n    distanceUnits: mm\n") &&
             strstr(r.out, "<filter-end>"));
    cli_result_free(&r);
    ds_volume_free(pred);
    ds_volume_free(ref);
}

static void test_folders(void)
{
    char *pd = path_in("pred"), *rd = path_in("ref");
    mkdir(pd, 0755);
    mkdir(rd, 0755);
    const int x0p[3] = {4, 6, 3}, x0r[3] = {5, 6, 4};
    const double rp[3] = {3.0, 2.5, 0.0}, rr[3] = {3.5, 3.0, 0.0}; /* case c: no class 2 */
    const char *ids[3] = {"case_a", "case_b", "case_c"};
    ds_metrics_cohort *want = NULL;
    ds_metrics_options o;
    ds_metrics_options_init(&o);
    o.num_classes = 3;
    DS_CHECK_OK(g_ctx, ds_metrics_cohort_create(g_ctx, &o, &want));
    for (int c = 0; c < 3 && want; ++c) {
        ds_volume *p = phantom(x0p[c], rp[c]), *r = phantom(x0r[c], rr[c]);
        char name[512];
        snprintf(name, sizeof name, "%s/%s.nrrd", pd, ids[c]);
        write_map(p, name);
        snprintf(name, sizeof name, "%s/%s.nii.gz", rd, ids[c]);
        write_map(r, name);
        DS_CHECK_OK(g_ctx, ds_metrics_cohort_add(g_ctx, want, ids[c], p->labels, r->labels,
                                                 p->geom.size, k_spacing));
        ds_volume_free(p);
        ds_volume_free(r);
    }
    ds_volume *extra = phantom(2, 1.0); /* a segmentation without reference: ignored */
    char name[512];
    snprintf(name, sizeof name, "%s/case_z.nrrd", pd);
    write_map(extra, name);
    ds_volume_free(extra);
    char *ret = path_in("ret_folder.txt");
    char *argv[] = {DS_EVALUATE_EXE, "--returnparameterfile", ret, "--predictionFolder", pd,
                    "--referenceFolder", rd, NULL}; /* --classes 0 (default): detected */
    cli_result r;
    cli_run(argv, &r);
    DS_CHECK_MSG(r.code == 0 && r.err_n == 0, "exit %d, stderr '%s'", r.code, r.err);
    cli_check_progress(r.out, "DualSeg Evaluate");
    static const struct {
        const char *mean, *std;
        ds_metric m;
    } cols[] = {{"dice", "diceStd", DS_METRIC_DICE}, {"jaccard", "jaccardStd", DS_METRIC_JACCARD},
                {"hd95", "hd95Std", DS_METRIC_HD95}, {"asd", "asdStd", DS_METRIC_ASD}};
    for (size_t j = 0; j < 4 && want; ++j) {
        double mean[4], sd[4];
        DS_CHECK(cli_read_return(ret, cols[j].mean, mean, 4) == 2);
        DS_CHECK(cli_read_return(ret, cols[j].std, sd, 4) == 2);
        for (int c = 1; c <= 2; ++c) {
            ds_metrics_summary s;
            DS_CHECK_OK(g_ctx, ds_metrics_cohort_summary(g_ctx, want, c, &s));
            DS_CHECK_CLOSE(mean[c - 1], s.mean[cols[j].m], 1e-12, 1e-12);
            DS_CHECK_CLOSE(sd[c - 1], s.std[cols[j].m], 1e-12, 1e-12);
        }
    }
    double v[4];
    DS_CHECK(cli_read_return(ret, "casesEvaluated", v, 4) == 1 && v[0] == 3);
    DS_CHECK(cli_read_return(ret, "rowsExcluded", v, 4) == 1 && v[0] == 1); /* case_c, class 2 */
    cli_result_free(&r);
    ds_metrics_cohort_free(want);
}

static void test_standard_arguments(void)
{
    cli_check_xml(DS_EVALUATE_EXE, DS_SOURCE_DIR "/xml/DualSegEvaluate.xml", DS_EVALUATE_XML);
    cli_result r;

    char *version[] = {DS_EVALUATE_EXE, "--version", NULL};
    cli_run(version, &r);
    DS_CHECK(r.code == 0 && strcmp(r.out, "DualSegEvaluate 0.1.0\n") == 0 && r.err_n == 0);
    cli_result_free(&r);
    char *help[] = {DS_EVALUATE_EXE, "--help", NULL};
    cli_run(help, &r);
    DS_CHECK(r.code == 0 && r.err_n == 0 && strstr(r.out, "  --prediction <image>") &&
             strstr(r.out, "Distance units. Default: mm. One of: mm, voxels.") &&
             strstr(r.out, "Range: from 0 to 1024."));
    cli_result_free(&r);
}

/* --logo: GenerateCLP's format, and the pixels are those of icons/make_logo.c, whose PNG is the
 * committed icons/DualSeg.png. */
static void test_logo(void)
{
    char *argv[] = {DS_EVALUATE_EXE, "--logo", NULL};
    cli_result r;
    cli_run(argv, &r);
    int w = 0, h = 0, px = 0, used = 0;
    unsigned long len = 0;
    DS_CHECK(r.code == 0 &&
             sscanf(r.out, "LOGO\n%d\n%d\n%d\n%lu\n%n", &w, &h, &px, &len, &used) == 4);
    DS_CHECK(w == 128 && h == 128 && px == 4 && (size_t)used + len + 1 == r.out_n);
    const char *b64 = r.out + used;
    DS_CHECK(b64[0] != 'x'); /* Slicer would take a leading 'x' (0x78) for zlib data */
    static const char alphabet[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    unsigned char *pix = malloc(len), *want = NULL;
    size_t n = 0;
    for (unsigned long i = 0; pix && i + 4 <= len; i += 4) {
        uint32_t v = 0;
        int pad = 0;
        for (int k = 0; k < 4; ++k) {
            const char *at = strchr(alphabet, b64[i + k]);
            pad += b64[i + k] == '=';
            v = v << 6 | (uint32_t)(at && b64[i + k] ? at - alphabet : 0);
        }
        for (int k = 0; k < 3 - pad; ++k)
            pix[n++] = (unsigned char)(v >> (16 - 8 * k));
    }
    DS_CHECK(n == 128 * 128 * 4);
    char *raw = path_in("logo.rgba"), *png = path_in("logo.png");
    char *gen_raw[] = {DS_MAKE_LOGO_EXE, "rgba", raw, NULL}, *gen_png[] = {DS_MAKE_LOGO_EXE, "png", png, NULL};
    cli_result g;
    cli_run(gen_raw, &g);
    DS_CHECK_MSG(g.code == 0 && g.err_n == 0, "make_logo rgba: %d %s", g.code, g.err);
    cli_result_free(&g);
    cli_run(gen_png, &g);
    DS_CHECK_MSG(g.code == 0 && g.err_n == 0, "make_logo png: %d %s", g.code, g.err);
    cli_result_free(&g);
    size_t n_raw = 0, n_png = 0, n_committed = 0;
    want = cli_slurp(raw, &n_raw);
    DS_CHECK(n_raw == n && pix && memcmp(pix, want, n) == 0);
    unsigned char *made = cli_slurp(png, &n_png);
    unsigned char *committed = cli_slurp(DS_SOURCE_DIR "/icons/DualSeg.png", &n_committed);
    DS_CHECK_MSG(n_png > 1000 && n_png == n_committed && memcmp(made, committed, n_png) == 0,
                 "icons/DualSeg.png differs from what icons/make_logo.c draws");
    free(made);
    free(committed);
    free(want);
    free(pix);
    cli_result_free(&r);
}

/* Wrong arguments: exit 2, one line on stderr, nothing on stdout, no file written. */
static void expect_refused(const char *what, int want_code, char **extra)
{
    char *ret = path_in("ret_refused.txt"), *csv = path_in("refused.csv");
    char *argv[32] = {DS_EVALUATE_EXE, "--returnparameterfile", ret, "--outputTable", csv};
    int argc = 5;
    while (*extra)
        argv[argc++] = *extra++;
    argv[argc] = NULL;
    char *none[] = {ret, csv, NULL};
    cli_expect_refused(what, want_code, argv, none);
}

static void test_wrong_arguments(void)
{
    char *pp = path_in("1234_predictionVolume.nrrd"), *rp = path_in("1234_referenceVolume.nrrd");
    char *rd = path_in("ref");
    expect_refused("unknown flag", 2,
                   (char *[]){"--frobnicate", "--prediction", pp, "--reference", rp, NULL});
    expect_refused("below the minimum", 2,
                   (char *[]){"--threads", "-1", "--prediction", pp, "--reference", rp, NULL});
    expect_refused("above the maximum", 2,
                   (char *[]){"--classes", "2000", "--prediction", pp, "--reference", rp, NULL});
    expect_refused("missing required input", 2, (char *[]){"--prediction", pp, NULL});
    expect_refused("nothing to evaluate", 2, (char *[]){NULL});
    expect_refused("bad enumeration value", 2,
                   (char *[]){"--units", "cm", "--prediction", pp, "--reference", rp, NULL});
    expect_refused("file where a folder is expected", 2,
                   (char *[]){"--predictionFolder", pp, "--referenceFolder", rd, NULL});
    expect_refused("folder where a file is expected", 2,
                   (char *[]){"--prediction", rd, "--reference", rp, NULL});
    expect_refused("missing input file", 2,
                   (char *[]){"--prediction", path_in("none.nrrd"), "--reference", rp, NULL});
    expect_refused("--classes 1", 2,
                   (char *[]){"--classes", "1", "--prediction", pp, "--reference", rp, NULL});
    /* not an argument error, a failed run: exit 1, one line, nothing written */
    ds_geometry g;
    ds_geometry_identity(&g, 5, 5, 5);
    ds_volume *small = NULL;
    DS_CHECK_OK(g_ctx, ds_volume_create(g_ctx, &small, &g, DS_VOLUME_LABEL));
    char *sp = path_in("small.nrrd");
    write_map(small, sp);
    ds_volume_free(small);
    expect_refused("maps of different sizes", 1,
                   (char *[]){"--prediction", sp, "--reference", rp, NULL});
}

int main(void)
{
    snprintf(g_tmp, sizeof g_tmp, "/tmp/ds_cli_evaluate_XXXXXX");
    if (!mkdtemp(g_tmp) || ds_ctx_create(&g_ctx) != DS_OK)
        return 1;
    test_standard_arguments();
    test_logo();
    test_pair();
    test_folders();
    test_wrong_arguments();
    ds_ctx_free(g_ctx);
    DS_CHECK(cli_remove_tree(g_tmp) == 0);
    return ds_test_finish("test_cli_evaluate");
}
