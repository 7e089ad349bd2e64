/* scaling.c - the scaling plots of BENCHMARKS.md: training time and peak memory against the
 * patch, segmentation time against the volume. */
#include <stdio.h>
#include <stdlib.h>

#include "bench.h"
#include "ds_render.h"

static int column(ds_ctx *ctx, const ds_render_table *t, const char *name, const char *path)
{
    const int c = ds_render_table_column(t, name);
    if (c < 0)
        ds_fail(ctx, DS_ERR_FORMAT, "%s: no column %s", path, name);
    return c;
}

/* Series of column ycol against "voxels" for the rows whose column sel equals want (sel < 0:
 * every row); xs, ys receive them. */
static int64_t gather(const ds_render_table *t, int xcol, int ycol, int sel, double want,
                      double *xs, double *ys)
{
    int64_t n = 0;
    for (int64_t r = 0; r < t->rows; ++r)
        if (sel < 0 || t->values[r * t->columns + sel] == want) {
            xs[n] = t->values[r * t->columns + xcol];
            ys[n++] = t->values[r * t->columns + ycol];
        }
    return n;
}

static ds_status plot_pair(ds_ctx *ctx, const ds_render_table *t, const char *path,
                           const char *const y[2], int by_pair, const char *title,
                           const char *ylabel, const char *out)
{
    const int x = column(ctx, t, "voxels", path), sel = by_pair ? column(ctx, t, "pair", path) : -1;
    const int yc[2] = {column(ctx, t, y[0], path), column(ctx, t, y[1], path)};
    if (x < 0 || yc[0] < 0 || yc[1] < 0 || (by_pair && sel < 0))
        return DS_ERR_FORMAT;
    double *buf = malloc(sizeof *buf * (size_t)(8 * t->rows + 8));
    if (!buf)
        return ds_fail(ctx, DS_ERR_NOMEM, "out of memory");
    static const char *const who[2][2] = {{"DualSeg, V-Net", "PyTorch, V-Net"},
                                          {"DualSeg, pair", "PyTorch, pair"}};
    ds_render_series s[4];
    int count = 0;
    for (int p = by_pair ? 0 : 1; p < 2; ++p)
        for (int k = 0; k < 2; ++k, ++count) {
            double *xs = buf + 2 * count * t->rows, *ys = xs + t->rows;
            const char *name = by_pair ? who[p][k] : k ? "PyTorch, pair" : "DualSeg, pair";
            s[count] = (ds_render_series){name, xs, ys, gather(t, x, yc[k], sel, p, xs, ys),
                                          DS_RENDER_MARK_LINE};
        }
    ds_render_plot_options po;
    ds_render_plot_options_init(&po);
    po.x_scale = po.y_scale = DS_RENDER_SCALE_LOG;
    po.x_label = by_pair ? "voxels in the patch" : "voxels in the volume";
    po.y_label = ylabel;
    ds_render_options o;
    ds_render_options_init(&o);
    o.width = 900;
    o.height = 600;
    o.title = title;
    const ds_status st = ds_render_xy_plot(ctx, s, count, &po, &o, out);
    free(buf);
    return st;
}

int bench_scaling(char **argv)
{
    ds_ctx *ctx = NULL;
    if (ds_ctx_create(&ctx) != DS_OK)
        return 1;
    ds_render_table train, seg;
    char out[3][1024];
    static const char *const files[3] = {"scaling_train_time", "scaling_train_memory",
                                         "scaling_segment_time"};
    for (int i = 0; i < 3; ++i)
        snprintf(out[i], sizeof out[i], "%s/%s.png", argv[2], files[i]);
    ds_status st = ds_render_read_csv(ctx, argv[0], &train);
    if (st == DS_OK) {
        st = plot_pair(ctx, &train, argv[0], (const char *const[2]){"ours_s", "torch_s"}, 1,
                       "Training: seconds per iteration against the patch (batch 2 + 2)",
                       "s / iteration", out[0]);
        if (st == DS_OK)
            st = plot_pair(ctx, &train, argv[0], (const char *const[2]){"ours_mib", "torch_mib"},
                           1, "Training: peak memory against the patch", "peak MiB", out[1]);
        ds_render_table_free(&train);
    }
    if (st == DS_OK && (st = ds_render_read_csv(ctx, argv[1], &seg)) == DS_OK) {
        st = plot_pair(ctx, &seg, argv[1], (const char *const[2]){"ours_s", "torch_s"}, 0,
                       "Segmentation of one volume (the pair) against its size", "seconds",
                       out[2]);
        ds_render_table_free(&seg);
    }
    if (st != DS_OK)
        fprintf(stderr, "dualseg_bench: %s\n", ds_ctx_message(ctx));
    ds_ctx_free(ctx);
    return st == DS_OK ? 0 : 1;
}
