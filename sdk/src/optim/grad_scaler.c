/* GradScaler: torch.amp.GradScaler's dynamic loss scaling for 16-mixed.
 *
 * fp16 gradients underflow; seeding backward with a large scale keeps them representable
 * and unscaling (g *= 1 / scale) before clipping and the update restores their value.
 * When a gradient comes out inf or NaN the update is skipped and the scale halved; after
 * growth_interval clean steps in a row it doubles. The scale lives on the host (one
 * float32, as torch's _scale tensor): deciding whether to skip reads one float back per
 * step, as torch's scaler.step does with found_inf.item(). */
#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <lt/checkpoint.h>

#include "lt_impl.h"

#define SCALER_MAX_OPTS 32

/* What the scaler knows of one optimizer since the last update (torch's
 * _per_optimizer_states). */
typedef struct scaler_entry {
    const lt_optimizer_t *opt;
    bool unscaled;  /* its gradients are unscaled and its found_inf flag is on the device */
    bool checked;   /* found_inf has been read back */
    bool found_inf; /* valid when checked */
} scaler_entry;

struct lt_grad_scaler {
    lt_device_t *dev;
    float scale; /* float32 arithmetic, as torch's _amp_update_scale_ */
    double growth_factor, backoff_factor;
    int64_t growth_interval, growth_tracker, skipped;
    lt_storage *found; /* device floats: entry i's found_inf at [i] */
    scaler_entry entries[SCALER_MAX_OPTS];
    int nentries;
};

/* ---- the rules (shared by the constructor and checkpoint loading) ----------------- */

typedef struct scaler_values {
    double scale, growth_factor, backoff_factor;
    int64_t growth_interval, growth_tracker;
} scaler_values;

/* The first value outside torch's rules, what it must be, and its value; NULL if none. */
static const char *values_problem(const scaler_values *v, const char **rule, double *got) {
    float scale = (float)v->scale;
    const struct {
        const char *key;
        double v;
        bool ok;
        const char *rule;
    } checks[] = {
        {"scale", v->scale, isfinite(v->scale) && v->scale > 0 && isfinite(scale) && scale > 0,
         "finite and > 0 as a float32"},
        {"growth_factor", v->growth_factor, isfinite(v->growth_factor) && v->growth_factor > 1.0,
         "finite and > 1"},
        {"backoff_factor", v->backoff_factor, v->backoff_factor > 0.0 && v->backoff_factor < 1.0,
         "in (0, 1)"},
        {"growth_interval", (double)v->growth_interval,
         v->growth_interval >= 1 && v->growth_interval < LT_CKPT_MAX_COUNT, "in [1, 2^53)"},
        {"_growth_tracker", (double)v->growth_tracker,
         v->growth_tracker >= 0 && v->growth_tracker < v->growth_interval,
         "in [0, growth_interval)"},
    };
    for (size_t i = 0; i < sizeof checks / sizeof *checks; i++)
        if (!checks[i].ok) {
            *rule = checks[i].rule;
            *got = checks[i].v;
            return checks[i].key;
        }
    return NULL;
}

static void set_values(lt_grad_scaler_t *sc, const scaler_values *v) {
    sc->scale = (float)v->scale;
    sc->growth_factor = v->growth_factor;
    sc->backoff_factor = v->backoff_factor;
    sc->growth_interval = v->growth_interval;
    sc->growth_tracker = v->growth_tracker;
}

lt_grad_scaler_t *lt_grad_scaler_new(lt_device_t *dev, double init_scale, double growth_factor,
                                     double backoff_factor, int64_t growth_interval) {
    scaler_values v = {init_scale, growth_factor, backoff_factor, growth_interval, 0};
    const char *rule = "";
    double got = 0.0;
    const char *key = values_problem(&v, &rule, &got);
    if (!dev || key) {
        lt_set_error(LT_ERR_INVALID_ARG, "lt_grad_scaler_new: %s must be %s (got %g)",
                     dev ? key : "the device", dev ? rule : "non-NULL", dev ? got : 0.0);
        return NULL;
    }
    lt_grad_scaler_t *sc = calloc(1, sizeof *sc);
    if (!sc) {
        lt_set_error(LT_ERR_OOM, "out of host memory for a GradScaler");
        return NULL;
    }
    sc->dev = dev;
    set_values(sc, &v);
    if (!(sc->found = lt__storage_new(dev, SCALER_MAX_OPTS * sizeof(float)))) {
        free(sc);
        return NULL;
    }
    return sc;
}

void lt_grad_scaler_free(lt_grad_scaler_t *sc) {
    if (!sc) return;
    lt__storage_release(sc->found);
    free(sc);
}

float lt__grad_scaler_seed(const lt_grad_scaler_t *sc) { return sc ? sc->scale : 1.0f; }
lt_device_t *lt__grad_scaler_device(const lt_grad_scaler_t *sc) { return sc->dev; }
double lt_grad_scaler_get_scale(const lt_grad_scaler_t *sc) { return sc ? sc->scale : NAN; }
int64_t lt_grad_scaler_growth_tracker(const lt_grad_scaler_t *sc) {
    return sc ? sc->growth_tracker : 0;
}
int64_t lt_grad_scaler_skipped_steps(const lt_grad_scaler_t *sc) { return sc ? sc->skipped : 0; }

/* ---- unscale, step, update ---------------------------------------------------------- */

static scaler_entry *entry_of(lt_grad_scaler_t *sc, const lt_optimizer_t *opt) {
    for (int i = 0; i < sc->nentries; i++)
        if (sc->entries[i].opt == opt) return &sc->entries[i];
    if (sc->nentries == SCALER_MAX_OPTS) {
        lt_set_error(LT_ERR_INVALID_ARG, "GradScaler: more than %d optimizers use one scaler",
                     SCALER_MAX_OPTS);
        return NULL;
    }
    scaler_entry *e = &sc->entries[sc->nentries++];
    *e = (scaler_entry){.opt = opt};
    return e;
}

static float *found_flag(lt_grad_scaler_t *sc, const scaler_entry *e) {
    return (float *)sc->found->data + (e - sc->entries);
}

/* Without the unscale_grads slot: x = 0 * g is 0, or NaN where g is inf or NaN; its sum
 * into x[n] is added to the flag; then g *= inv. */
static void unscale_fallback(lt_device_t *dev, lt_tensor_t *g, float inv, float *x,
                             float *d_found) {
    int64_t n = g->numel;
    dev->k.affine(dev->state, n, lt__f32(g), 0.0f, 0.0f, x);
    dev->k.reduce_sum(dev->state, 1, n, 1, x, 1.0f, x + n);
    dev->k.binary(dev->state, LT_BIN_ADD, 1, d_found, x + n, d_found, NULL);
    dev->k.affine(dev->state, n, lt__f32(g), inv, 0.0f, lt__f32(g));
}

static lt_status unscale_grad(lt_device_t *dev, lt_tensor_t *g, float inv, float *d_found) {
    int64_t n = g->numel;
    if (dev->k.unscale_grads) {
        LT_KCALL(dev, "unscale_grads", n, LT_F32B(2 * n), unscale_grads, n, lt__f32(g), inv,
                 d_found);
        return LT_OK;
    }
    lt_storage *scratch = lt__storage_new(dev, (size_t)(n + 1) * sizeof(float));
    if (!scratch) return lt_last_status();
    LT_PROF_SPAN(dev, "unscale_grads", 3.0 * n, LT_F32B(4 * n),
                 unscale_fallback(dev, g, inv, scratch->data, d_found));
    lt__storage_release(scratch);
    return LT_OK;
}

lt_status lt_grad_scaler_unscale(lt_grad_scaler_t *sc, lt_optimizer_t *opt) {
    if (!sc || !opt)
        return lt_set_error(LT_ERR_INVALID_ARG, "lt_grad_scaler_unscale: NULL argument");
    scaler_entry *e = entry_of(sc, opt);
    if (!e) return lt_last_status();
    if (e->unscaled) return LT_OK;
    lt_device_t *dev = sc->dev;
    float *d_found = found_flag(sc, e);
    /* torch: inv_scale = scale.double().reciprocal().float() */
    float inv = (float)(1.0 / (double)sc->scale);
    dev->k.fill(dev->state, 1, 0.0f, d_found);
    const lt_param_list_t *l = lt__optimizer_params(opt);
    for (int64_t i = 0; i < l->len; i++) {
        lt__grad_settle(l->items[i]);
        lt_tensor_t *g = l->items[i]->grad;
        if (!g) continue;
        if (lt__dev(g) != dev)
            return lt_set_error(LT_ERR_INVALID_ARG,
                                "GradScaler: a gradient of %s is on device "
                                "'%s', the scaler on '%s'",
                                lt_optimizer_name(opt), lt_device_name(lt__dev(g)), dev->k.name);
        lt_status s = unscale_grad(dev, g, inv, d_found);
        if (s != LT_OK) return s;
    }
    e->unscaled = true;
    e->checked = false;
    return LT_OK;
}

/* Read entry e's flag back (a device sync): anything but 0 (1, NaN) is a found inf. */
static void check_found(lt_grad_scaler_t *sc, scaler_entry *e) {
    float v = 0.0f;
    sc->dev->k.memcpy_d2h(sc->dev->state, &v, found_flag(sc, e), sizeof v);
    e->found_inf = !(v == 0.0f);
    e->checked = true;
}

lt_status lt_grad_scaler_step(lt_grad_scaler_t *sc, lt_optimizer_t *opt, bool *stepped) {
    if (stepped) *stepped = false;
    lt_status s = lt_grad_scaler_unscale(sc, opt);
    if (s != LT_OK) return s;
    scaler_entry *e = entry_of(sc, opt);
    if (!e->checked) check_found(sc, e);
    if (e->found_inf) { /* torch: the optimizer's step is not called at all */
        sc->skipped++;
        return LT_OK;
    }
    s = lt__optimizer_update(opt);
    if (stepped) *stepped = s == LT_OK;
    return s;
}

lt_status lt_grad_scaler_update(lt_grad_scaler_t *sc) {
    if (!sc) return lt_set_error(LT_ERR_INVALID_ARG, "lt_grad_scaler_update: scaler is NULL");
    bool recorded = false, inf = false;
    for (int i = 0; i < sc->nentries; i++) {
        scaler_entry *e = &sc->entries[i];
        if (!e->unscaled) continue;
        if (!e->checked) check_found(sc, e);
        recorded = true;
        inf |= e->found_inf;
        e->unscaled = e->checked = e->found_inf = false;
    }
    if (!recorded) return LT_OK;
    if (inf) { /* torch's _amp_update_scale_, in float32 */
        sc->scale = sc->scale * (float)sc->backoff_factor;
        sc->growth_tracker = 0;
    } else if (++sc->growth_tracker == sc->growth_interval) {
        float grown = sc->scale * (float)sc->growth_factor;
        if (isfinite(grown)) sc->scale = grown;
        sc->growth_tracker = 0;
    }
    return LT_OK;
}

/* ---- checkpoint state ------------------------------------------------------------- */

lt_status lt_grad_scaler_save(const lt_grad_scaler_t *sc, lt_state_t *st) {
    if (!sc || !st) return lt_set_error(LT_ERR_INVALID_ARG, "lt_grad_scaler_save: NULL argument");
    lt_status s = lt_state_set_float(st, "scale", (double)sc->scale);
    if (s == LT_OK) s = lt_state_set_float(st, "growth_factor", sc->growth_factor);
    if (s == LT_OK) s = lt_state_set_float(st, "backoff_factor", sc->backoff_factor);
    if (s == LT_OK) s = lt_state_set_int(st, "growth_interval", sc->growth_interval);
    if (s == LT_OK) s = lt_state_set_int(st, "_growth_tracker", sc->growth_tracker);
    return s;
}

lt_status lt_grad_scaler_load(lt_grad_scaler_t *sc, const lt_state_t *st, const char *where) {
    if (!sc || !st) return lt_set_error(LT_ERR_INVALID_ARG, "lt_grad_scaler_load: NULL argument");
    where = where ? where : "GradScaler";
    scaler_values v;
    const char *missing =
        !lt_state_get_float(st, "scale", &v.scale)                     ? "scale"
        : !lt_state_get_float(st, "growth_factor", &v.growth_factor)   ? "growth_factor"
        : !lt_state_get_float(st, "backoff_factor", &v.backoff_factor) ? "backoff_factor"
        : !lt_state_get_int(st, "growth_interval", &v.growth_interval) ? "growth_interval"
        : !lt_state_get_int(st, "_growth_tracker", &v.growth_tracker)  ? "_growth_tracker"
                                                                       : NULL;
    if (missing)
        return lt_set_error(LT_ERR_FORMAT,
                            "%s.%s is missing or not a number; the checkpoint is damaged "
                            "or was edited",
                            where, missing);
    const char *rule = "";
    double got = 0.0;
    const char *key = values_problem(&v, &rule, &got);
    if (key)
        return lt_set_error(LT_ERR_FORMAT,
                            "%s.%s must be %s (got %g); the checkpoint is damaged or was "
                            "edited",
                            where, key, rule, got);
    set_values(sc, &v);
    return LT_OK;
}
