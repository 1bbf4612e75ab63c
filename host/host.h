/* host.h — lthost's configuration and the entry points of its subcommands. */
#ifndef LTHOST_HOST_H
#define LTHOST_HOST_H

#include <lt/lt.h>
#include <lt/runtime.h>
#include <stdbool.h>

#define LTHOST_MAX_OVERRIDES 64

/* "--model.lr 1e-3": a value for a plugin's declared hyper-parameter. */
typedef struct hparam_override {
    const char *name;  /* after the prefix */
    const char *value;
} hparam_override;

/* --limit_*_batches: an int count, or a fraction of the loader's batches. */
typedef struct batch_limit {
    bool is_fraction;
    double fraction;   /* in [0, 1] */
    int64_t count;     /* >= 0 */
} batch_limit;

typedef struct host_config {
    const char *command;          /* fit, validate, test */
    const char *module, *data, *accel, *strategy;
    int devices, num_nodes, threads;
    int64_t max_epochs;
    uint64_t seed;
    bool seed_given;
    batch_limit limit_train, limit_val, limit_test;
    bool test_after_fit;
    int64_t fast_dev_run;         /* > 0: run this many batches of each loop, one epoch */
    hparam_override model_hp[LTHOST_MAX_OVERRIDES], data_hp[LTHOST_MAX_OVERRIDES];
    int n_model_hp, n_data_hp;
    const char *plugin_roots[2]; /* extra roots (the build tree), NULL-terminated */
    char build_root[4096];
} host_config;

/* Parse argv after the subcommand and apply flags that imply others (fast_dev_run);
 * prints the error and returns false on a bad flag. */
bool cli_parse(int argc, char **argv, host_config *cfg);
void cli_print_help(const char *command);

/* `lthost plugins` */
int plugins_command(const host_config *cfg);

/* fit / validate / test; returns the process exit code. */
int trainer_run(const host_config *cfg);

/* Print "lthost: error: ..." on stderr. */
void host_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif
