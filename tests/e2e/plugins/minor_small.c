/* Test plugin: claims ABI 1.99 yet declares a descriptor smaller than the 1.0 one. A
 * newer minor only appends fields, so this can only be a corrupt or mis-built plugin;
 * the loader must refuse it with LT_ERR_ABI instead of reading past its struct. */
#include <lt/module.h>

static lt_status setup(lt_ctx_t *ctx, void *self) {
    (void)ctx;
    (void)self;
    return LT_OK;
}

static const lt_module_desc desc = {
    .abi_major = LT_ABI_MAJOR,
    .abi_minor = 99,
    .struct_size = sizeof(lt_module_desc) - sizeof(void *),
    .name = "minor_small",
    .self_size = 1,
    .setup = setup,
};

LT_EXPORT const lt_module_desc *lt_module_entry(void);
const lt_module_desc *lt_module_entry(void) { return &desc; }
