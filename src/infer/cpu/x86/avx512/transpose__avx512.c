/* 16x16 float transpose with an epilogue, AVX-512 (see gemm.h em_tr16__avx512). */
#include "../../gemm.h"

#include <immintrin.h>

static inline __mmask16 lanes(size_t n) { return n >= 16 ? (__mmask16)0xffff : (__mmask16)((1u << n) - 1); }

void em_tr16__avx512(const float *t, size_t ldt, size_t np, size_t nm, float *y, size_t ldy,
                     const float *res, size_t ldr, float lo, float hi)
{
    __m512 r[16], a[16], q[16];
    __mmask16 mm = lanes(nm), mp = lanes(np);
    for (size_t i = 0; i < 16; i++) r[i] = i < np ? _mm512_maskz_loadu_ps(mm, t + i * ldt) : _mm512_setzero_ps();
    /* pairs of rows interleaved within each 128-bit lane: columns 4l, 4l+1 (lo) and 4l+2, 4l+3 (hi) */
    for (int k = 0; k < 8; k++) {
        a[2 * k] = _mm512_unpacklo_ps(r[2 * k], r[2 * k + 1]);
        a[2 * k + 1] = _mm512_unpackhi_ps(r[2 * k], r[2 * k + 1]);
    }
    /* quads of rows: q[4 g + c] holds, in 128-bit lane l, column 4 l + c of rows 4 g .. 4 g + 3 */
    for (int g = 0; g < 4; g++) {
        __m512 lo0 = a[4 * g], hi0 = a[4 * g + 1], lo1 = a[4 * g + 2], hi1 = a[4 * g + 3];
        q[4 * g + 0] = _mm512_shuffle_ps(lo0, lo1, 0x44);
        q[4 * g + 1] = _mm512_shuffle_ps(lo0, lo1, 0xEE);
        q[4 * g + 2] = _mm512_shuffle_ps(hi0, hi1, 0x44);
        q[4 * g + 3] = _mm512_shuffle_ps(hi0, hi1, 0xEE);
    }
    const __m512 vlo = _mm512_set1_ps(lo), vhi = _mm512_set1_ps(hi);
    for (int c = 0; c < 4; c++) {
        __m512 p01l = _mm512_shuffle_f32x4(q[c], q[4 + c], 0x44), p01h = _mm512_shuffle_f32x4(q[c], q[4 + c], 0xEE);
        __m512 p23l = _mm512_shuffle_f32x4(q[8 + c], q[12 + c], 0x44), p23h = _mm512_shuffle_f32x4(q[8 + c], q[12 + c], 0xEE);
        __m512 out[4] = {_mm512_shuffle_f32x4(p01l, p23l, 0x88), _mm512_shuffle_f32x4(p01l, p23l, 0xDD),
                         _mm512_shuffle_f32x4(p01h, p23h, 0x88), _mm512_shuffle_f32x4(p01h, p23h, 0xDD)};
        for (int l = 0; l < 4; l++) {
            size_t j = (size_t)(4 * l + c); /* column j of t: row j of y */
            if (j >= nm) continue;
            __m512 v = out[l];
            if (res) v = _mm512_add_ps(v, _mm512_maskz_loadu_ps(mp, res + j * ldr));
            v = _mm512_min_ps(_mm512_max_ps(v, vlo), vhi);
            _mm512_mask_storeu_ps(y + j * ldy, mp, v);
        }
    }
}
