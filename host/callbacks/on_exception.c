/* OnExceptionCheckpoint, as Lightning's: when fit fails (a hook or step returns an error,
 * a NaN loss, a data error), save a checkpoint to <dirpath>/<filename>.ckpt before lthost
 * exits, so the run can be inspected or continued with --ckpt_path. The host calls
 * on_exception_save (Lightning's on_exception hook) once training has started; the saved
 * position is the last batch that finished. A signal is not an exception here: SIGTERM
 * and Ctrl-C already save last.ckpt. */
#include <stdio.h>
#include <string.h>

#include "../trainer/trainer.h"

typedef struct on_exception {
    int unused;
} on_exception;

static const lt_hparam_desc oe_hparams[] = {
    LT_HPARAM_STR("dirpath", "",
                  "folder for the checkpoint (empty: the run's checkpoints folder, as "
                  "ModelCheckpoint's)"),
    LT_HPARAM_STR("filename", "on_exception", "file name, without .ckpt"),
    LT_HPARAM_END,
};

static lt_status oe_setup(lt_ctx_t *ctx, void *self) {
    (void)self;
    const char *f = lt_hparam_str(ctx, "filename");
    if (!*f || strchr(f, '/') || !strcmp(f, ".") || !strcmp(f, ".."))
        return lt_set_error(LT_ERR_INVALID_ARG,
                            "OnExceptionCheckpoint: --callbacks.filename '%s' must be a plain "
                            "file name (no '/'); the folder goes in --callbacks.dirpath",
                            f);
    return LT_OK;
}

const lt_callback_desc on_exception_callback = {
    .abi_major = LT_ABI_MAJOR,
    .abi_minor = LT_ABI_MINOR,
    .struct_size = sizeof(lt_callback_desc),
    .name = "OnExceptionCheckpoint",
    .self_size = sizeof(on_exception),
    .hparams = oe_hparams,
    .setup = oe_setup,
};

void on_exception_save(session *s) {
    for (int i = 0; i < s->hooks.n; i++) {
        const participant *p = &s->hooks.parts[i];
        if (strcmp(p->name, "OnExceptionCheckpoint") != 0) continue;
        const char *dirpath = lt_hparam_str(p->ctx, "dirpath");
        char dir[4096], path[4400];
        const char *paths[1] = {path};
        if (!checkpoint_dir(s, *dirpath ? dirpath : NULL, dir, sizeof dir)) continue;
        snprintf(path, sizeof path, "%s/%s.ckpt", dir, lt_hparam_str(p->ctx, "filename"));
        if (checkpoint_write(s, paths, 1) && s->group.rank == 0)
            fprintf(stderr,
                    "lthost: OnExceptionCheckpoint saved %s (epoch %lld, global step %lld); "
                    "continue with --ckpt_path %s\n",
                    path, (long long)s->tr.current_epoch, (long long)s->tr.global_step, path);
    }
}
