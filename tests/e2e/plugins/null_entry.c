/* Test plugin: the module entry exists but returns NULL. */
#include <stddef.h>

#include <lt/module.h>

LT_EXPORT const lt_module_desc *lt_module_entry(void);
const lt_module_desc *lt_module_entry(void) { return NULL; }
