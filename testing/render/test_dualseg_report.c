/* test_dualseg_report.c - the report tool (plugin/dualseg_report) on small generated files: a
 * 40 x 36 x 24 image with a box of label 1 and an entropy that is high on the box's rim, and a
 * four-row trainer log. The overlay and montage PNGs come out at the default 1200 x 520 and the
 * curve at the --size asked for, 640 x 480 (read back with ds_render_read_png), the .vti and the
 * colour table exist, the printed suggested slices lie inside the box (z 8..15, where the entropy
 * is), and a missing input (or --model file) fails with exit status 1, a one-line message naming
 * it and no output written.
 * argv[1]: the tool's path. */
#include "ds_io.h"
#include "ds_render.h"
#include "ds_test.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static char dir[] = "/tmp/ds_report_XXXXXX";

static void path_of(char *buf, size_t cap, const char *name)
{
    snprintf(buf, cap, "%s/%s", dir, name);
}

static int exit_status(const char *cmd)
{
    int rc = system(cmd);
    return WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
}

static void write_inputs(ds_ctx *ctx)
{
    ds_geometry g;
    ds_geometry_identity(&g, 40, 36, 24);
    ds_volume *img = NULL, *lab = NULL, *ent = NULL;
    DS_CHECK_OK(ctx, ds_volume_create(ctx, &img, &g, DS_VOLUME_SCALAR));
    DS_CHECK_OK(ctx, ds_volume_create(ctx, &lab, &g, DS_VOLUME_LABEL));
    DS_CHECK_OK(ctx, ds_volume_create(ctx, &ent, &g, DS_VOLUME_SCALAR));
    if (!img || !lab || !ent)
        return;
    for (int z = 0; z < 24; ++z)
        for (int y = 0; y < 36; ++y)
            for (int x = 0; x < 40; ++x) {
                int64_t i = ((int64_t)z * 36 + y) * 40 + x;
                int in = x >= 10 && x < 30 && y >= 8 && y < 28 && z >= 8 && z < 16;
                int rim = in && (x == 10 || x == 29 || y == 8 || y == 27);
                img->values[i] = in ? 100.0f + (float)x : 10.0f + (float)(y % 3);
                lab->labels[i] = (uint16_t)in;
                ent->values[i] = rim ? 0.9f : in ? 0.2f : 0.0f;
            }
    char p[600];
    path_of(p, sizeof p, "img.nrrd");
    DS_CHECK_OK(ctx, ds_io_write(ctx, img, p, 1));
    path_of(p, sizeof p, "lab.nrrd");
    DS_CHECK_OK(ctx, ds_io_write(ctx, lab, p, 1));
    path_of(p, sizeof p, "ent.nrrd");
    DS_CHECK_OK(ctx, ds_io_write(ctx, ent, p, 1));
    ds_volume_free(img);
    ds_volume_free(lab);
    ds_volume_free(ent);
    path_of(p, sizeof p, "log.csv");
    FILE *f = fopen(p, "w");
    DS_CHECK(f != NULL);
    if (f) {
        fputs("iteration,lr,total_a,total_b,ce_a,ce_b,kept_fraction_a\n", f);
        for (int it = 1; it <= 4; ++it)
            fprintf(f, "%d,0.01,%g,%g,%g,%g,0.5\n", it, 2.0 / it, 2.1 / it, 1.0 / it, 1.1 / it);
        fclose(f);
    }
}

static void check_png(ds_ctx *ctx, const char *name, int w, int h)
{
    char p[600];
    path_of(p, sizeof p, name);
    ds_render_png png;
    DS_CHECK_OK(ctx, ds_render_read_png(ctx, p, &png));
    DS_CHECK_MSG(png.width == w && png.height == h, "%s is %d x %d, wanted %d x %d", name,
                 png.width, png.height, w, h);
    ds_render_png_free(&png);
}

static int exists(const char *name)
{
    char p[600];
    path_of(p, sizeof p, name);
    return access(p, F_OK) == 0;
}

int main(int argc, char **argv)
{
    DS_CHECK(argc == 2);
    if (argc != 2 || !mkdtemp(dir))
        return ds_test_finish("test_dualseg_report");
    ds_ctx *ctx = NULL;
    ds_ctx_create(&ctx);
    write_inputs(ctx);
    char cmd[4096];
    snprintf(cmd, sizeof cmd, "cd '%s' && '%s' --image img.nrrd --label lab.nrrd --entropy "
             "ent.nrrd --overlay o.png --montage m.png --vti v.vti --ctbl c.ctbl --slices 3 "
             "--title case > slices.txt", dir, argv[1]);
    DS_CHECK(exit_status(cmd) == 0);
    check_png(ctx, "o.png", 1200, 520);
    check_png(ctx, "m.png", 1200, 520);
    DS_CHECK(exists("v.vti") && exists("c.ctbl"));
    char p[600], line[256] = "";
    path_of(p, sizeof p, "slices.txt");
    FILE *f = fopen(p, "r");
    DS_CHECK(f && fgets(line, sizeof line, f));
    if (f)
        fclose(f);
    int s[3] = {-1, -1, -1};
    double sc[3];
    DS_CHECK_MSG(sscanf(line, "slices: %d (%lf) %d (%lf) %d (%lf)", &s[0], &sc[0], &s[1], &sc[1],
                        &s[2], &sc[2]) == 6, "printed '%s'", line);
    for (int i = 0; i < 3; ++i)
        DS_CHECK_MSG(s[i] >= 8 && s[i] < 16 && sc[i] > 0, "slice %d (%g) outside the box", s[i],
                     sc[i]);

    snprintf(cmd, sizeof cmd, "cd '%s' && '%s' --log log.csv --curve curve.png --size 640 480", dir, argv[1]);
    DS_CHECK(exit_status(cmd) == 0);
    check_png(ctx, "curve.png", 640, 480);

    /* a missing input: status 1, one line naming it, nothing written */
    snprintf(cmd, sizeof cmd, "cd '%s' && '%s' --image img.nrrd --label nothere.nrrd --entropy "
             "ent.nrrd --overlay o2.png 2> err.txt", dir, argv[1]);
    DS_CHECK(exit_status(cmd) == 1);
    DS_CHECK(!exists("o2.png"));
    path_of(p, sizeof p, "err.txt");
    f = fopen(p, "r");
    char err[1024] = "", more[8];
    DS_CHECK(f && fgets(err, sizeof err, f));
    DS_CHECK_MSG(strstr(err, "nothere.nrrd") && strncmp(err, "dualseg_report: ", 16) == 0,
                 "message '%s'", err);
    DS_CHECK(f && !fgets(more, sizeof more, f)); /* one line */
    if (f)
        fclose(f);
    snprintf(cmd, sizeof cmd, "cd '%s' && '%s' --log none.csv --curve c2.png 2> err.txt",
             dir, argv[1]);
    DS_CHECK(exit_status(cmd) == 1 && !exists("c2.png"));
    /* a model file for the legend that does not exist: status 1, its name, nothing written */
    snprintf(cmd, sizeof cmd, "cd '%s' && '%s' --image img.nrrd --label lab.nrrd --entropy "
             "ent.nrrd --overlay o3.png --model nomodel.dsm 2> err.txt", dir, argv[1]);
    DS_CHECK(exit_status(cmd) == 1 && !exists("o3.png"));
    f = fopen(p, "r");
    DS_CHECK(f && fgets(err, sizeof err, f) && strstr(err, "nomodel.dsm"));
    if (f)
        fclose(f);
    snprintf(cmd, sizeof cmd, "'%s' --image a 2> /dev/null", argv[1]);
    DS_CHECK(exit_status(cmd) == 2); /* an incomplete command line */

    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    DS_CHECK(system(cmd) == 0);
    ds_ctx_free(ctx);
    return ds_test_finish("test_dualseg_report");
}
