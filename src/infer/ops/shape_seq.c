/* ReverseSequence, CumSum, Col2Im. */
#include "shape.h"

/* ---- ReverseSequence ------------------------------------------------------------ */

edgeml_status shape_reverse_sequence_run(em_kctx *c)
{
    const em_tensor *x = em_in(c, 0), *lens = em_in(c, 1);
    if (!x || !lens) return em_fail(c, EDGEML_E_RUNTIME, "input and sequence_lens are required");
    if (x->rank < 2) return em_fail(c, EDGEML_E_RUNTIME, "input must have rank >= 2");
    int64_t ta = em_attr_int(c->node, "time_axis", 0), ba = em_attr_int(c->node, "batch_axis", 1);
    if (!((ta == 0 && ba == 1) || (ta == 1 && ba == 0)))
        return em_fail(c, EDGEML_E_RUNTIME, "time_axis %lld and batch_axis %lld must be 0 and 1", (long long)ta,
                       (long long)ba);
    int64_t T = x->dims[ta], B = x->dims[ba];
    if (!em_dtype_is_int(lens->dtype) || lens->rank != 1 || lens->dims[0] != B)
        return em_fail(c, EDGEML_E_RUNTIME, "sequence_lens must be an integer tensor of shape [%lld]", (long long)B);
    for (int64_t b = 0; b < B; b++) {
        int64_t l = em_get_i64(lens->data, lens->dtype, (size_t)b);
        if (l < 0 || l > T)
            return em_fail(c, EDGEML_E_RUNTIME, "sequence_lens[%lld] = %lld outside [0, %lld]", (long long)b,
                           (long long)l, (long long)T);
    }
    SHAPE_OUT(y, c, 0, x->dtype, x->rank, x->dims);
    size_t es = shape_esize(x->dtype), inner = 1;
    for (int d = 2; d < x->rank; d++) inner *= (size_t)x->dims[d];
    if (!em_numel(x)) return EDGEML_OK;
    size_t row = inner * es;
    for (int64_t b = 0; b < B; b++) {
        int64_t l = em_get_i64(lens->data, lens->dtype, (size_t)b);
        for (int64_t t = 0; t < T; t++) {
            int64_t st = t < l ? l - 1 - t : t;
            size_t di = ta == 0 ? (size_t)(t * B + b) : (size_t)(b * T + t);
            size_t si = ta == 0 ? (size_t)(st * B + b) : (size_t)(b * T + st);
            memcpy((char *)y->data + di * row, (const char *)x->data + si * row, row);
        }
    }
    return EDGEML_OK;
}

/* ---- CumSum --------------------------------------------------------------------- */

#define CUMSUM(T, A, LOAD, STORE)                                                           \
    do {                                                                                    \
        A *acc = em_scratch(c, inner * sizeof(A) + 1);                                      \
        if (!acc) return shape_oerr(c);                                                     \
        for (size_t o = 0; o < outer; o++) {                                                \
            for (size_t i = 0; i < inner; i++) acc[i] = (A)0;                               \
            for (size_t s = 0; s < dim; s++) {                                              \
                size_t j = reverse ? dim - 1 - s : s;                                       \
                const T *xr = (const T *)x->data + (o * dim + j) * inner;                   \
                T *yr = (T *)y->data + (o * dim + j) * inner;                               \
                if (exclusive) {                                                            \
                    for (size_t i = 0; i < inner; i++) {                                    \
                        yr[i] = STORE(acc[i]);                                              \
                        acc[i] += LOAD(xr[i]);                                              \
                    }                                                                       \
                } else {                                                                    \
                    for (size_t i = 0; i < inner; i++) {                                    \
                        acc[i] += LOAD(xr[i]);                                              \
                        yr[i] = STORE(acc[i]);                                              \
                    }                                                                       \
                }                                                                           \
            }                                                                               \
        }                                                                                   \
    } while (0)

#define ID(v) (v)
#define LD_U64(v) ((uint64_t)(v))
#define ST_I32(v) ((int32_t)(uint32_t)(v))
#define ST_I64(v) ((int64_t)(v))
#define ST_U32(v) ((uint32_t)(v))
#define ST_F16(v) em_f32_to_f16(v)
#define ST_BF16(v) em_f32_to_bf16(v)

edgeml_status shape_cumsum_run(em_kctx *c)
{
    const em_tensor *x = em_in(c, 0);
    if (!x) return em_fail(c, EDGEML_E_RUNTIME, "input 0 missing or not a tensor");
    int64_t av;
    edgeml_status st = shape_read_int1(c, em_in(c, 1), "axis", &av);
    if (st) return st;
    int r = x->rank, axis;
    if (r < 1) return em_fail(c, EDGEML_E_RUNTIME, "input must have rank >= 1");
    if (!em_axis(av, r, &axis))
        return em_fail(c, EDGEML_E_RUNTIME, "axis %lld out of range for rank %d", (long long)av, r);
    bool exclusive = em_attr_int(c->node, "exclusive", 0) != 0;
    bool reverse = em_attr_int(c->node, "reverse", 0) != 0;
    switch (x->dtype) {
    case EDGEML_FLOAT: case EDGEML_DOUBLE: case EDGEML_FLOAT16: case EDGEML_BFLOAT16:
    case EDGEML_INT32: case EDGEML_INT64: case EDGEML_UINT32: case EDGEML_UINT64: break;
    default: return em_fail(c, EDGEML_E_RUNTIME, "unsupported dtype");
    }
    SHAPE_OUT(y, c, 0, x->dtype, r, x->dims);
    if (!em_numel(x)) return EDGEML_OK;
    size_t outer = 1, inner = 1, dim = (size_t)x->dims[axis];
    for (int d = 0; d < axis; d++) outer *= (size_t)x->dims[d];
    for (int d = axis + 1; d < r; d++) inner *= (size_t)x->dims[d];
    switch (x->dtype) {
    case EDGEML_FLOAT: CUMSUM(float, float, ID, ID); break;
    case EDGEML_DOUBLE: CUMSUM(double, double, ID, ID); break;
    case EDGEML_FLOAT16: CUMSUM(uint16_t, float, em_f16_to_f32, ST_F16); break;
    case EDGEML_BFLOAT16: CUMSUM(uint16_t, float, em_bf16_to_f32, ST_BF16); break;
    case EDGEML_INT32: CUMSUM(int32_t, uint64_t, LD_U64, ST_I32); break;
    case EDGEML_INT64: CUMSUM(int64_t, uint64_t, LD_U64, ST_I64); break;
    case EDGEML_UINT32: CUMSUM(uint32_t, uint64_t, LD_U64, ST_U32); break;
    case EDGEML_UINT64: CUMSUM(uint64_t, uint64_t, ID, ID); break;
    default: break;
    }
    return EDGEML_OK;
}

/* ---- Col2Im --------------------------------------------------------------------- */

edgeml_status shape_col2im_run(em_kctx *c)
{
    const em_tensor *x = em_in(c, 0);
    if (!x) return em_fail(c, EDGEML_E_RUNTIME, "input 0 missing or not a tensor");
    if (x->rank != 3) return em_fail(c, EDGEML_E_RUNTIME, "input must be 3-D [N, C*prod(block), L]");
    if (x->dtype == EDGEML_STRING) return em_fail(c, EDGEML_E_RUNTIME, "unsupported dtype");
    int64_t img[EM_MAX_RANK], blk[EM_MAX_RANK];
    size_t ni, nb;
    edgeml_status st = shape_read_ints(c, em_in(c, 1), "image_shape", img, EM_MAX_RANK - 2, &ni);
    if (st) return st;
    if ((st = shape_read_ints(c, em_in(c, 2), "block_shape", blk, EM_MAX_RANK - 2, &nb))) return st;
    if (ni != nb || ni == 0)
        return em_fail(c, EDGEML_E_RUNTIME, "image_shape (%zu) and block_shape (%zu) lengths differ or are 0", ni, nb);
    int ns = (int)ni;
    int64_t dil[EM_MAX_RANK], str[EM_MAX_RANK], pad[2 * EM_MAX_RANK];
    const int64_t *a;
    long k;
    k = em_attr_ints(c->node, "dilations", &a);
    if (k >= 0 && k != ns) return em_fail(c, EDGEML_E_RUNTIME, "dilations has %ld entries for %d dims", k, ns);
    for (int d = 0; d < ns; d++) dil[d] = k >= 0 ? a[d] : 1;
    k = em_attr_ints(c->node, "strides", &a);
    if (k >= 0 && k != ns) return em_fail(c, EDGEML_E_RUNTIME, "strides has %ld entries for %d dims", k, ns);
    for (int d = 0; d < ns; d++) str[d] = k >= 0 ? a[d] : 1;
    k = em_attr_ints(c->node, "pads", &a);
    if (k >= 0 && k != 2 * ns) return em_fail(c, EDGEML_E_RUNTIME, "pads has %ld entries for %d dims", k, ns);
    for (int d = 0; d < 2 * ns; d++) pad[d] = k >= 0 ? a[d] : 0;
    int64_t K = 1, L = 1, ob[EM_MAX_RANK];
    for (int d = 0; d < ns; d++) {
        if (img[d] < 0 || blk[d] < 1 || dil[d] < 1 || str[d] < 1 || pad[d] < 0 || pad[ns + d] < 0)
            return em_fail(c, EDGEML_E_RUNTIME, "invalid shape, block, dilation, stride or pad on dim %d", d);
        int64_t eff, span;
        if (__builtin_mul_overflow(dil[d], blk[d] - 1, &eff) || __builtin_add_overflow(eff, 1, &eff) ||
            __builtin_add_overflow(img[d], pad[d], &span) || __builtin_add_overflow(span, pad[ns + d], &span))
            return em_fail(c, EDGEML_E_RUNTIME, "sizes on dim %d overflow", d);
        ob[d] = span >= eff ? (span - eff) / str[d] + 1 : 0;
        if (__builtin_mul_overflow(K, blk[d], &K) || __builtin_mul_overflow(L, ob[d], &L))
            return em_fail(c, EDGEML_E_RUNTIME, "block count overflows");
    }
    if (x->dims[1] % K)
        return em_fail(c, EDGEML_E_RUNTIME, "input dim 1 (%lld) not divisible by the block size %lld",
                       (long long)x->dims[1], (long long)K);
    if (x->dims[2] != L)
        return em_fail(c, EDGEML_E_RUNTIME, "input dim 2 is %lld, the blocks give %lld", (long long)x->dims[2],
                       (long long)L);
    int64_t N = x->dims[0], C = x->dims[1] / K;
    int64_t od[EM_MAX_RANK];
    od[0] = N;
    od[1] = C;
    for (int d = 0; d < ns; d++) od[2 + d] = img[d];
    SHAPE_OUT(y, c, 0, x->dtype, 2 + ns, od);
    int64_t P = 1; /* no overflow: the output was allocated */
    for (int d = 0; d < ns; d++) P *= img[d];
    size_t on = em_numel(y);
    if (!on) return EDGEML_OK;
    bool f32 = x->dtype == EDGEML_FLOAT;
    double *acc = NULL;
    if (f32) memset(y->data, 0, on * sizeof(float));
    else {
        acc = em_scratch(c, on * sizeof *acc);
        if (!acc) return shape_oerr(c);
        for (size_t i = 0; i < on; i++) acc[i] = 0;
    }
    int64_t ist[EM_MAX_RANK];
    em_strides(ns, img, ist);
    for (int64_t nc = 0; nc < N * C; nc++) {
        int64_t kk[EM_MAX_RANK] = {0};
        for (int64_t kidx = 0; kidx < K; kidx++) {
            size_t rowb = ((size_t)nc * (size_t)K + (size_t)kidx) * (size_t)L;
            int64_t ll[EM_MAX_RANK] = {0};
            for (int64_t l = 0; l < L; l++) {
                int64_t off = 0;
                bool in = true;
                for (int d = 0; d < ns; d++) {
                    int64_t p = ll[d] * str[d] - pad[d] + kk[d] * dil[d];
                    if (p < 0 || p >= img[d]) { in = false; break; }
                    off += p * ist[d];
                }
                if (in) {
                    size_t oi = (size_t)nc * (size_t)P + (size_t)off;
                    if (f32) ((float *)y->data)[oi] += ((const float *)x->data)[rowb + (size_t)l];
                    else acc[oi] += em_get_f64(x->data, x->dtype, rowb + (size_t)l);
                }
                for (int d = ns - 1; d >= 0; d--) {
                    if (++ll[d] < ob[d]) break;
                    ll[d] = 0;
                }
            }
            for (int d = ns - 1; d >= 0; d--) {
                if (++kk[d] < blk[d]) break;
                kk[d] = 0;
            }
        }
    }
    if (!f32)
        for (size_t i = 0; i < on; i++) em_set_f64(y->data, x->dtype, i, acc[i]);
    return EDGEML_OK;
}
