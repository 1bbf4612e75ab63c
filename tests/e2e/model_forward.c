/* lt_model_forward from another program, for tests/e2e/test_export.sh: the module's
 * forward on the float32 rows of a .npy file, written as raw float32, so that the shell
 * can compare it byte for byte with `lthost predict`'s .npy.
 * usage: model_forward CKPT MODULE X.npy N,D1,D2,... OUT.bin */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <lt/lt.h>
#include <lt/model.h>

static int die(const char *what, const char *why) {
    fprintf(stderr, "model_forward: %s: %s\n", what, why);
    return 1;
}

/* The float32 payload of a version-1 .npy file: numel values after its header. */
static float *read_npy(const char *path, int64_t numel) {
    FILE *f = fopen(path, "rb");
    unsigned char head[10];
    float *x = malloc((size_t)numel * sizeof *x);
    bool ok = f && x && fread(head, 1, 10, f) == 10 && !memcmp(head, "\x93NUMPY\x01", 7) &&
              fseek(f, 10 + head[8] + 256 * head[9], SEEK_SET) == 0 &&
              fread(x, sizeof *x, (size_t)numel, f) == (size_t)numel;
    if (f) fclose(f);
    if (ok) return x;
    free(x);
    return NULL;
}

int main(int argc, char **argv) {
    if (argc != 6) return die("usage", "model_forward CKPT MODULE X.npy N,D1,... OUT.bin");
    int64_t shape[LT_MAX_DIMS], numel = 1;
    int ndim = 0;
    for (char *p = argv[4]; *p && ndim < LT_MAX_DIMS; p += *p == ',') {
        shape[ndim] = strtoll(p, &p, 10);
        numel *= shape[ndim++];
    }
    float *x = read_npy(argv[3], numel);
    if (!x) return die(argv[3], "not a float32 .npy of that shape");
    const char *err = NULL;
    lt_model_t *m = lt_model_load(argv[1], argv[2], &err);
    if (!m) {
        free(x);
        return die(argv[1], err);
    }
    lt_tensor_t *y = lt_model_forward(m, lt_model_input(m, ndim, shape, x));
    free(x);
    size_t n = y ? (size_t)lt_numel(y) : 0;
    float *out = y ? malloc(n * sizeof *out) : NULL;
    FILE *f = out && lt_to_host(y, out, n * sizeof *out) == LT_OK ? fopen(argv[5], "wb") : NULL;
    bool ok = f && fwrite(out, sizeof *out, n, f) == n;
    if (f) ok = fclose(f) == 0 && ok;
    free(out);
    int rc = ok ? 0 : die(argv[5], y ? "cannot write" : lt_last_error());
    lt_model_free(m);
    return rc;
}
