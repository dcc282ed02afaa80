/* 16x16 float transpose in registers, AVX-512: r[i] (row i) -> r[j] = column j, in
 * three shuffle stages (pairs of rows within 128-bit lanes, quads, then the lanes). */
#ifndef EDGEML_INFER_CPU_X86_AVX512_TR16_H
#define EDGEML_INFER_CPU_X86_AVX512_TR16_H

#include <immintrin.h>

static inline __attribute__((always_inline)) void em_tr16_regs(__m512 *r)
{
    __m512 a[16], q[16];
    for (int k = 0; k < 8; k++) {
        a[2 * k] = _mm512_unpacklo_ps(r[2 * k], r[2 * k + 1]);
        a[2 * k + 1] = _mm512_unpackhi_ps(r[2 * k], r[2 * k + 1]);
    }
    /* q[4 g + c] holds, in 128-bit lane l, column 4 l + c of rows 4 g .. 4 g + 3 */
    for (int g = 0; g < 4; g++) {
        q[4 * g + 0] = _mm512_shuffle_ps(a[4 * g], a[4 * g + 2], 0x44);
        q[4 * g + 1] = _mm512_shuffle_ps(a[4 * g], a[4 * g + 2], 0xEE);
        q[4 * g + 2] = _mm512_shuffle_ps(a[4 * g + 1], a[4 * g + 3], 0x44);
        q[4 * g + 3] = _mm512_shuffle_ps(a[4 * g + 1], a[4 * g + 3], 0xEE);
    }
    for (int c = 0; c < 4; c++) {
        __m512 p01l = _mm512_shuffle_f32x4(q[c], q[4 + c], 0x44), p01h = _mm512_shuffle_f32x4(q[c], q[4 + c], 0xEE);
        __m512 p23l = _mm512_shuffle_f32x4(q[8 + c], q[12 + c], 0x44), p23h = _mm512_shuffle_f32x4(q[8 + c], q[12 + c], 0xEE);
        r[c] = _mm512_shuffle_f32x4(p01l, p23l, 0x88);
        r[4 + c] = _mm512_shuffle_f32x4(p01l, p23l, 0xDD);
        r[8 + c] = _mm512_shuffle_f32x4(p01h, p23h, 0x88);
        r[12 + c] = _mm512_shuffle_f32x4(p01h, p23h, 0xDD);
    }
}

#endif
