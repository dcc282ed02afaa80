/* Slice (attributes before opset 10, inputs from 10). */
#include "shape_fast.h"

static int64_t clamp64(int64_t v, int64_t lo, int64_t hi) { return v < lo ? lo : (v > hi ? hi : v); }

edgeml_status shape_slice_run(em_kctx *c)
{
    const em_tensor *x = em_in(c, 0);
    if (!x) return em_fail(c, EDGEML_E_RUNTIME, "input 0 missing or not a tensor");
    int r = x->rank;
    int64_t starts[EM_MAX_RANK], ends[EM_MAX_RANK], axes[EM_MAX_RANK], steps[EM_MAX_RANK];
    size_t ns, ne, na, nst;
    edgeml_status st;
    bool has_axes, has_steps = false;
    if (em_opset(c) < 10) {
        const int64_t *a;
        long k = em_attr_ints(c->node, "starts", &a);
        if (k < 0 || k > EM_MAX_RANK) return em_fail(c, EDGEML_E_RUNTIME, "bad or missing 'starts'");
        ns = (size_t)k;
        memcpy(starts, a, ns * sizeof *a);
        k = em_attr_ints(c->node, "ends", &a);
        if (k < 0 || k > EM_MAX_RANK) return em_fail(c, EDGEML_E_RUNTIME, "bad or missing 'ends'");
        ne = (size_t)k;
        memcpy(ends, a, ne * sizeof *a);
        k = em_attr_ints(c->node, "axes", &a);
        has_axes = k >= 0;
        if (k > EM_MAX_RANK) return em_fail(c, EDGEML_E_RUNTIME, "too many axes");
        na = has_axes ? (size_t)k : 0;
        if (na) memcpy(axes, a, na * sizeof *a);
    } else {
        if ((st = shape_read_ints(c, em_in(c, 1), "starts", starts, EM_MAX_RANK, &ns))) return st;
        if ((st = shape_read_ints(c, em_in(c, 2), "ends", ends, EM_MAX_RANK, &ne))) return st;
        const em_tensor *ta = em_n_in(c) > 3 ? em_in(c, 3) : NULL;
        has_axes = ta != NULL;
        na = 0;
        if (ta && (st = shape_read_ints(c, ta, "axes", axes, EM_MAX_RANK, &na))) return st;
        const em_tensor *ts = em_n_in(c) > 4 ? em_in(c, 4) : NULL;
        if (ts) {
            if ((st = shape_read_ints(c, ts, "steps", steps, EM_MAX_RANK, &nst))) return st;
            if (nst != ns) return em_fail(c, EDGEML_E_RUNTIME, "steps has %zu entries, starts %zu", nst, ns);
            has_steps = true;
        }
    }
    if (ne != ns) return em_fail(c, EDGEML_E_RUNTIME, "starts has %zu entries, ends %zu", ns, ne);
    if (has_axes) {
        if (na != ns) return em_fail(c, EDGEML_E_RUNTIME, "axes has %zu entries, starts %zu", na, ns);
    } else {
        if (ns > (size_t)r) return em_fail(c, EDGEML_E_RUNTIME, "starts has %zu entries for rank %d", ns, r);
        for (size_t i = 0; i < ns; i++) axes[i] = (int64_t)i;
    }
    if (!has_steps)
        for (size_t i = 0; i < ns; i++) steps[i] = 1;
    int ax[EM_MAX_RANK];
    if ((st = shape_norm_axes(c, axes, ns, r, ax, "axis"))) return st;

    int64_t xs[EM_MAX_RANK], od[EM_MAX_RANK], vs[EM_MAX_RANK], first[EM_MAX_RANK];
    em_strides(r, x->dims, xs);
    for (int d = 0; d < r; d++) {
        od[d] = x->dims[d];
        vs[d] = xs[d];
        first[d] = 0;
    }
    for (size_t i = 0; i < ns; i++) {
        int a = ax[i];
        int64_t dim = x->dims[a], s = starts[i], e = ends[i], step = steps[i];
        if (step == 0) return em_fail(c, EDGEML_E_RUNTIME, "steps[%zu] is 0", i);
        if (s < 0) s += dim;
        if (e < 0) e += dim;
        int64_t len;
        if (step > 0) {
            s = clamp64(s, 0, dim);
            e = clamp64(e, 0, dim);
            len = e > s ? (e - s - 1) / step + 1 : 0;
        } else {
            s = clamp64(s, 0, dim - 1);
            e = clamp64(e, -1, dim - 1);
            len = (dim > 0 && s > e) ? (int64_t)((uint64_t)(s - e - 1) / ((uint64_t)0 - (uint64_t)step)) + 1 : 0;
        }
        od[a] = len;
        first[a] = len ? s : 0;
        vs[a] = len > 1 ? xs[a] * step : xs[a];
    }
    SHAPE_OUT(y, c, 0, x->dtype, r, od);
    size_t n = em_numel(y);
    if (!n) return EDGEML_OK;
    size_t es = shape_esize(x->dtype);
    int64_t off = 0;
    for (int d = 0; d < r; d++) off += first[d] * xs[d];
    shape_view_fast(c, y->data, (const char *)x->data + off * (int64_t)es, es, r, od, vs);
    return EDGEML_OK;
}
