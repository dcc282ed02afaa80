/* Fold a zero Pad into the Conv that reads it (TensorFlow exports write "same"
 * padding of strided convolutions as an explicit Pad, e.g. every stride-2
 * depthwise of a tf2onnx MobileNet): the Conv pads those borders itself, so the
 * padded copy of the activation is never made.
 *
 * requires: a committed graph, dtypes inferred.
 * guarantees: only a Pad in constant mode with value 0 (absent, or a constant
 *   0), constant non-negative pads on the spatial axes alone (none on N and C;
 *   opset 18's axes input absent or constant), whose output is read by one
 *   float Conv (ai.onnx) as its input 0 and nothing else (not a graph output),
 *   where the Conv has explicit pads (auto_pad NOTSET or absent), goes: the
 *   Conv reads the Pad's input and its pads grow by the Pad's. Zero padding
 *   then a convolution equals the convolution with that much more zero padding. */
#include "opt.h"

#include <stdlib.h>

/* The Pad's pads, as begin[rank] then end[rank]; false when they are not usable. */
static bool pad_amounts(em_opt *o, const em_node *p, int rank, int64_t *pads)
{
    for (int i = 0; i < 2 * rank; i++) pads[i] = 0;
    const char *mode = em_attr_str(p, "mode", "constant");
    if (strcmp(mode, "constant")) return false;
    if (p->opset < 11) {
        const int64_t *v;
        long n = em_attr_ints(p, "pads", &v);
        if (n != 2 * rank || em_attr_float(p, "value", 0.f) != 0.f) return false;
        memcpy(pads, v, (size_t)n * sizeof *v);
        return true;
    }
    if (p->n_in < 2 || p->in[1] < 0) return false;
    const em_tensor *t = opt_const(o, p->in[1]);
    if (!t || t->dtype != EDGEML_INT64 || !t->data || t->rank != 1) return false;
    if (p->n_in > 2 && p->in[2] >= 0) {
        double v;
        if (!opt_scalar(o, p->in[2], &v) || v != 0.0) return false;
    }
    size_t n = em_numel(t);
    const int64_t *v = t->data;
    if (p->n_in > 3 && p->in[3] >= 0) {
        const em_tensor *ax = opt_const(o, p->in[3]);
        if (!ax || !ax->data || ax->rank != 1 || (ax->dtype != EDGEML_INT64 && ax->dtype != EDGEML_INT32)) return false;
        size_t na = em_numel(ax);
        if (n != 2 * na) return false;
        for (size_t i = 0; i < na; i++) {
            int64_t a = ax->dtype == EDGEML_INT64 ? ((const int64_t *)ax->data)[i] : ((const int32_t *)ax->data)[i];
            if (a < 0) a += rank;
            if (a < 0 || a >= rank || pads[a] || pads[rank + a]) return false; /* repeated axis */
            pads[a] = v[i];
            pads[rank + a] = v[na + i];
        }
        return true;
    }
    if (n != 2 * (size_t)rank) return false;
    memcpy(pads, v, n * sizeof *v);
    return true;
}

static edgeml_status try_pad(em_opt *o, int k)
{
    em_node *p = opt_node(o, k);
    if (!opt_is(p, "Pad") || p->n_out != 1 || p->out[0] < 0 || p->n_in < 1 || p->in[0] < 0) return EDGEML_OK;
    if (opt_dtype(o, p->out[0]) != EDGEML_FLOAT) return EDGEML_OK;
    int c = opt_single_consumer(o, p->out[0]);
    if (c < 0) return EDGEML_OK;
    em_node *cv = opt_node(o, c);
    if (!opt_is(cv, "Conv") || cv->n_in < 2 || cv->in[0] != p->out[0]) return EDGEML_OK;
    const char *ap = em_attr_str(cv, "auto_pad", "NOTSET");
    if (strcmp(ap, "NOTSET")) return EDGEML_OK;
    const em_tensor *W = opt_const(o, cv->in[1]);
    int rank = W ? W->rank : 0; /* the Conv's input rank equals its weights' */
    if (rank < 3 || rank > EM_MAX_RANK) return EDGEML_OK;
    int ns = rank - 2;
    int64_t pads[2 * EM_MAX_RANK];
    if (!pad_amounts(o, p, rank, pads)) return EDGEML_OK;
    if (pads[0] || pads[1] || pads[rank] || pads[rank + 1]) return EDGEML_OK;
    for (int i = 0; i < 2 * rank; i++)
        if (pads[i] < 0 || pads[i] > (1 << 20)) return EDGEML_OK;
    const int64_t *cp;
    long ncp = em_attr_ints(cv, "pads", &cp);
    if (ncp >= 0 && ncp != 2 * ns) return EDGEML_OK;
    int64_t *np = em_arena_calloc(&o->m->arena, (size_t)(2 * ns), sizeof *np);
    if (!np) return EDGEML_E_NOMEM;
    for (int i = 0; i < ns; i++) {
        np[i] = (ncp > 0 ? cp[i] : 0) + pads[2 + i];
        np[ns + i] = (ncp > 0 ? cp[ns + i] : 0) + pads[rank + 2 + i];
    }
    int in[3] = {p->in[0], cv->in[1], cv->n_in > 2 ? cv->in[2] : -1};
    edgeml_status st = opt_set_inputs(o, c, cv->n_in, in);
    if (st) return st;
    em_attr a = {.name = "pads", .type = EM_ATTR_INTS, .ints = np, .n = (size_t)(2 * ns)};
    if ((st = opt_set_attr(o, c, &a))) return st;
    opt_kill(o, k);
    o->changes++;
    return EDGEML_OK;
}

edgeml_status em_opt_pad_fold(em_opt *o)
{
    em_graph *g = o->g;
    for (size_t kk = 0; kk < g->n_nodes; kk++) {
        if (o->dead[kk] || g->nodes[kk].folded) continue;
        edgeml_status st = try_pad(o, (int)kk);
        if (st) return st;
    }
    return EDGEML_OK;
}
