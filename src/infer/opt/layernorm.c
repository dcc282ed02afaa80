/* Recognise LayerNorm written as primitives over the last axis:
 *   m = ReduceMean(x, [-1]); d = Sub(x, m); v = ReduceMean(Pow(d, 2) | Mul(d, d), [-1]);
 *   y = Div(d, Sqrt(Add(v, eps))); y = Mul(y, gamma) [; y = Add(y, beta)]
 * (Mul/Add operands in either order).
 *
 * requires: a committed graph; both ReduceMeans over axes [-1] alone with
 *   keepdims; eps a float scalar constant; gamma (and beta) constant 1-D float
 *   tensors; every intermediate value read only inside the pattern (no graph
 *   output); x's dtype known float.
 * guarantees: the last node of the pattern becomes LayerNormalization (the
 *   opset-17 kernel row) with axis = -1 and epsilon = eps, reading x, gamma
 *   [, beta] and writing the pattern's output slot; the other nodes go. */
#include "opt.h"
#include "../ops/ops.h"

#include <stdlib.h>

static bool reduce_last(em_opt *o, const em_node *n)
{
    if (!opt_is(n, "ReduceMean") || n->n_out != 1 || n->in[0] < 0) return false;
    if (em_attr_int(n, "keepdims", 1) != 1) return false;
    int64_t ax;
    if (n->opset < 18) {
        const int64_t *a;
        if (n->n_in != 1 || em_attr_ints(n, "axes", &a) != 1) return false;
        ax = a[0];
    } else {
        if (n->n_in != 2) return false;
        const em_tensor *t = opt_const(o, n->in[1]);
        if (!t || t->dtype != EDGEML_INT64 || em_numel(t) != 1 || t->rank > 1) return false;
        ax = ((const int64_t *)t->data)[0];
    }
    return ax == -1;
}

/* The other operand of a binary node that reads s once. */
static int other(const em_node *n, int s)
{
    if (n->n_in != 2) return -2;
    if (n->in[0] == s && n->in[1] != s) return n->in[1];
    if (n->in[1] == s && n->in[0] != s) return n->in[0];
    return -2;
}

static const em_tensor *vec1(em_opt *o, int s, int dt)
{
    const em_tensor *t = opt_const(o, s);
    return t && t->rank == 1 && t->dtype == dt && t->dims[0] > 0 ? t : NULL;
}

static edgeml_status try_at(em_opt *o, int k)
{
    em_node *m1 = opt_node(o, k);
    if (!reduce_last(o, m1)) return EDGEML_OK;
    int x = m1->in[0], mean = m1->out[0];
    if (opt_dtype(o, x) != EDGEML_FLOAT) return EDGEML_OK;
    int ks = opt_single_consumer(o, mean);
    if (ks < 0) return EDGEML_OK;
    const em_node *sub = opt_node(o, ks);
    if (!opt_is(sub, "Sub") || sub->n_in != 2 || sub->in[0] != x || sub->in[1] != mean) return EDGEML_OK;
    int d = sub->out[0];
    if (!opt_internal(o, d)) return EDGEML_OK;
    /* d's uses: the square (Pow(d, 2) or Mul(d, d)) and the Div. */
    int ksq = -1, kdiv = -1, nu = opt_n_uses(o, d);
    if (nu != 2 && nu != 3) return EDGEML_OK;
    for (int i = 0; i < nu; i++) {
        int u = opt_use(o, d, i);
        const em_node *un = opt_node(o, u);
        if (opt_is(un, "Div") && un->n_in == 2 && un->in[0] == d && un->in[1] != d) {
            if (kdiv >= 0 && kdiv != u) return EDGEML_OK;
            kdiv = u;
        } else if (opt_is(un, "Mul") && un->n_in == 2 && un->in[0] == d && un->in[1] == d) {
            if (ksq >= 0 && ksq != u) return EDGEML_OK;
            ksq = u;
        } else if (opt_is(un, "Pow") && un->n_in == 2 && un->in[0] == d) {
            double e;
            if (!opt_scalar(o, un->in[1], &e) || e != 2.0 || ksq >= 0) return EDGEML_OK;
            ksq = u;
        } else return EDGEML_OK;
    }
    if (ksq < 0 || kdiv < 0 || nu != (opt_is(opt_node(o, ksq), "Mul") ? 3 : 2)) return EDGEML_OK;
    int km2 = opt_single_consumer(o, opt_node(o, ksq)->out[0]);
    if (km2 < 0 || !reduce_last(o, opt_node(o, km2))) return EDGEML_OK;
    int v = opt_node(o, km2)->out[0];
    int kae = opt_single_consumer(o, v);
    if (kae < 0 || !opt_is(opt_node(o, kae), "Add")) return EDGEML_OK;
    int es = other(opt_node(o, kae), v);
    double eps;
    const em_tensor *et = es >= 0 ? opt_const(o, es) : NULL;
    if (!et || et->dtype != EDGEML_FLOAT || et->rank > 1 || !opt_scalar(o, es, &eps) || !(eps >= 0)) return EDGEML_OK;
    int ksq2 = opt_single_consumer(o, opt_node(o, kae)->out[0]);
    if (ksq2 < 0 || !opt_is(opt_node(o, ksq2), "Sqrt") || opt_node(o, ksq2)->n_in != 1) return EDGEML_OK;
    int s = opt_node(o, ksq2)->out[0];
    if (opt_single_consumer(o, s) != kdiv || opt_node(o, kdiv)->in[1] != s) return EDGEML_OK;
    int nrm = opt_node(o, kdiv)->out[0];
    int kmul = opt_single_consumer(o, nrm);
    if (kmul < 0 || !opt_is(opt_node(o, kmul), "Mul")) return EDGEML_OK;
    int gs = other(opt_node(o, kmul), nrm);
    const em_tensor *gamma = gs >= 0 ? vec1(o, gs, EDGEML_FLOAT) : NULL;
    if (!gamma) return EDGEML_OK;
    int last = kmul, bs = -1;
    int kadd = opt_single_consumer(o, opt_node(o, kmul)->out[0]);
    if (kadd >= 0 && opt_is(opt_node(o, kadd), "Add")) {
        int b = other(opt_node(o, kadd), opt_node(o, kmul)->out[0]);
        const em_tensor *beta = b >= 0 ? vec1(o, b, EDGEML_FLOAT) : NULL;
        if (beta && beta->dims[0] == gamma->dims[0]) { last = kadd; bs = b; }
    }
    const em_op_entry *row = em_op_lookup("", "LayerNormalization", 17);
    if (!row) return EDGEML_OK;
    int kill[] = { k, ks, ksq, km2, kae, ksq2, kdiv, kmul };
    for (size_t i = 0; i < sizeof kill / sizeof kill[0]; i++)
        if (kill[i] != last) opt_kill(o, kill[i]);
    em_node *n = opt_node(o, last);
    if (n->state) {
        if (n->op && n->op->free_state) n->op->free_state(n->state);
        else free(n->state);
        n->state = NULL;
    }
    int in[3] = { x, gs, bs };
    edgeml_status st = opt_set_inputs(o, last, bs >= 0 ? 3 : 2, in);
    if (st) return st;
    n = opt_node(o, last);
    n->op = row;
    n->op_type = "LayerNormalization";
    n->domain = "";
    n->opset = 17;
    n->n_attrs = 0;
    n->attrs = NULL;
    if ((st = opt_set_attr_int(o, last, "axis", -1))) return st;
    return opt_set_attr_float(o, last, "epsilon", (float)eps);
}

edgeml_status em_opt_layernorm(em_opt *o)
{
    em_graph *g = o->g;
    for (size_t kk = 0; kk < g->n_nodes; kk++) {
        if (o->dead[kk] || g->nodes[kk].folded) continue;
        edgeml_status st = try_at(o, (int)kk);
        if (st) return st;
    }
    return EDGEML_OK;
}
