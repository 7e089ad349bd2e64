/* dualseg_make_demo - writes the synthetic demo cohort: 3-D phantoms with K = 3 (a structure
 * with a brighter core, ds_phantom.h; --core sets its size and brightness) of varying shape,
 * contrast, noise and bias, in the Medical Segmentation Decathlon layout with NRRD files,
 * so that it is also a worked example of the input format:
 *   dataset.json  "training": labelled cases (image + label) then unlabelled ones (label null),
 *                 "test": the held-out images
 *   imagesTr/ labelsTr/  training images; labels annotated on every `every`-th axial slice only,
 *                 the other slices hold the ignore label 255 (METHOD.md section 4)
 *   imagesTs/ labelsTs/  held-out images and their full reference labels (for evaluation)
 * Everything follows from the seed: the same seed writes the same bytes.
 *
 * Usage: dualseg_make_demo OUT_DIR [--seed S] [--labelled N] [--unlabelled N] [--test N]
 *                                  [--size X Y Z] [--every N] [--core SCALE CONTRAST]
 *   --core: the core's semi-axes as a fraction of its blob's (0.5) and its brightness as a
 *   multiple of the structure's contrast (1.6), ds_phantom_options' core_scale / core_contrast.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "ds_atomic_file.h"
#include "ds_io.h"
#include "ds_phantom.h"

typedef struct demo_options {
    const char *out;
    unsigned long long seed;
    int labelled, unlabelled, test, every;
    int64_t size[3];
    double core_scale, core_contrast;
} demo_options;

static int parse_int(const char *s, long lo, long hi, long *out)
{
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || end == s || *end || v < lo || v > hi)
        return 0;
    *out = v;
    return 1;
}

static int parse_args(int argc, char **argv, demo_options *o)
{
    *o = (demo_options){NULL, 1, 4, 12, 4, 3, {48, 48, 32}, 0.5, 1.6};
    for (int i = 1; i < argc; ++i) {
        const char *a = argv[i];
        long v[3];
        int ok = 1;
        char *end = NULL;
        if (strcmp(a, "--seed") == 0 && i + 1 < argc) {
            o->seed = strtoull(argv[++i], &end, 10);
            ok = end != argv[i] && *end == '\0' && argv[i][0] != '-';
        }
        else if (strcmp(a, "--labelled") == 0 && i + 1 < argc &&
                 (ok = parse_int(argv[++i], 1, 999, v)))
            o->labelled = (int)v[0];
        else if (strcmp(a, "--unlabelled") == 0 && i + 1 < argc &&
                 (ok = parse_int(argv[++i], 0, 9999, v)))
            o->unlabelled = (int)v[0];
        else if (strcmp(a, "--test") == 0 && i + 1 < argc && (ok = parse_int(argv[++i], 1, 999, v)))
            o->test = (int)v[0];
        else if (strcmp(a, "--every") == 0 && i + 1 < argc && (ok = parse_int(argv[++i], 1, 64, v)))
            o->every = (int)v[0];
        else if (strcmp(a, "--size") == 0 && i + 3 < argc) {
            for (int k = 0; k < 3 && ok; ++k)
                ok = parse_int(argv[++i], 16, 512, &v[k]);
            for (int k = 0; k < 3 && ok; ++k)
                o->size[k] = v[k];
        } else if (strcmp(a, "--core") == 0 && i + 2 < argc) {
            o->core_scale = strtod(argv[++i], &end);
            ok = *end == '\0' && o->core_scale > 0 && o->core_scale < 1;
            o->core_contrast = strtod(argv[++i], &end);
            ok = ok && *end == '\0' && o->core_contrast > 0 && o->core_contrast <= 100;
        } else if (a[0] != '-' && a[0] && !o->out)
            o->out = a;
        else
            ok = 0;
        if (!ok) {
            fprintf(stderr, "dualseg_make_demo: bad argument near '%s'\n", a);
            return 0;
        }
    }
    if (!o->out)
        fprintf(stderr, "usage: dualseg_make_demo OUT_DIR [--seed S] [--labelled N] "
                        "[--unlabelled N] [--test N] [--size X Y Z] [--every N] "
                        "[--core SCALE CONTRAST]\n");
    return o->out != NULL;
}

/* Case index -> its phantom: shape, contrast, noise and bias vary from case to case. */
static void case_options(const demo_options *d, uint32_t index, ds_phantom_options *p)
{
    ds_phantom_options_init(p);
    memcpy(p->size, d->size, sizeof p->size);
    p->spacing[0] = p->spacing[1] = 1.0;
    p->spacing[2] = 1.5; /* anisotropic, as most MR and CT */
    p->classes = 3;
    p->blobs = 1 + (int)(index % 2);
    p->distractors = (int)(index % 3 == 2);
    p->radius_min = 0.16;
    p->radius_max = 0.28;
    p->contrast = 0.8f + 0.15f * (float)(index % 4);
    p->noise = 0.2f + 0.05f * (float)(index % 3);
    p->bias = 0.15f + 0.1f * (float)(index % 3);
    p->core_scale = d->core_scale;
    p->core_contrast = (float)d->core_contrast;
}

static int mkdirs(const char *out)
{
    const char *sub[] = {"", "/imagesTr", "/labelsTr", "/imagesTs", "/labelsTs"};
    char path[4096];
    for (int i = 0; i < 5; ++i) {
        snprintf(path, sizeof path, "%s%s", out, sub[i]);
        if (mkdir(path, 0755) != 0 && errno != EEXIST) {
            fprintf(stderr, "dualseg_make_demo: cannot create %s: %s\n", path, strerror(errno));
            return 0;
        }
    }
    return 1;
}

/* Keeps the annotation of every `every`-th axial slice (starting in the middle, so the
 * structure is hit) and sets the others to the ignore label. */
static void sparsify(ds_volume *label, int every)
{
    const int64_t *n = label->geom.size;
    int64_t plane = n[0] * n[1];
    for (int64_t k = 0; k < n[2]; ++k)
        if ((k - n[2] / 2) % every != 0)
            for (int64_t i = 0; i < plane; ++i)
                label->labels[k * plane + i] = DS_IGNORE_LABEL_DEFAULT;
}

static ds_status write_case(ds_ctx *ctx, const demo_options *d, uint32_t index, const char *img_dir,
                            const char *lab_dir, int sparse)
{
    ds_phantom_options p;
    case_options(d, index, &p);
    ds_volume *image = NULL, *label = NULL;
    ds_status st = ds_phantom_generate(ctx, &p, d->seed, index, &image, &label);
    char path[4096];
    if (st == DS_OK) {
        snprintf(path, sizeof path, "%s/%s/demo_%03u.nrrd", d->out, img_dir, index);
        st = ds_io_write(ctx, image, path, 1);
    }
    if (st == DS_OK && lab_dir) {
        if (sparse)
            sparsify(label, d->every);
        snprintf(path, sizeof path, "%s/%s/demo_%03u.nrrd", d->out, lab_dir, index);
        st = ds_io_write(ctx, label, path, 1);
    }
    ds_volume_free(image);
    ds_volume_free(label);
    return st;
}

static ds_status write_json(ds_ctx *ctx, const demo_options *d)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/dataset.json", d->out);
    ds_atomic_file af;
    ds_status st = ds_atomic_open(ctx, &af, path);
    if (st != DS_OK)
        return st;
    FILE *f = af.f;
    int train = d->labelled + d->unlabelled;
    fprintf(f, "{\n  \"name\": \"DualSegDemo\",\n  \"description\": \"Synthetic phantoms "
               "(seed %llu): %d labelled on every %d-th axial slice, %d unlabelled, %d held out "
               "with references in labelsTs\",\n", d->seed, d->labelled, d->every, d->unlabelled,
            d->test);
    fputs("  \"tensorImageSize\": \"3D\",\n  \"modality\": {\"0\": \"synthetic MR\"},\n", f);
    fputs("  \"labels\": {\"0\": \"background\", \"1\": \"structure\", \"2\": \"core\"},\n", f);
    fprintf(f, "  \"numTraining\": %d,\n  \"numTest\": %d,\n  \"training\": [\n", train, d->test);
    for (int i = 0; i < train; ++i) {
        fprintf(f, "    {\"image\": \"./imagesTr/demo_%03d.nrrd\", \"label\": ", i);
        if (i < d->labelled)
            fprintf(f, "\"./labelsTr/demo_%03d.nrrd\"}", i);
        else
            fputs("null}", f);
        fputs(i + 1 < train ? ",\n" : "\n", f);
    }
    fputs("  ],\n  \"test\": [\n", f);
    for (int i = 0; i < d->test; ++i)
        fprintf(f, "    \"./imagesTs/demo_%03d.nrrd\"%s\n", train + i, i + 1 < d->test ? "," : "");
    fputs("  ]\n}\n", f);
    return ds_atomic_commit(ctx, &af);
}

int main(int argc, char **argv)
{
    demo_options d;
    if (!parse_args(argc, argv, &d))
        return 2;
    if (!mkdirs(d.out))
        return 1;
    ds_ctx *ctx = NULL;
    if (ds_ctx_create(&ctx) != DS_OK)
        return 1;
    ds_status st = DS_OK;
    int train = d.labelled + d.unlabelled;
    for (int i = 0; i < train + d.test && st == DS_OK; ++i) {
        int is_test = i >= train;
        const char *lab = is_test ? "labelsTs" : i < d.labelled ? "labelsTr" : NULL;
        st = write_case(ctx, &d, (uint32_t)i, is_test ? "imagesTs" : "imagesTr", lab, !is_test);
    }
    if (st == DS_OK)
        st = write_json(ctx, &d);
    if (st != DS_OK)
        fprintf(stderr, "dualseg_make_demo: %s\n", ds_ctx_message(ctx));
    else
        printf("dualseg_make_demo: %d labelled (one axial slice in %d), %d unlabelled, %d held-out "
               "cases in %s\n", d.labelled, d.every, d.unlabelled, d.test, d.out);
    ds_ctx_free(ctx);
    return st == DS_OK ? 0 : 1;
}
