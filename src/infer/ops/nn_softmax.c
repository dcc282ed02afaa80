/* Softmax, LogSoftmax, Hardmax. Before opset 13 the input is coerced to 2-D
 * at `axis` (default 1); from 13 the op runs along `axis` (default -1). */
#include "nn.h"

#define RET_OOM(c) return ((c)->err->code ? (c)->err->code : EDGEML_E_NOMEM)

enum { SM_SOFT, SM_LOG, SM_HARD };

#define NN_DEF_SOFTMAX(T, NAME, EXP, LOG)                                                         \
    static void NAME(int kind, const T *x, T *y, size_t outer, size_t n, size_t inner)           \
    {                                                                                             \
        for (size_t o = 0; o < outer; o++)                                                        \
            for (size_t in = 0; in < inner; in++) {                                               \
                const T *xr = x + o * n * inner + in;                                             \
                T *yr = y + o * n * inner + in;                                                   \
                T mx = xr[0];                                                                     \
                size_t am = 0;                                                                    \
                for (size_t i = 1; i < n; i++)                                                    \
                    if (xr[i * inner] > mx) { mx = xr[i * inner]; am = i; }                       \
                if (kind == SM_HARD) {                                                            \
                    for (size_t i = 0; i < n; i++) yr[i * inner] = i == am ? (T)1 : (T)0;         \
                    continue;                                                                     \
                }                                                                                 \
                T sum = 0;                                                                        \
                if (kind == SM_SOFT) {                                                            \
                    for (size_t i = 0; i < n; i++) {                                              \
                        T e = EXP(xr[i * inner] - mx);                                            \
                        yr[i * inner] = e;                                                        \
                        sum += e;                                                                 \
                    }                                                                             \
                    T inv = (T)1 / sum;                                                           \
                    for (size_t i = 0; i < n; i++) yr[i * inner] *= inv;                          \
                } else {                                                                          \
                    for (size_t i = 0; i < n; i++) sum += EXP(xr[i * inner] - mx);                \
                    T ls = LOG(sum);                                                              \
                    for (size_t i = 0; i < n; i++) yr[i * inner] = xr[i * inner] - mx - ls;       \
                }                                                                                 \
            }                                                                                     \
    }

NN_DEF_SOFTMAX(float, sm_f32, expf, logf)
NN_DEF_SOFTMAX(double, sm_f64, exp, log)

static edgeml_status sm_run(em_kctx *c, int kind)
{
    const em_tensor *X = em_in(c, 0);
    EM_CHECK(c, X, "missing input");
    EM_CHECK(c, nn_is_fp(X->dtype), "unsupported dtype %s", em_dtype_name(X->dtype));
    bool v13 = c->node->opset >= 13;
    int64_t av = em_attr_int(c->node, "axis", v13 ? -1 : 1);
    int axis;
    int r = X->rank;
    if (r == 0) {
        EM_CHECK(c, av == 0 || av == -1, "axis out of range for a scalar");
        axis = 0;
    } else if (!v13 && av == r) {
        axis = r; /* coerce to [N, 1] */
    } else {
        EM_CHECK(c, em_axis(av, r, &axis), "axis %lld out of range for rank %d", (long long)av, r);
    }
    size_t outer = 1, n = 1, inner = 1;
    for (int i = 0; i < axis && i < r; i++) outer *= (size_t)X->dims[i];
    if (v13) {
        if (r) n = (size_t)X->dims[axis];
        for (int i = axis + 1; i < r; i++) inner *= (size_t)X->dims[i];
    } else {
        for (int i = axis; i < r; i++) n *= (size_t)X->dims[i];
    }
    em_tensor *Y = em_out(c, 0, X->dtype, X->rank, X->dims);
    if (!Y) RET_OOM(c);
    if (em_numel(X) == 0) return EDGEML_OK;
    if (X->dtype == EDGEML_DOUBLE) {
        sm_f64(kind, X->data, Y->data, outer, n, inner);
        return EDGEML_OK;
    }
    const float *x = nn_as_f32(c, X);
    float *y = nn_out_f32(c, Y);
    if (!x || !y) RET_OOM(c);
    sm_f32(kind, x, y, outer, n, inner);
    nn_store_f32(Y, y);
    return EDGEML_OK;
}

NN_OP(softmax) { return sm_run(c, SM_SOFT); }
NN_OP(logsoftmax) { return sm_run(c, SM_LOG); }
NN_OP(hardmax) { return sm_run(c, SM_HARD); }
