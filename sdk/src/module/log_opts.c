/* Lightning's self.log keyword arguments (reduce_fx, rank_zero_only, batch_size),
 * self.log_dict and self.print, over the accumulators of metrics.c. */
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>

#include "ctx_impl.h"

#define LT_LOG_KNOWN_FLAGS                                                                         \
    (LT_LOG_PROG_BAR | LT_LOG_ON_STEP | LT_LOG_ON_EPOCH | LT_LOG_NO_LOGGER | LT_LOG_SYNC_DIST |    \
     LT_LOG_REDUCE_MASK | LT_LOG_RANK_ZERO_ONLY)

/* opts checked (NULL: defaults) into *flags and *batch_size. */
static lt_status read_opts(const char *name, const lt_log_opts *opts, unsigned *flags,
                           int64_t *batch_size) {
    *flags = 0;
    *batch_size = 0;
    if (!opts) return LT_OK;
    if (opts->struct_size < sizeof(lt_log_opts))
        return lt_set_error(LT_ERR_ABI,
                            "lt_log('%s'): lt_log_opts.struct_size is %u, expected %zu; build "
                            "the options with LT_LOG_OPTS(...)",
                            name ? name : "?", opts->struct_size, sizeof(lt_log_opts));
    if (opts->flags & ~(unsigned)LT_LOG_KNOWN_FLAGS)
        return lt_set_error(LT_ERR_INVALID_ARG,
                            "lt_log('%s'): unknown flag bits 0x%x; use the LT_LOG_* flags",
                            name ? name : "?", opts->flags & ~(unsigned)LT_LOG_KNOWN_FLAGS);
    if (opts->batch_size < 0)
        return lt_set_error(LT_ERR_INVALID_ARG,
                            "lt_log('%s'): batch_size %lld; give a positive batch size, or 0 "
                            "for the batch's own",
                            name ? name : "?", (long long)opts->batch_size);
    *flags = opts->flags;
    *batch_size = opts->batch_size;
    return LT_OK;
}

lt_status lt_log_with(lt_ctx_t *ctx, const char *name, lt_tensor_t *value,
                      const lt_log_opts *opts) {
    unsigned flags;
    int64_t bs;
    lt_status st = read_opts(name, opts, &flags, &bs);
    return st != LT_OK ? st : lt__log_tensor(ctx, name, value, flags, bs);
}

lt_status lt_log_value_with(lt_ctx_t *ctx, const char *name, double value,
                            const lt_log_opts *opts) {
    unsigned flags;
    int64_t bs;
    lt_status st = read_opts(name, opts, &flags, &bs);
    return st != LT_OK ? st : lt__log_host(ctx, name, value, flags, bs);
}

lt_status lt_log_dict(lt_ctx_t *ctx, const lt_log_item *items, int n, const lt_log_opts *opts) {
    if (!ctx || (n > 0 && !items) || n < 0)
        return lt_set_error(LT_ERR_INVALID_ARG, "lt_log_dict: NULL ctx or items, or n < 0");
    for (int i = 0; i < n; i++) {
        const lt_log_item *it = &items[i];
        if (!it->tensor && lt_last_status() != LT_OK) return lt_last_status();
        lt_status st = it->tensor ? lt_log_with(ctx, it->name, it->tensor, opts)
                                  : lt_log_value_with(ctx, it->name, it->value, opts);
        if (st != LT_OK) return st;
    }
    return LT_OK;
}

/* Formatted first so that the host can print it as one piece between erasing and redrawing
 * its progress bar; a message over the buffer is cut, as a terminal line would be useless
 * at that length anyway. */
void lt_print(lt_ctx_t *ctx, const char *fmt, ...) {
    if (!fmt || (ctx && lt_trainer_global_rank(ctx->trainer) != 0)) return;
    char text[8192];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(text, sizeof text, fmt, ap);
    va_end(ap);
    if (n < 0) return;
    lt_trainer_t *tr = ctx ? ctx->trainer : NULL;
    if (tr && tr->struct_size >= offsetof(lt_trainer_t, print_line) + sizeof tr->print_line &&
        tr->print_line) {
        tr->print_line(tr, text);
        return;
    }
    printf("%s\n", text);
    fflush(stdout);
}
