/* Unary elementwise ops: math functions, activations, predicates. */
#include "ew.h"
#include "../cpu/vmath.h"
#include "../pool.h"

#include <stdlib.h>

enum {
    U_ABS, U_ACOS, U_ACOSH, U_ASIN, U_ASINH, U_ATAN, U_ATANH, U_CEIL, U_COS, U_COSH, U_ERF,
    U_EXP, U_FLOOR, U_LOG, U_NEG, U_NOT, U_RECIPROCAL, U_ROUND, U_SIGN, U_SIN, U_SINH, U_SQRT,
    U_TAN, U_TANH, U_ISINF, U_ISNAN, U_BITWISENOT, U_SIGMOID, U_RELU, U_ELU, U_SELU, U_CELU,
    U_LEAKYRELU, U_THRESHOLDEDRELU, U_HARDSIGMOID, U_HARDSWISH, U_SOFTPLUS, U_SOFTSIGN,
    U_SHRINK, U_GELU, U_MISH, U_COUNT
};

static const char *const unary_names[U_COUNT] = {
    [U_ABS] = "Abs", [U_ACOS] = "Acos", [U_ACOSH] = "Acosh", [U_ASIN] = "Asin",
    [U_ASINH] = "Asinh", [U_ATAN] = "Atan", [U_ATANH] = "Atanh", [U_CEIL] = "Ceil",
    [U_COS] = "Cos", [U_COSH] = "Cosh", [U_ERF] = "Erf", [U_EXP] = "Exp", [U_FLOOR] = "Floor",
    [U_LOG] = "Log", [U_NEG] = "Neg", [U_NOT] = "Not", [U_RECIPROCAL] = "Reciprocal",
    [U_ROUND] = "Round", [U_SIGN] = "Sign", [U_SIN] = "Sin", [U_SINH] = "Sinh",
    [U_SQRT] = "Sqrt", [U_TAN] = "Tan", [U_TANH] = "Tanh", [U_ISINF] = "IsInf",
    [U_ISNAN] = "IsNaN", [U_BITWISENOT] = "BitwiseNot", [U_SIGMOID] = "Sigmoid",
    [U_RELU] = "Relu", [U_ELU] = "Elu", [U_SELU] = "Selu", [U_CELU] = "Celu",
    [U_LEAKYRELU] = "LeakyRelu", [U_THRESHOLDEDRELU] = "ThresholdedRelu",
    [U_HARDSIGMOID] = "HardSigmoid", [U_HARDSWISH] = "HardSwish", [U_SOFTPLUS] = "Softplus",
    [U_SOFTSIGN] = "Softsign", [U_SHRINK] = "Shrink", [U_GELU] = "Gelu", [U_MISH] = "Mish",
};

typedef struct ustate {
    int op;
    float alpha, beta, gamma;
    int approx_tanh;          /* Gelu */
    int detect_neg, detect_pos; /* IsInf */
} ustate;

edgeml_status ew_unary_prepare(em_node *n, edgeml_error *err)
{
    int op = -1;
    for (int i = 0; i < U_COUNT; i++)
        if (unary_names[i] && strcmp(unary_names[i], n->op_type) == 0) { op = i; break; }
    if (op < 0)
        return em_node_fail(n, err, EDGEML_E_UNSUPPORTED, "not a unary elementwise op");
    ustate *s = calloc(1, sizeof *s);
    if (!s) return em_node_fail(n, err, EDGEML_E_NOMEM, "out of memory");
    s->op = op;
    switch (op) {
    case U_ELU: case U_CELU: case U_THRESHOLDEDRELU:
        s->alpha = em_attr_float(n, "alpha", 1.0f);
        break;
    case U_SELU:
        s->alpha = em_attr_float(n, "alpha", 1.67326319217681884765625f);
        s->gamma = em_attr_float(n, "gamma", 1.05070102214813232421875f);
        break;
    case U_LEAKYRELU:
        s->alpha = em_attr_float(n, "alpha", 0.01f);
        break;
    case U_HARDSIGMOID:
        s->alpha = em_attr_float(n, "alpha", 0.2f);
        s->beta = em_attr_float(n, "beta", 0.5f);
        break;
    case U_HARDSWISH:
        s->alpha = 1.0f / 6.0f;
        s->beta = 0.5f;
        break;
    case U_SHRINK:
        s->alpha = em_attr_float(n, "lambd", 0.5f);
        s->beta = em_attr_float(n, "bias", 0.0f);
        break;
    case U_GELU: {
        const char *a = em_attr_str(n, "approximate", "none");
        if (strcmp(a, "tanh") == 0) s->approx_tanh = 1;
        else if (strcmp(a, "none") != 0) {
            free(s);
            return em_node_fail(n, err, EDGEML_E_MODEL,
                                "attribute approximate must be 'none' or 'tanh', got '%s'", a);
        }
        break;
    }
    case U_ISINF:
        s->detect_neg = em_attr_int(n, "detect_negative", 1) != 0;
        s->detect_pos = em_attr_int(n, "detect_positive", 1) != 0;
        break;
    default:
        break;
    }
    if (op == U_CELU && s->alpha == 0.0f) {
        free(s);
        return em_node_fail(n, err, EDGEML_E_MODEL, "attribute alpha must not be 0");
    }
    n->state = s;
    return EDGEML_OK;
}

/* ---- scalar helpers ------------------------------------------------------ */

static inline float sigmoidf(float x)
{
    if (x >= 0) return 1.0f / (1.0f + expf(-x));
    float e = expf(x);
    return e / (1.0f + e);
}
static inline double sigmoidd(double x)
{
    if (x >= 0) return 1.0 / (1.0 + exp(-x));
    double e = exp(x);
    return e / (1.0 + e);
}
static inline float softplusf(float x)
{
    return x > 0 ? x + log1pf(expf(-x)) : log1pf(expf(x));
}
static inline double softplusd(double x)
{
    return x > 0 ? x + log1p(exp(-x)) : log1p(exp(x));
}
static inline float clamp01f(float v) { return v < 0 ? 0 : (v > 1 ? 1 : v); }
static inline double clamp01d(double v) { return v < 0 ? 0 : (v > 1 ? 1 : v); }

#define EW_SQRT1_2 0.70710678118654752440
#define EW_SQRT2_PI 0.79788456080286535588

static inline float geluf(float x, int tanh_approx)
{
    if (tanh_approx)
        return 0.5f * x * (1.0f + tanhf((float)EW_SQRT2_PI * (x + 0.044715f * x * x * x)));
    return 0.5f * x * (1.0f + erff(x * (float)EW_SQRT1_2));
}
static inline double gelud(double x, int tanh_approx)
{
    if (tanh_approx) return 0.5 * x * (1.0 + tanh(EW_SQRT2_PI * (x + 0.044715 * x * x * x)));
    return 0.5 * x * (1.0 + erf(x * EW_SQRT1_2));
}

/* ---- float-only ops ------------------------------------------------------- */

/* Stamps a function computing a float op over n contiguous elements: EF is
 * the float expression of x, ED the double one; p is the state. */
#define EW_UNARY_FLOAT(name, EF, ED)                                                   \
    static int name(const void *in_, void *out_, size_t n, int dt, const ustate *p)    \
    {                                                                                  \
        (void)p;                                                                       \
        switch (dt) {                                                                  \
        case EDGEML_FLOAT: {                                                           \
            const float *in = in_;                                                     \
            float *out = out_;                                                         \
            for (size_t i = 0; i < n; i++) { float x = in[i]; out[i] = (EF); }         \
            return 0;                                                                  \
        }                                                                              \
        case EDGEML_DOUBLE: {                                                          \
            const double *in = in_;                                                    \
            double *out = out_;                                                        \
            for (size_t i = 0; i < n; i++) { double x = in[i]; out[i] = (ED); }        \
            return 0;                                                                  \
        }                                                                              \
        case EDGEML_FLOAT16: {                                                         \
            const uint16_t *in = in_;                                                  \
            uint16_t *out = out_;                                                      \
            for (size_t i = 0; i < n; i++) {                                           \
                float x = em_f16_to_f32(in[i]);                                        \
                out[i] = em_f32_to_f16(EF);                                            \
            }                                                                          \
            return 0;                                                                  \
        }                                                                              \
        case EDGEML_BFLOAT16: {                                                        \
            const uint16_t *in = in_;                                                  \
            uint16_t *out = out_;                                                      \
            for (size_t i = 0; i < n; i++) {                                           \
                float x = em_bf16_to_f32(in[i]);                                       \
                out[i] = em_f32_to_bf16(EF);                                           \
            }                                                                          \
            return 0;                                                                  \
        }                                                                              \
        default: return 1;                                                             \
        }                                                                              \
    }

EW_UNARY_FLOAT(u_acos, acosf(x), acos(x))
EW_UNARY_FLOAT(u_acosh, acoshf(x), acosh(x))
EW_UNARY_FLOAT(u_asin, asinf(x), asin(x))
EW_UNARY_FLOAT(u_asinh, asinhf(x), asinh(x))
EW_UNARY_FLOAT(u_atan, atanf(x), atan(x))
EW_UNARY_FLOAT(u_atanh, atanhf(x), atanh(x))
EW_UNARY_FLOAT(u_ceil, ceilf(x), ceil(x))
EW_UNARY_FLOAT(u_cos, cosf(x), cos(x))
EW_UNARY_FLOAT(u_cosh, coshf(x), cosh(x))
EW_UNARY_FLOAT(u_erf, erff(x), erf(x))
EW_UNARY_FLOAT(u_exp, expf(x), exp(x))
EW_UNARY_FLOAT(u_floor, floorf(x), floor(x))
EW_UNARY_FLOAT(u_log, logf(x), log(x))
EW_UNARY_FLOAT(u_reciprocal, 1.0f / x, 1.0 / x)
EW_UNARY_FLOAT(u_round, rintf(x), rint(x))
EW_UNARY_FLOAT(u_sin, sinf(x), sin(x))
EW_UNARY_FLOAT(u_sinh, sinhf(x), sinh(x))
EW_UNARY_FLOAT(u_sqrt, sqrtf(x), sqrt(x))
EW_UNARY_FLOAT(u_tan, tanf(x), tan(x))
EW_UNARY_FLOAT(u_tanh, tanhf(x), tanh(x))
EW_UNARY_FLOAT(u_sigmoid, sigmoidf(x), sigmoidd(x))
EW_UNARY_FLOAT(u_elu, x < 0 ? p->alpha * (expf(x) - 1.0f) : x,
               x < 0 ? (double)p->alpha * (exp(x) - 1.0) : x)
EW_UNARY_FLOAT(u_selu, x <= 0 ? p->gamma * (p->alpha * expf(x) - p->alpha) : p->gamma * x,
               x <= 0 ? (double)p->gamma * ((double)p->alpha * exp(x) - (double)p->alpha)
                      : (double)p->gamma * x)
EW_UNARY_FLOAT(u_celu, fmaxf(0.0f, x) + fminf(0.0f, p->alpha * expm1f(x / p->alpha)),
               fmax(0.0, x) + fmin(0.0, (double)p->alpha * expm1(x / (double)p->alpha)))
EW_UNARY_FLOAT(u_leakyrelu, x < 0 ? p->alpha * x : x, x < 0 ? (double)p->alpha * x : x)
EW_UNARY_FLOAT(u_thresholdedrelu, x > p->alpha ? x : 0.0f, x > (double)p->alpha ? x : 0.0)
EW_UNARY_FLOAT(u_hardsigmoid, clamp01f(p->alpha * x + p->beta),
               clamp01d((double)p->alpha * x + (double)p->beta))
EW_UNARY_FLOAT(u_hardswish, x * clamp01f(x / 6.0f + 0.5f), x * clamp01d(x / 6.0 + 0.5))
EW_UNARY_FLOAT(u_softplus, softplusf(x), softplusd(x))
EW_UNARY_FLOAT(u_softsign, x / (1.0f + fabsf(x)), x / (1.0 + fabs(x)))
EW_UNARY_FLOAT(u_gelu, geluf(x, p->approx_tanh), gelud(x, p->approx_tanh))
EW_UNARY_FLOAT(u_mish, x * tanhf(softplusf(x)), x * tanh(softplusd(x)))

/* ---- ops over numeric types ------------------------------------------------ */

#define EW_ULOOP(T, CT, LOAD, STORE, EXPR)                                      \
    {                                                                           \
        const T *in = in_;                                                      \
        T *out = out_;                                                          \
        for (size_t i = 0; i < n; i++) { CT x = LOAD(in[i]); out[i] = STORE(EXPR); } \
        return 0;                                                               \
    }

/* Abs */
#define ABS_F(DT, T, CT, L, S, UT) case DT: EW_ULOOP(T, CT, L, S, (CT)fabs(x))
#define ABS_S(DT, T, CT, L, S, UT) case DT: EW_ULOOP(T, CT, L, S, (x < 0 ? (CT)(0 - (UT)x) : x))
#define ABS_U(DT, T, CT, L, S, UT) case DT: EW_ULOOP(T, CT, L, S, x)
static int u_abs(const void *in_, void *out_, size_t n, int dt, const ustate *p)
{
    switch (dt) {
    case EDGEML_FLOAT: EW_ULOOP(float, float, EW_ID, EW_ID, fabsf(x))
    EW_FOR_F64(ABS_F) EW_FOR_HALF(ABS_F) EW_FOR_SINTS(ABS_S) EW_FOR_UINTS(ABS_U)
    default: return 1;
    }
}

/* Neg */
#define NEG_F(DT, T, CT, L, S, UT) case DT: EW_ULOOP(T, CT, L, S, -x)
#define NEG_I(DT, T, CT, L, S, UT) case DT: EW_ULOOP(T, CT, L, S, (CT)(0 - (UT)x))
static int u_neg(const void *in_, void *out_, size_t n, int dt, const ustate *p)
{
    switch (dt) {
    EW_FOR_FLOATS(NEG_F) EW_FOR_INTS(NEG_I)
    default: return 1;
    }
}

/* Sign (NaN stays NaN) */
#define SIGN_F(DT, T, CT, L, S, UT) \
    case DT: EW_ULOOP(T, CT, L, S, (x > 0 ? (CT)1 : x < 0 ? (CT)-1 : x == 0 ? (CT)0 : x))
#define SIGN_S(DT, T, CT, L, S, UT) \
    case DT: EW_ULOOP(T, CT, L, S, (x > 0 ? (CT)1 : x < 0 ? (CT)-1 : (CT)0))
#define SIGN_U(DT, T, CT, L, S, UT) case DT: EW_ULOOP(T, CT, L, S, (x > 0 ? (CT)1 : (CT)0))
static int u_sign(const void *in_, void *out_, size_t n, int dt, const ustate *p)
{
    switch (dt) {
    EW_FOR_FLOATS(SIGN_F) EW_FOR_SINTS(SIGN_S) EW_FOR_UINTS(SIGN_U)
    default: return 1;
    }
}

/* Relu: floats and (opset 14) signed integers; NaN stays NaN */
#define RELU_S(DT, T, CT, L, S, UT) case DT: EW_ULOOP(T, CT, L, S, (x < 0 ? (CT)0 : x))
static int u_relu(const void *in_, void *out_, size_t n, int dt, const ustate *p)
{
    switch (dt) {
    EW_FOR_FLOATS(RELU_S) EW_FOR_SINTS(RELU_S)
    default: return 1;
    }
}

/* Shrink: every numeric type */
#define SHRINK_F(DT, T, CT, L, S, UT)                                                   \
    case DT: EW_ULOOP(T, CT, L, S,                                                      \
                      (x < -lam ? (CT)(x + bias) : x > lam ? (CT)(x - bias) : (CT)0))
static int u_shrink(const void *in_, void *out_, size_t n, int dt, const ustate *p)
{
    if (em_dtype_is_int(dt)) {
        double lam = p->alpha, bias = p->beta;
        for (size_t i = 0; i < n; i++) {
            double x = em_get_f64(in_, dt, i);
            em_set_f64(out_, dt, i, x < -lam ? x + bias : x > lam ? x - bias : 0.0);
        }
        return 0;
    }
    float lam = p->alpha, bias = p->beta;
    switch (dt) {
    EW_FOR_F32(SHRINK_F) EW_FOR_HALF(SHRINK_F)
    case EDGEML_DOUBLE: {
        double lamd = lam, biasd = bias;
        EW_ULOOP(double, double, EW_ID, EW_ID,
                 (x < -lamd ? x + biasd : x > lamd ? x - biasd : 0.0))
    }
    default: return 1;
    }
}

/* BitwiseNot: integers */
#define BNOT_I(DT, T, CT, L, S, UT) case DT: EW_ULOOP(T, CT, L, S, (CT)(~(UT)x))
static int u_bitwisenot(const void *in_, void *out_, size_t n, int dt, const ustate *p)
{
    switch (dt) {
    EW_FOR_INTS(BNOT_I)
    default: return 1;
    }
}

/* Not: bool */
static int u_not(const void *in_, void *out_, size_t n, int dt, const ustate *p)
{
    if (dt != EDGEML_BOOL) return 1;
    const uint8_t *in = in_;
    uint8_t *out = out_;
    for (size_t i = 0; i < n; i++) out[i] = !in[i];
    return 0;
}

/* IsInf / IsNaN: float -> bool */
static int u_isinf(const void *in_, void *out_, size_t n, int dt, const ustate *p)
{
    uint8_t *out = out_;
    bool neg = p->detect_neg, pos = p->detect_pos;
    if (dt == EDGEML_FLOAT) {
        const float *in = in_;
        for (size_t i = 0; i < n; i++)
            out[i] = isinf(in[i]) && ((in[i] > 0 && pos) || (in[i] < 0 && neg));
        return 0;
    }
    if (!em_dtype_is_float(dt)) return 1;
    for (size_t i = 0; i < n; i++) {
        double x = em_get_f64(in_, dt, i);
        out[i] = isinf(x) && ((x > 0 && pos) || (x < 0 && neg));
    }
    return 0;
}

static int u_isnan(const void *in_, void *out_, size_t n, int dt, const ustate *p)
{
    uint8_t *out = out_;
    if (dt == EDGEML_FLOAT) {
        const float *in = in_;
        for (size_t i = 0; i < n; i++) out[i] = isnan(in[i]);
        return 0;
    }
    if (!em_dtype_is_float(dt)) return 1;
    for (size_t i = 0; i < n; i++) out[i] = isnan(em_get_f64(in_, dt, i));
    return 0;
}

typedef int (*ufn)(const void *in, void *out, size_t n, int dt, const ustate *p);

static const ufn unary_fns[U_COUNT] = {
    [U_ABS] = u_abs, [U_ACOS] = u_acos, [U_ACOSH] = u_acosh, [U_ASIN] = u_asin,
    [U_ASINH] = u_asinh, [U_ATAN] = u_atan, [U_ATANH] = u_atanh, [U_CEIL] = u_ceil,
    [U_COS] = u_cos, [U_COSH] = u_cosh, [U_ERF] = u_erf, [U_EXP] = u_exp, [U_FLOOR] = u_floor,
    [U_LOG] = u_log, [U_NEG] = u_neg, [U_NOT] = u_not, [U_RECIPROCAL] = u_reciprocal,
    [U_ROUND] = u_round, [U_SIGN] = u_sign, [U_SIN] = u_sin, [U_SINH] = u_sinh,
    [U_SQRT] = u_sqrt, [U_TAN] = u_tan, [U_TANH] = u_tanh, [U_ISINF] = u_isinf,
    [U_ISNAN] = u_isnan, [U_BITWISENOT] = u_bitwisenot, [U_SIGMOID] = u_sigmoid,
    [U_RELU] = u_relu, [U_ELU] = u_elu, [U_SELU] = u_selu, [U_CELU] = u_celu,
    [U_LEAKYRELU] = u_leakyrelu, [U_THRESHOLDEDRELU] = u_thresholdedrelu,
    [U_HARDSIGMOID] = u_hardsigmoid, [U_HARDSWISH] = u_hardswish, [U_SOFTPLUS] = u_softplus,
    [U_SOFTSIGN] = u_softsign, [U_SHRINK] = u_shrink, [U_GELU] = u_gelu, [U_MISH] = u_mish,
};

/* ---- float32 fast paths (cpu/vmath.h), split over the pool ----------------- */

typedef struct ufast {
    em_vfn fn;              /* x -> y */
    const em_vmath *vm;
    em_act act;             /* in place on y when fn is NULL */
    int op;
    const float *x;
    float *y;
} ufast;

static void u_fast_range(void *ctx, size_t b, size_t e)
{
    const ufast *u = ctx;
    const float *x = u->x + b;
    float *y = u->y + b;
    size_t n = e - b;
    if (u->fn) { u->fn(x, y, n); return; }
    switch (u->op) {
    case U_RELU: for (size_t i = 0; i < n; i++) y[i] = x[i] < 0 ? 0.0f : x[i]; return;
    case U_NEG: for (size_t i = 0; i < n; i++) y[i] = -x[i]; return;
    case U_ABS: for (size_t i = 0; i < n; i++) y[i] = fabsf(x[i]); return;
    case U_RECIPROCAL: for (size_t i = 0; i < n; i++) y[i] = 1.0f / x[i]; return;
    default:
        if (y != x) memcpy(y, x, n * sizeof(float));
        u->vm->act(&u->act, y, n);
        return;
    }
}

/* Runs the op with the vectorised kernels when it has one; false otherwise. */
static bool u_fast(em_kctx *c, const ustate *s, const float *x, float *y, size_t n)
{
    const em_vmath *vm = em_vmath_get();
    ufast u = {NULL, vm, {EM_ACT_NONE, 0, 0}, s->op, x, y};
    switch (s->op) {
    case U_EXP: u.fn = vm->exp; break;
    case U_LOG: u.fn = vm->log; break;
    case U_SIGMOID: u.fn = vm->sigmoid; break;
    case U_TANH: u.fn = vm->tanh; break;
    case U_ERF: u.fn = vm->erf; break;
    case U_GELU: u.fn = s->approx_tanh ? vm->gelu_tanh : vm->gelu; break;
    case U_SOFTPLUS: u.fn = vm->softplus; break;
    case U_MISH: u.fn = vm->mish; break;
    case U_RELU: case U_NEG: case U_ABS: case U_RECIPROCAL: break;
    /* the same comparisons as the reference loops: bit-identical */
    case U_LEAKYRELU: u.act = (em_act){EM_ACT_LEAKY, s->alpha, 0}; break;
    case U_HARDSIGMOID: u.act = (em_act){EM_ACT_HARDSIGMOID, s->alpha, s->beta}; break;
    case U_HARDSWISH: u.act = (em_act){EM_ACT_HARDSWISH, 0, 0}; break;
    default: return false;
    }
    em_parallel_for(c->pool, c->threads, n, 16384, u_fast_range, &u);
    return true;
}

edgeml_status ew_unary_run(em_kctx *c)
{
    const ustate *s = c->node->state;
    const em_tensor *x = em_in(c, 0);
    EM_CHECK(c, x, "input X is missing or not a tensor");
    int odt = (s->op == U_ISINF || s->op == U_ISNAN) ? EDGEML_BOOL : x->dtype;
    if (x->dtype == EDGEML_STRING || !ew_dtype_known(x->dtype))
        return em_fail(c, EDGEML_E_UNSUPPORTED, "unsupported input dtype %s",
                       em_dtype_name(x->dtype));
    em_tensor *y = em_out(c, 0, odt, x->rank, x->dims);
    if (!y) return c->err->code ? c->err->code : EDGEML_E_NOMEM;
    size_t n = em_numel(x);
    if (x->dtype == EDGEML_FLOAT && n && em_vmath_fast() && u_fast(c, s, x->data, y->data, n))
        return EDGEML_OK;
    /* with n == 0 this still rejects a dtype the op does not support */
    if (unary_fns[s->op](x->data, y->data, n, x->dtype, s))
        return em_fail(c, EDGEML_E_UNSUPPORTED, "unsupported input dtype %s",
                       em_dtype_name(x->dtype));
    return EDGEML_OK;
}
