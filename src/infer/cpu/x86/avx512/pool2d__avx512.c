/* 2-D pooling planes, AVX-512 (see pool2d.h). */
#include "../../pool2d.h"

#include <immintrin.h>
#include <math.h>

static inline __m512 tap(const float *xs, int64_t sw, __m512i even, __m512i step)
{
    if (sw == 1) return _mm512_loadu_ps(xs);
    if (sw == 2) return _mm512_permutex2var_ps(_mm512_loadu_ps(xs), even, _mm512_loadu_ps(xs + 16));
    return _mm512_i32gather_ps(step, xs, 4);
}

/* R output rows (1 or 4: independent max chains) of one column block. */
static inline __attribute__((always_inline)) void
max_rows(const em_dw_geom *g, const float *xp, const float *rowc, const float *colc, float *y,
         int64_t oh, int64_t o0, int R, __m512i even, __m512i step)
{
    const int64_t OW = g->OW, WP = g->WP, sw = g->sw;
    __m512 acc[4];
    __mmask16 seen[4]; /* lanes with a number */
    for (int r = 0; r < R; r++) {
        acc[r] = _mm512_set1_ps(-INFINITY);
        seen[r] = 0;
    }
    const bool plain = sw == 1 || g->deint; /* every tap a run of consecutive floats */
    for (int64_t ki = 0; ki < g->kh; ki++)
        for (int64_t kj = 0; kj < g->kw; kj++)
            for (int r = 0; r < R; r++) {
                const float *row = xp + ((oh + r) * g->sh + ki * g->dh) * WP;
                __m512 v = plain ? _mm512_loadu_ps(row + o0 + (g->deint ? (kj & 1) * g->WE + kj / 2 : kj * g->dw))
                                 : tap(row + o0 * sw + kj * g->dw, sw, even, step);
                seen[r] |= _mm512_cmp_ps_mask(v, v, _CMP_ORD_Q);
                acc[r] = _mm512_max_ps(v, acc[r]); /* a NaN v leaves acc */
            }
    int64_t n = OW - o0 < 16 ? OW - o0 : 16;
    __mmask16 m = n == 16 ? 0xffff : (__mmask16)((1u << n) - 1);
    __mmask16 colhas = _mm512_cmp_ps_mask(_mm512_maskz_loadu_ps(m, colc + o0), _mm512_setzero_ps(), _CMP_GT_OQ);
    for (int r = 0; r < R; r++) {
        /* no number: NaN where the window holds input cells (all NaN), else -inf */
        __mmask16 has = rowc[oh + r] > 0.f ? colhas : 0;
        __m512 v = _mm512_mask_mov_ps(acc[r], (__mmask16)(~seen[r] & has), _mm512_set1_ps(NAN));
        _mm512_mask_storeu_ps(y + (oh + r) * OW + o0, m, v);
    }
}

void em_maxpool_plane__avx512(const em_dw_geom *g, const float *xp, const float *rowc,
                              const float *colc, float *y)
{
    const __m512i even = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
    const __m512i step = _mm512_mullo_epi32(_mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15),
                                            _mm512_set1_epi32((int)g->sw));
    int64_t oh = 0;
    for (; oh + 4 <= g->OH; oh += 4)
        for (int64_t o0 = 0; o0 < g->OW; o0 += 16) max_rows(g, xp, rowc, colc, y, oh, o0, 4, even, step);
    for (; oh < g->OH; oh++)
        for (int64_t o0 = 0; o0 < g->OW; o0 += 16) max_rows(g, xp, rowc, colc, y, oh, o0, 1, even, step);
}

void em_avgpool_plane__avx512(const em_dw_geom *g, const float *xp, const float *rowc,
                              const float *colc, float *y)
{
    const int64_t OW = g->OW, WP = g->WP, sw = g->sw;
    const __m512i even = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
    const __m512i step = _mm512_mullo_epi32(_mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15),
                                            _mm512_set1_epi32((int)sw));
    for (int64_t oh = 0; oh < g->OH; oh++) {
        const float *xr0 = xp + oh * g->sh * WP;
        __m512 rc = _mm512_set1_ps(rowc[oh]);
        for (int64_t o0 = 0; o0 < OW; o0 += 16) {
            __m512 acc = _mm512_setzero_ps();
            for (int64_t ki = 0; ki < g->kh; ki++) {
                if (g->deint) {
                    const float *xr = xr0 + ki * g->dh * WP + o0;
                    for (int64_t kj = 0; kj < g->kw; kj++)
                        acc = _mm512_add_ps(acc, _mm512_loadu_ps(xr + (kj & 1) * g->WE + kj / 2));
                    continue;
                }
                const float *xr = xr0 + ki * g->dh * WP + o0 * sw;
                for (int64_t kj = 0; kj < g->kw; kj++) acc = _mm512_add_ps(acc, tap(xr + kj * g->dw, sw, even, step));
            }
            int64_t n = OW - o0 < 16 ? OW - o0 : 16;
            __mmask16 m = n == 16 ? 0xffff : (__mmask16)((1u << n) - 1);
            __m512 div = _mm512_mul_ps(rc, _mm512_mask_loadu_ps(_mm512_set1_ps(1.f), m, colc + o0));
            _mm512_mask_storeu_ps(y + oh * OW + o0, m, _mm512_div_ps(acc, div));
        }
    }
}
