/* Hyper-parameter values: defaults from the plugin's declaration, text from the CLI. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "ctx_impl.h"

lt_status lt__hparams_init(lt_ctx_t *ctx, const lt_hparam_desc *hparams) {
    int n = 0;
    while (hparams && hparams[n].name) n++;
    ctx->hp = calloc((size_t)n + 1, sizeof *ctx->hp);
    if (!ctx->hp) return lt_set_error(LT_ERR_OOM, "out of host memory for hyper-parameters");
    ctx->nhp = n;
    for (int i = 0; i < n; i++) {
        hparam_value *v = &ctx->hp[i];
        v->desc = &hparams[i];
        v->i = hparams[i].i;
        v->f = hparams[i].f;
        if (hparams[i].type == LT_HP_STR && !(v->s = strdup(hparams[i].s ? hparams[i].s : "")))
            return lt_set_error(LT_ERR_OOM, "out of host memory for hyper-parameters");
    }
    return LT_OK;
}

void lt__hparams_free(lt_ctx_t *ctx) {
    for (int i = 0; i < ctx->nhp; i++) free(ctx->hp[i].s);
    free(ctx->hp);
}

/* Edit distance, for "did you mean". */
static size_t edit_distance(const char *a, const char *b) {
    size_t la = strlen(a), lb = strlen(b), row[64];
    if (lb >= 64) return (size_t)-1;
    for (size_t j = 0; j <= lb; j++) row[j] = j;
    for (size_t i = 1; i <= la; i++) {
        size_t diag = row[0];
        row[0] = i;
        for (size_t j = 1; j <= lb; j++) {
            size_t up = row[j], best = diag + (a[i - 1] != b[j - 1]);
            if (up + 1 < best) best = up + 1;
            if (row[j - 1] + 1 < best) best = row[j - 1] + 1;
            diag = up;
            row[j] = best;
        }
    }
    return row[lb];
}

const char *lt_did_you_mean(const char *name, const char *const *names, int n) {
    const char *best = NULL;
    size_t best_d = (size_t)-1;
    for (int i = 0; name && i < n; i++) {
        size_t d = edit_distance(name, names[i]);
        if (d < best_d) best_d = d, best = names[i];
    }
    return best && best_d <= 2 + strlen(name) / 4 ? best : NULL;
}

static lt_status unknown_hparam(const lt_ctx_t *ctx, const char *name) {
    char known[512] = "";
    const char *best = NULL;
    size_t best_d = (size_t)-1, len = 0;
    for (int i = 0; i < ctx->nhp; i++) {
        const char *n = ctx->hp[i].desc->name;
        len += (size_t)snprintf(known + len, len < sizeof known ? sizeof known - len : 0, "%s%s",
                                i ? ", " : "", n);
        size_t d = edit_distance(name, n);
        if (d < best_d) best_d = d, best = n;
    }
    if (best && best_d <= 2 + strlen(name) / 4)
        return lt_set_error(LT_ERR_INVALID_ARG,
                            "%s has no hyper-parameter '%s'; did you mean "
                            "'%s'? (declared: %s)",
                            ctx->plugin_name, name, best, known);
    return lt_set_error(LT_ERR_INVALID_ARG, "%s has no hyper-parameter '%s' (declared: %s)",
                        ctx->plugin_name, name, ctx->nhp ? known : "none");
}

static hparam_value *find(const lt_ctx_t *ctx, const char *name) {
    for (int i = 0; name && i < ctx->nhp; i++)
        if (strcmp(ctx->hp[i].desc->name, name) == 0) return &ctx->hp[i];
    return NULL;
}

static bool choice_ok(const char *choices, const char *value) {
    size_t n = strlen(value);
    for (const char *c = choices; c && *c;) {
        const char *bar = strchr(c, '|');
        size_t len = bar ? (size_t)(bar - c) : strlen(c);
        if (len == n && strncmp(c, value, n) == 0) return true;
        c = bar ? bar + 1 : c + len;
    }
    return !choices;
}

static lt_status bad_value(const lt_ctx_t *ctx, const hparam_value *v, const char *value,
                           const char *expected) {
    return lt_set_error(LT_ERR_INVALID_ARG, "%s: hyper-parameter '%s' expects %s, got '%s'",
                        ctx->plugin_name, v->desc->name, expected, value);
}

lt_status lt_ctx_set_hparam(lt_ctx_t *ctx, const char *name, const char *value) {
    hparam_value *v = find(ctx, name);
    if (!v) return unknown_hparam(ctx, name ? name : "");
    char *end = NULL;
    errno = 0;
    switch (v->desc->type) {
    case LT_HP_INT: {
        long long x = strtoll(value, &end, 10);
        if (!*value || *end || errno) return bad_value(ctx, v, value, "an integer");
        v->i = x;
        return LT_OK;
    }
    case LT_HP_FLOAT: {
        double x = strtod(value, &end);
        if (!*value || *end || errno || !isfinite(x))
            return bad_value(ctx, v, value, "a finite number");
        v->f = x;
        return LT_OK;
    }
    case LT_HP_BOOL:
        if (!strcasecmp(value, "true") || !strcmp(value, "1"))
            v->i = 1;
        else if (!strcasecmp(value, "false") || !strcmp(value, "0"))
            v->i = 0;
        else
            return bad_value(ctx, v, value, "true or false");
        return LT_OK;
    case LT_HP_STR: {
        if (!choice_ok(v->desc->choices, value)) {
            char expected[256];
            snprintf(expected, sizeof expected, "one of %s", v->desc->choices);
            return bad_value(ctx, v, value, expected);
        }
        char *s = strdup(value);
        if (!s) return lt_set_error(LT_ERR_OOM, "out of host memory");
        free(v->s);
        v->s = s;
        return LT_OK;
    }
    }
    return bad_value(ctx, v, value, "a value of a known type");
}

int lt_ctx_hparam_count(const lt_ctx_t *ctx) { return ctx->nhp; }

const lt_hparam_desc *lt_ctx_hparam_desc(const lt_ctx_t *ctx, int i) {
    return i >= 0 && i < ctx->nhp ? ctx->hp[i].desc : NULL;
}

const char *lt_ctx_hparam_text(const lt_ctx_t *ctx, int i, char *buf, size_t n) {
    /* No room: nothing to write (and strtod must not read an unterminated buffer). */
    if (!buf || n == 0) return "";
    const hparam_value *v = &ctx->hp[i];
    switch (v->desc->type) {
    case LT_HP_INT: snprintf(buf, n, "%lld", (long long)v->i); break;
    case LT_HP_FLOAT: /* the shortest text that reads back as the same double */
        for (int digits = 6; digits <= 17; digits++) {
            snprintf(buf, n, "%.*g", digits, v->f);
            if (strtod(buf, NULL) == v->f) break;
        }
        break;
    case LT_HP_BOOL: snprintf(buf, n, "%s", v->i ? "true" : "false"); break;
    case LT_HP_STR: snprintf(buf, n, "%s", v->s); break;
    }
    return buf;
}

/* ---- reading from a hook ----------------------------------------------------------- */

static hparam_value *typed(lt_ctx_t *ctx, const char *name, lt_hparam_type type, const char *tn) {
    hparam_value *v = ctx ? find(ctx, name) : NULL;
    if (!v) {
        if (ctx) unknown_hparam(ctx, name ? name : "");
        return NULL;
    }
    if (v->desc->type != type) {
        lt_set_error(LT_ERR_INVALID_ARG, "%s: hyper-parameter '%s' is not declared as %s",
                     ctx->plugin_name, name, tn);
        return NULL;
    }
    return v;
}

int64_t lt_hparam_int(lt_ctx_t *ctx, const char *name) {
    hparam_value *v = typed(ctx, name, LT_HP_INT, "an INT");
    return v ? v->i : 0;
}

double lt_hparam_float(lt_ctx_t *ctx, const char *name) {
    hparam_value *v = typed(ctx, name, LT_HP_FLOAT, "a FLOAT");
    return v ? v->f : NAN;
}

const char *lt_hparam_str(lt_ctx_t *ctx, const char *name) {
    hparam_value *v = typed(ctx, name, LT_HP_STR, "a STR");
    return v ? v->s : NULL;
}

bool lt_hparam_bool(lt_ctx_t *ctx, const char *name) {
    hparam_value *v = typed(ctx, name, LT_HP_BOOL, "a BOOL");
    return v ? v->i != 0 : false;
}
