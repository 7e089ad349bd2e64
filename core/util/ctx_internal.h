/* ctx_internal.h - the layout of ds_ctx, private to the core library. */
#ifndef DS_CTX_INTERNAL_H
#define DS_CTX_INTERNAL_H

#include "ds_status.h"

struct ds_ctx {
    ds_log_fn log_fn;
    void *log_user;
    ds_log_level log_min;
    ds_status last_status;
    char message[DS_MESSAGE_CAP];
    int threads;
};

#endif
