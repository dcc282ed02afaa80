/* QuantizeLinear / DequantizeLinear, fast paths for the per-tensor float32 <->
 * uint8/int8 case that QDQ models run between their integer nodes (the
 * residual Adds, pooling, the classifier); bit-identical to the reference
 * (nn_quant.c: x / scale in float, round half to even, saturate, NaN -> 0;
 * (x - zp) * scale in float), which handles everything else and
 * EDGEML_CPU=reference. */
#include "nn.h"
#include "../cpu/cpu.h"
#include "../pool.h"

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

/* ---- DynamicQuantizeLinear ----------------------------------------------------------
 * Bit-identical to nn_dynquant_run: min/max over x and 0, scale = (max - min) / 255,
 * zero point = saturate(rne(-min / scale)), y = saturate(rne(x / scale) + zp) (the float
 * quotient clamped to [-zp, 255 - zp] first, which commutes with rounding to integers).
 * Both passes vectorise (SSE2, the x86-64 baseline) and split over the pool's threads:
 * dynamically quantised models run one per layer over every activation. */

typedef struct dq_job {
    const float *x;
    uint8_t *y;
    size_t n, tasks;
    float mn[64], mx[64];
    int nan[64];
    float s, flo, fhi;
    int32_t zp;
} dq_job;

static void dq_minmax(void *ctx, size_t tb, size_t te)
{
    dq_job *J = ctx;
    for (size_t t = tb; t < te; t++) {
        size_t b, e;
        em_task_bounds(J->n, J->tasks, t, &b, &e);
        const float *x = J->x;
        float mn = 0.f, mx = 0.f;
        int nan = 0;
        size_t i = b;
#ifdef __SSE2__
        __m128 vmn = _mm_setzero_ps(), vmx = _mm_setzero_ps(), vnan = _mm_setzero_ps();
        __m128 vmn2 = vmn, vmx2 = vmx;
        for (; i + 8 <= e; i += 8) {
            __m128 a = _mm_loadu_ps(x + i), c2 = _mm_loadu_ps(x + i + 4);
            vnan = _mm_or_ps(vnan, _mm_or_ps(_mm_cmpunord_ps(a, a), _mm_cmpunord_ps(c2, c2)));
            vmn = _mm_min_ps(vmn, a);
            vmx = _mm_max_ps(vmx, a);
            vmn2 = _mm_min_ps(vmn2, c2);
            vmx2 = _mm_max_ps(vmx2, c2);
        }
        float a4[4], b4[4];
        _mm_storeu_ps(a4, _mm_min_ps(vmn, vmn2));
        _mm_storeu_ps(b4, _mm_max_ps(vmx, vmx2));
        for (int j = 0; j < 4; j++) {
            mn = a4[j] < mn ? a4[j] : mn;
            mx = b4[j] > mx ? b4[j] : mx;
        }
        nan = _mm_movemask_ps(vnan) != 0;
#endif
        for (; i < e; i++) {
            float v = x[i];
            mn = v < mn ? v : mn;
            mx = v > mx ? v : mx;
            nan |= v != v;
        }
        J->mn[t] = mn;
        J->mx[t] = mx;
        J->nan[t] = nan;
    }
}

static void dq_quant(void *ctx, size_t tb, size_t te)
{
    const dq_job *J = ctx;
    for (size_t t = tb; t < te; t++) {
        size_t b, e;
        em_task_bounds(J->n, J->tasks, t, &b, &e);
        const float *x = J->x;
        uint8_t *y = J->y;
        size_t i = b;
#ifdef __SSE2__
        const __m128 vs = _mm_set1_ps(J->s), vlo = _mm_set1_ps(J->flo), vhi = _mm_set1_ps(J->fhi);
        const __m128i vz = _mm_set1_epi32(J->zp);
        for (; i + 16 <= e; i += 16) {
            __m128i r[4];
            for (int j = 0; j < 4; j++) {
                __m128 q = _mm_div_ps(_mm_loadu_ps(x + i + 4 * j), vs);
                q = _mm_min_ps(_mm_max_ps(q, vlo), vhi);
                r[j] = _mm_add_epi32(_mm_cvtps_epi32(q), vz);
            }
            __m128i a = _mm_packs_epi32(r[0], r[1]), c2 = _mm_packs_epi32(r[2], r[3]);
            _mm_storeu_si128((__m128i *)(y + i), _mm_packus_epi16(a, c2));
        }
#endif
        for (; i < e; i++) {
            float q = x[i] / J->s;
            q = q < J->flo ? J->flo : q > J->fhi ? J->fhi : q;
            y[i] = (uint8_t)((int32_t)__builtin_rintf(q) + J->zp);
        }
    }
}

NN_OP(dynquant_fast)
{
    const em_tensor *X = em_in(c, 0);
    if (em_cpu_level_get() == EM_CPU_REFERENCE || !X || X->dtype != EDGEML_FLOAT) return nn_dynquant_run(c);
    dq_job J;
    J.x = X->data;
    J.n = em_numel(X);
    size_t tasks = J.n / 65536 + 1;
    if (tasks > (size_t)c->threads) tasks = (size_t)c->threads;
    if (tasks > 64) tasks = 64;
    if (tasks < 1) tasks = 1;
    J.tasks = tasks;
    if (tasks > 1) em_parallel_for(c->pool, c->threads, tasks, 1, dq_minmax, &J);
    else dq_minmax(&J, 0, 1);
    float mn = 0.f, mx = 0.f;
    for (size_t t = 0; t < tasks; t++) {
        if (J.nan[t]) return em_fail(c, EDGEML_E_RUNTIME, "input contains NaN");
        mn = J.mn[t] < mn ? J.mn[t] : mn;
        mx = J.mx[t] > mx ? J.mx[t] : mx;
    }
    float scale = (mx - mn) / 255.f;
    float zpf = scale != 0.f ? 0.f - mn / scale : 0.f;
    if (zpf < 0.f) zpf = 0.f;
    if (zpf > 255.f) zpf = 255.f;
    int32_t zp = (int32_t)__builtin_rintf(zpf);
    em_tensor *Y = em_out(c, 0, EDGEML_UINT8, X->rank, X->dims);
    if (!Y) return c->err->code ? c->err->code : EDGEML_E_NOMEM;
    if (em_n_out(c) > 1) {
        em_tensor *Ys = em_out(c, 1, EDGEML_FLOAT, 0, NULL);
        if (!Ys) return c->err->code ? c->err->code : EDGEML_E_NOMEM;
        ((float *)Ys->data)[0] = scale;
    }
    if (em_n_out(c) > 2) {
        em_tensor *Yz = em_out(c, 2, EDGEML_UINT8, 0, NULL);
        if (!Yz) return c->err->code ? c->err->code : EDGEML_E_NOMEM;
        ((uint8_t *)Yz->data)[0] = (uint8_t)zp;
    }
    if (!J.n) return EDGEML_OK;
    if (scale == 0.f) {
        memset(Y->data, zp, J.n);
        return EDGEML_OK;
    }
    J.y = Y->data;
    J.s = scale;
    J.zp = zp;
    J.flo = (float)-zp;
    J.fhi = (float)(255 - zp);
    if (tasks > 1) em_parallel_for(c->pool, c->threads, tasks, 1, dq_quant, &J);
    else dq_quant(&J, 0, 1);
    return EDGEML_OK;
}
