/* lt/version.h — library and plugin ABI versions, symbol visibility. */
#ifndef LT_VERSION_H
#define LT_VERSION_H

#define LT_VERSION_MAJOR 0
#define LT_VERSION_MINOR 1
#define LT_VERSION_PATCH 0
#define LT_VERSION_STRING "0.1.0"

/* Plugin ABI. A plugin built against a different major is refused; a newer minor
 * may only append fields to descriptors, so an older host reads the prefix it knows. */
#define LT_ABI_MAJOR 1
#define LT_ABI_MINOR 1

#if defined(LT_BUILDING_LIB)
#define LT_API __attribute__((visibility("default")))
#else
#define LT_API
#endif

/* Every plugin descriptor starts with these four fields, in this order. */
#define LT_DESC_HEADER_FIELDS                                                                      \
    uint32_t abi_major;                                                                            \
    uint32_t abi_minor;                                                                            \
    uint32_t struct_size;                                                                          \
    const char *name;

/* Exported entry symbols are always visible, whatever -fvisibility says. */
#define LT_EXPORT __attribute__((visibility("default")))

/* What every LT_<KIND>_EXPORT macro expands to: a static descriptor of desc_type whose
 * header (abi_major, abi_minor, struct_size) is filled here, so that no plugin writes
 * it by hand and a plugin built against this header says which ABI and size it has;
 * the plugin's designated initialisers follow. entry is the one exported symbol, a
 * function returning the descriptor. A new plugin kind is one line in its header:
 *   #define LT_FOO_EXPORT(...) LT_PLUGIN_EXPORT_(lt_foo_desc, lt_foo_entry, __VA_ARGS__) */
#define LT_PLUGIN_EXPORT_(desc_type, entry, ...)                                                   \
    static const desc_type entry##_desc_ = {.abi_major = LT_ABI_MAJOR,                             \
                                            .abi_minor = LT_ABI_MINOR,                             \
                                            .struct_size = sizeof(desc_type),                      \
                                            __VA_ARGS__};                                          \
    LT_EXPORT const desc_type *entry(void);                                                        \
    const desc_type *entry(void) { return &entry##_desc_; }

#endif
