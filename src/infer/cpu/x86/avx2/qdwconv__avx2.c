/* Depthwise int8 convolution, one NCHW plane, AVX2: as the AVX-512 plane
 * (cpu/x86/avx512/qdwconv__avx512.c) with blocks of 8 outputs. */
#include "../../qgemm.h"

#include <immintrin.h>
#include <string.h>

void em_qdw_plane__avx2(const em_qdw_geom *g, const uint8_t *xp, const int16_t *w, int32_t bias,
                        float mult, const em_qgemm_epi *e, uint8_t *y)
{
    int64_t taps = g->kh * g->kw;
    if (g->sw > 2 || taps > 49) {
        em_qdw_plane__scalar(g, xp, w, bias, mult, e, y);
        return;
    }
    __m256i wv[49];
    for (int64_t t = 0; t < taps; t++) wv[t] = _mm256_set1_epi32((int32_t)(uint16_t)w[t]);
    const __m256 mu = _mm256_set1_ps(mult), flo = _mm256_set1_ps(e->flo), fhi = _mm256_set1_ps(e->fhi);
    const __m256i zp = _mm256_set1_epi32(e->yzp), b0 = _mm256_set1_epi32(bias);
    size_t WP = (size_t)g->WP;
    for (int64_t oh = 0; oh < g->OH; oh++) {
        uint8_t *yr = y + oh * g->OW;
        for (int64_t ow = 0; ow < g->OW; ow += 8) {
            __m256i acc = b0;
            for (int64_t ki = 0; ki < g->kh; ki++) {
                const uint8_t *r = xp + (size_t)(oh * g->sh + ki * g->dh) * WP + (size_t)(ow * g->sw);
                const __m256i *wr = wv + ki * g->kw;
                if (g->sw == 1)
                    for (int64_t kj = 0; kj < g->kw; kj++) {
                        __m256i x = _mm256_cvtepu8_epi32(_mm_loadl_epi64((const __m128i *)(r + kj * g->dw)));
                        acc = _mm256_add_epi32(acc, _mm256_madd_epi16(x, wr[kj]));
                    }
                else
                    for (int64_t kj = 0; kj < g->kw; kj++) {
                        __m256i x = _mm256_cvtepu8_epi16(_mm_loadu_si128((const __m128i *)(r + kj * g->dw)));
                        acc = _mm256_add_epi32(acc, _mm256_madd_epi16(x, wr[kj]));
                    }
            }
            __m256 f = _mm256_mul_ps(_mm256_cvtepi32_ps(acc), mu);
            f = _mm256_min_ps(_mm256_max_ps(f, flo), fhi);
            __m256i q = _mm256_add_epi32(_mm256_cvtps_epi32(f), zp);
            q = _mm256_and_si256(q, _mm256_set1_epi32(0xff)); /* in range: the low byte is the value */
            __m128i p16 = _mm_packus_epi32(_mm256_castsi256_si128(q), _mm256_extracti128_si256(q, 1));
            __m128i p8 = _mm_packus_epi16(p16, p16);
            int64_t n = g->OW - ow < 8 ? g->OW - ow : 8;
            if (n == 8) _mm_storel_epi64((__m128i *)(yr + ow), p8);
            else {
                uint8_t t[16];
                _mm_storeu_si128((__m128i *)t, p8);
                memcpy(yr + ow, t, (size_t)n);
            }
        }
    }
}
