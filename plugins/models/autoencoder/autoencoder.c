/* autoencoder — the seed document's example, Lightning's LitAutoEncoder:
 *
 *   encoder = nn.Sequential(nn.Linear(784, 64), nn.ReLU(), nn.Linear(64, 3))
 *   decoder = nn.Sequential(nn.Linear(3, 64), nn.ReLU(), nn.Linear(64, 784))
 *   loss    = F.mse_loss(decoder(encoder(x.view(N, -1))), x.view(N, -1))
 *
 * Parameters carry the names nn.Sequential gives them in a state_dict: the layer's index
 * in the Sequential ("encoder.0", "encoder.2"; index 1 is the ReLU, which has none).
 * With the same names a checkpoint maps one to one onto the PyTorch model, and
 * lt_parameters_with_prefix(ctx, "encoder.") picks out one half. "encoder" and "decoder"
 * are also exported as submodules, so `lthost predict --submodule encoder` and
 * lt_model_load_ex(.submodule = "encoder") compute embeddings. Labels are ignored. */
#include <lt/lt.h>

#define AE_PIXELS (28 * 28)

typedef struct {
    lt_linear_t *enc0, *enc2; /* encoder.0 (hidden, 784), encoder.2 (latent, hidden) */
    lt_linear_t *dec0, *dec2; /* decoder.0 (hidden, latent), decoder.2 (784, hidden) */
} autoencoder_t;

static const lt_hparam_desc ae_hparams[] = {
    LT_HPARAM_FLOAT("lr", 1e-3, "Adam learning rate"),
    LT_HPARAM_INT("hidden", 64, "width of the encoder's and decoder's hidden layer"),
    LT_HPARAM_INT("latent", 3, "size of the embedding"),
    LT_HPARAM_END,
};

static lt_status ae_setup(lt_ctx_t *ctx, void *self) {
    autoencoder_t *m = self;
    int64_t hidden = lt_hparam_int(ctx, "hidden"), latent = lt_hparam_int(ctx, "latent");
    if (hidden < 1 || latent < 1)
        return lt_set_error(LT_ERR_INVALID_ARG,
                            "autoencoder: --model.hidden %lld and "
                            "--model.latent %lld must be at least 1",
                            (long long)hidden, (long long)latent);
    m->enc0 = lt_linear(ctx, "encoder.0", AE_PIXELS, hidden);
    m->enc2 = lt_linear(ctx, "encoder.2", hidden, latent);
    m->dec0 = lt_linear(ctx, "decoder.0", latent, hidden);
    m->dec2 = lt_linear(ctx, "decoder.2", hidden, AE_PIXELS);
    return lt_ok(ctx);
}

/* ---- the two halves and the whole ------------------------------------------------- */

/* x (N, 1, 28, 28) or (N, 784) -> (N, latent) */
static lt_tensor_t *ae_encode(lt_ctx_t *ctx, void *self, lt_tensor_t *x) {
    (void)ctx;
    autoencoder_t *m = self;
    x = lt_relu(lt_linear_forward(m->enc0, lt_flatten(x))); /* (N, hidden) */
    return lt_linear_forward(m->enc2, x);                   /* (N, latent) */
}

/* z (N, latent) -> (N, 784) */
static lt_tensor_t *ae_decode(lt_ctx_t *ctx, void *self, lt_tensor_t *z) {
    (void)ctx;
    autoencoder_t *m = self;
    z = lt_relu(lt_linear_forward(m->dec0, z)); /* (N, hidden) */
    return lt_linear_forward(m->dec2, z);       /* (N, 784) */
}

/* The reconstruction: x -> (N, 784). Also the default predict. */
static lt_tensor_t *ae_forward(lt_ctx_t *ctx, void *self, lt_tensor_t *x) {
    return ae_decode(ctx, self, ae_encode(ctx, self, x));
}

static const lt_submodule_desc ae_submodules[] = {
    {.name = "encoder", .forward = ae_encode},
    {.name = "decoder", .forward = ae_decode},
    {.name = NULL},
};

/* ---- steps --------------------------------------------------------------------------- */

/* Every stage computes the same loss; only the logged name differs. */
static lt_tensor_t *reconstruction_loss(lt_ctx_t *ctx, void *self, const lt_batch_t *b,
                                        const char *name) {
    lt_tensor_t *x = lt_flatten(b->x); /* (N, 784) */
    lt_tensor_t *loss = lt_mse_loss(ae_forward(ctx, self, x), x);
    lt_log(ctx, name, loss, LT_LOG_PROG_BAR);
    return loss;
}

static lt_tensor_t *ae_training_step(lt_ctx_t *ctx, void *self, const lt_batch_t *b, int64_t i) {
    (void)i;
    return reconstruction_loss(ctx, self, b, "train_loss");
}

static lt_tensor_t *ae_validation_step(lt_ctx_t *ctx, void *self, const lt_batch_t *b, int64_t i) {
    (void)i;
    return reconstruction_loss(ctx, self, b, "val_loss");
}

static lt_tensor_t *ae_test_step(lt_ctx_t *ctx, void *self, const lt_batch_t *b, int64_t i) {
    (void)i;
    return reconstruction_loss(ctx, self, b, "test_loss");
}

static lt_status ae_configure_optimizers(lt_ctx_t *ctx, void *self) {
    (void)self;
    return lt_use_optimizer(ctx, lt_adam(lt_parameters(ctx), lt_hparam_float(ctx, "lr")));
}

LT_MODULE_EXPORT(autoencoder_t, .name = "autoencoder", .hparams = ae_hparams, .setup = ae_setup,
                 .forward = ae_forward, .training_step = ae_training_step,
                 .validation_step = ae_validation_step, .test_step = ae_test_step,
                 .configure_optimizers = ae_configure_optimizers, .submodules = ae_submodules)
