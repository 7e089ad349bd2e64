/* data.c - DualSegTrain's training data: the cases of every source, loaded once. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ds_io.h"
#include "train_module.h"

static char *dup_str(const char *s)
{
    char *d = malloc(strlen(s) + 1);
    return d ? strcpy(d, s) : NULL;
}

/* The GUI path as a one-case cohort, so that it loads exactly as a cohort's case does (checks,
 * resampling, normalisation, partial labels). */
static ds_status single_case(ds_ctx *ctx, const char *image, const char *label, ds_cohort **out)
{
    ds_cohort *c = calloc(1, sizeof *c);
    ds_case *k = c ? calloc(1, sizeof *k) : NULL;
    if (k) {
        c->cases = k;
        c->count = 1;
        c->labelled = 1;
        k->id = dup_str("input");
        k->image_path = dup_str(image);
        k->label_path = dup_str(label);
        c->source = dup_str(image);
    }
    if (!k || !k->id || !k->image_path || !k->label_path || !c->source) {
        ds_cohort_free(c);
        return ds_fail(ctx, DS_ERR_NOMEM, "out of memory");
    }
    *out = c;
    return DS_OK;
}

ds_status train_sources_open(ds_ctx *ctx, const ds_cli *cli, train_sources *s)
{
    memset(s, 0, sizeof *s);
    ds_status st = DS_OK;
    if (ds_cli_has_value(cli, "inputVolume"))
        st = single_case(ctx, ds_cli_get_string(cli, "inputVolume"),
                         ds_cli_get_string(cli, "inputLabel"), &s->cohorts[s->count++]);
    if (st == DS_OK && ds_cli_has_value(cli, "unlabelledFolder"))
        st = ds_cohort_open_folders(ctx, ds_cli_get_string(cli, "unlabelledFolder"), NULL,
                                    &s->cohorts[s->count++]);
    if (st == DS_OK && ds_cli_has_value(cli, "cohortFolder"))
        st = ds_cohort_open_decathlon(ctx, ds_cli_get_string(cli, "cohortFolder"),
                                      &s->cohorts[s->count++]);
    if (st == DS_OK && ds_cli_has_value(cli, "cohortCsv"))
        st = ds_cohort_open_csv(ctx, ds_cli_get_string(cli, "cohortCsv"),
                                &s->cohorts[s->count++]);
    if (st != DS_OK)
        train_sources_free(s);
    return st;
}

void train_sources_free(train_sources *s)
{
    for (int i = 0; i < s->count; ++i)
        ds_cohort_free(s->cohorts[i]);
    memset(s, 0, sizeof *s);
}

void train_sources_class_names(const train_sources *s, const char *const **names, int *count)
{
    *names = NULL;
    *count = 0;
    for (int i = 0; i < s->count && !*count; ++i) {
        *names = (const char *const *)s->cohorts[i]->class_names;
        *count = s->cohorts[i]->class_name_count;
    }
}

ds_status train_sources_count_classes(ds_ctx *ctx, const train_sources *s, int ignore_label,
                                      int *classes)
{
    int top = 1;
    for (int i = 0; i < s->count; ++i)
        for (int k = 0; k < s->cohorts[i]->count; ++k) {
            const char *path = s->cohorts[i]->cases[k].label_path;
            ds_volume *v = NULL;
            if (!path)
                continue;
            ds_status st = ds_io_read_label(ctx, path, &v);
            if (st != DS_OK)
                return st;
            for (int64_t j = 0, n = ds_volume_voxels(v); j < n; ++j)
                if (v->labels[j] != ignore_label && v->labels[j] > top)
                    top = v->labels[j];
            ds_volume_free(v);
        }
    *classes = top + 1;
    return DS_OK;
}

/* The trainer refuses labels of background only; here the message can name the files. */
static ds_status check_foreground(ds_ctx *ctx, const train_sources *s, const ds_train_data *data)
{
    if (ds_train_data_labelled(data) == 0 || ds_train_data_foreground(data) > 0)
        return DS_OK;
    const char *first = NULL;
    int n = 0;
    for (int i = 0; i < s->count; ++i)
        for (int k = 0; k < s->cohorts[i]->count; ++k)
            if (s->cohorts[i]->cases[k].label_path && n++ == 0)
                first = s->cohorts[i]->cases[k].label_path;
    return ds_fail(ctx, DS_ERR_ARG, "%s%s: background only (no voxel of a class above 0), "
                   "nothing to learn", first ? first : "the labels",
                   n > 1 ? " and every other label file" : "");
}

ds_status train_sources_load(ds_ctx *ctx, ds_cli *cli, train_heartbeat *h,
                             const train_sources *s, const ds_load_options *opt, double share,
                             ds_train_data **out)
{
    int total = 0, done = 0;
    for (int i = 0; i < s->count; ++i)
        total += s->cohorts[i]->count;
    ds_train_data *data = NULL;
    ds_status st = ds_train_data_create(ctx, opt, &data);
    for (int i = 0; st == DS_OK && i < s->count; ++i)
        for (int k = 0; st == DS_OK && k < s->cohorts[i]->count; ++k, ++done) {
            char comment[160];
            snprintf(comment, sizeof comment, "Loading case %d of %d", done + 1, total);
            train_progress(h, cli, share * done / (total > 0 ? total : 1), comment);
            st = ds_train_data_add_case(ctx, data, s->cohorts[i], k, 1);
        }
    if (st == DS_OK)
        st = check_foreground(ctx, s, data);
    if (st != DS_OK) {
        ds_train_data_free(data);
        return st;
    }
    *out = data;
    return DS_OK;
}
