/* lt/log.h — logging metrics from a module's hooks (Lightning's self.log). */
#ifndef LT_LOG_H
#define LT_LOG_H

#include "module.h"

enum {
    LT_LOG_PROG_BAR = 1u << 0, /* show in the progress line */
    LT_LOG_ON_STEP = 1u << 1,  /* record every step */
    LT_LOG_ON_EPOCH = 1u << 2, /* record the epoch mean (weighted by batch size) */
};

/* Log a one-element tensor under name. Values accumulate on the device; the host
 * reads them back only when it prints or writes them. */
LT_API lt_status lt_log(lt_ctx_t *ctx, const char *name, lt_tensor_t *value, unsigned flags);
/* Log a host number. */
LT_API lt_status lt_log_value(lt_ctx_t *ctx, const char *name, double value, unsigned flags);

#endif
