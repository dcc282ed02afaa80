/* 8x48 float GEMM microkernel, AVX-512: 24 accumulators, 3 B vectors per K
 * step. No row waste for channel counts that are multiples of 8 (the narrow
 * early layers of mobile CNNs, where 14 rows would waste up to 43%). */
#include "../../gemm.h"

#include <immintrin.h>

#define MR 8
#define NR 48

static inline __mmask16 lane_mask(size_t nr, size_t base)
{
    if (nr >= base + 16) return 0xffff;
    if (nr <= base) return 0;
    return (__mmask16)((1u << (nr - base)) - 1);
}

static inline __m512 epi_one(__m512 v, float *cr, const float *cb, const float *r, __mmask16 m,
                             const em_gemm_epi *e, __m512 rb, __m512 lo, __m512 hi)
{
    if (e->flags & EM_EPI_FIRST) {
        v = _mm512_add_ps(v, rb);
        if (cb) v = _mm512_add_ps(v, _mm512_maskz_loadu_ps(m, cb));
    } else {
        v = _mm512_add_ps(v, _mm512_maskz_loadu_ps(m, cr));
    }
    if (e->flags & EM_EPI_LAST) {
        if (r) v = _mm512_add_ps(v, _mm512_maskz_loadu_ps(m, r));
        v = _mm512_min_ps(_mm512_max_ps(v, lo), hi);
    }
    return v;
}

static inline void store_row(float *cr, __m512 v0, __m512 v1, __m512 v2, size_t i, size_t nr,
                             const em_gemm_epi *e)
{
    __mmask16 m0 = lane_mask(nr, 0), m1 = lane_mask(nr, 16), m2 = lane_mask(nr, 32);
    __m512 rb = _mm512_set1_ps((e->flags & EM_EPI_FIRST) && e->row_bias ? e->row_bias[i] : 0.f);
    __m512 lo = _mm512_set1_ps(e->lo), hi = _mm512_set1_ps(e->hi);
    const float *cb = e->col_bias, *r = e->res ? e->res + i * e->ldr : NULL;
    v0 = epi_one(v0, cr, cb, r, m0, e, rb, lo, hi);
    v1 = epi_one(v1, cr + 16, cb ? cb + 16 : NULL, r ? r + 16 : NULL, m1, e, rb, lo, hi);
    v2 = epi_one(v2, cr + 32, cb ? cb + 32 : NULL, r ? r + 32 : NULL, m2, e, rb, lo, hi);
    _mm512_mask_storeu_ps(cr, m0, v0);
    _mm512_mask_storeu_ps(cr + 16, m1, v1);
    _mm512_mask_storeu_ps(cr + 32, m2, v2);
}

#define ROW(i)                                                                 \
    do {                                                                       \
        __m512 t = _mm512_set1_ps(a[i]);                                       \
        c##i##0 = _mm512_fmadd_ps(t, b0, c##i##0);                             \
        c##i##1 = _mm512_fmadd_ps(t, b1, c##i##1);                             \
        c##i##2 = _mm512_fmadd_ps(t, b2, c##i##2);                             \
    } while (0)

static inline __attribute__((always_inline)) void
body(size_t kc, const float *a, const float *b, size_t bstep, float *c,
     size_t ldc, size_t mr, size_t nr, const em_gemm_epi *e)
{
    __m512 c00 = _mm512_setzero_ps(), c01 = c00, c02 = c00, c10 = c00, c11 = c00, c12 = c00;
    __m512 c20 = c00, c21 = c00, c22 = c00, c30 = c00, c31 = c00, c32 = c00;
    __m512 c40 = c00, c41 = c00, c42 = c00, c50 = c00, c51 = c00, c52 = c00;
    __m512 c60 = c00, c61 = c00, c62 = c00, c70 = c00, c71 = c00, c72 = c00;
    for (size_t p = 0; p < kc; p++) {
        __m512 b0 = _mm512_loadu_ps(b), b1 = _mm512_loadu_ps(b + 16), b2 = _mm512_loadu_ps(b + 32);
        ROW(0); ROW(1); ROW(2); ROW(3); ROW(4); ROW(5); ROW(6); ROW(7);
        a += MR;
        b += bstep;
    }
#define ST(i) if (mr > i) store_row(c + i * ldc, c##i##0, c##i##1, c##i##2, i, nr, e)
    ST(0); ST(1); ST(2); ST(3); ST(4); ST(5); ST(6); ST(7);
#undef ST
}

void em_sgemm_ukernel_8x48__avx512(size_t kc, const float *a, const float *b, float *c, size_t ldc,
                                   size_t mr, size_t nr, const em_gemm_epi *e)
{
    body(kc, a, b, NR, c, ldc, mr, nr, e);
}

/* B read in place (no packing): row p of a whole panel of NR columns at b + p * ldb. */
void em_sgemm_ukernel_8x48__avx512_ldb(size_t kc, const float *a, const float *b, size_t ldb, float *c,
                                       size_t ldc, size_t mr, const em_gemm_epi *e)
{
    body(kc, a, b, ldb, c, ldc, mr, NR, e);
}
