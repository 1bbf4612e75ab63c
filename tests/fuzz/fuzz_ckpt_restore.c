/* libFuzzer harness: the checkpoint restore path, as lthost fit --ckpt_path and
 * lt_model_load run it, into a real module (plugins/models/mlp, FUZZ_MLP_PLUGIN). The
 * input is a whole .ckpt; its checksum is recomputed first (fuzz_util.h) so that the
 * mutations reach the metadata and tensors. Then: open it, read the run state the host
 * reads (loops, callbacks, epoch, global_step), restore the hyper-parameters into a new
 * context, set up and materialize the module, restore the weights (strict, else not),
 * configure the optimizers the hyper-parameters ask for (SGD or Adam; StepLR, cosine or
 * plateau), restore optimizer and scheduler state, and take one training step with
 * what was restored. Every refusal must carry a message. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <lt/checkpoint.h>
#include <lt/module.h>
#include <lt/optim.h>
#include <lt/plugin.h>
#include <lt/runtime.h>
#include <lt/scheduler.h>

#include "fuzz_util.h"

/* A module this big is an honest out-of-memory, not a reader bug: sizes are skipped
 * above it, unless their product overflows (which liblt must refuse, so it is run). */
#define MAX_PARAMS ((int64_t)1 << 20)

static lt_plugin_t *plugin;
static const lt_module_desc *desc;
static lt_device_t *dev;

int LLVMFuzzerInitialize(int *argc, char ***argv) {
    (void)argc;
    (void)argv;
    fuzz_default_plugin_path();
    if (lt_plugin_open(LT_PLUGIN_MODULE, FUZZ_MLP_PLUGIN, NULL, &plugin) != LT_OK ||
        lt_device_open("cpu", 1, &dev) != LT_OK) {
        fprintf(stderr, "fuzz_ckpt_restore: %s\n", lt_last_error());
        abort();
    }
    desc = lt_plugin_desc(plugin);
    return 0;
}

static void read_run_state(const lt_ckpt_t *c) {
    static const char *const keys[] = {"loops",       "callbacks", "epoch",
                                       "global_step", "module",    NULL};
    for (int i = 0; keys[i]; i++) {
        const char *json = lt_ckpt_get(c, keys[i]);
        lt_state_t *st = json ? lt_state_from_json(json) : NULL;
        fuzz_walk_state(st);
        lt_state_free(st);
    }
}

/* Whether the restored sizes make a module under MAX_PARAMS, or one whose size does not
 * fit in int64 at all (784 * hidden + hidden * hidden2 + 10 * hidden2, as mlp.c lays
 * it out; biases are smaller than the weights and left out). */
static bool worth_building(lt_ctx_t *ctx) {
    int64_t h1 = lt_hparam_int(ctx, "hidden"), h2 = lt_hparam_int(ctx, "hidden2"), a, b, c, n;
    if (__builtin_mul_overflow(h1, (int64_t)784, &a) || __builtin_mul_overflow(h1, h2, &b) ||
        __builtin_mul_overflow(h2, (int64_t)10, &c) || __builtin_add_overflow(a, b, &n) ||
        __builtin_add_overflow(n, c, &n))
        return true;
    return n <= MAX_PARAMS;
}

/* One step with the restored optimizer and scheduler state. */
static void train_step(lt_ctx_t *ctx) {
    lt_arena_t *a = lt_ctx_arena(ctx);
    lt_tensor_t *x = lt_full(a, 2, (int64_t[]){2, 784}, 0.5f);
    lt_tensor_t *y = desc->forward(ctx, lt_ctx_self(ctx), x);
    lt_tensor_t *loss = lt_mse_loss(y, lt_zeros(a, LT_F32, 2, (int64_t[]){2, 10}));
    for (int i = 0; loss && i < lt_ctx_num_optimizers(ctx); i++)
        lt_optimizer_zero_grad(lt_ctx_optimizer(ctx, i));
    if (loss && lt_backward(loss) == LT_OK)
        for (int i = 0; i < lt_ctx_num_optimizers(ctx); i++)
            lt_optimizer_step(lt_ctx_optimizer(ctx, i));
    for (int i = 0; loss && i < lt_ctx_num_schedulers(ctx); i++) {
        lt_scheduler_t *s = lt_ctx_scheduler(ctx, i, NULL);
        if (lt_scheduler_needs_metric(s))
            lt_scheduler_step_metric(s, lt_item(loss));
        else
            lt_scheduler_step(s);
    }
    lt_arena_reset(a);
}

#define CHECKED(call) (lt_clear_error(), check_message((call), #call))
static lt_status check_message(lt_status s, const char *call) {
    fuzz_require_message(s, call);
    if (s != LT_OK) fuzz_require_printable(call);
    return s;
}

static void restore_module(const lt_ckpt_t *c) {
    lt_ctx_t *ctx = lt_ctx_new(dev, desc->name, desc->hparams, desc->self_size, 0);
    if (!ctx) abort();
    void *self = lt_ctx_self(ctx);
    bool set_up = false;
    lt_status s = CHECKED(lt_ckpt_restore_hparams(c, ctx));
    if (s == LT_OK && worth_building(ctx)) {
        set_up = true;
        s = CHECKED(desc->setup(ctx, self));
        if (s == LT_OK) s = CHECKED(lt_ctx_materialize(ctx));
        if (s == LT_OK && CHECKED(lt_ckpt_restore_weights(c, ctx, true)) != LT_OK)
            s = CHECKED(lt_ckpt_restore_weights(c, ctx, false));
        if (s == LT_OK) s = CHECKED(desc->configure_optimizers(ctx, self));
        if (s == LT_OK) s = CHECKED(lt_ckpt_restore_training(c, ctx));
        if (s == LT_OK) train_step(ctx);
    }
    if (set_up && desc->teardown) desc->teardown(ctx, self);
    lt_ctx_free(ctx);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    bool fixed;
    uint8_t *file = fuzz_with_checksum(data, size, &fixed);
    lt_ckpt_t *c = NULL;
    lt_status s = CHECKED(lt_ckpt_open(fuzz_file(file, size), &c));
    if (s == LT_OK) {
        read_run_state(c);
        restore_module(c);
    }
    lt_ckpt_free(c);
    free(file);
    return 0;
}
