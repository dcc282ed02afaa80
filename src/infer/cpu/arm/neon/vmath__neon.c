/* The vectorised math algorithms (cpu/vmath_impl.h) on aarch64 Advanced SIMD,
 * 4 lanes; tails through a stack buffer. Primitives: see cpu/scalar/vmath__scalar.c. */
#include "../../vmath.h"

#include <arm_neon.h>
#include <string.h>

typedef float32x4_t VF;
typedef int32x4_t VI;
typedef uint32x4_t VM;
#define VW 4
#define VM_HAVE_FMA 1
#define VM_SUFFIX neon
#define VM_NAME "neon"

static inline VF vld_tail(const float *p, size_t n)
{
    float b[4] = {0, 0, 0, 0};
    memcpy(b, p, n * sizeof(float));
    return vld1q_f32(b);
}
static inline void vst_tail(float *p, VF v, size_t n)
{
    float b[4];
    vst1q_f32(b, v);
    memcpy(p, b, n * sizeof(float));
}
#define vld(p) vld1q_f32(p)
#define vst(p, v) vst1q_f32(p, v)
#define vdup(f) vdupq_n_f32(f)
#define vadd vaddq_f32
#define vsub vsubq_f32
#define vmul vmulq_f32
#define vdiv vdivq_f32
#define vfma(a, b, c) vfmaq_f32(c, a, b)
#define vlt vcltq_f32
#define vgt vcgtq_f32
#define veq vceqq_f32
#define visnan(a) vmvnq_u32(vceqq_f32(a, a))
#define vsel(m, a, b) vbslq_f32(m, a, b)
#define vsel_i(m, a, b) vbslq_s32(m, a, b)
static inline VF vmax(VF a, VF b) { return vbslq_f32(vcgtq_f32(a, b), a, b); }
static inline VF vmin(VF a, VF b) { return vbslq_f32(vcltq_f32(a, b), a, b); }
#define vasi vreinterpretq_s32_f32
#define vasf vreinterpretq_f32_s32
#define vidup vdupq_n_s32
#define viadd vaddq_s32
#define visub vsubq_s32
#define viand vandq_s32
#define vior vorrq_s32
#define vishl vshlq_n_s32
#define visra vshrq_n_s32
#define vcvtif vcvtq_f32_s32
static inline float vhsum(VF a) { return (vgetq_lane_f32(a, 0) + vgetq_lane_f32(a, 1)) + (vgetq_lane_f32(a, 2) + vgetq_lane_f32(a, 3)); }

#include "../../vmath_impl.h"
