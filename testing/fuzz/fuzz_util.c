/* fuzz_util.c - the scratch folder of fuzz_util.h. Paths are kept so that exit removes them. */
#include "fuzz_util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define FUZZ_MAX_PATHS 32

static char g_dir[256];
static char *g_paths[FUZZ_MAX_PATHS]; /* files, then their folders, in creation order */
static int g_n_paths;
static ds_ctx *g_ctx;

static void cleanup(void)
{
    for (int i = g_n_paths - 1; i >= 0; --i) {
        remove(g_paths[i]); /* files before their folders: reverse creation order */
        free(g_paths[i]);
    }
    rmdir(g_dir);
    ds_ctx_free(g_ctx);
}

static void die(const char *what)
{
    perror(what);
    abort();
}

ds_ctx *fuzz_ctx(void)
{
    if (!g_ctx && ds_ctx_create(&g_ctx) != DS_OK)
        die("fuzz: ds_ctx_create");
    return g_ctx;
}

static void remember(const char *path)
{
    if (g_n_paths == FUZZ_MAX_PATHS || !(g_paths[g_n_paths] = strdup(path)))
        die("fuzz: too many scratch paths");
    ++g_n_paths;
}

const char *fuzz_path(const char *rel)
{
    if (!g_dir[0]) {
        const char *tmp = getenv("TMPDIR");
        snprintf(g_dir, sizeof g_dir, "%s/dsfuzz.XXXXXX", tmp && tmp[0] ? tmp : "/tmp");
        if (!mkdtemp(g_dir))
            die("fuzz: mkdtemp");
        atexit(cleanup);
    }
    for (int i = 0; i < g_n_paths; ++i)
        if (strcmp(g_paths[i] + strlen(g_dir) + 1, rel) == 0)
            return g_paths[i];
    char path[512];
    const char *slash = strchr(rel, '/');
    if (slash) {
        snprintf(path, sizeof path, "%s/%.*s", g_dir, (int)(slash - rel), rel);
        struct stat st;
        if (stat(path, &st) != 0) {
            if (mkdir(path, 0700) != 0)
                die("fuzz: mkdir");
            remember(path);
        }
    }
    snprintf(path, sizeof path, "%s/%s", g_dir, rel);
    remember(path);
    return g_paths[g_n_paths - 1];
}

void fuzz_write(const char *path, const uint8_t *data, size_t size)
{
    FILE *f = fopen(path, "wb");
    if (!f || (size && fwrite(data, 1, size, f) != size) || fclose(f) != 0)
        die("fuzz: write");
}
