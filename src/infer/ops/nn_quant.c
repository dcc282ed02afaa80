/* QuantizeLinear, DequantizeLinear (per tensor, per axis, blocked; 8/16-bit and
 * 4-bit integers, float8), DynamicQuantizeLinear. */
#include "nn.h"

#define RET_OOM(c) return ((c)->err->code ? (c)->err->code : EDGEML_E_NOMEM)

static bool is_float8(int dt) { return em_dtype_is_float8(dt); }

/* The quantized types QuantizeLinear may produce (and DequantizeLinear read, with int32). */
static bool q_type_ok(int dt)
{
    return dt == EDGEML_UINT8 || dt == EDGEML_INT8 || dt == EDGEML_UINT16 || dt == EDGEML_INT16 ||
           is_float8(dt) || em_dtype_is_int4(dt);
}

/* How scale/zero point map onto x: per tensor, per axis, or blocked. */
typedef struct qmap {
    int mode;            /* 0 tensor, 1 axis, 2 block */
    size_t inner, D, Ds; /* inner = prod(dims after axis), D = dims[axis], Ds = scale dims[axis] */
    int64_t block;
} qmap;

static edgeml_status qmap_make(em_kctx *c, const em_tensor *x, const em_tensor *s, const em_tensor *zp,
                               qmap *m)
{
    memset(m, 0, sizeof *m);
    if (zp) {
        char b1[64], b2[64];
        EM_CHECK(c, em_same_shape(s, zp) || (em_numel(s) == 1 && em_numel(zp) == 1),
                 "zero point shape %s differs from scale shape %s",
                 em_shape_str(zp->rank, zp->dims, b1, sizeof b1), em_shape_str(s->rank, s->dims, b2, sizeof b2));
    }
    int64_t block = c->node->opset >= 21 ? em_attr_int(c->node, "block_size", 0) : 0;
    EM_CHECK(c, block >= 0, "block_size must be >= 0");
    if (em_numel(s) == 1 && s->rank <= 1 && block == 0) { m->mode = 0; return EDGEML_OK; }
    EM_CHECK(c, c->node->opset >= 13 || em_numel(s) == 1, "scale must be a scalar before opset 13");
    int axis;
    int64_t av = em_attr_int(c->node, "axis", 1);
    EM_CHECK(c, em_axis(av, x->rank, &axis), "axis %lld out of range for rank %d", (long long)av, x->rank);
    m->inner = 1;
    for (int i = axis + 1; i < x->rank; i++) m->inner *= (size_t)x->dims[i];
    m->D = (size_t)x->dims[axis];
    char b1[64], b2[64];
    if (block == 0) {
        EM_CHECK(c, s->rank == 1 && (size_t)s->dims[0] == m->D,
                 "per-axis scale must be 1-D of size %zu (axis %d), got %s", m->D, axis,
                 em_shape_str(s->rank, s->dims, b1, sizeof b1));
        m->mode = 1;
        m->Ds = m->D;
        return EDGEML_OK;
    }
    EM_CHECK(c, s->rank == x->rank, "blocked scale must have the rank of x");
    for (int i = 0; i < x->rank; i++) {
        int64_t want = i != axis ? x->dims[i] : x->dims[i] ? (x->dims[i] - 1) / block + 1 : 0;
        EM_CHECK(c, s->dims[i] == want, "blocked scale shape %s does not match x %s with block_size %lld",
                 em_shape_str(s->rank, s->dims, b1, sizeof b1), em_shape_str(x->rank, x->dims, b2, sizeof b2),
                 (long long)block);
    }
    m->mode = 2;
    m->block = block;
    m->Ds = (size_t)s->dims[axis];
    return EDGEML_OK;
}

static inline size_t qidx(const qmap *m, size_t i)
{
    if (m->mode == 0) return 0;
    size_t a = (i / m->inner) % m->D;
    if (m->mode == 1) return a;
    size_t outer = i / (m->inner * m->D), in = i % m->inner;
    return (outer * m->Ds + a / (size_t)m->block) * m->inner + in;
}

NN_OP(quantize)
{
    const em_tensor *X = em_in(c, 0), *S = em_in(c, 1), *Z = em_n_in(c) > 2 ? em_in(c, 2) : NULL;
    EM_CHECK(c, X && S, "missing input x or y_scale");
    EM_CHECK(c, nn_is_fp(X->dtype) || X->dtype == EDGEML_INT32, "unsupported x dtype %s", em_dtype_name(X->dtype));
    EM_CHECK(c, nn_is_fp(S->dtype), "y_scale must be floating point");
    int64_t od = c->node->opset >= 21 ? em_attr_int(c->node, "output_dtype", 0) : 0;
    int ydt = Z ? Z->dtype : od ? (int)od : EDGEML_UINT8;
    EM_CHECK(c, !Z || od == 0 || od == ydt, "output_dtype %lld differs from the zero point dtype %s",
             (long long)od, em_dtype_name(ydt));
    EM_CHECK(c, q_type_ok(ydt), "unsupported output dtype %s (%d)", em_dtype_name(ydt), ydt);
    EM_CHECK(c, c->node->opset >= 19 || !is_float8(ydt), "float8 output needs opset 19");
    EM_CHECK(c, c->node->opset >= 21 || !(em_dtype_is_int4(ydt) || ydt == EDGEML_INT16 || ydt == EDGEML_UINT16),
             "%s output needs opset 21", em_dtype_name(ydt));
    int64_t sat = c->node->opset >= 19 ? em_attr_int(c->node, "saturate", 1) : 1;
    EM_CHECK(c, sat == 0 || sat == 1, "saturate must be 0 or 1, got %lld", (long long)sat);
    qmap m;
    edgeml_status st = qmap_make(c, X, S, Z, &m);
    if (st) return st;
    em_tensor *Y = em_out(c, 0, ydt, X->rank, X->dims);
    if (!Y) RET_OOM(c);
    size_t n = em_numel(X);
    bool wide = X->dtype == EDGEML_INT32 || X->dtype == EDGEML_DOUBLE || S->dtype == EDGEML_DOUBLE;
    if (is_float8(ydt)) {
        /* y = float8(x / scale + zero point), rounded to nearest even, saturated or not */
        uint8_t *y = Y->data;
        for (size_t i = 0; i < n; i++) {
            size_t q = qidx(&m, i);
            float v = wide ? (float)(em_get_f64(X->data, X->dtype, i) / em_get_f64(S->data, S->dtype, q))
                           : (float)em_get_f64(X->data, X->dtype, i) / (float)em_get_f64(S->data, S->dtype, q);
            if (Z) v += em_f8_to_f32(((const uint8_t *)Z->data)[q], ydt);
            y[i] = em_f32_to_f8(v, ydt, sat != 0);
        }
        return EDGEML_OK;
    }
    bool i4 = em_dtype_is_int4(ydt);
    double lo4 = ydt == EDGEML_INT4 ? -8 : 0, hi4 = ydt == EDGEML_INT4 ? 7 : 15;
    for (size_t i = 0; i < n; i++) {
        size_t q = qidx(&m, i);
        double v;
        if (wide)
            v = em_get_f64(X->data, X->dtype, i) / em_get_f64(S->data, S->dtype, q);
        else {
            float xv = X->dtype == EDGEML_FLOAT ? ((const float *)X->data)[i] : (float)em_get_f64(X->data, X->dtype, i);
            float sv = S->dtype == EDGEML_FLOAT ? ((const float *)S->data)[q] : (float)em_get_f64(S->data, S->dtype, q);
            v = (double)(xv / sv);
        }
        v = nn_rne(v);
        if (Z) v += (double)em_get_i64(Z->data, Z->dtype, q);
        if (i4) {
            v = v != v ? 0 : v < lo4 ? lo4 : v > hi4 ? hi4 : v;
            ((uint8_t *)Y->data)[i] = (uint8_t)(int8_t)v;
        } else {
            nn_sat_store(Y->data, ydt, i, v);
        }
    }
    return EDGEML_OK;
}

NN_OP(dequantize)
{
    const em_tensor *X = em_in(c, 0), *S = em_in(c, 1), *Z = em_n_in(c) > 2 ? em_in(c, 2) : NULL;
    EM_CHECK(c, X && S, "missing input x or x_scale");
    EM_CHECK(c, q_type_ok(X->dtype) || X->dtype == EDGEML_INT32, "unsupported x dtype %s (%d)",
             em_dtype_name(X->dtype), X->dtype);
    EM_CHECK(c, nn_is_fp(S->dtype), "x_scale must be floating point");
    if (Z) EM_CHECK(c, Z->dtype == X->dtype, "zero point dtype %s differs from x", em_dtype_name(Z->dtype));
    qmap m;
    edgeml_status st = qmap_make(c, X, S, Z, &m);
    if (st) return st;
    if (Z && X->dtype == EDGEML_INT32) {
        size_t nz = em_numel(Z);
        for (size_t i = 0; i < nz; i++)
            EM_CHECK(c, ((const int32_t *)Z->data)[i] == 0, "int32 input needs a zero point of 0");
    }
    em_tensor *Y = em_out(c, 0, S->dtype, X->rank, X->dims);
    if (!Y) RET_OOM(c);
    size_t n = em_numel(X);
    bool f8 = is_float8(X->dtype);
    for (size_t i = 0; i < n; i++) {
        size_t q = qidx(&m, i);
        if (f8) {
            /* (x - zero point) * scale in float32 */
            const uint8_t *x8 = X->data;
            float d = em_f8_to_f32(x8[i], X->dtype) - (Z ? em_f8_to_f32(((const uint8_t *)Z->data)[q], X->dtype) : 0.f);
            if (S->dtype == EDGEML_DOUBLE) ((double *)Y->data)[i] = (double)d * ((const double *)S->data)[q];
            else em_set_f64(Y->data, S->dtype, i, d * (float)em_get_f64(S->data, S->dtype, q));
            continue;
        }
        int64_t d = em_get_i64(X->data, X->dtype, i) - (Z ? em_get_i64(Z->data, Z->dtype, q) : 0);
        if (S->dtype == EDGEML_DOUBLE)
            ((double *)Y->data)[i] = (double)d * ((const double *)S->data)[q];
        else {
            float sv = S->dtype == EDGEML_FLOAT ? ((const float *)S->data)[q] : (float)em_get_f64(S->data, S->dtype, q);
            float r = (float)d * sv;
            if (S->dtype == EDGEML_FLOAT) ((float *)Y->data)[i] = r;
            else em_set_f64(Y->data, S->dtype, i, r);
        }
    }
    return EDGEML_OK;
}

NN_OP(dynquant)
{
    const em_tensor *X = em_in(c, 0);
    EM_CHECK(c, X, "missing input x");
    EM_CHECK(c, X->dtype == EDGEML_FLOAT, "x must be float32, got %s", em_dtype_name(X->dtype));
    size_t n = em_numel(X);
    const float *x = X->data;
    float mn = 0.f, mx = 0.f;
    bool nan = false;
    size_t i0 = 0;
    {
        /* per-lane partial min/max over fixed-size chunks (vectorises); exact */
        enum { CH = 16 };
        float mnv[CH], mxv[CH];
        int nanv[CH];
        for (int j = 0; j < CH; j++) { mnv[j] = 0.f; mxv[j] = 0.f; nanv[j] = 0; }
        for (; i0 + CH <= n; i0 += CH) {
            float xb[CH];
            memcpy(xb, x + i0, sizeof xb);
            for (int j = 0; j < CH; j++) {
                float v = xb[j];
                mnv[j] = v < mnv[j] ? v : mnv[j];
                mxv[j] = v > mxv[j] ? v : mxv[j];
                nanv[j] |= v != v;
            }
        }
        for (int j = 0; j < CH; j++) {
            mn = mnv[j] < mn ? mnv[j] : mn;
            mx = mxv[j] > mx ? mxv[j] : mx;
            nan |= nanv[j] != 0;
        }
    }
    for (size_t i = i0; i < n; i++) {
        float v = x[i];
        mn = v < mn ? v : mn;
        mx = v > mx ? v : mx;
        nan |= v != v;
    }
    if (nan) return em_fail(c, EDGEML_E_RUNTIME, "input contains NaN");
    float scale = (mx - mn) / 255.f;
    float zpf = scale != 0.f ? 0.f - mn / scale : 0.f;
    if (zpf < 0.f) zpf = 0.f;
    if (zpf > 255.f) zpf = 255.f;
    double zp = nn_rne(zpf);
    em_tensor *Y = em_out(c, 0, EDGEML_UINT8, X->rank, X->dims);
    if (!Y) RET_OOM(c);
    if (em_n_out(c) > 1) {
        em_tensor *Ys = em_out(c, 1, EDGEML_FLOAT, 0, NULL);
        if (!Ys) RET_OOM(c);
        ((float *)Ys->data)[0] = scale;
    }
    if (em_n_out(c) > 2) {
        em_tensor *Yz = em_out(c, 2, EDGEML_UINT8, 0, NULL);
        if (!Yz) RET_OOM(c);
        ((uint8_t *)Yz->data)[0] = (uint8_t)zp;
    }
    uint8_t *y = Y->data;
    if (scale == 0.f) {
        if (n) memset(y, (int)zp, n);
        return EDGEML_OK;
    }
    /* Round half to even by adding 1.5 * 2^52 (exact for |v| < 2^51): same result
     * as nn_rne + nn_sat_store without the libm call. Every x lies in [mn, mx], so
     * |x / scale| <= bound; fixed-size chunks over local copies let gcc vectorise. */
    float bound = (mx > -mn ? mx : -mn) / scale;
    size_t i = 0;
    if (bound < 0x1p51f) {
        enum { CH = 16 };
        for (; i + CH <= n; i += CH) {
            float xb[CH];
            uint8_t yb[CH];
            memcpy(xb, x + i, sizeof xb);
            for (int j = 0; j < CH; j++) {
                double r = (((double)(xb[j] / scale) + 0x1.8p52) - 0x1.8p52) + zp;
                r = r < 0.0 ? 0.0 : r;
                r = r > 255.0 ? 255.0 : r;
                yb[j] = (uint8_t)(int32_t)r;
            }
            memcpy(y + i, yb, sizeof yb);
        }
    }
    for (; i < n; i++) nn_sat_store(y, EDGEML_UINT8, i, nn_rne((double)(x[i] / scale)) + zp);
    return EDGEML_OK;
}
