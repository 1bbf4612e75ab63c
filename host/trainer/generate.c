/* `lthost predict --predict.prompt TEXT`: autoregressive sampling from a module whose
 * forward maps tokens (1, T) int64 to logits (1, T, V), as minGPT's generate() does: the
 * context is cropped to the module's block_size hparam (when it declares one), the last
 * position's logits are divided by the temperature, cut to the top_k, and a token drawn
 * from their softmax with the run's seed; the prompt and what follows are printed.
 * Tokens are the text's bytes, or with --predict.vocab the ids of the vocabulary that
 * `--data text --data.vocab_out` wrote (a JSON array of code points). */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <lt/rng.h>

#include "trainer.h"

#define GEN_MAX_VOCAB 65536
#define GEN_MAX_TOKENS (1 << 20)
#define GEN_STREAM ((uint64_t)3 << 61) /* the sampler's Philox stream of the run's seed */

typedef struct generator {
    int32_t *codepoints; /* id -> code point; NULL: bytes */
    int64_t vocab;       /* ids the tokenizer knows (256 for bytes) */
    int64_t *ids, len, cap;
    float *logits;   /* (V) of the last position */
    double *scratch; /* (V) sorted copy for top_k */
    int64_t block;   /* the module's block_size, or 0: no cropping */
} generator;

/* ---- the vocabulary ------------------------------------------------------------------ */

static bool is_space(int c) { return c == ' ' || c == '\n' || c == '\r' || c == '\t'; }

/* The rest of a number whose first digit c was read, appended to g; *next = the character
 * after it. false when it is too large or the vocabulary full. */
static bool read_number(FILE *f, int c, generator *g, int *next) {
    long v = c - '0';
    while ((c = fgetc(f)) >= '0' && c <= '9' && v <= 0x10FFFF) v = v * 10 + (c - '0');
    *next = c;
    if (v > 0x10FFFF || g->vocab >= GEN_MAX_VOCAB) return false;
    g->codepoints[g->vocab++] = (int32_t)v;
    return true;
}

/* The body of a JSON array of integers after its '['; true when it ends with ']'. */
static bool read_array(FILE *f, generator *g) {
    int c;
    while ((c = fgetc(f)) != EOF) {
        if (c >= '0' && c <= '9' && !read_number(f, c, g, &c)) return false;
        if (c == ']') return true;
        if (c != ',' && !is_space(c)) return false;
    }
    return false;
}

/* A JSON array of code points ("[97, 98]") from path into g; false + error if not. */
static bool read_vocab(const char *path, generator *g) {
    FILE *f = fopen(path, "rb");
    if (!f) {
        host_error("--predict.vocab %s: cannot open it: %s", path, strerror(errno));
        return false;
    }
    g->codepoints = malloc(GEN_MAX_VOCAB * sizeof *g->codepoints);
    g->vocab = 0;
    int c;
    while ((c = fgetc(f)) != EOF && is_space(c)) continue;
    bool ok = g->codepoints && c == '[' && read_array(f, g) && g->vocab > 0;
    fclose(f);
    if (!ok)
        host_error("--predict.vocab %s: expected a JSON array of at most %d code points, as "
                   "--data.vocab_out writes",
                   path, GEN_MAX_VOCAB);
    return ok;
}

/* ---- tokens ----------------------------------------------------------------------------- */

static bool push_id(generator *g, int64_t id) {
    if (g->len == g->cap) {
        int64_t cap = g->cap ? 2 * g->cap : 256;
        int64_t *ids = cap <= GEN_MAX_TOKENS ? realloc(g->ids, (size_t)cap * sizeof *ids) : NULL;
        if (!ids) {
            host_error("--predict: out of memory for %lld tokens", (long long)cap);
            return false;
        }
        g->ids = ids, g->cap = cap;
    }
    g->ids[g->len++] = id;
    return true;
}

/* The id of code point cp in the vocabulary, or -1. */
static int64_t id_of(const generator *g, int32_t cp) {
    for (int64_t i = 0; i < g->vocab; i++)
        if (g->codepoints[i] == cp) return i;
    return -1;
}

/* One UTF-8 character at s (n bytes left) -> its code point and length; -1 if invalid. */
static int32_t utf8_decode(const unsigned char *s, size_t n, int *len) {
    int k = s[0] < 0x80         ? 1
            : (s[0] >> 5) == 6  ? 2
            : (s[0] >> 4) == 14 ? 3
            : (s[0] >> 3) == 30 ? 4
                                : 0;
    if (!k || (size_t)k > n) return -1;
    int32_t cp = k == 1 ? s[0] : s[0] & (0x7F >> k);
    for (int i = 1; i < k; i++) {
        if ((s[i] & 0xC0) != 0x80) return -1;
        cp = (cp << 6) | (s[i] & 0x3F);
    }
    *len = k;
    return cp;
}

static bool tokenize(generator *g, const char *prompt) {
    const unsigned char *s = (const unsigned char *)prompt;
    size_t n = strlen(prompt);
    for (size_t at = 0; at < n;) {
        int len = 1;
        int32_t cp = g->codepoints ? utf8_decode(s + at, n - at, &len) : s[at];
        int64_t id = cp < 0 ? -1 : g->codepoints ? id_of(g, cp) : cp;
        if (id < 0) {
            host_error("--predict.prompt: the character at byte %zu (%s) is not in the "
                       "vocabulary; use only characters of the training text",
                       at, cp < 0 ? "invalid UTF-8" : "unknown");
            return false;
        }
        if (!push_id(g, id)) return false;
        at += (size_t)len;
    }
    return true;
}

static void print_token(const generator *g, int64_t id) {
    if (!g->codepoints) {
        putchar((int)id);
        return;
    }
    uint32_t cp = (uint32_t)g->codepoints[id];
    char b[4];
    int n = cp < 0x80 ? 1 : cp < 0x800 ? 2 : cp < 0x10000 ? 3 : 4;
    if (n == 1)
        b[0] = (char)cp;
    else {
        for (int i = n - 1; i > 0; i--, cp >>= 6) b[i] = (char)(0x80 | (cp & 0x3F));
        b[0] = (char)((0xF00 >> n) | cp);
    }
    fwrite(b, 1, (size_t)n, stdout);
}

/* ---- sampling ------------------------------------------------------------------------------ */

static int cmp_desc(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x < y) - (x > y);
}

/* A token from logits (v) / temperature, keeping the top_k largest (0: all). */
static int64_t sample(generator *g, int64_t v, double temperature, int64_t top_k, lt_rng_t *rng) {
    double cut = -INFINITY, max = -INFINITY, total = 0;
    for (int64_t i = 0; i < v; i++) g->scratch[i] = g->logits[i] / temperature;
    if (top_k > 0 && top_k < v) {
        double *sorted = g->scratch + v;
        memcpy(sorted, g->scratch, (size_t)v * sizeof *sorted);
        qsort(sorted, (size_t)v, sizeof *sorted, cmp_desc);
        cut = sorted[top_k - 1];
    }
    for (int64_t i = 0; i < v; i++)
        if (g->scratch[i] >= cut && g->scratch[i] > max) max = g->scratch[i];
    for (int64_t i = 0; i < v; i++)
        total += g->scratch[i] = g->scratch[i] >= cut ? exp(g->scratch[i] - max) : 0.0;
    double u = (double)lt_rng_uniform(rng) * total, acc = 0;
    int64_t last = 0;
    for (int64_t i = 0; i < v; i++) {
        if (g->scratch[i] <= 0) continue;
        last = i;
        if ((acc += g->scratch[i]) > u) return i;
    }
    return last; /* u rounded to the very top */
}

/* The module's block_size hparam, or 0 when it declares none. */
static int64_t module_block_size(lt_ctx_t *ctx) {
    for (int i = 0; i < lt_ctx_hparam_count(ctx); i++) {
        const lt_hparam_desc *d = lt_ctx_hparam_desc(ctx, i);
        if (d->type == LT_HP_INT && !strcmp(d->name, "block_size"))
            return lt_hparam_int(ctx, "block_size");
    }
    return 0;
}

/* Logits of the last position for the context's last tokens into g->logits; their
 * count V, or -1 (error reported). */
static int64_t next_logits(session *s, generator *g) {
    lt_ctx_t *ctx = s->module.ctx;
    lt_arena_t *arena = lt_ctx_arena(ctx);
    int64_t t = g->block > 0 && g->len > g->block ? g->block : g->len;
    int64_t shape[2] = {1, t};
    lt_tensor_t *x = lt_from_host(arena, LT_I64, 2, shape, g->ids + g->len - t);
    lt_tensor_t *y = x ? s->module.forward(ctx, lt_ctx_self(ctx), x) : NULL;
    int64_t v = y && lt_ndim(y) == 3 && lt_dim(y, 0) == 1 && lt_dim(y, 1) == t ? lt_dim(y, 2) : -1;
    if (y && (v < 1 || v > GEN_MAX_VOCAB || (g->codepoints ? v > g->vocab : v > 256))) {
        host_error("--predict.prompt: %s's forward must map tokens (1, %lld) to logits (1, %lld, "
                   "V) with V at most the vocabulary's %lld",
                   s->module.desc->name, (long long)t, (long long)t, (long long)g->vocab);
        v = -1;
    } else if (!y) {
        host_error("%s: forward failed: %s%s", s->module.desc->name, lt_last_error(),
                   g->codepoints ? ""
                                 : " (without --predict.vocab the prompt's tokens are its "
                                   "bytes: give the training text's --data.vocab_out file)");
    }
    lt_tensor_t *last = v > 0 ? lt_narrow(lt_reshape(y, 2, (int64_t[]){t, v}), 0, t - 1, 1) : NULL;
    if (v > 0 && (!last || lt_to_host(last, g->logits, (size_t)v * sizeof(float)) != LT_OK)) {
        host_error("%s: reading the logits failed: %s", s->module.desc->name, lt_last_error());
        v = -1;
    }
    lt_arena_reset(arena);
    return v;
}

static bool generate_tokens(session *s, generator *g) {
    const host_config *c = s->cfg;
    lt_rng_t rng = lt_rng_make(s->seed, GEN_STREAM);
    fputs(c->predict_prompt, stdout);
    for (int64_t k = 0; k < c->predict_max_new_tokens; k++) {
        int64_t v = next_logits(s, g);
        if (v < 0) return false;
        int64_t id = sample(g, v, c->predict_temperature, c->predict_top_k, &rng);
        if (!push_id(g, id)) return false;
        print_token(g, id);
    }
    putchar('\n');
    return fflush(stdout) == 0;
}

bool run_generate(session *s) {
    const host_config *c = s->cfg;
    if (!s->module.forward) {
        host_error("--predict.prompt: %s has no forward to sample from", s->module.desc->name);
        return false;
    }
    if (!(c->predict_temperature > 0)) {
        host_error("--predict.temperature %g must be positive (1: the model's distribution)",
                   c->predict_temperature);
        return false;
    }
    generator g = {.vocab = 256, .block = module_block_size(s->module.ctx)};
    bool ok =
        (!c->predict_vocab || read_vocab(c->predict_vocab, &g)) && tokenize(&g, c->predict_prompt);
    if (ok && g.len == 0) {
        host_error("--predict.prompt is empty: give at least one character to continue");
        ok = false;
    }
    g.logits = ok ? malloc(GEN_MAX_VOCAB * sizeof *g.logits) : NULL;
    g.scratch = ok ? malloc(2 * GEN_MAX_VOCAB * sizeof *g.scratch) : NULL;
    if (ok && (!g.logits || !g.scratch)) {
        host_error("--predict: out of host memory");
        ok = false;
    }
    lt_ctx_set_training(s->module.ctx, false);
    bool prev = lt_arena_set_grad(lt_ctx_arena(s->module.ctx), false);
    ok = ok && generate_tokens(s, &g);
    lt_arena_set_grad(lt_ctx_arena(s->module.ctx), prev);
    free(g.codepoints);
    free(g.ids);
    free(g.logits);
    free(g.scratch);
    return ok;
}
