/* Small helpers shared by the red_* kernels. */
#include "red.h"

#include <ctype.h>
#include <math.h>

void red_store_num(void *data, int dt, size_t i, double v)
{
    if (red_is_floatlike(dt)) {
        red_setf(data, dt, i, v);
        return;
    }
    if (dt == EDGEML_BOOL) {
        ((uint8_t *)data)[i] = (v != 0 && v == v);
        return;
    }
    if (v != v) v = 0;
    v = trunc(v);
    double lo, hi;
    switch (dt) {
    case EDGEML_INT8: lo = INT8_MIN; hi = INT8_MAX; break;
    case EDGEML_UINT8: lo = 0; hi = UINT8_MAX; break;
    case EDGEML_INT16: lo = INT16_MIN; hi = INT16_MAX; break;
    case EDGEML_UINT16: lo = 0; hi = UINT16_MAX; break;
    case EDGEML_INT32: lo = INT32_MIN; hi = INT32_MAX; break;
    case EDGEML_UINT32: lo = 0; hi = UINT32_MAX; break;
    case EDGEML_INT64:
        if (v >= 9223372036854775807.0) ((int64_t *)data)[i] = INT64_MAX;
        else if (v <= -9223372036854775808.0) ((int64_t *)data)[i] = INT64_MIN;
        else ((int64_t *)data)[i] = (int64_t)v;
        return;
    case EDGEML_UINT64:
        if (v >= 18446744073709551615.0) ((uint64_t *)data)[i] = UINT64_MAX;
        else if (v <= 0) ((uint64_t *)data)[i] = 0;
        else ((uint64_t *)data)[i] = (uint64_t)v;
        return;
    default: return;
    }
    if (v < lo) v = lo;
    if (v > hi) v = hi;
    em_set_i64(data, dt, i, (int64_t)v);
}

float *red_to_f32(em_kctx *c, const em_tensor *t)
{
    size_t n = em_numel(t);
    if (t->dtype == EDGEML_FLOAT) return (float *)t->data;
    float *f = em_scratch(c, (n ? n : 1) * sizeof(float));
    if (!f) return NULL;
    for (size_t i = 0; i < n; i++) f[i] = (float)red_getf(t->data, t->dtype, i);
    return f;
}

double red_scalar_f(const em_tensor *t)
{
    if (!t || em_numel(t) < 1) return 0;
    return red_getf(t->data, t->dtype, 0);
}

int64_t red_scalar_i(const em_tensor *t)
{
    if (!t || em_numel(t) < 1) return 0;
    if (red_is_floatlike(t->dtype)) return (int64_t)red_getf(t->data, t->dtype, 0);
    return em_get_i64(t->data, t->dtype, 0);
}

bool red_streq(const char *a, const char *b)
{
    for (; *a && *b; a++, b++)
        if (tolower((unsigned char)*a) != tolower((unsigned char)*b)) return false;
    return *a == *b;
}
