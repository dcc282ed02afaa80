/* Concat, Split. */
#include "shape_fast.h"

edgeml_status shape_concat_run(em_kctx *c)
{
    int n = em_n_in(c);
    if (n < 1) return em_fail(c, EDGEML_E_RUNTIME, "no inputs");
    const em_tensor *x0 = em_in(c, 0);
    if (!x0) return em_fail(c, EDGEML_E_RUNTIME, "input 0 missing or not a tensor");
    int r = x0->rank;
    if (r < 1) return em_fail(c, EDGEML_E_RUNTIME, "inputs must have rank >= 1");
    const em_attr *aa = em_attr_get(c->node, "axis");
    int64_t axis_v = aa ? aa->i : (em_opset(c) < 4 ? 1 : INT64_MIN);
    if (axis_v == INT64_MIN) return em_fail(c, EDGEML_E_RUNTIME, "attribute 'axis' missing");
    int axis;
    if (!em_axis(axis_v, r, &axis))
        return em_fail(c, EDGEML_E_RUNTIME, "axis %lld out of range for rank %d", (long long)axis_v, r);
    int64_t od[EM_MAX_RANK];
    memcpy(od, x0->dims, (size_t)r * sizeof *od);
    od[axis] = 0;
    char b1[160], b2[160];
    for (int i = 0; i < n; i++) {
        const em_tensor *t = em_in(c, i);
        if (!t) return em_fail(c, EDGEML_E_RUNTIME, "input %d missing or not a tensor", i);
        if (t->dtype != x0->dtype)
            return em_fail(c, EDGEML_E_RUNTIME, "input %d has dtype %s, input 0 %s", i,
                           em_dtype_name(t->dtype), em_dtype_name(x0->dtype));
        bool ok = t->rank == r;
        for (int d = 0; ok && d < r; d++)
            if (d != axis && t->dims[d] != x0->dims[d]) ok = false;
        if (!ok)
            return em_fail(c, EDGEML_E_RUNTIME, "input %d shape %s does not match input 0 %s on axis %d", i,
                           em_shape_str(t->rank, t->dims, b1, sizeof b1),
                           em_shape_str(r, x0->dims, b2, sizeof b2), axis);
        od[axis] += t->dims[axis];
    }
    SHAPE_OUT(y, c, 0, x0->dtype, r, od);
    size_t es = shape_esize(x0->dtype);
    size_t outer = 1, inner = 1;
    for (int d = 0; d < axis; d++) outer *= (size_t)od[d];
    for (int d = axis + 1; d < r; d++) inner *= (size_t)od[d];
    if (!outer || !inner) return EDGEML_OK;
    size_t orow = (size_t)od[axis] * inner * es, off = 0;
    for (int i = 0; i < n; i++) {
        const em_tensor *t = em_in(c, i);
        size_t row = (size_t)t->dims[axis] * inner * es;
        if (!row) continue;
        const char *s = t->data;
        char *d = (char *)y->data + off;
        if (shape_fast_on()) shape_rows_fast(c, d, orow, s, row, row, outer);
        else for (size_t o = 0; o < outer; o++) memcpy(d + o * orow, s + o * row, row);
        off += row;
    }
    return EDGEML_OK;
}

edgeml_status shape_split_run(em_kctx *c)
{
    const em_tensor *x = em_in(c, 0);
    if (!x) return em_fail(c, EDGEML_E_RUNTIME, "input 0 missing or not a tensor");
    int r = x->rank, axis;
    int64_t axis_v = em_attr_int(c->node, "axis", 0);
    if (!em_axis(axis_v, r, &axis))
        return em_fail(c, EDGEML_E_RUNTIME, "axis %lld out of range for rank %d", (long long)axis_v, r);
    int nout = em_n_out(c);
    if (nout < 1) return em_fail(c, EDGEML_E_RUNTIME, "no outputs");
    int64_t *sizes = em_scratch(c, (size_t)nout * sizeof *sizes);
    if (!sizes) return shape_oerr(c);
    int64_t dim = x->dims[axis];
    bool given = false;
    if (em_opset(c) >= 13 || (em_opset(c) < 2 && em_n_in(c) > 1 && em_in(c, 1))) {
        const em_tensor *s = em_n_in(c) > 1 ? em_in(c, 1) : NULL;
        if (s) {
            size_t k;
            edgeml_status st = shape_read_ints(c, s, "split", sizes, (size_t)nout, &k);
            if (st) return st;
            if (k != (size_t)nout)
                return em_fail(c, EDGEML_E_RUNTIME, "split has %zu entries for %d outputs", k, nout);
            given = true;
        }
    } else {
        const int64_t *a;
        long k = em_attr_ints(c->node, "split", &a);
        if (k >= 0) {
            if (k != nout)
                return em_fail(c, EDGEML_E_RUNTIME, "split has %ld entries for %d outputs", k, nout);
            memcpy(sizes, a, (size_t)k * sizeof *sizes);
            given = true;
        }
    }
    if (given) {
        int64_t sum = 0;
        for (int i = 0; i < nout; i++) {
            if (sizes[i] < 0) return em_fail(c, EDGEML_E_RUNTIME, "split[%d] is negative", i);
            sum += sizes[i];
        }
        if (sum != dim)
            return em_fail(c, EDGEML_E_RUNTIME, "split sums to %lld, axis %d has %lld", (long long)sum, axis,
                           (long long)dim);
    } else {
        const em_attr *na = em_opset(c) >= 18 ? em_attr_get(c->node, "num_outputs") : NULL;
        if (na) {
            if (na->i != nout)
                return em_fail(c, EDGEML_E_RUNTIME, "num_outputs %lld but the node has %d outputs",
                               (long long)na->i, nout);
            int64_t chunk = (dim + nout - 1) / nout, left = dim;
            for (int i = 0; i < nout; i++) {
                sizes[i] = left < chunk ? left : chunk;
                left -= sizes[i];
            }
        } else {
            if (dim % nout)
                return em_fail(c, EDGEML_E_RUNTIME, "axis %d of size %lld does not split into %d equal parts",
                               axis, (long long)dim, nout);
            for (int i = 0; i < nout; i++) sizes[i] = dim / nout;
        }
    }
    size_t es = shape_esize(x->dtype);
    size_t outer = 1, inner = 1;
    for (int d = 0; d < axis; d++) outer *= (size_t)x->dims[d];
    for (int d = axis + 1; d < r; d++) inner *= (size_t)x->dims[d];
    size_t irow = (size_t)dim * inner * es, off = 0;
    for (int i = 0; i < nout; i++) {
        int64_t od[EM_MAX_RANK];
        memcpy(od, x->dims, (size_t)r * sizeof *od);
        od[axis] = sizes[i];
        SHAPE_OUT(y, c, i, x->dtype, r, od);
        size_t row = (size_t)sizes[i] * inner * es;
        if (row && outer) {
            char *d = y->data;
            const char *s = (const char *)x->data + off;
            if (shape_fast_on()) shape_rows_fast(c, d, row, s, irow, row, outer);
            else for (size_t o = 0; o < outer; o++) memcpy(d + o * row, s + o * irow, row);
        }
        off += row;
    }
    return EDGEML_OK;
}
