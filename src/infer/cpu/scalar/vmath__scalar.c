/* The vectorised math algorithms (cpu/vmath_impl.h) in portable C, one lane:
 * what EDGEML_CPU=sse2 and hosts without a SIMD variant use. The loops are
 * branch-free so that the compiler may vectorise them for the baseline ISA.
 *
 * Primitives the algorithm source expects (every ISA file defines them):
 *   VF VI VM   float vector, int32 vector, comparison mask; VW lanes
 *   vld vst vld_tail vst_tail   (tail: n < VW elements, padding lanes read as 0)
 *   vdup vadd vsub vmul vdiv vfma(a, b, c) = a b + c
 *   vmax(a, b) = a > b ? a : b   vmin(a, b) = a < b ? a : b (NaN as those say)
 *   vlt vgt veq visnan -> VM     vsel(m, a, b) = m ? a : b, vsel_i on VI
 *   vasi vasf (bit casts), vidup viadd visub viand vior vishl visra, vcvtif
 *   vhsum (sum of the lanes, fixed order), VM_HAVE_FMA (vfma is fused). */
#include "../vmath.h"

#include <string.h>

typedef float VF;
typedef int32_t VI;
typedef int VM;
#define VW 1
#define VM_HAVE_FMA 0
#define VM_SUFFIX scalar
#define VM_NAME "scalar"

static inline VF vld(const float *p) { return *p; }
static inline void vst(float *p, VF v) { *p = v; }
static inline VF vld_tail(const float *p, size_t n) { (void)n; return *p; }
static inline void vst_tail(float *p, VF v, size_t n) { (void)n; *p = v; }
static inline VF vdup(float f) { return f; }
static inline VF vadd(VF a, VF b) { return a + b; }
static inline VF vsub(VF a, VF b) { return a - b; }
static inline VF vmul(VF a, VF b) { return a * b; }
static inline VF vdiv(VF a, VF b) { return a / b; }
static inline VF vfma(VF a, VF b, VF c) { return a * b + c; }
static inline VF vmax(VF a, VF b) { return a > b ? a : b; }
static inline VF vmin(VF a, VF b) { return a < b ? a : b; }
static inline VM vlt(VF a, VF b) { return a < b; }
static inline VM vgt(VF a, VF b) { return a > b; }
static inline VM veq(VF a, VF b) { return a == b; }
static inline VM visnan(VF a) { return a != a; }
static inline VF vsel(VM m, VF a, VF b) { return m ? a : b; }
static inline VI vsel_i(VM m, VI a, VI b) { return m ? a : b; }
static inline VI vasi(VF f) { VI i; memcpy(&i, &f, 4); return i; }
static inline VF vasf(VI i) { VF f; memcpy(&f, &i, 4); return f; }
static inline VI vidup(int32_t i) { return i; }
static inline VI viadd(VI a, VI b) { return (VI)((uint32_t)a + (uint32_t)b); }
static inline VI visub(VI a, VI b) { return (VI)((uint32_t)a - (uint32_t)b); }
static inline VI viand(VI a, VI b) { return a & b; }
static inline VI vior(VI a, VI b) { return a | b; }
#define vishl(a, k) ((VI)((uint32_t)(a) << (k)))
#define visra(a, k) ((VI)((a) >> (k)))
static inline VF vcvtif(VI a) { return (VF)a; }
static inline float vhsum(VF a) { return a; }

#include "../vmath_impl.h"
