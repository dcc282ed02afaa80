/* Pad (constant / reflect / edge / wrap), CenterCropPad. */
#include "shape.h"

#include <stdlib.h>

enum { PAD_CONSTANT = 0, PAD_REFLECT, PAD_EDGE, PAD_WRAP };

typedef struct { int mode; } pad_state;

edgeml_status shape_pad_prepare(em_node *n, edgeml_error *err)
{
    const char *m = em_attr_str(n, "mode", "constant");
    int mode;
    if (strcmp(m, "constant") == 0) mode = PAD_CONSTANT;
    else if (strcmp(m, "reflect") == 0) mode = PAD_REFLECT;
    else if (strcmp(m, "edge") == 0) mode = PAD_EDGE;
    else if (strcmp(m, "wrap") == 0 && n->opset >= 19) mode = PAD_WRAP;
    else return em_node_fail(n, err, EDGEML_E_MODEL, "unknown mode '%s'", m);
    if (n->opset < 11) {
        const int64_t *p;
        long k = em_attr_ints(n, n->opset < 2 ? "paddings" : "pads", &p);
        if (k < 0) return em_node_fail(n, err, EDGEML_E_MODEL, "attribute '%s' missing", n->opset < 2 ? "paddings" : "pads");
    }
    pad_state *s = malloc(sizeof *s);
    if (!s) return em_node_fail(n, err, EDGEML_E_NOMEM, "out of memory");
    s->mode = mode;
    n->state = s;
    return EDGEML_OK;
}

static inline void put_elem(char *d, size_t di, const char *s, size_t si, size_t es)
{
    switch (es) {
    case 1: ((uint8_t *)d)[di] = ((const uint8_t *)s)[si]; break;
    case 2: ((uint16_t *)d)[di] = ((const uint16_t *)s)[si]; break;
    case 4: ((uint32_t *)d)[di] = ((const uint32_t *)s)[si]; break;
    case 8: ((uint64_t *)d)[di] = ((const uint64_t *)s)[si]; break;
    default: memcpy(d + di * es, s + si * es, es);
    }
}

/* Pads/crops x by pb/pe per dim (negative: crop first), filling with cval (es bytes). */
static edgeml_status pad_do(em_kctx *c, const em_tensor *x, const int64_t *pb, const int64_t *pe, int mode,
                            const void *cval)
{
    int r = x->rank;
    int64_t od[EM_MAX_RANK];
    size_t total = 0;
    for (int d = 0; d < r; d++) {
        int64_t n = x->dims[d];
        int64_t o;
        if (__builtin_add_overflow(n, pb[d], &o) || __builtin_add_overflow(o, pe[d], &o))
            return em_fail(c, EDGEML_E_RUNTIME, "pads on axis %d overflow", d);
        if (o < 0)
            return em_fail(c, EDGEML_E_RUNTIME, "pads %lld,%lld make axis %d of size %lld negative", (long long)pb[d],
                           (long long)pe[d], d, (long long)n);
        od[d] = o;
        total += (size_t)o;
    }
    SHAPE_OUT(y, c, 0, x->dtype, r, od);
    size_t on = em_numel(y), es = shape_esize(x->dtype);
    if (!on) return EDGEML_OK;
    int64_t *map = em_scratch(c, (total + 1) * sizeof *map);
    if (!map) return shape_oerr(c);
    int64_t *mp[EM_MAX_RANK];
    int64_t xs[EM_MAX_RANK];
    em_strides(r, x->dims, xs);
    size_t off = 0;
    for (int d = 0; d < r; d++) {
        mp[d] = map + off;
        off += (size_t)od[d];
        int64_t n = x->dims[d];
        int64_t c0 = pb[d] < 0 ? -pb[d] : 0;
        int64_t m = n - c0 - (pe[d] < 0 ? -pe[d] : 0);
        int64_t lead = pb[d] > 0 ? pb[d] : 0;
        for (int64_t o = 0; o < od[d]; o++) {
            int64_t i = o - lead, v;
            if (i >= 0 && i < m) {
                v = i;
            } else if (mode == PAD_CONSTANT) {
                mp[d][o] = -1;
                continue;
            } else if (m <= 0) {
                return em_fail(c, EDGEML_E_RUNTIME, "cannot pad an empty axis %d in this mode", d);
            } else if (mode == PAD_EDGE) {
                v = i < 0 ? 0 : m - 1;
            } else if (mode == PAD_WRAP) {
                v = ((i % m) + m) % m;
            } else { /* reflect */
                if (m == 1) v = 0;
                else {
                    int64_t p = 2 * (m - 1);
                    v = ((i % p) + p) % p;
                    if (v >= m) v = p - v;
                }
            }
            mp[d][o] = (c0 + v) * xs[d];
        }
    }
    char *out = y->data;
    const char *in = x->data;
    const char *cv = cval;
    if (r == 0) { memcpy(out, in, es); return EDGEML_OK; }
    int64_t idx[EM_MAX_RANK] = {0};
    int64_t inner = od[r - 1];
    const int64_t *im = mp[r - 1];
    size_t pos = 0;
    for (;;) {
        int64_t base = 0;
        bool fill = false;
        for (int d = 0; d < r - 1; d++) {
            int64_t v = mp[d][idx[d]];
            if (v < 0) { fill = true; break; }
            base += v;
        }
        if (fill) {
            for (int64_t o = 0; o < inner; o++) put_elem(out, pos + (size_t)o, cv, 0, es);
        } else {
            for (int64_t o = 0; o < inner; o++) {
                int64_t v = im[o];
                if (v < 0) put_elem(out, pos + (size_t)o, cv, 0, es);
                else put_elem(out, pos + (size_t)o, in, (size_t)(base + v), es);
            }
        }
        pos += (size_t)inner;
        int d = r - 2;
        for (; d >= 0; d--) {
            if (++idx[d] < od[d]) break;
            idx[d] = 0;
        }
        if (d < 0) break;
    }
    return EDGEML_OK;
}

edgeml_status shape_pad_run(em_kctx *c)
{
    const pad_state *s = c->node->state;
    const em_tensor *x = em_in(c, 0);
    if (!x) return em_fail(c, EDGEML_E_RUNTIME, "input 0 missing or not a tensor");
    int r = x->rank;
    int64_t pads[2 * EM_MAX_RANK], pb[EM_MAX_RANK] = {0}, pe[EM_MAX_RANK] = {0};
    size_t np;
    uint64_t cbuf[4] = {0}; /* constant value bytes, zero by default */
    size_t es = shape_esize(x->dtype);
    edgeml_status st;
    if (em_opset(c) < 11) {
        const int64_t *p;
        long k = em_attr_ints(c->node, em_opset(c) < 2 ? "paddings" : "pads", &p);
        if (k < 0 || k > 2 * EM_MAX_RANK) return em_fail(c, EDGEML_E_RUNTIME, "bad pads attribute");
        np = (size_t)k;
        memcpy(pads, p, np * sizeof *p);
        double v = em_attr_float(c->node, "value", 0.0f);
        if (x->dtype != EDGEML_STRING) em_set_f64(cbuf, x->dtype, 0, v);
    } else {
        if ((st = shape_read_ints(c, em_in(c, 1), "pads", pads, 2 * EM_MAX_RANK, &np))) return st;
        const em_tensor *cv = em_n_in(c) > 2 ? em_in(c, 2) : NULL;
        if (cv && em_numel(cv) > 0) {
            if (cv->dtype != x->dtype)
                return em_fail(c, EDGEML_E_RUNTIME, "constant_value dtype %s differs from input %s",
                               em_dtype_name(cv->dtype), em_dtype_name(x->dtype));
            memcpy(cbuf, cv->data, es);
        }
    }
    const em_tensor *ta = em_opset(c) >= 18 && em_n_in(c) > 3 ? em_in(c, 3) : NULL;
    if (ta) {
        int64_t axes[EM_MAX_RANK];
        int ax[EM_MAX_RANK];
        size_t na;
        if ((st = shape_read_ints(c, ta, "axes", axes, EM_MAX_RANK, &na))) return st;
        if ((st = shape_norm_axes(c, axes, na, r, ax, "axis"))) return st;
        if (np != 2 * na) return em_fail(c, EDGEML_E_RUNTIME, "pads has %zu entries for %zu axes", np, na);
        for (size_t i = 0; i < na; i++) {
            pb[ax[i]] = pads[i];
            pe[ax[i]] = pads[na + i];
        }
    } else {
        if (np != 2 * (size_t)r) return em_fail(c, EDGEML_E_RUNTIME, "pads has %zu entries for rank %d", np, r);
        for (int i = 0; i < r; i++) {
            pb[i] = pads[i];
            pe[i] = pads[r + i];
        }
    }
    return pad_do(c, x, pb, pe, s ? s->mode : PAD_CONSTANT, cbuf);
}

edgeml_status shape_center_crop_pad_run(em_kctx *c)
{
    const em_tensor *x = em_in(c, 0);
    if (!x) return em_fail(c, EDGEML_E_RUNTIME, "input 0 missing or not a tensor");
    int r = x->rank;
    int64_t sh[EM_MAX_RANK];
    size_t n;
    edgeml_status st = shape_read_ints(c, em_in(c, 1), "shape", sh, EM_MAX_RANK, &n);
    if (st) return st;
    int ax[EM_MAX_RANK];
    const int64_t *a;
    long k = em_attr_ints(c->node, "axes", &a);
    if (k >= 0) {
        if ((size_t)k != n) return em_fail(c, EDGEML_E_RUNTIME, "shape has %zu entries for %ld axes", n, k);
        if ((st = shape_norm_axes(c, a, n, r, ax, "axis"))) return st;
    } else {
        if ((int)n != r) return em_fail(c, EDGEML_E_RUNTIME, "shape has %zu entries for rank %d", n, r);
        for (int i = 0; i < r; i++) ax[i] = i;
    }
    int64_t pb[EM_MAX_RANK] = {0}, pe[EM_MAX_RANK] = {0};
    for (size_t i = 0; i < n; i++) {
        int64_t dim = x->dims[ax[i]], t = sh[i];
        if (t < 0) return em_fail(c, EDGEML_E_RUNTIME, "shape[%zu] is negative", i);
        pb[ax[i]] = t >= dim ? (t - dim) / 2 : -((dim - t) / 2);
        pe[ax[i]] = t - dim - pb[ax[i]];
    }
    uint64_t zero[4] = {0};
    return pad_do(c, x, pb, pe, PAD_CONSTANT, zero);
}
