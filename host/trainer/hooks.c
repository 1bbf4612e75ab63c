/* Calling hooks: every callback in the order given, then the module, as Lightning's
 * _call_callback_hooks + _call_lightning_module_hook do. */
#include <stdio.h>
#include <string.h>

#include "trainer.h"

typedef enum { K_PLAIN, K_TEARDOWN, K_BATCH_START, K_BATCH_END, K_LOSS, K_OPT, K_STATE } hook_kind;

#define KIND_OF_lt_hook_fn K_PLAIN
#define KIND_OF_lt_teardown_fn K_TEARDOWN
#define KIND_OF_lt_batch_start_fn K_BATCH_START
#define KIND_OF_lt_batch_end_fn K_BATCH_END
#define KIND_OF_lt_loss_hook_fn K_LOSS
#define KIND_OF_lt_optimizer_hook_fn K_OPT
#define KIND_OF_lt_state_hook_fn K_STATE
#define HOOK_INFO_(type, name) [HOOK_##name] = {#name, KIND_OF_##type},
static const struct {
    const char *name;
    hook_kind kind;
} hook_info[HOOK_COUNT] = {LT_HOOK_TABLE(HOOK_INFO_)};
#undef HOOK_INFO_

static lt_status call_one(participant *p, hook_id id, const hook_args *a) {
    void (*fn)(void) = p->fn[id];
    void *self = lt_ctx_self(p->ctx);
    switch (hook_info[id].kind) {
    case K_PLAIN: return ((lt_hook_fn)fn)(p->ctx, self);
    case K_TEARDOWN: ((lt_teardown_fn)fn)(p->ctx, self); return LT_OK;
    case K_BATCH_START: return ((lt_batch_start_fn)fn)(p->ctx, self, a->batch, a->batch_idx);
    case K_BATCH_END: return ((lt_batch_end_fn)fn)(p->ctx, self, a->tensor, a->batch, a->batch_idx);
    case K_LOSS: return ((lt_loss_hook_fn)fn)(p->ctx, self, a->tensor);
    case K_OPT: return ((lt_optimizer_hook_fn)fn)(p->ctx, self, a->opt);
    case K_STATE: return ((lt_state_hook_fn)fn)(p->ctx, self, a->state);
    }
    return LT_OK;
}

/* An error recorded before a nested hook runs (training_step calling lt_manual_backward,
 * whose hooks clear the thread's error): put back afterwards so that the step that
 * recorded it still reports it. Copied only when there is one. */
typedef struct pending_error {
    lt_status status;
    char msg[1024];
} pending_error;

static void pending_save(pending_error *e) {
    e->status = lt_last_status();
    if (e->status != LT_OK) snprintf(e->msg, sizeof e->msg, "%s", lt_last_error());
}

static void pending_restore(const pending_error *e) {
    if (e->status != LT_OK) lt_set_error(e->status, "%s", e->msg);
}

/* What a hook returned, or the error it recorded and returned LT_OK anyway: liblt
 * reports misuse (lt_log of a non-scalar, lt_param after setup) by recording it, and a
 * hook that ignores the status must not lose it. */
static lt_status hook_status(lt_status returned) {
    return returned != LT_OK ? returned : lt_last_status();
}

static bool is_batch_hook(hook_kind k) { return k == K_BATCH_START || k == K_BATCH_END; }

/* " at epoch E, batch B" for batch hooks, " at epoch E" for epoch hooks, "" otherwise. */
static const char *hook_where(const session *s, hook_id id, const hook_args *a, char *buf,
                              size_t n) {
    long long epoch = (long long)s->tr.current_epoch;
    if (is_batch_hook(hook_info[id].kind))
        snprintf(buf, n, " at epoch %lld, batch %lld", epoch, (long long)a->batch_idx);
    else if (strstr(hook_info[id].name, "_epoch_"))
        snprintf(buf, n, " at epoch %lld", epoch);
    else
        buf[0] = '\0';
    return buf;
}

/* Profiled whether the participant implements the hook or not, as Lightning times its
 * callbacks' and LightningModule's default (empty) hooks too. */
bool participant_hook(session *s, participant *p, hook_id id, const hook_args *a) {
    /* LightningModule has no sanity-check hooks: time the module's only if it has them */
    bool timed = p->fn[id] || !p->is_module ||
                 (id != HOOK_on_sanity_check_start && id != HOOK_on_sanity_check_end);
    const char *action = timed ? p->action[id] : NULL;
    prof_start(s, action);
    lt_status st = LT_OK;
    pending_error outer;
    if (p->fn[id]) {
        pending_save(&outer);
        lt_clear_error();
        st = hook_status(call_one(p, id, a));
    }
    prof_stop(s, action);
    if (st == LT_OK) {
        if (p->fn[id]) pending_restore(&outer);
        return true;
    }
    const char *why = *lt_last_error() ? lt_last_error() : lt_status_str(st);
    char where[96];
    host_error("%s%s.%s failed%s: %s", p->is_module ? "" : "callback ", p->name, hook_info[id].name,
               hook_where(s, id, a, where, sizeof where), why);
    return false;
}

bool hooks_run(session *s, hook_id id, const hook_args *a) {
    static const hook_args none = {0};
    for (int i = 0; i < s->hooks.n; i++)
        if (!participant_hook(s, &s->hooks.parts[i], id, a ? a : &none)) return false;
    return true;
}

bool hooks_run_train_epoch_end(session *s) {
    static const hook_args none = {0};
    for (int pass = 0; pass < 3; pass++) /* plain callbacks, module, monitoring callbacks */
        for (int i = 0; i < s->hooks.n; i++) {
            participant *p = &s->hooks.parts[i];
            int order = p->is_module ? 1 : p->monitoring ? 2 : 0;
            if (order == pass && !participant_hook(s, p, HOOK_on_train_epoch_end, &none))
                return false;
        }
    return true;
}

bool module_hook(session *s, const char *name, lt_hook_fn fn) {
    const char *action = s->prof.d ? prof_module_action(s, name) : NULL;
    prof_start(s, action);
    lt_status st = LT_OK;
    if (fn) {
        lt_clear_error();
        st = hook_status(fn(s->module.ctx, lt_ctx_self(s->module.ctx)));
    }
    prof_stop(s, action);
    if (st == LT_OK) return true;
    host_error("%s.%s failed: %s", s->module.desc->name, name,
               *lt_last_error() ? lt_last_error() : lt_status_str(st));
    return false;
}

bool module_override(session *s, const char *name, lt_hook_fn fn) {
    return !fn || module_hook(s, name, fn);
}

bool step_failed(session *s, const char *hook, int64_t batch) {
    char at_batch[40] = "";
    if (batch >= 0) snprintf(at_batch, sizeof at_batch, ", batch %lld", (long long)batch);
    host_error("%s.%s failed at epoch %lld%s: %s", s->module.desc->name, hook,
               (long long)s->tr.current_epoch, at_batch,
               *lt_last_error() ? lt_last_error() : "it returned an error");
    return false;
}
