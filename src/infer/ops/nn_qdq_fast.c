/* QuantizeLinear / DequantizeLinear, fast paths for the per-tensor float32 <->
 * uint8/int8 case that QDQ models run between their integer nodes (the
 * residual Adds, pooling, the classifier); bit-identical to the reference
 * (nn_quant.c: x / scale in float, round half to even, saturate, NaN -> 0;
 * (x - zp) * scale in float), which handles everything else and
 * EDGEML_CPU=reference. */
#include "nn.h"
#include "../cpu/cpu.h"

#ifdef __SSE2__
#include <emmintrin.h>
#endif

static bool scalar_t(const em_tensor *t) { return t && em_numel(t) == 1 && t->rank <= 1 && t->data; }
static bool q8(int dt) { return dt == EDGEML_UINT8 || dt == EDGEML_INT8; }

NN_OP(quantize_fast)
{
    const em_tensor *X = em_in(c, 0), *S = em_in(c, 1), *Z = em_n_in(c) > 2 ? em_in(c, 2) : NULL;
    const em_node *n = c->node;
    if (em_cpu_level_get() == EM_CPU_REFERENCE || !X || X->dtype != EDGEML_FLOAT || !S ||
        S->dtype != EDGEML_FLOAT || !scalar_t(S) || (Z && !(q8(Z->dtype) && scalar_t(Z))) ||
        (n->opset >= 19 && em_attr_int(n, "saturate", 1) != 1) ||
        (n->opset >= 21 && (em_attr_int(n, "block_size", 0) != 0 ||
                            em_attr_int(n, "output_dtype", 0) != (Z ? Z->dtype : 0))))
        return nn_quantize_run(c);
    int ydt = Z ? Z->dtype : EDGEML_UINT8;
    em_tensor *Y = em_out(c, 0, ydt, X->rank, X->dims);
    if (!Y) return c->err->code ? c->err->code : EDGEML_E_NOMEM;
    size_t ne = em_numel(X), i = 0;
    const float *x = X->data;
    float s = ((const float *)S->data)[0];
    int32_t zp = !Z ? 0 : ydt == EDGEML_INT8 ? ((const int8_t *)Z->data)[0] : ((const uint8_t *)Z->data)[0];
    int32_t lo = ydt == EDGEML_INT8 ? -128 : 0, hi = ydt == EDGEML_INT8 ? 127 : 255;
    float flo = (float)(lo - zp), fhi = (float)(hi - zp);
    uint8_t *y = Y->data;
#ifdef __SSE2__
    const __m128 vs = _mm_set1_ps(s), vlo = _mm_set1_ps(flo), vhi = _mm_set1_ps(fhi);
    const __m128i vz = _mm_set1_epi32(zp);
    for (; i + 16 <= ne; i += 16) {
        __m128i r[4];
        for (int j = 0; j < 4; j++) {
            __m128 q = _mm_div_ps(_mm_loadu_ps(x + i + 4 * j), vs);
            __m128 ord = _mm_cmpord_ps(q, q);
            q = _mm_min_ps(_mm_max_ps(q, vlo), vhi);
            r[j] = _mm_and_si128(_mm_add_epi32(_mm_cvtps_epi32(q), vz), _mm_castps_si128(ord));
        }
        __m128i a = _mm_packs_epi32(r[0], r[1]), b = _mm_packs_epi32(r[2], r[3]);
        __m128i o = ydt == EDGEML_INT8 ? _mm_packs_epi16(a, b) : _mm_packus_epi16(a, b);
        _mm_storeu_si128((__m128i *)(y + i), o);
    }
#endif
    for (; i < ne; i++) {
        float q = x[i] / s;
        int32_t v = 0;
        if (q == q) {
            q = q < flo ? flo : q > fhi ? fhi : q;
            v = (int32_t)__builtin_rintf(q) + zp;
        }
        y[i] = (uint8_t)v;
    }
    return EDGEML_OK;
}

NN_OP(dequantize_fast)
{
    const em_tensor *X = em_in(c, 0), *S = em_in(c, 1), *Z = em_n_in(c) > 2 ? em_in(c, 2) : NULL;
    const em_node *n = c->node;
    if (em_cpu_level_get() == EM_CPU_REFERENCE || !X || !q8(X->dtype) || !S || S->dtype != EDGEML_FLOAT ||
        !scalar_t(S) || (Z && !(Z->dtype == X->dtype && scalar_t(Z))) ||
        (n->opset >= 21 && em_attr_int(n, "block_size", 0) != 0))
        return nn_dequantize_run(c);
    em_tensor *Y = em_out(c, 0, EDGEML_FLOAT, X->rank, X->dims);
    if (!Y) return c->err->code ? c->err->code : EDGEML_E_NOMEM;
    size_t ne = em_numel(X);
    float s = ((const float *)S->data)[0], *y = Y->data;
    if (X->dtype == EDGEML_INT8) {
        const int8_t *x = X->data;
        int32_t zp = Z ? ((const int8_t *)Z->data)[0] : 0;
        for (size_t i = 0; i < ne; i++) y[i] = (float)((int32_t)x[i] - zp) * s;
    } else {
        const uint8_t *x = X->data;
        int32_t zp = Z ? ((const uint8_t *)Z->data)[0] : 0;
        for (size_t i = 0; i < ne; i++) y[i] = (float)((int32_t)x[i] - zp) * s;
    }
    return EDGEML_OK;
}
