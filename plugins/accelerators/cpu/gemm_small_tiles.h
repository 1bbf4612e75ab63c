/* gemm_small_tiles.h — the register tiles of gemm_small.c for one vector ISA, included
 * once per ISA with these defined:
 *   SG_TARGET   the GCC target ("avx512f", "avx2,fma")
 *   SG_SUFFIX   appended to each function name
 *   SG_V, SG_VL, SG_MASK     vector type, floats per vector, tail-mask type
 *   SG_DOT_MR, SG_DOT_NR     dot tile: rows of A by rows of B
 *   SG_OUT_MR, SG_OUT_NV     outer tile: rows of C by vectors of C's columns
 * and the helpers sg_zero, sg_load, sg_load_tail, sg_store_tail, sg_bcast, sg_fma, sg_mul,
 * sg_sum, sg_tail_mask (static, with the same target); it undefines them all at its end.
 *
 * Every tile computes each element of C the same way: the dot form as SG_VL lane sums over
 * k in order, the tail masked, then sg_sum; the outer form as one fused multiply-add per p
 * in order. So a result never depends on the tile, the block or the thread it fell in. */

#define SG_CAT2(a, b) a##b
#define SG_CAT(a, b) SG_CAT2(a, b)
#define SG_FN(name) SG_CAT(name, SG_SUFFIX)
#define SG_INLINE static inline __attribute__((always_inline, target(SG_TARGET)))
/* the tile loops fully unrolled at any -O, so the tiles live in registers */
#define SG_UNROLL _Pragma("GCC unroll 8")

// clang-format off
/* clang-format folds these macros' unrolled loops into one line and cannot parse the
 * SG_FN(name)(args) calls: this template is formatted by hand */

/* C[i][j] = alpha sum_p A[i][p] B[j][p] (+ beta C[i][j]) for an MR x NR tile. */
#define SG_DEF_DOT(NAME, MR, NR)                                                                   \
    SG_INLINE void SG_FN(NAME)(int64_t k, const float *a, int64_t lda,                             \
                                          const float *b, int64_t ldb, float *c, int64_t ldc,      \
                                          float alpha, float beta) {                               \
        SG_V acc[MR][NR];                                                                          \
        SG_UNROLL for (int i = 0; i < MR; i++)                                                     \
            SG_UNROLL for (int j = 0; j < NR; j++) acc[i][j] = sg_zero();                          \
        int64_t p = 0;                                                                             \
        for (; p + SG_VL <= k; p += SG_VL) {                                                       \
            SG_V bv[NR];                                                                           \
            SG_UNROLL for (int j = 0; j < NR; j++) bv[j] = sg_load(b + j * ldb + p);               \
            SG_UNROLL for (int i = 0; i < MR; i++) {                                               \
                SG_V av = sg_load(a + i * lda + p);                                                \
                SG_UNROLL for (int j = 0; j < NR; j++) acc[i][j] = sg_fma(av, bv[j], acc[i][j]);   \
            }                                                                                      \
        }                                                                                          \
        if (p < k) {                                                                               \
            SG_MASK m = sg_tail_mask(k - p);                                                       \
            SG_V bv[NR];                                                                           \
            SG_UNROLL for (int j = 0; j < NR; j++) bv[j] = sg_load_tail(b + j * ldb + p, m);       \
            SG_UNROLL for (int i = 0; i < MR; i++) {                                               \
                SG_V av = sg_load_tail(a + i * lda + p, m);                                        \
                SG_UNROLL for (int j = 0; j < NR; j++) acc[i][j] = sg_fma(av, bv[j], acc[i][j]);   \
            }                                                                                      \
        }                                                                                          \
        SG_UNROLL for (int i = 0; i < MR; i++)                                                     \
            SG_UNROLL for (int j = 0; j < NR; j++) {                                               \
                float s = alpha * sg_sum(acc[i][j]), *o = c + i * ldc + j;                         \
                *o = beta == 0.0f ? s : s + beta * *o;                                             \
            }                                                                                      \
    }

/* C[r][c] = alpha sum_p A(r, p) B[p][c] (+ beta C) for MR rows by NV vectors of columns,
 * the last vector's columns masked; A(r, p) = a[r ars + p aps]. */
#define SG_DEF_OUTER(NAME, MR, NV)                                                                 \
    SG_INLINE void SG_FN(NAME)(int64_t k, const float *a, int64_t ars,                             \
                                            int64_t aps, const float *b, int64_t ldb, float *c,    \
                                            int64_t ldc, float alpha, float beta,                  \
                                            SG_MASK last) {                                        \
        SG_V acc[MR][NV];                                                                          \
        SG_UNROLL for (int i = 0; i < MR; i++)                                                     \
            SG_UNROLL for (int j = 0; j < NV; j++) acc[i][j] = sg_zero();                          \
        for (int64_t p = 0; p < k; p++) {                                                          \
            SG_V bv[NV];                                                                           \
            SG_UNROLL for (int j = 0; j < NV - 1; j++) bv[j] = sg_load(b + p * ldb + SG_VL * j);   \
            bv[NV - 1] = sg_load_tail(b + p * ldb + SG_VL * (NV - 1), last);                       \
            SG_UNROLL for (int i = 0; i < MR; i++) {                                               \
                SG_V av = sg_bcast(a[i * ars + p * aps]);                                          \
                SG_UNROLL for (int j = 0; j < NV; j++) acc[i][j] = sg_fma(av, bv[j], acc[i][j]);   \
            }                                                                                      \
        }                                                                                          \
        SG_V va = sg_bcast(alpha), vb = sg_bcast(beta);                                            \
        SG_UNROLL for (int i = 0; i < MR; i++)                                                     \
            SG_UNROLL for (int j = 0; j < NV; j++) {                                               \
                SG_MASK m = j == NV - 1 ? last : sg_tail_mask(SG_VL);                              \
                float *o = c + i * ldc + SG_VL * j;                                                \
                SG_V s = sg_mul(va, acc[i][j]);                                                    \
                if (beta != 0.0f) s = sg_fma(vb, sg_load_tail(o, m), s);                           \
                sg_store_tail(o, s, m);                                                            \
            }                                                                                      \
    }

SG_DEF_DOT(dot_full, SG_DOT_MR, SG_DOT_NR)
SG_DEF_DOT(dot_col, SG_DOT_MR, 1)
SG_DEF_DOT(dot_row, 1, SG_DOT_NR)
SG_DEF_DOT(dot_one, 1, 1)
SG_DEF_OUTER(outer_full, SG_OUT_MR, SG_OUT_NV)
SG_DEF_OUTER(outer_col, SG_OUT_MR, 1)
SG_DEF_OUTER(outer_one, 1, 1)

/* C(m, n) = alpha A B^T (+ beta C), A (m, k) and B (n, k) row-major: both read along k,
 * nothing packed. */
__attribute__((target(SG_TARGET))) static void SG_FN(sg_dot)(const sg_args *g) {
    const int64_t m = g->m, n = g->n, k = g->k, lda = g->lda, ldb = g->ldb, ldc = g->ldc;
    const float alpha = g->alpha, beta = g->beta;
    for (int64_t i = 0; i < m; i += SG_DOT_MR) {
        const int64_t mr = m - i < SG_DOT_MR ? m - i : SG_DOT_MR;
        for (int64_t j = 0; j < n; j += SG_DOT_NR) {
            const int64_t nr = n - j < SG_DOT_NR ? n - j : SG_DOT_NR;
            const float *ai = g->a + i * lda, *bj = g->b + j * ldb;
            float *cij = g->c + i * ldc + j;
            if (mr == SG_DOT_MR && nr == SG_DOT_NR)
                SG_FN(dot_full)(k, ai, lda, bj, ldb, cij, ldc, alpha, beta);
            else if (nr == SG_DOT_NR) /* last rows */
                for (int64_t ii = 0; ii < mr; ii++)
                    SG_FN(dot_row)(k, ai + ii * lda, lda, bj, ldb, cij + ii * ldc, ldc, alpha,
                                   beta);
            else if (mr == SG_DOT_MR) /* last columns */
                for (int64_t jj = 0; jj < nr; jj++)
                    SG_FN(dot_col)(k, ai, lda, bj + jj * ldb, ldb, cij + jj, ldc, alpha, beta);
            else /* the corner */
                for (int64_t ii = 0; ii < mr; ii++)
                    for (int64_t jj = 0; jj < nr; jj++)
                        SG_FN(dot_one)(k, ai + ii * lda, lda, bj + jj * ldb, ldb,
                                       cij + ii * ldc + jj, ldc, alpha, beta);
        }
    }
}

/* C(m, n) = alpha op(A) B (+ beta C) with op(A)(r, p) = a[r ars + p aps]: a broadcast of
 * A times a row of B per p, nothing packed. */
__attribute__((target(SG_TARGET))) static void SG_FN(sg_outer)(const sg_args *g, int64_t ars,
                                                               int64_t aps) {
    const int64_t m = g->m, n = g->n, k = g->k, ldb = g->ldb, ldc = g->ldc;
    const int64_t width = (int64_t)SG_VL * SG_OUT_NV;
    for (int64_t j = 0; j < n; j += width) {
        const int64_t nc = n - j < width ? n - j : width;
        const int nv = (int)((nc + SG_VL - 1) / SG_VL);
        const SG_MASK last = sg_tail_mask(nc - (int64_t)SG_VL * (nv - 1));
        for (int64_t i = 0; i < m; i += SG_OUT_MR) {
            const int64_t mr = m - i < SG_OUT_MR ? m - i : SG_OUT_MR;
            const float *ai = g->a + i * ars, *bj = g->b + j;
            float *cij = g->c + i * ldc + j;
            if (mr == SG_OUT_MR && nv == SG_OUT_NV)
                SG_FN(outer_full)(k, ai, ars, aps, bj, ldb, cij, ldc, g->alpha, g->beta, last);
            else if (mr == SG_OUT_MR) /* last columns: one vector at a time */
                for (int v = 0; v < nv; v++)
                    SG_FN(outer_col)(k, ai, ars, aps, bj + SG_VL * v, ldb, cij + SG_VL * v, ldc,
                                     g->alpha, g->beta, v == nv - 1 ? last : sg_tail_mask(SG_VL));
            else /* last rows */
                for (int64_t ii = 0; ii < mr; ii++)
                    for (int v = 0; v < nv; v++)
                        SG_FN(outer_one)(k, ai + ii * ars, ars, aps, bj + SG_VL * v, ldb,
                                         cij + ii * ldc + SG_VL * v, ldc, g->alpha, g->beta,
                                         v == nv - 1 ? last : sg_tail_mask(SG_VL));
        }
    }
}
// clang-format on

/* this ISA's parameters, so that the next inclusion can define its own */
#undef SG_TARGET
#undef SG_SUFFIX
#undef SG_V
#undef SG_VL
#undef SG_MASK
#undef SG_DOT_MR
#undef SG_DOT_NR
#undef SG_OUT_MR
#undef SG_OUT_NV
#undef sg_zero
#undef sg_load
#undef sg_tail_mask
#undef sg_load_tail
#undef sg_store_tail
#undef sg_bcast
#undef sg_fma
#undef sg_mul
#undef sg_sum
