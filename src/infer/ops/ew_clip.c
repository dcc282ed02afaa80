/* Clip: min/max attributes before opset 11, optional scalar inputs from 11.
 * y = min(max(x, lo), hi) (so lo > hi gives hi); NaN stays NaN. */
#include "ew.h"

#include <float.h>
#include <stdlib.h>

typedef struct clstate {
    bool attrs;       /* opset < 11 */
    float lo, hi;
} clstate;

edgeml_status ew_clip_prepare(em_node *n, edgeml_error *err)
{
    clstate *s = calloc(1, sizeof *s);
    if (!s) return em_node_fail(n, err, EDGEML_E_NOMEM, "out of memory");
    s->attrs = n->opset < 11;
    s->lo = em_attr_float(n, "min", -FLT_MAX);
    s->hi = em_attr_float(n, "max", FLT_MAX);
    n->state = s;
    return EDGEML_OK;
}

#define CLIP_LOOP(T, CT, LOAD, STORE)                                              \
    do {                                                                           \
        const T *in = x->data;                                                     \
        T *out = y->data;                                                          \
        for (size_t i = 0; i < n; i++) {                                           \
            CT v = LOAD(in[i]);                                                    \
            if (v < lo) v = lo;                                                    \
            if (v > hi) v = hi;                                                    \
            out[i] = STORE(v);                                                     \
        }                                                                          \
    } while (0)

edgeml_status ew_clip_run(em_kctx *c)
{
    const clstate *s = c->node->state;
    const em_tensor *x = em_in(c, 0);
    EM_CHECK(c, x, "input is missing or not a tensor");
    int dt = x->dtype;
    if (!em_dtype_is_float(dt) && !em_dtype_is_int(dt))
        return em_fail(c, EDGEML_E_UNSUPPORTED, "unsupported dtype %s", em_dtype_name(dt));
    const em_tensor *tlo = NULL, *thi = NULL;
    if (!s->attrs) {
        tlo = em_n_in(c) > 1 ? em_in(c, 1) : NULL;
        thi = em_n_in(c) > 2 ? em_in(c, 2) : NULL;
        const em_tensor *b[2] = {tlo, thi};
        for (int k = 0; k < 2; k++) {
            if (!b[k]) continue;
            if (b[k]->dtype != dt)
                return em_fail(c, EDGEML_E_RUNTIME, "%s has dtype %s, input has %s",
                               k ? "max" : "min", em_dtype_name(b[k]->dtype), em_dtype_name(dt));
            if (em_numel(b[k]) != 1)
                return em_fail(c, EDGEML_E_RUNTIME, "%s must be a scalar, has %zu elements",
                               k ? "max" : "min", em_numel(b[k]));
        }
    }
    em_tensor *y = em_out(c, 0, dt, x->rank, x->dims);
    if (!y) return c->err->code ? c->err->code : EDGEML_E_NOMEM;
    size_t n = em_numel(x);
    if (n == 0) return EDGEML_OK;
    if (em_dtype_is_float(dt)) {
        double dlo = s->attrs ? s->lo : -INFINITY, dhi = s->attrs ? s->hi : INFINITY;
        if (tlo) dlo = em_get_f64(tlo->data, dt, 0);
        if (thi) dhi = em_get_f64(thi->data, dt, 0);
        switch (dt) {
        case EDGEML_FLOAT: { float lo = (float)dlo, hi = (float)dhi; CLIP_LOOP(float, float, EW_ID, EW_ID); break; }
        case EDGEML_DOUBLE: { double lo = dlo, hi = dhi; CLIP_LOOP(double, double, EW_ID, EW_ID); break; }
        case EDGEML_FLOAT16: { float lo = (float)dlo, hi = (float)dhi; CLIP_LOOP(uint16_t, float, em_f16_to_f32, em_f32_to_f16); break; }
        default: { float lo = (float)dlo, hi = (float)dhi; CLIP_LOOP(uint16_t, float, em_bf16_to_f32, em_f32_to_bf16); break; }
        }
        return EDGEML_OK;
    }
    /* integers: bounds in the input's own type */
#define CLIP_INT(DT, T, CT, L, S, UT)                                              \
    case DT: {                                                                     \
        T lo = tlo ? ((const T *)tlo->data)[0] : (T)0, hi = thi ? ((const T *)thi->data)[0] : (T)0; \
        const T *in = x->data;                                                     \
        T *out = y->data;                                                          \
        for (size_t i = 0; i < n; i++) {                                           \
            T v = in[i];                                                           \
            if (tlo && v < lo) v = lo;                                             \
            if (thi && v > hi) v = hi;                                             \
            out[i] = v;                                                            \
        }                                                                          \
        break;                                                                     \
    }
    if (s->attrs) {
        /* attribute bounds were float-only before opset 11; apply as doubles */
        for (size_t i = 0; i < n; i++) {
            double v = em_get_f64(x->data, dt, i);
            if (v < s->lo) v = s->lo;
            if (v > s->hi) v = s->hi;
            em_set_f64(y->data, dt, i, v);
        }
        return EDGEML_OK;
    }
    switch (dt) {
    EW_FOR_INTS(CLIP_INT)
    default: break;
    }
#undef CLIP_INT
    return EDGEML_OK;
}
