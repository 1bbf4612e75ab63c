/* DeviceStatsMonitor, as Lightning's: at every train/validation/test batch start and end
 * of a logging step (log_every_n_steps, as Lightning's should_update_logs) it sends the
 * device's statistics to the loggers as "DeviceStatsMonitor.<hook>/<stat>". On cpu they
 * are Lightning's get_cpu_stats (psutil's numbers, read from /proc here): cpu_percent
 * (system-wide utilisation since the previous reading), cpu_vm_percent, cpu_swap_percent,
 * plus lthost's cpu_rss_mb (this process's resident memory). An accelerator with the
 * memory_stats slot (cuda) adds torch.cuda.memory_stats' names for its caching allocator
 * (allocated_bytes.all.current, ...) and cudaMemGetInfo's free/total; read on the host,
 * they cost no device synchronisation. filter_keys (comma-separated) keeps only the
 * named stats. */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "../trainer/trainer.h"

enum {
    STAT_CPU,
    STAT_VM,
    STAT_SWAP,
    STAT_RSS,
    NCPU_STATS,
    STAT_ALLOC = NCPU_STATS,
    STAT_ALLOC_PEAK,
    STAT_RESERVED,
    STAT_RESERVED_PEAK,
    STAT_NALLOC,
    STAT_FREE,
    STAT_TOTAL,
    NSTATS
};
static const char *const stat_names[NSTATS] = {
    "cpu_percent", "cpu_vm_percent", "cpu_swap_percent", "cpu_rss_mb",
    /* torch.cuda.memory_stats' keys, then torch.cuda.mem_get_info's pair */
    "allocated_bytes.all.current", "allocated_bytes.all.peak", "reserved_bytes.all.current",
    "reserved_bytes.all.peak", "num_device_alloc", "mem_get_info.free", "mem_get_info.total"};

typedef struct device_stats {
    bool on;                      /* CPU stats to log on this device */
    const lt_accelerator_desc *k; /* with a memory_stats slot, or NULL */
    void *st;
    bool keep[NSTATS];              /* filter_keys */
    unsigned long long busy, total; /* /proc/stat at the previous reading */
} device_stats;

static const lt_hparam_desc ds_hparams[] = {
    LT_HPARAM_CHOICE("cpu_stats", "auto", "auto|true|false",
                     "log CPU stats (auto: when the accelerator is cpu)"),
    LT_HPARAM_STR("filter_keys", "", "comma-separated stats to keep (empty: all)"),
    LT_HPARAM_END,
};

/* psutil.cpu_percent(): busy share of all CPU time since the previous call. */
static double cpu_percent(device_stats *d) {
    unsigned long long v[8] = {0};
    FILE *f = fopen("/proc/stat", "r");
    int n = f ? fscanf(f, "cpu %llu %llu %llu %llu %llu %llu %llu %llu", &v[0], &v[1], &v[2], &v[3],
                       &v[4], &v[5], &v[6], &v[7])
              : 0;
    if (f) fclose(f);
    if (n < 5) return 0.0;
    unsigned long long total = 0, idle = v[3] + v[4];
    for (int i = 0; i < 8; i++) total += v[i];
    unsigned long long busy = total - idle;
    double pct = total > d->total && busy >= d->busy
                     ? 100.0 * (double)(busy - d->busy) / (double)(total - d->total)
                     : 0.0;
    d->busy = busy, d->total = total;
    return pct;
}

/* psutil's virtual_memory().percent and swap_memory().percent, from /proc/meminfo. */
static void memory_percents(double *vm, double *swap) {
    unsigned long long total = 0, avail = 0, swap_total = 0, swap_free = 0, v;
    char key[64];
    FILE *f = fopen("/proc/meminfo", "r");
    while (f && fscanf(f, "%63s %llu kB", key, &v) == 2) {
        if (!strcmp(key, "MemTotal:")) total = v;
        if (!strcmp(key, "MemAvailable:")) avail = v;
        if (!strcmp(key, "SwapTotal:")) swap_total = v;
        if (!strcmp(key, "SwapFree:")) swap_free = v;
    }
    if (f) fclose(f);
    *vm = total ? 100.0 * (double)(total - avail) / (double)total : 0.0;
    *swap = swap_total ? 100.0 * (double)(swap_total - swap_free) / (double)swap_total : 0.0;
}

static double rss_mb(void) {
    long pages = 0, resident = 0;
    FILE *f = fopen("/proc/self/statm", "r");
    if (f && fscanf(f, "%ld %ld", &pages, &resident) != 2) resident = 0;
    if (f) fclose(f);
    return (double)resident * (double)sysconf(_SC_PAGESIZE) / (1024.0 * 1024.0);
}

static lt_status parse_filter(lt_ctx_t *ctx, device_stats *d) {
    const char *keys = lt_hparam_str(ctx, "filter_keys");
    for (int i = 0; i < NSTATS; i++) d->keep[i] = !*keys;
    for (const char *k = keys; *k;) {
        size_t n = strcspn(k, ", ");
        int i = 0;
        while (i < NSTATS && (strlen(stat_names[i]) != n || strncmp(stat_names[i], k, n))) i++;
        if (n && i == NSTATS)
            fprintf(stderr,
                    "lthost: warning: DeviceStatsMonitor filter_keys contains '%.*s', which is "
                    "not a device stat (cpu_percent, cpu_vm_percent, cpu_swap_percent, "
                    "cpu_rss_mb, allocated_bytes.all.current, allocated_bytes.all.peak, "
                    "reserved_bytes.all.current, reserved_bytes.all.peak, num_device_alloc, "
                    "mem_get_info.free, mem_get_info.total); it is ignored\n",
                    (int)n, k);
        else if (n)
            d->keep[i] = true;
        k += n + strspn(k + n, ", ");
    }
    return LT_OK;
}

static lt_status ds_setup(lt_ctx_t *ctx, void *self) {
    device_stats *d = self;
    session *s = lt_trainer(ctx)->host;
    if (strcmp(lt_stage(ctx), "fit") != 0) return LT_OK;
    if (!strcmp(s->cfg->logger, "false"))
        return lt_set_error(LT_ERR_INVALID_ARG, "Cannot use DeviceStatsMonitor callback with "
                                                "--logger false");
    const char *cpu = lt_hparam_str(ctx, "cpu_stats");
    bool on_cpu = lt_device_host_memory(s->dev);
    d->on = !strcmp(cpu, "true") || (!strcmp(cpu, "auto") && on_cpu);
    d->k = lt_device_kernels(s->dev, &d->st);
    if (d->k && !d->k->memory_stats) d->k = NULL;
    if (!d->on && !d->k && !on_cpu && !strcmp(cpu, "auto") && s->group.rank == 0)
        fprintf(stderr,
                "lthost: warning: DeviceStatsMonitor: the %s accelerator reports no "
                "memory statistics; --callbacks.cpu_stats true logs the CPU's\n",
                lt_device_name(s->dev));
    cpu_percent(d); /* the first reading starts the interval */
    return parse_filter(ctx, d);
}

static lt_status log_stats(lt_ctx_t *ctx, device_stats *d, const char *hook) {
    session *s = lt_trainer(ctx)->host;
    bool due =
        (s->pos.batches_that_stepped + 1) % s->cfg->log_every_n_steps == 0 || s->tr.should_stop;
    if ((!d->on && !d->k) || !due || lt_trainer_sanity_checking(&s->tr)) return LT_OK;
    double v[NSTATS] = {0};
    bool have[NSTATS] = {false};
    if (d->on) {
        v[STAT_CPU] = cpu_percent(d);
        memory_percents(&v[STAT_VM], &v[STAT_SWAP]);
        v[STAT_RSS] = rss_mb();
        for (int i = 0; i < NCPU_STATS; i++) have[i] = true;
    }
    lt_mem_stats m = {0};
    if (d->k && d->k->memory_stats(d->st, &m) == 0) {
        const uint64_t mv[] = {m.allocated_bytes,     m.allocated_peak_bytes, m.reserved_bytes,
                               m.reserved_peak_bytes, m.num_device_alloc,     m.free_bytes,
                               m.total_bytes};
        for (int i = NCPU_STATS; i < NSTATS; i++) v[i] = (double)mv[i - NCPU_STATS], have[i] = true;
    }
    char names[NSTATS][96];
    const char *keys[NSTATS];
    double vals[NSTATS];
    int n = 0;
    for (int i = 0; i < NSTATS; i++) {
        if (!d->keep[i] || !have[i]) continue;
        snprintf(names[n], sizeof names[n], "DeviceStatsMonitor.%s/%s", hook, stat_names[i]);
        keys[n] = names[n], vals[n++] = v[i];
    }
    if (!trainer_log_row(s, keys, vals, n))
        return lt_set_error(LT_ERR_IO, "DeviceStatsMonitor could not write to the loggers");
    return LT_OK;
}

#define DS_BATCH_HOOKS(X)                                                                          \
    X(on_train_batch_start, start)                                                                 \
    X(on_train_batch_end, end)                                                                     \
    X(on_validation_batch_start, start)                                                            \
    X(on_validation_batch_end, end) X(on_test_batch_start, start) X(on_test_batch_end, end)
#define DS_start(hook)                                                                             \
    static lt_status ds_##hook(lt_ctx_t *ctx, void *self, const lt_batch_t *b, int64_t i) {        \
        (void)b, (void)i;                                                                          \
        return log_stats(ctx, self, #hook);                                                        \
    }
#define DS_end(hook)                                                                               \
    static lt_status ds_##hook(lt_ctx_t *ctx, void *self, lt_tensor_t *o, const lt_batch_t *b,     \
                               int64_t i) {                                                        \
        (void)o, (void)b, (void)i;                                                                 \
        return log_stats(ctx, self, #hook);                                                        \
    }
#define DS_DEFINE(hook, kind) DS_##kind(hook)
DS_BATCH_HOOKS(DS_DEFINE)
#define DS_SLOT(hook, kind) .hook = ds_##hook,

const lt_callback_desc device_stats_callback = {.abi_major = LT_ABI_MAJOR,
                                                .abi_minor = LT_ABI_MINOR,
                                                .struct_size = sizeof(lt_callback_desc),
                                                .name = "DeviceStatsMonitor",
                                                .self_size = sizeof(device_stats),
                                                .hparams = ds_hparams,
                                                .setup = ds_setup,
                                                DS_BATCH_HOOKS(DS_SLOT)};
