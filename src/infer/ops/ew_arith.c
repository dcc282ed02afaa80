/* Binary arithmetic with broadcasting: Add Sub Mul Div Mod Pow. */
#include "ew.h"
#include "../cpu/vmath.h"

#include <stdlib.h>

enum { A_ADD, A_SUB, A_MUL, A_DIV, A_MOD, A_POW };

typedef struct astate {
    int op;
    int fmod;
    ew_legacy leg;
} astate;

typedef struct aparam {
    int dt, dtb;
    int fmod;
} aparam;

/* Error codes returned by row kernels. */
enum { R_DIVZERO = 1, R_DTYPE = 2 };

/* Stamps a broadcast-aware loop: BODY reads x, y and writes *dst. */
#define EW_BLOOP(TA, TB, TO, CT, LOADA, LOADB, BODY)                                   \
    do {                                                                               \
        const TA *pa_ = a;                                                             \
        const TB *pb_ = b;                                                             \
        TO *po_ = o;                                                                   \
        if (sa == 1 && sb == 1) {                                                      \
            for (size_t i = 0; i < n; i++) {                                           \
                CT x = LOADA(pa_[i]), y = LOADB(pb_[i]);                               \
                TO *dst = &po_[i];                                                     \
                BODY;                                                                  \
            }                                                                          \
        } else if (sa == 1 && sb == 0) {                                               \
            CT y = LOADB(pb_[0]);                                                      \
            for (size_t i = 0; i < n; i++) {                                           \
                CT x = LOADA(pa_[i]);                                                  \
                TO *dst = &po_[i];                                                     \
                BODY;                                                                  \
            }                                                                          \
        } else if (sa == 0 && sb == 1) {                                               \
            CT x = LOADA(pa_[0]);                                                      \
            for (size_t i = 0; i < n; i++) {                                           \
                CT y = LOADB(pb_[i]);                                                  \
                TO *dst = &po_[i];                                                     \
                BODY;                                                                  \
            }                                                                          \
        } else {                                                                       \
            for (size_t i = 0; i < n; i++) {                                           \
                CT x = LOADA(pa_[(ptrdiff_t)i * sa]), y = LOADB(pb_[(ptrdiff_t)i * sb]); \
                TO *dst = &po_[i];                                                     \
                BODY;                                                                  \
            }                                                                          \
        }                                                                              \
        return 0;                                                                      \
    } while (0)

#define ROW_ARGS void *o, const void *a, ptrdiff_t sa, const void *b, ptrdiff_t sb, size_t n, \
                 const void *param_

/* Add/Sub/Mul: integers wrap (computed in an unsigned type). */
#define ADD_C(DT, T, CT, L, S, UT) case DT: EW_BLOOP(T, T, T, CT, L, L, *dst = S((CT)((UT)x + (UT)y)));
#define SUB_C(DT, T, CT, L, S, UT) case DT: EW_BLOOP(T, T, T, CT, L, L, *dst = S((CT)((UT)x - (UT)y)));
#define MUL_C(DT, T, CT, L, S, UT) case DT: EW_BLOOP(T, T, T, CT, L, L, *dst = S((CT)((UT)x * (UT)y)));

static int r_add(ROW_ARGS)
{
    const aparam *p = param_;
    switch (p->dt) { EW_FOR_NUMERIC(ADD_C) default: return R_DTYPE; }
}
static int r_sub(ROW_ARGS)
{
    const aparam *p = param_;
    switch (p->dt) { EW_FOR_NUMERIC(SUB_C) default: return R_DTYPE; }
}
static int r_mul(ROW_ARGS)
{
    const aparam *p = param_;
    switch (p->dt) { EW_FOR_NUMERIC(MUL_C) default: return R_DTYPE; }
}

/* Div: integer division truncates; x / 0 is an error; MIN / -1 wraps. */
#define DIV_F(DT, T, CT, L, S, UT) case DT: EW_BLOOP(T, T, T, CT, L, L, *dst = S(x / y));
#define DIV_S(DT, T, CT, L, S, UT)                                                 \
    case DT: EW_BLOOP(T, T, T, CT, L, L,                                           \
                      if (y == 0) return R_DIVZERO;                                \
                      *dst = y == -1 ? (CT)(0 - (UT)x) : (CT)(x / y));
#define DIV_U(DT, T, CT, L, S, UT) \
    case DT: EW_BLOOP(T, T, T, CT, L, L, if (y == 0) return R_DIVZERO; *dst = (CT)(x / y));
static int r_div(ROW_ARGS)
{
    const aparam *p = param_;
    switch (p->dt) {
    EW_FOR_FLOATS(DIV_F) EW_FOR_SINTS(DIV_S) EW_FOR_UINTS(DIV_U)
    default: return R_DTYPE;
    }
}

/* Mod. fmod=1: C semantics (sign of the dividend); fmod=0: Python/numpy
 * semantics (sign of the divisor). */
static inline float pymodf(float x, float y)
{
    float r = fmodf(x, y);
    if (r != 0 && ((r < 0) != (y < 0))) r += y;
    return r;
}
static inline double pymodd(double x, double y)
{
    double r = fmod(x, y);
    if (r != 0 && ((r < 0) != (y < 0))) r += y;
    return r;
}
#define FMOD_F(DT, T, CT, L, S, UT) case DT: EW_BLOOP(T, T, T, CT, L, L, *dst = S((CT)fmod(x, y)));
#define PMOD_F(DT, T, CT, L, S, UT) case DT: EW_BLOOP(T, T, T, CT, L, L, *dst = S(pymodf(x, y)));
#define FMOD_S(DT, T, CT, L, S, UT)                                                \
    case DT: EW_BLOOP(T, T, T, CT, L, L,                                           \
                      if (y == 0) return R_DIVZERO;                                \
                      *dst = y == -1 ? (CT)0 : (CT)(x % y));
#define PMOD_S(DT, T, CT, L, S, UT)                                                \
    case DT: EW_BLOOP(T, T, T, CT, L, L,                                           \
                      if (y == 0) return R_DIVZERO;                                \
                      CT r = y == -1 ? (CT)0 : (CT)(x % y);                        \
                      if (r != 0 && ((r < 0) != (y < 0))) r = (CT)((UT)r + (UT)y); \
                      *dst = r);
#define MOD_U(DT, T, CT, L, S, UT) \
    case DT: EW_BLOOP(T, T, T, CT, L, L, if (y == 0) return R_DIVZERO; *dst = (CT)(x % y));
static int r_mod(ROW_ARGS)
{
    const aparam *p = param_;
    if (p->fmod) {
        switch (p->dt) {
        case EDGEML_FLOAT: EW_BLOOP(float, float, float, float, EW_ID, EW_ID, *dst = fmodf(x, y));
        EW_FOR_F64(FMOD_F) EW_FOR_HALF(FMOD_F) EW_FOR_SINTS(FMOD_S) EW_FOR_UINTS(MOD_U)
        default: return R_DTYPE;
        }
    }
    switch (p->dt) {
    case EDGEML_DOUBLE: EW_BLOOP(double, double, double, double, EW_ID, EW_ID, *dst = pymodd(x, y));
    EW_FOR_F32(PMOD_F) EW_FOR_HALF(PMOD_F) EW_FOR_SINTS(PMOD_S) EW_FOR_UINTS(MOD_U)
    default: return R_DTYPE;
    }
}

/* Pow. Integer base and integer exponent: exact, wrapping; a negative
 * exponent gives the truncated result (0 unless |base| == 1). */
static int64_t ipow(int64_t base, int64_t e)
{
    if (e < 0) {
        if (base == 1) return 1;
        if (base == -1) return (e & 1) ? -1 : 1;
        return 0;
    }
    uint64_t r = 1, b = (uint64_t)base;
    while (e) {
        if (e & 1) r *= b;
        b *= b;
        e >>= 1;
    }
    return (int64_t)r;
}

static int r_pow(ROW_ARGS)
{
    const aparam *p = param_;
    if (p->dt == EDGEML_FLOAT && p->dtb == EDGEML_FLOAT) {
        if (sb == 0) {
            float e = *(const float *)b;
            const float *x = a;
            float *out = o;
            if (e == 2.0f) {
                for (size_t i = 0; i < n; i++) { float v = x[(ptrdiff_t)i * sa]; out[i] = v * v; }
                return 0;
            }
            if (e == 1.0f) {
                for (size_t i = 0; i < n; i++) out[i] = x[(ptrdiff_t)i * sa];
                return 0;
            }
            if (e == 3.0f) {
                for (size_t i = 0; i < n; i++) {
                    float v = x[(ptrdiff_t)i * sa];
                    out[i] = v * v * v;
                }
                return 0;
            }
        }
        EW_BLOOP(float, float, float, float, EW_ID, EW_ID, *dst = powf(x, y));
    }
    if (p->dt == EDGEML_DOUBLE && p->dtb == EDGEML_DOUBLE)
        EW_BLOOP(double, double, double, double, EW_ID, EW_ID, *dst = pow(x, y));
    /* mixed dtypes: generic accessors */
    bool fbase = em_dtype_is_float(p->dt), fexp = em_dtype_is_float(p->dtb);
    if ((!fbase && !em_dtype_is_int(p->dt)) || (!fexp && !em_dtype_is_int(p->dtb)))
        return R_DTYPE;
    for (size_t i = 0; i < n; i++) {
        size_t ia = (size_t)((ptrdiff_t)i * sa), ib = (size_t)((ptrdiff_t)i * sb);
        if (fbase) {
            double v = pow(em_get_f64(a, p->dt, ia), em_get_f64(b, p->dtb, ib));
            if (p->dt == EDGEML_FLOAT || p->dt == EDGEML_FLOAT16 || p->dt == EDGEML_BFLOAT16)
                v = powf((float)em_get_f64(a, p->dt, ia), (float)em_get_f64(b, p->dtb, ib));
            em_set_f64(o, p->dt, i, v);
        } else if (!fexp) {
            em_set_i64(o, p->dt, i, ipow(em_get_i64(a, p->dt, ia), em_get_i64(b, p->dtb, ib)));
        } else {
            em_set_f64(o, p->dt, i, pow(em_get_f64(a, p->dt, ia), em_get_f64(b, p->dtb, ib)));
        }
    }
    return 0;
}

typedef struct fparam { em_vbin_fn f; } fparam;
static int r_fast(ROW_ARGS)
{
    em_vbin_fn f = ((const fparam *)param_)->f;
    if ((sa == 0 || sa == 1) && (sb == 0 || sb == 1)) { f(o, a, sa, b, sb, n); return 0; }
    float *out = o;
    const float *x = a, *y = b;
    for (size_t i = 0; i < n; i++) f(out + i, x + (ptrdiff_t)i * sa, 0, y + (ptrdiff_t)i * sb, 0, 1);
    return 0;
}

static const char *const arith_names[] = {"Add", "Sub", "Mul", "Div", "Mod", "Pow"};
static const ew_row2_fn arith_fns[] = {r_add, r_sub, r_mul, r_div, r_mod, r_pow};

edgeml_status ew_arith_prepare(em_node *n, edgeml_error *err)
{
    int op = -1;
    for (int i = 0; i < (int)(sizeof arith_names / sizeof arith_names[0]); i++)
        if (strcmp(arith_names[i], n->op_type) == 0) op = i;
    if (op < 0) return em_node_fail(n, err, EDGEML_E_UNSUPPORTED, "not an arithmetic op");
    astate *s = calloc(1, sizeof *s);
    if (!s) return em_node_fail(n, err, EDGEML_E_NOMEM, "out of memory");
    s->op = op;
    if (op == A_MOD) {
        int64_t f = em_attr_int(n, "fmod", 0);
        if (f != 0 && f != 1) {
            free(s);
            return em_node_fail(n, err, EDGEML_E_MODEL, "attribute fmod must be 0 or 1, got %lld",
                                (long long)f);
        }
        s->fmod = (int)f;
    }
    ew_legacy_parse(n, &s->leg);
    n->state = s;
    return EDGEML_OK;
}

edgeml_status ew_arith_run(em_kctx *c)
{
    const astate *s = c->node->state;
    const em_tensor *a = em_in(c, 0), *b = em_in(c, 1);
    EM_CHECK(c, a && b, "inputs A and B are required tensors");
    if (s->op != A_POW && a->dtype != b->dtype)
        return em_fail(c, EDGEML_E_RUNTIME, "input dtypes differ: %s and %s",
                       em_dtype_name(a->dtype), em_dtype_name(b->dtype));
    if (!em_dtype_is_float(a->dtype) && !em_dtype_is_int(a->dtype))
        return em_fail(c, EDGEML_E_UNSUPPORTED, "unsupported dtype %s", em_dtype_name(a->dtype));
    if (!em_dtype_is_float(b->dtype) && !em_dtype_is_int(b->dtype))
        return em_fail(c, EDGEML_E_UNSUPPORTED, "unsupported exponent dtype %s",
                       em_dtype_name(b->dtype));
    em_tensor bv;
    int rank;
    int64_t dims[EM_MAX_RANK];
    edgeml_status st = ew_binary_shape(c, &s->leg, a, b, &bv, &rank, dims);
    if (st) return st;
    em_tensor *y = em_out(c, 0, a->dtype, rank, dims);
    if (!y) return c->err->code ? c->err->code : EDGEML_E_NOMEM;
    if (a->dtype == EDGEML_FLOAT && b->dtype == EDGEML_FLOAT && s->op <= A_DIV && em_vmath_fast()) {
        /* float32 Add/Sub/Mul/Div: vectorised rows, split over the pool; the
         * same IEEE operations as the reference, so the same bits */
        fparam fp = {em_vmath_get()->bin[s->op]};
        ew_bcast2_par(a, &bv, y, r_fast, &fp, c->pool, c->threads);
        return EDGEML_OK;
    }
    aparam p = {a->dtype, b->dtype, s->fmod};
    int rc = ew_bcast2(a, &bv, y, arith_fns[s->op], &p);
    if (rc == R_DIVZERO) return em_fail(c, EDGEML_E_RUNTIME, "integer division by zero");
    if (rc) return em_fail(c, EDGEML_E_UNSUPPORTED, "unsupported dtype %s", em_dtype_name(a->dtype));
    return EDGEML_OK;
}
