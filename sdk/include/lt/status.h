/* lt/status.h — status codes and the thread-local last-error message. */
#ifndef LT_STATUS_H
#define LT_STATUS_H

#include <stddef.h>

#include "version.h"

/* One table generates the enum, lt_status_name() and lt_status_str(). */
#define LT_STATUS_MAP(X)                                                                           \
    X(OK, "success")                                                                               \
    X(ERR_INVALID_ARG, "invalid argument")                                                         \
    X(ERR_SHAPE, "shape mismatch")                                                                 \
    X(ERR_DTYPE, "unsupported dtype")                                                              \
    X(ERR_OOM, "out of memory")                                                                    \
    X(ERR_IO, "input/output error")                                                                \
    X(ERR_FORMAT, "malformed file")                                                                \
    X(ERR_PLUGIN, "plugin cannot be loaded")                                                       \
    X(ERR_ABI, "plugin ABI mismatch")                                                              \
    X(ERR_DEVICE, "device error")                                                                  \
    X(ERR_NUMERIC, "non-finite value")                                                             \
    X(ERR_STATE, "call not valid in this state")                                                   \
    X(ERR_UNSUPPORTED, "unsupported operation")

typedef enum {
#define LT_STATUS_ENUM_(name, msg) LT_##name,
    LT_STATUS_MAP(LT_STATUS_ENUM_)
#undef LT_STATUS_ENUM_
        LT_STATUS_COUNT
} lt_status;

/* "LT_ERR_SHAPE" for LT_ERR_SHAPE. */
LT_API const char *lt_status_name(lt_status s);
/* A short English description of the code. */
LT_API const char *lt_status_str(lt_status s);
/* The message of the last failed call on this thread ("" if none). */
LT_API const char *lt_last_error(void);
/* The status of the last failed call on this thread (LT_OK if none). */
LT_API lt_status lt_last_status(void);
/* Forget the last error on this thread. */
LT_API void lt_clear_error(void);
/* Record an error message for this thread (control characters escaped: always one
 * line); returns s. An argument may be lt_last_error() itself, to add context. Ops given
 * a NULL input return NULL without touching it, so the first failure in a chain is what
 * is reported. */
LT_API lt_status lt_set_error(lt_status s, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* s copied into buf (n > 0 bytes) with control characters written as C escapes ("\n",
 * "\x1b"), cut at an escape that does not fit: text from a file quoted in a one-line
 * message cannot break it into lines, one of which could pose as another message. */
LT_API const char *lt_escape_text(const char *s, char *buf, size_t n);

#endif
