/* Winograd F(2x2,3x3) tile-row transforms, AVX-512 (see wino.h): 16 tiles per
 * register; the stride-2 tile columns come from two-register permutes. */
#include "../../wino.h"

#include <immintrin.h>

void em_wino_in_row__avx512(const float *xp, size_t wp, size_t tw_n, float *v, size_t ct)
{
    const __m512i ev = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
    const __m512i od = _mm512_setr_epi32(1, 3, 5, 7, 9, 11, 13, 15, 17, 19, 21, 23, 25, 27, 29, 31);
    for (size_t t0 = 0; t0 < tw_n; t0 += 16) {
        __m512 d[4][4];
        for (int i = 0; i < 4; i++) {
            const float *r = xp + (size_t)i * wp + 2 * t0;
            __m512 a0 = _mm512_loadu_ps(r), a1 = _mm512_loadu_ps(r + 16);
            __m512 b0 = _mm512_loadu_ps(r + 2), b1 = _mm512_loadu_ps(r + 18);
            d[i][0] = _mm512_permutex2var_ps(a0, ev, a1);
            d[i][1] = _mm512_permutex2var_ps(a0, od, a1);
            d[i][2] = _mm512_permutex2var_ps(b0, ev, b1);
            d[i][3] = _mm512_permutex2var_ps(b0, od, b1);
        }
        size_t n = tw_n - t0 < 16 ? tw_n - t0 : 16;
        __mmask16 m = n == 16 ? 0xffff : (__mmask16)((1u << n) - 1);
        for (int j = 0; j < 4; j++) {
            __m512 a0 = _mm512_sub_ps(d[0][j], d[2][j]), a1 = _mm512_add_ps(d[1][j], d[2][j]);
            __m512 a2 = _mm512_sub_ps(d[2][j], d[1][j]), a3 = _mm512_sub_ps(d[1][j], d[3][j]);
            d[0][j] = a0; d[1][j] = a1; d[2][j] = a2; d[3][j] = a3;
        }
        for (int i = 0; i < 4; i++) {
            float *dst = v + (size_t)(i * 4) * ct + t0;
            _mm512_mask_storeu_ps(dst, m, _mm512_sub_ps(d[i][0], d[i][2]));
            _mm512_mask_storeu_ps(dst + ct, m, _mm512_add_ps(d[i][1], d[i][2]));
            _mm512_mask_storeu_ps(dst + 2 * ct, m, _mm512_sub_ps(d[i][2], d[i][1]));
            _mm512_mask_storeu_ps(dst + 3 * ct, m, _mm512_sub_ps(d[i][1], d[i][3]));
        }
    }
}

void em_wino_out_row__avx512(const float *q, size_t mt, size_t tw_n, float bias, float *row0, float *row1)
{
    const __m512i lo = _mm512_setr_epi32(0, 16, 1, 17, 2, 18, 3, 19, 4, 20, 5, 21, 6, 22, 7, 23);
    const __m512i hi = _mm512_setr_epi32(8, 24, 9, 25, 10, 26, 11, 27, 12, 28, 13, 29, 14, 30, 15, 31);
    const __m512 vb = _mm512_set1_ps(bias);
    for (size_t t0 = 0; t0 < tw_n; t0 += 16) {
        size_t n = tw_n - t0 < 16 ? tw_n - t0 : 16;
        __mmask16 m = n == 16 ? 0xffff : (__mmask16)((1u << n) - 1);
        __m512 s0[4], s1[4];
        for (int j = 0; j < 4; j++) {
            __m512 q0 = _mm512_maskz_loadu_ps(m, q + (size_t)(0 + j) * mt + t0);
            __m512 q1 = _mm512_maskz_loadu_ps(m, q + (size_t)(4 + j) * mt + t0);
            __m512 q2 = _mm512_maskz_loadu_ps(m, q + (size_t)(8 + j) * mt + t0);
            __m512 q3 = _mm512_maskz_loadu_ps(m, q + (size_t)(12 + j) * mt + t0);
            s0[j] = _mm512_add_ps(_mm512_add_ps(q0, q1), q2);
            s1[j] = _mm512_sub_ps(_mm512_sub_ps(q1, q2), q3);
        }
        __m512 y00 = _mm512_add_ps(_mm512_add_ps(_mm512_add_ps(s0[0], s0[1]), s0[2]), vb);
        __m512 y01 = _mm512_add_ps(_mm512_sub_ps(_mm512_sub_ps(s0[1], s0[2]), s0[3]), vb);
        __m512 y10 = _mm512_add_ps(_mm512_add_ps(_mm512_add_ps(s1[0], s1[1]), s1[2]), vb);
        __m512 y11 = _mm512_add_ps(_mm512_sub_ps(_mm512_sub_ps(s1[1], s1[2]), s1[3]), vb);
        /* interleave: row[2t] = y?0[t], row[2t+1] = y?1[t] */
        __mmask16 m0 = n >= 8 ? 0xffff : (__mmask16)((1u << (2 * n)) - 1);
        __mmask16 m1 = n <= 8 ? 0 : n == 16 ? 0xffff : (__mmask16)((1u << (2 * (n - 8))) - 1);
        _mm512_mask_storeu_ps(row0 + 2 * t0, m0, _mm512_permutex2var_ps(y00, lo, y01));
        _mm512_mask_storeu_ps(row0 + 2 * t0 + 16, m1, _mm512_permutex2var_ps(y00, hi, y01));
        _mm512_mask_storeu_ps(row1 + 2 * t0, m0, _mm512_permutex2var_ps(y10, lo, y11));
        _mm512_mask_storeu_ps(row1 + 2 * t0 + 16, m1, _mm512_permutex2var_ps(y10, hi, y11));
    }
}

void em_wino_store__avx512(const float *src, const float *res, float *dst, size_t n, float lo, float hi)
{
    const __m512 vlo = _mm512_set1_ps(lo), vhi = _mm512_set1_ps(hi);
    for (size_t i = 0; i < n; i += 16) {
        __mmask16 m = n - i >= 16 ? (__mmask16)0xffff : (__mmask16)((1u << (n - i)) - 1);
        __m512 v = _mm512_maskz_loadu_ps(m, src + i);
        if (res) v = _mm512_add_ps(v, _mm512_maskz_loadu_ps(m, res + i));
        v = _mm512_min_ps(_mm512_max_ps(v, vlo), vhi);
        _mm512_mask_storeu_ps(dst + i, m, v);
    }
}
