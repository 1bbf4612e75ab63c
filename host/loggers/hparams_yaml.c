/* hparams.yaml as Lightning's save_hparams_to_yaml writes it: yaml.dump(dict) with PyYAML's
 * defaults — a block mapping, keys sorted, no "---", width 80, ASCII only.
 *
 * libyaml's emitter is the C twin of PyYAML's, so the layout matches once each scalar is
 * what PyYAML would hand it: the text Python prints for the value, and for strings the
 * "plain_implicit" flag PyYAML sets when the unquoted text would not read back as a string
 * ("123", "true", "null", "1.5" get quoted; "adam" does not). That flag comes from PyYAML's
 * YAML 1.1 implicit resolvers, copied below. */
#define LOGGERS_IMPL
#include "loggers.h"

#include <errno.h>
#include <math.h>
#include <regex.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <yaml.h>

/* ---- PyYAML's implicit resolvers (yaml/resolver.py) as one POSIX ERE ---- */

#define RE_BOOL "yes|Yes|YES|no|No|NO|true|True|TRUE|false|False|FALSE|on|On|ON|off|Off|OFF"
#define RE_FLOAT                                                                                   \
    "[-+]?([0-9][0-9_]*)\\.[0-9_]*([eE][-+][0-9]+)?|\\.[0-9][0-9_]*([eE][-+][0-9]+)?"              \
    "|[-+]?[0-9][0-9_]*(:[0-5]?[0-9])+\\.[0-9_]*|[-+]?\\.(inf|Inf|INF)|\\.(nan|NaN|NAN)"
#define RE_INT                                                                                     \
    "[-+]?0b[0-1_]+|[-+]?0[0-7_]+|[-+]?(0|[1-9][0-9_]*)|[-+]?0x[0-9a-fA-F_]+"                      \
    "|[-+]?[1-9][0-9_]*(:[0-5]?[0-9])+"
#define RE_NULL "~|null|Null|NULL"
#define RE_TIMESTAMP                                                                               \
    "[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]"                                                   \
    "|[0-9][0-9][0-9][0-9]-[0-9][0-9]?-[0-9][0-9]?([Tt]|[ \t]+)[0-9][0-9]?:[0-9][0-9]:[0-9][0-9]"  \
    "(\\.[0-9]*)?([ \t]*(Z|[-+][0-9][0-9]?(:[0-9][0-9])?))?"
#define RE_OTHER "<<|=|!|&|\\*" /* merge, value, and the documentation-only yaml tag */

static const char *const implicit_re =
    "^(" RE_BOOL "|" RE_FLOAT "|" RE_INT "|" RE_NULL "|" RE_TIMESTAMP "|" RE_OTHER ")$";

/* Whether PyYAML would write s unquoted: not when plain text would read back as another type. */
static bool plain_is_str(const regex_t *re, const char *s) {
    return s[0] != '\0' && regexec(re, s, 0, NULL, 0) == REG_NOMATCH;
}

/* ---- values as Python prints them ---- */

/* A copy of s without '_' (YAML 1.1 and Python allow them as digit separators); false if too long. */
static bool strip_underscores(const char *s, char *out, size_t n) {
    size_t j = 0;
    for (; *s; s++) {
        if (*s == '_') continue;
        if (j + 1 >= n) return false;
        out[j++] = *s;
    }
    out[j] = '\0';
    return true;
}

/* How a YAML 1.1 int's digits are written: its base, the prefix before the digits, and the
 * digits it allows. */
typedef struct int_notation {
    int base;
    int prefix_len;
    const char *digits;
} int_notation;

/* The notation of an unsigned YAML 1.1 int body (PyYAML's construct_yaml_int): "0b" binary,
 * "0x" hex, a leading 0 octal ("0" alone is decimal), else decimal. */
static const int_notation *int_notation_of(const char *body) {
    static const int_notation binary = {2, 2, "01"}, octal = {8, 1, "01234567"},
                              decimal = {10, 0, "0123456789"},
                              hex = {16, 2, "0123456789abcdefABCDEF"};
    if (body[0] != '0' || !body[1]) return &decimal;
    if (body[1] == 'b') return &binary;
    if (body[1] == 'x') return &hex;
    return &octal;
}

/* str(int) of a YAML 1.1 int (PyYAML's construct_yaml_int: 0b, 0x, 0-octal, decimal). */
static bool int_text(const char *text, char *out, size_t n) {
    char t[96];
    if (!strip_underscores(text, t, sizeof t)) return false;
    bool neg = t[0] == '-';
    const char *body = t + (t[0] == '-' || t[0] == '+');
    const int_notation *notation = int_notation_of(body);
    const char *digits = body + notation->prefix_len;
    if (!digits[0] || strspn(digits, notation->digits) != strlen(digits)) return false;
    if (notation->base == 10) /* any length: Python ints have no limit */
        return snprintf(out, n, "%s%s", neg && strcmp(digits, "0") != 0 ? "-" : "", digits) <
               (int)n;
    errno = 0;
    unsigned long long v = strtoull(digits, NULL, notation->base);
    if (errno == ERANGE) return false;
    return snprintf(out, n, "%s%llu", neg && v ? "-" : "", v) < (int)n;
}

/* PyYAML's represent_float: repr(), lower case, "1e-05" as "1.0e-05", .nan, .inf, -.inf. */
static bool float_text(const char *text, char *out, size_t n) {
    char t[96];
    if (!strip_underscores(text, t, sizeof t) || n < 40) return false;
    const char *body = t + (t[0] == '-' || t[0] == '+');
    double v;
    if (strcasecmp(body, ".inf") == 0)
        v = INFINITY;
    else if (strcasecmp(body, ".nan") == 0)
        v = NAN;
    else {
        char *end;
        if (!body[0] || strchr("+- \t", body[0])) return false;
        v = strtod(body, &end);
        if (*end) return false;
    }
    if (t[0] == '-') v = -v;
    if (isnan(v)) return strcpy(out, ".nan") != NULL;
    if (isinf(v)) return strcpy(out, v < 0 ? "-.inf" : ".inf") != NULL;
    char r[32];
    logs__float_repr(v, r);
    char *e = strchr(r, 'e');
    if (e && !strchr(r, '.'))
        sprintf(out, "%.*s.0%s", (int)(e - r), r, e);
    else
        strcpy(out, r);
    return true;
}

/* YAML 1.1's booleans (PyYAML's construct_yaml_bool), and 1/0. */
static bool bool_text(const char *text, char *out) {
    static const char *const yes[] = {"true", "yes", "on", "1"}, *const no[] = {"false", "no",
                                                                                "off", "0"};
    for (int i = 0; i < 4; i++) {
        if (strcasecmp(text, yes[i]) == 0) return strcpy(out, "true") != NULL;
        if (strcasecmp(text, no[i]) == 0) return strcpy(out, "false") != NULL;
    }
    return false;
}

/* ---- the mapping: sorted, one entry per key ---- */

typedef struct {
    const char *key;
    const char *str; /* a string value (the caller's text); NULL: the value is num */
    bool plain_ok;   /* PyYAML's plain_implicit */
    int order;       /* place in the caller's list: the last of a key wins */
    char num[48];
} hp_entry;

static int entry_cmp(const void *a, const void *b) {
    const hp_entry *x = a, *y = b;
    int c = strcmp(x->key, y->key);
    return c ? c : x->order - y->order;
}

static bool fill_entry(hp_entry *e, const hparam_kv *hp, int order, const regex_t *re) {
    e->key = hp->name;
    e->order = order;
    e->str = NULL;
    e->plain_ok = true;
    switch (hp->type) {
    case HP_TEXT_INT: return int_text(hp->text, e->num, sizeof e->num);
    case HP_TEXT_FLOAT: return float_text(hp->text, e->num, sizeof e->num);
    case HP_TEXT_BOOL: return bool_text(hp->text, e->num);
    case HP_TEXT_STR: break;
    }
    e->str = hp->text;
    e->plain_ok = plain_is_str(re, hp->text);
    return true;
}

static const char *const type_names[] = {"str", "int", "float", "bool"};

/* The entries, sorted by key with repeats dropped (a dict keeps the last value); count in *m. */
static hp_entry *make_entries(const hparam_kv *hp, int n, const regex_t *re, int *m, char *err,
                              size_t errn) {
    hp_entry *e = malloc((size_t)(n ? n : 1) * sizeof *e);
    if (!e) {
        logs__err(err, errn, "hparams.yaml: out of memory");
        return NULL;
    }
    for (int i = 0; i < n; i++) {
        bool typed = (unsigned)hp[i].type < 4;
        /* An empty name is refused: PyYAML writes it as "? ''" and libyaml cannot. */
        if (hp[i].name && hp[i].name[0] && hp[i].text && typed && fill_entry(&e[i], &hp[i], i, re))
            continue;
        logs__err(err, errn, "hparams.yaml: hparam %d ('%s') has no valid %s value: '%s'", i,
                  hp[i].name ? hp[i].name : "?", typed ? type_names[hp[i].type] : "typed",
                  hp[i].text ? hp[i].text : "(null)");
        free(e);
        return NULL;
    }
    qsort(e, (size_t)n, sizeof *e, entry_cmp);
    *m = 0;
    for (int i = 0; i < n; i++)
        if (i + 1 == n || strcmp(e[i].key, e[i + 1].key) != 0) e[(*m)++] = e[i];
    return e;
}

/* ---- emitting ---- */

static bool emit_scalar(yaml_emitter_t *em, const char *text, bool plain_ok) {
    yaml_event_t ev;
    return yaml_scalar_event_initialize(&ev, NULL, NULL, (yaml_char_t *)text, (int)strlen(text),
                                        plain_ok, 1, YAML_ANY_SCALAR_STYLE) &&
           yaml_emitter_emit(em, &ev);
}

/* The whole stream: no "---", a block mapping ("{}" when empty, as PyYAML), no "...". */
static bool emit_all(yaml_emitter_t *em, const hp_entry *e, int m, const regex_t *re) {
    yaml_event_t ev;
    bool ok = yaml_stream_start_event_initialize(&ev, YAML_UTF8_ENCODING) &&
              yaml_emitter_emit(em, &ev) &&
              yaml_document_start_event_initialize(&ev, NULL, NULL, NULL, 1) &&
              yaml_emitter_emit(em, &ev) &&
              yaml_mapping_start_event_initialize(&ev, NULL, NULL, 1, YAML_BLOCK_MAPPING_STYLE) &&
              yaml_emitter_emit(em, &ev);
    for (int i = 0; i < m && ok; i++)
        ok = emit_scalar(em, e[i].key, plain_is_str(re, e[i].key)) &&
             emit_scalar(em, e[i].str ? e[i].str : e[i].num, e[i].plain_ok);
    return ok && yaml_mapping_end_event_initialize(&ev) && yaml_emitter_emit(em, &ev) &&
           yaml_document_end_event_initialize(&ev, 1) && yaml_emitter_emit(em, &ev) &&
           yaml_stream_end_event_initialize(&ev) && yaml_emitter_emit(em, &ev) &&
           yaml_emitter_flush(em);
}

static bool emit_file(FILE *f, const hp_entry *e, int m, const regex_t *re, const char *path,
                      char *err, size_t errn) {
    yaml_emitter_t em;
    if (!yaml_emitter_initialize(&em)) {
        logs__err(err, errn, "%s: out of memory", path);
        return false;
    }
    yaml_emitter_set_output_file(&em, f);
    yaml_emitter_set_unicode(&em, 0); /* PyYAML's allow_unicode=False: escape non-ASCII */
    yaml_emitter_set_width(&em, 80);
    yaml_emitter_set_indent(&em, 2);
    bool ok = emit_all(&em, e, m, re);
    if (!ok)
        logs__err(err, errn, "cannot write %s: %s", path,
                  em.problem ? em.problem : strerror(errno));
    yaml_emitter_delete(&em);
    return ok;
}

static bool write_file(const char *dir, const hp_entry *e, int m, const regex_t *re, char *err,
                       size_t errn) {
    char *path = malloc(strlen(dir) + sizeof "/hparams.yaml");
    if (!path) {
        logs__err(err, errn, "%s/hparams.yaml: out of memory", dir);
        return false;
    }
    sprintf(path, "%s/hparams.yaml", dir);
    FILE *f = fopen(path, "w");
    bool ok = f && emit_file(f, e, m, re, path, err, errn);
    if (!f) logs__err(err, errn, "cannot create %s: %s", path, strerror(errno));
    if (f && fclose(f) != 0 && ok) {
        logs__err(err, errn, "cannot write %s: %s", path, strerror(errno));
        ok = false;
    }
    free(path);
    return ok;
}

bool write_hparams_yaml(const char *dir, const hparam_kv *hp, int n, char *err, size_t errn) {
    struct stat st;
    if (!dir || stat(dir, &st) != 0 || !S_ISDIR(st.st_mode)) {
        logs__err(err, errn, "Missing folder: %s", dir ? dir : "(null)"); /* Lightning's words */
        return false;
    }
    if (n < 0 || (n > 0 && !hp)) {
        logs__err(err, errn, "%s/hparams.yaml: no hparams given", dir);
        return false;
    }
    regex_t re;
    if (regcomp(&re, implicit_re, REG_EXTENDED | REG_NOSUB) != 0) {
        logs__err(err, errn, "%s/hparams.yaml: cannot compile the YAML resolver", dir);
        return false;
    }
    int m = 0;
    hp_entry *e = make_entries(hp, n, &re, &m, err, errn);
    bool ok = e && write_file(dir, e, m, &re, err, errn);
    free(e);
    regfree(&re);
    return ok;
}
