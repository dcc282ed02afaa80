/* AveragePool, MaxPool, LpPool, Global{Average,Max,Lp}Pool, MaxUnpool, MaxRoiPool. */
#include "nn.h"
#include "../cpu/pool2d.h"
#include "../cpu/vmath.h"
#include "../pool.h"

#include <float.h>

typedef struct pool_state {
    nn_geom_attrs a;
    bool count_include_pad;
    int storage_order;
    double p;
} pool_state;

NN_PREP(pool)
{
    pool_state *s = calloc(1, sizeof *s);
    if (!s) return em_node_fail(n, err, EDGEML_E_NOMEM, "out of memory");
    edgeml_status st = nn_geom_parse(n, &s->a, err);
    if (st) { free(s); return st; }
    bool needs_k = strcmp(n->op_type, "GlobalLpPool") != 0;
    if (needs_k && s->a.nk == 0) {
        free(s);
        return em_node_fail(n, err, EDGEML_E_MODEL, "attribute kernel_shape is required");
    }
    s->count_include_pad = em_attr_int(n, "count_include_pad", 0) != 0;
    s->storage_order = (int)em_attr_int(n, "storage_order", 0);
    const em_attr *p = em_attr_get(n, "p");
    s->p = 2.0;
    if (p) s->p = p->type == EM_ATTR_FLOAT ? (double)p->f : (double)p->i;
    if (!(s->p > 0)) { free(s); return em_node_fail(n, err, EDGEML_E_MODEL, "p must be positive"); }
    n->state = s;
    return EDGEML_OK;
}

enum { POOL_AVG, POOL_MAX, POOL_LP };

/* Generic windowed pooling over planes of a [N, C, spatial...] tensor. Works
 * in double for double inputs and float otherwise (int8/uint8 values are exact). */
#define NN_DEF_POOL(T, NAME)                                                                     \
    static void NAME(int kind, const pool_state *ps, const nn_geom *g, size_t planes,           \
                     const T *x, T *y, int64_t *idx)                                             \
    {                                                                                            \
        int ns = g->ns;                                                                          \
        int64_t oo[EM_MAX_RANK], kk[EM_MAX_RANK], ip[EM_MAX_RANK];                              \
        for (size_t pl = 0; pl < planes; pl++) {                                                 \
            const T *xp = x + pl * g->in_sz;                                                     \
            for (size_t o = 0; o < g->out_sz; o++) {                                             \
                size_t q = o;                                                                    \
                for (int d = ns - 1; d >= 0; d--) { oo[d] = (int64_t)(q % (size_t)g->out[d]); q /= (size_t)g->out[d]; } \
                double cnt_pad = 1;                                                              \
                for (int d = 0; d < ns; d++) {                                                   \
                    int64_t st = oo[d] * g->s[d] - g->pb[d], c2 = 0;                             \
                    for (int64_t k = 0; k < g->k[d]; k++) {                                      \
                        int64_t i = st + k * g->d[d];                                            \
                        if (i >= -g->pb[d] && i < g->in[d] + g->pe[d]) c2++;                     \
                    }                                                                            \
                    cnt_pad *= (double)c2;                                                       \
                }                                                                                \
                T best = 0; bool have = false; int64_t bidx = 0;                                 \
                T sum = 0; size_t cnt = 0;                                                       \
                for (int d = 0; d < ns; d++) kk[d] = 0;                                          \
                for (size_t kidx = 0; kidx < g->k_sz; kidx++) {                                  \
                    bool ok = true;                                                              \
                    size_t off = 0;                                                              \
                    for (int d = 0; d < ns; d++) {                                               \
                        ip[d] = oo[d] * g->s[d] - g->pb[d] + kk[d] * g->d[d];                    \
                        if (ip[d] < 0 || ip[d] >= g->in[d]) { ok = false; break; }               \
                        off = off * (size_t)g->in[d] + (size_t)ip[d];                            \
                    }                                                                            \
                    if (ok) {                                                                    \
                        T v = xp[off];                                                           \
                        if (kind == POOL_MAX) {                                                  \
                            if (!have || v > best || (best != best && v == v)) {                 \
                                best = v; have = true;                                           \
                                if (idx) {                                                       \
                                    if (ps->storage_order == 1) {                                \
                                        int64_t s2 = 0;                                          \
                                        for (int d = ns - 1; d >= 0; d--) s2 = s2 * g->in[d] + ip[d]; \
                                        bidx = s2;                                               \
                                    } else bidx = (int64_t)off;                                  \
                                }                                                                \
                            }                                                                    \
                        } else if (kind == POOL_AVG) { sum += v; cnt++; }                        \
                        else { T av = v < 0 ? -v : v; sum += (T)pow((double)av, ps->p); cnt++; } \
                    }                                                                            \
                    for (int d = ns - 1; d >= 0; d--) { if (++kk[d] < g->k[d]) break; kk[d] = 0; } \
                }                                                                                \
                T res;                                                                           \
                if (kind == POOL_MAX) {                                                          \
                    res = have ? best : (T)-INFINITY;                                            \
                    if (idx) idx[pl * g->out_sz + o] = (int64_t)(pl * g->in_sz) + bidx;          \
                } else if (kind == POOL_AVG) {                                                   \
                    double div = ps->count_include_pad ? cnt_pad : (double)cnt;                  \
                    res = div > 0 ? (T)(sum / (T)div) : (T)NAN;                                  \
                } else res = (T)pow((double)sum, 1.0 / ps->p);                                   \
                y[pl * g->out_sz + o] = res;                                                     \
            }                                                                                    \
        }                                                                                        \
    }

NN_DEF_POOL(float, pool_f32)
NN_DEF_POOL(double, pool_f64)

/* ---- float32 fast paths: 2-D windows with precomputed bounds, planes over the pool ---- */

typedef struct poolf {
    int kind;
    const pool_state *ps;
    const nn_geom *g;
    const float *x;
    float *y;
} poolf;

static void poolf_planes(void *ctx, size_t b, size_t e)
{
    const poolf *q = ctx;
    const nn_geom *g = q->g;
    int64_t H = g->in[0], W = g->in[1], OH = g->out[0], OW = g->out[1];
    int64_t kh = g->k[0], kw = g->k[1], sh = g->s[0], sw = g->s[1], dh = g->d[0], dw = g->d[1];
    for (size_t pl = b; pl < e; pl++) {
        const float *xp = q->x + pl * (size_t)(H * W);
        float *yp = q->y + pl * (size_t)(OH * OW);
        for (int64_t oh = 0; oh < OH; oh++) {
            int64_t h0 = oh * sh - g->pb[0];
            /* rows of the window inside the input, and inside the padded extent */
            int64_t ka = 0, kb = kh, pa = 0, pbk = 0;
            while (ka < kh && h0 + ka * dh < 0) ka++;
            while (kb > ka && h0 + (kb - 1) * dh >= H) kb--;
            for (int64_t k = 0; k < kh; k++) {
                int64_t i = h0 + k * dh;
                if (i >= -g->pb[0] && i < H + g->pe[0]) pa++;
            }
            (void)pbk;
            for (int64_t ow = 0; ow < OW; ow++) {
                int64_t w0 = ow * sw - g->pb[1];
                int64_t la = 0, lb = kw, pw = 0;
                while (la < kw && w0 + la * dw < 0) la++;
                while (lb > la && w0 + (lb - 1) * dw >= W) lb--;
                if (q->kind == POOL_MAX) {
                    float best = 0;
                    bool have = false;
                    for (int64_t k = ka; k < kb; k++) {
                        const float *xr = xp + (h0 + k * dh) * W + w0;
                        for (int64_t l = la; l < lb; l++) {
                            float v = xr[l * dw];
                            if (!have || v > best || (best != best && v == v)) { best = v; have = true; }
                        }
                    }
                    yp[oh * OW + ow] = have ? best : -INFINITY;
                } else {
                    float sum = 0;
                    for (int64_t k = ka; k < kb; k++) {
                        const float *xr = xp + (h0 + k * dh) * W + w0;
                        for (int64_t l = la; l < lb; l++) sum += xr[l * dw];
                    }
                    double div;
                    if (q->ps->count_include_pad) {
                        for (int64_t l = 0; l < kw; l++) {
                            int64_t j = w0 + l * dw;
                            if (j >= -g->pb[1] && j < W + g->pe[1]) pw++;
                        }
                        div = (double)pa * (double)pw;
                    } else {
                        div = (double)((kb - ka) * (lb - la));
                    }
                    yp[oh * OW + ow] = div > 0 ? (float)(sum / (float)div) : NAN;
                }
            }
        }
    }
}

/* ---- 2-D float pooling on padded planes (cpu/pool2d.h) ---- */
typedef struct pool2d_job {
    int kind;
    em_dw_geom dg;
    const float *x, *rowc, *colc;
    float *y;
    uint8_t *ws;
    size_t slot, planes, tasks, in_sz, out_sz;
    em_maxpool_fn mx;
    em_avgpool_fn av;
} pool2d_job;

static void pool2d_tasks(void *ctx, size_t tb, size_t te)
{
    const pool2d_job *J = ctx;
    for (size_t t = tb; t < te; t++) {
        float *xp = (float *)(J->ws + t * J->slot);
        size_t b, e;
        em_task_bounds(J->planes, J->tasks, t, &b, &e);
        for (size_t i = b; i < e; i++) {
            em_dw_pad_with(&J->dg, J->x + i * J->in_sz, xp, J->kind == POOL_MAX ? NAN : 0.f);
            if (i + 1 < e) /* the next plane comes from memory while this one is computed */
                for (size_t o = 0; o < J->in_sz; o += 16) __builtin_prefetch(J->x + (i + 1) * J->in_sz + o, 0, 3);
            if (J->kind == POOL_MAX) J->mx(&J->dg, xp, J->rowc, J->colc, J->y + i * J->out_sz);
            else J->av(&J->dg, xp, J->rowc, J->colc, J->y + i * J->out_sz);
        }
    }
}

/* Cells of each window row (or column) that count: inside the input, or inside
 * the padded extent with count_include_pad. */
static void pool_counts(int64_t n_out, int64_t s, int64_t p0, int64_t k, int64_t d, int64_t in,
                        int64_t pend, bool incl, float *out)
{
    for (int64_t o = 0; o < n_out; o++) {
        int64_t cnt = 0;
        for (int64_t j = 0; j < k; j++) {
            int64_t i = o * s - p0 + j * d;
            if (incl ? (i >= -p0 && i < in + pend) : (i >= 0 && i < in)) cnt++;
        }
        out[o] = (float)cnt;
    }
}

/* True when it ran (or failed with the error set); false: not for this CPU. */
static bool pool2d_fast(em_kctx *c, int kind, const pool_state *ps, const nn_geom *g, size_t planes,
                        const float *x, float *y)
{
    pool2d_job J = {.kind = kind, .x = x, .y = y, .planes = planes};
    J.mx = em_maxpool_get();
    J.av = em_avgpool_get();
    if (!J.mx || !J.av || g->k[0] <= 0 || g->k[1] <= 0) return false;
    J.dg = (em_dw_geom){g->in[0], g->in[1], g->out[0], g->out[1], g->k[0], g->k[1], g->s[0], g->s[1],
                        g->d[0], g->d[1], g->pb[0], g->pb[1], 0, 0, 0, 0, 0, 0.f, 0.f};
#ifdef EDGEML_HAVE_X86_KERNELS
    if (J.mx == em_maxpool_plane__avx512) { /* its padded copy; stride 2 on deinterleaved rows */
        J.dg.vpad = 1;
        J.dg.deint = g->s[1] == 2 && g->d[1] == 1;
    }
#endif
    em_dw_geom_init(&J.dg);
    J.in_sz = g->in_sz;
    J.out_sz = g->out_sz;
    J.tasks = (size_t)c->threads < planes ? (size_t)c->threads : planes;
    if (J.tasks < 1) J.tasks = 1;
    J.slot = ((size_t)(J.dg.HP * J.dg.WP) * sizeof(float) + 63) / 64 * 64;
    J.ws = em_scratch(c, J.tasks * J.slot + 64);
    float *cnt = em_scratch(c, (size_t)(g->out[0] + g->out[1] + 2) * sizeof(float));
    if (!J.ws || !cnt) return true;
    J.ws = (uint8_t *)(((uintptr_t)J.ws + 63) & ~(uintptr_t)63);
    bool incl = kind == POOL_AVG && ps->count_include_pad; /* max: input cells only */
    pool_counts(g->out[0], g->s[0], g->pb[0], g->k[0], g->d[0], g->in[0], g->pe[0], incl, cnt);
    pool_counts(g->out[1], g->s[1], g->pb[1], g->k[1], g->d[1], g->in[1], g->pe[1], incl, cnt + g->out[0]);
    J.rowc = cnt;
    J.colc = cnt + g->out[0];
    if (J.tasks <= 1) pool2d_tasks(&J, 0, 1);
    else em_parallel_for(c->pool, c->threads, J.tasks, 1, pool2d_tasks, &J);
    return true;
}

static edgeml_status pool_run(em_kctx *c, int kind)
{
    const pool_state *ps = c->node->state;
    const em_tensor *X = em_in(c, 0);
    EM_CHECK(c, X, "missing input X");
    bool int_ok = kind == POOL_MAX && (X->dtype == EDGEML_INT8 || X->dtype == EDGEML_UINT8);
    EM_CHECK(c, nn_is_fp(X->dtype) || int_ok, "unsupported dtype %s", em_dtype_name(X->dtype));
    EM_CHECK(c, X->rank >= 3, "X must have rank >= 3, got %d", X->rank);
    int ns = X->rank - 2;
    nn_geom g;
    edgeml_status st = nn_geom_resolve(c, &ps->a, ns, X->dims + 2, NULL, &g);
    if (st) return st;
    int64_t odims[EM_MAX_RANK];
    odims[0] = X->dims[0];
    odims[1] = X->dims[1];
    for (int i = 0; i < ns; i++) odims[2 + i] = g.out[i];
    em_tensor *Y = em_out(c, 0, X->dtype, X->rank, odims);
    if (!Y) return c->err->code ? c->err->code : EDGEML_E_NOMEM;
    int64_t *idx = NULL;
    if (kind == POOL_MAX && em_n_out(c) > 1 && em_out_wanted(c, 1)) {
        EM_CHECK(c, ps->storage_order == 0 || ps->storage_order == 1, "invalid storage_order");
        em_tensor *I = em_out(c, 1, EDGEML_INT64, X->rank, odims);
        if (!I) return c->err->code ? c->err->code : EDGEML_E_NOMEM;
        idx = I->data;
    }
    size_t planes = (size_t)X->dims[0] * (size_t)X->dims[1];
    if (em_numel(Y) == 0) return EDGEML_OK;
    if (X->dtype == EDGEML_DOUBLE) {
        pool_f64(kind, ps, &g, planes, X->data, Y->data, idx);
        return EDGEML_OK;
    }
    if (X->dtype == EDGEML_FLOAT && ns == 2 && kind != POOL_LP && !idx && pool2d_fast(c, kind, ps, &g, planes, X->data, Y->data))
        return c->err && c->err->code ? c->err->code : EDGEML_OK;
    if (X->dtype == EDGEML_FLOAT && ns == 2 && kind != POOL_LP && !idx && em_vmath_fast()) {
        poolf q = {kind, ps, &g, X->data, Y->data};
        em_parallel_for(c->pool, c->threads, planes, 1 + 4096 / (g.out_sz * g.k_sz + 1), poolf_planes, &q);
        return EDGEML_OK;
    }
    const float *x = nn_as_f32(c, X);
    float *y = nn_out_f32(c, Y);
    if (!x || !y) return EDGEML_E_NOMEM;
    pool_f32(kind, ps, &g, planes, x, y, idx);
    nn_store_f32(Y, y);
    return EDGEML_OK;
}

NN_OP(avgpool) { return pool_run(c, POOL_AVG); }
NN_OP(maxpool) { return pool_run(c, POOL_MAX); }
NN_OP(lppool) { return pool_run(c, POOL_LP); }

typedef struct gpoolf {
    int kind;
    const float *x;
    float *y;
    size_t S;
} gpoolf;

static void gpoolf_planes(void *ctx, size_t b, size_t e)
{
    const gpoolf *q = ctx;
    const em_vmath *vm = em_vmath_get();
    for (size_t pl = b; pl < e; pl++) {
        const float *r = q->x + pl * q->S;
        if (q->kind == POOL_MAX) q->y[pl] = vm->max(r, q->S);
        else q->y[pl] = (float)((double)vm->sum(r, q->S) / (double)q->S);
    }
}

static edgeml_status gpool_run(em_kctx *c, int kind)
{
    const em_tensor *X = em_in(c, 0);
    EM_CHECK(c, X, "missing input X");
    EM_CHECK(c, nn_is_fp(X->dtype), "unsupported dtype %s", em_dtype_name(X->dtype));
    EM_CHECK(c, X->rank >= 2, "X must have rank >= 2, got %d", X->rank);
    double p = 2.0;
    if (kind == POOL_LP) {
        const pool_state *ps = c->node->state;
        if (ps) p = ps->p;
    }
    int64_t odims[EM_MAX_RANK];
    size_t S = 1;
    for (int i = 0; i < X->rank; i++) {
        odims[i] = i < 2 ? X->dims[i] : 1;
        if (i >= 2) S *= (size_t)X->dims[i];
    }
    em_tensor *Y = em_out(c, 0, X->dtype, X->rank, odims);
    if (!Y) return c->err->code ? c->err->code : EDGEML_E_NOMEM;
    size_t planes = (size_t)X->dims[0] * (size_t)X->dims[1];
    if (!planes) return EDGEML_OK;
    if (X->dtype == EDGEML_DOUBLE) {
        const double *x = X->data;
        double *y = Y->data;
        for (size_t pl = 0; pl < planes; pl++) {
            const double *r = x + pl * S;
            double acc = kind == POOL_MAX ? -INFINITY : 0.0;
            for (size_t i = 0; i < S; i++) {
                if (kind == POOL_MAX) { if (r[i] > acc || r[i] != r[i]) acc = r[i]; if (acc != acc) break; }
                else if (kind == POOL_AVG) acc += r[i];
                else acc += pow(fabs(r[i]), p);
            }
            y[pl] = kind == POOL_AVG ? (S ? acc / (double)S : NAN) : kind == POOL_LP ? pow(acc, 1.0 / p) : acc;
        }
        return EDGEML_OK;
    }
    if (X->dtype == EDGEML_FLOAT && kind != POOL_LP && S > 0 && em_vmath_fast()) {
        gpoolf q = {kind, X->data, Y->data, S};
        em_parallel_for(c->pool, c->threads, planes, 1 + 16384 / S, gpoolf_planes, &q);
        return EDGEML_OK;
    }
    const float *x = nn_as_f32(c, X);
    float *y = nn_out_f32(c, Y);
    if (!x || !y) return EDGEML_E_NOMEM;
    for (size_t pl = 0; pl < planes; pl++) {
        const float *r = x + pl * S;
        if (kind == POOL_MAX) {
            float acc = -INFINITY;
            bool nan = false;
            for (size_t i = 0; i < S; i++) { if (r[i] > acc) acc = r[i]; else if (r[i] != r[i]) nan = true; }
            y[pl] = nan ? NAN : acc;
        } else if (kind == POOL_AVG) {
            double acc = 0.0;
            for (size_t i = 0; i < S; i++) acc += r[i];
            y[pl] = S ? (float)(acc / (double)S) : NAN;
        } else {
            double acc = 0.0;
            for (size_t i = 0; i < S; i++) acc += pow(fabs((double)r[i]), p);
            y[pl] = (float)pow(acc, 1.0 / p);
        }
    }
    nn_store_f32(Y, y);
    return EDGEML_OK;
}

NN_OP(gavgpool) { return gpool_run(c, POOL_AVG); }
NN_OP(gmaxpool) { return gpool_run(c, POOL_MAX); }
NN_OP(glppool) { return gpool_run(c, POOL_LP); }

NN_OP(maxunpool)
{
    const pool_state *ps = c->node->state;
    const nn_geom_attrs *a = &ps->a;
    const em_tensor *X = em_in(c, 0), *I = em_in(c, 1);
    const em_tensor *OS = em_n_in(c) > 2 ? em_in(c, 2) : NULL;
    EM_CHECK(c, X && I, "missing input X or I");
    EM_CHECK(c, nn_is_fp(X->dtype), "unsupported dtype %s", em_dtype_name(X->dtype));
    EM_CHECK(c, I->dtype == EDGEML_INT64, "I must be int64");
    EM_CHECK(c, X->rank >= 3, "X must have rank >= 3");
    EM_CHECK(c, em_same_shape(X, I), "I must have the shape of X");
    int ns = X->rank - 2;
    EM_CHECK(c, a->nk == ns, "kernel_shape must have %d values", ns);
    EM_CHECK(c, a->np < 0 || a->np == 2 * ns, "pads must have %d values", 2 * ns);
    EM_CHECK(c, a->nsd < 0 || a->nsd == ns, "strides must have %d values", ns);
    /* indices refer to the inferred (default) output shape; an explicit
     * output_shape places each element at the same coordinates */
    int64_t odims[EM_MAX_RANK], idims[EM_MAX_RANK];
    idims[0] = X->dims[0];
    idims[1] = X->dims[1];
    for (int i = 0; i < ns; i++) {
        int64_t s = a->nsd >= 0 ? a->strides[i] : 1;
        int64_t pb = a->np >= 0 ? a->pads[i] : 0, pe = a->np >= 0 ? a->pads[i + ns] : 0;
        idims[2 + i] = (X->dims[2 + i] - 1) * s + a->kernel[i] - pb - pe;
        EM_CHECK(c, idims[2 + i] >= 0, "computed output dim is negative");
    }
    memcpy(odims, idims, sizeof odims);
    if (OS) {
        EM_CHECK(c, OS->dtype == EDGEML_INT64 && OS->rank == 1 && OS->dims[0] == X->rank,
                 "output_shape must be int64 1-D of %d values", X->rank);
        for (int i = 0; i < X->rank; i++) {
            odims[i] = ((const int64_t *)OS->data)[i];
            EM_CHECK(c, odims[i] >= 0, "negative output_shape");
        }
    }
    size_t ni;
    if (!em_shape_numel(X->rank, idims, &ni)) return em_fail(c, EDGEML_E_NOMEM, "size overflows");
    bool same = memcmp(odims, idims, sizeof(int64_t) * (size_t)X->rank) == 0;
    em_tensor *Y = em_out(c, 0, X->dtype, X->rank, odims);
    if (!Y) return c->err->code ? c->err->code : EDGEML_E_NOMEM;
    size_t ny = em_numel(Y), nx = em_numel(X), es = em_dtype_size(X->dtype);
    if (ny) memset(Y->data, 0, ny * es);
    const int64_t *ix = I->data;
    for (size_t i = 0; i < nx; i++) {
        EM_CHECK(c, ix[i] >= 0 && (uint64_t)ix[i] < ni, "index %lld out of range [0, %zu)",
                 (long long)ix[i], ni);
        size_t dst = (size_t)ix[i];
        if (!same) {
            size_t q = dst, mul = 1;
            dst = 0;
            for (int d = X->rank - 1; d >= 0; d--) {
                int64_t co = (int64_t)(q % (size_t)idims[d]);
                q /= (size_t)idims[d];
                EM_CHECK(c, co < odims[d], "index %lld does not fit output_shape", (long long)ix[i]);
                dst += (size_t)co * mul;
                mul *= (size_t)odims[d];
            }
        }
        memcpy((char *)Y->data + dst * es, (const char *)X->data + i * es, es);
    }
    return EDGEML_OK;
}

NN_OP(maxroipool)
{
    const em_tensor *X = em_in(c, 0), *R = em_in(c, 1);
    EM_CHECK(c, X && R, "missing input X or rois");
    EM_CHECK(c, nn_is_fp(X->dtype), "unsupported dtype %s", em_dtype_name(X->dtype));
    EM_CHECK(c, R->dtype == X->dtype, "rois dtype differs from X");
    EM_CHECK(c, X->rank == 4, "X must be 4-D");
    EM_CHECK(c, R->rank == 2 && R->dims[1] == 5, "rois must have shape [num_rois, 5]");
    const int64_t *ps;
    long np = em_attr_ints(c->node, "pooled_shape", &ps);
    EM_CHECK(c, np == 2 && ps[0] > 0 && ps[1] > 0, "pooled_shape must be 2 positive values");
    double scale = em_attr_float(c->node, "spatial_scale", 1.0f);
    int64_t N = X->dims[0], C = X->dims[1], H = X->dims[2], W = X->dims[3];
    int64_t nr = R->dims[0], PH = ps[0], PW = ps[1];
    int64_t odims[4] = {nr, C, PH, PW};
    em_tensor *Y = em_out(c, 0, X->dtype, 4, odims);
    if (!Y) return c->err->code ? c->err->code : EDGEML_E_NOMEM;
    size_t oi = 0;
    for (int64_t r = 0; r < nr; r++) {
        double bd = em_get_f64(R->data, R->dtype, (size_t)r * 5);
        EM_CHECK(c, bd >= 0 && bd < (double)N && bd == floor(bd), "roi %lld has invalid batch index %g",
                 (long long)r, bd);
        int64_t b = (int64_t)bd;
        for (int k = 1; k < 5; k++) {
            double v = em_get_f64(R->data, R->dtype, (size_t)r * 5 + (size_t)k) * scale;
            EM_CHECK(c, isfinite(v) && fabs(v) < 1e9, "roi %lld has an invalid coordinate", (long long)r);
        }
        int64_t x1 = (int64_t)llround(em_get_f64(R->data, R->dtype, (size_t)r * 5 + 1) * scale);
        int64_t y1 = (int64_t)llround(em_get_f64(R->data, R->dtype, (size_t)r * 5 + 2) * scale);
        int64_t x2 = (int64_t)llround(em_get_f64(R->data, R->dtype, (size_t)r * 5 + 3) * scale);
        int64_t y2 = (int64_t)llround(em_get_f64(R->data, R->dtype, (size_t)r * 5 + 4) * scale);
        int64_t rh = y2 - y1 + 1, rw = x2 - x1 + 1;
        if (rh < 1) rh = 1;
        if (rw < 1) rw = 1;
        double bh = (double)rh / (double)PH, bw = (double)rw / (double)PW;
        for (int64_t ch = 0; ch < C; ch++) {
            size_t base = ((size_t)b * (size_t)C + (size_t)ch) * (size_t)(H * W);
            for (int64_t ph = 0; ph < PH; ph++)
                for (int64_t pw = 0; pw < PW; pw++) {
                    int64_t hs = (int64_t)floor((double)ph * bh) + y1, he = (int64_t)ceil((double)(ph + 1) * bh) + y1;
                    int64_t ws = (int64_t)floor((double)pw * bw) + x1, we = (int64_t)ceil((double)(pw + 1) * bw) + x1;
                    if (hs < 0) hs = 0;
                    if (hs > H) hs = H;
                    if (he < 0) he = 0;
                    if (he > H) he = H;
                    if (ws < 0) ws = 0;
                    if (ws > W) ws = W;
                    if (we < 0) we = 0;
                    if (we > W) we = W;
                    double m = -INFINITY;
                    bool any = false;
                    for (int64_t h = hs; h < he; h++)
                        for (int64_t w = ws; w < we; w++) {
                            double v = em_get_f64(X->data, X->dtype, base + (size_t)(h * W + w));
                            if (!any || v > m) m = v;
                            any = true;
                        }
                    em_set_f64(Y->data, Y->dtype, oi++, any ? m : 0.0);
                }
        }
    }
    return EDGEML_OK;
}
