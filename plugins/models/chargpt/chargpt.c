/* chargpt — a decoder-only character transformer (karpathy's minGPT "chargpt"), written
 * the way a user writes a LightningModule: token and position embeddings, n_layer blocks
 * of layer_norm -> causal self-attention -> layer_norm -> GELU MLP with residuals, a final
 * layer_norm and a linear head over the vocabulary. Parameters carry minGPT's state_dict
 * names and torch's default initialisation (embeddings N(0, 1), linears kaiming-uniform).
 * Trained with --data text (x, y: (B, T) int64 tokens, y shifted by one); `lthost predict
 * --predict.prompt` samples from it through forward (host/trainer/generate.c).
 *
 * Shapes: B batch, T tokens (<= block_size), C n_embd, H n_head, V vocab_size. */
#include <stdio.h>

#include <lt/lt.h>

#define CHARGPT_MAX_LAYERS 64

typedef struct {
    lt_layernorm_t *ln_1, *ln_2;
    lt_linear_t *c_attn, *attn_proj; /* (3C, C), (C, C) */
    lt_linear_t *c_fc, *mlp_proj;    /* (4C, C), (C, 4C) */
} block_t;

typedef struct {
    lt_embedding_t *wte, *wpe; /* (V, C), (block_size, C) */
    block_t h[CHARGPT_MAX_LAYERS];
    lt_layernorm_t *ln_f;
    lt_linear_t *lm_head; /* (V, C) */
    int64_t n_layer, n_head, n_embd, block_size, vocab;
    double p; /* dropout */
} chargpt_t;

static const lt_hparam_desc chargpt_hparams[] = {
    LT_HPARAM_INT("vocab_size", 256,
                  "tokens the model knows: 256 covers --data.mode bytes and any text of at most "
                  "256 distinct characters"),
    LT_HPARAM_INT("block_size", 128, "longest context (match --data.block_size)"),
    LT_HPARAM_INT("n_layer", 4, "transformer blocks"),
    LT_HPARAM_INT("n_head", 4, "attention heads (n_embd must be a multiple)"),
    LT_HPARAM_INT("n_embd", 128, "embedding width"),
    LT_HPARAM_FLOAT("dropout", 0.1, "dropout of embeddings, attention weights and residuals"),
    LT_HPARAM_FLOAT("lr", 1e-3, "Adam learning rate"),
    LT_HPARAM_END,
};

/* "transformer.h.<i>.<what>" */
static const char *block_key(char *buf, size_t n, int64_t i, const char *what) {
    snprintf(buf, n, "transformer.h.%lld.%s", (long long)i, what);
    return buf;
}

static lt_status check_hparams(lt_ctx_t *ctx, const chargpt_t *m) {
    if (m->n_layer < 1 || m->n_layer > CHARGPT_MAX_LAYERS)
        return lt_set_error(LT_ERR_INVALID_ARG, "--model.n_layer %lld must be in [1, %d]",
                            (long long)m->n_layer, CHARGPT_MAX_LAYERS);
    if (m->n_head < 1 || m->n_embd < 1 || m->n_embd % m->n_head)
        return lt_set_error(LT_ERR_INVALID_ARG,
                            "--model.n_embd %lld must be a positive multiple of --model.n_head "
                            "%lld",
                            (long long)m->n_embd, (long long)m->n_head);
    if (m->vocab < 1 || m->block_size < 1)
        return lt_set_error(LT_ERR_INVALID_ARG,
                            "--model.vocab_size %lld and --model.block_size %lld must be positive",
                            (long long)m->vocab, (long long)m->block_size);
    if (!(m->p >= 0.0 && m->p < 1.0))
        return lt_set_error(LT_ERR_INVALID_ARG, "--model.dropout %g must be in [0, 1)", m->p);
    return lt_ok(ctx);
}

static void block_setup(lt_ctx_t *ctx, block_t *b, int64_t i, int64_t c) {
    char k[96];
    b->ln_1 = lt_layernorm(ctx, block_key(k, sizeof k, i, "ln_1"), 1, &c);
    b->c_attn = lt_linear(ctx, block_key(k, sizeof k, i, "attn.c_attn"), c, 3 * c);
    b->attn_proj = lt_linear(ctx, block_key(k, sizeof k, i, "attn.c_proj"), c, c);
    b->ln_2 = lt_layernorm(ctx, block_key(k, sizeof k, i, "ln_2"), 1, &c);
    b->c_fc = lt_linear(ctx, block_key(k, sizeof k, i, "mlp.c_fc"), c, 4 * c);
    b->mlp_proj = lt_linear(ctx, block_key(k, sizeof k, i, "mlp.c_proj"), 4 * c, c);
}

static lt_status chargpt_setup(lt_ctx_t *ctx, void *self) {
    chargpt_t *m = self;
    m->vocab = lt_hparam_int(ctx, "vocab_size");
    m->block_size = lt_hparam_int(ctx, "block_size");
    m->n_layer = lt_hparam_int(ctx, "n_layer");
    m->n_head = lt_hparam_int(ctx, "n_head");
    m->n_embd = lt_hparam_int(ctx, "n_embd");
    m->p = lt_hparam_float(ctx, "dropout");
    if (check_hparams(ctx, m) != LT_OK) return lt_ok(ctx);
    int64_t c = m->n_embd;
    m->wte = lt_embedding(ctx, "transformer.wte", m->vocab, c, LT_NO_PADDING_IDX);
    m->wpe = lt_embedding(ctx, "transformer.wpe", m->block_size, c, LT_NO_PADDING_IDX);
    for (int64_t i = 0; i < m->n_layer; i++) block_setup(ctx, &m->h[i], i, c);
    m->ln_f = lt_layernorm(ctx, "transformer.ln_f", 1, &c);
    m->lm_head = lt_linear(ctx, "lm_head", c, m->vocab);
    return lt_ok(ctx);
}

/* (B, T, C) -> (B, H, T, C / H) */
static lt_tensor_t *heads(const chargpt_t *m, lt_tensor_t *x, int64_t b, int64_t t) {
    int64_t shape[4] = {b, t, m->n_head, m->n_embd / m->n_head};
    return lt_transpose(lt_reshape(x, 4, shape), 1, 2);
}

/* Causal self-attention: x (B, T, C) -> (B, T, C). */
static lt_tensor_t *attention(lt_ctx_t *ctx, const chargpt_t *m, const block_t *blk,
                              lt_tensor_t *x) {
    int64_t b = lt_dim(x, 0), t = lt_dim(x, 1), c = m->n_embd;
    lt_tensor_t *qkv[3];
    if (lt_split_tensor(lt_linear_forward(blk->c_attn, x), c, 2, qkv, 3) != 3) return NULL;
    lt_sdpa_opts o = LT_SDPA_OPTS(.is_causal = true, .dropout_p = m->p);
    lt_tensor_t *y = lt_attention(ctx, heads(m, qkv[0], b, t), heads(m, qkv[1], b, t),
                                  heads(m, qkv[2], b, t), &o); /* (B, H, T, hs) */
    y = lt_reshape(lt_transpose(y, 1, 2), 3, (int64_t[]){b, t, c});
    return lt_dropout(ctx, lt_linear_forward(blk->attn_proj, y), m->p);
}

static lt_tensor_t *mlp(lt_ctx_t *ctx, const chargpt_t *m, const block_t *blk, lt_tensor_t *x) {
    x = lt_gelu(lt_linear_forward(blk->c_fc, x)); /* (B, T, 4C) */
    return lt_dropout(ctx, lt_linear_forward(blk->mlp_proj, x), m->p);
}

/* idx (B, T) int64 -> logits (B, T, V) */
static lt_tensor_t *chargpt_forward(lt_ctx_t *ctx, void *self, lt_tensor_t *idx) {
    chargpt_t *m = self;
    if (!idx) return NULL;
    if (lt_ndim(idx) != 2 || lt_dim(idx, 1) > m->block_size) {
        lt_set_error(LT_ERR_SHAPE,
                     "chargpt: expected tokens (B, T) with T <= block_size %lld, got %d "
                     "dimensions and T %lld; match --data.block_size and --model.block_size",
                     (long long)m->block_size, lt_ndim(idx), (long long)lt_dim(idx, -1));
        return NULL;
    }
    int64_t t = lt_dim(idx, 1);
    lt_tensor_t *pos = lt_narrow(m->wpe->weight, 0, 0, t); /* positions 0..T-1: (T, C) */
    lt_tensor_t *x = lt_dropout(ctx, lt_add(lt_embedding_forward(m->wte, idx), pos), m->p);
    for (int64_t i = 0; i < m->n_layer; i++) {
        const block_t *blk = &m->h[i];
        x = lt_add(x, attention(ctx, m, blk, lt_layernorm_forward(blk->ln_1, x)));
        x = lt_add(x, mlp(ctx, m, blk, lt_layernorm_forward(blk->ln_2, x)));
    }
    return lt_linear_forward(m->lm_head, lt_layernorm_forward(m->ln_f, x));
}

/* Mean cross-entropy per token, in nats. */
static lt_tensor_t *loss_of(lt_ctx_t *ctx, chargpt_t *m, const lt_batch_t *b) {
    lt_tensor_t *logits = chargpt_forward(ctx, m, b->x);
    int64_t rows = lt_numel(b->y);
    return lt_cross_entropy(lt_reshape(logits, 2, (int64_t[]){rows, m->vocab}),
                            lt_reshape(b->y, 1, &rows));
}

static lt_tensor_t *chargpt_training_step(lt_ctx_t *ctx, void *self, const lt_batch_t *b,
                                          int64_t i) {
    (void)i;
    lt_tensor_t *loss = loss_of(ctx, self, b);
    lt_log(ctx, "train_loss", loss, LT_LOG_PROG_BAR | LT_LOG_ON_STEP | LT_LOG_ON_EPOCH);
    return loss;
}

static lt_tensor_t *chargpt_validation_step(lt_ctx_t *ctx, void *self, const lt_batch_t *b,
                                            int64_t i) {
    (void)i;
    lt_tensor_t *loss = loss_of(ctx, self, b);
    lt_log(ctx, "val_loss", loss, LT_LOG_PROG_BAR | LT_LOG_ON_EPOCH | LT_LOG_SYNC_DIST);
    return loss;
}

static lt_tensor_t *chargpt_test_step(lt_ctx_t *ctx, void *self, const lt_batch_t *b, int64_t i) {
    (void)i;
    lt_tensor_t *loss = loss_of(ctx, self, b);
    lt_log(ctx, "test_loss", loss, LT_LOG_PROG_BAR | LT_LOG_ON_EPOCH | LT_LOG_SYNC_DIST);
    return loss;
}

static lt_status chargpt_configure_optimizers(lt_ctx_t *ctx, void *self) {
    (void)self;
    return lt_use_optimizer(ctx, lt_adam(lt_parameters(ctx), lt_hparam_float(ctx, "lr")));
}

LT_MODULE_EXPORT(chargpt_t, .name = "chargpt", .hparams = chargpt_hparams, .setup = chargpt_setup,
                 .forward = chargpt_forward, .training_step = chargpt_training_step,
                 .validation_step = chargpt_validation_step, .test_step = chargpt_test_step,
                 .configure_optimizers = chargpt_configure_optimizers)
