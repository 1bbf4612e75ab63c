/* One file exporting a descriptor of every plugin kind through its public macro
 * (LT_MODULE_EXPORT ... LT_CALLBACK_EXPORT), so that tests/unit/test_plugin.c can open
 * it as each kind and check the header each wrapper of LT_PLUGIN_EXPORT_ fills: ABI
 * version, the descriptor's size and, for kinds with a self struct, its size. Only
 * names are set (and a logger's two required calls): the loader checks no more at open. */
#include <lt/accelerator.h>
#include <lt/data.h>
#include <lt/logger.h>
#include <lt/module.h>
#include <lt/profiler.h>
#include <lt/strategy.h>

/* Self structs of distinct sizes, so that each wrapper is seen to use its own. */
typedef struct {
    char bytes[24];
} module_self;
typedef struct {
    char bytes[40];
} callback_self;
typedef struct {
    char bytes[56];
} data_self;

LT_MODULE_EXPORT(module_self, .name = "every_module")
LT_ACCELERATOR_EXPORT(.name = "every_accelerator")
LT_STRATEGY_EXPORT(.name = "every_strategy")
LT_PROFILER_EXPORT(.name = "every_profiler")
LT_DATAMODULE_EXPORT(data_self, .name = "every_data")
LT_CALLBACK_EXPORT(callback_self, .name = "every_callback")

static lt_status every_logger_init(const lt_logger_opts *opts, void **state) {
    *state = NULL;
    return opts ? LT_OK : LT_ERR_INVALID_ARG;
}
static lt_status every_logger_log(void *st, const lt_logger_metric *m, int n, int64_t step) {
    (void)st, (void)m, (void)step;
    return n >= 0 ? LT_OK : LT_ERR_INVALID_ARG;
}
LT_LOGGER_EXPORT(.name = "every_logger", .init = every_logger_init, .log_metrics = every_logger_log)
