/* RNN (1, 7, 14), GRU (1, 3, 7, 14), LSTM (1, 7, 14). Computed in float32.
 * The reference kernel (red_rnn_ref_run) handles every dtype, activation and
 * clip; red_rnn_fast.c holds the float32 fast path over the GEMM engine. */
#include "red.h"
#include "red_rnn.h"

#include <math.h>
#include <stdlib.h>



static const struct { const char *name; int type; int na, nb; float a, b; } red_act_names[] = {
    {"Relu", ACT_RELU, 0, 0, 0, 0},
    {"Tanh", ACT_TANH, 0, 0, 0, 0},
    {"Sigmoid", ACT_SIGMOID, 0, 0, 0, 0},
    {"Affine", ACT_AFFINE, 1, 1, 1.0f, 0.0f},
    {"LeakyRelu", ACT_LEAKYRELU, 1, 0, 0.01f, 0},
    {"ThresholdedRelu", ACT_THRESHRELU, 1, 0, 1.0f, 0},
    {"ScaledTanh", ACT_SCALEDTANH, 1, 1, 1.0f, 1.0f},
    {"HardSigmoid", ACT_HARDSIGMOID, 1, 1, 0.2f, 0.5f},
    {"Elu", ACT_ELU, 1, 0, 1.0f, 0},
    {"Softsign", ACT_SOFTSIGN, 0, 0, 0, 0},
    {"Softplus", ACT_SOFTPLUS, 0, 0, 0, 0},
};

edgeml_status red_rnn_ref_prepare(em_node *node, edgeml_error *err)
{
    red_rnn_state *s = calloc(1, sizeof *s);
    if (!s) return em_node_fail(node, err, EDGEML_E_NOMEM, "out of memory");
    node->state = s;
    if (strcmp(node->op_type, "RNN") == 0) {
        s->cell = CELL_RNN; s->G = 1; s->NA = 1;
    } else if (strcmp(node->op_type, "GRU") == 0) {
        s->cell = CELL_GRU; s->G = 3; s->NA = 2;
    } else {
        s->cell = CELL_LSTM; s->G = 4; s->NA = 3;
    }
    s->H = em_attr_int(node, "hidden_size", 0);
    if (s->H < 0) return em_node_fail(node, err, EDGEML_E_MODEL, "negative hidden_size");
    const char *dir = em_attr_str(node, "direction", "forward");
    if (strcmp(dir, "forward") == 0) s->dirs = 1;
    else if (strcmp(dir, "reverse") == 0) { s->dirs = 1; s->reverse = 1; }
    else if (strcmp(dir, "bidirectional") == 0) s->dirs = 2;
    else return em_node_fail(node, err, EDGEML_E_MODEL, "invalid direction '%s'", dir);
    s->layout = node->opset >= 14 ? (int)em_attr_int(node, "layout", 0) : 0;
    if (s->layout != 0 && s->layout != 1)
        return em_node_fail(node, err, EDGEML_E_MODEL, "invalid layout %d", s->layout);
    const em_attr *ca = em_attr_get(node, "clip");
    if (ca) {
        s->has_clip = 1;
        s->clip = ca->f;
    }
    s->lbr = s->cell == CELL_GRU ? em_attr_int(node, "linear_before_reset", 0) != 0 : 0;
    s->input_forget = s->cell == CELL_LSTM ? em_attr_int(node, "input_forget", 0) != 0 : 0;

    /* activations */
    static const int dflt[3][3] = {
        {ACT_TANH, 0, 0}, {ACT_SIGMOID, ACT_TANH, 0}, {ACT_SIGMOID, ACT_TANH, ACT_TANH}};
    int need = s->NA * s->dirs;
    const em_attr *acts = em_attr_get(node, "activations");
    const float *al = NULL, *be = NULL;
    long nal = em_attr_floats(node, "activation_alpha", &al);
    long nbe = em_attr_floats(node, "activation_beta", &be);
    long ia = 0, ib = 0;
    if (acts && acts->n > 0) {
        if ((int)acts->n != need && !(s->dirs == 2 && (int)acts->n == s->NA))
            return em_node_fail(node, err, EDGEML_E_MODEL,
                                "expected %d activations, got %zu", need, acts->n);
        for (size_t i = 0; i < acts->n; i++) {
            char nm[64];
            size_t l = acts->strings[i].len < 63 ? acts->strings[i].len : 63;
            memcpy(nm, acts->strings[i].data, l);
            nm[l] = 0;
            int found = -1;
            for (size_t k = 0; k < sizeof red_act_names / sizeof red_act_names[0]; k++)
                if (red_streq(nm, red_act_names[k].name)) found = (int)k;
            if (found < 0)
                return em_node_fail(node, err, EDGEML_E_UNSUPPORTED,
                                    "unsupported activation '%s'", nm);
            red_act *a = &s->act[i];
            a->type = red_act_names[found].type;
            a->alpha = red_act_names[found].a;
            a->beta = red_act_names[found].b;
            if (red_act_names[found].na && ia < nal) a->alpha = al[ia++];
            if (red_act_names[found].nb && ib < nbe) a->beta = be[ib++];
        }
        if ((int)acts->n != need)
            for (int i = 0; i < s->NA; i++) s->act[s->NA + i] = s->act[i];
    } else {
        for (int d = 0; d < s->dirs; d++)
            for (int i = 0; i < s->NA; i++) s->act[d * s->NA + i].type = dflt[s->cell][i];
    }
    return EDGEML_OK;
}

static void red_apply_act(const red_act *a, float *v, size_t n, int has_clip, float clip)
{
    if (has_clip)
        for (size_t i = 0; i < n; i++) v[i] = v[i] < -clip ? -clip : (v[i] > clip ? clip : v[i]);
    float al = a->alpha, be = a->beta;
    switch (a->type) {
    case ACT_RELU: for (size_t i = 0; i < n; i++) v[i] = v[i] > 0 ? v[i] : 0; break;
    case ACT_TANH: for (size_t i = 0; i < n; i++) v[i] = tanhf(v[i]); break;
    case ACT_SIGMOID:
        for (size_t i = 0; i < n; i++)
            v[i] = v[i] >= 0 ? 1.0f / (1.0f + expf(-v[i])) : expf(v[i]) / (1.0f + expf(v[i]));
        break;
    case ACT_AFFINE: for (size_t i = 0; i < n; i++) v[i] = al * v[i] + be; break;
    case ACT_LEAKYRELU: for (size_t i = 0; i < n; i++) v[i] = v[i] >= 0 ? v[i] : al * v[i]; break;
    case ACT_THRESHRELU: for (size_t i = 0; i < n; i++) v[i] = v[i] > al ? v[i] : 0; break;
    case ACT_SCALEDTANH: for (size_t i = 0; i < n; i++) v[i] = al * tanhf(be * v[i]); break;
    case ACT_HARDSIGMOID:
        for (size_t i = 0; i < n; i++) {
            float t = al * v[i] + be;
            v[i] = t < 0 ? 0 : (t > 1 ? 1 : t);
        }
        break;
    case ACT_ELU: for (size_t i = 0; i < n; i++) v[i] = v[i] >= 0 ? v[i] : al * (expf(v[i]) - 1); break;
    case ACT_SOFTSIGN: for (size_t i = 0; i < n; i++) v[i] = v[i] / (1 + fabsf(v[i])); break;
    case ACT_SOFTPLUS:
        for (size_t i = 0; i < n; i++)
            v[i] = v[i] > 0 ? v[i] + log1pf(expf(-v[i])) : log1pf(expf(v[i]));
        break;
    }
}

/* C[m x n] (+)= A[m x k] * B[n x k]^T, rows of C at stride ldc. */
static void red_gemm_nt(const float *A, size_t lda, const float *B, size_t ldb, float *C, size_t ldc,
                        size_t m, size_t n, size_t k, int acc)
{
    for (size_t i = 0; i < m; i++) {
        const float *a = A + i * lda;
        float *cr = C + i * ldc;
        for (size_t j = 0; j < n; j++) {
            const float *b = B + j * ldb;
            float s0 = 0, s1 = 0, s2 = 0, s3 = 0;
            size_t p = 0;
            for (; p + 4 <= k; p += 4) {
                s0 += a[p] * b[p];
                s1 += a[p + 1] * b[p + 1];
                s2 += a[p + 2] * b[p + 2];
                s3 += a[p + 3] * b[p + 3];
            }
            for (; p < k; p++) s0 += a[p] * b[p];
            float s = (s0 + s1) + (s2 + s3);
            cr[j] = acc ? cr[j] + s : s;
        }
    }
}

static size_t red_nz(size_t n) { return n ? n : 1; }

static edgeml_status red_chk_shape(em_kctx *c, const em_tensor *t, const char *name, int rank,
                                   const int64_t *dims)
{
    char b1[96], b2[96];
    bool ok = t->rank == rank;
    for (int i = 0; ok && i < rank; i++) ok = t->dims[i] == dims[i];
    if (!ok)
        return em_fail(c, EDGEML_E_RUNTIME, "%s has shape %s, expected %s", name,
                       em_shape_str(t->rank, t->dims, b1, sizeof b1),
                       em_shape_str(rank, dims, b2, sizeof b2));
    if (!red_is_floatlike(t->dtype))
        return em_fail(c, EDGEML_E_RUNTIME, "%s must be float, got %s", name,
                       em_dtype_name(t->dtype));
    return EDGEML_OK;
}

edgeml_status red_rnn_ref_run(em_kctx *c)
{
    const red_rnn_state *s = c->node->state;
    int nin = em_n_in(c);
    const em_tensor *X = em_in(c, 0), *W = em_in(c, 1), *R = em_in(c, 2);
    const em_tensor *B = nin > 3 ? em_in(c, 3) : NULL;
    const em_tensor *SL = nin > 4 ? em_in(c, 4) : NULL;
    const em_tensor *H0 = nin > 5 ? em_in(c, 5) : NULL;
    const em_tensor *C0 = (s->cell == CELL_LSTM && nin > 6) ? em_in(c, 6) : NULL;
    const em_tensor *P = (s->cell == CELL_LSTM && nin > 7) ? em_in(c, 7) : NULL;
    EM_CHECK(c, X && W && R, "missing input X, W or R");
    EM_CHECK(c, red_is_floatlike(X->dtype), "X must be float, got %s", em_dtype_name(X->dtype));
    EM_CHECK(c, X->rank == 3, "X must have rank 3, got %d", X->rank);
    EM_CHECK(c, R->rank == 3, "R must have rank 3, got %d", R->rank);
    int dt = X->dtype;
    int64_t T = s->layout ? X->dims[1] : X->dims[0];
    int64_t Bt = s->layout ? X->dims[0] : X->dims[1];
    int64_t I = X->dims[2];
    int64_t H = s->H ? s->H : R->dims[2];
    int64_t G = s->G, D = s->dirs;
    edgeml_status st;
    int64_t d3[3];
    d3[0] = D; d3[1] = G * H; d3[2] = I;
    if ((st = red_chk_shape(c, W, "W", 3, d3))) return st;
    d3[2] = H;
    if ((st = red_chk_shape(c, R, "R", 3, d3))) return st;
    if (B) {
        int64_t d2[2] = {D, 2 * G * H};
        if ((st = red_chk_shape(c, B, "B", 2, d2))) return st;
    }
    int64_t hd[3];
    if (s->layout) { hd[0] = Bt; hd[1] = D; hd[2] = H; }
    else { hd[0] = D; hd[1] = Bt; hd[2] = H; }
    if (H0 && (st = red_chk_shape(c, H0, "initial_h", 3, hd))) return st;
    if (C0 && (st = red_chk_shape(c, C0, "initial_c", 3, hd))) return st;
    if (P) {
        int64_t d2[2] = {D, 3 * H};
        if ((st = red_chk_shape(c, P, "P", 2, d2))) return st;
    }
    if (SL) {
        EM_CHECK(c, SL->dtype == EDGEML_INT32 || SL->dtype == EDGEML_INT64,
                 "sequence_lens must be int32");
        EM_CHECK(c, SL->rank == 1 && SL->dims[0] == Bt, "sequence_lens must have shape [%lld]",
                 (long long)Bt);
    }

    /* outputs */
    int64_t yd[4];
    if (s->layout) { yd[0] = Bt; yd[1] = T; yd[2] = D; yd[3] = H; }
    else { yd[0] = T; yd[1] = D; yd[2] = Bt; yd[3] = H; }
    em_tensor *Y = NULL, *Yh = NULL, *Yc = NULL;
    if (em_n_out(c) > 0 && em_out_wanted(c, 0)) {
        Y = em_out(c, 0, dt, 4, yd);
        if (!Y) return c->err->code ? c->err->code : EDGEML_E_NOMEM;
    }
    if (em_n_out(c) > 1 && em_out_wanted(c, 1)) {
        Yh = em_out(c, 1, dt, 3, hd);
        if (!Yh) return c->err->code ? c->err->code : EDGEML_E_NOMEM;
    }
    if (s->cell == CELL_LSTM && em_n_out(c) > 2 && em_out_wanted(c, 2)) {
        Yc = em_out(c, 2, dt, 3, hd);
        if (!Yc) return c->err->code ? c->err->code : EDGEML_E_NOMEM;
    }

    size_t sT = (size_t)T, sB = (size_t)Bt, sI = (size_t)I, sH = (size_t)H, sG = (size_t)G;
    size_t GH = sG * sH;
    /* lengths */
    int64_t *len = em_scratch(c, (sB ? sB : 1) * sizeof(int64_t));
    if (!len) return EDGEML_E_NOMEM;
    for (size_t b = 0; b < sB; b++) {
        len[b] = SL ? em_get_i64(SL->data, SL->dtype, b) : T;
        EM_CHECK(c, len[b] >= 0 && len[b] <= T, "sequence_lens[%zu] = %lld out of range [0, %lld]",
                 b, (long long)len[b], (long long)T);
    }
    /* X as [T, B, I] float */
    size_t nx = sT * sB * sI;
    float *xf = em_scratch(c, (nx ? nx : 1) * sizeof(float));
    if (!xf) return EDGEML_E_NOMEM;
    for (size_t t = 0; t < sT; t++)
        for (size_t b = 0; b < sB; b++) {
            size_t src = s->layout ? (b * sT + t) * sI : (t * sB + b) * sI;
            float *dst = xf + (t * sB + b) * sI;
            if (dt == EDGEML_FLOAT) memcpy(dst, (const float *)X->data + src, sI * sizeof(float));
            else for (size_t i = 0; i < sI; i++) dst[i] = (float)red_getf(X->data, dt, src + i);
        }
    float *wf = red_to_f32(c, W), *rf = red_to_f32(c, R);
    float *bf = B ? red_to_f32(c, B) : NULL, *pf = P ? red_to_f32(c, P) : NULL;
    size_t nxw;
    int64_t xwd[3] = {T, Bt, (int64_t)GH};
    EM_CHECK(c, em_shape_numel(3, xwd, &nxw) && nxw < SIZE_MAX / 8, "sizes overflow");
    float *xw = em_scratch(c, red_nz(nxw) * sizeof(float));
    float *hr = em_scratch(c, red_nz(sB * GH) * sizeof(float));
    float *hs = em_scratch(c, red_nz(sB * sH) * sizeof(float));
    float *cs = em_scratch(c, red_nz(sB * sH) * sizeof(float));
    float *tmp = em_scratch(c, red_nz(sH) * sizeof(float));
    if (!wf || !rf || (B && !bf) || (P && !pf) || !xw || !hr || !hs || !cs || !tmp)
        return EDGEML_E_NOMEM;

    if (Y && em_numel(Y)) memset(Y->data, 0, em_nbytes(Y));

    for (int64_t d = 0; d < D; d++) {
        bool rev = (D == 2) ? d == 1 : s->reverse;
        const float *Wd = wf + (size_t)d * GH * sI;
        const float *Rd = rf + (size_t)d * GH * sH;
        const float *Wb = bf ? bf + (size_t)d * 2 * GH : NULL;
        const float *Rb = bf ? Wb + GH : NULL;
        const float *Pd = pf ? pf + (size_t)d * 3 * sH : NULL;
        const red_act *act = &s->act[d * s->NA];
        /* xw = X W^T + biases */
        red_gemm_nt(xf, sI, Wd, sI, xw, GH, sT * sB, GH, sI, 0);
        if (Wb) {
            for (size_t r = 0; r < sT * sB; r++) {
                float *row = xw + r * GH;
                for (size_t j = 0; j < GH; j++) {
                    float bsum = Wb[j];
                    if (!(s->cell == CELL_GRU && s->lbr && j >= 2 * sH)) bsum += Rb[j];
                    row[j] += bsum;
                }
            }
        }
        /* initial state */
        for (size_t b = 0; b < sB; b++)
            for (size_t h = 0; h < sH; h++) {
                size_t hi = s->layout ? (b * (size_t)D + (size_t)d) * sH + h
                                      : ((size_t)d * sB + b) * sH + h;
                hs[b * sH + h] = H0 ? (float)red_getf(H0->data, H0->dtype, hi) : 0.0f;
                cs[b * sH + h] = C0 ? (float)red_getf(C0->data, C0->dtype, hi) : 0.0f;
            }
        for (size_t step = 0; step < sT; step++) {
            /* hr = Hprev R^T (GRU without lbr: only z and r rows here) */
            size_t rows = (s->cell == CELL_GRU && !s->lbr) ? 2 * sH : GH;
            red_gemm_nt(hs, sH, Rd, sH, hr, GH, sB, rows, sH, 0);
            for (size_t b = 0; b < sB; b++) {
                if ((int64_t)step >= len[b]) continue;
                size_t t = rev ? (size_t)len[b] - 1 - step : step;
                const float *xr = xw + (t * sB + b) * GH;
                float *g = hr + b * GH;
                float *hp = hs + b * sH, *cp = cs + b * sH;
                if (s->cell == CELL_RNN) {
                    for (size_t j = 0; j < sH; j++) g[j] += xr[j];
                    red_apply_act(&act[0], g, sH, s->has_clip, s->clip);
                    memcpy(hp, g, sH * sizeof(float));
                } else if (s->cell == CELL_GRU) {
                    float *z = g, *r = g + sH, *hh = g + 2 * sH;
                    for (size_t j = 0; j < 2 * sH; j++) g[j] += xr[j];
                    red_apply_act(&act[0], g, 2 * sH, s->has_clip, s->clip);
                    if (s->lbr) {
                        for (size_t j = 0; j < sH; j++)
                            hh[j] = xr[2 * sH + j] + r[j] * (hh[j] + (Rb ? Rb[2 * sH + j] : 0));
                    } else {
                        float *rh = tmp;
                        for (size_t j = 0; j < sH; j++) rh[j] = r[j] * hp[j];
                        red_gemm_nt(rh, sH, Rd + 2 * sH * sH, sH, hh, sH, 1, sH, sH, 0);
                        for (size_t j = 0; j < sH; j++) hh[j] += xr[2 * sH + j];
                    }
                    red_apply_act(&act[1], hh, sH, s->has_clip, s->clip);
                    for (size_t j = 0; j < sH; j++) hp[j] = (1 - z[j]) * hh[j] + z[j] * hp[j];
                } else {
                    float *gi = g, *go = g + sH, *gf = g + 2 * sH, *gc = g + 3 * sH;
                    for (size_t j = 0; j < GH; j++) g[j] += xr[j];
                    if (Pd)
                        for (size_t j = 0; j < sH; j++) {
                            gi[j] += Pd[j] * cp[j];
                            gf[j] += Pd[2 * sH + j] * cp[j];
                        }
                    red_apply_act(&act[0], gf, sH, s->has_clip, s->clip);
                    if (s->input_forget) for (size_t j = 0; j < sH; j++) gi[j] = 1 - gf[j];
                    else red_apply_act(&act[0], gi, sH, s->has_clip, s->clip);
                    red_apply_act(&act[1], gc, sH, s->has_clip, s->clip);
                    for (size_t j = 0; j < sH; j++) cp[j] = gf[j] * cp[j] + gi[j] * gc[j];
                    if (Pd) for (size_t j = 0; j < sH; j++) go[j] += Pd[sH + j] * cp[j];
                    red_apply_act(&act[0], go, sH, s->has_clip, s->clip);
                    float *hc = tmp;
                    memcpy(hc, cp, sH * sizeof(float));
                    red_apply_act(&act[2], hc, sH, 0, 0);
                    for (size_t j = 0; j < sH; j++) hp[j] = go[j] * hc[j];
                }
                if (Y) {
                    size_t yo = s->layout ? ((b * sT + t) * (size_t)D + (size_t)d) * sH
                                          : ((t * (size_t)D + (size_t)d) * sB + b) * sH;
                    if (dt == EDGEML_FLOAT) memcpy((float *)Y->data + yo, hp, sH * sizeof(float));
                    else for (size_t j = 0; j < sH; j++) red_setf(Y->data, dt, yo + j, hp[j]);
                }
            }
        }
        for (size_t b = 0; b < sB; b++)
            for (size_t h = 0; h < sH; h++) {
                size_t hi = s->layout ? (b * (size_t)D + (size_t)d) * sH + h
                                      : ((size_t)d * sB + b) * sH + h;
                /* a batch entry of length 0 gets zero states (as ONNX Runtime) */
                bool z = len[b] == 0;
                if (Yh) red_setf(Yh->data, dt, hi, z ? 0.0 : hs[b * sH + h]);
                if (Yc) red_setf(Yc->data, dt, hi, z ? 0.0 : cs[b * sH + h]);
            }
    }
    return EDGEML_OK;
}
