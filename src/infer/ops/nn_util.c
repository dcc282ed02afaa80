/* Shared helpers of the nn family: dtype conversion, conv/pool geometry. */
#include "nn.h"

static float g_nn_dummy_f32[1];
static double g_nn_dummy_f64[1];

void nn_cvt_to_f32(const void *src, int dt, float *dst, size_t n)
{
    switch (dt) {
    case EDGEML_FLOAT: memcpy(dst, src, n * sizeof(float)); break;
    case EDGEML_FLOAT16: {
        const uint16_t *s = src;
        for (size_t i = 0; i < n; i++) dst[i] = em_f16_to_f32(s[i]);
        break;
    }
    case EDGEML_BFLOAT16: {
        const uint16_t *s = src;
        for (size_t i = 0; i < n; i++) dst[i] = em_bf16_to_f32(s[i]);
        break;
    }
    case EDGEML_DOUBLE: {
        const double *s = src;
        for (size_t i = 0; i < n; i++) dst[i] = (float)s[i];
        break;
    }
    default:
        for (size_t i = 0; i < n; i++) dst[i] = (float)em_get_f64(src, dt, i);
        break;
    }
}

void nn_cvt_from_f32(const float *src, void *dst, int dt, size_t n)
{
    switch (dt) {
    case EDGEML_FLOAT: if (dst != src) memcpy(dst, src, n * sizeof(float)); break;
    case EDGEML_FLOAT16: {
        uint16_t *d = dst;
        for (size_t i = 0; i < n; i++) d[i] = em_f32_to_f16(src[i]);
        break;
    }
    case EDGEML_BFLOAT16: {
        uint16_t *d = dst;
        for (size_t i = 0; i < n; i++) d[i] = em_f32_to_bf16(src[i]);
        break;
    }
    case EDGEML_DOUBLE: {
        double *d = dst;
        for (size_t i = 0; i < n; i++) d[i] = src[i];
        break;
    }
    default:
        for (size_t i = 0; i < n; i++) em_set_f64(dst, dt, i, src[i]);
        break;
    }
}

const float *nn_as_f32(em_kctx *c, const em_tensor *t)
{
    size_t n = em_numel(t);
    if (n == 0) return g_nn_dummy_f32;
    if (t->dtype == EDGEML_FLOAT) return t->data;
    float *p = em_scratch(c, n * sizeof(float));
    if (!p) { em_fail(c, EDGEML_E_NOMEM, "out of memory"); return NULL; }
    nn_cvt_to_f32(t->data, t->dtype, p, n);
    return p;
}

const double *nn_as_f64(em_kctx *c, const em_tensor *t)
{
    size_t n = em_numel(t);
    if (n == 0) return g_nn_dummy_f64;
    if (t->dtype == EDGEML_DOUBLE) return t->data;
    double *p = em_scratch(c, n * sizeof(double));
    if (!p) { em_fail(c, EDGEML_E_NOMEM, "out of memory"); return NULL; }
    for (size_t i = 0; i < n; i++) p[i] = em_get_f64(t->data, t->dtype, i);
    return p;
}

float *nn_out_f32(em_kctx *c, em_tensor *out)
{
    size_t n = em_numel(out);
    if (n == 0) return g_nn_dummy_f32;
    if (out->dtype == EDGEML_FLOAT) return out->data;
    float *p = em_scratch(c, n * sizeof(float));
    if (!p) em_fail(c, EDGEML_E_NOMEM, "out of memory");
    return p;
}

void nn_store_f32(em_tensor *out, const float *src)
{
    size_t n = em_numel(out);
    if (n == 0 || out->data == src) return;
    nn_cvt_from_f32(src, out->data, out->dtype, n);
}

bool nn_is_quant_int(int dt)
{
    return dt == EDGEML_INT8 || dt == EDGEML_UINT8 || dt == EDGEML_INT16 ||
           dt == EDGEML_UINT16 || dt == EDGEML_INT32;
}

double nn_rne(double v)
{
    return nearbyint(v); /* default rounding mode: to nearest, ties to even */
}

void nn_sat_store(void *dst, int dt, size_t i, double v)
{
    double lo, hi;
    switch (dt) {
    case EDGEML_INT8: lo = -128; hi = 127; break;
    case EDGEML_UINT8: lo = 0; hi = 255; break;
    case EDGEML_INT16: lo = -32768; hi = 32767; break;
    case EDGEML_UINT16: lo = 0; hi = 65535; break;
    case EDGEML_INT32: lo = -2147483648.0; hi = 2147483647.0; break;
    case EDGEML_UINT32: lo = 0; hi = 4294967295.0; break;
    default: em_set_f64(dst, dt, i, v); return;
    }
    v = nn_rne(v);
    if (isnan(v)) v = 0;
    if (v < lo) v = lo;
    if (v > hi) v = hi;
    em_set_i64(dst, dt, i, (int64_t)v);
}

/* ---- geometry ----------------------------------------------------------- */

static edgeml_status geom_list(const em_node *n, edgeml_error *err, const char *name,
                               int64_t *dst, int max, int *count, bool positive)
{
    const int64_t *v;
    long k = em_attr_ints(n, name, &v);
    *count = -1;
    if (k < 0) return EDGEML_OK;
    if (k > max)
        return em_node_fail(n, err, EDGEML_E_MODEL, "attribute %s has %ld values (at most %d)",
                            name, k, max);
    for (long i = 0; i < k; i++) {
        if ((positive ? v[i] < 1 : v[i] < 0) || v[i] > INT32_MAX)
            return em_node_fail(n, err, EDGEML_E_MODEL, "attribute %s[%ld] = %lld is invalid",
                                name, i, (long long)v[i]);
        dst[i] = v[i];
    }
    *count = (int)k;
    return EDGEML_OK;
}

edgeml_status nn_geom_parse(const em_node *n, nn_geom_attrs *g, edgeml_error *err)
{
    memset(g, 0, sizeof *g);
    const char *ap = em_attr_str(n, "auto_pad", "NOTSET");
    if (!strcmp(ap, "NOTSET") || !*ap) g->auto_pad = NN_PAD_NOTSET;
    else if (!strcmp(ap, "SAME_UPPER")) g->auto_pad = NN_PAD_SAME_UPPER;
    else if (!strcmp(ap, "SAME_LOWER")) g->auto_pad = NN_PAD_SAME_LOWER;
    else if (!strcmp(ap, "VALID")) g->auto_pad = NN_PAD_VALID;
    else return em_node_fail(n, err, EDGEML_E_MODEL, "invalid auto_pad '%s'", ap);
    int cnt;
    edgeml_status st;
    if ((st = geom_list(n, err, "kernel_shape", g->kernel, EM_MAX_RANK, &cnt, true))) return st;
    g->nk = cnt < 0 ? 0 : cnt;
    int np, ns, nd;
    if ((st = geom_list(n, err, "pads", g->pads, 2 * EM_MAX_RANK, &np, false))) return st;
    if ((st = geom_list(n, err, "strides", g->strides, EM_MAX_RANK, &ns, true))) return st;
    if ((st = geom_list(n, err, "dilations", g->dil, EM_MAX_RANK, &nd, true))) return st;
    g->has_pads = np >= 0;
    g->has_strides = ns >= 0;
    g->has_dil = nd >= 0;
    if (np >= 0 && np % 2)
        return em_node_fail(n, err, EDGEML_E_MODEL, "pads must have an even count");
    if (g->nk) {
        if ((np >= 0 && np != 2 * g->nk) || (ns >= 0 && ns != g->nk) || (nd >= 0 && nd != g->nk))
            return em_node_fail(n, err, EDGEML_E_MODEL,
                                "pads/strides/dilations do not match kernel_shape rank %d", g->nk);
    }
    g->group = em_attr_int(n, "group", 1);
    if (g->group < 1)
        return em_node_fail(n, err, EDGEML_E_MODEL, "group must be >= 1");
    g->ceil_mode = em_attr_int(n, "ceil_mode", 0) != 0;
    g->np = np; g->nsd = ns; g->ndl = nd;
    return EDGEML_OK;
}

edgeml_status nn_geom_resolve(em_kctx *c, const nn_geom_attrs *a, int ns, const int64_t *in,
                              const int64_t *k, nn_geom *g)
{
    memset(g, 0, sizeof *g);
    g->ns = ns;
    if (a->nk && a->nk != ns)
        return em_fail(c, EDGEML_E_RUNTIME, "kernel_shape has %d dims but the input has %d spatial dims",
                       a->nk, ns);
    if (a->np >= 0 && a->np != 2 * ns)
        return em_fail(c, EDGEML_E_RUNTIME, "pads has %d values, expected %d", a->np, 2 * ns);
    if (a->nsd >= 0 && a->nsd != ns)
        return em_fail(c, EDGEML_E_RUNTIME, "strides has %d values, expected %d", a->nsd, ns);
    if (a->ndl >= 0 && a->ndl != ns)
        return em_fail(c, EDGEML_E_RUNTIME, "dilations has %d values, expected %d", a->ndl, ns);
    g->in_sz = g->k_sz = g->out_sz = 1;
    for (int i = 0; i < ns; i++) {
        g->in[i] = in[i];
        g->k[i] = a->nk ? a->kernel[i] : k[i];
        if (g->k[i] < 1) return em_fail(c, EDGEML_E_RUNTIME, "kernel dim %d is %lld", i, (long long)g->k[i]);
        g->s[i] = a->nsd >= 0 ? a->strides[i] : 1;
        g->d[i] = a->ndl >= 0 ? a->dil[i] : 1;
        int64_t eff = (g->k[i] - 1) * g->d[i] + 1;
        if (a->auto_pad == NN_PAD_SAME_UPPER || a->auto_pad == NN_PAD_SAME_LOWER) {
            int64_t o = (in[i] + g->s[i] - 1) / g->s[i];
            int64_t tot = (o - 1) * g->s[i] + eff - in[i];
            if (tot < 0) tot = 0;
            if (a->auto_pad == NN_PAD_SAME_UPPER) { g->pb[i] = tot / 2; g->pe[i] = tot - tot / 2; }
            else { g->pe[i] = tot / 2; g->pb[i] = tot - tot / 2; }
            g->out[i] = o;
        } else {
            if (a->auto_pad == NN_PAD_NOTSET && a->np >= 0) {
                g->pb[i] = a->pads[i];
                g->pe[i] = a->pads[i + ns];
            }
            int64_t num = in[i] + g->pb[i] + g->pe[i] - eff;
            if (num < 0)
                return em_fail(c, EDGEML_E_RUNTIME,
                               "spatial dim %d: input %lld (padded %lld) is smaller than the kernel extent %lld",
                               i, (long long)in[i], (long long)(in[i] + g->pb[i] + g->pe[i]), (long long)eff);
            int64_t o;
            if (a->ceil_mode) {
                o = (num + g->s[i] - 1) / g->s[i] + 1;
                if ((o - 1) * g->s[i] >= in[i] + g->pb[i]) o--;
            } else {
                o = num / g->s[i] + 1;
            }
            g->out[i] = o;
        }
        if (g->in[i] < 0 || g->out[i] < 0)
            return em_fail(c, EDGEML_E_RUNTIME, "invalid spatial size");
        if (__builtin_mul_overflow(g->in_sz, (size_t)g->in[i], &g->in_sz) ||
            __builtin_mul_overflow(g->k_sz, (size_t)g->k[i], &g->k_sz) ||
            __builtin_mul_overflow(g->out_sz, (size_t)g->out[i], &g->out_sz))
            return em_fail(c, EDGEML_E_NOMEM, "spatial size overflows");
    }
    return EDGEML_OK;
}
