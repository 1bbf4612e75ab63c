/* The libFuzzer harnesses' shared helpers (fuzz_util.h). */
#include "fuzz_util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>
#include <xxhash.h>

#include <lt/runtime.h>

static void harness_broken(const char *what) {
    perror(what);
    abort();
}

const char *fuzz_file(const uint8_t *data, size_t size) {
    static int fd = -1;
    static char path[64];
    if (fd < 0) {
        fd = memfd_create("lt-fuzz-input", MFD_CLOEXEC);
        if (fd < 0) harness_broken("fuzz_file: memfd_create");
        snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
    }
    if (ftruncate(fd, 0) != 0) harness_broken("fuzz_file: ftruncate");
    for (size_t done = 0; done < size;) {
        ssize_t n = pwrite(fd, data + done, size - done, (off_t)done);
        if (n <= 0) harness_broken("fuzz_file: pwrite");
        done += (size_t)n;
    }
    return path;
}

static bool is_lower_hex(uint8_t c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); }

/* The offset of the 16 digits of the first "xxh64:<16 hex>" string in the header, or 0. */
static size_t checksum_digits(const uint8_t *data, size_t size) {
    static const char tag[] = "\"xxh64:";
    const size_t tag_len = sizeof tag - 1, quoted = tag_len + 16 + 1;
    if (size < 8) return 0;
    uint64_t header_len = 0;
    for (int i = 7; i >= 0; i--) header_len = header_len << 8 | data[i];
    size_t end = header_len < size - 8 ? 8 + (size_t)header_len : size;
    for (size_t at = 8; at + quoted <= end; at++) {
        if (memcmp(data + at, tag, tag_len) != 0 || data[at + quoted - 1] != '"') continue;
        bool hex = true;
        for (size_t i = 0; i < 16; i++) hex = hex && is_lower_hex(data[at + tag_len + i]);
        if (hex) return at + tag_len;
    }
    return 0;
}

uint8_t *fuzz_with_checksum(const uint8_t *data, size_t size, bool *fixed) {
    uint8_t *copy = malloc(size ? size : 1);
    if (!copy) harness_broken("fuzz_with_checksum: malloc");
    memcpy(copy, data, size);
    size_t digits = checksum_digits(copy, size);
    *fixed = digits != 0;
    if (digits) {
        memset(copy + digits, '0', 16);
        char hex[17];
        snprintf(hex, sizeof hex, "%016llx", (unsigned long long)XXH64(copy, size, 0));
        memcpy(copy + digits, hex, 16);
    }
    return copy;
}

void fuzz_require_message(int status, const char *call) {
    static int verbose = -1;
    if (verbose < 0) verbose = getenv("FUZZ_VERBOSE") != NULL;
    if (status != LT_OK && verbose) fprintf(stderr, "refused by %s: %s\n", call, lt_last_error());
    if (status == LT_OK || lt_last_error()[0] != '\0') return;
    fprintf(stderr, "%s refused the input (status %d) without a message\n", call, status);
    abort();
}

void fuzz_require_printable(const char *call) {
    for (const char *c = lt_last_error(); *c; c++) {
        if ((unsigned char)*c >= 0x20 && *c != 0x7f) continue;
        fprintf(stderr, "%s: control character 0x%02x in the message: %s\n", call,
                (unsigned char)*c, lt_last_error());
        abort();
    }
}

void fuzz_default_plugin_path(void) { setenv("LT_PLUGIN_PATH", FUZZ_CPU_PLUGIN_DIR, 0); }

void fuzz_walk_state(const lt_state_t *st) {
    for (int i = 0; st && i < lt_state_count(st); i++) {
        const char *key = lt_state_key(st, i);
        int64_t n;
        double x;
        if (!key) abort(); /* lt_state_count promised this many keys */
        lt_state_get_int(st, key, &n);
        lt_state_get_float(st, key, &x);
        lt_state_get_str(st, key);
        fuzz_walk_state(lt_state_get_child(st, key));
    }
}
