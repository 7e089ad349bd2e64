/* bench_cli_startup - start-up time of a CLI module: `--xml` (what Slicer runs when it scans
 * modules without the XML beside them), `--version` (the XML parsed, nothing else), and a no-op
 * run (DualSegEvaluate on two 2x2x2 label maps, return parameter file written), against /bin/true
 * (the cost of fork + exec alone). Prints the median and minimum of N runs (default 20).
 *   build/testing/cli/bench_cli_startup [N] */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli_run.h"
#include "ds_io.h"

static int cmp_double(const void *a, const void *b)
{
    const double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static void bench(const char *what, char *const argv[], int n)
{
    double *t = malloc(sizeof *t * (size_t)n);
    int failed = 0;
    for (int i = 0; t && i < n; ++i) {
        cli_result r;
        cli_run(argv, &r);
        failed += r.code != 0;
        t[i] = r.seconds;
        cli_result_free(&r);
    }
    if (!t)
        return;
    qsort(t, (size_t)n, sizeof *t, cmp_double);
    printf("%-34s median %7.1f ms  min %7.1f ms  (%d runs%s)\n", what, 1e3 * t[n / 2], 1e3 * t[0],
           n, failed ? ", SOME FAILED" : "");
    free(t);
}

int main(int argc, char **argv)
{
    const int n = argc > 1 ? atoi(argv[1]) : 20;
    if (n < 1)
        return 2;
    char dir[] = "/tmp/ds_bench_cli_XXXXXX";
    ds_ctx *ctx = NULL;
    if (!mkdtemp(dir) || ds_ctx_create(&ctx) != DS_OK)
        return 1;
    ds_geometry g;
    ds_geometry_identity(&g, 2, 2, 2);
    ds_volume *v = NULL;
    char pred[128], ref[128], ret[128];
    snprintf(pred, sizeof pred, "%s/p.nrrd", dir);
    snprintf(ref, sizeof ref, "%s/r.nrrd", dir);
    snprintf(ret, sizeof ret, "%s/ret.txt", dir);
    if (ds_volume_create(ctx, &v, &g, DS_VOLUME_LABEL) != DS_OK)
        return 1;
    v->labels[0] = 1;
    if (ds_io_write(ctx, v, pred, 1) != DS_OK || ds_io_write(ctx, v, ref, 1) != DS_OK) {
        fprintf(stderr, "bench_cli_startup: %s\n", ds_ctx_message(ctx));
        return 1;
    }
    char *truth[] = {"/bin/true", NULL};
    char *xml[] = {DS_EVALUATE_EXE, "--xml", NULL};
    char *version[] = {DS_EVALUATE_EXE, "--version", NULL};
    char *noop[] = {DS_EVALUATE_EXE, "--returnparameterfile", ret, "--prediction", pred,
                    "--reference", ref, "--threads", "1", NULL};
    bench("/bin/true (fork + exec)", truth, n);
    bench("DualSegEvaluate --xml", xml, n);
    bench("DualSegEvaluate --version", version, n);
    char *xml_train[] = {DS_TRAIN_EXE, "--xml", NULL}, *xml_segment[] = {DS_SEGMENT_EXE, "--xml", NULL};
    bench("DualSegTrain --xml", xml_train, n);
    bench("DualSegSegment --xml", xml_segment, n);
    bench("DualSegEvaluate no-op run (2x2x2)", noop, n);
    ds_volume_free(v);
    ds_ctx_free(ctx);
    remove(pred), remove(ref), remove(ret), rmdir(dir);
    return 0;
}
