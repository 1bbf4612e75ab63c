/* lthost's error lines: "lthost: error: ..." on stderr, naming the rank once a run has
 * several processes. Apart from main.c so that the host library (and its unit tests) has
 * them. */
#include <stdarg.h>
#include <stdio.h>

#include "host.h"

/* This process's rank when it is one of several: errors then name it. */
static int error_rank = -1;

/* Where host_error_capture asked lines to go instead of stderr (NULL: stderr). */
static char *capture_buf;
static size_t capture_len;

void host_set_rank(int rank, int world) { error_rank = world > 1 ? rank : -1; }

void host_error_capture(char *buf, size_t n) {
    capture_buf = n ? buf : NULL;
    capture_len = n;
    if (capture_buf) capture_buf[0] = '\0';
}

void host_error(const char *fmt, ...) {
    char line[4096];
    int n = error_rank >= 0 ? snprintf(line, sizeof line, "lthost: error: [rank %d] ", error_rank)
                            : snprintf(line, sizeof line, "lthost: error: ");
    va_list ap;
    va_start(ap, fmt);
    char text[sizeof line];
    vsnprintf(text, sizeof text, fmt, ap);
    va_end(ap);
    lt_escape_text(text, line + n, sizeof line - (size_t)n); /* one line, whatever a file said */
    if (capture_buf)
        snprintf(capture_buf, capture_len, "%s", line);
    else
        fprintf(stderr, "%s\n", line); /* one write: ranks share the terminal */
}
