/* atomic_file.c - temporary file + fsync + rename (see ds_atomic_file.h). */
#include "ds_atomic_file.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static void release(ds_atomic_file *af)
{
    free(af->tmp_path);
    free(af->path);
    memset(af, 0, sizeof *af);
}

ds_status ds_atomic_open(ds_ctx *ctx, ds_atomic_file *af, const char *path)
{
    if (!af)
        return ds_fail(ctx, DS_ERR_ARG, "atomic file: null handle");
    memset(af, 0, sizeof *af);
    if (!path || !*path)
        return ds_fail(ctx, DS_ERR_ARG, "atomic file: empty path");
    const size_t len = strlen(path);
    af->path = malloc(len + 1);
    af->tmp_path = malloc(len + 16);
    if (!af->path || !af->tmp_path) {
        release(af);
        return ds_fail(ctx, DS_ERR_NOMEM, "%s: out of memory", path);
    }
    memcpy(af->path, path, len + 1);
    memcpy(af->tmp_path, path, len);
    memcpy(af->tmp_path + len, ".tmp.XXXXXX", 12);
    const int fd = mkstemp(af->tmp_path);
    if (fd < 0) {
        const int e = errno;
        release(af);
        return ds_fail(ctx, DS_ERR_IO, "%s: cannot create a temporary file beside it: %s", path,
                       strerror(e));
    }
    /* mkstemp makes 0600 files; outputs are meant to be shared like any other file. */
    if (fchmod(fd, S_IRUSR | S_IWUSR | S_IRGRP | S_IROTH) != 0 || !(af->f = fdopen(fd, "wb"))) {
        const int e = errno;
        close(fd);
        unlink(af->tmp_path);
        release(af);
        return ds_fail(ctx, DS_ERR_IO, "%s: cannot open a temporary file: %s", path, strerror(e));
    }
    return DS_OK;
}

/* Makes the rename itself durable. Failure here is not reported: the data are already safe. */
static void sync_folder(const char *path)
{
    char *dir = strdup(path);
    if (!dir)
        return;
    char *slash = strrchr(dir, '/');
    if (slash == dir)
        slash[1] = '\0';
    else if (slash)
        *slash = '\0';
    else
        strcpy(dir, ".");
    const int fd = open(dir, O_RDONLY);
    if (fd >= 0) {
        (void)fsync(fd);
        close(fd);
    }
    free(dir);
}

ds_status ds_atomic_commit(ds_ctx *ctx, ds_atomic_file *af)
{
    if (!af || !af->f)
        return ds_fail(ctx, DS_ERR_ARG, "atomic file: commit without an open file");
    int e = 0;
    if (ferror(af->f))
        e = EIO;
    else if (fflush(af->f) != 0 || fsync(fileno(af->f)) != 0)
        e = errno;
    if (fclose(af->f) != 0 && !e)
        e = errno;
    af->f = NULL;
    if (!e && rename(af->tmp_path, af->path) != 0)
        e = errno;
    if (e) {
        unlink(af->tmp_path);
        ds_status st = ds_fail(ctx, DS_ERR_IO, "%s: write failed: %s", af->path, strerror(e));
        release(af);
        return st;
    }
    sync_folder(af->path);
    release(af);
    return DS_OK;
}

void ds_atomic_abort(ds_atomic_file *af)
{
    if (!af)
        return;
    if (af->f) {
        fclose(af->f);
        unlink(af->tmp_path);
    }
    release(af);
}
