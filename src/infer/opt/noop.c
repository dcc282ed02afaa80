/* Drop no-ops.
 *
 * requires: a committed graph (use lists valid), dtypes inferred.
 * guarantees: removed: Identity; Dropout in inference (no training_mode, or a
 *   constant false one) whose mask is unused; Cast to the dtype its input is
 *   known to have; Squeeze(Unsqueeze(x, a), a); Transpose pairs that cancel.
 *   Reshape of a Reshape/Flatten/Squeeze/Unsqueeze reads the inner input
 *   directly when its target shape is constant and has no 0 (copy) entry (or
 *   allowzero=1); a chain of two Transposes becomes one. Nodes left without any
 *   use (and without subgraphs) are removed. A graph output keeps its name: its
 *   producer is removed only when the value it reads can be renamed in its place. */
#include "opt.h"

#include <stdlib.h>

static bool dropout_inference(em_opt *o, const em_node *n)
{
    if (n->opset >= 12 && n->n_in > 2 && n->in[2] >= 0) {
        const em_tensor *t = opt_const(o, n->in[2]);
        if (!t || t->dtype != EDGEML_BOOL || em_numel(t) != 1 || !t->data) return false;
        if (((const uint8_t *)t->data)[0]) return false;
    }
    return true;
}

/* Axes of a Squeeze/Unsqueeze: attribute (opset < 13) or constant input 1. Sorted. */
static long axes_of(em_opt *o, const em_node *n, int64_t *ax, int max)
{
    long k = -1;
    if (n->opset < 13) {
        const int64_t *a;
        k = em_attr_ints(n, "axes", &a);
        if (k < 0 || k > max) return -1;
        memcpy(ax, a, (size_t)k * sizeof *ax);
    } else {
        if (n->n_in < 2) return -1;
        const em_tensor *t = opt_const(o, n->in[1]);
        if (!t || t->rank != 1 || (t->dtype != EDGEML_INT64 && t->dtype != EDGEML_INT32)) return -1;
        k = (long)em_numel(t);
        if (k > max) return -1;
        for (long i = 0; i < k; i++) ax[i] = em_get_i64(t->data, t->dtype, (size_t)i);
    }
    /* Only non-negative axes compare without knowing the rank. */
    for (long i = 0; i < k; i++)
        if (ax[i] < 0) return -1;
    for (long i = 1; i < k; i++)
        for (long j = i; j > 0 && ax[j - 1] > ax[j]; j--) { int64_t t = ax[j]; ax[j] = ax[j - 1]; ax[j - 1] = t; }
    return k;
}

static long perm_of(const em_node *n, const int64_t **p)
{
    return em_attr_ints(n, "perm", p);
}

static bool valid_perm(const int64_t *p, long k)
{
    if (k < 0 || k > EM_MAX_RANK) return false;
    bool seen[EM_MAX_RANK] = { false };
    for (long i = 0; i < k; i++) {
        if (p[i] < 0 || p[i] >= k || seen[p[i]]) return false;
        seen[p[i]] = true;
    }
    return true;
}

/* Transpose(Transpose(x, p1), p2): cancel (identity) or compose into one. */
static edgeml_status transpose_pair(em_opt *o, int k, bool *done)
{
    em_node *n = opt_node(o, k);
    *done = false;
    if (n->n_in < 1) return EDGEML_OK;
    int p = opt_producer(o, n->in[0]);
    if (p < 0 || !opt_is(opt_node(o, p), "Transpose")) return EDGEML_OK;
    em_node *pn = opt_node(o, p);
    if (pn->n_in < 1 || pn->in[0] < 0) return EDGEML_OK;
    const int64_t *p1, *p2;
    long k1 = perm_of(pn, &p1), k2 = perm_of(n, &p2);
    if (k1 < 0 && k2 < 0) { /* reverse twice */
        *done = opt_bypass(o, k, pn->in[0]);
        return EDGEML_OK;
    }
    if (k1 != k2 || !valid_perm(p1, k1) || !valid_perm(p2, k2)) return EDGEML_OK;
    int64_t q[EM_MAX_RANK];
    bool ident = true;
    for (long i = 0; i < k1; i++) {
        q[i] = p1[p2[i]];
        ident &= q[i] == i;
    }
    if (ident) {
        *done = opt_bypass(o, k, pn->in[0]);
        return EDGEML_OK;
    }
    /* Compose only when the inner Transpose is used by this one alone (it then goes). */
    if (opt_single_consumer(o, n->in[0]) != k) return EDGEML_OK;
    int64_t *qa = em_arena_calloc(&o->m->arena, (size_t)k1 + 1, sizeof *qa);
    if (!qa) return EDGEML_E_NOMEM;
    memcpy(qa, q, (size_t)k1 * sizeof *qa);
    for (size_t j = 0; j < n->n_attrs; j++)
        if (!strcmp(n->attrs[j].name, "perm")) {
            n->attrs[j].ints = qa;
            n->attrs[j].n = (size_t)k1;
        }
    int in[1] = { pn->in[0] };
    edgeml_status st = opt_set_inputs(o, k, 1, in);
    if (st) return st;
    opt_kill(o, p);
    *done = true;
    return EDGEML_OK;
}

/* Reshape(R(x)) for R in Reshape/Flatten/Squeeze/Unsqueeze: read x directly. */
static edgeml_status reshape_chain(em_opt *o, int k, bool *done)
{
    em_node *n = opt_node(o, k);
    *done = false;
    if (n->opset < 5 || n->n_in < 2 || n->in[0] < 0) return EDGEML_OK;
    const em_tensor *s = opt_const(o, n->in[1]);
    if (!s || s->rank != 1 || s->dtype != EDGEML_INT64) return EDGEML_OK;
    bool allowzero = n->opset >= 14 && em_attr_int(n, "allowzero", 0) != 0;
    if (!allowzero)
        for (size_t i = 0; i < em_numel(s); i++)
            if (((const int64_t *)s->data)[i] == 0) return EDGEML_OK;
    int p = opt_producer(o, n->in[0]);
    if (p < 0) return EDGEML_OK;
    em_node *pn = opt_node(o, p);
    if (!(opt_is(pn, "Reshape") || opt_is(pn, "Flatten") || opt_is(pn, "Squeeze") || opt_is(pn, "Unsqueeze")))
        return EDGEML_OK;
    if (pn->n_in < 1 || pn->in[0] < 0 || pn->n_out != 1) return EDGEML_OK;
    int in[2] = { pn->in[0], n->in[1] };
    edgeml_status st = opt_set_inputs(o, k, 2, in);
    *done = !st;
    return st;
}

/* Squeeze(Unsqueeze(x, a), a) -> x. */
static bool squeeze_unsqueeze(em_opt *o, int k)
{
    em_node *n = opt_node(o, k);
    if (n->n_in < 1) return false;
    int p = opt_producer(o, n->in[0]);
    if (p < 0 || !opt_is(opt_node(o, p), "Unsqueeze")) return false;
    em_node *pn = opt_node(o, p);
    if (pn->n_in < 1 || pn->in[0] < 0) return false;
    int64_t a1[EM_MAX_RANK], a2[EM_MAX_RANK];
    long k1 = axes_of(o, pn, a1, EM_MAX_RANK), k2 = axes_of(o, n, a2, EM_MAX_RANK);
    if (k1 <= 0 || k1 != k2) return false;
    for (long i = 0; i < k1; i++)
        if (a1[i] != a2[i]) return false;
    return opt_bypass(o, k, pn->in[0]);
}

static bool has_subgraph(const em_node *n)
{
    for (size_t j = 0; j < n->n_attrs; j++)
        if (n->attrs[j].type == EM_ATTR_GRAPH || n->attrs[j].type == EM_ATTR_GRAPHS) return true;
    return false;
}

edgeml_status em_opt_noop(em_opt *o)
{
    em_graph *g = o->g;
    edgeml_status st;
    for (size_t kk = 0; kk < g->n_nodes; kk++) {
        int k = (int)kk;
        em_node *n = &g->nodes[k];
        if (o->dead[k] || n->folded || n->n_in < 1 || n->n_out < 1) continue;
        bool done = false;
        if (opt_is(n, "Identity")) {
            opt_bypass(o, k, n->in[0]);
        } else if (opt_is(n, "Dropout")) {
            if (dropout_inference(o, n)) opt_bypass(o, k, n->in[0]);
        } else if (opt_is(n, "Cast")) {
            int dt = opt_dtype(o, n->in[0]);
            if (dt && dt != EDGEML_STRING && em_attr_int(n, "to", -1) == dt) opt_bypass(o, k, n->in[0]);
        } else if (opt_is(n, "Transpose")) {
            if ((st = transpose_pair(o, k, &done))) return st;
        } else if (opt_is(n, "Reshape")) {
            if ((st = reshape_chain(o, k, &done))) return st;
        } else if (opt_is(n, "Squeeze")) {
            squeeze_unsqueeze(o, k);
        }
    }
    /* Dead nodes (outputs unused), last to first so chains go in one sweep. */
    for (size_t kk = g->n_nodes; kk-- > 0;) {
        int k = (int)kk;
        em_node *n = &g->nodes[k];
        if (o->dead[k] || n->folded || n->n_implicit || has_subgraph(n)) continue;
        bool used = false;
        for (int j = 0; j < n->n_out && !used; j++)
            if (n->out[j] >= 0) used = opt_n_uses(o, n->out[j]) > 0 || !opt_internal(o, n->out[j]);
        if (!used) opt_kill(o, k);
    }
    return EDGEML_OK;
}
