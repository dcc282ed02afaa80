/* The private op edgeml:<Act> made by act_recognise.c: y = act(x) with the
 * activation in node->act (em_act_apply: the vectorised path where the CPU has
 * one). Not in the public op registry: only the optimiser creates it. */
#include "opt.h"

static edgeml_status act_run(em_kctx *c)
{
    const em_tensor *x = em_in(c, 0);
    if (!x) return em_fail(c, EDGEML_E_RUNTIME, "input missing or not a tensor");
    if (!opt_act_dtype(x->dtype)) return em_fail(c, EDGEML_E_RUNTIME, "unsupported dtype %s", em_dtype_name(x->dtype));
    em_tensor *y = em_out(c, 0, x->dtype, x->rank, x->dims);
    if (!y) return c->err && c->err->code ? c->err->code : EDGEML_E_NOMEM;
    size_t n = em_numel(x);
    if (!n) return EDGEML_OK;
    const em_act *a = &c->node->act;
    if (x->dtype == EDGEML_FLOAT) {
        memcpy(y->data, x->data, n * sizeof(float));
        em_act_apply(a, y->data, n);
        return EDGEML_OK;
    }
    float buf[256];
    for (size_t i = 0; i < n; i += 256) {
        size_t m = n - i < 256 ? n - i : 256;
        for (size_t j = 0; j < m; j++) buf[j] = (float)em_get_f64(x->data, x->dtype, i + j);
        em_act_apply(a, buf, m);
        for (size_t j = 0; j < m; j++) em_set_f64(y->data, y->dtype, i + j, buf[j]);
    }
    return EDGEML_OK;
}

const em_op_entry em_opt_act_entry = { .domain = "edgeml", .op_type = "Activation", .since = 1, .run = act_run };
