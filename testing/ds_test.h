/* ds_test.h - the minimal assertion harness of DualSeg's C tests.
 *
 * Each test program runs its checks, prints every failure with file and line, ends with
 * "N passed, N failed" and returns non-zero if any check failed; CTest reads the exit status.
 */
#ifndef DS_TEST_H
#define DS_TEST_H

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "ds_status.h"

static int ds_test_passed;
static int ds_test_failed;

#define DS_CHECK(cond)                                                                         \
    do {                                                                                       \
        if (cond) {                                                                            \
            ++ds_test_passed;                                                                  \
        } else {                                                                               \
            ++ds_test_failed;                                                                  \
            fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond);           \
        }                                                                                      \
    } while (0)

#define DS_CHECK_MSG(cond, ...)                                                                \
    do {                                                                                       \
        if (cond) {                                                                            \
            ++ds_test_passed;                                                                  \
        } else {                                                                               \
            ++ds_test_failed;                                                                  \
            fprintf(stderr, "%s:%d: check failed: %s: ", __FILE__, __LINE__, #cond);           \
            fprintf(stderr, __VA_ARGS__);                                                      \
            fputc('\n', stderr);                                                               \
        }                                                                                      \
    } while (0)

/* Expects a ds_status expression to succeed; prints the context's message otherwise. */
#define DS_CHECK_OK(ctx, expr)                                                                 \
    do {                                                                                       \
        ds_status ds_check_st_ = (expr);                                                       \
        DS_CHECK_MSG(ds_check_st_ == DS_OK, "%s (%s)", ds_status_name(ds_check_st_),           \
                     ds_ctx_message(ctx));                                                     \
    } while (0)

/* Expects a ds_status expression to fail with the given status and a non-empty message. */
#define DS_CHECK_FAILS(ctx, expr, want)                                                        \
    do {                                                                                       \
        ds_ctx_clear(ctx);                                                                     \
        ds_status ds_check_st_ = (expr);                                                       \
        DS_CHECK_MSG(ds_check_st_ == (want), "got '%s', want '%s'",                            \
                     ds_status_name(ds_check_st_), ds_status_name(want));                      \
        DS_CHECK_MSG(ds_ctx_message(ctx)[0] != '\0', "no message for a failure");              \
    } while (0)

/* |a - b| <= atol + rtol * |b| */
#define DS_CHECK_CLOSE(a, b, rtol, atol)                                                       \
    do {                                                                                       \
        double ds_a_ = (double)(a), ds_b_ = (double)(b);                                       \
        DS_CHECK_MSG(fabs(ds_a_ - ds_b_) <= (atol) + (rtol)*fabs(ds_b_), "%.9g vs %.9g",       \
                     ds_a_, ds_b_);                                                            \
    } while (0)

static inline int ds_test_finish(const char *name)
{
    printf("%s: %d passed, %d failed\n", name, ds_test_passed, ds_test_failed);
    return ds_test_failed == 0 && ds_test_passed > 0 ? 0 : 1;
}

#endif /* DS_TEST_H */
