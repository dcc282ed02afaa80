/* Constant, ConstantOfShape, Range, EyeLike, OneHot, Trilu. */
#include "shape.h"

#include <math.h>
#include <stdlib.h>

/* ---- Constant ----------------------------------------------------------------- */

typedef struct {
    em_tensor t;           /* data points into the model or into buf */
    uint64_t buf[];        /* storage for value_float(s) / value_int(s) / value_string(s) */
} const_state;

static const_state *const_alloc(int dtype, int rank, int64_t n, size_t es)
{
    size_t bytes = (size_t)n * es;
    const_state *s = calloc(1, sizeof *s + bytes + 8);
    if (!s) return NULL;
    s->t.dtype = dtype;
    s->t.rank = rank;
    if (rank) s->t.dims[0] = n;
    s->t.data = s->buf;
    return s;
}

edgeml_status shape_constant_prepare(em_node *n, edgeml_error *err)
{
    const char *names[] = {"value", "sparse_value", "value_float", "value_floats", "value_int",
                           "value_ints", "value_string", "value_strings"};
    const em_attr *found = NULL;
    int which = -1;
    for (int i = 0; i < 8; i++) {
        const em_attr *a = em_attr_get(n, names[i]);
        if (!a) continue;
        if (found) return em_node_fail(n, err, EDGEML_E_MODEL, "more than one value attribute");
        found = a;
        which = i;
    }
    if (!found) return em_node_fail(n, err, EDGEML_E_MODEL, "no value attribute");
    const_state *s = NULL;
    switch (which) {
    case 0:
        if (!found->t) return em_node_fail(n, err, EDGEML_E_MODEL, "'value' is not a tensor");
        s = calloc(1, sizeof *s);
        if (s) s->t = *found->t;
        break;
    case 1:
        return em_node_fail(n, err, EDGEML_E_UNSUPPORTED, "sparse_value is not supported");
    case 2:
        if ((s = const_alloc(EDGEML_FLOAT, 0, 1, 4))) memcpy(s->buf, &found->f, sizeof found->f);
        break;
    case 3:
        if ((s = const_alloc(EDGEML_FLOAT, 1, (int64_t)found->n, 4)) && found->n)
            memcpy(s->buf, found->floats, found->n * 4);
        break;
    case 4:
        if ((s = const_alloc(EDGEML_INT64, 0, 1, 8))) memcpy(s->buf, &found->i, sizeof found->i);
        break;
    case 5:
        if ((s = const_alloc(EDGEML_INT64, 1, (int64_t)found->n, 8)) && found->n)
            memcpy(s->buf, found->ints, found->n * 8);
        break;
    case 6:
        if ((s = const_alloc(EDGEML_STRING, 0, 1, sizeof(em_str)))) memcpy(s->buf, &found->s, sizeof found->s);
        break;
    case 7:
        if ((s = const_alloc(EDGEML_STRING, 1, (int64_t)found->n, sizeof(em_str))) && found->n)
            memcpy(s->buf, found->strings, found->n * sizeof(em_str));
        break;
    }
    if (!s) return em_node_fail(n, err, EDGEML_E_NOMEM, "out of memory");
    if (!shape_esize(s->t.dtype)) {
        int dt = s->t.dtype;
        free(s);
        return em_node_fail(n, err, EDGEML_E_UNSUPPORTED, "constant of dtype %s", em_dtype_name(dt));
    }
    n->state = s;
    return EDGEML_OK;
}

edgeml_status shape_constant_run(em_kctx *c)
{
    const const_state *s = c->node->state;
    SHAPE_OUT(y, c, 0, s->t.dtype, s->t.rank, s->t.dims);
    shape_copy(y->data, s->t.data, em_numel(&s->t), shape_esize(s->t.dtype));
    return EDGEML_OK;
}

/* ---- ConstantOfShape -------------------------------------------------------------- */

typedef struct { int dtype; uint64_t val[4]; } cos_state;

edgeml_status shape_constant_of_shape_prepare(em_node *n, edgeml_error *err)
{
    cos_state *s = calloc(1, sizeof *s);
    if (!s) return em_node_fail(n, err, EDGEML_E_NOMEM, "out of memory");
    s->dtype = EDGEML_FLOAT;
    const em_attr *a = em_attr_get(n, "value");
    if (a) {
        if (!a->t || em_numel(a->t) != 1) {
            free(s);
            return em_node_fail(n, err, EDGEML_E_MODEL, "'value' must be a one-element tensor");
        }
        size_t es = shape_esize(a->t->dtype);
        if (!es || es > sizeof s->val) {
            free(s);
            return em_node_fail(n, err, EDGEML_E_UNSUPPORTED, "value of dtype %s", em_dtype_name(a->t->dtype));
        }
        s->dtype = a->t->dtype;
        memcpy(s->val, a->t->data, es);
    }
    n->state = s;
    return EDGEML_OK;
}

static void fill_elems(void *dst, const void *val, size_t n, size_t es)
{
    switch (es) {
    case 1: memset(dst, *(const uint8_t *)val, n); break;
    case 2: { uint16_t v; memcpy(&v, val, 2); for (size_t i = 0; i < n; i++) ((uint16_t *)dst)[i] = v; break; }
    case 4: { uint32_t v; memcpy(&v, val, 4); for (size_t i = 0; i < n; i++) ((uint32_t *)dst)[i] = v; break; }
    case 8: { uint64_t v; memcpy(&v, val, 8); for (size_t i = 0; i < n; i++) ((uint64_t *)dst)[i] = v; break; }
    default: for (size_t i = 0; i < n; i++) memcpy((char *)dst + i * es, val, es);
    }
}

edgeml_status shape_constant_of_shape_run(em_kctx *c)
{
    const cos_state *s = c->node->state;
    int64_t sh[EM_MAX_RANK];
    size_t n;
    edgeml_status st = shape_read_ints(c, em_in(c, 0), "input", sh, EM_MAX_RANK, &n);
    if (st) return st;
    for (size_t i = 0; i < n; i++)
        if (sh[i] < 0) return em_fail(c, EDGEML_E_RUNTIME, "shape[%zu] = %lld is negative", i, (long long)sh[i]);
    SHAPE_OUT(y, c, 0, s->dtype, (int)n, sh);
    fill_elems(y->data, s->val, em_numel(y), shape_esize(s->dtype));
    return EDGEML_OK;
}

/* ---- Range -------------------------------------------------------------------------- */

edgeml_status shape_range_run(em_kctx *c)
{
    const em_tensor *ts = em_in(c, 0), *tl = em_in(c, 1), *td = em_in(c, 2);
    if (!ts || !tl || !td) return em_fail(c, EDGEML_E_RUNTIME, "start, limit and delta are required");
    int dt = ts->dtype;
    if (tl->dtype != dt || td->dtype != dt)
        return em_fail(c, EDGEML_E_RUNTIME, "start, limit and delta must have the same dtype");
    if (em_numel(ts) != 1 || em_numel(tl) != 1 || em_numel(td) != 1 || ts->rank > 1 || tl->rank > 1 || td->rank > 1)
        return em_fail(c, EDGEML_E_RUNTIME, "start, limit and delta must be scalars");
    int64_t n;
    if (em_dtype_is_int(dt)) {
        int64_t s = em_get_i64(ts->data, dt, 0), l = em_get_i64(tl->data, dt, 0), d = em_get_i64(td->data, dt, 0);
        if (d == 0) return em_fail(c, EDGEML_E_RUNTIME, "delta is 0");
        uint64_t diff, ad;
        if (d > 0) {
            if (l <= s) { n = 0; goto out; }
            diff = (uint64_t)l - (uint64_t)s;
            ad = (uint64_t)d;
        } else {
            if (l >= s) { n = 0; goto out; }
            diff = (uint64_t)s - (uint64_t)l;
            ad = (uint64_t)0 - (uint64_t)d;
        }
        uint64_t q = diff / ad + (diff % ad != 0);
        if (q > (uint64_t)INT64_MAX) return em_fail(c, EDGEML_E_RUNTIME, "range too large");
        n = (int64_t)q;
    out:;
        SHAPE_OUT(y, c, 0, dt, 1, &n);
        for (int64_t i = 0; i < n; i++)
            em_set_i64(y->data, dt, (size_t)i, (int64_t)((uint64_t)s + (uint64_t)i * (uint64_t)d));
        return EDGEML_OK;
    }
    if (!em_dtype_is_float(dt)) return em_fail(c, EDGEML_E_RUNTIME, "unsupported dtype");
    double s = em_get_f64(ts->data, dt, 0), l = em_get_f64(tl->data, dt, 0), d = em_get_f64(td->data, dt, 0);
    double cnt;
    if (dt == EDGEML_DOUBLE) cnt = ceil((l - s) / d);
    else cnt = ceilf((float)((float)((float)l - (float)s) / (float)d));
    if (d == 0 || isnan(cnt)) return em_fail(c, EDGEML_E_RUNTIME, "invalid range (delta %g)", d);
    if (cnt < 0) cnt = 0;
    if (cnt > 9.0e15) return em_fail(c, EDGEML_E_RUNTIME, "range too large");
    n = (int64_t)cnt;
    SHAPE_OUT(y, c, 0, dt, 1, &n);
    if (dt == EDGEML_FLOAT) {
        float fs = (float)s, fd = (float)d;
        for (int64_t i = 0; i < n; i++) ((float *)y->data)[i] = fs + (float)i * fd;
    } else {
        for (int64_t i = 0; i < n; i++) em_set_f64(y->data, dt, (size_t)i, s + (double)i * d);
    }
    return EDGEML_OK;
}

/* ---- EyeLike ------------------------------------------------------------------------ */

edgeml_status shape_eyelike_run(em_kctx *c)
{
    const em_tensor *x = em_in(c, 0);
    if (!x || x->rank != 2) return em_fail(c, EDGEML_E_RUNTIME, "input must be a 2-D tensor");
    int dt = (int)em_attr_int(c->node, "dtype", x->dtype);
    if (!shape_esize(dt) || dt == EDGEML_STRING)
        return em_fail(c, EDGEML_E_RUNTIME, "unsupported output dtype %s", em_dtype_name(dt));
    int64_t k = em_attr_int(c->node, "k", 0);
    SHAPE_OUT(y, c, 0, dt, 2, x->dims);
    size_t n = em_numel(y);
    if (n) memset(y->data, 0, n * shape_esize(dt));
    int64_t R = x->dims[0], C = x->dims[1];
    for (int64_t i = 0; i < R; i++) {
        int64_t j = i + k;
        if (j >= 0 && j < C) em_set_f64(y->data, dt, (size_t)(i * C + j), 1.0);
    }
    return EDGEML_OK;
}

/* ---- OneHot ------------------------------------------------------------------------- */

edgeml_status shape_onehot_run(em_kctx *c)
{
    const em_tensor *ind = em_in(c, 0), *dep = em_in(c, 1), *val = em_in(c, 2);
    if (!ind || !dep || !val) return em_fail(c, EDGEML_E_RUNTIME, "indices, depth and values are required");
    if (!em_dtype_is_int(ind->dtype) && !em_dtype_is_float(ind->dtype))
        return em_fail(c, EDGEML_E_RUNTIME, "indices must be numeric");
    if ((!em_dtype_is_int(dep->dtype) && !em_dtype_is_float(dep->dtype)) || em_numel(dep) != 1 || dep->rank > 1)
        return em_fail(c, EDGEML_E_RUNTIME, "depth must be a numeric scalar");
    if (em_numel(val) != 2 || val->rank != 1) return em_fail(c, EDGEML_E_RUNTIME, "values must have 2 elements");
    double dv = em_get_f64(dep->data, dep->dtype, 0);
    if (!(dv >= 1) || dv > 1e15) return em_fail(c, EDGEML_E_RUNTIME, "depth %g invalid", dv);
    int64_t depth = (int64_t)dv;
    int r = ind->rank;
    if (r + 1 > EM_MAX_RANK) return em_fail(c, EDGEML_E_UNSUPPORTED, "output rank too large");
    int64_t axis = em_attr_int(c->node, "axis", -1);
    if (axis < -(r + 1) || axis > r)
        return em_fail(c, EDGEML_E_RUNTIME, "axis %lld out of range for rank %d", (long long)axis, r + 1);
    if (axis < 0) axis += r + 1;
    int64_t od[EM_MAX_RANK];
    size_t outer = 1, inner = 1;
    for (int d = 0, k = 0; d <= r; d++) {
        if (d == axis) { od[d] = depth; continue; }
        od[d] = ind->dims[k];
        if (d < axis) outer *= (size_t)ind->dims[k];
        else inner *= (size_t)ind->dims[k];
        k++;
    }
    SHAPE_OUT(y, c, 0, val->dtype, r + 1, od);
    size_t es = shape_esize(val->dtype), n = em_numel(y);
    if (!n) return EDGEML_OK;
    const char *off = val->data, *on = (const char *)val->data + es;
    fill_elems(y->data, off, n, es);
    bool fl = em_dtype_is_float(ind->dtype);
    for (size_t o = 0; o < outer; o++)
        for (size_t i = 0; i < inner; i++) {
            size_t src = o * inner + i;
            int64_t v;
            if (fl) {
                double f = em_get_f64(ind->data, ind->dtype, src);
                if (!(f > -9e18 && f < 9e18)) continue;
                v = (int64_t)f;
            } else {
                v = em_get_i64(ind->data, ind->dtype, src);
            }
            if (v < -depth || v >= depth) continue;
            if (v < 0) v += depth;
            memcpy((char *)y->data + ((o * (size_t)depth + (size_t)v) * inner + i) * es, on, es);
        }
    return EDGEML_OK;
}

/* ---- Trilu -------------------------------------------------------------------------- */

edgeml_status shape_trilu_run(em_kctx *c)
{
    const em_tensor *x = em_in(c, 0);
    if (!x || x->rank < 2) return em_fail(c, EDGEML_E_RUNTIME, "input must have rank >= 2");
    int64_t k = 0;
    const em_tensor *tk = em_n_in(c) > 1 ? em_in(c, 1) : NULL;
    if (tk) {
        edgeml_status st = shape_read_int1(c, tk, "k", &k);
        if (st) return st;
    }
    bool upper = em_attr_int(c->node, "upper", 1) != 0;
    SHAPE_OUT(y, c, 0, x->dtype, x->rank, x->dims);
    size_t es = shape_esize(x->dtype), n = em_numel(x);
    if (!n) return EDGEML_OK;
    memcpy(y->data, x->data, n * es);
    int64_t R = x->dims[x->rank - 2], C = x->dims[x->rank - 1];
    size_t mats = n / (size_t)(R * C);
    if (k > R + C) k = R + C;
    if (k < -(R + C)) k = -(R + C);
    char *p = y->data;
    for (size_t m = 0; m < mats; m++) {
        for (int64_t i = 0; i < R; i++) {
            char *row = p + ((size_t)m * (size_t)(R * C) + (size_t)(i * C)) * es;
            /* keep j - i >= k (upper) or j - i <= k (lower); zero the rest */
            int64_t lo, hi; /* zero range [lo, hi) */
            if (upper) {
                lo = 0;
                hi = i + k;
            } else {
                lo = i + k + 1;
                hi = C;
            }
            if (lo < 0) lo = 0;
            if (hi > C) hi = C;
            if (lo > C) lo = C;
            if (hi > lo) memset(row + lo * (int64_t)es, 0, (size_t)(hi - lo) * es);
        }
    }
    return EDGEML_OK;
}
