/* write.c - file names, reading entry points, and the atomic write (temporary folder + rename). */
#include "ds_io.h"
#include "io_internal.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

int ds_io_ends_with(const char *s, const char *suffix)
{
    size_t n = strlen(s), m = strlen(suffix);
    return n >= m && strcasecmp(s + n - m, suffix) == 0;
}

char *ds_strdup(const char *s)
{
    size_t n = strlen(s) + 1;
    char *r = malloc(n);
    if (r)
        memcpy(r, s, n);
    return r;
}

char *ds_path_join(const char *dir, const char *name)
{
    if (!dir || !dir[0] || name[0] == '/')
        return ds_strdup(name);
    size_t a = strlen(dir), b = strlen(name);
    int slash = dir[a - 1] != '/';
    char *r = malloc(a + (size_t)slash + b + 1);
    if (!r)
        return NULL;
    memcpy(r, dir, a);
    if (slash)
        r[a] = '/';
    memcpy(r + a + (size_t)slash, name, b + 1);
    return r;
}

int ds_path_is_file(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

int ds_path_is_dir(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

ds_io_format ds_io_format_of(const char *path)
{
    if (!path)
        return DS_IO_UNKNOWN;
    if (ds_io_ends_with(path, ".seg.nrrd"))
        return DS_IO_SEG_NRRD;
    if (ds_io_ends_with(path, ".nrrd"))
        return DS_IO_NRRD;
    if (ds_io_ends_with(path, ".nhdr"))
        return DS_IO_NHDR;
    if (ds_io_ends_with(path, ".nii") || ds_io_ends_with(path, ".nii.gz"))
        return DS_IO_NIFTI;
    if (ds_io_ends_with(path, ".mha"))
        return DS_IO_MHA;
    if (ds_io_ends_with(path, ".mhd"))
        return DS_IO_MHD;
    if (ds_path_is_dir(path))
        return DS_IO_DICOM_DIR;
    return DS_IO_UNKNOWN;
}

int ds_io_is_volume_name(const char *path)
{
    static const char *const ext[] = {".nrrd", ".nhdr", ".nii", ".nii.gz", ".mha", ".mhd"};
    for (size_t i = 0; i < sizeof ext / sizeof ext[0]; ++i)
        if (ds_io_ends_with(path, ext[i]))
            return 1;
    return 0;
}

/* ITK reports a file it may not open as "not a valid file" of some format; say why instead. */
static ds_status check_openable(ds_ctx *ctx, const char *path)
{
    int fd = path ? open(path, O_RDONLY) : 0;
    if (fd < 0)
        return ds_fail(ctx, DS_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
    if (path)
        close(fd);
    return DS_OK;
}

ds_status ds_io_read_image(ds_ctx *ctx, const char *path, ds_volume **out)
{
    DS_TRY(check_openable(ctx, path));
    return ds_itk_read(ctx, path, 0, out);
}

ds_status ds_io_read_label(ds_ctx *ctx, const char *path, ds_volume **out)
{
    DS_TRY(check_openable(ctx, path));
    return ds_itk_read(ctx, path, 1, out);
}

/* ITK's writers do not all report a failed write: under a file size limit the NRRD writer
 * returned success with a 64-byte file. So the file is read back and compared before it
 * replaces anything (one read per write; files are written once per run). */
static ds_status check_written(ds_ctx *ctx, const ds_volume *v, const char *tmp_file,
                               const char *path)
{
    ds_volume *back = NULL;
    if (ds_itk_read(ctx, tmp_file, v->kind == DS_VOLUME_LABEL, &back) != DS_OK)
        return ds_fail(ctx, DS_ERR_IO, "%s: write failed: the file does not read back (%s)", path,
                       "disk full or a file size limit?");
    const int64_t n = ds_volume_voxels(v);
    int same = ds_volume_voxels(back) == n && back->kind == v->kind;
    for (int a = 0; a < 3; ++a)
        same &= back->geom.size[a] == v->geom.size[a];
    if (same)
        same = v->kind == DS_VOLUME_LABEL
                   ? memcmp(back->labels, v->labels, sizeof *v->labels * (size_t)n) == 0
                   : memcmp(back->values, v->values, sizeof *v->values * (size_t)n) == 0;
    ds_volume_free(back);
    return same ? DS_OK : ds_fail(ctx, DS_ERR_IO, "%s: write failed: the file read back differs",
                                  path);
}

static int fsync_path(const char *path, int is_dir)
{
    int fd = open(path, is_dir ? O_RDONLY | O_DIRECTORY : O_RDONLY);
    if (fd < 0)
        return -1;
    int rc = fsync(fd);
    close(fd);
    return rc;
}

/* Removes every file of tmp, then tmp. */
static void remove_tmp_dir(const char *tmp)
{
    DIR *d = opendir(tmp);
    if (d) {
        struct dirent *e;
        while ((e = readdir(d)) != NULL) {
            if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
                continue;
            char *p = ds_path_join(tmp, e->d_name);
            if (p)
                unlink(p);
            free(p);
        }
        closedir(d);
    }
    rmdir(tmp);
}

/* Moves every file of tmp into dir, `last` after all the others. */
static ds_status move_out(ds_ctx *ctx, const char *tmp, const char *dir, const char *last,
                          const char *path)
{
    for (int pass = 0; pass < 2; ++pass) {
        DIR *d = opendir(tmp);
        if (!d)
            return ds_fail(ctx, DS_ERR_IO, "%s: cannot list temporary folder %s: %s", path, tmp,
                           strerror(errno));
        struct dirent *e;
        ds_status st = DS_OK;
        while (st == DS_OK && (e = readdir(d)) != NULL) {
            if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
                continue;
            if ((strcmp(e->d_name, last) == 0) != (pass == 1))
                continue;
            char *from = ds_path_join(tmp, e->d_name), *to = ds_path_join(dir, e->d_name);
            if (!from || !to)
                st = ds_fail(ctx, DS_ERR_NOMEM, "%s: out of memory", path);
            else if (fsync_path(from, 0) != 0 || rename(from, to) != 0)
                st = ds_fail(ctx, DS_ERR_IO, "%s: cannot move %s into place: %s", path, from,
                             strerror(errno));
            free(from);
            free(to);
        }
        closedir(d);
        if (st != DS_OK)
            return st;
    }
    return DS_OK;
}

ds_status ds_io_write(ds_ctx *ctx, const ds_volume *v, const char *path, int compress)
{
    if (!v || !path || !path[0])
        return ds_fail(ctx, DS_ERR_ARG, "ds_io_write: null volume or empty path");
    ds_status st = ds_geometry_check(ctx, &v->geom, path);
    if (st != DS_OK)
        return st;
    if ((v->kind == DS_VOLUME_SCALAR && !v->values) || (v->kind == DS_VOLUME_LABEL && !v->labels))
        return ds_fail(ctx, DS_ERR_ARG, "%s: volume has no data", path);
    ds_io_format fmt = ds_io_format_of(path);
    if (fmt == DS_IO_UNKNOWN || fmt == DS_IO_DICOM_DIR)
        return ds_fail(ctx, DS_ERR_UNSUPPORTED, "%s: cannot write this format (use .nrrd, .nhdr, "
                       ".seg.nrrd, .nii, .nii.gz, .mha or .mhd)", path);
    const char *slash = strrchr(path, '/');
    const char *base = slash ? slash + 1 : path;
    char *dir = slash ? malloc((size_t)(slash - path) + 2) : ds_strdup(".");
    if (!dir)
        return ds_fail(ctx, DS_ERR_NOMEM, "%s: out of memory", path);
    if (slash) {
        size_t n = (size_t)(slash - path);
        memcpy(dir, path, n);
        dir[n ? n : 1] = '\0';
        if (n == 0)
            dir[0] = '/';
    }
    char *tmp = ds_path_join(dir, ".ds-write-XXXXXX");
    char *tmp_file = NULL;
    if (!tmp) {
        st = ds_fail(ctx, DS_ERR_NOMEM, "%s: out of memory", path);
    } else if (!mkdtemp(tmp)) {
        st = ds_fail(ctx, DS_ERR_IO, "%s: cannot create a temporary folder in %s: %s", path, dir,
                     strerror(errno));
        free(tmp);
        tmp = NULL;
    } else if (!(tmp_file = ds_path_join(tmp, base))) {
        st = ds_fail(ctx, DS_ERR_NOMEM, "%s: out of memory", path);
    } else {
        st = ds_itk_write(ctx, v, tmp_file, compress, path);
        if (st == DS_OK)
            st = check_written(ctx, v, tmp_file, path);
        if (st == DS_OK)
            st = move_out(ctx, tmp, dir, base, path);
        if (st == DS_OK)
            fsync_path(dir, 1);
    }
    if (tmp)
        remove_tmp_dir(tmp);
    free(tmp_file);
    free(tmp);
    free(dir);
    return st;
}
