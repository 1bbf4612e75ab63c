/* gan — a least-squares GAN on Fashion-MNIST under manual optimization (Lightning's
 * automatic_optimization = False): two optimizers, each toggled in turn so a backward
 * pass fills only its own network's gradients. Generator z(latent) -> 256 -> 784
 * (linear: the data plugin's pixels are standardised); discriminator 784 -> 256 -> 1
 * (a score trained with least squares, LSGAN). */
#include <lt/lt.h>

typedef struct {
    lt_linear_t *g1, *g2, *d1, *d2;
} gan_t;

static const lt_hparam_desc gan_hparams[] = {
    LT_HPARAM_INT("latent", 64, "size of the generator's noise input"),
    LT_HPARAM_FLOAT("lr", 2e-4, "Adam learning rate of both networks"),
    LT_HPARAM_INT("seed", 0, "seed of the noise (each step draws its own stream)"),
    LT_HPARAM_END,
};

static lt_status gan_setup(lt_ctx_t *ctx, void *self) {
    gan_t *m = self;
    int64_t z = lt_hparam_int(ctx, "latent");
    m->g1 = lt_linear(ctx, "generator.0", z, 256);
    m->g2 = lt_linear(ctx, "generator.2", 256, 28 * 28);
    m->d1 = lt_linear(ctx, "discriminator.0", 28 * 28, 256);
    m->d2 = lt_linear(ctx, "discriminator.2", 256, 1);
    return lt_ok(ctx);
}

static lt_tensor_t *generate(const gan_t *m, lt_tensor_t *z) {
    return lt_linear_forward(m->g2, lt_relu(lt_linear_forward(m->g1, z)));
}

static lt_tensor_t *discriminate(const gan_t *m, lt_tensor_t *x) {
    return lt_linear_forward(m->d2, lt_relu(lt_linear_forward(m->d1, x)));
}

/* (n, latent) standard normal noise, one Philox stream per step. */
static lt_tensor_t *noise(lt_ctx_t *ctx, int64_t n) {
    int64_t latent = lt_hparam_int(ctx, "latent"), count = n * latent;
    float buf[256 * 64];
    if (count > (int64_t)(sizeof buf / sizeof *buf)) {
        lt_set_error(LT_ERR_INVALID_ARG,
                     "gan: batch %lld x latent %lld is too large (at most %zu "
                     "noise values per step)",
                     (long long)n, (long long)latent, sizeof buf / sizeof *buf);
        return NULL;
    }
    lt_rng_t r = lt_rng_make((uint64_t)lt_hparam_int(ctx, "seed"), (uint64_t)lt_global_step(ctx));
    for (int64_t i = 0; i < count; i++) buf[i] = lt_rng_normal(&r);
    return lt_from_host(lt_ctx_arena(ctx), LT_F32, 2, (int64_t[]){n, latent}, buf);
}

/* One optimizer's update: toggle it, zero, backward, step, untoggle. */
static lt_status update(lt_ctx_t *ctx, lt_optimizer_t *opt, lt_tensor_t *loss) {
    if (!loss) return lt_last_status();
    lt_status st = lt_optimizer_zero_grad(opt);
    if (st == LT_OK) st = lt_manual_backward(ctx, loss);
    if (st == LT_OK) st = lt_optimizer_step(opt);
    lt_untoggle_optimizer(ctx, opt);
    return st;
}

static lt_tensor_t *gan_training_step(lt_ctx_t *ctx, void *self, const lt_batch_t *b, int64_t i) {
    (void)i;
    gan_t *m = self;
    lt_optimizer_t *opt_g = lt_optimizers(ctx, 0), *opt_d = lt_optimizers(ctx, 1);
    int64_t n = b->size, one[] = {n, 1};
    lt_tensor_t *real = lt_flatten(b->x), *z = noise(ctx, n);
    lt_tensor_t *ones = lt_full(lt_ctx_arena(ctx), 2, one, 1.0f);
    lt_tensor_t *zeros = lt_full(lt_ctx_arena(ctx), 2, one, 0.0f);

    /* Discriminator: real -> 1, generated (detached) -> 0. */
    lt_toggle_optimizer(ctx, opt_d);
    lt_tensor_t *fake = lt_detach(generate(m, z));
    lt_tensor_t *d_loss = lt_scale(
        lt_add(lt_mse_loss(discriminate(m, real), ones), lt_mse_loss(discriminate(m, fake), zeros)),
        0.5f);
    if (update(ctx, opt_d, d_loss) != LT_OK) return NULL;

    /* Generator: make the discriminator say 1. */
    lt_toggle_optimizer(ctx, opt_g);
    lt_tensor_t *g_loss = lt_mse_loss(discriminate(m, generate(m, z)), ones);
    if (update(ctx, opt_g, g_loss) != LT_OK) return NULL;

    lt_log(ctx, "g_loss", g_loss, LT_LOG_PROG_BAR | LT_LOG_ON_STEP | LT_LOG_ON_EPOCH);
    lt_log(ctx, "d_loss", d_loss, LT_LOG_PROG_BAR | LT_LOG_ON_STEP | LT_LOG_ON_EPOCH);
    return g_loss;
}

static lt_status gan_configure_optimizers(lt_ctx_t *ctx, void *self) {
    (void)self;
    double lr = lt_hparam_float(ctx, "lr");
    lt_status st = lt_use_optimizer(
        ctx, lt_adam_ex(lt_parameters_with_prefix(ctx, "generator."), lr, 0.5, 0.999, 1e-8, 0.0));
    if (st != LT_OK) return st;
    return lt_use_optimizer(ctx, lt_adam_ex(lt_parameters_with_prefix(ctx, "discriminator."), lr,
                                            0.5, 0.999, 1e-8, 0.0));
}

/* predict: images from noise, one per input row (the input itself is unused). */
static lt_tensor_t *gan_predict_step(lt_ctx_t *ctx, void *self, const lt_batch_t *b, int64_t i) {
    (void)i;
    return generate(self, noise(ctx, b->size));
}

/* The two networks on their own, for `lthost predict/export --submodule generator` (z
 * (N, latent) -> (N, 784)) and `--submodule discriminator` ((N, 784) -> scores). */
static lt_tensor_t *gan_generator(lt_ctx_t *ctx, void *self, lt_tensor_t *z) {
    (void)ctx;
    return generate(self, z);
}

static lt_tensor_t *gan_discriminator(lt_ctx_t *ctx, void *self, lt_tensor_t *x) {
    (void)ctx;
    return discriminate(self, x);
}

static const lt_submodule_desc gan_submodules[] = {
    {.name = "generator", .forward = gan_generator},
    {.name = "discriminator", .forward = gan_discriminator},
    {.name = NULL},
};

LT_MODULE_EXPORT(gan_t, .name = "gan", .hparams = gan_hparams, .setup = gan_setup,
                 .manual_optimization = true, .training_step = gan_training_step,
                 .predict_step = gan_predict_step, .configure_optimizers = gan_configure_optimizers,
                 .submodules = gan_submodules)
