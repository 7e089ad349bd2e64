/* try.h - TRY(expr): return the status of expr from the calling function unless it is DS_OK
 * (private to core/nets; the message is already in the context). */
#ifndef DS_NETS_TRY_H
#define DS_NETS_TRY_H

#include "ds_status.h"

#define TRY(expr)                                                                              \
    do {                                                                                       \
        ds_status try_st_ = (expr);                                                            \
        if (try_st_ != DS_OK)                                                                  \
            return try_st_;                                                                    \
    } while (0)

#endif
