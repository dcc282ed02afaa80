/* Recognise scaled dot-product attention as exporters write it (PyTorch's
 * nn.MultiheadAttention / nn.TransformerEncoderLayer at opsets 11-17, and
 * hand-written 4-D forms):
 *
 *   Q' = [Transpose] [Mul|Div by c] (Q)      KT' = [Transpose] [Mul|Div by c] (K)
 *   S  = MatMul(Q', KT') [Mul|Div by c]... [Add mask]
 *   O  = MatMul(Softmax(S, last axis), [Transpose](V)) [Transpose keeping the last axis]
 *
 * requires: a committed graph, dtypes inferred, the fast paths on (not
 *   EDGEML_CPU=reference); Q, K, V (and the mask) known float32; every scale
 *   a float constant of one element and rank <= 1 (it cannot change a shape);
 *   every Transpose with an explicit perm; every intermediate read only by
 *   the next node of the pattern (not a graph output, not captured); the
 *   ranks of Q and KT known (through a Transpose's perm or a constant-shape
 *   Reshape) and >= 2 when the Softmax axis is not -1, and that axis the
 *   last one of the scores; Softmax's input is the scores (+ mask) alone.
 * guarantees: the last node of the pattern becomes the private op
 *   edgeml:Attention (ops/nn_attention.c) reading the sources of Q, K, V and
 *   the mask, with the absorbed Transposes as perm_q/perm_k/perm_v/perm_o and
 *   the product of the scales as scale; the other nodes go. Softmax over the
 *   last axis is the same function at every opset, so the opset does not matter. */
#include "opt.h"
#include "../cpu/cpu.h"
#include "../ops/nn_attention.h"

#include <math.h>
#include <stdlib.h>

/* The float scale of a Mul/Div node by a one-element constant applied to
 * operand *x (returned), or false. */
static bool scale_node(em_opt *o, const em_node *n, int *x, double *f)
{
    if (n->n_in != 2 || n->n_out != 1) return false;
    bool mul = opt_is(n, "Mul"), div = opt_is(n, "Div");
    if (!mul && !div) return false;
    for (int side = 0; side < 2; side++) {
        if (div && side == 0) continue; /* c / x is not a scale */
        int cs = n->in[side], xs = n->in[1 - side];
        const em_tensor *t = opt_const(o, cs);
        double v;
        if (!t || t->dtype != EDGEML_FLOAT || t->rank > 1 || em_numel(t) != 1 || !opt_scalar(o, cs, &v)) continue;
        if (xs < 0 || xs == cs) return false;
        if (div) {
            if (v == 0 || !isfinite(v)) return false;
            *f = 1.0 / v;
        } else {
            if (!isfinite(v)) return false;
            *f = v;
        }
        *x = xs;
        return true;
    }
    return false;
}

typedef struct chain {
    int kill[8], nk;
    int src;            /* the value the fused node reads */
    int np;             /* perm length, -1 none */
    int64_t perm[EM_MAX_RANK];
    double scale;
} chain;

/* Walks back from slot s (read only by the pattern's node) through at most
 * one Transpose and one scale, each read only by the next. */
static void walk_operand(em_opt *o, int s, bool allow_scale, chain *ch)
{
    ch->nk = 0;
    ch->np = -1;
    ch->scale = 1.0;
    bool scaled = false;
    for (int step = 0; step < 2; step++) {
        int p = opt_producer(o, s);
        if (p < 0 || opt_single_consumer(o, s) < 0) break;
        const em_node *n = opt_node(o, p);
        const int64_t *perm;
        long k;
        double f;
        int x;
        if (ch->np < 0 && opt_is(n, "Transpose") && n->n_in == 1 && n->n_out == 1 &&
            (k = em_attr_ints(n, "perm", &perm)) >= 2 && k <= EM_MAX_RANK) {
            ch->np = (int)k;
            memcpy(ch->perm, perm, (size_t)k * sizeof *perm);
            ch->kill[ch->nk++] = p;
            s = n->in[0];
        } else if (allow_scale && !scaled && scale_node(o, n, &x, &f)) {
            scaled = true;
            ch->scale *= f;
            ch->kill[ch->nk++] = p;
            s = x;
        } else {
            break;
        }
    }
    ch->src = s;
}

/* The rank of a value when the graph proves it, else -1. */
static int known_rank(em_opt *o, int s, const chain *ch)
{
    if (ch->np >= 0) return ch->np;
    const em_tensor *t = opt_const(o, s);
    if (t) return t->rank;
    int p = opt_producer(o, s);
    if (p >= 0 && opt_is(opt_node(o, p), "Reshape") && opt_node(o, p)->n_in == 2) {
        const em_tensor *sh = opt_const(o, opt_node(o, p)->in[1]);
        if (sh && sh->rank == 1) return (int)sh->dims[0];
    }
    for (size_t i = 0; i < o->g->n_inputs; i++)
        if (o->g->inputs[i] == s && o->g->in_info[i].kind == EDGEML_KIND_TENSOR) return o->g->in_info[i].rank;
    return -1;
}

static edgeml_status set_ints(em_opt *o, em_attr *a, const char *name, const int64_t *v, int n)
{
    int64_t *c = em_arena_calloc(&o->m->arena, (size_t)n + 1, sizeof *c);
    if (!c) return EDGEML_E_NOMEM;
    memcpy(c, v, (size_t)n * sizeof *v);
    *a = (em_attr){.name = name, .type = EM_ATTR_INTS, .ints = c, .n = (size_t)n};
    return EDGEML_OK;
}

static edgeml_status try_at(em_opt *o, int k2)
{
    const em_node *pv = opt_node(o, k2);
    if (!opt_is(pv, "MatMul") || pv->n_in != 2 || pv->n_out != 1 || pv->out[0] < 0 || em_has_epilogue(pv))
        return EDGEML_OK;
    int P = pv->in[0];
    int ksm = opt_producer(o, P);
    if (ksm < 0 || opt_single_consumer(o, P) != k2) return EDGEML_OK;
    const em_node *sm = opt_node(o, ksm);
    if (!opt_is(sm, "Softmax") || sm->n_in != 1 || sm->n_out != 1) return EDGEML_OK;
    int64_t axis = em_attr_int(sm, "axis", sm->opset < 13 ? 1 : -1);
    int kill[32], nk = 0;
    kill[nk++] = ksm;
    /* Scores: [Add(., mask)] over [scale]* over MatMul. */
    int s = sm->in[0], mask = -1;
    double scale = 1.0;
    int kadd = opt_producer(o, s);
    if (kadd < 0 || opt_single_consumer(o, s) != ksm) return EDGEML_OK;
    if (opt_is(opt_node(o, kadd), "Add")) {
        const em_node *an = opt_node(o, kadd);
        if (an->n_in != 2 || an->n_out != 1) return EDGEML_OK;
        /* The scores side is the one a MatMul (through scales) produces. */
        int side = -1;
        for (int i = 0; i < 2 && side < 0; i++) {
            int x = an->in[i], q = opt_producer(o, x);
            for (int step = 0; q >= 0 && step < 3; step++) {
                double f;
                int y;
                if (opt_is(opt_node(o, q), "MatMul")) { side = i; break; }
                if (!scale_node(o, opt_node(o, q), &y, &f)) break;
                q = opt_producer(o, y);
            }
        }
        if (side < 0) return EDGEML_OK;
        mask = an->in[1 - side];
        if (mask < 0 || mask == an->in[side] || opt_dtype(o, mask) != EDGEML_FLOAT) return EDGEML_OK;
        kill[nk++] = kadd;
        s = an->in[side];
    }
    int kqk = -1;
    for (int step = 0; step < 3; step++) {
        int p = opt_producer(o, s);
        if (p < 0 || opt_single_consumer(o, s) < 0) return EDGEML_OK;
        const em_node *n = opt_node(o, p);
        double f;
        int x;
        if (opt_is(n, "MatMul")) { kqk = p; break; }
        if (!scale_node(o, n, &x, &f)) return EDGEML_OK;
        scale *= f;
        kill[nk++] = p;
        s = x;
    }
    if (kqk < 0) return EDGEML_OK;
    const em_node *qk = opt_node(o, kqk);
    if (qk->n_in != 2 || qk->n_out != 1 || em_has_epilogue(qk) || qk->in[0] < 0 || qk->in[1] < 0) return EDGEML_OK;
    kill[nk++] = kqk;
    chain cq, ck, cv;
    walk_operand(o, qk->in[0], true, &cq);
    walk_operand(o, qk->in[1], true, &ck);
    walk_operand(o, pv->in[1], false, &cv);
    if (cq.src < 0 || ck.src < 0 || cv.src < 0) return EDGEML_OK;
    /* The same Transpose/scale cannot serve two operands (Q == K self-products). */
    for (int i = 0; i < cq.nk; i++)
        for (int j = 0; j < ck.nk; j++)
            if (cq.kill[i] == ck.kill[j]) return EDGEML_OK;
    if (qk->in[0] == qk->in[1] && (cq.nk || ck.nk)) return EDGEML_OK;
    if (opt_dtype(o, cq.src) != EDGEML_FLOAT || opt_dtype(o, ck.src) != EDGEML_FLOAT ||
        opt_dtype(o, cv.src) != EDGEML_FLOAT)
        return EDGEML_OK;
    int rq = known_rank(o, cq.src, &cq), rk = known_rank(o, ck.src, &ck), rv = known_rank(o, cv.src, &cv);
    if ((rq >= 0 && rq < 2) || (rk >= 0 && rk < 2) || (rv >= 0 && rv < 2)) return EDGEML_OK;
    if (rq < 0 || rk < 0 || rv < 0) return EDGEML_OK; /* a 1-D operand would be a different product */
    if (axis != -1) {
        int rs = rq > rk ? rq : rk;
        if (mask >= 0) {
            chain none = {.np = -1};
            int rm = known_rank(o, mask, &none);
            if (rm < 0) return EDGEML_OK;
            if (rm > rs) rs = rm;
        }
        if (axis != rs - 1) return EDGEML_OK;
    }
    scale *= cq.scale * ck.scale;
    if (!isfinite(scale) || fabs(scale) > 3.0e38) return EDGEML_OK;
    for (int i = 0; i < cq.nk; i++) kill[nk++] = cq.kill[i];
    for (int i = 0; i < ck.nk; i++) kill[nk++] = ck.kill[i];
    for (int i = 0; i < cv.nk; i++) kill[nk++] = cv.kill[i];
    /* The output Transpose, when it keeps the last axis last. */
    int last = k2, npo = -1;
    int64_t permo[EM_MAX_RANK];
    int rout = rq > rk ? rq : rk;
    if (rv > rout) rout = rv;
    int kt = opt_single_consumer(o, pv->out[0]);
    if (kt >= 0) {
        const em_node *tn = opt_node(o, kt);
        const int64_t *p;
        long kk;
        bool mask_ok = mask < 0;
        if (!mask_ok) {
            chain none = {.np = -1};
            int rm = known_rank(o, mask, &none);
            mask_ok = rm >= 0 && rm <= rout;
        }
        if (mask_ok && opt_is(tn, "Transpose") && tn->n_in == 1 && tn->n_out == 1 && tn->out[0] >= 0 &&
            (kk = em_attr_ints(tn, "perm", &p)) == rout && p[kk - 1] == kk - 1) {
            npo = (int)kk;
            memcpy(permo, p, (size_t)kk * sizeof *p);
            kill[nk++] = k2;
            last = kt;
        }
    }
    /* Rewrite the last node. */
    int in[4] = {cq.src, ck.src, cv.src, mask};
    for (int i = 0; i < nk; i++)
        if (kill[i] != last) opt_kill(o, kill[i]);
    em_node *n = opt_node(o, last);
    if (n->state) {
        if (n->op && n->op->free_state) n->op->free_state(n->state);
        else free(n->state);
        n->state = NULL;
    }
    edgeml_status st = opt_set_inputs(o, last, mask >= 0 ? 4 : 3, in);
    if (st) return st;
    em_attr *at = em_arena_calloc(&o->m->arena, 5, sizeof *at);
    if (!at) return EDGEML_E_NOMEM;
    size_t na = 0;
    static const char *const names[] = {"perm_q", "perm_k", "perm_v", "perm_o"};
    const chain *chs[3] = {&cq, &ck, &cv};
    for (int i = 0; i < 3; i++)
        if (chs[i]->np >= 0 && (st = set_ints(o, &at[na++], names[i], chs[i]->perm, chs[i]->np))) return st;
    if (npo >= 0 && (st = set_ints(o, &at[na++], names[3], permo, npo))) return st;
    at[na++] = (em_attr){.name = "scale", .type = EM_ATTR_FLOAT, .f = (float)scale};
    n = opt_node(o, last);
    n->op = &em_nn_attention_entry;
    n->domain = "edgeml";
    n->op_type = "Attention";
    n->opset = 1;
    n->n_attrs = na;
    n->attrs = at;
    n->act = (em_act){0};
    n->add_in = 0;
    o->dirty[last] = 1;
    return EDGEML_OK;
}

edgeml_status em_opt_attention(em_opt *o)
{
    if (em_cpu_level_get() == EM_CPU_REFERENCE) return EDGEML_OK;
    em_graph *g = o->g;
    for (size_t kk = 0; kk < g->n_nodes; kk++) {
        if (o->dead[kk] || g->nodes[kk].folded) continue;
        edgeml_status st = try_at(o, (int)kk);
        if (st) return st;
    }
    return EDGEML_OK;
}
