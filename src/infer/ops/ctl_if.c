/* If (opsets 1..21): runs then_branch or else_branch, whose outputs (tensors,
 * sequences or optionals, any shapes) become the node's outputs. */
#include "ctl.h"

edgeml_status ctl_if_prepare(em_node *node, edgeml_error *err)
{
    const em_graph *tg = ctl_graph_attr(node, "then_branch");
    const em_graph *eg = ctl_graph_attr(node, "else_branch");
    if (!tg || !eg)
        return em_node_fail(node, err, EDGEML_E_MODEL,
                            "attributes then_branch and else_branch must be graphs");
    if (node->n_in < 1 || node->in[0] < 0)
        return em_node_fail(node, err, EDGEML_E_MODEL, "input cond is required");
    if (tg->n_inputs != 0 || eg->n_inputs != 0)
        return em_node_fail(node, err, EDGEML_E_MODEL, "branches must take no inputs");
    if (tg->n_outputs != eg->n_outputs)
        return em_node_fail(node, err, EDGEML_E_MODEL,
                            "then_branch has %zu outputs, else_branch %zu",
                            tg->n_outputs, eg->n_outputs);
    if ((size_t)node->n_out > tg->n_outputs)
        return em_node_fail(node, err, EDGEML_E_MODEL,
                            "node has %d outputs but the branches produce %zu",
                            node->n_out, tg->n_outputs);
    return EDGEML_OK;
}

edgeml_status ctl_if_run(em_kctx *c)
{
    const em_tensor *ct = em_in(c, 0);
    bool cond;
    if (!ct) return em_fail(c, EDGEML_E_RUNTIME, "input cond must be a tensor");
    if (ct->dtype != EDGEML_BOOL)
        return em_fail(c, EDGEML_E_RUNTIME, "input cond must be bool, got %s",
                       em_dtype_name(ct->dtype));
    if (!ctl_read_bool(ct, &cond))
        return em_fail(c, EDGEML_E_RUNTIME, "input cond must hold exactly one element, has %zu",
                       em_numel(ct));
    const em_graph *g = ctl_graph_attr(c->node, cond ? "then_branch" : "else_branch");
    if (!g) return em_fail(c, EDGEML_E_RUNTIME, "missing branch graph");

    size_t no = g->n_outputs;
    em_value one[4];
    em_value *outs = no <= 4 ? one : em_scratch(c, no * sizeof *outs);
    if (!outs) return em_fail(c, EDGEML_E_NOMEM, "out of memory");
    if (no) memset(outs, 0, no * sizeof *outs);
    edgeml_status st = em_run_subgraph(c, g, NULL, 0, outs);
    if (st != EDGEML_OK) return st;
    int nout = em_n_out(c);
    for (int i = 0; i < nout && st == EDGEML_OK; i++) {
        if (!em_out_wanted(c, i)) continue;
        if (outs[i].kind == EM_V_UNSET) {
            st = em_fail(c, EDGEML_E_RUNTIME, "branch output %d was not produced", i);
            break;
        }
        st = em_out_copy_value(c, i, &outs[i]);
    }
    ctl_release(outs, no);
    return st;
}
