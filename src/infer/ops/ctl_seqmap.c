/* SequenceMap (opset 17+): runs `body` once per element of input_sequence.
 * Additional inputs that are sequences (of the same length) are iterated in
 * step; tensors are passed unchanged to every iteration. Each body output
 * (a tensor) is appended to the matching output sequence. */
#include "ctl.h"

#include <stdlib.h>

edgeml_status ctl_seqmap_prepare(em_node *node, edgeml_error *err)
{
    const em_graph *g = ctl_graph_attr(node, "body");
    if (!g) return em_node_fail(node, err, EDGEML_E_MODEL, "attribute body must be a graph");
    if (node->n_in < 1 || node->in[0] < 0)
        return em_node_fail(node, err, EDGEML_E_MODEL, "input_sequence is required");
    if (g->n_inputs != (size_t)node->n_in)
        return em_node_fail(node, err, EDGEML_E_MODEL, "body takes %zu inputs, node has %d",
                            g->n_inputs, node->n_in);
    if ((size_t)node->n_out > g->n_outputs || node->n_out < 1)
        return em_node_fail(node, err, EDGEML_E_MODEL, "body returns %zu outputs, node has %d",
                            g->n_outputs, node->n_out);
    return EDGEML_OK;
}

edgeml_status ctl_seqmap_run(em_kctx *c)
{
    const em_graph *g = ctl_graph_attr(c->node, "body");
    if (!g) return em_fail(c, EDGEML_E_RUNTIME, "missing body graph");
    int nin = em_n_in(c), nout = em_n_out(c);
    const em_value *v0 = em_in_value(c, 0);
    if (!v0 || v0->kind != EM_V_SEQUENCE || !v0->seq)
        return em_fail(c, EDGEML_E_RUNTIME, "input_sequence must be a sequence, got %s",
                       ctl_kind_name(v0));
    size_t len = v0->seq->n;
    for (int i = 1; i < nin; i++) {
        const em_value *v = em_in_value(c, i);
        if (!v || (v->kind != EM_V_SEQUENCE && v->kind != EM_V_TENSOR))
            return em_fail(c, EDGEML_E_RUNTIME, "input %d must be a tensor or a sequence, got %s",
                           i, ctl_kind_name(v));
        if (v->kind == EM_V_SEQUENCE && (!v->seq || v->seq->n != len))
            return em_fail(c, EDGEML_E_RUNTIME,
                           "input %d is a sequence of %zu elements, input_sequence has %zu", i,
                           v->seq ? v->seq->n : 0, len);
    }

    edgeml_status st = EDGEML_OK;
    em_seq **os = calloc((size_t)nout, sizeof *os);
    const em_value **bin = calloc((size_t)nin, sizeof *bin);
    em_value *items = calloc((size_t)nin, sizeof *items);
    em_value *outs = calloc(g->n_outputs + 1, sizeof *outs);
    if (!os || !bin || !items || !outs) {
        st = em_fail(c, EDGEML_E_NOMEM, "out of memory");
        goto done;
    }
    for (int q = 0; q < nout; q++) {
        int dt = g->out_info && ctl_dtype_ok(g->out_info[q].dtype) ? g->out_info[q].dtype : 0;
        os[q] = em_out_seq(c, q, dt);
        if (!os[q]) {
            st = c->err->code ? c->err->code : em_fail(c, EDGEML_E_NOMEM, "out of memory");
            goto done;
        }
    }
    for (size_t it = 0; it < len; it++) {
        for (int i = 0; i < nin; i++) {
            const em_value *v = em_in_value(c, i);
            if (v->kind == EM_V_SEQUENCE) {
                items[i] = ctl_tensor_value(&v->seq->items[it]);
                bin[i] = &items[i];
            } else {
                bin[i] = v;
            }
        }
        memset(outs, 0, g->n_outputs * sizeof *outs);
        st = em_run_subgraph(c, g, bin, (size_t)nin, outs);
        if (st != EDGEML_OK) goto done;
        for (int q = 0; q < nout && st == EDGEML_OK; q++) {
            const em_value *v = &outs[q];
            if (v->kind != EM_V_TENSOR) {
                st = em_fail(c, EDGEML_E_RUNTIME, "body output %d must be a tensor, got %s", q,
                             ctl_kind_name(v));
                break;
            }
            if (os[q]->elem_dtype && os[q]->elem_dtype != v->t.dtype) {
                st = em_fail(c, EDGEML_E_RUNTIME,
                             "body output %d is %s at iteration %zu, the sequence holds %s", q,
                             em_dtype_name(v->t.dtype), it, em_dtype_name(os[q]->elem_dtype));
                break;
            }
            edgeml_status e = em_seq_insert_copy(os[q], os[q]->n, &v->t);
            if (e) st = em_fail(c, e, "out of memory building output sequence %d", q);
        }
        ctl_release(outs, g->n_outputs);
        if (st != EDGEML_OK) goto done;
    }

done:
    free(outs);
    free(items);
    free(bin);
    free(os);
    return st;
}
