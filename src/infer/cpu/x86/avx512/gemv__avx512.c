/* Matrix-vector products on packed panels, AVX-512 (see gemm.c): a product
 * with one column (N = 1: squeeze-excitation convs, 1x1 maps) runs down the
 * packed A panels, one with one row (M = 1: classifiers) along packed B panels,
 * instead of padding the vector to a whole microkernel tile. */
#include "../../gemm.h"

#include <immintrin.h>

/* acc[i] += sum_k a[k*mr + i] * x[k], i < mr <= 16 */
void em_sgemv_pa__avx512(size_t mr, size_t kc, const float *a, const float *x, float *acc)
{
    __mmask16 m = mr >= 16 ? 0xffff : (__mmask16)((1u << mr) - 1);
    __m512 s0 = _mm512_maskz_loadu_ps(m, acc), s1 = _mm512_setzero_ps();
    size_t k = 0;
    for (; k + 2 <= kc; k += 2) {
        s0 = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(m, a + k * mr), _mm512_set1_ps(x[k]), s0);
        s1 = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(m, a + (k + 1) * mr), _mm512_set1_ps(x[k + 1]), s1);
    }
    for (; k < kc; k++) s0 = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(m, a + k * mr), _mm512_set1_ps(x[k]), s0);
    _mm512_mask_storeu_ps(acc, m, _mm512_add_ps(s0, s1));
}

/* acc[j] += sum_k x[k] * b[k*nr + j], j < nr, nr a multiple of 16 (<= 64) */
void em_sgemv_pb__avx512(size_t nr, size_t kc, const float *b, const float *x, float *acc)
{
    __m512 s[4];
    size_t nv = nr / 16;
    for (size_t v = 0; v < nv; v++) s[v] = _mm512_loadu_ps(acc + 16 * v);
    for (size_t k = 0; k < kc; k++) {
        __m512 xv = _mm512_set1_ps(x[k]);
        for (size_t v = 0; v < nv; v++) s[v] = _mm512_fmadd_ps(_mm512_load_ps(b + k * nr + 16 * v), xv, s[v]);
    }
    for (size_t v = 0; v < nv; v++) _mm512_storeu_ps(acc + 16 * v, s[v]);
}
