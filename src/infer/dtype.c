/* Element types: sizes, names, half-precision and float8 conversion, generic access. */
#include "internal.h"

#include <math.h>

size_t em_dtype_size(int dt)
{
    switch (dt) {
    case EDGEML_FLOAT: case EDGEML_INT32: case EDGEML_UINT32: return 4;
    case EDGEML_UINT8: case EDGEML_INT8: case EDGEML_BOOL: return 1;
    case EDGEML_FLOAT8E4M3FN: case EDGEML_FLOAT8E4M3FNUZ: case EDGEML_FLOAT8E5M2:
    case EDGEML_FLOAT8E5M2FNUZ: return 1;
    case EDGEML_UINT4: case EDGEML_INT4: return 1; /* unpacked in memory */
    case EDGEML_UINT16: case EDGEML_INT16: case EDGEML_FLOAT16: case EDGEML_BFLOAT16: return 2;
    case EDGEML_INT64: case EDGEML_DOUBLE: case EDGEML_UINT64: return 8;
    case EDGEML_STRING: return sizeof(em_str);
    default: return 0;
    }
}

const char *em_dtype_name(int dt)
{
    switch (dt) {
    case EDGEML_FLOAT: return "float32";
    case EDGEML_UINT8: return "uint8";
    case EDGEML_INT8: return "int8";
    case EDGEML_UINT16: return "uint16";
    case EDGEML_INT16: return "int16";
    case EDGEML_INT32: return "int32";
    case EDGEML_INT64: return "int64";
    case EDGEML_STRING: return "string";
    case EDGEML_BOOL: return "bool";
    case EDGEML_FLOAT16: return "float16";
    case EDGEML_DOUBLE: return "float64";
    case EDGEML_UINT32: return "uint32";
    case EDGEML_UINT64: return "uint64";
    case EDGEML_BFLOAT16: return "bfloat16";
    case 14: return "complex64";
    case 15: return "complex128";
    case EDGEML_FLOAT8E4M3FN: return "float8e4m3fn";
    case EDGEML_FLOAT8E4M3FNUZ: return "float8e4m3fnuz";
    case EDGEML_FLOAT8E5M2: return "float8e5m2";
    case EDGEML_FLOAT8E5M2FNUZ: return "float8e5m2fnuz";
    case EDGEML_UINT4: return "uint4";
    case EDGEML_INT4: return "int4";
    default: return "?";
    }
}

EDGEML_API const char *edgeml_dtype_name(edgeml_dtype t) { return em_dtype_name((int)t); }
EDGEML_API size_t edgeml_dtype_size(edgeml_dtype t) { return em_dtype_size((int)t); }

bool em_dtype_is_float(int dt)
{
    return dt == EDGEML_FLOAT || dt == EDGEML_DOUBLE || dt == EDGEML_FLOAT16 || dt == EDGEML_BFLOAT16;
}

bool em_dtype_is_int(int dt)
{
    switch (dt) {
    case EDGEML_UINT8: case EDGEML_INT8: case EDGEML_UINT16: case EDGEML_INT16:
    case EDGEML_INT32: case EDGEML_INT64: case EDGEML_UINT32: case EDGEML_UINT64: return true;
    default: return false;
    }
}

bool em_dtype_is_signed(int dt)
{
    switch (dt) {
    case EDGEML_INT8: case EDGEML_INT16: case EDGEML_INT32: case EDGEML_INT64: return true;
    default: return em_dtype_is_float(dt);
    }
}

float em_f16_to_f32(uint16_t h)
{
    uint32_t sign = (uint32_t)(h & 0x8000) << 16;
    uint32_t exp = (h >> 10) & 0x1f, man = h & 0x3ff, bits;
    if (exp == 0) {
        if (man == 0) {
            bits = sign;
        } else { /* subnormal: renormalise */
            int e = -1;
            do { e++; man <<= 1; } while (!(man & 0x400));
            bits = sign | ((uint32_t)(127 - 15 - e) << 23) | ((man & 0x3ff) << 13);
        }
    } else if (exp == 31) {
        bits = sign | 0x7f800000u | (man << 13);
    } else {
        bits = sign | ((exp + 127 - 15) << 23) | (man << 13);
    }
    float f;
    memcpy(&f, &bits, 4);
    return f;
}

uint16_t em_f32_to_f16(float f)
{
    uint32_t x;
    memcpy(&x, &f, 4);
    uint32_t sign = (x >> 16) & 0x8000;
    uint32_t absx = x & 0x7fffffffu;
    if (absx >= 0x7f800000u) /* inf or nan */
        return (uint16_t)(sign | 0x7c00 | (absx > 0x7f800000u ? 0x200 | ((absx >> 13) & 0x3ff) : 0));
    if (absx >= 0x477ff000u) /* rounds to >= 65520: overflow to inf */
        return (uint16_t)(sign | 0x7c00);
    if (absx < 0x38800000u) { /* below the smallest normal half: subnormal or zero */
        if (absx < 0x33000000u) return (uint16_t)sign; /* < 2^-25 rounds to 0 */
        uint32_t e = absx >> 23, m = (absx & 0x7fffff) | 0x800000;
        uint32_t shift = 126 - e; /* 14 + (113 - e) - 1 ... shift to half subnormal */
        /* value = m * 2^(e-150); half subnormal unit = 2^-24 -> h = m >> (126 - e) */
        uint32_t h = m >> shift, rem = m & ((1u << shift) - 1), halfway = 1u << (shift - 1);
        if (rem > halfway || (rem == halfway && (h & 1))) h++;
        return (uint16_t)(sign | h);
    }
    uint32_t h = ((absx >> 13) - (112u << 10));
    uint32_t rem = absx & 0x1fff;
    if (rem > 0x1000 || (rem == 0x1000 && (h & 1))) h++;
    return (uint16_t)(sign | h);
}

float em_bf16_to_f32(uint16_t h)
{
    uint32_t bits = (uint32_t)h << 16;
    float f;
    memcpy(&f, &bits, 4);
    return f;
}

uint16_t em_f32_to_bf16(float f)
{
    uint32_t x;
    memcpy(&x, &f, 4);
    if ((x & 0x7fffffffu) > 0x7f800000u) return (uint16_t)((x >> 16) | 0x40);
    x += 0x7fff + ((x >> 16) & 1);
    return (uint16_t)(x >> 16);
}

/* ---- float8 ---------------------------------------------------------------
 * The four ONNX formats, each 1 sign bit, E exponent bits, M mantissa bits:
 *   E4M3FN   bias 7,  no inf, NaN = S.1111.111, max 448,   -0 exists
 *   E4M3FNUZ bias 8,  no inf, NaN = 0x80 only,  max 240,   no -0
 *   E5M2     bias 15, IEEE-like: inf = S.11111.00, NaN = S.11111.xx, max 57344
 *   E5M2FNUZ bias 16, no inf, NaN = 0x80 only,  max 57344, no -0
 * Encoding works in units of the smallest subnormal, 2^(1 - bias - M), so the
 * rounding and the range check are integer operations. */
typedef struct f8fmt {
    int m, bias;
    bool uz;           /* NaN is 0x80, no negative zero */
    bool inf;          /* has infinities (E5M2) */
    uint8_t maxcode;   /* largest finite magnitude code */
    uint64_t maxu;     /* its value in units */
} f8fmt;

static const f8fmt F8[4] = {
    { 3, 7, false, false, 0x7e, (uint64_t)(8 + 6) << 14 },   /* 448 / 2^-9 */
    { 3, 8, true, false, 0x7f, (uint64_t)(8 + 7) << 14 },    /* 240 / 2^-10 */
    { 2, 15, false, true, 0x7b, (uint64_t)(4 + 3) << 29 },   /* 57344 / 2^-16 */
    { 2, 16, true, false, 0x7f, (uint64_t)(4 + 3) << 30 },   /* 57344 / 2^-17 */
};

static inline const f8fmt *f8fmt_of(int dt) { return &F8[(dt - EDGEML_FLOAT8E4M3FN) & 3]; }

float em_f8_to_f32(uint8_t v, int dt)
{
    const f8fmt *F = f8fmt_of(dt);
    int m = F->m;
    unsigned mag = v & 0x7f, ef = mag >> m, mant = mag & ((1u << m) - 1);
    bool neg = (v & 0x80) != 0;
    if (F->uz) {
        if (v == 0x80) return NAN;
    } else if (F->inf) {
        if (ef == 31) return mant ? NAN : (neg ? -INFINITY : INFINITY);
    } else if (mag == 0x7f) {
        return NAN;
    }
    float r;
    if (ef == 0) {
        r = ldexpf((float)mant, 1 - F->bias - m);
    } else {
        uint32_t bits = ((uint32_t)((int)ef - F->bias + 127) << 23) | ((uint32_t)mant << (23 - m));
        memcpy(&r, &bits, 4);
    }
    return neg ? -r : r;
}

uint8_t em_f32_to_f8(float f, int dt, bool saturate)
{
    const f8fmt *F = f8fmt_of(dt);
    uint32_t x;
    memcpy(&x, &f, 4);
    uint8_t sign = (uint8_t)((x >> 24) & 0x80);
    uint32_t ax = x & 0x7fffffffu;
    uint8_t nan = F->uz ? 0x80 : (uint8_t)(sign | 0x7f);
    if (ax > 0x7f800000u) return nan;
    if (ax == 0x7f800000u)
        return saturate ? (uint8_t)(sign | F->maxcode) : F->inf ? (uint8_t)(sign | 0x7c) : nan;
    /* |f| = sig * 2^(e - 23) */
    int e = (int)(ax >> 23) - 127;
    uint32_t sig = ax & 0x7fffffu;
    if (ax >> 23) sig |= 0x800000u;
    else e = -126;
    int emin = 1 - F->bias;
    int qe = (e > emin ? e : emin) - F->m;   /* exponent of the target's quantum at |f| */
    int shift = qe - (e - 23);               /* >= 23 - M: bits of sig below the quantum */
    uint32_t k = 0;
    if (shift < 32) {
        k = sig >> shift;
        uint32_t rem = sig & ((1u << shift) - 1), half = 1u << (shift - 1);
        if (rem > half || (rem == half && (k & 1))) k++;
    }
    if (k == 0) return F->uz ? 0 : sign;
    int up = qe - (emin - F->m);             /* quantum in units: 2^up */
    uint64_t u = up < 40 ? (uint64_t)k << up : UINT64_MAX;
    if (u > F->maxu)
        return saturate ? (uint8_t)(sign | F->maxcode) : F->inf ? (uint8_t)(sign | 0x7c) : nan;
    if (u < (1u << F->m)) return (uint8_t)(sign | u); /* subnormal */
    int top = 63 - __builtin_clzll(u);       /* u in [2^top, 2^(top+1)) */
    int s = top - F->m;                      /* exponent field - 1 */
    return (uint8_t)(sign | ((s + 1) << F->m) | (unsigned)((u >> s) - (1u << F->m)));
}

uint8_t em_f32_to_int4(float f, int dt)
{
    if (f != f) return 0;
    float lo = dt == EDGEML_INT4 ? -8.f : 0.f, hi = dt == EDGEML_INT4 ? 7.f : 15.f;
    f = f < lo ? lo : f > hi ? hi : f;
    return (uint8_t)(int8_t)nearbyintf(f);
}

double em_get_f64(const void *d, int dt, size_t i)
{
    switch (dt) {
    case EDGEML_FLOAT: return ((const float *)d)[i];
    case EDGEML_DOUBLE: return ((const double *)d)[i];
    case EDGEML_FLOAT16: return em_f16_to_f32(((const uint16_t *)d)[i]);
    case EDGEML_BFLOAT16: return em_bf16_to_f32(((const uint16_t *)d)[i]);
    case EDGEML_UINT8: return ((const uint8_t *)d)[i];
    case EDGEML_INT8: return ((const int8_t *)d)[i];
    case EDGEML_UINT16: return ((const uint16_t *)d)[i];
    case EDGEML_INT16: return ((const int16_t *)d)[i];
    case EDGEML_INT32: return ((const int32_t *)d)[i];
    case EDGEML_INT64: return (double)((const int64_t *)d)[i];
    case EDGEML_UINT32: return ((const uint32_t *)d)[i];
    case EDGEML_UINT64: return (double)((const uint64_t *)d)[i];
    case EDGEML_BOOL: return ((const uint8_t *)d)[i] != 0;
    case EDGEML_FLOAT8E4M3FN: case EDGEML_FLOAT8E4M3FNUZ: case EDGEML_FLOAT8E5M2:
    case EDGEML_FLOAT8E5M2FNUZ: return em_f8_to_f32(((const uint8_t *)d)[i], dt);
    case EDGEML_UINT4: case EDGEML_INT4: return em_int4_value(((const uint8_t *)d)[i], dt);
    default: return 0;
    }
}

/* Float to integer without UB: NaN -> 0, saturate out-of-range values. */
static int64_t f64_to_i64(double v)
{
    if (v != v) return 0;
    if (v >= 9223372036854775807.0) return INT64_MAX;
    if (v <= -9223372036854775808.0) return INT64_MIN;
    return (int64_t)v;
}

static uint64_t f64_to_u64(double v)
{
    if (v != v || v <= 0) return v <= -1 ? (uint64_t)f64_to_i64(v) : 0;
    if (v >= 18446744073709551615.0) return UINT64_MAX;
    return (uint64_t)v;
}

void em_set_f64(void *d, int dt, size_t i, double v)
{
    switch (dt) {
    case EDGEML_FLOAT: ((float *)d)[i] = (float)v; break;
    case EDGEML_DOUBLE: ((double *)d)[i] = v; break;
    case EDGEML_FLOAT16: ((uint16_t *)d)[i] = em_f32_to_f16((float)v); break;
    case EDGEML_BFLOAT16: ((uint16_t *)d)[i] = em_f32_to_bf16((float)v); break;
    case EDGEML_UINT8: ((uint8_t *)d)[i] = (uint8_t)f64_to_i64(v); break;
    case EDGEML_INT8: ((int8_t *)d)[i] = (int8_t)f64_to_i64(v); break;
    case EDGEML_UINT16: ((uint16_t *)d)[i] = (uint16_t)f64_to_i64(v); break;
    case EDGEML_INT16: ((int16_t *)d)[i] = (int16_t)f64_to_i64(v); break;
    case EDGEML_INT32: ((int32_t *)d)[i] = (int32_t)f64_to_i64(v); break;
    case EDGEML_INT64: ((int64_t *)d)[i] = f64_to_i64(v); break;
    case EDGEML_UINT32: ((uint32_t *)d)[i] = (uint32_t)f64_to_i64(v); break;
    case EDGEML_UINT64: ((uint64_t *)d)[i] = f64_to_u64(v); break;
    case EDGEML_BOOL: ((uint8_t *)d)[i] = v != 0; break;
    case EDGEML_FLOAT8E4M3FN: case EDGEML_FLOAT8E4M3FNUZ: case EDGEML_FLOAT8E5M2:
    case EDGEML_FLOAT8E5M2FNUZ: ((uint8_t *)d)[i] = em_f32_to_f8((float)v, dt, true); break;
    case EDGEML_UINT4: case EDGEML_INT4: ((uint8_t *)d)[i] = em_f32_to_int4((float)v, dt); break;
    default: break;
    }
}

int64_t em_get_i64(const void *d, int dt, size_t i)
{
    switch (dt) {
    case EDGEML_UINT8: return ((const uint8_t *)d)[i];
    case EDGEML_INT8: return ((const int8_t *)d)[i];
    case EDGEML_UINT16: return ((const uint16_t *)d)[i];
    case EDGEML_INT16: return ((const int16_t *)d)[i];
    case EDGEML_INT32: return ((const int32_t *)d)[i];
    case EDGEML_INT64: return ((const int64_t *)d)[i];
    case EDGEML_UINT32: return ((const uint32_t *)d)[i];
    case EDGEML_UINT64: return (int64_t)((const uint64_t *)d)[i];
    case EDGEML_BOOL: return ((const uint8_t *)d)[i] != 0;
    case EDGEML_UINT4: case EDGEML_INT4: return em_int4_value(((const uint8_t *)d)[i], dt);
    default: return f64_to_i64(em_get_f64(d, dt, i));
    }
}

void em_set_i64(void *d, int dt, size_t i, int64_t v)
{
    switch (dt) {
    case EDGEML_UINT8: ((uint8_t *)d)[i] = (uint8_t)v; break;
    case EDGEML_INT8: ((int8_t *)d)[i] = (int8_t)v; break;
    case EDGEML_UINT16: ((uint16_t *)d)[i] = (uint16_t)v; break;
    case EDGEML_INT16: ((int16_t *)d)[i] = (int16_t)v; break;
    case EDGEML_INT32: ((int32_t *)d)[i] = (int32_t)v; break;
    case EDGEML_INT64: ((int64_t *)d)[i] = v; break;
    case EDGEML_UINT32: ((uint32_t *)d)[i] = (uint32_t)v; break;
    case EDGEML_UINT64: ((uint64_t *)d)[i] = (uint64_t)v; break;
    case EDGEML_BOOL: ((uint8_t *)d)[i] = v != 0; break;
    /* fixed point -> 4 bits: the low nibble (as Cast wraps other integers) */
    case EDGEML_UINT4: ((uint8_t *)d)[i] = (uint8_t)(v & 15); break;
    case EDGEML_INT4: ((uint8_t *)d)[i] = (uint8_t)(int8_t)em_int4_value((uint8_t)v, EDGEML_INT4); break;
    default: em_set_f64(d, dt, i, (double)v); break;
    }
}
