/* The vectorised math algorithms (cpu/vmath_impl.h) on AVX2 + FMA, 8 lanes;
 * tails through vmaskmov. Primitives: see cpu/scalar/vmath__scalar.c. */
#include "../../vmath.h"

#include <immintrin.h>

typedef __m256 VF;
typedef __m256i VI;
typedef __m256 VM;
#define VW 8
#define VM_HAVE_FMA 1
#define VM_SUFFIX avx2
#define VM_NAME "avx2"

static inline __m256i tmask(size_t n)
{
    static const int32_t k[16] = {-1, -1, -1, -1, -1, -1, -1, -1, 0, 0, 0, 0, 0, 0, 0, 0};
    return _mm256_loadu_si256((const __m256i *)(k + 8 - n));
}
#define vld(p) _mm256_loadu_ps(p)
#define vst(p, v) _mm256_storeu_ps(p, v)
#define vld_tail(p, n) _mm256_maskload_ps(p, tmask(n))
#define vst_tail(p, v, n) _mm256_maskstore_ps(p, tmask(n), v)
#define vdup(f) _mm256_set1_ps(f)
#define vadd _mm256_add_ps
#define vsub _mm256_sub_ps
#define vmul _mm256_mul_ps
#define vdiv _mm256_div_ps
#define vfma _mm256_fmadd_ps
#define vmax _mm256_max_ps
#define vmin _mm256_min_ps
#define vlt(a, b) _mm256_cmp_ps(a, b, _CMP_LT_OQ)
#define vgt(a, b) _mm256_cmp_ps(a, b, _CMP_GT_OQ)
#define veq(a, b) _mm256_cmp_ps(a, b, _CMP_EQ_OQ)
#define visnan(a) _mm256_cmp_ps(a, a, _CMP_UNORD_Q)
#define vsel(m, a, b) _mm256_blendv_ps(b, a, m)
#define vsel_i(m, a, b) _mm256_castps_si256(_mm256_blendv_ps(_mm256_castsi256_ps(b), _mm256_castsi256_ps(a), m))
#define vasi _mm256_castps_si256
#define vasf _mm256_castsi256_ps
#define vidup _mm256_set1_epi32
#define viadd _mm256_add_epi32
#define visub _mm256_sub_epi32
#define viand _mm256_and_si256
#define vior _mm256_or_si256
#define vishl _mm256_slli_epi32
#define visra _mm256_srai_epi32
#define vcvtif _mm256_cvtepi32_ps
static inline float vhsum(VF a)
{
    __m128 q = _mm_add_ps(_mm256_castps256_ps128(a), _mm256_extractf128_ps(a, 1));
    q = _mm_add_ps(q, _mm_movehl_ps(q, q));
    q = _mm_add_ss(q, _mm_movehdup_ps(q));
    return _mm_cvtss_f32(q);
}

#include "../../vmath_impl.h"
