/* Devices: an opened accelerator plugin plus a caching allocator, so that a
 * steady-state training step reuses freed blocks instead of calling alloc(). */
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lt_impl.h"

/* ---- caching allocator ----------------------------------------------------------- */

static size_t pool_round(size_t n) { return n == 0 ? 64 : (n + 63) & ~(size_t)63; }
static size_t pool_bucket(size_t size) { return (size / 64) % LT_POOL_BUCKETS; }

static void pool_release_all(lt_device_t *dev);

/* A fresh block from the accelerator, within the memory limit. Like torch's caching
 * allocator, a failure (or the limit) first gives the cached blocks back, then retries. */
static void *device_alloc(lt_device_t *dev, size_t size) {
    lt_pool *p = &dev->pool;
    const bool over = p->limit_bytes && p->held_bytes + p->cached_bytes + size > p->limit_bytes;
    void *ptr = over ? NULL : dev->k.alloc(dev->state, size);
    if (!ptr && p->cached_bytes) {
        pool_release_all(dev);
        if (!p->limit_bytes || p->held_bytes + size <= p->limit_bytes)
            ptr = dev->k.alloc(dev->state, size);
    }
    return ptr;
}

static void *pool_alloc(lt_device_t *dev, size_t size) {
    lt_block **link = &dev->pool.free_by_size[pool_bucket(size)];
    void *ptr = NULL;
    for (lt_block *b = *link; b; link = &b->next, b = b->next) {
        if (b->size != size) continue;
        *link = b->next;
        ptr = b->ptr;
        b->next = dev->pool.spare;
        dev->pool.spare = b;
        dev->pool.cached_bytes -= size;
        break;
    }
    if (!ptr && !(ptr = device_alloc(dev, size))) {
        dev->pool.failed++;
        return NULL;
    }
    lt_pool *p = &dev->pool;
    p->held_bytes += size;
    if (p->held_bytes > p->peak_bytes) p->peak_bytes = p->held_bytes;
    return ptr;
}

static void pool_free(lt_device_t *dev, void *ptr, size_t size) {
    dev->pool.held_bytes -= size;
    lt_block *b = dev->pool.spare;
    if (b) {
        dev->pool.spare = b->next;
    } else if (!(b = malloc(sizeof *b))) {
        dev->k.free(dev->state, ptr); /* cannot cache it: give it back */
        return;
    }
    b->ptr = ptr;
    b->size = size;
    lt_block **head = &dev->pool.free_by_size[pool_bucket(size)];
    b->next = *head;
    *head = b;
    dev->pool.cached_bytes += size;
}

static void pool_release_all(lt_device_t *dev) {
    for (int i = 0; i < LT_POOL_BUCKETS; i++) {
        for (lt_block *b = dev->pool.free_by_size[i], *next; b; b = next) {
            next = b->next;
            dev->k.free(dev->state, b->ptr);
            free(b);
        }
        dev->pool.free_by_size[i] = NULL;
    }
    for (lt_block *b = dev->pool.spare, *next; b; b = next) {
        next = b->next;
        free(b);
    }
    dev->pool.spare = NULL;
    dev->pool.cached_bytes = 0;
}

/* ---- storage --------------------------------------------------------------------- */

lt_storage *lt__storage_new(lt_device_t *dev, size_t nbytes) {
    lt_storage *s = dev->spare_storage;
    if (s) {
        dev->spare_storage = s->next_free;
    } else if (!(s = malloc(sizeof *s))) {
        lt_set_error(LT_ERR_OOM, "out of host memory for a tensor header");
        return NULL;
    }
    size_t size = pool_round(nbytes);
    s->data = pool_alloc(dev, size);
    if (!s->data) {
        s->next_free = dev->spare_storage;
        dev->spare_storage = s;
        char cap[96] = "";
        if (dev->pool.limit_bytes)
            snprintf(cap, sizeof cap, ": tensors hold %llu of the %llu-byte memory limit",
                     (unsigned long long)dev->pool.held_bytes,
                     (unsigned long long)dev->pool.limit_bytes);
        lt_set_error(LT_ERR_OOM,
                     "%s: out of device memory allocating %zu bytes%s (reduce the batch size or "
                     "the model size)",
                     dev->k.name, nbytes, cap);
        return NULL;
    }
    s->dev = dev;
    s->nbytes = size;
    s->refcount = 1;
    s->next_free = NULL;
    return s;
}

void lt__storage_retain(lt_storage *s) { s->refcount++; }

void lt__storage_release(lt_storage *s) {
    if (!s || --s->refcount > 0) return;
    lt_device_t *dev = s->dev;
    pool_free(dev, s->data, s->nbytes);
    s->next_free = dev->spare_storage;
    dev->spare_storage = s;
}

/* ---- devices --------------------------------------------------------------------- */

/* The slot lists cover the whole table: a slot added to the struct but not to
 * LT_ACCELERATOR_SLOTS would go unchecked. */
#define COUNT_SLOT_(slot, need) +1
_Static_assert(offsetof(lt_accelerator_desc, host_memory) - offsetof(lt_accelerator_desc, init) ==
                   (0 LT_ACCELERATOR_SLOTS_1_0(COUNT_SLOT_)) * sizeof(void (*)(void)),
               "LT_ACCELERATOR_SLOTS_1_0 must list every slot before host_memory");
_Static_assert(sizeof(lt_accelerator_desc) - offsetof(lt_accelerator_desc, unscale_grads) ==
                   (0 LT_ACCELERATOR_SLOTS_1_1(COUNT_SLOT_)) * sizeof(void (*)(void)),
               "LT_ACCELERATOR_SLOTS_1_1 must list every slot after host_memory");
#undef COUNT_SLOT_

/* The first REQUIRED slot a table leaves NULL, or NULL. */
static const char *missing_slot(const lt_accelerator_desc *k) {
#define CHECK_SLOT_(slot, need)                                                                    \
    if (LT_SLOT_##need && !k->slot) return #slot;
    enum { LT_SLOT_REQUIRED = 1, LT_SLOT_OPTIONAL = 0 };
    LT_ACCELERATOR_SLOTS(CHECK_SLOT_)
#undef CHECK_SLOT_
    return NULL;
}

static const char *const precision_names[LT_PRECISION_COUNT] = {"32-true", "16-mixed", "bf16-mixed",
                                                                "bf16-true"};

const char *lt_precision_name(lt_precision p) {
    return (unsigned)p < LT_PRECISION_COUNT ? precision_names[p] : "(unknown precision)";
}

/* What init refused, when the plugin did not say (a plugin need not link liblt). */
static lt_status init_failed(lt_device_t *dev, const lt_accel_opts *opts, lt_status s) {
    if (*lt_last_error()) return s;
    if (s == LT_ERR_UNSUPPORTED && opts->precision != LT_PRECISION_32_TRUE)
        return lt_set_error(s, "%s: accelerator '%s' cannot train in precision %s",
                            lt_plugin_path(dev->plugin), dev->k.name,
                            lt_precision_name(opts->precision));
    return lt_set_error(s, "%s: accelerator '%s' failed to initialise", lt_plugin_path(dev->plugin),
                        dev->k.name);
}

/* Checks that need only the table: required slots, and what bf16-true needs. */
static lt_status check_table(const lt_device_t *dev, const lt_accel_opts *opts) {
    const char *slot = missing_slot(&dev->k);
    if (slot)
        return lt_set_error(LT_ERR_PLUGIN,
                            "%s: accelerator '%s' leaves the required slot '%s' NULL; "
                            "fill every REQUIRED slot of LT_ACCELERATOR_SLOTS (lt/accelerator.h)",
                            lt_plugin_path(dev->plugin), dev->k.name, slot);
    if ((unsigned)opts->precision >= LT_PRECISION_COUNT ||
        (unsigned)opts->matmul_precision >= LT_MATMUL_COUNT)
        return lt_set_error(LT_ERR_INVALID_ARG,
                            "lt_device_from_plugin_opts: precision %d or "
                            "matmul precision %d is not a known value",
                            (int)opts->precision, (int)opts->matmul_precision);
    if (opts->precision == LT_PRECISION_BF16_TRUE && !dev->k.round_half)
        return lt_set_error(LT_ERR_UNSUPPORTED,
                            "%s: accelerator '%s' has no round_half kernel, so it cannot "
                            "train in precision bf16-true",
                            lt_plugin_path(dev->plugin), dev->k.name);
    return LT_OK;
}

lt_status lt_device_from_plugin_opts(lt_plugin_t *p, const lt_accel_opts *opts, lt_device_t **out) {
    *out = NULL;
    if (!p) return lt_last_status();
    lt_accel_opts o = {.struct_size = sizeof o};
    if (opts) memcpy(&o, opts, opts->struct_size < sizeof o ? opts->struct_size : sizeof o);
    o.struct_size = sizeof o;
    lt_device_t *dev = calloc(1, sizeof *dev);
    if (!dev) {
        lt_plugin_close(p);
        return lt_set_error(LT_ERR_OOM, "out of host memory opening a device");
    }
    dev->k = *(const lt_accelerator_desc *)lt_plugin_desc(p);
    dev->plugin = p;
    dev->precision = o.precision;
    dev->device_index = o.device_index;
    lt_status s = check_table(dev, &o);
    if (s != LT_OK) {
        lt_device_close(dev);
        return s;
    }
    lt_clear_error();
    s = dev->k.init(&o, &dev->state);
    if (s != LT_OK) {
        init_failed(dev, &o, s);
        dev->state = NULL;
        lt_device_close(dev);
        return s;
    }
    *out = dev;
    return LT_OK;
}

lt_status lt_device_from_plugin(lt_plugin_t *p, int threads, lt_device_t **out) {
    lt_accel_opts opts = {.struct_size = sizeof opts, .threads = threads};
    return lt_device_from_plugin_opts(p, &opts, out);
}

lt_status lt_device_open(const char *accel, int threads, lt_device_t **out) {
    lt_plugin_t *p = NULL;
    *out = NULL;
    lt_status s = lt_plugin_open(LT_PLUGIN_ACCELERATOR, accel, NULL, &p);
    if (s != LT_OK) return s;
    return lt_device_from_plugin(p, threads, out);
}

void lt_device_close(lt_device_t *dev) {
    if (!dev) return;
    lt__prof_timer_free(dev);
    if (dev->state) {
        pool_release_all(dev);
        if (dev->k.shutdown) dev->k.shutdown(dev->state);
    }
    for (lt_storage *s = dev->spare_storage, *next; s; s = next) {
        next = s->next_free;
        free(s);
    }
    lt_plugin_close(dev->plugin);
    free(dev);
}

void lt_device_set_memory_limit(lt_device_t *dev, uint64_t bytes) {
    if (dev) dev->pool.limit_bytes = bytes;
}

void lt_device_memory_usage(const lt_device_t *dev, uint64_t *held, uint64_t *peak,
                            uint64_t *failed) {
    const lt_pool none = {0}, *p = dev ? &dev->pool : &none;
    if (held) *held = p->held_bytes;
    if (peak) *peak = p->peak_bytes;
    if (failed) *failed = p->failed;
}

const char *lt_device_name(const lt_device_t *dev) { return dev ? dev->k.name : "(none)"; }

const char *lt_device_describe(const lt_device_t *dev) {
    const char *line = dev && dev->k.describe ? dev->k.describe(dev->state) : NULL;
    return line ? line : "";
}

lt_status lt_device_sync(lt_device_t *dev) {
    if (!dev) return lt_set_error(LT_ERR_INVALID_ARG, "lt_device_sync: device is NULL");
    lt_status s = dev->k.sync ? dev->k.sync(dev->state) : LT_OK;
    if (s == LT_OK) lt__prof_synced(dev);
    return s;
}

bool lt_device_host_memory(const lt_device_t *dev) { return dev && dev->k.host_memory; }

lt_precision lt_device_precision(const lt_device_t *dev) {
    return dev ? dev->precision : LT_PRECISION_32_TRUE;
}

bool lt_device_has_ranges(const lt_device_t *dev) {
    return dev && dev->k.range_push && dev->k.range_pop;
}

/* Both slots or neither: a push without its pop would leave a range open forever. */
void lt_device_range_push(lt_device_t *dev, const char *name) {
    if (lt_device_has_ranges(dev) && name) dev->k.range_push(dev->state, name);
}

void lt_device_range_pop(lt_device_t *dev) {
    if (lt_device_has_ranges(dev)) dev->k.range_pop(dev->state);
}

void lt__round_params(lt_device_t *dev, float *d_x, int64_t n) {
    if (dev->precision == LT_PRECISION_BF16_TRUE && n > 0)
        LT_KCALL(dev, "round_half", 0, LT_F32B(2 * n), round_half, n, d_x, 1, d_x);
}

bool lt__has_slot(const lt_device_t *dev, bool present, const char *slot_name, const char *op) {
    if (present) return true;
    lt_set_error(LT_ERR_UNSUPPORTED,
                 "%s: accelerator '%s' has no '%s' kernel (an optional slot of ABI 1.1 it "
                 "leaves NULL); run on an accelerator that fills it, e.g. --accelerator cpu",
                 op, lt_device_name(dev), slot_name);
    return false;
}
