/* The vectorised math tables: the libm reference (element by element, what
 * EDGEML_CPU=reference uses) and the choice of a table for the CPU level. */
#include "vmath.h"

#include <math.h>

static void r_exp(const float *x, float *y, size_t n) { for (size_t i = 0; i < n; i++) y[i] = expf(x[i]); }
static void r_log(const float *x, float *y, size_t n) { for (size_t i = 0; i < n; i++) y[i] = logf(x[i]); }
static void r_sigmoid(const float *x, float *y, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        float v = x[i];
        if (v >= 0) y[i] = 1.0f / (1.0f + expf(-v));
        else { float e = expf(v); y[i] = e / (1.0f + e); }
    }
}
static void r_tanh(const float *x, float *y, size_t n) { for (size_t i = 0; i < n; i++) y[i] = tanhf(x[i]); }
static void r_erf(const float *x, float *y, size_t n) { for (size_t i = 0; i < n; i++) y[i] = erff(x[i]); }
static void r_gelu(const float *x, float *y, size_t n)
{
    for (size_t i = 0; i < n; i++) y[i] = 0.5f * x[i] * (1.0f + erff(x[i] * 0.70710678118654752f));
}
static void r_gelu_tanh(const float *x, float *y, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        float v = x[i];
        y[i] = 0.5f * v * (1.0f + tanhf(0.7978845608028654f * (v + 0.044715f * v * v * v)));
    }
}
static void r_silu(const float *x, float *y, size_t n) { for (size_t i = 0; i < n; i++) y[i] = x[i] / (1.0f + expf(-x[i])); }
static float softplusf_(float v) { return v > 0 ? v + log1pf(expf(-v)) : log1pf(expf(v)); }
static void r_softplus(const float *x, float *y, size_t n) { for (size_t i = 0; i < n; i++) y[i] = softplusf_(x[i]); }
static void r_mish(const float *x, float *y, size_t n) { for (size_t i = 0; i < n; i++) y[i] = x[i] * tanhf(softplusf_(x[i])); }
static float r_exp_sub_sum(const float *x, float *y, size_t n, float m)
{
    float s = 0;
    for (size_t i = 0; i < n; i++) { y[i] = expf(x[i] - m); s += y[i]; }
    return s;
}
static float r_max(const float *x, size_t n)
{
    float m = -INFINITY;
    bool nan = false;
    for (size_t i = 0; i < n; i++) { if (x[i] > m) m = x[i]; nan |= x[i] != x[i]; }
    return nan ? NAN : m;
}
static float r_sum(const float *x, size_t n) { float s = 0; for (size_t i = 0; i < n; i++) s += x[i]; return s; }
static float r_sum_sqdev(const float *x, size_t n, float m)
{
    float s = 0;
    for (size_t i = 0; i < n; i++) { float d = x[i] - m; s += d * d; }
    return s;
}
static void r_affine(const float *x, float *y, size_t n, float a, float b) { for (size_t i = 0; i < n; i++) y[i] = x[i] * a + b; }
#define R_BIN(name, OP)                                                                      \
    static void name(float *o, const float *a, ptrdiff_t sa, const float *b, ptrdiff_t sb,   \
                     size_t n)                                                               \
    {                                                                                        \
        for (size_t i = 0; i < n; i++) o[i] = a[(ptrdiff_t)i * sa] OP b[(ptrdiff_t)i * sb];   \
    }
R_BIN(r_add, +)
R_BIN(r_sub, -)
R_BIN(r_mul, *)
R_BIN(r_div, /)

const em_vmath em_vmath_ref = {
    .name = "reference",
    .exp = r_exp, .log = r_log, .sigmoid = r_sigmoid, .tanh = r_tanh, .erf = r_erf,
    .gelu = r_gelu, .gelu_tanh = r_gelu_tanh, .silu = r_silu, .softplus = r_softplus,
    .mish = r_mish, .act = em_act_apply_ref, .exp_sub_sum = r_exp_sub_sum, .max = r_max,
    .sum = r_sum, .sum_sqdev = r_sum_sqdev, .affine = r_affine,
    .bin = {r_add, r_sub, r_mul, r_div},
};

const em_vmath *em_vmath_for(em_cpu_level l)
{
    switch (l) {
    case EM_CPU_REFERENCE: return &em_vmath_ref;
    case EM_CPU_SSE2: return &em_vmath__scalar;
#ifdef EDGEML_HAVE_X86_KERNELS
    case EM_CPU_AVX2: return &em_vmath__avx2;
    case EM_CPU_AVX512:
    case EM_CPU_AVX512VNNI: return &em_vmath__avx512;
#endif
#ifdef EDGEML_HAVE_NEON_KERNELS
    case EM_CPU_NEON:
    case EM_CPU_NEONDOT: return &em_vmath__neon;
#endif
    default: return NULL;
    }
}

const em_vmath *em_vmath_get(void)
{
    const em_vmath *t = em_vmath_for(em_cpu_level_get());
    return t ? t : &em_vmath__scalar;
}

void em_act_apply(const em_act *a, float *y, size_t n)
{
    if (a->kind == EM_ACT_NONE) return;
    em_vmath_get()->act(a, y, n);
}
