/* config.h — LightningCLI-style YAML config files: a reader that turns a file into the
 * same key/value pairs the command line gives, and a YAML emitter for --print_config.
 *
 * The reader accepts LightningCLI's layout with lthost's flag names:
 *   seed_everything: 42               -> seed_everything=42
 *   ckpt_path: null                   -> (skipped: null means "unset" everywhere)
 *   trainer: {max_epochs: 5}          -> trainer.max_epochs=5
 *   trainer: {callbacks: [{class_path: X, init_args: {k: v}}]}
 *                                     -> trainer.callbacks=X, trainer.callbacks.k=v
 *   model: mlp                        -> model.class_path=mlp
 *   model: {class_path: X, init_args: {k: v}} or model: {k: v}
 *                                     -> model.class_path=X, model.k=v
 * optimizer: and lr_scheduler: are refused (modules configure them in code). */
#ifndef LTHOST_CONFIG_H
#define LTHOST_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

/* ---- reading ---------------------------------------------------------------------- */

/* One flag from a config file, as if written on the command line: key without "--". */
typedef struct cfg_entry {
    char *key;
    char *value;
    int line; /* 1-based line in the file (of the key, or of the sequence item) */
} cfg_entry;

typedef struct cfg_entries {
    cfg_entry *items;
    int n, cap;
} cfg_entries;

/* Read a YAML config and append its flags in file order. false + one-line message in err
 * ("cfg.yaml:7:3: <what>; <how to fix>") on a missing file, a YAML syntax error (libyaml's
 * problem text + line/column), or a shape we don't accept; `out` is then as it was. */
bool cfg_read_file(const char *path, cfg_entries *out, char *err, size_t errn);
void cfg_entries_free(cfg_entries *e);

/* ---- emitting --------------------------------------------------------------------- */

/* A YAML document tree for --print_config. Scalars carry a type so that a string that
 * would read back as another type ("true", "1e-3", "", "null", "007") is quoted. */
typedef enum { CFG_STR, CFG_INT, CFG_FLOAT, CFG_BOOL, CFG_NULL } cfg_scalar_type;
typedef struct cfg_node cfg_node; /* opaque */

/* NULL when out of memory (every call below accepts a NULL node and fails cleanly). */
cfg_node *cfg_map(void);
cfg_node *cfg_seq(void);
cfg_node *cfg_scalar(const char *text, cfg_scalar_type type); /* text copied; NULL = "" */

/* Append; the parent takes ownership of child (also on failure). Keys keep insertion
 * order; a key already in the map is refused, since the reader would refuse the file. */
bool cfg_map_add(cfg_node *map, const char *key, cfg_node *child);
bool cfg_seq_add(cfg_node *seq, cfg_node *child);
void cfg_node_free(cfg_node *n);
/* Whether n is a null scalar; whether a and b are scalars of the same type and text. */
bool cfg_scalar_is_null(const cfg_node *n);
bool cfg_scalar_equal(const cfg_node *a, const cfg_node *b);

/* Emit as a block-style YAML document (libyaml emitter), re-readable by cfg_read_file. */
bool cfg_emit(FILE *out, const cfg_node *root, char *err, size_t errn);

#endif
