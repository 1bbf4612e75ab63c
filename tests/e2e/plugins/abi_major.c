/* Test plugin: a module built for a future plugin ABI major (2.0). The loader must
 * refuse it with LT_ERR_ABI and say to rebuild it against this SDK. */
#include <lt/module.h>

static lt_status setup(lt_ctx_t *ctx, void *self) {
    (void)ctx;
    (void)self;
    return LT_OK;
}

static const lt_module_desc desc = {
    .abi_major = 2,
    .abi_minor = 0,
    .struct_size = sizeof(lt_module_desc),
    .name = "abi_major",
    .self_size = 1,
    .setup = setup,
};

LT_EXPORT const lt_module_desc *lt_module_entry(void);
const lt_module_desc *lt_module_entry(void) { return &desc; }
