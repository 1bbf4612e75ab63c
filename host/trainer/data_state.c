/* The data module's state in checkpoints (Lightning's LightningDataModule.state_dict and
 * load_state_dict): saved as the "datamodule_state" metadata, restored right after the
 * data module's setup when a run resumes from --ckpt_path. */
#include <stdio.h>
#include <stdlib.h>

#include "trainer.h"

bool datamodule_state_save(session *s, lt_ckpt_t *c) {
    const lt_datamodule_desc *d = s->data.desc;
    if (!d || !d->state_dict) return true;
    lt_state_t *st = lt_state_new();
    bool ok = st && d->state_dict(s->data.ctx, lt_ctx_self(s->data.ctx), st) == LT_OK;
    char *text = ok ? lt_state_to_json(st) : NULL;
    ok = text && lt_ckpt_set(c, "datamodule_state", text) == LT_OK;
    if (!ok) { /* checkpoint_write reports it, with the epoch and step */
        char why[512];
        snprintf(why, sizeof why, "%s", *lt_last_error() ? lt_last_error() : "out of memory");
        lt_set_error(LT_ERR_STATE, "data plugin %s: state_dict failed: %s", d->name, why);
    }
    free(text);
    lt_state_free(st);
    return ok;
}

/* A checkpoint without the key (saved before 1.1, or by a data module without state)
 * restores nothing: the data module keeps what its setup made. */
bool datamodule_state_load(session *s) {
    const lt_datamodule_desc *d = s->data.desc;
    const char *text = s->resume.ckpt ? lt_ckpt_get(s->resume.ckpt, "datamodule_state") : NULL;
    if (!d || !d->load_state_dict || !text) return true;
    lt_state_t *st = lt_state_from_json(text);
    if (!st) {
        host_error("--ckpt_path %s: metadata 'datamodule_state': %s", s->resume.file,
                   lt_last_error());
        return false;
    }
    lt_clear_error();
    bool ok = d->load_state_dict(s->data.ctx, lt_ctx_self(s->data.ctx), st) == LT_OK;
    if (!ok)
        host_error("--ckpt_path %s: data plugin %s refused its state: %s", s->resume.file, d->name,
                   *lt_last_error() ? lt_last_error() : "load_state_dict failed");
    lt_state_free(st);
    return ok;
}
