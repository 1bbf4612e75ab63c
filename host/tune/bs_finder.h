/* bs_finder.h — `lthost tune --scale_batch_size`: Lightning's BatchSizeFinder as runs. */
#ifndef LTHOST_BS_FINDER_H
#define LTHOST_BS_FINDER_H

#include "../host.h"

/* --scale_batch_size MODE and its --scale_batch_size.KEY options (Lightning's defaults). */
typedef struct bs_finder_opts {
    bool binsearch;             /* mode: binsearch, else power */
    int64_t steps_per_trial;    /* 3 */
    int64_t init_val;           /* 2 */
    int max_trials;             /* 25 */
    const char *batch_arg_name; /* "batch_size" */
    double margin;              /* binsearch's safety margin, 0.05 */
    int64_t max_val;            /* no size at or over it is tried, 8192 */
    uint64_t max_memory;        /* bytes tensors may hold in a trial; 0: the device's own */
} bs_finder_opts;

void bs_finder_defaults(bs_finder_opts *o);
/* Sets --scale_batch_size.KEY VALUE; false after one error line. */
bool bs_finder_option(bs_finder_opts *o, const char *key, const char *value);
/* The size found (0: fast_dev_run skipped the search, as in Lightning) and its text, which
 * cfg's --model./--data. override then points to. */
typedef struct bs_finder_result {
    int64_t found;
    char text[24];
    bool module; /* the override is --model.NAME, else --data.NAME */
} bs_finder_result;

/* Searches the largest batch size that fits, printing each trial and the result; then
 * sets it in cfg's overrides, so a run of cfg after it trains at that size. False after
 * an error line. */
bool bs_finder_run(host_config *cfg, const bs_finder_opts *o, bs_finder_result *r);
/* name = value as a --model. (module) or --data. override of cfg, replacing one given;
 * false after an error line when the table is full. */
bool bs_finder_set_size(host_config *cfg, bool module, const char *name, const char *value);

#endif
