/* Reshape, Shape, Size, Flatten, Squeeze, Unsqueeze, Identity, Dropout. */
#include "shape_fast.h"

/* Output 0 = input 0's data with new dims. */
static edgeml_status copy_as(em_kctx *c, const em_tensor *x, int rank, const int64_t *dims)
{
    SHAPE_OUT(y, c, 0, x->dtype, rank, dims);
    if (shape_fast_on()) shape_memcpy_fast(c, y->data, x->data, em_numel(x) * shape_esize(x->dtype));
    else shape_copy(y->data, x->data, em_numel(x), shape_esize(x->dtype));
    return EDGEML_OK;
}

static const em_tensor *need_in(em_kctx *c, int i)
{
    return em_in(c, i);
}
#define NEED_X(x, c)                                                              \
    const em_tensor *x = need_in((c), 0);                                         \
    if (!x) return em_fail((c), EDGEML_E_RUNTIME, "input 0 missing or not a tensor")

/* ---- Reshape ------------------------------------------------------------- */

edgeml_status shape_reshape_prepare(em_node *n, edgeml_error *err)
{
    if (n->opset < 5) {
        const int64_t *s;
        long k = em_attr_ints(n, "shape", &s);
        if (k < 0) return em_node_fail(n, err, EDGEML_E_MODEL, "attribute 'shape' missing");
        if (k > EM_MAX_RANK)
            return em_node_fail(n, err, EDGEML_E_UNSUPPORTED, "rank %ld above %d", k, EM_MAX_RANK);
    }
    return EDGEML_OK;
}

edgeml_status shape_reshape_run(em_kctx *c)
{
    NEED_X(x, c);
    int64_t sh[EM_MAX_RANK];
    size_t n = 0;
    if (em_opset(c) < 5) {
        const int64_t *s;
        long k = em_attr_ints(c->node, "shape", &s);
        if (k < 0 || k > EM_MAX_RANK) return em_fail(c, EDGEML_E_RUNTIME, "bad 'shape' attribute");
        n = (size_t)k;
        if (n) memcpy(sh, s, n * sizeof *sh);
    } else {
        edgeml_status st = shape_read_ints(c, em_in(c, 1), "shape", sh, EM_MAX_RANK, &n);
        if (st) return st;
    }
    bool allowzero = em_opset(c) >= 14 && em_attr_int(c->node, "allowzero", 0) != 0;
    int neg = -1;
    size_t prod = 1;
    bool has_zero = false;
    for (size_t i = 0; i < n; i++) {
        int64_t v = sh[i];
        if (v == 0 && !allowzero) {
            if ((int)i >= x->rank)
                return em_fail(c, EDGEML_E_RUNTIME, "shape[%zu] = 0 copies a dim the input (rank %d) lacks",
                               i, (int)x->rank);
            sh[i] = v = x->dims[i];
        }
        if (v == -1) {
            if (neg >= 0) return em_fail(c, EDGEML_E_RUNTIME, "shape has more than one -1");
            neg = (int)i;
            continue;
        }
        if (v < 0) return em_fail(c, EDGEML_E_RUNTIME, "shape[%zu] = %lld is invalid", i, (long long)v);
        if (v == 0) { has_zero = true; continue; }
        if (prod > SIZE_MAX / (uint64_t)v) return em_fail(c, EDGEML_E_RUNTIME, "shape overflows");
        prod *= (size_t)v;
    }
    size_t numel = em_numel(x);
    char b1[160], b2[160];
    if (neg >= 0) {
        if (has_zero) {
            return em_fail(c, EDGEML_E_RUNTIME, "cannot infer -1 in shape with a 0 dim (input %s)",
                           em_shape_str(x->rank, x->dims, b1, sizeof b1));
        }
        if (numel % prod)
            return em_fail(c, EDGEML_E_RUNTIME, "cannot reshape %s: %zu elements not divisible by %zu",
                           em_shape_str(x->rank, x->dims, b1, sizeof b1), numel, prod);
        sh[neg] = (int64_t)(numel / prod);
    } else {
        size_t tot = has_zero ? 0 : prod;
        if (tot != numel)
            return em_fail(c, EDGEML_E_RUNTIME, "cannot reshape %s to %s",
                           em_shape_str(x->rank, x->dims, b1, sizeof b1),
                           em_shape_str((int)n, sh, b2, sizeof b2));
    }
    return copy_as(c, x, (int)n, sh);
}

/* ---- Shape / Size --------------------------------------------------------- */

edgeml_status shape_shape_run(em_kctx *c)
{
    const em_tensor *x = em_in(c, 0);
    if (!x) return em_fail(c, EDGEML_E_RUNTIME, "input 0 missing or not a tensor");
    int64_t r = x->rank, start = 0, end = r;
    if (em_opset(c) >= 15) {
        start = em_attr_int(c->node, "start", 0);
        end = em_attr_int(c->node, "end", r);
    }
    if (start < 0) start += r;
    if (end < 0) end += r;
    if (start < 0) start = 0;
    if (start > r) start = r;
    if (end < 0) end = 0;
    if (end > r) end = r;
    int64_t len = end > start ? end - start : 0;
    SHAPE_OUT(y, c, 0, EDGEML_INT64, 1, &len);
    for (int64_t i = 0; i < len; i++) ((int64_t *)y->data)[i] = x->dims[start + i];
    return EDGEML_OK;
}

edgeml_status shape_size_run(em_kctx *c)
{
    const em_tensor *x = em_in(c, 0);
    if (!x) return em_fail(c, EDGEML_E_RUNTIME, "input 0 missing or not a tensor");
    SHAPE_OUT(y, c, 0, EDGEML_INT64, 0, NULL);
    *(int64_t *)y->data = (int64_t)em_numel(x);
    return EDGEML_OK;
}

/* ---- Flatten ---------------------------------------------------------------- */

edgeml_status shape_flatten_run(em_kctx *c)
{
    NEED_X(x, c);
    int64_t axis = em_attr_int(c->node, "axis", 1);
    int r = x->rank;
    if (axis < -r || axis > r)
        return em_fail(c, EDGEML_E_RUNTIME, "axis %lld out of range for rank %d", (long long)axis, r);
    if (axis < 0) axis += r;
    int64_t d[2] = {1, 1};
    for (int i = 0; i < r; i++) d[i < axis ? 0 : 1] *= x->dims[i];
    return copy_as(c, x, 2, d);
}

/* ---- Squeeze / Unsqueeze ---------------------------------------------------- */

static edgeml_status get_axes(em_kctx *c, int first_input_opset, int input, int64_t *axes,
                              size_t *n, bool *given)
{
    *n = 0;
    *given = false;
    if (em_opset(c) >= first_input_opset) {
        const em_tensor *t = em_in(c, input);
        if (!t) return EDGEML_OK;
        *given = true;
        return shape_read_ints(c, t, "axes", axes, EM_MAX_RANK * 2, n);
    }
    const int64_t *a;
    long k = em_attr_ints(c->node, "axes", &a);
    if (k < 0) return EDGEML_OK;
    if (k > EM_MAX_RANK * 2) return em_fail(c, EDGEML_E_RUNTIME, "too many axes");
    *given = true;
    *n = (size_t)k;
    if (k) memcpy(axes, a, (size_t)k * sizeof *axes);
    return EDGEML_OK;
}

edgeml_status shape_squeeze_run(em_kctx *c)
{
    NEED_X(x, c);
    int64_t axes[EM_MAX_RANK * 2];
    size_t n;
    bool given;
    edgeml_status st = get_axes(c, 13, 1, axes, &n, &given);
    if (st) return st;
    bool drop[EM_MAX_RANK] = {false};
    int r = x->rank;
    if (!given) {
        for (int i = 0; i < r; i++) drop[i] = x->dims[i] == 1;
    } else {
        int ax[EM_MAX_RANK * 2];
        if (n > (size_t)r) return em_fail(c, EDGEML_E_RUNTIME, "more axes than the rank %d", r);
        st = shape_norm_axes(c, axes, n, r, ax, "axis");
        if (st) return st;
        for (size_t i = 0; i < n; i++) {
            if (x->dims[ax[i]] != 1)
                return em_fail(c, EDGEML_E_RUNTIME, "cannot squeeze axis %d of size %lld", ax[i],
                               (long long)x->dims[ax[i]]);
            drop[ax[i]] = true;
        }
    }
    int64_t d[EM_MAX_RANK];
    int k = 0;
    for (int i = 0; i < r; i++)
        if (!drop[i]) d[k++] = x->dims[i];
    return copy_as(c, x, k, d);
}

edgeml_status shape_unsqueeze_run(em_kctx *c)
{
    NEED_X(x, c);
    int64_t axes[EM_MAX_RANK * 2];
    size_t n;
    bool given;
    edgeml_status st = get_axes(c, 13, 1, axes, &n, &given);
    if (st) return st;
    if (!given) return em_fail(c, EDGEML_E_RUNTIME, "axes missing");
    int r = x->rank;
    if ((size_t)r + n > EM_MAX_RANK)
        return em_fail(c, EDGEML_E_UNSUPPORTED, "output rank %zu above %d", r + n, EM_MAX_RANK);
    int orank = r + (int)n;
    int ax[EM_MAX_RANK * 2];
    st = shape_norm_axes(c, axes, n, orank, ax, "axis");
    if (st) return st;
    bool ins[EM_MAX_RANK] = {false};
    for (size_t i = 0; i < n; i++) ins[ax[i]] = true;
    int64_t d[EM_MAX_RANK];
    int k = 0;
    for (int i = 0; i < orank; i++) d[i] = ins[i] ? 1 : x->dims[k++];
    return copy_as(c, x, orank, d);
}

/* ---- Identity --------------------------------------------------------------- */

edgeml_status shape_identity_run(em_kctx *c)
{
    const em_value *v = em_in_value(c, 0);
    if (!v) return em_fail(c, EDGEML_E_RUNTIME, "input 0 missing");
    return em_out_copy_value(c, 0, v);
}

/* ---- Dropout ---------------------------------------------------------------- */

static uint64_t splitmix(uint64_t *s)
{
    uint64_t z = (*s += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

edgeml_status shape_dropout_run(em_kctx *c)
{
    NEED_X(x, c);
    int op = em_opset(c);
    double ratio = 0.5;
    bool training = false;
    if (op >= 12) {
        const em_tensor *r = em_in(c, 1);
        if (r) {
            if (!em_dtype_is_float(r->dtype) || em_numel(r) != 1)
                return em_fail(c, EDGEML_E_RUNTIME, "ratio must be a float scalar");
            ratio = em_get_f64(r->data, r->dtype, 0);
        }
        const em_tensor *t = em_in(c, 2);
        if (t) {
            if (t->dtype != EDGEML_BOOL || em_numel(t) != 1)
                return em_fail(c, EDGEML_E_RUNTIME, "training_mode must be a bool scalar");
            training = ((const uint8_t *)t->data)[0] != 0;
        }
    } else {
        ratio = em_attr_float(c->node, "ratio", 0.5f);
    }
    size_t n = em_numel(x);
    bool want_mask = em_n_out(c) > 1 && em_out_wanted(c, 1);
    if (!training || ratio == 0.0) {
        edgeml_status st = copy_as(c, x, x->rank, x->dims);
        if (st) return st;
        if (want_mask) {
            int mdt = op >= 10 ? EDGEML_BOOL : x->dtype;
            SHAPE_OUT(m, c, 1, mdt, x->rank, x->dims);
            if (mdt == EDGEML_BOOL) {
                if (n) memset(m->data, 1, n);
            } else {
                for (size_t i = 0; i < n; i++) em_set_f64(m->data, mdt, i, 1.0);
            }
        }
        return EDGEML_OK;
    }
    if (!(ratio >= 0.0 && ratio <= 1.0))
        return em_fail(c, EDGEML_E_RUNTIME, "ratio %g outside [0, 1]", ratio);
    if (!em_dtype_is_float(x->dtype))
        return em_fail(c, EDGEML_E_RUNTIME, "training mode needs a float input");
    SHAPE_OUT(y, c, 0, x->dtype, x->rank, x->dims);
    uint8_t *mask = NULL;
    if (em_n_out(c) > 1) {
        SHAPE_OUT(m, c, 1, EDGEML_BOOL, x->rank, x->dims);
        mask = m->data;
    }
    const em_attr *sa = em_attr_get(c->node, "seed");
    static uint64_t counter;
    uint64_t s = sa ? (uint64_t)sa->i ^ 0x5eedull
                    : (uint64_t)(uintptr_t)y->data ^ __atomic_add_fetch(&counter, 1, __ATOMIC_RELAXED);
    double scale = ratio < 1.0 ? 1.0 / (1.0 - ratio) : 0.0;
    for (size_t i = 0; i < n; i++) {
        double u = (double)(splitmix(&s) >> 11) * (1.0 / 9007199254740992.0);
        bool keep = u >= ratio;
        if (mask) mask[i] = keep;
        double v = keep ? em_get_f64(x->data, x->dtype, i) * scale : 0.0;
        em_set_f64(y->data, x->dtype, i, v);
    }
    return EDGEML_OK;
}
