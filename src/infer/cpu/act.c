/* Fused activations: the portable libm reference (em_act_apply_ref). */
#include "../internal.h"
#include "cpu.h"

#include <math.h>

void em_act_apply_ref(const em_act *a, float *y, size_t n);

void em_act_apply_ref(const em_act *a, float *y, size_t n)
{
    switch (a->kind) {
    case EM_ACT_NONE: return;
    case EM_ACT_RELU: for (size_t i = 0; i < n; i++) y[i] = y[i] > 0.f ? y[i] : 0.f; return;
    case EM_ACT_CLIP:
        for (size_t i = 0; i < n; i++) {
            float v = y[i] < a->alpha ? a->alpha : y[i];
            y[i] = v > a->beta ? a->beta : v;
        }
        return;
    case EM_ACT_LEAKY: for (size_t i = 0; i < n; i++) y[i] = y[i] < 0.f ? a->alpha * y[i] : y[i]; return;
    case EM_ACT_SIGMOID: for (size_t i = 0; i < n; i++) y[i] = 1.f / (1.f + expf(-y[i])); return;
    case EM_ACT_HARDSIGMOID:
        for (size_t i = 0; i < n; i++) {
            float v = a->alpha * y[i] + a->beta;
            y[i] = v < 0.f ? 0.f : v > 1.f ? 1.f : v;
        }
        return;
    case EM_ACT_HARDSWISH:
        for (size_t i = 0; i < n; i++) {
            float v = y[i] / 6.f + 0.5f;
            v = v < 0.f ? 0.f : v > 1.f ? 1.f : v;
            y[i] *= v;
        }
        return;
    case EM_ACT_SILU: for (size_t i = 0; i < n; i++) y[i] = y[i] / (1.f + expf(-y[i])); return;
    case EM_ACT_GELU:
        for (size_t i = 0; i < n; i++) y[i] = 0.5f * y[i] * (1.f + erff(y[i] * 0.70710678118654752f));
        return;
    case EM_ACT_GELU_TANH:
        for (size_t i = 0; i < n; i++) {
            float x = y[i];
            y[i] = 0.5f * x * (1.f + tanhf(0.7978845608028654f * (x + 0.044715f * x * x * x)));
        }
        return;
    case EM_ACT_TANH: for (size_t i = 0; i < n; i++) y[i] = tanhf(y[i]); return;
    default: return;
    }
}

/* em_act_apply, the dispatching entry point, is in cpu/vmath.c. */
