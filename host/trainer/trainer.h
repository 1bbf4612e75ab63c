/* trainer.h — a run's loaded plugins and contexts, shared by trainer.c and loops.c. */
#ifndef LTHOST_TRAINER_H
#define LTHOST_TRAINER_H

#include <lt/strategy.h>

#include "../host.h"

typedef struct session {
    const host_config *cfg;
    lt_plugin_t *module_plugin, *data_plugin, *strategy_plugin;
    const lt_module_desc *mod;
    const lt_datamodule_desc *dm;
    const lt_strategy_desc *strat;
    void *strat_state;
    int rank, world;
    lt_device_t *dev;
    lt_ctx_t *ctx;  /* the module's */
    lt_ctx_t *dctx; /* the data plugin's */
    uint64_t seed;
    const char *module_file; /* for messages */
} session;

/* Call a plugin hook; on failure print which hook failed and why, return false. */
bool call_hook(session *s, const char *hook, lt_hook_fn fn);
/* Run the data plugin's setup for a stage ("fit", ...). */
bool data_setup(session *s, const char *stage);
/* Print only on rank 0. */
void rank0_printf(const session *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* The loops (loops.c). Each returns false after printing an error. */
bool run_fit(session *s);
bool run_eval(session *s, lt_split split, const char *stage);

#endif
