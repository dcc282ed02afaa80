/* Direct convolution for few input channels, AVX-512 (see cconv.h). */
#include "../../cconv.h"

#include <immintrin.h>

static inline __mmask16 lanes(int64_t n) { return n >= 16 ? (__mmask16)0xffff : (__mmask16)((1u << n) - 1); }

/* Rows of 8 output channels (m0..) x BC blocks of 16 columns at (oh, o0). */
static inline __attribute__((always_inline)) void
tile(const em_dw_geom *g, int64_t C, int64_t M, const float *xp, size_t plane, const int64_t *off,
     int taps, const float *wb, const float *bias, const float *res, float *y, int64_t m0, int64_t oh,
     int64_t o0, int BC, __mmask16 mlast, __m512 lo, __m512 hi)
{
    __m512 acc[EM_CCONV_MB][2];
    for (int r = 0; r < EM_CCONV_MB; r++) {
        __m512 b = _mm512_set1_ps(bias && m0 + r < M ? bias[m0 + r] : 0.f);
        for (int j = 0; j < BC; j++) acc[r][j] = b;
    }
    const float *x0 = xp + oh * g->sh * g->WP + o0;
    for (int64_t c = 0; c < C; c++, x0 += plane) {
        for (int t = 0; t < taps; t++, wb += EM_CCONV_MB) {
            __m512 v[2];
            for (int j = 0; j < BC; j++) v[j] = _mm512_loadu_ps(x0 + off[t] + 16 * j);
            for (int r = 0; r < EM_CCONV_MB; r++) {
                __m512 w = _mm512_set1_ps(wb[r]);
                for (int j = 0; j < BC; j++) acc[r][j] = _mm512_fmadd_ps(w, v[j], acc[r][j]);
            }
        }
    }
    size_t P = (size_t)(g->OH * g->OW);
    for (int r = 0; r < EM_CCONV_MB && m0 + r < M; r++)
        for (int j = 0; j < BC; j++) {
            __mmask16 m = j == BC - 1 ? mlast : (__mmask16)0xffff;
            size_t at = (size_t)(m0 + r) * P + (size_t)(oh * g->OW + o0 + 16 * j);
            __m512 a = acc[r][j];
            if (res) a = _mm512_add_ps(a, _mm512_maskz_loadu_ps(m, res + at));
            a = _mm512_min_ps(_mm512_max_ps(a, lo), hi);
            _mm512_mask_storeu_ps(y + at, m, a);
        }
}

void em_cconv_rows__avx512(const em_dw_geom *g, int64_t C, int64_t M, const float *xp, size_t plane,
                           const float *wp, const float *bias, const float *res, float *y, int64_t oh0,
                           int64_t oh1)
{
    int64_t off[EM_CCONV_MAXK];
    int taps = (int)(g->kh * g->kw);
    for (int64_t ki = 0; ki < g->kh; ki++)
        for (int64_t kj = 0; kj < g->kw; kj++)
            off[ki * g->kw + kj] = ki * g->dh * g->WP + (g->deint ? (kj & 1) * g->WE + kj / 2 : kj * g->dw);
    const __m512 lo = _mm512_set1_ps(g->lo), hi = _mm512_set1_ps(g->hi);
    const int64_t OW = g->OW;
    size_t wblock = (size_t)C * (size_t)taps * EM_CCONV_MB;
    for (int64_t oh = oh0; oh < oh1; oh++) {
        int64_t o0 = 0;
        for (; o0 + 16 < OW; o0 += 32)
            for (int64_t m0 = 0; m0 < M; m0 += EM_CCONV_MB)
                tile(g, C, M, xp, plane, off, taps, wp + (size_t)(m0 / EM_CCONV_MB) * wblock, bias, res, y,
                     m0, oh, o0, 2, lanes(OW - o0 - 16), lo, hi);
        for (; o0 < OW; o0 += 16)
            for (int64_t m0 = 0; m0 < M; m0 += EM_CCONV_MB)
                tile(g, C, M, xp, plane, off, taps, wp + (size_t)(m0 / EM_CCONV_MB) * wblock, bias, res, y,
                     m0, oh, o0, 1, lanes(OW - o0), lo, hi);
    }
}
