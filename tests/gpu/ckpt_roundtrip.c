/* ckpt_roundtrip ACCEL MODULE.so IN.ckpt OUT.ckpt — restore a checkpoint's weights and
 * optimizer state into the module on accelerator ACCEL (cpu, cuda, a test twin), then
 * capture and save them again. Checkpoints are accelerator-neutral: OUT must hold the
 * same tensors as IN byte for byte (tests/e2e/ckpt_tensors.py same IN OUT), whichever
 * accelerator wrote IN and whichever reads it here. */
#include <stdio.h>

#include <lt/checkpoint.h>
#include <lt/lt.h>
#include <lt/runtime.h>

static int fail(const char *what) {
    fprintf(stderr, "ckpt_roundtrip: %s: %s\n", what, lt_last_error());
    return 1;
}

/* Load in into a fresh context of module m on dev and save it as out. */
static int roundtrip(lt_device_t *dev, const lt_module_desc *m, const char *in, const char *out) {
    lt_ckpt_t *c = NULL;
    if (lt_ckpt_open(in, &c) != LT_OK) return fail(in);
    lt_ctx_t *ctx = lt_ctx_new(dev, m->name, m->hparams, m->self_size, 1);
    void *self = ctx ? lt_ctx_self(ctx) : NULL;
    int rc = 1;
    if (!ctx || lt_ckpt_restore_hparams(c, ctx) != LT_OK || m->setup(ctx, self) != LT_OK ||
        lt_ctx_materialize(ctx) != LT_OK || m->configure_optimizers(ctx, self) != LT_OK)
        rc = fail("building the module");
    else if (lt_ckpt_restore_weights(c, ctx, true) != LT_OK ||
             lt_ckpt_restore_training(c, ctx) != LT_OK)
        rc = fail("restoring");
    else {
        lt_ckpt_t *again = lt_ckpt_capture(ctx);
        rc = again && lt_ckpt_save(again, out) == LT_OK ? 0 : fail(out);
        lt_ckpt_free(again);
    }
    lt_ctx_free(ctx);
    lt_ckpt_free(c);
    return rc;
}

int main(int argc, char **argv) {
    if (argc != 5) {
        fprintf(stderr, "usage: ckpt_roundtrip ACCEL MODULE.so IN.ckpt OUT.ckpt\n");
        return 2;
    }
    lt_plugin_t *plugin = NULL;
    lt_device_t *dev = NULL;
    if (lt_plugin_open(LT_PLUGIN_MODULE, argv[2], NULL, &plugin) != LT_OK) return fail(argv[2]);
    if (lt_device_open(argv[1], 1, &dev) != LT_OK) {
        lt_plugin_close(plugin);
        return fail(argv[1]);
    }
    int rc = roundtrip(dev, lt_plugin_desc(plugin), argv[3], argv[4]);
    lt_device_close(dev);
    lt_plugin_close(plugin);
    if (rc == 0) printf("ok: %s restored on %s and saved again as %s\n", argv[3], argv[1], argv[4]);
    return rc;
}
