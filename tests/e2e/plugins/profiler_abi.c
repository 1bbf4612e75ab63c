/* Test plugin: a profiler built for plugin ABI 9.0; the loader must refuse it. */
#include <lt/profiler.h>

static const lt_profiler_desc desc = {
    .abi_major = 9,
    .abi_minor = 0,
    .struct_size = sizeof(lt_profiler_desc),
    .name = "abi9",
};

LT_EXPORT const lt_profiler_desc *lt_profiler_entry(void);
const lt_profiler_desc *lt_profiler_entry(void) { return &desc; }
