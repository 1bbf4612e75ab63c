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
#define LT_ABI_MINOR 0

#if defined(LT_BUILDING_LIB)
#define LT_API __attribute__((visibility("default")))
#else
#define LT_API
#endif

/* Every plugin descriptor starts with these four fields, in this order. */
#define LT_DESC_HEADER_FIELDS \
    uint32_t abi_major;       \
    uint32_t abi_minor;       \
    uint32_t struct_size;     \
    const char *name;

/* Exported entry symbols are always visible, whatever -fvisibility says. */
#define LT_EXPORT __attribute__((visibility("default")))

#endif
