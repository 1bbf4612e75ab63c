/* BasePredictionWriter callbacks (lt_callback_desc.write_interval): `lthost predict`
 * hands each batch's prediction to write_on_batch_end (after predict_step, before the
 * on_predict_batch_end hooks) and all of them to write_on_epoch_end (before
 * on_predict_epoch_end), on rank 0, which predicts the whole split. With such a callback
 * the default predictions.npy is written only when --predict.output asks for a file. */
#include <stdlib.h>
#include <string.h>

#include "../trainer/trainer.h"

static bool wants(const lt_callback_desc *d, const char *what) {
    return d && d->write_interval &&
           (!strcmp(d->write_interval, what) || !strcmp(d->write_interval, "batch_and_epoch"));
}

bool prediction_writers_present(const session *s) {
    for (int i = 0; i < s->hooks.n; i++)
        if (s->callback_desc[i] && s->callback_desc[i]->write_interval) return true;
    return false;
}

static bool failed(const participant *p, const char *hook, int64_t idx) {
    const char *why = *lt_last_error() ? lt_last_error() : "it returned an error";
    if (idx >= 0)
        host_error("callback %s.%s failed at batch %lld: %s", p->name, hook, (long long)idx, why);
    else
        host_error("callback %s.%s failed: %s", p->name, hook, why);
    return false;
}

bool prediction_writers_batch(session *s, lt_tensor_t *out, const lt_batch_t *b, int64_t idx) {
    bool keep = false;
    for (int i = 0; i < s->hooks.n; i++) {
        const lt_callback_desc *d = s->callback_desc[i];
        participant *p = &s->hooks.parts[i];
        keep |= wants(d, "epoch");
        if (!wants(d, "batch") || s->group.rank != 0) continue;
        lt_clear_error();
        lt_status st = d->write_on_batch_end(p->ctx, lt_ctx_self(p->ctx), out, b, idx);
        if (st != LT_OK || lt_last_status() != LT_OK) return failed(p, "write_on_batch_end", idx);
    }
    if (!keep || s->group.rank != 0) return true;
    if (!s->writer_outputs && !(s->writer_outputs = calloc(1, sizeof *s->writer_outputs))) {
        host_error("out of host memory keeping predictions for write_on_epoch_end");
        return false;
    }
    return outputs_push(s->writer_outputs, out);
}

bool prediction_writers_epoch(session *s) {
    outputs_list *l = s->writer_outputs;
    bool ok = true;
    for (int i = 0; ok && i < s->hooks.n && s->group.rank == 0; i++) {
        const lt_callback_desc *d = s->callback_desc[i];
        participant *p = &s->hooks.parts[i];
        if (!wants(d, "epoch")) continue;
        lt_clear_error();
        lt_status st =
            d->write_on_epoch_end(p->ctx, lt_ctx_self(p->ctx), l ? l->items : NULL, l ? l->n : 0);
        if (st != LT_OK || lt_last_status() != LT_OK) ok = failed(p, "write_on_epoch_end", -1);
    }
    prediction_writers_free(s);
    return ok;
}

void prediction_writers_free(session *s) {
    if (!s->writer_outputs) return;
    outputs_clear(s->writer_outputs);
    free(s->writer_outputs->items);
    free(s->writer_outputs);
    s->writer_outputs = NULL;
}
