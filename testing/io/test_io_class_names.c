/* test_io_class_names.c - the class names of a Decathlon cohort from dataset.json "labels"
 * (ds_cohort.h): the Decathlon's "index": "name" form and nnU-Net v2's "name": index form (with a
 * region entry, a list, skipped), a gap left unnamed, no "labels" at all, and the malformed cases
 * refused with a message naming the file. Expected names are written by hand from each text. */
#include "ds_cohort.h"
#include "ds_io.h"
#include "ds_test.h"
#include "io_test_util.h"

static char g_root[64];

/* Opens the cohort whose dataset.json is `json`; NULL when that fails. */
static ds_cohort *open_with(ds_ctx *ctx, const char *json)
{
    char path[512];
    io_path(path, sizeof path, g_root, "dataset.json");
    DS_CHECK(io_write_text(path, json, strlen(json)) == 0);
    ds_cohort *c = NULL;
    return ds_cohort_open(ctx, g_root, &c) == DS_OK ? c : NULL;
}

static int named(const ds_cohort *c, int k, const char *want)
{
    if (!c || k >= c->class_name_count)
        return 0;
    return want ? c->class_names[k] && strcmp(c->class_names[k], want) == 0 : !c->class_names[k];
}

static void forms(ds_ctx *ctx)
{
    ds_cohort *c = open_with(ctx, "{\"labels\": {\"0\": \"background\", \"1\": \"Anterior\", "
                                  "\"2\": \"Posterior \\u00e9\"}, \"training\": [{\"image\": "
                                  "\"./imagesTr/a.nrrd\", \"label\": null}]}");
    DS_CHECK_MSG(c && c->class_name_count == 3, "%s", ds_ctx_message(ctx));
    DS_CHECK(named(c, 0, "background") && named(c, 1, "Anterior") &&
             named(c, 2, "Posterior \xc3\xa9"));
    ds_cohort_free(c);
    c = open_with(ctx, "{\"labels\": {\"background\": 0, \"core\": 3, \"whole\": [1, 3], "
                       "\"edge\": 1}}");
    DS_CHECK_MSG(c && c->class_name_count == 4, "%s", ds_ctx_message(ctx));
    DS_CHECK(named(c, 0, "background") && named(c, 1, "edge") && named(c, 2, NULL) &&
             named(c, 3, "core"));
    ds_cohort_free(c);
    c = open_with(ctx, "{\"name\": \"no labels\"}");
    DS_CHECK(c && c->class_name_count == 0 && !c->class_names);
    ds_cohort_free(c);
}

static void refused(ds_ctx *ctx)
{
    static const char *const bad[] = {
        "{\"labels\": [\"background\", \"x\"]}",       /* not an object */
        "{\"labels\": {\"one\": \"background\"}}",     /* a name keyed by a name */
        "{\"labels\": {\"-1\": \"background\"}}",      /* a negative index */
        "{\"labels\": {\"x\": 1.5}}",                  /* a fractional index */
        "{\"labels\": {\"0\": true}}",                 /* neither name nor index */
        "{\"labels\": {\"1\": \"a\", \"b\": 1}}",      /* class 1 named twice */
        "{\"labels\": {\"100000\": \"far\"}}",         /* beyond any network */
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; ++i) {
        ds_cohort *c = open_with(ctx, bad[i]);
        DS_CHECK_MSG(!c, "accepted %s", bad[i]);
        DS_CHECK_MSG(strstr(ds_ctx_message(ctx), "dataset.json") &&
                     strstr(ds_ctx_message(ctx), "\"labels\""), "%s: %s", bad[i],
                     ds_ctx_message(ctx));
        ds_cohort_free(c);
    }
}

int main(void)
{
    ds_ctx *ctx = NULL;
    ds_ctx_create(&ctx);
    char dir[512];
    if (!io_scratch("io-names", g_root, sizeof g_root)) {
        fprintf(stderr, "cannot create a scratch folder\n");
        return 1;
    }
    /* one image, so that the cohort opens from its folders when dataset.json lists none */
    io_path(dir, sizeof dir, g_root, "imagesTr");
    DS_CHECK(mkdir(dir, 0755) == 0);
    ds_geometry g;
    ds_geometry_identity(&g, 4, 4, 4);
    ds_volume *v = NULL;
    DS_CHECK_OK(ctx, ds_volume_create(ctx, &v, &g, DS_VOLUME_SCALAR));
    io_path(dir, sizeof dir, g_root, "imagesTr/a.nrrd");
    DS_CHECK_OK(ctx, ds_io_write(ctx, v, dir, 0));
    ds_volume_free(v);
    forms(ctx);
    refused(ctx);
    io_rm_rf(g_root);
    ds_ctx_free(ctx);
    return ds_test_finish("test_io_class_names");
}
