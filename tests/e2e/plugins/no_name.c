/* Test plugin: a well-formed module descriptor with an empty name. */
#include <lt/module.h>

static lt_status setup(lt_ctx_t *ctx, void *self) {
    (void)ctx;
    (void)self;
    return LT_OK;
}

typedef struct no_name {
    int unused;
} no_name_t;

LT_MODULE_EXPORT(no_name_t, .name = "", .setup = setup);
