/* libFuzzer harness: the YAML config reader (host/config/config_read.c, compiled in).
 * The input is a whole config file. Besides "no crash, no leak": a refused file gets one
 * line of printable text naming the file ("<path>:<line>:<col>: ..."), a read file gives
 * flags with a non-empty key and a value each, and a refused file leaves the entries as
 * they were. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "fuzz_util.h"

static void require(int cond, const char *what, const char *err) {
    if (!cond) {
        fprintf(stderr, "config reader invariant broken: %s (message: %s)\n", what, err);
        abort();
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    const char *path = fuzz_file(data, size);
    cfg_entries out = {0};
    char err[1024] = "";
    /* One flag already there, as from the command line or an earlier --config: a
     * refusal must leave it alone. */
    out.items = malloc(sizeof *out.items);
    require(out.items != NULL, "malloc", "");
    out.items[0] = (cfg_entry){.key = strdup("seed_everything"), .value = strdup("1"), .line = 1};
    out.n = out.cap = 1;
    int before = out.n;
    bool ok = cfg_read_file(path, &out, err, sizeof err);
    if (ok) {
        for (int i = before; i < out.n; i++)
            require(out.items[i].key && out.items[i].key[0] && out.items[i].value &&
                        out.items[i].line >= 1,
                    "every flag has a key, a value and a line", err);
    } else {
        require(out.n == before, "a refused file adds no flags", err);
        require(strncmp(err, path, strlen(path)) == 0 && err[strlen(path)] == ':',
                "the message starts with the file's path", err);
        for (const char *c = err; *c; c++)
            require((unsigned char)*c >= 0x20 && *c != 0x7f,
                    "the message is one line of printable text (no control characters)", err);
    }
    cfg_entries_free(&out);
    return 0;
}
