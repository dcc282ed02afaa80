/* ConvTranspose: GEMM (W^T * X) + col2im scatter. */
#include "nn.h"

typedef struct convt_state {
    nn_geom_attrs a;
    int nop, nos;                      /* output_padding / output_shape counts, -1 absent */
    int64_t opad[EM_MAX_RANK];
    int64_t oshape[EM_MAX_RANK + 2];
} convt_state;

NN_PREP(convt)
{
    convt_state *s = calloc(1, sizeof *s);
    if (!s) return em_node_fail(n, err, EDGEML_E_NOMEM, "out of memory");
    edgeml_status st = nn_geom_parse(n, &s->a, err);
    if (st) { free(s); return st; }
    const int64_t *v;
    long k = em_attr_ints(n, "output_padding", &v);
    s->nop = (int)k;
    if (k > EM_MAX_RANK) { free(s); return em_node_fail(n, err, EDGEML_E_MODEL, "output_padding too long"); }
    for (long i = 0; i < k; i++) {
        if (v[i] < 0 || v[i] > INT32_MAX) { free(s); return em_node_fail(n, err, EDGEML_E_MODEL, "invalid output_padding"); }
        s->opad[i] = v[i];
    }
    k = em_attr_ints(n, "output_shape", &v);
    s->nos = (int)k;
    if (k > EM_MAX_RANK + 2) { free(s); return em_node_fail(n, err, EDGEML_E_MODEL, "output_shape too long"); }
    for (long i = 0; i < k; i++) {
        if (v[i] < 0 || v[i] > INT32_MAX) { free(s); return em_node_fail(n, err, EDGEML_E_MODEL, "invalid output_shape"); }
        s->oshape[i] = v[i];
    }
    n->state = s;
    return EDGEML_OK;
}

/* Geometry: in = input spatial dims, out = output spatial dims. */
typedef struct convt_geom {
    int ns;
    int64_t in[EM_MAX_RANK], out[EM_MAX_RANK], k[EM_MAX_RANK], s[EM_MAX_RANK], d[EM_MAX_RANK],
        pb[EM_MAX_RANK];
    size_t in_sz, out_sz, k_sz;
} convt_geom;

#define NN_DEF_CONVT(T, NAME, GEMM_CALL)                                                          \
    static edgeml_status NAME(em_kctx *c, const convt_geom *g, int64_t N, int64_t C, int64_t M,  \
                              int64_t group, const T *x, const T *w, const T *b, T *y)           \
    {                                                                                             \
        int64_t Cg = C / group, Mg = M / group;                                                   \
        size_t R = (size_t)Mg * g->k_sz, P = g->in_sz;                                            \
        int ns = g->ns;                                                                           \
        size_t ny = (size_t)N * (size_t)M * g->out_sz;                                            \
        for (size_t i = 0; i < ny; i++) y[i] = 0;                                                 \
        if (R == 0 || P == 0 || Cg == 0) goto bias;                                               \
        {                                                                                         \
            size_t bytes;                                                                         \
            if (__builtin_mul_overflow(R * sizeof(T), P, &bytes))                                 \
                return em_fail(c, EDGEML_E_NOMEM, "column buffer size overflows");                \
            T *col = em_scratch(c, bytes);                                                        \
            if (!col) return em_fail(c, EDGEML_E_NOMEM, "out of memory");                         \
            int64_t ilast = g->in[ns - 1], olast = g->out[ns - 1];                                \
            size_t outer_n = g->in_sz / (size_t)ilast;                                            \
            int64_t kk[EM_MAX_RANK], ii[EM_MAX_RANK];                                             \
            for (int64_t n = 0; n < N; n++)                                                       \
                for (int64_t gi = 0; gi < group; gi++) {                                          \
                    const T *xg = x + ((size_t)n * (size_t)C + (size_t)(gi * Cg)) * P;            \
                    const T *wg = w + (size_t)(gi * Cg) * R;                                      \
                    GEMM_CALL;                                                                    \
                    for (int64_t m = 0; m < Mg; m++) {                                            \
                        T *ym = y + ((size_t)n * (size_t)M + (size_t)(gi * Mg + m)) * g->out_sz;  \
                        for (size_t kidx = 0; kidx < g->k_sz; kidx++) {                           \
                            size_t r = kidx;                                                      \
                            for (int d = ns - 1; d >= 0; d--) { kk[d] = (int64_t)(r % (size_t)g->k[d]); r /= (size_t)g->k[d]; } \
                            const T *crow = col + ((size_t)m * g->k_sz + kidx) * P;               \
                            for (size_t ob = 0; ob < outer_n; ob++) {                             \
                                size_t q = ob;                                                    \
                                for (int d = ns - 2; d >= 0; d--) { ii[d] = (int64_t)(q % (size_t)g->in[d]); q /= (size_t)g->in[d]; } \
                                int64_t base = 0;                                                 \
                                bool ok = true;                                                   \
                                for (int d = 0; d < ns - 1; d++) {                                \
                                    int64_t op = ii[d] * g->s[d] - g->pb[d] + kk[d] * g->d[d];   \
                                    if (op < 0 || op >= g->out[d]) { ok = false; break; }        \
                                    base = base * g->out[d] + op;                                 \
                                }                                                                 \
                                if (!ok) continue;                                                \
                                T *yr = ym + (size_t)base * (size_t)olast;                        \
                                const T *cr = crow + ob * (size_t)ilast;                          \
                                int64_t off = kk[ns - 1] * g->d[ns - 1] - g->pb[ns - 1];          \
                                int64_t st = g->s[ns - 1];                                        \
                                for (int64_t i = 0; i < ilast; i++) {                             \
                                    int64_t o = i * st + off;                                     \
                                    if (o >= 0 && o < olast) yr[o] += cr[i];                      \
                                }                                                                 \
                            }                                                                     \
                        }                                                                         \
                    }                                                                             \
                }                                                                                 \
        }                                                                                         \
    bias:                                                                                         \
        if (b)                                                                                    \
            for (int64_t n = 0; n < N; n++)                                                       \
                for (int64_t m = 0; m < M; m++) {                                                 \
                    T *ym = y + ((size_t)n * (size_t)M + (size_t)m) * g->out_sz;                  \
                    for (size_t p = 0; p < g->out_sz; p++) ym[p] += b[m];                         \
                }                                                                                 \
        return EDGEML_OK;                                                                         \
    }

NN_DEF_CONVT(float, convt_f32,
             do { if (!nn_sgemm(true, false, R, P, (size_t)Cg, 1.f, wg, R, xg, P, 0.f, col, P))
                      return em_fail(c, EDGEML_E_NOMEM, "out of memory in GEMM"); } while (0))
NN_DEF_CONVT(double, convt_f64, nn_dgemm(true, false, R, P, (size_t)Cg, 1.0, wg, R, xg, P, 0.0, col, P))

static edgeml_status convt_body(em_kctx *c)
{
    const convt_state *s = c->node->state;
    const nn_geom_attrs *a = &s->a;
    const em_tensor *X = em_in(c, 0), *W = em_in(c, 1), *B = em_n_in(c) > 2 ? em_in(c, 2) : NULL;
    EM_CHECK(c, X && W, "missing input X or W");
    EM_CHECK(c, nn_is_fp(X->dtype), "unsupported dtype %s", em_dtype_name(X->dtype));
    EM_CHECK(c, W->dtype == X->dtype, "W dtype differs from X");
    EM_CHECK(c, X->rank >= 3, "X must have rank >= 3");
    EM_CHECK(c, W->rank == X->rank, "W rank %d differs from X rank %d", W->rank, X->rank);
    int ns = X->rank - 2;
    int64_t group = a->group, C = X->dims[1];
    EM_CHECK(c, W->dims[0] == C, "W dim 0 (%lld) must equal the X channels (%lld)",
             (long long)W->dims[0], (long long)C);
    EM_CHECK(c, C % group == 0, "channels %lld not a multiple of group %lld", (long long)C, (long long)group);
    int64_t M = W->dims[1] * group;
    if (B) {
        EM_CHECK(c, B->dtype == X->dtype, "bias dtype differs from X");
        EM_CHECK(c, B->rank == 1 && B->dims[0] == M, "bias must be 1-D of size %lld", (long long)M);
    }
    EM_CHECK(c, !a->nk || a->nk == ns, "kernel_shape rank mismatch");
    EM_CHECK(c, a->np < 0 || a->np == 2 * ns, "pads must have %d values", 2 * ns);
    EM_CHECK(c, a->nsd < 0 || a->nsd == ns, "strides must have %d values", ns);
    EM_CHECK(c, a->ndl < 0 || a->ndl == ns, "dilations must have %d values", ns);
    EM_CHECK(c, s->nop < 0 || s->nop == ns, "output_padding must have %d values", ns);
    EM_CHECK(c, s->nos < 0 || s->nos == ns || s->nos == ns + 2, "output_shape must have %d values", ns);
    convt_geom g;
    memset(&g, 0, sizeof g);
    g.ns = ns;
    g.in_sz = g.out_sz = g.k_sz = 1;
    int64_t odims[EM_MAX_RANK];
    odims[0] = X->dims[0];
    odims[1] = M;
    for (int i = 0; i < ns; i++) {
        g.in[i] = X->dims[2 + i];
        g.k[i] = W->dims[2 + i];
        if (a->nk) EM_CHECK(c, a->kernel[i] == g.k[i], "kernel_shape differs from W");
        g.s[i] = a->nsd >= 0 ? a->strides[i] : 1;
        g.d[i] = a->ndl >= 0 ? a->dil[i] : 1;
        int64_t op = s->nop >= 0 ? s->opad[i] : 0;
        int64_t eff = (g.k[i] - 1) * g.d[i] + 1;
        int64_t full = g.s[i] * (g.in[i] - 1) + op + eff;
        int64_t outd;
        if (s->nos >= 0 || a->auto_pad == NN_PAD_SAME_UPPER || a->auto_pad == NN_PAD_SAME_LOWER) {
            if (s->nos >= 0) outd = s->oshape[s->nos == ns ? i : i + 2];
            else outd = g.in[i] * g.s[i];
            int64_t tot = full - outd;
            if (tot < 0) tot = 0; /* extra output beyond the full extent stays zero */
            if (a->auto_pad == NN_PAD_SAME_UPPER) g.pb[i] = tot / 2;
            else g.pb[i] = tot - tot / 2;
        } else {
            int64_t pb = 0, pe = 0;
            if (a->auto_pad == NN_PAD_NOTSET && a->np >= 0) { pb = a->pads[i]; pe = a->pads[i + ns]; }
            g.pb[i] = pb;
            outd = full - pb - pe;
        }
        EM_CHECK(c, outd >= 0, "computed output dim %d is negative", i);
        g.out[i] = outd;
        odims[2 + i] = outd;
        if (__builtin_mul_overflow(g.in_sz, (size_t)g.in[i], &g.in_sz) ||
            __builtin_mul_overflow(g.out_sz, (size_t)g.out[i], &g.out_sz) ||
            __builtin_mul_overflow(g.k_sz, (size_t)g.k[i], &g.k_sz))
            return em_fail(c, EDGEML_E_NOMEM, "size overflows");
    }
    em_tensor *Y = em_out_fused(c, X->dtype, X->rank, odims);
    if (!Y) return c->err->code ? c->err->code : EDGEML_E_NOMEM;
    if (em_numel(Y) == 0) return EDGEML_OK;
    if (X->dtype == EDGEML_DOUBLE)
        return convt_f64(c, &g, X->dims[0], C, M, group, X->data, W->data, B ? B->data : NULL, Y->data);
    const float *x = nn_as_f32(c, X), *w = nn_as_f32(c, W), *b = B ? nn_as_f32(c, B) : NULL;
    float *y = nn_out_f32(c, Y);
    if (!x || !w || (B && !b) || !y) return EDGEML_E_NOMEM;
    edgeml_status st = convt_f32(c, &g, X->dims[0], C, M, group, x, w, b, y);
    if (st) return st;
    nn_store_f32(Y, y);
    return EDGEML_OK;
}

NN_OP(convt) { return em_run_fused(c, convt_body); }
