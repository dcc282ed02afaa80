/* Scatter (deprecated), ScatterElements, ScatterND, with reductions. */
#include "shape.h"

#include <stdlib.h>

enum { RED_NONE = 0, RED_ADD, RED_MUL, RED_MAX, RED_MIN };

typedef struct { int red; } scatter_state;

edgeml_status shape_scatter_prepare(em_node *n, edgeml_error *err)
{
    const char *r = em_attr_str(n, "reduction", "none");
    int red;
    if (strcmp(r, "none") == 0) red = RED_NONE;
    else if (strcmp(r, "add") == 0 && n->opset >= 16) red = RED_ADD;
    else if (strcmp(r, "mul") == 0 && n->opset >= 16) red = RED_MUL;
    else if (strcmp(r, "max") == 0 && n->opset >= 18) red = RED_MAX;
    else if (strcmp(r, "min") == 0 && n->opset >= 18) red = RED_MIN;
    else return em_node_fail(n, err, EDGEML_E_MODEL, "unknown reduction '%s'", r);
    scatter_state *s = malloc(sizeof *s);
    if (!s) return em_node_fail(n, err, EDGEML_E_NOMEM, "out of memory");
    s->red = red;
    n->state = s;
    return EDGEML_OK;
}

static int get_red(const em_kctx *c)
{
    const scatter_state *s = c->node->state;
    return s ? s->red : RED_NONE;
}

#define RED_T(T) RED_TU(T, T)
/* U: the type add/mul are done in (unsigned for signed ints: wraps, no UB) */
#define RED_TU(T, U)                                                       \
    do {                                                                   \
        T *dp = (T *)d + di;                                               \
        T b = ((const T *)s)[si];                                          \
        switch (red) {                                                     \
        case RED_ADD: *dp = (T)((U)*dp + (U)b); break;                     \
        case RED_MUL: *dp = (T)((U)*dp * (U)b); break;                     \
        case RED_MAX: if (b > *dp) *dp = b; break;                         \
        case RED_MIN: if (b < *dp) *dp = b; break;                         \
        default: *dp = b;                                                  \
        }                                                                  \
    } while (0)

static float redf(int red, float a, float b)
{
    switch (red) {
    case RED_ADD: return a + b;
    case RED_MUL: return a * b;
    case RED_MAX: return b > a ? b : a;
    case RED_MIN: return b < a ? b : a;
    default: return b;
    }
}

/* d[di] = red(d[di], s[si]) for n consecutive elements. */
static void reduce_run(int dt, int red, void *d, size_t di, const void *s, size_t si, size_t n,
                       size_t es)
{
    if (red == RED_NONE) {
        memcpy((char *)d + di * es, (const char *)s + si * es, n * es);
        return;
    }
    for (size_t k = 0; k < n; k++, di++, si++) {
        switch (dt) {
        case EDGEML_FLOAT: RED_T(float); break;
        case EDGEML_DOUBLE: RED_T(double); break;
        case EDGEML_INT8: RED_T(int8_t); break;
        case EDGEML_UINT8: RED_T(uint8_t); break;
        case EDGEML_INT16: RED_T(int16_t); break;
        case EDGEML_UINT16: RED_TU(uint16_t, uint32_t); break;
        case EDGEML_INT32: RED_TU(int32_t, uint32_t); break;
        case EDGEML_UINT32: RED_TU(uint32_t, uint32_t); break;
        case EDGEML_INT64: RED_TU(int64_t, uint64_t); break;
        case EDGEML_UINT64: RED_T(uint64_t); break;
        case EDGEML_BOOL: {
            uint8_t *dp = (uint8_t *)d + di, b = ((const uint8_t *)s)[si] != 0;
            *dp = (uint8_t)((red == RED_ADD || red == RED_MAX) ? (*dp || b) : (*dp && b));
            break;
        }
        case EDGEML_FLOAT16: {
            uint16_t *dp = (uint16_t *)d + di;
            *dp = em_f32_to_f16(redf(red, em_f16_to_f32(*dp), em_f16_to_f32(((const uint16_t *)s)[si])));
            break;
        }
        case EDGEML_BFLOAT16: {
            uint16_t *dp = (uint16_t *)d + di;
            *dp = em_f32_to_bf16(redf(red, em_bf16_to_f32(*dp), em_bf16_to_f32(((const uint16_t *)s)[si])));
            break;
        }
        default: break;
        }
    }
}

static inline int64_t idx_at(const em_tensor *t, size_t i)
{
    return t->dtype == EDGEML_INT32 ? ((const int32_t *)t->data)[i] : ((const int64_t *)t->data)[i];
}

static edgeml_status common_checks(em_kctx *c, const em_tensor *x, const em_tensor *ind,
                                   const em_tensor *upd, int red)
{
    if (!x || !ind || !upd) return em_fail(c, EDGEML_E_RUNTIME, "data, indices and updates are required tensors");
    if (ind->dtype != EDGEML_INT32 && ind->dtype != EDGEML_INT64)
        return em_fail(c, EDGEML_E_RUNTIME, "indices must be int32 or int64, got %s", em_dtype_name(ind->dtype));
    if (upd->dtype != x->dtype)
        return em_fail(c, EDGEML_E_RUNTIME, "updates dtype %s differs from data %s", em_dtype_name(upd->dtype),
                       em_dtype_name(x->dtype));
    if (red != RED_NONE && x->dtype == EDGEML_STRING)
        return em_fail(c, EDGEML_E_RUNTIME, "reduction not supported for strings");
    return EDGEML_OK;
}

edgeml_status shape_scatter_elements_run(em_kctx *c)
{
    const em_tensor *x = em_in(c, 0), *ind = em_in(c, 1), *upd = em_in(c, 2);
    int red = get_red(c);
    edgeml_status st = common_checks(c, x, ind, upd, red);
    if (st) return st;
    int r = x->rank, axis;
    if (r < 1) return em_fail(c, EDGEML_E_RUNTIME, "data must have rank >= 1");
    if (ind->rank != r) return em_fail(c, EDGEML_E_RUNTIME, "indices rank %d differs from data rank %d", (int)ind->rank, r);
    if (!em_same_shape(ind, upd)) return em_fail(c, EDGEML_E_RUNTIME, "updates shape differs from indices shape");
    int64_t axis_v = em_attr_int(c->node, "axis", 0);
    if (!em_axis(axis_v, r, &axis))
        return em_fail(c, EDGEML_E_RUNTIME, "axis %lld out of range for rank %d", (long long)axis_v, r);
    for (int d = 0; d < r; d++)
        if (d != axis && ind->dims[d] > x->dims[d])
            return em_fail(c, EDGEML_E_RUNTIME, "indices dim %d (%lld) exceeds data dim (%lld)", d,
                           (long long)ind->dims[d], (long long)x->dims[d]);
    size_t n = em_numel(ind), es = shape_esize(x->dtype);
    int64_t dim = x->dims[axis];
    for (size_t i = 0; i < n; i++) {
        int64_t v = idx_at(ind, i);
        if (v < -dim || v >= dim)
            return em_fail(c, EDGEML_E_RUNTIME, "index %lld out of range [-%lld, %lld)", (long long)v,
                           (long long)dim, (long long)dim);
    }
    SHAPE_OUT(y, c, 0, x->dtype, r, x->dims);
    shape_copy(y->data, x->data, em_numel(x), es);
    if (!n) return EDGEML_OK;
    int64_t xs[EM_MAX_RANK], idx[EM_MAX_RANK] = {0};
    em_strides(r, x->dims, xs);
    int64_t inner = ind->dims[r - 1];
    for (size_t i = 0; i < n; i += (size_t)inner) {
        int64_t base = 0;
        for (int d = 0; d < r - 1; d++)
            if (d != axis) base += idx[d] * xs[d];
        for (int64_t j = 0; j < inner; j++) {
            int64_t v = idx_at(ind, i + (size_t)j);
            if (v < 0) v += dim;
            int64_t off = base + v * xs[axis];
            if (axis != r - 1) off += j;
            reduce_run(x->dtype, red, y->data, (size_t)off, upd->data, i + (size_t)j, 1, es);
        }
        for (int d = r - 2; d >= 0; d--) {
            if (++idx[d] < ind->dims[d]) break;
            idx[d] = 0;
        }
    }
    return EDGEML_OK;
}

edgeml_status shape_scatter_nd_run(em_kctx *c)
{
    const em_tensor *x = em_in(c, 0), *ind = em_in(c, 1), *upd = em_in(c, 2);
    int red = get_red(c);
    edgeml_status st = common_checks(c, x, ind, upd, red);
    if (st) return st;
    int r = x->rank, q = ind->rank;
    if (r < 1 || q < 1) return em_fail(c, EDGEML_E_RUNTIME, "data and indices must have rank >= 1");
    int64_t k = ind->dims[q - 1];
    if (k < 1 || k > r) return em_fail(c, EDGEML_E_RUNTIME, "indices last dim %lld outside [1, %d]", (long long)k, r);
    /* updates shape = indices.shape[:-1] + data.shape[k:] */
    bool ok = upd->rank == q - 1 + r - (int)k;
    for (int d = 0; ok && d < q - 1; d++) ok = upd->dims[d] == ind->dims[d];
    for (int d = (int)k; ok && d < r; d++) ok = upd->dims[q - 1 + d - k] == x->dims[d];
    if (!ok) {
        char b1[160];
        return em_fail(c, EDGEML_E_RUNTIME, "updates shape %s does not match indices and data",
                       em_shape_str(upd->rank, upd->dims, b1, sizeof b1));
    }
    size_t es = shape_esize(x->dtype), nt = 1, slice = 1;
    for (int d = 0; d < q - 1; d++) nt *= (size_t)ind->dims[d];
    for (int d = (int)k; d < r; d++) slice *= (size_t)x->dims[d];
    int64_t xs[EM_MAX_RANK];
    em_strides(r, x->dims, xs);
    for (size_t t = 0; t < nt; t++)
        for (int64_t j = 0; j < k; j++) {
            int64_t v = idx_at(ind, t * (size_t)k + (size_t)j), dim = x->dims[j];
            if (v < -dim || v >= dim)
                return em_fail(c, EDGEML_E_RUNTIME, "index %lld out of range for dim %lld of size %lld",
                               (long long)v, (long long)j, (long long)dim);
        }
    SHAPE_OUT(y, c, 0, x->dtype, r, x->dims);
    shape_copy(y->data, x->data, em_numel(x), es);
    if (!slice) return EDGEML_OK;
    for (size_t t = 0; t < nt; t++) {
        int64_t off = 0;
        for (int64_t j = 0; j < k; j++) {
            int64_t v = idx_at(ind, t * (size_t)k + (size_t)j);
            if (v < 0) v += x->dims[j];
            off += v * xs[j];
        }
        reduce_run(x->dtype, red, y->data, (size_t)off, upd->data, t * slice, slice, es);
    }
    return EDGEML_OK;
}
