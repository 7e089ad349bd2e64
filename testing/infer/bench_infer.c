/* bench_infer.c - segmenting whole volumes with the pair (ResNet34-V-Net + V-Net, width 16,
 * kaiming weights, one shared scratch), ours against the same sliding window in PyTorch
 * (bench_infer_torch.py) in the same run, each case in its own child process so that its peak
 * memory (ru_maxrss from wait4) is its own:
 *   hippocampus  a Task04 test volume read in place (x, y, z = NIfTI i, j, k; about 35 x 51 x 35),
 *                patch 32 x 48 x 32, K = 3; a warm-up, then the median of 3 runs
 *   la           a 144 x 144 x 88 phantom (the Left Atrium size), patch 112 x 112 x 80, K = 2;
 *                one run
 *   ct           (--ct, ours only) a 512 x 512 x 300 phantom, patch 112 x 112 x 80, K = 2: the
 *                3 GiB target; --ct-stride S (default half the patch; at most the patch) and
 *                --ct-width W (default 16) to shorten it (the accumulators and outputs do not
 *                depend on either)
 *   volume:XxYxZ (--volume XxYxZ, repeatable) a phantom of that size, patch 112 x 112 x 80
 *                (a smaller volume is padded), K = 2: segmentation time against the volume's size
 * --only CASE runs one case (hippocampus, la or ct); --volume cases run with --only volume too.
 * Both sides: Gaussian weighting, half-patch stride, batch 2, no flips, entropy and
 * disagreement computed.
 * --study MODEL (alone): uniform against Gaussian weighting, in process, with a small trained V-Net
 *   (make_study_model.py): 8 phantoms of its family (96 x 96 x 64), 32^3 windows at half
 *   stride; Dice against the phantoms' truth, and agreement with the same network seeing the
 *   whole volume in one window (no window borders at all).
 * Usage: bench_infer [--threads N] [--batch B] [--only CASE] [--ct] [--ct-stride S]
 *                    [--ct-width W] [--no-torch] [--study MODEL] [--hippocampus FILE]
 *                    [--python EXE] [--volume XxYxZ]...
 */
#define _DEFAULT_SOURCE /* wait4: the peak memory of one child */
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "ds_infer.h"
#include "ds_io.h"
#include "ds_threads.h"
#include "ds_cli.h"

#define HIPPOCAMPUS DS_SHARED_DIR "/data/Task04_Hippocampus/imagesTr/hippocampus_007.nii.gz"

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

/* Process CPU time: on a busy machine it moves less than the wall clock (spinning OpenMP
 * threads count in it, so set OMP_WAIT_POLICY=passive when comparing it). */
static double cpu_now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

/* v[0] = the median of v[0..2]. */
static void median3(double v[3])
{
    for (int a = 0; a < 3; ++a)
        for (int b = a + 1; b < 3; ++b)
            if (v[b] < v[a]) {
                const double t = v[a];
                v[a] = v[b];
                v[b] = t;
            }
    v[0] = v[1];
}

static int fail(ds_ctx *ctx, const char *what)
{
    fprintf(stderr, "bench_infer: %s: %s\n", what, ds_ctx_message(ctx));
    return 1;
}

/* bench_infer_torch.py's phantom: an ellipsoid of 500 on 100, with texture. */
static ds_status phantom(ds_ctx *ctx, int64_t nx, int64_t ny, int64_t nz, ds_volume **out)
{
    ds_geometry g;
    ds_geometry_identity(&g, nx, ny, nz);
    ds_status st = ds_volume_create(ctx, out, &g, DS_VOLUME_SCALAR);
    for (int64_t z = 0; st == DS_OK && z < nz; ++z)
        for (int64_t y = 0; y < ny; ++y)
            for (int64_t x = 0; x < nx; ++x) {
                const double rx = (x - nx / 2.0) / (0.3 * nx), ry = (y - ny / 2.0) / (0.25 * ny),
                             rz = (z - nz / 2.0) / (0.3 * nz);
                (*out)->values[x + nx * (y + ny * z)] =
                    (float)(100.0 + 400.0 * (rx * rx + ry * ry + rz * rz < 1.0) +
                            20.0 * sin(0.7 * x) * cos(0.5 * y) * sin(0.3 * z));
            }
    return st;
}

/* The pair with kaiming weights, sharing one scratch (freed by the caller after the model). */
static ds_status make_pair(ds_ctx *ctx, int classes, int width, const int64_t patch[3],
                           ds_model **out, ds_net_scratch **scratch)
{
    ds_model *m = calloc(1, sizeof *m);
    if (!m)
        return ds_fail(ctx, DS_ERR_NOMEM, "no memory");
    *out = m;
    m->meta.classes = classes;
    m->meta.in_channels = 1;
    m->meta.norm_mode = DS_NORM_ZSCORE;
    memcpy(m->meta.patch, patch, sizeof m->meta.patch);
    m->net_count = 2;
    ds_status st = ds_net_scratch_create(ctx, scratch);
    for (int i = 0; i < 2 && st == DS_OK; ++i) {
        ds_rng rng;
        ds_rng_init(&rng, 7, i ? DS_RNG_INIT_B : DS_RNG_INIT_A);
        st = ds_net_create(ctx, &m->net[i], i ? DS_ARCH_VNET : DS_ARCH_RESNET34_VNET, 1, classes,
                           width);
        if (st == DS_OK)
            st = ds_net_init_weights(ctx, m->net[i], &rng);
        if (st == DS_OK)
            ds_net_use_scratch(m->net[i], *scratch);
    }
    return st;
}

static void on_progress(void *user, double fraction, const char *message)
{
    double *next = user;
    if (fraction >= *next) {
        fprintf(stderr, "  %3.0f%% %s\n", 100.0 * fraction, message);
        *next += 0.1;
    }
}

/* "XxYxZ" into size; 0 when it is not three positive numbers. */
static int parse_size(const char *s, int64_t size[3])
{
    long long v[3];
    if (sscanf(s, "%lldx%lldx%lld", &v[0], &v[1], &v[2]) != 3 || v[0] < 1 || v[1] < 1 ||
        v[2] < 1)
        return 0;
    for (int a = 0; a < 3; ++a)
        size[a] = v[a];
    return 1;
}

/* One case in this (child) process: prints "RESULT seconds=.. windows=..". */
static int child(const char *name, const char *hippocampus, int64_t ct_stride, int ct_width,
                 int batch)
{
    ds_ctx *ctx = NULL;
    if (ds_ctx_create(&ctx) != DS_OK)
        return 1;
    const int hip = strcmp(name, "hippocampus") == 0, ct = strcmp(name, "ct") == 0;
    const int64_t patch_hip[3] = {32, 48, 32};
    const int64_t patch_big[3] = {112, 112, 80};
    int64_t size[3] = {144, 144, 88};
    if (strncmp(name, "volume:", 7) == 0)
        parse_size(name + 7, size);
    ds_volume *image = NULL;
    ds_status st = hip ? ds_io_read_image(ctx, hippocampus, &image)
                 : ct  ? phantom(ctx, 512, 512, 300, &image)
                       : phantom(ctx, size[0], size[1], size[2], &image);
    ds_model *m = NULL;
    ds_net_scratch *scratch = NULL;
    if (st == DS_OK)
        st = make_pair(ctx, hip ? 3 : 2, ct ? ct_width : 16, hip ? patch_hip : patch_big, &m,
                       &scratch);
    ds_infer_options o;
    ds_infer_options_init(&o);
    o.batch = batch;
    double next = 0.0;
    if (ct) {
        for (int a = 0; a < 3; ++a) /* at most the patch */
            o.stride[a] = ct_stride < patch_big[a] ? ct_stride : patch_big[a];
        o.progress = on_progress;
        o.progress_user = &next;
    }
    double times[3], cpu[3];
    const int runs = hip ? 3 : 1;
    ds_infer_result r;
    memset(&r, 0, sizeof r);
    for (int i = -hip; i < runs && st == DS_OK; ++i) { /* hippocampus: one warm-up first */
        ds_infer_result_free(&r);
        const double t = now(), c = cpu_now();
        st = ds_infer_model(ctx, m, image, &o, &r);
        if (i >= 0) {
            times[i] = now() - t;
            cpu[i] = cpu_now() - c;
        }
    }
    if (st == DS_OK) {
        if (runs == 3) { /* the medians */
            median3(times);
            median3(cpu);
        }
        printf("RESULT seconds=%.3f cpu_s=%.3f windows=%" PRId64 " size=%" PRId64 "x%" PRId64
               "x%" PRId64 "\n", times[0], cpu[0], r.windows, image->geom.size[0],
               image->geom.size[1], image->geom.size[2]);
    }
    ds_infer_result_free(&r);
    ds_model_free(m);
    ds_net_scratch_free(scratch);
    ds_volume_free(image);
    const int rc = st == DS_OK ? 0 : fail(ctx, name);
    ds_ctx_free(ctx);
    return rc;
}

/* Runs argv in a child; fills its RESULT line and its peak resident memory (MB). */
static int spawn(char *const argv[], char *result, size_t cap, double *peak_mb)
{
    int fd[2];
    if (pipe(fd) != 0)
        return -1;
    fflush(stdout);
    const pid_t pid = fork();
    if (pid == 0) {
        dup2(fd[1], STDOUT_FILENO);
        close(fd[0]);
        close(fd[1]);
        execv(argv[0], argv);
        _exit(127);
    }
    close(fd[1]);
    FILE *f = fdopen(fd[0], "r");
    char line[512];
    result[0] = '\0';
    while (f && fgets(line, sizeof line, f))
        if (strncmp(line, "RESULT ", 7) == 0)
            snprintf(result, cap, "%s", line + 7);
    if (f)
        fclose(f);
    int status = 0;
    struct rusage ru;
    if (pid < 0 || wait4(pid, &status, 0, &ru) != pid)
        return -1;
    *peak_mb = (double)ru.ru_maxrss / 1024.0;
    return WIFEXITED(status) && WEXITSTATUS(status) == 0 && result[0] ? 0 : -1;
}

static double field(const char *result, const char *key)
{
    const char *p = strstr(result, key);
    return p ? atof(p + strlen(key)) : NAN;
}

#define MAX_VOLUMES 8

typedef struct bench_args {
    const char *self, *hippocampus, *python;
    int threads, torch, ct, ct_width, batch;
    const char *study, *only;
    int64_t ct_stride;
    char volumes[MAX_VOLUMES][48]; /* "volume:XxYxZ" */
    int volume_count;
} bench_args;

static void compare(const bench_args *a, const char *name)
{
    char t[16], s[32], w[16], b[16], script[] = DS_TESTING_DIR "/infer/bench_infer_torch.py";
    snprintf(t, sizeof t, "%d", a->threads);
    snprintf(s, sizeof s, "%" PRId64, a->ct_stride);
    snprintf(w, sizeof w, "%d", a->ct_width);
    snprintf(b, sizeof b, "%d", a->batch);
    const int torch = a->torch && strcmp(name, "ct") != 0;
    const char *python = a->python, *hippocampus = a->hippocampus;
    char *ours[] = {(char *)a->self, "--child", (char *)name, (char *)hippocampus, s, w, b, NULL};
    char res[512], tres[512];
    double peak = 0, tpeak = 0;
    if (spawn(ours, res, sizeof res, &peak) != 0) {
        printf("%-12s ours: failed\n", name);
        return;
    }
    res[strcspn(res, "\n")] = '\0';
    printf("%-12s ours    %8.2f s  peak %7.0f MB  (%s)\n", name, field(res, "seconds="), peak, res);
    if (!torch)
        return;
    char *py_hip[] = {(char *)python, script, "hippocampus", (char *)hippocampus, t, b, NULL};
    char *py_la[] = {(char *)python, script, "la", t, b, NULL};
    char *py_volume[] = {(char *)python, script, (char *)name, t, b, NULL};
    char *const *py = strcmp(name, "hippocampus") == 0 ? py_hip
                      : strncmp(name, "volume:", 7) == 0 ? py_volume
                                                         : py_la;
    if (spawn(py, tres, sizeof tres, &tpeak) != 0) {
        printf("%-12s PyTorch: failed\n", name);
        return;
    }
    printf("%-12s PyTorch %8.2f s  peak %7.0f MB   ours / PyTorch = %.2f x time, %.2f x memory"
           " (CPU time %.2f / %.2f s = %.2f x)\n",
           name, field(tres, "seconds="), tpeak, field(res, "seconds=") / field(tres, "seconds="),
           peak / tpeak, field(res, "cpu_s="), field(tres, "cpu_s="),
           field(res, "cpu_s=") / field(tres, "cpu_s="));
}

/* ---- Uniform against Gaussian weighting ---- */

/* make_study_model.py's phantom family on 96 x 96 x 64: 1..3 ellipsoids of 1 on 0, radii 6..16,
 * noise sigma 0.8; mask receives the truth. */
static ds_status study_phantom(ds_ctx *ctx, uint64_t seed, ds_volume **image, uint8_t *mask)
{
    ds_geometry g;
    ds_geometry_identity(&g, 96, 96, 64);
    const ds_status st = ds_volume_create(ctx, image, &g, DS_VOLUME_SCALAR);
    if (st != DS_OK)
        return st;
    ds_rng rng;
    ds_rng_init(&rng, seed, DS_RNG_TEST);
    double c[3][3], r[3][3];
    const int n = 1 + (int)ds_rng_below(&rng, 3);
    for (int e = 0; e < n; ++e)
        for (int a = 0; a < 3; ++a) {
            c[e][a] = (0.2 + 0.6 * ds_rng_uniform(&rng)) * (double)g.size[a];
            r[e][a] = 6.0 + 10.0 * ds_rng_uniform(&rng);
        }
    for (int64_t i = 0, z = 0; z < 64; ++z)
        for (int64_t y = 0; y < 96; ++y)
            for (int64_t x = 0; x < 96; ++x, ++i) {
                const double p[3] = {(double)x, (double)y, (double)z};
                mask[i] = 0;
                for (int e = 0; e < n; ++e) {
                    double q = 0.0;
                    for (int a = 0; a < 3; ++a)
                        q += (p[a] - c[e][a]) * (p[a] - c[e][a]) / (r[e][a] * r[e][a]);
                    mask[i] |= q < 1.0;
                }
                (*image)->values[i] = (float)mask[i] + 0.8f * ds_rng_normal(&rng);
            }
    return DS_OK;
}

typedef struct study_score {
    double dice_sum, agree_sum, prob_err_sum;
} study_score;

static void score(study_score *s, const ds_infer_result *r, const ds_infer_result *whole,
                  const uint8_t *mask)
{
    const int64_t n = ds_volume_voxels(r->label);
    int64_t inter = 0, a = 0, b = 0, agree = 0;
    double err = 0.0;
    for (int64_t i = 0; i < n; ++i) {
        const int x = r->label->labels[i] == 1;
        inter += x && mask[i];
        a += x;
        b += mask[i];
        agree += r->label->labels[i] == whole->label->labels[i];
        err += fabs(r->probability[1]->values[i] - whole->probability[1]->values[i]);
    }
    s->dice_sum += a + b ? 2.0 * (double)inter / (double)(a + b) : 1.0;
    s->agree_sum += (double)agree / (double)n;
    s->prob_err_sum += err / (double)n;
}

static ds_status study_case(ds_ctx *ctx, ds_net *net, uint64_t seed, study_score s[3])
{
    ds_volume *image = NULL;
    uint8_t *mask = malloc(96 * 96 * 64);
    ds_infer_result r[3];
    memset(r, 0, sizeof r);
    ds_status st = mask ? study_phantom(ctx, seed, &image, mask) : DS_ERR_NOMEM;
    ds_infer_options o;
    ds_infer_options_init(&o);
    o.probabilities = 1;
    for (int k = 0; k < 3 && st == DS_OK; ++k) { /* whole volume, uniform, Gaussian */
        const int64_t whole[3] = {96, 96, 64}, patch[3] = {32, 32, 32};
        memcpy(o.patch, k ? patch : whole, sizeof o.patch);
        memcpy(o.stride, k ? (const int64_t[3]){0, 0, 0} : whole, sizeof o.stride);
        o.weighting = k == 1 ? DS_INFER_WEIGHT_UNIFORM : DS_INFER_WEIGHT_GAUSSIAN;
        st = ds_infer_volume(ctx, &net, 1, image, &o, &r[k]);
    }
    for (int k = 0; k < 3 && st == DS_OK; ++k)
        score(&s[k], &r[k], &r[0], mask);
    for (int k = 0; k < 3; ++k)
        ds_infer_result_free(&r[k]);
    ds_volume_free(image);
    free(mask);
    return st;
}

static int study(const char *model_path)
{
    ds_ctx *ctx = NULL;
    if (ds_ctx_create(&ctx) != DS_OK)
        return 1;
    ds_threads_set(ctx, 0);
    ds_model *m = NULL;
    ds_status st = ds_model_load(ctx, &m, model_path);
    study_score s[3];
    memset(s, 0, sizeof s);
    const int cases = 8;
    for (int c = 0; c < cases && st == DS_OK; ++c)
        st = study_case(ctx, m->net[0], 100 + (uint64_t)c, s);
    if (st == DS_OK) {
        static const char *names[3] = {"one window", "uniform", "gaussian"};
        printf("weighting study: %s, %d phantoms 96x96x64 (noise 0.8), 32^3 windows, half stride\n",
               model_path, cases);
        for (int k = 0; k < 3; ++k)
            printf("  %-10s Dice vs truth %.4f   label agreement with one window %.4f   "
                   "mean |p - p_one window| %.4f\n", names[k], s[k].dice_sum / cases,
                   s[k].agree_sum / cases, s[k].prob_err_sum / cases);
    }
    ds_model_free(m);
    const int rc = st == DS_OK ? 0 : fail(ctx, "study");
    ds_ctx_free(ctx);
    return rc;
}

int main(int argc, char **argv)
{
    /* the kernels the modules run with (ds_cli.h), said on stderr beside the figures */
    ds_cli_correct_blas_core(argv);
    fprintf(stderr, "OpenBLAS kernels: %s\n", ds_blas_core());
    bench_args a = {argv[0], HIPPOCAMPUS, "/usr/bin/python3", 2, 1, 0, 16, 2, NULL, NULL, 0,
                    {{0}}, 0};
    if (argc == 7 && strcmp(argv[1], "--child") == 0)
        return child(argv[2], argv[3], atoll(argv[4]), atoi(argv[5]), atoi(argv[6]));
    for (int i = 1; i < argc; ++i) {
        const int more = i + 1 < argc;
        if (strcmp(argv[i], "--threads") == 0 && more)
            a.threads = atoi(argv[++i]);
        else if (strcmp(argv[i], "--ct") == 0)
            a.ct = 1;
        else if (strcmp(argv[i], "--ct-stride") == 0 && more)
            a.ct_stride = atoll(argv[++i]);
        else if (strcmp(argv[i], "--ct-width") == 0 && more)
            a.ct_width = atoi(argv[++i]);
        else if (strcmp(argv[i], "--batch") == 0 && more)
            a.batch = atoi(argv[++i]);
        else if (strcmp(argv[i], "--only") == 0 && more)
            a.only = argv[++i];
        else if (strcmp(argv[i], "--no-torch") == 0)
            a.torch = 0;
        else if (strcmp(argv[i], "--study") == 0 && more)
            a.study = argv[++i];
        else if (strcmp(argv[i], "--hippocampus") == 0 && more)
            a.hippocampus = argv[++i];
        else if (strcmp(argv[i], "--python") == 0 && more)
            a.python = argv[++i];
        else if (strcmp(argv[i], "--volume") == 0 && more && a.volume_count < MAX_VOLUMES &&
                 parse_size(argv[i + 1], (int64_t[3]){0, 0, 0}))
            snprintf(a.volumes[a.volume_count++], sizeof a.volumes[0], "volume:%s", argv[++i]);
        else {
            fprintf(stderr, "usage: bench_infer [--threads N] [--batch B] [--only CASE] [--ct] "
                            "[--ct-stride S] [--ct-width W] [--no-torch] [--study MODEL] "
                            "[--hippocampus FILE] [--python EXE] [--volume XxYxZ]...\n");
            return 2;
        }
    }
    char env[32];
    snprintf(env, sizeof env, "%d", a.threads);
    setenv("DS_NUM_THREADS", env, 1); /* the children's thread count */
    setenv("OMP_NUM_THREADS", env, 1);
    if (a.study) /* the study alone */
        return study(a.study);
    printf("bench_infer: %d threads, pair width 16, Gaussian, half stride, batch %d, no flips\n",
           a.threads, a.batch);
    static const char *cases[3] = {"hippocampus", "la", "ct"};
    for (int c = 0; c < 3; ++c)
        if ((c < 2 || a.ct) && (!a.only || strcmp(a.only, cases[c]) == 0))
            compare(&a, cases[c]);
    for (int v = 0; v < a.volume_count; ++v)
        if (!a.only || strcmp(a.only, "volume") == 0)
            compare(&a, a.volumes[v]);
    return 0;
}
