/* Status codes and the thread-local last-error message. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "lt_impl.h"

static const char *const status_names[] = {
#define LT_STATUS_NAME_(name, msg) "LT_" #name,
    LT_STATUS_MAP(LT_STATUS_NAME_)
#undef LT_STATUS_NAME_
};

static const char *const status_msgs[] = {
#define LT_STATUS_MSG_(name, msg) msg,
    LT_STATUS_MAP(LT_STATUS_MSG_)
#undef LT_STATUS_MSG_
};

/* Per thread, so concurrent loader workers and the main loop never mix messages. */
static _Thread_local char last_msg[1024];
static _Thread_local lt_status last_status;

const char *lt_status_name(lt_status s) {
    return (unsigned)s < LT_STATUS_COUNT ? status_names[s] : "LT_UNKNOWN";
}

const char *lt_status_str(lt_status s) {
    return (unsigned)s < LT_STATUS_COUNT ? status_msgs[s] : "unknown status";
}

const char *lt_last_error(void) { return last_msg; }
lt_status lt_last_status(void) { return last_status; }

void lt_clear_error(void) {
    last_msg[0] = '\0';
    last_status = LT_OK;
}

lt_status lt_set_error(lt_status s, const char *fmt, ...) {
    char tmp[sizeof last_msg]; /* fmt may name last_msg itself (adding context) */
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(tmp, sizeof tmp, fmt, ap);
    va_end(ap);
    lt_escape_text(tmp, last_msg,
                   sizeof last_msg); /* one line, whatever a file put in the arguments */
    last_status = s;
    return s;
}

const char *lt_escape_text(const char *s, char *buf, size_t n) {
    size_t len = 0;
    for (; s && *s; s++) {
        unsigned char c = (unsigned char)*s;
        char esc[5] = {(char)c, '\0'};
        if (c == '\n' || c == '\t' || c == '\r')
            snprintf(esc, sizeof esc, "\\%c", c == '\n' ? 'n' : c == '\t' ? 't' : 'r');
        else if (c < 0x20 || c == 0x7f)
            snprintf(esc, sizeof esc, "\\x%02x", c);
        size_t k = strlen(esc);
        if (len + k >= n) break;
        memcpy(buf + len, esc, k);
        len += k;
    }
    buf[len] = '\0';
    return buf;
}

const char *lt_version(void) { return LT_VERSION_STRING; }
