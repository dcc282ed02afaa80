/* Helpers shared by the shape / data-movement kernels. */
#include "shape.h"

#include <math.h>

edgeml_status shape_read_ints(em_kctx *c, const em_tensor *t, const char *what,
                              int64_t *out, size_t max, size_t *n)
{
    if (!t) return em_fail(c, EDGEML_E_RUNTIME, "missing input '%s'", what);
    if (!em_dtype_is_int(t->dtype))
        return em_fail(c, EDGEML_E_RUNTIME, "'%s' must be an integer tensor, got %s", what,
                       em_dtype_name(t->dtype));
    if (t->rank > 1)
        return em_fail(c, EDGEML_E_RUNTIME, "'%s' must be 1-D, got rank %d", what, (int)t->rank);
    size_t cnt = em_numel(t);
    if (cnt > max)
        return em_fail(c, EDGEML_E_RUNTIME, "'%s' has %zu elements, at most %zu allowed", what,
                       cnt, max);
    for (size_t i = 0; i < cnt; i++) out[i] = em_get_i64(t->data, t->dtype, i);
    *n = cnt;
    return EDGEML_OK;
}

edgeml_status shape_read_int1(em_kctx *c, const em_tensor *t, const char *what, int64_t *v)
{
    if (!t) return em_fail(c, EDGEML_E_RUNTIME, "missing input '%s'", what);
    if (!em_dtype_is_int(t->dtype))
        return em_fail(c, EDGEML_E_RUNTIME, "'%s' must be an integer tensor, got %s", what,
                       em_dtype_name(t->dtype));
    if (t->rank > 1 || em_numel(t) != 1)
        return em_fail(c, EDGEML_E_RUNTIME, "'%s' must be a scalar", what);
    *v = em_get_i64(t->data, t->dtype, 0);
    return EDGEML_OK;
}

edgeml_status shape_norm_axes(em_kctx *c, const int64_t *axes, size_t n, int rank, int *out,
                              const char *what)
{
    bool seen[EM_MAX_RANK + 1] = {false};
    for (size_t i = 0; i < n; i++) {
        int a;
        if (!em_axis(axes[i], rank, &a))
            return em_fail(c, EDGEML_E_RUNTIME, "%s %lld out of range for rank %d", what,
                           (long long)axes[i], rank);
        if (seen[a])
            return em_fail(c, EDGEML_E_RUNTIME, "%s %lld repeated", what, (long long)axes[i]);
        seen[a] = true;
        out[i] = a;
    }
    return EDGEML_OK;
}

#define VIEW_LOOP(T)                                                     \
    do {                                                                 \
        T *d_ = (T *)d;                                                  \
        const T *s_ = (const T *)s;                                      \
        for (int64_t k = 0; k < inner; k++) d_[k] = s_[k * ist];         \
    } while (0)

void shape_copy_view(void *dst, const void *src, size_t esize, int rank, const int64_t *dims,
                     const int64_t *sstrides)
{
    int64_t dm[2 * EM_MAX_RANK], st[2 * EM_MAX_RANK];
    int r = 0;
    for (int i = 0; i < rank; i++) {
        if (dims[i] == 0) return;
        if (dims[i] == 1) continue;
        if (r > 0 && st[r - 1] == sstrides[i] * dims[i]) { /* coalesce with previous */
            dm[r - 1] *= dims[i];
            st[r - 1] = sstrides[i];
            continue;
        }
        dm[r] = dims[i];
        st[r] = sstrides[i];
        r++;
    }
    char *d = (char *)dst;
    if (r == 0) { memcpy(d, src, esize); return; }
    int64_t inner = dm[r - 1], ist = st[r - 1];
    int64_t idx[2 * EM_MAX_RANK] = {0};
    const char *base = (const char *)src;
    for (;;) {
        const char *s = base;
        for (int i = 0; i < r - 1; i++) s += idx[i] * st[i] * (int64_t)esize;
        if (ist == 1) {
            memcpy(d, s, (size_t)inner * esize);
        } else {
            switch (esize) {
            case 1: VIEW_LOOP(uint8_t); break;
            case 2: VIEW_LOOP(uint16_t); break;
            case 4: VIEW_LOOP(uint32_t); break;
            case 8: VIEW_LOOP(uint64_t); break;
#if UINTPTR_MAX > 0xFFFFFFFFu /* 64-bit: em_str is 16 bytes; on 32-bit it is 8, copied by case 8 */
            case sizeof(em_str): VIEW_LOOP(em_str); break;
#endif
            default:
                for (int64_t k = 0; k < inner; k++)
                    memcpy(d + (size_t)k * esize, s + k * ist * (int64_t)esize, esize);
            }
        }
        d += (size_t)inner * esize;
        int i = r - 2;
        for (; i >= 0; i--) {
            if (++idx[i] < dm[i]) break;
            idx[i] = 0;
        }
        if (i < 0) break;
    }
}

static int cmp_f64(double a, double b)
{
    bool na = isnan(a), nb = isnan(b);
    if (na || nb) return na && nb ? 0 : (na ? 1 : -1);
    return a < b ? -1 : (a > b ? 1 : 0);
}

#define CMP_T(T) do { T x = ((const T *)a)[i], y = ((const T *)b)[j]; return x < y ? -1 : (x > y ? 1 : 0); } while (0)

int shape_cmp_elem(int dt, const void *a, size_t i, const void *b, size_t j)
{
    switch (dt) {
    case EDGEML_FLOAT: return cmp_f64(((const float *)a)[i], ((const float *)b)[j]);
    case EDGEML_DOUBLE: return cmp_f64(((const double *)a)[i], ((const double *)b)[j]);
    case EDGEML_FLOAT16:
        return cmp_f64(em_f16_to_f32(((const uint16_t *)a)[i]), em_f16_to_f32(((const uint16_t *)b)[j]));
    case EDGEML_BFLOAT16:
        return cmp_f64(em_bf16_to_f32(((const uint16_t *)a)[i]), em_bf16_to_f32(((const uint16_t *)b)[j]));
    case EDGEML_INT8: CMP_T(int8_t);
    case EDGEML_UINT8: case EDGEML_BOOL: CMP_T(uint8_t);
    case EDGEML_INT16: CMP_T(int16_t);
    case EDGEML_UINT16: CMP_T(uint16_t);
    case EDGEML_INT32: CMP_T(int32_t);
    case EDGEML_UINT32: CMP_T(uint32_t);
    case EDGEML_INT64: CMP_T(int64_t);
    case EDGEML_UINT64: CMP_T(uint64_t);
    case EDGEML_STRING: {
        em_str x = ((const em_str *)a)[i], y = ((const em_str *)b)[j];
        size_t m = x.len < y.len ? x.len : y.len;
        int r = m ? memcmp(x.data, y.data, m) : 0;
        if (r) return r < 0 ? -1 : 1;
        return x.len < y.len ? -1 : (x.len > y.len ? 1 : 0);
    }
    default: return 0;
    }
}

bool shape_elem_nonzero(int dt, const void *data, size_t i)
{
    switch (dt) {
    case EDGEML_FLOAT: return ((const float *)data)[i] != 0.0f;
    case EDGEML_DOUBLE: return ((const double *)data)[i] != 0.0;
    case EDGEML_FLOAT16: case EDGEML_BFLOAT16: return (((const uint16_t *)data)[i] & 0x7fff) != 0;
    case EDGEML_STRING: return ((const em_str *)data)[i].len != 0;
    default: break;
    }
    switch (em_dtype_size(dt)) {
    case 1: return ((const uint8_t *)data)[i] != 0;
    case 2: return ((const uint16_t *)data)[i] != 0;
    case 4: return ((const uint32_t *)data)[i] != 0;
    case 8: return ((const uint64_t *)data)[i] != 0;
    default: return false;
    }
}

void shape_msort(size_t *idx, size_t *tmp, size_t n, int (*cmp)(const void *, size_t, size_t),
                 const void *ctx)
{
    /* bottom-up merge sort, insertion sort on runs of 16 */
    const size_t run = 16;
    for (size_t lo = 0; lo < n; lo += run) {
        size_t hi = lo + run < n ? lo + run : n;
        for (size_t i = lo + 1; i < hi; i++) {
            size_t v = idx[i], j = i;
            while (j > lo && cmp(ctx, idx[j - 1], v) > 0) { idx[j] = idx[j - 1]; j--; }
            idx[j] = v;
        }
    }
    size_t *a = idx, *b = tmp;
    for (size_t w = run; w < n; w *= 2) {
        for (size_t lo = 0; lo < n; lo += 2 * w) {
            size_t mid = lo + w < n ? lo + w : n, hi = lo + 2 * w < n ? lo + 2 * w : n;
            size_t i = lo, j = mid, k = lo;
            while (i < mid && j < hi) b[k++] = cmp(ctx, a[j], a[i]) < 0 ? a[j++] : a[i++];
            while (i < mid) b[k++] = a[i++];
            while (j < hi) b[k++] = a[j++];
        }
        size_t *t = a; a = b; b = t;
    }
    if (a != idx) memcpy(idx, a, n * sizeof *idx);
}
