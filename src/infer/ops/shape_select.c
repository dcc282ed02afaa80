/* Compress, NonZero, Unique, TopK. */
#include "shape.h"

#include <math.h>

/* ---- Compress ------------------------------------------------------------------- */

edgeml_status shape_compress_run(em_kctx *c)
{
    const em_tensor *x = em_in(c, 0), *cond = em_in(c, 1);
    if (!x || !cond) return em_fail(c, EDGEML_E_RUNTIME, "input and condition are required");
    if (cond->rank != 1) return em_fail(c, EDGEML_E_RUNTIME, "condition must be 1-D");
    if (cond->dtype == EDGEML_STRING) return em_fail(c, EDGEML_E_RUNTIME, "condition must be bool");
    const em_attr *aa = em_attr_get(c->node, "axis");
    size_t es = shape_esize(x->dtype), nc = (size_t)cond->dims[0];
    size_t outer = 1, dim, inner = 1;
    int r = x->rank, axis = -1;
    if (aa) {
        if (!em_axis(aa->i, r, &axis))
            return em_fail(c, EDGEML_E_RUNTIME, "axis %lld out of range for rank %d", (long long)aa->i, r);
        for (int d = 0; d < axis; d++) outer *= (size_t)x->dims[d];
        for (int d = axis + 1; d < r; d++) inner *= (size_t)x->dims[d];
        dim = (size_t)x->dims[axis];
    } else {
        dim = em_numel(x);
    }
    size_t cnt = 0;
    for (size_t i = 0; i < nc; i++) {
        if (!shape_elem_nonzero(cond->dtype, cond->data, i)) continue;
        if (i >= dim)
            return em_fail(c, EDGEML_E_RUNTIME, "condition selects index %zu beyond the axis size %zu", i, dim);
        cnt++;
    }
    int64_t od[EM_MAX_RANK];
    if (aa) {
        memcpy(od, x->dims, (size_t)r * sizeof *od);
        od[axis] = (int64_t)cnt;
    } else {
        od[0] = (int64_t)cnt;
    }
    SHAPE_OUT(y, c, 0, x->dtype, aa ? r : 1, od);
    if (!em_numel(y)) return EDGEML_OK;
    char *o = y->data;
    const char *s = x->data;
    size_t row = inner * es, lim = nc < dim ? nc : dim;
    for (size_t a = 0; a < outer; a++)
        for (size_t i = 0; i < lim; i++)
            if (shape_elem_nonzero(cond->dtype, cond->data, i)) {
                memcpy(o, s + (a * dim + i) * row, row);
                o += row;
            }
    return EDGEML_OK;
}

/* ---- NonZero -------------------------------------------------------------------- */

edgeml_status shape_nonzero_run(em_kctx *c)
{
    const em_tensor *x = em_in(c, 0);
    if (!x) return em_fail(c, EDGEML_E_RUNTIME, "input 0 missing or not a tensor");
    size_t n = em_numel(x), nnz = 0;
    for (size_t i = 0; i < n; i++) nnz += shape_elem_nonzero(x->dtype, x->data, i);
    int r = x->rank, rows = r > 0 ? r : 1;
    int64_t od[2] = {rows, (int64_t)nnz};
    SHAPE_OUT(y, c, 0, EDGEML_INT64, 2, od);
    if (!nnz) return EDGEML_OK;
    int64_t *o = y->data, idx[EM_MAX_RANK] = {0};
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        if (shape_elem_nonzero(x->dtype, x->data, i)) {
            if (r == 0) o[k] = 0;
            for (int d = 0; d < r; d++) o[(size_t)d * nnz + k] = idx[d];
            k++;
        }
        for (int d = r - 1; d >= 0; d--) {
            if (++idx[d] < x->dims[d]) break;
            idx[d] = 0;
        }
    }
    return EDGEML_OK;
}

/* ---- Unique --------------------------------------------------------------------- */

typedef struct {
    int dt;
    const void *data;
    size_t outer, dim, inner; /* item k, position (o, i): data[(o*dim + k)*inner + i] */
} uq_ctx;

static int uq_cmp(const void *vctx, size_t a, size_t b)
{
    const uq_ctx *u = vctx;
    if (a == b) return 0;
    for (size_t o = 0; o < u->outer; o++)
        for (size_t i = 0; i < u->inner; i++) {
            int r = shape_cmp_elem(u->dt, u->data, (o * u->dim + a) * u->inner + i, u->data,
                                   (o * u->dim + b) * u->inner + i);
            if (r) return r;
        }
    return 0;
}

static int cmp_by_value(const void *ctx, size_t a, size_t b)
{
    const size_t *first = ctx;
    return first[a] < first[b] ? -1 : (first[a] > first[b] ? 1 : 0);
}

edgeml_status shape_unique_run(em_kctx *c)
{
    const em_tensor *x = em_in(c, 0);
    if (!x) return em_fail(c, EDGEML_E_RUNTIME, "input 0 missing or not a tensor");
    bool sorted = em_attr_int(c->node, "sorted", 1) != 0;
    const em_attr *aa = em_attr_get(c->node, "axis");
    int r = x->rank, axis = -1;
    uq_ctx u = {x->dtype, x->data, 1, em_numel(x), 1};
    if (aa) {
        if (!em_axis(aa->i, r, &axis))
            return em_fail(c, EDGEML_E_RUNTIME, "axis %lld out of range for rank %d", (long long)aa->i, r);
        u.outer = u.inner = 1;
        for (int d = 0; d < axis; d++) u.outer *= (size_t)x->dims[d];
        for (int d = axis + 1; d < r; d++) u.inner *= (size_t)x->dims[d];
        u.dim = (size_t)x->dims[axis];
    }
    size_t n = u.dim;
    /* scratch: order[n], tmp[n], group_of[n] (by item), first[n], count[n], perm[n], rank_of[n] */
    size_t *buf = em_scratch(c, (7 * n + 1) * sizeof(size_t));
    if (!buf) return shape_oerr(c);
    size_t *order = buf, *tmp = buf + n, *grp = buf + 2 * n, *first = buf + 3 * n, *count = buf + 4 * n,
           *perm = buf + 5 * n, *pos = buf + 6 * n;
    for (size_t i = 0; i < n; i++) order[i] = i;
    if (u.outer && u.inner) shape_msort(order, tmp, n, uq_cmp, &u);
    size_t ng = 0;
    bool empty_items = !u.outer || !u.inner; /* all equal */
    for (size_t i = 0; i < n; i++) {
        if (i == 0 || (!empty_items && uq_cmp(&u, order[i - 1], order[i]) != 0)) {
            first[ng] = order[i];
            count[ng] = 0;
            ng++;
        }
        grp[order[i]] = ng - 1;
        count[ng - 1]++;
    }
    /* perm: output position -> group; pos: group -> output position */
    for (size_t g = 0; g < ng; g++) perm[g] = g;
    if (!sorted) shape_msort(perm, tmp, ng, cmp_by_value, first);
    for (size_t p = 0; p < ng; p++) pos[perm[p]] = p;

    int64_t od[EM_MAX_RANK];
    int orank = 1;
    if (aa) {
        memcpy(od, x->dims, (size_t)r * sizeof *od);
        od[axis] = (int64_t)ng;
        orank = r;
    } else {
        od[0] = (int64_t)ng;
    }
    size_t es = shape_esize(x->dtype);
    SHAPE_OUT(y, c, 0, x->dtype, orank, od);
    if (em_numel(y)) {
        char *o = y->data;
        const char *s = x->data;
        size_t row = u.inner * es;
        for (size_t a = 0; a < u.outer; a++)
            for (size_t p = 0; p < ng; p++) {
                memcpy(o, s + (a * u.dim + first[perm[p]]) * row, row);
                o += row;
            }
    }
    int64_t ngd = (int64_t)ng, nd = (int64_t)n;
    if (em_n_out(c) > 1) {
        SHAPE_OUT(yi, c, 1, EDGEML_INT64, 1, &ngd);
        for (size_t p = 0; p < ng; p++) ((int64_t *)yi->data)[p] = (int64_t)first[perm[p]];
    }
    if (em_n_out(c) > 2) {
        SHAPE_OUT(yv, c, 2, EDGEML_INT64, 1, &nd);
        for (size_t i = 0; i < n; i++) ((int64_t *)yv->data)[i] = (int64_t)pos[grp[i]];
    }
    if (em_n_out(c) > 3) {
        SHAPE_OUT(yc, c, 3, EDGEML_INT64, 1, &ngd);
        for (size_t p = 0; p < ng; p++) ((int64_t *)yc->data)[p] = (int64_t)count[perm[p]];
    }
    return EDGEML_OK;
}

/* ---- TopK ----------------------------------------------------------------------- */

typedef struct {
    int dt;
    const void *data;
    size_t base, stride;
    int sign; /* -1: largest first */
} tk_ctx;

static int tk_cmp_f32(const void *vctx, size_t a, size_t b)
{
    const tk_ctx *t = vctx;
    const float *p = (const float *)t->data + t->base;
    float x = p[a * t->stride], y = p[b * t->stride];
    int r;
    if (x < y) r = -1;
    else if (x > y) r = 1;
    else if (x == y) r = 0;
    else r = isnan(x) ? (isnan(y) ? 0 : 1) : -1;
    return r * t->sign;
}

static int tk_cmp(const void *vctx, size_t a, size_t b)
{
    const tk_ctx *t = vctx;
    return t->sign * shape_cmp_elem(t->dt, t->data, t->base + a * t->stride, t->data, t->base + b * t->stride);
}

edgeml_status shape_topk_run(em_kctx *c)
{
    const em_tensor *x = em_in(c, 0);
    if (!x) return em_fail(c, EDGEML_E_RUNTIME, "input 0 missing or not a tensor");
    if (x->dtype == EDGEML_STRING || x->dtype == EDGEML_BOOL)
        return em_fail(c, EDGEML_E_RUNTIME, "unsupported dtype");
    int r = x->rank, axis;
    if (r < 1) return em_fail(c, EDGEML_E_RUNTIME, "input must have rank >= 1");
    int64_t axis_v = em_attr_int(c->node, "axis", -1);
    if (!em_axis(axis_v, r, &axis))
        return em_fail(c, EDGEML_E_RUNTIME, "axis %lld out of range for rank %d", (long long)axis_v, r);
    int64_t k;
    if (em_opset(c) >= 10) {
        edgeml_status st = shape_read_int1(c, em_in(c, 1), "K", &k);
        if (st) return st;
    } else {
        const em_attr *ka = em_attr_get(c->node, "k");
        if (!ka) return em_fail(c, EDGEML_E_RUNTIME, "attribute 'k' missing");
        k = ka->i;
    }
    bool largest = em_opset(c) < 11 || em_attr_int(c->node, "largest", 1) != 0;
    int64_t dim = x->dims[axis];
    if (k < 0 || k > dim)
        return em_fail(c, EDGEML_E_RUNTIME, "K = %lld outside [0, %lld]", (long long)k, (long long)dim);
    int64_t od[EM_MAX_RANK];
    memcpy(od, x->dims, (size_t)r * sizeof *od);
    od[axis] = k;
    SHAPE_OUT(yv, c, 0, x->dtype, r, od);
    int64_t *oi = NULL;
    if (em_n_out(c) > 1) {
        SHAPE_OUT(yi, c, 1, EDGEML_INT64, r, od);
        oi = yi->data;
    }
    if (!em_numel(yv)) return EDGEML_OK;
    size_t outer = 1, inner = 1, es = shape_esize(x->dtype);
    for (int d = 0; d < axis; d++) outer *= (size_t)x->dims[d];
    for (int d = axis + 1; d < r; d++) inner *= (size_t)x->dims[d];
    size_t n = (size_t)dim;
    size_t *idx = em_scratch(c, 2 * n * sizeof *idx);
    if (!idx) return shape_oerr(c);
    size_t *tmp = idx + n;
    tk_ctx t = {x->dtype, x->data, 0, inner, largest ? -1 : 1};
    int (*cmp)(const void *, size_t, size_t) = x->dtype == EDGEML_FLOAT ? tk_cmp_f32 : tk_cmp;
    for (size_t a = 0; a < outer; a++)
        for (size_t i = 0; i < inner; i++) {
            t.base = a * n * inner + i;
            for (size_t j = 0; j < n; j++) idx[j] = j;
            if ((size_t)k == 1) { /* argmax/argmin fast path: first best wins */
                size_t best = 0;
                for (size_t j = 1; j < n; j++)
                    if (cmp(&t, j, best) < 0) best = j;
                idx[0] = best;
            } else {
                shape_msort(idx, tmp, n, cmp, &t);
            }
            size_t ob = a * (size_t)k * inner + i;
            for (int64_t j = 0; j < k; j++) {
                size_t di = ob + (size_t)j * inner, si = t.base + idx[j] * inner;
                memcpy((char *)yv->data + di * es, (const char *)x->data + si * es, es);
                if (oi) oi[di] = (int64_t)idx[j];
            }
        }
    return EDGEML_OK;
}
