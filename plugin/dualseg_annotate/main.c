/* dualseg_annotate - the simulated annotator of the annotator-in-the-loop: reveals whole slices of
 * a reference label in a partial label (every other voxel keeps its value; unknown voxels hold
 * the ignore label), the slices given, or chosen as an annotator without the model would choose
 * them: the slice through the reference foreground's centre of mass (the first slice), evenly
 * spaced (the unannotated slice of the foreground's extent farthest from every annotated slice
 * and from the ends of the extent), or random (seeded, uniform over the extent's unannotated
 * slices). Without --partial it starts from nothing annotated. Prints "revealed: i j ..." (the
 * slices, in order) and the number of voxels revealed.
 *
 * Usage: dualseg_annotate --reference R --output O [--partial P] [--axis 0|1|2] [--ignore L]
 *                         (--slices i,j,... | --choose centre|even|random [--count N] [--seed S])
 * Exit status: 0 done, 1 a failure (one line on stderr), 2 bad arguments.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ds_io.h"
#include "ds_rng.h"

#define MAX_SLICES 256

typedef enum choice { CHOOSE_GIVEN, CHOOSE_CENTRE, CHOOSE_EVEN, CHOOSE_RANDOM } choice;

typedef struct annotate_args {
    const char *reference, *output, *partial;
    int axis, ignore, count;
    unsigned long long seed;
    choice how;
    int64_t slices[MAX_SLICES];
    int slice_count;
} annotate_args;

static const char *const usage =
    "usage: dualseg_annotate --reference R --output O [--partial P] [--axis 0|1|2] [--ignore L]\n"
    "                        (--slices i,j,... | --choose centre|even|random [--count N]"
    " [--seed S])\n";

/* A whole non-negative number within [lo, hi], or -1. */
static long long number(const char *s, long long lo, long long hi)
{
    char *end = NULL;
    long long v = strtoll(s, &end, 10);
    return end != s && !*end && v >= lo && v <= hi ? v : -1;
}

static int parse_slices(const char *s, annotate_args *a)
{
    char buf[4096];
    snprintf(buf, sizeof buf, "%s", s);
    for (char *tok = strtok(buf, ","); tok; tok = strtok(NULL, ",")) {
        long long v = number(tok, 0, 1 << 30);
        if (v < 0 || a->slice_count >= MAX_SLICES)
            return 0;
        a->slices[a->slice_count++] = v;
    }
    return a->slice_count > 0;
}

static int parse_value(annotate_args *a, const char *flag, const char *v)
{
    static const char *const how[] = {"centre", "even", "random"};
    if (strcmp(flag, "--reference") == 0)
        return a->reference = v, 1;
    if (strcmp(flag, "--output") == 0)
        return a->output = v, 1;
    if (strcmp(flag, "--partial") == 0)
        return a->partial = v, 1;
    if (strcmp(flag, "--axis") == 0)
        return (a->axis = (int)number(v, 0, 2)) >= 0;
    if (strcmp(flag, "--ignore") == 0)
        return (a->ignore = (int)number(v, 0, 65535)) >= 0;
    if (strcmp(flag, "--count") == 0)
        return (a->count = (int)number(v, 1, MAX_SLICES)) >= 0;
    if (strcmp(flag, "--seed") == 0) {
        long long s = number(v, 0, (1LL << 62));
        return s >= 0 ? (a->seed = (unsigned long long)s, 1) : 0;
    }
    if (strcmp(flag, "--slices") == 0)
        return parse_slices(v, a);
    if (strcmp(flag, "--choose") == 0)
        for (int k = 0; k < 3; ++k)
            if (strcmp(v, how[k]) == 0)
                return a->how = (choice)(CHOOSE_CENTRE + k), 1;
    return 0;
}

static int parse_args(int argc, char **argv, annotate_args *a)
{
    *a = (annotate_args){.axis = 2, .ignore = DS_IGNORE_LABEL_DEFAULT, .count = 1};
    if (argc < 2) {
        fputs(usage, stderr);
        return 0;
    }
    /* one line on a mistake, as the modules do (a script shows it whole) */
    for (int i = 1; i < argc; i += 2)
        if (i + 1 >= argc || !parse_value(a, argv[i], argv[i + 1])) {
            fprintf(stderr, "dualseg_annotate: bad argument '%s%s%s' (no arguments: usage)\n",
                    argv[i], i + 1 < argc ? " " : "", i + 1 < argc ? argv[i + 1] : "");
            return 0;
        }
    if (!a->reference || !a->output || (a->how == CHOOSE_GIVEN) == (a->slice_count == 0)) {
        fprintf(stderr, "dualseg_annotate: give --reference, --output and either --slices or "
                        "--choose (no arguments: usage)\n");
        return 0;
    }
    return 1;
}

/* The foreground's extent [*lo, *hi] along axis and the slice through its centre of mass;
 * DS_ERR_ARG when the reference has no foreground. */
static ds_status extent(ds_ctx *ctx, const ds_volume *ref, const char *what, int axis,
                        int ignore, int64_t *lo, int64_t *hi, int64_t *centre)
{
    const int64_t *n = ref->geom.size;
    double sum = 0;
    int64_t count = 0, o = 0;
    *lo = n[axis];
    *hi = -1;
    for (int64_t k = 0; k < n[2]; ++k)
        for (int64_t j = 0; j < n[1]; ++j)
            for (int64_t i = 0; i < n[0]; ++i, ++o) {
                const int l = ref->labels[o];
                const int64_t at = axis == 0 ? i : axis == 1 ? j : k;
                if (l == 0 || l == ignore)
                    continue;
                *lo = at < *lo ? at : *lo;
                *hi = at > *hi ? at : *hi;
                sum += (double)at;
                ++count;
            }
    if (count == 0)
        return ds_fail(ctx, DS_ERR_ARG, "%s: the reference has no foreground to annotate",
                       what);
    *centre = (int64_t)(sum / (double)count + 0.5);
    return DS_OK;
}

/* Evenly spaced: the unannotated slice of [lo, hi] whose distance to the nearest annotated slice
 * or to the fences lo - 1 and hi + 1 is largest (ties: the lower slice); -1 when none is left. */
static int64_t farthest(const uint8_t *done, int64_t len, int64_t lo, int64_t hi)
{
    int64_t best = -1, best_d = -1;
    for (int64_t s = lo; s <= hi; ++s) {
        if (done[s])
            continue;
        int64_t d = s - (lo - 1) < hi + 1 - s ? s - (lo - 1) : hi + 1 - s;
        for (int64_t t = 0; t < len; ++t)
            if (done[t] && llabs(t - s) < d)
                d = llabs(t - s);
        if (d > best_d) {
            best_d = d;
            best = s;
        }
    }
    return best;
}

/* The r-th unannotated slice of [lo, hi], r uniform; -1 when none is left. */
static int64_t random_slice(const uint8_t *done, int64_t lo, int64_t hi, ds_rng *rng)
{
    uint32_t free_count = 0;
    for (int64_t s = lo; s <= hi; ++s)
        free_count += !done[s];
    if (free_count == 0)
        return -1;
    uint32_t r = ds_rng_below(rng, free_count);
    for (int64_t s = lo; s <= hi; ++s)
        if (!done[s] && r-- == 0)
            return s;
    return -1;
}

/* Chooses a->count slices (fewer when the extent runs out) into a->slices. */
static ds_status choose(ds_ctx *ctx, annotate_args *a, const ds_volume *partial,
                        const ds_volume *ref)
{
    const int64_t len = ref->geom.size[a->axis];
    int64_t lo = 0, hi = -1, centre = 0;
    DS_TRY(extent(ctx, ref, a->reference, a->axis, a->ignore, &lo, &hi, &centre));
    uint8_t *done = malloc((size_t)len);
    if (!done)
        return ds_fail(ctx, DS_ERR_NOMEM, "out of memory");
    ds_status st = ds_label_annotated_slices(ctx, partial, a->axis, a->ignore, done, NULL);
    ds_rng rng;
    ds_rng_init(&rng, a->seed, DS_RNG_ANNOTATOR);
    for (int c = 0; st == DS_OK && c < a->count; ++c) {
        int64_t s = a->how == CHOOSE_EVEN ? farthest(done, len, lo, hi)
                  : a->how == CHOOSE_RANDOM ? random_slice(done, lo, hi, &rng)
                  : c == 0 && !done[centre] ? centre : farthest(done, len, lo, hi);
        if (s < 0)
            break;
        done[s] = 1;
        a->slices[a->slice_count++] = s;
    }
    free(done);
    return st;
}

static ds_status run(ds_ctx *ctx, annotate_args *a)
{
    ds_volume *ref = NULL, *partial = NULL;
    int64_t revealed = 0;
    ds_status st = ds_io_read_label(ctx, a->reference, &ref);
    if (st == DS_OK && a->partial)
        st = ds_io_read_label(ctx, a->partial, &partial);
    else if (st == DS_OK && (st = ds_volume_clone(ctx, &partial, ref)) == DS_OK)
        for (int64_t i = 0, n = ds_volume_voxels(partial); i < n; ++i)
            partial->labels[i] = (uint16_t)a->ignore;
    if (st == DS_OK && a->how != CHOOSE_GIVEN)
        st = choose(ctx, a, partial, ref);
    for (int i = 0; st == DS_OK && i < a->slice_count; ++i) {
        int64_t changed = 0;
        st = ds_label_reveal_slice(ctx, partial, ref, a->axis, a->slices[i], a->ignore, &changed);
        revealed += changed;
    }
    if (st == DS_OK)
        st = ds_io_write(ctx, partial, a->output, 1);
    if (st == DS_OK) {
        printf("revealed:");
        for (int i = 0; i < a->slice_count; ++i)
            printf(" %lld", (long long)a->slices[i]);
        printf("%s\nvoxels: %lld\n", a->slice_count ? "" : " none (no slice left)",
               (long long)revealed);
    }
    ds_volume_free(ref);
    ds_volume_free(partial);
    return st;
}

int main(int argc, char **argv)
{
    annotate_args a;
    if (!parse_args(argc, argv, &a))
        return 2;
    ds_ctx *ctx = NULL;
    if (ds_ctx_create(&ctx) != DS_OK) {
        fprintf(stderr, "dualseg_annotate: out of memory\n");
        return 1;
    }
    ds_status st = run(ctx, &a);
    if (st != DS_OK)
        fprintf(stderr, "dualseg_annotate: %s\n", ds_ctx_message(ctx));
    ds_ctx_free(ctx);
    return st == DS_OK ? 0 : 1;
}
