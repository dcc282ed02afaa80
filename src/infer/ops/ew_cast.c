/* Cast and CastLike: every pair of numeric types (float8 and 4-bit integers
 * included), bool and string. */
#include "ew.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

/* ---- float -> integer without UB ------------------------------------------
 * Values in int64 range truncate toward zero and wrap into narrower types as
 * numpy does on x86; NaN gives 0; values beyond the range saturate. */
static inline uint64_t f2bits(double v, int to_u64)
{
    if (v != v) return 0;
    if (to_u64 && v >= 9223372036854775808.0)
        return v >= 18446744073709551615.0 ? UINT64_MAX : (uint64_t)v;
    if (v >= 9223372036854775807.0) return (uint64_t)INT64_MAX;
    if (v <= -9223372036854775808.0) return (uint64_t)INT64_MIN;
    return (uint64_t)(int64_t)v;
}
#define EW_TOINT(v, U64) \
    _Generic((v), float: f2bits((double)(v), U64), double: f2bits((double)(v), U64), default: (v))

/* Per destination: how a source value v (compute type) is stored. */
#define ST_FLOAT(v) ((float)(v))
#define ST_DOUBLE(v) ((double)(v))
#define ST_F16(v) em_f32_to_f16((float)(v))
#define ST_BF16(v) em_f32_to_bf16((float)(v))
#define ST_BOOL(v) ((uint8_t)((v) != 0))
#define ST_I8(v) ((int8_t)EW_TOINT(v, 0))
#define ST_I16(v) ((int16_t)EW_TOINT(v, 0))
#define ST_I32(v) ((int32_t)EW_TOINT(v, 0))
#define ST_I64(v) ((int64_t)EW_TOINT(v, 0))
#define ST_U8(v) ((uint8_t)EW_TOINT(v, 0))
#define ST_U16(v) ((uint16_t)EW_TOINT(v, 0))
#define ST_U32(v) ((uint32_t)EW_TOINT(v, 0))
#define ST_U64(v) ((uint64_t)EW_TOINT(v, 1))

#define CAST_DSTS(Y)                                                       \
    Y(EDGEML_FLOAT, float, ST_FLOAT) Y(EDGEML_DOUBLE, double, ST_DOUBLE)    \
    Y(EDGEML_FLOAT16, uint16_t, ST_F16) Y(EDGEML_BFLOAT16, uint16_t, ST_BF16) \
    Y(EDGEML_BOOL, uint8_t, ST_BOOL) Y(EDGEML_INT8, int8_t, ST_I8)          \
    Y(EDGEML_INT16, int16_t, ST_I16) Y(EDGEML_INT32, int32_t, ST_I32)       \
    Y(EDGEML_INT64, int64_t, ST_I64) Y(EDGEML_UINT8, uint8_t, ST_U8)        \
    Y(EDGEML_UINT16, uint16_t, ST_U16) Y(EDGEML_UINT32, uint32_t, ST_U32)   \
    Y(EDGEML_UINT64, uint64_t, ST_U64)

/* Stamps cast_from_<DT>(src, dst, ddt, n): returns 0, or 1 for an unknown ddt. */
#define CAST_FROM(DT, T, CT, L, S, UT)                                             \
    static int cast_from_##DT(const void *src_, void *dst_, int ddt, size_t n)    \
    {                                                                              \
        const T *src = src_;                                                       \
        switch (ddt) {                                                             \
        CAST_DSTS(CAST_TO_)                                                        \
        default: return 1;                                                         \
        }                                                                          \
    }
/* the loop, with source load L and compute type CT taken from the enclosing X */
#define CAST_TO_(DDT, TD, STORE)                                                   \
    case DDT: {                                                                    \
        TD *dst = dst_;                                                            \
        for (size_t i = 0; i < n; i++) {                                           \
            CAST_CT v = CAST_LOAD(src[i]);                                         \
            dst[i] = STORE(v);                                                     \
        }                                                                          \
        return 0;                                                                  \
    }

#define CAST_CT float
#define CAST_LOAD EW_ID
CAST_FROM(EDGEML_FLOAT, float, float, EW_ID, EW_ID, float)
#undef CAST_CT
#undef CAST_LOAD
#define CAST_CT double
#define CAST_LOAD EW_ID
CAST_FROM(EDGEML_DOUBLE, double, double, EW_ID, EW_ID, double)
#undef CAST_CT
#undef CAST_LOAD
#define CAST_CT float
#define CAST_LOAD em_f16_to_f32
CAST_FROM(EDGEML_FLOAT16, uint16_t, float, L, S, float)
#undef CAST_LOAD
#define CAST_LOAD em_bf16_to_f32
CAST_FROM(EDGEML_BFLOAT16, uint16_t, float, L, S, float)
#undef CAST_CT
#undef CAST_LOAD
#define CAST_LOAD EW_ID
#define CAST_CT int8_t
CAST_FROM(EDGEML_INT8, int8_t, x, L, S, x)
#undef CAST_CT
#define CAST_CT int16_t
CAST_FROM(EDGEML_INT16, int16_t, x, L, S, x)
#undef CAST_CT
#define CAST_CT int32_t
CAST_FROM(EDGEML_INT32, int32_t, x, L, S, x)
#undef CAST_CT
#define CAST_CT int64_t
CAST_FROM(EDGEML_INT64, int64_t, x, L, S, x)
#undef CAST_CT
#define CAST_CT uint8_t
CAST_FROM(EDGEML_UINT8, uint8_t, x, L, S, x)
CAST_FROM(EDGEML_BOOL, uint8_t, x, L, S, x)
#undef CAST_CT
#define CAST_CT uint16_t
CAST_FROM(EDGEML_UINT16, uint16_t, x, L, S, x)
#undef CAST_CT
#define CAST_CT uint32_t
CAST_FROM(EDGEML_UINT32, uint32_t, x, L, S, x)
#undef CAST_CT
#define CAST_CT uint64_t
CAST_FROM(EDGEML_UINT64, uint64_t, x, L, S, x)
#undef CAST_CT
#undef CAST_LOAD

static int cast_numeric(const void *src, int sdt, void *dst, int ddt, size_t n)
{
    switch (sdt) {
    case EDGEML_FLOAT: return cast_from_EDGEML_FLOAT(src, dst, ddt, n);
    case EDGEML_DOUBLE: return cast_from_EDGEML_DOUBLE(src, dst, ddt, n);
    case EDGEML_FLOAT16: return cast_from_EDGEML_FLOAT16(src, dst, ddt, n);
    case EDGEML_BFLOAT16: return cast_from_EDGEML_BFLOAT16(src, dst, ddt, n);
    case EDGEML_INT8: return cast_from_EDGEML_INT8(src, dst, ddt, n);
    case EDGEML_INT16: return cast_from_EDGEML_INT16(src, dst, ddt, n);
    case EDGEML_INT32: return cast_from_EDGEML_INT32(src, dst, ddt, n);
    case EDGEML_INT64: return cast_from_EDGEML_INT64(src, dst, ddt, n);
    case EDGEML_UINT8: return cast_from_EDGEML_UINT8(src, dst, ddt, n);
    case EDGEML_UINT16: return cast_from_EDGEML_UINT16(src, dst, ddt, n);
    case EDGEML_UINT32: return cast_from_EDGEML_UINT32(src, dst, ddt, n);
    case EDGEML_UINT64: return cast_from_EDGEML_UINT64(src, dst, ddt, n);
    case EDGEML_BOOL: return cast_from_EDGEML_BOOL(src, dst, ddt, n);
    default: return 1;
    }
}

/* ---- number -> string ------------------------------------------------------
 * As numpy's str(): the shortest digits that read back to the same value of
 * the source type; positional for 1e-4 <= |v| < 1e16 (and 0), else
 * scientific with a two-digit exponent minimum. */
static bool roundtrips(const char *s, double v, int dt)
{
    double r = strtod(s, NULL);
    switch (dt) {
    case EDGEML_FLOAT: return strtof(s, NULL) == (float)v;
    case EDGEML_FLOAT16: return em_f16_to_f32(em_f32_to_f16(strtof(s, NULL))) == (float)v;
    case EDGEML_BFLOAT16: return em_bf16_to_f32(em_f32_to_bf16(strtof(s, NULL))) == (float)v;
    default: return r == v;
    }
}

static size_t fmt_float(char *out, size_t cap, double v, int dt)
{
    if (v != v) return (size_t)snprintf(out, cap, "nan");
    if (isinf(v)) return (size_t)snprintf(out, cap, v < 0 ? "-inf" : "inf");
    bool neg = signbit(v);
    double av = fabs(v);
    if (av == 0) return (size_t)snprintf(out, cap, neg ? "-0.0" : "0.0");
    int maxp = dt == EDGEML_DOUBLE ? 17 : dt == EDGEML_FLOAT ? 9 : dt == EDGEML_FLOAT16 ? 5 : 4;
    char e[64];
    for (int p = 1; p <= maxp; p++) {
        snprintf(e, sizeof e, "%.*e", p - 1, av);
        if (roundtrips(e, av, dt)) break;
    }
    /* e = "d.ddddde[+-]XX" */
    char digits[40];
    size_t nd = 0;
    const char *q = e;
    for (; *q && *q != 'e'; q++)
        if (isdigit((unsigned char)*q) && nd < sizeof digits - 1) digits[nd++] = *q;
    digits[nd] = 0;
    int x = *q == 'e' ? atoi(q + 1) : 0;
    while (nd > 1 && digits[nd - 1] == '0') digits[--nd] = 0;
    char buf[128];
    size_t k = 0;
    if (neg) buf[k++] = '-';
    if (av >= 1e-4 && av < 1e16) {
        if (x >= 0) {
            for (int i = 0; i <= x; i++) buf[k++] = (size_t)i < nd ? digits[i] : '0';
            buf[k++] = '.';
            if ((size_t)x + 1 < nd)
                for (size_t i = (size_t)x + 1; i < nd; i++) buf[k++] = digits[i];
            else
                buf[k++] = '0';
        } else {
            buf[k++] = '0';
            buf[k++] = '.';
            for (int i = 0; i < -x - 1; i++) buf[k++] = '0';
            for (size_t i = 0; i < nd; i++) buf[k++] = digits[i];
        }
        buf[k] = 0;
    } else {
        buf[k++] = digits[0];
        if (nd > 1) {
            buf[k++] = '.';
            for (size_t i = 1; i < nd; i++) buf[k++] = digits[i];
        }
        buf[k] = 0;
        snprintf(buf + k, sizeof buf - k, "e%c%02d", x < 0 ? '-' : '+', x < 0 ? -x : x);
    }
    return (size_t)snprintf(out, cap, "%s", buf);
}

static edgeml_status to_string(em_kctx *c, const void *src, int sdt, em_str *dst, size_t n)
{
    char buf[128];
    for (size_t i = 0; i < n; i++) {
        size_t len;
        if (em_dtype_is_float(sdt)) {
            len = fmt_float(buf, sizeof buf, em_get_f64(src, sdt, i), sdt);
        } else if (sdt == EDGEML_BOOL) {
            len = (size_t)snprintf(buf, sizeof buf, "%s",
                                   ((const uint8_t *)src)[i] ? "True" : "False");
        } else if (sdt == EDGEML_UINT64) {
            len = (size_t)snprintf(buf, sizeof buf, "%llu",
                                   (unsigned long long)((const uint64_t *)src)[i]);
        } else {
            len = (size_t)snprintf(buf, sizeof buf, "%lld", (long long)em_get_i64(src, sdt, i));
        }
        if (len >= sizeof buf) len = sizeof buf - 1;
        dst[i] = em_strdup(c, buf, len);
        if (!dst[i].data && len) return em_fail(c, EDGEML_E_NOMEM, "out of memory");
    }
    return EDGEML_OK;
}

/* ---- string -> number ----------------------------------------------------- */

static bool ieq(const char *a, const char *b)
{
    for (; *a && *b; a++, b++)
        if (tolower((unsigned char)*a) != tolower((unsigned char)*b)) return false;
    return *a == *b;
}

static edgeml_status from_string(em_kctx *c, const em_str *src, void *dst, int ddt, size_t n)
{
    char small[128];
    for (size_t i = 0; i < n; i++) {
        const em_str *s = &src[i];
        char *buf = small;
        if (s->len >= sizeof small) {
            buf = em_scratch(c, s->len + 1);
            if (!buf) return em_fail(c, EDGEML_E_NOMEM, "out of memory");
        }
        if (s->len) memcpy(buf, s->data, s->len);
        buf[s->len] = 0;
        char *p = buf;
        while (isspace((unsigned char)*p)) p++;
        size_t L = strlen(p);
        while (L && isspace((unsigned char)p[L - 1])) p[--L] = 0;
        char *end = NULL;
        errno = 0;
        if (ddt == EDGEML_BOOL) {
            if (ieq(p, "true")) { ((uint8_t *)dst)[i] = 1; continue; }
            if (ieq(p, "false")) { ((uint8_t *)dst)[i] = 0; continue; }
        }
        if (em_dtype_is_int(ddt)) {
            /* plain integers exactly; anything else through double */
            if (ddt == EDGEML_UINT64 && *p != '-') {
                unsigned long long u = strtoull(p, &end, 10);
                if (*p && end && *end == 0 && errno == 0) {
                    ((uint64_t *)dst)[i] = u;
                    continue;
                }
            } else {
                long long v = strtoll(p, &end, 10);
                if (*p && end && *end == 0 && errno == 0) {
                    em_set_i64(dst, ddt, i, v);
                    continue;
                }
            }
            errno = 0;
        }
        double v;
        if (ddt == EDGEML_FLOAT) {
            float f = strtof(p, &end);
            if (!*p || !end || *end) goto bad;
            ((float *)dst)[i] = f;
            continue;
        }
        v = strtod(p, &end);
        if (!*p || !end || *end) goto bad;
        if (em_dtype_is_int(ddt)) {
            /* out of range or NaN: same rules as float -> int */
            uint64_t bits = f2bits(v, ddt == EDGEML_UINT64);
            em_set_i64(dst, ddt, i, (int64_t)bits);
        } else {
            em_set_f64(dst, ddt, i, v);
        }
        continue;
    bad:;
        size_t show = s->len > 40 ? 40 : s->len;
        return em_fail(c, EDGEML_E_RUNTIME, "cannot parse string '%.*s' as %s", (int)show,
                       s->data ? s->data : "", em_dtype_name(ddt));
    }
    return EDGEML_OK;
}

/* ---- float8 and 4-bit integers --------------------------------------------
 * A float8 source is widened to float32 (exactly), a 4-bit one to int8/uint8;
 * a float8 target is reached through float32 (as ONNX's reference and ONNX
 * Runtime do: a double rounds twice), with the saturate rule of Cast-19. A
 * 4-bit target: from floating point (through float32) round to nearest even
 * and clamp, NaN -> 0 (ONNX's reference); from other integers keep the low
 * nibble (Cast's rule for fixed point to narrower fixed point). */
static edgeml_status convert(em_kctx *c, const void *src, int sdt, void *dst, int ddt, size_t n,
                             bool saturate);

static edgeml_status convert_narrow(em_kctx *c, const void *src, int sdt, void *dst, int ddt,
                                    size_t n, bool saturate)
{
    if (em_dtype_is_float8(sdt) || em_dtype_is_int4(sdt)) {
        int wdt = em_dtype_is_float8(sdt) ? EDGEML_FLOAT : sdt == EDGEML_INT4 ? EDGEML_INT8 : EDGEML_UINT8;
        void *w = em_scratch(c, n * em_dtype_size(wdt));
        if (!w) return em_fail(c, EDGEML_E_NOMEM, "out of memory");
        const uint8_t *s8 = src;
        if (wdt == EDGEML_FLOAT)
            for (size_t i = 0; i < n; i++) ((float *)w)[i] = em_f8_to_f32(s8[i], sdt);
        else
            for (size_t i = 0; i < n; i++) ((uint8_t *)w)[i] = (uint8_t)em_int4_value(s8[i], sdt);
        if (wdt == ddt) { memcpy(dst, w, n * em_dtype_size(wdt)); return EDGEML_OK; }
        return convert(c, w, wdt, dst, ddt, n, saturate);
    }
    uint8_t *d8 = dst;
    bool via_float = em_dtype_is_float8(ddt) || em_dtype_is_float(sdt) || sdt == EDGEML_STRING;
    if (via_float) {
        const float *f = src;
        if (sdt != EDGEML_FLOAT) {
            float *w = em_scratch(c, n * sizeof(float));
            if (!w) return em_fail(c, EDGEML_E_NOMEM, "out of memory");
            edgeml_status st = convert(c, src, sdt, w, EDGEML_FLOAT, n, saturate);
            if (st) return st;
            f = w;
        }
        if (em_dtype_is_float8(ddt))
            for (size_t i = 0; i < n; i++) d8[i] = em_f32_to_f8(f[i], ddt, saturate);
        else
            for (size_t i = 0; i < n; i++) d8[i] = em_f32_to_int4(f[i], ddt);
        return EDGEML_OK;
    }
    /* integers and bool -> 4 bits */
    for (size_t i = 0; i < n; i++) {
        int64_t v = sdt == EDGEML_UINT64 ? (int64_t)(((const uint64_t *)src)[i] & 15)
                                         : em_get_i64(src, sdt, i);
        em_set_i64(dst, ddt, i, v);
    }
    return EDGEML_OK;
}

edgeml_status ew_convert(em_kctx *c, const void *src, int sdt, void *dst, int ddt, size_t n)
{
    return convert(c, src, sdt, dst, ddt, n, true);
}

static edgeml_status convert(em_kctx *c, const void *src, int sdt, void *dst, int ddt, size_t n,
                             bool saturate)
{
    if (n == 0) return EDGEML_OK;
    if (sdt == ddt) {
        memcpy(dst, src, n * em_dtype_size(sdt));
        return EDGEML_OK;
    }
    if (em_dtype_is_float8(sdt) || em_dtype_is_int4(sdt) || em_dtype_is_float8(ddt) ||
        em_dtype_is_int4(ddt))
        return convert_narrow(c, src, sdt, dst, ddt, n, saturate);
    if (sdt == EDGEML_STRING) return from_string(c, src, dst, ddt, n);
    if (ddt == EDGEML_STRING) return to_string(c, src, sdt, dst, n);
    if (cast_numeric(src, sdt, dst, ddt, n))
        return em_fail(c, EDGEML_E_UNSUPPORTED, "cannot cast %s to %s", em_dtype_name(sdt),
                       em_dtype_name(ddt));
    return EDGEML_OK;
}

/* ---- the ops -------------------------------------------------------------- */

static const struct { const char *name; int dt; } dtype_names[] = {
    {"FLOAT", EDGEML_FLOAT}, {"UINT8", EDGEML_UINT8}, {"INT8", EDGEML_INT8},
    {"UINT16", EDGEML_UINT16}, {"INT16", EDGEML_INT16}, {"INT32", EDGEML_INT32},
    {"INT64", EDGEML_INT64}, {"STRING", EDGEML_STRING}, {"BOOL", EDGEML_BOOL},
    {"FLOAT16", EDGEML_FLOAT16}, {"DOUBLE", EDGEML_DOUBLE}, {"UINT32", EDGEML_UINT32},
    {"UINT64", EDGEML_UINT64}, {"BFLOAT16", EDGEML_BFLOAT16},
    {"COMPLEX64", 14}, {"COMPLEX128", 15},
};

/* node->state of Cast and CastLike */
typedef struct cast_state {
    int to;          /* Cast only */
    bool saturate;   /* Cast-19 / CastLike-19: float8 targets */
} cast_state;

/* 0 when ok, else the status to report (message in *why). */
static edgeml_status check_target(int64_t to, const char **why)
{
    if (to == 14 || to == 15) { *why = "complex types are not supported"; return EDGEML_E_UNSUPPORTED; }
    if (to <= 0 || to > 22 || em_dtype_size((int)to) == 0) { *why = "unknown target dtype"; return EDGEML_E_MODEL; }
    return EDGEML_OK;
}

edgeml_status ew_cast_prepare(em_node *n, edgeml_error *err)
{
    cast_state *s = malloc(sizeof *s);
    if (!s) return em_node_fail(n, err, EDGEML_E_NOMEM, "out of memory");
    s->to = 0;
    int64_t sat = n->opset >= 19 ? em_attr_int(n, "saturate", 1) : 1;
    if (sat != 0 && sat != 1) {
        free(s);
        return em_node_fail(n, err, EDGEML_E_MODEL, "saturate must be 0 or 1, got %lld", (long long)sat);
    }
    s->saturate = sat != 0;
    if (strcmp(n->op_type, "CastLike") == 0) { n->state = s; return EDGEML_OK; }
    const em_attr *a = em_attr_get(n, "to");
    int64_t to = -1;
    if (!a) {
        free(s);
        return em_node_fail(n, err, EDGEML_E_MODEL, "attribute 'to' is required");
    }
    if (a->type == EM_ATTR_STRING) {
        /* Cast-1 names the type */
        const char *name = em_attr_str(n, "to", "");
        for (size_t i = 0; i < sizeof dtype_names / sizeof dtype_names[0]; i++)
            if (ieq(name, dtype_names[i].name)) to = dtype_names[i].dt;
        if (to < 0) {
            free(s);
            return em_node_fail(n, err, EDGEML_E_MODEL, "unknown target type '%s'", name);
        }
    } else {
        to = a->i;
    }
    const char *why = NULL;
    edgeml_status st = check_target(to, &why);
    if (st) {
        free(s);
        return em_node_fail(n, err, st, "%s (to=%lld)", why, (long long)to);
    }
    s->to = (int)to;
    n->state = s;
    return EDGEML_OK;
}

/* Before opset 19, ONNX's reference (and so the backend test data) made
 * bfloat16 by truncating float32; from 19 on it rounds to nearest even. */
static edgeml_status to_bf16_truncate(em_kctx *c, const void *src, int sdt, uint16_t *dst,
                                      size_t n)
{
    if (n == 0) return EDGEML_OK;
    float *tmp = em_scratch(c, n * sizeof(float));
    if (!tmp) return em_fail(c, EDGEML_E_NOMEM, "out of memory");
    edgeml_status st = ew_convert(c, src, sdt, tmp, EDGEML_FLOAT, n);
    if (st) return st;
    for (size_t i = 0; i < n; i++) {
        uint32_t u;
        memcpy(&u, &tmp[i], 4);
        dst[i] = tmp[i] != tmp[i] ? (uint16_t)((u >> 16) | 0x40) : (uint16_t)(u >> 16);
    }
    return EDGEML_OK;
}

static edgeml_status cast_to(em_kctx *c, const em_tensor *x, int to)
{
    const cast_state *s = c->node->state;
    if (!ew_dtype_known(x->dtype))
        return em_fail(c, EDGEML_E_UNSUPPORTED, "unsupported input dtype %s",
                       em_dtype_name(x->dtype));
    em_tensor *y = em_out(c, 0, to, x->rank, x->dims);
    if (!y) return c->err->code ? c->err->code : EDGEML_E_NOMEM;
    if (to == EDGEML_BFLOAT16 && x->dtype != EDGEML_BFLOAT16 && em_opset(c) < 19)
        return to_bf16_truncate(c, x->data, x->dtype, y->data, em_numel(x));
    return convert(c, x->data, x->dtype, y->data, to, em_numel(x), s->saturate);
}

edgeml_status ew_cast_run(em_kctx *c)
{
    const em_tensor *x = em_in(c, 0);
    EM_CHECK(c, x, "input is missing or not a tensor");
    return cast_to(c, x, ((const cast_state *)c->node->state)->to);
}

edgeml_status ew_castlike_run(em_kctx *c)
{
    const em_tensor *x = em_in(c, 0), *like = em_in(c, 1);
    EM_CHECK(c, x && like, "inputs input and target_type are required tensors");
    const char *why = NULL;
    edgeml_status st = check_target(like->dtype, &why);
    if (st) return em_fail(c, st, "%s", why);
    return cast_to(c, x, like->dtype);
}
