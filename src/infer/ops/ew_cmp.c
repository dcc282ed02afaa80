/* Binary comparisons, logical and bitwise ops with broadcasting:
 * Equal Greater GreaterOrEqual Less LessOrEqual And Or Xor
 * BitwiseAnd BitwiseOr BitwiseXor BitShift. */
#include "ew.h"

#include <stdlib.h>

enum {
    C_EQ, C_GT, C_GE, C_LT, C_LE, C_AND, C_OR, C_XOR, C_BAND, C_BOR, C_BXOR, C_SHIFT, C_COUNT
};
static const char *const cmp_names[C_COUNT] = {
    "Equal", "Greater", "GreaterOrEqual", "Less", "LessOrEqual", "And", "Or", "Xor",
    "BitwiseAnd", "BitwiseOr", "BitwiseXor", "BitShift",
};

typedef struct cstate {
    int op;
    int left;          /* BitShift direction */
    ew_legacy leg;
} cstate;

typedef struct cparam {
    int dt;
    int left;
} cparam;

#define ROW_ARGS void *o, const void *a, ptrdiff_t sa, const void *b, ptrdiff_t sb, size_t n, \
                 const void *param_

/* Same loop shape as in ew_arith.c: BODY reads x, y and writes *dst. */
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
        } else {                                                                       \
            for (size_t i = 0; i < n; i++) {                                           \
                CT x = LOADA(pa_[(ptrdiff_t)i * sa]), y = LOADB(pb_[(ptrdiff_t)i * sb]); \
                TO *dst = &po_[i];                                                     \
                BODY;                                                                  \
            }                                                                          \
        }                                                                              \
        return 0;                                                                      \
    } while (0)

#define CMP_FN(name)                                                                 \
    static int name(ROW_ARGS)                                                             \
    {                                                                                     \
        const cparam *p = param_;                                                         \
        switch (p->dt) {                                                                  \
        EW_FOR_NUMERIC(name##_C) EW_FOR_BOOL(name##_C)                                    \
        default: return 1;                                                                \
        }                                                                                 \
    }
#define r_eq_C(DT, T, CT, L, S, UT) case DT: EW_BLOOP(T, T, uint8_t, CT, L, L, *dst = x == y);
#define r_gt_C(DT, T, CT, L, S, UT) case DT: EW_BLOOP(T, T, uint8_t, CT, L, L, *dst = x > y);
#define r_ge_C(DT, T, CT, L, S, UT) case DT: EW_BLOOP(T, T, uint8_t, CT, L, L, *dst = x >= y);
#define r_lt_C(DT, T, CT, L, S, UT) case DT: EW_BLOOP(T, T, uint8_t, CT, L, L, *dst = x < y);
#define r_le_C(DT, T, CT, L, S, UT) case DT: EW_BLOOP(T, T, uint8_t, CT, L, L, *dst = x <= y);
CMP_FN(r_eq)
CMP_FN(r_gt)
CMP_FN(r_ge)
CMP_FN(r_lt)
CMP_FN(r_le)

static int r_eq_str(ROW_ARGS)
{
    const em_str *x = a, *y = b;
    uint8_t *out = o;
    for (size_t i = 0; i < n; i++) {
        const em_str *u = &x[(ptrdiff_t)i * sa], *v = &y[(ptrdiff_t)i * sb];
        out[i] = u->len == v->len && (u->len == 0 || memcmp(u->data, v->data, u->len) == 0);
    }
    return 0;
}

static int r_and(ROW_ARGS)
{
    EW_BLOOP(uint8_t, uint8_t, uint8_t, uint8_t, EW_ID, EW_ID, *dst = (x != 0) & (y != 0));
}
static int r_or(ROW_ARGS)
{
    EW_BLOOP(uint8_t, uint8_t, uint8_t, uint8_t, EW_ID, EW_ID, *dst = (x != 0) | (y != 0));
}
static int r_xor(ROW_ARGS)
{
    EW_BLOOP(uint8_t, uint8_t, uint8_t, uint8_t, EW_ID, EW_ID, *dst = (x != 0) ^ (y != 0));
}

#define BAND_C(DT, T, CT, L, S, UT) case DT: EW_BLOOP(T, T, T, CT, L, L, *dst = (CT)((UT)x & (UT)y));
#define BOR_C(DT, T, CT, L, S, UT) case DT: EW_BLOOP(T, T, T, CT, L, L, *dst = (CT)((UT)x | (UT)y));
#define BXOR_C(DT, T, CT, L, S, UT) case DT: EW_BLOOP(T, T, T, CT, L, L, *dst = (CT)((UT)x ^ (UT)y));
static int r_band(ROW_ARGS)
{
    const cparam *p = param_;
    switch (p->dt) { EW_FOR_INTS(BAND_C) EW_FOR_BOOL(BAND_C) default: return 1; }
}
static int r_bor(ROW_ARGS)
{
    const cparam *p = param_;
    switch (p->dt) { EW_FOR_INTS(BOR_C) EW_FOR_BOOL(BOR_C) default: return 1; }
}
static int r_bxor(ROW_ARGS)
{
    const cparam *p = param_;
    switch (p->dt) { EW_FOR_INTS(BXOR_C) EW_FOR_BOOL(BXOR_C) default: return 1; }
}

/* BitShift: unsigned integers; a shift by >= the bit width gives 0. */
#define SHL_C(DT, T, CT, L, S, UT) \
    case DT: EW_BLOOP(T, T, T, CT, L, L, *dst = (CT)(y >= sizeof(T) * 8 ? 0 : (UT)x << y));
#define SHR_C(DT, T, CT, L, S, UT) \
    case DT: EW_BLOOP(T, T, T, CT, L, L, *dst = (CT)(y >= sizeof(T) * 8 ? 0 : (UT)x >> y));
static int r_shift(ROW_ARGS)
{
    const cparam *p = param_;
    if (p->left) {
        switch (p->dt) { EW_FOR_UINTS(SHL_C) default: return 1; }
    }
    switch (p->dt) { EW_FOR_UINTS(SHR_C) default: return 1; }
}

static const ew_row2_fn cmp_fns[C_COUNT] = {
    r_eq, r_gt, r_ge, r_lt, r_le, r_and, r_or, r_xor, r_band, r_bor, r_bxor, r_shift,
};

edgeml_status ew_cmp_prepare(em_node *n, edgeml_error *err)
{
    int op = -1;
    for (int i = 0; i < C_COUNT; i++)
        if (strcmp(cmp_names[i], n->op_type) == 0) op = i;
    if (op < 0) return em_node_fail(n, err, EDGEML_E_UNSUPPORTED, "not a comparison op");
    cstate *s = calloc(1, sizeof *s);
    if (!s) return em_node_fail(n, err, EDGEML_E_NOMEM, "out of memory");
    s->op = op;
    if (op == C_SHIFT) {
        const char *d = em_attr_str(n, "direction", "");
        if (strcmp(d, "LEFT") == 0) s->left = 1;
        else if (strcmp(d, "RIGHT") != 0) {
            free(s);
            return em_node_fail(n, err, EDGEML_E_MODEL,
                                "attribute direction must be LEFT or RIGHT, got '%s'", d);
        }
    }
    ew_legacy_parse(n, &s->leg);
    n->state = s;
    return EDGEML_OK;
}

edgeml_status ew_cmp_run(em_kctx *c)
{
    const cstate *s = c->node->state;
    const em_tensor *a = em_in(c, 0), *b = em_in(c, 1);
    EM_CHECK(c, a && b, "inputs A and B are required tensors");
    if (a->dtype != b->dtype)
        return em_fail(c, EDGEML_E_RUNTIME, "input dtypes differ: %s and %s",
                       em_dtype_name(a->dtype), em_dtype_name(b->dtype));
    int dt = a->dtype;
    ew_row2_fn fn = cmp_fns[s->op];
    bool ok;
    switch (s->op) {
    case C_EQ:
        if (dt == EDGEML_STRING) fn = r_eq_str;
        ok = ew_dtype_known(dt);
        break;
    case C_GT: case C_GE: case C_LT: case C_LE:
        ok = em_dtype_is_float(dt) || em_dtype_is_int(dt) || dt == EDGEML_BOOL;
        break;
    case C_AND: case C_OR: case C_XOR:
        ok = dt == EDGEML_BOOL;
        break;
    case C_BAND: case C_BOR: case C_BXOR:
        ok = em_dtype_is_int(dt) || dt == EDGEML_BOOL;
        break;
    default: /* C_SHIFT */
        ok = dt == EDGEML_UINT8 || dt == EDGEML_UINT16 || dt == EDGEML_UINT32 ||
             dt == EDGEML_UINT64;
        break;
    }
    if (!ok) return em_fail(c, EDGEML_E_UNSUPPORTED, "unsupported dtype %s", em_dtype_name(dt));
    int odt = s->op <= C_XOR ? EDGEML_BOOL : dt;
    em_tensor bv;
    int rank;
    int64_t dims[EM_MAX_RANK];
    edgeml_status st = ew_binary_shape(c, &s->leg, a, b, &bv, &rank, dims);
    if (st) return st;
    em_tensor *y = em_out(c, 0, odt, rank, dims);
    if (!y) return c->err->code ? c->err->code : EDGEML_E_NOMEM;
    cparam p = {dt, s->left};
    if (ew_bcast2(a, &bv, y, fn, &p))
        return em_fail(c, EDGEML_E_UNSUPPORTED, "unsupported dtype %s", em_dtype_name(dt));
    return EDGEML_OK;
}
