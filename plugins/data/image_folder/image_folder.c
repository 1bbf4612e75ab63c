/* image_folder — torchvision's ImageFolder as a DataModule: ROOT/<class>/<image>, class
 * folders sorted by name giving indices 0, 1, ..., the images of each class sorted by
 * name, PNG and JPEG decoded in the loader's worker threads, then Resize / CenterCrop or
 * RandomCrop / RandomHorizontalFlip / Normalize (transform.c). Random choices come from
 * (--seed_everything, epoch, sample), so a run is reproducible with any number of
 * workers. val and test are their own folders or a seeded split of the training one. */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "../common/datamodule.h"
#include "transform.h"

#define IF_MAX_CLASSES 65536
#define IF_MAX_IMAGES ((int64_t)1 << 26)
#define IF_MAX_DEPTH 32 /* nested folders below a class folder */

static const lt_hparam_desc if_hparams[] = {
    LT_HPARAM_STR("root", "", "the training folder: one subfolder of images per class"),
    LT_HPARAM_STR("val", "",
                  "a validation folder of the same classes (empty: --data.val_fraction "
                  "of root)"),
    LT_HPARAM_STR("test", "", "a test folder (empty: --data.test_fraction of root)"),
    LT_HPARAM_INT("resize", 0, "Resize: the shorter side to this many pixels (0: none)"),
    LT_HPARAM_INT("crop", 0,
                  "crop a square of this side (center; random in training with "
                  "--data.random_crop; 0: none)"),
    LT_HPARAM_BOOL("random_crop", false, "RandomCrop instead of CenterCrop for training"),
    LT_HPARAM_BOOL("hflip", false, "RandomHorizontalFlip(0.5) for training"),
    LT_HPARAM_STR("mean", "0,0,0",
                  "Normalize mean per channel (R,G,B; ImageNet: "
                  "0.485,0.456,0.406)"),
    LT_HPARAM_STR("std", "1,1,1", "Normalize std per channel (ImageNet: 0.229,0.224,0.225)"),
    DM_LOADER_HPARAMS,
    DM_SPLIT_HPARAMS,
    LT_HPARAM_END,
};

/* One folder's samples: paths[i] of class labels[i]. */
typedef struct folder {
    char **paths;
    int64_t *labels;
    int64_t n, cap;
    char **classes; /* sorted */
    int nclasses;
    const struct image_folder_t *d; /* its transforms */
} folder;

typedef struct image_folder_t {
    folder part[DM_PARTS]; /* train (root), val and test folders when given */
    img_transform train_tf, eval_tf;
    lt_field_desc fields[2];
    dm_splits splits;
    bool loaded;
} image_folder_t;

/* ---- scanning ----------------------------------------------------------------------- */

static int cmp_str(const void *a, const void *b) {
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static void free_list(char **v, int64_t n) {
    for (int64_t i = 0; v && i < n; i++) free(v[i]);
    free(v);
}

static void folder_free(folder *f) {
    free_list(f->paths, f->n);
    free(f->labels);
    free_list(f->classes, f->nclasses);
    *f = (folder){0};
}

/* Whether dir/name is a folder (want_dirs) or a file; its path into path. An entry stat
 * cannot follow (a dangling or looping symlink) counts as a file, as in os.walk: one
 * named like an image is then refused by scan_files, where torchvision's loader fails. */
static bool wanted(const char *dir, const char *name, bool want_dirs, char *path, size_t n) {
    struct stat st;
    if (!strcmp(name, ".") || !strcmp(name, "..")) return false;
    if (snprintf(path, n, "%s/%s", dir, name) >= (int)n) return false;
    if (stat(path, &st) != 0) return !want_dirs;
    return want_dirs ? S_ISDIR(st.st_mode) : S_ISREG(st.st_mode);
}

typedef struct name_list {
    char **v;
    int64_t n, cap;
} name_list;

static lt_status push_name(name_list *l, const char *path, const char *dir) {
    if (l->n == IF_MAX_IMAGES) return lt_set_error(LT_ERR_FORMAT, "%s: too many entries", dir);
    if (l->n == l->cap) {
        int64_t cap = l->cap ? 2 * l->cap : 64;
        char **g = realloc(l->v, (size_t)cap * sizeof *g);
        if (!g) return lt_set_error(LT_ERR_OOM, "%s: out of memory listing it", dir);
        l->v = g, l->cap = cap;
    }
    if (!(l->v[l->n] = strdup(path))) return lt_set_error(LT_ERR_OOM, "%s: out of memory", dir);
    l->n++;
    return LT_OK;
}

/* Entries of dir that are folders (want_dirs) or regular files, sorted (Python's sorted:
 * byte order of the UTF-8 names, as strcmp). */
static lt_status list_dir(const char *dir, bool want_dirs, char ***out, int64_t *n) {
    DIR *d = opendir(dir);
    if (!d) return lt_set_error(LT_ERR_IO, "%s: cannot open the folder: %s", dir, strerror(errno));
    name_list l = {0};
    lt_status s = LT_OK;
    char path[4096];
    for (struct dirent *e; s == LT_OK && (e = readdir(d));) {
        if (strlen(dir) + 1 + strlen(e->d_name) >= sizeof path)
            s = lt_set_error(LT_ERR_FORMAT,
                             "a path under %.120s... is over %zu bytes (entry '%.40s'); "
                             "shorten the folder or file names",
                             dir, sizeof path - 1, e->d_name);
        else if (wanted(dir, e->d_name, want_dirs, path, sizeof path))
            s = push_name(&l, path, dir);
    }
    closedir(d);
    if (s != LT_OK) {
        free_list(l.v, l.n);
        return s;
    }
    if (l.n) qsort(l.v, (size_t)l.n, sizeof *l.v, cmp_str);
    *out = l.v, *n = l.n;
    return LT_OK;
}

static lt_status add_sample(folder *f, char *path, int64_t label) {
    if (f->n == f->cap) {
        int64_t cap = f->cap ? 2 * f->cap : 256;
        char **p = realloc(f->paths, (size_t)cap * sizeof *p);
        if (p) f->paths = p;
        int64_t *l = p ? realloc(f->labels, (size_t)cap * sizeof *l) : NULL;
        if (!l) return lt_set_error(LT_ERR_OOM, "image_folder: out of memory listing images");
        f->labels = l, f->cap = cap;
    }
    f->paths[f->n] = path, f->labels[f->n++] = label;
    return LT_OK;
}

/* A class folder's folders, nested ones included, as torchvision's os.walk(followlinks=True):
 * depth is bounded, and a folder that is one of its own ancestors (a symlink loop, which
 * os.walk would follow until the path is too long) is refused. */
typedef struct walk {
    name_list dirs;
    dev_t dev[IF_MAX_DEPTH + 1];
    ino_t ino[IF_MAX_DEPTH + 1];
} walk;

static lt_status walk_dirs(walk *w, const char *dir, int depth) {
    struct stat st;
    if (stat(dir, &st) != 0)
        return lt_set_error(LT_ERR_IO, "%s: cannot read the folder: %s", dir, strerror(errno));
    for (int a = 0; a < depth; a++)
        if (w->dev[a] == st.st_dev && w->ino[a] == st.st_ino)
            return lt_set_error(LT_ERR_FORMAT,
                                "%s: a symlink loop (it leads back to a folder above it); "
                                "remove the link",
                                dir);
    if (depth > IF_MAX_DEPTH)
        return lt_set_error(LT_ERR_FORMAT,
                            "%s: folders nested more than %d deep in a class folder; "
                            "flatten them",
                            dir, IF_MAX_DEPTH);
    w->dev[depth] = st.st_dev, w->ino[depth] = st.st_ino;
    char **sub = NULL;
    int64_t n = 0;
    lt_status s = push_name(&w->dirs, dir, dir);
    if (s == LT_OK) s = list_dir(dir, true, &sub, &n);
    for (int64_t i = 0; s == LT_OK && i < n; i++) s = walk_dirs(w, sub[i], depth + 1);
    free_list(sub, n);
    return s;
}

/* The images of one folder (files with an image extension; others are skipped, as
 * torchvision skips them), appended as class k. */
static lt_status scan_files(folder *f, const char *dir, int k) {
    char **files = NULL;
    int64_t n = 0;
    lt_status s = list_dir(dir, false, &files, &n);
    for (int64_t i = 0; s == LT_OK && i < n; i++) {
        bool other;
        struct stat st;
        if (img_is_supported(files[i], &other) && stat(files[i], &st) != 0) {
            s = lt_set_error(LT_ERR_IO,
                             "%s: cannot read the image: %s (a broken or looping symlink?); "
                             "fix or remove it",
                             files[i], strerror(errno));
        } else if (img_is_supported(files[i], &other)) {
            if ((s = add_sample(f, files[i], k)) == LT_OK) files[i] = NULL;
        } else if (other) {
            s = lt_set_error(LT_ERR_FORMAT,
                             "%s: only PNG and JPEG images are decoded here; convert it (or "
                             "move it out of the folder)",
                             files[i]);
        }
    }
    free_list(files, n);
    return s;
}

/* Class k's images in torchvision's order: sorted(os.walk(...)) sorts the folders by
 * path, then each folder's files by name. */
static lt_status scan_class(folder *f, int k) {
    walk w = {0};
    lt_status s = walk_dirs(&w, f->classes[k], 0);
    if (s == LT_OK && w.dirs.n) qsort(w.dirs.v, (size_t)w.dirs.n, sizeof *w.dirs.v, cmp_str);
    for (int64_t i = 0; s == LT_OK && i < w.dirs.n; i++) s = scan_files(f, w.dirs.v[i], k);
    free_list(w.dirs.v, w.dirs.n);
    return s;
}

/* torchvision's error for classes without an image: all of them, sorted, by name. */
static lt_status empty_classes(const folder *f, const int64_t *first, const char *root) {
    char names[1024] = "";
    size_t len = 0;
    int empty = 0;
    for (int k = 0; k < f->nclasses; k++) {
        int64_t end = k + 1 < f->nclasses ? first[k + 1] : f->n;
        if (end > first[k]) continue;
        const char *name = strrchr(f->classes[k], '/') + 1;
        if (empty++ < 8 && len < sizeof names)
            len += (size_t)snprintf(names + len, sizeof names - len, "%s%s", empty > 1 ? ", " : "",
                                    name);
    }
    if (!empty) return LT_OK;
    return lt_set_error(LT_ERR_FORMAT,
                        "%s: found no valid file for the classes %s%s. Supported extensions are: "
                        ".png, .jpg, .jpeg (torchvision refuses an empty class too); add images "
                        "or remove the folder",
                        root, names, empty > 8 ? ", ..." : "");
}

static lt_status scan_folder(const char *root, const char *flag, folder *f) {
    if (!*root)
        return lt_set_error(LT_ERR_INVALID_ARG,
                            "%s is empty; give a folder with one subfolder "
                            "of images per class",
                            flag);
    int64_t n = 0;
    lt_status s = list_dir(root, true, &f->classes, &n);
    if (s != LT_OK) return lt_set_error(s, "%s (check %s)", lt_last_error(), flag);
    f->nclasses = (int)(n < IF_MAX_CLASSES ? n : IF_MAX_CLASSES);
    if (n == 0)
        return lt_set_error(LT_ERR_FORMAT,
                            "%s: couldn't find any class folder in it (as torchvision); %s needs "
                            "one subfolder per class, each holding its images",
                            root, flag);
    if (n > IF_MAX_CLASSES)
        return lt_set_error(LT_ERR_FORMAT,
                            "%s: %lld class folders; %s needs 1 to %d subfolders, one per class, "
                            "each holding its images",
                            root, (long long)n, flag, IF_MAX_CLASSES);
    int64_t *first = calloc((size_t)f->nclasses, sizeof *first);
    if (!first) return lt_set_error(LT_ERR_OOM, "%s: out of memory listing it", root);
    for (int k = 0; k < f->nclasses && s == LT_OK; k++) first[k] = f->n, s = scan_class(f, k);
    if (s == LT_OK) s = empty_classes(f, first, root);
    free(first);
    return s;
}

/* A val/test folder must name the same classes as root (ImageFolder would number its own). */
static lt_status same_classes(const folder *a, const folder *b, const char *flag) {
    bool same = a->nclasses == b->nclasses;
    for (int k = 0; same && k < a->nclasses; k++)
        same = !strcmp(strrchr(a->classes[k], '/'), strrchr(b->classes[k], '/'));
    if (same) return LT_OK;
    return lt_set_error(LT_ERR_FORMAT,
                        "%s has %d class folders, the training folder %d, or other names; "
                        "give it the same class subfolders so the indices agree",
                        flag, b->nclasses, a->nclasses);
}

/* ---- transforms --------------------------------------------------------------------- */

static lt_status parse_triple(lt_ctx_t *ctx, const char *name, float v[3]) {
    const char *s = lt_hparam_str(ctx, name);
    char *end;
    for (int c = 0; c < 3; c++) {
        errno = 0;
        double d = strtod(s, &end);
        if (end == s || errno || !(d > -1e6 && d < 1e6) || (*end != (c < 2 ? ',' : '\0')))
            return lt_set_error(LT_ERR_INVALID_ARG,
                                "--data.%s '%s': give three numbers R,G,B such as 0.5,0.5,0.5",
                                name, lt_hparam_str(ctx, name));
        v[c] = (float)d;
        s = end + 1;
    }
    for (int c = 0; c < 3 && !strcmp(name, "std"); c++)
        if (!(v[c] > 0))
            return lt_set_error(LT_ERR_INVALID_ARG, "--data.std: every value must be > 0");
    return LT_OK;
}

/* The transforms, and the batch's image size from the first training image. */
static lt_status make_transforms(lt_ctx_t *ctx, image_folder_t *d) {
    img_transform t = {.resize = (int)lt_hparam_int(ctx, "resize"),
                       .crop = (int)lt_hparam_int(ctx, "crop")};
    int64_t r = lt_hparam_int(ctx, "resize"), c = lt_hparam_int(ctx, "crop");
    if (r < 0 || r > IMG_MAX_SIDE || c < 0 || c > IMG_MAX_SIDE)
        return lt_set_error(LT_ERR_INVALID_ARG, "--data.resize and --data.crop must be in [0, %d]",
                            IMG_MAX_SIDE);
    lt_status s = parse_triple(ctx, "mean", t.mean);
    if (s == LT_OK) s = parse_triple(ctx, "std", t.std);
    if (s == LT_OK && t.crop > 0) t.out_w = t.out_h = t.crop;
    if (s == LT_OK && t.crop == 0) {
        const folder *f = &d->part[DM_TRAIN];
        s = img_probe(f->paths[0], &t.out_w, &t.out_h);
        if (s == LT_OK && t.resize > 0)
            img_resized_size(t.resize, t.out_w, t.out_h, &t.out_w, &t.out_h);
    }
    d->eval_tf = t;
    t.random_crop = lt_hparam_bool(ctx, "random_crop") && t.crop > 0;
    t.hflip = lt_hparam_bool(ctx, "hflip");
    d->train_tf = t;
    return s;
}

/* ---- the DataModule -------------------------------------------------------------------- */

/* Called from loader threads: decodes and transforms each sample into the batch. */
static lt_status if_fill(void *user, lt_split split, uint64_t seed, int64_t epoch,
                         const int64_t *idx, int64_t n, void *const *bufs) {
    const dm_part *p = user;
    const folder *f = p->source; /* root, or a val / test folder of its own */
    const image_folder_t *d = f->d;
    const img_transform *t = split == LT_SPLIT_TRAIN ? &d->train_tf : &d->eval_tf;
    size_t per = (size_t)3 * (size_t)t->out_w * (size_t)t->out_h;
    for (int64_t i = 0; i < n; i++) {
        int64_t row = dm_row(p, idx[i]);
        img_rgb im;
        lt_status s = img_decode(f->paths[row], &im);
        /* one stream per (epoch, sample): the same draws whatever thread fills it */
        lt_rng_t rng =
            lt_rng_make(seed ^ 0x696d6167ull, (uint64_t)epoch * 0x100000000ull + (uint64_t)row);
        if (s == LT_OK) s = img_apply(t, f->paths[row], &im, &rng, (float *)bufs[0] + per * i);
        free(im.px);
        if (s != LT_OK) return s;
        ((int64_t *)bufs[1])[i] = f->labels[row];
    }
    return LT_OK;
}

static void if_teardown(lt_ctx_t *ctx, void *self) {
    (void)ctx;
    image_folder_t *d = self;
    for (int k = 0; k < DM_PARTS; k++) folder_free(&d->part[k]);
    free(d->splits.perm);
    memset(d, 0, sizeof *d);
}

static lt_status load(lt_ctx_t *ctx, image_folder_t *d) {
    const char *val = lt_hparam_str(ctx, "val"), *test = lt_hparam_str(ctx, "test");
    folder *f = d->part;
    lt_status s = scan_folder(lt_hparam_str(ctx, "root"), "--data.root", &f[DM_TRAIN]);
    for (int k = 0; k < DM_PARTS; k++) f[k].d = d;
    if (s == LT_OK)
        s = dm_split_seeded(ctx, &f[DM_TRAIN], f[DM_TRAIN].n, !*val, !*test, &d->splits);
    for (int k = DM_VAL; k < DM_PARTS && s == LT_OK; k++) {
        const char *dir = k == DM_VAL ? val : test,
                   *flag = k == DM_VAL ? "--data.val" : "--data.test";
        if (!*dir) continue;
        s = scan_folder(dir, flag, &f[k]);
        if (s == LT_OK) s = same_classes(&f[DM_TRAIN], &f[k], flag);
        if (s == LT_OK) d->splits.part[k] = (dm_part){&f[k], NULL, 0, f[k].n};
    }
    if (s == LT_OK) s = make_transforms(ctx, d);
    if (s != LT_OK) if_teardown(ctx, d); /* a later setup starts over from nothing */
    return s;
}

static lt_status if_setup(lt_ctx_t *ctx, void *self, const char *stage) {
    image_folder_t *d = self;
    lt_status s = dm_check_loader(ctx);
    if (s == LT_OK && !d->loaded && (s = load(ctx, d)) == LT_OK) d->loaded = true;
    if (s != LT_OK) return s;
    d->fields[0] = (lt_field_desc){
        .name = "x", .dtype = LT_F32, .ndim = 3, .shape = {3, d->eval_tf.out_h, d->eval_tf.out_w}};
    d->fields[1] = (lt_field_desc){.name = "y", .dtype = LT_I64, .ndim = 0};
    lt_dataset proto = {.nfields = 2, .fields = d->fields, .fill_fields_at = if_fill};
    return dm_register(ctx, stage, &d->splits, &proto);
}

/* The split in checkpoints: a resume on other data or another split is refused. */
static lt_status if_state_dict(lt_ctx_t *ctx, void *self, lt_state_t *st) {
    const image_folder_t *d = self;
    return dm_state_dict(ctx, &d->splits, st);
}

static lt_status if_load_state_dict(lt_ctx_t *ctx, void *self, lt_state_t *st) {
    const image_folder_t *d = self;
    return dm_load_state_dict(ctx, &d->splits, st);
}

LT_DATAMODULE_EXPORT(image_folder_t, .name = "image_folder", .hparams = if_hparams,
                     .setup = if_setup, .teardown = if_teardown, .state_dict = if_state_dict,
                     .load_state_dict = if_load_state_dict)
