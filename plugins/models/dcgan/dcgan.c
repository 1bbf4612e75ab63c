/* dcgan — a DCGAN (Radford et al.) on Fashion-MNIST 28x28 under manual optimization
 * (Lightning's automatic_optimization = False): two Adam optimizers (betas 0.5, 0.999),
 * each toggled in turn, and binary cross-entropy on the discriminator's logits. Every
 * epoch, the generator's images of one fixed noise batch go to lt_log_image as an 8-wide
 * grid (<log dir>/images/generated/step_N.png and TensorBoard), so a person can watch
 * the samples sharpen from one epoch to the next.
 *
 * generator      z (N, latent) -> linear -> (N, 2 ngf, 7, 7) -> batch norm -> relu
 *                -> conv_transpose 4x4/2 (no bias) -> (N, ngf, 14, 14) -> batch norm -> relu
 *                -> conv_transpose 4x4/2 -> (N, 1, 28, 28) -> tanh
 * discriminator  x (N, 1, 28, 28) -> conv 4x4/2 -> (N, ndf, 14, 14) -> leaky relu 0.2
 *                -> conv 4x4/2 (no bias) -> (N, 2 ndf, 7, 7) -> batch norm -> leaky relu 0.2
 *                -> flatten -> linear -> (N, 1) logits
 * The data plugin standardises pixels ((p - 0.2860) / 0.3530); the model maps them back
 * onto tanh's [-1, 1]. */
#include <stdlib.h>

#include <lt/lt.h>

typedef struct {
    lt_linear_t *g_fc;
    lt_batchnorm_t *g_bn0, *g_bn1, *d_bn1;
    lt_conv_transpose2d_t *g_up1, *g_up2;
    lt_conv2d_t *d_conv0, *d_conv1;
    lt_linear_t *d_fc;
    int64_t ngf;
} dcgan_t;

/* The data plugin's normalisation, undone and mapped onto [-1, 1]. */
#define FMNIST_STD 0.3530f
#define FMNIST_MEAN 0.2860f
/* The fixed noise's Philox stream, apart from the per-step ones (streams = global steps). */
#define FIXED_NOISE_STREAM ((uint64_t)1 << 62)

static const lt_hparam_desc dcgan_hparams[] = {
    LT_HPARAM_INT("latent", 64, "size of the generator's noise input"),
    LT_HPARAM_INT("ngf", 32, "generator width (channels of its last hidden layer)"),
    LT_HPARAM_INT("ndf", 32, "discriminator width (channels of its first layer)"),
    LT_HPARAM_FLOAT("lr", 2e-4, "Adam learning rate of both networks"),
    LT_HPARAM_INT("seed", 0, "seed of the noise (each step draws its own stream)"),
    LT_HPARAM_INT("samples", 64, "images in the grid logged every epoch (1 to 256)"),
    LT_HPARAM_END,
};

/* 4x4 windows of stride 2: 7 -> 14 -> 28 up, 28 -> 14 -> 7 down. A layer followed by batch
 * norm has no bias (as in torch's DCGAN example): the norm subtracts it again, so its
 * gradient is zero up to rounding, which Adam would blow up into full-size steps. */
static const lt_conv_transpose2d_opts up = {
    .struct_size = sizeof(lt_conv_transpose2d_opts), .stride = {2, 2}, .padding = {1, 1}};
static const lt_conv_transpose2d_opts up_no_bias = {.struct_size = sizeof(lt_conv_transpose2d_opts),
                                                    .stride = {2, 2},
                                                    .padding = {1, 1},
                                                    .no_bias = true};
static const lt_conv2d_opts down = {
    .struct_size = sizeof(lt_conv2d_opts), .stride = {2, 2}, .padding = {1, 1}};
static const lt_conv2d_opts down_no_bias = {
    .struct_size = sizeof(lt_conv2d_opts), .stride = {2, 2}, .padding = {1, 1}, .no_bias = true};

static lt_status dcgan_setup(lt_ctx_t *ctx, void *self) {
    dcgan_t *m = self;
    int64_t z = lt_hparam_int(ctx, "latent"), ngf = lt_hparam_int(ctx, "ngf");
    int64_t ndf = lt_hparam_int(ctx, "ndf"), samples = lt_hparam_int(ctx, "samples");
    if (z < 1 || z > 1024 || ngf < 1 || ngf > 512 || ndf < 1 || ndf > 512 || samples < 1 ||
        samples > 256)
        return lt_set_error(LT_ERR_INVALID_ARG,
                            "dcgan: latent must be 1 to 1024, ngf and ndf 1 to 512, samples 1 to "
                            "256 (got %lld, %lld, %lld, %lld)",
                            (long long)z, (long long)ngf, (long long)ndf, (long long)samples);
    m->ngf = ngf;
    m->g_fc = lt_linear(ctx, "generator.fc", z, 2 * ngf * 7 * 7);
    m->g_bn0 = lt_batchnorm(ctx, "generator.bn0", 2 * ngf);
    m->g_up1 = lt_conv_transpose2d(ctx, "generator.up1", 2 * ngf, ngf, 4, 4, &up_no_bias);
    m->g_bn1 = lt_batchnorm(ctx, "generator.bn1", ngf);
    m->g_up2 = lt_conv_transpose2d(ctx, "generator.up2", ngf, 1, 4, 4, &up);
    m->d_conv0 = lt_conv2d(ctx, "discriminator.conv0", 1, ndf, 4, 4, &down);
    m->d_conv1 = lt_conv2d(ctx, "discriminator.conv1", ndf, 2 * ndf, 4, 4, &down_no_bias);
    m->d_bn1 = lt_batchnorm(ctx, "discriminator.bn1", 2 * ndf);
    m->d_fc = lt_linear(ctx, "discriminator.fc", 2 * ndf * 7 * 7, 1);
    return lt_ok(ctx);
}

/* Batch norm as the module's mode has it, or in eval mode (running statistics, nothing
 * updated) for the fixed samples, as torch's generator.eval() would. */
static lt_tensor_t *norm(lt_batchnorm_t *bn, lt_tensor_t *x, bool eval) {
    if (!eval) return lt_batchnorm_forward(bn, x);
    return lt_batch_norm(x, bn->running_mean, bn->running_var, bn->weight, bn->bias, false,
                         bn->momentum, bn->eps);
}

static lt_tensor_t *generate(dcgan_t *m, lt_tensor_t *z, bool eval) {
    lt_tensor_t *h = lt_linear_forward(m->g_fc, z);
    h = lt_reshape(h, 4, (int64_t[]){lt_dim(z, 0), 2 * m->ngf, 7, 7});
    h = lt_relu(norm(m->g_bn0, h, eval));                                        /* 7x7 */
    h = lt_relu(norm(m->g_bn1, lt_conv_transpose2d_forward(m->g_up1, h), eval)); /* 14x14 */
    return lt_tanh(lt_conv_transpose2d_forward(m->g_up2, h));                    /* 28x28 */
}

static lt_tensor_t *discriminate(dcgan_t *m, lt_tensor_t *x) {
    lt_tensor_t *h = lt_leaky_relu(lt_conv2d_forward(m->d_conv0, x), 0.2); /* 14x14 */
    h = lt_leaky_relu(lt_batchnorm_forward(m->d_bn1, lt_conv2d_forward(m->d_conv1, h)), 0.2);
    return lt_linear_forward(m->d_fc, lt_flatten(h)); /* (N, 1) */
}

/* (n, latent) standard normal noise from Philox (seed, stream). */
static lt_tensor_t *noise(lt_ctx_t *ctx, int64_t n, uint64_t stream) {
    int64_t latent = lt_hparam_int(ctx, "latent");
    float *buf = malloc((size_t)(n * latent) * sizeof *buf);
    if (!buf) {
        lt_set_error(LT_ERR_OOM, "dcgan: out of memory for %lld noise vectors", (long long)n);
        return NULL;
    }
    lt_rng_t r = lt_rng_make((uint64_t)lt_hparam_int(ctx, "seed"), stream);
    for (int64_t i = 0; i < n * latent; i++) buf[i] = lt_rng_normal(&r);
    lt_tensor_t *z = lt_from_host(lt_ctx_arena(ctx), LT_F32, 2, (int64_t[]){n, latent}, buf);
    free(buf);
    return z;
}

/* One optimizer's update: zero, backward, step, untoggle (the caller toggled it). */
static lt_status update(lt_ctx_t *ctx, lt_optimizer_t *opt, lt_tensor_t *loss) {
    if (!loss) return lt_last_status();
    lt_status st = lt_optimizer_zero_grad(opt);
    if (st == LT_OK) st = lt_manual_backward(ctx, loss);
    if (st == LT_OK) st = lt_optimizer_step(opt);
    lt_untoggle_optimizer(ctx, opt);
    return st;
}

static lt_tensor_t *bce(lt_tensor_t *logits, lt_tensor_t *target) {
    return lt_binary_cross_entropy_with_logits(logits, target, NULL, NULL, LT_REDUCTION_MEAN);
}

static lt_tensor_t *dcgan_training_step(lt_ctx_t *ctx, void *self, const lt_batch_t *b, int64_t i) {
    (void)i;
    dcgan_t *m = self;
    lt_optimizer_t *opt_g = lt_optimizers(ctx, 0), *opt_d = lt_optimizers(ctx, 1);
    int64_t n = b->size, one[] = {n, 1};
    lt_tensor_t *real = lt_reshape(b->x, 4, (int64_t[]){n, 1, 28, 28});
    real = lt_add_scalar(lt_scale(real, 2.0f * FMNIST_STD), 2.0f * FMNIST_MEAN - 1.0f);
    lt_tensor_t *ones = lt_full(lt_ctx_arena(ctx), 2, one, 1.0f);
    lt_tensor_t *zeros = lt_full(lt_ctx_arena(ctx), 2, one, 0.0f);
    lt_tensor_t *fake = generate(m, noise(ctx, n, (uint64_t)lt_global_step(ctx)), false);

    /* Discriminator: real -> 1, generated (detached) -> 0. Real first, in statements of
     * their own: batch norm's running statistics depend on the order of the forwards, and
     * C leaves the order of a call's arguments open. */
    lt_toggle_optimizer(ctx, opt_d);
    lt_tensor_t *d_real = bce(discriminate(m, real), ones);
    lt_tensor_t *d_fake = bce(discriminate(m, lt_detach(fake)), zeros);
    lt_tensor_t *d_loss = lt_scale(lt_add(d_real, d_fake), 0.5f);
    if (update(ctx, opt_d, d_loss) != LT_OK) return NULL;

    /* Generator: make the (updated) discriminator say 1. */
    lt_toggle_optimizer(ctx, opt_g);
    lt_tensor_t *g_loss = bce(discriminate(m, fake), ones);
    if (update(ctx, opt_g, g_loss) != LT_OK) return NULL;

    lt_log(ctx, "g_loss", g_loss, LT_LOG_PROG_BAR | LT_LOG_ON_STEP | LT_LOG_ON_EPOCH);
    lt_log(ctx, "d_loss", d_loss, LT_LOG_PROG_BAR | LT_LOG_ON_STEP | LT_LOG_ON_EPOCH);
    return g_loss;
}

/* The fixed noise's images, in [0, 1], as a grid 8 wide. */
static lt_status dcgan_on_train_epoch_end(lt_ctx_t *ctx, void *self) {
    lt_arena_t *a = lt_ctx_arena(ctx);
    bool grad = lt_arena_set_grad(a, false);
    lt_tensor_t *z = noise(ctx, lt_hparam_int(ctx, "samples"), FIXED_NOISE_STREAM);
    lt_tensor_t *images = lt_add_scalar(lt_scale(generate(self, z, true), 0.5f), 0.5f);
    lt_status st = lt_log_image(ctx, "generated", images);
    lt_arena_set_grad(a, grad);
    return st;
}

static lt_status dcgan_configure_optimizers(lt_ctx_t *ctx, void *self) {
    (void)self;
    double lr = lt_hparam_float(ctx, "lr");
    lt_status st = lt_use_optimizer(
        ctx, lt_adam_ex(lt_parameters_with_prefix(ctx, "generator."), lr, 0.5, 0.999, 1e-8, 0.0));
    if (st != LT_OK) return st;
    return lt_use_optimizer(ctx, lt_adam_ex(lt_parameters_with_prefix(ctx, "discriminator."), lr,
                                            0.5, 0.999, 1e-8, 0.0));
}

/* predict: images in [-1, 1] (N, 1, 28, 28) from noise, one per input row. */
static lt_tensor_t *dcgan_predict_step(lt_ctx_t *ctx, void *self, const lt_batch_t *b, int64_t i) {
    return generate(self, noise(ctx, b->size, (uint64_t)i), !lt_training(ctx));
}

/* The two networks on their own, for `lthost predict/export --submodule generator` (z
 * (N, latent) -> images) and `--submodule discriminator` (images -> logits), batch norm
 * as the module's mode has it (eval when exported). */
static lt_tensor_t *dcgan_generator(lt_ctx_t *ctx, void *self, lt_tensor_t *z) {
    return generate(self, z, !lt_training(ctx));
}

static lt_tensor_t *dcgan_discriminator(lt_ctx_t *ctx, void *self, lt_tensor_t *x) {
    (void)ctx;
    return discriminate(self, x);
}

static const lt_submodule_desc dcgan_submodules[] = {
    {.name = "generator", .forward = dcgan_generator},
    {.name = "discriminator", .forward = dcgan_discriminator},
    {.name = NULL},
};

LT_MODULE_EXPORT(dcgan_t, .name = "dcgan", .hparams = dcgan_hparams, .setup = dcgan_setup,
                 .manual_optimization = true, .training_step = dcgan_training_step,
                 .on_train_epoch_end = dcgan_on_train_epoch_end, .predict_step = dcgan_predict_step,
                 .configure_optimizers = dcgan_configure_optimizers, .submodules = dcgan_submodules)
