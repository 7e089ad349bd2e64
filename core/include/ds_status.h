/* ds_status.h - status codes, the library context, error messages and logging.
 *
 * Every public function of the DualSeg core returns a ds_status. Functions that can fail take a
 * ds_ctx as their first argument; on failure they record a one-line, human-readable message in
 * that context (retrieved with ds_ctx_message) and return a non-zero status. The library never
 * prints and never exits: all diagnostics go through the context's log callback, which is unset
 * (silent) by default. There is no hidden global state: one context per caller, and a context is
 * not shared by threads that may fail concurrently.
 */
#ifndef DS_STATUS_H
#define DS_STATUS_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef enum ds_status {
    DS_OK = 0,
    DS_ERR_ARG,         /* an argument is invalid (null, out of range, absurd)       */
    DS_ERR_NOMEM,       /* an allocation failed or a size overflowed                 */
    DS_ERR_SHAPE,       /* tensor / volume dimensions do not fit together            */
    DS_ERR_IO,          /* a file could not be opened, read, written or renamed      */
    DS_ERR_FORMAT,      /* a file is corrupt, truncated, foreign or a wrong version  */
    DS_ERR_NUMERIC,     /* NaN, Inf or another numerical failure                     */
    DS_ERR_UNSUPPORTED, /* a valid request this build cannot honour                  */
    DS_ERR_INTERNAL     /* a broken invariant: a bug in DualSeg                      */
} ds_status;

typedef enum ds_log_level {
    DS_LOG_DEBUG = 0,
    DS_LOG_INFO,
    DS_LOG_WARN,
    DS_LOG_ERROR
} ds_log_level;

/* Receives every message the library emits; msg is one line without a trailing newline and is
 * valid only during the call. */
typedef void (*ds_log_fn)(void *user, ds_log_level level, const char *msg);

typedef struct ds_ctx ds_ctx;

/* Longest message kept by a context, including the terminating NUL; longer ones are cut. */
#define DS_MESSAGE_CAP 512

/* Creates a context: no log callback, empty message, threads = the ds_threads default. */
ds_status ds_ctx_create(ds_ctx **out);
void ds_ctx_free(ds_ctx *ctx);

/* Installs (or, with fn == NULL, removes) the log callback and the minimum level passed to it. */
ds_status ds_ctx_set_log(ds_ctx *ctx, ds_log_fn fn, void *user, ds_log_level min_level);

/* The message of the last failure recorded in ctx ("" when none). Never NULL. */
const char *ds_ctx_message(const ds_ctx *ctx);
/* The status of the last failure recorded in ctx (DS_OK when none). */
ds_status ds_ctx_last_status(const ds_ctx *ctx);
/* Forgets the last failure. */
void ds_ctx_clear(ds_ctx *ctx);

/* Threads this context's work may use in total (OpenMP and OpenBLAS together); see ds_threads.h. */
int ds_ctx_threads(const ds_ctx *ctx);

/* A short constant name for a status ("ok", "invalid argument", ...). Never NULL. */
const char *ds_status_name(ds_status status);

/* For the library's own modules (and bridges): record a failure and return its status.
 * The message is formatted like printf, cut to DS_MESSAGE_CAP, and also sent to the log
 * callback at DS_LOG_ERROR. Returns status so that callers can write
 *     return ds_fail(ctx, DS_ERR_ARG, "patch size %d is not positive", p);
 * A NULL ctx is allowed (the message is then dropped). */
ds_status ds_fail(ds_ctx *ctx, ds_status status, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;

/* For the library's own modules: evaluates expr (a ds_status) and returns it from the calling
 * function unless it is DS_OK; the message is already in the context. The one way the core
 * passes a failure on. */
#define DS_TRY(expr)                                                                           \
    do {                                                                                       \
        ds_status ds_try_st_ = (expr);                                                         \
        if (ds_try_st_ != DS_OK)                                                               \
            return ds_try_st_;                                                                 \
    } while (0)

/* Sends a formatted line to the log callback if one is installed and level is high enough. */
void ds_log(const ds_ctx *ctx, ds_log_level level, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;

#ifdef __cplusplus
}
#endif

#endif /* DS_STATUS_H */
