/* 2-D pooling planes, AVX2 (see pool2d.h): 8 outputs per register. */
#include "../../pool2d.h"

#include <immintrin.h>
#include <math.h>

static inline __m256 tap(const float *xs, int64_t sw, __m256i idx)
{
    if (sw == 1) return _mm256_loadu_ps(xs);
    if (sw == 2) {
        __m256 a = _mm256_loadu_ps(xs), b = _mm256_loadu_ps(xs + 8);
        __m256 s = _mm256_shuffle_ps(a, b, 0x88);
        return _mm256_castpd_ps(_mm256_permute4x64_pd(_mm256_castps_pd(s), 0xd8));
    }
    return _mm256_i32gather_ps(xs, idx, 4);
}

static inline void store_n(float *y, __m256 v, int64_t n)
{
    if (n == 8) { _mm256_storeu_ps(y, v); return; }
    float t[8];
    _mm256_storeu_ps(t, v);
    for (int64_t i = 0; i < n; i++) y[i] = t[i];
}

void em_maxpool_plane__avx2(const em_dw_geom *g, const float *xp, const float *rowc,
                            const float *colc, float *y)
{
    const int64_t OW = g->OW, WP = g->WP, sw = g->sw;
    const __m256i idx = _mm256_mullo_epi32(_mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7), _mm256_set1_epi32((int)sw));
    for (int64_t oh = 0; oh < g->OH; oh++) {
        const float *xr0 = xp + oh * g->sh * WP;
        for (int64_t o0 = 0; o0 < OW; o0 += 8) {
            __m256 acc = _mm256_set1_ps(-INFINITY), seen = _mm256_setzero_ps();
            for (int64_t ki = 0; ki < g->kh; ki++) {
                const float *xr = xr0 + ki * g->dh * WP + o0 * sw;
                for (int64_t kj = 0; kj < g->kw; kj++) {
                    __m256 v = tap(xr + kj * g->dw, sw, idx);
                    seen = _mm256_or_ps(seen, _mm256_cmp_ps(v, v, _CMP_ORD_Q));
                    acc = _mm256_max_ps(v, acc);
                }
            }
            int64_t n = OW - o0 < 8 ? OW - o0 : 8;
            float cc[8] = {0};
            if (rowc[oh] > 0.f)
                for (int64_t i = 0; i < n; i++) cc[i] = colc[o0 + i];
            __m256 has = _mm256_cmp_ps(_mm256_loadu_ps(cc), _mm256_setzero_ps(), _CMP_GT_OQ);
            acc = _mm256_blendv_ps(acc, _mm256_set1_ps(NAN), _mm256_andnot_ps(seen, has));
            store_n(y + oh * OW + o0, acc, n);
        }
    }
}

void em_avgpool_plane__avx2(const em_dw_geom *g, const float *xp, const float *rowc,
                            const float *colc, float *y)
{
    const int64_t OW = g->OW, WP = g->WP, sw = g->sw;
    const __m256i idx = _mm256_mullo_epi32(_mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7), _mm256_set1_epi32((int)sw));
    for (int64_t oh = 0; oh < g->OH; oh++) {
        const float *xr0 = xp + oh * g->sh * WP;
        for (int64_t o0 = 0; o0 < OW; o0 += 8) {
            __m256 acc = _mm256_setzero_ps();
            for (int64_t ki = 0; ki < g->kh; ki++) {
                const float *xr = xr0 + ki * g->dh * WP + o0 * sw;
                for (int64_t kj = 0; kj < g->kw; kj++) acc = _mm256_add_ps(acc, tap(xr + kj * g->dw, sw, idx));
            }
            int64_t n = OW - o0 < 8 ? OW - o0 : 8;
            float cc[8] = {1, 1, 1, 1, 1, 1, 1, 1};
            for (int64_t i = 0; i < n; i++) cc[i] = colc[o0 + i];
            __m256 div = _mm256_mul_ps(_mm256_set1_ps(rowc[oh]), _mm256_loadu_ps(cc));
            store_n(y + oh * OW + o0, _mm256_div_ps(acc, div), n);
        }
    }
}
