/* Bounds on what a plugin descriptor hands over: every string is read with a bound
 * (LT_PLUGIN_NAME_MAX, LT_PLUGIN_TEXT_MAX), every table with a count limit, and every
 * pointer is first asked of the kernel whether it can be read at all. A mis-built
 * plugin then gets one line naming the field, not a SIGSEGV of lthost while the error
 * is being formatted, and not a 1 MiB name printed whole. */
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <lt/data.h>
#include <lt/logger.h>
#include <lt/module.h>
#include <lt/strategy.h>

#include "plugin_impl.h"

/* ---- asking whether memory can be read ------------------------------------------ */

/* No Linux page is smaller: readability changes at most once per granule. */
#define GRANULE 4096u

bool lt__desc_reader_open(lt__desc_reader *r) { return pipe2(r->fd, O_CLOEXEC | O_NONBLOCK) == 0; }

void lt__desc_reader_close(lt__desc_reader *r) {
    close(r->fd[0]);
    close(r->fd[1]);
}

/* write() from an unreadable address fails with EFAULT where a load would fault. One
 * byte per granule, and only bytes of the object itself: reading past a string's NUL
 * would be an overflow of its own (ASan says so). */
static bool byte_readable(lt__desc_reader *r, const void *p) {
    char sink;
    if (write(r->fd[1], p, 1) != 1) return false;
    return read(r->fd[0], &sink, 1) == 1;
}

bool lt__desc_readable(lt__desc_reader *r, const void *p, size_t n) {
    if (!p || (uintptr_t)p + n < (uintptr_t)p) return false;
    for (const char *c = p, *end = c + n; c < end; c += GRANULE - (uintptr_t)c % GRANULE)
        if (!byte_readable(r, c)) return false;
    return true;
}

typedef enum { STR_OK, STR_UNREADABLE, STR_TOO_LONG, STR_CONTROL } string_state;

/* Whether s is a readable, NUL-terminated string of at most max bytes with no control
 * characters (it goes into one-line messages and --help). */
static string_state check_bytes(lt__desc_reader *r, const char *s, size_t max) {
    size_t n = 0;
    for (;;) {
        const char *c = s + n;
        if (!byte_readable(r, c)) return STR_UNREADABLE;
        size_t room = GRANULE - (uintptr_t)c % GRANULE, want = max + 1 - n;
        size_t span = room < want ? room : want, k = strnlen(c, span);
        n += k;
        if (k < span) break;
        if (n > max) return STR_TOO_LONG;
    }
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f) return STR_CONTROL;
    return STR_OK;
}

/* ---- the fields -------------------------------------------------------------------- */

static lt_status refuse_field(const lt__desc_where *w, const char *field, const char *problem) {
    return lt_set_error(LT_ERR_PLUGIN,
                        "%s: its %s %s %s; fix it in %s(...) and rebuild (strings are at most "
                        "%d bytes for names and %d for help, choices and defaults, NUL-terminated "
                        "printable text)",
                        w->path, w->desc, field, problem, w->macro, LT_PLUGIN_NAME_MAX,
                        LT_PLUGIN_TEXT_MAX);
}

/* A string field; NULL is allowed only when optional, empty only when not a name. */
static lt_status check_string(lt__desc_reader *r, const lt__desc_where *w, const char *field,
                              const char *s, size_t max, bool optional) {
    char problem[64];
    if (!s) return optional ? LT_OK : refuse_field(w, field, "is NULL");
    switch (check_bytes(r, s, max)) {
    case STR_UNREADABLE: return refuse_field(w, field, "points to memory that cannot be read");
    case STR_TOO_LONG:
        snprintf(problem, sizeof problem, "is longer than %zu bytes or not NUL-terminated", max);
        return refuse_field(w, field, problem);
    case STR_CONTROL: return refuse_field(w, field, "contains a control character");
    case STR_OK: break;
    }
    return optional || s[0] ? LT_OK : refuse_field(w, field, "is empty");
}

/* A prediction writer's interval is one of Lightning's, with the hooks it names. */
static lt_status check_write_interval(lt__desc_reader *r, const lt__desc_where *w,
                                      const lt_callback_desc *d) {
    lt_status s = check_string(r, w, ".write_interval", d->write_interval, 32, false);
    if (s != LT_OK) return s;
    const char *i = d->write_interval;
    bool batch = !strcmp(i, "batch") || !strcmp(i, "batch_and_epoch");
    bool epoch = !strcmp(i, "epoch") || !strcmp(i, "batch_and_epoch");
    if (!batch && !epoch)
        return refuse_field(w, ".write_interval",
                            "is not \"batch\", \"epoch\" or \"batch_and_epoch\"");
    if (batch && !d->write_on_batch_end)
        return refuse_field(w, ".write_on_batch_end", "is NULL, but write_interval includes batch");
    if (epoch && !d->write_on_epoch_end)
        return refuse_field(w, ".write_on_epoch_end", "is NULL, but write_interval includes epoch");
    return LT_OK;
}

lt_status lt__desc_check_name(lt__desc_reader *r, const lt__desc_where *w, const char *name) {
    return check_string(r, w, ".name", name, LT_PLUGIN_NAME_MAX, true); /* NULL, "": loader.c */
}

static lt_status check_self_size(const lt__desc_where *w, size_t self_size) {
    if (self_size <= LT_PLUGIN_SELF_MAX) return LT_OK;
    return lt_set_error(LT_ERR_PLUGIN,
                        "%s: its %s .self_size is %zu bytes, more than the %zu lthost allocates "
                        "(LT_PLUGIN_SELF_MAX); the plugin is corrupt or its struct holds a large "
                        "buffer: allocate that in setup instead and rebuild",
                        w->path, w->desc, self_size, (size_t)LT_PLUGIN_SELF_MAX);
}

static lt_status check_hparam(lt__desc_reader *r, const lt__desc_where *w, size_t i,
                              const lt_hparam_desc *hp) {
    char field[64];
    lt_status s = LT_OK;
    snprintf(field, sizeof field, ".hparams[%zu].name", i);
    s = check_string(r, w, field, hp->name, LT_PLUGIN_NAME_MAX, false);
    if (s == LT_OK && (unsigned)hp->type > LT_HP_BOOL) {
        snprintf(field, sizeof field, ".hparams[%zu].type", i);
        return refuse_field(w, field, "is not LT_HP_INT, LT_HP_FLOAT, LT_HP_STR or LT_HP_BOOL");
    }
    const char *texts[] = {"help", "choices", "s"};
    const char *values[] = {hp->help, hp->choices, hp->type == LT_HP_STR ? hp->s : NULL};
    for (int t = 0; s == LT_OK && t < 3; t++) {
        snprintf(field, sizeof field, ".hparams[%zu].%s", i, texts[t]);
        s = check_string(r, w, field, values[t], LT_PLUGIN_TEXT_MAX, true);
    }
    return s;
}

/* A table ends at the first entry whose name is NULL; each entry is copied out only
 * once it is known to be readable. */
static lt_status check_hparams(lt__desc_reader *r, const lt__desc_where *w,
                               const lt_hparam_desc *table) {
    for (size_t i = 0; table; i++) {
        lt_hparam_desc hp;
        if (!lt__desc_readable(r, &table[i], sizeof hp))
            return refuse_field(w, ".hparams", "points to memory that cannot be read");
        memcpy(&hp, &table[i], sizeof hp);
        if (!hp.name) return LT_OK;
        if (i == LT_PLUGIN_HPARAMS_MAX)
            return refuse_field(w, ".hparams",
                                "has more than " LT_STR_(
                                    LT_PLUGIN_HPARAMS_MAX) " entries (is "
                                                           "LT_HPARAM_END missing at its end?)");
        lt_status s = check_hparam(r, w, i, &hp);
        if (s != LT_OK) return s;
    }
    return LT_OK;
}

static lt_status check_submodules(lt__desc_reader *r, const lt__desc_where *w,
                                  const lt_submodule_desc *table) {
    char field[64];
    for (size_t i = 0; table; i++) {
        lt_submodule_desc sm;
        if (!lt__desc_readable(r, &table[i], sizeof sm))
            return refuse_field(w, ".submodules", "points to memory that cannot be read");
        memcpy(&sm, &table[i], sizeof sm);
        if (!sm.name) return LT_OK;
        if (i == LT_PLUGIN_SUBMODULES_MAX)
            return refuse_field(
                w, ".submodules",
                "has more than " LT_STR_(
                    LT_PLUGIN_SUBMODULES_MAX) " entries (is "
                                              "the {NULL} entry missing at its end?)");
        snprintf(field, sizeof field, ".submodules[%zu].name", i);
        lt_status s = check_string(r, w, field, sm.name, LT_PLUGIN_NAME_MAX, false);
        if (s != LT_OK) return s;
    }
    return LT_OK;
}

/* A logger must say how to start and where rows go; its options are a hparams table. */
static lt_status check_logger(lt__desc_reader *r, const lt__desc_where *w,
                              const lt_logger_desc *d) {
    const char *missing = !d->init ? "init" : !d->log_metrics ? "log_metrics" : NULL;
    if (missing)
        return lt_set_error(LT_ERR_PLUGIN,
                            "%s: its %s has no .%s; a logger needs .init and .log_metrics: "
                            "set them in %s(...) and rebuild",
                            w->path, w->desc, missing, w->macro);
    return check_hparams(r, w, d->hparams);
}

lt_status lt__desc_check_fields(lt__desc_reader *r, const lt__desc_where *w, lt_plugin_kind kind,
                                const void *desc) {
    lt_status s = LT_OK;
    switch (kind) {
    case LT_PLUGIN_MODULE: {
        const lt_module_desc *d = desc;
        if ((s = check_self_size(w, d->self_size)) == LT_OK &&
            (s = check_hparams(r, w, d->hparams)) == LT_OK)
            s = check_submodules(r, w, d->submodules);
        break;
    }
    case LT_PLUGIN_CALLBACK: {
        const lt_callback_desc *d = desc;
        if ((s = check_self_size(w, d->self_size)) == LT_OK) s = check_hparams(r, w, d->hparams);
        if (s == LT_OK && d->write_interval) s = check_write_interval(r, w, d);
        break;
    }
    case LT_PLUGIN_DATA: {
        const lt_datamodule_desc *d = desc;
        if ((s = check_self_size(w, d->self_size)) == LT_OK) s = check_hparams(r, w, d->hparams);
        break;
    }
    case LT_PLUGIN_LOGGER: s = check_logger(r, w, desc); break;
    case LT_PLUGIN_STRATEGY: {
        const lt_strategy_desc *d = desc;
        if (d->class_name)
            s = check_string(r, w, ".class_name", d->class_name, LT_PLUGIN_NAME_MAX, false);
        if (s == LT_OK && d->launcher > LT_LAUNCH_MPIRUN)
            s = refuse_field(w, ".launcher", "is not LT_LAUNCH_NONE or LT_LAUNCH_MPIRUN");
        break;
    }
    default: /* accelerators and profilers hand over only their name */ break;
    }
    return s;
}
