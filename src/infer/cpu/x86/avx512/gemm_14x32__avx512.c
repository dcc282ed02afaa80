/* 14x32 float GEMM microkernel, AVX-512: 28 accumulators, 2 B vectors, A
 * broadcast from memory into each FMA. Tails use lane masks. */
#include "../../gemm.h"

#include <immintrin.h>

#define MR 14
#define NR 32

static inline void store_row(float *cr, __m512 v0, __m512 v1, size_t i, __mmask16 m0,
                             __mmask16 m1, const em_gemm_epi *e)
{
    if (e->flags & EM_EPI_FIRST) {
        if (e->row_bias) {
            __m512 rb = _mm512_set1_ps(e->row_bias[i]);
            v0 = _mm512_add_ps(v0, rb);
            v1 = _mm512_add_ps(v1, rb);
        }
        if (e->col_bias) {
            v0 = _mm512_add_ps(v0, _mm512_maskz_loadu_ps(m0, e->col_bias));
            v1 = _mm512_add_ps(v1, _mm512_maskz_loadu_ps(m1, e->col_bias + 16));
        }
    } else {
        v0 = _mm512_add_ps(v0, _mm512_maskz_loadu_ps(m0, cr));
        v1 = _mm512_add_ps(v1, _mm512_maskz_loadu_ps(m1, cr + 16));
    }
    if (e->flags & EM_EPI_LAST) {
        if (e->res) {
            const float *r = e->res + i * e->ldr;
            v0 = _mm512_add_ps(v0, _mm512_maskz_loadu_ps(m0, r));
            v1 = _mm512_add_ps(v1, _mm512_maskz_loadu_ps(m1, r + 16));
        }
        __m512 lo = _mm512_set1_ps(e->lo), hi = _mm512_set1_ps(e->hi);
        v0 = _mm512_min_ps(_mm512_max_ps(v0, lo), hi);
        v1 = _mm512_min_ps(_mm512_max_ps(v1, lo), hi);
    }
    _mm512_mask_storeu_ps(cr, m0, v0);
    _mm512_mask_storeu_ps(cr + 16, m1, v1);
}

#define ROW(i)                                                                 \
    do {                                                                       \
        __m512 t = _mm512_set1_ps(a[i]);                                       \
        c##i##0 = _mm512_fmadd_ps(t, b0, c##i##0);                             \
        c##i##1 = _mm512_fmadd_ps(t, b1, c##i##1);                             \
    } while (0)

static inline __attribute__((always_inline)) void
body(size_t kc, const float *a, const float *b, size_t bstep, float *c,
     size_t ldc, size_t mr, size_t nr, const em_gemm_epi *e)
{
    __m512 c00 = _mm512_setzero_ps(), c01 = c00, c10 = c00, c11 = c00, c20 = c00, c21 = c00;
    __m512 c30 = c00, c31 = c00, c40 = c00, c41 = c00, c50 = c00, c51 = c00, c60 = c00, c61 = c00;
    __m512 c70 = c00, c71 = c00, c80 = c00, c81 = c00, c90 = c00, c91 = c00;
    __m512 c100 = c00, c101 = c00, c110 = c00, c111 = c00, c120 = c00, c121 = c00;
    __m512 c130 = c00, c131 = c00;
    for (size_t p = 0; p < kc; p++) {
        __m512 b0 = _mm512_loadu_ps(b), b1 = _mm512_loadu_ps(b + 16);
        ROW(0); ROW(1); ROW(2); ROW(3); ROW(4); ROW(5); ROW(6);
        ROW(7); ROW(8); ROW(9); ROW(10); ROW(11); ROW(12); ROW(13);
        a += MR;
        b += bstep;
    }
    __mmask16 m0 = nr >= 16 ? 0xffff : (__mmask16)((1u << nr) - 1);
    __mmask16 m1 = nr >= 32 ? 0xffff : nr <= 16 ? 0 : (__mmask16)((1u << (nr - 16)) - 1);
#define ST(i) if (mr > i) store_row(c + i * ldc, c##i##0, c##i##1, i, m0, m1, e)
    ST(0); ST(1); ST(2); ST(3); ST(4); ST(5); ST(6);
    ST(7); ST(8); ST(9); ST(10); ST(11); ST(12); ST(13);
#undef ST
}

void em_sgemm_ukernel_14x32__avx512(size_t kc, const float *a, const float *b, float *c, size_t ldc,
                                    size_t mr, size_t nr, const em_gemm_epi *e)
{
    body(kc, a, b, NR, c, ldc, mr, nr, e);
}

/* B read in place (no packing): row p of a whole panel of NR columns at b + p * ldb. */
void em_sgemm_ukernel_14x32__avx512_ldb(size_t kc, const float *a, const float *b, size_t ldb, float *c,
                                        size_t ldc, size_t mr, const em_gemm_epi *e)
{
    body(kc, a, b, ldb, c, ldc, mr, NR, e);
}
