/* bench_cli_segment - the runtime's overhead on a real volume: DualSegSegment end to end (fork,
 * exec, XML parse, model load, read, inference, label + entropy + disagreement written as .nrrd)
 * on one Hippocampus volume (read in place) with a randomly initialised width-16 pair
 * (cli_model.h, patch 32^3), against the same pipeline in process and against ds_infer_model
 * alone. Median and minimum of N runs (default 3) at T threads (default 1).
 *   build/testing/cli/bench_cli_segment [N] [T] [image]  (image default: hippocampus_001) */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli_model.h"
#include "cli_run.h"
#include "ds_infer.h"
#include "ds_io.h"
#include "ds_threads.h"

static int cmp_double(const void *a, const void *b)
{
    const double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static void print(const char *what, double *t, int n)
{
    qsort(t, (size_t)n, sizeof *t, cmp_double);
    printf("%-44s median %8.1f ms  min %8.1f ms  (%d runs)\n", what, 1e3 * t[n / 2], 1e3 * t[0], n);
}

/* In process: model load, read, ds_infer_model, writes; *infer receives ds_infer_model's time. */
static int pipeline(ds_ctx *ctx, const char *model_path, const char *image_path, const char *dir,
                    double *infer)
{
    ds_model *m = NULL;
    ds_volume *image = NULL;
    ds_infer_result r = {0};
    ds_infer_options o;
    ds_infer_options_init(&o);
    char path[600];
    ds_status st = ds_model_load(ctx, &m, model_path);
    if (st == DS_OK)
        st = ds_io_read_image(ctx, image_path, &image);
    const double t0 = cli_now();
    if (st == DS_OK)
        st = ds_infer_model(ctx, m, image, &o, &r);
    *infer = cli_now() - t0;
    snprintf(path, sizeof path, "%s/lib_label.nrrd", dir);
    if (st == DS_OK)
        st = ds_io_write(ctx, r.label, path, 1);
    snprintf(path, sizeof path, "%s/lib_entropy.nrrd", dir);
    if (st == DS_OK)
        st = ds_io_write(ctx, r.entropy, path, 0);
    snprintf(path, sizeof path, "%s/lib_disagreement.nrrd", dir);
    if (st == DS_OK)
        st = ds_io_write(ctx, r.disagreement, path, 0);
    ds_infer_result_free(&r);
    ds_volume_free(image);
    ds_model_free(m);
    if (st != DS_OK)
        fprintf(stderr, "bench_cli_segment: %s\n", ds_ctx_message(ctx));
    return st == DS_OK;
}

int main(int argc, char **argv)
{
    const int n = argc > 1 ? atoi(argv[1]) : 3;
    const char *threads = argc > 2 ? argv[2] : "1";
    const char *image = argc > 3 ? argv[3] : DS_SHARED_DIR "/data/Task04_Hippocampus/imagesTr/"
                                                           "hippocampus_001.nii.gz";
    char dir[] = "/tmp/ds_bench_segment_XXXXXX", model[128], lab[128], ent[128], dis[128];
    ds_ctx *ctx = NULL;
    if (n < 1 || !mkdtemp(dir) || ds_ctx_create(&ctx) != DS_OK ||
        ds_threads_set(ctx, atoi(threads)) != DS_OK)
        return 2;
    snprintf(model, sizeof model, "%s/pair16.dsm", dir);
    snprintf(lab, sizeof lab, "%s/label.nrrd", dir);
    snprintf(ent, sizeof ent, "%s/entropy.nrrd", dir);
    snprintf(dis, sizeof dis, "%s/disagreement.nrrd", dir);
    if (cli_random_model(ctx, 2, 16, 32, 7, model) != DS_OK) {
        fprintf(stderr, "bench_cli_segment: %s\n", ds_ctx_message(ctx));
        return 1;
    }
    double *t_cli = malloc(sizeof(double) * (size_t)n), *t_lib = malloc(sizeof(double) * (size_t)n);
    double *t_inf = malloc(sizeof(double) * (size_t)n);
    char *cmd[] = {DS_SEGMENT_EXE, "--threads", (char *)threads, "--input", (char *)image,
                   "--output", lab, "--entropy", ent, "--disagreement", dis, model, NULL};
    int ok = t_cli && t_lib && t_inf;
    for (int i = 0; ok && i < n; ++i) {
        cli_result r;
        cli_run(cmd, &r);
        ok &= r.code == 0;
        if (r.code != 0)
            fprintf(stderr, "DualSegSegment: exit %d: %s", r.code, r.err);
        t_cli[i] = r.seconds;
        cli_result_free(&r);
        const double t0 = cli_now();
        ok &= pipeline(ctx, model, image, dir, &t_inf[i]);
        t_lib[i] = cli_now() - t0;
    }
    if (ok) {
        printf("%s, width-16 pair, patch 32^3, %s thread(s)\n", image, threads);
        print("DualSegSegment end to end (fork + exec)", t_cli, n);
        print("in process: load, read, infer, write", t_lib, n);
        print("ds_infer_model alone", t_inf, n);
    }
    free(t_cli), free(t_lib), free(t_inf);
    ds_ctx_free(ctx);
    return cli_remove_tree(dir) == 0 && ok ? 0 : 1;
}
