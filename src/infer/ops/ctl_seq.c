/* Sequence operators (opset 11+): SequenceConstruct, SequenceEmpty,
 * SequenceAt, SequenceErase, SequenceInsert, SequenceLength. */
#include "ctl.h"

#include <stdlib.h>

static const em_seq *in_seq(em_kctx *c, int i)
{
    const em_value *v = em_in_value(c, i);
    if (!v || v->kind != EM_V_SEQUENCE || !v->seq) return NULL;
    return v->seq;
}

static edgeml_status seq_push(em_kctx *c, em_seq *s, size_t pos, const em_tensor *t)
{
    edgeml_status st = em_seq_insert_copy(s, pos, t);
    if (st == EDGEML_E_NOMEM) return em_fail(c, st, "out of memory inserting into a sequence");
    if (st != EDGEML_OK) return em_fail(c, st, "cannot insert at position %zu", pos);
    return EDGEML_OK;
}

/* Output 0 as a sequence holding src's items, leaving out `skip` (or none
 * when skip >= n). */
static em_seq *copy_seq(em_kctx *c, const em_seq *src, size_t skip, edgeml_status *st)
{
    em_seq *o = em_out_seq(c, 0, src->elem_dtype);
    if (!o) {
        *st = c->err->code ? c->err->code : em_fail(c, EDGEML_E_NOMEM, "out of memory");
        return NULL;
    }
    for (size_t i = 0; i < src->n; i++) {
        if (i == skip) continue;
        *st = seq_push(c, o, o->n, &src->items[i]);
        if (*st) return NULL;
    }
    *st = EDGEML_OK;
    return o;
}

/* Reads the optional position input i; returns false with error set. */
static bool read_pos(em_kctx *c, int i, int64_t *pos, bool *given, edgeml_status *st)
{
    *given = false;
    if (c->node->n_in <= i || c->node->in[i] < 0) return true;
    const em_tensor *t = em_in(c, i);
    if (!t || !ctl_read_index(t, pos) || t->rank > 1) {
        *st = em_fail(c, EDGEML_E_RUNTIME, "input position must be a scalar int32/int64 tensor");
        return false;
    }
    *given = true;
    return true;
}

edgeml_status ctl_seq_construct_run(em_kctx *c)
{
    int n = em_n_in(c);
    if (n < 1) return em_fail(c, EDGEML_E_RUNTIME, "needs at least one input");
    int dt = 0;
    for (int i = 0; i < n; i++) {
        const em_tensor *t = em_in(c, i);
        if (!t) return em_fail(c, EDGEML_E_RUNTIME, "input %d must be a tensor", i);
        if (i == 0) dt = t->dtype;
        else if (t->dtype != dt)
            return em_fail(c, EDGEML_E_RUNTIME, "input %d is %s, input 0 is %s", i,
                           em_dtype_name(t->dtype), em_dtype_name(dt));
    }
    em_seq *o = em_out_seq(c, 0, dt);
    if (!o) return c->err->code ? c->err->code : em_fail(c, EDGEML_E_NOMEM, "out of memory");
    for (int i = 0; i < n; i++) {
        edgeml_status st = seq_push(c, o, o->n, em_in(c, i));
        if (st) return st;
    }
    return EDGEML_OK;
}

edgeml_status ctl_seq_empty_prepare(em_node *node, edgeml_error *err)
{
    int64_t dt = em_attr_int(node, "dtype", EDGEML_FLOAT);
    if (!ctl_dtype_ok((int)dt))
        return em_node_fail(node, err, EDGEML_E_MODEL, "attribute dtype = %lld is not a tensor type",
                            (long long)dt);
    return EDGEML_OK;
}

edgeml_status ctl_seq_empty_run(em_kctx *c)
{
    int dt = (int)em_attr_int(c->node, "dtype", EDGEML_FLOAT);
    em_seq *o = em_out_seq(c, 0, dt);
    if (!o) return c->err->code ? c->err->code : em_fail(c, EDGEML_E_NOMEM, "out of memory");
    return EDGEML_OK;
}

edgeml_status ctl_seq_at_run(em_kctx *c)
{
    const em_seq *s = in_seq(c, 0);
    if (!s) return em_fail(c, EDGEML_E_RUNTIME, "input 0 must be a sequence");
    const em_tensor *pt = em_in(c, 1);
    int64_t pos;
    if (!pt || !ctl_read_index(pt, &pos) || pt->rank > 1)
        return em_fail(c, EDGEML_E_RUNTIME, "input position must be a scalar int32/int64 tensor");
    int64_t n = (int64_t)s->n;
    if (pos < -n || pos >= n)
        return em_fail(c, EDGEML_E_RUNTIME, "position %lld is out of range for a sequence of %lld",
                       (long long)pos, (long long)n);
    if (pos < 0) pos += n;
    const em_tensor *it = &s->items[pos];
    em_tensor *o = em_out(c, 0, it->dtype, it->rank, it->dims);
    if (!o) return c->err->code ? c->err->code : EDGEML_E_NOMEM;
    size_t ne = em_numel(it);
    if (ne) memcpy(o->data, it->data, ne * ctl_esize(it->dtype));
    return EDGEML_OK;
}

edgeml_status ctl_seq_erase_run(em_kctx *c)
{
    const em_seq *s = in_seq(c, 0);
    if (!s) return em_fail(c, EDGEML_E_RUNTIME, "input 0 must be a sequence");
    int64_t pos = -1;
    bool given;
    edgeml_status st = EDGEML_OK;
    if (!read_pos(c, 1, &pos, &given, &st)) return st;
    int64_t n = (int64_t)s->n;
    if (pos < -n || pos >= n)
        return em_fail(c, EDGEML_E_RUNTIME, "position %lld is out of range for a sequence of %lld",
                       (long long)pos, (long long)n);
    if (pos < 0) pos += n;
    copy_seq(c, s, (size_t)pos, &st);
    return st;
}

edgeml_status ctl_seq_insert_run(em_kctx *c)
{
    const em_seq *s = in_seq(c, 0);
    if (!s) return em_fail(c, EDGEML_E_RUNTIME, "input 0 must be a sequence");
    const em_tensor *t = em_in(c, 1);
    if (!t) return em_fail(c, EDGEML_E_RUNTIME, "input tensor must be a tensor");
    if (s->elem_dtype && t->dtype != s->elem_dtype)
        return em_fail(c, EDGEML_E_RUNTIME, "tensor is %s but the sequence holds %s",
                       em_dtype_name(t->dtype), em_dtype_name(s->elem_dtype));
    int64_t n = (int64_t)s->n, pos = n;
    bool given;
    edgeml_status st = EDGEML_OK;
    if (!read_pos(c, 2, &pos, &given, &st)) return st;
    if (pos < -n || pos > n)
        return em_fail(c, EDGEML_E_RUNTIME, "position %lld is out of range [%lld, %lld]",
                       (long long)pos, (long long)-n, (long long)n);
    if (pos < 0) pos += n;
    em_seq *o = copy_seq(c, s, SIZE_MAX, &st);
    if (!o) return st;
    if (!o->elem_dtype) o->elem_dtype = t->dtype;
    return seq_push(c, o, (size_t)pos, t);
}

edgeml_status ctl_seq_length_run(em_kctx *c)
{
    const em_seq *s = in_seq(c, 0);
    if (!s) return em_fail(c, EDGEML_E_RUNTIME, "input 0 must be a sequence");
    em_tensor *o = em_out(c, 0, EDGEML_INT64, 0, NULL);
    if (!o) return c->err->code ? c->err->code : EDGEML_E_NOMEM;
    *(int64_t *)o->data = (int64_t)s->n;
    return EDGEML_OK;
}
