/* SplitToSequence and ConcatFromSequence (opset 11+). */
#include "ctl.h"

#include <stdlib.h>

/* ---- SplitToSequence ---------------------------------------------------- */

edgeml_status ctl_split_to_seq_prepare(em_node *node, edgeml_error *err)
{
    int64_t kd = em_attr_int(node, "keepdims", 1);
    if (kd != 0 && kd != 1)
        return em_node_fail(node, err, EDGEML_E_MODEL, "attribute keepdims = %lld, must be 0 or 1",
                            (long long)kd);
    return EDGEML_OK;
}

edgeml_status ctl_split_to_seq_run(em_kctx *c)
{
    const em_tensor *x = em_in(c, 0);
    if (!x) return em_fail(c, EDGEML_E_RUNTIME, "input must be a tensor");
    if (!ctl_dtype_ok(x->dtype)) return em_fail(c, EDGEML_E_RUNTIME, "unsupported dtype");
    int64_t axis_a = em_attr_int(c->node, "axis", 0);
    bool keep = em_attr_int(c->node, "keepdims", 1) != 0;
    int axis;
    if (!em_axis(axis_a, x->rank, &axis))
        return em_fail(c, EDGEML_E_RUNTIME, "axis %lld is out of range for rank %d",
                       (long long)axis_a, x->rank);
    size_t total;
    if (!em_shape_numel(x->rank, x->dims, &total))
        return em_fail(c, EDGEML_E_RUNTIME, "input shape is invalid");
    int64_t d = x->dims[axis];
    size_t outer = 1, inner = 1;
    for (int i = 0; i < axis; i++) outer *= (size_t)x->dims[i];
    for (int i = axis + 1; i < x->rank; i++) inner *= (size_t)x->dims[i];

    const em_tensor *sp = NULL;
    if (c->node->n_in > 1 && c->node->in[1] >= 0) {
        sp = em_in(c, 1);
        if (!sp || (sp->dtype != EDGEML_INT64 && sp->dtype != EDGEML_INT32) || sp->rank > 1)
            return em_fail(c, EDGEML_E_RUNTIME, "split must be an int32/int64 scalar or 1-D tensor");
    }
    size_t nchunks;
    int64_t step = 1;
    if (!sp) {
        nchunks = (size_t)d;
    } else if (sp->rank == 0) {
        step = em_get_i64(sp->data, sp->dtype, 0);
        if (step <= 0)
            return em_fail(c, EDGEML_E_RUNTIME, "split = %lld, must be positive", (long long)step);
        nchunks = (size_t)(d / step + (d % step != 0));
    } else {
        nchunks = (size_t)sp->dims[0];
        int64_t sum = 0;
        for (size_t i = 0; i < nchunks; i++) {
            int64_t v = em_get_i64(sp->data, sp->dtype, i);
            if (v < 0 || v > d - sum)
                return em_fail(c, EDGEML_E_RUNTIME,
                               "split values must be >= 0 and sum to %lld (dim %d)", (long long)d,
                               axis);
            sum += v;
        }
        if (sum != d)
            return em_fail(c, EDGEML_E_RUNTIME, "split values sum to %lld, dim %d is %lld",
                           (long long)sum, axis, (long long)d);
    }
    bool squeeze = !sp && !keep;

    em_seq *o = em_out_seq(c, 0, x->dtype);
    if (!o) return c->err->code ? c->err->code : em_fail(c, EDGEML_E_NOMEM, "out of memory");
    size_t es = ctl_esize(x->dtype);
    unsigned char *buf = NULL;
    if (total) {
        buf = malloc(total * es);
        if (!buf) return em_fail(c, EDGEML_E_NOMEM, "out of memory");
    }
    edgeml_status st = EDGEML_OK;
    int64_t start = 0;
    for (size_t ci = 0; ci < nchunks; ci++) {
        int64_t len;
        if (!sp) len = 1;
        else if (sp->rank == 0) len = d - start < step ? d - start : step;
        else len = em_get_i64(sp->data, sp->dtype, ci);
        em_tensor piece;
        memset(&piece, 0, sizeof piece);
        piece.dtype = x->dtype;
        for (int i = 0; i < x->rank; i++) {
            if (i == axis) {
                if (!squeeze) piece.dims[piece.rank++] = len;
            } else {
                piece.dims[piece.rank++] = x->dims[i];
            }
        }
        size_t blk = (size_t)len * inner * es, row = (size_t)d * inner * es;
        if (buf && blk) {
            const unsigned char *src = (const unsigned char *)x->data + (size_t)start * inner * es;
            for (size_t q = 0; q < outer; q++) memcpy(buf + q * blk, src + q * row, blk);
        }
        piece.data = buf;
        st = em_seq_insert_copy(o, o->n, &piece);
        if (st) {
            st = em_fail(c, st, "out of memory building the sequence");
            break;
        }
        start += len;
    }
    free(buf);
    return st;
}

/* ---- ConcatFromSequence ------------------------------------------------- */

edgeml_status ctl_concat_from_seq_prepare(em_node *node, edgeml_error *err)
{
    const em_attr *a = em_attr_get(node, "axis");
    if (!a || a->type != EM_ATTR_INT)
        return em_node_fail(node, err, EDGEML_E_MODEL, "attribute axis is required");
    int64_t na = em_attr_int(node, "new_axis", 0);
    if (na != 0 && na != 1)
        return em_node_fail(node, err, EDGEML_E_MODEL, "attribute new_axis = %lld, must be 0 or 1",
                            (long long)na);
    return EDGEML_OK;
}

edgeml_status ctl_concat_from_seq_run(em_kctx *c)
{
    const em_value *v = em_in_value(c, 0);
    if (!v || v->kind != EM_V_SEQUENCE || !v->seq)
        return em_fail(c, EDGEML_E_RUNTIME, "input must be a sequence, got %s", ctl_kind_name(v));
    const em_seq *s = v->seq;
    if (s->n == 0) return em_fail(c, EDGEML_E_RUNTIME, "input sequence is empty");
    bool new_axis = em_attr_int(c->node, "new_axis", 0) != 0;
    int64_t axis_a = em_attr_int(c->node, "axis", 0);
    const em_tensor *t0 = &s->items[0];
    int orank = t0->rank + (new_axis ? 1 : 0);
    int axis;
    if (orank < 1 || orank > EM_MAX_RANK || !em_axis(axis_a, orank, &axis))
        return em_fail(c, EDGEML_E_RUNTIME, "axis %lld is out of range for %d-D output",
                       (long long)axis_a, orank);
    int64_t od[EM_MAX_RANK];
    int64_t sum = 0;
    for (size_t i = 0; i < s->n; i++) {
        const em_tensor *t = &s->items[i];
        bool ok = t->dtype == t0->dtype && t->rank == t0->rank;
        for (int d = 0; ok && d < t->rank; d++)
            if (t->dims[d] != t0->dims[d] && (new_axis || d != axis)) ok = false;
        if (!ok) {
            char a[128], b[128];
            return em_fail(c, EDGEML_E_RUNTIME, "item %zu is %s %s, incompatible with item 0 %s %s",
                           i, em_dtype_name(t->dtype), em_shape_str(t->rank, t->dims, a, sizeof a),
                           em_dtype_name(t0->dtype), em_shape_str(t0->rank, t0->dims, b, sizeof b));
        }
        if (!new_axis) {
            if (t->dims[axis] > INT64_MAX - sum)
                return em_fail(c, EDGEML_E_NOMEM, "output is too large");
            sum += t->dims[axis];
        }
    }
    if (new_axis) {
        for (int d = 0, r = 0; d < orank; d++) od[d] = d == axis ? (int64_t)s->n : t0->dims[r++];
    } else {
        for (int d = 0; d < orank; d++) od[d] = d == axis ? sum : t0->dims[d];
    }
    em_tensor *o = em_out(c, 0, t0->dtype, orank, od);
    if (!o) return c->err->code ? c->err->code : EDGEML_E_NOMEM;
    if (em_numel(o) == 0) return EDGEML_OK;
    size_t es = ctl_esize(t0->dtype);
    size_t outer = 1, inner = 1;
    for (int d = 0; d < axis; d++) outer *= (size_t)od[d];
    for (int d = axis + 1; d < orank; d++) inner *= (size_t)od[d];
    size_t orow = (size_t)od[axis] * inner * es;
    size_t at = 0;
    for (size_t i = 0; i < s->n; i++) {
        const em_tensor *t = &s->items[i];
        size_t len = new_axis ? 1 : (size_t)t->dims[axis];
        size_t blk = len * inner * es;
        if (blk) {
            const unsigned char *src = t->data;
            unsigned char *dst = (unsigned char *)o->data + at;
            for (size_t q = 0; q < outer; q++) memcpy(dst + q * orow, src + q * blk, blk);
        }
        at += blk;
    }
    return EDGEML_OK;
}
