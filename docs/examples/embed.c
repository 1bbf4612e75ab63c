/* embed — a trained lthost model inside someone else's program.
 *
 *   lthost fit --module autoencoder --data fashion_mnist --max_epochs 1
 *   embed lightning_logs/version_0/checkpoints/epoch=0-step=*.ckpt autoencoder
 *   embed CKPT autoencoder IDX_IMAGES_FILE encoder.onnx   # also writes the encoder as ONNX
 *
 * MODULE is the plugin's path or its installed name (found like lthost finds it, through
 * LT_PLUGIN_PATH and the installed plugins); IDX_IMAGES_FILE defaults to the test images
 * of Debian's dataset-fashion-mnist.
 *
 * Loads an autoencoder checkpoint, keeps only its "encoder" submodule, and prints the
 * 3-d embedding of the first 8 Fashion-MNIST test images, one line per image:
 *
 *   0: e0 e1 e2
 *
 * With ONNX_FILE it also exports the encoder there (lt_model_export_onnx, dynamic batch);
 * docs/examples/embed_onnx.py prints the same lines from that file with onnxruntime.
 *
 * Build against the installed SDK as docs/checkpoints.md says:
 *   cc embed.c $(pkg-config --cflags --libs lt) -Wl,-rpath,"$(pkg-config --variable=libdir lt)" -o embed */
#include <lt/data.h>
#include <lt/model.h>
#include <stdio.h>
#include <stdlib.h>

#define N_IMAGES 8
#define PIXELS (28 * 28)
#define DEFAULT_IMAGES "/usr/share/datasets/fashion-mnist/t10k-images-idx3-ubyte.gz"

/* The fashion_mnist data plugin's normalisation (torchvision's ToTensor + Normalize):
 * the model was trained on these values, so it must be fed the same. */
#define FM_MEAN 0.2860f
#define FM_STD 0.3530f

/* liblt's messages already name the file at fault. */
static int die(const char *msg) {
    fprintf(stderr, "embed: %s\n", msg);
    return 1;
}

/* The first n images of an IDX file as normalised floats x (n, 1, 28, 28). */
static lt_status read_images(const char *path, int64_t n, float *x) {
    lt_idx_t idx;
    lt_status s = lt_idx_read(path, &idx);
    if (s != LT_OK) return s;
    if (idx.ndim != 3 || idx.dims[0] < n || idx.dims[1] * idx.dims[2] != PIXELS) {
        lt_idx_free(&idx);
        return lt_set_error(LT_ERR_FORMAT, "%s: expected at least %lld images of 28x28", path,
                            (long long)n);
    }
    for (int64_t i = 0; i < n * PIXELS; i++)
        x[i] = ((float)idx.data[i] / 255.0f - FM_MEAN) / FM_STD;
    lt_idx_free(&idx);
    return LT_OK;
}

/* One line per row of z (n, d): "i: z0 z1 ...". */
static lt_status print_rows(const lt_tensor_t *z) {
    int64_t n = lt_dim(z, 0), d = lt_dim(z, 1);
    size_t nbytes = (size_t)(n * d) * sizeof(float);
    float *e = malloc(nbytes);
    if (!e) return lt_set_error(LT_ERR_OOM, "%zu bytes for the embeddings", nbytes);
    lt_status s = lt_to_host(z, e, nbytes);
    for (int64_t i = 0; s == LT_OK && i < n; i++) {
        printf("%lld:", (long long)i);
        for (int64_t j = 0; j < d; j++) printf(" %g", e[i * d + j]);
        printf("\n");
    }
    free(e);
    return s;
}

/* The encoder as an ONNX file for onnxruntime: traced on one image, any batch size. */
static lt_status export_onnx(lt_model_t *m, const char *path, const char **err) {
    const int64_t one[4] = {1, 1, 28, 28};
    lt_onnx_opts o = LT_ONNX_OPTS(.ndim = 4, .input_shape = one, .dynamic_batch = true);
    return lt_model_export_onnx(m, path, &o, err);
}

int main(int argc, char **argv) {
    if (argc < 3 || argc > 5) {
        fprintf(stderr,
                "usage: embed CKPT MODULE.so [IDX_IMAGES_FILE [ONNX_FILE]]\n"
                "  IDX_IMAGES_FILE defaults to %s\n",
                DEFAULT_IMAGES);
        return 1;
    }
    const char *images = argc >= 4 ? argv[3] : DEFAULT_IMAGES;

    static float x[N_IMAGES * PIXELS]; /* (8, 1, 28, 28) */
    if (read_images(images, N_IMAGES, x) != LT_OK) return die(lt_last_error());

    /* The checkpoint brings its own hyper-parameters (hidden, latent); the .so brings
     * the code. .submodule makes lt_model_forward run the encoder alone. */
    const char *err = NULL;
    lt_model_opts opts = LT_MODEL_OPTS(.submodule = "encoder");
    lt_model_t *m = lt_model_load_ex(argv[1], argv[2], &opts, &err);
    if (!m) return die(err ? err : lt_last_error());

    const int64_t shape[4] = {N_IMAGES, 1, 28, 28};
    lt_tensor_t *in = lt_model_input(m, 4, shape, x);     /* copied to the model's device */
    lt_tensor_t *z = in ? lt_model_forward(m, in) : NULL; /* (8, latent) */
    lt_status s = z ? print_rows(z) : lt_last_status();
    if (s == LT_OK && argc == 5) s = export_onnx(m, argv[4], &err);
    if (s != LT_OK) die(err ? err : lt_last_error());
    lt_model_free(m);
    return s == LT_OK ? 0 : 1;
}
