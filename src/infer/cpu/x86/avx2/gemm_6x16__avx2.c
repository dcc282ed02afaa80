/* 6x16 float GEMM microkernel, AVX2 + FMA: 12 accumulators, 2 B vectors and a
 * broadcast per row of A each K step. */
#include "../../gemm.h"

#include <immintrin.h>

#define MR 6
#define NR 16

static inline __m256 tail_mask(size_t n) /* lanes < n set, n in [0, 8] */
{
    static const int32_t m[16] = {-1, -1, -1, -1, -1, -1, -1, -1, 0, 0, 0, 0, 0, 0, 0, 0};
    return _mm256_castsi256_ps(_mm256_loadu_si256((const __m256i *)(m + 8 - n)));
}

static inline void store_row(float *cr, __m256 v0, __m256 v1, size_t i, size_t nr,
                             const em_gemm_epi *e)
{
    __m256i m0 = _mm256_castps_si256(tail_mask(nr < 8 ? nr : 8));
    __m256i m1 = _mm256_castps_si256(tail_mask(nr > 8 ? nr - 8 : 0));
    if (e->flags & EM_EPI_FIRST) {
        if (e->row_bias) {
            __m256 rb = _mm256_broadcast_ss(e->row_bias + i);
            v0 = _mm256_add_ps(v0, rb);
            v1 = _mm256_add_ps(v1, rb);
        }
        if (e->col_bias) {
            v0 = _mm256_add_ps(v0, _mm256_maskload_ps(e->col_bias, m0));
            v1 = _mm256_add_ps(v1, _mm256_maskload_ps(e->col_bias + 8, m1));
        }
    } else {
        v0 = _mm256_add_ps(v0, _mm256_maskload_ps(cr, m0));
        v1 = _mm256_add_ps(v1, _mm256_maskload_ps(cr + 8, m1));
    }
    if (e->flags & EM_EPI_LAST) {
        if (e->res) {
            const float *r = e->res + i * e->ldr;
            v0 = _mm256_add_ps(v0, _mm256_maskload_ps(r, m0));
            v1 = _mm256_add_ps(v1, _mm256_maskload_ps(r + 8, m1));
        }
        __m256 lo = _mm256_set1_ps(e->lo), hi = _mm256_set1_ps(e->hi);
        v0 = _mm256_min_ps(_mm256_max_ps(v0, lo), hi);
        v1 = _mm256_min_ps(_mm256_max_ps(v1, lo), hi);
    }
    if (nr == NR) {
        _mm256_storeu_ps(cr, v0);
        _mm256_storeu_ps(cr + 8, v1);
    } else {
        _mm256_maskstore_ps(cr, m0, v0);
        _mm256_maskstore_ps(cr + 8, m1, v1);
    }
}

void em_sgemm_ukernel_6x16__avx2(size_t kc, const float *a, const float *b, float *c, size_t ldc,
                                 size_t mr, size_t nr, const em_gemm_epi *e)
{
    __m256 c00 = _mm256_setzero_ps(), c01 = _mm256_setzero_ps();
    __m256 c10 = _mm256_setzero_ps(), c11 = _mm256_setzero_ps();
    __m256 c20 = _mm256_setzero_ps(), c21 = _mm256_setzero_ps();
    __m256 c30 = _mm256_setzero_ps(), c31 = _mm256_setzero_ps();
    __m256 c40 = _mm256_setzero_ps(), c41 = _mm256_setzero_ps();
    __m256 c50 = _mm256_setzero_ps(), c51 = _mm256_setzero_ps();
    for (size_t p = 0; p < kc; p++) {
        __m256 b0 = _mm256_load_ps(b), b1 = _mm256_load_ps(b + 8), t;
        t = _mm256_broadcast_ss(a + 0); c00 = _mm256_fmadd_ps(t, b0, c00); c01 = _mm256_fmadd_ps(t, b1, c01);
        t = _mm256_broadcast_ss(a + 1); c10 = _mm256_fmadd_ps(t, b0, c10); c11 = _mm256_fmadd_ps(t, b1, c11);
        t = _mm256_broadcast_ss(a + 2); c20 = _mm256_fmadd_ps(t, b0, c20); c21 = _mm256_fmadd_ps(t, b1, c21);
        t = _mm256_broadcast_ss(a + 3); c30 = _mm256_fmadd_ps(t, b0, c30); c31 = _mm256_fmadd_ps(t, b1, c31);
        t = _mm256_broadcast_ss(a + 4); c40 = _mm256_fmadd_ps(t, b0, c40); c41 = _mm256_fmadd_ps(t, b1, c41);
        t = _mm256_broadcast_ss(a + 5); c50 = _mm256_fmadd_ps(t, b0, c50); c51 = _mm256_fmadd_ps(t, b1, c51);
        a += MR;
        b += NR;
    }
    store_row(c, c00, c01, 0, nr, e);
    if (mr > 1) store_row(c + ldc, c10, c11, 1, nr, e);
    if (mr > 2) store_row(c + 2 * ldc, c20, c21, 2, nr, e);
    if (mr > 3) store_row(c + 3 * ldc, c30, c31, 3, nr, e);
    if (mr > 4) store_row(c + 4 * ldc, c40, c41, 4, nr, e);
    if (mr > 5) store_row(c + 5 * ldc, c50, c51, 5, nr, e);
}
