/* ConvInteger (int32 out) and edgeml:ConvIntegerScaled (float out) on the int8
 * GEMM engine (cpu/qgemm.h).
 *
 * ConvInteger's zero points are not the ones QLinearConv's fast path folds at
 * prepare: the activation zero point is usually a run-time value (made by
 * DynamicQuantizeLinear), and the weight zero point is often neither 0 (int8)
 * nor 128 (uint8): onnxruntime's dynamic quantiser makes asymmetric uint8
 * weights by default. With xu = x in the u8 domain (x ^ 0x80 for int8), w' = w
 * in the s8 domain (w ^ 0x80 for uint8) and their zero points xzu, wz'[m]:
 *
 *   sum_k (xu - xzu)(w' - wz'[m])
 *     = sum_k xu w'  -  wz'[m] cs[j]  -  xzu rs[m]  +  K xzu wz'[m]
 *
 * rs[m] = sum_k w' is computed once at prepare; the per-row terms become the
 * GEMM's int32 bias per run (xzu may change every run); cs[j] = sum_k xu over
 * output j's receptive field (padding holds xzu) comes from the GEMM's own B
 * panels while they are packed (em_qgemm_args.col_wz). Everything wraps in
 * 32 bits, as the reference does, so the result is bit-identical to it.
 *
 * ConvIntegerScaled (made by opt/convint.c from ConvInteger -> Cast(float) ->
 * Mul(scale) [-> Add(bias)]) computes y = float(conv) * scale[m] + bias[m], then
 * the fused residual and activation (node->act, node->add_in), per finished
 * GEMM block while it is in cache (em_qgemm_args.post): one pass instead of
 * four over the output. Inputs: x, w, x_zero_point, w_zero_point (as
 * ConvInteger; absent ones are -1), scale (float, one value or one per output
 * channel), bias (float, one per output channel or -1), then the residual.
 *
 * Fast path conditions (else the reference, nn_conv.c): w and w_zero_point
 * constant (scalar or per output channel), 1-D or 2-D, x_zero_point scalar, a
 * CPU level above reference. */
#include "nn.h"
#include "../cpu/qgemm.h"
#include "../exec.h"
#include "../pool.h"

typedef struct cint_state {
    nn_geom_attrs a;               /* first: nn_conv_setup reads it */
    bool fast, w_xor80, any_wz;
    int wdt;
    int64_t M, wrank;
    size_t K;
    const em_qgemm_kernel *k;
    uint8_t *packed;               /* per group */
    size_t packed_stride;
    int32_t *rs;                   /* [M] sum_k w' */
    int32_t *wz;                   /* [M] wz' */
} cint_state;

typedef struct cint_rs {
    bool fast, x_signed, direct;
    NN_CONV_LAYOUT;
    size_t ws_gemm;                /* bytes; the per-row bias follows */
} cint_rs;

void nn_convint_fast_free(void *state)
{
    cint_state *s = state;
    if (!s) return;
    free(s->packed);
    free(s->rs);
    free(s->wz);
    free(s);
}

NN_PREP(convint_fast)
{
    cint_state *s = calloc(1, sizeof *s);
    if (!s) return em_node_fail(n, err, EDGEML_E_NOMEM, "out of memory");
    edgeml_status st = nn_geom_parse(n, &s->a, err);
    if (st) { free(s); return st; }
    n->state = s;
    if (em_cpu_level_get() == EM_CPU_REFERENCE || n->n_in < 2) return EDGEML_OK;
    const em_tensor *W = em_node_const_input(n, 1);
    const em_tensor *wz = n->n_in > 3 && n->in[3] >= 0 ? em_node_const_input(n, 3) : NULL;
    if (n->n_in > 3 && n->in[3] >= 0 && !wz) return EDGEML_OK; /* run-time weight zero point */
    if (!W || !W->data || (W->dtype != EDGEML_INT8 && W->dtype != EDGEML_UINT8) || (W->rank != 3 && W->rank != 4))
        return EDGEML_OK;
    int64_t M = W->dims[0], Cg = W->dims[1], group = s->a.group;
    int64_t kh = W->rank == 4 ? W->dims[2] : 1, kw = W->dims[W->rank - 1];
    if (M <= 0 || Cg <= 0 || kh <= 0 || kw <= 0 || group <= 0 || M % group) return EDGEML_OK;
    size_t K = (size_t)Cg * (size_t)kh * (size_t)kw;
    if (K > ((size_t)1 << 24) || (size_t)M > ((size_t)1 << 24)) return EDGEML_OK;
    size_t nz = 1;
    if (wz) {
        nz = em_numel(wz);
        if (wz->dtype != W->dtype || !wz->data || !((nz == 1 && wz->rank <= 1) || (wz->rank == 1 && (int64_t)nz == M)))
            return EDGEML_OK;
    }
    s->w_xor80 = W->dtype == EDGEML_UINT8;
    s->wdt = W->dtype;
    s->rs = malloc((size_t)M * sizeof(int32_t));
    s->wz = malloc((size_t)M * sizeof(int32_t));
    if (!s->rs || !s->wz) return em_node_fail(n, err, EDGEML_E_NOMEM, "out of memory");
    for (int64_t m = 0; m < M; m++) {
        s->wz[m] = em_qgemm_wzp(s->w_xor80, wz ? (const uint8_t *)wz->data + (nz == 1 ? 0 : m) : NULL);
        s->any_wz |= s->wz[m] != 0;
    }
    size_t Mg = (size_t)(M / group);
    const em_qgemm_kernel *k = em_qgemm_kernel_get();
    size_t per = em_qgemm_packed_a_size(k, Mg, K), total;
    if (__builtin_mul_overflow(per, (size_t)group, &total) || em_size_above(total, 32)) return EDGEML_OK;
    s->packed = aligned_alloc(64, (total + 63) / 64 * 64 + 64);
    if (!s->packed) return em_node_fail(n, err, EDGEML_E_NOMEM, "out of memory packing weights");
    const uint8_t *w = W->data;
    for (int64_t gi = 0; gi < group; gi++)
        em_qgemm_pack_a(k, Mg, K, w + (size_t)gi * Mg * K, s->w_xor80, s->packed + (size_t)gi * per,
                        s->rs + (size_t)gi * Mg);
    s->k = k;
    s->packed_stride = per;
    s->M = M;
    s->K = K;
    s->wrank = W->rank;
    s->fast = true;
    em_node_release_const(n, 1);
    return EDGEML_OK;
}

edgeml_status nn_convint_fast_reshape(em_kctx *c, void **out, size_t *ws)
{
    const cint_state *s = c->node->state;
    *ws = 0;
    if (!s->fast) return EDGEML_OK;
    const em_tensor *X = em_in(c, 0), *W = em_in(c, 1);
    const em_tensor *xz = em_n_in(c) > 2 ? em_in(c, 2) : NULL;
    if (!X || !W || (X->dtype != EDGEML_UINT8 && X->dtype != EDGEML_INT8) || X->rank != s->wrank)
        return EDGEML_OK; /* the reference reports what is wrong */
    if (xz && (xz->dtype != X->dtype || em_numel(xz) != 1 || xz->rank > 1)) return EDGEML_OK;
    cint_rs *r = calloc(1, sizeof *r);
    if (!r) return em_fail(c, EDGEML_E_NOMEM, "out of memory");
    edgeml_status st = nn_conv_layout_make(c, X, W, &r->L);
    if (st) { free(r); return st; }
    r->fast = true;
    r->x_signed = X->dtype == EDGEML_INT8;
    r->direct = true;
    for (int i = 0; i < r->g.ns; i++)
        if (r->g.k[i] != 1 || r->g.s[i] != 1 || r->g.pb[i] || r->g.pe[i]) r->direct = false;
    em_qgemm_args a = {.M = (size_t)r->Mg, .N = r->P, .K = r->K, .out32 = true,
                       .col_wz = s->any_wz ? s->wz : NULL};
    r->ws_gemm = (em_qgemm_workspace(s->k, &a, c->threads) + 63) / 64 * 64;
    *ws = r->ws_gemm + (size_t)s->M * sizeof(int32_t);
    *out = r;
    return EDGEML_OK;
}

/* The float epilogue of ConvIntegerScaled over finished GEMM blocks. */
typedef struct scaled_post {
    void *y;                       /* this image and group: [Mg][P], int32 in, float out */
    size_t P;
    const float *scale, *bias;     /* at the group's first row; scale_step 0: one value */
    size_t scale_step, bias_step;
    const float *res;              /* residual of y's shape at the group's first row, or NULL */
    const em_act *act;
} scaled_post;

static void scaled_rows(const scaled_post *p, size_t m0, size_t m1, size_t j0, size_t nc)
{
    for (size_t m = m0; m < m1; m++) {
        unsigned char *row = (unsigned char *)p->y + (m * p->P + j0) * 4;
        float sc = p->scale[m * p->scale_step], b = p->bias ? p->bias[m * p->bias_step] : 0.f;
        const float *rr = p->res ? p->res + m * p->P + j0 : NULL;
        /* int32 -> float in place, through memcpy (no type-punned pointer) */
        for (size_t j = 0; j < nc; j++) {
            int32_t v;
            memcpy(&v, row + 4 * j, 4);
            float f = (float)v * sc + b;
            if (rr) f += rr[j];
            memcpy(row + 4 * j, &f, 4);
        }
        if (p->act->kind != EM_ACT_NONE) em_act_apply(p->act, (float *)(void *)row, nc);
    }
}

static void scaled_post_fn(const void *ctx, size_t m0, size_t m1, size_t j0, size_t nc)
{
    scaled_rows(ctx, m0, m1, j0, nc);
}

/* int32 results into y (ConvInteger's layout); post: per image and group, or NULL. */
static void cint_compute(em_kctx *c, const cint_state *s, const cint_rs *r, const uint8_t *x, void *y,
                         scaled_post *post)
{
    const em_tensor *xzt = em_n_in(c) > 2 ? em_in(c, 2) : NULL;
    uint8_t xz_raw = xzt ? ((const uint8_t *)xzt->data)[0] : 0;
    uint32_t xzu = r->x_signed ? (uint8_t)(xz_raw ^ 0x80) : xz_raw;
    int32_t *bias = (int32_t *)(void *)((uint8_t *)c->ws + r->ws_gemm);
    em_qgemm_zp_bias(r->K, xzu, s->wz, s->rs, (size_t)s->M, bias);
    const nn_geom *g = &r->g;
    for (int64_t ni = 0; ni < r->N; ni++)
        for (int64_t gi = 0; gi < r->group; gi++) {
            size_t xoff = ((size_t)ni * (size_t)r->C + (size_t)(gi * r->Cg)) * g->in_sz;
            size_t yoff = ((size_t)ni * (size_t)r->M + (size_t)(gi * r->Mg)) * r->P;
            nn_qim2col q;
            if (g->ns == 2)
                q = (nn_qim2col){x + xoff, g->in[0], g->in[1], g->out[1], g->k[0], g->k[1], g->s[0], g->s[1],
                                 g->d[0], g->d[1], g->pb[0], g->pb[1], r->P, r->direct, xz_raw};
            else
                q = (nn_qim2col){x + xoff, 1, g->in[0], g->out[0], 1, g->k[0], 1, g->s[0], 1, g->d[0], 0,
                                 g->pb[0], r->P, r->direct, xz_raw};
            scaled_post pp;
            if (post) {
                pp = *post;
                pp.y = (uint8_t *)post->y + yoff * 4;
                pp.scale += (size_t)(gi * r->Mg) * pp.scale_step;
                if (pp.bias) pp.bias += (size_t)(gi * r->Mg) * pp.bias_step;
                if (pp.res) pp.res += yoff;
            }
            em_qgemm_args a = {
                .M = (size_t)r->Mg, .N = r->P, .K = r->K,
                .a_packed = s->packed + (size_t)gi * s->packed_stride,
                .rows = nn_qim2col_rows, .rows_ctx = &q, .x_xor80 = r->x_signed,
                .C = (int32_t *)y + yoff, .ldc = r->P,
                .bias = bias + gi * r->Mg, .out32 = true,
                .col_wz = s->any_wz ? s->wz + gi * r->Mg : NULL,
                .post = post ? scaled_post_fn : NULL, .post_ctx = post ? &pp : NULL,
            };
            em_qgemm(s->k, &a, c->ws, c->pool, c->threads);
        }
}

NN_OP(convint_fast)
{
    const cint_rs *r = c->rs;
    if (!r || !r->fast) return nn_conv_integer_run(c);
    const cint_state *s = c->node->state;
    em_tensor *Y = em_out(c, 0, EDGEML_INT32, r->rank, r->odims);
    if (!Y) return c->err && c->err->code ? c->err->code : EDGEML_E_NOMEM;
    if (em_numel(Y) == 0) return EDGEML_OK;
    cint_compute(c, s, r, em_in(c, 0)->data, Y->data, NULL);
    return EDGEML_OK;
}

/* Scale/bias of ConvIntegerScaled: one value, or one per output channel. */
static edgeml_status per_channel(em_kctx *c, int i, const char *what, int64_t M, int orank, const float **p,
                                 size_t *step)
{
    *p = NULL;
    *step = 0;
    const em_tensor *t = em_n_in(c) > i ? em_in(c, i) : NULL;
    if (!t) return EDGEML_OK;
    EM_CHECK(c, t->dtype == EDGEML_FLOAT, "%s must be float32, got %s", what, em_dtype_name(t->dtype));
    size_t n = em_numel(t);
    if (n == 1) { *p = t->data; return EDGEML_OK; }
    /* one per channel: M on the axis that lines up with the output's axis 1 */
    bool ok = (int64_t)n == M && t->rank <= orank && t->rank >= orank - 1;
    if (ok) {
        int ax = t->rank - (orank - 1);
        for (int d = 0; d < t->rank; d++)
            if (d != ax && t->dims[d] != 1) ok = false;
    }
    EM_CHECK(c, ok, "%s must have one value or one per output channel (%lld)", what, (long long)M);
    *p = t->data;
    *step = 1;
    return EDGEML_OK;
}

NN_OP(convint_scaled)
{
    const cint_rs *r = c->rs;
    const em_node *n = c->node;
    int32_t *acc = NULL;
    int rank;
    int64_t odims[EM_MAX_RANK];
    edgeml_status st;
    if (r && r->fast) {
        rank = r->rank;
        memcpy(odims, r->odims, sizeof odims);
    } else if ((st = nn_conv_integer_acc(c, &acc, &rank, odims)))
        return st;
    int64_t M = odims[1];
    scaled_post p = {.act = &n->act};
    if ((st = per_channel(c, 4, "scale", M, rank, &p.scale, &p.scale_step))) return st;
    EM_CHECK(c, p.scale, "missing input scale");
    if ((st = per_channel(c, 5, "bias", M, rank, &p.bias, &p.bias_step))) return st;
    bool direct = em_epilogue_direct(c, rank, odims);
    em_tensor *Y = em_out_fused(c, EDGEML_FLOAT, rank, odims);
    if (!Y) return c->err && c->err->code ? c->err->code : EDGEML_E_NOMEM;
    size_t ny = em_numel(Y);
    if (!ny) return direct ? EDGEML_OK : em_epilogue(c, Y);
    em_act none = {0};
    if (direct) {
        const em_tensor *res = n->add_in > 0 ? em_in(c, n->add_in) : NULL;
        p.res = res ? res->data : NULL;
    } else
        p.act = &none; /* em_epilogue applies residual and activation */
    p.P = ny / (size_t)(odims[0] * M);
    if (r && r->fast) {
        p.y = Y->data;
        cint_compute(c, c->node->state, r, em_in(c, 0)->data, Y->data, &p);
    } else {
        memcpy(Y->data, acc, ny * sizeof(int32_t)); /* the rows convert in place */
        for (int64_t ni = 0; ni < odims[0]; ni++) {
            scaled_post q = p;
            size_t off = (size_t)ni * (size_t)M * p.P;
            q.y = (uint8_t *)Y->data + off * 4;
            if (q.res) q.res += off;
            scaled_rows(&q, 0, (size_t)M, 0, p.P);
        }
    }
    return direct ? EDGEML_OK : em_epilogue(c, Y);
}

const em_op_entry em_nn_convint_scaled_entry = {
    .domain = "edgeml", .op_type = "ConvIntegerScaled", .since = 1,
    .prepare = nn_convint_fast_prepare, .run = nn_convint_scaled_run,
    .free_state = nn_convint_fast_free, .reshape = nn_convint_fast_reshape,
};
