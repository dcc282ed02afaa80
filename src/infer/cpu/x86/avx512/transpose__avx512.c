/* 16x16 float transpose with an epilogue, AVX-512 (see gemm.h em_tr16__avx512). */
#include "../../gemm.h"
#include "tr16.h"

#include <immintrin.h>

static inline __mmask16 lanes(size_t n) { return n >= 16 ? (__mmask16)0xffff : (__mmask16)((1u << n) - 1); }

void em_tr16__avx512(const float *t, size_t ldt, size_t np, size_t nm, float *y, size_t ldy,
                     const float *res, size_t ldr, float lo, float hi)
{
    __m512 r[16];
    __mmask16 mm = lanes(nm), mp = lanes(np);
    for (size_t i = 0; i < 16; i++) r[i] = i < np ? _mm512_maskz_loadu_ps(mm, t + i * ldt) : _mm512_setzero_ps();
    em_tr16_regs(r);
    const __m512 vlo = _mm512_set1_ps(lo), vhi = _mm512_set1_ps(hi);
    for (size_t j = 0; j < nm; j++) { /* column j of t: row j of y */
        __m512 v = r[j];
        if (res) v = _mm512_add_ps(v, _mm512_maskz_loadu_ps(mp, res + j * ldr));
        v = _mm512_min_ps(_mm512_max_ps(v, vlo), vhi);
        _mm512_mask_storeu_ps(y + j * ldy, mp, v);
    }
}
