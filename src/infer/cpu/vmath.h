/* Vectorised float math over arrays (exp, log, sigmoid, tanh, erf, GELU,
 * SiLU, softplus, Mish), the fused activations (em_act_apply) and a few
 * streaming helpers (sums, max, affine, binary arithmetic) for the fast
 * element-wise, softmax, pooling and normalisation kernels.
 *
 * One algorithm source (vmath_impl.h: range reduction + polynomials written
 * for this project, no libm per element) is compiled once per ISA:
 * cpu/scalar/vmath__scalar.c (portable C), cpu/x86/avx2/vmath__avx2.c,
 * cpu/x86/avx512/vmath__avx512.c, cpu/arm/neon/vmath__neon.c. The table in
 * use is chosen from em_cpu_level_get() (EDGEML_CPU): "reference" gives
 * em_vmath_ref, the libm-based reference (cpu/vmath.c).
 *
 * Every array function accepts y == x (in place); other overlaps are not
 * allowed. Special values: NaN in -> NaN out; +-inf, -0, overflow and
 * underflow as libm gives them (see docs/runtime.md for the max errors
 * measured against double-precision libm, tests/unit/test_vmath.c for the
 * bounds asserted). */
#ifndef EDGEML_INFER_CPU_VMATH_H
#define EDGEML_INFER_CPU_VMATH_H

#include "../internal.h"
#include "cpu.h"

#include <stddef.h>

typedef void (*em_vfn)(const float *x, float *y, size_t n);

/* Binary arithmetic over n elements: o[i] = a[i*sa] op b[i*sb], sa/sb in {0, 1}. */
enum { EM_VBIN_ADD, EM_VBIN_SUB, EM_VBIN_MUL, EM_VBIN_DIV, EM_VBIN_COUNT };
typedef void (*em_vbin_fn)(float *o, const float *a, ptrdiff_t sa, const float *b, ptrdiff_t sb,
                           size_t n);

typedef struct em_vmath {
    const char *name;
    em_vfn exp, log, sigmoid, tanh, erf;
    em_vfn gelu;       /* 0.5 x (1 + erf(x / sqrt 2)) */
    em_vfn gelu_tanh;  /* 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))) */
    em_vfn silu;       /* x sigmoid(x) */
    em_vfn softplus;   /* log(1 + exp(x)) */
    em_vfn mish;       /* x tanh(softplus(x)) */
    /* em_act semantics exactly as em_act_apply_ref for the piecewise kinds. */
    void (*act)(const em_act *a, float *y, size_t n);
    /* y = exp(x - m); returns the sum of y (lane-wise partial sums, fixed order). */
    float (*exp_sub_sum)(const float *x, float *y, size_t n, float m);
    float (*max)(const float *x, size_t n);            /* NaN if any is NaN; -inf for n == 0 */
    float (*sum)(const float *x, size_t n);
    float (*sum_sqdev)(const float *x, size_t n, float m); /* sum (x - m)^2 */
    void (*affine)(const float *x, float *y, size_t n, float a, float b); /* y = x a + b */
    em_vbin_fn bin[EM_VBIN_COUNT];
} em_vmath;

/* The table for the level in use (cheap: one atomic load and a switch). */
const em_vmath *em_vmath_get(void);
/* The table for a level; NULL when that ISA's variant is not built. */
const em_vmath *em_vmath_for(em_cpu_level l);
/* True when the fast paths of the kernels may run (level above reference). */
static inline bool em_vmath_fast(void) { return em_cpu_level_get() != EM_CPU_REFERENCE; }

extern const em_vmath em_vmath_ref;      /* libm, element by element */
extern const em_vmath em_vmath__scalar;  /* the polynomial algorithms, portable C */
extern const em_vmath em_vmath__avx2;
extern const em_vmath em_vmath__avx512;
extern const em_vmath em_vmath__neon;

/* The libm reference of the activations (cpu/act.c). */
void em_act_apply_ref(const em_act *a, float *y, size_t n);

#endif
