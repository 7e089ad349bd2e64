/* log.c - the per-iteration CSV log. Rows are appended and flushed one at a time (append-safe:
 * a stopped run leaves whole rows and at most one torn last line); on resume the file is cut
 * back to the rows of the checkpoint's iterations, atomically, so no iteration appears twice. */
#include "train_internal.h"
#include "ds_atomic_file.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

static void write_header(FILE *f)
{
    fputs("iteration,lr,ramp,seconds", f);
    for (int n = 0; n < 2; ++n) {
        fprintf(f, ",total_%c", 'a' + n);
        for (int t = 0; t < DS_LOSS_TERM_COUNT; ++t)
            fprintf(f, ",%s_%c", ds_loss_term_name((ds_loss_term)t), 'a' + n);
        fprintf(f, ",kept_fraction_%c,kept_foreground_%c,entropy_threshold_%c", 'a' + n, 'a' + n,
                'a' + n);
    }
    fputs(",validation_dice\n", f);
}

/* Copies the header and the whole rows of iterations <= from into af. */
static ds_status cut(ds_ctx *ctx, FILE *in, ds_atomic_file *af, int64_t from)
{
    char *line = NULL;
    size_t cap = 0;
    ssize_t len;
    int first = 1;
    while ((len = getline(&line, &cap, in)) > 0) {
        if (line[len - 1] != '\n')
            break; /* torn by a stop */
        char *end;
        long long it = strtoll(line, &end, 10);
        if (first || (end != line && *end == ',' && it <= from))
            fputs(line, af->f);
        first = 0;
    }
    free(line);
    if (ferror(in))
        return ds_fail(ctx, DS_ERR_IO, "train log: reading failed");
    return DS_OK;
}

ds_status ds_train_log_open(ds_ctx *ctx, ds_train_log *log, const char *path, int resume,
                            int64_t from)
{
    log->f = NULL;
    log->path = path;
    if (!path)
        return DS_OK;
    ds_atomic_file af;
    TRY(ds_atomic_open(ctx, &af, path));
    FILE *old = resume ? fopen(path, "r") : NULL;
    ds_status st = DS_OK;
    if (old) {
        st = cut(ctx, old, &af, from);
        fclose(old);
    } else {
        write_header(af.f);
    }
    if (st != DS_OK) {
        ds_atomic_abort(&af);
        return st;
    }
    TRY(ds_atomic_commit(ctx, &af));
    log->f = fopen(path, "a");
    if (!log->f)
        return ds_fail(ctx, DS_ERR_IO, "train log %s: %s", path, strerror(errno));
    return DS_OK;
}

ds_status ds_train_log_row(ds_ctx *ctx, ds_train_log *log, const ds_train_progress *p,
                           double seconds)
{
    if (!log->f)
        return DS_OK;
    FILE *f = log->f;
    fprintf(f, "%lld,%.9g,%.9g,%.6f", (long long)p->iteration, p->lr, p->ramp, seconds);
    for (int n = 0; n < 2; ++n) {
        fprintf(f, ",%.9g", p->loss.total[n]);
        for (int t = 0; t < DS_LOSS_TERM_COUNT; ++t)
            fprintf(f, ",%.9g", p->loss.term[n][t]);
        fprintf(f, ",%.9g,%.9g,%.9g", p->loss.kept_fraction[n], p->loss.kept_foreground[n],
                p->loss.entropy_threshold[n]);
    }
    if (isnan(p->validation_dice))
        fputs(",\n", f);
    else
        fprintf(f, ",%.9g\n", p->validation_dice);
    if (fflush(f) != 0 || ferror(f))
        return ds_fail(ctx, DS_ERR_IO, "train log %s: writing failed", log->path);
    return DS_OK;
}

void ds_train_log_close(ds_train_log *log)
{
    if (log->f)
        fclose(log->f);
    log->f = NULL;
}
