/* QLinearConv, int8 fast paths (cpu/qgemm.h): weights packed once at prepare
 * for the int8 microkernel the CPU gets, with the activation zero point's
 * correction (-xz * rowsum(w)) folded into an int32 bias and the per-channel
 * requantisation multipliers precomputed; an implicit im2col that packs the
 * GEMM's B panels straight from the input; a direct depthwise kernel; the
 * requantisation and output clamp in the epilogue. Graph optimisation
 * (opt/qdq.c) rewrites QDQ convolutions into this row and may fold a Relu or
 * Clip into node->act as a clamp in the quantised domain (EM_ACT_CLIP,
 * alpha/beta = the integer bounds), which the reference path applies too.
 *
 * Fast path conditions (else the reference kernel of nn_conv.c runs): all
 * inputs but x constant, scalar x/y scales and zero points, per-tensor or
 * per-channel weight scales, weight zero point 0 (int8) or 128 (uint8),
 * 1-D or 2-D, a CPU level above reference. */
#include "nn.h"
#include "../cpu/qgemm.h"
#include "../exec.h"
#include "../pool.h"

enum { QC_REF = 0, QC_GEMM, QC_DW };

typedef struct qconv_state {
    nn_geom_attrs a;               /* first: nn_conv_setup reads it */
    int kind;
    bool x_signed, w_xor80;
    int ydt;
    uint8_t xz_raw;                /* x zero point, as stored (padding value) */
    int64_t M, Cg, kh, kw, wrank;
    const em_qgemm_kernel *k;
    uint8_t *packed;               /* QC_GEMM: per group */
    size_t packed_stride;
    int16_t *wdw;                  /* QC_DW: [M][kh*kw] */
    int32_t *bias;                 /* [M]: B - xz' * rowsum(w) */
    float *mult;                   /* [M] */
    float flo, fhi;
    int32_t yzp;
    em_qdw_fn dw;
} qconv_state;

typedef struct qconv_rs {
    int path;
    NN_CONV_LAYOUT;
    bool direct;
    em_qdw_geom dg;
    size_t dw_tasks, dw_slot;
} qconv_rs;

void nn_qconv_fast_free(void *state)
{
    qconv_state *s = state;
    if (!s) return;
    free(s->packed);
    free(s->wdw);
    free(s->bias);
    free(s->mult);
    free(s);
}

/* Integer bounds of a quantised output, narrowed by a clamp the QDQ pass fused. */
static void out_bounds(const em_node *n, int ydt, int32_t *lo, int32_t *hi)
{
    *lo = ydt == EDGEML_INT8 ? -128 : 0;
    *hi = ydt == EDGEML_INT8 ? 127 : 255;
    if (n->act.kind == EM_ACT_CLIP) {
        if (n->act.alpha > (float)*lo) *lo = (int32_t)n->act.alpha;
        if (n->act.beta < (float)*hi) *hi = (int32_t)n->act.beta;
        if (*hi < *lo) *hi = *lo;
    }
}

static bool scalar_of(const em_tensor *t, int dt)
{
    return t && t->dtype == dt && t->data && em_numel(t) == 1 && t->rank <= 1;
}

NN_PREP(qlinear_conv_fast)
{
    qconv_state *s = calloc(1, sizeof *s);
    if (!s) return em_node_fail(n, err, EDGEML_E_NOMEM, "out of memory");
    edgeml_status st = nn_geom_parse(n, &s->a, err);
    if (st) { free(s); return st; }
    n->state = s;
    if (em_cpu_level_get() == EM_CPU_REFERENCE || n->n_in < 8 || n->add_in > 0) return EDGEML_OK;
    const em_tensor *xs = em_node_const_input(n, 1), *xz = em_node_const_input(n, 2);
    const em_tensor *W = em_node_const_input(n, 3), *ws = em_node_const_input(n, 4);
    const em_tensor *wz = em_node_const_input(n, 5), *ys = em_node_const_input(n, 6);
    const em_tensor *yz = em_node_const_input(n, 7);
    const em_tensor *B = n->n_in > 8 && n->in[8] >= 0 ? em_node_const_input(n, 8) : NULL;
    if (n->n_in > 8 && n->in[8] >= 0 && !B) return EDGEML_OK;
    if (!W || !W->data || (W->dtype != EDGEML_INT8 && W->dtype != EDGEML_UINT8) || (W->rank != 3 && W->rank != 4))
        return EDGEML_OK;
    if (!scalar_of(xs, EDGEML_FLOAT) || !scalar_of(ys, EDGEML_FLOAT) || !ws || ws->dtype != EDGEML_FLOAT || !ws->data)
        return EDGEML_OK;
    if (!xz || !(scalar_of(xz, EDGEML_UINT8) || scalar_of(xz, EDGEML_INT8))) return EDGEML_OK;
    if (yz && !(scalar_of(yz, EDGEML_UINT8) || scalar_of(yz, EDGEML_INT8))) return EDGEML_OK;
    int64_t M = W->dims[0], Cg = W->dims[1], group = s->a.group;
    int64_t kh = W->rank == 4 ? W->dims[2] : 1, kw = W->dims[W->rank - 1];
    if (M <= 0 || Cg <= 0 || kh <= 0 || kw <= 0 || group <= 0 || M % group) return EDGEML_OK;
    size_t nws = em_numel(ws);
    if (!(nws == 1 && ws->rank <= 1) && !(ws->rank == 1 && (int64_t)nws == M)) return EDGEML_OK;
    if (B && (B->dtype != EDGEML_INT32 || B->rank != 1 || B->dims[0] != M || !B->data)) return EDGEML_OK;
    s->w_xor80 = W->dtype == EDGEML_UINT8;
    if (wz) {
        size_t nz = em_numel(wz);
        if (wz->dtype != W->dtype || !wz->data || !((nz == 1 && wz->rank <= 1) || (wz->rank == 1 && (int64_t)nz == M)))
            return EDGEML_OK;
        for (size_t i = 0; i < nz; i++)
            if (((const uint8_t *)wz->data)[i] != (s->w_xor80 ? 128 : 0)) return EDGEML_OK;
    } else if (s->w_xor80)
        return EDGEML_OK; /* uint8 weights with zero point 0: not symmetric */
    size_t K = (size_t)Cg * (size_t)kh * (size_t)kw;
    if (K > ((size_t)1 << 24) || (size_t)M > ((size_t)1 << 24)) return EDGEML_OK;
    s->x_signed = xz->dtype == EDGEML_INT8;
    s->xz_raw = ((const uint8_t *)xz->data)[0];
    int32_t xzu = s->x_signed ? (int32_t)(int8_t)s->xz_raw + 128 : s->xz_raw; /* in the u8 domain */
    s->ydt = yz ? yz->dtype : EDGEML_UINT8;
    s->yzp = yz ? (s->ydt == EDGEML_INT8 ? ((const int8_t *)yz->data)[0] : ((const uint8_t *)yz->data)[0]) : 0;
    int32_t lo, hi;
    out_bounds(n, s->ydt, &lo, &hi);
    s->flo = (float)(lo - s->yzp);
    s->fhi = (float)(hi - s->yzp);
    s->M = M;
    s->Cg = Cg;
    s->kh = kh;
    s->kw = kw;
    s->wrank = W->rank;
    s->bias = malloc((size_t)M * sizeof(int32_t));
    s->mult = malloc((size_t)M * sizeof(float));
    int32_t *rowsum = malloc((size_t)M * sizeof(int32_t));
    if (!s->bias || !s->mult || !rowsum) { free(rowsum); return em_node_fail(n, err, EDGEML_E_NOMEM, "out of memory"); }
    float xsv = ((const float *)xs->data)[0], ysv = ((const float *)ys->data)[0];
    for (int64_t m = 0; m < M; m++) {
        float wsv = ((const float *)ws->data)[nws == 1 ? 0 : m];
        s->mult[m] = (xsv * wsv) / ysv; /* as the reference computes it */
    }
    const uint8_t *w = W->data;
    if (group == M && Cg == 1 && group > 1 && W->rank == 4 && kh * kw <= 49) {
        size_t kk = (size_t)(kh * kw);
        s->wdw = malloc((size_t)M * kk * sizeof(int16_t));
        if (!s->wdw) { free(rowsum); return em_node_fail(n, err, EDGEML_E_NOMEM, "out of memory"); }
        for (int64_t m = 0; m < M; m++) {
            int32_t sum = 0;
            for (size_t t = 0; t < kk; t++) {
                int16_t v = (int8_t)(w[(size_t)m * kk + t] ^ (s->w_xor80 ? 0x80 : 0));
                s->wdw[(size_t)m * kk + t] = v;
                sum += v;
            }
            rowsum[m] = sum;
        }
        s->dw = em_qdw_get();
        s->kind = QC_DW;
    } else {
        size_t Mg = (size_t)(M / group);
        const em_qgemm_kernel *k = em_qgemm_kernel_get();
        size_t per = em_qgemm_packed_a_size(k, Mg, K), total;
        if (__builtin_mul_overflow(per, (size_t)group, &total) || em_size_above(total, 32)) { free(rowsum); return EDGEML_OK; }
        s->packed = aligned_alloc(64, (total + 63) / 64 * 64 + 64);
        if (!s->packed) { free(rowsum); return em_node_fail(n, err, EDGEML_E_NOMEM, "out of memory packing weights"); }
        for (int64_t gi = 0; gi < group; gi++)
            em_qgemm_pack_a(k, Mg, K, w + (size_t)gi * Mg * K, s->w_xor80, s->packed + (size_t)gi * per,
                            rowsum + (size_t)gi * Mg);
        s->k = k;
        s->packed_stride = per;
        s->kind = QC_GEMM;
    }
    for (int64_t m = 0; m < M; m++) {
        uint32_t b = B ? (uint32_t)((const int32_t *)B->data)[m] : 0;
        s->bias[m] = (int32_t)(b - (uint32_t)xzu * (uint32_t)rowsum[m]);
    }
    free(rowsum);
    return EDGEML_OK;
}

/* ---- implicit im2col ------------------------------------------------------------ */

void nn_qim2col_rows(const void *vctx, size_t k0, size_t nk, size_t j0, size_t nc, uint8_t *tmp,
                        const uint8_t **rows)
{
    const nn_qim2col *q = vctx;
    if (q->direct) {
        for (size_t r = 0; r < nk; r++) rows[r] = q->x + (k0 + r) * q->P + j0;
        return;
    }
    size_t kk = (size_t)(q->kh * q->kw);
    for (size_t r = 0; r < nk; r++) {
        size_t k = k0 + r, ch = k / kk, rr = k % kk;
        int64_t ki = (int64_t)rr / q->kw, kj = (int64_t)rr % q->kw;
        const uint8_t *xc = q->x + ch * (size_t)(q->H * q->W);
        int64_t hoff = ki * q->dh - q->ph, woff = kj * q->dw - q->pw, sw = q->sw;
        int64_t lo = woff < 0 ? (-woff + sw - 1) / sw : 0;
        int64_t hi = q->W - woff <= 0 ? 0 : (q->W - woff - 1) / sw + 1;
        uint8_t *d = tmp + r * nc;
        int64_t oh = (int64_t)(j0 / (size_t)q->OW), ow = (int64_t)(j0 % (size_t)q->OW);
        size_t j = 0;
        while (j < nc) {
            size_t run = (size_t)(q->OW - ow);
            if (run > nc - j) run = nc - j;
            int64_t ih = oh * q->sh + hoff;
            if (ih < 0 || ih >= q->H) {
                memset(d + j, q->pad, run);
            } else {
                const uint8_t *xr = xc + ih * q->W;
                int64_t end = ow + (int64_t)run;
                int64_t a0 = lo > ow ? lo : ow, a1 = hi < end ? hi : end;
                if (a0 > end) a0 = end;
                if (a1 < a0) a1 = a0;
                size_t z0 = (size_t)(a0 - ow), z1 = (size_t)(a1 - ow);
                uint8_t *dd = d + j;
                memset(dd, q->pad, z0);
                if (sw == 1) memcpy(dd + z0, xr + a0 + woff, z1 - z0);
                else {
                    const uint8_t *xs = xr + a0 * sw + woff;
                    for (size_t t = z0; t < z1; t++, xs += sw) dd[t] = *xs;
                }
                memset(dd + z1, q->pad, run - z1);
            }
            j += run;
            ow = 0;
            oh++;
        }
        rows[r] = d;
    }
}

/* ---- reshape ---------------------------------------------------------------------- */

edgeml_status nn_qlinear_conv_fast_reshape(em_kctx *c, void **out, size_t *ws)
{
    const qconv_state *s = c->node->state;
    *ws = 0;
    if (s->kind == QC_REF) return EDGEML_OK;
    const em_tensor *X = em_in(c, 0), *W = em_in(c, 3);
    if (!X || !W || X->dtype != (s->x_signed ? EDGEML_INT8 : EDGEML_UINT8) || (X->rank != 3 && X->rank != 4) ||
        X->rank != s->wrank)
        return EDGEML_OK; /* the reference reports what is wrong */
    qconv_rs *r = calloc(1, sizeof *r);
    if (!r) return em_fail(c, EDGEML_E_NOMEM, "out of memory");
    edgeml_status st = nn_conv_layout_make(c, X, W, &r->L);
    if (st) { free(r); return st; }
    const nn_geom *g = &r->g;
    bool two = g->ns == 2;
    int64_t kh = two ? g->k[0] : 1, kw = g->k[g->ns - 1];
    if (s->kind == QC_DW && two) {
        r->path = QC_DW;
        r->dg = (em_qdw_geom){g->in[0], g->in[1], g->out[0], g->out[1], kh, kw,
                              g->s[0], g->s[1], g->d[0], g->d[1], g->pb[0], g->pb[1], 0, 0};
        em_qdw_geom_init(&r->dg);
        size_t planes = (size_t)(r->N * r->M);
        r->dw_tasks = (size_t)c->threads < planes ? (size_t)c->threads : planes;
        if (r->dw_tasks < 1) r->dw_tasks = 1;
        r->dw_slot = ((size_t)(r->dg.HP * r->dg.WP) + 63) / 64 * 64;
        *ws = r->dw_tasks * r->dw_slot;
        *out = r;
        return EDGEML_OK;
    }
    if (s->kind != QC_GEMM) { *out = r; return EDGEML_OK; } /* path QC_REF */
    r->path = QC_GEMM;
    r->direct = true;
    for (int i = 0; i < g->ns; i++)
        if (g->k[i] != 1 || g->s[i] != 1 || g->pb[i] || g->pe[i]) r->direct = false;
    em_qgemm_args a = {.M = (size_t)r->Mg, .N = r->P, .K = r->K};
    *ws = em_qgemm_workspace(s->k, &a, c->threads);
    *out = r;
    return EDGEML_OK;
}

/* ---- run -------------------------------------------------------------------------- */

/* The reference, then the fused clamp (in the quantised domain). */
static edgeml_status ref_run(em_kctx *c)
{
    edgeml_status st = nn_qlinear_conv_run(c);
    const em_node *n = c->node;
    if (st || n->act.kind != EM_ACT_CLIP || n->out[0] < 0) return st;
    em_tensor *Y = &c->frame->vals[n->out[0]].t;
    int32_t lo, hi;
    out_bounds(n, Y->dtype, &lo, &hi);
    size_t ny = em_numel(Y);
    if (Y->dtype == EDGEML_INT8) {
        int8_t *y = Y->data;
        for (size_t i = 0; i < ny; i++) y[i] = y[i] < lo ? (int8_t)lo : y[i] > hi ? (int8_t)hi : y[i];
    } else if (Y->dtype == EDGEML_UINT8) {
        uint8_t *y = Y->data;
        for (size_t i = 0; i < ny; i++) y[i] = y[i] < lo ? (uint8_t)lo : y[i] > hi ? (uint8_t)hi : y[i];
    }
    return EDGEML_OK;
}

typedef struct qdw_job {
    const qconv_rs *r;
    const qconv_state *s;
    const uint8_t *x;
    uint8_t *y;
    uint8_t *ws;
} qdw_job;

static void qdw_tasks(void *ctx, size_t tb, size_t te)
{
    const qdw_job *J = ctx;
    const qconv_rs *r = J->r;
    const qconv_state *s = J->s;
    size_t in_sz = r->g.in_sz, out_sz = r->P, kk = r->g.k_sz;
    size_t planes = (size_t)(r->N * r->M), T = r->dw_tasks;
    em_qgemm_epi e = {NULL, NULL, s->flo, s->fhi, s->yzp, false};
    for (size_t t = tb; t < te; t++) {
        uint8_t *xp = J->ws + t * r->dw_slot;
        size_t b = planes / T * t + (t < planes % T ? t : planes % T);
        size_t en = b + planes / T + (t < planes % T ? 1 : 0);
        size_t padded = (size_t)-1;
        for (size_t i = b; i < en; i++) {
            size_t ni = i / (size_t)r->M, m = i % (size_t)r->M;
            size_t ip = ni * (size_t)r->C + m / (size_t)r->Mg;   /* input plane */
            if (ip != padded) {
                em_qdw_pad(&r->dg, J->x + ip * in_sz, s->xz_raw, s->x_signed, xp);
                padded = ip;
            }
            s->dw(&r->dg, xp, s->wdw + m * kk, s->bias[m], s->mult[m], &e, J->y + i * out_sz);
        }
    }
}

NN_OP(qlinear_conv_fast)
{
    const qconv_rs *r = c->rs;
    if (!r || r->path == QC_REF) return ref_run(c);
    const qconv_state *s = c->node->state;
    const em_tensor *X = em_in(c, 0);
    em_tensor *Y = em_out(c, 0, s->ydt, r->rank, r->odims);
    if (!Y) return c->err && c->err->code ? c->err->code : EDGEML_E_NOMEM;
    if (em_numel(Y) == 0) return EDGEML_OK;
    const uint8_t *x = X->data;
    uint8_t *y = Y->data;
    if (r->path == QC_DW) {
        qdw_job J = {r, s, x, y, c->ws};
        if (r->dw_tasks <= 1) qdw_tasks(&J, 0, 1);
        else em_parallel_for(c->pool, c->threads, r->dw_tasks, 1, qdw_tasks, &J);
        return EDGEML_OK;
    }
    const nn_geom *g = &r->g;
    for (int64_t ni = 0; ni < r->N; ni++)
        for (int64_t gi = 0; gi < r->group; gi++) {
            size_t xoff = ((size_t)ni * (size_t)r->C + (size_t)(gi * r->Cg)) * g->in_sz;
            size_t yoff = ((size_t)ni * (size_t)r->M + (size_t)(gi * r->Mg)) * r->P;
            nn_qim2col q;
            if (g->ns == 2)
                q = (nn_qim2col){x + xoff, g->in[0], g->in[1], g->out[1], g->k[0], g->k[1], g->s[0], g->s[1],
                              g->d[0], g->d[1], g->pb[0], g->pb[1], r->P, r->direct, s->xz_raw};
            else
                q = (nn_qim2col){x + xoff, 1, g->in[0], g->out[0], 1, g->k[0], 1, g->s[0], 1, g->d[0], 0,
                              g->pb[0], r->P, r->direct, s->xz_raw};
            em_qgemm_args a = {
                .M = (size_t)r->Mg, .N = r->P, .K = r->K,
                .a_packed = s->packed + (size_t)gi * s->packed_stride,
                .rows = nn_qim2col_rows, .rows_ctx = &q, .x_xor80 = s->x_signed,
                .C = y + yoff, .ldc = r->P,
                .bias = s->bias + gi * r->Mg, .mult = s->mult + gi * r->Mg,
                .flo = s->flo, .fhi = s->fhi, .yzp = s->yzp,
            };
            em_qgemm(s->k, &a, c->ws, c->pool, c->threads);
        }
    return EDGEML_OK;
}
