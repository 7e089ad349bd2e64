/* cohort.c - the three cohort layouts of ds_cohort.h: Decathlon / nnU-Net folder, images +
 * labels folders, CSV list. */
#include "ds_cohort.h"
#include "ds_io.h"
#include "cohort_names.h"
#include "io_internal.h"
#include "json.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* Text files (dataset.json, CSV) larger than this are refused as absurd. */
#define DS_COHORT_TEXT_MAX ((long)64 << 20)

/* ---- the case list ---- */

static ds_status cohort_new(ds_ctx *ctx, const char *source, ds_cohort **out)
{
    *out = calloc(1, sizeof **out);
    if (!*out || !((*out)->source = ds_strdup(source))) {
        free(*out);
        *out = NULL;
        return ds_fail(ctx, DS_ERR_NOMEM, "%s: out of memory", source);
    }
    return DS_OK;
}

void ds_cohort_free(ds_cohort *c)
{
    if (!c)
        return;
    for (int i = 0; i < c->count; ++i) {
        free(c->cases[i].id);
        free(c->cases[i].image_path);
        free(c->cases[i].label_path);
    }
    for (int k = 0; k < c->class_name_count; ++k)
        free(c->class_names[k]);
    free(c->class_names);
    free(c->cases);
    free(c->source);
    free(c);
}

/* Takes ownership of id, image and label (label may be NULL) whatever happens. */
static ds_status cohort_add(ds_ctx *ctx, ds_cohort *c, int *cap, char *id, char *image,
                            char *label, int is_test)
{
    if (!id || !image) {
        free(id);
        free(image);
        free(label);
        return ds_fail(ctx, DS_ERR_NOMEM, "%s: out of memory", c->source);
    }
    /* one id, one case: outputs named by id (segmentations, table rows) must not collide */
    for (int i = 0; i < c->count; ++i)
        if (strcmp(c->cases[i].id, id) == 0) {
            ds_status st = ds_fail(ctx, DS_ERR_FORMAT, "%s: two images for case %s (%s, %s)",
                                   c->source, id, c->cases[i].image_path, image);
            free(id);
            free(image);
            free(label);
            return st;
        }
    if (c->count == *cap) {
        int nc = *cap ? *cap * 2 : 16;
        ds_case *cases = nc > 0 ? realloc(c->cases, (size_t)nc * sizeof *cases) : NULL;
        if (!cases) {
            free(id);
            free(image);
            free(label);
            return ds_fail(ctx, DS_ERR_NOMEM, "%s: out of memory", c->source);
        }
        c->cases = cases;
        *cap = nc;
    }
    ds_case *k = &c->cases[c->count++];
    k->id = id;
    k->image_path = image;
    k->label_path = label;
    k->is_test = is_test;
    if (label)
        ++c->labelled;
    return DS_OK;
}

/* ---- names ---- */

static const char *const k_exts[] = {".seg.nrrd", ".nii.gz", ".nrrd", ".nhdr", ".nii", ".mha",
                                     ".mhd"};

static size_t ext_len(const char *name)
{
    for (size_t i = 0; i < sizeof k_exts / sizeof k_exts[0]; ++i)
        if (ds_io_ends_with(name, k_exts[i]))
            return strlen(k_exts[i]);
    return 0;
}

static const char *base_name(const char *path)
{
    const char *s = strrchr(path, '/');
    return s ? s + 1 : path;
}

/* Channel of an nnU-Net name "<id>_NNNN<ext>" (or -1 if it has no such suffix). */
static int channel_of(const char *name)
{
    size_t n = strlen(name) - ext_len(name);
    if (n < 6 || name[n - 5] != '_')
        return -1;
    int ch = 0;
    for (size_t i = n - 4; i < n; ++i) {
        if (name[i] < '0' || name[i] > '9')
            return -1;
        ch = ch * 10 + (name[i] - '0');
    }
    return ch;
}

/* Case id of a file: its base name without the volume extension and without _0000. */
static char *case_id(const char *path)
{
    const char *name = base_name(path);
    size_t n = strlen(name) - ext_len(name);
    if (channel_of(name) == 0)
        n -= 5;
    char *id = malloc(n + 1);
    if (id) {
        memcpy(id, name, n);
        id[n] = '\0';
    }
    return id;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

typedef struct name_list {
    char **names;
    int count;
} name_list;

static void names_free(name_list *l)
{
    for (int i = 0; i < l->count; ++i)
        free(l->names[i]);
    free(l->names);
    l->names = NULL;
    l->count = 0;
}

/* The volume files of a folder (not hidden), sorted by name. */
static ds_status list_volumes(ds_ctx *ctx, const char *dir, name_list *out)
{
    memset(out, 0, sizeof *out);
    DIR *d = opendir(dir);
    if (!d)
        return ds_fail(ctx, DS_ERR_IO, "%s: cannot open folder: %s", dir, strerror(errno));
    int cap = 0;
    ds_status st = DS_OK;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.' || !ds_io_is_volume_name(e->d_name))
            continue;
        if (out->count == cap) {
            int nc = cap ? cap * 2 : 64;
            char **names = realloc(out->names, (size_t)nc * sizeof *names);
            if (!names) {
                st = ds_fail(ctx, DS_ERR_NOMEM, "%s: out of memory", dir);
                break;
            }
            out->names = names;
            cap = nc;
        }
        if (!(out->names[out->count] = ds_strdup(e->d_name))) {
            st = ds_fail(ctx, DS_ERR_NOMEM, "%s: out of memory", dir);
            break;
        }
        ++out->count;
    }
    closedir(d);
    if (st != DS_OK) {
        names_free(out);
        return st;
    }
    if (out->count > 1)
        qsort(out->names, (size_t)out->count, sizeof *out->names, cmp_str);
    return DS_OK;
}

/* Refuses multi-channel cases: a name with channel >= 1 whose _0000 sibling is in the list. */
static ds_status check_channels(ds_ctx *ctx, const char *dir, const name_list *l)
{
    for (int i = 0; i < l->count; ++i) {
        if (channel_of(l->names[i]) < 1)
            continue;
        const char *name = l->names[i];
        size_t n = strlen(name) - ext_len(name) - 5;
        for (int j = 0; j < l->count; ++j)
            if (channel_of(l->names[j]) == 0 && strncmp(l->names[j], name, n) == 0 &&
                strlen(l->names[j]) - ext_len(l->names[j]) - 5 == n)
                return ds_fail(ctx, DS_ERR_UNSUPPORTED, "%s/%s: multi-channel cases (nnU-Net "
                               "_0001 ...) are not supported: one image per case", dir, name);
    }
    return DS_OK;
}

/* ---- layout (b): images folder + labels folder ---- */

typedef struct id_entry {
    char *id;
    const char *name;
} id_entry;

static int cmp_id(const void *a, const void *b)
{
    return strcmp(((const id_entry *)a)->id, ((const id_entry *)b)->id);
}

/* Adds the images of images_dir (label from labels_dir, matched by case id) to c. */
static ds_status add_folder(ds_ctx *ctx, ds_cohort *c, int *cap, const char *images_dir,
                            const char *labels_dir, int is_test)
{
    name_list imgs, labs = {NULL, 0};
    ds_status st = list_volumes(ctx, images_dir, &imgs);
    if (st != DS_OK)
        return st;
    st = check_channels(ctx, images_dir, &imgs);
    if (st == DS_OK && labels_dir)
        st = list_volumes(ctx, labels_dir, &labs);
    id_entry *index = NULL;
    if (st == DS_OK && labs.count > 0) {
        index = calloc((size_t)labs.count, sizeof *index);
        if (!index)
            st = ds_fail(ctx, DS_ERR_NOMEM, "%s: out of memory", labels_dir);
        for (int i = 0; st == DS_OK && i < labs.count; ++i) {
            index[i].name = labs.names[i];
            if (!(index[i].id = case_id(labs.names[i])))
                st = ds_fail(ctx, DS_ERR_NOMEM, "%s: out of memory", labels_dir);
        }
        if (st == DS_OK) {
            qsort(index, (size_t)labs.count, sizeof *index, cmp_id);
            for (int i = 1; st == DS_OK && i < labs.count; ++i)
                if (strcmp(index[i - 1].id, index[i].id) == 0)
                    st = ds_fail(ctx, DS_ERR_FORMAT, "%s: two label files for case %s (%s, %s)",
                                 labels_dir, index[i].id, index[i - 1].name, index[i].name);
        }
    }
    for (int i = 0; st == DS_OK && i < imgs.count; ++i) {
        char *id = case_id(imgs.names[i]);
        char *label = NULL;
        if (id && index) {
            id_entry key = {id, NULL};
            id_entry *hit = bsearch(&key, index, (size_t)labs.count, sizeof *index, cmp_id);
            if (hit && !(label = ds_path_join(labels_dir, hit->name))) {
                free(id);
                id = NULL;
            }
        }
        st = cohort_add(ctx, c, cap, id, ds_path_join(images_dir, imgs.names[i]), label, is_test);
    }
    if (index)
        for (int i = 0; i < labs.count; ++i)
            free(index[i].id);
    free(index);
    names_free(&imgs);
    names_free(&labs);
    return st;
}

ds_status ds_cohort_open_folders(ds_ctx *ctx, const char *images_dir, const char *labels_dir,
                                 ds_cohort **out)
{
    if (!images_dir || !out)
        return ds_fail(ctx, DS_ERR_ARG, "ds_cohort_open_folders: null argument");
    *out = NULL;
    if (!ds_path_is_dir(images_dir))
        return ds_fail(ctx, DS_ERR_IO, "%s: not a folder", images_dir);
    if (labels_dir && !ds_path_is_dir(labels_dir))
        return ds_fail(ctx, DS_ERR_IO, "%s: not a folder", labels_dir);
    ds_cohort *c = NULL;
    ds_status st = cohort_new(ctx, images_dir, &c);
    int cap = 0;
    if (st == DS_OK)
        st = add_folder(ctx, c, &cap, images_dir, labels_dir, 0);
    if (st == DS_OK && c->count == 0)
        st = ds_fail(ctx, DS_ERR_FORMAT, "%s: no volume files in this folder", images_dir);
    if (st != DS_OK) {
        ds_cohort_free(c);
        return st;
    }
    *out = c;
    return DS_OK;
}

/* ---- text files ---- */

static ds_status read_text(ds_ctx *ctx, const char *path, char **text, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return ds_fail(ctx, DS_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
    long size = -1;
    if (fseek(f, 0, SEEK_END) == 0)
        size = ftell(f);
    if (size < 0 || size > DS_COHORT_TEXT_MAX || fseek(f, 0, SEEK_SET) != 0) {
        fclose(f);
        return ds_fail(ctx, DS_ERR_FORMAT, "%s: unreadable or larger than %ld bytes", path,
                       DS_COHORT_TEXT_MAX);
    }
    char *buf = malloc((size_t)size + 1);
    if (!buf) {
        fclose(f);
        return ds_fail(ctx, DS_ERR_NOMEM, "%s: out of memory", path);
    }
    size_t got = fread(buf, 1, (size_t)size, f);
    fclose(f);
    if (got != (size_t)size) {
        free(buf);
        return ds_fail(ctx, DS_ERR_IO, "%s: short read", path);
    }
    buf[got] = '\0';
    *text = buf;
    *len = got;
    return DS_OK;
}

static char *dir_of(const char *path)
{
    const char *s = strrchr(path, '/');
    if (!s)
        return ds_strdup(".");
    size_t n = s == path ? 1 : (size_t)(s - path);
    char *d = malloc(n + 1);
    if (d) {
        memcpy(d, path, n);
        d[n] = '\0';
    }
    return d;
}

/* ---- layout (a): Decathlon / nnU-Net ---- */

/* dir + rel; if that file is missing, the nnU-Net name with _0000 before the extension. */
static char *resolve_listed(const char *dir, const char *rel)
{
    char *p = ds_path_join(dir, rel);
    if (!p || ds_path_is_file(p) || ds_path_is_dir(p))
        return p;
    size_t e = ext_len(p), n = strlen(p);
    char *alt = malloc(n + 6);
    if (!alt)
        return p;
    memcpy(alt, p, n - e);
    memcpy(alt + n - e, "_0000", 5);
    memcpy(alt + n - e + 5, p + n - e, e + 1);
    if (ds_path_is_file(alt)) {
        free(p);
        return alt;
    }
    free(alt);
    return p;
}

static ds_status add_listed(ds_ctx *ctx, ds_cohort *c, int *cap, const char *dir,
                            const char *json_path, const ds_json *entry, int is_test, size_t idx)
{
    const char *list = is_test ? "test" : "training";
    const ds_json *img = entry, *lab = NULL;
    if (entry->type == DS_JSON_OBJECT) {
        img = ds_json_get(entry, "image");
        lab = ds_json_get(entry, "label");
    }
    if (!img || img->type != DS_JSON_STRING || !img->string[0])
        return ds_fail(ctx, DS_ERR_FORMAT, "%s: \"%s\" entry %zu has no \"image\" path",
                       json_path, list, idx);
    if (lab && lab->type != DS_JSON_STRING && lab->type != DS_JSON_NULL)
        return ds_fail(ctx, DS_ERR_FORMAT, "%s: \"%s\" entry %zu: \"label\" is not a path",
                       json_path, list, idx);
    char *image = resolve_listed(dir, img->string);
    char *label = lab && lab->type == DS_JSON_STRING ? ds_path_join(dir, lab->string) : NULL;
    if (image && !ds_path_is_file(image) && !ds_path_is_dir(image)) {
        ds_status st = ds_fail(ctx, DS_ERR_IO, "%s: \"%s\" entry %zu: image %s does not exist",
                               json_path, list, idx, image);
        free(image);
        free(label);
        return st;
    }
    if (label && !ds_path_is_file(label)) {
        ds_status st = ds_fail(ctx, DS_ERR_IO, "%s: \"%s\" entry %zu: label %s does not exist",
                               json_path, list, idx, label);
        free(image);
        free(label);
        return st;
    }
    return cohort_add(ctx, c, cap, image ? case_id(image) : NULL, image, label, is_test);
}

ds_status ds_cohort_open_decathlon(ds_ctx *ctx, const char *dir, ds_cohort **out)
{
    if (!dir || !out)
        return ds_fail(ctx, DS_ERR_ARG, "ds_cohort_open_decathlon: null argument");
    *out = NULL;
    if (!ds_path_is_dir(dir))
        return ds_fail(ctx, DS_ERR_IO, "%s: not a folder", dir);
    ds_cohort *c = NULL;
    ds_status st = cohort_new(ctx, dir, &c);
    if (st != DS_OK)
        return st;
    int cap = 0;
    char *json_path = ds_path_join(dir, "dataset.json");
    ds_json *root = NULL;
    const ds_json *training = NULL, *test = NULL;
    if (!json_path) {
        st = ds_fail(ctx, DS_ERR_NOMEM, "%s: out of memory", dir);
    } else if (ds_path_is_file(json_path)) {
        char *text = NULL;
        size_t len = 0;
        st = read_text(ctx, json_path, &text, &len);
        if (st == DS_OK)
            st = ds_json_parse(ctx, text, len, json_path, &root);
        free(text);
        if (st == DS_OK && root->type != DS_JSON_OBJECT)
            st = ds_fail(ctx, DS_ERR_FORMAT, "%s: top level is not a JSON object", json_path);
        if (st == DS_OK) {
            training = ds_json_get(root, "training");
            test = ds_json_get(root, "test");
            if ((training && training->type != DS_JSON_ARRAY) ||
                (test && test->type != DS_JSON_ARRAY))
                st = ds_fail(ctx, DS_ERR_FORMAT, "%s: \"training\" / \"test\" is not a list",
                             json_path);
        }
        if (st == DS_OK)
            st = ds_cohort_read_class_names(ctx, c, ds_json_get(root, "labels"), json_path);
    }
    if (st == DS_OK && training) {
        for (size_t i = 0; st == DS_OK && i < training->count; ++i)
            st = add_listed(ctx, c, &cap, dir, json_path, &training->items[i], 0, i);
        for (size_t i = 0; st == DS_OK && test && i < test->count; ++i)
            st = add_listed(ctx, c, &cap, dir, json_path, &test->items[i], 1, i);
    } else if (st == DS_OK) {
        char *tr = ds_path_join(dir, "imagesTr"), *lt = ds_path_join(dir, "labelsTr"),
             *ts = ds_path_join(dir, "imagesTs");
        if (!tr || !lt || !ts)
            st = ds_fail(ctx, DS_ERR_NOMEM, "%s: out of memory", dir);
        else if (!ds_path_is_dir(tr) && !ds_path_is_dir(ts))
            st = ds_fail(ctx, DS_ERR_FORMAT, "%s: no dataset.json training list and no imagesTr/ "
                         "or imagesTs/ folder: not a Decathlon / nnU-Net cohort", dir);
        if (st == DS_OK && ds_path_is_dir(tr))
            st = add_folder(ctx, c, &cap, tr, ds_path_is_dir(lt) ? lt : NULL, 0);
        if (st == DS_OK && ds_path_is_dir(ts))
            st = add_folder(ctx, c, &cap, ts, NULL, 1);
        free(tr);
        free(lt);
        free(ts);
    }
    if (st == DS_OK && c->count == 0)
        st = ds_fail(ctx, DS_ERR_FORMAT, "%s: the cohort holds no case", dir);
    ds_json_free(root);
    free(json_path);
    if (st != DS_OK) {
        ds_cohort_free(c);
        return st;
    }
    *out = c;
    return DS_OK;
}

/* ---- layout (c): CSV ---- */

/* Splits one line into at most 3 fields (quoted fields allowed, "" inside quotes is a quote);
 * returns the number of fields, or -1 for a malformed line. Fields point into line (modified). */
static int csv_fields(char *line, char **f, int max)
{
    int n = 0;
    char *r = line;
    for (;;) {
        while (*r == ' ' || *r == '\t')
            ++r;
        char *start = r, *w = r;
        if (*r == '"') {
            start = w = ++r;
            for (;;) {
                if (!*r)
                    return -1;
                if (*r == '"') {
                    if (r[1] == '"') {
                        *w++ = '"';
                        r += 2;
                        continue;
                    }
                    ++r;
                    break;
                }
                *w++ = *r++;
            }
            while (*r == ' ' || *r == '\t')
                ++r;
            if (*r && *r != ',')
                return -1;
        } else {
            while (*r && *r != ',') {
                if (*r == '"')
                    return -1;
                *w++ = *r++;
            }
            while (w > start && (w[-1] == ' ' || w[-1] == '\t'))
                --w;
        }
        char sep = *r;
        *w = '\0';
        if (n < max)
            f[n] = start;
        ++n;
        if (sep != ',')
            break;
        r = r + 1;
    }
    return n;
}

ds_status ds_cohort_open_csv(ds_ctx *ctx, const char *csv_path, ds_cohort **out)
{
    if (!csv_path || !out)
        return ds_fail(ctx, DS_ERR_ARG, "ds_cohort_open_csv: null argument");
    *out = NULL;
    char *text = NULL;
    size_t len = 0;
    ds_status st = read_text(ctx, csv_path, &text, &len);
    if (st != DS_OK)
        return st;
    ds_cohort *c = NULL;
    char *dir = dir_of(csv_path);
    st = dir ? cohort_new(ctx, csv_path, &c) : ds_fail(ctx, DS_ERR_NOMEM, "out of memory");
    if (st == DS_OK && strlen(text) != len)
        st = ds_fail(ctx, DS_ERR_FORMAT, "%s: holds a NUL byte: not a text file", csv_path);
    int cap = 0, line_no = 0, seen_content = 0;
    char *line = text;
    while (st == DS_OK && line && *line) {
        char *next = strchr(line, '\n');
        if (next)
            *next++ = '\0';
        ++line_no;
        size_t n = strlen(line);
        if (n && line[n - 1] == '\r')
            line[--n] = '\0';
        char *p = line;
        while (*p == ' ' || *p == '\t')
            ++p;
        if (!*p || *p == '#') {
            line = next;
            continue;
        }
        char *f[2] = {NULL, NULL};
        int nf = csv_fields(p, f, 2);
        if (nf < 1 || nf > 2) {
            st = ds_fail(ctx, DS_ERR_FORMAT, "%s: line %d: expected image[,label], got %s",
                         csv_path, line_no, nf < 0 ? "an unterminated or stray quote"
                                                   : "more than two fields");
            break;
        }
        int header = !seen_content && (strcasecmp(f[0], "image") == 0 ||
                                       strcasecmp(f[0], "image_path") == 0 ||
                                       strcasecmp(f[0], "img") == 0);
        seen_content = 1;
        if (header) {
            line = next;
            continue;
        }
        if (!f[0][0]) {
            st = ds_fail(ctx, DS_ERR_FORMAT, "%s: line %d: empty image path", csv_path, line_no);
            break;
        }
        char *image = ds_path_join(dir, f[0]);
        char *label = nf == 2 && f[1][0] ? ds_path_join(dir, f[1]) : NULL;
        if (image && !ds_path_is_file(image) && !ds_path_is_dir(image)) {
            st = ds_fail(ctx, DS_ERR_IO, "%s: line %d: image %s does not exist", csv_path,
                         line_no, image);
        } else if (label && !ds_path_is_file(label)) {
            st = ds_fail(ctx, DS_ERR_IO, "%s: line %d: label %s does not exist", csv_path,
                         line_no, label);
        }
        if (st != DS_OK) {
            free(image);
            free(label);
            break;
        }
        st = cohort_add(ctx, c, &cap, image ? case_id(image) : NULL, image, label, 0);
        line = next;
    }
    if (st == DS_OK && c->count == 0)
        st = ds_fail(ctx, DS_ERR_FORMAT, "%s: lists no case", csv_path);
    free(text);
    free(dir);
    if (st != DS_OK) {
        ds_cohort_free(c);
        return st;
    }
    *out = c;
    return DS_OK;
}

ds_status ds_cohort_open(ds_ctx *ctx, const char *path, ds_cohort **out)
{
    if (!path || !out)
        return ds_fail(ctx, DS_ERR_ARG, "ds_cohort_open: null argument");
    if (ds_path_is_dir(path))
        return ds_cohort_open_decathlon(ctx, path, out);
    if (ds_path_is_file(path))
        return ds_cohort_open_csv(ctx, path, out);
    *out = NULL;
    return ds_fail(ctx, DS_ERR_IO, "%s: no such file or folder", path);
}
