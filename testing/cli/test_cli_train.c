/* test_cli_train - DualSegTrain end to end, run as Slicer runs it (command lines built as Slicer
 * builds them: booleans bare, vectors comma-separated, temporary .nrrd paths,
 * --processinformationaddress, --returnparameterfile), on phantoms (ds_phantom.h) with width-2
 * networks, 16^3 crops and a handful of iterations.
 * References: the trainer's exact-resume guarantee (ds_train.h: a run resumed from a checkpoint
 * gives, bit for bit, the weights of an uninterrupted run with the same seed and threads), so a
 * run cut into stretches by time, and a run killed with SIGKILL and run again, must both give the
 * weights of one uninterrupted run; the model files are read back with ds_model_load. Also: --xml
 * exact; progress monotone in [0, 1]; wrong arguments and failed runs exit non-zero with one line
 * and write nothing; an existing model file survives a failed run; a cohort's dataset.json
 * "labels" names reach the model file. */
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cli_check.h"
#include "cli_data.h"
#include "cli_model.h"
#include "ds_losses.h"
#include "ds_model.h"

static char g_tmp[256];
static ds_ctx *g_ctx;

static char *path_in(const char *name) { return cli_path(g_tmp, name); }

/* argv = common options + extra (NULL-terminated) into out (cap 64). One thread: OpenMP's
 * threads spin and crawl when the test machine is oversubscribed (7 s an iteration against
 * 0.06 s measured at load 13 on 2 cores). */
static void build_argv(char **out, char **extra)
{
    static char *common[] = {DS_TRAIN_EXE, "--processinformationaddress", "0x7ffd1234",
                             "--threads", "1", "--width", "2", "--patch", "16,16,16",
                             "--unlabelledBatch", "1", NULL};
    int n = 0;
    for (char **c = common; *c; ++c)
        out[n++] = *c;
    while (*extra && n < 63)
        out[n++] = *extra++;
    out[n] = NULL;
}

static void run_ok(const char *what, char **extra, cli_result *r)
{
    char *argv[64];
    build_argv(argv, extra);
    cli_run(argv, r);
    DS_CHECK_MSG(r->code == 0 && r->err_n == 0, "%s: exit %d, stderr '%s'", what, r->code, r->err);
    cli_check_progress(r->out, "DualSeg Train");
}

static ds_model *load(const char *path)
{
    ds_model *m = NULL;
    DS_CHECK_OK(g_ctx, ds_model_load(g_ctx, &m, path));
    return m;
}

static void check_finite(const double *v, int n, const char *what)
{
    int ok = 1;
    for (int i = 0; i < n; ++i)
        ok &= isfinite(v[i]) && v[i] >= 0;
    DS_CHECK_MSG(ok, "%s: a loss term is not finite", what);
}

/* The GUI path: a volume + its labels painted on every 4th axial slice + a folder of
 * unlabelled volumes; classes detected; then the batch path with a single network. */
static void test_gui_and_batch(void)
{
    char *vol = path_in("1234_inputVolume.nrrd"), *lab = path_in("1234_inputLabel.nrrd");
    char *unl = path_in("unlabelled"), *u0 = path_in("unlabelled/u0.nrrd");
    mkdir(unl, 0755);
    cli_write_phantom(g_ctx, 7, vol, lab, 4);
    cli_write_phantom(g_ctx, 8, u0, NULL, 0);
    char *model = path_in("gui.dsm"), *ret = path_in("ret_gui.txt");
    char *log = path_in("gui_log.csv");
    char *extra[] = {"--returnparameterfile", ret, "--input", vol, "--label", lab,
                     "--unlabelled", unl, "--paintedSlices", "axial", "--model", model,
                     "--augmentFlips", "--milestones", "0.5,0.75", "--iterations", "6",
                     "--log", log, NULL};
    cli_result r;
    run_ok("gui", extra, &r);
    cli_result_free(&r);
    double v[16];
    char text[600], want[600];
    DS_CHECK(cli_read_return(ret, "iterationsDone", v, 16) == 1 && v[0] == 6);
    DS_CHECK(cli_read_return(ret, "resumedFrom", v, 16) == 1 && v[0] == 0);
    DS_CHECK(cli_read_return(ret, "lossA", v, 16) == DS_LOSS_TERM_COUNT);
    check_finite(v, DS_LOSS_TERM_COUNT, "lossA");
    DS_CHECK(v[DS_LOSS_CE] > 0 && v[DS_LOSS_DICE] > 0);
    DS_CHECK(cli_read_return(ret, "lossB", v, 16) == DS_LOSS_TERM_COUNT);
    check_finite(v, DS_LOSS_TERM_COUNT, "lossB");
    DS_CHECK(cli_read_return(ret, "totalLoss", v, 16) == 2);
    DS_CHECK(cli_read_return(ret, "seconds", v, 16) == 1 && v[0] > 0);
    snprintf(want, sizeof want, "%s.checkpoint", model);
    DS_CHECK(cli_read_return_text(ret, "checkpointPath", text, sizeof text) &&
             strcmp(text, want) == 0 && cli_exists(want));
    DS_CHECK(cli_exists(log));
    ds_model *m = load(model);
    DS_CHECK(m && m->net_count == 2 && m->meta.classes == 2 && m->meta.iteration == 6 &&
             m->meta.patch[0] == 16 && m->meta.patch[2] == 16);
    ds_model_free(m);

    char *cohort = path_in("cohort"), *single = path_in("single.dsm");
    cli_write_cohort(g_ctx, cohort, 2, 1);
    /* class names from dataset.json "labels" go into the model file (no list: the folders) */
    FILE *json = fopen(path_in("cohort/dataset.json"), "w");
    DS_CHECK(json && fputs("{\"labels\": {\"0\": \"background\", \"1\": \"blob\"}}", json) >= 0);
    if (json)
        fclose(json);
    char *ret2 = path_in("ret_single.txt");
    char *extra2[] = {"--returnparameterfile", ret2, "--cohort", cohort, "--pair", "single",
                      "--model", single, "--iterations", "3", "--normalisation", "zscore", NULL};
    run_ok("single", extra2, &r);
    cli_result_free(&r);
    DS_CHECK(cli_read_return(ret2, "iterationsDone", v, 16) == 1 && v[0] == 3);
    DS_CHECK(cli_read_return(ret2, "lossB", v, 16) == 0);
    DS_CHECK(cli_read_return(ret2, "totalLoss", v, 16) == 1 && isfinite(v[0]));
    m = load(single);
    DS_CHECK(m && m->net_count == 1 && m->meta.iteration == 3);
    DS_CHECK_MSG(m && strcmp(m->meta.class_names[0], "background") == 0 &&
                 strcmp(m->meta.class_names[1], "blob") == 0, "class names '%s', '%s'",
                 m ? m->meta.class_names[0] : "", m ? m->meta.class_names[1] : "");
    ds_model_free(m);

    /* the CSV list (paths relative to it; the third case unlabelled), two V-Nets */
    char *csv = path_in("cohort/list.csv"), *homo = path_in("homo.dsm");
    FILE *f = fopen(csv, "w");
    if (f) {
        fputs("image,label\nimagesTr/case_000_0000.nii.gz,labelsTr/case_000.nii.gz\n"
              "imagesTr/case_001_0000.nii.gz,labelsTr/case_001.nii.gz\n"
              "imagesTs/case_002_0000.nii.gz\n", f);
        fclose(f);
    }
    char *extra3[] = {"--returnparameterfile", ret2, "--cohortCsv", csv, "--pair", "homogeneous",
                      "--model", homo, "--iterations", "2", "--normalisation", "none", NULL};
    run_ok("csv", extra3, &r);
    cli_result_free(&r);
    DS_CHECK(cli_read_return(ret2, "iterationsDone", v, 16) == 1 && v[0] == 2);
    m = load(homo);
    DS_CHECK(m && m->net_count == 2 && ds_net_arch(m->net[0]) == DS_ARCH_VNET &&
             m->meta.norm_mode == DS_NORM_NONE);
    ds_model_free(m);
}

/* Time-cut stretches and a SIGKILL + rerun both give the uninterrupted run's weights. */
static void test_checkpoints(void)
{
    char *cohort = path_in("cohort");
    char *whole = path_in("whole.dsm"), *cut = path_in("cut.dsm"), *killed = path_in("killed.dsm");
    char *ret = path_in("ret_killed.txt");
    cli_result r;
    char *a[] = {"--cohort", cohort, "--model", whole, "--iterations", "24", NULL};
    run_ok("uninterrupted", a, &r);
    cli_result_free(&r);
    /* a stretch of 0.6 ms: the trainer stops, checkpoints and resumes after every iteration */
    char *ret_cut = path_in("ret_cut.txt");
    char *b[] = {"--returnparameterfile", ret_cut, "--cohort", cohort, "--model", cut,
                 "--iterations", "24", "--checkpointMinutes", "0.00001", NULL};
    run_ok("stretches", b, &r);
    cli_result_free(&r);
    double loss[DS_LOSS_TERM_COUNT];
    DS_CHECK(cli_read_return(ret_cut, "lossA", loss, DS_LOSS_TERM_COUNT) == DS_LOSS_TERM_COUNT &&
             loss[DS_LOSS_CE] > 0); /* the last stretch ran the last step */
    ds_model *mw = load(whole), *mc = load(cut);
    DS_CHECK_MSG(cli_same_weights(g_ctx, mw, mc), "a run cut into stretches differs from one run");
    ds_model_free(mc);

    char *c[] = {"--returnparameterfile", ret, "--cohort", cohort, "--model", killed,
                 "--iterations", "24", "--checkpointMinutes", "0", NULL};
    char *argv[64];
    build_argv(argv, c);
    char *ckpt = path_in("killed.dsm.checkpoint");
    pid_t pid = cli_spawn(argv);
    int status = 0, exited = 0;
    const double t0 = cli_now();
    while (!cli_exists(ckpt) && !exited && cli_now() - t0 < 60)
        exited = waitpid(pid, &status, WNOHANG) == pid;
    if (!exited) {
        kill(pid, SIGKILL); /* Slicer's Cancel: no warning */
        waitpid(pid, &status, 0);
    }
    DS_CHECK_MSG(!exited && WIFSIGNALED(status), "the run ended before it could be killed");
    ds_model *mk = load(ckpt);
    const int64_t at = mk ? mk->meta.iteration : -1;
    ds_model_free(mk);
    printf("killed after the checkpoint of iteration %lld\n", (long long)at);
    DS_CHECK(at >= 1 && at < 24 && !cli_exists(killed) && !cli_exists(ret));
    run_ok("resumed", c, &r);
    cli_result_free(&r);
    double v[4];
    DS_CHECK(cli_read_return(ret, "resumedFrom", v, 4) == 1 && v[0] >= (double)at);
    DS_CHECK(cli_read_return(ret, "iterationsDone", v, 4) == 1 && v[0] == 24);
    mk = load(killed);
    DS_CHECK(mk && mk->meta.iteration == 24);
    DS_CHECK_MSG(cli_same_weights(g_ctx, mw, mk), "killed + resumed differs from one run");
    ds_model_free(mk);
    ds_model_free(mw);
}

static void test_refused(void)
{
    char *vol = path_in("1234_inputVolume.nrrd"), *lab = path_in("1234_inputLabel.nrrd");
    char *model = path_in("refused.dsm"), *ret = path_in("ret_refused.txt");
    char *ckpt = path_in("refused.dsm.checkpoint");
    char *none[] = {model, ret, ckpt, NULL};
    static const struct {
        const char *what;
        char *args[8];
    } cases[] = {
        {"unknown flag", {"--frobnicate", NULL}},
        {"value outside its constraints", {"--momentum", "1.5", NULL}},
        {"vector value outside its constraints", {"--spacing", "1,0,1", NULL}},
        {"bad enumeration value", {"--pair", "triple", NULL}},
        {"volume without its labels", {"--label", NULL}},
        {"file where a folder is expected", {"--cohort", NULL}},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; ++i) {
        char *extra[24] = {"--returnparameterfile", ret, "--model", model, "--iterations", "2"};
        int n = 6;
        for (int k = 0; cases[i].args[k]; ++k)
            extra[n++] = cases[i].args[k];
        if (i == 4)
            extra[n++] = lab; /* --label without --input */
        else if (i == 5)
            extra[n++] = vol;
        else
            extra[n++] = "--input", extra[n++] = vol, extra[n++] = "--label", extra[n++] = lab;
        extra[n] = NULL;
        char *argv[64];
        build_argv(argv, extra);
        cli_expect_refused(cases[i].what, 2, argv, none);
    }
    char *nodata[] = {"--returnparameterfile", ret, "--model", model, NULL}, *argv[64];
    build_argv(argv, nodata);
    cli_expect_refused("missing required input", 2, argv, none);
    /* 0 iterations only load and save a start model: without one it is a usage error */
    char *zero[] = {"--returnparameterfile", ret, "--model", model, "--input", vol, "--label",
                    lab, "--iterations", "0", NULL};
    build_argv(argv, zero);
    cli_result zr;
    cli_run(argv, &zr);
    DS_CHECK_MSG(zr.code == 2 && strstr(zr.err, "--warmStart") != NULL && !cli_exists(model),
                 "0 iterations without a start model: exit %d, stderr '%s'", zr.code, zr.err);
    cli_result_free(&zr);

    /* a failed run (a label value beyond --classes 2): exit 1, the old model file untouched */
    char *bad = path_in("bad_label.nrrd");
    ds_volume *l = NULL;
    DS_CHECK_OK(g_ctx, ds_io_read_label(g_ctx, lab, &l));
    if (l)
        l->labels[0] = 5;
    DS_CHECK_OK(g_ctx, ds_io_write(g_ctx, l, bad, 1));
    ds_volume_free(l);
    FILE *f = fopen(model, "w");
    fputs("the model of yesterday", f);
    fclose(f);
    char *fail[] = {"--returnparameterfile", ret, "--model", model, "--input", vol, "--label",
                    bad, "--classes", "2", "--iterations", "2", NULL};
    build_argv(argv, fail);
    char *none2[] = {ret, ckpt, NULL};
    cli_expect_refused("label beyond the classes", 1, argv, none2);
    size_t n = 0;
    unsigned char *kept = cli_slurp(model, &n);
    DS_CHECK(n == 22 && memcmp(kept, "the model of yesterday", 22) == 0);
    free(kept);
}

int main(void)
{
    snprintf(g_tmp, sizeof g_tmp, "/tmp/ds_cli_train_XXXXXX");
    if (!mkdtemp(g_tmp) || ds_ctx_create(&g_ctx) != DS_OK)
        return 1;
    cli_check_xml(DS_TRAIN_EXE, DS_SOURCE_DIR "/xml/DualSegTrain.xml", DS_TRAIN_XML);
    test_gui_and_batch();
    test_checkpoints();
    test_refused();
    ds_ctx_free(g_ctx);
    DS_CHECK(cli_remove_tree(g_tmp) == 0);
    return ds_test_finish("test_cli_train");
}
