/* The vectorised math algorithms (cpu/vmath_impl.h) on AVX-512F/DQ, 16 lanes;
 * tails through masked loads and stores. Primitives: see cpu/scalar/vmath__scalar.c. */
#include "../../vmath.h"

#include <immintrin.h>

typedef __m512 VF;
typedef __m512i VI;
typedef __mmask16 VM;
#define VW 16
#define VM_HAVE_FMA 1
#define VM_HAVE_RCP 1 /* rcp14 + one Newton step: relative error < 2^-27 */
#define vrcp_est _mm512_rcp14_ps
#define VM_HAVE_SCALEF 1 /* x 2^n in one instruction (vscalefps) */
#define vscalef _mm512_scalef_ps
#define VM_SUFFIX avx512
#define VM_NAME "avx512"

static inline __mmask16 tmask(size_t n) { return (__mmask16)((1u << n) - 1u); }
#define vld(p) _mm512_loadu_ps(p)
#define vst(p, v) _mm512_storeu_ps(p, v)
#define vld_tail(p, n) _mm512_maskz_loadu_ps(tmask(n), p)
#define vst_tail(p, v, n) _mm512_mask_storeu_ps(p, tmask(n), v)
#define vdup(f) _mm512_set1_ps(f)
#define vadd _mm512_add_ps
#define vsub _mm512_sub_ps
#define vmul _mm512_mul_ps
#define vdiv _mm512_div_ps
#define vfma _mm512_fmadd_ps
#define vmax _mm512_max_ps
#define vmin _mm512_min_ps
#define vlt(a, b) _mm512_cmp_ps_mask(a, b, _CMP_LT_OQ)
#define vgt(a, b) _mm512_cmp_ps_mask(a, b, _CMP_GT_OQ)
#define veq(a, b) _mm512_cmp_ps_mask(a, b, _CMP_EQ_OQ)
#define visnan(a) _mm512_cmp_ps_mask(a, a, _CMP_UNORD_Q)
#define vsel(m, a, b) _mm512_mask_blend_ps(m, b, a)
#define vsel_i(m, a, b) _mm512_mask_blend_epi32(m, b, a)
#define vasi _mm512_castps_si512
#define vasf _mm512_castsi512_ps
#define vidup _mm512_set1_epi32
#define viadd _mm512_add_epi32
#define visub _mm512_sub_epi32
#define viand _mm512_and_si512
#define vior _mm512_or_si512
#define vishl _mm512_slli_epi32
#define visra _mm512_srai_epi32
#define vcvtif _mm512_cvtepi32_ps
static inline float vhsum(VF a)
{
    __m256 h = _mm256_add_ps(_mm512_castps512_ps256(a), _mm512_extractf32x8_ps(a, 1));
    __m128 q = _mm_add_ps(_mm256_castps256_ps128(h), _mm256_extractf128_ps(h, 1));
    q = _mm_add_ps(q, _mm_movehl_ps(q, q));
    q = _mm_add_ss(q, _mm_movehdup_ps(q));
    return _mm_cvtss_f32(q);
}

#include "../../vmath_impl.h"
