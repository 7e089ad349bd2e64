/* bench_cohort_load.c - loads and z-score normalises every pair of the Hippocampus cohort (read in
 * place from the shared folder), and prints the wall time, per case, and the peak resident memory
 * (getrusage ru_maxrss). Also times the read alone (no validation / normalisation) in the same
 * run, for comparison. Usage: bench_cohort_load [cohort_dir] [repeats] */
#include <stdio.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <time.h>

#include "ds_cohort.h"
#include "ds_io.h"

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

int main(int argc, char **argv)
{
    const char *dir = argc > 1 ? argv[1] : DS_SHARED_DIR "/data/Task04_Hippocampus";
    int repeats = argc > 2 ? atoi(argv[2]) : 3;
    if (repeats < 1)
        repeats = 1;
    ds_ctx *ctx = NULL;
    ds_ctx_create(&ctx);
    double t0 = now();
    ds_cohort *c = NULL;
    if (ds_cohort_open(ctx, dir, &c) != DS_OK) {
        fprintf(stderr, "bench_cohort_load: %s\n", ds_ctx_message(ctx));
        return 1;
    }
    double t_open = now() - t0;
    ds_load_options o;
    ds_load_options_default(&o);
    o.num_classes = 3;
    /* everything kept in memory, as the trainer does */
    ds_sample *s = calloc((size_t)c->count, sizeof *s);
    double best_load = 1e30, best_read = 1e30;
    int64_t voxels = 0;
    for (int r = 0; r < repeats; ++r) {
        double t = now();
        voxels = 0;
        for (int i = 0; i < c->count; ++i) {
            ds_sample_free(&s[i]);
            if (ds_cohort_load_case(ctx, c, i, &o, &s[i]) != DS_OK) {
                fprintf(stderr, "bench_cohort_load: %s\n", ds_ctx_message(ctx));
                return 1;
            }
            voxels += ds_volume_voxels(s[i].image);
        }
        double dt = now() - t;
        best_load = dt < best_load ? dt : best_load;
        t = now();
        for (int i = 0; i < c->count; ++i) {
            ds_volume *a = NULL, *b = NULL;
            if (ds_io_read_image(ctx, c->cases[i].image_path, &a) != DS_OK ||
                ds_io_read_label(ctx, c->cases[i].label_path, &b) != DS_OK) {
                fprintf(stderr, "bench_cohort_load: %s\n", ds_ctx_message(ctx));
                return 1;
            }
            ds_volume_free(a);
            ds_volume_free(b);
        }
        dt = now() - t;
        best_read = dt < best_read ? dt : best_read;
    }
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    printf("cohort %s: %d cases (%d labelled), %lld image voxels in total\n", dir, c->count,
           c->labelled, (long long)voxels);
    printf("open (list + checks):              %8.3f s\n", t_open);
    printf("load + validate + z-score, all:    %8.3f s  (%.2f ms per pair, best of %d)\n",
           best_load, 1e3 * best_load / c->count, repeats);
    printf("read image + label only, all:      %8.3f s  (%.2f ms per pair, best of %d)\n",
           best_read, 1e3 * best_read / c->count, repeats);
    printf("peak resident memory (ru_maxrss):  %8.1f MiB (all %d samples held)\n",
           (double)ru.ru_maxrss / 1024.0, c->count);
    for (int i = 0; i < c->count; ++i)
        ds_sample_free(&s[i]);
    free(s);
    ds_cohort_free(c);
    ds_ctx_free(ctx);
    return 0;
}
