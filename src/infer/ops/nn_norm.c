/* BatchNormalization, InstanceNormalization, LayerNormalization,
 * GroupNormalization, LRN, MeanVarianceNormalization.
 * Data is handled as float (float32/float16/bfloat16) or double arrays;
 * statistics accumulate in double. */
#include "nn.h"
#include "../cpu/vmath.h"
#include "../pool.h"

/* float32 y = x a[ch] + b[ch] over [N, C, S] planes, over the pool (FMA where the CPU has it). */
typedef struct affq { const float *x; float *y; size_t C, S; const double *a, *b; } affq;
static void aff_planes(void *ctx, size_t b, size_t e)
{
    const affq *q = ctx;
    const em_vmath *vm = em_vmath_get();
    for (size_t p = b; p < e; p++) {
        size_t ch = p % q->C;
        vm->affine(q->x + p * q->S, q->y + p * q->S, q->S, (float)q->a[ch], (float)q->b[ch]);
    }
}

/* The input as a float or double array (by `dbl`), converted when needed. */
static const void *as_work(em_kctx *c, const em_tensor *t, bool dbl)
{
    return dbl ? (const void *)nn_as_f64(c, t) : (const void *)nn_as_f32(c, t);
}

/* Work buffer for an output; call store_work after filling it. */
static void *out_work(em_kctx *c, em_tensor *o, bool dbl)
{
    if (!dbl) return nn_out_f32(c, o);
    if (o->dtype == EDGEML_DOUBLE) return o->data;
    size_t n = em_numel(o);
    void *p = em_scratch(c, (n ? n : 1) * sizeof(double));
    if (!p) em_fail(c, EDGEML_E_NOMEM, "out of memory");
    return p;
}

static void store_work(em_tensor *o, const void *src, bool dbl)
{
    if (!dbl) { nn_store_f32(o, src); return; }
    if (o->data == src) return;
    size_t n = em_numel(o);
    for (size_t i = 0; i < n; i++) em_set_f64(o->data, o->dtype, i, ((const double *)src)[i]);
}

#define RET_OOM(c) return ((c)->err->code ? (c)->err->code : EDGEML_E_NOMEM)

/* y[i] = x[i] * a[ch] + b[ch] over [N, C, S] (or per C*S entry when per_elem). */
#define NN_DEF_AFFINE(T, NAME)                                                                     \
    static void NAME(const T *x, T *y, size_t N, size_t C, size_t S, const double *a,            \
                     const double *b, bool per_elem)                                              \
    {                                                                                              \
        for (size_t n = 0; n < N; n++)                                                             \
            for (size_t ch = 0; ch < C; ch++) {                                                    \
                const T *xr = x + (n * C + ch) * S;                                                \
                T *yr = y + (n * C + ch) * S;                                                      \
                if (per_elem) {                                                                    \
                    const double *ar = a + ch * S, *br = b + ch * S;                               \
                    for (size_t s = 0; s < S; s++) yr[s] = (T)(xr[s] * ar[s] + br[s]);            \
                } else {                                                                           \
                    T av = (T)a[ch], bv = (T)b[ch];                                                \
                    for (size_t s = 0; s < S; s++) yr[s] = xr[s] * av + bv;                        \
                }                                                                                  \
            }                                                                                      \
    }
NN_DEF_AFFINE(float, affine_f32)
NN_DEF_AFFINE(double, affine_f64)

static void affine(bool dbl, const void *x, void *y, size_t N, size_t C, size_t S, const double *a,
                   const double *b, bool per_elem)
{
    if (dbl) affine_f64(x, y, N, C, S, a, b, per_elem);
    else affine_f32(x, y, N, C, S, a, b, per_elem);
}

static inline double wget(const void *p, bool dbl, size_t i)
{
    return dbl ? ((const double *)p)[i] : (double)((const float *)p)[i];
}

/* Mean and population variance of each (channel) over [N, C, S] -> mean[C], var[C]. */
static void channel_stats(const void *x, bool dbl, size_t N, size_t C, size_t S, double *mean,
                          double *var)
{
    for (size_t ch = 0; ch < C; ch++) {
        double s = 0;
        for (size_t n = 0; n < N; n++)
            for (size_t i = 0; i < S; i++) s += wget(x, dbl, (n * C + ch) * S + i);
        double cnt = (double)(N * S);
        double m = cnt > 0 ? s / cnt : 0;
        double v = 0;
        for (size_t n = 0; n < N; n++)
            for (size_t i = 0; i < S; i++) {
                double d = wget(x, dbl, (n * C + ch) * S + i) - m;
                v += d * d;
            }
        mean[ch] = m;
        var[ch] = cnt > 0 ? v / cnt : 0;
    }
}

static edgeml_status out_param(em_kctx *c, int i, const em_tensor *like, const double *v, size_t n)
{
    if (em_n_out(c) <= i || !em_out_wanted(c, i)) return EDGEML_OK;
    em_tensor *o = em_out(c, i, like->dtype, like->rank, like->dims);
    if (!o) RET_OOM(c);
    for (size_t k = 0; k < n && k < em_numel(o); k++) em_set_f64(o->data, o->dtype, k, v[k]);
    return EDGEML_OK;
}

NN_OP(batchnorm)
{
    const em_node *nd = c->node;
    EM_CHECK(c, em_n_in(c) >= 5, "BatchNormalization needs 5 inputs");
    const em_tensor *X = em_in(c, 0), *sc = em_in(c, 1), *B = em_in(c, 2), *mean = em_in(c, 3),
                    *var = em_in(c, 4);
    EM_CHECK(c, X && sc && B && mean && var, "missing a required input");
    EM_CHECK(c, nn_is_fp(X->dtype), "unsupported dtype %s", em_dtype_name(X->dtype));
    EM_CHECK(c, nn_is_fp(sc->dtype) && nn_is_fp(B->dtype) && nn_is_fp(mean->dtype) &&
                    nn_is_fp(var->dtype), "parameters must be floating point");
    EM_CHECK(c, X->rank >= 1, "X must have rank >= 1");
    float eps = em_attr_float(nd, "epsilon", 1e-5f);
    float mom = em_attr_float(nd, "momentum", 0.9f);
    bool spatial = nd->opset < 9 ? em_attr_int(nd, "spatial", 1) != 0 : true;
    bool training;
    if (nd->opset >= 14) training = em_attr_int(nd, "training_mode", 0) != 0;
    else training = em_n_out(c) > 1 && em_out_wanted(c, 1) && em_attr_int(nd, "is_test", 0) == 0;
    size_t N = (size_t)X->dims[0], C = X->rank > 1 ? (size_t)X->dims[1] : 1, S = 1;
    for (int i = 2; i < X->rank; i++) S *= (size_t)X->dims[i];
    size_t P = spatial ? C : C * S;
    const em_tensor *ps[4] = {sc, B, mean, var};
    static const char *pn[4] = {"scale", "B", "mean", "var"};
    for (int i = 0; i < 4; i++)
        EM_CHECK(c, em_numel(ps[i]) == P, "%s has %zu elements, expected %zu", pn[i], em_numel(ps[i]), P);
    if (training) EM_CHECK(c, spatial, "training mode with spatial=0 is not supported");
    bool dbl = X->dtype == EDGEML_DOUBLE;
    double *a = em_scratch(c, (P ? P : 1) * 2 * sizeof(double));
    double *cm = em_scratch(c, (C ? C : 1) * 2 * sizeof(double));
    if (!a || !cm) return em_fail(c, EDGEML_E_NOMEM, "out of memory");
    double *b = a + P, *cv = cm + C;
    const void *x = as_work(c, X, dbl);
    if (!x) RET_OOM(c);
    if (training) channel_stats(x, dbl, N, C, S, cm, cv);
    for (size_t i = 0; i < P; i++) {
        double m = training ? cm[i] : em_get_f64(mean->data, mean->dtype, i);
        double v = training ? cv[i] : em_get_f64(var->data, var->dtype, i);
        double s = em_get_f64(sc->data, sc->dtype, i) / sqrt(v + (double)eps);
        a[i] = s;
        b[i] = em_get_f64(B->data, B->dtype, i) - m * s;
    }
    em_tensor *Y = em_out(c, 0, X->dtype, X->rank, X->dims);
    if (!Y) RET_OOM(c);
    void *y = out_work(c, Y, dbl);
    if (!y) RET_OOM(c);
    if (X->dtype == EDGEML_FLOAT && spatial && em_vmath_fast()) {
        affq q = {x, y, C, S, a, b};
        em_parallel_for(c->pool, c->threads, N * C, 1 + 16384 / (S + 1), aff_planes, &q);
    } else {
        affine(dbl, x, y, N, C, S, a, b, !spatial);
    }
    store_work(Y, y, dbl);
    if (training) {
        double *rm = em_scratch(c, (C ? C : 1) * 2 * sizeof(double));
        if (!rm) return em_fail(c, EDGEML_E_NOMEM, "out of memory");
        double *rv = rm + C;
        for (size_t i = 0; i < C; i++) {
            rm[i] = em_get_f64(mean->data, mean->dtype, i) * mom + cm[i] * (1.0 - mom);
            rv[i] = em_get_f64(var->data, var->dtype, i) * mom + cv[i] * (1.0 - mom);
        }
        edgeml_status st;
        if ((st = out_param(c, 1, mean, rm, C))) return st;
        if ((st = out_param(c, 2, var, rv, C))) return st;
        if ((st = out_param(c, 3, mean, cm, C))) return st;
        if (nd->opset < 7)
            for (size_t i = 0; i < C; i++) cv[i] = 1.0 / sqrt(cv[i] + (double)eps);
        if ((st = out_param(c, 4, var, cv, C))) return st;
    }
    return EDGEML_OK;
}

NN_OP(instnorm)
{
    const em_tensor *X = em_in(c, 0), *sc = em_in(c, 1), *B = em_in(c, 2);
    EM_CHECK(c, X && sc && B, "missing a required input");
    EM_CHECK(c, nn_is_fp(X->dtype), "unsupported dtype %s", em_dtype_name(X->dtype));
    EM_CHECK(c, sc->dtype == X->dtype && B->dtype == X->dtype, "scale/B dtype differs from input");
    EM_CHECK(c, X->rank >= 2, "input must have rank >= 2");
    size_t N = (size_t)X->dims[0], C = (size_t)X->dims[1], S = 1;
    for (int i = 2; i < X->rank; i++) S *= (size_t)X->dims[i];
    EM_CHECK(c, em_numel(sc) == C && em_numel(B) == C, "scale and B must have %zu elements", C);
    float eps = em_attr_float(c->node, "epsilon", 1e-5f);
    bool dbl = X->dtype == EDGEML_DOUBLE;
    const void *x = as_work(c, X, dbl);
    em_tensor *Y = em_out(c, 0, X->dtype, X->rank, X->dims);
    if (!x || !Y) RET_OOM(c);
    void *y = out_work(c, Y, dbl);
    double *a = em_scratch(c, 2 * sizeof(double) * ((N * C) + 1));
    if (!y || !a) RET_OOM(c);
    double *b = a + N * C;
    for (size_t n = 0; n < N; n++)
        for (size_t ch = 0; ch < C; ch++) {
            double m, v;
            channel_stats((const char *)x + (n * C + ch) * S * (dbl ? 8 : 4), dbl, 1, 1, S, &m, &v);
            double s = em_get_f64(sc->data, sc->dtype, ch) / sqrt(v + (double)eps);
            a[n * C + ch] = s;
            b[n * C + ch] = em_get_f64(B->data, B->dtype, ch) - m * s;
        }
    affine(dbl, x, y, 1, N * C, S, a, b, false);
    store_work(Y, y, dbl);
    return EDGEML_OK;
}

/* Expands a parameter that broadcasts (numpy rules, unidirectionally) onto
 * shape dims[0..r) into a dense double array of prod(dims). */
static double *expand_param(em_kctx *c, const em_tensor *p, int r, const int64_t *dims, size_t total)
{
    double *out = em_scratch(c, (total ? total : 1) * sizeof(double));
    if (!out) { em_fail(c, EDGEML_E_NOMEM, "out of memory"); return NULL; }
    if (p->rank > r) { em_fail(c, EDGEML_E_RUNTIME, "parameter rank %d exceeds the normalized rank %d", p->rank, r); return NULL; }
    for (int i = 0; i < p->rank; i++) {
        int64_t d = p->dims[p->rank - 1 - i], t = dims[r - 1 - i];
        if (d != 1 && d != t) {
            char b1[64], b2[64];
            em_fail(c, EDGEML_E_RUNTIME, "parameter shape %s does not broadcast to %s",
                    em_shape_str(p->rank, p->dims, b1, sizeof b1), em_shape_str(r, dims, b2, sizeof b2));
            return NULL;
        }
    }
    int64_t st[EM_MAX_RANK], idx[EM_MAX_RANK] = {0};
    em_broadcast_strides(p, r, dims, st);
    for (size_t i = 0; i < total; i++) {
        int64_t off = 0;
        for (int d = 0; d < r; d++) off += idx[d] * st[d];
        out[i] = em_get_f64(p->data, p->dtype, (size_t)off);
        for (int d = r - 1; d >= 0; d--) { if (++idx[d] < dims[d]) break; idx[d] = 0; }
    }
    return out;
}

static edgeml_status layernorm_ref(em_kctx *c)
{
    const em_tensor *X = em_in(c, 0), *sc = em_in(c, 1), *B = em_n_in(c) > 2 ? em_in(c, 2) : NULL;
    EM_CHECK(c, X && sc, "missing input X or Scale");
    EM_CHECK(c, nn_is_fp(X->dtype), "unsupported dtype %s", em_dtype_name(X->dtype));
    EM_CHECK(c, nn_is_fp(sc->dtype) && (!B || nn_is_fp(B->dtype)), "Scale/B must be floating point");
    int axis;
    EM_CHECK(c, em_axis(em_attr_int(c->node, "axis", -1), X->rank, &axis), "axis out of range for rank %d", X->rank);
    float eps = em_attr_float(c->node, "epsilon", 1e-5f);
    int64_t stash = em_attr_int(c->node, "stash_type", 1);
    int udt = nn_is_fp((int)stash) ? (int)stash : EDGEML_FLOAT;
    size_t outer = 1, inner = 1;
    for (int i = 0; i < axis; i++) outer *= (size_t)X->dims[i];
    for (int i = axis; i < X->rank; i++) inner *= (size_t)X->dims[i];
    int r = X->rank - axis;
    double *s = expand_param(c, sc, r, X->dims + axis, inner);
    double *b = B ? expand_param(c, B, r, X->dims + axis, inner) : NULL;
    if (!s || (B && !b)) RET_OOM(c);
    bool dbl = X->dtype == EDGEML_DOUBLE;
    const void *x = as_work(c, X, dbl);
    em_tensor *Y = em_out(c, 0, X->dtype, X->rank, X->dims);
    if (!x || !Y) RET_OOM(c);
    void *y = out_work(c, Y, dbl);
    if (!y) RET_OOM(c);
    int64_t sdims[EM_MAX_RANK];
    for (int i = 0; i < X->rank; i++) sdims[i] = i < axis ? X->dims[i] : 1;
    em_tensor *Mt = NULL, *It = NULL;
    if (em_n_out(c) > 1 && em_out_wanted(c, 1) && !(Mt = em_out(c, 1, udt, X->rank, sdims))) RET_OOM(c);
    if (em_n_out(c) > 2 && em_out_wanted(c, 2) && !(It = em_out(c, 2, udt, X->rank, sdims))) RET_OOM(c);
    for (size_t o = 0; o < outer; o++) {
        double m, v;
        const char *xr = (const char *)x + o * inner * (dbl ? 8 : 4);
        channel_stats(xr, dbl, 1, 1, inner, &m, &v);
        double is = 1.0 / sqrt(v + (double)eps);
        if (dbl) {
            const double *xi = (const double *)xr;
            double *yo = (double *)y + o * inner;
            for (size_t i = 0; i < inner; i++) yo[i] = (xi[i] - m) * is * s[i] + (b ? b[i] : 0.0);
        } else {
            const float *xi = (const float *)xr;
            float *yo = (float *)y + o * inner;
            float mf = (float)m, isf = (float)is;
            for (size_t i = 0; i < inner; i++)
                yo[i] = (float)((xi[i] - mf) * isf * s[i] + (b ? b[i] : 0.0));
        }
        if (Mt) em_set_f64(Mt->data, udt, o, m);
        if (It) em_set_f64(It->data, udt, o, is);
    }
    store_work(Y, y, dbl);
    return EDGEML_OK;
}

/* ---- LayerNormalization, float32 fast path (issue 10) ----------------------------
 * Rows over the normalised axes, threads over rows; per row: mean and variance
 * with vmath's lane-wise sums, then y = (x - mean) * invstd * scale + bias in
 * four vector passes while the row is in L1. Scale and bias must be float32
 * arrays of the normalised shape (dims of 1 may be left out), stash_type float;
 * anything else and EDGEML_CPU=reference run layernorm_ref. */
typedef struct ln_rs {
    size_t outer, inner;
    int rank;
    int64_t sdims[EM_MAX_RANK];
} ln_rs;

/* True when p (float32) is dense over dims[0..r): its shape is the trailing part of
 * dims and the dims it leaves out are 1. */
static bool ln_dense_param(const em_tensor *p, int r, const int64_t *dims)
{
    if (!p || p->dtype != EDGEML_FLOAT || p->rank > r) return false;
    for (int i = 0; i < p->rank; i++)
        if (p->dims[i] != dims[r - p->rank + i]) return false;
    for (int i = 0; i < r - p->rank; i++)
        if (dims[i] != 1) return false;
    return true;
}

edgeml_status nn_layernorm_reshape(em_kctx *c, void **out, size_t *ws)
{
    const em_tensor *X = em_in(c, 0), *sc = em_in(c, 1), *B = em_n_in(c) > 2 ? em_in(c, 2) : NULL;
    *ws = 0;
    int axis;
    if (!em_vmath_fast() || !X || X->dtype != EDGEML_FLOAT ||
        !em_axis(em_attr_int(c->node, "axis", -1), X->rank, &axis))
        return EDGEML_OK;
    if (em_attr_int(c->node, "stash_type", 1) != EDGEML_FLOAT) return EDGEML_OK;
    int r = X->rank - axis;
    if (!ln_dense_param(sc, r, X->dims + axis) || (B && !ln_dense_param(B, r, X->dims + axis)))
        return EDGEML_OK;
    ln_rs *p = calloc(1, sizeof *p);
    if (!p) return em_fail(c, EDGEML_E_NOMEM, "out of memory");
    p->outer = p->inner = 1;
    for (int i = 0; i < axis; i++) p->outer *= (size_t)X->dims[i];
    for (int i = axis; i < X->rank; i++) p->inner *= (size_t)X->dims[i];
    p->rank = X->rank;
    for (int i = 0; i < X->rank; i++) p->sdims[i] = i < axis ? X->dims[i] : 1;
    *out = p;
    return EDGEML_OK;
}

typedef struct lnq {
    const float *x, *s, *b;
    float *y, *mean, *istd;
    size_t inner;
    float eps;
} lnq;

static void ln_rows(void *ctx, size_t r0, size_t r1)
{
    const lnq *q = ctx;
    const em_vmath *vm = em_vmath_get();
    size_t n = q->inner;
    for (size_t r = r0; r < r1; r++) {
        const float *x = q->x + r * n;
        float *y = q->y + r * n;
        float m = n ? vm->sum(x, n) / (float)n : 0.f;
        float v = n ? vm->sum_sqdev(x, n, m) / (float)n : 0.f;
        float is = (float)(1.0 / sqrt((double)v + (double)q->eps));
        vm->affine(x, y, n, 1.f, -m);
        vm->bin[EM_VBIN_MUL](y, y, 1, &is, 0, n);
        vm->bin[EM_VBIN_MUL](y, y, 1, q->s, 1, n);
        if (q->b) vm->bin[EM_VBIN_ADD](y, y, 1, q->b, 1, n);
        if (q->mean) q->mean[r] = m;
        if (q->istd) q->istd[r] = is;
    }
}

NN_OP(layernorm)
{
    const ln_rs *r = c->rs;
    if (!r || !em_vmath_fast()) return layernorm_ref(c);
    const em_tensor *X = em_in(c, 0), *sc = em_in(c, 1), *B = em_n_in(c) > 2 ? em_in(c, 2) : NULL;
    em_tensor *Y = em_out(c, 0, EDGEML_FLOAT, X->rank, X->dims);
    if (!Y) RET_OOM(c);
    em_tensor *Mt = NULL, *It = NULL;
    if (em_n_out(c) > 1 && em_out_wanted(c, 1) && !(Mt = em_out(c, 1, EDGEML_FLOAT, r->rank, r->sdims))) RET_OOM(c);
    if (em_n_out(c) > 2 && em_out_wanted(c, 2) && !(It = em_out(c, 2, EDGEML_FLOAT, r->rank, r->sdims))) RET_OOM(c);
    lnq q = {X->data, sc->data, B ? B->data : NULL, Y->data, Mt ? Mt->data : NULL,
             It ? It->data : NULL, r->inner, em_attr_float(c->node, "epsilon", 1e-5f)};
    em_parallel_for(c->pool, c->threads, r->outer, 1 + 16384 / (r->inner + 1), ln_rows, &q);
    return EDGEML_OK;
}

NN_OP(groupnorm)
{
    const em_tensor *X = em_in(c, 0), *sc = em_in(c, 1), *B = em_in(c, 2);
    EM_CHECK(c, X && sc && B, "missing a required input");
    EM_CHECK(c, nn_is_fp(X->dtype), "unsupported dtype %s", em_dtype_name(X->dtype));
    EM_CHECK(c, nn_is_fp(sc->dtype) && nn_is_fp(B->dtype), "scale/bias must be floating point");
    EM_CHECK(c, X->rank >= 2, "X must have rank >= 2");
    int64_t G = em_attr_int(c->node, "num_groups", 0);
    float eps = em_attr_float(c->node, "epsilon", 1e-5f);
    size_t N = (size_t)X->dims[0], C = (size_t)X->dims[1], S = 1;
    for (int i = 2; i < X->rank; i++) S *= (size_t)X->dims[i];
    EM_CHECK(c, G >= 1 && C % (size_t)G == 0, "num_groups %lld must divide the channels %zu", (long long)G, C);
    size_t Cg = C / (size_t)G;
    bool per_ch;
    if (c->node->opset >= 21) {
        EM_CHECK(c, em_numel(sc) == C && em_numel(B) == C, "scale and bias must have %zu elements", C);
        per_ch = true;
    } else {
        EM_CHECK(c, em_numel(sc) == (size_t)G && em_numel(B) == (size_t)G,
                 "scale and bias must have num_groups=%lld elements", (long long)G);
        per_ch = false;
    }
    bool dbl = X->dtype == EDGEML_DOUBLE;
    const void *x = as_work(c, X, dbl);
    em_tensor *Y = em_out(c, 0, X->dtype, X->rank, X->dims);
    if (!x || !Y) RET_OOM(c);
    void *y = out_work(c, Y, dbl);
    double *a = em_scratch(c, 2 * sizeof(double) * ((N * C) + 1));
    if (!y || !a) RET_OOM(c);
    double *b = a + N * C;
    for (size_t n = 0; n < N; n++)
        for (size_t g = 0; g < (size_t)G; g++) {
            double m, v;
            channel_stats((const char *)x + (n * C + g * Cg) * S * (dbl ? 8 : 4), dbl, 1, 1, Cg * S, &m, &v);
            double is = 1.0 / sqrt(v + (double)eps);
            for (size_t k = 0; k < Cg; k++) {
                size_t ch = g * Cg + k, pi = per_ch ? ch : g;
                double s = em_get_f64(sc->data, sc->dtype, pi) * is;
                a[n * C + ch] = s;
                b[n * C + ch] = em_get_f64(B->data, B->dtype, pi) - m * s;
            }
        }
    affine(dbl, x, y, 1, N * C, S, a, b, false);
    store_work(Y, y, dbl);
    return EDGEML_OK;
}

NN_OP(lrn)
{
    const em_tensor *X = em_in(c, 0);
    EM_CHECK(c, X, "missing input X");
    EM_CHECK(c, nn_is_fp(X->dtype), "unsupported dtype %s", em_dtype_name(X->dtype));
    EM_CHECK(c, X->rank >= 2, "X must have rank >= 2");
    int64_t size = em_attr_int(c->node, "size", 0);
    EM_CHECK(c, size >= 1, "size must be >= 1");
    double alpha = em_attr_float(c->node, "alpha", 1e-4f), beta = em_attr_float(c->node, "beta", 0.75f),
           bias = em_attr_float(c->node, "bias", 1.0f);
    size_t N = (size_t)X->dims[0], C = (size_t)X->dims[1], S = 1;
    for (int i = 2; i < X->rank; i++) S *= (size_t)X->dims[i];
    bool dbl = X->dtype == EDGEML_DOUBLE;
    const void *x = as_work(c, X, dbl);
    em_tensor *Y = em_out(c, 0, X->dtype, X->rank, X->dims);
    if (!x || !Y) RET_OOM(c);
    void *y = out_work(c, Y, dbl);
    if (!y) RET_OOM(c);
    int64_t lo = (size - 1) / 2, hi = size - 1 - lo;
    for (size_t n = 0; n < N; n++)
        for (size_t ch = 0; ch < C; ch++) {
            int64_t c0 = (int64_t)ch - lo, c1 = (int64_t)ch + hi;
            if (c0 < 0) c0 = 0;
            if (c1 > (int64_t)C - 1) c1 = (int64_t)C - 1;
            for (size_t s = 0; s < S; s++) {
                double sq = 0;
                for (int64_t k = c0; k <= c1; k++) {
                    double v = wget(x, dbl, (n * C + (size_t)k) * S + s);
                    sq += v * v;
                }
                size_t i = (n * C + ch) * S + s;
                double r = wget(x, dbl, i) / pow(bias + alpha / (double)size * sq, beta);
                if (dbl) ((double *)y)[i] = r;
                else ((float *)y)[i] = (float)r;
            }
        }
    store_work(Y, y, dbl);
    return EDGEML_OK;
}

NN_OP(mvn)
{
    const em_tensor *X = em_in(c, 0);
    EM_CHECK(c, X, "missing input X");
    EM_CHECK(c, nn_is_fp(X->dtype), "unsupported dtype %s", em_dtype_name(X->dtype));
    bool red[EM_MAX_RANK] = {false};
    const int64_t *ax;
    long na = em_attr_ints(c->node, "axes", &ax);
    static const int64_t dflt[3] = {0, 2, 3};
    if (na < 0) {
        ax = dflt;
        na = 3;
        EM_CHECK(c, X->rank == 4, "default axes [0,2,3] need a 4-D input, got rank %d", X->rank);
    }
    for (long i = 0; i < na; i++) {
        int a;
        EM_CHECK(c, em_axis(ax[i], X->rank, &a), "axis %lld out of range", (long long)ax[i]);
        red[a] = true;
    }
    /* kept-shape index of every element */
    size_t n = em_numel(X), nk = 1;
    int64_t kst[EM_MAX_RANK];
    for (int d = X->rank - 1; d >= 0; d--) {
        kst[d] = red[d] ? 0 : (int64_t)nk;
        if (!red[d]) nk *= (size_t)X->dims[d];
    }
    bool dbl = X->dtype == EDGEML_DOUBLE;
    const void *x = as_work(c, X, dbl);
    em_tensor *Y = em_out(c, 0, X->dtype, X->rank, X->dims);
    if (!x || !Y) RET_OOM(c);
    void *y = out_work(c, Y, dbl);
    double *sum = em_scratch(c, (nk ? nk : 1) * 3 * sizeof(double));
    size_t *key = em_scratch(c, (n ? n : 1) * sizeof(size_t));
    if (!y || !sum || !key) RET_OOM(c);
    double *sq = sum + nk, *cnt = sq + nk;
    memset(sum, 0, nk * 3 * sizeof(double));
    int64_t idx[EM_MAX_RANK] = {0};
    for (size_t i = 0; i < n; i++) {
        size_t k = 0;
        for (int d = 0; d < X->rank; d++) k += (size_t)(idx[d] * kst[d]);
        key[i] = k;
        sum[k] += wget(x, dbl, i);
        cnt[k] += 1;
        for (int d = X->rank - 1; d >= 0; d--) { if (++idx[d] < X->dims[d]) break; idx[d] = 0; }
    }
    for (size_t k = 0; k < nk; k++) sum[k] = cnt[k] > 0 ? sum[k] / cnt[k] : 0;
    for (size_t i = 0; i < n; i++) { double d = wget(x, dbl, i) - sum[key[i]]; sq[key[i]] += d * d; }
    for (size_t k = 0; k < nk; k++) sq[k] = sqrt(cnt[k] > 0 ? sq[k] / cnt[k] : 0) + 1e-9;
    for (size_t i = 0; i < n; i++) {
        double r = (wget(x, dbl, i) - sum[key[i]]) / sq[key[i]];
        if (dbl) ((double *)y)[i] = r;
        else ((float *)y)[i] = (float)r;
    }
    store_work(Y, y, dbl);
    return EDGEML_OK;
}
