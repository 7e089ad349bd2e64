/* io_test_util.h - helpers of the io tests: a scratch folder under the build tree (created with
 * mkdtemp in the test's working directory, removed at the end), small generated volumes. */
#ifndef DS_IO_TEST_UTIL_H
#define DS_IO_TEST_UTIL_H

#include <dirent.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ds_io.h"
#include "ds_volume.h"

/* Removes a folder and everything in it (only used on the tests' own scratch folders). */
static inline void io_rm_rf(const char *path)
{
    DIR *d = opendir(path);
    if (d) {
        struct dirent *e;
        while ((e = readdir(d)) != NULL) {
            if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
                continue;
            char p[4096 + 512];
            int k = snprintf(p, sizeof p, "%s/%s", path, e->d_name);
            if (k < 0 || (size_t)k >= sizeof p)
                continue;
            struct stat st;
            if (lstat(p, &st) == 0 && S_ISDIR(st.st_mode))
                io_rm_rf(p);
            else
                unlink(p);
        }
        closedir(d);
        rmdir(path);
    } else {
        unlink(path);
    }
}

/* Creates ./<prefix>-XXXXXX in the working directory (the build tree under ctest). */
static inline char *io_scratch(const char *prefix, char *buf, size_t cap)
{
    snprintf(buf, cap, "%s-XXXXXX", prefix);
    return mkdtemp(buf);
}

static inline void io_path(char *buf, size_t cap, const char *dir, const char *name)
{
    snprintf(buf, cap, "%s/%s", dir, name);
}

static inline int io_write_text(const char *path, const char *text, size_t len)
{
    FILE *f = fopen(path, "wb");
    if (!f)
        return -1;
    size_t n = fwrite(text, 1, len, f);
    fclose(f);
    return n == len ? 0 : -1;
}

static inline int io_is_dir(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

/* Number of entries of a folder (without . and ..), -1 if it cannot be opened. */
static inline int io_count_entries(const char *dir)
{
    DIR *d = opendir(dir);
    if (!d)
        return -1;
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL)
        if (strcmp(e->d_name, ".") && strcmp(e->d_name, ".."))
            ++n;
    closedir(d);
    return n;
}

/* An oblique geometry: spacing (0.75, 1.25, 2.5), origin (-12.5, 30.25, 7), direction the rotation
 * by 30 degrees about z followed by 20 degrees about x (orthonormal, det +1). */
static inline void io_oblique_geometry(ds_geometry *g, int64_t nx, int64_t ny, int64_t nz)
{
    ds_geometry_identity(g, nx, ny, nz);
    g->spacing[0] = 0.75;
    g->spacing[1] = 1.25;
    g->spacing[2] = 2.5;
    g->origin[0] = -12.5;
    g->origin[1] = 30.25;
    g->origin[2] = 7.0;
    const double a = 30.0 * 3.14159265358979323846 / 180.0, b = 20.0 * 3.14159265358979323846 / 180.0;
    const double rz[9] = {cos(a), -sin(a), 0, sin(a), cos(a), 0, 0, 0, 1};
    const double rx[9] = {1, 0, 0, 0, cos(b), -sin(b), 0, sin(b), cos(b)};
    for (int r = 0; r < 3; ++r)
        for (int c = 0; c < 3; ++c) {
            double s = 0;
            for (int k = 0; k < 3; ++k)
                s += rx[3 * r + k] * rz[3 * k + c];
            g->direction[3 * r + c] = s;
        }
}

#endif /* DS_IO_TEST_UTIL_H */
