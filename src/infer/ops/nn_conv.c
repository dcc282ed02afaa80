/* Conv, ConvInteger, QLinearConv: im2col + GEMM (float: blocked nn_sgemm;
 * integer: exact nn_igemm on the 8-bit data). */
#include "nn.h"

/* Fills col[(c*k_sz + kidx) * out_sz + o] for c in [0, C) from x[c * in_sz ...];
 * padding positions get `pad`. */
#define NN_DEF_IM2COL(T, NAME)                                                              \
    static void NAME(const nn_geom *g, int64_t C, const T *x, T *col, T pad)               \
    {                                                                                       \
        int ns = g->ns;                                                                     \
        int64_t olast = g->out[ns - 1], ilast = g->in[ns - 1];                             \
        int64_t slast = g->s[ns - 1], dlast = g->d[ns - 1], plast = g->pb[ns - 1];         \
        size_t outer_n = olast ? g->out_sz / (size_t)olast : 0;                            \
        int64_t kk[EM_MAX_RANK], oo[EM_MAX_RANK];                                          \
        for (int64_t ch = 0; ch < C; ch++) {                                                \
            const T *xc = x + (size_t)ch * g->in_sz;                                        \
            for (size_t kidx = 0; kidx < g->k_sz; kidx++) {                                 \
                size_t r = kidx;                                                            \
                for (int d = ns - 1; d >= 0; d--) { kk[d] = (int64_t)(r % (size_t)g->k[d]); r /= (size_t)g->k[d]; } \
                T *row = col + ((size_t)ch * g->k_sz + kidx) * g->out_sz;                  \
                /* valid output range of the last dim */                                   \
                int64_t off = kk[ns - 1] * dlast - plast;                                   \
                int64_t lo = 0, hi = olast;                                                 \
                if (off < 0) lo = (-off + slast - 1) / slast;                               \
                if (ilast - off <= 0) hi = 0;                                               \
                else { int64_t h = (ilast - off - 1) / slast + 1; if (h < hi) hi = h; }     \
                if (lo > hi) lo = hi;                                                       \
                for (size_t ob = 0; ob < outer_n; ob++) {                                   \
                    size_t q = ob;                                                          \
                    for (int d = ns - 2; d >= 0; d--) { oo[d] = (int64_t)(q % (size_t)g->out[d]); q /= (size_t)g->out[d]; } \
                    T *dst = row + ob * (size_t)olast;                                      \
                    int64_t base = 0;                                                       \
                    bool ok = true;                                                         \
                    for (int d = 0; d < ns - 1; d++) {                                      \
                        int64_t ip = oo[d] * g->s[d] - g->pb[d] + kk[d] * g->d[d];         \
                        if (ip < 0 || ip >= g->in[d]) { ok = false; break; }               \
                        base = base * g->in[d] + ip;                                        \
                    }                                                                       \
                    if (!ok || lo >= hi) {                                                  \
                        for (int64_t o = 0; o < olast; o++) dst[o] = pad;                   \
                        continue;                                                           \
                    }                                                                       \
                    const T *src = xc + (size_t)base * (size_t)ilast + off;                 \
                    for (int64_t o = 0; o < lo; o++) dst[o] = pad;                          \
                    if (slast == 1) memcpy(dst + lo, src + lo, (size_t)(hi - lo) * sizeof(T)); \
                    else for (int64_t o = lo; o < hi; o++) dst[o] = src[o * slast];        \
                    for (int64_t o = hi; o < olast; o++) dst[o] = pad;                      \
                }                                                                           \
            }                                                                               \
        }                                                                                   \
    }

NN_DEF_IM2COL(float, im2col_f32)
NN_DEF_IM2COL(double, im2col_f64)
NN_DEF_IM2COL(uint8_t, im2col_u8)

static bool is_pointwise(const nn_geom *g)
{
    for (int i = 0; i < g->ns; i++)
        if (g->k[i] != 1 || g->s[i] != 1 || g->pb[i] || g->pe[i]) return false;
    return true;
}

#define NN_DEF_CONV(T, NAME, IM2COL, GEMM_CALL)                                                 \
    edgeml_status NAME(em_kctx *c, const nn_geom *g, int64_t N, int64_t C, int64_t M,          \
                       int64_t group, const T *x, const T *w, const T *b, T *y)                \
    {                                                                                           \
        int64_t Cg = C / group, Mg = M / group;                                                 \
        size_t K = (size_t)Cg * g->k_sz, P = g->out_sz;                                         \
        if (P == 0 || N == 0 || M == 0) return EDGEML_OK;                                       \
        bool pw = is_pointwise(g);                                                              \
        T *col = NULL;                                                                          \
        if (!pw && K) {                                                                         \
            size_t bytes;                                                                       \
            if (__builtin_mul_overflow(K * sizeof(T), P, &bytes))                               \
                return em_fail(c, EDGEML_E_NOMEM, "im2col buffer size overflows");              \
            col = em_scratch(c, bytes);                                                         \
            if (!col) return em_fail(c, EDGEML_E_NOMEM, "out of memory for im2col");           \
        }                                                                                       \
        for (int64_t n = 0; n < N; n++) {                                                       \
            for (int64_t gi = 0; gi < group; gi++) {                                            \
                const T *xg = x + ((size_t)n * (size_t)C + (size_t)(gi * Cg)) * g->in_sz;       \
                T *yg = y + ((size_t)n * (size_t)M + (size_t)(gi * Mg)) * P;                    \
                const T *wg = w + (size_t)(gi * Mg) * K;                                        \
                const T *bm = xg;                                                               \
                if (!pw && K) { IM2COL(g, Cg, xg, col, 0); bm = col; }                          \
                if (K == 0) { for (size_t i = 0; i < (size_t)Mg * P; i++) yg[i] = 0; }          \
                else GEMM_CALL;                                                                 \
                if (b)                                                                          \
                    for (int64_t m = 0; m < Mg; m++) {                                          \
                        T bv = b[gi * Mg + m];                                                  \
                        T *yr = yg + (size_t)m * P;                                             \
                        for (size_t p = 0; p < P; p++) yr[p] += bv;                             \
                    }                                                                           \
            }                                                                                   \
        }                                                                                       \
        return EDGEML_OK;                                                                       \
    }

NN_DEF_CONV(float, nn_conv_f32, im2col_f32,
            do { if (!nn_sgemm(false, false, (size_t)Mg, P, K, 1.f, wg, K, bm, P, 0.f, yg, P))
                     return em_fail(c, EDGEML_E_NOMEM, "out of memory in GEMM"); } while (0))
NN_DEF_CONV(double, nn_conv_f64, im2col_f64,
            nn_dgemm(false, false, (size_t)Mg, P, K, 1.0, wg, K, bm, P, 0.0, yg, P))

/* ---- ops ------------------------------------------------------------------ */

/* ConvInteger / QLinearConv: attributes only. Conv's prepare (with weight
 * packing) is in nn_conv_fast.c. */
NN_PREP(qconv)
{
    nn_geom_attrs *a = malloc(sizeof *a);
    if (!a) return em_node_fail(n, err, EDGEML_E_NOMEM, "out of memory");
    edgeml_status st = nn_geom_parse(n, a, err);
    if (st) { free(a); return st; }
    n->state = a;
    return EDGEML_OK;
}

/* Validates X/W shapes and resolves geometry + output dims. */
edgeml_status nn_conv_setup(em_kctx *c, const em_tensor *X, const em_tensor *W, nn_geom *g,
                                int64_t *odims, int64_t *pgroup)
{
    const nn_geom_attrs *a = c->node->state;
    EM_CHECK(c, X->rank >= 3, "input X must have rank >= 3, got %d", X->rank);
    EM_CHECK(c, W->rank == X->rank, "weights W rank %d differs from X rank %d", W->rank, X->rank);
    int ns = X->rank - 2;
    int64_t group = a->group;
    int64_t C = X->dims[1], M = W->dims[0];
    EM_CHECK(c, C == W->dims[1] * group,
             "X has %lld channels but W expects %lld x group %lld", (long long)C,
             (long long)W->dims[1], (long long)group);
    EM_CHECK(c, M % group == 0, "W has %lld output channels, not a multiple of group %lld",
             (long long)M, (long long)group);
    if (a->nk)
        for (int i = 0; i < ns && i < a->nk; i++)
            EM_CHECK(c, a->kernel[i] == W->dims[2 + i], "kernel_shape[%d]=%lld differs from W dim %lld",
                     i, (long long)a->kernel[i], (long long)W->dims[2 + i]);
    edgeml_status st = nn_geom_resolve(c, a, ns, X->dims + 2, W->dims + 2, g);
    if (st) return st;
    odims[0] = X->dims[0];
    odims[1] = M;
    for (int i = 0; i < ns; i++) odims[2 + i] = g->out[i];
    *pgroup = group;
    return EDGEML_OK;
}

static edgeml_status conv_body(em_kctx *c)
{
    const em_tensor *X = em_in(c, 0), *W = em_in(c, 1), *B = em_n_in(c) > 2 ? em_in(c, 2) : NULL;
    EM_CHECK(c, X && W, "missing input X or W");
    EM_CHECK(c, nn_is_fp(X->dtype), "unsupported dtype %s", em_dtype_name(X->dtype));
    EM_CHECK(c, W->dtype == X->dtype, "W dtype %s differs from X dtype %s",
             em_dtype_name(W->dtype), em_dtype_name(X->dtype));
    nn_geom g;
    int64_t odims[EM_MAX_RANK], group;
    edgeml_status st = nn_conv_setup(c, X, W, &g, odims, &group);
    if (st) return st;
    int64_t M = W->dims[0];
    if (B) {
        EM_CHECK(c, B->dtype == X->dtype, "bias dtype differs from X");
        EM_CHECK(c, B->rank == 1 && B->dims[0] == M, "bias must be 1-D of size %lld", (long long)M);
    }
    em_tensor *Y = em_out_fused(c, X->dtype, X->rank, odims);
    if (!Y) return c->err->code ? c->err->code : EDGEML_E_NOMEM;
    if (em_numel(Y) == 0) return EDGEML_OK;
    if (X->dtype == EDGEML_DOUBLE)
        return nn_conv_f64(c, &g, X->dims[0], X->dims[1], M, group, X->data, W->data,
                           B ? B->data : NULL, Y->data);
    const float *x = nn_as_f32(c, X), *w = nn_as_f32(c, W), *b = B ? nn_as_f32(c, B) : NULL;
    float *y = nn_out_f32(c, Y);
    if (!x || !w || (B && !b) || !y) return EDGEML_E_NOMEM;
    st = nn_conv_f32(c, &g, X->dims[0], X->dims[1], M, group, x, w, b, y);
    if (st) return st;
    nn_store_f32(Y, y);
    return EDGEML_OK;
}

/* The reference Conv (any dtype), with the fused epilogue. */
edgeml_status nn_conv_ref_run(em_kctx *c) { return em_run_fused(c, conv_body); }

/* Zero point value for channel m of a scalar or per-channel zero point tensor. */
static edgeml_status check_qparam(em_kctx *c, const em_tensor *t, const char *what, int64_t per,
                                  bool allow_per)
{
    if (!t) return EDGEML_OK;
    size_t n = em_numel(t);
    if (n == 1 && t->rank <= 1) return EDGEML_OK;
    if (allow_per && t->rank == 1 && (int64_t)n == per) return EDGEML_OK;
    char buf[64];
    return em_fail(c, EDGEML_E_RUNTIME, "%s has shape %s; expected a scalar%s", what,
                   em_shape_str(t->rank, t->dims, buf, sizeof buf),
                   allow_per ? " or one value per output channel" : "");
}

static inline double qp(const em_tensor *t, int64_t m)
{
    if (!t) return 0.0;
    return em_get_f64(t->data, t->dtype, em_numel(t) == 1 ? 0 : (size_t)m);
}

/* Validation shared by ConvInteger and QLinearConv; resolves geometry and output dims. */
static edgeml_status qconv_setup(em_kctx *c, const em_tensor *X, const em_tensor *xzp,
                                 const em_tensor *W, const em_tensor *wzp, const em_tensor *B,
                                 nn_geom *g, int64_t *odims, int64_t *group)
{
    EM_CHECK(c, X->dtype == EDGEML_INT8 || X->dtype == EDGEML_UINT8, "x must be int8 or uint8, got %s",
             em_dtype_name(X->dtype));
    EM_CHECK(c, W->dtype == EDGEML_INT8 || W->dtype == EDGEML_UINT8, "w must be int8 or uint8, got %s",
             em_dtype_name(W->dtype));
    edgeml_status st = nn_conv_setup(c, X, W, g, odims, group);
    if (st) return st;
    int64_t M = W->dims[0];
    if (xzp) EM_CHECK(c, xzp->dtype == X->dtype, "x zero point dtype differs from x");
    if (wzp) EM_CHECK(c, wzp->dtype == W->dtype, "w zero point dtype differs from w");
    if ((st = check_qparam(c, xzp, "x zero point", 0, false))) return st;
    if ((st = check_qparam(c, wzp, "w zero point", M, true))) return st;
    if (B) {
        EM_CHECK(c, B->dtype == EDGEML_INT32, "bias must be int32");
        EM_CHECK(c, B->rank == 1 && B->dims[0] == M, "bias must be 1-D of size %lld", (long long)M);
    }
    return EDGEML_OK;
}

/* y[n, m, p] = sum over (c, k) of (w - wzp[m]) * (x - xzp) (+ bias[m]), int32
 * wrapping accumulation; padding contributes 0 (im2col pads with xzp). */
static edgeml_status qconv_compute(em_kctx *c, const nn_geom *g, int64_t group, const em_tensor *X,
                                   const em_tensor *xzp, const em_tensor *W, const em_tensor *wzp,
                                   const em_tensor *B, int32_t *y)
{
    int64_t N = X->dims[0], C = X->dims[1], M = W->dims[0];
    int64_t Cg = C / group, Mg = M / group;
    size_t K = (size_t)Cg * g->k_sz, P = g->out_sz;
    if (P == 0 || N == 0 || M == 0) return EDGEML_OK;
    int32_t *wz = em_scratch(c, (size_t)M * sizeof(int32_t));
    if (!wz) return em_fail(c, EDGEML_E_NOMEM, "out of memory");
    for (int64_t m = 0; m < M; m++) wz[m] = (int32_t)qp(wzp, m);
    int32_t xz = (int32_t)qp(xzp, 0);
    uint8_t xpad = xzp ? ((const uint8_t *)xzp->data)[0] : 0; /* same bits as x's dtype */
    bool pw = is_pointwise(g);
    uint8_t *col = NULL;
    if (!pw && K) {
        size_t bytes;
        if (__builtin_mul_overflow(K, P, &bytes))
            return em_fail(c, EDGEML_E_NOMEM, "im2col buffer size overflows");
        col = em_scratch(c, bytes);
        if (!col) return em_fail(c, EDGEML_E_NOMEM, "out of memory for im2col");
    }
    bool xs = X->dtype == EDGEML_INT8, ws = W->dtype == EDGEML_INT8;
    for (int64_t n = 0; n < N; n++) {
        for (int64_t gi = 0; gi < group; gi++) {
            const uint8_t *xg = (const uint8_t *)X->data + ((size_t)n * (size_t)C + (size_t)(gi * Cg)) * g->in_sz;
            int32_t *yg = y + ((size_t)n * (size_t)M + (size_t)(gi * Mg)) * P;
            const uint8_t *wg = (const uint8_t *)W->data + (size_t)(gi * Mg) * K;
            const uint8_t *bm = xg;
            if (!pw && K) { im2col_u8(g, Cg, xg, col, xpad); bm = col; }
            nn_iop a = {wg, K, ws, wz + gi * Mg, true};
            nn_iop b = {bm, P, xs, &xz, false};
            if (!nn_igemm((size_t)Mg, P, K, &a, &b, yg, P))
                return em_fail(c, EDGEML_E_NOMEM, "out of memory in integer GEMM");
            if (B)
                for (int64_t m = 0; m < Mg; m++) {
                    uint32_t bv = (uint32_t)((const int32_t *)B->data)[gi * Mg + m];
                    int32_t *yr = yg + (size_t)m * P;
                    for (size_t p = 0; p < P; p++) yr[p] = (int32_t)((uint32_t)yr[p] + bv);
                }
        }
    }
    return EDGEML_OK;
}

edgeml_status nn_conv_layout_make(em_kctx *c, const em_tensor *X, const em_tensor *W, nn_conv_layout *L)
{
    edgeml_status st = nn_conv_setup(c, X, W, &L->g, L->odims, &L->group);
    if (st) return st;
    L->rank = X->rank;
    L->N = X->dims[0];
    L->C = X->dims[1];
    L->M = W->dims[0];
    L->Cg = L->C / L->group;
    L->Mg = L->M / L->group;
    L->K = (size_t)L->Cg * L->g.k_sz;
    L->P = L->g.out_sz;
    return EDGEML_OK;
}

NN_OP(conv_integer)
{
    const em_tensor *X = em_in(c, 0), *W = em_in(c, 1);
    const em_tensor *xzp = em_n_in(c) > 2 ? em_in(c, 2) : NULL, *wzp = em_n_in(c) > 3 ? em_in(c, 3) : NULL;
    EM_CHECK(c, X && W, "missing input x or w");
    nn_geom g;
    int64_t odims[EM_MAX_RANK], group;
    edgeml_status st = qconv_setup(c, X, xzp, W, wzp, NULL, &g, odims, &group);
    if (st) return st;
    em_tensor *Y = em_out(c, 0, EDGEML_INT32, X->rank, odims);
    if (!Y) return c->err->code ? c->err->code : EDGEML_E_NOMEM;
    if (em_numel(Y) == 0) return EDGEML_OK;
    return qconv_compute(c, &g, group, X, xzp, W, wzp, NULL, Y->data);
}

edgeml_status nn_conv_integer_acc(em_kctx *c, int32_t **acc, int *rank, int64_t *odims)
{
    const em_tensor *X = em_in(c, 0), *W = em_in(c, 1);
    const em_tensor *xzp = em_n_in(c) > 2 ? em_in(c, 2) : NULL, *wzp = em_n_in(c) > 3 ? em_in(c, 3) : NULL;
    EM_CHECK(c, X && W, "missing input x or w");
    nn_geom g;
    int64_t group;
    edgeml_status st = qconv_setup(c, X, xzp, W, wzp, NULL, &g, odims, &group);
    if (st) return st;
    *rank = X->rank;
    size_t ny;
    if (!em_shape_numel(X->rank, odims, &ny) || ny > SIZE_MAX / sizeof(int32_t))
        return em_fail(c, EDGEML_E_RUNTIME, "output size overflows");
    *acc = em_scratch(c, ny ? ny * sizeof(int32_t) : 1);
    if (!*acc) return em_fail(c, EDGEML_E_NOMEM, "out of memory");
    return ny ? qconv_compute(c, &g, group, X, xzp, W, wzp, NULL, *acc) : EDGEML_OK;
}

NN_OP(qlinear_conv)
{
    EM_CHECK(c, em_n_in(c) >= 8, "QLinearConv needs 8 inputs");
    const em_tensor *X = em_in(c, 0), *xs = em_in(c, 1), *xzp = em_in(c, 2);
    const em_tensor *W = em_in(c, 3), *ws = em_in(c, 4), *wzp = em_in(c, 5);
    const em_tensor *ys = em_in(c, 6), *yzp = em_in(c, 7);
    const em_tensor *B = em_n_in(c) > 8 ? em_in(c, 8) : NULL;
    EM_CHECK(c, X && xs && W && ws && ys, "missing a required input");
    EM_CHECK(c, xs->dtype == EDGEML_FLOAT && ws->dtype == EDGEML_FLOAT && ys->dtype == EDGEML_FLOAT,
             "scales must be float32");
    nn_geom g;
    int64_t odims[EM_MAX_RANK], group;
    edgeml_status st = qconv_setup(c, X, xzp, W, wzp, B, &g, odims, &group);
    if (st) return st;
    int64_t M = W->dims[0];
    if ((st = check_qparam(c, xs, "x_scale", 0, false))) return st;
    if ((st = check_qparam(c, ws, "w_scale", M, true))) return st;
    if ((st = check_qparam(c, ys, "y_scale", 0, false))) return st;
    if ((st = check_qparam(c, yzp, "y zero point", 0, false))) return st;
    int ydt = yzp ? yzp->dtype : EDGEML_UINT8;
    EM_CHECK(c, ydt == EDGEML_INT8 || ydt == EDGEML_UINT8, "y zero point must be int8 or uint8");
    em_tensor *Y = em_out(c, 0, ydt, X->rank, odims);
    if (!Y) return c->err->code ? c->err->code : EDGEML_E_NOMEM;
    size_t ny = em_numel(Y);
    if (!ny) return EDGEML_OK;
    int32_t *acc = em_scratch(c, ny * sizeof(int32_t));
    float *mult = em_scratch(c, (size_t)M * sizeof(float));
    if (!acc || !mult) return em_fail(c, EDGEML_E_NOMEM, "out of memory");
    if ((st = qconv_compute(c, &g, group, X, xzp, W, wzp, B, acc))) return st;
    size_t per = ny / (size_t)odims[0] / (size_t)M;
    float xsv = ((const float *)xs->data)[0], ysv = ((const float *)ys->data)[0];
    for (int64_t m = 0; m < M; m++) {
        float wsv = ((const float *)ws->data)[em_numel(ws) == 1 ? 0 : m];
        mult[m] = (xsv * wsv) / ysv;
    }
    double yz = qp(yzp, 0);
    for (size_t i = 0; i < ny; i++) {
        size_t m = (i / per) % (size_t)M;
        nn_sat_store(Y->data, ydt, i, nn_rne((double)acc[i] * (double)mult[m]) + yz);
    }
    return EDGEML_OK;
}
