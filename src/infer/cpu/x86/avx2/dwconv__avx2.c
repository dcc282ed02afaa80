/* Depthwise plane kernel, AVX2 + FMA: 16 outputs in two registers,
 * accumulated over every tap before one store. Reads the padded plane. */
#include "../../dwconv.h"

#include <immintrin.h>

static inline __m256 evens(const float *p) /* p[0], p[2], ..., p[14] */
{
    __m256 a = _mm256_loadu_ps(p), b = _mm256_loadu_ps(p + 8);
    __m256 s = _mm256_shuffle_ps(a, b, 0x88); /* a0 a2 b0 b2 | a4 a6 b4 b6 */
    return _mm256_castpd_ps(_mm256_permute4x64_pd(_mm256_castps_pd(s), 0xd8));
}

void em_dwconv_plane__avx2(const em_dw_geom *g, const float *xp, const float *w, float bias,
                           const float *res, float *y)
{
    const int64_t OW = g->OW, WP = g->WP, sw = g->sw, dw = g->dw, kh = g->kh, kw = g->kw;
    const __m256i idx = _mm256_mullo_epi32(_mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7), _mm256_set1_epi32((int)sw));
    for (int64_t oh = 0; oh < g->OH; oh++) {
        const float *xr0 = xp + oh * g->sh * WP;
        float *yr = y + oh * OW;
        const float *rr = res ? res + oh * OW : NULL;
        for (int64_t o0 = 0; o0 < OW; o0 += 16) {
            __m256 a0 = _mm256_set1_ps(bias), a1 = a0;
            for (int64_t ki = 0; ki < kh; ki++) {
                const float *xr = xr0 + ki * g->dh * WP + o0 * sw;
                const float *wr = w + ki * kw;
                for (int64_t kj = 0; kj < kw; kj++) {
                    const float *xs = xr + kj * dw;
                    __m256 wv = _mm256_set1_ps(wr[kj]), v0, v1;
                    if (sw == 1) { v0 = _mm256_loadu_ps(xs); v1 = _mm256_loadu_ps(xs + 8); }
                    else if (sw == 2) { v0 = evens(xs); v1 = evens(xs + 16); }
                    else { v0 = _mm256_i32gather_ps(xs, idx, 4); v1 = _mm256_i32gather_ps(xs + 8 * sw, idx, 4); }
                    a0 = _mm256_fmadd_ps(wv, v0, a0);
                    a1 = _mm256_fmadd_ps(wv, v1, a1);
                }
            }
            int64_t n = OW - o0 < 16 ? OW - o0 : 16;
            float tmp[16];
            _mm256_storeu_ps(tmp, a0);
            _mm256_storeu_ps(tmp + 8, a1);
            if (rr) for (int64_t t = 0; t < n; t++) yr[o0 + t] = tmp[t] + rr[o0 + t];
            else for (int64_t t = 0; t < n; t++) yr[o0 + t] = tmp[t];
        }
    }
}
