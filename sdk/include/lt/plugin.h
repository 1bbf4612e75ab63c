/* lt/plugin.h — finding, loading and checking plugins (used by lthost and by programs
 * that embed liblt). A bare name is looked up in $LT_PLUGIN_PATH, then in the
 * installed plugin directory next to liblt, then in the roots the caller adds; a
 * value containing '/', ending in .so or naming a file in the current folder is a path. */
#ifndef LT_PLUGIN_H
#define LT_PLUGIN_H

#include <stdint.h>

#include "status.h"

typedef enum {
    LT_PLUGIN_MODULE,
    LT_PLUGIN_ACCELERATOR,
    LT_PLUGIN_STRATEGY,
    LT_PLUGIN_PROFILER,
    LT_PLUGIN_DATA,
    LT_PLUGIN_CALLBACK,
    LT_PLUGIN_LOGGER, /* ABI 1.1: lt/logger.h */
    LT_PLUGIN_KIND_COUNT
} lt_plugin_kind;

typedef struct lt_plugin lt_plugin_t; /* opaque: an opened, checked plugin */

/* What the loader accepts from a descriptor; anything longer, larger or unreadable is
 * refused with a message naming the field. Strings are NUL-terminated text without
 * control characters. */
#define LT_PLUGIN_NAME_MAX 64         /* bytes of .name, a hparam's and a submodule's name */
#define LT_PLUGIN_TEXT_MAX 1024       /* bytes of a hparam's help, choices, string default */
#define LT_PLUGIN_HPARAMS_MAX 256     /* .hparams entries before LT_HPARAM_END */
#define LT_PLUGIN_SUBMODULES_MAX 64   /* .submodules entries before {NULL} */
#define LT_PLUGIN_SELF_MAX (1u << 30) /* .self_size, bytes */

/* "module", "accelerator", "strategy", "profiler", "data", "callback", "logger" */
LT_API const char *lt_plugin_kind_name(lt_plugin_kind kind);
/* The folder name of a kind under a plugin root: "models", "accelerators", ... */
LT_API const char *lt_plugin_kind_dir(lt_plugin_kind kind);

/* Loading a plugin runs its code: its constructors and entry function run inside the
 * calling process, with its rights, before any check. Load only files you trust as you
 * would trust a program; lt_plugin_scan probes each file in a child process so that a
 * broken one cannot take the caller down, but it still runs it.
 *
 * Open a plugin of `kind`. extra_roots (NULL-terminated, may be NULL) are folders laid
 * out as <root>/<kind dir>/[<name>/]<name>.so. On failure the message names the file,
 * what is wrong and how to fix it. */
LT_API lt_status lt_plugin_open(lt_plugin_kind kind, const char *name_or_path,
                                const char *const *extra_roots, lt_plugin_t **out);
/* The plugin's descriptor, zero-extended to the size this liblt knows: fields added
 * by newer minors read as NULL/0 for older plugins. */
LT_API const void *lt_plugin_desc(const lt_plugin_t *p);
LT_API const char *lt_plugin_path(const lt_plugin_t *p);
LT_API const char *lt_plugin_name(const lt_plugin_t *p);
LT_API void lt_plugin_close(lt_plugin_t *p);

typedef struct lt_plugin_info {
    const char *path;
    int ok;              /* 1: loads; 0: skipped, see why */
    lt_plugin_kind kind; /* valid when ok */
    const char *name;    /* valid when ok */
    uint32_t abi_major, abi_minor;
    const char *why; /* the loader's message when skipped */
} lt_plugin_info;

/* Open the device of an accelerator plugin; takes ownership of p (also on failure).
 * threads <= 0 means all cores. */
typedef struct lt_device lt_device_t;
LT_API lt_status lt_device_from_plugin(lt_plugin_t *p, int threads, lt_device_t **out);

/* Call fn for every *.so under the search path and extra_roots. Each file is loaded
 * and checked in a child process (fork), so one whose constructor or entry crashes,
 * exits or hangs (60 s) is reported as skipped with the reason while the scan goes on;
 * call it before starting threads, as for any fork. */
LT_API void lt_plugin_scan(const char *const *extra_roots,
                           void (*fn)(void *user, const lt_plugin_info *info), void *user);

#endif
