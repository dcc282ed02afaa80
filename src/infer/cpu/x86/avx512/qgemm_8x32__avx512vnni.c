/* int8 GEMM microkernel, 8 rows x 32 columns, AVX-512 VNNI (see qgemm.h):
 * per group of 4 k, two 64-byte loads of B (32 columns x 4 u8) and 16
 * vpdpbusd with the row's 4 s8 weights broadcast from memory. */
#include "../../qgemm.h"

#include <immintrin.h>

#define MR 8
#define NR 32

static inline __m512i requant(__m512i acc, __m512i bias, __m512 mult, __m512 flo, __m512 fhi,
                              __m512i zp)
{
    __m512 f = _mm512_mul_ps(_mm512_cvtepi32_ps(_mm512_add_epi32(acc, bias)), mult);
    f = _mm512_min_ps(_mm512_max_ps(f, flo), fhi);
    return _mm512_add_epi32(_mm512_cvtps_epi32(f), zp); /* MXCSR: round half to even */
}

void em_qgemm_ukernel_8x32__avx512vnni(size_t k4, const void *av, const uint8_t *b, void *cv,
                                       size_t ldc, size_t mr, size_t nr, const em_qgemm_epi *e)
{
    const int32_t *a = av;
    __m512i c0[MR], c1[MR];
    for (int i = 0; i < MR; i++) c0[i] = c1[i] = _mm512_setzero_si512();
    for (size_t k = 0; k < k4; k++) {
        __m512i b0 = _mm512_loadu_si512(b), b1 = _mm512_loadu_si512(b + 64);
#pragma GCC unroll 8
        for (int i = 0; i < MR; i++) {
            __m512i w = _mm512_set1_epi32(a[i]);
            c0[i] = _mm512_dpbusd_epi32(c0[i], b0, w);
            c1[i] = _mm512_dpbusd_epi32(c1[i], b1, w);
        }
        a += MR;
        b += NR * 4;
    }
    __mmask16 m0 = nr >= 16 ? 0xffff : (__mmask16)((1u << nr) - 1);
    __mmask16 m1 = nr >= 32 ? 0xffff : nr <= 16 ? 0 : (__mmask16)((1u << (nr - 16)) - 1);
    if (e->out32) {
        int32_t *c = cv;
        for (size_t i = 0; i < mr; i++) {
            __m512i bi = _mm512_set1_epi32(e->bias[i]);
            _mm512_mask_storeu_epi32(c + i * ldc, m0, _mm512_add_epi32(c0[i], bi));
            _mm512_mask_storeu_epi32(c + i * ldc + 16, m1, _mm512_add_epi32(c1[i], bi));
        }
        return;
    }
    uint8_t *c = cv;
    __m512 flo = _mm512_set1_ps(e->flo), fhi = _mm512_set1_ps(e->fhi);
    __m512i zp = _mm512_set1_epi32(e->yzp);
    for (size_t i = 0; i < mr; i++) {
        __m512i bi = _mm512_set1_epi32(e->bias[i]);
        __m512 mu = _mm512_set1_ps(e->mult[i]);
        __m512i y0 = requant(c0[i], bi, mu, flo, fhi, zp), y1 = requant(c1[i], bi, mu, flo, fhi, zp);
        /* values are within [lo, hi] of the output type: truncation to bytes is exact */
        _mm512_mask_cvtepi32_storeu_epi8(c + i * ldc, m0, y0);
        _mm512_mask_cvtepi32_storeu_epi8(c + i * ldc + 16, m1, y1);
    }
}
