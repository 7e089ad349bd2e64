/* test_infer_io.c - bad input and the cohort mode:
 *   - a network or a model taking 2 input channels, a NaN in the image, a label map as image, a
 *     patch that is not a multiple of 16: each refused with its status and a message naming the
 *     problem, the result left zeroed;
 *   - an output folder that does not exist: ds_infer_write and ds_infer_cohort fail with
 *     DS_ERR_IO naming it, before any work, and nothing is written anywhere;
 *   - the cohort mode on a two-case CSV cohort: every output named after its case id, each equal
 *     to ds_infer_model on the file read back, per-case progress messages, case scores.
 */
#include "infer_test_util.h"
#include "ds_io.h"
#include "ds_test.h"
#include "ds_threads.h"
#include "io/io_test_util.h"

static ds_ctx *ctx;

static ds_model *model_of(ds_net *a, ds_net *b)
{
    ds_model *m = calloc(1, sizeof *m);
    m->meta.classes = 2;
    m->meta.in_channels = 1;
    m->meta.norm_mode = DS_NORM_ZSCORE;
    m->meta.patch[0] = m->meta.patch[1] = m->meta.patch[2] = 16;
    m->net_count = b ? 2 : 1;
    m->net[0] = a;
    m->net[1] = b;
    return m;
}

static int zeroed(const ds_infer_result *r)
{
    static const ds_infer_result zero;
    return memcmp(r, &zero, sizeof zero) == 0;
}

static void test_bad_input(ds_model *m)
{
    ds_geometry g;
    ds_geometry_identity(&g, 20, 18, 16);
    ds_volume *img = tu_image(ctx, &g, 1);
    ds_infer_options o;
    ds_infer_options_init(&o);
    ds_infer_result r;
    /* two input channels */
    ds_net *two = NULL;
    DS_CHECK_OK(ctx, ds_net_create(ctx, &two, DS_ARCH_VNET, 2, 2, 1));
    o.patch[0] = o.patch[1] = o.patch[2] = 16;
    DS_CHECK_FAILS(ctx, ds_infer_volume(ctx, &two, 1, img, &o, &r), DS_ERR_SHAPE);
    DS_CHECK(strstr(ds_ctx_message(ctx), "2 input channels") && zeroed(&r));
    ds_net_free(two);
    m->meta.in_channels = 2;
    DS_CHECK_FAILS(ctx, ds_infer_model(ctx, m, img, &o, &r), DS_ERR_SHAPE);
    DS_CHECK(strstr(ds_ctx_message(ctx), "2 input channels") && zeroed(&r));
    m->meta.in_channels = 1;
    /* NaN */
    img->values[1234] = NAN;
    DS_CHECK_FAILS(ctx, ds_infer_model(ctx, m, img, &o, &r), DS_ERR_NUMERIC);
    DS_CHECK(strstr(ds_ctx_message(ctx), "image") && zeroed(&r));
    DS_CHECK_FAILS(ctx, ds_infer_volume(ctx, m->net, 2, img, &o, &r), DS_ERR_NUMERIC);
    img->values[1234] = 0.5f;
    /* a patch the networks cannot take */
    o.patch[1] = 24;
    DS_CHECK_FAILS(ctx, ds_infer_model(ctx, m, img, &o, &r), DS_ERR_ARG);
    DS_CHECK(strstr(ds_ctx_message(ctx), "multiple of 16") && zeroed(&r));
    o.patch[1] = 16;
    /* a label map is not an image */
    ds_volume *lab = NULL;
    DS_CHECK_OK(ctx, ds_volume_create(ctx, &lab, &g, DS_VOLUME_LABEL));
    DS_CHECK_FAILS(ctx, ds_infer_volume(ctx, m->net, 2, lab, &o, &r), DS_ERR_ARG);
    ds_volume_free(lab);
    ds_volume_free(img);
}

static void test_missing_folder(ds_model *m, const char *scratch)
{
    char missing[4200];
    io_path(missing, sizeof missing, scratch, "no/such/folder");
    ds_geometry g;
    ds_geometry_identity(&g, 20, 18, 16);
    ds_volume *img = tu_image(ctx, &g, 2);
    ds_infer_options o;
    ds_infer_options_init(&o);
    ds_infer_result r;
    DS_CHECK_OK(ctx, ds_infer_model(ctx, m, img, &o, &r));
    DS_CHECK_FAILS(ctx, ds_infer_write(ctx, &r, DS_INFER_OUT_MAPS, missing, "case", NULL),
                   DS_ERR_IO);
    DS_CHECK(strstr(ds_ctx_message(ctx), missing) != NULL);
    ds_infer_result_free(&r);
    ds_volume_free(img);
    DS_CHECK(io_count_entries(scratch) == 0); /* nothing written, no folder made */
}

typedef struct progress_log {
    int calls, cases_seen[3], decreasing;
    double last;
} progress_log;

static void on_progress(void *user, double fraction, const char *message)
{
    progress_log *p = user;
    ++p->calls;
    p->decreasing |= fraction < p->last;
    p->last = fraction;
    if (strncmp(message, "case 1/2 a: ", 12) == 0)
        p->cases_seen[1] = 1;
    if (strncmp(message, "case 2/2 b: ", 12) == 0)
        p->cases_seen[2] = 1;
}

static ds_volume *read_output(const char *dir, const char *name, int label)
{
    char p[4200];
    io_path(p, sizeof p, dir, name);
    ds_volume *v = NULL;
    DS_CHECK_OK(ctx, label ? ds_io_read_label(ctx, p, &v) : ds_io_read_image(ctx, p, &v));
    return v;
}

/* Case `id`'s written label and entropy equal ds_infer_model on its image file. */
static void check_case(ds_model *m, const char *dir, const char *image_path, const char *id)
{
    ds_volume *img = NULL;
    DS_CHECK_OK(ctx, ds_io_read_image(ctx, image_path, &img));
    ds_infer_options o;
    ds_infer_options_init(&o);
    ds_infer_result want;
    DS_CHECK_OK(ctx, ds_infer_model(ctx, m, img, &o, &want));
    char name[256];
    snprintf(name, sizeof name, "%s_label.nii.gz", id);
    ds_volume *label = read_output(dir, name, 1);
    snprintf(name, sizeof name, "%s_entropy.nii.gz", id);
    ds_volume *entropy = read_output(dir, name, 0);
    snprintf(name, sizeof name, "%s_disagreement.nii.gz", id);
    ds_volume *dis = read_output(dir, name, 0);
    const size_t n = (size_t)ds_volume_voxels(img);
    DS_CHECK(label && memcmp(label->labels, want.label->labels, 2 * n) == 0);
    DS_CHECK(entropy && memcmp(entropy->values, want.entropy->values, 4 * n) == 0);
    DS_CHECK(dis && memcmp(dis->values, want.disagreement->values, 4 * n) == 0);
    ds_volume_free(label);
    ds_volume_free(entropy);
    ds_volume_free(dis);
    ds_infer_result_free(&want);
    ds_volume_free(img);
}

static void test_cohort(ds_model *m, const char *scratch)
{
    char img_dir[4200], out_dir[4200], csv[4200], pa[4300], pb[4300];
    io_path(img_dir, sizeof img_dir, scratch, "images");
    io_path(out_dir, sizeof out_dir, scratch, "out");
    io_path(csv, sizeof csv, scratch, "cohort.csv");
    DS_CHECK(mkdir(img_dir, 0755) == 0 && mkdir(out_dir, 0755) == 0);
    snprintf(pa, sizeof pa, "%s/a.nii.gz", img_dir);
    snprintf(pb, sizeof pb, "%s/b.nii.gz", img_dir);
    ds_geometry g;
    ds_geometry_identity(&g, 20, 18, 16);
    ds_volume *a = tu_image(ctx, &g, 3);
    ds_geometry_identity(&g, 17, 33, 12);
    ds_volume *b = tu_image(ctx, &g, 4);
    DS_CHECK_OK(ctx, ds_io_write(ctx, a, pa, 1));
    DS_CHECK_OK(ctx, ds_io_write(ctx, b, pb, 1));
    ds_volume_free(a);
    ds_volume_free(b);
    const char text[] = "image\nimages/a.nii.gz\nimages/b.nii.gz\n";
    DS_CHECK(io_write_text(csv, text, sizeof text - 1) == 0);
    ds_cohort *c = NULL;
    DS_CHECK_OK(ctx, ds_cohort_open(ctx, csv, &c));
    if (!c)
        return;
    ds_infer_options o;
    ds_infer_options_init(&o);
    progress_log log = {0, {0, 0, 0}, 0, 0.0};
    o.progress = on_progress;
    o.progress_user = &log;
    ds_infer_cohort_options co;
    ds_infer_cohort_options_init(&co);
    /* a missing folder first: refused before any case */
    char missing[4300];
    snprintf(missing, sizeof missing, "%s/missing", out_dir);
    co.out_dir = missing;
    ds_infer_case_score scores[2];
    DS_CHECK_FAILS(ctx, ds_infer_cohort(ctx, m, c, &o, &co, scores), DS_ERR_IO);
    DS_CHECK(log.calls == 0 && io_count_entries(out_dir) == 0);
    co.out_dir = out_dir;
    DS_CHECK_OK(ctx, ds_infer_cohort(ctx, m, c, &o, &co, scores));
    DS_CHECK(io_count_entries(out_dir) == 6); /* label, entropy, disagreement per case */
    DS_CHECK(log.cases_seen[1] && log.cases_seen[2] && !log.decreasing && log.last == 1.0);
    DS_CHECK(scores[0].index == 0 && scores[1].index == 1);
    DS_CHECK(scores[0].score >= 0.0 && scores[0].score <= 1.0);
    check_case(m, out_dir, pa, "a");
    check_case(m, out_dir, pb, "b");
    ds_cohort_free(c);
}

int main(void)
{
    DS_CHECK(ds_ctx_create(&ctx) == DS_OK);
    DS_CHECK_OK(ctx, ds_threads_set(ctx, 0));
    ds_model *m = model_of(tu_net(ctx, DS_ARCH_RESNET34_VNET, 2, 1, 51),
                           tu_net(ctx, DS_ARCH_VNET, 2, 1, 52));
    char scratch[256];
    DS_CHECK(io_scratch("infer-io", scratch, sizeof scratch) != NULL);
    test_bad_input(m);
    test_missing_folder(m, scratch);
    test_cohort(m, scratch);
    io_rm_rf(scratch);
    ds_model_free(m);
    ds_ctx_free(ctx);
    return ds_test_finish("test_infer_io");
}
