/* Transpose, DepthToSpace, SpaceToDepth: strided copies. */
#include "shape_fast.h"

#include <stdlib.h>

edgeml_status shape_transpose_prepare(em_node *n, edgeml_error *err)
{
    const int64_t *p;
    long k = em_attr_ints(n, "perm", &p);
    if (k < 0) return EDGEML_OK;
    if (k > EM_MAX_RANK) return em_node_fail(n, err, EDGEML_E_UNSUPPORTED, "perm longer than %d", EM_MAX_RANK);
    bool seen[EM_MAX_RANK] = {false};
    for (long i = 0; i < k; i++) {
        if (p[i] < 0 || p[i] >= k || seen[p[i]])
            return em_node_fail(n, err, EDGEML_E_MODEL, "perm is not a permutation of 0..%ld", k - 1);
        seen[p[i]] = true;
    }
    return EDGEML_OK;
}

edgeml_status shape_transpose_run(em_kctx *c)
{
    const em_tensor *x = em_in(c, 0);
    if (!x) return em_fail(c, EDGEML_E_RUNTIME, "input 0 missing or not a tensor");
    int r = x->rank;
    int64_t perm[EM_MAX_RANK];
    const int64_t *p;
    long k = em_attr_ints(c->node, "perm", &p);
    if (k < 0) {
        for (int i = 0; i < r; i++) perm[i] = r - 1 - i;
    } else {
        if (k != r) return em_fail(c, EDGEML_E_RUNTIME, "perm has %ld entries for rank %d", k, r);
        for (int i = 0; i < r; i++) perm[i] = p[i];
    }
    int64_t xs[EM_MAX_RANK], d[EM_MAX_RANK], s[EM_MAX_RANK];
    em_strides(r, x->dims, xs);
    for (int i = 0; i < r; i++) {
        d[i] = x->dims[perm[i]];
        s[i] = xs[perm[i]];
    }
    SHAPE_OUT(y, c, 0, x->dtype, r, d);
    if (em_numel(x)) shape_view_fast(c, y->data, x->data, shape_esize(x->dtype), r, d, s);
    return EDGEML_OK;
}

/* ---- DepthToSpace / SpaceToDepth -------------------------------------------- */

typedef struct { int64_t b; bool crd; } d2s_state;

static edgeml_status bs_prepare(em_node *n, edgeml_error *err, bool d2s)
{
    int64_t b = em_attr_int(n, "blocksize", 0);
    if (b <= 0) return em_node_fail(n, err, EDGEML_E_MODEL, "blocksize must be positive");
    d2s_state *s = malloc(sizeof *s);
    if (!s) return em_node_fail(n, err, EDGEML_E_NOMEM, "out of memory");
    s->b = b;
    s->crd = false;
    if (d2s) {
        const char *m = em_attr_str(n, "mode", "DCR");
        if (strcmp(m, "CRD") == 0) s->crd = true;
        else if (strcmp(m, "DCR") != 0) {
            free(s);
            return em_node_fail(n, err, EDGEML_E_MODEL, "unknown mode '%s'", m);
        }
    }
    n->state = s;
    return EDGEML_OK;
}

edgeml_status shape_d2s_prepare(em_node *n, edgeml_error *err) { return bs_prepare(n, err, true); }
edgeml_status shape_s2d_prepare(em_node *n, edgeml_error *err) { return bs_prepare(n, err, false); }

edgeml_status shape_d2s_run(em_kctx *c)
{
    const d2s_state *s = c->node->state;
    const em_tensor *x = em_in(c, 0);
    if (!x || x->rank != 4) return em_fail(c, EDGEML_E_RUNTIME, "input must be 4-D");
    int64_t N = x->dims[0], C = x->dims[1], H = x->dims[2], W = x->dims[3], b = s->b;
    if (C % (b * b)) return em_fail(c, EDGEML_E_RUNTIME, "channels %lld not divisible by blocksize^2", (long long)C);
    int64_t Co = C / (b * b);
    int64_t od[4] = {N, Co, H * b, W * b};
    SHAPE_OUT(y, c, 0, x->dtype, 4, od);
    /* view of y as [N, Co, H, b1, W, b2] */
    int64_t vd[6] = {N, Co, H, b, W, b}, vs[6];
    int64_t HW = H * W;
    vs[0] = C * HW;
    vs[2] = W;
    vs[4] = 1;
    if (s->crd) { /* channel = co*b*b + b1*b + b2 */
        vs[1] = b * b * HW;
        vs[3] = b * HW;
        vs[5] = HW;
    } else { /* channel = (b1*b + b2)*Co + co */
        vs[1] = HW;
        vs[3] = b * Co * HW;
        vs[5] = Co * HW;
    }
    if (em_numel(x)) shape_view_fast(c, y->data, x->data, shape_esize(x->dtype), 6, vd, vs);
    return EDGEML_OK;
}

edgeml_status shape_s2d_run(em_kctx *c)
{
    const d2s_state *s = c->node->state;
    const em_tensor *x = em_in(c, 0);
    if (!x || x->rank != 4) return em_fail(c, EDGEML_E_RUNTIME, "input must be 4-D");
    int64_t N = x->dims[0], C = x->dims[1], H = x->dims[2], W = x->dims[3], b = s->b;
    if (H % b || W % b)
        return em_fail(c, EDGEML_E_RUNTIME, "spatial dims %lldx%lld not divisible by blocksize %lld",
                       (long long)H, (long long)W, (long long)b);
    int64_t od[4] = {N, C * b * b, H / b, W / b};
    SHAPE_OUT(y, c, 0, x->dtype, 4, od);
    /* view of y as [N, b1, b2, C, H', W'] reading x[n, c, h'*b+b1, w'*b+b2] */
    int64_t vd[6] = {N, b, b, C, H / b, W / b};
    int64_t vs[6] = {C * H * W, W, 1, H * W, b * W, b};
    if (em_numel(x)) shape_view_fast(c, y->data, x->data, shape_esize(x->dtype), 6, vd, vs);
    return EDGEML_OK;
}
