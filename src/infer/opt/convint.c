/* Dynamic-quantisation convolutions: ConvInteger -> Cast(float) -> Mul(scale)
 * [-> Add(bias)] becomes one edgeml:ConvIntegerScaled node (ops/nn_convint_fast.c),
 * which writes the float result in the GEMM's epilogue instead of four passes
 * over an int32 and three float tensors. This is what onnxruntime's dynamic
 * quantiser (quantize_dynamic) emits for every Conv, with the scale made at
 * run time by DynamicQuantizeLinear (x_scale) times the constant w_scale.
 *
 * requires: a committed graph, dtypes inferred.
 * guarantees: the chain's intermediate values are read by the chain alone and
 *   are not graph outputs; the scale is proven to be one value (a constant of
 *   one element, output 1 of DynamicQuantizeLinear, or a Mul/Div of such) or a
 *   constant with one value per output channel, laid out on the output's axis
 *   1; the bias is a constant of one value or one per output channel, likewise.
 *   The fused node takes the last node's place and output; its inputs are
 *   [x, w, x_zero_point, w_zero_point, scale, bias] (-1 where absent), so
 *   fuse.c may then fuse an activation or residual into it. The result equals
 *   the chain's: float(int32) * scale + bias, each rounded once in float. */
#include "opt.h"
#include "../ops/nn.h"

#include <stdlib.h>

/* True when slot s always holds exactly one value. */
static bool one_value(em_opt *o, int s, int depth)
{
    if (s < 0 || depth > 4) return false;
    const em_tensor *t = opt_const(o, s);
    if (t) return em_numel(t) == 1;
    int p = opt_producer(o, s);
    if (p < 0) return false;
    const em_node *n = opt_node(o, p);
    if (opt_is(n, "DynamicQuantizeLinear")) return n->n_out > 1 && n->out[1] == s;
    if ((opt_is(n, "Mul") || opt_is(n, "Div")) && n->n_in == 2)
        return one_value(o, n->in[0], depth + 1) && one_value(o, n->in[1], depth + 1);
    return false;
}

/* A float constant of one value, or of M values on axis 1 of a rank-`orank` output. */
static bool channel_const(em_opt *o, int s, int64_t M, int orank)
{
    const em_tensor *t = opt_const(o, s);
    if (!t || t->dtype != EDGEML_FLOAT || !t->data) return false;
    size_t n = em_numel(t);
    if (n == 1) return true;
    if ((int64_t)n != M || t->rank > orank || t->rank < orank - 1) return false;
    int ax = t->rank - (orank - 1);
    for (int d = 0; d < t->rank; d++)
        if (d != ax && t->dims[d] != 1) return false;
    return true;
}

/* The other input of a two-input node, given one of them. */
static int other_in(const em_node *n, int s)
{
    if (n->n_in != 2) return -1;
    return n->in[0] == s ? n->in[1] : n->in[1] == s ? n->in[0] : -1;
}

static edgeml_status try_chain(em_opt *o, int k)
{
    em_node *cn = opt_node(o, k);
    if (!opt_is(cn, "ConvInteger") || cn->n_out != 1 || cn->out[0] < 0 || cn->n_in < 2) return EDGEML_OK;
    const em_tensor *W = opt_const(o, cn->in[1]);
    if (!W || (W->rank != 3 && W->rank != 4)) return EDGEML_OK;
    int64_t M = W->dims[0];
    int orank = W->rank;
    int c1 = opt_single_consumer(o, cn->out[0]);
    if (c1 < 0) return EDGEML_OK;
    const em_node *cast = opt_node(o, c1);
    if (!opt_is(cast, "Cast") || cast->n_out != 1 || cast->out[0] < 0 || em_attr_int(cast, "to", 0) != EDGEML_FLOAT)
        return EDGEML_OK;
    int c2 = opt_single_consumer(o, cast->out[0]);
    if (c2 < 0) return EDGEML_OK;
    const em_node *mul = opt_node(o, c2);
    if (!opt_is(mul, "Mul") || mul->n_out != 1 || mul->out[0] < 0) return EDGEML_OK;
    int scale = other_in(mul, cast->out[0]);
    if (scale < 0 || scale == cast->out[0] || opt_dtype(o, scale) != EDGEML_FLOAT) return EDGEML_OK;
    if (!one_value(o, scale, 0) && !channel_const(o, scale, M, orank)) return EDGEML_OK;
    int sink = c2, bias = -1;
    int c3 = opt_single_consumer(o, mul->out[0]);
    if (c3 >= 0) {
        const em_node *add = opt_node(o, c3);
        int b = opt_is(add, "Add") && add->n_out == 1 && add->out[0] >= 0 ? other_in(add, mul->out[0]) : -1;
        if (b >= 0 && b != mul->out[0] && channel_const(o, b, M, orank)) {
            bias = b;
            sink = c3;
        }
    }
    int in[6] = {cn->in[0], cn->in[1], cn->n_in > 2 ? cn->in[2] : -1, cn->n_in > 3 ? cn->in[3] : -1, scale, bias};
    const em_attr *attrs = cn->attrs;
    size_t n_attrs = cn->n_attrs;
    em_node *n = opt_node(o, sink);
    if (n->state) {
        if (n->op && n->op->free_state) n->op->free_state(n->state);
        else free(n->state);
        n->state = NULL;
    }
    edgeml_status st = opt_set_inputs(o, sink, 6, in);
    if (st) return st;
    n = opt_node(o, sink);
    n->op = &em_nn_convint_scaled_entry;
    n->domain = "edgeml";
    n->op_type = "ConvIntegerScaled";
    n->opset = 1;
    n->attrs = (em_attr *)attrs;
    n->n_attrs = n_attrs;
    n->act = (em_act){0};
    n->add_in = 0;
    o->dirty[sink] = 1;
    opt_kill(o, k);
    opt_kill(o, c1);
    if (sink != c2) opt_kill(o, c2);
    o->changes++;
    return EDGEML_OK;
}

edgeml_status em_opt_convint(em_opt *o)
{
    em_graph *g = o->g;
    for (size_t kk = 0; kk < g->n_nodes; kk++) {
        if (o->dead[kk] || g->nodes[kk].folded) continue;
        edgeml_status st = try_chain(o, (int)kk);
        if (st) return st;
    }
    return EDGEML_OK;
}
