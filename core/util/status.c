/* status.c - the library context: last error message, log callback, thread count. */
#include "ctx_internal.h"
#include "ds_threads.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

ds_status ds_ctx_create(ds_ctx **out)
{
    if (!out)
        return DS_ERR_ARG;
    *out = NULL;
    ds_ctx *ctx = calloc(1, sizeof *ctx);
    if (!ctx)
        return DS_ERR_NOMEM;
    ctx->log_min = DS_LOG_INFO;
    ctx->threads = ds_threads_default();
    *out = ctx;
    return DS_OK;
}

void ds_ctx_free(ds_ctx *ctx) { free(ctx); }

ds_status ds_ctx_set_log(ds_ctx *ctx, ds_log_fn fn, void *user, ds_log_level min_level)
{
    if (!ctx)
        return DS_ERR_ARG;
    if (min_level < DS_LOG_DEBUG || min_level > DS_LOG_ERROR)
        return ds_fail(ctx, DS_ERR_ARG, "log level %d is not one of DS_LOG_DEBUG..DS_LOG_ERROR",
                       (int)min_level);
    ctx->log_fn = fn;
    ctx->log_user = fn ? user : NULL;
    ctx->log_min = min_level;
    return DS_OK;
}

const char *ds_ctx_message(const ds_ctx *ctx) { return ctx ? ctx->message : ""; }

ds_status ds_ctx_last_status(const ds_ctx *ctx) { return ctx ? ctx->last_status : DS_OK; }

void ds_ctx_clear(ds_ctx *ctx)
{
    if (!ctx)
        return;
    ctx->last_status = DS_OK;
    ctx->message[0] = '\0';
}

int ds_ctx_threads(const ds_ctx *ctx) { return ctx ? ctx->threads : 1; }

const char *ds_status_name(ds_status status)
{
    switch (status) {
    case DS_OK: return "ok";
    case DS_ERR_ARG: return "invalid argument";
    case DS_ERR_NOMEM: return "out of memory";
    case DS_ERR_SHAPE: return "shape mismatch";
    case DS_ERR_IO: return "input/output error";
    case DS_ERR_FORMAT: return "bad file format";
    case DS_ERR_NUMERIC: return "numerical error";
    case DS_ERR_UNSUPPORTED: return "unsupported";
    case DS_ERR_INTERNAL: return "internal error";
    }
    return "unknown status";
}

/* Replaces line breaks so that a message stays one line whatever was formatted into it. */
static void flatten_line(char *s)
{
    for (; *s; ++s)
        if (*s == '\n' || *s == '\r')
            *s = ' ';
}

static void emit(const ds_ctx *ctx, ds_log_level level, const char *msg)
{
    if (ctx && ctx->log_fn && level >= ctx->log_min)
        ctx->log_fn(ctx->log_user, level, msg);
}

ds_status ds_fail(ds_ctx *ctx, ds_status status, const char *fmt, ...)
{
    if (status == DS_OK)
        status = DS_ERR_INTERNAL; /* a failure must never read as success */
    if (!ctx)
        return status;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(ctx->message, sizeof ctx->message, fmt, ap);
    va_end(ap);
    flatten_line(ctx->message);
    ctx->last_status = status;
    emit(ctx, DS_LOG_ERROR, ctx->message);
    return status;
}

void ds_log(const ds_ctx *ctx, ds_log_level level, const char *fmt, ...)
{
    if (!ctx || !ctx->log_fn || level < ctx->log_min)
        return;
    char line[DS_MESSAGE_CAP];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    flatten_line(line);
    emit(ctx, level, line);
}
