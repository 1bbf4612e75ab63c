/* TensorBoard event files, as torch.utils.tensorboard.SummaryWriter writes them for
 * Lightning's TensorBoardLogger, without a protobuf library: the few fields we need are
 * encoded by hand.
 *
 * A file is a sequence of TFRecords:
 *   uint64 length (LE) | uint32 masked CRC32C of those 8 bytes | data | uint32 masked CRC32C of data
 * and each data is one tensorflow.Event:
 *   Event   { double wall_time = 1; int64 step = 2; string file_version = 3; Summary summary = 5; }
 *   Summary { repeated Value value = 1; }
 *   Value   { string tag = 1; float simple_value = 2; }
 * The first Event carries file_version "brain.Event:2"; then one Event per scalar, as
 * SummaryWriter.add_scalar makes. */
#define LOGGERS_IMPL
#include "loggers.h"

#include <errno.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <threads.h>
#include <time.h>
#include <unistd.h>

/* Buffered records are written once they pass this, flush or no flush. */
enum { TB_PENDING_MAX = 1 << 20 };

/* ---- CRC32C ---- */

/* Castagnoli, reflected polynomial 0x82F63B78. Debian ships no C library for CRC32C
 * (zlib's crc32 is the other polynomial), so this is the plain table-driven form. */
static uint32_t crc_table[256];
static once_flag crc_once = ONCE_FLAG_INIT;

static void crc_init(void) {
    for (uint32_t i = 0; i < 256; i++) {
        uint32_t c = i;
        for (int k = 0; k < 8; k++) c = (c & 1) ? (c >> 1) ^ 0x82F63B78u : c >> 1;
        crc_table[i] = c;
    }
}

uint32_t logs__crc32c(uint32_t crc, const void *data, size_t n) {
    call_once(&crc_once, crc_init);
    const uint8_t *p = data;
    crc = ~crc;
    for (size_t i = 0; i < n; i++) crc = crc_table[(crc ^ p[i]) & 0xff] ^ (crc >> 8);
    return ~crc;
}

/* TFRecord's masking, so a CRC stored inside CRC'd data does not confuse a reader. */
static uint32_t masked_crc(const void *data, size_t n) {
    uint32_t crc = logs__crc32c(0, data, n);
    return ((crc >> 15) | (crc << 17)) + 0xa282ead8u;
}

/* ---- a growable byte buffer; a failed growth sticks, so writers check once at the end ---- */

typedef struct {
    uint8_t *p;
    size_t len, cap;
    bool oom;
} bytes;

static void put(bytes *b, const void *data, size_t n) {
    if (b->oom) return;
    if (b->len + n > b->cap) {
        size_t cap = b->cap ? b->cap : 256;
        while (cap < b->len + n) cap *= 2;
        uint8_t *p = realloc(b->p, cap);
        if (!p) {
            b->oom = true;
            return;
        }
        b->p = p;
        b->cap = cap;
    }
    memcpy(b->p + b->len, data, n);
    b->len += n;
}

/* Little-endian, whatever the host. */
static void put_le(bytes *b, uint64_t v, int nbytes) {
    uint8_t o[8];
    for (int i = 0; i < nbytes; i++) o[i] = (uint8_t)(v >> (8 * i));
    put(b, o, (size_t)nbytes);
}

/* ---- protobuf wire format ---- */

enum { WIRE_VARINT = 0, WIRE_I64 = 1, WIRE_LEN = 2, WIRE_I32 = 5 };

static size_t varint_len(uint64_t v) {
    size_t n = 1;
    while (v >= 0x80) {
        v >>= 7;
        n++;
    }
    return n;
}

static void put_varint(bytes *b, uint64_t v) {
    uint8_t o[10];
    size_t n = 0;
    for (; v >= 0x80; v >>= 7) o[n++] = (uint8_t)(v | 0x80);
    o[n++] = (uint8_t)v;
    put(b, o, n);
}

static void put_key(bytes *b, int field, int wire) { put_varint(b, (uint64_t)(field << 3 | wire)); }

static void put_double(bytes *b, int field, double v) {
    uint64_t bits;
    memcpy(&bits, &v, sizeof bits);
    put_key(b, field, WIRE_I64);
    put_le(b, bits, 8);
}

static void put_float(bytes *b, int field, float v) {
    uint32_t bits;
    memcpy(&bits, &v, sizeof bits);
    put_key(b, field, WIRE_I32);
    put_le(b, bits, 4);
}

static void put_string(bytes *b, int field, const char *s) {
    size_t n = strlen(s);
    put_key(b, field, WIRE_LEN);
    put_varint(b, n);
    put(b, s, n);
}

/* ---- events ---- */

static double wall_time(void) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* Event{wall_time, step, summary{value{tag, simple_value}}}. proto3 leaves out a zero
 * step; simple_value sits in a oneof, so even 0.0 is written. */
static void put_scalar_event(bytes *b, double t, int64_t step, const char *tag, float v) {
    size_t tag_len = strlen(tag);
    size_t value_len = 1 + varint_len(tag_len) + tag_len + 1 + 4;
    size_t summary_len = 1 + varint_len(value_len) + value_len;
    put_double(b, 1, t);
    if (step != 0) {
        put_key(b, 2, WIRE_VARINT);
        put_varint(b, (uint64_t)step);
    }
    put_key(b, 5, WIRE_LEN);
    put_varint(b, summary_len);
    put_key(b, 1, WIRE_LEN);
    put_varint(b, value_len);
    put_string(b, 1, tag);
    put_float(b, 2, v);
}

/* The TFRecord framing of data into out. */
static void put_record(bytes *out, const bytes *data) {
    uint8_t len[8];
    for (int i = 0; i < 8; i++) len[i] = (uint8_t)((uint64_t)data->len >> (8 * i));
    put(out, len, sizeof len);
    put_le(out, masked_crc(len, sizeof len), 4);
    put(out, data->p, data->len);
    put_le(out, masked_crc(data->p, data->len), 4);
}

/* ---- the logger ---- */

typedef struct {
    logger base;
    char *path; /* dir/events.out.tfevents.* */
    FILE *f;
    bytes pending; /* framed records not yet written */
    bytes event;   /* the Event being encoded */
} tb_logger;

static void tb_free(logger *lg) {
    tb_logger *t = (tb_logger *)lg;
    if (t->f) fclose(t->f);
    free(t->pending.p);
    free(t->event.p);
    free(t->path);
    free(t);
}

static bool tb_flush(logger *lg, char *err, size_t errn) {
    tb_logger *t = (tb_logger *)lg;
    if (t->pending.len && fwrite(t->pending.p, 1, t->pending.len, t->f) != t->pending.len) goto bad;
    t->pending.len = 0;
    if (fflush(t->f) == 0) return true;
bad:
    logs__err(err, errn, "cannot write %s: %s", t->path, strerror(errno));
    return false;
}

/* Frames the encoded event into pending; false (and pending unchanged) when out of memory. */
static bool queue_event(tb_logger *t) {
    size_t before = t->pending.len;
    if (!t->event.oom) put_record(&t->pending, &t->event);
    bool ok = !t->event.oom && !t->pending.oom;
    if (!ok) t->pending.len = before;
    t->event.len = 0;
    t->event.oom = t->pending.oom = false;
    return ok;
}

static bool tb_log(logger *lg, const metric_kv *m, int n, int64_t step, char *err, size_t errn) {
    tb_logger *t = (tb_logger *)lg;
    double now = wall_time();
    for (int i = 0; i < n; i++) {
        put_scalar_event(&t->event, now, step, m[i].name, (float)m[i].value);
        if (!queue_event(t)) {
            logs__err(err, errn, "%s: out of memory buffering '%s'", t->path, m[i].name);
            return false;
        }
    }
    return t->pending.len < TB_PENDING_MAX || tb_flush(lg, err, errn);
}

static const struct logger_ops tb_ops = {
    /* .name  = */ "tensorboard",
    /* .log   = */ tb_log,
    /* .flush = */ tb_flush,
    /* .free  = */ tb_free,
};

/* events.out.tfevents.<%010d unix time>.<host>.<pid>.<n>, n counting the files this
 * process opened (tensorboard's _global_uid), so two loggers in one second differ. */
static char *event_file_name(const char *dir) {
    static atomic_int counter;
    char host[256] = "localhost";
    gethostname(host, sizeof host - 1);
    host[sizeof host - 1] = '\0';
    int uid = atomic_fetch_add(&counter, 1);
    const char *fmt = "%s/events.out.tfevents.%010lld.%s.%d.%d";
    long long now = (long long)time(NULL);
    int n = snprintf(NULL, 0, fmt, dir, now, host, (int)getpid(), uid);
    char *path = malloc((size_t)n + 1);
    if (path) snprintf(path, (size_t)n + 1, fmt, dir, now, host, (int)getpid(), uid);
    return path;
}

/* The file's first Event names the format; written at once, like tensorboard does, so
 * a reader sees a valid file even before the first scalar. */
static bool write_file_version(tb_logger *t, char *err, size_t errn) {
    put_double(&t->event, 1, wall_time());
    put_string(&t->event, 3, "brain.Event:2");
    if (!queue_event(t)) {
        logs__err(err, errn, "%s: out of memory", t->path);
        return false;
    }
    return tb_flush(&t->base, err, errn);
}

logger *tb_logger_open(const char *dir, char *err, size_t errn) {
    struct stat st;
    if (!dir || stat(dir, &st) != 0 || !S_ISDIR(st.st_mode)) {
        logs__err(err, errn, "TensorBoard logger: %s is not a directory", dir ? dir : "(null)");
        return NULL;
    }
    tb_logger *t = calloc(1, sizeof *t);
    if (!t || !(t->path = event_file_name(dir))) {
        logs__err(err, errn, "TensorBoard logger for %s: out of memory", dir);
        free(t);
        return NULL;
    }
    t->base.ops = &tb_ops;
    if (!(t->f = fopen(t->path, "wb"))) {
        logs__err(err, errn, "cannot create %s: %s", t->path, strerror(errno));
        tb_free(&t->base);
        return NULL;
    }
    if (!write_file_version(t, err, errn)) {
        tb_free(&t->base);
        return NULL;
    }
    return &t->base;
}

/* ---- events of other summaries (issue #23: histograms, tb_histogram.c) ---- */

bool logs__tb_queue_value(logger *lg, const void *value, size_t n, int64_t step, char *err,
                          size_t errn) {
    tb_logger *t = (tb_logger *)lg;
    size_t summary_len = 1 + varint_len(n) + n;
    put_double(&t->event, 1, wall_time());
    if (step != 0) {
        put_key(&t->event, 2, WIRE_VARINT);
        put_varint(&t->event, (uint64_t)step);
    }
    put_key(&t->event, 5, WIRE_LEN);
    put_varint(&t->event, summary_len);
    put_key(&t->event, 1, WIRE_LEN);
    put_varint(&t->event, n);
    put(&t->event, value, n);
    if (!queue_event(t)) {
        logs__err(err, errn, "%s: out of memory buffering a summary", t->path);
        return false;
    }
    return t->pending.len < TB_PENDING_MAX || tb_flush(lg, err, errn);
}
