/* test_io_cohort.c - the three cohort layouts, their error cases, the strict JSON parser, and
 * loading cases with partial labels.
 *
 * The cohorts are built here in a scratch folder; the expected lists, counts and masks are written
 * by hand from what each folder holds.
 */
#include "ds_cohort.h"
#include "ds_io.h"
#include "ds_test.h"
#include "io_test_util.h"
#include "json.h"

static char g_root[64];

static void put_volume(ds_ctx *ctx, const char *rel, int label)
{
    char path[512];
    io_path(path, sizeof path, g_root, rel);
    ds_geometry g;
    ds_geometry_identity(&g, 6, 5, 4);
    ds_volume *v = NULL;
    DS_CHECK_OK(ctx, ds_volume_create(ctx, &v, &g, label ? DS_VOLUME_LABEL : DS_VOLUME_SCALAR));
    for (int64_t i = 0; i < ds_volume_voxels(v); ++i) {
        if (label)
            v->labels[i] = 0;
        else
            v->values[i] = (float)(i % 17);
    }
    if (label) /* label 1 on slices z = 1 and z = 2 only */
        v->labels[2 + 6 * (3 + 5 * 1)] = v->labels[1 + 6 * (1 + 5 * 2)] = 1;
    DS_CHECK_OK(ctx, ds_io_write(ctx, v, path, 0));
    ds_volume_free(v);
}

static void put_text(const char *rel, const char *text)
{
    char path[512];
    io_path(path, sizeof path, g_root, rel);
    DS_CHECK(io_write_text(path, text, strlen(text)) == 0);
}

static void sub(const char *rel)
{
    char path[512];
    io_path(path, sizeof path, g_root, rel);
    mkdir(path, 0700);
}

static const char *base(const char *p)
{
    const char *s = strrchr(p, '/');
    return s ? s + 1 : p;
}

static void json_parser(ds_ctx *ctx)
{
    const char *good = " {\"a\": [1, -2.5e3, true, false, null, \"x\\u00e9\\ud83d\\ude00\\n\"],"
                       " \"b\": {}, \"c\": [] } ";
    ds_json *j = NULL;
    DS_CHECK_OK(ctx, ds_json_parse(ctx, good, strlen(good), "good", &j));
    if (j) {
        const ds_json *a = ds_json_get(j, "a");
        DS_CHECK(a && a->type == DS_JSON_ARRAY && a->count == 6);
        if (a && a->count == 6) {
            DS_CHECK(a->items[1].type == DS_JSON_NUMBER && a->items[1].number == -2500.0);
            DS_CHECK(a->items[4].type == DS_JSON_NULL);
            /* e-acute (C3 A9) and U+1F600 (F0 9F 98 80), from the UTF-8 encoding rules */
            DS_CHECK(strcmp(a->items[5].string, "x\xC3\xA9\xF0\x9F\x98\x80\n") == 0);
        }
        DS_CHECK(ds_json_get(j, "b") && ds_json_get(j, "b")->type == DS_JSON_OBJECT);
        DS_CHECK(ds_json_get(j, "zz") == NULL);
    }
    ds_json_free(j);
    const char *bad[] = {"", "{", "[1,]", "{\"a\":1,}", "01", "1.", "-", "+1", "'a'",
                         "{\"a\" 1}", "[1] x", "// c\n1", "\"abc", "\"a\tb\"", "\"\\u0000\"",
                         "\"\\ud800\"", "\"\\udc00x\"", "\"\\q\"", "tru", "NaN", "1e999",
                         "{1:2}", "[\"a\"\"b\"]", "{\"a\": 1, \"a\": 2}", "\"\xff\""};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; ++i) {
        j = NULL;
        ds_ctx_clear(ctx);
        ds_status st = ds_json_parse(ctx, bad[i], strlen(bad[i]), "bad.json", &j);
        DS_CHECK_MSG(st == DS_ERR_FORMAT && j == NULL, "accepted bad JSON #%zu: %s", i, bad[i]);
        DS_CHECK(strstr(ds_ctx_message(ctx), "bad.json") != NULL);
        ds_json_free(j);
    }
    /* nesting deeper than the limit is refused, not a stack overflow */
    char deep[1001];
    memset(deep, '[', 1000);
    deep[1000] = '\0';
    j = NULL;
    DS_CHECK_FAILS(ctx, ds_json_parse(ctx, deep, 1000, "deep", &j), DS_ERR_FORMAT);
    /* random byte mutations of a valid document: parsed or refused, never a crash or a leak
     * (the sanitizer build checks the memory side); fixed LCG seed */
    {
        const char *doc = "{\"training\": [{\"image\": \"./imagesTr/a.nii.gz\", \"label\": "
                          "\"./labelsTr/a.nii.gz\"}], \"test\": [\"x\\u00e9\"], \"n\": -1.5e2}";
        size_t dn = strlen(doc);
        char *m = malloc(dn);
        uint32_t x = 2024u;
        int parsed = 0;
        for (int it = 0; it < 3000; ++it) {
            memcpy(m, doc, dn);
            for (int e = 0; e < 1 + it % 4; ++e) {
                x = x * 1664525u + 1013904223u;
                size_t at = (x >> 8) % dn;
                x = x * 1664525u + 1013904223u;
                m[at] = (char)(x >> 24);
            }
            j = NULL;
            if (ds_json_parse(ctx, m, dn, "fuzz", &j) == DS_OK)
                ++parsed;
            ds_json_free(j);
        }
        free(m);
        DS_CHECK(parsed > 0 && parsed < 3000);
    }
    /* every prefix of a valid document is refused cleanly (no read past the end) */
    size_t n = strlen(good);
    for (size_t k = 0; k + 2 < n; ++k) {
        char *cut = malloc(k);
        memcpy(cut, good, k);
        j = NULL;
        ds_status st = ds_json_parse(ctx, cut, k, "cut", &j);
        DS_CHECK_MSG(st == DS_ERR_FORMAT, "prefix of %zu bytes accepted", k);
        ds_json_free(j);
        free(cut);
    }
}

static void decathlon(ds_ctx *ctx)
{
    char dir[512];
    /* (a) with a dataset.json list; one image listed without its nnU-Net _0000 suffix */
    sub("dec");
    sub("dec/imagesTr");
    sub("dec/labelsTr");
    sub("dec/imagesTs");
    put_volume(ctx, "dec/imagesTr/a.nii.gz", 0);
    put_volume(ctx, "dec/imagesTr/b_0000.nii.gz", 0);
    put_volume(ctx, "dec/imagesTr/u_0000.nii.gz", 0);
    put_volume(ctx, "dec/labelsTr/a.nii.gz", 1);
    put_volume(ctx, "dec/labelsTr/b.nii.gz", 1);
    put_volume(ctx, "dec/imagesTs/t_0000.nii.gz", 0);
    put_text("dec/dataset.json",
             "{\"name\": \"t\", \"training\": [{\"image\": \"./imagesTr/a.nii.gz\", "
             "\"label\": \"./labelsTr/a.nii.gz\"}, {\"image\": \"./imagesTr/b.nii.gz\", "
             "\"label\": \"./labelsTr/b.nii.gz\"}], \"test\": [\"./imagesTs/t.nii.gz\"]}");
    io_path(dir, sizeof dir, g_root, "dec");
    ds_cohort *c = NULL;
    DS_CHECK_OK(ctx, ds_cohort_open(ctx, dir, &c));
    if (c) {
        DS_CHECK(c->count == 3 && c->labelled == 2);
        if (c->count == 3) {
            DS_CHECK(strcmp(c->cases[0].id, "a") == 0 && c->cases[0].label_path);
            DS_CHECK(strcmp(c->cases[1].id, "b") == 0);
            DS_CHECK(strcmp(base(c->cases[1].image_path), "b_0000.nii.gz") == 0);
            DS_CHECK(c->cases[2].is_test && !c->cases[2].label_path);
            DS_CHECK(strcmp(c->cases[2].id, "t") == 0);
        }
    }
    ds_cohort_free(c);
    c = NULL;
    /* a listed file that does not exist: the error names it */
    put_text("dec/dataset.json",
             "{\"training\": [{\"image\": \"./imagesTr/a.nii.gz\", \"label\": "
             "\"./labelsTr/missing.nii.gz\"}], \"test\": []}");
    DS_CHECK_FAILS(ctx, ds_cohort_open(ctx, dir, &c), DS_ERR_IO);
    DS_CHECK(strstr(ds_ctx_message(ctx), "missing.nii.gz") != NULL);
    DS_CHECK(c == NULL);
    /* malformed JSON, and a wrong type */
    put_text("dec/dataset.json", "{\"training\": [{\"image\": \"a\",}]}");
    DS_CHECK_FAILS(ctx, ds_cohort_open(ctx, dir, &c), DS_ERR_FORMAT);
    DS_CHECK(strstr(ds_ctx_message(ctx), "dataset.json") != NULL);
    put_text("dec/dataset.json", "{\"training\": {\"image\": \"a\"}}");
    DS_CHECK_FAILS(ctx, ds_cohort_open(ctx, dir, &c), DS_ERR_FORMAT);
    put_text("dec/dataset.json", "{\"training\": [{\"label\": \"x\"}]}");
    DS_CHECK_FAILS(ctx, ds_cohort_open(ctx, dir, &c), DS_ERR_FORMAT);
    /* no training list: the folders; u has no label (unlabelled), t is test */
    put_text("dec/dataset.json", "{\"name\": \"t\", \"numTraining\": 3}");
    DS_CHECK_OK(ctx, ds_cohort_open(ctx, dir, &c));
    if (c) {
        DS_CHECK(c->count == 4 && c->labelled == 2);
        if (c->count == 4) {
            DS_CHECK(strcmp(c->cases[0].id, "a") == 0 && c->cases[0].label_path);
            DS_CHECK(strcmp(c->cases[1].id, "b") == 0 && c->cases[1].label_path);
            DS_CHECK(strcmp(c->cases[2].id, "u") == 0 && !c->cases[2].label_path);
            DS_CHECK(strcmp(c->cases[3].id, "t") == 0 && c->cases[3].is_test);
        }
    }
    ds_cohort_free(c);
    c = NULL;
    /* a second channel: refused */
    put_volume(ctx, "dec/imagesTr/b_0001.nii.gz", 0);
    DS_CHECK_FAILS(ctx, ds_cohort_open(ctx, dir, &c), DS_ERR_UNSUPPORTED);
    DS_CHECK(strstr(ds_ctx_message(ctx), "b_0001") != NULL);
    /* a folder that is no cohort */
    sub("empty");
    io_path(dir, sizeof dir, g_root, "empty");
    DS_CHECK_FAILS(ctx, ds_cohort_open(ctx, dir, &c), DS_ERR_FORMAT);
}

static void folders_and_csv(ds_ctx *ctx)
{
    sub("f");
    sub("f/images");
    sub("f/labels");
    put_volume(ctx, "f/images/p.nrrd", 0);
    put_volume(ctx, "f/images/q.mha", 0);
    put_volume(ctx, "f/labels/p.seg.nrrd", 1);
    put_text("f/images/notes.txt", "not a volume");
    char im[512], lb[512];
    io_path(im, sizeof im, g_root, "f/images");
    io_path(lb, sizeof lb, g_root, "f/labels");
    ds_cohort *c = NULL;
    DS_CHECK_OK(ctx, ds_cohort_open_folders(ctx, im, lb, &c));
    if (c) {
        DS_CHECK(c->count == 2 && c->labelled == 1);
        if (c->count == 2) {
            DS_CHECK(strcmp(c->cases[0].id, "p") == 0 && c->cases[0].label_path &&
                     strcmp(base(c->cases[0].label_path), "p.seg.nrrd") == 0);
            DS_CHECK(strcmp(c->cases[1].id, "q") == 0 && c->cases[1].label_path == NULL);
        }
    }
    ds_cohort_free(c);
    c = NULL;
    DS_CHECK_FAILS(ctx, ds_cohort_open_folders(ctx, lb, "/nonexistent-ds-folder", &c), DS_ERR_IO);
    /* two images of one id: their outputs would overwrite each other */
    sub("dup");
    put_volume(ctx, "dup/a.nrrd", 0);
    put_volume(ctx, "dup/a.mha", 0);
    io_path(im, sizeof im, g_root, "dup");
    DS_CHECK_FAILS(ctx, ds_cohort_open_folders(ctx, im, NULL, &c), DS_ERR_FORMAT);
    DS_CHECK(strstr(ds_ctx_message(ctx), "two images for case a") != NULL);

    /* (c) CSV: header, comment, blank line, CRLF, quoted field, unlabelled line */
    char csv[512];
    io_path(csv, sizeof csv, g_root, "f/list.csv");
    put_text("f/list.csv", "image,label\r\n# a comment\r\n\r\nimages/p.nrrd, labels/p.seg.nrrd\r\n"
                           "\"images/q.mha\"\r\n");
    DS_CHECK_OK(ctx, ds_cohort_open(ctx, csv, &c));
    if (c) {
        DS_CHECK(c->count == 2 && c->labelled == 1);
        if (c->count == 2) {
            DS_CHECK(strcmp(c->cases[0].id, "p") == 0 && c->cases[0].label_path);
            DS_CHECK(access(c->cases[1].image_path, F_OK) == 0 && !c->cases[1].label_path);
        }
    }
    ds_cohort_free(c);
    c = NULL;
    /* no header; trailing empty label field means unlabelled */
    put_text("f/list.csv", "images/q.mha,\nimages/p.nrrd,labels/p.seg.nrrd");
    DS_CHECK_OK(ctx, ds_cohort_open_csv(ctx, csv, &c));
    DS_CHECK(c && c->count == 2 && c->labelled == 1);
    ds_cohort_free(c);
    c = NULL;
    /* bad lines: the error names the file and the line */
    put_text("f/list.csv", "image,label\nimages/p.nrrd,labels/p.seg.nrrd,extra\n");
    DS_CHECK_FAILS(ctx, ds_cohort_open_csv(ctx, csv, &c), DS_ERR_FORMAT);
    DS_CHECK(strstr(ds_ctx_message(ctx), "list.csv: line 2") != NULL);
    put_text("f/list.csv", "images/p.nrrd\n\"images/q.mha,\n");
    DS_CHECK_FAILS(ctx, ds_cohort_open_csv(ctx, csv, &c), DS_ERR_FORMAT);
    DS_CHECK(strstr(ds_ctx_message(ctx), "line 2") != NULL);
    put_text("f/list.csv", "images/p.nrrd\n,labels/p.seg.nrrd\n");
    DS_CHECK_FAILS(ctx, ds_cohort_open_csv(ctx, csv, &c), DS_ERR_FORMAT);
    put_text("f/list.csv", "images/p.nrrd\nimages/nothere.nrrd\n");
    DS_CHECK_FAILS(ctx, ds_cohort_open_csv(ctx, csv, &c), DS_ERR_IO);
    DS_CHECK(strstr(ds_ctx_message(ctx), "nothere.nrrd") != NULL);
    put_text("f/list.csv", "image,label\n");
    DS_CHECK_FAILS(ctx, ds_cohort_open_csv(ctx, csv, &c), DS_ERR_FORMAT);
    DS_CHECK(c == NULL);
}

static void loading(ds_ctx *ctx)
{
    char csv[512];
    io_path(csv, sizeof csv, g_root, "f/load.csv");
    put_text("f/load.csv", "images/p.nrrd,labels/p.seg.nrrd\nimages/q.mha\n");
    ds_cohort *c = NULL;
    DS_CHECK_OK(ctx, ds_cohort_open_csv(ctx, csv, &c));
    if (!c)
        return;
    ds_load_options o;
    ds_load_options_default(&o);
    o.num_classes = 2;
    ds_sample s;
    DS_CHECK_OK(ctx, ds_cohort_load_case(ctx, c, 0, &o, &s));
    DS_CHECK(s.label != NULL && s.annotated == 6 * 5 * 4);
    ds_sample_free(&s);
    DS_CHECK_OK(ctx, ds_cohort_load_case(ctx, c, 1, &o, &s));
    DS_CHECK(s.image != NULL && s.label == NULL && s.annotated == 0);
    ds_sample_free(&s);
    /* partial: slices along z without a non-zero label (z = 0 and 3) become the ignore label;
     * 2 of 4 slices of 6 x 5 voxels stay annotated (hand count) */
    o.partial_axis = 2;
    DS_CHECK_OK(ctx, ds_cohort_load_case(ctx, c, 0, &o, &s));
    DS_CHECK_MSG(s.annotated == 2 * 30, "annotated %lld", (long long)s.annotated);
    if (s.label) {
        DS_CHECK(s.label->labels[0] == 255 && s.label->labels[30] == 0);
        DS_CHECK(s.label->labels[2 + 6 * (3 + 5 * 1)] == 1);
        /* the mask gives the same count; along x, only x = 1, 2 hold labels: 2 * 20 voxels */
        uint8_t mask[120];
        int64_t count = 0;
        DS_CHECK_OK(ctx, ds_label_annotated_mask(ctx, s.label, -1, 255, mask, &count));
        DS_CHECK(count == 60 && mask[0] == 0 && mask[30] == 1);
        ds_volume *raw = NULL;
        DS_CHECK_OK(ctx, ds_io_read_label(ctx, c->cases[0].label_path, &raw));
        DS_CHECK_OK(ctx, ds_label_annotated_mask(ctx, raw, 0, 255, mask, &count));
        DS_CHECK(count == 40 && mask[1] == 1 && mask[0] == 0 && mask[3] == 0);
        ds_volume_free(raw);
    }
    ds_sample_free(&s);
    /* labels beyond K - 1: the error names the label file */
    o.partial_axis = -1;
    o.num_classes = 1;
    DS_CHECK_FAILS(ctx, ds_cohort_load_case(ctx, c, 0, &o, &s), DS_ERR_FORMAT);
    DS_CHECK(strstr(ds_ctx_message(ctx), "p.seg.nrrd") != NULL && s.image == NULL);
    ds_cohort_free(c);
    /* image / label geometry mismatch, and a constant image: errors name the files */
    ds_geometry g;
    ds_geometry_identity(&g, 6, 5, 4);
    g.origin[1] = 3.0;
    ds_volume *v = NULL;
    DS_CHECK_OK(ctx, ds_volume_create(ctx, &v, &g, DS_VOLUME_LABEL));
    char path[512];
    io_path(path, sizeof path, g_root, "f/shifted.nrrd");
    DS_CHECK_OK(ctx, ds_io_write(ctx, v, path, 0));
    ds_volume_free(v);
    put_text("f/load.csv", "images/p.nrrd,shifted.nrrd\n");
    DS_CHECK_OK(ctx, ds_cohort_open_csv(ctx, csv, &c));
    ds_load_options_default(&o);
    DS_CHECK_FAILS(ctx, ds_cohort_load_case(ctx, c, 0, &o, &s), DS_ERR_SHAPE);
    DS_CHECK(strstr(ds_ctx_message(ctx), "p.nrrd") && strstr(ds_ctx_message(ctx), "shifted"));
    ds_cohort_free(c);
    c = NULL;
    put_text("f/load.csv", "shifted.nrrd\n");
    DS_CHECK_OK(ctx, ds_cohort_open_csv(ctx, csv, &c));
    DS_CHECK_FAILS(ctx, ds_cohort_load_case(ctx, c, 0, &o, &s), DS_ERR_NUMERIC);
    DS_CHECK(strstr(ds_ctx_message(ctx), "shifted.nrrd") != NULL);
    DS_CHECK_FAILS(ctx, ds_cohort_load_case(ctx, c, 5, &o, &s), DS_ERR_ARG);
    ds_cohort_free(c);
}

int main(void)
{
    ds_ctx *ctx = NULL;
    ds_ctx_create(&ctx);
    if (!io_scratch("io-cohort", g_root, sizeof g_root)) {
        fprintf(stderr, "cannot create a scratch folder\n");
        return 1;
    }
    json_parser(ctx);
    decathlon(ctx);
    folders_and_csv(ctx);
    loading(ctx);
    io_rm_rf(g_root);
    ds_ctx_free(ctx);
    return ds_test_finish("test_io_cohort");
}
