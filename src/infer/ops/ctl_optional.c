/* Optional (15+), OptionalGetElement (15, 18), OptionalHasElement (15, 18).
 * From opset 18 the latter two also accept plain tensors and sequences (and
 * OptionalHasElement an absent input); values here carry their kind, so one
 * implementation serves every opset. */
#include "ctl.h"

edgeml_status ctl_optional_run(em_kctx *c)
{
    const em_value *v = em_n_in(c) > 0 ? em_in_value(c, 0) : NULL;
    if (!v || v->kind == EM_V_NONE || v->kind == EM_V_UNSET) return em_out_none(c, 0);
    return em_out_copy_value(c, 0, v);
}

edgeml_status ctl_opt_get_run(em_kctx *c)
{
    const em_value *v = em_in_value(c, 0);
    if (!v || v->kind == EM_V_NONE || v->kind == EM_V_UNSET)
        return em_fail(c, EDGEML_E_RUNTIME, "the optional input is empty");
    return em_out_copy_value(c, 0, v);
}

edgeml_status ctl_opt_has_run(em_kctx *c)
{
    const em_value *v = em_n_in(c) > 0 ? em_in_value(c, 0) : NULL;
    if (!v && em_opset(c) < 18)
        return em_fail(c, EDGEML_E_RUNTIME, "input is required before opset 18");
    em_tensor *o = em_out(c, 0, EDGEML_BOOL, 0, NULL);
    if (!o) return c->err->code ? c->err->code : EDGEML_E_NOMEM;
    *(uint8_t *)o->data = (v && v->kind != EM_V_NONE && v->kind != EM_V_UNSET) ? 1 : 0;
    return EDGEML_OK;
}
