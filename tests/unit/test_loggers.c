/* Experiment loggers: version directories numbered like Lightning's, metrics.csv byte for
 * byte as Lightning's CSVLogger writes it, TensorBoard files read back by a small decoder
 * here (framing CRCs checked), hparams.yaml as PyYAML dumps it, and errors naming paths.
 *
 * With LT_LOGGERS_OUT set, reference_dir leaves a lightning_logs/version_N there for
 * tests/reference/check_loggers.py (TensorBoard's own reader against the CSV). */
#define LOGGERS_IMPL
#include "../../host/loggers/loggers.h"

#include <dirent.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "test_util.h"

static char dir[64];
static char err[512];

static void make_dir(void) {
    snprintf(dir, sizeof dir, "/tmp/lt_loggers_XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(dir));
}

static void remove_dir(void) {
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    ck_assert_int_eq(system(cmd), 0);
}

/* The whole of a small file, NUL-terminated, in a static buffer; *n its length. */
static const char *slurp(const char *path, size_t *n) {
    static char buf[1 << 16];
    FILE *f = fopen(path, "rb");
    ck_assert_msg(f != NULL, "cannot open %s", path);
    size_t got = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[got] = '\0';
    if (n) *n = got;
    return buf;
}

/* a/b by value, so several can be alive at once: join(dir, "x").s */
typedef struct {
    char s[512];
} path_t;

static path_t join(const char *a, const char *b) {
    char tmp[sizeof(path_t)]; /* not p.s directly: GCC cannot tell a, b from the result */
    ck_assert_int_lt(snprintf(tmp, sizeof tmp, "%s/%s", a, b), (int)sizeof tmp);
    path_t p;
    memcpy(p.s, tmp, sizeof tmp);
    return p;
}

/* ---- version directories ---- */

START_TEST(version_dirs_count_up) {
    char out[256];
    ck_assert(logs_make_version_dir(dir, "lightning_logs", -1, out, sizeof out, err, sizeof err));
    ck_assert_str_eq(out, join(dir, "lightning_logs/version_0").s);
    ck_assert(logs_make_version_dir(dir, "lightning_logs", -1, out, sizeof out, err, sizeof err));
    ck_assert_str_eq(out, join(dir, "lightning_logs/version_1").s);
    /* Not numbers, or not directories: skipped. "version_3_old" is 3 to Lightning (split("_")[1]). */
    path_t logs_dir = join(dir, "lightning_logs");
    const char *logs = logs_dir.s;
    ck_assert_int_eq(mkdir(join(logs, "version_x").s, 0777), 0);
    ck_assert_int_eq(mkdir(join(logs, "version_").s, 0777), 0);
    fclose(fopen(join(logs, "version_9").s, "w"));
    ck_assert(logs_make_version_dir(dir, "lightning_logs", -1, out, sizeof out, err, sizeof err));
    ck_assert_str_eq(out, join(logs, "version_2").s);
    ck_assert_int_eq(mkdir(join(logs, "version_3_old").s, 0777), 0);
    ck_assert(logs_make_version_dir(dir, "lightning_logs", -1, out, sizeof out, err, sizeof err));
    ck_assert_str_eq(out, join(logs, "version_4").s);
    /* A forced version, and no name: straight under root. */
    ck_assert(logs_make_version_dir(dir, "lightning_logs", 17, out, sizeof out, err, sizeof err));
    ck_assert_str_eq(out, join(logs, "version_17").s);
    ck_assert(
        logs_make_version_dir(join(dir, "a/b").s, NULL, -1, out, sizeof out, err, sizeof err));
    ck_assert_str_eq(out, join(dir, "a/b/version_0").s);
}
END_TEST

/* ---- CSV ---- */

START_TEST(float_repr_is_pythons) {
    static const struct {
        double v;
        const char *text;
    } cases[] = {
        {0.0, "0.0"},
        {-0.0, "-0.0"},
        {1.0, "1.0"},
        {0.5, "0.5"},
        {0.1, "0.1"},
        {(double)0.1f, "0.10000000149011612"},
        {1.0 / 3, "0.3333333333333333"},
        {1e-4, "0.0001"},
        {1e-5, "1e-05"},
        {1.5e-7, "1.5e-07"},
        {123456.789, "123456.789"},
        {1e15, "1000000000000000.0"},
        {1e16, "1e+16"},
        {1.2345e100, "1.2345e+100"},
        {5e-324, "5e-324"},
        {1.7976931348623157e308, "1.7976931348623157e+308"},
        {1.0 / 0.0, "inf"},
        {-1.0 / 0.0, "-inf"},
        {0.0 / 0.0, "nan"},
        {-42.0, "-42.0"},
    };
    char buf[32];
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++)
        ck_assert_str_eq(logs__float_repr(cases[i].v, buf), cases[i].text);
}
END_TEST

static void log_ok(logger *lg, const metric_kv *m, int n, int64_t step) {
    ck_assert_msg(logger_log_metrics(lg, m, n, step, err, sizeof err), "%s", err);
}

/* New columns rewrite the file under the sorted union header; old rows get empty cells. A
 * metric named "step" loses to the step argument; epoch is an int; "a,b" is quoted (and
 * read back when the next new column rewrites the file again). */
START_TEST(csv_matches_lightning) {
    logger *lg = csv_logger_open(dir, err, sizeof err);
    ck_assert_msg(lg != NULL, "%s", err);
    ck_assert_str_eq(logger_name(lg), "csv");
    log_ok(lg, (metric_kv[]){{"train_loss", 0.5}, {"lr", (double)0.1f}}, 2, 0);
    log_ok(lg, (metric_kv[]){{"train_loss", 0.25}}, 1, 1);
    ck_assert(access(join(dir, "metrics.csv").s, F_OK) != 0); /* buffered until a flush */
    ck_assert(logger_flush(lg, err, sizeof err));
    ck_assert_str_eq(slurp(join(dir, "metrics.csv").s, NULL),
                     "lr,step,train_loss\r\n0.10000000149011612,0,0.5\r\n,1,0.25\r\n");
    log_ok(lg, (metric_kv[]){{"val_loss", 1e-5}, {"epoch", 0}}, 2, 1);
    ck_assert(logger_flush(lg, err, sizeof err));
    log_ok(lg, (metric_kv[]){{"a,b", 2.0}, {"step", 99}}, 2, 2);
    ck_assert(logger_flush(lg, err, sizeof err));
    log_ok(lg, (metric_kv[]){{"z", 1e16}, {"epoch", 1}}, 2, 3);
    ck_assert(logger_close(lg, err, sizeof err));
    ck_assert_str_eq(slurp(join(dir, "metrics.csv").s, NULL),
                     "\"a,b\",epoch,lr,step,train_loss,val_loss,z\r\n"
                     ",,0.10000000149011612,0,0.5,,\r\n"
                     ",,,1,0.25,,\r\n"
                     ",0,,1,,1e-05,\r\n"
                     "2.0,,,2,,,\r\n"
                     ",1,,3,,,1e+16\r\n");
    ck_assert(access(join(dir, "metrics.csv.tmp").s, F_OK) != 0);
}
END_TEST

/* Lightning's flush_logs_every_n_steps=100: step 99 is written without a flush; an old
 * metrics.csv goes when a logger opens on the directory. */
START_TEST(csv_saves_every_100_steps) {
    FILE *f = fopen(join(dir, "metrics.csv").s, "w");
    fputs("old,stuff\r\n", f);
    fclose(f);
    logger *lg = csv_logger_open(dir, err, sizeof err);
    ck_assert(access(join(dir, "metrics.csv").s, F_OK) != 0);
    log_ok(lg, (metric_kv[]){{"x", 1}}, 1, 98);
    ck_assert(access(join(dir, "metrics.csv").s, F_OK) != 0);
    log_ok(lg, (metric_kv[]){{"x", 2}}, 1, 99);
    ck_assert_str_eq(slurp(join(dir, "metrics.csv").s, NULL), "step,x\r\n98,1.0\r\n99,2.0\r\n");
    ck_assert(logger_close(lg, err, sizeof err));
    ck_assert(logger_close(NULL, err, sizeof err));
}
END_TEST

/* CSVLogger(flush_logs_every_n_steps=3): steps 0 and 1 wait, step 2 writes all three. */
START_TEST(csv_flush_every_n_steps) {
    logger *lg = csv_logger_open(dir, err, sizeof err);
    ck_assert(!csv_logger_set_flush_every(lg, 0));
    ck_assert(csv_logger_set_flush_every(lg, 3));
    log_ok(lg, (metric_kv[]){{"x", 1}}, 1, 0);
    log_ok(lg, (metric_kv[]){{"x", 2}}, 1, 1);
    ck_assert(access(join(dir, "metrics.csv").s, F_OK) != 0);
    log_ok(lg, (metric_kv[]){{"x", 3}}, 1, 2);
    ck_assert_str_eq(slurp(join(dir, "metrics.csv").s, NULL),
                     "step,x\r\n0,1.0\r\n1,2.0\r\n2,3.0\r\n");
    ck_assert(logger_close(lg, err, sizeof err));
}
END_TEST

/* ---- TensorBoard: a reader of our own ---- */

/* Bit by bit, independent of the table in tensorboard.c. */
static uint32_t crc32c_bitwise(const uint8_t *p, size_t n) {
    uint32_t c = 0xffffffffu;
    for (size_t i = 0; i < n; i++) {
        c ^= p[i];
        for (int k = 0; k < 8; k++) c = (c >> 1) ^ (0x82F63B78u & (0u - (c & 1)));
    }
    return ~c;
}

static uint32_t masked(const uint8_t *p, size_t n) {
    uint32_t c = crc32c_bitwise(p, n);
    return ((c >> 15) | (c << 17)) + 0xa282ead8u;
}

START_TEST(crc32c_check_value) {
    ck_assert_uint_eq(logs__crc32c(0, "123456789", 9), 0xE3069283u);
    ck_assert_uint_eq(crc32c_bitwise((const uint8_t *)"123456789", 9), 0xE3069283u);
    ck_assert_uint_eq(logs__crc32c(logs__crc32c(0, "1234", 4), "56789", 5), 0xE3069283u);
}
END_TEST

typedef struct {
    const uint8_t *p, *end;
} cursor;

static uint64_t le(cursor *c, int n) {
    ck_assert_int_ge(c->end - c->p, n);
    uint64_t v = 0;
    for (int i = 0; i < n; i++) v |= (uint64_t)c->p[i] << (8 * i);
    c->p += n;
    return v;
}

static uint64_t varint(cursor *c) {
    uint64_t v = 0;
    for (int shift = 0;; shift += 7) {
        ck_assert(c->p < c->end && shift < 64);
        uint8_t b = *c->p++;
        v |= (uint64_t)(b & 0x7f) << shift;
        if (!(b & 0x80)) return v;
    }
}

/* A length-delimited field's bytes. */
static cursor sub(cursor *c) {
    uint64_t n = varint(c);
    ck_assert_uint_le(n, (uint64_t)(c->end - c->p));
    cursor s = {c->p, c->p + n};
    c->p += n;
    return s;
}

typedef struct {
    double wall;
    int64_t step;
    char version[32];
    char tag[32];
    float value;
    int nvalues;
} tb_event;

static void decode_value(cursor v, tb_event *e) {
    while (v.p < v.end) {
        uint64_t key = varint(&v);
        if (key == (1 << 3 | 2)) {
            cursor t = sub(&v);
            snprintf(e->tag, sizeof e->tag, "%.*s", (int)(t.end - t.p), (const char *)t.p);
        } else {
            ck_assert_uint_eq(key, 2 << 3 | 5);
            uint32_t bits = (uint32_t)le(&v, 4);
            memcpy(&e->value, &bits, 4);
        }
    }
    e->nvalues++;
}

static void decode_event(cursor c, tb_event *e) {
    memset(e, 0, sizeof *e);
    while (c.p < c.end) {
        uint64_t key = varint(&c);
        if (key == (1 << 3 | 1)) {
            uint64_t bits = le(&c, 8);
            memcpy(&e->wall, &bits, 8);
        } else if (key == (2 << 3 | 0)) {
            e->step = (int64_t)varint(&c);
        } else if (key == (3 << 3 | 2)) {
            cursor s = sub(&c);
            snprintf(e->version, sizeof e->version, "%.*s", (int)(s.end - s.p), (const char *)s.p);
        } else {
            ck_assert_uint_eq(key, 5 << 3 | 2);
            cursor summary = sub(&c);
            while (summary.p < summary.end) {
                ck_assert_uint_eq(varint(&summary), 1 << 3 | 2);
                decode_value(sub(&summary), e);
            }
        }
    }
}

/* Every record of the file, framing CRCs checked, decoded into ev (at most max); the count. */
static int read_events(const char *path, tb_event *ev, int max) {
    size_t n;
    const char *buf = slurp(path, &n);
    cursor c = {(const uint8_t *)buf, (const uint8_t *)buf + n};
    int count = 0;
    while (c.p < c.end) {
        ck_assert_int_lt(count, max);
        const uint8_t *len_bytes = c.p;
        uint64_t len = le(&c, 8);
        ck_assert_uint_eq(le(&c, 4), masked(len_bytes, 8));
        ck_assert_uint_le(len, (uint64_t)(c.end - c.p));
        cursor data = {c.p, c.p + len};
        c.p += len;
        ck_assert_uint_eq(le(&c, 4), masked(data.p, len));
        decode_event(data, &ev[count++]);
    }
    return count;
}

/* The one events.out.tfevents.* file in d. */
static const char *find_event_file(const char *d) {
    static char path[512];
    DIR *dd = opendir(d);
    ck_assert_ptr_nonnull(dd);
    int found = 0;
    for (struct dirent *e; (e = readdir(dd)) != NULL;) {
        if (strncmp(e->d_name, "events.out.tfevents.", 20) != 0) continue;
        snprintf(path, sizeof path, "%s/%s", d, e->d_name);
        found++;
    }
    closedir(dd);
    ck_assert_int_eq(found, 1);
    return path;
}

/* events.out.tfevents.<10-digit time>.<host>.<pid>.<n> */
static void check_event_file_name(const char *path) {
    const char *name = strrchr(path, '/') + 1 + 20;
    ck_assert_uint_eq(strspn(name, "0123456789"), 10);
    char host[256] = "", pid[32];
    gethostname(host, sizeof host - 1);
    snprintf(pid, sizeof pid, ".%d.", (int)getpid());
    ck_assert_ptr_nonnull(strstr(name, host));
    ck_assert_ptr_nonnull(strstr(name + 11 + strlen(host), pid));
}

START_TEST(tensorboard_events_decode) {
    logger *lg = tb_logger_open(dir, err, sizeof err);
    ck_assert_msg(lg != NULL, "%s", err);
    ck_assert_str_eq(logger_name(lg), "tensorboard");
    const char *path = find_event_file(dir);
    check_event_file_name(path);
    log_ok(lg, (metric_kv[]){{"loss", 0.5}, {"acc", (double)0.1f}}, 2, 0);
    log_ok(lg, (metric_kv[]){{"train/loss", 0.0}}, 1, 7);
    log_ok(lg, (metric_kv[]){{"big_step", -3.0}}, 1, (int64_t)1 << 40);
    ck_assert(logger_close(lg, err, sizeof err));
    tb_event ev[8];
    ck_assert_int_eq(read_events(path, ev, 8), 5);
    ck_assert_str_eq(ev[0].version, "brain.Event:2");
    ck_assert_int_eq(ev[0].nvalues, 0);
    ck_assert(ev[0].wall > 1.6e9);
    static const struct {
        const char *tag;
        int64_t step;
        float v;
    } want[] = {
        {"loss", 0, 0.5f},
        {"acc", 0, 0.1f},
        {"train/loss", 7, 0.0f},
        {"big_step", (int64_t)1 << 40, -3.0f},
    };
    for (int i = 0; i < 4; i++) {
        ck_assert_int_eq(ev[i + 1].nvalues, 1);
        ck_assert_str_eq(ev[i + 1].tag, want[i].tag);
        ck_assert_int_eq(ev[i + 1].step, want[i].step);
        ck_assert(ev[i + 1].value == want[i].v);
        ck_assert(ev[i + 1].wall >= ev[0].wall);
    }
}
END_TEST

/* ---- hparams.yaml ---- */

/* What yaml.dump gives for the same dict (checked with PyYAML 6): sorted keys, quotes where
 * plain text would read back as another type, the last of a repeated key. */
START_TEST(hparams_yaml_matches_pyyaml) {
    const hparam_kv hp[] = {
        {"lr", "0.001", HP_TEXT_FLOAT},
        {"weight_decay", "1e-5", HP_TEXT_FLOAT},
        {"batch_size", "32", HP_TEXT_INT},
        {"optimizer", "adam", HP_TEXT_STR},
        {"version", "123", HP_TEXT_STR},
        {"flag", "True", HP_TEXT_BOOL},
        {"note", "yes", HP_TEXT_STR},
        {"empty", "", HP_TEXT_STR},
        {"path", "a: b", HP_TEXT_STR},
        {"big", "1e16", HP_TEXT_FLOAT},
        {"nan", ".nan", HP_TEXT_FLOAT},
        {"name with space", "hello world", HP_TEXT_STR},
        {"when", "2024-01-01", HP_TEXT_STR},
        {"zeta", "x", HP_TEXT_STR},
        {"hash", "#x", HP_TEXT_STR},
        {"octal", "010", HP_TEXT_INT},
        {"ratio", "3", HP_TEXT_FLOAT},
        {"tilde", "~", HP_TEXT_STR},
        {"unicode", "caf\xc3\xa9", HP_TEXT_STR},
        {"true", "key is a bool word", HP_TEXT_STR},
        {"long",
         "the quick brown fox jumps over the lazy dog and keeps running past the end of the line "
         "width",
         HP_TEXT_STR},
        {"neg", "-0.5", HP_TEXT_FLOAT},
        {"ninf", "-.inf", HP_TEXT_FLOAT},
        {"zeta", "y", HP_TEXT_STR},
    };
    ck_assert_msg(write_hparams_yaml(dir, hp, sizeof hp / sizeof *hp, err, sizeof err), "%s", err);
    ck_assert_str_eq(
        slurp(join(dir, "hparams.yaml").s, NULL),
        "batch_size: 32\nbig: 1.0e+16\nempty: ''\nflag: true\nhash: '#x'\n"
        "long: the quick brown fox jumps over the lazy dog and keeps running past the end of\n"
        "  the line width\nlr: 0.001\nname with space: hello world\nnan: .nan\nneg: -0.5\n"
        "ninf: -.inf\nnote: 'yes'\noctal: 8\noptimizer: adam\npath: 'a: b'\nratio: 3.0\n"
        "tilde: '~'\n'true': key is a bool word\nunicode: \"caf\\xE9\"\nversion: '123'\n"
        "weight_decay: 1.0e-05\nwhen: '2024-01-01'\nzeta: y\n");
    ck_assert(write_hparams_yaml(dir, NULL, 0, err, sizeof err));
    ck_assert_str_eq(slurp(join(dir, "hparams.yaml").s, NULL), "{}\n");
}
END_TEST

/* ---- errors name the path ---- */

static void expect_err(bool ok, const char *what) {
    ck_assert_msg(!ok, "expected a failure about %s", what);
    ck_assert_msg(strstr(err, what) != NULL, "message lacks '%s': %s", what, err);
}

/* Ints in each YAML 1.1 notation come out as Python's str(int) (checked with PyYAML 6);
 * digits the notation does not allow are an error naming the hparam. */
START_TEST(hparams_yaml_int_notations) {
    static const struct {
        const char *text, *yaml;
    } ints[] = {
        {"0b101", "5"},   {"0x1F", "31"},
        {"-0x10", "-16"}, {"017", "15"},
        {"0", "0"},       {"-0", "0"},
        {"+7", "7"},      {"1_000", "1000"},
        {"-0b0", "0"},    {"123456789012345678901234567890", "123456789012345678901234567890"},
    };
    for (size_t i = 0; i < sizeof ints / sizeof *ints; i++) {
        hparam_kv hp = {"n", ints[i].text, HP_TEXT_INT};
        ck_assert_msg(write_hparams_yaml(dir, &hp, 1, err, sizeof err), "%s: %s", ints[i].text,
                      err);
        char want[64];
        snprintf(want, sizeof want, "n: %s\n", ints[i].yaml);
        ck_assert_str_eq(slurp(join(dir, "hparams.yaml").s, NULL), want);
    }
    static const char *const bad[] = {"0x", "0b2", "09", "0xG", "--1", "1.5", ""};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        hparam_kv hp = {"count", bad[i], HP_TEXT_INT};
        expect_err(write_hparams_yaml(dir, &hp, 1, err, sizeof err), "'count'");
    }
}
END_TEST

START_TEST(errors_name_the_path) {
    char out[256];
    path_t file_path = join(dir, "file");
    const char *file = file_path.s;
    fclose(fopen(file, "w"));
    expect_err(logs_make_version_dir(file, "lightning_logs", -1, out, sizeof out, err, sizeof err),
               file);
    expect_err(logs_make_version_dir(dir, "x", -1, out, 8, err, sizeof err), "8-byte");
    expect_err(csv_logger_open(join(dir, "missing").s, err, sizeof err) != NULL,
               join(dir, "missing").s);
    expect_err(tb_logger_open(file, err, sizeof err) != NULL, file);
    expect_err(write_hparams_yaml(join(dir, "missing").s, NULL, 0, err, sizeof err),
               join(dir, "missing").s);
    hparam_kv bad = {"epochs", "ten", HP_TEXT_INT};
    expect_err(write_hparams_yaml(dir, &bad, 1, err, sizeof err), "'epochs'");
    hparam_kv unnamed = {"", "x", HP_TEXT_STR};
    expect_err(write_hparams_yaml(dir, &unnamed, 1, err, sizeof err), "hparam 0");
    /* A directory where metrics.csv should go: the flush fails, the rows wait for a retry. */
    logger *lg = csv_logger_open(dir, err, sizeof err);
    log_ok(lg, (metric_kv[]){{"x", 1}}, 1, 0);
    path_t csv_path = join(dir, "metrics.csv");
    const char *csv = csv_path.s;
    ck_assert_int_eq(mkdir(csv, 0777), 0);
    expect_err(logger_flush(lg, err, sizeof err), csv);
    ck_assert_int_eq(rmdir(csv), 0);
    ck_assert(logger_close(lg, err, sizeof err));
    ck_assert_str_eq(slurp(csv, NULL), "step,x\r\n0,1.0\r\n");
    expect_err(logger_log_metrics(NULL, NULL, 0, 0, err, sizeof err), "no logger");
}
END_TEST

/* ---- a directory for the reference check ---- */

/* Lightning-like traffic: per-step train metrics, val metrics from the first epoch end on
 * (a new column: a rewrite), hparams. Both loggers get the same calls. */
static void fill_logs(logger *csv, logger *tb) {
    for (int64_t step = 0; step < 24; step++) {
        float loss = 1.0f / (float)(step + 1), lr = 0.1f * (float)(24 - step) / 24.0f;
        metric_kv train[] = {{"train_loss", loss}, {"lr", lr}, {"epoch", (double)(step / 8)}};
        log_ok(csv, train, 3, step);
        log_ok(tb, train, 3, step);
        if (step % 8 != 7) continue;
        metric_kv val[] = {{"val_loss", 2.0f * loss},
                           {"val_acc", (float)step / 24.0f},
                           {"epoch", (double)(step / 8)}};
        log_ok(csv, val, 3, step);
        log_ok(tb, val, 3, step);
        ck_assert(logger_flush(csv, err, sizeof err) && logger_flush(tb, err, sizeof err));
    }
}

START_TEST(reference_dir) {
    const char *keep = getenv("LT_LOGGERS_OUT");
    char out[512];
    ck_assert_msg(logs_make_version_dir(keep ? keep : dir, "lightning_logs", -1, out, sizeof out,
                                        err, sizeof err),
                  "%s", err);
    logger *csv = csv_logger_open(out, err, sizeof err), *tb = tb_logger_open(out, err, sizeof err);
    ck_assert_msg(csv && tb, "%s", err);
    fill_logs(csv, tb);
    ck_assert(logger_close(csv, err, sizeof err) && logger_close(tb, err, sizeof err));
    const hparam_kv hp[] = {{"lr", "0.1", HP_TEXT_FLOAT},
                            {"batch_size", "8", HP_TEXT_INT},
                            {"model", "mlp", HP_TEXT_STR}};
    ck_assert(write_hparams_yaml(out, hp, 3, err, sizeof err));
    tb_event ev[128];
    ck_assert_int_eq(read_events(find_event_file(out), ev, 128), 1 + 24 * 3 + 3 * 3);
    if (keep) printf("loggers: wrote %s\n", out);
}
END_TEST

Suite *suite_loggers(void) {
    Suite *s = suite_create("loggers");
    TCase *tc = tcase_create("loggers");
    tcase_add_checked_fixture(tc, make_dir, remove_dir);
    tcase_add_test(tc, version_dirs_count_up);
    tcase_add_test(tc, float_repr_is_pythons);
    tcase_add_test(tc, csv_matches_lightning);
    tcase_add_test(tc, csv_saves_every_100_steps);
    tcase_add_test(tc, csv_flush_every_n_steps);
    tcase_add_test(tc, crc32c_check_value);
    tcase_add_test(tc, tensorboard_events_decode);
    tcase_add_test(tc, hparams_yaml_matches_pyyaml);
    tcase_add_test(tc, hparams_yaml_int_notations);
    tcase_add_test(tc, errors_name_the_path);
    tcase_add_test(tc, reference_dir);
    suite_add_tcase(s, tc);
    return s;
}
