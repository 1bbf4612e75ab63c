/* config_emit.c — the YAML tree behind --print_config, written with libyaml's emitter.
 *
 * libyaml picks quotes by syntax alone (': ', '#', leading spaces, line breaks), never by
 * type, so a string that a YAML reader would resolve to a null, bool, int or float is
 * quoted here; otherwise "true" the string would come back as true the bool. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

#include "config.h"

/* ---- the tree ------------------------------------------------------------------------ */

typedef enum { N_MAP, N_SEQ, N_SCALAR } node_kind;

struct cfg_node {
    node_kind kind;
    cfg_scalar_type type; /* N_SCALAR */
    char *text;           /* N_SCALAR */
    char **keys;          /* N_MAP: keys[i] names kids[i] */
    cfg_node **kids;      /* N_MAP, N_SEQ; owned */
    int n, cap;
};

static char *copy_text(const char *s) {
    size_t n = strlen(s) + 1;
    char *c = malloc(n);
    return c ? memcpy(c, s, n) : NULL;
}

static cfg_node *node_new(node_kind kind) {
    cfg_node *n = calloc(1, sizeof *n);
    if (n) n->kind = kind;
    return n;
}

cfg_node *cfg_map(void) { return node_new(N_MAP); }
cfg_node *cfg_seq(void) { return node_new(N_SEQ); }

cfg_node *cfg_scalar(const char *text, cfg_scalar_type type) {
    cfg_node *n = node_new(N_SCALAR);
    if (!n) return NULL;
    n->type = type;
    n->text = copy_text(text ? text : "");
    if (!n->text) {
        free(n);
        return NULL;
    }
    return n;
}

void cfg_node_free(cfg_node *n) {
    if (!n) return;
    for (int i = 0; i < n->n; i++) {
        if (n->keys) free(n->keys[i]);
        cfg_node_free(n->kids[i]);
    }
    free(n->keys);
    free(n->kids);
    free(n->text);
    free(n);
}

bool cfg_scalar_is_null(const cfg_node *n) {
    return n && n->kind == N_SCALAR && n->type == CFG_NULL;
}

bool cfg_scalar_equal(const cfg_node *a, const cfg_node *b) {
    return a && b && a->kind == N_SCALAR && b->kind == N_SCALAR && a->type == b->type &&
           !strcmp(a->text, b->text);
}

/* Room for one more child (and key, in a map). */
static bool reserve(cfg_node *p) {
    if (p->n < p->cap) return true;
    int cap = p->cap ? 2 * p->cap : 8;
    cfg_node **kids = realloc(p->kids, (size_t)cap * sizeof *kids);
    if (!kids) return false;
    p->kids = kids;
    if (p->kind == N_MAP) {
        char **keys = realloc(p->keys, (size_t)cap * sizeof *keys);
        if (!keys) return false;
        p->keys = keys;
    }
    p->cap = cap;
    return true;
}

static bool has_key(const cfg_node *map, const char *key) {
    for (int i = 0; i < map->n; i++)
        if (strcmp(map->keys[i], key) == 0) return true;
    return false;
}

bool cfg_map_add(cfg_node *map, const char *key, cfg_node *child) {
    char *k = NULL;
    bool ok = map && map->kind == N_MAP && key && child && !has_key(map, key) && reserve(map) &&
              (k = copy_text(key)) != NULL;
    if (!ok) {
        cfg_node_free(child);
        return false;
    }
    map->keys[map->n] = k;
    map->kids[map->n++] = child;
    return true;
}

bool cfg_seq_add(cfg_node *seq, cfg_node *child) {
    if (!seq || seq->kind != N_SEQ || !child || !reserve(seq)) {
        cfg_node_free(child);
        return false;
    }
    seq->kids[seq->n++] = child;
    return true;
}

/* ---- quoting ------------------------------------------------------------------------- */

/* Numbers as YAML 1.1 and 1.2 readers see them, generously: ints with leading zeros or
 * '_', 0x/0o/0b, floats with or without a dot ("1e-3"), .inf/.nan, 1:30 (base 60) and
 * dates. Quoting a few strings that would have stayed strings costs nothing. */
static bool looks_numeric(const char *s) {
    static const char *const specials[] = {".inf", ".Inf", ".INF", ".nan", ".NaN", ".NAN"};
    if (*s == '+' || *s == '-') s++;
    for (size_t i = 0; i < sizeof specials / sizeof specials[0]; i++)
        if (strcmp(s, specials[i]) == 0) return true;
    if (s[0] == '0' && s[1] && strchr("xXoObB", s[1])) return true;
    bool digit_first = (*s >= '0' && *s <= '9') || (*s == '.' && s[1] >= '0' && s[1] <= '9');
    return digit_first && strspn(s, "0123456789_.:eE+-") == strlen(s);
}

/* Would a YAML reader resolve plain `s` to something other than the string s? */
static bool looks_typed(const char *s) {
    static const char *const words[] = {
        "",      "~",   "null", "Null", "NULL", "true", "True", "TRUE", "false", "False",
        "FALSE", "yes", "Yes",  "YES",  "no",   "No",   "NO",   "on",   "On",    "ON",
        "off",   "Off", "OFF",  "y",    "Y",    "n",    "N",    "=",    "<<",
    };
    for (size_t i = 0; i < sizeof words / sizeof words[0]; i++)
        if (strcmp(s, words[i]) == 0) return true;
    return looks_numeric(s);
}

/* ---- emitting ------------------------------------------------------------------------ */

/* The emitter's output: the stream and the errno of the first failed write. */
typedef struct sink {
    FILE *f;
    int err;
} sink;

static int sink_write(void *data, unsigned char *buf, size_t size) {
    sink *s = data;
    if (fwrite(buf, 1, size, s->f) == size) return 1;
    s->err = errno ? errno : EIO;
    return 0;
}

/* Plain where libyaml allows it; quoted (libyaml picks single or double) when asked. */
static bool emit_scalar(yaml_emitter_t *em, const char *text, bool quote) {
    yaml_event_t ev;
    yaml_scalar_style_t style = quote ? YAML_SINGLE_QUOTED_SCALAR_STYLE : YAML_PLAIN_SCALAR_STYLE;
    return yaml_scalar_event_initialize(&ev, NULL, NULL, (const yaml_char_t *)text,
                                        (int)strlen(text), 1, 1, style) &&
           yaml_emitter_emit(em, &ev);
}

static bool emit_node(yaml_emitter_t *em, const cfg_node *n);

static bool emit_map(yaml_emitter_t *em, const cfg_node *n) {
    yaml_event_t ev;
    if (!yaml_mapping_start_event_initialize(&ev, NULL, NULL, 1, YAML_BLOCK_MAPPING_STYLE) ||
        !yaml_emitter_emit(em, &ev))
        return false;
    for (int i = 0; i < n->n; i++)
        if (!emit_scalar(em, n->keys[i], looks_typed(n->keys[i])) || !emit_node(em, n->kids[i]))
            return false;
    return yaml_mapping_end_event_initialize(&ev) && yaml_emitter_emit(em, &ev);
}

static bool emit_seq(yaml_emitter_t *em, const cfg_node *n) {
    yaml_event_t ev;
    if (!yaml_sequence_start_event_initialize(&ev, NULL, NULL, 1, YAML_BLOCK_SEQUENCE_STYLE) ||
        !yaml_emitter_emit(em, &ev))
        return false;
    for (int i = 0; i < n->n; i++)
        if (!emit_node(em, n->kids[i])) return false;
    return yaml_sequence_end_event_initialize(&ev) && yaml_emitter_emit(em, &ev);
}

static bool emit_node(yaml_emitter_t *em, const cfg_node *n) {
    switch (n->kind) {
    case N_MAP: return emit_map(em, n);
    case N_SEQ: return emit_seq(em, n);
    case N_SCALAR: break;
    }
    if (n->type == CFG_NULL) return emit_scalar(em, "null", false);
    return emit_scalar(em, n->text, n->type == CFG_STR && looks_typed(n->text));
}

/* Implicit start and end: no "---" or "..." around the one document. */
static bool emit_document(yaml_emitter_t *em, const cfg_node *root) {
    yaml_event_t ev;
    return yaml_stream_start_event_initialize(&ev, YAML_UTF8_ENCODING) &&
           yaml_emitter_emit(em, &ev) &&
           yaml_document_start_event_initialize(&ev, NULL, NULL, NULL, 1) &&
           yaml_emitter_emit(em, &ev) && emit_node(em, root) &&
           yaml_document_end_event_initialize(&ev, 1) && yaml_emitter_emit(em, &ev) &&
           yaml_stream_end_event_initialize(&ev) && yaml_emitter_emit(em, &ev);
}

static void emit_error(const yaml_emitter_t *em, const sink *s, char *err, size_t errn) {
    if (!err || errn == 0) return;
    if (s->err)
        snprintf(err, errn, "print_config: cannot write the config: %s; check the output file",
                 strerror(s->err));
    else if (em->error == YAML_EMITTER_ERROR && em->problem)
        snprintf(err, errn, "print_config: libyaml refused the document: %s", em->problem);
    else
        snprintf(err, errn, "print_config: out of memory while writing the config");
}

bool cfg_emit(FILE *out, const cfg_node *root, char *err, size_t errn) {
    if (err && errn) err[0] = '\0';
    if (!out || !root) {
        if (err && errn)
            snprintf(err, errn, "print_config: nothing to write (no %s)", out ? "tree" : "stream");
        return false;
    }
    yaml_emitter_t em;
    if (!yaml_emitter_initialize(&em)) {
        if (err && errn)
            snprintf(err, errn, "print_config: out of memory while writing the config");
        return false;
    }
    sink s = {.f = out};
    yaml_emitter_set_output(&em, sink_write, &s);
    yaml_emitter_set_indent(&em, 2);
    yaml_emitter_set_width(&em, -1); /* no folding: long paths stay on one line */
    yaml_emitter_set_unicode(&em, 1);
    bool ok = emit_document(&em, root) && yaml_emitter_flush(&em);
    if (ok && fflush(out) != 0) {
        s.err = errno ? errno : EIO;
        ok = false;
    }
    if (!ok) emit_error(&em, &s, err, errn);
    yaml_emitter_delete(&em);
    return ok;
}
