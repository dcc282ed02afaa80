/* Public view of the graph as it runs (edgeml_model_num_nodes / edgeml_model_node)
 * and the switch that turns optimisation off. */
#include "opt.h"

#include <stdlib.h>

bool em_opt_enabled(const edgeml_load_options *opts)
{
    if (opts && (opts->flags & EDGEML_LOAD_NO_OPT)) return false;
    const char *e = getenv("EDGEML_OPT");
    if (e && (!strcmp(e, "0") || !strcmp(e, "off") || !strcmp(e, "false") || !strcmp(e, "no"))) return false;
    return true;
}

EDGEML_API size_t edgeml_model_num_nodes(const edgeml_model *m)
{
    size_t n = 0;
    const em_graph *g = m->graph;
    for (size_t k = 0; k < g->n_nodes; k++) n += !g->nodes[k].folded;
    return n;
}

EDGEML_API edgeml_status edgeml_model_node(const edgeml_model *m, size_t i, edgeml_node_info *info)
{
    const em_graph *g = m->graph;
    size_t seen = 0;
    for (size_t k = 0; k < g->n_nodes; k++) {
        const em_node *n = &g->nodes[k];
        if (n->folded) continue;
        if (seen++ != i) continue;
        memset(info, 0, sizeof *info);
        info->name = n->name;
        info->domain = strcmp(n->domain, "ai.onnx") ? n->domain : "";
        info->op_type = n->op_type;
        info->n_inputs = (size_t)n->n_in;
        info->n_outputs = (size_t)n->n_out;
        info->inputs = n->in_names;
        info->outputs = n->out_names;
        info->fused_add_input = n->add_in > 0 ? n->add_in : -1;
        info->fused_act = n->act.kind != EM_ACT_NONE && n->op != &em_opt_act_entry ? em_act_name(n->act.kind) : NULL;
        return EDGEML_OK;
    }
    return EDGEML_E_INVALID;
}
