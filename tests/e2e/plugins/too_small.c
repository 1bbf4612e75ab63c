/* Test plugin: a descriptor that declares struct_size 8, too small to even hold the
 * header; the loader must refuse it with LT_ERR_ABI before reading its name. */
#include <lt/module.h>

static const lt_module_desc desc = {
    .abi_major = LT_ABI_MAJOR,
    .abi_minor = LT_ABI_MINOR,
    .struct_size = 8,
    .name = "too_small",
};

LT_EXPORT const lt_module_desc *lt_module_entry(void);
const lt_module_desc *lt_module_entry(void) { return &desc; }
