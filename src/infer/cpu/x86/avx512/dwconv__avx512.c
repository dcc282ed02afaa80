/* Depthwise plane kernel, AVX-512: 16 outputs per register, accumulated over
 * every tap before one store; stride 2 picks even lanes with a two-register
 * permute, other strides gather. Reads the padded plane (dwconv.h). */
#include "../../dwconv.h"

#include <immintrin.h>

void em_dwconv_plane__avx512(const em_dw_geom *g, const float *xp, const float *w, float bias,
                             const float *res, float *y)
{
    const int64_t OW = g->OW, WP = g->WP, sw = g->sw, dw = g->dw, kh = g->kh, kw = g->kw;
    const __m512i even = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
    const __m512i step = _mm512_mullo_epi32(_mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15),
                                            _mm512_set1_epi32((int)sw));
    const __m512 vb = _mm512_set1_ps(bias);
    int64_t oh = 0;
    /* four output rows at a time: four independent FMA chains per column block */
    for (; oh + 4 <= g->OH; oh += 4) {
        const float *xr0 = xp + oh * g->sh * WP;
        for (int64_t o0 = 0; o0 < OW; o0 += 16) {
            __m512 a0 = vb, a1 = vb, a2 = vb, a3 = vb;
            for (int64_t ki = 0; ki < kh; ki++) {
                const float *xr = xr0 + ki * g->dh * WP + o0 * sw;
                const float *wr = w + ki * kw;
                const int64_t rs = g->sh * WP; /* input offset between output rows */
                for (int64_t kj = 0; kj < kw; kj++) {
                    const float *xs = xr + kj * dw;
                    __m512 wv = _mm512_set1_ps(wr[kj]), v0, v1, v2, v3;
                    if (sw == 1) {
                        v0 = _mm512_loadu_ps(xs); v1 = _mm512_loadu_ps(xs + rs);
                        v2 = _mm512_loadu_ps(xs + 2 * rs); v3 = _mm512_loadu_ps(xs + 3 * rs);
                    } else if (sw == 2) {
                        v0 = _mm512_permutex2var_ps(_mm512_loadu_ps(xs), even, _mm512_loadu_ps(xs + 16));
                        v1 = _mm512_permutex2var_ps(_mm512_loadu_ps(xs + rs), even, _mm512_loadu_ps(xs + rs + 16));
                        v2 = _mm512_permutex2var_ps(_mm512_loadu_ps(xs + 2 * rs), even, _mm512_loadu_ps(xs + 2 * rs + 16));
                        v3 = _mm512_permutex2var_ps(_mm512_loadu_ps(xs + 3 * rs), even, _mm512_loadu_ps(xs + 3 * rs + 16));
                    } else {
                        v0 = _mm512_i32gather_ps(step, xs, 4); v1 = _mm512_i32gather_ps(step, xs + rs, 4);
                        v2 = _mm512_i32gather_ps(step, xs + 2 * rs, 4); v3 = _mm512_i32gather_ps(step, xs + 3 * rs, 4);
                    }
                    a0 = _mm512_fmadd_ps(wv, v0, a0);
                    a1 = _mm512_fmadd_ps(wv, v1, a1);
                    a2 = _mm512_fmadd_ps(wv, v2, a2);
                    a3 = _mm512_fmadd_ps(wv, v3, a3);
                }
            }
            int64_t n = OW - o0 < 16 ? OW - o0 : 16;
            __mmask16 m = n == 16 ? 0xffff : (__mmask16)((1u << n) - 1);
            __m512 acc[4] = {a0, a1, a2, a3};
            for (int r = 0; r < 4; r++) {
                float *yr = y + (oh + r) * OW + o0;
                __m512 v = acc[r];
                if (res) v = _mm512_add_ps(v, _mm512_maskz_loadu_ps(m, res + (oh + r) * OW + o0));
                _mm512_mask_storeu_ps(yr, m, v);
            }
        }
    }
    for (; oh < g->OH; oh++) {
        const float *xr0 = xp + oh * g->sh * WP;
        float *yr = y + oh * OW;
        const float *rr = res ? res + oh * OW : NULL;
        for (int64_t o0 = 0; o0 < OW; o0 += 16) {
            __m512 acc = vb;
            for (int64_t ki = 0; ki < kh; ki++) {
                const float *xr = xr0 + ki * g->dh * WP + o0 * sw;
                const float *wr = w + ki * kw;
                if (sw == 1) {
                    for (int64_t kj = 0; kj < kw; kj++)
                        acc = _mm512_fmadd_ps(_mm512_set1_ps(wr[kj]), _mm512_loadu_ps(xr + kj * dw), acc);
                } else if (sw == 2) {
                    for (int64_t kj = 0; kj < kw; kj++) {
                        const float *xs = xr + kj * dw;
                        __m512 v = _mm512_permutex2var_ps(_mm512_loadu_ps(xs), even, _mm512_loadu_ps(xs + 16));
                        acc = _mm512_fmadd_ps(_mm512_set1_ps(wr[kj]), v, acc);
                    }
                } else {
                    for (int64_t kj = 0; kj < kw; kj++) {
                        __m512 v = _mm512_i32gather_ps(step, xr + kj * dw, 4);
                        acc = _mm512_fmadd_ps(_mm512_set1_ps(wr[kj]), v, acc);
                    }
                }
            }
            int64_t n = OW - o0 < 16 ? OW - o0 : 16;
            __mmask16 m = n == 16 ? 0xffff : (__mmask16)((1u << n) - 1);
            if (rr) acc = _mm512_add_ps(acc, _mm512_maskz_loadu_ps(m, rr + o0));
            _mm512_mask_storeu_ps(yr + o0, m, acc);
        }
    }
}
