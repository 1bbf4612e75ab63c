/* plugin_impl.h — what the plugin loader (loader.c) shares with the scanner (scan.c),
 * so `lthost plugins` reports exactly the refusals that opening the file would give. */
#ifndef LT_PLUGIN_IMPL_H
#define LT_PLUGIN_IMPL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <lt/plugin.h>

/* The fields every descriptor starts with (lt/version.h). */
typedef struct lt__desc_header {
    LT_DESC_HEADER_FIELDS
} lt__desc_header;

/* snprintf into buf; false when the result did not fit. */
bool lt__path_join(char *buf, size_t n, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* path exists and is a regular file (after symlinks). */
bool lt__is_file(const char *path);

/* Called for each place a plugin may sit, in search order. path_dir: a $LT_PLUGIN_PATH
 * folder (<dir>/<name>.so, <dir>/<kind dir>/<name>.so); otherwise a plugin root
 * (<root>/<kind dir>/<name>.so, <root>/<kind dir>/<name>/<name>.so). Return false to
 * stop the walk. */
typedef bool (*lt__place_fn)(void *user, const char *dir, bool path_dir);

/* Visit $LT_PLUGIN_PATH's folders, then liblt's install root, then extra_roots
 * (NULL-terminated, may be NULL). */
void lt__plugin_places(const char *const *extra_roots, lt__place_fn fn, void *user);

/* dlopen(path, RTLD_NOW | RTLD_LOCAL); NULL with the reason recorded on failure. */
void *lt__plugin_dlopen(const char *path);

/* The first kind whose entry symbol handle exports; false (and a message naming
 * path recorded) when it exports none. */
bool lt__plugin_probe(void *handle, const char *path, lt_plugin_kind *kind);

/* Check handle's entry for kind: the entry exists and returns a descriptor of ABI
 * major LT_ABI_MAJOR, large enough, with a name. On success *desc is a zero-extended
 * copy (free() it); otherwise the refusal is recorded and returned. The handle stays
 * open either way. */
lt_status lt__plugin_check(void *handle, const char *path, lt_plugin_kind kind, void **desc);

/* ---- bounds on a descriptor (desc_check.c) ---- */

#define LT_STR2_(x) #x
#define LT_STR_(x) LT_STR2_(x) /* a macro's value as a string literal */

/* A pipe through which the kernel says whether plugin memory can be read. */
typedef struct lt__desc_reader {
    int fd[2];
} lt__desc_reader;
bool lt__desc_reader_open(lt__desc_reader *r);
void lt__desc_reader_close(lt__desc_reader *r);
/* Whether all n bytes at p can be read (false for NULL). */
bool lt__desc_readable(lt__desc_reader *r, const void *p, size_t n);

/* What refusals name: the file, the descriptor type, the export macro. */
typedef struct lt__desc_where {
    const char *path, *desc, *macro;
} lt__desc_where;
/* The descriptor's name, read with a bound (NULL and "" pass: the caller says "no name"). */
lt_status lt__desc_check_name(lt__desc_reader *r, const lt__desc_where *w, const char *name);
/* The kind's own strings and tables (self_size, hparams, submodules) of a copy of the
 * descriptor of kinds[kind].size bytes; the first refusal is recorded and returned. */
lt_status lt__desc_check_fields(lt__desc_reader *r, const lt__desc_where *w, lt_plugin_kind kind,
                                const void *desc);

#endif
