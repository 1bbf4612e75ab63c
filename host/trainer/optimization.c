/* One training batch, in Lightning's order. Automatic optimization:
 *   optimizer_step(closure) -> closure: training_step [+ training_step_end],
 *   on_before_zero_grad, optimizer_zero_grad (first batch of an accumulation window),
 *   on_before_backward, backward, on_after_backward; then on_before_optimizer_step,
 *   gradient clipping, and the update. While accumulating, only the closure runs.
 * Manual optimization: training_step does it all through lt_manual_backward and
 * lt_optimizer_step. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "trainer.h"

typedef struct train_closure {
    lt_closure_t base; /* first: lt_closure_run gets &base */
    session *s;
    const lt_batch_t *batch;
    int64_t batch_idx;
    lt_optimizer_t *opt;
    bool zero_grad, stepping, ran;
    bool check_loss;   /* read the loss back for the NaN check on this batch */
    lt_tensor_t *loss; /* what training_step returned, NULL if it skipped */
} train_closure;

/* "(64, 10)" (torch's shape) into buf. */
static const char *shape_text(const lt_tensor_t *t, char *buf, size_t n) {
    size_t len = (size_t)snprintf(buf, n, "(");
    for (int i = 0; i < lt_ndim(t) && len < n; i++)
        len +=
            (size_t)snprintf(buf + len, n - len, "%s%lld", i ? ", " : "", (long long)lt_dim(t, i));
    if (len < n) snprintf(buf + len, n - len, lt_ndim(t) == 1 ? ",)" : ")");
    return buf;
}

/* Lightning's closure refuses a loss that is not a scalar; lt_item of a (64, 10) tensor
 * would read NaN and blame the learning rate. */
static bool check_scalar_loss(session *s, lt_tensor_t *loss, int64_t idx) {
    if (lt_numel(loss) == 1 && lt_dtype_of(loss) == LT_F32) return true;
    char shape[160];
    host_error("%s.training_step must return a scalar loss; got a %s tensor of shape %s at epoch "
               "%lld, batch %lld: reduce it (lt_mean, lt_cross_entropy) and log other outputs "
               "with lt_log",
               s->module.desc->name, lt_dtype_name(lt_dtype_of(loss)),
               shape_text(loss, shape, sizeof shape), (long long)s->tr.current_epoch,
               (long long)idx);
    return false;
}

/* Reading the loss waits for the device. Where its memory is host memory that costs
 * nothing and every step is checked; elsewhere (a GPU) only the steps that log anyway,
 * the last batch of an epoch and the run's last step are, so the step stays asynchronous. */
static bool check_finite_loss(session *s, lt_tensor_t *loss, int64_t idx) {
    double value = lt_item(loss);
    if (isfinite(value)) return true;
    char every[160] = "";
    if (!lt_device_host_memory(s->dev))
        snprintf(every, sizeof every,
                 "; on %s the check runs every %lld steps (--log_every_n_steps) and at epoch "
                 "end, so it may have diverged up to that many steps earlier",
                 lt_device_name(s->dev), (long long)s->cfg->log_every_n_steps);
    host_error("the training loss is %s at epoch %lld, batch %lld (global step %lld%s): training "
               "diverged; lower --model.lr, set --gradient_clip_val, or check the data for NaN/inf",
               isnan(value) ? "nan"
               : value > 0  ? "inf"
                            : "-inf",
               (long long)s->tr.current_epoch, (long long)idx, (long long)s->tr.global_step, every);
    return false;
}

/* Whether batch idx reads its loss back (see check_finite_loss). */
static bool loss_check_due(const session *s, bool last_in_epoch) {
    const host_config *c = s->cfg;
    return lt_device_host_memory(s->dev) || last_in_epoch ||
           (s->pos.batches_that_stepped + 1) % c->log_every_n_steps == 0 ||
           (c->max_steps >= 0 && s->tr.global_step + 1 >= c->max_steps);
}

/* training_step, then training_step_end when the module has one. */
static lt_tensor_t *run_training_step(session *s, const lt_batch_t *b, int64_t idx, bool *failed) {
    lt_clear_error();
    prof_start(s, s->prof.training_step);
    lt_ctx_t *ctx = s->module.ctx;
    lt_tensor_t *out = s->module.desc->training_step(ctx, lt_ctx_self(ctx), b, idx);
    prof_stop(s, s->prof.training_step);
    /* an error recorded in the step fails it even when the step returned a loss */
    if (lt_last_status() != LT_OK) {
        *failed = !step_failed(s, "training_step", idx);
        return NULL;
    }
    if (out && s->module.desc->training_step_end) {
        out = s->module.desc->training_step_end(s->module.ctx, lt_ctx_self(s->module.ctx), out);
        if (lt_last_status() != LT_OK) {
            *failed = !step_failed(s, "training_step_end", idx);
            return NULL;
        }
    }
    return out;
}

lt_status manual_backward(lt_trainer_t *tr, lt_tensor_t *loss) {
    session *s = tr->host;
    /* An error the step recorded before calling lt_manual_backward is the one to report
     * (as ops pass a failure through); backward would clear it. */
    if (lt_last_status() != LT_OK) return lt_last_status();
    hook_args a = {.tensor = loss};
    if (!hooks_run(s, HOOK_on_before_backward, &a)) return LT_ERR_STATE;
    bool sync = s->group.ddp.sync_grads;
    if (sync && !ddp_before_backward(s)) return LT_ERR_STATE;
    prof_start(s, s->prof.backward);
    const lt_module_desc *m = s->module.desc;
    lt_status st = m->backward ? m->backward(s->module.ctx, lt_ctx_self(s->module.ctx), loss)
                               : lt_backward(loss);
    prof_stop(s, s->prof.backward);
    if (sync && !ddp_after_backward(s)) return LT_ERR_STATE;
    if (st != LT_OK) {
        if (!*lt_last_error()) lt_set_error(st, "%s.backward failed", s->module.desc->name);
        return st;
    }
    return hooks_run(s, HOOK_on_after_backward, NULL) ? LT_OK : LT_ERR_STATE;
}

static bool zero_grad(session *s, lt_optimizer_t *opt) {
    hook_args a = {.opt = opt};
    if (!hooks_run(s, HOOK_on_before_zero_grad, &a)) return false;
    lt_clear_error();
    prof_start(s, s->prof.optimizer_zero_grad);
    const lt_module_desc *m = s->module.desc;
    lt_status st = m->optimizer_zero_grad
                       ? m->optimizer_zero_grad(s->module.ctx, lt_ctx_self(s->module.ctx), opt)
                       : lt_optimizer_zero_grad(opt);
    prof_stop(s, s->prof.optimizer_zero_grad);
    return st == LT_OK || step_failed(s, "optimizer_zero_grad", -1);
}

static bool clip(session *s, lt_optimizer_t *opt) {
    const host_config *c = s->cfg;
    if (c->gradient_clip_val <= 0) return true;
    lt_status st = !strcmp(c->gradient_clip_algorithm, "value")
                       ? lt_clip_grad_value(opt, c->gradient_clip_val)
                       : lt_clip_grad_norm(opt, c->gradient_clip_val, NULL);
    if (st == LT_OK) return true;
    host_error("clipping gradients at epoch %lld, global step %lld: %s%s",
               (long long)s->tr.current_epoch, (long long)s->tr.global_step, lt_last_error(),
               st == LT_ERR_UNSUPPORTED ? " (--gradient_clip_algorithm norm)" : "");
    return false;
}

/* The module's configure_gradient_clipping override (#23), with the trainer's values. */
static bool module_clip(session *s, lt_optimizer_t *opt) {
    const lt_module_desc *m = s->module.desc;
    const host_config *c = s->cfg;
    lt_clear_error();
    lt_status st = m->configure_gradient_clipping(
        s->module.ctx, lt_ctx_self(s->module.ctx), opt,
        c->gradient_clip_val > 0 ? c->gradient_clip_val : 0.0, c->gradient_clip_algorithm);
    if (st == LT_OK) st = lt_last_status(); /* recorded, then dropped */
    return st == LT_OK || step_failed(s, "configure_gradient_clipping", -1);
}

/* Lightning's configure_gradient_clipping (timed on every step, clipping or not). */
static bool clip_gradients(session *s, lt_optimizer_t *opt) {
    const lt_module_desc *m = s->module.desc;
    prof_start(s, s->prof.configure_gradient_clipping);
    bool ok = LT_MODULE_HAS(m, configure_gradient_clipping) && m->configure_gradient_clipping
                  ? module_clip(s, opt)
                  : clip(s, opt);
    prof_stop(s, s->prof.configure_gradient_clipping);
    return ok;
}

/* Lightning warns (once) when training_step returns None: a module that returns NULL on
 * every batch would otherwise end "successfully" at global step 0. */
static void warn_null_step(session *s, int64_t idx) {
    if (s->warned_null_step || s->group.rank != 0) return;
    s->warned_null_step = true;
    fprintf(stderr,
            "lthost: warning: %s.training_step returned NULL at epoch %lld, batch %lld, "
            "so the optimizer step was skipped for that batch (and is for every batch where it "
            "does); if this was on purpose, ignore this warning, else return the loss\n",
            s->module.desc->name, (long long)s->tr.current_epoch, (long long)idx);
}

static lt_status closure_run(lt_closure_t *base) {
    train_closure *c = (train_closure *)base;
    session *s = c->s;
    bool failed = false;
    c->ran = true;
    c->loss = run_training_step(s, c->batch, c->batch_idx, &failed);
    if (failed) return LT_ERR_STATE;
    if (!c->loss) { /* training_step returned nothing: no backward, no update */
        warn_null_step(s, c->batch_idx);
        return LT_OK;
    }
    if (!check_scalar_loss(s, c->loss, c->batch_idx)) return LT_ERR_STATE; /* reported */
    if (c->check_loss && !check_finite_loss(s, c->loss, c->batch_idx)) return LT_ERR_NUMERIC;
    lt_tensor_t *loss = c->loss;
    int64_t n = s->accumulate_grad_batches;
    if (n > 1) loss = lt_scale(loss, (float)(1.0 / (double)n)); /* summed over n batches */
    if (c->zero_grad && !zero_grad(s, c->opt)) return LT_ERR_STATE;
    if (!s->forward_only && manual_backward(&s->tr, loss) != LT_OK) {
        if (*lt_last_error()) step_failed(s, "backward", c->batch_idx);
        return LT_ERR_STATE;
    }
    if (!c->stepping) return LT_OK;
    /* 16-mixed: Lightning unscales before on_before_optimizer_step and clipping */
    if (s->scaler && lt_grad_scaler_unscale(s->scaler, c->opt) != LT_OK) {
        step_failed(s, "optimizer_step", c->batch_idx);
        return LT_ERR_STATE;
    }
    hook_args a = {.opt = c->opt};
    return hooks_run(s, HOOK_on_before_optimizer_step, &a) && clip_gradients(s, c->opt)
               ? LT_OK
               : LT_ERR_STATE;
}

static bool run_optimizer_step(session *s, train_closure *c);

/* Lightning's [LightningModule]X.optimizer_step: the closure and the update. */
static bool optimizer_step(session *s, train_closure *c) {
    prof_start(s, s->prof.optimizer_step);
    bool ok = run_optimizer_step(s, c);
    prof_stop(s, s->prof.optimizer_step);
    return ok;
}

static bool run_optimizer_step(session *s, train_closure *c) {
    const lt_module_desc *m = s->module.desc;
    lt_clear_error();
    lt_status st;
    if (m->optimizer_step) {
        st = m->optimizer_step(s->module.ctx, lt_ctx_self(s->module.ctx), c->opt, 0, &c->base);
        if (st == LT_OK) st = lt_last_status(); /* recorded, then dropped */
        if (st == LT_OK && !c->ran) {
            host_error("%s.optimizer_step returned without running the closure; call "
                       "lt_closure_run(closure) before lt_optimizer_step(opt)",
                       m->name);
            return false;
        }
    } else {
        st = closure_run(&c->base);
        if (st == LT_OK && c->loss) st = lt_optimizer_step(c->opt);
    }
    if (st == LT_OK) return true;
    if (*lt_last_error() && st != LT_ERR_STATE && st != LT_ERR_NUMERIC)
        step_failed(s, "optimizer_step", c->batch_idx);
    return false;
}

static bool automatic_batch(session *s, const lt_batch_t *b, int64_t idx, bool last_in_epoch,
                            lt_tensor_t **loss) {
    /* StochasticWeightAveraging's batch-norm epoch accumulates past its end, yet, as in
     * Lightning, the last batch still steps, on the gradients the parameters hold. */
    int64_t n = s->forward_only ? INT64_MAX : s->accumulate_grad_batches;
    bool stepping = (idx + 1) % n == 0 || last_in_epoch;
    train_closure c = {.base = {closure_run},
                       .s = s,
                       .batch = b,
                       .batch_idx = idx,
                       .opt = lt_ctx_optimizer(s->module.ctx, 0),
                       .zero_grad = !s->forward_only && idx % n == 0,
                       .stepping = stepping,
                       .check_loss = loss_check_due(s, last_in_epoch)};
    s->group.ddp.sync_grads = stepping; /* DDP's no_sync while accumulating */
    bool ok = stepping ? optimizer_step(s, &c) : closure_run(&c.base) == LT_OK;
    *loss = c.loss;
    if (ok && stepping && c.loss) s->tr.global_step++;
    return ok;
}

static int64_t total_optimizer_steps(const session *s) {
    int64_t n = 0;
    for (int i = 0; i < lt_ctx_num_optimizers(s->module.ctx); i++)
        n += lt_optimizer_num_steps(lt_ctx_optimizer(s->module.ctx, i));
    return n;
}

bool training_batch(session *s, const lt_batch_t *b, int64_t idx, bool last_in_epoch,
                    lt_tensor_t **loss) {
    if (!s->module.desc->manual_optimization)
        return automatic_batch(s, b, idx, last_in_epoch, loss);
    bool failed = false;
    s->group.ddp.sync_grads = true; /* every lt_manual_backward feeds an optimizer step */
    int64_t before = total_optimizer_steps(s), skipped = lt_grad_scaler_skipped_steps(s->scaler);
    *loss = run_training_step(s, b, idx, &failed);
    /* Lightning counts every optimizer.step() of a manual step in global_step, also one
     * its GradScaler skipped for inf gradients. */
    s->tr.global_step += total_optimizer_steps(s) - before;
    s->tr.global_step += lt_grad_scaler_skipped_steps(s->scaler) - skipped;
    return !failed;
}

bool precision_setup_fit(session *s) {
    if (lt_device_precision(s->dev) != LT_PRECISION_16_MIXED) return true;
    s->scaler = lt_grad_scaler_new(s->dev, LT_GRAD_SCALER_INIT_SCALE, LT_GRAD_SCALER_GROWTH_FACTOR,
                                   LT_GRAD_SCALER_BACKOFF_FACTOR, LT_GRAD_SCALER_GROWTH_INTERVAL);
    if (s->scaler && lt_ctx_set_grad_scaler(s->module.ctx, s->scaler) == LT_OK) return true;
    host_error("--precision %s: creating the GradScaler: %s", s->cfg->precision, lt_last_error());
    return false;
}
