/* NegativeLogLikelihoodLoss (12, 13) and SoftmaxCrossEntropyLoss (12, 13). */
#include "red.h"

#include <math.h>
#include <stdlib.h>

enum { RED_NONE, RED_SUM, RED_MEAN };

typedef struct {
    int reduction;
    int has_ii;
    int64_t ii;
} red_loss_state;

edgeml_status red_loss_prepare(em_node *node, edgeml_error *err)
{
    red_loss_state *s = calloc(1, sizeof *s);
    if (!s) return em_node_fail(node, err, EDGEML_E_NOMEM, "out of memory");
    node->state = s;
    const char *r = em_attr_str(node, "reduction", "mean");
    if (strcmp(r, "none") == 0) s->reduction = RED_NONE;
    else if (strcmp(r, "sum") == 0) s->reduction = RED_SUM;
    else if (strcmp(r, "mean") == 0) s->reduction = RED_MEAN;
    else return em_node_fail(node, err, EDGEML_E_MODEL, "invalid reduction '%s'", r);
    const em_attr *a = em_attr_get(node, "ignore_index");
    if (a) {
        s->has_ii = 1;
        s->ii = a->i;
    }
    return EDGEML_OK;
}

/* Computes the loss from log-probabilities lp (double, [N,C,D]) into output 0. */
static edgeml_status red_nll_core(em_kctx *c, const red_loss_state *s, const double *lp,
                                  const em_tensor *x, const em_tensor *t, const em_tensor *w)
{
    int rank = x->rank;
    size_t N = (size_t)x->dims[0], C = (size_t)x->dims[1], D = 1;
    for (int i = 2; i < rank; i++) D *= (size_t)x->dims[i];
    em_tensor *y;
    if (s->reduction == RED_NONE) y = em_out(c, 0, x->dtype, t->rank, t->dims);
    else y = em_out(c, 0, x->dtype, 0, NULL);
    if (!y) return c->err->code ? c->err->code : EDGEML_E_NOMEM;
    double sum = 0, wsum = 0;
    for (size_t n = 0; n < N; n++) {
        for (size_t d = 0; d < D; d++) {
            size_t ti = n * D + d;
            int64_t cls = em_get_i64(t->data, t->dtype, ti);
            double l = 0, wt = 0;
            if (!(s->has_ii && cls == s->ii)) {
                EM_CHECK(c, cls >= 0 && (size_t)cls < C,
                         "target %lld out of range [0, %zu)", (long long)cls, C);
                wt = w ? red_getf(w->data, w->dtype, (size_t)cls) : 1.0;
                l = -lp[(n * C + (size_t)cls) * D + d] * wt;
            }
            if (s->reduction == RED_NONE) red_setf(y->data, y->dtype, ti, l);
            sum += l;
            wsum += wt;
        }
    }
    if (s->reduction == RED_SUM) red_setf(y->data, y->dtype, 0, sum);
    else if (s->reduction == RED_MEAN) red_setf(y->data, y->dtype, 0, sum / wsum);
    return EDGEML_OK;
}

static edgeml_status red_loss_check(em_kctx *c, const em_tensor *x, const em_tensor *t,
                                    const em_tensor *w)
{
    EM_CHECK(c, x && t, "missing input");
    EM_CHECK(c, red_is_floatlike(x->dtype), "input must be float, got %s",
             em_dtype_name(x->dtype));
    EM_CHECK(c, t->dtype == EDGEML_INT32 || t->dtype == EDGEML_INT64,
             "target must be int32 or int64, got %s", em_dtype_name(t->dtype));
    EM_CHECK(c, x->rank >= 2, "input must have rank >= 2 (N, C, ...), got rank %d", x->rank);
    EM_CHECK(c, t->rank == x->rank - 1, "target rank %d must be input rank - 1 (%d)", t->rank,
             x->rank - 1);
    EM_CHECK(c, t->dims[0] == x->dims[0], "target batch %lld != input batch %lld",
             (long long)t->dims[0], (long long)x->dims[0]);
    for (int i = 1; i < t->rank; i++)
        EM_CHECK(c, t->dims[i] == x->dims[i + 1], "target dim %d (%lld) != input dim %d (%lld)",
                 i, (long long)t->dims[i], i + 1, (long long)x->dims[i + 1]);
    if (w) {
        EM_CHECK(c, red_is_floatlike(w->dtype), "weight must be float");
        EM_CHECK(c, w->rank == 1 && w->dims[0] == x->dims[1],
                 "weight must have shape [C=%lld]", (long long)x->dims[1]);
    }
    return EDGEML_OK;
}

edgeml_status red_nll_run(em_kctx *c)
{
    const red_loss_state *s = c->node->state;
    const em_tensor *x = em_in(c, 0), *t = em_in(c, 1);
    const em_tensor *w = em_n_in(c) > 2 ? em_in(c, 2) : NULL;
    edgeml_status st = red_loss_check(c, x, t, w);
    if (st) return st;
    size_t n = em_numel(x);
    double *lp = em_scratch(c, (n ? n : 1) * sizeof(double));
    if (!lp) return EDGEML_E_NOMEM;
    for (size_t i = 0; i < n; i++) lp[i] = red_getf(x->data, x->dtype, i);
    return red_nll_core(c, s, lp, x, t, w);
}

edgeml_status red_sce_run(em_kctx *c)
{
    const red_loss_state *s = c->node->state;
    const em_tensor *x = em_in(c, 0), *t = em_in(c, 1);
    const em_tensor *w = em_n_in(c) > 2 ? em_in(c, 2) : NULL;
    edgeml_status st = red_loss_check(c, x, t, w);
    if (st) return st;
    size_t n = em_numel(x);
    double *lp = em_scratch(c, (n ? n : 1) * sizeof(double));
    if (!lp) return EDGEML_E_NOMEM;
    for (size_t i = 0; i < n; i++) lp[i] = red_getf(x->data, x->dtype, i);
    size_t N = (size_t)x->dims[0], C = (size_t)x->dims[1], D = 1;
    for (int i = 2; i < x->rank; i++) D *= (size_t)x->dims[i];
    for (size_t b = 0; b < N; b++) {
        for (size_t d = 0; d < D; d++) {
            double *p = lp + b * C * D + d;
            double m = -INFINITY;
            for (size_t k = 0; k < C; k++)
                if (p[k * D] > m) m = p[k * D];
            double se = 0;
            for (size_t k = 0; k < C; k++) se += exp(p[k * D] - m);
            double ls = log(se);
            for (size_t k = 0; k < C; k++) p[k * D] = p[k * D] - m - ls;
        }
    }
    st = red_nll_core(c, s, lp, x, t, w);
    if (st) return st;
    if (em_n_out(c) > 1 && em_out_wanted(c, 1)) {
        em_tensor *o = em_out(c, 1, x->dtype, x->rank, x->dims);
        if (!o) return c->err->code ? c->err->code : EDGEML_E_NOMEM;
        for (size_t i = 0; i < n; i++) red_setf(o->data, o->dtype, i, lp[i]);
    }
    return EDGEML_OK;
}
