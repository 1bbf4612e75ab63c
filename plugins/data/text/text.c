/* text — a text file as a language-modelling DataModule (karpathy's char-level data):
 * tokens are the file's characters (a vocabulary of its distinct Unicode code points,
 * sorted, ids 0..V-1) or its bytes (ids 0..255); sample i is the window of block_size
 * tokens at position i, x = tokens[i, i + block) and y = tokens[i + 1, i + block + 1),
 * both int64. The split is by position: the text is cut into contiguous chunks that a
 * permutation from --data.split_seed deals to val, test and train, so no window of one
 * split overlaps another's. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../common/datamodule.h"

#define TEXT_MAX_VOCAB 65536     /* ids are stored as uint16 */
#define TEXT_MAX_BLOCK (1 << 20) /* tokens per window */
#define TEXT_MAX_CHUNKS 1000     /* of the position split */

static const lt_hparam_desc text_hparams[] = {
    LT_HPARAM_STR("path", "", "the text file (UTF-8 in chars mode)"),
    LT_HPARAM_CHOICE("mode", "chars", "chars|bytes",
                     "tokens: the distinct characters, sorted (chars) or the 256 byte values"),
    LT_HPARAM_INT("block_size", 128, "tokens per sample (the context length)"),
    LT_HPARAM_STR("vocab_out", "",
                  "write the vocabulary here as a JSON array: entry i is the code point "
                  "(chars) or byte of token id i"),
    DM_LOADER_HPARAMS,
    DM_SPLIT_HPARAMS,
    LT_HPARAM_END,
};

/* One split: its chunks of the token stream and their windows, cumulated. */
typedef struct text_split {
    const struct text_data *text;
    int64_t nchunks;
    int64_t *start;  /* token position of each chunk */
    int64_t *before; /* windows in the chunks before it; before[nchunks] = all */
} text_split;

typedef struct text_data {
    dm_map file;
    const uint8_t *bytes; /* bytes mode: the mapping itself */
    uint16_t *ids;        /* chars mode: one id per character */
    int64_t ntokens, block, vocab;
    int32_t *codepoints; /* chars mode: the id -> code point table */
} text_data;

typedef struct {
    text_data text;
    text_split split[DM_PARTS], all;
    dm_splits parts; /* each part's source is its text_split */
    bool loaded;
} text_t;

/* ---- UTF-8 ------------------------------------------------------------------------- */

/* The code point at s[0..n) and its length, or 0 for an invalid sequence (overlong,
 * surrogate, above U+10FFFF or cut short). */
static int utf8_next(const uint8_t *s, size_t n, int32_t *cp) {
    static const int32_t min_of[] = {0, 0, 0x80, 0x800, 0x10000};
    int len = s[0] < 0x80         ? 1
              : (s[0] >> 5) == 6  ? 2
              : (s[0] >> 4) == 14 ? 3
              : (s[0] >> 3) == 30 ? 4
                                  : 0;
    if (!len || (size_t)len > n) return 0;
    int32_t c = len == 1 ? s[0] : s[0] & (0x7f >> len);
    for (int k = 1; k < len; k++) {
        if ((s[k] & 0xc0) != 0x80) return 0;
        c = c << 6 | (s[k] & 0x3f);
    }
    if (c < min_of[len] || c > 0x10ffff || (c >= 0xd800 && c <= 0xdfff)) return 0;
    *cp = c;
    return len;
}

static lt_status bad_utf8(const text_data *t, size_t off) {
    return lt_set_error(LT_ERR_FORMAT,
                        "%s: at byte offset %zu: invalid UTF-8; convert the file to UTF-8 "
                        "(iconv) or read it as bytes with --data.mode bytes",
                        t->file.path, off);
}

/* Chars mode: code points -> ids through the sorted vocabulary (a bitmap of seen
 * code points, then a rank table). */
static lt_status build_vocab(text_data *t, int32_t *rank) {
    const uint8_t *s = t->file.data;
    size_t n = t->file.size, chars = 0;
    for (size_t off = 0; off < n; chars++) {
        int32_t cp;
        int len = utf8_next(s + off, n - off, &cp);
        if (!len) return bad_utf8(t, off);
        rank[cp] = 1;
        off += (size_t)len;
    }
    t->vocab = 0;
    for (int32_t cp = 0; cp <= 0x10ffff; cp++)
        if (rank[cp]) rank[cp] = (int32_t)t->vocab++;
    if (t->vocab > TEXT_MAX_VOCAB)
        return lt_set_error(LT_ERR_FORMAT,
                            "%s: %lld distinct characters, more than %d; read it as bytes with "
                            "--data.mode bytes",
                            t->file.path, (long long)t->vocab, TEXT_MAX_VOCAB);
    t->ntokens = (int64_t)chars;
    t->ids = malloc(chars * sizeof *t->ids + 1);
    t->codepoints = malloc((size_t)t->vocab * sizeof *t->codepoints + 1);
    if (!t->ids || !t->codepoints)
        return lt_set_error(LT_ERR_OOM, "%s: out of memory for %zu characters", t->file.path,
                            chars);
    return LT_OK;
}

static lt_status tokenize_chars(text_data *t) {
    int32_t *rank = calloc(0x110000, sizeof *rank);
    if (!rank) return lt_set_error(LT_ERR_OOM, "text: out of memory");
    lt_status s = build_vocab(t, rank);
    for (size_t off = 0, i = 0; s == LT_OK && off < t->file.size; i++) {
        int32_t cp = 0;
        off += (size_t)utf8_next(t->file.data + off, t->file.size - off, &cp);
        t->ids[i] = (uint16_t)rank[cp];
        t->codepoints[rank[cp]] = cp;
    }
    free(rank);
    return s;
}

/* ---- windows and the position split -------------------------------------------------- */

static int64_t token_at(const text_data *t, int64_t pos) {
    return t->ids ? t->ids[pos] : t->bytes[pos];
}

/* Called from loader threads: finds each sample's chunk by binary search. */
static lt_status text_fill(void *user, const int64_t *idx, int64_t n, float *xf, void *yv) {
    const dm_part *p = user;
    const text_split *sp = p->source;
    const text_data *t = sp->text;
    int64_t *x = (int64_t *)(void *)xf, *y = yv, b = t->block;
    for (int64_t i = 0; i < n; i++) {
        int64_t lo = 0, hi = sp->nchunks - 1, k = idx[i];
        while (lo < hi) {
            int64_t mid = (lo + hi + 1) / 2;
            if (sp->before[mid] <= k)
                lo = mid;
            else
                hi = mid - 1;
        }
        int64_t pos = sp->start[lo] + (k - sp->before[lo]);
        for (int64_t j = 0; j < b; j++) {
            x[i * b + j] = token_at(t, pos + j);
            y[i * b + j] = token_at(t, pos + j + 1);
        }
    }
    return LT_OK;
}

/* Chunk c of `chunks` equal pieces of the stream: [start, end). */
static void chunk_range(const text_data *t, int64_t chunks, int64_t c, int64_t *start,
                        int64_t *end) {
    *start = t->ntokens * c / chunks;
    *end = t->ntokens * (c + 1) / chunks;
}

/* Gives split `sp` the chunks order[0, n) (in text order: sorted), counting windows. */
static lt_status make_split(const text_data *t, int64_t chunks, int64_t *order, int64_t n,
                            text_split *sp, dm_part *part) {
    sp->text = t;
    sp->nchunks = n;
    sp->start = malloc((size_t)(n ? n : 1) * sizeof *sp->start);
    sp->before = malloc((size_t)(n + 1) * sizeof *sp->before);
    if (!sp->start || !sp->before) return lt_set_error(LT_ERR_OOM, "text: out of memory");
    for (int64_t a = 1; a < n; a++) /* insertion sort: at most TEXT_MAX_CHUNKS */
        for (int64_t b = a; b > 0 && order[b - 1] > order[b]; b--) {
            int64_t tmp = order[b];
            order[b] = order[b - 1], order[b - 1] = tmp;
        }
    sp->before[0] = 0;
    for (int64_t i = 0; i < n; i++) {
        int64_t s, e;
        chunk_range(t, chunks, order[i], &s, &e);
        sp->start[i] = s;
        sp->before[i + 1] = sp->before[i] + (e - s > t->block ? e - s - t->block : 0);
    }
    *part = (dm_part){sp, NULL, 0, sp->before[n]};
    return LT_OK;
}

/* Chunks of at least 8 windows' worth, at most TEXT_MAX_CHUNKS, dealt by the seeded
 * permutation as dm_split_seeded deals rows. */
static lt_status split_positions(lt_ctx_t *ctx, text_t *tx) {
    text_data *t = &tx->text;
    int64_t chunks = t->ntokens / (8 * (t->block + 1));
    chunks = chunks < 1 ? 1 : chunks > TEXT_MAX_CHUNKS ? TEXT_MAX_CHUNKS : chunks;
    lt_status s = dm_split_seeded(ctx, NULL, chunks, true, true, &tx->parts);
    int64_t *perm = tx->parts.perm, first = 0;
    for (int k = 0; k < DM_PARTS && s == LT_OK; k++) {
        int64_t n = tx->parts.part[k].length;
        s = make_split(t, chunks, perm + first, n, &tx->split[k], &tx->parts.part[k]);
        first += n;
    }
    int64_t whole = 0;
    if (s == LT_OK) s = make_split(t, 1, &whole, 1, &tx->all, &tx->parts.all);
    if (s == LT_OK && tx->parts.part[DM_TRAIN].length == 0)
        s = lt_set_error(LT_ERR_INVALID_ARG,
                         "%s: %lld tokens give no training window of --data.block_size %lld "
                         "after the val/test split; lower block_size or the fractions",
                         t->file.path, (long long)t->ntokens, (long long)t->block);
    return s;
}

/* ---- the DataModule ----------------------------------------------------------------- */

static lt_status write_vocab(const text_data *t, const char *path) {
    FILE *f = fopen(path, "w");
    if (!f) return lt_set_error(LT_ERR_IO, "--data.vocab_out %s: cannot write it", path);
    for (int64_t i = 0; i < t->vocab; i++)
        fprintf(f, "%s%ld", i ? ", " : "[", (long)(t->ids ? t->codepoints[i] : i));
    fputs("]\n", f);
    return fclose(f) == 0 ? LT_OK
                          : lt_set_error(LT_ERR_IO, "--data.vocab_out %s: write failed", path);
}

static lt_status load(lt_ctx_t *ctx, text_t *tx) {
    text_data *t = &tx->text;
    t->block = lt_hparam_int(ctx, "block_size");
    if (t->block < 1 || t->block > TEXT_MAX_BLOCK)
        return lt_set_error(LT_ERR_INVALID_ARG, "--data.block_size %lld must be in [1, %d]",
                            (long long)t->block, TEXT_MAX_BLOCK);
    lt_status s = dm_map_open(lt_hparam_str(ctx, "path"), "--data.path", &t->file);
    if (s != LT_OK) return s;
    if (!strcmp(lt_hparam_str(ctx, "mode"), "bytes")) {
        t->bytes = t->file.data;
        t->ntokens = (int64_t)t->file.size;
        t->vocab = 256;
    } else if ((s = tokenize_chars(t)) != LT_OK) {
        return s;
    }
    if (t->ntokens < t->block + 1)
        return lt_set_error(LT_ERR_FORMAT,
                            "%s: %lld tokens, fewer than one window of --data.block_size %lld "
                            "+ 1; give a longer text or a smaller block_size",
                            t->file.path, (long long)t->ntokens, (long long)t->block);
    const char *vocab_out = lt_hparam_str(ctx, "vocab_out");
    s = split_positions(ctx, tx);
    return s == LT_OK && *vocab_out ? write_vocab(t, vocab_out) : s;
}

static void text_teardown(lt_ctx_t *ctx, void *self) {
    (void)ctx;
    text_t *tx = self;
    for (int k = 0; k <= DM_PARTS; k++) {
        text_split *sp = k < DM_PARTS ? &tx->split[k] : &tx->all;
        free(sp->start);
        free(sp->before);
    }
    free(tx->text.ids);
    free(tx->text.codepoints);
    free(tx->parts.perm);
    dm_map_close(&tx->text.file);
    memset(tx, 0, sizeof *tx);
}

static lt_status text_setup(lt_ctx_t *ctx, void *self, const char *stage) {
    text_t *tx = self;
    lt_status s = dm_check_loader(ctx);
    if (s == LT_OK && !tx->loaded) {
        if ((s = load(ctx, tx)) != LT_OK) text_teardown(ctx, tx);
        tx->loaded = s == LT_OK;
    }
    if (s != LT_OK) return s;
    lt_dataset proto = {.x_ndim = 1,
                        .x_shape = {tx->text.block},
                        .x_dtype = LT_I64,
                        .y_dtype = LT_I64,
                        .y_ndim = 1,
                        .y_shape = {tx->text.block},
                        .fill = text_fill};
    return dm_register(ctx, stage, &tx->parts, &proto);
}

/* The split in checkpoints: a resume on other data or another split is refused. */
static lt_status text_state_dict(lt_ctx_t *ctx, void *self, lt_state_t *st) {
    const text_t *t = self;
    return dm_state_dict(ctx, &t->parts, st);
}

static lt_status text_load_state_dict(lt_ctx_t *ctx, void *self, lt_state_t *st) {
    const text_t *t = self;
    return dm_load_state_dict(ctx, &t->parts, st);
}

LT_DATAMODULE_EXPORT(text_t, .name = "text", .hparams = text_hparams, .setup = text_setup,
                     .teardown = text_teardown, .state_dict = text_state_dict,
                     .load_state_dict = text_load_state_dict)
