/* lt/data.h — DataModules, datasets, the DataLoader and the IDX file reader.
 *
 * A data plugin registers one dataset per split in setup(). A dataset fills a whole
 * batch from a list of indices (no per-sample call, no collate step); the loader
 * calls it from its worker threads and hands the host ready batches. */
#ifndef LT_DATA_H
#define LT_DATA_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "module.h"

typedef enum {
    LT_SPLIT_TRAIN,
    LT_SPLIT_VAL,
    LT_SPLIT_TEST,
    LT_SPLIT_PREDICT,
    LT_SPLIT_COUNT
} lt_split;

/* One named field of a batch (Lightning's dict batches): one sample's dtype and shape;
 * the batch adds the leading dimension N. */
typedef struct lt_field_desc {
    const char *name; /* unique in the dataset, 1..LT_FIELD_NAME_MAX bytes */
    lt_dtype dtype;   /* LT_F32 or LT_I64; (1.1) LT_U8, LT_F16, LT_BF16 (lt_to_f32) */
    int ndim;         /* 0: one value per sample */
    int64_t shape[LT_MAX_DIMS];
} lt_field_desc;

#define LT_FIELD_NAME_MAX 63

typedef struct lt_dataset {
    uint32_t struct_size; /* sizeof(lt_dataset) */
    int64_t length;       /* number of samples */
    int x_ndim;           /* one sample's input: x_dtype (float32 unless set) of x_shape */
    int64_t x_shape[LT_MAX_DIMS];
    lt_dtype y_dtype; /* LT_I64 labels or LT_F32 targets */
    int y_ndim;       /* 0: one value per sample */
    int64_t y_shape[LT_MAX_DIMS];
    /* Write samples idx[0..n) into x (n, x_shape) and y (n, y_shape). Called from
     * several threads at once. */
    lt_status (*fill)(void *user, const int64_t *idx, int64_t n, float *x, void *y);
    void *user;
    /* (optional, instead of fill) The same, told the split it fills, so that one user
     * struct can serve every split. */
    lt_status (*fill_split)(void *user, lt_split split, const int64_t *idx, int64_t n, float *x,
                            void *y);
    lt_split split; /* the split fill_split is told: lt_data_add_split sets it */
    /* (1.1, optional) The dtype of x: LT_F32 (0, so also what a 1.0 dataset gets) or
     * LT_I64 (token ids, as a language model reads them), or LT_U8 / LT_F16 / LT_BF16
     * (images, half features: the module converts with lt_to_f32). With another than
     * LT_F32, fill's `x` points at n * prod(x_shape) values of it: write them through
     * (int64_t *)(void *)x and the like; the buffer is aligned for any dtype. */
    lt_dtype x_dtype;
    /* (1.1, optional) Named fields instead of x and y: nfields in [1, LT_MAX_FIELDS]
     * descriptors (they and their names must outlive the run: static, or in the plugin's
     * self), filled by fill_fields, which writes field k of samples idx[0..n) into
     * bufs[k], (n, fields[k].shape) of fields[k].dtype. The x_* and y_* members, fill and
     * fill_split are then unused. A module reads a field with lt_batch_get(b, name);
     * fields named "x" and "y" are also b->x and b->y. */
    int nfields;
    const lt_field_desc *fields;
    lt_status (*fill_fields)(void *user, lt_split split, const int64_t *idx, int64_t n,
                             void *const *bufs);
    /* (1.1, optional, instead of fill_fields: issue #21) The same, also told the loader's
     * seed (the run's --seed_everything) and the epoch the batch belongs to, so that
     * random augmentation drawn from (seed, epoch, sample index) is the same in every run,
     * with any number of workers and after a resume. */
    lt_status (*fill_fields_at)(void *user, lt_split split, uint64_t seed, int64_t epoch,
                                const int64_t *idx, int64_t n, void *const *bufs);
} lt_dataset;

/* The smallest lt_dataset.struct_size accepted: 1.0 ended at user. */
#define LT_DATASET_SIZE_1_0 (offsetof(lt_dataset, user) + sizeof(void *))

typedef struct lt_loader_opts {
    uint32_t struct_size; /* sizeof(lt_loader_opts) */
    int64_t batch_size;
    bool shuffle;    /* a new order each epoch, from (seed, epoch) */
    bool drop_last;  /* drop a last batch smaller than batch_size */
    int num_workers; /* 0: fill batches on the calling thread; LT_LOADER_WORKERS_AUTO */
} lt_loader_opts;

/* num_workers: one background thread when this process may run on more than one core
 * (its CPU affinity), none when it is bound to one, where a thread could only time-share
 * that core with training (a DDP rank under mpirun --bind-to core). */
#define LT_LOADER_WORKERS_AUTO (-1)

/* Register the dataset of a split (from a data plugin's setup). The dataset's `user`
 * must outlive the run; the plugin frees it in teardown. */
LT_API lt_status lt_data_add_split(lt_ctx_t *ctx, lt_split split, const lt_dataset *ds,
                                   const lt_loader_opts *opts);

/* ---- several val/test dataloaders (1.1) ------------------------------------------ */

/* The most dataloaders one split may have. */
#define LT_MAX_DATALOADERS 8

/* (1.1) Another dataloader for LT_SPLIT_VAL or LT_SPLIT_TEST, after the one
 * lt_data_add_split registered (which is dataloader 0 and drops any added before, so a
 * setup that runs again starts over). Lightning's list of val/test dataloaders: the loop
 * runs them in order, a batch carries its lt_batch_t.dataloader_idx, and with more than
 * one, each value a step logs is named NAME/dataloader_idx_K. *idx (may be NULL) gets
 * the new dataloader's index. */
LT_API lt_status lt_data_add_loader(lt_ctx_t *ctx, lt_split split, const lt_dataset *ds,
                                    const lt_loader_opts *opts, int *idx);

typedef struct lt_datamodule_desc {
    LT_DESC_HEADER_FIELDS
    size_t self_size;              /* sizeof the plugin's struct; the host zeroes it */
    const lt_hparam_desc *hparams; /* become --data.NAME flags */
    /* Register datasets; stage is "fit", "validate", "test" or "predict". */
    lt_status (*setup)(lt_ctx_t *ctx, void *self, const char *stage);
    void (*teardown)(lt_ctx_t *ctx, void *self); /* (optional) */
    /* (1.1, optional) Lightning's LightningDataModule.state_dict / load_state_dict: what
     * the data module keeps in a checkpoint (its "datamodule_state"), such as the split
     * it drew, and its restore after setup when a run resumes from --ckpt_path (an error
     * refuses the checkpoint, say when the data no longer matches it). */
    lt_state_hook_fn state_dict;
    lt_state_hook_fn load_state_dict;
} lt_datamodule_desc;

#define LT_DATAMODULE_EXPORT(self_type, ...)                                                       \
    LT_PLUGIN_EXPORT_(lt_datamodule_desc, lt_datamodule_entry, .self_size = sizeof(self_type),     \
                      __VA_ARGS__)

/* ---- DataLoader --------------------------------------------------------------------- */

typedef struct lt_loader lt_loader_t;

/* One batch in host memory, valid until the next lt_loader_next() call. */
typedef struct lt_host_batch {
    int64_t n;     /* samples in this batch */
    int64_t index; /* batch index within the epoch */
    float *x;      /* (n, x_shape) of x_dtype (cast when x_dtype is LT_I64) */
    void *y;       /* (n, y_shape) of y_dtype */
    /* (1.1) Every field: for an x/y dataset the two fields "x" and "y" (x and y above);
     * for a dataset of named fields, its fields in order (x, y: those named so, or NULL). */
    int nfields;
    const lt_field_desc *fields;
    void *bufs[LT_MAX_FIELDS];
} lt_host_batch;

/* A loader over ds; seed fixes the shuffle order of every epoch. */
LT_API lt_status lt_loader_new(const lt_dataset *ds, const lt_loader_opts *opts, uint64_t seed,
                               lt_loader_t **out);
/* (1.1) Where a loader's batch buffers come from: pinned host memory when the accelerator
 * has it (its host_alloc slots), so the batch copies to the device run asynchronously.
 * Before a buffer is refilled the loader calls wait (optional) on it, from a worker
 * thread: the copy of its previous batch may still be reading it. */
typedef struct lt_host_alloc {
    void *(*alloc)(void *user, size_t nbytes); /* NULL when out of memory */
    void (*free)(void *user, void *p);
    void (*wait)(void *user, void *p); /* (optional) */
    void *user;
} lt_host_alloc;

/* (1.1) lt_loader_new with its buffers from ha (NULL: malloc), freed by lt_loader_free
 * through ha, which must outlive the loader. */
LT_API lt_status lt_loader_new_with(const lt_dataset *ds, const lt_loader_opts *opts, uint64_t seed,
                                    const lt_host_alloc *ha, lt_loader_t **out);
/* Read only shard `rank` of `world` (DistributedSampler's rule: the epoch's order
 * padded with its first indices to a multiple of world, then every world-th index from
 * rank on); call before lt_loader_start. Batches per epoch shrink accordingly. */
LT_API lt_status lt_loader_set_shard(lt_loader_t *l, int rank, int world);
/* Batches in one epoch (after drop_last). */
LT_API int64_t lt_loader_num_batches(const lt_loader_t *l);
/* Begin an epoch of at most max_batches batches (< 0: all); workers start filling. */
LT_API lt_status lt_loader_start(lt_loader_t *l, int64_t epoch, int64_t max_batches);
/* The same epoch order, delivering from batch `first` on (a resumed epoch). */
LT_API lt_status lt_loader_start_at(lt_loader_t *l, int64_t epoch, int64_t first,
                                    int64_t max_batches);
/* The epoch that follows (at most max_batches batches): once every batch of the current
 * one is claimed, idle workers fill its first batches, which a later lt_loader_start of
 * that epoch (from batch 0) delivers without waiting. Any other start discards them. */
LT_API lt_status lt_loader_set_next(lt_loader_t *l, int64_t epoch, int64_t max_batches);
/* The next batch, or *out = NULL at the end of the epoch. */
LT_API lt_status lt_loader_next(lt_loader_t *l, const lt_host_batch **out);
/* Stops the workers and frees the loader. */
LT_API void lt_loader_free(lt_loader_t *l);

/* ---- IDX files (MNIST format), gzip-compressed or not ----------------------------- */

typedef struct lt_idx {
    uint8_t type; /* 0x08 = uint8, the only type MNIST uses */
    int ndim;
    int64_t dims[LT_MAX_DIMS];
    uint8_t *data; /* prod(dims) elements */
    int64_t count; /* prod(dims) */
} lt_idx_t;

/* Read a whole IDX file (plain or one gzip member); a truncated or malformed file, bytes
 * past the size its header declares, a second gzip member, junk after the stream or a
 * path that is not a regular file (a FIFO, a device) is an error naming the path. */
LT_API lt_status lt_idx_read(const char *path, lt_idx_t *out);
LT_API void lt_idx_free(lt_idx_t *idx);

#endif
