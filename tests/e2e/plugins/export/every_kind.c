/* One file exporting a descriptor of every plugin kind through its public macro
 * (LT_MODULE_EXPORT ... LT_CALLBACK_EXPORT), so that tests/unit/test_plugin.c can open
 * it as each kind and check the header each wrapper of LT_PLUGIN_EXPORT_ fills: ABI
 * version, the descriptor's size and, for kinds with a self struct, its size. Only
 * names are set: the loader checks no more at open. */
#include <lt/accelerator.h>
#include <lt/data.h>
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
