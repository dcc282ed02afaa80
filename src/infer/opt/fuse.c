/* Fuse a residual Add and an activation into their producer.
 *
 * requires: a committed graph, dtypes inferred; the producer is Conv,
 *   ConvTranspose, Gemm or MatMul (ai.onnx) or edgeml:ConvIntegerScaled
 *   (convint.c) with no epilogue yet, and its
 *   output is read by the fused node(s) alone and is not a graph output; the
 *   output's dtype is known floating (activations: float, float16, bfloat16);
 *   the Add's other operand is defined before the producer (order kept).
 * guarantees: the producer computes act(op(...) + r): node->add_in names r,
 *   appended to in[] (Conv/ConvTranspose/Gemm: after the optional bias slot,
 *   which is -1 when absent); node->act holds the activation (a single op, or
 *   SiLU/GELU/HardSwish/... written as primitives, see act_match.c); the
 *   producer writes the last fused node's output slot; the fused nodes go.
 *   Broadcasting of r is the epilogue's (ops/epilogue.c), so any shapes are valid. */
#include "opt.h"

static bool fusable_producer(const em_node *n)
{
    if (n->n_out != 1 || n->out[0] < 0 || em_has_epilogue(n)) return false;
    if (opt_is(n, "MatMul")) return n->n_in == 2;
    if (opt_is_convint_scaled(n)) return n->n_in == 6;
    if (opt_is(n, "Conv") || opt_is(n, "ConvTranspose") || opt_is(n, "Gemm")) return n->n_in == 2 || n->n_in == 3;
    return false;
}

static edgeml_status fuse_add(em_opt *o, int p)
{
    em_node *pn = opt_node(o, p);
    int y = pn->out[0];
    if (!em_dtype_is_float(opt_dtype(o, y))) return EDGEML_OK;
    int c = opt_single_consumer(o, y);
    if (c < 0) return EDGEML_OK;
    const em_node *an = opt_node(o, c);
    if (!opt_is(an, "Add") || an->n_in != 2 || an->n_out != 1 || an->out[0] < 0) return EDGEML_OK;
    int r = an->in[0] == y ? an->in[1] : an->in[0];
    if (r < 0 || r == y) return EDGEML_OK;
    const em_slot *rs = &o->g->slots[r];
    if (rs->kind == EM_SLOT_COMPUTED) {
        int rp = opt_producer(o, r);
        if (rp < 0 || rp >= p) return EDGEML_OK;
    }
    int dr = opt_dtype(o, r);
    if (dr && dr != opt_dtype(o, y)) return EDGEML_OK;
    int in[7], n = 0;
    if (opt_is_convint_scaled(pn)) {
        for (; n < 6; n++) in[n] = pn->in[n];
    } else {
        in[n++] = pn->in[0];
        in[n++] = pn->in[1];
        if (!opt_is(pn, "MatMul")) in[n++] = pn->n_in > 2 ? pn->in[2] : -1;
    }
    in[n] = r;
    int out = an->out[0];
    edgeml_status st = opt_set_inputs(o, p, n + 1, in);
    if (st) return st;
    pn = opt_node(o, p);
    pn->add_in = n;
    opt_kill(o, c);
    opt_set_output(o, p, 0, out);
    return EDGEML_OK;
}

static void fuse_act(em_opt *o, int p)
{
    em_node *pn = opt_node(o, p);
    int y = pn->out[0];
    if (pn->act.kind != EM_ACT_NONE || !opt_act_dtype(opt_dtype(o, y))) return;
    em_act a;
    int c = opt_single_consumer(o, y);
    if (c >= 0 && opt_single_act(o, c, &a)) {
        int out = opt_node(o, c)->out[0];
        pn->act = a;
        opt_kill(o, c);
        opt_set_output(o, p, 0, out);
        return;
    }
    int nodes[24], n = 0;
    int sink = opt_match_act_region(o, y, true, &a, nodes, &n, 24);
    if (sink < 0) return;
    int out = opt_node(o, sink)->out[0];
    pn->act = a;
    for (int i = 0; i < n; i++) opt_kill(o, nodes[i]);
    opt_set_output(o, p, 0, out);
}

edgeml_status em_opt_fuse(em_opt *o)
{
    em_graph *g = o->g;
    for (size_t kk = 0; kk < g->n_nodes; kk++) {
        int p = (int)kk;
        if (o->dead[p] || g->nodes[p].folded || !fusable_producer(&g->nodes[p])) continue;
        edgeml_status st = fuse_add(o, p);
        if (st) return st;
        fuse_act(o, p);
    }
    return EDGEML_OK;
}
