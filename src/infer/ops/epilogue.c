/* Fused epilogues: out = act(y + residual), for the ops graph optimisation
 * fuses into (see internal.h). The common case (no residual, or one of y's
 * exact shape) works in place on output 0; a residual that broadcasts y to a
 * larger shape (legal for the Add that was fused) is handled by computing y
 * in scratch and broadcasting here. */
#include "ops.h"

#include <stdlib.h>

static const em_tensor *residual(em_kctx *c)
{
    int k = c->node->add_in;
    return k > 0 ? em_in(c, k) : NULL;
}

bool em_epilogue_direct(em_kctx *c, int rank, const int64_t *dims)
{
    const em_tensor *r = residual(c);
    if (!r) return c->node->add_in <= 0;
    if (r->rank != rank) return false;
    for (int i = 0; i < rank; i++)
        if (r->dims[i] != dims[i]) return false;
    return true;
}

em_tensor *em_out_fused(em_kctx *c, int dtype, int rank, const int64_t *dims)
{
    if (em_epilogue_direct(c, rank, dims)) {
        const em_tensor *r = residual(c);
        if (r && r->dtype != dtype) {
            em_fail(c, EDGEML_E_RUNTIME, "fused residual has dtype %s, output %s",
                    em_dtype_name(r->dtype), em_dtype_name(dtype));
            return NULL;
        }
        return c->fused_y = em_out(c, 0, dtype, rank, dims);
    }
    /* The output's shape is the broadcast of y and the residual: y goes to scratch. */
    size_t numel, esz = em_dtype_size(dtype);
    if (rank < 0 || rank > EM_MAX_RANK || !esz || !em_shape_numel(rank, dims, &numel)) {
        em_fail(c, EDGEML_E_RUNTIME, "bad fused output shape");
        return NULL;
    }
    em_tensor *t = em_scratch(c, sizeof *t);
    if (!t) return NULL;
    memset(t, 0, sizeof *t);
    t->dtype = dtype;
    t->rank = rank;
    for (int i = 0; i < rank; i++) t->dims[i] = dims[i];
    t->data = em_scratch(c, numel * esz);
    return c->fused_y = t->data ? t : NULL;
}

static void act_f64(const em_act *a, double *v)
{
    float f = (float)*v;
    em_act_apply(a, &f, 1);
    *v = f;
}

edgeml_status em_epilogue(em_kctx *c, em_tensor *y)
{
    const em_node *n = c->node;
    if (!em_has_epilogue(n)) return EDGEML_OK;
    const em_tensor *r = residual(c);
    if (n->add_in > 0 && !r) return em_fail(c, EDGEML_E_RUNTIME, "fused residual input is missing");
    if (r && r->dtype != y->dtype)
        return em_fail(c, EDGEML_E_RUNTIME, "fused residual has dtype %s, output %s",
                       em_dtype_name(r->dtype), em_dtype_name(y->dtype));
    size_t ny = em_numel(y);
    if (em_epilogue_direct(c, y->rank, y->dims)) {
        /* y is output 0: in place. */
        if (y->dtype == EDGEML_FLOAT) {
            float *d = y->data;
            if (r) {
                const float *rr = r->data;
                for (size_t i = 0; i < ny; i++) d[i] += rr[i];
            }
            em_act_apply(&n->act, d, ny);
        } else {
            for (size_t i = 0; i < ny; i++) {
                double v = em_get_f64(y->data, y->dtype, i);
                if (r) v += em_get_f64(r->data, r->dtype, i);
                act_f64(&n->act, &v);
                em_set_f64(y->data, y->dtype, i, v);
            }
        }
        return EDGEML_OK;
    }
    /* Broadcast y (scratch) against the residual into output 0. */
    const em_tensor *ts[2] = {y, r};
    int orank;
    int64_t od[EM_MAX_RANK];
    if (!em_broadcast_shapes(2, ts, &orank, od)) {
        char a[96], b[96];
        return em_fail(c, EDGEML_E_RUNTIME, "fused Add: shapes %s and %s do not broadcast",
                       em_shape_str(y->rank, y->dims, a, sizeof a),
                       em_shape_str(r->rank, r->dims, b, sizeof b));
    }
    em_tensor *o = em_out(c, 0, y->dtype, orank, od);
    if (!o) return c->err && c->err->code ? c->err->code : EDGEML_E_NOMEM;
    int64_t sy[EM_MAX_RANK], sr[EM_MAX_RANK], idx[EM_MAX_RANK] = {0};
    em_broadcast_strides(y, orank, od, sy);
    em_broadcast_strides(r, orank, od, sr);
    size_t no = em_numel(o);
    int64_t oy = 0, orr = 0;
    for (size_t i = 0; i < no; i++) {
        double v = em_get_f64(y->data, y->dtype, (size_t)oy) + em_get_f64(r->data, r->dtype, (size_t)orr);
        act_f64(&n->act, &v);
        em_set_f64(o->data, o->dtype, i, v);
        for (int d = orank - 1; d >= 0; d--) {
            idx[d]++;
            oy += sy[d];
            orr += sr[d];
            if (idx[d] < od[d]) break;
            oy -= sy[d] * od[d];
            orr -= sr[d] * od[d];
            idx[d] = 0;
        }
    }
    return EDGEML_OK;
}

edgeml_status em_run_fused(em_kctx *c, edgeml_status (*body)(em_kctx *c))
{
    c->fused_y = NULL;
    edgeml_status st = body(c);
    if (st || !em_has_epilogue(c->node)) return st;
    if (!c->fused_y) return em_fail(c, EDGEML_E_RUNTIME, "kernel did not make its fused output");
    return em_epilogue(c, c->fused_y);
}
