/* bs_search.h — Lightning's BatchSizeFinder search (power / binsearch) over caller trials. */
#ifndef LTHOST_BS_SEARCH_H
#define LTHOST_BS_SEARCH_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

typedef struct bs_search_opts {
    int64_t init_val;    /* the first size tried (Lightning's init_val, 2) */
    int max_trials;      /* max_trials (25) */
    bool binsearch;      /* mode binsearch, else power */
    double margin;       /* binsearch's margin, 0 <= margin < 1 (Lightning's 0.05) */
    int64_t dataset_len; /* the training set's length; 0: unknown (no cap) */
    int64_t start;       /* the data's batch size before the search */
    int64_t max_val;     /* max_val: no size at or over it is tried (0: Lightning's 8192) */
    FILE *log; /* Lightning's rank_zero_info lines ("Batch size 8 succeeded, ..."), or NULL */
} bs_search_opts;

typedef struct bs_search_result {
    int64_t found;  /* the size Lightning leaves in batch_arg_name */
    int64_t *tried; /* the sizes tried, in order (caller's array of cap) */
    int n_tried, cap;
} bs_search_result;

/* trial: 1 the size fit, 0 it ran out of memory, -1 an error that ends the search. */
typedef int (*bs_trial_fn)(void *user, int64_t size);

/* 0, or -1 on bad options, a trial's error or more trials than r->cap. */
int bs_search_run(const bs_search_opts *o, bs_trial_fn trial, void *user, bs_search_result *r);

#endif
