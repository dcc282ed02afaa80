/* Expand, Tile: broadcast views. */
#include "shape.h"

edgeml_status shape_expand_run(em_kctx *c)
{
    const em_tensor *x = em_in(c, 0);
    if (!x) return em_fail(c, EDGEML_E_RUNTIME, "input 0 missing or not a tensor");
    int64_t sh[EM_MAX_RANK];
    size_t n;
    edgeml_status st = shape_read_ints(c, em_in(c, 1), "shape", sh, EM_MAX_RANK, &n);
    if (st) return st;
    int r = x->rank, orank = (int)n > r ? (int)n : r;
    int64_t od[EM_MAX_RANK], vs[EM_MAX_RANK], xs[EM_MAX_RANK];
    em_strides(r, x->dims, xs);
    char b1[160], b2[160];
    for (int i = 0; i < orank; i++) {
        int xi = i - (orank - r), si = i - (orank - (int)n);
        int64_t a = xi >= 0 ? x->dims[xi] : 1, b = si >= 0 ? sh[si] : 1;
        if (b < 0) return em_fail(c, EDGEML_E_RUNTIME, "shape has negative dim %lld", (long long)b);
        if (a == b || b == 1) od[i] = a;
        else if (a == 1) od[i] = b;
        else
            return em_fail(c, EDGEML_E_RUNTIME, "cannot broadcast %s to %s",
                           em_shape_str(r, x->dims, b1, sizeof b1), em_shape_str((int)n, sh, b2, sizeof b2));
        vs[i] = (xi >= 0 && a == od[i] && a != 1) ? xs[xi] : 0;
    }
    SHAPE_OUT(y, c, 0, x->dtype, orank, od);
    if (em_numel(y)) shape_copy_view(y->data, x->data, shape_esize(x->dtype), orank, od, vs);
    return EDGEML_OK;
}

edgeml_status shape_tile_run(em_kctx *c)
{
    const em_tensor *x = em_in(c, 0);
    if (!x) return em_fail(c, EDGEML_E_RUNTIME, "input 0 missing or not a tensor");
    int64_t rep[EM_MAX_RANK];
    size_t n;
    int r = x->rank;
    edgeml_status st;
    if (em_opset(c) < 6) { /* Tile-1: scalar inputs tiles and axis */
        int64_t tiles, axis;
        int ax;
        if ((st = shape_read_int1(c, em_in(c, 1), "tiles", &tiles))) return st;
        if ((st = shape_read_int1(c, em_in(c, 2), "axis", &axis))) return st;
        if (!em_axis(axis, r, &ax))
            return em_fail(c, EDGEML_E_RUNTIME, "axis %lld out of range for rank %d", (long long)axis, r);
        for (int i = 0; i < r; i++) rep[i] = i == ax ? tiles : 1;
        n = (size_t)r;
    } else if ((st = shape_read_ints(c, em_in(c, 1), "repeats", rep, EM_MAX_RANK, &n))) {
        return st;
    }
    if ((int)n != r) return em_fail(c, EDGEML_E_RUNTIME, "repeats has %zu entries for rank %d", n, r);
    int64_t od[EM_MAX_RANK], xs[EM_MAX_RANK], vd[2 * EM_MAX_RANK], vs[2 * EM_MAX_RANK];
    em_strides(r, x->dims, xs);
    for (int i = 0; i < r; i++) {
        if (rep[i] < 0) return em_fail(c, EDGEML_E_RUNTIME, "repeats[%d] = %lld is negative", i, (long long)rep[i]);
        if (x->dims[i] && rep[i] > INT64_MAX / x->dims[i]) return em_fail(c, EDGEML_E_RUNTIME, "output too large");
        od[i] = x->dims[i] * rep[i];
        vd[2 * i] = rep[i];
        vs[2 * i] = 0;
        vd[2 * i + 1] = x->dims[i];
        vs[2 * i + 1] = xs[i];
    }
    SHAPE_OUT(y, c, 0, x->dtype, r, od);
    if (em_numel(y)) shape_copy_view(y->data, x->data, shape_esize(x->dtype), 2 * r, vd, vs);
    return EDGEML_OK;
}
