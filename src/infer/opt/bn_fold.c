/* Fold BatchNormalization into the Conv, ConvTranspose or Gemm before it.
 *
 * requires: a committed graph; BN in inference form (no training_mode, spatial
 *   != 0, extra outputs unused) with constant scale, B, mean, var of one
 *   dimension C; the producer's output read by the BN alone (not a graph
 *   output); its weights constant (float or double), bias constant or absent,
 *   C matching the weights' output channels; Gemm: B constant 2-D, C absent or
 *   constant with C elements (shape [C] or [1,C]) or a scalar.
 * guarantees: the producer computes BN(op(x)) with new weights and bias (new
 *   constants of the model, computed in double); it writes the BN's output
 *   slot; the BN node is removed. */
#include "opt.h"

#include <math.h>
#include <stdlib.h>

/* Constant vector of exactly c float elements, or NULL. */
static const em_tensor *vec(em_opt *o, int s, int64_t c)
{
    const em_tensor *t = opt_const(o, s);
    if (!t || !em_dtype_is_float(t->dtype) || !t->data || t->rank != 1 || t->dims[0] != c) return NULL;
    return t;
}

static bool copy_tensor(em_tensor *dst, const em_tensor *src)
{
    *dst = *src;
    size_t nb = em_nbytes(src);
    dst->data = malloc(nb ? nb : 1);
    if (!dst->data) return false;
    if (nb) memcpy(dst->data, src->data, nb);
    return true;
}

edgeml_status em_opt_bn_fold(em_opt *o)
{
    em_graph *g = o->g;
    for (size_t kk = 0; kk < g->n_nodes; kk++) {
        int k = (int)kk;
        em_node *bn = &g->nodes[k];
        if (o->dead[k] || bn->folded || !opt_is(bn, "BatchNormalization") || bn->n_in != 5 || bn->n_out < 1)
            continue;
        if (bn->opset < 7) continue; /* is_test/spatial/consumed_inputs era: leave it */
        if (bn->opset < 9 && em_attr_int(bn, "spatial", 1) == 0) continue;
        if (bn->opset >= 14 && em_attr_int(bn, "training_mode", 0) != 0) continue;
        bool extra = false;
        for (int j = 1; j < bn->n_out; j++)
            if (bn->out[j] >= 0 && (opt_n_uses(o, bn->out[j]) || !opt_internal(o, bn->out[j]))) extra = true;
        if (extra || bn->out[0] < 0) continue;
        int x = bn->in[0];
        int p = opt_producer(o, x);
        if (p < 0 || opt_single_consumer(o, x) != k) continue;
        em_node *pn = opt_node(o, p);
        bool is_conv = opt_is(pn, "Conv"), is_convt = opt_is(pn, "ConvTranspose"), is_gemm = opt_is(pn, "Gemm");
        if (!(is_conv || is_convt || is_gemm) || pn->n_out != 1 || pn->n_in < 2 || em_has_epilogue(pn)) continue;
        const em_tensor *W = opt_const(o, pn->in[1]);
        if (!W || (W->dtype != EDGEML_FLOAT && W->dtype != EDGEML_DOUBLE) || !W->data) continue;
        /* Output channels C and how W's elements map onto them. */
        int64_t C;
        int64_t group = 1;
        if (is_gemm) {
            if (W->rank != 2) continue;
            C = em_attr_int(pn, "transB", 0) ? W->dims[0] : W->dims[1];
        } else {
            if (W->rank < 3) continue;
            group = em_attr_int(pn, "group", 1);
            if (group < 1) continue;
            if (is_conv) C = W->dims[0];
            else {
                if (W->dims[0] % group) continue;
                C = W->dims[1] * group;
            }
        }
        if (C <= 0) continue;
        const em_tensor *sc = vec(o, bn->in[1], C), *bb = vec(o, bn->in[2], C), *mu = vec(o, bn->in[3], C),
                        *var = vec(o, bn->in[4], C);
        if (!sc || !bb || !mu || !var) continue;
        /* Existing bias (Conv B / Gemm C). */
        int bslot = pn->n_in > 2 ? pn->in[2] : -1;
        const em_tensor *B = NULL;
        double beta = is_gemm ? em_attr_float(pn, "beta", 1.f) : 1.0;
        if (bslot >= 0) {
            B = opt_const(o, bslot);
            if (!B || B->dtype != W->dtype || !B->data) continue;
            if (is_gemm) {
                size_t nb = em_numel(B);
                bool ok = (nb == 1 && B->rank <= 2) || (B->rank == 1 && B->dims[0] == C) ||
                          (B->rank == 2 && B->dims[0] == 1 && B->dims[1] == C);
                if (!ok) continue;
            } else if (B->rank != 1 || B->dims[0] != C) continue;
        }
        double eps = em_attr_float(bn, "epsilon", 1e-5f);
        double *mul = malloc((size_t)C * sizeof *mul);
        em_tensor nw, nb;
        if (!mul || !copy_tensor(&nw, W)) { free(mul); return EDGEML_E_NOMEM; }
        nb.dtype = W->dtype;
        nb.rank = 1;
        nb.dims[0] = C;
        nb.data = malloc((size_t)C * em_dtype_size(W->dtype));
        if (!nb.data) { free(mul); free(nw.data); return EDGEML_E_NOMEM; }
        bool finite = true;
        for (int64_t c = 0; c < C; c++) {
            double v = em_get_f64(var->data, var->dtype, (size_t)c) + eps;
            mul[c] = em_get_f64(sc->data, sc->dtype, (size_t)c) / sqrt(v);
            if (!(v > 0) || !isfinite(mul[c])) finite = false;
            double b0 = B ? beta * em_get_f64(B->data, B->dtype, em_numel(B) == 1 ? 0 : (size_t)c) : 0.0;
            double nbv = (b0 - em_get_f64(mu->data, mu->dtype, (size_t)c)) * mul[c] +
                         em_get_f64(bb->data, bb->dtype, (size_t)c);
            em_set_f64(nb.data, nb.dtype, (size_t)c, nbv);
        }
        if (!finite) { free(mul); free(nw.data); free(nb.data); continue; }
        size_t nwn = em_numel(W);
        if (is_gemm) {
            bool tb = em_attr_int(pn, "transB", 0) != 0;
            size_t cols = (size_t)W->dims[1];
            for (size_t i = 0; i < nwn; i++) {
                size_t c = tb ? i / cols : i % cols;
                em_set_f64(nw.data, nw.dtype, i, em_get_f64(nw.data, nw.dtype, i) * mul[c]);
            }
        } else if (is_conv) {
            size_t per = nwn / (size_t)C;
            for (size_t i = 0; i < nwn; i++)
                em_set_f64(nw.data, nw.dtype, i, em_get_f64(nw.data, nw.dtype, i) * mul[i / per]);
        } else { /* ConvTranspose: W [Cin, C/group, k...], output channel = g * (C/group) + j */
            size_t cin = (size_t)W->dims[0], mg = (size_t)W->dims[1], ksz = nwn / (cin * mg);
            size_t cg = cin / (size_t)group;
            for (size_t i = 0; i < nwn; i++) {
                size_t ci = i / (mg * ksz), j = (i / ksz) % mg;
                size_t c = (ci / cg) * mg + j;
                em_set_f64(nw.data, nw.dtype, i, em_get_f64(nw.data, nw.dtype, i) * mul[c]);
            }
        }
        free(mul);
        const char *base = g->slots[bn->out[0]].name;
        int ws = opt_new_const(o, base, "/folded_W", &nw);
        int bs = ws < 0 ? (free(nb.data), -1) : opt_new_const(o, base, "/folded_B", &nb);
        if (ws < 0 || bs < 0) return EDGEML_E_NOMEM;
        bn = &g->nodes[k];
        pn = &g->nodes[p];
        int in[3] = { pn->in[0], ws, bs };
        edgeml_status st = opt_set_inputs(o, p, 3, in);
        if (st) return st;
        if (is_gemm && beta != 1.0 && (st = opt_set_attr_float(o, p, "beta", 1.f))) return st;
        int y = bn->out[0];
        opt_kill(o, k);
        opt_set_output(o, p, 0, y);
    }
    return EDGEML_OK;
}
