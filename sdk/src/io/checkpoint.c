/* .ckpt files: a module's state as safetensors tensors plus JSON metadata
 * (docs/checkpoint-format.md). Restoring checks everything it will touch before it
 * changes anything, so a refused checkpoint leaves the module as it was. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <lt/checkpoint.h>

#include "module/ctx_impl.h"

struct lt_ckpt {
    lt_st_writer_t *w; /* capturing */
    lt_st_file_t *f;   /* opened */
    char *path;
};

static char *dump_state(const lt_state_t *st) {
    char *text = lt_state_to_json(st);
    if (!text) lt_set_error(LT_ERR_OOM, "out of host memory serialising checkpoint metadata");
    return text;
}

/* Set metadata key to the JSON of st, and free st. */
static lt_status put_state(lt_ckpt_t *c, const char *key, lt_state_t *st) {
    char *text = st ? dump_state(st) : NULL;
    lt_state_free(st);
    if (!text) return lt_last_status() ? lt_last_status() : LT_ERR_OOM;
    lt_status s = lt_st_writer_meta(c->w, key, text);
    free(text);
    return s;
}

static lt_status add_floats(lt_ckpt_t *c, const char *name, int ndim, const int64_t *shape,
                            const float *data, int64_t numel) {
    return lt_st_writer_add(c->w, name, LT_ST_F32, ndim, shape, data,
                            (size_t)numel * sizeof(float));
}

/* Parameters, then buffers (int64 ones such as num_batches_tracked as I64). */
static lt_status capture_weights(lt_ckpt_t *c, lt_ctx_t *ctx) {
    lt_status s = LT_OK;
    char name[512];
    const param_entry *e;
    for (int k = 0; (e = lt__state_entry(ctx, k)) && s == LT_OK; k++) {
        const lt_tensor_t *t = e->t;
        size_t bytes = (size_t)t->numel * lt__dtype_size(t->dtype);
        void *buf = malloc(bytes ? bytes : 1);
        if (!buf) return lt_set_error(LT_ERR_OOM, "out of host memory saving %s", e->name);
        snprintf(name, sizeof name, "state_dict.%s", e->name);
        s = lt_to_host(t, buf, bytes);
        if (s == LT_OK)
            s = lt_st_writer_add(c->w, name, t->dtype == LT_I64 ? LT_ST_I64 : LT_ST_F32, t->ndim,
                                 t->shape, buf, bytes);
        free(buf);
    }
    return s;
}

static lt_state_t *hparams_state(const lt_ctx_t *ctx) {
    lt_state_t *st = lt_state_new();
    lt_status s = st ? LT_OK : LT_ERR_OOM;
    for (int i = 0; i < ctx->nhp && s == LT_OK; i++) {
        const hparam_value *v = &ctx->hp[i];
        const char *k = v->desc->name;
        switch (v->desc->type) {
        case LT_HP_INT:
        case LT_HP_BOOL: s = lt_state_set_int(st, k, v->i); break;
        case LT_HP_FLOAT: s = lt_state_set_float(st, k, v->f); break;
        case LT_HP_STR: s = lt_state_set_str(st, k, v->s); break;
        }
    }
    if (s != LT_OK) {
        lt_state_free(st);
        return NULL;
    }
    return st;
}

/* The module's index of parameter t (optimizers hold the module's tensors). */
static int param_index(const lt_ctx_t *ctx, const lt_tensor_t *t) {
    for (int i = 0; i < ctx->nparams; i++)
        if (ctx->params[i].t == t) return i;
    return -1;
}

/* torch's per-parameter state, "optimizer_states.<j>.state.<p>.<slot>", p counting the
 * optimizer's own parameters as torch's state_dict does. */
static lt_status capture_optimizer_tensors(lt_ckpt_t *c, const lt_optimizer_t *o, int j) {
    if (!lt__optimizer_has_state(o)) return LT_OK;
    const lt_param_list_t *l = lt__optimizer_params(o);
    lt_status s = LT_OK;
    char name[256];
    for (int64_t p = 0; p < l->len && s == LT_OK; p++) {
        const lt_tensor_t *t = l->items[p];
        float *buf = malloc((size_t)t->numel * sizeof *buf);
        if (!buf) return lt_set_error(LT_ERR_OOM, "out of host memory saving optimizer state");
        for (int k = 0; k < lt__optimizer_num_slots(o) && s == LT_OK; k++) {
            snprintf(name, sizeof name, "optimizer_states.%d.state.%lld.%s", j, (long long)p,
                     lt__optimizer_slot_name(o, k));
            lt__optimizer_slot_get(o, k, p, buf);
            s = add_floats(c, name, t->ndim, t->shape, buf, t->numel);
        }
        free(buf);
    }
    return s;
}

static lt_status capture_optimizers(lt_ckpt_t *c, const lt_ctx_t *ctx) {
    lt_state_t *all = lt_state_new();
    if (!all) return LT_ERR_OOM;
    lt_status s = LT_OK;
    char key[32];
    for (int j = 0; j < ctx->nopts && s == LT_OK; j++) {
        const lt_optimizer_t *o = ctx->opts[j];
        snprintf(key, sizeof key, "%d", j);
        lt_state_t *st = lt_state_child(all, key);
        lt_state_t *ids = st ? lt_state_child(st, "param_ids") : NULL;
        s = ids ? lt__optimizer_save(o, st) : lt_last_status();
        const lt_param_list_t *l = lt__optimizer_params(o);
        for (int64_t p = 0; p < l->len && s == LT_OK; p++) {
            snprintf(key, sizeof key, "%lld", (long long)p);
            s = lt_state_set_int(ids, key, param_index(ctx, l->items[p]));
        }
        if (s == LT_OK) s = capture_optimizer_tensors(c, o, j);
    }
    if (s != LT_OK) {
        lt_state_free(all);
        return s;
    }
    return put_state(c, "optimizer_states", all);
}

static lt_status capture_schedulers(lt_ckpt_t *c, const lt_ctx_t *ctx) {
    lt_state_t *all = lt_state_new();
    if (!all) return LT_ERR_OOM;
    lt_status s = LT_OK;
    char key[32];
    for (int j = 0; j < ctx->nscheds && s == LT_OK; j++) {
        snprintf(key, sizeof key, "%d", j);
        lt_state_t *st = lt_state_child(all, key);
        s = st ? lt__scheduler_save(ctx->scheds[j], st) : lt_last_status();
        const lt_scheduler_config *cfg = &ctx->sched_cfgs[j];
        if (s == LT_OK)
            s = lt_state_set_str(st, "interval",
                                 cfg->interval == LT_INTERVAL_STEP ? "step" : "epoch");
        if (s == LT_OK) s = lt_state_set_int(st, "frequency", cfg->frequency);
        if (s == LT_OK && cfg->monitor) s = lt_state_set_str(st, "monitor", cfg->monitor);
    }
    if (s != LT_OK) {
        lt_state_free(all);
        return s;
    }
    return put_state(c, "lr_schedulers", all);
}

static lt_status capture_header(lt_ckpt_t *c, const lt_ctx_t *ctx) {
    char text[64];
    snprintf(text, sizeof text, "\"%d.%d\"", LT_CKPT_FORMAT_MAJOR, LT_CKPT_FORMAT_MINOR);
    lt_status s = lt_st_writer_meta(c->w, "format_version", text);
    snprintf(text, sizeof text, "\"%s\"", lt_version());
    if (s == LT_OK) s = lt_st_writer_meta(c->w, "lthost_version", text);
    snprintf(text, sizeof text, "\"%d.%d\"", LT_ABI_MAJOR, LT_ABI_MINOR);
    if (s == LT_OK) s = lt_st_writer_meta(c->w, "abi_version", text);
    lt_state_t *m = lt_state_new();
    if (s == LT_OK && m) s = lt_state_set_str(m, "name", ctx->plugin_name);
    if (s == LT_OK && m)
        s = lt_state_set_int(m, "num_parameters", lt_num_parameters((lt_ctx_t *)ctx));
    if (s != LT_OK) {
        lt_state_free(m);
        return s;
    }
    return put_state(c, "module", m);
}

lt_ckpt_t *lt_ckpt_capture(lt_ctx_t *ctx) {
    if (!ctx || !ctx->materialized) {
        lt_set_error(LT_ERR_STATE, "lt_ckpt_capture: the module's parameters are not allocated "
                                   "(call it after lt_ctx_materialize)");
        return NULL;
    }
    lt_ckpt_t *c = calloc(1, sizeof *c);
    if (!c || !(c->w = lt_st_writer_new())) {
        free(c);
        lt_set_error(LT_ERR_OOM, "out of host memory for a checkpoint");
        return NULL;
    }
    lt_status s = capture_header(c, ctx);
    if (s == LT_OK) s = capture_weights(c, ctx);
    if (s == LT_OK) s = put_state(c, "hyper_parameters", hparams_state(ctx));
    if (s == LT_OK) s = capture_optimizers(c, ctx);
    if (s == LT_OK) s = capture_schedulers(c, ctx);
    if (s != LT_OK) {
        lt_ckpt_free(c);
        return NULL;
    }
    return c;
}

lt_status lt_ckpt_set(lt_ckpt_t *c, const char *key, const char *json) {
    if (!c || !c->w || !key || !json)
        return lt_set_error(LT_ERR_INVALID_ARG, "lt_ckpt_set: needs a captured checkpoint, a key "
                                                "and JSON text");
    return lt_st_writer_meta(c->w, key, json);
}

/* ---- state with float32 arrays (#23): the arrays are tensors, JSON names them ------- */

#define TENSOR_REF_KEY "__lt_tensor__"

/* Move every float32 array inside j into the file as tensor "<path>.<key>", leaving
 * {"__lt_tensor__": name} in its place. */
static lt_status arrays_to_tensors(lt_ckpt_t *c, json_t *j, const char *path) {
    const char *k;
    json_t *v;
    char name[1024];
    json_object_foreach(j, k, v) {
        if ((size_t)snprintf(name, sizeof name, "%s.%s", path, k) >= sizeof name)
            return lt_set_error(LT_ERR_INVALID_ARG, "checkpoint state key path too long: %s.%s",
                                path, k);
        size_t nbytes = 0;
        const void *b = lt__state_f32_data(v, &nbytes);
        lt_status r = LT_OK;
        if (b) {
            int64_t n = (int64_t)(nbytes / sizeof(float));
            r = lt_st_writer_add(c->w, name, LT_ST_F32, 1, &n, b, nbytes);
            json_t *ref = r == LT_OK ? json_pack("{ss}", TENSOR_REF_KEY, name) : NULL;
            if (r == LT_OK && (!ref || json_object_set_new(j, k, ref) != 0))
                r = lt_set_error(LT_ERR_OOM, "out of host memory saving %s", name);
        } else if (json_is_object(v)) {
            r = arrays_to_tensors(c, v, name);
        }
        if (r != LT_OK) return r;
    }
    return LT_OK;
}

lt_status lt_ckpt_set_state(lt_ckpt_t *c, const char *key, const lt_state_t *st) {
    if (!c || !c->w || !key || !st)
        return lt_set_error(LT_ERR_INVALID_ARG,
                            "lt_ckpt_set_state: needs a captured checkpoint, a key and a state");
    json_t *copy = json_deep_copy((const json_t *)st);
    if (!copy) return lt_set_error(LT_ERR_OOM, "out of host memory saving '%s'", key);
    lt_status r = arrays_to_tensors(c, copy, key);
    return r == LT_OK ? put_state(c, key, (lt_state_t *)copy) : (json_decref(copy), r);
}

/* The tensor a {"__lt_tensor__": name} object names, as a float32 array; NULL (with an
 * error) when the file has no such 1-D F32 tensor. Its bytes were checked to lie in the
 * file when it was opened. */
static json_t *tensor_to_array(const lt_ckpt_t *c, const char *key, const char *name) {
    const lt_st_tensor *t = name ? lt_st_find(c->f, name) : NULL;
    if (!t || t->dtype != LT_ST_F32 || t->ndim != 1 || t->numel > LT_STATE_MAX_F32 ||
        t->nbytes != (size_t)t->numel * sizeof(float)) {
        lt_set_error(LT_ERR_FORMAT, "metadata '%s' names tensor '%s', which %s", key,
                     name ? name : "(not a string)",
                     t ? "is not a 1-D F32 tensor" : "the file does not hold");
        return NULL;
    }
    json_t *a = lt__state_f32_new(t->data, t->nbytes);
    if (!a) lt_set_error(LT_ERR_OOM, "out of host memory reading %s", name);
    return a;
}

/* Replace every tensor reference inside j by the array it names. */
static lt_status tensors_to_arrays(const lt_ckpt_t *c, const char *key, json_t *j, int depth) {
    if (depth > 64) return lt_set_error(LT_ERR_FORMAT, "metadata '%s' nests too deep", key);
    const char *k;
    json_t *v;
    json_object_foreach(j, k, v) {
        if (!json_is_object(v)) continue;
        json_t *ref = json_object_size(v) == 1 ? json_object_get(v, TENSOR_REF_KEY) : NULL;
        if (!ref) {
            lt_status r = tensors_to_arrays(c, key, v, depth + 1);
            if (r != LT_OK) return r;
            continue;
        }
        json_t *a = tensor_to_array(c, key, json_string_value(ref));
        if (!a || json_object_set_new(j, k, a) != 0) return lt_last_status();
    }
    return LT_OK;
}

lt_state_t *lt_ckpt_get_state(const lt_ckpt_t *c, const char *key) {
    const char *text = c && c->f && key ? lt_ckpt_get(c, key) : NULL;
    if (!text) return NULL;
    lt_state_t *st = lt_state_from_json(text);
    if (!st) {
        lt_set_error(LT_ERR_FORMAT, "metadata '%s': %s", key, lt_last_error());
        return NULL;
    }
    if (tensors_to_arrays(c, key, (json_t *)st, 0) == LT_OK) return st;
    lt_state_free(st);
    return NULL;
}

lt_status lt_ckpt_save(lt_ckpt_t *c, const char *path) {
    if (!c || !c->w || !path)
        return lt_set_error(LT_ERR_INVALID_ARG,
                            "lt_ckpt_save: needs a captured checkpoint and a path");
    return lt_st_writer_save(c->w, path);
}

/* ---- reading ------------------------------------------------------------------------ */

/* One version number: 1 to 9 digits (no sign, no space), so it fits an int; the end of
 * the digits in *end. */
static bool parse_version_part(const char *s, const char **end, int *out) {
    int n = 0, v = 0;
    for (; s[n] >= '0' && s[n] <= '9'; n++) {
        if (n == 9) return false; /* a 10th digit could pass INT_MAX */
        v = v * 10 + (s[n] - '0');
    }
    if (n == 0) return false;
    *out = v;
    *end = s + n;
    return true;
}

/* format_version is the JSON string "MAJOR.MINOR", both plain digits, major >= 1:
 * anything else ("-1.5", "1.0x", "99999999999999999999.0") is not a version we wrote. */
static bool parse_format_version(const char *v, int *major, int *minor) {
    const char *p = v;
    if (*p++ != '"' || !parse_version_part(p, &p, major) || *p++ != '.' ||
        !parse_version_part(p, &p, minor) || strcmp(p, "\"") != 0)
        return false;
    return *major >= 1;
}

static lt_status check_version(const lt_ckpt_t *c) {
    const char *v = lt_st_meta(c->f, "format_version");
    int major = 0, minor = 0;
    if (!v)
        return lt_set_error(
            LT_ERR_FORMAT,
            "%s: not an lthost checkpoint (no format_version in "
            "its metadata); load plain safetensors weights with lt_load_weights_file",
            c->path);
    char shown[48];
    if (!parse_format_version(v, &major, &minor))
        return lt_set_error(LT_ERR_FORMAT,
                            "%s: format_version %s%s is not a checkpoint format "
                            "(expected \"MAJOR.MINOR\" in digits, major >= 1, as lthost writes "
                            "\"%d.%d\"); the file is damaged or was not written by lthost",
                            c->path, lt_escape_text(v, shown, 41),
                            strlen(v) > strlen(shown) ? "..." : "", LT_CKPT_FORMAT_MAJOR,
                            LT_CKPT_FORMAT_MINOR);
    if (major > LT_CKPT_FORMAT_MAJOR)
        return lt_set_error(LT_ERR_ABI,
                            "%s: written in checkpoint format %d.%d by a newer "
                            "lthost; this one reads format %d.x; upgrade lthost to load it",
                            c->path, major, minor, LT_CKPT_FORMAT_MAJOR);
    return LT_OK;
}

lt_status lt_ckpt_open(const char *path, lt_ckpt_t **out) {
    if (!path || !out) return lt_set_error(LT_ERR_INVALID_ARG, "lt_ckpt_open: NULL argument");
    *out = NULL;
    lt_ckpt_t *c = calloc(1, sizeof *c);
    if (!c || !(c->path = strdup(path))) {
        free(c);
        return lt_set_error(LT_ERR_OOM, "out of host memory opening %s", path);
    }
    lt_status s = lt_st_open(path, &c->f);
    if (s == LT_OK) s = check_version(c);
    if (s != LT_OK) {
        lt_ckpt_free(c);
        return s;
    }
    *out = c;
    return LT_OK;
}

const char *lt_ckpt_get(const lt_ckpt_t *c, const char *key) {
    return c && c->f && key ? lt_st_meta(c->f, key) : NULL;
}

const lt_st_file_t *lt_ckpt_file(const lt_ckpt_t *c) { return c ? c->f : NULL; }

/* The metadata entry key parsed as a JSON object (free it), or NULL with an error. */
static lt_state_t *meta_state(const lt_ckpt_t *c, const char *key) {
    const char *text = lt_ckpt_get(c, key);
    if (!text) {
        lt_set_error(LT_ERR_FORMAT, "%s: the checkpoint has no '%s' entry", c->path, key);
        return NULL;
    }
    lt_state_t *st = lt_state_from_json(text);
    if (!st) lt_set_error(LT_ERR_FORMAT, "%s: metadata '%s': %s", c->path, key, lt_last_error());
    return st;
}

static bool declares(const lt_ctx_t *ctx, const char *name) {
    for (int i = 0; i < ctx->nhp; i++)
        if (!strcmp(ctx->hp[i].desc->name, name)) return true;
    return false;
}

/* Set hparam k of ctx from the saved JSON value (strings as they are, numbers as text
 * that reads back exactly). */
static lt_status set_saved_hparam(lt_ctx_t *ctx, const lt_state_t *st, const char *k) {
    char text[64];
    const char *str = lt_state_get_str(st, k);
    int64_t i;
    double f;
    if (!str && lt_state_get_int(st, k, &i))
        snprintf(text, sizeof text, "%lld", (long long)i);
    else if (!str && lt_state_get_float(st, k, &f))
        snprintf(text, sizeof text, "%.17g", f);
    else if (!str)
        return lt_set_error(LT_ERR_FORMAT, "hyper-parameter '%s' is neither a number nor text", k);
    return lt_ctx_set_hparam(ctx, k, str ? str : text);
}

lt_status lt_ckpt_restore_hparams(const lt_ckpt_t *c, lt_ctx_t *ctx) {
    if (!c || !c->f || !ctx)
        return lt_set_error(LT_ERR_INVALID_ARG, "lt_ckpt_restore_hparams: NULL argument");
    lt_state_t *st = meta_state(c, "hyper_parameters");
    lt_state_t *before = st ? hparams_state(ctx) : NULL; /* to undo a partial restore */
    if (!st || !before) {
        lt_state_free(st);
        return lt_last_status() ? lt_last_status() : LT_ERR_OOM;
    }
    lt_status s = LT_OK;
    for (int i = 0; i < lt_state_count(st) && s == LT_OK; i++) {
        const char *k = lt_state_key(st, i);
        if (!declares(ctx, k)) continue; /* a name the module dropped: the caller may say so */
        if ((s = set_saved_hparam(ctx, st, k)) != LT_OK) {
            char why[512];
            snprintf(why, sizeof why, "%s", lt_last_error());
            for (int j = 0; j < lt_state_count(before); j++)
                set_saved_hparam(ctx, before, lt_state_key(before, j));
            s = lt_set_error(s, "%s: saved hyper-parameter: %s", c->path, why);
        }
    }
    lt_state_free(st);
    lt_state_free(before);
    return s;
}

/* ---- weights -------------------------------------------------------------------------- */

/* A bounded message listing problems ("missing key(s) a, b; size mismatch for c ..."). */
typedef struct problems {
    char text[1536];
    size_t len;
    int count;
} problems;

static void note(problems *p, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void note(problems *p, const char *fmt, ...) {
    p->count++;
    if (p->len >= sizeof p->text - 1) return;
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(p->text + p->len, sizeof p->text - p->len, fmt, ap);
    va_end(ap);
    p->len = n < 0 ? p->len : p->len + (size_t)n;
    if (p->len > sizeof p->text - 1) p->len = sizeof p->text - 1;
}

static void shape_text(int ndim, const int64_t *shape, char *buf, size_t n) {
    size_t len = (size_t)snprintf(buf, n, "[");
    for (int i = 0; i < ndim && len < n; i++)
        len += (size_t)snprintf(buf + len, n - len, "%s%lld", i ? ", " : "", (long long)shape[i]);
    if (len < n) snprintf(buf + len, n - len, "]");
}

/* The file tensor for parameter name under one of the prefixes, or NULL. */
static const lt_st_tensor *find_param(const lt_st_file_t *f, const char *const *prefixes,
                                      const char *name) {
    char key[512];
    for (int i = 0; prefixes[i]; i++) {
        snprintf(key, sizeof key, "%s%s", prefixes[i], name);
        const lt_st_tensor *t = lt_st_find(f, key);
        if (t) return t;
    }
    return NULL;
}

static bool is_param_key(const lt_ctx_t *ctx, const char *const *prefixes, const char *key) {
    for (int i = 0; prefixes[i]; i++) {
        size_t n = strlen(prefixes[i]);
        if (strncmp(key, prefixes[i], n) != 0) continue;
        for (int j = 0; lt__state_entry(ctx, j); j++)
            if (!strcmp(key + n, lt__state_entry(ctx, j)->name)) return true;
    }
    return false;
}

/* key without the first prefix it starts with, or NULL when it has none of them. */
static const char *strip_prefix(const char *const *prefixes, const char *key) {
    for (int i = 0; prefixes[i]; i++)
        if (!strncmp(key, prefixes[i], strlen(prefixes[i]))) return key + strlen(prefixes[i]);
    return NULL;
}

/* Whether the file tensor t can be copied into parameter or buffer p: p's dtype and shape. */
static bool tensor_fits_param(const lt_st_tensor *t, const lt_tensor_t *p) {
    return t->dtype == (p->dtype == LT_I64 ? LT_ST_I64 : LT_ST_F32) && t->ndim == p->ndim &&
           !memcmp(t->shape, p->shape, (size_t)p->ndim * sizeof *p->shape);
}

static void note_shape_mismatch(problems *shapes, const char *name, const lt_st_tensor *t,
                                const lt_tensor_t *p) {
    char in_file[128], in_module[128];
    shape_text(t->ndim, t->shape, in_file, sizeof in_file);
    shape_text(p->ndim, p->shape, in_module, sizeof in_module);
    note(shapes, "%s%s: %s %s in the file, %s %s in the module", shapes->count ? "; " : "", name,
         lt_st_dtype_name(t->dtype), in_file, in_module, p->dtype == LT_I64 ? "I64" : "F32");
}

/* The file's keys under a prefix that name no parameter (optimizer state aside). */
static void note_unexpected_keys(const lt_st_file_t *f, const lt_ctx_t *ctx,
                                 const char *const *prefixes, problems *unexpected) {
    for (int64_t i = 0; i < lt_st_count(f); i++) {
        const char *key = lt_st_at(f, i)->name, *name = strip_prefix(prefixes, key);
        if (name && strncmp(key, "optimizer_states.", 17) != 0 && !is_param_key(ctx, prefixes, key))
            note(unexpected, "%s%s", unexpected->count ? ", " : "", name);
    }
}

/* What keeps the file's weights from loading: parameters it lacks and keys it has beyond
 * them (both only when strict), and tensors of the wrong dtype or shape. */
static void check_weights(const lt_st_file_t *f, const lt_ctx_t *ctx, const char *const *prefixes,
                          bool strict, problems *missing, problems *unexpected, problems *shapes) {
    const param_entry *e;
    for (int i = 0; (e = lt__state_entry(ctx, i)); i++) {
        const lt_st_tensor *t = find_param(f, prefixes, e->name);
        if (!t && strict) note(missing, "%s%s", missing->count ? ", " : "", e->name);
        if (t && !tensor_fits_param(t, e->t)) note_shape_mismatch(shapes, e->name, t, e->t);
    }
    if (strict) note_unexpected_keys(f, ctx, prefixes, unexpected);
}

/* The words before one kind of problem in the message: none when there is none of it,
 * `later` when an earlier kind was listed, else `first`. */
static const char *problem_heading(const problems *p, bool after_another, const char *first,
                                   const char *later) {
    if (!p->count) return "";
    return after_another ? later : first;
}

static lt_status weights_misfit_error(const char *path, const lt_ctx_t *ctx,
                                      const problems *missing, const problems *unexpected,
                                      const problems *shapes) {
    bool after_missing = missing->count > 0;
    bool after_either = after_missing || unexpected->count > 0;
    return lt_set_error(
        shapes->count ? LT_ERR_SHAPE : LT_ERR_STATE,
        "%s does not fit module '%s':%s%s%s%s%s%s; load it with "
        "the module and hyper-parameters that saved it%s",
        path, ctx->plugin_name,
        problem_heading(missing, false, " missing key(s) ", " missing key(s) "), missing->text,
        problem_heading(unexpected, after_missing, " unexpected key(s) ", "; unexpected key(s) "),
        unexpected->text,
        problem_heading(shapes, after_either, " size mismatch for ", "; size mismatch for "),
        shapes->text, shapes->count ? "" : ", or load what matches with strict off");
}

static lt_status restore_params(const lt_st_file_t *f, lt_ctx_t *ctx, const char *const *prefixes,
                                bool strict, const char *path) {
    if (!ctx->materialized)
        return lt_set_error(LT_ERR_STATE, "loading weights: the module's parameters are not "
                                          "allocated yet (load after setup)");
    problems missing = {0}, unexpected = {0}, shapes = {0};
    check_weights(f, ctx, prefixes, strict, &missing, &unexpected, &shapes);
    if (missing.count || unexpected.count || shapes.count)
        return weights_misfit_error(path, ctx, &missing, &unexpected, &shapes);
    const param_entry *e;
    for (int i = 0; (e = lt__state_entry(ctx, i)); i++) {
        const lt_st_tensor *t = find_param(f, prefixes, e->name);
        if (t) lt_from_host_into(e->t, t->data, t->nbytes);
        if (t && e->mirror) memcpy(e->mirror, t->data, sizeof *e->mirror); /* a layer's count */
    }
    return LT_OK;
}

lt_status lt_ckpt_restore_weights(const lt_ckpt_t *c, lt_ctx_t *ctx, bool strict) {
    if (!c || !c->f || !ctx)
        return lt_set_error(LT_ERR_INVALID_ARG, "lt_ckpt_restore_weights: NULL argument");
    static const char *const prefixes[] = {"state_dict.", NULL};
    return restore_params(c->f, ctx, prefixes, strict, c->path);
}

lt_status lt_load_weights_file(lt_ctx_t *ctx, const char *path, bool strict) {
    if (!ctx || !path)
        return lt_set_error(LT_ERR_INVALID_ARG, "lt_load_weights_file: NULL argument");
    static const char *const prefixes[] = {"", "state_dict.", "model.", NULL};
    lt_st_file_t *f = NULL;
    lt_status s = lt_st_open(path, &f);
    if (s == LT_OK) s = restore_params(f, ctx, prefixes, strict, path);
    lt_st_close(f);
    return s;
}

/* ---- optimizer and scheduler state ---------------------------------------------------- */

static const lt_st_tensor *slot_tensor(const lt_ckpt_t *c, int j, int64_t p, const char *slot) {
    char name[256];
    snprintf(name, sizeof name, "optimizer_states.%d.state.%lld.%s", j, (long long)p, slot);
    return lt_st_find(c->f, name);
}

/* Every slot of every parameter present as F32 in the parameter's shape (a transposed
 * one has the right size and would train on scrambled moments), or none at all. */
static lt_status check_slots(const lt_ckpt_t *c, const lt_optimizer_t *o, int j) {
    const lt_param_list_t *l = lt__optimizer_params(o);
    int found = 0, want = 0;
    char a[128], b[128];
    for (int64_t p = 0; p < l->len; p++)
        for (int k = 0; k < lt__optimizer_num_slots(o); k++, want++) {
            const char *slot = lt__optimizer_slot_name(o, k);
            const lt_st_tensor *t = slot_tensor(c, j, p, slot);
            const lt_tensor_t *param = l->items[p];
            if (!t) continue;
            found++;
            if (t->dtype == LT_ST_F32 && t->ndim == param->ndim &&
                !memcmp(t->shape, param->shape, (size_t)param->ndim * sizeof *param->shape))
                continue;
            shape_text(t->ndim, t->shape, a, sizeof a);
            shape_text(param->ndim, param->shape, b, sizeof b);
            return lt_set_error(LT_ERR_FORMAT,
                                "%s: optimizer_states.%d.state.%lld.%s is %s %s, "
                                "its parameter F32 %s; the checkpoint is damaged or was edited",
                                c->path, j, (long long)p, slot, lt_st_dtype_name(t->dtype), a, b);
        }
    if (found == 0 || found == want) return LT_OK;
    return lt_set_error(LT_ERR_FORMAT, "%s: optimizer %d has %d of its %d state tensors", c->path,
                        j, found, want);
}

/* The optimizer holds the module's parameters in the order the saved one did. */
static lt_status check_param_ids(const lt_ctx_t *ctx, const lt_optimizer_t *o, const lt_state_t *st,
                                 const char *where) {
    const lt_state_t *ids = lt_state_get_child(st, "param_ids");
    const lt_param_list_t *l = lt__optimizer_params(o);
    char key[32];
    for (int64_t p = 0; ids && p < l->len; p++) {
        int64_t saved;
        snprintf(key, sizeof key, "%lld", (long long)p);
        int here = param_index(ctx, l->items[p]);
        if (!lt_state_get_int(ids, key, &saved) || saved != here)
            return lt_set_error(LT_ERR_STATE,
                                "%s: its parameter %lld is the module's parameter %d "
                                "here but was %lld when saved; configure_optimizers must hand it "
                                "the parameters in the same order",
                                where, (long long)p, here, (long long)saved);
    }
    return LT_OK;
}

static lt_status check_training(const lt_ckpt_t *c, const lt_ctx_t *ctx, const lt_state_t *opts,
                                const lt_state_t *scheds) {
    char where[600];
    if (lt_state_count(opts) != ctx->nopts || lt_state_count(scheds) != ctx->nscheds)
        return lt_set_error(LT_ERR_STATE,
                            "%s: the checkpoint has %d optimizer(s) and %d "
                            "scheduler(s), %s configured %d and %d; configure_optimizers must "
                            "build what the run that saved it built",
                            c->path, lt_state_count(opts), lt_state_count(scheds), ctx->plugin_name,
                            ctx->nopts, ctx->nscheds);
    for (int j = 0; j < ctx->nopts; j++) {
        snprintf(where, sizeof where, "%s: optimizer_states.%s", c->path, lt_state_key(opts, j));
        const lt_state_t *st = lt_state_get_child(opts, lt_state_key(opts, j));
        lt_status s = st ? lt__optimizer_check(ctx->opts[j], st, where) : LT_ERR_FORMAT;
        if (!st) lt_set_error(s, "%s is not an object", where);
        if (s == LT_OK) s = check_slots(c, ctx->opts[j], j);
        if (s == LT_OK) s = check_param_ids(ctx, ctx->opts[j], st, where);
        if (s != LT_OK) return s;
    }
    for (int j = 0; j < ctx->nscheds; j++) {
        snprintf(where, sizeof where, "%s: lr_schedulers.%s", c->path, lt_state_key(scheds, j));
        const lt_state_t *st = lt_state_get_child(scheds, lt_state_key(scheds, j));
        lt_status s = st ? lt__scheduler_check(ctx->scheds[j], st, where) : LT_ERR_FORMAT;
        if (!st) lt_set_error(s, "%s is not an object", where);
        if (s != LT_OK) return s;
    }
    return LT_OK;
}

static lt_status apply_training(const lt_ckpt_t *c, lt_ctx_t *ctx, const lt_state_t *opts,
                                const lt_state_t *scheds) {
    for (int j = 0; j < ctx->nopts; j++) {
        lt_optimizer_t *o = ctx->opts[j];
        lt__optimizer_load(o, lt_state_get_child(opts, lt_state_key(opts, j)));
        const lt_param_list_t *l = lt__optimizer_params(o);
        if (lt__optimizer_num_slots(o) && !slot_tensor(c, j, 0, lt__optimizer_slot_name(o, 0)))
            lt__optimizer_clear_state(o); /* saved before its first step: no moments yet */
        for (int64_t p = 0; p < l->len; p++)
            for (int k = 0; k < lt__optimizer_num_slots(o); k++) {
                const lt_st_tensor *t = slot_tensor(c, j, p, lt__optimizer_slot_name(o, k));
                lt_status s = t ? lt__optimizer_slot_set(o, k, p, t->data) : LT_OK;
                if (s != LT_OK) return s;
            }
    }
    for (int j = 0; j < ctx->nscheds; j++)
        lt__scheduler_load(ctx->scheds[j], lt_state_get_child(scheds, lt_state_key(scheds, j)));
    return LT_OK;
}

lt_status lt_ckpt_restore_training(const lt_ckpt_t *c, lt_ctx_t *ctx) {
    if (!c || !c->f || !ctx)
        return lt_set_error(LT_ERR_INVALID_ARG, "lt_ckpt_restore_training: NULL argument");
    lt_state_t *opts = meta_state(c, "optimizer_states");
    lt_state_t *scheds = opts ? meta_state(c, "lr_schedulers") : NULL;
    lt_status s = scheds ? check_training(c, ctx, opts, scheds) : lt_last_status();
    if (s == LT_OK) s = apply_training(c, ctx, opts, scheds);
    lt_state_free(opts);
    lt_state_free(scheds);
    return s;
}

void lt_ckpt_free(lt_ckpt_t *c) {
    if (!c) return;
    lt_st_writer_free(c->w);
    lt_st_close(c->f);
    free(c->path);
    free(c);
}
