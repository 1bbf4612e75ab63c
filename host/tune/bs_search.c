/* The batch size search of Lightning's BatchSizeFinder (tuner/batch_size_scaling.py), trial
 * by trial: _run_power_scaling (double until a trial fails, then halve once) and
 * _run_binsearch_scaling (double until a failure, then bisect between the last success and
 * the failure, then the margin), with _adjust_batch_size's rules: a size at or over the
 * dataset's length stops changing, a new size is capped at 8192 (at max_val where Lightning
 * passes it: binsearch's growth). The trials are the caller's (bs_trial_fn), so the sequence
 * is checked against Lightning's own (tests/fixtures/bs_scaling_lightning.csv) without
 * running a model. Lightning's rank_zero_info lines go to opts->log. */
#include "bs_search.h"

enum { BS_DEFAULT_MAX_VAL = 8192, BS_TRIALS_HARD_MAX = 4096 };

typedef struct search {
    const bs_search_opts *o;
    bs_trial_fn trial;
    void *user;
    int64_t cur;     /* the data's batch size now (lightning_getattr) */
    int64_t max_val; /* the search's max_val */
    bs_search_result *r;
} search;

static void note_size(const search *s, const char *desc, int64_t from, int64_t to) {
    if (s->o->log)
        fprintf(s->o->log, "Batch size %lld %s, trying batch size %lld\n", (long long)from, desc,
                (long long)to);
}

/* _adjust_batch_size: value > 0 sets it, else cur * factor (int()); false in *changed when
 * the size stays (already at or over the dataset's length, or the same). desc (succeeded,
 * failed or NULL) is only for the log, as Lightning's. */
static int64_t adjust(search *s, int64_t value, double factor, int64_t max_val, const char *desc,
                      bool *changed) {
    FILE *log = s->o->log;
    *changed = false;
    if (s->o->dataset_len > 0 && s->cur >= s->o->dataset_len) {
        if (log)
            fprintf(log,
                    "The batch size %lld is greater or equal than the length of your dataset: "
                    "%lld.\n",
                    (long long)s->cur, (long long)s->o->dataset_len);
        return s->cur;
    }
    int64_t n = value > 0 ? value : (int64_t)((double)s->cur * factor);
    if (n > max_val) {
        if (desc && log)
            fprintf(log, "Batch size %lld exceeds max_val limit %lld, capping at %lld\n",
                    (long long)n, (long long)max_val, (long long)max_val);
        n = max_val;
    }
    if (desc) note_size(s, desc, s->cur, n);
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

/* Both loops stop before a size at or over max_val, saying so. */
static bool at_max_val(const search *s, int64_t size) {
    if (size < s->max_val) return false;
    if (s->o->log)
        fprintf(s->o->log, "Reached the maximum batch size limit of %lld. Stopping search.\n",
                (long long)s->max_val);
    return true;
}

/* _run_power_scaling: its _adjust_batch_size calls keep the default max_val (8192). */
static int power(search *s, int64_t size, int64_t *found) {
    bool any_success = false, changed;
    for (int i = 0; i < s->o->max_trials; i++) {
        if (at_max_val(s, size)) break;
        int ok = run_trial(s, size);
        if (ok < 0) return -1;
        if (ok) {
            if (i + 1 >= s->o->max_trials) break;
            size = adjust(s, 0, 2.0, BS_DEFAULT_MAX_VAL, "succeeded", &changed);
            if (!changed) break;
            any_success = true;
        } else {
            size = adjust(s, 0, 0.5, BS_DEFAULT_MAX_VAL, "failed", &changed);
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
    *size = high ? adjust(s, (high + *low) / 2, 1.0, s->max_val, "succeeded", &changed)
                 : adjust(s, 0, 2.0, s->max_val, "succeeded", &changed);
    return changed;
}

/* binsearch's safety margin: int(size * (1 - margin)), at least 1. */
static int64_t with_margin(const search *s, int64_t size) {
    double margin = s->o->margin;
    if (!(margin > 0)) return size;
    int64_t m = (int64_t)((double)size * (1 - margin));
    if (m < 1) m = 1;
    if (m != size && s->o->log)
        fprintf(s->o->log, "Applying margin of %.1f%%, reducing batch size from %lld to %lld\n",
                margin * 100, (long long)size, (long long)m);
    return m;
}

static int binsearch(search *s, int64_t size, int64_t *found) {
    int64_t low = 1, high = 0;
    int count = 0;
    bool changed, go_on = true;
    while (go_on && !at_max_val(s, size)) {
        int ok = run_trial(s, size);
        if (ok < 0) return -1;
        if (ok) {
            go_on = ++count < s->o->max_trials && bisect_up(s, &size, &low, high);
        } else {
            high = size;
            size = adjust(s, (high + low) / 2, 1.0, BS_DEFAULT_MAX_VAL, "failed", &changed);
            go_on = high - low > 1;
        }
    }
    *found = with_margin(s, size);
    return 0;
}

int bs_search_run(const bs_search_opts *o, bs_trial_fn trial, void *user, bs_search_result *r) {
    if (!o || !trial || !r || o->init_val < 1 || o->max_trials < 1 || o->start < 1 ||
        o->max_val < 0 || !(o->margin >= 0 && o->margin < 1))
        return -1;
    search s = {.o = o,
                .trial = trial,
                .user = user,
                .cur = o->start,
                .max_val = o->max_val ? o->max_val : BS_DEFAULT_MAX_VAL,
                .r = r};
    bool changed;
    r->n_tried = 0;
    int64_t size = adjust(&s, o->init_val, 1.0, BS_DEFAULT_MAX_VAL, NULL, &changed);
    return o->binsearch ? binsearch(&s, size, &r->found) : power(&s, size, &r->found);
}
