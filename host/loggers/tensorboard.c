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
#include "pb_write.h" /* the protobuf wire format, shared with the ONNX exporter */

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

/* ---- events ---- */

static double wall_time(void) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* Event{wall_time, step, summary{value{tag, simple_value}}}. proto3 leaves out a zero
 * step; simple_value sits in a oneof, so even 0.0 is written. */
static void put_scalar_event(lt_pb_buf *b, double t, int64_t step, const char *tag, float v) {
    size_t tag_len = strlen(tag);
    size_t value_len = 1 + lt__pb_varint_len(tag_len) + tag_len + 1 + 4;
    size_t summary_len = 1 + lt__pb_varint_len(value_len) + value_len;
    lt__pb_put_double(b, 1, t);
    if (step != 0) {
        lt__pb_put_key(b, 2, LT_PB_VARINT);
        lt__pb_put_varint(b, (uint64_t)step);
    }
    lt__pb_put_key(b, 5, LT_PB_LEN);
    lt__pb_put_varint(b, summary_len);
    lt__pb_put_key(b, 1, LT_PB_LEN);
    lt__pb_put_varint(b, value_len);
    lt__pb_put_string(b, 1, tag);
    lt__pb_put_float(b, 2, v);
}

/* The TFRecord framing of data into out. */
static void put_record(lt_pb_buf *out, const lt_pb_buf *data) {
    uint8_t len[8];
    for (int i = 0; i < 8; i++) len[i] = (uint8_t)((uint64_t)data->len >> (8 * i));
    lt__pb_put(out, len, sizeof len);
    lt__pb_put_le(out, masked_crc(len, sizeof len), 4);
    lt__pb_put(out, data->p, data->len);
    lt__pb_put_le(out, masked_crc(data->p, data->len), 4);
}

/* ---- the logger ---- */

typedef struct {
    logger base;
    char *path; /* dir/events.out.tfevents.* */
    FILE *f;
    lt_pb_buf pending; /* framed records not yet written */
    lt_pb_buf event;   /* the Event being encoded */
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

/* ---- issue 23 (gen): image summaries ---- */

/* Event{wall_time, step, summary{value{tag, image{height, width, colorspace = 3 (RGB),
 * encoded_image_string = the PNG}}}}, as SummaryWriter.add_image writes it. */
static void put_image_event(lt_pb_buf *b, double t, int64_t step, const char *tag, int64_t h,
                            int64_t w, const uint8_t *png, size_t n) {
    size_t tag_len = strlen(tag);
    size_t image_len = 1 + lt__pb_varint_len((uint64_t)h) + 1 + lt__pb_varint_len((uint64_t)w) + 1 +
                       1 + 1 + lt__pb_varint_len(n) + n;
    size_t value_len =
        1 + lt__pb_varint_len(tag_len) + tag_len + 1 + lt__pb_varint_len(image_len) + image_len;
    lt__pb_put_double(b, 1, t);
    if (step != 0) {
        lt__pb_put_key(b, 2, LT_PB_VARINT);
        lt__pb_put_varint(b, (uint64_t)step);
    }
    lt__pb_put_key(b, 5, LT_PB_LEN);
    lt__pb_put_varint(b, 1 + lt__pb_varint_len(value_len) + value_len);
    lt__pb_put_key(b, 1, LT_PB_LEN);
    lt__pb_put_varint(b, value_len);
    lt__pb_put_string(b, 1, tag);
    lt__pb_put_key(b, 4, LT_PB_LEN);
    lt__pb_put_varint(b, image_len);
    lt__pb_put_key(b, 1, LT_PB_VARINT);
    lt__pb_put_varint(b, (uint64_t)h);
    lt__pb_put_key(b, 2, LT_PB_VARINT);
    lt__pb_put_varint(b, (uint64_t)w);
    lt__pb_put_key(b, 3, LT_PB_VARINT);
    lt__pb_put_varint(b, 3);
    lt__pb_put_key(b, 4, LT_PB_LEN);
    lt__pb_put_varint(b, n);
    lt__pb_put(b, png, n);
}

static bool tb_log_image(logger *lg, const char *tag, int64_t step, int64_t h, int64_t w,
                         const uint8_t *png, size_t n, char *err, size_t errn) {
    tb_logger *t = (tb_logger *)lg;
    put_image_event(&t->event, wall_time(), step, tag, h, w, png, n);
    if (!queue_event(t)) {
        logs__err(err, errn, "%s: out of memory buffering image '%s'", t->path, tag);
        return false;
    }
    return tb_flush(lg, err, errn); /* images are rare and large: out at once */
}

static const struct logger_ops tb_ops = {
    /* .name      = */ "tensorboard",
    /* .log       = */ tb_log,
    /* .flush     = */ tb_flush,
    /* .free      = */ tb_free,
    /* .log_image = */ tb_log_image,
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
    lt__pb_put_double(&t->event, 1, wall_time());
    lt__pb_put_string(&t->event, 3, "brain.Event:2");
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
    size_t summary_len = 1 + lt__pb_varint_len(n) + n;
    lt__pb_put_double(&t->event, 1, wall_time());
    if (step != 0) {
        lt__pb_put_key(&t->event, 2, LT_PB_VARINT);
        lt__pb_put_varint(&t->event, (uint64_t)step);
    }
    lt__pb_put_key(&t->event, 5, LT_PB_LEN);
    lt__pb_put_varint(&t->event, summary_len);
    lt__pb_put_key(&t->event, 1, LT_PB_LEN);
    lt__pb_put_varint(&t->event, n);
    lt__pb_put(&t->event, value, n);
    if (!queue_event(t)) {
        logs__err(err, errn, "%s: out of memory buffering a summary", t->path);
        return false;
    }
    return t->pending.len < TB_PENDING_MAX || tb_flush(lg, err, errn);
}
