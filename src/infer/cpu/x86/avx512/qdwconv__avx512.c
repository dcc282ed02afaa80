/* Depthwise int8 convolution, one NCHW plane, AVX-512 (F/BW): blocks of 16
 * outputs of a row accumulate in int32 over the taps. Each tap widens 16 u8
 * inputs to 32-bit lanes whose upper halves are zero (stride 2: 16-bit pairs
 * of which the odd byte meets a zero weight), so one vpmaddwd with the
 * weight as (w, 0) gives x * w exactly. Strides above 2 and large kernels
 * use the scalar plane. */
#include "../../qgemm.h"

#include <immintrin.h>

void em_qdw_plane__avx512(const em_qdw_geom *g, const uint8_t *xp, const int16_t *w, int32_t bias,
                          float mult, const em_qgemm_epi *e, uint8_t *y)
{
    int64_t taps = g->kh * g->kw;
    if (g->sw > 2 || taps > 49) {
        em_qdw_plane__scalar(g, xp, w, bias, mult, e, y);
        return;
    }
    __m512i wv[49];
    for (int64_t t = 0; t < taps; t++) wv[t] = _mm512_set1_epi32((int32_t)(uint16_t)w[t]);
    const __m512 mu = _mm512_set1_ps(mult), flo = _mm512_set1_ps(e->flo), fhi = _mm512_set1_ps(e->fhi);
    const __m512i zp = _mm512_set1_epi32(e->yzp), b0 = _mm512_set1_epi32(bias);
    size_t WP = (size_t)g->WP;
    for (int64_t oh = 0; oh < g->OH; oh++) {
        uint8_t *yr = y + oh * g->OW;
        for (int64_t ow = 0; ow < g->OW; ow += 16) {
            __m512i acc = b0;
            for (int64_t ki = 0; ki < g->kh; ki++) {
                const uint8_t *r = xp + (size_t)(oh * g->sh + ki * g->dh) * WP + (size_t)(ow * g->sw);
                const __m512i *wr = wv + ki * g->kw;
                if (g->sw == 1)
                    for (int64_t kj = 0; kj < g->kw; kj++) {
                        __m512i x = _mm512_cvtepu8_epi32(_mm_loadu_si128((const __m128i *)(r + kj * g->dw)));
                        acc = _mm512_add_epi32(acc, _mm512_madd_epi16(x, wr[kj]));
                    }
                else
                    for (int64_t kj = 0; kj < g->kw; kj++) {
                        __m512i x = _mm512_cvtepu8_epi16(_mm256_loadu_si256((const __m256i *)(r + kj * g->dw)));
                        acc = _mm512_add_epi32(acc, _mm512_madd_epi16(x, wr[kj]));
                    }
            }
            __m512 f = _mm512_mul_ps(_mm512_cvtepi32_ps(acc), mu);
            f = _mm512_min_ps(_mm512_max_ps(f, flo), fhi);
            __m512i q = _mm512_add_epi32(_mm512_cvtps_epi32(f), zp);
            int64_t n = g->OW - ow < 16 ? g->OW - ow : 16;
            _mm512_mask_cvtepi32_storeu_epi8(yr + ow, (__mmask16)((1u << n) - 1), q);
        }
    }
}
