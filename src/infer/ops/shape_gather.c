/* Gather, GatherElements, GatherND. */
#include "shape_fast.h"
#include "../pool.h"

static inline int64_t idx_at(const em_tensor *t, size_t i)
{
    return t->dtype == EDGEML_INT32 ? ((const int32_t *)t->data)[i] : ((const int64_t *)t->data)[i];
}

static edgeml_status check_idx_dtype(em_kctx *c, const em_tensor *t)
{
    if (!t) return em_fail(c, EDGEML_E_RUNTIME, "indices missing or not a tensor");
    if (t->dtype != EDGEML_INT32 && t->dtype != EDGEML_INT64)
        return em_fail(c, EDGEML_E_RUNTIME, "indices must be int32 or int64, got %s", em_dtype_name(t->dtype));
    return EDGEML_OK;
}

static inline void copy_elem(char *d, size_t di, const char *s, size_t si, size_t es)
{
    switch (es) {
    case 1: ((uint8_t *)d)[di] = ((const uint8_t *)s)[si]; break;
    case 2: ((uint16_t *)d)[di] = ((const uint16_t *)s)[si]; break;
    case 4: ((uint32_t *)d)[di] = ((const uint32_t *)s)[si]; break;
    case 8: ((uint64_t *)d)[di] = ((const uint64_t *)s)[si]; break;
    default: memcpy(d + di * es, s + si * es, es);
    }
}

/* Gather rows (inner > 1): out row (a, i) = data row (a, ind[i]), indices already checked. */
typedef struct gather_rows {
    const char *s;
    char *o;
    const em_tensor *ind;
    size_t ni, row;
    int64_t dim;
} gather_rows;

static void gather_units(void *ctx, size_t b, size_t e)
{
    const gather_rows *q = ctx;
    for (size_t u = b; u < e; u++) {
        size_t a = u / q->ni, i = u % q->ni;
        int64_t v = idx_at(q->ind, i);
        if (v < 0) v += q->dim;
        memcpy(q->o + u * q->row, q->s + (a * (size_t)q->dim + (size_t)v) * q->row, q->row);
    }
}

edgeml_status shape_gather_run(em_kctx *c)
{
    const em_tensor *x = em_in(c, 0), *ind = em_in(c, 1);
    if (!x) return em_fail(c, EDGEML_E_RUNTIME, "data missing or not a tensor");
    edgeml_status st = check_idx_dtype(c, ind);
    if (st) return st;
    int r = x->rank, axis;
    if (r < 1) return em_fail(c, EDGEML_E_RUNTIME, "data must have rank >= 1");
    int64_t axis_v = em_attr_int(c->node, "axis", 0);
    if (!em_axis(axis_v, r, &axis))
        return em_fail(c, EDGEML_E_RUNTIME, "axis %lld out of range for rank %d", (long long)axis_v, r);
    int orank = r - 1 + ind->rank;
    if (orank > EM_MAX_RANK) return em_fail(c, EDGEML_E_UNSUPPORTED, "output rank %d above %d", orank, EM_MAX_RANK);
    int64_t od[EM_MAX_RANK];
    int k = 0;
    for (int d = 0; d < axis; d++) od[k++] = x->dims[d];
    for (int d = 0; d < ind->rank; d++) od[k++] = ind->dims[d];
    for (int d = axis + 1; d < r; d++) od[k++] = x->dims[d];
    int64_t dim = x->dims[axis];
    size_t ni = em_numel(ind);
    for (size_t i = 0; i < ni; i++) {
        int64_t v = idx_at(ind, i);
        if (v < -dim || v >= dim)
            return em_fail(c, EDGEML_E_RUNTIME, "index %lld out of range [-%lld, %lld)", (long long)v,
                           (long long)dim, (long long)dim);
    }
    SHAPE_OUT(y, c, 0, x->dtype, orank, od);
    size_t es = shape_esize(x->dtype), outer = 1, inner = 1;
    for (int d = 0; d < axis; d++) outer *= (size_t)x->dims[d];
    for (int d = axis + 1; d < r; d++) inner *= (size_t)x->dims[d];
    if (!em_numel(y)) return EDGEML_OK;
    const char *s = x->data;
    char *o = y->data;
    size_t row = inner * es;
    if (inner > 1 && shape_fast_on()) {
        gather_rows q = {s, o, ind, ni, row, dim};
        size_t units = outer * ni;
        int T = c->threads > 1 && c->pool && units * row >= (size_t)256 * 1024 ? c->threads : 1;
        if (T <= 1) gather_units(&q, 0, units);
        else em_parallel_for(c->pool, T, units, 1, gather_units, &q);
        return EDGEML_OK;
    }
    for (size_t a = 0; a < outer; a++) {
        const char *sb = s + a * (size_t)dim * row;
        if (inner == 1) {
            for (size_t i = 0; i < ni; i++) {
                int64_t v = idx_at(ind, i);
                if (v < 0) v += dim;
                copy_elem(o, i, sb, (size_t)v, es);
            }
            o += ni * es;
        } else {
            for (size_t i = 0; i < ni; i++) {
                int64_t v = idx_at(ind, i);
                if (v < 0) v += dim;
                memcpy(o, sb + (size_t)v * row, row);
                o += row;
            }
        }
    }
    return EDGEML_OK;
}

edgeml_status shape_gather_elements_run(em_kctx *c)
{
    const em_tensor *x = em_in(c, 0), *ind = em_in(c, 1);
    if (!x) return em_fail(c, EDGEML_E_RUNTIME, "data missing or not a tensor");
    edgeml_status st = check_idx_dtype(c, ind);
    if (st) return st;
    int r = x->rank, axis;
    if (r < 1) return em_fail(c, EDGEML_E_RUNTIME, "data must have rank >= 1");
    if (ind->rank != r) return em_fail(c, EDGEML_E_RUNTIME, "indices rank %d differs from data rank %d", (int)ind->rank, r);
    int64_t axis_v = em_attr_int(c->node, "axis", 0);
    if (!em_axis(axis_v, r, &axis))
        return em_fail(c, EDGEML_E_RUNTIME, "axis %lld out of range for rank %d", (long long)axis_v, r);
    for (int d = 0; d < r; d++)
        if (d != axis && ind->dims[d] > x->dims[d])
            return em_fail(c, EDGEML_E_RUNTIME, "indices dim %d (%lld) exceeds data dim (%lld)", d,
                           (long long)ind->dims[d], (long long)x->dims[d]);
    SHAPE_OUT(y, c, 0, x->dtype, r, ind->dims);
    size_t n = em_numel(ind);
    if (!n) return EDGEML_OK;
    int64_t xs[EM_MAX_RANK], idx[EM_MAX_RANK] = {0};
    em_strides(r, x->dims, xs);
    int64_t dim = x->dims[axis], inner = ind->dims[r - 1];
    size_t es = shape_esize(x->dtype);
    for (size_t i = 0; i < n; i += (size_t)inner) {
        int64_t base = 0;
        for (int d = 0; d < r - 1; d++)
            if (d != axis) base += idx[d] * xs[d];
        for (int64_t j = 0; j < inner; j++) {
            int64_t v = idx_at(ind, i + (size_t)j);
            if (v < -dim || v >= dim)
                return em_fail(c, EDGEML_E_RUNTIME, "index %lld out of range [-%lld, %lld)", (long long)v,
                               (long long)dim, (long long)dim);
            if (v < 0) v += dim;
            int64_t off = base + v * xs[axis];
            if (axis != r - 1) off += j; /* xs[r-1] == 1 */
            copy_elem(y->data, i + (size_t)j, x->data, (size_t)off, es);
        }
        for (int d = r - 2; d >= 0; d--) {
            if (++idx[d] < ind->dims[d]) break;
            idx[d] = 0;
        }
    }
    return EDGEML_OK;
}

edgeml_status shape_gather_nd_run(em_kctx *c)
{
    const em_tensor *x = em_in(c, 0), *ind = em_in(c, 1);
    if (!x) return em_fail(c, EDGEML_E_RUNTIME, "data missing or not a tensor");
    edgeml_status st = check_idx_dtype(c, ind);
    if (st) return st;
    int r = x->rank, q = ind->rank;
    int64_t b = em_opset(c) >= 12 ? em_attr_int(c->node, "batch_dims", 0) : 0;
    if (r < 1 || q < 1) return em_fail(c, EDGEML_E_RUNTIME, "data and indices must have rank >= 1");
    if (b < 0 || b >= r || b >= q)
        return em_fail(c, EDGEML_E_RUNTIME, "batch_dims %lld invalid for ranks %d and %d", (long long)b, r, q);
    for (int d = 0; d < b; d++)
        if (x->dims[d] != ind->dims[d])
            return em_fail(c, EDGEML_E_RUNTIME, "batch dim %d differs: data %lld, indices %lld", d,
                           (long long)x->dims[d], (long long)ind->dims[d]);
    int64_t last = ind->dims[q - 1];
    if (last < 1 || last > r - b)
        return em_fail(c, EDGEML_E_RUNTIME, "indices last dim %lld outside [1, %lld]", (long long)last,
                       (long long)(r - b));
    int orank = q - 1 + r - (int)b - (int)last;
    if (orank > EM_MAX_RANK) return em_fail(c, EDGEML_E_UNSUPPORTED, "output rank too large");
    int64_t od[EM_MAX_RANK];
    int k = 0;
    for (int d = 0; d < q - 1; d++) od[k++] = ind->dims[d];
    for (int d = (int)(b + last); d < r; d++) od[k++] = x->dims[d];
    SHAPE_OUT(y, c, 0, x->dtype, orank, od);
    size_t nb = 1, per = 1, slice = 1, xbatch = 1;
    for (int d = 0; d < b; d++) nb *= (size_t)x->dims[d];
    for (int d = (int)b; d < q - 1; d++) per *= (size_t)ind->dims[d];
    for (int d = (int)(b + last); d < r; d++) slice *= (size_t)x->dims[d];
    for (int d = (int)b; d < r; d++) xbatch *= (size_t)x->dims[d];
    int64_t xs[EM_MAX_RANK];
    em_strides(r, x->dims, xs);
    size_t es = shape_esize(x->dtype);
    char *o = y->data;
    for (size_t bi = 0; bi < nb; bi++) {
        for (size_t j = 0; j < per; j++) {
            size_t ib = (bi * per + j) * (size_t)last;
            int64_t off = 0;
            for (int64_t t = 0; t < last; t++) {
                int64_t dim = x->dims[b + t], v = idx_at(ind, ib + (size_t)t);
                if (v < -dim || v >= dim)
                    return em_fail(c, EDGEML_E_RUNTIME, "index %lld out of range for dim %lld of size %lld",
                                   (long long)v, (long long)(b + t), (long long)dim);
                if (v < 0) v += dim;
                off += v * xs[b + t];
            }
            if (slice) {
                memcpy(o, (const char *)x->data + (bi * xbatch + (size_t)off) * es, slice * es);
                o += slice * es;
            }
        }
    }
    return EDGEML_OK;
}
