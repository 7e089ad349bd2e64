/* test_render_curve.c - the training-log reader and the training-curve plot. The CSV is written
 * here with the trainer's header (core/train/log.c: iteration, lr, ramp, seconds, then per
 * network total, the seven terms, kept fraction / foreground, entropy threshold; then
 * validation_dice) and known values: a loss falling as exp(-i / 20), a step learning rate, a
 * rising kept fraction. Checked: the parsed values, NaN for empty fields, a torn last line
 * dropped, bad rows refused with their line, and in the PNG the size, the curve's colour in the
 * loss panel and its fall from left to right; the line plot of a small result table. */
#include "ds_render.h"
#include "ds_test.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char *TERMS[7] = {"ce", "dice", "cr", "cce", "kl", "con", "cos"};

static void write_log(const char *path, int rows, int torn)
{
    FILE *f = fopen(path, "w");
    fputs("iteration,lr,ramp,seconds", f);
    for (int n = 0; n < 2; ++n) {
        fprintf(f, ",total_%c", 'a' + n);
        for (int t = 0; t < 7; ++t)
            fprintf(f, ",%s_%c", TERMS[t], 'a' + n);
        fprintf(f, ",kept_fraction_%c,kept_foreground_%c,entropy_threshold_%c", 'a' + n, 'a' + n,
                'a' + n);
    }
    fputs(",validation_dice\n", f);
    for (int i = 1; i <= rows; ++i) {
        double loss = exp(-i / 20.0), lr = i <= rows / 2 ? 0.01 : 0.001;
        fprintf(f, "%d,%.9g,%.9g,%.6f", i, lr, fmin(1.0, i / 50.0), 0.1 * i);
        for (int n = 0; n < 2; ++n) {
            fprintf(f, ",%.9g", loss * (n ? 1.1 : 1.0));
            for (int t = 0; t < 7; ++t) /* cos stays 0: it must be left out of the plot */
                fprintf(f, ",%.9g", t == 6 ? 0.0 : loss * (0.2 + 0.1 * t));
            fprintf(f, ",%.9g,%.9g,%.9g", 0.5 + 0.4 * i / rows, 0.3, 0.2);
        }
        if (i % 25 == 0)
            fprintf(f, ",%.9g\n", 0.5 + 0.004 * i);
        else
            fputs(",\n", f);
    }
    if (torn)
        fputs("101,0.001,1,0.5,0.3", f);
    fclose(f);
}

static void test_reader(ds_ctx *ctx, const char *dir)
{
    char path[512];
    snprintf(path, sizeof path, "%s/log.csv", dir);
    write_log(path, 100, 1);
    ds_render_table t;
    DS_CHECK_OK(ctx, ds_render_read_csv(ctx, path, &t));
    DS_CHECK_MSG(t.columns == 4 + 2 * 11 + 1 && t.rows == 100, "%d columns, %lld rows",
                 t.columns, (long long)t.rows);
    int it = ds_render_table_column(&t, "iteration"), lr = ds_render_table_column(&t, "lr");
    int dice = ds_render_table_column(&t, "validation_dice");
    DS_CHECK(it == 0 && lr == 1 && dice == t.columns - 1);
    DS_CHECK(ds_render_table_column(&t, "nope") == -1);
    DS_CHECK(t.values[99 * t.columns + it] == 100.0);
    DS_CHECK(t.values[10 * t.columns + lr] == 0.01);
    DS_CHECK(isnan(t.values[0 * t.columns + dice]));
    DS_CHECK_CLOSE(t.values[24 * t.columns + dice], 0.6, 0, 1e-12);
    ds_render_table_free(&t);
    FILE *f = fopen(path, "a");
    fputs("\n5,0.1,x\n", f);
    fclose(f);
    DS_CHECK_FAILS(ctx, ds_render_read_csv(ctx, path, &t), DS_ERR_FORMAT);
    DS_CHECK_MSG(strstr(ds_ctx_message(ctx), ":102:") != NULL, "message: %s",
                 ds_ctx_message(ctx));
    DS_CHECK(t.values == NULL && t.names == NULL);
    unlink(path);
}

static void test_plot(ds_ctx *ctx, const char *dir, const char *keep)
{
    char csv[512], png[512];
    snprintf(csv, sizeof csv, "%s/log.csv", dir);
    snprintf(png, sizeof png, "%s/curve.png", keep ? keep : dir);
    write_log(csv, 100, 0);
    ds_render_table t;
    DS_CHECK_OK(ctx, ds_render_read_csv(ctx, csv, &t));
    ds_render_options o;
    ds_render_options_init(&o);
    o.width = 800;
    o.height = 700;
    o.title = "curve test";
    DS_CHECK_OK(ctx, ds_render_training_curve(ctx, &t, &o, png));
    ds_render_png p;
    DS_CHECK_OK(ctx, ds_render_read_png(ctx, png, &p));
    DS_CHECK_MSG(p.width == 800 && p.height == 700, "size %dx%d", p.width, p.height);
    /* "total A" is the first series: sky blue (86, 180, 233), drawn in the top third; in the
     * left half (clear of the legend) its topmost pixel goes down as x grows (the loss falls) */
    int first_y = -1, last_y = -1, first_x = -1, last_x = -1;
    for (int x = 0; x < p.width / 2; ++x)
        for (int y = 0; y < p.height / 3; ++y) {
            const uint8_t *q = p.rgb + 3 * ((size_t)y * p.width + x);
            if (abs(q[0] - 86) < 6 && abs(q[1] - 180) < 6 && abs(q[2] - 233) < 6) {
                if (first_x < 0) {
                    first_x = x;
                    first_y = y;
                }
                last_x = x;
                last_y = y;
                break;
            }
        }
    DS_CHECK_MSG(first_x >= 0 && last_x > first_x + p.width / 5, "curve columns %d..%d", first_x,
                 last_x);
    DS_CHECK_MSG(last_y > first_y + 20, "the loss curve does not fall: y %d -> %d", first_y,
                 last_y);
    ds_render_png_free(&p);
    t.rows = 0;
    DS_CHECK_FAILS(ctx, ds_render_training_curve(ctx, &t, &o, png), DS_ERR_FORMAT);
    ds_render_table_free(&t);
    unlink(csv);
    if (!keep)
        unlink(png);
}

/* The line plot of a small result table: entropy rises 0.5, 0.6, 0.7 over x = 1, 2, 3; random
 * 0.5, 0.55 and a missing value. Expected by construction: the first series (sky blue) climbs
 * from left to right (its topmost pixel rises), the second (orange, 230 159 0) stops at x = 2,
 * halfway across, so the right quarter holds none of it; no x column is refused. */
static void test_line_plot(ds_ctx *ctx, const char *dir)
{
    char csv[512], png[512];
    snprintf(csv, sizeof csv, "%s/results.csv", dir);
    snprintf(png, sizeof png, "%s/results.png", dir);
    FILE *f = fopen(csv, "w");
    fputs("slices per case,entropy,random\n1,0.5,0.5\n2,0.6,0.55\n3,0.7,\n", f);
    fclose(f);
    ds_render_table t;
    DS_CHECK_OK(ctx, ds_render_read_csv(ctx, csv, &t));
    ds_render_options o;
    ds_render_options_init(&o);
    o.width = 900;
    o.height = 600;
    DS_CHECK_OK(ctx, ds_render_line_plot(ctx, &t, "slices per case", "Dice", &o, png));
    ds_render_png p;
    DS_CHECK_OK(ctx, ds_render_read_png(ctx, png, &p));
    DS_CHECK(p.width == 900 && p.height == 600);
    int top_left = -1, top_mid = -1, orange_right = 0, orange = 0;
    for (int x = 0; x < p.width; ++x)
        for (int y = 0; y < p.height; ++y) {
            const uint8_t *q = p.rgb + 3 * ((size_t)y * p.width + x);
            const int blue = abs(q[0] - 86) < 6 && abs(q[1] - 180) < 6 && abs(q[2] - 233) < 6;
            const int is_orange = abs(q[0] - 230) < 6 && abs(q[1] - 159) < 6 && q[2] < 6;
            if (blue && x < p.width / 5 && top_left < 0)
                top_left = y;
            if (blue && x > p.width / 2 && x < p.width * 3 / 5 && top_mid < 0)
                top_mid = y;
            orange += is_orange && y > p.height / 5; /* below the legend */
            orange_right += is_orange && y > p.height / 5 && x > p.width * 3 / 4;
        }
    DS_CHECK_MSG(top_left > 0 && top_mid > 0 && top_mid < top_left - 50, "blue %d -> %d",
                 top_left, top_mid);
    DS_CHECK_MSG(orange > 50 && orange_right == 0, "orange %d, right of x = 2: %d", orange,
                 orange_right);
    ds_render_png_free(&p);
    DS_CHECK_FAILS(ctx, ds_render_line_plot(ctx, &t, "round", "Dice", &o, png), DS_ERR_FORMAT);
    ds_render_table_free(&t);
    unlink(csv);
    unlink(png);
}

int main(void)
{
    ds_ctx *ctx = NULL;
    ds_ctx_create(&ctx);
    char dir[] = "/tmp/ds_render_curve_XXXXXX";
    DS_CHECK(mkdtemp(dir) != NULL);
    test_reader(ctx, dir);
    test_plot(ctx, dir, getenv("DS_RENDER_KEEP"));
    test_line_plot(ctx, dir);
    rmdir(dir);
    ds_ctx_free(ctx);
    return ds_test_finish("test_render_curve");
}
