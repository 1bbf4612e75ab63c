/* Checkpoint state objects: an lt_state_t * is a jansson object (json_t *) under another
 * name, so a child is a borrowed pointer into its parent and freeing the root frees
 * everything. Floats are JSON reals printed with 17 significant digits, which reads
 * back bit for bit; strict JSON has no infinities or NaN, so those are the strings
 * "inf", "-inf" and "nan". */
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <lt/runtime.h>

#include "lt_impl.h"

#define J(st) ((json_t *)(st))
#define CJ(st) ((const json_t *)(st))

/* A NULL or non-object state, or a NULL key, is the caller's bug: say which call. */
static bool bad_args(const char *fn, const lt_state_t *st, const char *key) {
    if (st && json_is_object(CJ(st)) && key) return false;
    lt_set_error(LT_ERR_INVALID_ARG, "%s: %s", fn,
                 !st    ? "the state is NULL"
                 : !key ? "the key is NULL"
                        : "the state is not an object");
    return true;
}

/* The value under key, or NULL. */
static json_t *get(const lt_state_t *st, const char *key) { return json_object_get(CJ(st), key); }

bool lt__state_has(const lt_state_t *st, const char *key) {
    return st && key && json_is_object(CJ(st)) && get(st, key) != NULL;
}

/* ---- objects and JSON text ---------------------------------------------------------- */

lt_state_t *lt_state_new(void) {
    json_t *o = json_object();
    if (!o) lt_set_error(LT_ERR_OOM, "out of host memory for a checkpoint state object");
    return (lt_state_t *)o;
}

void lt_state_free(lt_state_t *st) { json_decref(J(st)); }

/* ---- float32 arrays (#23): {"__lt_f32__": their bytes}, a string JSON cannot print -- */

#define F32_KEY "__lt_f32__"

/* The bytes of the float32 array j is, or NULL. */
static const json_t *f32_bytes(const json_t *j) {
    const json_t *b =
        json_is_object(j) && json_object_size(j) == 1 ? json_object_get(j, F32_KEY) : NULL;
    return json_is_string(b) && json_string_length(b) % sizeof(float) == 0 ? b : NULL;
}

bool lt__state_is_f32(const json_t *j) { return f32_bytes(j) != NULL; }

json_t *lt__state_f32_new(const void *bytes, size_t n) {
    json_t *o = json_object(), *b = json_stringn_nocheck(n ? bytes : "", n);
    if (!o || !b || json_object_set_new(o, F32_KEY, b) != 0) {
        json_decref(o);
        return NULL;
    }
    return o;
}

const void *lt__state_f32_data(const json_t *j, size_t *nbytes) {
    const json_t *b = f32_bytes(j);
    *nbytes = b ? json_string_length(b) : 0;
    return b ? json_string_value(b) : NULL;
}

/* The first float32 array in j (a key path into buf), or false. */
static bool find_f32(const json_t *j, char *buf, size_t n) {
    const char *k;
    const json_t *v;
    json_object_foreach((json_t *)j, k, v) {
        if (lt__state_is_f32(v) || (json_is_object(v) && find_f32(v, buf, n))) {
            if (lt__state_is_f32(v)) snprintf(buf, n, "%s", k);
            return true;
        }
    }
    return false;
}

char *lt_state_to_json(const lt_state_t *st) {
    if (!st || !json_is_object(CJ(st))) {
        lt_set_error(LT_ERR_INVALID_ARG, "lt_state_to_json: the state is NULL or not an object");
        return NULL;
    }
    char key[256];
    if (find_f32(CJ(st), key, sizeof key)) {
        lt_set_error(LT_ERR_INVALID_ARG,
                     "lt_state_to_json: '%s' is a float32 array (lt_state_set_f32), which JSON "
                     "does not hold; a checkpoint stores it as a tensor (lt_ckpt_set_state)",
                     key);
        return NULL;
    }
    /* 17 significant digits: every double parses back to the same bits. */
    char *text = json_dumps(CJ(st), JSON_COMPACT | JSON_REAL_PRECISION(17));
    if (!text) lt_set_error(LT_ERR_OOM, "lt_state_to_json: out of host memory");
    return text;
}

/* Line and column (from 1) of the first character that is not JSON whitespace. */
static void where_text_starts(const char *text, int *line, int *col) {
    *line = *col = 1;
    for (; *text == ' ' || *text == '\t' || *text == '\n' || *text == '\r'; text++) {
        if (*text == '\n')
            *line += 1, *col = 1;
        else
            *col += 1;
    }
}

lt_state_t *lt_state_from_json(const char *text) {
    if (!text) {
        lt_set_error(LT_ERR_INVALID_ARG, "lt_state_from_json: the text is NULL");
        return NULL;
    }
    json_error_t err;
    json_t *o = json_loads(text, JSON_REJECT_DUPLICATES, &err);
    if (!o) {
        lt_set_error(LT_ERR_FORMAT,
                     "checkpoint state: invalid JSON at line %d, column %d: %s; "
                     "the checkpoint is corrupt or was edited by hand",
                     err.line, err.column, err.text);
        return NULL;
    }
    if (!json_is_object(o)) {
        json_decref(o);
        int line, col;
        where_text_starts(text, &line, &col);
        lt_set_error(LT_ERR_FORMAT,
                     "checkpoint state: the JSON value at line %d, column %d is "
                     "not an object ({...}); the checkpoint is corrupt or was edited by hand",
                     line, col);
        return NULL;
    }
    return (lt_state_t *)o;
}

/* ---- setting ------------------------------------------------------------------------ */

/* Store v (a new reference, NULL when out of memory) under key. */
static lt_status put(const char *fn, lt_state_t *st, const char *key, json_t *v) {
    if (bad_args(fn, st, key)) {
        json_decref(v);
        return LT_ERR_INVALID_ARG;
    }
    /* set_new takes v even when it fails; it fails on a key that is not UTF-8. */
    if (!v || json_object_set_new(J(st), key, v) != 0)
        return lt_set_error(LT_ERR_INVALID_ARG,
                            "%s: key '%s' or its value is not valid UTF-8 "
                            "(or out of memory)",
                            fn, key);
    return LT_OK;
}

lt_status lt_state_set_int(lt_state_t *st, const char *key, int64_t v) {
    return put("lt_state_set_int", st, key, json_integer((json_int_t)v));
}

lt_status lt_state_set_float(lt_state_t *st, const char *key, double v) {
    json_t *j = isfinite(v) ? json_real(v) : json_string(isnan(v) ? "nan" : v > 0 ? "inf" : "-inf");
    return put("lt_state_set_float", st, key, j);
}

lt_status lt_state_set_str(lt_state_t *st, const char *key, const char *v) {
    if (!v)
        return lt_set_error(LT_ERR_INVALID_ARG, "lt_state_set_str: the value of '%s' is NULL",
                            key ? key : "(NULL)");
    return put("lt_state_set_str", st, key, json_string(v));
}

lt_state_t *lt_state_child(lt_state_t *st, const char *key) {
    if (bad_args("lt_state_child", st, key)) return NULL;
    json_t *v = get(st, key);
    if (json_is_object(v) && !lt__state_is_f32(v)) return (lt_state_t *)v;
    if (v) {
        lt_set_error(LT_ERR_INVALID_ARG, "lt_state_child: '%s' holds a value, not an object", key);
        return NULL;
    }
    v = json_object();
    if (put("lt_state_child", st, key, v) != LT_OK) return NULL;
    return (lt_state_t *)v; /* borrowed: the parent holds the reference */
}

/* ---- getting ------------------------------------------------------------------------ */

bool lt_state_get_int(const lt_state_t *st, const char *key, int64_t *v) {
    if (bad_args("lt_state_get_int", st, key)) return false;
    json_t *j = get(st, key);
    if (!json_is_integer(j)) return false;
    if (v) *v = (int64_t)json_integer_value(j);
    return true;
}

/* A number, or one of the strings lt_state_set_float writes for non-finite values. */
static bool float_of(const json_t *j, double *x) {
    const char *s = json_string_value(j);
    if (json_is_number(j))
        *x = json_number_value(j);
    else if (s && !strcmp(s, "inf"))
        *x = INFINITY;
    else if (s && !strcmp(s, "-inf"))
        *x = -INFINITY;
    else if (s && !strcmp(s, "nan"))
        *x = NAN;
    else
        return false;
    return true;
}

bool lt_state_get_float(const lt_state_t *st, const char *key, double *v) {
    if (bad_args("lt_state_get_float", st, key)) return false;
    double x;
    if (!float_of(get(st, key), &x)) return false;
    if (v) *v = x;
    return true;
}

const char *lt_state_get_str(const lt_state_t *st, const char *key) {
    if (bad_args("lt_state_get_str", st, key)) return NULL;
    return json_string_value(get(st, key));
}

const lt_state_t *lt_state_get_child(const lt_state_t *st, const char *key) {
    if (bad_args("lt_state_get_child", st, key)) return NULL;
    json_t *v = get(st, key);
    return json_is_object(v) && !lt__state_is_f32(v) ? (const lt_state_t *)v : NULL;
}

int lt_state_count(const lt_state_t *st) {
    if (bad_args("lt_state_count", st, "")) return 0;
    return (int)json_object_size(CJ(st));
}

/* jansson keeps insertion order; walking to i is linear, fine for state-sized objects. */
const char *lt_state_key(const lt_state_t *st, int i) {
    if (bad_args("lt_state_key", st, "")) return NULL;
    void *it = i >= 0 ? json_object_iter(J(st)) : NULL;
    for (int k = 0; it && k < i; k++) it = json_object_iter_next(J(st), it);
    if (!it) {
        lt_set_error(LT_ERR_INVALID_ARG, "lt_state_key: index %d is outside 0..%d", i,
                     (int)json_object_size(CJ(st)) - 1);
        return NULL;
    }
    return json_object_iter_key(it);
}

/* ---- float32 arrays ----------------------------------------------------------------- */

lt_status lt_state_set_f32(lt_state_t *st, const char *key, const float *v, int64_t n) {
    if (n < 0 || n > LT_STATE_MAX_F32 || (n > 0 && !v))
        return lt_set_error(LT_ERR_INVALID_ARG,
                            "lt_state_set_f32 '%s': %lld values (at most %lld, and non-NULL)",
                            key ? key : "(null)", (long long)n, (long long)LT_STATE_MAX_F32);
    json_t *o = lt__state_f32_new(v, (size_t)n * sizeof(float));
    return put("lt_state_set_f32", st, key, o);
}

int64_t lt_state_f32_len(const lt_state_t *st, const char *key) {
    size_t nbytes = 0;
    if (!st || !key || !lt__state_f32_data(get(st, key), &nbytes)) return -1;
    return (int64_t)(nbytes / sizeof(float));
}

bool lt_state_get_f32(const lt_state_t *st, const char *key, float *out, int64_t n) {
    size_t nbytes = 0;
    const void *b = st && key ? lt__state_f32_data(get(st, key), &nbytes) : NULL;
    if (!b || n < 0 || nbytes != (size_t)n * sizeof(float) || (n > 0 && !out)) return false;
    memcpy(out, b, nbytes);
    return true;
}
