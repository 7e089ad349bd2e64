/* explore_phantom.c - the dual method against the supervised-only baseline on phantoms, over
 * several seeds, to choose test_train_phantom's configuration from measurements (its comment
 * holds the table). Each seed changes both the phantom cohort and the trainer's seed
 * (phantom_study_seed). One thread, so runs are comparable to the test's.
 *
 * usage: explore_phantom [key=value ...] with keys seeds (5), iters (300), labelled (1),
 *        unlabelled (10), held (6), slices (0), shift (0), width (4), lr (0.05), noise (0.9),
 *        patch (16), first (0: the first seed offset); and the word classaware for the
 *        class-aware entropy mask
 * prints one line per seed (dual, supervised, gain) and the gain's mean and standard deviation. */
#include "phantom_study.h"

#include "ds_test.h"
#include "ds_threads.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int parse(phantom_study *s, int *seeds, int *first, const char *arg)
{
    const char *eq = strchr(arg, '=');
    if (!eq)
        return 0;
    size_t n = (size_t)(eq - arg);
    double v = atof(eq + 1);
    struct { const char *key; int *i; float *f; int64_t *l; } keys[] = {
        {"seeds", seeds, NULL, NULL},         {"first", first, NULL, NULL},
        {"labelled", &s->labelled, NULL, NULL}, {"unlabelled", &s->unlabelled, NULL, NULL},
        {"held", &s->held_out, NULL, NULL},   {"slices", &s->slices, NULL, NULL},
        {"width", &s->width, NULL, NULL},     {"patch", &s->patch, NULL, NULL},
        {"shift", NULL, &s->shift, NULL},     {"lr", NULL, &s->lr, NULL},
        {"noise", NULL, &s->noise, NULL},     {"iters", NULL, NULL, &s->iterations},
    };
    for (size_t k = 0; k < sizeof keys / sizeof keys[0]; ++k)
        if (strlen(keys[k].key) == n && strncmp(arg, keys[k].key, n) == 0) {
            if (keys[k].i)
                *keys[k].i = (int)v;
            else if (keys[k].f)
                *keys[k].f = (float)v;
            else
                *keys[k].l = (int64_t)v;
            return 1;
        }
    return 0;
}

int main(int argc, char **argv)
{
    phantom_study s;
    phantom_study_init(&s);
    int seeds = 5, first = 0;
    for (int i = 1; i < argc; ++i)
        if (strcmp(argv[i], "classaware") == 0)
            s.mask = DS_ENTROPY_MASK_CLASS_AWARE;
        else if (!parse(&s, &seeds, &first, argv[i])) {
            fprintf(stderr, "explore_phantom: unknown argument '%s'\n", argv[i]);
            return 2;
        }
    ds_ctx *ctx = NULL;
    ds_ctx_create(&ctx);
    ds_threads_set(ctx, 1);
    printf("# iters %lld labelled %d unlabelled %d held %d slices %d shift %.2f width %d lr %.3f "
           "noise %.2f patch %d mask %d\n", (long long)s.iterations, s.labelled, s.unlabelled,
           s.held_out, s.slices, s.shift, s.width, s.lr, s.noise, s.patch, (int)s.mask);
    double sum = 0, sum2 = 0, dsum = 0;
    for (int k = first; k < first + seeds; ++k) {
        phantom_result dual, sup;
        phantom_study_seed(ctx, &s, k, &dual, &sup);
        double gain = dual.mean - sup.mean;
        sum += gain;
        sum2 += gain * gain;
        dsum += dual.mean;
        printf("seed %d: dual %.4f supervised %.4f gain %+.4f (kept %.2f fg %.2f; "
               "cpu %.0f s + %.0f s)\n", k, dual.mean, sup.mean, gain, dual.kept_fraction,
               dual.kept_foreground, dual.cpu_seconds, sup.cpu_seconds);
        fflush(stdout);
    }
    double mean = sum / seeds;
    double sd = seeds > 1 ? sqrt((sum2 - seeds * mean * mean) / (seeds - 1)) : 0;
    printf("gain mean %+.4f sd %.4f over %d seeds; dual mean %.4f\n", mean, sd, seeds,
           dsum / seeds);
    ds_ctx_free(ctx);
    return ds_test_failed != 0;
}
