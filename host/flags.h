/* flags.h — the Trainer flags: one table row per flag with its type, the host_config field
 * it sets (offset and size), its default and its help. The command line, --config files,
 * lthost's defaults, --help and --print_config all read this one table. */
#ifndef LTHOST_FLAGS_H
#define LTHOST_FLAGS_H

#include <stddef.h>

#include "config/config.h"
#include "host.h"

typedef enum {
    F_STR,             /* any text (a name, a path) */
    F_CHOICE,          /* one of `choices` ("norm|value") */
    F_INT,             /* an integer >= min */
    F_OPT_INT,         /* an integer >= min, or null (Lightning's None), stored as min */
    F_DEVICES,         /* an integer >= 1, or auto (stored as 0, resolved once --accel is known) */
    F_SEED,            /* a non-negative integer; sets seed_given */
    F_BOOL,            /* true or false */
    F_LIMIT,           /* a batch count (int) or a fraction in [0, 1] */
    F_BATCHES_OR_BOOL, /* true (1), false (0) or a number of batches */
    F_DOUBLE,          /* a finite number >= 0 */
    F_DURATION,        /* Lightning's "DD:HH:MM:SS" or {hours: 1}, in seconds; null: -1 */
} flag_type;

typedef struct flag {
    const char *name; /* without the dashes */
    flag_type type;
    size_t offset, size; /* the host_config field */
    const char *def;     /* the default as it would be typed (NULL: unset) */
    int64_t min;         /* F_INT, F_OPT_INT */
    const char *choices; /* F_CHOICE */
    const char *help;
} flag;

/* The table, and the row named name (NULL if none). */
const flag *flags_table(size_t *n);
const flag *flag_find(const char *name);
/* The flag (or --config, --callbacks, --print_config) closest to a misspelt name, or NULL. */
const char *flag_suggest(const char *name);
/* Parse value into f's field of cfg; false after one error line, prefixed with where
 * ("" on the command line, "cfg.yaml:7: " from a file). */
bool flag_set(host_config *cfg, const char *where, const flag *f, const char *value);
/* f's current value as a YAML scalar (null when unset). */
cfg_node *flag_node(const host_config *cfg, const flag *f);

#endif
