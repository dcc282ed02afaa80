/* Softmax, LogSoftmax, Hardmax. Before opset 13 the input is coerced to 2-D
 * at `axis` (default 1); from 13 the op runs along `axis` (default -1). */
#include "nn.h"
#include "../cpu/vmath.h"
#include "../pool.h"

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

/* ---- float32 fast path: vectorised exp, rows (or column blocks) over the pool ---- */

typedef struct smf {
    const em_vmath *vm;
    int kind;
    const float *x;
    float *y;
    size_t outer, n, inner, cb, ncb; /* column blocks of cb when inner > 1 */
} smf;

static void smf_rows(void *ctx, size_t b, size_t e)
{
    const smf *q = ctx;
    size_t n = q->n;
    for (size_t o = b; o < e; o++) {
        const float *xr = q->x + o * n;
        float *yr = q->y + o * n;
        float mx = q->vm->max(xr, n);
        float sum = q->vm->exp_sub_sum(xr, yr, n, mx);
        if (q->kind == SM_SOFT) {
            float inv = 1.0f / sum;
            q->vm->bin[EM_VBIN_MUL](yr, yr, 1, &inv, 0, n);
        } else {
            float ls = logf(sum);
            for (size_t i = 0; i < n; i++) yr[i] = xr[i] - mx - ls;
        }
    }
}

/* Softmax over a strided axis: per (outer, block of columns), the rows of the
 * axis are contiguous vectors of the block. */
static void smf_cols(void *ctx, size_t b, size_t e)
{
    const smf *q = ctx;
    size_t n = q->n, inner = q->inner;
    float mx[256], sum[256];
    for (size_t t = b; t < e; t++) {
        size_t o = t / q->ncb, j0 = (t % q->ncb) * q->cb, w = inner - j0 < q->cb ? inner - j0 : q->cb;
        const float *xb = q->x + o * n * inner + j0;
        float *yb = q->y + o * n * inner + j0;
        for (size_t j = 0; j < w; j++) { mx[j] = xb[j]; sum[j] = 0; }
        for (size_t i = 1; i < n; i++)
            for (size_t j = 0; j < w; j++) mx[j] = xb[i * inner + j] > mx[j] ? xb[i * inner + j] : mx[j];
        for (size_t i = 0; i < n; i++) {
            const float *xr = xb + i * inner;
            float *yr = yb + i * inner;
            for (size_t j = 0; j < w; j++) yr[j] = xr[j] - mx[j];
            q->vm->exp(yr, yr, w);
            for (size_t j = 0; j < w; j++) sum[j] += yr[j];
        }
        if (q->kind == SM_SOFT) {
            for (size_t j = 0; j < w; j++) sum[j] = 1.0f / sum[j];
            for (size_t i = 0; i < n; i++)
                q->vm->bin[EM_VBIN_MUL](yb + i * inner, yb + i * inner, 1, sum, 1, w);
        } else {
            for (size_t j = 0; j < w; j++) sum[j] = logf(sum[j]);
            for (size_t i = 0; i < n; i++)
                for (size_t j = 0; j < w; j++) yb[i * inner + j] = xb[i * inner + j] - mx[j] - sum[j];
        }
    }
}

static void sm_fast(em_kctx *c, int kind, const float *x, float *y, size_t outer, size_t n, size_t inner)
{
    smf q = {em_vmath_get(), kind, x, y, outer, n, inner, 256, 1};
    if (inner == 1) {
        em_parallel_for(c->pool, c->threads, outer, 16384 / (n + 1) + 1, smf_rows, &q);
        return;
    }
    q.ncb = (inner + q.cb - 1) / q.cb;
    em_parallel_for(c->pool, c->threads, outer * q.ncb, 16384 / (n * q.cb) + 1, smf_cols, &q);
}

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
    if (X->dtype == EDGEML_FLOAT && kind != SM_HARD && em_vmath_fast()) {
        sm_fast(c, kind, X->data, Y->data, outer, n, inner);
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
