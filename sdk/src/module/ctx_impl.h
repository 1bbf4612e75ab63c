/* The module context, shared by ctx.c, hparams.c and metrics.c. */
#ifndef LT_CTX_IMPL_H
#define LT_CTX_IMPL_H

#include <lt/runtime.h>

#include "lt_impl.h"

typedef struct hparam_value {
    const lt_hparam_desc *desc;
    int64_t i;
    double f;
    char *s; /* owned copy */
} hparam_value;

typedef struct param_entry {
    char *name;
    lt_tensor_t *t; /* persistent; storage assigned by lt_ctx_materialize */
    lt_init init;
    const char *layer_type; /* "Linear" when declared by lt_linear, else NULL */
    int64_t *mirror;        /* a buffer's host copy (one int64), kept equal on load */
    int64_t zero_row;       /* 1 + a row initialised to zeros (nn.Embedding's padding_idx); 0 */
} param_entry;

#define LT_MAX_METRICS 64
#define LT_METRIC_NAME 64

typedef struct metric {
    char name[LT_METRIC_NAME];
    int scope;
    unsigned flags;
    lt_storage *acc; /* device floats: [0] sum of value * batch size, [1] scratch, [2] last */
    double host_sum; /* values logged from the host with lt_log_value */
    double host_last;
    bool last_on_host; /* the latest value came from lt_log_value */
    bool this_step;
    double weight; /* sum of batch sizes since the scope was reset */
    /* (issue 23) reduce_fx other than mean: acc[0] / host_sum hold the running sum, max
     * or min of the device's / the host's values, each valid once it has a value */
    int64_t dev_count, host_count;
    int dataloader_idx; /* -1, or the dataloader it was logged under */
} metric;

typedef struct owned_block {
    struct owned_block *next;
} owned_block;

#define LT_MAX_FROZEN 16

struct lt_ctx {
    lt_device_t *dev;
    lt_arena_t *arena;
    char *plugin_name;
    void *self;
    uint64_t seed;
    hparam_value *hp;
    int nhp;
    param_entry *params;
    int nparams, cap_params;
    bool materialized;
    lt_storage *values, *grads; /* all parameters, all gradients */
    lt_optimizer_t **opts;
    int nopts;
    lt_scheduler_t **scheds;
    lt_scheduler_config *sched_cfgs;
    int nscheds;
    int64_t epoch, global_step, batch_size;
    metric metrics[LT_MAX_METRICS];
    int nmetrics;
    int log_scope;
    unsigned log_defaults;
    lt_trainer_t *trainer;
    bool training;
    bool *toggle_saved;           /* requires_grad of each parameter before lt_toggle_optimizer */
    int nloaders[LT_SPLIT_COUNT]; /* datasets registered per split (several val/test) */
    lt_dataset splits[LT_SPLIT_COUNT][LT_MAX_DATALOADERS];
    lt_loader_opts split_opts[LT_SPLIT_COUNT][LT_MAX_DATALOADERS];
    int dataloader_idx;   /* what lt_log keys its metrics by (-1: none) */
    owned_block *owned;   /* small objects handed to the plugin (lt_linear_t, ...) */
    param_entry *buffers; /* lt_buffer: saved and loaded, never trained (own storage each) */
    int nbuffers, cap_buffers;
    int64_t dropout_step, dropout_calls; /* lt_dropout's place: the step and calls in it */
    /* -- #23: lt_freeze -- */
    bool frozen_all;                 /* the whole module frozen: eval mode */
    int nfrozen;                     /* frozen submodules (prefixes of parameter names) */
    char frozen[LT_MAX_FROZEN][128]; /* in eval mode: their batch norms */
    /* -- #23: SWA's batch-norm re-estimation -- */
    struct bn_entry *bns; /* every lt_batchnorm, newest first */
    int nbns;
    bool bn_cumulative; /* lt_ctx_batchnorm_cumulative: torch's momentum=None */
};

/* Whether parameter name lies in a frozen submodule (or the whole module is frozen). */
bool lt__ctx_frozen(const lt_ctx_t *ctx, const char *name);

/* calloc'd memory freed with the ctx. */
void *lt__ctx_alloc(lt_ctx_t *ctx, size_t n);
lt_status lt__hparams_init(lt_ctx_t *ctx, const lt_hparam_desc *hparams);
void lt__hparams_free(lt_ctx_t *ctx);
void lt__metrics_free(lt_ctx_t *ctx);
/* lt_log / lt_log_value with Lightning's options (metrics.c); batch_size <= 0: the batch's. */
lt_status lt__log_tensor(lt_ctx_t *ctx, const char *name, lt_tensor_t *value, unsigned flags,
                         int64_t batch_size);
lt_status lt__log_host(lt_ctx_t *ctx, const char *name, double value, unsigned flags,
                       int64_t batch_size);
void lt__buffers_free(lt_ctx_t *ctx);
/* Parameter or buffer k of the module's state dict: parameters first, then buffers;
 * NULL past the end. */
param_entry *lt__state_entry(const lt_ctx_t *ctx, int k);

#endif
