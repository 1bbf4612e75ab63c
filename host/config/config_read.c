/* config_read.c — a LightningCLI-style YAML config flattened into command-line flags.
 *
 * Two passes: libyaml's events become a small tree that remembers where each node starts
 * (so every error can name line:col), then the tree is walked by the rules in config.h.
 * A tree rather than a walk over the events, because a mapping's shape (class_path form
 * or plain hyper-parameters) is only known once all of its keys have been seen. */
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <lt/status.h>
#include <yaml.h>

#include "config.h"

/* Deeper than any shape we accept (top > trainer > callbacks > item > init_args > value);
 * the cap keeps a hostile file from exhausting the stack of the recursive builder. */
#define MAX_DEPTH 32
/* A config is a few hundred bytes; anything this big is the wrong file. */
#define MAX_FILE_BYTES (16u << 20)

/* ---- the tree ------------------------------------------------------------------------ */

typedef enum { Y_SCALAR, Y_MAP, Y_SEQ } ykind;

typedef struct ynode {
    ykind kind;
    char *text;          /* Y_SCALAR: the content, quotes removed */
    bool plain;          /* Y_SCALAR: unquoted, so "null", "~" and "" mean null */
    int line, col;       /* 1-based start */
    struct ynode **kids; /* Y_MAP: key, value, key, value, ...; Y_SEQ: the items */
    int n, cap;
} ynode;

static void ynode_free(ynode *y) {
    if (!y) return;
    for (int i = 0; i < y->n; i++) ynode_free(y->kids[i]);
    free(y->kids);
    free(y->text);
    free(y);
}

static const char *kind_name(const ynode *y) {
    return y->kind == Y_MAP ? "a mapping" : y->kind == Y_SEQ ? "a sequence" : "a scalar";
}

/* Unquoted null spellings: LightningCLI prints them for options left unset. */
static bool is_null(const ynode *y) {
    static const char *const words[] = {"", "~", "null", "Null", "NULL"};
    if (y->kind != Y_SCALAR || !y->plain) return false;
    for (size_t i = 0; i < sizeof words / sizeof words[0]; i++)
        if (strcmp(y->text, words[i]) == 0) return true;
    return false;
}

/* The value under `key` in mapping y, or NULL. */
static const ynode *map_get(const ynode *y, const char *key) {
    for (int i = 0; i + 1 < y->n; i += 2)
        if (strcmp(y->kids[i]->text, key) == 0) return y->kids[i + 1];
    return NULL;
}

/* ---- the reader and its errors ------------------------------------------------------- */

typedef struct reader {
    const char *path;
    char *text; /* the whole file (owned) */
    size_t len;
    yaml_parser_t parser;
    cfg_entries *out;
    char *err;
    size_t errn;
} reader;

static bool fail(reader *r, int line, int col, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static bool fail_at(reader *r, const struct ynode *y, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static bool vfail(reader *r, int line, int col, const char *fmt, va_list ap) {
    if (!r->err || r->errn == 0) return false;
    char raw[2048];
    int k = snprintf(raw, sizeof raw, "%s:%d:%d: ", r->path, line, col);
    if (k >= 0 && (size_t)k < sizeof raw) vsnprintf(raw + k, sizeof raw - (size_t)k, fmt, ap);
    lt_escape_text(raw, r->err, r->errn); /* a key quoted from the file stays on one line */
    return false;
}

/* Write "path:line:col: message" to err; returns false so callers can `return fail(...)`. */
static bool fail(reader *r, int line, int col, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vfail(r, line, col, fmt, ap);
    va_end(ap);
    return false;
}

/* fail() at the start of node y. */
static bool fail_at(reader *r, const ynode *y, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vfail(r, y->line, y->col, fmt, ap);
    va_end(ap);
    return false;
}

static bool out_of_memory(reader *r) {
    return fail(r, 1, 1, "out of memory while reading the config; free some memory");
}

/* libyaml's reader errors carry a byte offset, not a mark: count lines up to it. */
static void offset_to_mark(const reader *r, size_t off, int *line, int *col) {
    *line = 1;
    *col = 1;
    for (size_t i = 0; i < off && i < r->len; i++) {
        if (r->text[i] == '\n') {
            (*line)++;
            *col = 1;
        } else {
            (*col)++;
        }
    }
}

static bool syntax_error(reader *r) {
    const yaml_parser_t *p = &r->parser;
    const char *problem = p->problem ? p->problem : "unknown problem";
    if (p->error == YAML_MEMORY_ERROR) return out_of_memory(r);
    if (p->error == YAML_READER_ERROR) {
        int line, col;
        offset_to_mark(r, p->problem_offset, &line, &col);
        return fail(r, line, col, "not readable as YAML text: %s; save the file as UTF-8", problem);
    }
    int line = (int)p->problem_mark.line + 1, col = (int)p->problem_mark.column + 1;
    if (p->context)
        return fail(r, line, col,
                    "YAML syntax error: %s (%s at line %d); check the indentation "
                    "and quote values that contain ': ' or ' #'",
                    problem, p->context, (int)p->context_mark.line + 1);
    return fail(r, line, col,
                "YAML syntax error: %s; check the indentation and quote values "
                "that contain ': ' or ' #'",
                problem);
}

static bool next_event(reader *r, yaml_event_t *ev) {
    return yaml_parser_parse(&r->parser, ev) || syntax_error(r);
}

/* ---- events to tree ------------------------------------------------------------------ */

static ynode *ynode_new(reader *r, ykind kind, const yaml_mark_t *m) {
    ynode *y = calloc(1, sizeof *y);
    if (!y) {
        out_of_memory(r);
        return NULL;
    }
    y->kind = kind;
    y->line = (int)m->line + 1;
    y->col = (int)m->column + 1;
    return y;
}

/* Append kid to y; kid is freed on failure. */
static bool ynode_push(reader *r, ynode *y, ynode *kid) {
    if (y->n == y->cap) {
        int cap = y->cap ? 2 * y->cap : 8;
        ynode **kids = realloc(y->kids, (size_t)cap * sizeof *kids);
        if (!kids) {
            ynode_free(kid);
            return out_of_memory(r);
        }
        y->kids = kids;
        y->cap = cap;
    }
    y->kids[y->n++] = kid;
    return true;
}

/* The key just appended to mapping y must be a name, and a new one. */
static bool check_key(reader *r, const ynode *y) {
    const ynode *key = y->kids[y->n - 1];
    if (key->kind != Y_SCALAR)
        return fail_at(r, key, "a key is %s; keys must be plain names", kind_name(key));
    if (key->text[0] == '\0') return fail_at(r, key, "empty key; name the flag before the ':'");
    for (int i = 0; i + 1 < y->n - 1; i += 2)
        if (strcmp(y->kids[i]->text, key->text) == 0)
            return fail(r, key->line, key->col,
                        "duplicate key '%s' (first at line %d); keep "
                        "only one of them",
                        key->text, y->kids[i]->line);
    return true;
}

static bool build(reader *r, yaml_event_t *ev, int depth, ynode **out);

/* The children of a sequence or mapping up to its end event. */
static bool build_kids(reader *r, ynode *y, yaml_event_type_t end, int depth) {
    for (;;) {
        yaml_event_t ev;
        if (!next_event(r, &ev)) return false;
        if (ev.type == end) {
            yaml_event_delete(&ev);
            return true;
        }
        ynode *kid;
        if (!build(r, &ev, depth + 1, &kid) || !ynode_push(r, y, kid)) return false;
        if (y->kind == Y_MAP && y->n % 2 == 1 && !check_key(r, y)) return false;
    }
}

static bool build_scalar(reader *r, const yaml_event_t *ev, ynode **out) {
    const char *value = (const char *)ev->data.scalar.value;
    size_t len = ev->data.scalar.length;
    if (memchr(value, '\0', len))
        return fail(r, (int)ev->start_mark.line + 1, (int)ev->start_mark.column + 1,
                    "a value contains a NUL character; remove the \\0 escape");
    ynode *y = ynode_new(r, Y_SCALAR, &ev->start_mark);
    if (!y) return false;
    y->text = malloc(len + 1);
    if (!y->text) {
        ynode_free(y);
        return out_of_memory(r);
    }
    memcpy(y->text, value, len);
    y->text[len] = '\0';
    y->plain = ev->data.scalar.style == YAML_PLAIN_SCALAR_STYLE;
    *out = y;
    return true;
}

static bool build_collection(reader *r, const yaml_event_t *ev, int depth, ynode **out) {
    bool map = ev->type == YAML_MAPPING_START_EVENT;
    ynode *y = ynode_new(r, map ? Y_MAP : Y_SEQ, &ev->start_mark);
    if (!y) return false;
    if (!build_kids(r, y, map ? YAML_MAPPING_END_EVENT : YAML_SEQUENCE_END_EVENT, depth)) {
        ynode_free(y);
        return false;
    }
    *out = y;
    return true;
}

static const char *event_anchor(const yaml_event_t *ev) {
    switch (ev->type) {
    case YAML_SCALAR_EVENT: return (const char *)ev->data.scalar.anchor;
    case YAML_SEQUENCE_START_EVENT: return (const char *)ev->data.sequence_start.anchor;
    case YAML_MAPPING_START_EVENT: return (const char *)ev->data.mapping_start.anchor;
    default: return NULL;
    }
}

/* The node that starts with event ev (which this deletes) into *out. Anchors and aliases
 * are refused: an alias would make one flag silently repeat another. */
static bool build(reader *r, yaml_event_t *ev, int depth, ynode **out) {
    int line = (int)ev->start_mark.line + 1, col = (int)ev->start_mark.column + 1;
    bool ok;
    *out = NULL;
    if (ev->type == YAML_ALIAS_EVENT)
        ok = fail(r, line, col, "alias '*%s' is not supported; write the value out in full",
                  (const char *)ev->data.alias.anchor);
    else if (event_anchor(ev))
        ok = fail(r, line, col,
                  "anchor '&%s' is not supported; write the values out in full "
                  "without '&' and '*'",
                  event_anchor(ev));
    else if (depth > MAX_DEPTH)
        ok = fail(r, line, col, "nested deeper than %d levels; no config flag needs this",
                  MAX_DEPTH);
    else if (ev->type == YAML_SCALAR_EVENT)
        ok = build_scalar(r, ev, out);
    else
        ok = build_collection(r, ev, depth, out);
    yaml_event_delete(ev);
    return ok;
}

/* The one document of the stream into *root (which the caller frees, also on failure). */
static bool load(reader *r, ynode **root) {
    yaml_event_t ev;
    *root = NULL;
    if (!next_event(r, &ev)) return false; /* stream start */
    yaml_event_delete(&ev);
    if (!next_event(r, &ev)) return false;
    bool empty = ev.type == YAML_STREAM_END_EVENT;
    yaml_event_delete(&ev);
    if (empty)
        return fail(r, 1, 1,
                    "the config file is empty; write flags such as 'trainer:' with "
                    "'max_epochs: 5' under it");
    if (!next_event(r, &ev) || !build(r, &ev, 0, root)) return false;
    if (!next_event(r, &ev)) return false; /* document end */
    yaml_event_delete(&ev);
    if (!next_event(r, &ev)) return false;
    bool more = ev.type != YAML_STREAM_END_EVENT;
    yaml_mark_t m = ev.start_mark;
    yaml_event_delete(&ev);
    if (more)
        return fail(r, (int)m.line + 1, (int)m.column + 1,
                    "a second YAML document; keep one "
                    "document per config file");
    return true;
}

/* ---- tree to flags ------------------------------------------------------------------- */

static char *join(const char *prefix, const char *key) {
    size_t np = prefix ? strlen(prefix) : 0, nk = strlen(key);
    char *s = malloc(np + 1 + nk + 1);
    if (!s) return NULL;
    if (np) {
        memcpy(s, prefix, np);
        s[np++] = '.';
    }
    memcpy(s + np, key, nk + 1);
    return s;
}

static bool add_entry(reader *r, const char *prefix, const char *key, const char *value, int line) {
    cfg_entries *e = r->out;
    if (e->n == e->cap) {
        int cap = e->cap ? 2 * e->cap : 16;
        cfg_entry *items = realloc(e->items, (size_t)cap * sizeof *items);
        if (!items) return out_of_memory(r);
        e->items = items;
        e->cap = cap;
    }
    char *k = join(prefix, key), *v = malloc(strlen(value) + 1);
    if (!k || !v) {
        free(k);
        free(v);
        return out_of_memory(r);
    }
    strcpy(v, value);
    e->items[e->n++] = (cfg_entry){.key = k, .value = v, .line = line};
    return true;
}

/* `devices: [1, 3]` (LightningCLI's GPU list) as the flag's text form "1,3"; NULL (after
 * an error) when an item is not a scalar. */
static char *device_list_text(reader *r, const ynode *seq) {
    size_t len = 1;
    for (int i = 0; i < seq->n; i++) {
        if (seq->kids[i]->kind != Y_SCALAR) {
            fail(r, seq->kids[i]->line, seq->kids[i]->col,
                 "devices: a list holds GPU indices, as in devices: [1, 3]");
            return NULL;
        }
        len += strlen(seq->kids[i]->text) + 1;
    }
    char *text = malloc(len);
    if (!text) {
        out_of_memory(r);
        return NULL;
    }
    text[0] = '\0';
    for (int i = 0; i < seq->n; i++) {
        strcat(text, seq->kids[i]->text);
        strcat(text, ",");
    }
    return text; /* "1,3," : the trailing comma keeps a one-item list a list */
}

/* max_time: {hours: 1, minutes: 30} (a timedelta's arguments) and a
 * GradientAccumulationScheduler's scheduling: {0: 8, 4: 4} as the text "{hours: 1, ...}",
 * which --max_time / --callbacks.scheduling parse. */
static bool flat_inline_map(reader *r, const char *prefix, const ynode *k, const ynode *v) {
    char text[512] = "{";
    size_t len = 1;
    for (int i = 0; i + 1 < v->n; i += 2) {
        const ynode *key = v->kids[i], *val = v->kids[i + 1];
        if (val->kind != Y_SCALAR || key->kind != Y_SCALAR)
            return fail(r, val->line, val->col,
                        "%s: each entry is key: number, as in "
                        "max_time: {hours: 1} or scheduling: {0: 8, 4: 4}",
                        k->text);
        int w = snprintf(text + len, sizeof text - len, "%s%s: %s", i ? ", " : "", key->text,
                         val->text);
        if (w < 0 || (size_t)w >= sizeof text - len)
            return fail(r, v->line, v->col, "%s: too long (at most %zu characters)", k->text,
                        sizeof text);
        len += (size_t)w;
    }
    if (len + 2 > sizeof text) return fail(r, v->line, v->col, "%s: too long", k->text);
    strcat(text, "}");
    return add_entry(r, prefix, k->text, text, k->line);
}

/* `key: value` as the flag prefix.key (keyed on the key's line); a null value is skipped. */
static bool flat_pair(reader *r, const char *prefix, const ynode *k, const ynode *v) {
    if (is_null(v)) return true;
    if (v->kind == Y_SEQ && !strcmp(k->text, "devices") && v->n > 0) {
        char *text = device_list_text(r, v);
        bool ok = text && add_entry(r, prefix, k->text, text, k->line);
        free(text);
        return ok;
    }
    if (v->kind == Y_MAP && (!strcmp(k->text, "max_time") || !strcmp(k->text, "scheduling")))
        return flat_inline_map(r, prefix, k, v);
    if (v->kind != Y_SCALAR) {
        char *name = join(prefix, k->text);
        if (!name) return out_of_memory(r);
        fail(r, v->line, v->col,
             "expected a single value for %s, got %s; write one value after "
             "'%s:'",
             name, kind_name(v), k->text);
        free(name);
        return false;
    }
    return add_entry(r, prefix, k->text, v->text, k->line);
}

static bool flat_args(reader *r, const char *prefix, const ynode *map) {
    for (int i = 0; i + 1 < map->n; i += 2)
        if (!flat_pair(r, prefix, map->kids[i], map->kids[i + 1])) return false;
    return true;
}

/* `class_path: X` as the flag class_key=X (keyed on the key's line); X must be a name. */
static bool flat_class_path(reader *r, const char *class_key, const char *args_prefix,
                            const ynode *k, const ynode *v) {
    if (v->kind != Y_SCALAR || is_null(v))
        return fail_at(r, v,
                       "class_path of %s must name a class, got %s; write "
                       "'class_path: NAME'",
                       args_prefix, is_null(v) ? "null" : kind_name(v));
    return add_entry(r, NULL, class_key, v->text, k->line);
}

/* `init_args: {k: v}` as args_prefix.k=v; an empty init_args adds nothing. */
static bool flat_init_args(reader *r, const char *args_prefix, const ynode *v) {
    if (is_null(v)) return true;
    if (v->kind != Y_MAP)
        return fail_at(r, v,
                       "init_args of %s must be a mapping of name: value, got %s; "
                       "indent the arguments under 'init_args:'",
                       args_prefix, kind_name(v));
    return flat_args(r, args_prefix, v);
}

/* {class_path: X, init_args: {k: v}} as class_key=X then args_prefix.k=v, in file order. */
static bool flat_class(reader *r, const char *class_key, const char *args_prefix,
                       const ynode *map) {
    for (int i = 0; i + 1 < map->n; i += 2) {
        const ynode *k = map->kids[i], *v = map->kids[i + 1];
        bool ok;
        if (strcmp(k->text, "class_path") == 0)
            ok = flat_class_path(r, class_key, args_prefix, k, v);
        else if (strcmp(k->text, "init_args") == 0)
            ok = flat_init_args(r, args_prefix, v);
        else
            ok = fail_at(r, k,
                         "unexpected key '%s' beside class_path/init_args in %s; move it "
                         "under init_args",
                         k->text, args_prefix);
        if (!ok) return false;
    }
    return true;
}

/* One callback or logger: a class name (or a bool for the logger), or a class_path mapping. */
static bool flat_object(reader *r, const char *name, const ynode *item) {
    if (is_null(item))
        return fail_at(r, item, "empty entry in %s; name a class or remove the entry", name);
    if (item->kind == Y_SCALAR) return add_entry(r, NULL, name, item->text, item->line);
    if (item->kind == Y_SEQ)
        return fail_at(r, item,
                       "expected a class name or a class_path mapping in %s, got %s; "
                       "write one entry per '-' line",
                       name, kind_name(item));
    const ynode *cls = map_get(item, "class_path");
    if (!cls)
        return fail_at(r, item, "an entry of %s has no class_path; add 'class_path: NAME'", name);
    if (strcmp(name, "trainer.logger") || cls->kind != Y_SCALAR)
        return flat_class(r, name, name, item);
    /* A logger's init_args are its own, not every logger's: trainer.logger.CLASS.KEY,
     * which --logger.NAME.KEY reads as an option of that logger alone. */
    char *args = join(name, cls->text);
    bool ok = args ? flat_class(r, name, args, item) : out_of_memory(r);
    free(args);
    return ok;
}

/* trainer.callbacks / trainer.logger: one entry or a sequence of them. */
static bool flat_objects(reader *r, const char *name, const ynode *v) {
    if (v->kind != Y_SEQ) return flat_object(r, name, v);
    for (int i = 0; i < v->n; i++)
        if (!flat_object(r, name, v->kids[i])) return false;
    return true;
}

static bool flat_trainer(reader *r, const ynode *v) {
    if (v->kind != Y_MAP)
        return fail_at(r, v,
                       "expected a mapping of Trainer flags under 'trainer:', got %s; "
                       "indent flags such as 'max_epochs: 5' under it",
                       kind_name(v));
    for (int i = 0; i + 1 < v->n; i += 2) {
        const ynode *k = v->kids[i], *val = v->kids[i + 1];
        bool listy = strcmp(k->text, "callbacks") == 0 || strcmp(k->text, "logger") == 0;
        if (!listy) {
            if (!flat_pair(r, "trainer", k, val)) return false;
            continue;
        }
        if (is_null(val)) continue;
        char *name = join("trainer", k->text);
        bool ok = name ? flat_objects(r, name, val) : out_of_memory(r);
        free(name);
        if (!ok) return false;
    }
    return true;
}

/* model: / data: a class name, a class_path mapping, or plain hyper-parameters. */
static bool flat_component(reader *r, const ynode *k, const ynode *v) {
    if (v->kind == Y_SCALAR) return add_entry(r, k->text, "class_path", v->text, k->line);
    if (v->kind == Y_SEQ)
        return fail_at(r, v,
                       "expected a class name or a mapping for '%s', got %s; write "
                       "'class_path:' and 'init_args:' under it",
                       k->text, kind_name(v));
    if (!map_get(v, "class_path") && !map_get(v, "init_args")) return flat_args(r, k->text, v);
    char *class_key = join(k->text, "class_path");
    bool ok = class_key ? flat_class(r, class_key, k->text, v) : out_of_memory(r);
    free(class_key);
    return ok;
}

static bool flat_top(reader *r, const ynode *root) {
    if (root->kind != Y_MAP)
        return fail_at(r, root,
                       "the config must be a mapping of flags, got %s; write "
                       "'key: value' lines such as 'seed_everything: 42'",
                       is_null(root) ? "nothing" : kind_name(root));
    for (int i = 0; i + 1 < root->n; i += 2) {
        const ynode *k = root->kids[i], *v = root->kids[i + 1];
        bool ok;
        if (strcmp(k->text, "optimizer") == 0 || strcmp(k->text, "lr_scheduler") == 0)
            ok = fail_at(r, k,
                         "'%s' is not supported in config files; configure it in the "
                         "module's configure_optimizers",
                         k->text);
        else if (is_null(v))
            ok = true;
        else if (strcmp(k->text, "trainer") == 0)
            ok = flat_trainer(r, v);
        else if (strcmp(k->text, "model") == 0 || strcmp(k->text, "data") == 0)
            ok = flat_component(r, k, v);
        else
            ok = flat_pair(r, NULL, k, v);
        if (!ok) return false;
    }
    return true;
}

/* ---- the file ------------------------------------------------------------------------ */

/* The whole file into r->text: libyaml's reader errors give byte offsets, which the
 * text turns into line:col. */
static bool slurp(reader *r) {
    FILE *f = fopen(r->path, "rb");
    if (!f)
        return fail(r, 1, 1, "cannot open the config file: %s; check the path", strerror(errno));
    size_t cap = 0;
    bool oom = false;
    while (!feof(f) && !ferror(f) && r->len <= MAX_FILE_BYTES && !oom) {
        if (r->len == cap) {
            size_t grown = cap ? 2 * cap : 4096;
            char *text = realloc(r->text, grown);
            oom = !text;
            if (oom) break;
            r->text = text;
            cap = grown;
        }
        r->len += fread(r->text + r->len, 1, cap - r->len, f);
    }
    int e = errno;
    bool bad = ferror(f);
    fclose(f);
    if (oom) return out_of_memory(r);
    if (bad) return fail(r, 1, 1, "cannot read the config file: %s; check the path", strerror(e));
    if (r->len > MAX_FILE_BYTES)
        return fail(r, 1, 1, "the config file is over %u MiB; is this the right file?",
                    MAX_FILE_BYTES >> 20);
    return true;
}

static void entries_truncate(cfg_entries *e, int n) {
    while (e->n > n) {
        e->n--;
        free(e->items[e->n].key);
        free(e->items[e->n].value);
    }
}

/* The text of r into *root (which the caller frees) and then into flags. */
static bool parse(reader *r, ynode **root) {
    if (!yaml_parser_initialize(&r->parser)) return out_of_memory(r);
    const char *text = r->text ? r->text : ""; /* libyaml asserts a non-NULL input */
    yaml_parser_set_input_string(&r->parser, (const unsigned char *)text, r->len);
    bool ok = load(r, root) && flat_top(r, *root);
    yaml_parser_delete(&r->parser);
    return ok;
}

bool cfg_read_file(const char *path, cfg_entries *out, char *err, size_t errn) {
    reader r = {.path = path ? path : "(null)", .out = out, .err = err, .errn = errn};
    if (err && errn) err[0] = '\0';
    if (!path || !out) return fail(&r, 1, 1, "no config file given; pass a path");
    int n0 = out->n;
    ynode *root = NULL;
    bool ok = slurp(&r) && parse(&r, &root);
    ynode_free(root);
    free(r.text);
    if (!ok) entries_truncate(out, n0);
    return ok;
}

void cfg_entries_free(cfg_entries *e) {
    if (!e) return;
    entries_truncate(e, 0);
    free(e->items);
    *e = (cfg_entries){0};
}
