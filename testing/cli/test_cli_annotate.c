/* test_cli_annotate - dualseg_annotate's choices, the simulated annotators of protocol A-H, on a
 * phantom reference. Reference: the rules recomputed here from the reference's voxels:
 *   - even: from the centre-of-mass slice c, each pick maximises the distance to the annotated
 *     slices and to the fences lo - 1 and hi + 1 of the foreground's extent [lo, hi] (ties: the
 *     lower slice);
 *   - random: every pick lies in [lo, hi] and was not annotated; the same seed gives the same
 *     slices, and the revealed label equals the start label plus exactly those slices;
 *   - wrong arguments exit 2; a reference without foreground exits 1 with one line. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli_check.h"
#include "cli_data.h"
#include "cli_run.h"

static char g_tmp[256];
static ds_ctx *g_ctx;

static char *path_in(const char *name)
{
    static char buf[16][512];
    static int next;
    char *p = buf[next++ % 16];
    snprintf(p, 512, "%s/%s", g_tmp, name);
    return p;
}

/* Runs dualseg_annotate with args; the slices of its "revealed:" line into s (their count). */
static int annotate(char **args, int64_t *s, int cap)
{
    char *argv[24] = {DS_ANNOTATE_EXE};
    int n = 1;
    while (*args && n < 23)
        argv[n++] = *args++;
    argv[n] = NULL;
    cli_result r;
    cli_run(argv, &r);
    DS_CHECK_MSG(r.code == 0, "exit %d, stderr '%s'", r.code, r.err);
    int found = 0;
    const char *line = strstr(r.out, "revealed:");
    for (const char *p = line ? line + 9 : ""; *p && *p != '\n' && found < cap;) {
        char *end;
        long v = strtol(p, &end, 10);
        if (end == p)
            break;
        s[found++] = v;
        p = end;
    }
    cli_result_free(&r);
    return found;
}

static void extent(const ds_volume *ref, int64_t *lo, int64_t *hi, int64_t *centre)
{
    const int64_t plane = ref->geom.size[0] * ref->geom.size[1], n = ds_volume_voxels(ref);
    double sum = 0, count = 0;
    *lo = ref->geom.size[2];
    *hi = -1;
    for (int64_t i = 0; i < n; ++i)
        if (ref->labels[i] != 0) {
            const int64_t z = i / plane;
            *lo = z < *lo ? z : *lo;
            *hi = z > *hi ? z : *hi;
            sum += (double)z;
            ++count;
        }
    *centre = (int64_t)(sum / count + 0.5);
}

static void test_even(const ds_volume *ref)
{
    int64_t lo, hi, c, got[4];
    extent(ref, &lo, &hi, &c);
    char *args[] = {"--reference", path_in("ref.nrrd"), "--output", path_in("even.nrrd"),
                    "--choose", "centre", "--count", "4", NULL};
    DS_CHECK(annotate(args, got, 4) == 4);
    DS_CHECK_MSG(got[0] == c, "centre %lld, want %lld", (long long)got[0], (long long)c);
    int done[1024] = {0};
    done[c] = 1;
    for (int k = 1; k < 4; ++k) {
        int64_t best = -1, best_d = -1;
        for (int64_t s = lo; s <= hi; ++s) {
            int64_t d = s - lo + 1 < hi + 1 - s ? s - lo + 1 : hi + 1 - s;
            for (int64_t t = lo; t <= hi; ++t)
                if (done[t] && llabs(t - s) < d)
                    d = llabs(t - s);
            if (!done[s] && d > best_d)
                best_d = d, best = s;
        }
        DS_CHECK_MSG(got[k] == best, "even pick %d: %lld, want %lld (extent %lld..%lld)", k,
                     (long long)got[k], (long long)best, (long long)lo, (long long)hi);
        done[best] = 1;
    }
}

static void test_random(const ds_volume *ref)
{
    int64_t lo, hi, c, a[3], b[3];
    extent(ref, &lo, &hi, &c);
    char *start[] = {"--reference", path_in("ref.nrrd"), "--output", path_in("start.nrrd"),
                     "--choose", "centre", NULL};
    annotate(start, a, 1);
    char *r1[] = {"--reference", path_in("ref.nrrd"), "--partial", path_in("start.nrrd"),
                  "--output", path_in("rand1.nrrd"), "--choose", "random", "--count", "3",
                  "--seed", "42", NULL};
    char *r2[] = {"--reference", path_in("ref.nrrd"), "--partial", path_in("start.nrrd"),
                  "--output", path_in("rand2.nrrd"), "--choose", "random", "--count", "3",
                  "--seed", "42", NULL};
    DS_CHECK(annotate(r1, a, 3) == 3 && annotate(r2, b, 3) == 3);
    DS_CHECK(memcmp(a, b, sizeof a) == 0);
    for (int k = 0; k < 3; ++k)
        DS_CHECK_MSG(a[k] >= lo && a[k] <= hi && a[k] != c, "random pick %lld", (long long)a[k]);
    ds_volume *got = NULL, *before = NULL;
    DS_CHECK_OK(g_ctx, ds_io_read_label(g_ctx, path_in("rand1.nrrd"), &got));
    DS_CHECK_OK(g_ctx, ds_io_read_label(g_ctx, path_in("start.nrrd"), &before));
    if (got && before) {
        const int64_t plane = ref->geom.size[0] * ref->geom.size[1], n = ds_volume_voxels(ref);
        int64_t wrong = 0;
        for (int64_t i = 0; i < n; ++i) {
            const int64_t z = i / plane;
            const int picked = z == a[0] || z == a[1] || z == a[2];
            wrong += got->labels[i] != (picked ? ref->labels[i] : before->labels[i]);
        }
        DS_CHECK_MSG(wrong == 0, "random reveal: %lld voxels wrong", (long long)wrong);
    }
    ds_volume_free(got);
    ds_volume_free(before);
}

static void test_refused(void)
{
    char *none[] = {path_in("refused.nrrd"), NULL};
    char *no_choice[] = {DS_ANNOTATE_EXE, "--reference", path_in("ref.nrrd"), "--output",
                         path_in("refused.nrrd"), NULL};
    cli_expect_refused("neither --slices nor --choose", 2, no_choice, none);
    char *bad[] = {DS_ANNOTATE_EXE, "--reference", path_in("ref.nrrd"), "--output",
                   path_in("refused.nrrd"), "--choose", "best", NULL};
    cli_expect_refused("unknown choice", 2, bad, none);
    char *empty[] = {DS_ANNOTATE_EXE, "--reference", path_in("empty.nrrd"), "--output",
                     path_in("refused.nrrd"), "--choose", "even", NULL};
    cli_expect_refused("no foreground", 1, empty, none);
}

int main(void)
{
    snprintf(g_tmp, sizeof g_tmp, "/tmp/ds_cli_annotate_XXXXXX");
    if (!mkdtemp(g_tmp) || ds_ctx_create(&g_ctx) != DS_OK)
        return 1;
    cli_write_phantom(g_ctx, 2, path_in("img.nrrd"), path_in("ref.nrrd"), 0);
    ds_volume *ref = NULL;
    DS_CHECK_OK(g_ctx, ds_io_read_label(g_ctx, path_in("ref.nrrd"), &ref));
    if (ref) {
        ds_volume *empty = NULL;
        DS_CHECK_OK(g_ctx, ds_volume_create(g_ctx, &empty, &ref->geom, DS_VOLUME_LABEL));
        DS_CHECK_OK(g_ctx, ds_io_write(g_ctx, empty, path_in("empty.nrrd"), 1));
        ds_volume_free(empty);
        test_even(ref);
        test_random(ref);
        test_refused();
    }
    ds_volume_free(ref);
    ds_ctx_free(g_ctx);
    DS_CHECK(cli_remove_tree(g_tmp) == 0);
    return ds_test_finish("test_cli_annotate");
}
