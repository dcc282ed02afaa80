/* Loop (opsets 1..21).
 * Inputs (M?, cond?, v_initial...), body (iter_num, cond, v...) ->
 * (cond, v..., scan...). Outputs: final v..., then the scan outputs stacked
 * along a new first axis. Loop-carried values may be tensors, sequences or
 * optionals (13+, 16+); scan outputs must be tensors of one dtype and shape. */
#include "ctl.h"

#include <stdlib.h>

typedef struct ctl_stack {
    bool started;
    int dtype;
    int rank;
    int64_t dims[EM_MAX_RANK];
    size_t elem_n;        /* elements per iteration */
    size_t elem_bytes;
    size_t count;         /* iterations stacked */
    size_t cap;           /* bytes */
    unsigned char *buf;
} ctl_stack;

edgeml_status ctl_loop_prepare(em_node *node, edgeml_error *err)
{
    const em_graph *g = ctl_graph_attr(node, "body");
    if (!g) return em_node_fail(node, err, EDGEML_E_MODEL, "attribute body must be a graph");
    if (node->n_in < 2)
        return em_node_fail(node, err, EDGEML_E_MODEL, "needs inputs M and cond (may be empty)");
    size_t n = (size_t)node->n_in - 2;
    if (g->n_inputs != n + 2)
        return em_node_fail(node, err, EDGEML_E_MODEL,
                            "body takes %zu inputs, expected %zu (iter_num, cond, %zu carried)",
                            g->n_inputs, n + 2, n);
    if (g->n_outputs < n + 1)
        return em_node_fail(node, err, EDGEML_E_MODEL,
                            "body returns %zu outputs, expected at least %zu (cond, %zu carried)",
                            g->n_outputs, n + 1, n);
    size_t k = g->n_outputs - 1 - n;
    if ((size_t)node->n_out > n + k)
        return em_node_fail(node, err, EDGEML_E_MODEL,
                            "node has %d outputs, the body gives %zu carried + %zu scan",
                            node->n_out, n, k);
    return EDGEML_OK;
}

static edgeml_status stack_push(em_kctx *c, ctl_stack *s, size_t k, const em_value *v)
{
    if (!v || v->kind != EM_V_TENSOR)
        return em_fail(c, EDGEML_E_UNSUPPORTED, "scan output %zu must be a tensor, got %s", k,
                       ctl_kind_name(v));
    const em_tensor *t = &v->t;
    if (!s->started) {
        if (!ctl_dtype_ok(t->dtype))
            return em_fail(c, EDGEML_E_RUNTIME, "scan output %zu has unsupported dtype %d", k,
                           t->dtype);
        if (t->rank + 1 > EM_MAX_RANK)
            return em_fail(c, EDGEML_E_RUNTIME, "scan output %zu has rank %d, too high", k,
                           t->rank);
        s->started = true;
        s->dtype = t->dtype;
        s->rank = t->rank;
        memcpy(s->dims, t->dims, sizeof s->dims[0] * (size_t)t->rank);
        if (!em_shape_numel(t->rank, t->dims, &s->elem_n) ||
            s->elem_n > SIZE_MAX / ctl_esize(t->dtype))
            return em_fail(c, EDGEML_E_NOMEM, "scan output %zu is too large", k);
        s->elem_bytes = s->elem_n * ctl_esize(t->dtype);
    } else {
        bool same = t->dtype == s->dtype && t->rank == s->rank;
        for (int i = 0; same && i < t->rank; i++)
            if (t->dims[i] != s->dims[i]) same = false;
        if (!same) {
            char a[128], b[128];
            return em_fail(c, EDGEML_E_RUNTIME,
                           "scan output %zu changed from %s %s to %s %s at iteration %zu", k,
                           em_dtype_name(s->dtype), em_shape_str(s->rank, s->dims, a, sizeof a),
                           em_dtype_name(t->dtype), em_shape_str(t->rank, t->dims, b, sizeof b),
                           s->count);
        }
    }
    if (s->elem_bytes) {
        size_t need = (s->count + 1) * s->elem_bytes;
        if (s->count + 1 > SIZE_MAX / s->elem_bytes)
            return em_fail(c, EDGEML_E_NOMEM, "scan output %zu is too large", k);
        if (need > s->cap) {
            size_t nc = s->cap ? s->cap : s->elem_bytes * 4;
            while (nc < need) nc = nc > SIZE_MAX / 2 ? need : nc * 2;
            unsigned char *nb = realloc(s->buf, nc);
            if (!nb) return em_fail(c, EDGEML_E_NOMEM, "out of memory stacking scan output %zu", k);
            s->buf = nb;
            s->cap = nc;
        }
        ctl_copy_elems(c, s->dtype, s->buf + s->count * s->elem_bytes, t->data, s->elem_n);
    }
    s->count++;
    return EDGEML_OK;
}

edgeml_status ctl_loop_run(em_kctx *c)
{
    const em_node *node = c->node;
    const em_graph *g = ctl_graph_attr(node, "body");
    if (!g) return em_fail(c, EDGEML_E_RUNTIME, "missing body graph");
    size_t n = (size_t)em_n_in(c) - 2;
    size_t nbo = g->n_outputs;
    size_t k = nbo - 1 - n;
    int nout = em_n_out(c);

    bool has_m = node->in[0] >= 0, has_cond = node->in[1] >= 0;
    int64_t m = INT64_MAX;
    bool cond = true;
    if (has_m) {
        const em_tensor *mt = em_in(c, 0);
        if (!mt) return em_fail(c, EDGEML_E_RUNTIME, "input M must be a tensor");
        if (mt->dtype != EDGEML_INT64 && mt->dtype != EDGEML_INT32)
            return em_fail(c, EDGEML_E_RUNTIME, "input M must be int64, got %s",
                           em_dtype_name(mt->dtype));
        if (!ctl_read_index(mt, &m))
            return em_fail(c, EDGEML_E_RUNTIME, "input M must hold one element, has %zu",
                           em_numel(mt));
    }
    if (has_cond) {
        const em_tensor *ct = em_in(c, 1);
        if (!ct) return em_fail(c, EDGEML_E_RUNTIME, "input cond must be a tensor");
        if (!ctl_read_bool(ct, &cond))
            return em_fail(c, EDGEML_E_RUNTIME, "input cond must be one bool, got %s with %zu elements",
                           em_dtype_name(ct->dtype), em_numel(ct));
    }

    edgeml_status st = EDGEML_OK;
    bool owned = false;
    const em_value **bin = calloc(n + 2, sizeof *bin);
    const em_value **init = calloc(n + 1, sizeof *init);
    em_value *carried = calloc(n + 1, sizeof *carried);
    em_value *outs = calloc(nbo, sizeof *outs);
    ctl_stack *stk = calloc(k + 1, sizeof *stk);
    if (!bin || !init || !carried || !outs || !stk) {
        st = em_fail(c, EDGEML_E_NOMEM, "out of memory");
        goto done;
    }
    em_value none_v;
    memset(&none_v, 0, sizeof none_v);
    none_v.kind = EM_V_NONE;
    for (size_t j = 0; j < n; j++) {
        const em_value *v = em_in_value(c, 2 + (int)j);
        init[j] = v ? v : &none_v;
    }

    int64_t iv = 0;
    uint8_t cv = 1;
    em_tensor it_t, cond_t;
    memset(&it_t, 0, sizeof it_t);
    memset(&cond_t, 0, sizeof cond_t);
    it_t.dtype = EDGEML_INT64;
    it_t.data = &iv;
    cond_t.dtype = EDGEML_BOOL;
    cond_t.data = &cv;
    em_value it_v = ctl_tensor_value(&it_t), cond_v = ctl_tensor_value(&cond_t);

    for (int64_t it = 0; (!has_m || it < m) && cond; it++) {
        iv = it;
        cv = cond ? 1 : 0;
        bin[0] = &it_v;
        bin[1] = &cond_v;
        for (size_t j = 0; j < n; j++) bin[2 + j] = owned ? &carried[j] : init[j];
        memset(outs, 0, nbo * sizeof *outs);
        st = em_run_subgraph(c, g, bin, n + 2, outs);
        if (st != EDGEML_OK) goto done;
        if (has_cond) {
            const em_value *co = &outs[0];
            if (co->kind != EM_V_TENSOR || !ctl_read_bool(&co->t, &cond)) {
                st = em_fail(c, EDGEML_E_RUNTIME,
                             "body output cond must be one bool (iteration %lld)", (long long)it);
                ctl_release(outs, nbo);
                goto done;
            }
        }
        for (size_t q = 0; q < k; q++) {
            if ((int)(n + q) >= nout || !em_out_wanted(c, (int)(n + q))) continue;
            st = stack_push(c, &stk[q], q, &outs[1 + n + q]);
            if (st != EDGEML_OK) {
                ctl_release(outs, nbo);
                goto done;
            }
        }
        if (owned) ctl_release(carried, n);
        for (size_t j = 0; j < n; j++) {
            carried[j] = outs[1 + j];
            memset(&outs[1 + j], 0, sizeof outs[1 + j]);
            if (carried[j].kind == EM_V_UNSET) carried[j].kind = EM_V_NONE;
        }
        owned = true;
        ctl_release(outs, nbo);
    }

    for (size_t j = 0; j < n && (int)j < nout; j++) {
        if (!em_out_wanted(c, (int)j)) continue;
        st = em_out_copy_value(c, (int)j, owned ? &carried[j] : init[j]);
        if (st != EDGEML_OK) goto done;
    }
    for (size_t q = 0; q < k && (int)(n + q) < nout; q++) {
        int oi = (int)(n + q);
        if (!em_out_wanted(c, oi)) continue;
        ctl_stack *s = &stk[q];
        if (!s->started) {
            st = ctl_out_empty_stack(c, oi, g->out_info ? &g->out_info[1 + n + q] : NULL, 0, 0,
                                     NULL, 0);
            if (st != EDGEML_OK) goto done;
            continue;
        }
        int64_t dims[EM_MAX_RANK];
        dims[0] = (int64_t)s->count;
        for (int i = 0; i < s->rank; i++) dims[1 + i] = s->dims[i];
        em_tensor *t = em_out(c, oi, s->dtype, s->rank + 1, dims);
        if (!t) {
            st = c->err->code ? c->err->code : EDGEML_E_NOMEM;
            goto done;
        }
        if (s->count && s->elem_bytes) memcpy(t->data, s->buf, s->count * s->elem_bytes);
    }

done:
    if (owned && carried) ctl_release(carried, n);
    if (stk)
        for (size_t q = 0; q < k; q++) free(stk[q].buf);
    free(stk);
    free(outs);
    free(carried);
    free(init);
    free(bin);
    return st;
}
