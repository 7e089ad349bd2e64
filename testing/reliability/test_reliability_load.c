/* test_reliability_load - DualSegSegment over a folder of 100 small volumes (20 x 20 x 16
 * phantoms, a randomly initialised width-4 pair, cli_model.h): memory stays flat and the outputs
 * are those of one call per volume.
 * Memory: the parent samples the child's VmRSS (/proc/<pid>/status) every 10 ms; the baseline is
 * the first sample once the progress says a case after the first has started (the progress is
 * rate-limited, so that may be a few cases in), and no later sample may exceed it by more than
 * RSS_BOUND_KIB. A leak of one case's result maps (label + entropy +
 * disagreement + the four accumulator planes: about 0.16 MiB a case here) would add some 16 MiB.
 * Outputs: every tenth case segmented on its own (--input) must give the same label, entropy and
 * disagreement volumes, voxel for voxel. Reference: the single-volume mode of the same module. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli_check.h"
#include "cli_data.h"
#include "cli_model.h"
#include "ds_io.h"
#include "ds_phantom.h"

#define CASES 100
#define RSS_BOUND_KIB 4096

static char g_tmp[256];
static ds_ctx *g_ctx;

typedef struct rss_watch {
    long first_kib; /* VmRSS once a case after the first has started; 0 until then */
    int first_case; /* that case (1-based) */
    long max_after_kib, last_kib;
    int samples;
} rss_watch;

static long vm_rss_kib(pid_t pid)
{
    char path[64], line[256];
    snprintf(path, sizeof path, "/proc/%d/status", (int)pid);
    FILE *f = fopen(path, "r");
    long kib = 0;
    while (f && fgets(line, sizeof line, f))
        if (strncmp(line, "VmRSS:", 6) == 0)
            kib = strtol(line + 6, NULL, 10);
    if (f)
        fclose(f);
    return kib;
}

/* The case the progress says was started last (0: none yet). */
static int last_case(const char *out)
{
    int n = 0;
    for (const char *c = strstr(out, "Case "); c; c = strstr(c + 5, "Case "))
        n = atoi(c + 5);
    return n;
}

static void watch(pid_t pid, const char *out, void *user)
{
    rss_watch *w = user;
    const long kib = vm_rss_kib(pid);
    if (kib <= 0)
        return;
    if (!w->first_kib) {
        if ((w->first_case = last_case(out)) >= 2)
            w->first_kib = kib;
        return;
    }
    w->max_after_kib = kib > w->max_after_kib ? kib : w->max_after_kib;
    w->last_kib = kib;
    ++w->samples;
}

static void write_cases(const char *dir)
{
    mkdir(dir, 0755);
    ds_phantom_options o;
    ds_phantom_options_init(&o);
    o.size[0] = 20, o.size[1] = 20, o.size[2] = 16;
    for (int i = 0; i < CASES; ++i) {
        ds_volume *image = NULL, *label = NULL;
        char path[600];
        snprintf(path, sizeof path, "%s/case_%03d.nrrd", dir, i);
        DS_CHECK_OK(g_ctx, ds_phantom_generate(g_ctx, &o, 77, (uint32_t)i, &image, &label));
        DS_CHECK_OK(g_ctx, ds_io_write(g_ctx, image, path, 0));
        ds_volume_free(image);
        ds_volume_free(label);
    }
}

int main(void)
{
    snprintf(g_tmp, sizeof g_tmp, "/tmp/ds_load_XXXXXX");
    if (!mkdtemp(g_tmp) || ds_ctx_create(&g_ctx) != DS_OK)
        return 1;
    char in[300], out[300], one[300], model[300], a[600], b[600];
    snprintf(in, sizeof in, "%s/in", g_tmp);
    snprintf(out, sizeof out, "%s/out", g_tmp);
    snprintf(one, sizeof one, "%s/one", g_tmp);
    snprintf(model, sizeof model, "%s/model.dsm", g_tmp);
    write_cases(in);
    mkdir(out, 0755);
    mkdir(one, 0755);
    DS_CHECK_OK(g_ctx, cli_random_model(g_ctx, 2, 4, 16, 11, model));

    char *argv[] = {DS_SEGMENT_EXE, "--threads", "1", "--inputFolder", in, "--outputFolder", out,
                    "--folderFormat", ".nrrd", model, NULL};
    /* under ASan, freed blocks wait in a 256 MiB quarantine, which would read as growth */
    char asan[600];
    const char *given = getenv("ASAN_OPTIONS");
    snprintf(asan, sizeof asan, "%s%squarantine_size_mb=0", given ? given : "", given ? ":" : "");
    setenv("ASAN_OPTIONS", asan, 1);
    rss_watch w = {0, 0, 0, 0, 0};
    cli_limits lim = {0};
    lim.watch = watch;
    lim.user = &w;
    cli_result r;
    cli_run_with(argv, &lim, &r);
    DS_CHECK_MSG(r.code == 0 && r.err_n == 0, "folder run: exit %d, %s", r.code, r.err);
    printf("%d cases in %.1f s; VmRSS at case %d %ld KiB, highest later %ld KiB, last %ld KiB "
           "(%d samples)\n", CASES, r.seconds, w.first_case, w.first_kib, w.max_after_kib,
           w.last_kib, w.samples);
    cli_result_free(&r);
    DS_CHECK_MSG(w.first_kib > 0 && w.first_case <= CASES / 4 && w.samples >= CASES / 2,
                 "too few memory samples (%d, from case %d)", w.samples, w.first_case);
    DS_CHECK_MSG(w.max_after_kib - w.first_kib <= RSS_BOUND_KIB,
                 "memory grew by %ld KiB over %d cases", w.max_after_kib - w.first_kib, CASES);

    for (int i = 0; i < CASES; i += 10) {
        char vol[600], lab[600], ent[600], dis[600];
        snprintf(vol, sizeof vol, "%s/case_%03d.nrrd", in, i);
        snprintf(lab, sizeof lab, "%s/case_%03d_label.nrrd", one, i);
        snprintf(ent, sizeof ent, "%s/case_%03d_entropy.nrrd", one, i);
        snprintf(dis, sizeof dis, "%s/case_%03d_disagreement.nrrd", one, i);
        char *single[] = {DS_SEGMENT_EXE, "--threads", "1", "--input", vol, "--output", lab,
                          "--entropy", ent, "--disagreement", dis, model, NULL};
        cli_run(single, &r);
        DS_CHECK_MSG(r.code == 0, "case %d alone: exit %d, %s", i, r.code, r.err);
        cli_result_free(&r);
        static const char *maps[] = {"label", "entropy", "disagreement"};
        for (int m = 0; m < 3; ++m) {
            snprintf(a, sizeof a, "%s/case_%03d_%s.nrrd", one, i, maps[m]);
            snprintf(b, sizeof b, "%s/case_%03d_%s.nrrd", out, i, maps[m]);
            cli_check_same_file_data(g_ctx, a, b, m == 0 ? CLI_LABEL : CLI_IMAGE);
        }
    }
    ds_ctx_free(g_ctx);
    DS_CHECK(cli_remove_tree(g_tmp) == 0);
    return ds_test_finish("test_reliability_load");
}
