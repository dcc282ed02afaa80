/* Helpers shared by the control-flow / sequence kernels. */
#include "ctl.h"

#include <stdlib.h>

size_t ctl_esize(int dtype)
{
    if (dtype == EDGEML_STRING) return sizeof(em_str);
    return em_dtype_size(dtype);
}

bool ctl_dtype_ok(int dtype)
{
    switch (dtype) {
    case EDGEML_FLOAT: case EDGEML_UINT8: case EDGEML_INT8: case EDGEML_UINT16:
    case EDGEML_INT16: case EDGEML_INT32: case EDGEML_INT64: case EDGEML_STRING:
    case EDGEML_BOOL: case EDGEML_FLOAT16: case EDGEML_DOUBLE: case EDGEML_UINT32:
    case EDGEML_UINT64: case EDGEML_BFLOAT16:
        return true;
    default:
        return false;
    }
}

void ctl_copy_elems(em_kctx *c, int dtype, void *dst, const void *src, size_t n)
{
    if (n == 0) return;
    if (dtype == EDGEML_STRING) {
        em_str *d = dst;
        const em_str *s = src;
        for (size_t i = 0; i < n; i++) d[i] = em_strdup(c, s[i].data, s[i].len);
        return;
    }
    memcpy(dst, src, n * ctl_esize(dtype));
}

bool ctl_read_index(const em_tensor *t, int64_t *out)
{
    if (!t || em_numel(t) != 1 || !t->data) return false;
    if (t->dtype == EDGEML_INT64) { *out = *(const int64_t *)t->data; return true; }
    if (t->dtype == EDGEML_INT32) { *out = *(const int32_t *)t->data; return true; }
    return false;
}

bool ctl_read_bool(const em_tensor *t, bool *out)
{
    if (!t || t->dtype != EDGEML_BOOL || em_numel(t) != 1 || !t->data) return false;
    *out = *(const uint8_t *)t->data != 0;
    return true;
}

void ctl_release(em_value *v, size_t n)
{
    if (!v) return;
    for (size_t i = 0; i < n; i++) {
        if (v[i].kind != EM_V_UNSET) em_value_release(&v[i]);
        memset(&v[i], 0, sizeof v[i]);
    }
}

const em_graph *ctl_graph_attr(const em_node *n, const char *name)
{
    const em_attr *a = em_attr_get(n, name);
    if (!a || a->type != EM_ATTR_GRAPH) return NULL;
    return a->g;
}

em_value ctl_tensor_value(const em_tensor *t)
{
    em_value v;
    memset(&v, 0, sizeof v);
    v.kind = EM_V_TENSOR;
    v.t = *t;
    return v;
}

const char *ctl_kind_name(const em_value *v)
{
    if (!v) return "absent";
    switch (v->kind) {
    case EM_V_TENSOR: return "tensor";
    case EM_V_SEQUENCE: return "sequence";
    case EM_V_NONE: return "empty optional";
    default: return "unset";
    }
}

edgeml_status ctl_out_empty_stack(em_kctx *c, int out, const em_vinfo *vi, int64_t axis,
                                  int n_lead, const int64_t *lead, int64_t count)
{
    int64_t elem[EM_MAX_RANK];
    int er = 0;
    int dtype = EDGEML_FLOAT;
    if (vi) {
        if (vi->dtype && ctl_dtype_ok(vi->dtype)) dtype = vi->dtype;
        if (vi->rank > 0 && vi->rank < EM_MAX_RANK - 1 - n_lead && vi->dims) {
            bool known = true;
            for (int i = 0; i < vi->rank; i++)
                if (vi->dims[i] < 0) known = false;
            if (known) {
                er = vi->rank;
                for (int i = 0; i < er; i++) elem[i] = vi->dims[i];
            }
        }
    }
    int r = er + 1;
    int ax;
    if (!em_axis(axis, r, &ax)) ax = 0;
    int64_t dims[EM_MAX_RANK];
    int rank = 0;
    for (int i = 0; i < n_lead; i++) dims[rank++] = lead[i];
    for (int i = 0; i < r; i++) {
        if (i == ax) dims[rank++] = count;
        else dims[rank++] = elem[i < ax ? i : i - 1];
    }
    em_tensor *t = em_out(c, out, dtype, rank, dims);
    if (!t) return c->err->code ? c->err->code : EDGEML_E_NOMEM;
    size_t n = em_numel(t);
    if (n && t->data) memset(t->data, 0, n * ctl_esize(dtype));
    return EDGEML_OK;
}
