/* The plugin loader: find a plugin file by name, dlopen it, check its entry symbol and
 * descriptor (ABI major, struct size, name) and keep a zero-extended copy of the
 * descriptor. Every refusal is one line naming the file, what is wrong and the fix,
 * because the person reading it usually did not write the plugin. */
#include <dlfcn.h>
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <lt/accelerator.h>
#include <lt/data.h>
#include <lt/logger.h>
#include <lt/module.h>
#include <lt/profiler.h>
#include <lt/strategy.h>

#include "plugin_impl.h"

/* ---- the kinds ------------------------------------------------------------------ */

/* Descriptor sizes of ABI 1.0: the least struct_size any 1.x plugin may declare. A
 * descriptor that a later minor appended to is measured up to its first appended field
 * (the end of its 1.0 layout, padding included); the others have not grown. */
#define LT_MODULE_DESC_SIZE_1_0 offsetof(lt_module_desc, lr_scheduler_step) /* #23 appended */
#define LT_ACCELERATOR_DESC_SIZE_1_0 offsetof(lt_accelerator_desc, unscale_grads)
#define LT_STRATEGY_DESC_SIZE_1_0 sizeof(lt_strategy_desc)
#define LT_PROFILER_DESC_SIZE_1_0 sizeof(lt_profiler_desc)
#define LT_DATAMODULE_DESC_SIZE_1_0 offsetof(lt_datamodule_desc, state_dict)
#define LT_CALLBACK_DESC_SIZE_1_0 offsetof(lt_callback_desc, write_interval)
#define LT_LOGGER_DESC_SIZE_1_0 sizeof(lt_logger_desc) /* new in 1.1 */
_Static_assert(LT_ABI_MINOR == 1, "LT_ABI_MINOR was raised: give every descriptor that grew "
                                  "its 1.0 size above, then update this check");

typedef struct kind_info {
    const char *name;   /* "module" */
    const char *dir;    /* folder of this kind under a plugin root */
    const char *entry;  /* the exported entry symbol */
    const char *desc;   /* descriptor type, for messages */
    const char *macro;  /* the export macro, for messages */
    const char *header; /* where that macro lives */
    size_t size_1_0;    /* least struct_size accepted */
    size_t size;        /* what this liblt reads */
} kind_info;

#define KIND_(n, d, e, t, m, h, s1)                                                                \
    { n, d, e, #t, m, h, s1, sizeof(t) }
static const kind_info kinds[LT_PLUGIN_KIND_COUNT] = {
    [LT_PLUGIN_MODULE] = KIND_("module", "models", "lt_module_entry", lt_module_desc,
                               "LT_MODULE_EXPORT", "lt/module.h", LT_MODULE_DESC_SIZE_1_0),
    [LT_PLUGIN_ACCELERATOR] =
        KIND_("accelerator", "accelerators", "lt_accelerator_entry", lt_accelerator_desc,
              "LT_ACCELERATOR_EXPORT", "lt/accelerator.h", LT_ACCELERATOR_DESC_SIZE_1_0),
    [LT_PLUGIN_STRATEGY] = KIND_("strategy", "strategies", "lt_strategy_entry", lt_strategy_desc,
                                 "LT_STRATEGY_EXPORT", "lt/strategy.h", LT_STRATEGY_DESC_SIZE_1_0),
    [LT_PLUGIN_PROFILER] = KIND_("profiler", "profilers", "lt_profiler_entry", lt_profiler_desc,
                                 "LT_PROFILER_EXPORT", "lt/profiler.h", LT_PROFILER_DESC_SIZE_1_0),
    [LT_PLUGIN_DATA] = KIND_("data", "data", "lt_datamodule_entry", lt_datamodule_desc,
                             "LT_DATAMODULE_EXPORT", "lt/data.h", LT_DATAMODULE_DESC_SIZE_1_0),
    [LT_PLUGIN_CALLBACK] = KIND_("callback", "callbacks", "lt_callback_entry", lt_callback_desc,
                                 "LT_CALLBACK_EXPORT", "lt/module.h", LT_CALLBACK_DESC_SIZE_1_0),
    [LT_PLUGIN_LOGGER] = KIND_("logger", "loggers", "lt_logger_entry", lt_logger_desc,
                               "LT_LOGGER_EXPORT", "lt/logger.h", LT_LOGGER_DESC_SIZE_1_0),
};
#undef KIND_

static bool kind_valid(lt_plugin_kind kind) { return (unsigned)kind < LT_PLUGIN_KIND_COUNT; }

const char *lt_plugin_kind_name(lt_plugin_kind kind) {
    return kind_valid(kind) ? kinds[kind].name : "unknown";
}

const char *lt_plugin_kind_dir(lt_plugin_kind kind) {
    return kind_valid(kind) ? kinds[kind].dir : "unknown";
}

/* "a" or "an", so messages read "an accelerator plugin". */
static const char *article(const char *noun) { return strchr("aeiou", noun[0]) ? "an" : "a"; }

/* ---- paths -------------------------------------------------------------------------- */

bool lt__path_join(char *buf, size_t n, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    int len = vsnprintf(buf, n, fmt, ap);
    va_end(ap);
    return len >= 0 && (size_t)len < n; /* a truncated path names the wrong file */
}

bool lt__is_file(const char *path) {
    struct stat st;
    return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

/* <folder of liblt>/lthost: plugins are installed next to the library that loads them,
 * so a relocated install (or a venv-style prefix) finds its own plugins. The address
 * asked about is a static function's: an exported one may resolve to a PLT stub in
 * the executable, which would name the executable's folder instead. */
static bool install_root(char *buf, size_t n) {
    Dl_info info;
    if (!dladdr((void *)(uintptr_t)&install_root, &info) || !info.dli_fname) return false;
    const char *slash = strrchr(info.dli_fname, '/');
    if (!slash) return false;
    return lt__path_join(buf, n, "%.*s/lthost", (int)(slash - info.dli_fname), info.dli_fname);
}

/* Calls fn on each non-empty folder of the colon-separated list; false if fn stopped. */
static bool each_path_dir(const char *list, lt__place_fn fn, void *user) {
    char dir[PATH_MAX];
    for (const char *p = list; p && *p; p += *p == ':') {
        size_t len = strcspn(p, ":"), keep = len;
        while (keep > 1 && p[keep - 1] == '/')
            keep--; /* "dir/" would print as "dir//x.so" in messages */
        if (keep > 0 && keep < sizeof dir) {
            memcpy(dir, p, keep);
            dir[keep] = '\0';
            if (!fn(user, dir, true)) return false;
        }
        p += len;
    }
    return true;
}

void lt__plugin_places(const char *const *extra_roots, lt__place_fn fn, void *user) {
    char root[PATH_MAX];
    if (!each_path_dir(getenv("LT_PLUGIN_PATH"), fn, user)) return;
    if (install_root(root, sizeof root) && !fn(user, root, false)) return;
    for (size_t i = 0; extra_roots && extra_roots[i]; i++)
        if (!fn(user, extra_roots[i], false)) return;
}

/* ---- looking up a bare name --------------------------------------------------------- */

typedef struct search {
    const kind_info *k;
    const char *name;
    char *found;     /* PATH_MAX bytes, the caller's */
    char tried[768]; /* "a/x.so, b/x.so": the not-found message lists them */
    size_t tried_len;
} search;

static void note_tried(search *s, const char *path) {
    size_t room = sizeof s->tried - s->tried_len;
    int n = snprintf(s->tried + s->tried_len, room, "%s%s", s->tried_len ? ", " : "", path);
    if (n > 0) s->tried_len += (size_t)n < room ? (size_t)n : room - 1;
}

/* True (and s->found set) when path is a file. */
static bool try_path(search *s, const char *path) {
    if (lt__is_file(path)) return lt__path_join(s->found, PATH_MAX, "%s", path);
    note_tried(s, path);
    return false;
}

/* The two candidates of one place; returns false (stop) once one exists. */
static bool search_place(void *user, const char *dir, bool path_dir) {
    search *s = user;
    char p[PATH_MAX];
    const char *kd = s->k->dir, *n = s->name;
    bool a = path_dir ? lt__path_join(p, sizeof p, "%s/%s.so", dir, n)
                      : lt__path_join(p, sizeof p, "%s/%s/%s.so", dir, kd, n);
    if (a && try_path(s, p)) return false;
    bool b = path_dir ? lt__path_join(p, sizeof p, "%s/%s/%s.so", dir, kd, n)
                      : lt__path_join(p, sizeof p, "%s/%s/%s/%s.so", dir, kd, n, n);
    return !(b && try_path(s, p));
}

/* The first candidate that exists, into found (PATH_MAX bytes). */
static lt_status find_plugin(const kind_info *k, const char *name, const char *const *extra_roots,
                             char *found) {
    search s = {.k = k, .name = name, .found = found};
    found[0] = '\0';
    lt__plugin_places(extra_roots, search_place, &s);
    if (found[0]) return LT_OK;
    /* The fix comes before the list so a long list, if cut, loses only places. */
    return lt_set_error(LT_ERR_PLUGIN,
                        "no %s plugin named '%s' (run `lthost plugins` to see what is "
                        "installed, pass a file path such as ./%s.so, or add its folder to "
                        "LT_PLUGIN_PATH); looked for: %s",
                        k->name, name, name, s.tried_len ? s.tried : "(no places to search)");
}

/* ---- opening and checking a file ----------------------------------------------------- */

void *lt__plugin_dlopen(const char *path) {
    dlerror();
    void *h = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    if (h) return h;
    const char *why = dlerror();
    size_t n = strlen(path);
    if (!why)
        why = "unknown dlopen error";
    else if (strncmp(why, path, n) == 0 && why[n] == ':')
        why += n + 1 + (why[n + 1] == ' '); /* dlerror repeats the path */
    lt_set_error(LT_ERR_PLUGIN,
                 "%s cannot be loaded as a plugin: %s; a plugin is a shared object built "
                 "for this machine against this SDK (cc -shared -fPIC x.c $(pkg-config "
                 "--cflags --libs lt)), with the libraries it needs installed",
                 path, why);
    return NULL;
}

typedef const void *(*entry_fn)(void);

static entry_fn find_entry(void *handle, lt_plugin_kind kind) {
    void *sym = dlsym(handle, kinds[kind].entry);
    entry_fn fn;
    memcpy(&fn, &sym, sizeof fn); /* POSIX: dlsym's object pointer is the function */
    return fn;
}

bool lt__plugin_probe(void *handle, const char *path, lt_plugin_kind *kind) {
    for (int k = 0; k < LT_PLUGIN_KIND_COUNT; k++) {
        if (find_entry(handle, (lt_plugin_kind)k)) {
            *kind = (lt_plugin_kind)k;
            return true;
        }
    }
    lt_set_error(LT_ERR_PLUGIN,
                 "%s exports no plugin entry (lt_module_entry, lt_accelerator_entry, "
                 "lt_strategy_entry, lt_profiler_entry, lt_datamodule_entry, lt_callback_entry "
                 "or lt_logger_entry); build it "
                 "with the LT_<KIND>_EXPORT(...) macro of its header (<lt/module.h>, ...)",
                 path);
    return false;
}

/* The entry for `want` is missing: say which kind the file is, if any. */
static lt_status refuse_missing_entry(void *handle, const char *path, lt_plugin_kind want) {
    const kind_info *w = &kinds[want];
    lt_plugin_kind got;
    if (!lt__plugin_probe(handle, path, &got))
        return lt_set_error(LT_ERR_PLUGIN, "%s exports no %s(); build it with %s(...) from <%s>",
                            path, w->entry, w->macro, w->header);
    const kind_info *g = &kinds[got];
    return lt_set_error(
        LT_ERR_PLUGIN, "%s is %s %s plugin (exports %s), not %s %s; open it as %s %s plugin", path,
        article(g->name), g->name, g->entry, article(w->name), w->name, article(g->name), g->name);
}

/* The least struct_size a plugin of this minor may declare: all of it, except that the
 * accelerator table's pinned-memory and memory-statistics slots (host_alloc on, all
 * optional) came after plugins were built against 1.1, which still load without them. */
static size_t least_current_size(const kind_info *k) {
    return k == &kinds[LT_PLUGIN_ACCELERATOR] ? offsetof(lt_accelerator_desc, host_alloc) : k->size;
}

/* a < b, as a call: with LT_ABI_MINOR 0 the inline comparison is "always false". */
static bool is_below(uint32_t a, uint32_t b) { return a < b; }

/* Major, size and name of a descriptor; the name is read only once the size is known
 * to cover it, and then with a bound. */
static lt_status check_header(lt__desc_reader *r, const lt__desc_header *h, const char *path,
                              const kind_info *k) {
    if (h->abi_major != LT_ABI_MAJOR)
        return lt_set_error(LT_ERR_ABI,
                            "%s was built for lthost plugin ABI %u.%u but this lthost speaks "
                            "%d.%d; rebuild the plugin against this SDK (pkg-config --cflags lt)",
                            path, h->abi_major, h->abi_minor, LT_ABI_MAJOR, LT_ABI_MINOR);
    if (h->abi_minor > LT_ABI_MINOR && h->struct_size < k->size)
        return lt_set_error(LT_ERR_ABI,
                            "%s claims plugin ABI %u.%u but its %s is %u bytes, smaller than "
                            "the %zu bytes of ABI %d.%d that newer minors only append to; the "
                            "plugin is corrupt or mis-built: rebuild it (pkg-config --cflags lt)",
                            path, h->abi_major, h->abi_minor, k->desc, h->struct_size, k->size,
                            LT_ABI_MAJOR, LT_ABI_MINOR);
    /* Older minors need only the 1.0 prefix; ours needs all of it (see above). */
    bool older = is_below(h->abi_minor, LT_ABI_MINOR);
    size_t need = older ? k->size_1_0 : least_current_size(k);
    if (h->struct_size < need)
        return lt_set_error(LT_ERR_ABI,
                            "%s declares a %s of %u bytes but ABI %d.%d needs at least %zu; "
                            "the plugin is corrupt or mis-built: rebuild it against this SDK "
                            "(pkg-config --cflags lt) with %s(...)",
                            path, k->desc, h->struct_size, LT_ABI_MAJOR, older ? 0 : LT_ABI_MINOR,
                            need, k->macro);
    lt__desc_where w = {path, k->desc, k->macro};
    if (h->name && lt__desc_check_name(r, &w, h->name) != LT_OK) return lt_last_status();
    if (!h->name || !h->name[0])
        return lt_set_error(LT_ERR_PLUGIN, "%s: its %s has no name; set .name = \"...\" in %s(...)",
                            path, k->desc, k->macro);
    return LT_OK;
}

/* What the entry returned, checked and copied: the header first (its struct_size says
 * how much more there is), then the kind's own fields on the copy. Zero-extended, so
 * fields newer than the plugin read as NULL/0. */
static lt_status copy_descriptor(lt__desc_reader *r, const lt__desc_header *h, const char *path,
                                 lt_plugin_kind kind, void **desc) {
    const kind_info *k = &kinds[kind];
    if (!lt__desc_readable(r, h, sizeof *h))
        return lt_set_error(LT_ERR_PLUGIN,
                            "%s: %s() returned %p, which is not readable memory; it must return "
                            "a static %s, as %s(...) from <%s> does",
                            path, k->entry, (const void *)h, k->desc, k->macro, k->header);
    lt_status s = check_header(r, h, path, k);
    if (s != LT_OK) return s;
    size_t n = h->struct_size < k->size ? h->struct_size : k->size;
    if (!lt__desc_readable(r, h, n))
        return lt_set_error(LT_ERR_PLUGIN,
                            "%s: its %s declares %u bytes but not all of them can be read; the "
                            "plugin is corrupt or mis-built: rebuild it with %s(...)",
                            path, k->desc, h->struct_size, k->macro);
    void *copy = calloc(1, k->size);
    if (!copy) return lt_set_error(LT_ERR_OOM, "%s: out of memory copying its %s", path, k->desc);
    memcpy(copy, h, n);
    lt__desc_where w = {path, k->desc, k->macro};
    if ((s = lt__desc_check_fields(r, &w, kind, copy)) != LT_OK) {
        free(copy);
        return s;
    }
    *desc = copy;
    return LT_OK;
}

lt_status lt__plugin_check(void *handle, const char *path, lt_plugin_kind kind, void **desc) {
    const kind_info *k = &kinds[kind];
    *desc = NULL;
    entry_fn entry = find_entry(handle, kind);
    if (!entry) return refuse_missing_entry(handle, path, kind);
    const lt__desc_header *h = entry();
    if (!h)
        return lt_set_error(LT_ERR_PLUGIN,
                            "%s: %s() returned NULL; it must return a static %s, as %s(...) "
                            "from <%s> does",
                            path, k->entry, k->desc, k->macro, k->header);
    lt__desc_reader r;
    if (!lt__desc_reader_open(&r))
        return lt_set_error(LT_ERR_IO, "%s: cannot check its %s: pipe: %s", path, k->desc,
                            strerror(errno));
    lt_status s = copy_descriptor(&r, h, path, kind, desc);
    lt__desc_reader_close(&r);
    return s;
}

/* ---- the public handle ----------------------------------------------------------------- */

struct lt_plugin {
    void *handle; /* from dlopen; closed last */
    lt_plugin_kind kind;
    void *desc;  /* zero-extended copy, kinds[kind].size bytes */
    char path[]; /* the file it came from */
};

static lt_status open_file(lt_plugin_kind kind, const char *path, lt_plugin_t **out) {
    struct stat st;
    if (stat(path, &st) != 0)
        return lt_set_error(LT_ERR_PLUGIN,
                            "%s: %s; check the path, or pass a bare %s name to search "
                            "LT_PLUGIN_PATH and the installed plugins",
                            path, strerror(errno), kinds[kind].name);
    void *handle = lt__plugin_dlopen(path);
    if (!handle) return lt_last_status();
    void *desc;
    lt_status s = lt__plugin_check(handle, path, kind, &desc);
    size_t n = strlen(path) + 1;
    lt_plugin_t *p = s == LT_OK ? malloc(sizeof *p + n) : NULL;
    if (!p) {
        free(desc);
        dlclose(handle);
        return s != LT_OK ? s : lt_set_error(LT_ERR_OOM, "%s: out of memory", path);
    }
    p->handle = handle;
    p->kind = kind;
    p->desc = desc;
    memcpy(p->path, path, n);
    *out = p;
    return LT_OK;
}

lt_status lt_plugin_open(lt_plugin_kind kind, const char *name_or_path,
                         const char *const *extra_roots, lt_plugin_t **out) {
    if (!out || !kind_valid(kind) || !name_or_path || !name_or_path[0])
        return lt_set_error(LT_ERR_INVALID_ARG,
                            "lt_plugin_open: needs a valid kind, a non-empty name or path "
                            "and an output pointer");
    *out = NULL;
    if (strchr(name_or_path, '/')) return open_file(kind, name_or_path, out);
    char path[PATH_MAX];
    size_t n = strlen(name_or_path);
    if ((n > 3 && !strcmp(name_or_path + n - 3, ".so")) || lt__is_file(name_or_path)) {
        /* "mymodel.so": a file here (dlopen would search the library path for it) */
        if (!lt__path_join(path, sizeof path, "./%s", name_or_path))
            return lt_set_error(LT_ERR_PLUGIN, "plugin path %.200s... is too long", name_or_path);
        return open_file(kind, path, out);
    }
    lt_status s = find_plugin(&kinds[kind], name_or_path, extra_roots, path);
    return s != LT_OK ? s : open_file(kind, path, out);
}

const void *lt_plugin_desc(const lt_plugin_t *p) { return p ? p->desc : NULL; }

const char *lt_plugin_path(const lt_plugin_t *p) { return p ? p->path : NULL; }

const char *lt_plugin_name(const lt_plugin_t *p) {
    return p ? ((const lt__desc_header *)p->desc)->name : NULL;
}

void lt_plugin_close(lt_plugin_t *p) {
    if (!p) return;
    free(p->desc); /* before dlclose: nothing of the plugin is read after it */
    dlclose(p->handle);
    free(p);
}
