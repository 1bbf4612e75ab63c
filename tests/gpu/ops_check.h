/* ops_check.h — what cuda_ops_check.c (harness, memory, allocator, init) and
 * ops_cases.c (one check per kernel slot) share.
 *
 * Every check runs a slot on two accelerators — the reference (cpu) and the one under
 * test (cuda) — on the same random inputs, downloads both results and compares them
 * with the tolerance of its kind below. */
#ifndef LT_OPS_CHECK_H
#define LT_OPS_CHECK_H

#include <stdint.h>

#include <lt/accelerator.h>
#include <lt/plugin.h>

/* ---- tolerances: |got - want| <= atol + rtol |want| ------------------------------ */

#define TOL_EXACT 0.0, 0.0      /* fill, clamp, argmax, eq, round_half, unscale */
#define TOL_F32 1e-5, 1e-6      /* 32-true elementwise and reductions (expf etc. 2 ulp) */
#define TOL_LOGSPACE 1e-5, 1e-5 /* log-softmax, losses: x - lse cancels */
#define TOL_OPTIM 1e-5, 1e-7    /* sgd/adam (bit-exact expected, reported separately) */
/* GEMM: |got - want| <= tol * sum_p |alpha a_ip b_pj| + |beta c_ij| (the magnitude the
 * rounding errors scale with), by precision: */
#define TOL_GEMM_F32 1e-5   /* 32-true, highest: fp32 accumulation on both sides */
#define TOL_GEMM_TF32 4e-3  /* high: inputs cut to TF32 (10-bit mantissa, maybe truncated) */
#define TOL_GEMM_BF16X 2e-2 /* medium: cuBLAS may cut fp32 inputs to bf16 (7 bits) */
#define TOL_GEMM_FP16 2e-3  /* 16-mixed: inputs rounded to fp16 (2^-11 each) */
#define TOL_GEMM_BF16 1e-2  /* bf16-mixed / bf16-true: inputs rounded to bf16 (2^-8 each) */

/* ---- accelerators and buffers ---------------------------------------------------- */

typedef struct accel {
    lt_plugin_t *plugin;
    const lt_accelerator_desc *k;
    void *st;
} accel;

enum { REF = 0, DUT = 1 }; /* the reference accelerator, the one under test */

typedef struct check_ctx {
    accel acc[2];
    const char *dut_name;
    const char *const *roots; /* plugin roots for lt_plugin_open */
    uint64_t rng;
    int passed, failed;
} check_ctx;

/* A tensor on both accelerators, with its host copy of the inputs. */
typedef struct buf {
    void *h;    /* host values (inputs) or scratch (outputs) */
    void *d[2]; /* on acc[REF], acc[DUT] */
    int64_t n;
    size_t esz; /* bytes per element */
} buf;

/* `slot` of both accelerators with the same arguments; D(b) is b's pointer on each. */
#define ON_BOTH(c, slot, ...)                                                                      \
    for (int i_ = 0; i_ < 2; i_++) (c)->acc[i_].k->slot((c)->acc[i_].st, __VA_ARGS__)
#define D(b) ((b).d[i_])
#define HF(b) ((float *)(b).h)
#define HI(b) ((int64_t *)(b).h)

/* ---- cuda_ops_check.c ------------------------------------------------------------ */

float rnd_uniform(check_ctx *c, float lo, float hi);
int64_t rnd_int(check_ctx *c, int64_t n); /* [0, n) */
/* Floats uniform in [lo, hi), on both accelerators. */
buf buf_floats(check_ctx *c, int64_t n, float lo, float hi);
/* Labels uniform in [0, classes), on both. */
buf buf_labels(check_ctx *c, int64_t n, int64_t classes);
/* n elements of esz bytes, all bytes 0x7f (a large float) on both: an output. */
buf buf_out(check_ctx *c, int64_t n, size_t esz);
/* Host values h (n floats) copied to both again (e.g. after editing b.h). */
void buf_sync_in(check_ctx *c, buf *b);
void buf_free(check_ctx *c, buf *b);
/* Both results of b compared as floats (int64 when b.esz == 8 and exact); one ok/FAIL
 * line; returns 1 on pass. */
int buf_check(check_ctx *c, const char *name, const buf *b, double rtol, double atol);
/* b's result on accelerator i, downloaded into a new host array (caller frees). */
void *buf_download(check_ctx *c, const buf *b, int i);
void report(check_ctx *c, int ok, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* Opens name with opts into a; 0 (and a FAIL line) on failure. */
int accel_open(check_ctx *c, const char *name, const lt_accel_opts *opts, accel *a);
void accel_close(accel *a);

/* One precision setting of the accelerator under test, and the tolerance held there. */
typedef struct precision_setting {
    const char *name;
    lt_precision precision;
    lt_matmul_precision matmul;
    double tol;
} precision_setting;

/* Reopens the accelerator under test in each of the n settings and runs check there; an
 * accelerator other than cuda is checked in 32-true only (the cpu's half precisions depend
 * on its CPU), so its other settings print a skip. */
void for_each_precision(check_ctx *c, const char *what, const precision_setting *settings, size_t n,
                        void (*check)(check_ctx *c, const char *setting, double tol));

/* ---- ops_cases.c ----------------------------------------------------------------- */

void check_elementwise(check_ctx *c);
void check_binary(check_ctx *c);
void check_reduce(check_ctx *c);
void check_rows(check_ctx *c); /* softmax family, cross-entropy, argmax */
void check_optim(check_ctx *c);
void check_mixed(check_ctx *c); /* unscale_grads, round_half (host reference) */
/* ops_layers.c: im2col, col2im, pool2d(_bwd), dropout_mask, batch_norm(_bwd), describe. */
void check_layers(check_ctx *c);
/* ops_index.c: copy_strided, gather, scatter_add, masked_fill (issue 19, text models). */
void check_index(check_ctx *c);
/* GEMM at every precision: opens the accelerator under test once per setting. */
void check_gemm(check_ctx *c);
/* ops_conv.c: conv2d, conv2d_bwd_data, conv2d_bwd_weights against a direct convolution in
 * double, every precision (cuDNN on cuda). */
void check_conv(check_ctx *c);
/* ops_cast.c: cast_f32 (uint8 / half data, #21) against each other and the host. */
void check_cast(check_ctx *c);

#endif
