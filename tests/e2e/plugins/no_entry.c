/* Test plugin: a shared object that exports no plugin entry, only a misspelt one (the
 * mistake a user makes when writing the entry by hand instead of with the macro). */
#include <lt/version.h>

LT_EXPORT int lt_modul_entry(void);
int lt_modul_entry(void) { return 42; }
