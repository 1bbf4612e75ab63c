/* Command-line flags: Lightning's Trainer names, plus --model.X / --data.X for the
 * hyper-parameters the plugins declare (checked once the plugins are loaded). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "host.h"

typedef enum { F_STR, F_INT, F_SEED, F_BOOL, F_LIMIT, F_BATCHES_OR_BOOL } flag_type;

typedef struct flag {
    const char *name;
    flag_type type;
    size_t offset; /* into host_config */
    int64_t min;   /* F_INT: smallest allowed value */
    const char *help;
} flag;

#define FLAG(n, t, field, min, h) {n, t, offsetof(host_config, field), min, h}

static const flag flags[] = {
    FLAG("module", F_STR, module, 0, "model plugin: a name (mlp) or a path to a .so"),
    FLAG("data", F_STR, data, 0, "data plugin (default fashion_mnist)"),
    FLAG("accel", F_STR, accel, 0, "accelerator plugin (default cpu)"),
    FLAG("accelerator", F_STR, accel, 0, "same as --accel"),
    FLAG("strategy", F_STR, strategy, 0, "strategy plugin (default single)"),
    FLAG("devices", F_INT, devices, 1, "devices per node (default 1)"),
    FLAG("num_nodes", F_INT, num_nodes, 1, "number of nodes (default 1)"),
    FLAG("threads", F_INT, threads, 1, "CPU threads for kernels (default: all cores)"),
    FLAG("max_epochs", F_INT, max_epochs, 0, "stop after this many epochs (default 1000)"),
    FLAG("seed_everything", F_SEED, seed, 0, "seed for initialisation and shuffling"),
    FLAG("limit_train_batches", F_LIMIT, limit_train, 0, "int: batches per epoch; float: fraction"),
    FLAG("limit_val_batches", F_LIMIT, limit_val, 0, "int or fraction of validation batches"),
    FLAG("limit_test_batches", F_LIMIT, limit_test, 0, "int or fraction of test batches"),
    FLAG("test_after_fit", F_BOOL, test_after_fit, 0, "run the test loop when fit ends (default true)"),
    FLAG("fast_dev_run", F_BATCHES_OR_BOOL, fast_dev_run, 0,
         "true or N: N batches (true: 1) of train, val and test, one epoch, to find bugs fast"),
};
#define NFLAGS (sizeof flags / sizeof flags[0])

static bool parse_int(const char *s, int64_t *out) {
    char *end;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (!*s || *end || errno) return false;
    *out = v;
    return true;
}

static bool parse_limit(const char *s, batch_limit *out) {
    int64_t n;
    if (parse_int(s, &n) && n >= 0) {
        *out = (batch_limit){.is_fraction = false, .count = n};
        return true;
    }
    char *end;
    double f = strtod(s, &end);
    if (!*s || *end || !(f >= 0.0 && f <= 1.0)) return false;
    *out = (batch_limit){.is_fraction = true, .fraction = f};
    return true;
}

static bool set_flag(host_config *cfg, const flag *f, const char *value) {
    void *field = (char *)cfg + f->offset;
    int64_t n;
    switch (f->type) {
    case F_STR:
        *(const char **)field = value;
        return true;
    case F_INT:
        if (!parse_int(value, &n) || n < f->min) {
            host_error("--%s expects an integer >= %lld, got '%s'", f->name, (long long)f->min, value);
            return false;
        }
        if (f->offset == offsetof(host_config, max_epochs)) *(int64_t *)field = n;
        else *(int *)field = (int)n;
        return true;
    case F_SEED:
        if (!parse_int(value, &n) || n < 0) {
            host_error("--%s expects a non-negative integer, got '%s'", f->name, value);
            return false;
        }
        cfg->seed = (uint64_t)n;
        cfg->seed_given = true;
        return true;
    case F_BOOL:
        if (strcmp(value, "true") && strcmp(value, "false")) {
            host_error("--%s expects true or false, got '%s'", f->name, value);
            return false;
        }
        *(bool *)field = value[0] == 't';
        return true;
    case F_BATCHES_OR_BOOL:
        if (!strcmp(value, "true") || !strcmp(value, "false")) n = value[0] == 't';
        else if (!parse_int(value, &n) || n < 0) {
            host_error("--%s expects true, false or a number of batches >= 0, got '%s'", f->name, value);
            return false;
        }
        *(int64_t *)field = n;
        return true;
    case F_LIMIT:
        if (!parse_limit(value, field)) {
            host_error("--%s expects a batch count (int >= 0) or a fraction in [0.0, 1.0], got '%s'",
                       f->name, value);
            return false;
        }
        return true;
    }
    return false;
}

static bool add_override(hparam_override *list, int *n, const char *name, const char *value,
                         const char *prefix) {
    if (!*name) {
        host_error("--%s needs a name, as in --%slr 1e-3", prefix, prefix);
        return false;
    }
    if (*n == LTHOST_MAX_OVERRIDES) {
        host_error("too many --%s flags (at most %d)", prefix, LTHOST_MAX_OVERRIDES);
        return false;
    }
    list[(*n)++] = (hparam_override){name, value};
    return true;
}

static const flag *find_flag(const char *name) {
    for (size_t i = 0; i < NFLAGS; i++)
        if (strcmp(flags[i].name, name) == 0) return &flags[i];
    return NULL;
}

/* "--name value" or "--name=value"; `name` points past the dashes. */
static bool parse_one(host_config *cfg, char *arg, int *i, int argc, char **argv) {
    char *name = arg + 2, *eq = strchr(name, '='), *value;
    if (eq) {
        *eq = '\0';
        value = eq + 1;
    } else if (*i + 1 < argc) {
        value = argv[++*i];
    } else {
        host_error("--%s needs a value (see lthost %s --help)", name, cfg->command);
        return false;
    }
    if (strncmp(name, "model.", 6) == 0) return add_override(cfg->model_hp, &cfg->n_model_hp, name + 6, value, "model.");
    if (strncmp(name, "data.", 5) == 0) return add_override(cfg->data_hp, &cfg->n_data_hp, name + 5, value, "data.");
    const flag *f = find_flag(strncmp(name, "trainer.", 8) == 0 ? name + 8 : name);
    if (!f) {
        host_error("unknown flag --%s (see lthost %s --help)", name, cfg->command);
        return false;
    }
    return set_flag(cfg, f, value);
}

bool cli_parse(int argc, char **argv, host_config *cfg) {
    for (int i = 0; i < argc; i++) {
        char *arg = argv[i];
        if (strncmp(arg, "--", 2) != 0 || arg[2] == '\0') {
            host_error("unexpected argument '%s'; flags look like --max_epochs 5", arg);
            return false;
        }
        if (!parse_one(cfg, arg, &i, argc, argv)) return false;
    }
    if (cfg->fast_dev_run > 0) { /* as Lightning: it overrides the epoch and batch limits */
        batch_limit n = {.is_fraction = false, .count = cfg->fast_dev_run};
        cfg->limit_train = cfg->limit_val = cfg->limit_test = n;
        cfg->max_epochs = 1;
    }
    return true;
}

void cli_print_help(const char *command) {
    printf("usage: lthost %s --module NAME|PATH [flags]\n\nflags:\n", command ? command : "fit");
    for (size_t i = 0; i < NFLAGS; i++) printf("  --%-22s %s\n", flags[i].name, flags[i].help);
    printf("  --%-22s %s\n", "model.NAME VALUE", "a hyper-parameter the model declares");
    printf("  --%-22s %s\n", "data.NAME VALUE", "a hyper-parameter the data plugin declares");
    printf("\nEvery flag may be written --flag=value, and Trainer flags also as --trainer.flag.\n");
}
