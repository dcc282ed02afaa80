/* ReduceSum/Mean/Max/Min/Prod/L1/L2/LogSum/LogSumExp/SumSquare, ArgMax/ArgMin. */
#include "red.h"

#include <math.h>
#include <stdlib.h>

enum { RK_SUM, RK_MEAN, RK_MAX, RK_MIN, RK_PROD, RK_L1, RK_L2, RK_LOGSUM, RK_LSE, RK_SUMSQ };

/* Accumulation passes. */
enum { PS_SUM, PS_SUMSQ, PS_ABS, PS_PROD, PS_MAX, PS_MIN, PS_SUMEXP };

typedef struct {
    int kind;
    int keepdims;
    int noop;         /* noop_with_empty_axes */
    int axes_input;   /* axes come from input 1 */
    long n_axes;      /* -1: attribute absent */
    int64_t *axes;    /* attribute values (owned) */
} red_reduce_state;

void red_reduce_free(void *p)
{
    red_reduce_state *s = p;
    if (s) free(s->axes);
    free(s);
}

static const struct { const char *name; int kind; } red_kinds[] = {
    {"ReduceSum", RK_SUM}, {"ReduceMean", RK_MEAN}, {"ReduceMax", RK_MAX},
    {"ReduceMin", RK_MIN}, {"ReduceProd", RK_PROD}, {"ReduceL1", RK_L1},
    {"ReduceL2", RK_L2}, {"ReduceLogSum", RK_LOGSUM}, {"ReduceLogSumExp", RK_LSE},
    {"ReduceSumSquare", RK_SUMSQ},
};

edgeml_status red_reduce_prepare(em_node *node, edgeml_error *err)
{
    int kind = -1;
    for (size_t i = 0; i < sizeof red_kinds / sizeof red_kinds[0]; i++)
        if (strcmp(node->op_type, red_kinds[i].name) == 0) kind = red_kinds[i].kind;
    if (kind < 0)
        return em_node_fail(node, err, EDGEML_E_UNSUPPORTED, "unknown reduction");
    red_reduce_state *s = calloc(1, sizeof *s);
    if (!s) return em_node_fail(node, err, EDGEML_E_NOMEM, "out of memory");
    node->state = s;
    s->kind = kind;
    s->keepdims = em_attr_int(node, "keepdims", 1) != 0;
    s->axes_input = (kind == RK_SUM) ? node->opset >= 13 : node->opset >= 18;
    s->noop = s->axes_input ? em_attr_int(node, "noop_with_empty_axes", 0) != 0 : 0;
    s->n_axes = -1;
    if (!s->axes_input) {
        const int64_t *ax;
        long n = em_attr_ints(node, "axes", &ax);
        if (n >= 0) {
            s->n_axes = n;
            s->axes = malloc((size_t)(n ? n : 1) * sizeof(int64_t));
            if (!s->axes) return em_node_fail(node, err, EDGEML_E_NOMEM, "out of memory");
            for (long i = 0; i < n; i++) s->axes[i] = ax[i];
        }
    }
    return EDGEML_OK;
}

/* ---- iteration over an input with coalesced reduced/kept dims ---------- */

typedef struct {
    int k;                     /* coalesced dims */
    int64_t d[EM_MAX_RANK];
    int64_t os[EM_MAX_RANK];   /* output stride (0 for reduced dims) */
    bool r[EM_MAX_RANK];
    size_t n_in, n_out, cnt;   /* input numel, output numel, elements per output */
} red_iter;

static void red_iter_init(red_iter *it, int rank, const int64_t *dims, const bool *red)
{
    it->k = 0;
    for (int i = 0; i < rank; i++) {
        if (dims[i] == 1) continue;
        if (it->k > 0 && it->r[it->k - 1] == red[i]) {
            it->d[it->k - 1] *= dims[i];
        } else {
            it->d[it->k] = dims[i];
            it->r[it->k] = red[i];
            it->k++;
        }
    }
    if (it->k == 0) {
        it->d[0] = 1;
        it->r[0] = false;
        it->k = 1;
    }
    int64_t st = 1;
    size_t nin = 1, nout = 1;
    for (int i = it->k - 1; i >= 0; i--) {
        nin *= (size_t)it->d[i];
        if (it->r[i]) {
            it->os[i] = 0;
        } else {
            it->os[i] = st;
            st *= it->d[i];
            nout *= (size_t)it->d[i];
        }
    }
    it->n_in = nin;
    it->n_out = nout;
    it->cnt = nout ? nin / nout : 0;
}

/* One accumulation pass over a double-accumulated input of element type T. */
#define RED_FLOOP(STMT)                                                           \
    do {                                                                          \
        if (red) {                                                                \
            double s = a[0];                                                      \
            const double m = aux ? aux[0] : 0;                                    \
            for (size_t i = 0; i < n; i++) {                                      \
                const double v = (double)x[i];                                    \
                double *ap = &s;                                                  \
                (void)m;                                                          \
                STMT;                                                             \
            }                                                                     \
            a[0] = s;                                                             \
        } else {                                                                  \
            for (size_t i = 0; i < n; i++) {                                      \
                const double v = (double)x[i];                                    \
                double *ap = &a[i];                                               \
                const double m = aux ? aux[i] : 0;                                \
                (void)m;                                                          \
                STMT;                                                             \
            }                                                                     \
        }                                                                         \
    } while (0)

#define RED_FPASS(NAME, T)                                                        \
    static void NAME(int ps, const T *x, size_t n, double *a, const double *aux,  \
                     bool red)                                                    \
    {                                                                             \
        switch (ps) {                                                             \
        case PS_SUM: RED_FLOOP(*ap += v); break;                                  \
        case PS_SUMSQ: RED_FLOOP(*ap += v * v); break;                            \
        case PS_ABS: RED_FLOOP(*ap += fabs(v)); break;                            \
        case PS_PROD: RED_FLOOP(*ap *= v); break;                                 \
        case PS_MAX: RED_FLOOP(if (v > *ap || v != v) *ap = v); break;            \
        case PS_MIN: RED_FLOOP(if (v < *ap || v != v) *ap = v); break;            \
        case PS_SUMEXP: RED_FLOOP(*ap += exp(v - m)); break;                      \
        }                                                                         \
    }

RED_FPASS(red_fpass_f32, float)
RED_FPASS(red_fpass_f64, double)

/* Integer accumulation: values as int64 (bit patterns for uint64), wrapping
 * uint64 accumulators. */
#define RED_ILOOP(STMT)                                                           \
    do {                                                                          \
        if (red) {                                                                \
            uint64_t s = a[0];                                                    \
            for (size_t i = 0; i < n; i++) {                                      \
                const int64_t v = x[i];                                           \
                uint64_t *ap = &s;                                                \
                STMT;                                                             \
            }                                                                     \
            a[0] = s;                                                             \
        } else {                                                                  \
            for (size_t i = 0; i < n; i++) {                                      \
                const int64_t v = x[i];                                           \
                uint64_t *ap = &a[i];                                             \
                STMT;                                                             \
            }                                                                     \
        }                                                                         \
    } while (0)

static void red_ipass(int ps, bool uns, const int64_t *x, size_t n, uint64_t *a, bool red)
{
    switch (ps) {
    case PS_SUM: RED_ILOOP(*ap += (uint64_t)v); break;
    case PS_SUMSQ: RED_ILOOP(*ap += (uint64_t)v * (uint64_t)v); break;
    case PS_ABS:
        if (uns) RED_ILOOP(*ap += (uint64_t)v);
        else RED_ILOOP(*ap += v < 0 ? (uint64_t)0 - (uint64_t)v : (uint64_t)v);
        break;
    case PS_PROD: RED_ILOOP(*ap *= (uint64_t)v); break;
    case PS_MAX:
        if (uns) RED_ILOOP(if ((uint64_t)v > *ap) *ap = (uint64_t)v);
        else RED_ILOOP(if (v > (int64_t)*ap) *ap = (uint64_t)v);
        break;
    case PS_MIN:
        if (uns) RED_ILOOP(if ((uint64_t)v < *ap) *ap = (uint64_t)v);
        else RED_ILOOP(if (v < (int64_t)*ap) *ap = (uint64_t)v);
        break;
    default: break;
    }
}

/* Runs one pass over the whole input. xt: 0 float, 1 double, 2 int64. */
static void red_pass(const red_iter *it, int xt, const void *x, int ps, bool uns, void *acc,
                     const double *aux)
{
    if (it->n_in == 0) return;
    size_t inner = (size_t)it->d[it->k - 1];
    bool ired = it->r[it->k - 1];
    size_t outer = it->n_in / inner;
    int64_t idx[EM_MAX_RANK] = {0};
    size_t ob = 0;
    for (size_t o = 0; o < outer; o++) {
        size_t xo = o * inner;
        switch (xt) {
        case 0:
            red_fpass_f32(ps, (const float *)x + xo, inner, (double *)acc + ob,
                          aux ? aux + ob : NULL, ired);
            break;
        case 1:
            red_fpass_f64(ps, (const double *)x + xo, inner, (double *)acc + ob,
                          aux ? aux + ob : NULL, ired);
            break;
        default:
            red_ipass(ps, uns, (const int64_t *)x + xo, inner, (uint64_t *)acc + ob, ired);
            break;
        }
        for (int d = it->k - 2; d >= 0; d--) {
            idx[d]++;
            ob += (size_t)it->os[d];
            if (idx[d] < it->d[d]) break;
            ob -= (size_t)it->os[d] * (size_t)it->d[d];
            idx[d] = 0;
        }
    }
}

static void red_int_limits(int dt, int64_t *mn, uint64_t *mx)
{
    switch (dt) {
    case EDGEML_INT8: *mn = INT8_MIN; *mx = INT8_MAX; break;
    case EDGEML_INT16: *mn = INT16_MIN; *mx = INT16_MAX; break;
    case EDGEML_INT32: *mn = INT32_MIN; *mx = INT32_MAX; break;
    case EDGEML_INT64: *mn = INT64_MIN; *mx = INT64_MAX; break;
    case EDGEML_UINT8: *mn = 0; *mx = UINT8_MAX; break;
    case EDGEML_UINT16: *mn = 0; *mx = UINT16_MAX; break;
    case EDGEML_UINT32: *mn = 0; *mx = UINT32_MAX; break;
    case EDGEML_UINT64: *mn = 0; *mx = UINT64_MAX; break;
    case EDGEML_BOOL: *mn = 0; *mx = 1; break;
    default: *mn = 0; *mx = 0; break;
    }
}

static bool red_dtype_ok(int kind, int dt)
{
    if (red_is_floatlike(dt) || em_dtype_is_int(dt)) return true;
    if (dt == EDGEML_BOOL) return kind == RK_MAX || kind == RK_MIN;
    return false;
}

edgeml_status red_reduce_run(em_kctx *c)
{
    const red_reduce_state *s = c->node->state;
    const em_tensor *x = em_in(c, 0);
    EM_CHECK(c, x, "missing input 'data'");
    int dt = x->dtype;
    EM_CHECK(c, red_dtype_ok(s->kind, dt), "unsupported input dtype %s", em_dtype_name(dt));
    int rank = x->rank;

    /* axes */
    const int64_t *axes = NULL;
    size_t nax = 0;
    if (s->axes_input) {
        const em_tensor *at = em_n_in(c) > 1 ? em_in(c, 1) : NULL;
        if (at) {
            EM_CHECK(c, at->dtype == EDGEML_INT64 || at->dtype == EDGEML_INT32,
                     "axes must be int64, got %s", em_dtype_name(at->dtype));
            EM_CHECK(c, at->rank <= 1, "axes must be 1-D");
            nax = em_numel(at);
            EM_CHECK(c, nax <= (size_t)EM_MAX_RANK * 4, "too many axes (%zu)", nax);
            int64_t *tmp = em_scratch(c, (nax ? nax : 1) * sizeof(int64_t));
            if (!tmp) return c->err->code ? c->err->code : EDGEML_E_NOMEM;
            for (size_t i = 0; i < nax; i++) tmp[i] = em_get_i64(at->data, at->dtype, i);
            axes = tmp;
        }
    } else if (s->n_axes >= 0) {
        nax = (size_t)s->n_axes;
        axes = s->axes;
    }

    bool red[EM_MAX_RANK];
    for (int i = 0; i < rank; i++) red[i] = (nax == 0 && !s->noop);
    for (size_t i = 0; i < nax; i++) {
        int a;
        EM_CHECK(c, em_axis(axes[i], rank, &a), "axis %lld out of range for rank %d",
                 (long long)axes[i], rank);
        red[a] = true;
    }

    int64_t od[EM_MAX_RANK];
    int orank = 0;
    for (int i = 0; i < rank; i++) {
        if (!red[i]) od[orank++] = x->dims[i];
        else if (s->keepdims) od[orank++] = 1;
    }
    em_tensor *y = em_out(c, 0, dt, orank, od);
    if (!y) return c->err->code ? c->err->code : EDGEML_E_NOMEM;

    red_iter it;
    red_iter_init(&it, rank, x->dims, red);
    size_t nout = em_numel(y);
    if (nout == 0) return EDGEML_OK;
    size_t nin = em_numel(x);

    int kind = s->kind;
    bool isf = red_is_floatlike(dt);
    bool dpath = isf || kind == RK_MEAN || kind == RK_L2 || kind == RK_LOGSUM || kind == RK_LSE;

    if (dpath) {
        /* Input as float/double array. */
        int xt;
        const void *xd;
        if (dt == EDGEML_FLOAT) {
            xt = 0;
            xd = x->data;
        } else if (dt == EDGEML_DOUBLE) {
            xt = 1;
            xd = x->data;
        } else if (isf) {
            xt = 0;
            xd = red_to_f32(c, x);
            if (!xd) return EDGEML_E_NOMEM;
        } else {
            xt = 1;
            double *t = em_scratch(c, (nin ? nin : 1) * sizeof(double));
            if (!t) return EDGEML_E_NOMEM;
            bool uns = !em_dtype_is_signed(dt);
            for (size_t i = 0; i < nin; i++) {
                int64_t v = em_get_i64(x->data, dt, i);
                t[i] = uns ? (double)(uint64_t)v : (double)v;
            }
            xd = t;
        }
        double *acc = em_scratch(c, nout * sizeof(double));
        if (!acc) return EDGEML_E_NOMEM;
        double *aux = NULL;
        double init = 0;
        int ps = PS_SUM;
        switch (kind) {
        case RK_SUM: case RK_MEAN: case RK_LOGSUM: ps = PS_SUM; break;
        case RK_SUMSQ: case RK_L2: ps = PS_SUMSQ; break;
        case RK_L1: ps = PS_ABS; break;
        case RK_PROD: ps = PS_PROD; init = 1; break;
        case RK_MAX: case RK_LSE: ps = PS_MAX; init = -INFINITY; break;
        case RK_MIN: ps = PS_MIN; init = INFINITY; break;
        }
        for (size_t i = 0; i < nout; i++) acc[i] = init;
        red_pass(&it, xt, xd, ps, false, acc, NULL);
        if (kind == RK_LSE) {
            aux = em_scratch(c, nout * sizeof(double));
            if (!aux) return EDGEML_E_NOMEM;
            for (size_t i = 0; i < nout; i++) {
                aux[i] = isfinite(acc[i]) ? acc[i] : 0;
                acc[i] = 0;
            }
            red_pass(&it, xt, xd, PS_SUMEXP, false, acc, aux);
        }
        double cnt = (double)it.cnt;
        for (size_t i = 0; i < nout; i++) {
            double r = acc[i];
            switch (kind) {
            case RK_MEAN: r = r / cnt; break;
            case RK_L2: r = sqrt(r); break;
            case RK_LOGSUM: r = log(r); break;
            case RK_LSE: r = log(r) + aux[i]; break;
            default: break;
            }
            acc[i] = r;
        }
        if (dt == EDGEML_FLOAT) {
            float *yo = y->data;
            for (size_t i = 0; i < nout; i++) yo[i] = (float)acc[i];
        } else if (dt == EDGEML_DOUBLE) {
            memcpy(y->data, acc, nout * sizeof(double));
        } else {
            for (size_t i = 0; i < nout; i++) red_store_num(y->data, dt, i, acc[i]);
        }
        return EDGEML_OK;
    }

    /* Integer / bool path. */
    int64_t *xi = em_scratch(c, (nin ? nin : 1) * sizeof(int64_t));
    uint64_t *acc = em_scratch(c, nout * sizeof(uint64_t));
    if (!xi || !acc) return EDGEML_E_NOMEM;
    if (dt == EDGEML_INT64 || dt == EDGEML_UINT64) {
        if (nin) memcpy(xi, x->data, nin * sizeof(int64_t));
    } else if (dt == EDGEML_BOOL) {
        for (size_t i = 0; i < nin; i++) xi[i] = ((const uint8_t *)x->data)[i] != 0;
    } else {
        for (size_t i = 0; i < nin; i++) xi[i] = em_get_i64(x->data, dt, i);
    }
    bool uns = dt == EDGEML_BOOL || !em_dtype_is_signed(dt);
    int64_t mn;
    uint64_t mx;
    red_int_limits(dt, &mn, &mx);
    uint64_t init = 0;
    int ps = PS_SUM;
    switch (kind) {
    case RK_SUM: ps = PS_SUM; break;
    case RK_SUMSQ: ps = PS_SUMSQ; break;
    case RK_L1: ps = PS_ABS; break;
    case RK_PROD: ps = PS_PROD; init = 1; break;
    case RK_MAX: ps = PS_MAX; init = (uint64_t)mn; break;
    case RK_MIN: ps = PS_MIN; init = mx; break;
    default: break;
    }
    for (size_t i = 0; i < nout; i++) acc[i] = init;
    red_pass(&it, 2, xi, ps, uns, acc, NULL);
    for (size_t i = 0; i < nout; i++) {
        if (dt == EDGEML_BOOL) ((uint8_t *)y->data)[i] = acc[i] != 0;
        else em_set_i64(y->data, dt, i, (int64_t)acc[i]);
    }
    return EDGEML_OK;
}

/* ---- ArgMax / ArgMin --------------------------------------------------- */

typedef struct {
    int is_max;
    int keepdims;
    int last;
    int64_t axis;
} red_arg_state;

edgeml_status red_arg_prepare(em_node *node, edgeml_error *err)
{
    red_arg_state *s = calloc(1, sizeof *s);
    if (!s) return em_node_fail(node, err, EDGEML_E_NOMEM, "out of memory");
    node->state = s;
    s->is_max = strcmp(node->op_type, "ArgMax") == 0;
    s->keepdims = em_attr_int(node, "keepdims", 1) != 0;
    s->last = node->opset >= 12 ? em_attr_int(node, "select_last_index", 0) != 0 : 0;
    s->axis = em_attr_int(node, "axis", 0);
    return EDGEML_OK;
}

#define RED_ARG(NAME, T)                                                             \
    static void NAME(const T *x, size_t outer, size_t n, size_t inner, int64_t *y,    \
                     bool is_max, bool last)                                         \
    {                                                                                \
        for (size_t o = 0; o < outer; o++) {                                         \
            for (size_t j = 0; j < inner; j++) {                                     \
                const T *p = x + o * n * inner + j;                                  \
                T best = p[0];                                                       \
                int64_t bi = 0;                                                      \
                for (size_t i = 1; i < n; i++) {                                     \
                    T v = p[i * inner];                                              \
                    if (best != best) {                                              \
                        if (last && v != v) bi = (int64_t)i;                         \
                        continue;                                                    \
                    }                                                                \
                    bool better = is_max ? v > best : v < best;                      \
                    if (v != v || better || (last && v == best)) {                   \
                        best = v;                                                    \
                        bi = (int64_t)i;                                             \
                    }                                                                \
                }                                                                    \
                y[o * inner + j] = bi;                                               \
            }                                                                        \
        }                                                                            \
    }

RED_ARG(red_arg_f32, float)
RED_ARG(red_arg_f64, double)
RED_ARG(red_arg_i64, int64_t)
RED_ARG(red_arg_u64, uint64_t)

edgeml_status red_arg_run(em_kctx *c)
{
    const red_arg_state *s = c->node->state;
    const em_tensor *x = em_in(c, 0);
    EM_CHECK(c, x, "missing input 'data'");
    int dt = x->dtype;
    EM_CHECK(c, red_is_floatlike(dt) || em_dtype_is_int(dt) || dt == EDGEML_BOOL,
             "unsupported input dtype %s", em_dtype_name(dt));
    int rank = x->rank;
    int ax;
    if (rank == 0) {
        EM_CHECK(c, s->axis == 0 || s->axis == -1, "axis %lld out of range for rank 0",
                 (long long)s->axis);
        ax = -1;
    } else {
        EM_CHECK(c, em_axis(s->axis, rank, &ax), "axis %lld out of range for rank %d",
                 (long long)s->axis, rank);
    }
    int64_t od[EM_MAX_RANK];
    int orank = 0;
    size_t outer = 1, inner = 1, n = 1;
    for (int i = 0; i < rank; i++) {
        if (i == ax) {
            n = (size_t)x->dims[i];
            if (s->keepdims) od[orank++] = 1;
        } else {
            od[orank++] = x->dims[i];
            if (i < ax) outer *= (size_t)x->dims[i];
            else inner *= (size_t)x->dims[i];
        }
    }
    em_tensor *y = em_out(c, 0, EDGEML_INT64, orank, od);
    if (!y) return c->err->code ? c->err->code : EDGEML_E_NOMEM;
    size_t nout = em_numel(y);
    if (nout == 0) return EDGEML_OK;
    EM_CHECK(c, n > 0, "cannot reduce an axis of size 0");
    size_t nin = em_numel(x);
    switch (dt) {
    case EDGEML_FLOAT:
        red_arg_f32(x->data, outer, n, inner, y->data, s->is_max, s->last);
        break;
    case EDGEML_DOUBLE:
        red_arg_f64(x->data, outer, n, inner, y->data, s->is_max, s->last);
        break;
    case EDGEML_FLOAT16:
    case EDGEML_BFLOAT16: {
        float *f = red_to_f32(c, x);
        if (!f) return EDGEML_E_NOMEM;
        red_arg_f32(f, outer, n, inner, y->data, s->is_max, s->last);
        break;
    }
    default: {
        int64_t *t = em_scratch(c, nin * sizeof(int64_t));
        if (!t) return EDGEML_E_NOMEM;
        for (size_t i = 0; i < nin; i++)
            t[i] = dt == EDGEML_BOOL ? ((const uint8_t *)x->data)[i] != 0
                                     : em_get_i64(x->data, dt, i);
        if (dt == EDGEML_UINT64)
            red_arg_u64((const uint64_t *)t, outer, n, inner, y->data, s->is_max, s->last);
        else
            red_arg_i64(t, outer, n, inner, y->data, s->is_max, s->last);
        break;
    }
    }
    return EDGEML_OK;
}
