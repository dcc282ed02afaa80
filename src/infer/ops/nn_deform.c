/* DeformConv (opset 19): 2-D convolution whose kernel taps are moved by
 * learned offsets and optionally scaled by a mask.
 *
 *   y[n, o, i, j] = B[o] + sum_{c, ki, kj} W[o, c, ki, kj] * mask[n, g', ki, kj, i, j]
 *                   * X~[n, g*C/group + c](i*sh - pt + ki*dh + dy, j*sw - pl + kj*dw + dx)
 *
 * where (dy, dx) = offset[n, g', ki, kj, :, i, j] (offset viewed as
 * [N, offset_group, kH, kW, 2, oH, oW]), g' is the offset group of the input
 * channel, and X~ samples bilinearly with every corner outside the image
 * reading 0 (as GridSample with align_corners=1 and zero padding, which the
 * spec's reference uses). The taps are sampled into a column buffer once per
 * batch item (the positions are shared by the channels of an offset group),
 * then each group is a small matrix product. Computes in float32 for
 * float32/float16/bfloat16 inputs and in float64 for float64. */
#include "nn.h"

#include <math.h>
#include <stdlib.h>

typedef struct deform_state {
    int64_t group, offset_group;
    int64_t kshape[2];  /* 0 when not given */
    int64_t dil[2], str[2], pads[4];
} deform_state;

static edgeml_status ints_attr(em_node *n, edgeml_error *err, const char *name, int64_t *dst,
                               long want, int64_t min)
{
    const int64_t *v;
    long k = em_attr_ints(n, name, &v);
    if (k < 0) return EDGEML_OK;
    if (k != want)
        return em_node_fail(n, err, EDGEML_E_MODEL, "attribute %s has %ld values, expected %ld "
                            "(only 2-D DeformConv is supported)", name, k, want);
    for (long i = 0; i < k; i++) {
        if (v[i] < min || v[i] > INT32_MAX)
            return em_node_fail(n, err, EDGEML_E_MODEL, "attribute %s[%ld] = %lld is invalid", name,
                                i, (long long)v[i]);
        dst[i] = v[i];
    }
    return EDGEML_OK;
}

NN_PREP(deform)
{
    deform_state *s = calloc(1, sizeof *s);
    if (!s) return em_node_fail(n, err, EDGEML_E_NOMEM, "out of memory");
    s->dil[0] = s->dil[1] = s->str[0] = s->str[1] = 1;
    s->group = em_attr_int(n, "group", 1);
    s->offset_group = em_attr_int(n, "offset_group", 1);
    edgeml_status st = EDGEML_OK;
    if (s->group < 1 || s->group > INT32_MAX || s->offset_group < 1 || s->offset_group > INT32_MAX)
        st = em_node_fail(n, err, EDGEML_E_MODEL, "group (%lld) and offset_group (%lld) must be >= 1",
                          (long long)s->group, (long long)s->offset_group);
    if (!st) st = ints_attr(n, err, "kernel_shape", s->kshape, 2, 1);
    if (!st) st = ints_attr(n, err, "dilations", s->dil, 2, 1);
    if (!st) st = ints_attr(n, err, "strides", s->str, 2, 1);
    if (!st) st = ints_attr(n, err, "pads", s->pads, 4, 0);
    if (st) { free(s); return st; }
    n->state = s;
    return EDGEML_OK;
}

/* Sampling plan of one tap at one output position: 4 corner indices into
 * the image (-1 = outside) and their weights. */
typedef struct tap {
    int64_t idx[4];
    double w[4];
} tap;

static void plan_tap(tap *t, double h, double w, int64_t H, int64_t W)
{
    for (int k = 0; k < 4; k++) { t->idx[k] = -1; t->w[k] = 0; }
    /* Non-finite or far-away positions read nothing (all corners outside). */
    if (!(h > -2.0 && h < (double)H + 1.0 && w > -2.0 && w < (double)W + 1.0)) return;
    double h0 = floor(h), w0 = floor(w), lh = h - h0, lw = w - w0;
    int64_t y0 = (int64_t)h0, x0 = (int64_t)w0;
    const double wt[4] = { (1 - lh) * (1 - lw), (1 - lh) * lw, lh * (1 - lw), lh * lw };
    for (int k = 0; k < 4; k++) {
        int64_t y = y0 + (k >> 1), x = x0 + (k & 1);
        if (y >= 0 && y < H && x >= 0 && x < W) { t->idx[k] = y * W + x; t->w[k] = wt[k]; }
    }
}

#define DEFORM_KERNEL(NAME, T)                                                                   \
    static void NAME(const T *x, const T *w, const T *off, const T *mask, const T *b, T *y,     \
                     T *col, tap *taps, int64_t N, int64_t C, int64_t H, int64_t Wd, int64_t OC,  \
                     int64_t kh, int64_t kw, int64_t oh, int64_t ow, const deform_state *s)       \
    {                                                                                            \
        int64_t KK = kh * kw, P = oh * ow, G = s->group, OG = s->offset_group;                   \
        int64_t icg = C / G, ocg = OC / G, ico = C / OG;                                          \
        for (int64_t n = 0; n < N; n++) {                                                        \
            const T *xn = x + n * C * H * Wd;                                                    \
            for (int64_t g = 0; g < OG; g++) {                                                   \
                /* positions of every tap of offset group g */                                   \
                for (int64_t ki = 0; ki < kh; ki++)                                              \
                    for (int64_t kj = 0; kj < kw; kj++) {                                        \
                        int64_t k = ki * kw + kj;                                                \
                        const T *dy = off + ((n * OG + g) * KK + k) * 2 * P, *dx = dy + P;       \
                        const T *mk = mask ? mask + ((n * OG + g) * KK + k) * P : NULL;          \
                        for (int64_t i = 0; i < oh; i++)                                         \
                            for (int64_t j = 0; j < ow; j++) {                                   \
                                int64_t p = i * ow + j;                                          \
                                double hh = (double)(i * s->str[0] - s->pads[0] + ki * s->dil[0]) + (double)dy[p]; \
                                double ww = (double)(j * s->str[1] - s->pads[1] + kj * s->dil[1]) + (double)dx[p]; \
                                tap *t = &taps[k * P + p];                                       \
                                plan_tap(t, hh, ww, H, Wd);                                      \
                                if (mk)                                                          \
                                    for (int q = 0; q < 4; q++) t->w[q] *= (double)mk[p];        \
                            }                                                                    \
                    }                                                                            \
                /* sample the channels of offset group g into col[c][k][p] */                    \
                for (int64_t c = g * ico; c < (g + 1) * ico; c++) {                              \
                    const T *xc = xn + c * H * Wd;                                               \
                    T *cc = col + c * KK * P;                                                    \
                    for (int64_t kp = 0; kp < KK * P; kp++) {                                    \
                        const tap *t = &taps[kp];                                                \
                        T v = 0;                                                                 \
                        for (int q = 0; q < 4; q++)                                              \
                            if (t->idx[q] >= 0) v += (T)t->w[q] * xc[t->idx[q]];                 \
                        cc[kp] = v;                                                              \
                    }                                                                            \
                }                                                                                \
            }                                                                                    \
            /* y[n, g*ocg + o, p] = b + sum_r W[g*ocg + o][r] * col[g*icg*KK + r][p] */          \
            for (int64_t o = 0; o < OC; o++) {                                                   \
                int64_t g = o / ocg;                                                             \
                T *yo = y + (n * OC + o) * P;                                                    \
                T bias = b ? b[o] : (T)0;                                                        \
                for (int64_t p = 0; p < P; p++) yo[p] = bias;                                    \
                const T *wo = w + o * icg * KK;                                                  \
                const T *cg = col + g * icg * KK * P;                                            \
                for (int64_t r = 0; r < icg * KK; r++) {                                         \
                    T wv = wo[r];                                                                \
                    const T *cr = cg + r * P;                                                    \
                    for (int64_t p = 0; p < P; p++) yo[p] += wv * cr[p];                         \
                }                                                                                \
            }                                                                                    \
        }                                                                                        \
    }

DEFORM_KERNEL(deform_f32, float)
DEFORM_KERNEL(deform_f64, double)

/* Input i as a T buffer: the tensor's own data when it already has dtype dt,
 * else a converted scratch copy. NULL (with the error set) on failure. */
static const void *as_dtype(em_kctx *c, const em_tensor *t, int dt)
{
    if (!t) return NULL;
    if (t->dtype == dt) return t->data;
    size_t n = em_numel(t);
    void *d = em_scratch(c, (n ? n : 1) * em_dtype_size(dt));
    if (!d) { em_fail(c, EDGEML_E_NOMEM, "out of memory"); return NULL; }
    for (size_t i = 0; i < n; i++) em_set_f64(d, dt, i, em_get_f64(t->data, t->dtype, i));
    return d;
}

NN_OP(deform)
{
    const deform_state *s = c->node->state;
    const em_tensor *X = em_in(c, 0), *W = em_in(c, 1), *O = em_in(c, 2);
    const em_tensor *B = em_n_in(c) > 3 ? em_in(c, 3) : NULL, *M = em_n_in(c) > 4 ? em_in(c, 4) : NULL;
    EM_CHECK(c, X && W && O, "inputs X, W and offset are required");
    EM_CHECK(c, nn_is_fp(X->dtype), "unsupported dtype %s", em_dtype_name(X->dtype));
    EM_CHECK(c, W->dtype == X->dtype && O->dtype == X->dtype && (!B || B->dtype == X->dtype) &&
                    (!M || M->dtype == X->dtype),
             "W, offset, B and mask must have X's dtype %s", em_dtype_name(X->dtype));
    char b1[96], b2[96];
    EM_CHECK(c, X->rank == 4, "X must be 4-D [N, C, H, W] (only 2-D DeformConv is supported), got %s",
             em_shape_str(X->rank, X->dims, b1, sizeof b1));
    EM_CHECK(c, W->rank == 4, "W must be 4-D [OC, C/group, kH, kW], got %s",
             em_shape_str(W->rank, W->dims, b1, sizeof b1));
    int64_t N = X->dims[0], C = X->dims[1], H = X->dims[2], Wd = X->dims[3];
    int64_t OC = W->dims[0], kh = W->dims[2], kw = W->dims[3];
    int64_t G = s->group, OG = s->offset_group;
    EM_CHECK(c, s->kshape[0] == 0 || (s->kshape[0] == kh && s->kshape[1] == kw),
             "kernel_shape [%lld,%lld] differs from W's [%lld,%lld]", (long long)s->kshape[0],
             (long long)s->kshape[1], (long long)kh, (long long)kw);
    EM_CHECK(c, C % G == 0 && W->dims[1] * G == C && OC % G == 0,
             "X has %lld channels, W is %s: with group %lld, W must be [OC, C/group, kH, kW] and OC a multiple of group",
             (long long)C, em_shape_str(W->rank, W->dims, b1, sizeof b1), (long long)G);
    EM_CHECK(c, C % OG == 0, "X's %lld channels are not a multiple of offset_group %lld", (long long)C,
             (long long)OG);
    EM_CHECK(c, kh >= 1 && kw >= 1, "W has an empty kernel");
    int64_t ekh = (kh - 1) * s->dil[0] + 1, ekw = (kw - 1) * s->dil[1] + 1;
    int64_t ph = H + s->pads[0] + s->pads[2], pw = Wd + s->pads[1] + s->pads[3];
    EM_CHECK(c, ph >= ekh && pw >= ekw, "the dilated kernel %lldx%lld is larger than the padded input %lldx%lld",
             (long long)ekh, (long long)ekw, (long long)ph, (long long)pw);
    int64_t oh = (ph - ekh) / s->str[0] + 1, ow = (pw - ekw) / s->str[1] + 1;
    int64_t KK = kh * kw;
    int64_t want[4] = { N, OG * KK * 2, oh, ow };
    bool ok = O->rank == 4;
    for (int i = 0; ok && i < 4; i++) ok = O->dims[i] == want[i];
    EM_CHECK(c, ok, "offset must be %s ([N, offset_group*kH*kW*2, oH, oW]), got %s",
             em_shape_str(4, want, b1, sizeof b1), em_shape_str(O->rank, O->dims, b2, sizeof b2));
    if (M) {
        want[1] = OG * KK;
        ok = M->rank == 4;
        for (int i = 0; ok && i < 4; i++) ok = M->dims[i] == want[i];
        EM_CHECK(c, ok, "mask must be %s ([N, offset_group*kH*kW, oH, oW]), got %s",
                 em_shape_str(4, want, b1, sizeof b1), em_shape_str(M->rank, M->dims, b2, sizeof b2));
    }
    if (B) EM_CHECK(c, B->rank == 1 && B->dims[0] == OC, "B must be [%lld], got %s", (long long)OC,
                    em_shape_str(B->rank, B->dims, b1, sizeof b1));
    int64_t odims[4] = { N, OC, oh, ow };
    em_tensor *Y = em_out(c, 0, X->dtype, 4, odims);
    if (!Y) return c->err->code ? c->err->code : EDGEML_E_NOMEM;
    if (em_numel(Y) == 0) return EDGEML_OK;
    int ct = X->dtype == EDGEML_DOUBLE ? EDGEML_DOUBLE : EDGEML_FLOAT;
    size_t esz = em_dtype_size(ct), P = (size_t)oh * (size_t)ow, ncol, colb, tapb;
    EM_CHECK(c, !__builtin_mul_overflow((size_t)C * (size_t)KK, P, &ncol) &&
                    !__builtin_mul_overflow(ncol, esz, &colb) &&
                    !__builtin_mul_overflow((size_t)KK * P, sizeof(tap), &tapb),
             "DeformConv buffers are too large");
    void *col = em_scratch(c, colb), *taps = em_scratch(c, tapb);
    if (!col || !taps) return em_fail(c, EDGEML_E_NOMEM, "out of memory");
    const void *x = as_dtype(c, X, ct), *w = as_dtype(c, W, ct), *off = as_dtype(c, O, ct);
    const void *b = B ? as_dtype(c, B, ct) : NULL, *m = M ? as_dtype(c, M, ct) : NULL;
    if (!x || !w || !off || (B && !b) || (M && !m)) return c->err->code ? c->err->code : EDGEML_E_NOMEM;
    void *y = Y->dtype == ct ? Y->data : em_scratch(c, em_numel(Y) * esz);
    if (!y) return em_fail(c, EDGEML_E_NOMEM, "out of memory");
    if (ct == EDGEML_DOUBLE)
        deform_f64(x, w, off, m, b, y, col, taps, N, C, H, Wd, OC, kh, kw, oh, ow, s);
    else
        deform_f32(x, w, off, m, b, y, col, taps, N, C, H, Wd, OC, kh, kw, oh, ow, s);
    if (y != Y->data) {
        size_t n = em_numel(Y);
        for (size_t i = 0; i < n; i++) em_set_f64(Y->data, Y->dtype, i, ((const float *)y)[i]);
    }
    return EDGEML_OK;
}
