/* The batch size search of Lightning's BatchSizeFinder (tuner/batch_size_scaling.py), trial
 * by trial: _run_power_scaling (double until a trial fails, then halve once) and
 * _run_binsearch_scaling (double until a failure, then bisect between the last success and
 * the failure, then the margin), with _adjust_batch_size's rules: a size at or over the
 * dataset's length stops changing, a new size is capped at max_val (8192). The trials are
 * the caller's (bs_trial_fn), so the sequence is checked against Lightning's own
 * (tests/fixtures/bs_scaling_lightning.csv) without running a model. */
#include "bs_search.h"

enum { BS_MAX_VAL = 8192, BS_TRIALS_HARD_MAX = 4096 };

typedef struct search {
    const bs_search_opts *o;
    bs_trial_fn trial;
    void *user;
    int64_t cur; /* the data's batch size now (lightning_getattr) */
    bs_search_result *r;
} search;

/* _adjust_batch_size: value > 0 sets it, else cur * factor (int()); false in *changed when
 * the size stays (already at or over the dataset's length, or the same). */
static int64_t adjust(search *s, int64_t value, double factor, int64_t max_val, bool *changed) {
    *changed = false;
    if (s->o->dataset_len > 0 && s->cur >= s->o->dataset_len) return s->cur;
    int64_t n = value > 0 ? value : (int64_t)((double)s->cur * factor);
    if (n > max_val) n = max_val;
    *changed = n != s->cur;
    s->cur = n;
    return n;
}

/* One trial: 1 it fit, 0 it ran out of memory, -1 an error (or too many trials). */
static int run_trial(search *s, int64_t size) {
    if (s->r->n_tried >= BS_TRIALS_HARD_MAX || s->r->n_tried >= s->r->cap) return -1;
    s->r->tried[s->r->n_tried++] = size;
    return s->trial(s->user, size);
}

static int power(search *s, int64_t size, int64_t *found) {
    bool any_success = false, changed;
    for (int i = 0; i < s->o->max_trials; i++) {
        if (size >= BS_MAX_VAL) break;
        int ok = run_trial(s, size);
        if (ok < 0) return -1;
        if (ok) {
            if (i + 1 >= s->o->max_trials) break;
            size = adjust(s, 0, 2.0, BS_MAX_VAL, &changed);
            if (!changed) break;
            any_success = true;
        } else {
            size = adjust(s, 0, 0.5, BS_MAX_VAL, &changed);
            if (any_success) break;
        }
    }
    *found = size;
    return 0;
}

/* binsearch after a trial that fit at *size: the next size in *size; false to stop. */
static bool bisect_up(search *s, int64_t *size, int64_t *low, int64_t high) {
    bool changed;
    *low = *size;
    if (high && high - *low <= 1) return false;
    *size = high ? adjust(s, (high + *low) / 2, 1.0, BS_MAX_VAL, &changed)
                 : adjust(s, 0, 2.0, BS_MAX_VAL, &changed);
    return changed;
}

/* binsearch's safety margin: int(size * (1 - margin)), at least 1. */
static int64_t with_margin(int64_t size, double margin) {
    if (!(margin > 0)) return size;
    int64_t m = (int64_t)((double)size * (1 - margin));
    return m < 1 ? 1 : m;
}

static int binsearch(search *s, int64_t size, int64_t *found) {
    int64_t low = 1, high = 0;
    int count = 0;
    bool changed, go_on = true;
    while (go_on && size < BS_MAX_VAL) {
        int ok = run_trial(s, size);
        if (ok < 0) return -1;
        if (ok) {
            go_on = ++count < s->o->max_trials && bisect_up(s, &size, &low, high);
        } else {
            high = size;
            size = adjust(s, (high + low) / 2, 1.0, BS_MAX_VAL, &changed);
            go_on = high - low > 1;
        }
    }
    *found = with_margin(size, s->o->margin);
    return 0;
}

int bs_search_run(const bs_search_opts *o, bs_trial_fn trial, void *user, bs_search_result *r) {
    if (!o || !trial || !r || o->init_val < 1 || o->max_trials < 1 || o->start < 1 ||
        !(o->margin >= 0 && o->margin < 1))
        return -1;
    search s = {.o = o, .trial = trial, .user = user, .cur = o->start, .r = r};
    bool changed;
    r->n_tried = 0;
    int64_t size = adjust(&s, o->init_val, 1.0, BS_MAX_VAL, &changed);
    return o->binsearch ? binsearch(&s, size, &r->found) : power(&s, size, &r->found);
}
