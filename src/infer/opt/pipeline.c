/* The optimisation pipeline: the passes in order, each followed by a commit
 * (removed nodes gone, order kept, producers and consumer counts recomputed)
 * and the invariant check (verify.c). Nodes whose inputs or attributes
 * changed are re-prepared before constant folding runs them and at the end.
 *
 * requires: a loaded main graph (resolved, sorted, prepared, folded once).
 * guarantees: the same outputs (within float rounding of the fused forms),
 *             the invariants of verify.c, every node prepared for what it now is. */
#include "opt.h"

#include <stdio.h>
#include <stdlib.h>

edgeml_status em_opt_attention(em_opt *o);    /* attention.c */
edgeml_status em_opt_convint(em_opt *o);      /* convint.c */

static const em_opt_pass k_passes[] = {
    {"noop", em_opt_noop},                   /* Identity, Dropout, Cast, Reshape chains, Transpose pairs */
    {"pad_fold", em_opt_pad_fold},           /* zero Pad into the Conv that reads it */
    {"bn_fold", em_opt_bn_fold},             /* BatchNormalization into Conv/ConvTranspose/Gemm */
    {"qdq", em_opt_qdq},                     /* DQ -> Conv -> [Relu|Clip] -> Q as QLinearConv; DQ -> Q pairs */
    {"layernorm", em_opt_layernorm},         /* LayerNorm written as primitives */
    {"attention", em_opt_attention},         /* softmax attention -> edgeml:Attention */
    {"convint", em_opt_convint},             /* ConvInteger -> Cast -> Mul -> [Add] -> edgeml:ConvIntegerScaled */
    {"fuse", em_opt_fuse},                   /* residual Add and activations into their producer */
    {"recognise_act", em_opt_recognise_act}, /* SiLU/GELU/... written as primitives, not fused */
    {"noop", em_opt_noop},                   /* what the rewrites exposed */
    {"fold", em_opt_fold},                   /* constant folding of what remains */
};

static void free_state(em_node *n)
{
    if (!n->state) return;
    if (n->op && n->op->free_state) n->op->free_state(n->state);
    else free(n->state);
    n->state = NULL;
}

static bool has_subgraph(const em_node *n)
{
    for (size_t j = 0; j < n->n_attrs; j++)
        if (n->attrs[j].type == EM_ATTR_GRAPH || n->attrs[j].type == EM_ATTR_GRAPHS) return true;
    return false;
}

/* Drops dead and folded nodes (keeping order), then recomputes producers and consumers. */
static void commit(em_opt *o)
{
    em_graph *g = o->g;
    size_t w = 0;
    for (size_t k = 0; k < g->n_nodes; k++) {
        em_node *n = &g->nodes[k];
        /* A folded node that owns subgraphs is never folded (control flow); keep it if so. */
        if ((o->dead[k] || n->folded) && !has_subgraph(n)) {
            free_state(n);
            continue;
        }
        if (w != k) {
            g->nodes[w] = *n;
            o->dirty[w] = o->dirty[k];
        }
        o->dead[w] = 0;
        w++;
    }
    for (size_t k = w; k < g->n_nodes; k++) o->dead[k] = o->dirty[k] = 0;
    g->n_nodes = w;
    for (size_t i = 0; i < g->n_slots; i++) {
        g->slots[i].producer = -1;
        g->slots[i].n_consumers = 0;
    }
    for (size_t k = 0; k < g->n_nodes; k++) {
        em_node *n = &g->nodes[k];
        for (int j = 0; j < n->n_out; j++)
            if (n->out[j] >= 0 && g->slots[n->out[j]].kind == EM_SLOT_COMPUTED) g->slots[n->out[j]].producer = (int)k;
        if (n->folded) continue;
        for (int j = 0; j < n->n_in; j++) if (n->in[j] >= 0) g->slots[n->in[j]].n_consumers++;
        for (int j = 0; j < n->n_implicit; j++) g->slots[n->implicit[j]].n_consumers++;
    }
    for (size_t i = 0; i < g->n_outputs; i++) g->slots[g->outputs[i]].n_consumers++;
    o->stale = true;
}

/* Re-prepares the nodes whose inputs or attributes changed. */
static edgeml_status reprepare(em_opt *o)
{
    em_graph *g = o->g;
    for (size_t k = 0; k < g->n_nodes; k++) {
        if (!o->dirty[k]) continue;
        em_node *n = &g->nodes[k];
        o->dirty[k] = 0;
        if (o->dead[k] || n->folded) continue;
        free_state(n);
        if (!n->op || !n->op->prepare) continue;
        edgeml_error e = { 0 };
        edgeml_status st = n->op->prepare(n, &e);
        if (st) {
            if (o->err) {
                if (e.msg[0]) *o->err = e;
                else em_set_error(o->err, st, "node '%s' (%s): invalid after optimisation", n->name, n->op_type);
                o->err->code = st;
            }
            return st;
        }
    }
    return EDGEML_OK;
}

edgeml_status em_opt_fold(em_opt *o)
{
    edgeml_status st = reprepare(o);
    if (st) return st;
    return em_model_fold_constants(o->m, o->g, o->err);
}

/* Input/output names of each node follow its slots (for edgeml_model_node). */
static edgeml_status rename_io(em_opt *o)
{
    em_graph *g = o->g;
    for (size_t k = 0; k < g->n_nodes; k++) {
        em_node *n = &g->nodes[k];
        const char **in = em_arena_calloc(&o->m->arena, (size_t)n->n_in + 1, sizeof(char *));
        const char **out = em_arena_calloc(&o->m->arena, (size_t)n->n_out + 1, sizeof(char *));
        if (!in || !out) return EDGEML_E_NOMEM;
        for (int j = 0; j < n->n_in; j++) in[j] = n->in[j] >= 0 ? g->slots[n->in[j]].name : "";
        for (int j = 0; j < n->n_out; j++) out[j] = n->out[j] >= 0 ? g->slots[n->out[j]].name : "";
        n->in_names = in;
        n->out_names = out;
    }
    return EDGEML_OK;
}

edgeml_status em_opt_model(struct edgeml_model *m, edgeml_error *err)
{
    em_graph *g = m->graph;
    em_opt o = { .m = m, .g = g, .err = err, .stale = true };
    edgeml_status st = EDGEML_OK;
    size_t nn = g->n_nodes + 1;
    o.dead = calloc(nn, 1);
    o.dirty = calloc(nn, 1);
    o.cap_nodes = nn;
    if (!o.dead || !o.dirty || opt_grow_slots(&o)) { st = EDGEML_E_NOMEM; goto out; }
    if ((st = em_opt_qdq_collect(&o))) goto out; /* qdq.c: quantised weights, before they go */
    commit(&o); /* the loader's folded nodes go */
    if ((st = em_opt_verify(g, err))) goto out;
    opt_infer_dtypes(&o);
    for (size_t p = 0; p < sizeof k_passes / sizeof k_passes[0]; p++) {
        o.changes = 0;
        if ((st = opt_grow_slots(&o))) goto out;
        st = k_passes[p].run(&o);
        if (st) {
            if (err && !err->msg[0]) em_set_error(err, st, "graph optimisation (%s): %s", k_passes[p].name,
                                                  edgeml_status_str(st));
            goto out;
        }
        commit(&o);
        if ((st = opt_grow_slots(&o))) goto out;
        edgeml_error ve = { 0 };
        if ((st = em_opt_verify(g, &ve))) {
            em_set_error(err, st, "internal error: graph optimisation pass '%s' broke the graph: %s",
                         k_passes[p].name, ve.msg);
            goto out;
        }
    }
    if ((st = reprepare(&o))) goto out;
    st = rename_io(&o);
out:
    if (st == EDGEML_E_NOMEM && err && !err->msg[0]) em_set_error(err, st, "out of memory while optimising");
    free(o.dead);
    free(o.dirty);
    free(o.dtype);
    free(o.use_start);
    free(o.use_node);
    free(o.n_other);
    free(o.captured);
    free(o.is_output);
    free(o.qdq);
    return st;
}
