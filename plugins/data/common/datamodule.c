/* The shared part of the shipped data plugins: see datamodule.h. */
#include "datamodule.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

lt_status dm_check_loader(lt_ctx_t *ctx) {
    int64_t bs = lt_hparam_int(ctx, "batch_size"), nw = lt_hparam_int(ctx, "num_workers");
    if (bs < 1)
        return lt_set_error(LT_ERR_INVALID_ARG, "--data.batch_size %lld must be >= 1",
                            (long long)bs);
    if (nw < LT_LOADER_WORKERS_AUTO || nw > 64)
        return lt_set_error(LT_ERR_INVALID_ARG,
                            "--data.num_workers %lld must be in [0, 64], or -1 "
                            "(one background thread unless this process is bound to one core)",
                            (long long)nw);
    return LT_OK;
}

static lt_status read_fraction(lt_ctx_t *ctx, const char *name, bool use, double *out) {
    *out = use ? lt_hparam_float(ctx, name) : 0.0;
    if (!(*out >= 0.0 && *out < 1.0))
        return lt_set_error(LT_ERR_INVALID_ARG, "--data.%s %g must be in [0, 1)", name, *out);
    return LT_OK;
}

lt_status dm_split_seeded(lt_ctx_t *ctx, const void *source, int64_t n, bool use_val, bool use_test,
                          dm_splits *out) {
    double vf, tf;
    lt_status s = read_fraction(ctx, "val_fraction", use_val, &vf);
    if (s == LT_OK) s = read_fraction(ctx, "test_fraction", use_test, &tf);
    if (s != LT_OK) return s;
    int64_t n_val = (int64_t)floor((double)n * vf), n_test = (int64_t)floor((double)n * tf);
    if (n_val + n_test >= n && n > 0)
        return lt_set_error(LT_ERR_INVALID_ARG,
                            "--data.val_fraction %g and --data.test_fraction %g leave none of "
                            "the %lld samples to train on; lower them",
                            vf, tf, (long long)n);
    free(out->perm);
    if (!(out->perm = malloc((size_t)(n ? n : 1) * sizeof *out->perm)))
        return lt_set_error(LT_ERR_OOM, "out of memory for the split of %lld samples",
                            (long long)n);
    lt_rng_t r = lt_rng_make((uint64_t)lt_hparam_int(ctx, "split_seed"), 0);
    lt_randperm(&r, n, out->perm);
    int64_t n_train = n - n_val - n_test;
    out->part[DM_TRAIN] = (dm_part){source, out->perm, 0, n_train};
    out->part[DM_VAL] = (dm_part){source, out->perm + n_train, 0, n_val};
    out->part[DM_TEST] = (dm_part){source, out->perm + n_train + n_val, 0, n_test};
    out->all = (dm_part){source, NULL, 0, n};
    return LT_OK;
}

static lt_status add_part(lt_ctx_t *ctx, lt_split which, dm_part *p, const lt_dataset *proto) {
    lt_dataset ds = *proto;
    ds.struct_size = sizeof ds;
    ds.length = p->length;
    ds.user = p;
    lt_loader_opts o = {.struct_size = sizeof o,
                        .batch_size = lt_hparam_int(ctx, "batch_size"),
                        .shuffle = which == LT_SPLIT_TRAIN,
                        .drop_last = false,
                        .num_workers = (int)lt_hparam_int(ctx, "num_workers")};
    return lt_data_add_split(ctx, which, &ds, &o);
}

/* Part k's dataloader 0 and its further ones. */
static lt_status add_parts(lt_ctx_t *ctx, lt_split which, dm_splits *sp, int k,
                           const lt_dataset *proto) {
    lt_status s = add_part(ctx, which, &sp->part[k], proto);
    for (int i = 0; i < sp->nmore[k] && s == LT_OK; i++) {
        dm_part *p = &sp->more[k][i];
        lt_dataset ds = *proto;
        ds.struct_size = sizeof ds;
        ds.length = p->length;
        ds.user = p;
        lt_loader_opts o = {.struct_size = sizeof o,
                            .batch_size = lt_hparam_int(ctx, "batch_size"),
                            .num_workers = (int)lt_hparam_int(ctx, "num_workers")};
        s = lt_data_add_loader(ctx, which, &ds, &o, NULL);
    }
    return s;
}

lt_status dm_register(lt_ctx_t *ctx, const char *stage, dm_splits *sp, const lt_dataset *proto) {
    dm_part *p = sp->part;
    if (!strcmp(stage, "fit")) {
        lt_status s = add_part(ctx, LT_SPLIT_TRAIN, &p[DM_TRAIN], proto);
        if (s == LT_OK && (p[DM_VAL].length > 0 || sp->nmore[DM_VAL] > 0))
            s = add_parts(ctx, LT_SPLIT_VAL, sp, DM_VAL, proto);
        return s;
    }
    if (!strcmp(stage, "validate")) return add_parts(ctx, LT_SPLIT_VAL, sp, DM_VAL, proto);
    if (!strcmp(stage, "test")) return add_parts(ctx, LT_SPLIT_TEST, sp, DM_TEST, proto);
    if (!strcmp(stage, "predict")) return add_part(ctx, LT_SPLIT_PREDICT, &sp->all, proto);
    return lt_set_error(LT_ERR_INVALID_ARG,
                        "unknown stage '%s' (expected fit, validate, test or predict)", stage);
}

lt_status dm_split_paths(const char *value, const char *flag, char *buf, size_t n_buf,
                         const char *paths[LT_MAX_DATALOADERS], int *n) {
    *n = 0;
    if (!*value) return LT_OK;
    if (strlen(value) >= n_buf)
        return lt_set_error(LT_ERR_INVALID_ARG, "%s: the value is longer than %zu bytes", flag,
                            n_buf - 1);
    snprintf(buf, n_buf, "%s", value);
    for (char *p = buf;; p++) {
        char *comma = strchr(p, ',');
        if (comma) *comma = '\0';
        if (!*p)
            return lt_set_error(LT_ERR_INVALID_ARG,
                                "%s '%s': an empty path in the list; give file paths separated "
                                "by single commas",
                                flag, value);
        if (*n == LT_MAX_DATALOADERS)
            return lt_set_error(LT_ERR_INVALID_ARG,
                                "%s: more than %d files; a split has at most %d dataloaders", flag,
                                LT_MAX_DATALOADERS, LT_MAX_DATALOADERS);
        paths[(*n)++] = p;
        if (!comma) return LT_OK;
        p = comma;
    }
}

/* ---- checkpoint state ------------------------------------------------------------ */

static const char *const state_keys[] = {"samples", "train", "val", "test"};

static void split_counts(const dm_splits *sp, int64_t v[4]) {
    v[0] = sp->all.length;
    for (int k = 0; k < DM_PARTS; k++) v[k + 1] = sp->part[k].length;
}

/* The further val and test dataloaders (--data.val a,b,...): their count and each one's
 * samples, "val_dataloaders" and "val_dataloader_1" ..., so a resume with other files
 * (whose dataloader_idx metrics would silently mean other data) is refused. */
static const char *const more_keys[] = {NULL, "val", "test"};

static lt_status more_state_dict(const dm_splits *sp, lt_state_t *st) {
    lt_status s = LT_OK;
    char key[64];
    for (int k = DM_VAL; k < DM_PARTS && s == LT_OK; k++) {
        snprintf(key, sizeof key, "%s_dataloaders", more_keys[k]);
        s = lt_state_set_int(st, key, 1 + sp->nmore[k]);
        for (int j = 0; j < sp->nmore[k] && s == LT_OK; j++) {
            snprintf(key, sizeof key, "%s_dataloader_%d", more_keys[k], j + 1);
            s = lt_state_set_int(st, key, sp->more[k][j].length);
        }
    }
    return s;
}

/* A checkpoint from before several dataloaders has no count: it had one of each. */
static lt_status more_load_state_dict(const dm_splits *sp, const lt_state_t *st) {
    char key[64];
    for (int k = DM_VAL; k < DM_PARTS; k++) {
        int64_t n = 1, len;
        snprintf(key, sizeof key, "%s_dataloaders", more_keys[k]);
        (void)lt_state_get_int(st, key, &n);
        if (n != 1 + sp->nmore[k])
            return lt_set_error(LT_ERR_INVALID_ARG,
                                "it was saved with %lld %s dataloaders, this run has %d; resume "
                                "with the checkpoint's --data.%s files",
                                (long long)n, more_keys[k], 1 + sp->nmore[k], more_keys[k]);
        for (int j = 0; j < sp->nmore[k]; j++) {
            snprintf(key, sizeof key, "%s_dataloader_%d", more_keys[k], j + 1);
            if (!lt_state_get_int(st, key, &len))
                return lt_set_error(LT_ERR_FORMAT,
                                    "datamodule_state.%s is missing or not an "
                                    "integer",
                                    key);
            if (len != sp->more[k][j].length)
                return lt_set_error(LT_ERR_INVALID_ARG,
                                    "%s dataloader %d had %lld samples when saved, %lld in this "
                                    "run; resume with the checkpoint's --data.%s files",
                                    more_keys[k], j + 1, (long long)len,
                                    (long long)sp->more[k][j].length, more_keys[k]);
        }
    }
    return LT_OK;
}

lt_status dm_state_dict(lt_ctx_t *ctx, const dm_splits *sp, lt_state_t *st) {
    int64_t v[4];
    split_counts(sp, v);
    lt_status s = lt_state_set_int(st, "split_seed", lt_hparam_int(ctx, "split_seed"));
    for (int i = 0; i < 4 && s == LT_OK; i++) s = lt_state_set_int(st, state_keys[i], v[i]);
    return s == LT_OK ? more_state_dict(sp, st) : s;
}

lt_status dm_load_state_dict(lt_ctx_t *ctx, const dm_splits *sp, const lt_state_t *st) {
    int64_t now[5], saved[5];
    split_counts(sp, now + 1);
    now[0] = lt_hparam_int(ctx, "split_seed");
    bool same = true;
    for (int i = 0; i < 5; i++) {
        const char *key = i ? state_keys[i - 1] : "split_seed";
        if (!lt_state_get_int(st, key, &saved[i]))
            return lt_set_error(LT_ERR_FORMAT, "datamodule_state.%s is missing or not an integer",
                                key);
        same &= saved[i] == now[i];
    }
    if (same) return more_load_state_dict(sp, st);
    return lt_set_error(LT_ERR_INVALID_ARG,
                        "it was saved with %lld samples split by --data.split_seed %lld into "
                        "train %lld / val %lld / test %lld, this run has %lld samples split by "
                        "%lld into %lld / %lld / %lld; resume with the checkpoint's data and "
                        "--data.* flags",
                        (long long)saved[1], (long long)saved[0], (long long)saved[2],
                        (long long)saved[3], (long long)saved[4], (long long)now[1],
                        (long long)now[0], (long long)now[2], (long long)now[3], (long long)now[4]);
}

/* ---- mapped files ------------------------------------------------------------------ */

static lt_status map_fd(int fd, const char *flag, dm_map *m) {
    struct stat st;
    if (fstat(fd, &st) != 0)
        return lt_set_error(LT_ERR_IO, "%s: cannot stat: %s (check %s)", m->path, strerror(errno),
                            flag);
    if (!S_ISREG(st.st_mode))
        return lt_set_error(LT_ERR_IO, "%s: not a regular file; %s must name a data file", m->path,
                            flag);
    m->size = (size_t)st.st_size;
    if (m->size == 0) return LT_OK;
    void *p = mmap(NULL, m->size, PROT_READ, MAP_PRIVATE, fd, 0);
    if (p == MAP_FAILED)
        return lt_set_error(LT_ERR_IO, "%s: cannot map %zu bytes: %s", m->path, m->size,
                            strerror(errno));
    m->data = p;
    return LT_OK;
}

lt_status dm_map_open(const char *path, const char *flag, dm_map *m) {
    *m = (dm_map){0};
    if (!path || !*path)
        return lt_set_error(LT_ERR_INVALID_ARG, "%s is empty; give the path of a data file", flag);
    if (strlen(path) >= sizeof m->path)
        return lt_set_error(LT_ERR_INVALID_ARG, "%s: the path is longer than %zu bytes", flag,
                            sizeof m->path - 1);
    snprintf(m->path, sizeof m->path, "%s", path);
    /* O_NONBLOCK: opening a FIFO with no writer must not hang before the type check */
    int fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0)
        return lt_set_error(LT_ERR_IO, "%s: cannot open: %s (check %s)", path, strerror(errno),
                            flag);
    lt_status s = map_fd(fd, flag, m);
    close(fd);
    return s;
}

void dm_map_random(const dm_map *m) {
    if (m->data) madvise((void *)m->data, m->size, MADV_RANDOM);
}

void dm_map_close(dm_map *m) {
    if (m->data) munmap((void *)m->data, m->size);
    m->data = NULL;
    m->size = 0;
}
