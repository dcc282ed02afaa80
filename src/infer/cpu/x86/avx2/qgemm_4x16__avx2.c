/* int8 GEMM microkernel, 4 rows x 16 columns, AVX2 (see qgemm.h): exact
 * widening products. B's 32-bit lanes hold 4 u8 (k0..k3) of a column; their
 * even bytes (k0, k2) and odd bytes (k1, k3) as s16 pairs meet the weights
 * prepacked as s16 pairs (w0, w2), (w1, w3) in vpmaddwd (no saturation,
 * unlike vpmaddubsw). */
#include "../../qgemm.h"

#include <immintrin.h>
#include <string.h>

#define MR 4
#define NR 16

static inline __m256i requant(__m256i acc, __m256i bias, __m256 mult, __m256 flo, __m256 fhi,
                              __m256i zp)
{
    __m256 f = _mm256_mul_ps(_mm256_cvtepi32_ps(_mm256_add_epi32(acc, bias)), mult);
    f = _mm256_min_ps(_mm256_max_ps(f, flo), fhi);
    return _mm256_add_epi32(_mm256_cvtps_epi32(f), zp);
}

void em_qgemm_ukernel_4x16__avx2(size_t k4, const void *av, const uint8_t *b, void *cv, size_t ldc,
                                 size_t mr, size_t nr, const em_qgemm_epi *e)
{
    const int32_t *a = av;
    __m256i c0[MR], c1[MR];
    for (int i = 0; i < MR; i++) c0[i] = c1[i] = _mm256_setzero_si256();
    const __m256i lo8 = _mm256_set1_epi16(0x00ff);
    for (size_t k = 0; k < k4; k++) {
        __m256i b0 = _mm256_loadu_si256((const __m256i *)b), b1 = _mm256_loadu_si256((const __m256i *)(b + 32));
        __m256i b0e = _mm256_and_si256(b0, lo8), b0o = _mm256_srli_epi16(b0, 8);
        __m256i b1e = _mm256_and_si256(b1, lo8), b1o = _mm256_srli_epi16(b1, 8);
#pragma GCC unroll 4
        for (int i = 0; i < MR; i++) {
            __m256i we = _mm256_set1_epi32(a[2 * i]), wo = _mm256_set1_epi32(a[2 * i + 1]);
            c0[i] = _mm256_add_epi32(c0[i], _mm256_add_epi32(_mm256_madd_epi16(b0e, we), _mm256_madd_epi16(b0o, wo)));
            c1[i] = _mm256_add_epi32(c1[i], _mm256_add_epi32(_mm256_madd_epi16(b1e, we), _mm256_madd_epi16(b1o, wo)));
        }
        a += 2 * MR;
        b += NR * 4;
    }
    int32_t t[MR][NR];
    if (e->out32) {
        for (size_t i = 0; i < mr; i++) {
            __m256i bi = _mm256_set1_epi32(e->bias[i]);
            _mm256_storeu_si256((__m256i *)t[i], _mm256_add_epi32(c0[i], bi));
            _mm256_storeu_si256((__m256i *)(t[i] + 8), _mm256_add_epi32(c1[i], bi));
            memcpy((int32_t *)cv + i * ldc, t[i], nr * sizeof(int32_t));
        }
        return;
    }
    uint8_t *c = cv;
    __m256 flo = _mm256_set1_ps(e->flo), fhi = _mm256_set1_ps(e->fhi);
    __m256i zp = _mm256_set1_epi32(e->yzp);
    for (size_t i = 0; i < mr; i++) {
        __m256i bi = _mm256_set1_epi32(e->bias[i]);
        __m256 mu = _mm256_set1_ps(e->mult[i]);
        __m256i y0 = requant(c0[i], bi, mu, flo, fhi, zp), y1 = requant(c1[i], bi, mu, flo, fhi, zp);
        /* in range of the output type: pack by truncation (low byte of each lane) */
        __m256i p = _mm256_packs_epi32(y0, y1);              /* s16, lanes interleaved per 128 */
        p = _mm256_permute4x64_epi64(p, 0xd8);                /* columns 0..15 in order */
        __m256i bytes = _mm256_and_si256(p, _mm256_set1_epi16(0xff));
        __m128i lo = _mm256_castsi256_si128(bytes), hi = _mm256_extracti128_si256(bytes, 1);
        __m128i r = _mm_packus_epi16(lo, hi);
        if (nr == NR) _mm_storeu_si128((__m128i *)(c + i * ldc), r);
        else {
            uint8_t tb[16];
            _mm_storeu_si128((__m128i *)tb, r);
            memcpy(c + i * ldc, tb, nr);
        }
    }
}
