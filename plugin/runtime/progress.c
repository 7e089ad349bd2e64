/* progress.c - Slicer's progress tags on stdout (SLICER_CLI.md rule 14), throttled, flushed,
 * with the time left in the comment. */
#include "ds_cli.h"

#include <math.h>
#include <time.h>

#define MIN_STEP 0.01     /* fraction advance worth a line ... */
#define MIN_GAP_S 0.25    /* ... once this much time has passed */
#define HEARTBEAT_S 2.0   /* a line at least this often while the work reports */
#define ETA_AFTER_S 1.0   /* time left only once the rate means something */

static double monotonic(void *user)
{
    (void)user;
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* Text with &, < and > escaped, so that a comment never closes Slicer's tags. */
static void put_text(FILE *out, const char *t)
{
    for (; t && *t; ++t) {
        if (*t == '&')
            fputs("&amp;", out);
        else if (*t == '<')
            fputs("&lt;", out);
        else if (*t == '>')
            fputs("&gt;", out);
        else if (*t == '\n' || *t == '\r')
            fputc(' ', out);
        else
            fputc(*t, out);
    }
}

static void put_duration(FILE *out, double s)
{
    long t = lround(s);
    if (t >= 3600)
        fprintf(out, "%ld h %ld min", t / 3600, (t % 3600) / 60);
    else if (t >= 60)
        fprintf(out, "%ld min %ld s", t / 60, t % 60);
    else
        fprintf(out, "%ld s", t);
}

void ds_cli_reporter_init(ds_cli_reporter *p, FILE *out, ds_cli_clock_fn clock, void *user)
{
    p->out = out;
    p->clock = clock ? clock : monotonic;
    p->clock_user = user;
    p->t0 = p->clock(p->clock_user);
    p->last_emit = p->t0;
    p->last_fraction = 0;
    p->emitted = 0;
}

void ds_cli_reporter_start(ds_cli_reporter *p, const char *name, const char *comment)
{
    p->t0 = p->last_emit = p->clock(p->clock_user);
    fputs("<filter-start><filter-name>", p->out);
    put_text(p->out, name);
    fputs("</filter-name><filter-comment>", p->out);
    put_text(p->out, comment);
    fputs("</filter-comment></filter-start>\n", p->out);
    fflush(p->out);
}

void ds_cli_reporter_update(ds_cli_reporter *p, double fraction, double stage,
                            const char *comment)
{
    if (isnan(fraction))
        return;
    double f = fraction < 0 ? 0 : fraction > 1 ? 1 : fraction;
    if (f < p->last_fraction)
        f = p->last_fraction; /* never back: Slicer shows the last value it read */
    const double now = p->clock(p->clock_user);
    const double gap = now - p->last_emit;
    const int finished = f >= 1 && p->last_fraction < 1;
    if (!(p->emitted == 0 || finished || gap >= HEARTBEAT_S ||
          (f - p->last_fraction >= MIN_STEP && gap >= MIN_GAP_S)))
        return;
    fprintf(p->out, "<filter-progress>%.4f</filter-progress>\n", f);
    if (stage >= 0)
        fprintf(p->out, "<filter-stage-progress>%.4f</filter-stage-progress>\n",
                stage > 1 ? 1.0 : stage);
    const double elapsed = now - p->t0;
    const int eta = elapsed >= ETA_AFTER_S && f > 0 && f < 1;
    if (comment || eta) {
        fputs("<filter-comment>", p->out);
        put_text(p->out, comment);
        if (eta) {
            fputs(comment ? ": about " : "about ", p->out);
            put_duration(p->out, elapsed * (1 - f) / f);
            fputs(" left", p->out);
        }
        fputs("</filter-comment>\n", p->out);
    }
    fflush(p->out);
    p->last_emit = now;
    p->last_fraction = f;
    p->emitted = 1;
}

void ds_cli_reporter_end(ds_cli_reporter *p, const char *name)
{
    const double t = p->clock(p->clock_user) - p->t0;
    fputs("<filter-end><filter-name>", p->out);
    put_text(p->out, name);
    fprintf(p->out, "</filter-name><filter-time>%.3f</filter-time></filter-end>\n", t);
    fflush(p->out);
}
