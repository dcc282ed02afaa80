/* Variadic ops with broadcasting (Max Min Sum Mean), Where, PRelu. */
#include "ew.h"

#include <stdlib.h>

enum { V_MAX, V_MIN, V_SUM, V_MEAN };
static const char *const var_names[] = {"Max", "Min", "Sum", "Mean"};

#define ROW_ARGS void *o, const void *a, ptrdiff_t sa, const void *b, ptrdiff_t sb, size_t n, \
                 const void *param_

#define EW_BLOOP(T, CT, LOAD, STORE, EXPR)                                             \
    do {                                                                               \
        const T *pa_ = a, *pb_ = b;                                                    \
        T *po_ = o;                                                                    \
        if (sa == 1 && sb == 1) {                                                      \
            for (size_t i = 0; i < n; i++) {                                           \
                CT x = LOAD(pa_[i]), y = LOAD(pb_[i]);                                 \
                po_[i] = STORE(EXPR);                                                  \
            }                                                                          \
        } else {                                                                       \
            for (size_t i = 0; i < n; i++) {                                           \
                CT x = LOAD(pa_[(ptrdiff_t)i * sa]), y = LOAD(pb_[(ptrdiff_t)i * sb]); \
                po_[i] = STORE(EXPR);                                                  \
            }                                                                          \
        }                                                                              \
        return 0;                                                                      \
    } while (0)

/* NaN propagates through Max/Min (as numpy.maximum/minimum). */
#define MAXF_C(DT, T, CT, L, S, UT) \
    case DT: EW_BLOOP(T, CT, L, S, (x != x ? x : y != y ? y : x >= y ? x : y));
#define MINF_C(DT, T, CT, L, S, UT) \
    case DT: EW_BLOOP(T, CT, L, S, (x != x ? x : y != y ? y : x <= y ? x : y));
#define MAXI_C(DT, T, CT, L, S, UT) case DT: EW_BLOOP(T, CT, L, S, (x >= y ? x : y));
#define MINI_C(DT, T, CT, L, S, UT) case DT: EW_BLOOP(T, CT, L, S, (x <= y ? x : y));
#define SUM_C(DT, T, CT, L, S, UT) case DT: EW_BLOOP(T, CT, L, S, (CT)((UT)x + (UT)y));

static int r_max(ROW_ARGS)
{
    switch (*(const int *)param_) { EW_FOR_FLOATS(MAXF_C) EW_FOR_INTS(MAXI_C) default: return 1; }
}
static int r_min(ROW_ARGS)
{
    switch (*(const int *)param_) { EW_FOR_FLOATS(MINF_C) EW_FOR_INTS(MINI_C) default: return 1; }
}
static int r_sum(ROW_ARGS)
{
    switch (*(const int *)param_) { EW_FOR_NUMERIC(SUM_C) default: return 1; }
}

edgeml_status ew_variadic_prepare(em_node *n, edgeml_error *err)
{
    int op = -1;
    for (int i = 0; i < 4; i++)
        if (strcmp(var_names[i], n->op_type) == 0) op = i;
    if (op < 0) return em_node_fail(n, err, EDGEML_E_UNSUPPORTED, "not a variadic op");
    int *s = malloc(sizeof *s);
    if (!s) return em_node_fail(n, err, EDGEML_E_NOMEM, "out of memory");
    *s = op;
    n->state = s;
    return EDGEML_OK;
}

edgeml_status ew_variadic_run(em_kctx *c)
{
    int op = *(const int *)c->node->state;
    int nin = em_n_in(c);
    EM_CHECK(c, nin >= 1, "at least one input is required");
    const em_tensor *ins[64];
    const em_tensor **in = ins;
    if (nin > 64) {
        in = em_scratch(c, sizeof(*in) * (size_t)nin);
        if (!in) return em_fail(c, EDGEML_E_NOMEM, "out of memory");
    }
    for (int i = 0; i < nin; i++) {
        in[i] = em_in(c, i);
        EM_CHECK(c, in[i], "input %d is missing or not a tensor", i);
        if (in[i]->dtype != in[0]->dtype)
            return em_fail(c, EDGEML_E_RUNTIME, "input %d has dtype %s, input 0 has %s", i,
                           em_dtype_name(in[i]->dtype), em_dtype_name(in[0]->dtype));
    }
    int dt = in[0]->dtype;
    if (!em_dtype_is_float(dt) && !em_dtype_is_int(dt))
        return em_fail(c, EDGEML_E_UNSUPPORTED, "unsupported dtype %s", em_dtype_name(dt));
    int rank;
    int64_t dims[EM_MAX_RANK];
    if (!em_broadcast_shapes(nin, in, &rank, dims)) {
        char s1[128], s2[128];
        int k = 1;
        while (k < nin - 1) {
            const em_tensor *two[2] = {in[0], in[k]};
            int r2;
            int64_t d2[EM_MAX_RANK];
            if (!em_broadcast_shapes(2, two, &r2, d2)) break;
            k++;
        }
        return em_fail(c, EDGEML_E_RUNTIME, "input shapes cannot be broadcast (%s and %s)",
                       em_shape_str(in[0]->rank, in[0]->dims, s1, sizeof s1),
                       em_shape_str(in[k]->rank, in[k]->dims, s2, sizeof s2));
    }
    em_tensor *y = em_out(c, 0, dt, rank, dims);
    if (!y) return c->err->code ? c->err->code : EDGEML_E_NOMEM;
    size_t total = em_numel(y);
    if (total == 0) return EDGEML_OK;
    ew_row2_fn fn = op == V_MAX ? r_max : op == V_MIN ? r_min : r_sum;
    if (nin == 1) {
        /* broadcast copy: max(x, x) == x */
        if (fn == r_sum) {
            memcpy(y->data, in[0]->data, total * em_dtype_size(dt));
        } else if (fn(y->data, in[0]->data, 1, in[0]->data, 1, total, &dt)) {
            return em_fail(c, EDGEML_E_UNSUPPORTED, "unsupported dtype %s", em_dtype_name(dt));
        }
    } else {
        if (ew_bcast2(in[0], in[1], y, fn, &dt))
            return em_fail(c, EDGEML_E_UNSUPPORTED, "unsupported dtype %s", em_dtype_name(dt));
        for (int k = 2; k < nin; k++)
            if (ew_bcast2(y, in[k], y, fn, &dt))
                return em_fail(c, EDGEML_E_UNSUPPORTED, "unsupported dtype %s",
                               em_dtype_name(dt));
    }
    if (op == V_MEAN && nin > 1) {
        switch (dt) {
        case EDGEML_FLOAT: {
            float *p = y->data, inv = 1.0f / (float)nin;
            for (size_t i = 0; i < total; i++) p[i] *= inv;
            break;
        }
        case EDGEML_DOUBLE: {
            double *p = y->data;
            for (size_t i = 0; i < total; i++) p[i] /= nin;
            break;
        }
        default:
            if (em_dtype_is_float(dt)) {
                for (size_t i = 0; i < total; i++)
                    em_set_f64(y->data, dt, i, em_get_f64(y->data, dt, i) / nin);
            } else {
                for (size_t i = 0; i < total; i++)
                    em_set_i64(y->data, dt, i, em_get_i64(y->data, dt, i) / nin);
            }
        }
    }
    return EDGEML_OK;
}

/* ---- Where ----------------------------------------------------------------- */

static int r_where(void *o, const void *const *in, const ptrdiff_t *s, size_t n, const void *p)
{
    size_t es = *(const size_t *)p;
    const uint8_t *cond = in[0];
    const char *x = in[1], *y = in[2];
    char *out = o;
    ptrdiff_t sc = s[0], sx = s[1], sy = s[2];
#define WHERE_LOOP(T)                                                                    \
    do {                                                                                 \
        const T *xx = (const T *)(const void *)x, *yy = (const T *)(const void *)y;      \
        T *oo = (T *)(void *)out;                                                        \
        for (size_t i = 0; i < n; i++)                                                   \
            oo[i] = cond[(ptrdiff_t)i * sc] ? xx[(ptrdiff_t)i * sx] : yy[(ptrdiff_t)i * sy]; \
    } while (0)
    switch (es) {
    case 1: WHERE_LOOP(uint8_t); break;
    case 2: WHERE_LOOP(uint16_t); break;
    case 4: WHERE_LOOP(uint32_t); break;
    case 8: WHERE_LOOP(uint64_t); break;
    default:
        for (size_t i = 0; i < n; i++) {
            const char *src = cond[(ptrdiff_t)i * sc] ? x + (ptrdiff_t)i * sx * (ptrdiff_t)es
                                                      : y + (ptrdiff_t)i * sy * (ptrdiff_t)es;
            memcpy(out + i * es, src, es);
        }
    }
#undef WHERE_LOOP
    return 0;
}

edgeml_status ew_where_run(em_kctx *c)
{
    const em_tensor *cond = em_in(c, 0), *x = em_in(c, 1), *y = em_in(c, 2);
    EM_CHECK(c, cond && x && y, "inputs condition, X and Y are required tensors");
    EM_CHECK(c, cond->dtype == EDGEML_BOOL, "condition must be bool, got %s",
             em_dtype_name(cond->dtype));
    if (x->dtype != y->dtype)
        return em_fail(c, EDGEML_E_RUNTIME, "X and Y dtypes differ: %s and %s",
                       em_dtype_name(x->dtype), em_dtype_name(y->dtype));
    size_t es = em_dtype_size(x->dtype);
    if (!es) return em_fail(c, EDGEML_E_UNSUPPORTED, "unsupported dtype %s", em_dtype_name(x->dtype));
    const em_tensor *ts[3] = {cond, x, y};
    int rank;
    int64_t dims[EM_MAX_RANK];
    if (!em_broadcast_shapes(3, ts, &rank, dims)) {
        char s1[128], s2[128], s3[128];
        return em_fail(c, EDGEML_E_RUNTIME, "shapes %s, %s and %s cannot be broadcast",
                       em_shape_str(cond->rank, cond->dims, s1, sizeof s1),
                       em_shape_str(x->rank, x->dims, s2, sizeof s2),
                       em_shape_str(y->rank, y->dims, s3, sizeof s3));
    }
    em_tensor *out = em_out(c, 0, x->dtype, rank, dims);
    if (!out) return c->err->code ? c->err->code : EDGEML_E_NOMEM;
    ew_bcastN(3, ts, out, r_where, &es);
    return EDGEML_OK;
}

/* ---- PRelu -------------------------------------------------------------------- */

#define PRELU_F(DT, T, CT, L, S, UT) case DT: EW_BLOOP(T, CT, L, S, (x < 0 ? y * x : x));
#define PRELU_I(DT, T, CT, L, S, UT) \
    case DT: EW_BLOOP(T, CT, L, S, (x < 0 ? (CT)((UT)y * (UT)x) : x));
#define PRELU_U(DT, T, CT, L, S, UT) case DT: EW_BLOOP(T, CT, L, S, ((void)y, x));
static int r_prelu(ROW_ARGS)
{
    switch (*(const int *)param_) {
    EW_FOR_FLOATS(PRELU_F) EW_FOR_SINTS(PRELU_I) EW_FOR_UINTS(PRELU_U)
    default: return 1;
    }
}

edgeml_status ew_prelu_run(em_kctx *c)
{
    const em_tensor *x = em_in(c, 0), *slope = em_in(c, 1);
    EM_CHECK(c, x && slope, "inputs X and slope are required tensors");
    if (x->dtype != slope->dtype)
        return em_fail(c, EDGEML_E_RUNTIME, "X and slope dtypes differ: %s and %s",
                       em_dtype_name(x->dtype), em_dtype_name(slope->dtype));
    int dt = x->dtype;
    if (!em_dtype_is_float(dt) && !em_dtype_is_int(dt))
        return em_fail(c, EDGEML_E_UNSUPPORTED, "unsupported dtype %s", em_dtype_name(dt));
    em_tensor sv = *slope;
    const em_tensor *ts[2] = {x, slope};
    int rank;
    int64_t dims[EM_MAX_RANK];
    bool ok = em_broadcast_shapes(2, ts, &rank, dims) && rank == x->rank &&
              memcmp(dims, x->dims, sizeof(int64_t) * (size_t)rank) == 0;
    if (!ok && slope->rank == 1 && x->rank >= 2 && slope->dims[0] == x->dims[1]) {
        /* per-channel slope of the older opsets: [C] -> [C,1,...,1] */
        sv.rank = x->rank - 1;
        sv.dims[0] = slope->dims[0];
        for (int i = 1; i < sv.rank; i++) sv.dims[i] = 1;
        ok = true;
    }
    if (!ok) {
        char s1[128], s2[128];
        return em_fail(c, EDGEML_E_RUNTIME, "slope %s cannot be broadcast to X %s",
                       em_shape_str(slope->rank, slope->dims, s2, sizeof s2),
                       em_shape_str(x->rank, x->dims, s1, sizeof s1));
    }
    em_tensor *y = em_out(c, 0, dt, x->rank, x->dims);
    if (!y) return c->err->code ? c->err->code : EDGEML_E_NOMEM;
    if (ew_bcast2(x, &sv, y, r_prelu, &dt))
        return em_fail(c, EDGEML_E_UNSUPPORTED, "unsupported dtype %s", em_dtype_name(dt));
    return EDGEML_OK;
}
