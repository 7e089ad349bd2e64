/* test_status.c - status codes, context messages and the log callback. */
#include "ds_status.h"
#include "ds_test.h"

#include <stdlib.h>

typedef struct log_capture {
    int calls;
    ds_log_level last_level;
    char last[DS_MESSAGE_CAP];
} log_capture;

static void capture(void *user, ds_log_level level, const char *msg)
{
    log_capture *cap = user;
    cap->calls++;
    cap->last_level = level;
    snprintf(cap->last, sizeof cap->last, "%s", msg);
}

int main(void)
{
    ds_ctx *ctx = NULL;
    DS_CHECK(ds_ctx_create(&ctx) == DS_OK && ctx != NULL);
    DS_CHECK(ds_ctx_create(NULL) == DS_ERR_ARG);

    /* A fresh context has no failure. */
    DS_CHECK(strcmp(ds_ctx_message(ctx), "") == 0);
    DS_CHECK(ds_ctx_last_status(ctx) == DS_OK);

    /* ds_fail records the status and the formatted message, and returns the status. */
    DS_CHECK(ds_fail(ctx, DS_ERR_SHAPE, "volume %s is %dx%d", "a.nrrd", 3, 4) == DS_ERR_SHAPE);
    DS_CHECK(strcmp(ds_ctx_message(ctx), "volume a.nrrd is 3x4") == 0);
    DS_CHECK(ds_ctx_last_status(ctx) == DS_ERR_SHAPE);
    ds_ctx_clear(ctx);
    DS_CHECK(ds_ctx_last_status(ctx) == DS_OK && ds_ctx_message(ctx)[0] == '\0');

    /* A failure can never read as success. */
    DS_CHECK(ds_fail(ctx, DS_OK, "misuse") == DS_ERR_INTERNAL);

    /* Messages stay on one line and are cut, not overflowed. */
    ds_fail(ctx, DS_ERR_IO, "line one\nline two\r");
    DS_CHECK(strchr(ds_ctx_message(ctx), '\n') == NULL && strchr(ds_ctx_message(ctx), '\r') == NULL);
    char big[4 * DS_MESSAGE_CAP];
    memset(big, 'x', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    ds_fail(ctx, DS_ERR_IO, "%s", big);
    DS_CHECK(strlen(ds_ctx_message(ctx)) == DS_MESSAGE_CAP - 1);

    /* Every status has a distinct, non-empty name. */
    for (int a = DS_OK; a <= DS_ERR_INTERNAL; ++a) {
        DS_CHECK(ds_status_name((ds_status)a)[0] != '\0');
        for (int b = a + 1; b <= DS_ERR_INTERNAL; ++b)
            DS_CHECK(strcmp(ds_status_name((ds_status)a), ds_status_name((ds_status)b)) != 0);
    }
    DS_CHECK(strcmp(ds_status_name((ds_status)999), "unknown status") == 0);

    /* The log callback receives failures at ERROR and respects the minimum level. */
    log_capture cap = {0, DS_LOG_DEBUG, ""};
    DS_CHECK_OK(ctx, ds_ctx_set_log(ctx, capture, &cap, DS_LOG_INFO));
    ds_log(ctx, DS_LOG_DEBUG, "hidden %d", 1);
    DS_CHECK(cap.calls == 0);
    ds_log(ctx, DS_LOG_INFO, "shown %d", 2);
    DS_CHECK(cap.calls == 1 && cap.last_level == DS_LOG_INFO && strcmp(cap.last, "shown 2") == 0);
    ds_fail(ctx, DS_ERR_FORMAT, "bad magic in %s", "m.dsm");
    DS_CHECK(cap.calls == 2 && cap.last_level == DS_LOG_ERROR);
    DS_CHECK(strcmp(cap.last, "bad magic in m.dsm") == 0);
    DS_CHECK_FAILS(ctx, ds_ctx_set_log(ctx, capture, &cap, (ds_log_level)42), DS_ERR_ARG);

    /* Removing the callback silences the library again. */
    DS_CHECK_OK(ctx, ds_ctx_set_log(ctx, NULL, NULL, DS_LOG_DEBUG));
    int before = cap.calls;
    ds_log(ctx, DS_LOG_ERROR, "nobody hears this");
    ds_fail(ctx, DS_ERR_IO, "nor this");
    DS_CHECK(cap.calls == before);

    /* A NULL context is tolerated everywhere. */
    DS_CHECK(ds_fail(NULL, DS_ERR_ARG, "dropped") == DS_ERR_ARG);
    DS_CHECK(strcmp(ds_ctx_message(NULL), "") == 0);
    DS_CHECK(ds_ctx_threads(NULL) == 1);

    ds_ctx_free(ctx);
    ds_ctx_free(NULL);
    return ds_test_finish("test_status");
}
