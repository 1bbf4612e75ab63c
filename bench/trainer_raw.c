#define _POSIX_C_SOURCE 200809L
/* The model's own work per step without the trainer: the module's training_step,
 * zero_grad, backward and the optimizer step on one fixed batch, in a bare loop over
 * liblt (the batch copy to the device included, as the trainer does it too). Prints
 * microseconds per step. Usage: trainer_raw MODULE.so STEPS BATCH */
#include <lt/lt.h>
#include <lt/runtime.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

int main(int argc, char **argv) {
    if (argc != 4) {
        fprintf(stderr, "usage: trainer_raw MODULE.so STEPS BATCH\n");
        return 2;
    }
    long steps = atol(argv[2]), n = atol(argv[3]);
    lt_plugin_t *plugin = NULL, *accel = NULL;
    lt_device_t *dev = NULL;
    if (lt_plugin_open(LT_PLUGIN_MODULE, argv[1], NULL, &plugin) != LT_OK ||
        lt_plugin_open(LT_PLUGIN_ACCELERATOR, "cpu", NULL, &accel) != LT_OK ||
        lt_device_from_plugin(accel, 1, &dev) != LT_OK) {
        fprintf(stderr, "trainer_raw: %s\n", lt_last_error());
        return 1;
    }
    const lt_module_desc *m = lt_plugin_desc(plugin);
    lt_ctx_t *ctx = lt_ctx_new(dev, m->name, m->hparams, m->self_size, 1);
    void *self = lt_ctx_self(ctx);
    if (m->setup(ctx, self) != LT_OK || lt_ctx_materialize(ctx) != LT_OK ||
        m->configure_optimizers(ctx, self) != LT_OK) {
        fprintf(stderr, "trainer_raw: %s\n", lt_last_error());
        return 1;
    }
    float *x = calloc((size_t)n * 784, sizeof *x);
    int64_t *y = calloc((size_t)n, sizeof *y);
    for (long i = 0; i < n * 784; i++) x[i] = (float)(i % 17) / 17.0f;
    lt_optimizer_t *opt = lt_ctx_optimizer(ctx, 0);
    lt_arena_t *a = lt_ctx_arena(ctx);
    double t0 = 0;
    for (long s = 0; s < steps + 100; s++) {
        if (s == 100) t0 = now(); /* warm-up: pools and caches filled */
        lt_arena_reset(a);
        lt_batch_t b = {lt_from_host(a, LT_F32, 4, (int64_t[]){n, 1, 28, 28}, x),
                        lt_from_host(a, LT_I64, 1, (int64_t[]){n}, y), n};
        lt_tensor_t *loss = m->training_step(ctx, self, &b, s);
        if (!loss || lt_optimizer_zero_grad(opt) != LT_OK || lt_backward(loss) != LT_OK ||
            lt_optimizer_step(opt) != LT_OK) {
            fprintf(stderr, "trainer_raw: %s\n", lt_last_error());
            return 1;
        }
    }
    printf("%.3f\n", (now() - t0) / (double)steps * 1e6);
    free(x);
    free(y);
    lt_ctx_free(ctx);
    lt_device_close(dev);
    lt_plugin_close(plugin);
    return 0;
}
