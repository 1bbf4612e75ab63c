/* What the shipped data plugins share (compiled into each one; nothing of it is
 * exported): the loader hparams, a seeded train/val/test split of one source, and the
 * registration of the splits a stage needs. */
#ifndef LT_PLUGINS_DATA_COMMON_H
#define LT_PLUGINS_DATA_COMMON_H

#include <lt/lt.h>

/* --data.batch_size and --data.num_workers, in every plugin's hparam table. */
#define DM_LOADER_HPARAMS                                                                          \
    LT_HPARAM_INT("batch_size", 64, "samples per batch"),                                          \
        LT_HPARAM_INT("num_workers", LT_LOADER_WORKERS_AUTO,                                       \
                      "background threads filling batches (0: none; -1: one unless bound to one "  \
                      "core)")

/* --data.val_fraction, --data.test_fraction and --data.split_seed. */
#define DM_SPLIT_HPARAMS                                                                           \
    LT_HPARAM_FLOAT("val_fraction", 0.1,                                                           \
                    "share of the samples held out for validation (seeded, like random_split)"),   \
        LT_HPARAM_FLOAT("test_fraction", 0.1, "share of the samples held out for test"),           \
        LT_HPARAM_INT("split_seed", 42, "seed of the fixed train/val/test split")

enum { DM_TRAIN, DM_VAL, DM_TEST, DM_PARTS };

/* One split's view of a source: sample i is source row index[i] (NULL: row first + i).
 * It is what a dataset's `user` points at; fills read it from several threads. */
typedef struct dm_part {
    const void *source; /* the plugin's data */
    const int64_t *index;
    int64_t first, length;
} dm_part;

static inline int64_t dm_row(const dm_part *p, int64_t i) {
    return p->index ? p->index[i] : p->first + i;
}

/* The splits of a plugin; perm (owned) holds the seeded split's indices. */
typedef struct dm_splits {
    dm_part part[DM_PARTS];
    dm_part all; /* every row of the source, in order: what predict reads */
    int64_t *perm;
    /* val and test dataloaders 1.. (several --data.val files): part[k] is dataloader 0 */
    dm_part more[DM_PARTS][LT_MAX_DATALOADERS - 1];
    int nmore[DM_PARTS];
} dm_splits;

/* The comma-separated paths of a flag (--data.val a.csv,b.csv: one dataloader each) into
 * paths[0..*n), at most LT_MAX_DATALOADERS, each copied into buf (of size n_buf). */
lt_status dm_split_paths(const char *value, const char *flag, char *buf, size_t n_buf,
                         const char *paths[LT_MAX_DATALOADERS], int *n);

/* Checks --data.batch_size and --data.num_workers; the message names the flag. */
lt_status dm_check_loader(lt_ctx_t *ctx);

/* Cuts rows [0, n) of source into train/val/test by a permutation drawn from
 * --data.split_seed alone (the same split whatever --seed_everything is): val gets
 * floor(n * val_fraction) rows, test floor(n * test_fraction), train the rest. A split
 * not `use_`d gets no rows here (it comes from a file); its fraction is not read.
 * out->all is every row in order. */
lt_status dm_split_seeded(lt_ctx_t *ctx, const void *source, int64_t n, bool use_val, bool use_test,
                          dm_splits *out);

/* Registers the splits `stage` needs (fit: train, and val when it has samples; validate:
 * val; test: test; predict: all, every sample of the source in order; val and test with
 * their further dataloaders, sp->more) with proto's
 * shapes, dtypes and fill. An empty split is
 * registered as such: the host names it and the fix. */
lt_status dm_register(lt_ctx_t *ctx, const char *stage, dm_splits *sp, const lt_dataset *proto);

/* LightningDataModule.state_dict / load_state_dict for a seeded split: the split seed
 * and the samples of the source and of each split. Loading compares them with this
 * run's split: a checkpoint of other data, or of another split, is refused (resuming
 * would train and validate on other samples). */
lt_status dm_state_dict(lt_ctx_t *ctx, const dm_splits *sp, lt_state_t *st);
lt_status dm_load_state_dict(lt_ctx_t *ctx, const dm_splits *sp, const lt_state_t *st);

/* A file mapped read-only: a dataset larger than RAM is paged in as fills touch it. */
typedef struct dm_map {
    char path[4096];
    const uint8_t *data; /* NULL when size is 0 */
    size_t size;
} dm_map;

/* Maps path, which must be a regular file (a FIFO or a device would block or never end);
 * errors name the path and the flag it came from. */
lt_status dm_map_open(const char *path, const char *flag, dm_map *m);
/* For a mapping read row by row in random order (shuffled batches straight from the
 * file): the kernel's readahead around each fault, up to megabytes, would read far more
 * than the row (measured: 30x the time per batch on a 32 GiB .npy), so it is turned off. */
void dm_map_random(const dm_map *m);
void dm_map_close(dm_map *m);

#endif
