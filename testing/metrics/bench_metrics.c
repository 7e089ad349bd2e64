/* bench_metrics.c - all metrics of one class on a 256^3 pair of overlapping bumpy blobs (spacing
 * 0.7 x 0.7 x 1.0 mm), with 1 and 2 threads, and the full-volume distance transform alone; then,
 * when /usr/bin/python3 has scipy, the same metrics by medpy's definitions with scipy
 * (bench_metrics_scipy.py) in the same run, for time and agreement.
 * Run: build-<dir>/testing/metrics/bench_metrics [size] */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "ds_metrics.h"
#include "ds_threads.h"

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* A ball of radius r around c with a bumpy surface. */
static void blob(uint8_t *m, int n, double cx, double cy, double cz, double r, double phase)
{
    for (int z = 0; z < n; ++z)
        for (int y = 0; y < n; ++y)
            for (int x = 0; x < n; ++x) {
                const double dx = x - cx, dy = y - cy, dz = z - cz;
                const double bump = 1.0 + 0.12 * sin(x / 7.0 + phase) * sin(y / 9.0) *
                                              sin(z / 11.0 - phase);
                m[x + (size_t)n * (y + (size_t)n * z)] =
                    dx * dx + dy * dy + dz * dz < r * r * bump * bump;
            }
}

static int write_raw(const char *path, const uint8_t *m, size_t n)
{
    FILE *f = fopen(path, "wb");
    if (!f)
        return 0;
    const int ok = fwrite(m, 1, n, f) == n;
    return fclose(f) == 0 && ok;
}

int main(int argc, char **argv)
{
    const int n = argc > 1 ? atoi(argv[1]) : 256;
    if (n < 8 || n > 1024) {
        fprintf(stderr, "size %d outside 8..1024\n", n);
        return 2;
    }
    const size_t voxels = (size_t)n * n * n;
    const int64_t size[3] = {n, n, n};
    const double sp[3] = {0.7, 0.7, 1.0};
    uint8_t *pred = malloc(voxels), *ref = malloc(voxels);
    double *dist = malloc(voxels * sizeof *dist);
    ds_ctx *ctx = NULL;
    if (!pred || !ref || !dist || ds_ctx_create(&ctx) != DS_OK) {
        fprintf(stderr, "out of memory\n");
        return 1;
    }
    blob(ref, n, 0.50 * n, 0.50 * n, 0.50 * n, 0.31 * n, 0.0);
    blob(pred, n, 0.53 * n, 0.48 * n, 0.51 * n, 0.30 * n, 0.4);

    ds_metrics_result r = {0};
    printf("bench_metrics: %d^3 voxels, spacing %.2f x %.2f x %.2f mm, one class\n", n, sp[0],
           sp[1], sp[2]);
    for (int threads = 1; threads <= 2; ++threads) {
        if (ds_threads_set(ctx, threads) != DS_OK)
            return 1;
        double best = 1e30, best_edt = 1e30;
        for (int rep = 0; rep < 3; ++rep) {
            double t0 = now();
            if (ds_metrics_binary(ctx, pred, ref, size, sp, NULL, &r) != DS_OK) {
                fprintf(stderr, "%s\n", ds_ctx_message(ctx));
                return 1;
            }
            double t1 = now();
            best = t1 - t0 < best ? t1 - t0 : best;
            t0 = now();
            if (ds_metrics_edt(ctx, ref, size, sp, dist) != DS_OK)
                return 1;
            t1 = now();
            best_edt = t1 - t0 < best_edt ? t1 - t0 : best_edt;
        }
        printf("  %d thread%s: all metrics %.3f s (best of 3); full-volume EDT alone %.3f s\n",
               threads, threads > 1 ? "s" : "", best, best_edt);
    }
    printf("  DualSeg: dice %.9f jaccard %.9f hd95 %.9f asd %.9f assd %.9f hd %.9f mm\n",
           r.value[DS_METRIC_DICE], r.value[DS_METRIC_JACCARD], r.value[DS_METRIC_HD95],
           r.value[DS_METRIC_ASD], r.value[DS_METRIC_ASSD], r.value[DS_METRIC_HD]);
    printf("  |P| %lld |R| %lld, surfaces %lld / %lld voxels\n", (long long)r.pred_voxels,
           (long long)r.ref_voxels, (long long)r.pred_surface, (long long)r.ref_surface);

    if (system("/usr/bin/python3 -c 'import scipy' >/dev/null 2>&1") != 0) {
        printf("  scipy: not available (/usr/bin/python3 without scipy), comparison skipped\n");
    } else {
        char pp[64], rp[64], cmd[1024];
        snprintf(pp, sizeof pp, "bench_metrics_pred_%ld.raw", (long)getpid());
        snprintf(rp, sizeof rp, "bench_metrics_ref_%ld.raw", (long)getpid());
        if (write_raw(pp, pred, voxels) && write_raw(rp, ref, voxels)) {
            snprintf(cmd, sizeof cmd, "/usr/bin/python3 %s/metrics/bench_metrics_scipy.py %s %s "
                     "%d %d %d %.17g %.17g %.17g", DS_TESTING_DIR, pp, rp, n, n, n, sp[0], sp[1],
                     sp[2]);
            FILE *p = popen(cmd, "r");
            double t = 0, v[6] = {0};
            const int got = p ? fscanf(p, "%lf %lf %lf %lf %lf %lf %lf", &t, &v[0], &v[1], &v[2],
                                       &v[3], &v[4], &v[5]) : 0;
            if (p)
                pclose(p);
            if (got == 7) {
                const ds_metric order[6] = {DS_METRIC_DICE, DS_METRIC_JACCARD, DS_METRIC_HD95,
                                            DS_METRIC_ASD,  DS_METRIC_ASSD,    DS_METRIC_HD};
                double worst = 0.0;
                for (int i = 0; i < 6; ++i) {
                    const double e = fabs(r.value[order[i]] - v[i]) / (fabs(v[i]) > 0 ? fabs(v[i]) : 1);
                    worst = e > worst ? e : worst;
                }
                printf("  scipy (medpy's definitions, 1 thread): %.3f s; dice %.9f hd95 %.9f asd "
                       "%.9f; largest relative difference to DualSeg %.2e\n", t, v[0], v[2], v[3],
                       worst);
            } else {
                printf("  scipy: the script failed, comparison skipped\n");
            }
        }
        remove(pp);
        remove(rp);
    }
    free(pred);
    free(ref);
    free(dist);
    ds_ctx_free(ctx);
    return 0;
}
