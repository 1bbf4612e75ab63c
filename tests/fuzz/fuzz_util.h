/* fuzz_util.h — what the libFuzzer harnesses share: the input as a file that liblt opens
 * by path (a memfd, so a run never touches the disk), a checksum rewritten so that
 * mutations get past verification, and the one rule every harness checks besides
 * "no crash": a refused input always comes with a message. */
#ifndef LT_FUZZ_UTIL_H
#define LT_FUZZ_UTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The path of a file holding exactly data[0..size) ("/proc/self/fd/N"); the same file is
 * rewritten on every call, so a path is valid until the next call. Aborts when the
 * machine cannot make one (that is the harness failing, not the code under test). */
const char *fuzz_file(const uint8_t *data, size_t size);

/* A copy of data[0..size) (caller frees) whose safetensors checksum, if it has one
 * ("xxh64:" and 16 lowercase hex digits in the JSON header), is recomputed for the
 * mutated bytes, so the reader goes on to the header and tensors instead of stopping at
 * "checksum mismatch". *fixed says whether a checksum was found and rewritten. */
uint8_t *fuzz_with_checksum(const uint8_t *data, size_t size, bool *fixed);

/* A refused input must say why: abort (a crash libFuzzer records) when liblt returned an
 * error with an empty lt_last_error(), naming the call. With FUZZ_VERBOSE set, every
 * refusal is printed (to see how far an input gets). */
void fuzz_require_message(int status, const char *call);

/* A message shown to the user is one line of printable text: abort when
 * lt_last_error() holds a control character (a newline from a name in the file would
 * let the file forge a line of lthost's output). */
void fuzz_require_printable(const char *call);

/* Read every key of a JSON state (lt_state_from_json) the way restore code does: as an
 * integer, a float, a string and a child, down to its leaves. */
struct lt_state;
void fuzz_walk_state(const struct lt_state *st);

/* LT_PLUGIN_PATH defaults to this build's cpu accelerator (FUZZ_CPU_PLUGIN_DIR) so a
 * harness runs without any environment. */
void fuzz_default_plugin_path(void);

#endif
