/* Graph invariants, checked after every optimisation pass (pipeline.c) and by
 * the tests:
 *  - topological order: every input (and subgraph capture) of a node is a
 *    constant, a graph input, an outer value, or produced by an earlier node;
 *  - every slot index is in range; every computed slot has at most one
 *    producer, and slot.producer names that node;
 *  - every graph output is defined;
 *  - consumer counts equal the references (inputs + captures + graph outputs);
 *  - no dangling slots: a computed slot that is read has a producer;
 *  - a fused residual (add_in) names a present input; every node has a kernel. */
#include "opt.h"

#include <stdlib.h>

edgeml_status em_opt_verify(const em_graph *g, edgeml_error *err)
{
    size_t ns = g->n_slots;
    uint8_t *def = calloc(ns + 1, 1);
    int *cnt = calloc(ns + 1, sizeof *cnt);
    edgeml_status st = EDGEML_OK;
#define BAD(...) do { st = em_set_error(err, EDGEML_E_MODEL, __VA_ARGS__); goto out; } while (0)
    if (!def || !cnt) { st = em_set_error(err, EDGEML_E_NOMEM, "out of memory"); goto out; }
    for (size_t i = 0; i < ns; i++) {
        em_slot_kind k = g->slots[i].kind;
        if (k == EM_SLOT_CONST || k == EM_SLOT_INPUT || k == EM_SLOT_OUTER) def[i] = 1;
        if (k != EM_SLOT_COMPUTED && g->slots[i].producer >= 0)
            BAD("slot '%s' is not computed but names producer %d", g->slots[i].name, g->slots[i].producer);
        if (g->slots[i].producer >= (int)g->n_nodes)
            BAD("slot '%s' names producer %d of %zu nodes", g->slots[i].name, g->slots[i].producer, g->n_nodes);
    }
    for (size_t k = 0; k < g->n_nodes; k++) {
        const em_node *n = &g->nodes[k];
        if (n->folded) {
            for (int j = 0; j < n->n_out; j++)
                if (n->out[j] >= 0 && g->slots[n->out[j]].kind != EM_SLOT_CONST)
                    BAD("folded node '%s' (%s): output is not a constant", n->name, n->op_type);
            continue;
        }
        if (!n->op) BAD("node '%s' (%s) has no kernel", n->name, n->op_type);
        for (int j = 0; j < n->n_in + n->n_implicit; j++) {
            int s = j < n->n_in ? n->in[j] : n->implicit[j - n->n_in];
            if (s < -1 || s >= (int)ns) BAD("node '%s' (%s): input slot %d out of range", n->name, n->op_type, s);
            if (s < 0) {
                if (j >= n->n_in) BAD("node '%s' (%s): absent capture", n->name, n->op_type);
                continue;
            }
            if (!def[s])
                BAD("node '%s' (%s): input '%s' is not defined before it", n->name, n->op_type, g->slots[s].name);
            cnt[s]++;
        }
        if (n->add_in < 0 || n->add_in >= (n->add_in ? n->n_in : 1) || (n->add_in > 0 && n->in[n->add_in] < 0))
            BAD("node '%s' (%s): fused residual index %d is not a present input", n->name, n->op_type, n->add_in);
        for (int j = 0; j < n->n_out; j++) {
            int s = n->out[j];
            if (s < -1 || s >= (int)ns) BAD("node '%s' (%s): output slot %d out of range", n->name, n->op_type, s);
            if (s < 0) continue;
            if (def[s]) BAD("node '%s' (%s): output '%s' is defined twice", n->name, n->op_type, g->slots[s].name);
            if (g->slots[s].kind != EM_SLOT_COMPUTED || g->slots[s].producer != (int)k)
                BAD("node '%s' (%s): output '%s' does not name it as producer", n->name, n->op_type,
                    g->slots[s].name);
            def[s] = 1;
        }
    }
    for (size_t i = 0; i < g->n_outputs; i++) {
        int s = g->outputs[i];
        if (s < 0 || s >= (int)ns || !def[s]) BAD("graph output %zu is not defined", i);
        cnt[s]++;
    }
    for (size_t i = 0; i < ns; i++) {
        if (cnt[i] != g->slots[i].n_consumers)
            BAD("slot '%s': %d consumers counted, %d recorded", g->slots[i].name, cnt[i], g->slots[i].n_consumers);
        if (g->slots[i].kind == EM_SLOT_COMPUTED && cnt[i] && g->slots[i].producer < 0)
            BAD("slot '%s' is read but has no producer", g->slots[i].name);
    }
out:
#undef BAD
    free(def);
    free(cnt);
    return st;
}
