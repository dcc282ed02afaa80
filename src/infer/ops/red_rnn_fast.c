/* RNN, GRU and LSTM: the float32 fast path (issue 10).
 *
 * prepare packs W^T and R^T of every direction once, in the GEMM engine's
 * B-panel layout (cpu/gemm.h); reshape checks the input shapes and sizes the
 * workspace; run computes:
 *   - the input projection of all time steps as one GEMM, X[T*B, I] W^T with
 *     the summed biases as the column bias of the epilogue;
 *   - per step, the recurrent product H[B, H] R^T: on the engine when the batch
 *     fills its microkernel's rows, else a register-blocked GEMV over the same
 *     packed panels (AVX-512 / AVX2+FMA variants, portable C otherwise);
 *   - the gates with the vectorised activations (em_act_apply: vmath).
 * Both directions, sequence_lens, initial states, peepholes, input_forget,
 * linear_before_reset, layout 0/1 and every output. Activations other than
 * Sigmoid/Tanh/Relu/HardSigmoid/LeakyRelu, clip, other dtypes and
 * EDGEML_CPU=reference run the reference kernel (red_rnn.c).
 *
 * Results do not depend on the thread count: each output element is summed by
 * one thread in a fixed order. */
#include "red_rnn.h"
#include "../cpu/gemm.h"
#include "../pool.h"

#include <stdlib.h>
#if defined(EDGEML_HAVE_X86_KERNELS) && defined(__GNUC__)
#include <immintrin.h>
#define RNN_X86 1
#endif

typedef struct rnn_fast {
    const em_sgemm_kernel *k;
    size_t H, I, GH;
    size_t nrec;            /* columns of the first recurrent product (GRU: 2H) */
    float *wp[2];           /* W^T packed: K = I, N = GH */
    float *rp[2];           /* R^T packed: K = H, N = nrec */
    float *rhp[2];          /* GRU: R_h^T packed: K = H, N = H */
    em_act act[2][3];
} rnn_fast;

static void fast_free(rnn_fast *f)
{
    if (!f) return;
    for (int d = 0; d < 2; d++) { free(f->wp[d]); free(f->rp[d]); free(f->rhp[d]); }
    free(f);
}

void red_rnn_free(void *state)
{
    red_rnn_state *s = state;
    if (!s) return;
    fast_free(s->fast);
    free(s);
}

static bool map_act(const red_act *a, em_act *o)
{
    *o = (em_act){EM_ACT_NONE, a->alpha, a->beta};
    switch (a->type) {
    case ACT_SIGMOID: o->kind = EM_ACT_SIGMOID; return true;
    case ACT_TANH: o->kind = EM_ACT_TANH; return true;
    case ACT_RELU: o->kind = EM_ACT_RELU; return true;
    case ACT_HARDSIGMOID: o->kind = EM_ACT_HARDSIGMOID; return true;
    case ACT_LEAKYRELU: o->kind = EM_ACT_LEAKY; return true;
    default: return false;
    }
}

static float *pack(const em_sgemm_kernel *k, size_t K, size_t N, const float *B, size_t ldb)
{
    size_t sz = em_sgemm_packed_b_size(k, K, N);
    float *p = aligned_alloc(64, ((sz ? sz : 1) * sizeof(float) + 63) / 64 * 64);
    if (p) em_sgemm_pack_b(k, K, N, B, ldb, true, p);
    return p;
}

edgeml_status red_rnn_prepare(em_node *node, edgeml_error *err)
{
    edgeml_status st = red_rnn_ref_prepare(node, err);
    if (st) return st;
    red_rnn_state *s = node->state;
    if (em_cpu_level_get() == EM_CPU_REFERENCE || s->has_clip) return EDGEML_OK;
    const em_tensor *W = em_node_const_input(node, 1), *R = em_node_const_input(node, 2);
    if (!W || !R || W->dtype != EDGEML_FLOAT || R->dtype != EDGEML_FLOAT || W->rank != 3 ||
        R->rank != 3)
        return EDGEML_OK;
    int64_t H = s->H ? s->H : R->dims[2], D = s->dirs, G = s->G;
    if (H <= 0 || W->dims[0] != D || R->dims[0] != D || W->dims[1] != G * H || R->dims[1] != G * H ||
        R->dims[2] != H || W->dims[2] <= 0)
        return EDGEML_OK;
    rnn_fast *f = calloc(1, sizeof *f);
    if (!f) return em_node_fail(node, err, EDGEML_E_NOMEM, "out of memory");
    for (int d = 0; d < D; d++)
        for (int i = 0; i < s->NA; i++)
            if (!map_act(&s->act[d * s->NA + i], &f->act[d][i])) { free(f); return EDGEML_OK; }
    f->k = em_sgemm_kernel_get();
    f->H = (size_t)H;
    f->I = (size_t)W->dims[2];
    f->GH = (size_t)(G * H);
    f->nrec = s->cell == CELL_GRU ? 2 * f->H : f->GH;
    for (int64_t d = 0; d < D; d++) {
        const float *Wd = (const float *)W->data + (size_t)d * f->GH * f->I;
        const float *Rd = (const float *)R->data + (size_t)d * f->GH * f->H;
        f->wp[d] = pack(f->k, f->I, f->GH, Wd, f->I);
        f->rp[d] = pack(f->k, f->H, f->nrec, Rd, f->H);
        if (s->cell == CELL_GRU) f->rhp[d] = pack(f->k, f->H, f->H, Rd + 2 * f->H * f->H, f->H);
        if (!f->wp[d] || !f->rp[d] || (s->cell == CELL_GRU && !f->rhp[d])) {
            fast_free(f);
            return em_node_fail(node, err, EDGEML_E_NOMEM, "out of memory packing weights");
        }
    }
    s->fast = f;
    return EDGEML_OK;
}

/* ---- the recurrent product: out[rows x N] = h[rows x K] * packed ------------------ */

/* Batches from half the microkernel's rows (at least this many) go to the engine;
 * fewer rows waste most of its tile: the GEMV reads the same panels. */
#define RNN_ENGINE_ROWS 4

typedef struct gemv_job {
    const float *h;         /* rows x K */
    const float *bp;        /* packed B: K blocks of kc rows, panels of nr columns */
    float *out;             /* rows x N */
    size_t rows, K, N, nr, kc;
} gemv_job;

/* Panels [p0, p1) of one row, portable C. */
static void gemv_c(const gemv_job *j, const float *h, float *out, size_t p0, size_t p1)
{
    size_t nr = j->nr, Np = (j->N + nr - 1) / nr * nr;
    float acc[64];
    for (size_t p = p0; p < p1; p++) {
        for (size_t l = 0; l < nr; l++) acc[l] = 0.f;
        for (size_t pc = 0; pc < j->K; pc += j->kc) {
            size_t kcb = j->K - pc < j->kc ? j->K - pc : j->kc;
            const float *b = j->bp + pc * Np + p * kcb * nr;
            for (size_t k = 0; k < kcb; k++) {
                float hv = h[pc + k];
                for (size_t l = 0; l < nr; l++) acc[l] += hv * b[k * nr + l];
            }
        }
        size_t n0 = p * nr, cols = j->N - n0 < nr ? j->N - n0 : nr;
        memcpy(out + n0, acc, cols * sizeof(float));
    }
}

#ifdef RNN_X86
/* nr = 32: four panels (8 zmm accumulators) at a time. */
__attribute__((target("avx512f,fma"))) static void gemv_avx512(const gemv_job *j, const float *h,
                                                                float *out, size_t p0, size_t p1)
{
    size_t Np = (j->N + 31) / 32 * 32;
    for (size_t p = p0; p < p1; p += 4) {
        size_t np = p1 - p < 4 ? p1 - p : 4;
        __m512 a[8];
        for (int i = 0; i < 8; i++) a[i] = _mm512_setzero_ps();
        for (size_t pc = 0; pc < j->K; pc += j->kc) {
            size_t kcb = j->K - pc < j->kc ? j->K - pc : j->kc;
            const float *b = j->bp + pc * Np + p * kcb * 32;
            size_t ps = kcb * 32;
            if (np == 4) {
                for (size_t k = 0; k < kcb; k++) {
                    __m512 hv = _mm512_set1_ps(h[pc + k]);
                    const float *q = b + k * 32;
                    a[0] = _mm512_fmadd_ps(hv, _mm512_loadu_ps(q), a[0]);
                    a[1] = _mm512_fmadd_ps(hv, _mm512_loadu_ps(q + 16), a[1]);
                    a[2] = _mm512_fmadd_ps(hv, _mm512_loadu_ps(q + ps), a[2]);
                    a[3] = _mm512_fmadd_ps(hv, _mm512_loadu_ps(q + ps + 16), a[3]);
                    a[4] = _mm512_fmadd_ps(hv, _mm512_loadu_ps(q + 2 * ps), a[4]);
                    a[5] = _mm512_fmadd_ps(hv, _mm512_loadu_ps(q + 2 * ps + 16), a[5]);
                    a[6] = _mm512_fmadd_ps(hv, _mm512_loadu_ps(q + 3 * ps), a[6]);
                    a[7] = _mm512_fmadd_ps(hv, _mm512_loadu_ps(q + 3 * ps + 16), a[7]);
                }
            } else {
                for (size_t k = 0; k < kcb; k++) {
                    __m512 hv = _mm512_set1_ps(h[pc + k]);
                    for (size_t i = 0; i < np; i++) {
                        const float *q = b + i * ps + k * 32;
                        a[2 * i] = _mm512_fmadd_ps(hv, _mm512_loadu_ps(q), a[2 * i]);
                        a[2 * i + 1] = _mm512_fmadd_ps(hv, _mm512_loadu_ps(q + 16), a[2 * i + 1]);
                    }
                }
            }
        }
        for (size_t i = 0; i < np; i++) {
            size_t n0 = (p + i) * 32;
            if (n0 + 32 <= j->N) {
                _mm512_storeu_ps(out + n0, a[2 * i]);
                _mm512_storeu_ps(out + n0 + 16, a[2 * i + 1]);
            } else {
                float t[32];
                _mm512_storeu_ps(t, a[2 * i]);
                _mm512_storeu_ps(t + 16, a[2 * i + 1]);
                memcpy(out + n0, t, (j->N - n0) * sizeof(float));
            }
        }
    }
}

/* nr = 16: four panels (8 ymm accumulators) at a time. */
__attribute__((target("avx2,fma"))) static void gemv_avx2(const gemv_job *j, const float *h,
                                                          float *out, size_t p0, size_t p1)
{
    size_t Np = (j->N + 15) / 16 * 16;
    for (size_t p = p0; p < p1; p += 4) {
        size_t np = p1 - p < 4 ? p1 - p : 4;
        __m256 a[8];
        for (int i = 0; i < 8; i++) a[i] = _mm256_setzero_ps();
        for (size_t pc = 0; pc < j->K; pc += j->kc) {
            size_t kcb = j->K - pc < j->kc ? j->K - pc : j->kc;
            const float *b = j->bp + pc * Np + p * kcb * 16;
            size_t ps = kcb * 16;
            for (size_t k = 0; k < kcb; k++) {
                __m256 hv = _mm256_set1_ps(h[pc + k]);
                for (size_t i = 0; i < np; i++) {
                    const float *q = b + i * ps + k * 16;
                    a[2 * i] = _mm256_fmadd_ps(hv, _mm256_loadu_ps(q), a[2 * i]);
                    a[2 * i + 1] = _mm256_fmadd_ps(hv, _mm256_loadu_ps(q + 8), a[2 * i + 1]);
                }
            }
        }
        for (size_t i = 0; i < np; i++) {
            size_t n0 = (p + i) * 16;
            float t[16];
            _mm256_storeu_ps(t, a[2 * i]);
            _mm256_storeu_ps(t + 8, a[2 * i + 1]);
            memcpy(out + n0, t, (j->N - n0 < 16 ? j->N - n0 : 16) * sizeof(float));
        }
    }
}
#endif

typedef void (*gemv_fn)(const gemv_job *, const float *, float *, size_t, size_t);

static gemv_fn gemv_pick(const em_sgemm_kernel *k)
{
#ifdef RNN_X86
    if (k->nr == 32 && (k->level == EM_CPU_AVX512 || k->level == EM_CPU_AVX512VNNI)) return gemv_avx512;
    if (k->nr == 16 && k->level == EM_CPU_AVX2) return gemv_avx2;
#endif
    return k->nr <= 64 ? gemv_c : NULL;
}

typedef struct gemv_par { const gemv_job *j; gemv_fn fn; size_t np; } gemv_par;

/* Chunks of 4 panels over all rows: [b, e) indexes (row, chunk) pairs. */
static void gemv_range(void *ctx, size_t b, size_t e)
{
    const gemv_par *g = ctx;
    size_t nch = (g->np + 3) / 4;
    for (size_t t = b; t < e; t++) {
        size_t r = t / nch, ch = t % nch;
        size_t p0 = ch * 4, p1 = p0 + 4 < g->np ? p0 + 4 : g->np;
        g->fn(g->j, g->j->h + r * g->j->K, g->j->out + r * g->j->N, p0, p1);
    }
}

static void rec_product(em_kctx *c, const rnn_fast *f, const float *bp, size_t N, const float *h,
                        size_t rows, float *out, void *ws)
{
    const em_sgemm_kernel *k = f->k;
    gemv_fn fn = gemv_pick(k);
    if (rows >= (size_t)(k->mr > RNN_ENGINE_ROWS ? k->mr / 2 : RNN_ENGINE_ROWS) || !fn) {
        em_sgemm_args g = {.M = rows, .N = N, .K = f->H, .A = h, .lda = f->H, .alpha = 1.f,
                           .b_packed = bp, .C = out, .ldc = N};
        em_sgemm(k, &g, ws, c->pool, c->threads);
        return;
    }
    gemv_job j = {h, bp, out, rows, f->H, N, (size_t)k->nr, k->kc};
    gemv_par g = {&j, fn, (N + j.nr - 1) / j.nr};
    size_t tasks = rows * ((g.np + 3) / 4);
    /* A wake-up costs a few microseconds: threads only from ~1M multiply-adds. */
    int th = rows * N * f->H >= ((size_t)1 << 20) ? c->threads : 1;
    if (th > 1 && tasks > 1) em_parallel_for(c->pool, th, tasks, 1, gemv_range, &g);
    else gemv_range(&g, 0, tasks);
}

/* ---- reshape ---------------------------------------------------------------------- */

typedef struct rnn_rs {
    size_t T, B;
    size_t o_xw, o_hr, o_hh, o_h, o_c, o_bias, o_rh, o_gemm;   /* float offsets in ws */
} rnn_rs;

static bool is_f32_shape(const em_tensor *t, int rank, const int64_t *dims)
{
    if (!t || t->dtype != EDGEML_FLOAT || t->rank != rank) return false;
    for (int i = 0; i < rank; i++)
        if (t->dims[i] != dims[i]) return false;
    return true;
}

static size_t r16(size_t n) { return (n + 15) / 16 * 16; }

edgeml_status red_rnn_reshape(em_kctx *c, void **out, size_t *ws)
{
    const red_rnn_state *s = c->node->state;
    const rnn_fast *f = s->fast;
    *ws = 0;
    if (!f || em_cpu_level_get() == EM_CPU_REFERENCE) return EDGEML_OK;
    int nin = em_n_in(c);
    const em_tensor *X = em_in(c, 0), *W = em_in(c, 1), *R = em_in(c, 2);
    const em_tensor *B = nin > 3 ? em_in(c, 3) : NULL;
    const em_tensor *SL = nin > 4 ? em_in(c, 4) : NULL;
    const em_tensor *H0 = nin > 5 ? em_in(c, 5) : NULL;
    const em_tensor *C0 = (s->cell == CELL_LSTM && nin > 6) ? em_in(c, 6) : NULL;
    const em_tensor *P = (s->cell == CELL_LSTM && nin > 7) ? em_in(c, 7) : NULL;
    if (!X || !W || !R || X->dtype != EDGEML_FLOAT || X->rank != 3 || (size_t)X->dims[2] != f->I)
        return EDGEML_OK;
    int64_t D = s->dirs, H = (int64_t)f->H, GH = (int64_t)f->GH;
    int64_t T = s->layout ? X->dims[1] : X->dims[0], Bt = s->layout ? X->dims[0] : X->dims[1];
    int64_t bd[2] = {D, 2 * GH}, pd[2] = {D, 3 * H};
    int64_t hd[3] = {s->layout ? Bt : D, s->layout ? D : Bt, H};
    if (B && !is_f32_shape(B, 2, bd)) return EDGEML_OK;
    if (P && !is_f32_shape(P, 2, pd)) return EDGEML_OK;
    if (H0 && !is_f32_shape(H0, 3, hd)) return EDGEML_OK;
    if (C0 && !is_f32_shape(C0, 3, hd)) return EDGEML_OK;
    if (SL && (!(SL->dtype == EDGEML_INT32 || SL->dtype == EDGEML_INT64) || SL->rank != 1 ||
               SL->dims[0] != Bt))
        return EDGEML_OK;
    size_t sT = (size_t)T, sB = (size_t)Bt, nxw;
    int64_t xwd[3] = {T, Bt, GH};
    if (!em_shape_numel(3, xwd, &nxw) || nxw > SIZE_MAX / 64) return EDGEML_OK;
    rnn_rs r = {.T = sT, .B = sB};
    size_t o = 0;
    r.o_xw = o; o += r16(nxw);
    r.o_hr = o; o += r16(sB * f->GH);
    r.o_hh = o; o += r16(sB * f->H);
    r.o_h = o; o += r16(sB * f->H);
    r.o_c = o; o += r16(sB * f->H);
    r.o_bias = o; o += r16(f->GH);
    r.o_rh = o; o += r16(sB * f->H);
    r.o_gemm = o;
    em_sgemm_args a1 = {.M = sT * sB, .N = f->GH, .K = f->I, .b_packed = f->wp[0]};
    em_sgemm_args a2 = {.M = sB, .N = f->nrec, .K = f->H, .b_packed = f->rp[0]};
    em_sgemm_args a3 = {.M = sB, .N = f->H, .K = f->H, .b_packed = f->rp[0]};
    size_t g1 = em_sgemm_workspace(f->k, &a1, c->threads), g2 = em_sgemm_workspace(f->k, &a2, c->threads);
    size_t g3 = em_sgemm_workspace(f->k, &a3, c->threads);
    if (g2 > g1) g1 = g2;
    if (g3 > g1) g1 = g3;
    *ws = o * sizeof(float) + g1 + 64;
    rnn_rs *p = malloc(sizeof *p);
    if (!p) return em_fail(c, EDGEML_E_NOMEM, "out of memory");
    *p = r;
    *out = p;
    return EDGEML_OK;
}

/* ---- run -------------------------------------------------------------------------- */

static inline void vadd(float *y, const float *x, size_t n)
{
    for (size_t i = 0; i < n; i++) y[i] += x[i];
}

static edgeml_status fast_run(em_kctx *c, const rnn_rs *r)
{
    const red_rnn_state *s = c->node->state;
    const rnn_fast *f = s->fast;
    int nin = em_n_in(c);
    const em_tensor *X = em_in(c, 0);
    const em_tensor *Bi = nin > 3 ? em_in(c, 3) : NULL;
    const em_tensor *SL = nin > 4 ? em_in(c, 4) : NULL;
    const em_tensor *H0 = nin > 5 ? em_in(c, 5) : NULL;
    const em_tensor *C0 = (s->cell == CELL_LSTM && nin > 6) ? em_in(c, 6) : NULL;
    const em_tensor *P = (s->cell == CELL_LSTM && nin > 7) ? em_in(c, 7) : NULL;
    size_t T = r->T, B = r->B, H = f->H, GH = f->GH, D = (size_t)s->dirs;
    bool lay = s->layout != 0;
    int64_t *len = em_scratch(c, (B ? B : 1) * sizeof(int64_t));
    if (!len) return EDGEML_E_NOMEM;
    for (size_t b = 0; b < B; b++) {
        len[b] = SL ? em_get_i64(SL->data, SL->dtype, b) : (int64_t)T;
        if (len[b] < 0 || len[b] > (int64_t)T) return red_rnn_ref_run(c); /* it reports */
    }
    int64_t yd[4], hd[3];
    if (lay) { yd[0] = (int64_t)B; yd[1] = (int64_t)T; yd[2] = (int64_t)D; yd[3] = (int64_t)H; }
    else { yd[0] = (int64_t)T; yd[1] = (int64_t)D; yd[2] = (int64_t)B; yd[3] = (int64_t)H; }
    if (lay) { hd[0] = (int64_t)B; hd[1] = (int64_t)D; hd[2] = (int64_t)H; }
    else { hd[0] = (int64_t)D; hd[1] = (int64_t)B; hd[2] = (int64_t)H; }
    em_tensor *Y = NULL, *Yh = NULL, *Yc = NULL;
    if (em_n_out(c) > 0 && em_out_wanted(c, 0) && !(Y = em_out(c, 0, EDGEML_FLOAT, 4, yd)))
        return c->err->code ? c->err->code : EDGEML_E_NOMEM;
    if (em_n_out(c) > 1 && em_out_wanted(c, 1) && !(Yh = em_out(c, 1, EDGEML_FLOAT, 3, hd)))
        return c->err->code ? c->err->code : EDGEML_E_NOMEM;
    if (s->cell == CELL_LSTM && em_n_out(c) > 2 && em_out_wanted(c, 2) &&
        !(Yc = em_out(c, 2, EDGEML_FLOAT, 3, hd)))
        return c->err->code ? c->err->code : EDGEML_E_NOMEM;
    float *ws = (float *)(((uintptr_t)c->ws + 63) & ~(uintptr_t)63);
    float *xw = ws + r->o_xw, *hr = ws + r->o_hr, *hh = ws + r->o_hh, *hs = ws + r->o_h;
    float *cs = ws + r->o_c, *bias = ws + r->o_bias, *rh = ws + r->o_rh;
    void *gws = ws + r->o_gemm;
    float *y = Y ? Y->data : NULL;
    bool partial = false;
    for (size_t b = 0; b < B; b++) partial |= len[b] != (int64_t)T;
    if (y && partial && em_numel(Y)) memset(y, 0, em_nbytes(Y));
    const float *x = X->data;
    size_t nrec = f->nrec;

    for (size_t d = 0; d < D; d++) {
        bool rev = D == 2 ? d == 1 : s->reverse != 0;
        const em_act *act = f->act[d];
        const float *Wb = Bi ? (const float *)Bi->data + d * 2 * GH : NULL;
        const float *Rb = Wb ? Wb + GH : NULL;
        const float *Pd = P ? (const float *)P->data + d * 3 * H : NULL;
        if (Wb)
            for (size_t j = 0; j < GH; j++)
                bias[j] = Wb[j] + ((s->cell == CELL_GRU && s->lbr && j >= 2 * H) ? 0.f : Rb[j]);
        /* xw[row] = x[row] W^T + bias, rows in X's order */
        em_sgemm_args g = {.M = T * B, .N = GH, .K = f->I, .A = x, .lda = f->I, .alpha = 1.f,
                           .b_packed = f->wp[d], .C = xw, .ldc = GH, .col_bias = Wb ? bias : NULL};
        if (T && B) em_sgemm(f->k, &g, gws, c->pool, c->threads);
        memset(rh, 0, B * H * sizeof(float));
        for (size_t b = 0; b < B; b++) {
            size_t hi = lay ? (b * D + d) * H : (d * B + b) * H;
            if (H0) memcpy(hs + b * H, (const float *)H0->data + hi, H * sizeof(float));
            else memset(hs + b * H, 0, H * sizeof(float));
            if (C0) memcpy(cs + b * H, (const float *)C0->data + hi, H * sizeof(float));
            else memset(cs + b * H, 0, H * sizeof(float));
        }
        for (size_t step = 0; step < T; step++) {
            rec_product(c, f, f->rp[d], nrec, hs, B, hr, gws);
            if (s->cell == CELL_GRU && s->lbr) rec_product(c, f, f->rhp[d], H, hs, B, hh, gws);
            for (size_t b = 0; b < B; b++) {
                if ((int64_t)step >= len[b]) continue;
                size_t t = rev ? (size_t)len[b] - 1 - step : step;
                const float *xr = xw + (lay ? b * T + t : t * B + b) * GH;
                float *gt = hr + b * nrec, *hp = hs + b * H, *cp = cs + b * H;
                if (s->cell == CELL_RNN) {
                    vadd(gt, xr, H);
                    em_act_apply(&act[0], gt, H);
                    memcpy(hp, gt, H * sizeof(float));
                } else if (s->cell == CELL_GRU) {
                    float *z = gt, *rg = gt + H, *hb = hh + b * H;
                    vadd(gt, xr, 2 * H);
                    em_act_apply(&act[0], gt, 2 * H);
                    if (s->lbr) {
                        const float *rbh = Rb ? Rb + 2 * H : NULL, *xh = xr + 2 * H;
                        if (rbh) for (size_t j = 0; j < H; j++) hb[j] = xh[j] + rg[j] * (hb[j] + rbh[j]);
                        else for (size_t j = 0; j < H; j++) hb[j] = xh[j] + rg[j] * hb[j];
                    } else {
                        float *rr = rh + b * H;
                        for (size_t j = 0; j < H; j++) rr[j] = rg[j] * hp[j];
                    }
                    (void)z;
                } else {
                    float *gi = gt, *go = gt + H, *gf = gt + 2 * H, *gc = gt + 3 * H;
                    vadd(gt, xr, GH);
                    if (Pd) {
                        for (size_t j = 0; j < H; j++) {
                            gi[j] += Pd[j] * cp[j];
                            gf[j] += Pd[2 * H + j] * cp[j];
                        }
                        em_act_apply(&act[0], gf, H);
                        if (!s->input_forget) em_act_apply(&act[0], gi, H);
                    } else if (s->input_forget) {
                        em_act_apply(&act[0], gf, H);
                    } else {
                        em_act_apply(&act[0], gi, 3 * H); /* i, o, f are contiguous */
                    }
                    if (s->input_forget) for (size_t j = 0; j < H; j++) gi[j] = 1.f - gf[j];
                    em_act_apply(&act[1], gc, H);
                    for (size_t j = 0; j < H; j++) cp[j] = gf[j] * cp[j] + gi[j] * gc[j];
                    if (Pd) {
                        for (size_t j = 0; j < H; j++) go[j] += Pd[H + j] * cp[j];
                        em_act_apply(&act[0], go, H);
                    } else if (s->input_forget) {
                        em_act_apply(&act[0], go, H);
                    }
                    memcpy(gc, cp, H * sizeof(float));
                    em_act_apply(&act[2], gc, H);
                    for (size_t j = 0; j < H; j++) hp[j] = go[j] * gc[j];
                }
            }
            if (s->cell == CELL_GRU) {
                /* h~ = g(x_h + (r . h) R_h^T) (lbr: computed above), h = (1 - z) h~ + z h */
                if (!s->lbr) rec_product(c, f, f->rhp[d], H, rh, B, hh, gws);
                for (size_t b = 0; b < B; b++) {
                    if ((int64_t)step >= len[b]) continue;
                    size_t t = rev ? (size_t)len[b] - 1 - step : step;
                    const float *xr = xw + (lay ? b * T + t : t * B + b) * GH;
                    float *z = hr + b * nrec, *hb = hh + b * H, *hp = hs + b * H;
                    if (!s->lbr) vadd(hb, xr + 2 * H, H);
                    em_act_apply(&act[1], hb, H);
                    for (size_t j = 0; j < H; j++) hp[j] = (1.f - z[j]) * hb[j] + z[j] * hp[j];
                }
            }
            if (y)
                for (size_t b = 0; b < B; b++) {
                    if ((int64_t)step >= len[b]) continue;
                    size_t t = rev ? (size_t)len[b] - 1 - step : step;
                    size_t yo = lay ? ((b * T + t) * D + d) * H : ((t * D + d) * B + b) * H;
                    memcpy(y + yo, hs + b * H, H * sizeof(float));
                }
        }
        for (size_t b = 0; b < B; b++) {
            size_t hi = lay ? (b * D + d) * H : (d * B + b) * H;
            /* a batch entry of length 0 gets zero states (as ONNX Runtime) */
            if (Yh) {
                if (len[b]) memcpy((float *)Yh->data + hi, hs + b * H, H * sizeof(float));
                else memset((float *)Yh->data + hi, 0, H * sizeof(float));
            }
            if (Yc) {
                if (len[b]) memcpy((float *)Yc->data + hi, cs + b * H, H * sizeof(float));
                else memset((float *)Yc->data + hi, 0, H * sizeof(float));
            }
        }
    }
    return EDGEML_OK;
}

edgeml_status red_rnn_run(em_kctx *c)
{
    const rnn_rs *r = c->rs;
    if (!r || em_cpu_level_get() == EM_CPU_REFERENCE) return red_rnn_ref_run(c);
    return fast_run(c, r);
}
