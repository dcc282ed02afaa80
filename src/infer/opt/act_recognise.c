/* Recognise activations written as primitives that no producer took.
 *
 * requires: a committed graph, dtypes inferred (after fuse.c).
 * guarantees: an elementwise region computing SiLU, GELU (erf or tanh form),
 *   HardSwish, Sigmoid or Tanh of one value x (act_match.c; its intermediate
 *   values read only inside it) becomes one node of the private op
 *   edgeml:<Act> (act_op.c, em_act_apply) reading x and writing the region's
 *   output slot, at the region's last position. Single ops stay as they are. */
#include "opt.h"

#include <stdlib.h>

static edgeml_status replace(em_opt *o, int x, int sink, const em_act *a)
{
    em_node *n = opt_node(o, sink);
    if (n->state) {
        if (n->op && n->op->free_state) n->op->free_state(n->state);
        else free(n->state);
        n->state = NULL;
    }
    int in[1] = { x };
    edgeml_status st = opt_set_inputs(o, sink, 1, in);
    if (st) return st;
    n = opt_node(o, sink);
    n->op = &em_opt_act_entry;
    n->domain = "edgeml";
    n->op_type = em_act_name(a->kind);
    n->opset = 1;
    n->n_attrs = 0;
    n->attrs = NULL;
    n->act = *a;
    n->add_in = 0;
    return EDGEML_OK;
}

static edgeml_status try_base(em_opt *o, int x)
{
    if (x < 0 || !opt_act_dtype(opt_dtype(o, x))) return EDGEML_OK;
    em_act a;
    int nodes[24], n = 0;
    int sink = opt_match_act_region(o, x, false, &a, nodes, &n, 24);
    if (sink < 0) return EDGEML_OK;
    for (int i = 0; i < n; i++)
        if (nodes[i] != sink) opt_kill(o, nodes[i]);
    return replace(o, x, sink, &a);
}

edgeml_status em_opt_recognise_act(em_opt *o)
{
    em_graph *g = o->g;
    edgeml_status st;
    for (size_t i = 0; i < g->n_inputs; i++)
        if ((st = try_base(o, g->inputs[i]))) return st;
    for (size_t kk = 0; kk < g->n_nodes; kk++) {
        em_node *n = &g->nodes[kk];
        if (o->dead[kk] || n->folded || n->n_implicit) continue;
        for (int j = 0; j < n->n_out; j++) {
            if ((st = try_base(o, g->nodes[kk].out[j]))) return st;
            if (o->dead[kk]) break;
        }
    }
    return EDGEML_OK;
}
