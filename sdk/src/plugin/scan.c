/* lt_plugin_scan: every *.so in the places a bare name is looked up, with whether it
 * loads and, when not, the loader's own refusal — what `lthost plugins` prints. The
 * checks are loader.c's (through plugin_impl.h), so a scan never disagrees with an
 * actual open. */
#include <dirent.h>
#include <dlfcn.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "plugin_impl.h"

typedef struct scan {
    void (*fn)(void *user, const lt_plugin_info *info);
    void *user;
    char **seen; /* realpaths already reported */
    size_t nseen, cap;
} scan;

/* ---- reporting one file -------------------------------------------------------------- */

/* True when path's real file was reported before (one file, reached via two roots or
 * a symlink, is one plugin); otherwise remembers it. */
static bool seen_before(scan *s, const char *path) {
    char *real = realpath(path, NULL);
    if (!real)
        return false;
    for (size_t i = 0; i < s->nseen; i++) {
        if (strcmp(s->seen[i], real) == 0) {
            free(real);
            return true;
        }
    }
    if (s->nseen == s->cap) {
        size_t cap = s->cap ? 2 * s->cap : 16;
        char **grown = realloc(s->seen, cap * sizeof *grown);
        if (!grown) { /* worst case a duplicate line; never a missing one */
            free(real);
            return false;
        }
        s->seen = grown;
        s->cap = cap;
    }
    s->seen[s->nseen++] = real;
    return false;
}

static void report(scan *s, const char *path) {
    if (seen_before(s, path))
        return;
    lt_plugin_info info = {.path = path, .kind = LT_PLUGIN_KIND_COUNT};
    char why[1024];
    void *desc = NULL;
    void *handle = lt__plugin_dlopen(path);
    if (handle && lt__plugin_probe(handle, path, &info.kind) &&
        lt__plugin_check(handle, path, info.kind, &desc) == LT_OK) {
        const lt__desc_header *h = desc;
        info.ok = 1;
        info.name = h->name;
        info.abi_major = h->abi_major;
        info.abi_minor = h->abi_minor;
    } else {
        /* A copy: the callback may call liblt and replace the thread's message. */
        snprintf(why, sizeof why, "%s", lt_last_error());
        info.why = why;
    }
    s->fn(s->user, &info);
    free(desc);
    if (handle)
        dlclose(handle);
}

/* ---- walking the places ------------------------------------------------------------- */

static bool is_so(const char *name) {
    size_t n = strlen(name);
    return n > 3 && strcmp(name + n - 3, ".so") == 0;
}

static void visit(scan *s, const char *dir, const char *name, bool nested) {
    char p[PATH_MAX];
    struct stat st;
    if (name[0] == '.' || !lt__path_join(p, sizeof p, "%s/%s", dir, name) || stat(p, &st) != 0)
        return;
    if (S_ISREG(st.st_mode) && is_so(name))
        report(s, p);
    else if (nested && S_ISDIR(st.st_mode) &&
             lt__path_join(p, sizeof p, "%s/%s/%s.so", dir, name, name) && lt__is_file(p))
        report(s, p);
}

/* Every <dir>/<x>.so and, when nested, <dir>/<x>/<x>.so, in name order so the listing
 * is stable. A folder that does not exist is simply empty. */
static void walk(scan *s, const char *dir, bool nested) {
    struct dirent **ents;
    int n = scandir(dir, &ents, NULL, alphasort);
    if (n < 0)
        return;
    for (int i = 0; i < n; i++) {
        visit(s, dir, ents[i]->d_name, nested);
        free(ents[i]);
    }
    free(ents);
}

/* The same layouts the loader searches (see lt__place_fn). */
static bool scan_place(void *user, const char *dir, bool path_dir) {
    scan *s = user;
    char kd[PATH_MAX];
    if (path_dir)
        walk(s, dir, false);
    for (int k = 0; k < LT_PLUGIN_KIND_COUNT; k++)
        if (lt__path_join(kd, sizeof kd, "%s/%s", dir, lt_plugin_kind_dir((lt_plugin_kind)k)))
            walk(s, kd, !path_dir);
    return true;
}

void lt_plugin_scan(const char *const *extra_roots,
                    void (*fn)(void *user, const lt_plugin_info *info), void *user) {
    if (!fn)
        return;
    /* Refusals here are reports, not a failure of this call: keep the caller's error. */
    char saved[1024];
    lt_status saved_status = lt_last_status();
    snprintf(saved, sizeof saved, "%s", lt_last_error());
    scan s = {.fn = fn, .user = user};
    lt__plugin_places(extra_roots, scan_place, &s);
    for (size_t i = 0; i < s.nseen; i++)
        free(s.seen[i]);
    free(s.seen);
    if (saved_status == LT_OK)
        lt_clear_error();
    else
        lt_set_error(saved_status, "%s", saved);
}
