/* ConvTranspose: GEMM (W^T * X) + col2im scatter.
 *
 * The reference (convt_body) handles every float dtype and spatial rank. The
 * float32 fast path (1-D and 2-D; issue 10) runs on the GEMM engine: W^T of
 * each group is packed once at prepare when W is a constant (else packed per
 * run by the engine); reshape resolves the geometry once per input shapes and
 * sizes the column buffer; run does per image and group one GEMM into the
 * columns, then col2im over the output channels on the pool threads (each
 * channel summed by one thread in a fixed order), bias, and the fused
 * residual/activation while the channel is in cache. A 1x1, stride-1,
 * unpadded layer writes the GEMM straight into the output with the bias and
 * epilogue in the microkernel. */
#include "nn.h"
#include "../cpu/gemm.h"
#include "../pool.h"

typedef struct convt_state {
    nn_geom_attrs a;
    int nop, nos;                      /* output_padding / output_shape counts, -1 absent */
    int64_t opad[EM_MAX_RANK];
    int64_t oshape[EM_MAX_RANK + 2];
    /* fast path: W^T packed per group (em_sgemm_pack_a), when W is constant */
    const em_sgemm_kernel *k;
    float *ap;
    size_t ap_group;                   /* floats per group */
    int64_t wdims[EM_MAX_RANK + 2];
    int wrank;
} convt_state;

void nn_convt_free(void *state)
{
    convt_state *s = state;
    if (!s) return;
    free(s->ap);
    free(s);
}

/* Packs W [C, Mg, k...] of each group as A = W_g^T [Mg*ksz x Cg]. */
static edgeml_status convt_pack(em_node *n, convt_state *s, edgeml_error *err)
{
    const em_tensor *W = em_node_const_input(n, 1);
    if (em_cpu_level_get() == EM_CPU_REFERENCE || !W || W->dtype != EDGEML_FLOAT ||
        (W->rank != 3 && W->rank != 4) || s->a.group < 1 || W->dims[0] % s->a.group)
        return EDGEML_OK;
    size_t Cg = (size_t)(W->dims[0] / s->a.group), R = (size_t)W->dims[1];
    for (int i = 2; i < W->rank; i++) R *= (size_t)W->dims[i];
    if (!Cg || !R) return EDGEML_OK;
    s->k = em_sgemm_kernel_for_m(R);
    s->ap_group = em_sgemm_packed_a_size(s->k, R, Cg);
    size_t tot = s->ap_group * (size_t)s->a.group;
    s->ap = aligned_alloc(64, (tot * sizeof(float) + 63) / 64 * 64);
    if (!s->ap) return em_node_fail(n, err, EDGEML_E_NOMEM, "out of memory packing weights");
    for (int64_t g = 0; g < s->a.group; g++)
        em_sgemm_pack_a(s->k, R, Cg, (const float *)W->data + (size_t)g * Cg * R, R, true, 1.f,
                        s->ap + (size_t)g * s->ap_group);
    s->wrank = W->rank;
    memcpy(s->wdims, W->dims, (size_t)W->rank * sizeof(int64_t));
    return EDGEML_OK;
}

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
    return convt_pack(n, s, err);
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

/* Checks X/W/B against the attributes and resolves the geometry. */
static edgeml_status convt_setup(em_kctx *c, const em_tensor *X, const em_tensor *W,
                                 const em_tensor *B, convt_geom *gp, int64_t *odims, int64_t *pM)
{
    const convt_state *s = c->node->state;
    const nn_geom_attrs *a = &s->a;
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
    *pM = M;
    g.ns = ns;
    g.in_sz = g.out_sz = g.k_sz = 1;
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
    *gp = g;
    return EDGEML_OK;
}

static edgeml_status convt_body(em_kctx *c)
{
    const em_tensor *X = em_in(c, 0), *W = em_in(c, 1), *B = em_n_in(c) > 2 ? em_in(c, 2) : NULL;
    EM_CHECK(c, X && W, "missing input X or W");
    const nn_geom_attrs *a = &((const convt_state *)c->node->state)->a;
    int64_t group = a->group, C = X->dims[1], M, odims[EM_MAX_RANK];
    convt_geom g;
    edgeml_status st0 = convt_setup(c, X, W, B, &g, odims, &M);
    if (st0) return st0;
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


/* ---- float32 fast path (1-D and 2-D) --------------------------------------------- */

typedef struct convt_rs {
    size_t N, C, M, group, Cg, Mg;
    size_t IH, IW, OH, OW, KH, KW;
    int64_t sh, sw, dh, dw, ph, pw;
    size_t R, P, OS;          /* Mg*KH*KW, IH*IW, OH*OW */
    bool direct;              /* 1x1, stride 1, no pads: the GEMM writes the output */
    bool direct_epi;
    bool packed;              /* the prepacked W applies */
    int orank;
    int64_t odims[4];
    size_t col_floats;
} convt_rs;

edgeml_status nn_convt_reshape(em_kctx *c, void **out, size_t *ws)
{
    const convt_state *s = c->node->state;
    const em_tensor *X = em_in(c, 0), *W = em_in(c, 1), *B = em_n_in(c) > 2 ? em_in(c, 2) : NULL;
    *ws = 0;
    if (em_cpu_level_get() == EM_CPU_REFERENCE || !X || !W || X->dtype != EDGEML_FLOAT ||
        W->dtype != EDGEML_FLOAT || (B && B->dtype != EDGEML_FLOAT) || (X->rank != 3 && X->rank != 4))
        return EDGEML_OK;
    convt_geom g;
    int64_t odims[EM_MAX_RANK], M;
    edgeml_status st = convt_setup(c, X, W, B, &g, odims, &M);
    if (st) return st;
    convt_rs r = {0};
    bool two = g.ns == 2;
    r.N = (size_t)X->dims[0]; r.C = (size_t)X->dims[1]; r.M = (size_t)M;
    r.group = (size_t)s->a.group; r.Cg = r.C / r.group; r.Mg = r.M / r.group;
    r.IH = two ? (size_t)g.in[0] : 1; r.IW = (size_t)g.in[g.ns - 1];
    r.OH = two ? (size_t)g.out[0] : 1; r.OW = (size_t)g.out[g.ns - 1];
    r.KH = two ? (size_t)g.k[0] : 1; r.KW = (size_t)g.k[g.ns - 1];
    r.sh = two ? g.s[0] : 1; r.sw = g.s[g.ns - 1];
    r.dh = two ? g.d[0] : 1; r.dw = g.d[g.ns - 1];
    r.ph = two ? g.pb[0] : 0; r.pw = g.pb[g.ns - 1];
    r.R = r.Mg * r.KH * r.KW; r.P = r.IH * r.IW; r.OS = r.OH * r.OW;
    r.direct = r.KH == 1 && r.KW == 1 && r.sh == 1 && r.sw == 1 && r.ph == 0 && r.pw == 0 &&
               r.OH == r.IH && r.OW == r.IW;
    r.orank = X->rank;
    memcpy(r.odims, odims, (size_t)X->rank * sizeof(int64_t));
    r.direct_epi = em_epilogue_direct(c, r.orank, r.odims);
    r.packed = s->ap && s->wrank == W->rank && !memcmp(s->wdims, W->dims, (size_t)W->rank * sizeof(int64_t));
    size_t colb;
    if (__builtin_mul_overflow(r.R, r.P, &r.col_floats) ||
        __builtin_mul_overflow((r.col_floats + 16), sizeof(float), &colb))
        return EDGEML_OK; /* the reference reports it */
    if (r.direct) colb = 0;
    const em_sgemm_kernel *k = r.packed ? s->k : em_sgemm_kernel_get();
    em_sgemm_args a = {.M = r.R, .N = r.P, .K = r.Cg, .a_packed = r.packed ? s->ap : NULL};
    *ws = colb + em_sgemm_workspace(k, &a, c->threads) + 64;
    convt_rs *p = malloc(sizeof *p);
    if (!p) return em_fail(c, EDGEML_E_NOMEM, "out of memory");
    *p = r;
    *out = p;
    return EDGEML_OK;
}

typedef struct col2im_job {
    const convt_rs *r;
    const float *col;       /* R x P of this image and group */
    float *y;               /* the group's first output channel */
    const float *res;       /* residual at the same place, or NULL */
    const float *bias;      /* the group's bias, or NULL */
    const em_act *act;      /* NULL: none here */
} col2im_job;

/* First input index i with i*s + off >= 0, and end with i*s + off < O. */
static inline void valid_range(int64_t off, int64_t s, size_t I, size_t O, size_t *b, size_t *e)
{
    int64_t lo = off >= 0 ? 0 : (-off + s - 1) / s;
    int64_t hi = (int64_t)O - off <= 0 ? 0 : ((int64_t)O - off + s - 1) / s;
    if (hi > (int64_t)I) hi = (int64_t)I;
    if (lo > hi) lo = hi;
    *b = (size_t)lo;
    *e = (size_t)hi;
}

static void col2im_range(void *ctx, size_t m0, size_t m1)
{
    const col2im_job *j = ctx;
    const convt_rs *r = j->r;
    for (size_t m = m0; m < m1; m++) {
        float *ym = j->y + m * r->OS;
        memset(ym, 0, r->OS * sizeof(float));
        for (size_t kh = 0; kh < r->KH; kh++) {
            size_t h0, h1;
            int64_t hoff = (int64_t)kh * r->dh - r->ph;
            valid_range(hoff, r->sh, r->IH, r->OH, &h0, &h1);
            for (size_t kw = 0; kw < r->KW; kw++) {
                size_t w0, w1;
                int64_t woff = (int64_t)kw * r->dw - r->pw;
                valid_range(woff, r->sw, r->IW, r->OW, &w0, &w1);
                if (w0 >= w1) continue;
                const float *crow = j->col + ((m * r->KH + kh) * r->KW + kw) * r->P;
                for (size_t ih = h0; ih < h1; ih++) {
                    float *yr = ym + (size_t)((int64_t)ih * r->sh + hoff) * r->OW;
                    const float *cr = crow + ih * r->IW;
                    if (r->sw == 1) {
                        float *yo = yr + woff;
                        for (size_t iw = w0; iw < w1; iw++) yo[iw] += cr[iw];
                    } else {
                        size_t sw = (size_t)r->sw;
                        float *yo = yr + (int64_t)w0 * r->sw + woff;
                        for (size_t iw = w0; iw < w1; iw++, yo += sw) *yo += cr[iw];
                    }
                }
            }
        }
        if (j->bias) {
            float bv = j->bias[m];
            for (size_t p = 0; p < r->OS; p++) ym[p] += bv;
        }
        if (j->res) {
            const float *rm = j->res + m * r->OS;
            for (size_t p = 0; p < r->OS; p++) ym[p] += rm[p];
        }
        if (j->act) em_act_apply(j->act, ym, r->OS);
    }
}

static edgeml_status convt_fast(em_kctx *c, const convt_rs *r)
{
    const convt_state *s = c->node->state;
    const em_node *n = c->node;
    const em_tensor *X = em_in(c, 0), *W = em_in(c, 1), *B = em_n_in(c) > 2 ? em_in(c, 2) : NULL;
    em_tensor *Y = em_out_fused(c, EDGEML_FLOAT, r->orank, r->odims);
    if (!Y) return c->err && c->err->code ? c->err->code : EDGEML_E_NOMEM;
    if (em_numel(Y) == 0) return em_epilogue(c, Y);
    bool fuse = r->direct_epi;
    const em_tensor *Rt = fuse && n->add_in > 0 ? em_in(c, n->add_in) : NULL;
    if (fuse && n->add_in > 0 && (!Rt || Rt->dtype != EDGEML_FLOAT)) fuse = false;
    const em_act *act = fuse && n->act.kind != EM_ACT_NONE ? &n->act : NULL;
    const float *x = X->data, *w = W->data, *b = B ? B->data : NULL;
    const float *res = fuse && Rt ? Rt->data : NULL;
    float *y = Y->data;
    const em_sgemm_kernel *k = r->packed ? s->k : em_sgemm_kernel_get();
    float *col = (float *)(((uintptr_t)c->ws + 63) & ~(uintptr_t)63);
    void *gws = r->direct ? (void *)col : (void *)(col + (r->col_floats + 15) / 16 * 16);
    for (size_t in = 0; in < r->N; in++)
        for (size_t gi = 0; gi < r->group; gi++) {
            size_t yoff = (in * r->M + gi * r->Mg) * r->OS;
            em_sgemm_args g = {
                .M = r->R, .N = r->P, .K = r->Cg, .alpha = 1.f,
                .a_packed = r->packed ? s->ap + gi * s->ap_group : NULL,
                .A = w + gi * r->Cg * r->R, .lda = r->R, .trans_a = true,
                .B = x + (in * r->C + gi * r->Cg) * r->P, .ldb = r->P,
                .C = r->direct ? y + yoff : col, .ldc = r->P,
            };
            if (r->direct) {
                g.row_bias = b ? b + gi * r->Mg : NULL;
                g.res = res ? res + yoff : NULL;
                g.ldr = r->P;
                g.act = act ? *act : (em_act){EM_ACT_NONE, 0, 0};
                em_sgemm(k, &g, gws, c->pool, c->threads);
                continue;
            }
            em_sgemm(k, &g, gws, c->pool, c->threads);
            col2im_job j = {r, col, y + yoff, res ? res + yoff : NULL, b ? b + gi * r->Mg : NULL, act};
            size_t work = r->R * r->P + r->Mg * r->OS;
            size_t grain = 1 + r->Mg * 32768 / (work + 1);
            em_parallel_for(c->pool, c->threads, r->Mg, grain, col2im_range, &j);
        }
    return fuse ? EDGEML_OK : em_epilogue(c, Y);
}

NN_OP(convt)
{
    const convt_rs *r = c->rs;
    if (r && em_cpu_level_get() != EM_CPU_REFERENCE) return convt_fast(c, r);
    return em_run_fused(c, convt_body);
}
