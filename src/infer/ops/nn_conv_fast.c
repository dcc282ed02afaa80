/* Conv, float32 fast paths: weights packed once at prepare for the GEMM
 * microkernel the CPU gets (cpu/gemm.h), an implicit im2col that packs the
 * GEMM's B panels straight from the input (no column buffer), a direct
 * depthwise kernel (cpu/dwconv.h), and the fused epilogue (bias, residual,
 * activation) applied per tile. Shapes are checked and the work is laid out
 * once per input shapes (reshape); run only computes. Other dtypes, 3-D and
 * higher convolutions, and EDGEML_CPU=reference use the reference kernel
 * (nn_conv.c). */
#include "nn.h"
#include "nn_conv_wino.h"
#include "../cpu/cconv.h"
#include "../cpu/dwconv.h"
#include "../cpu/gemm.h"
#include "../pool.h"

#include <pthread.h>
#include <stdatomic.h>

enum { CONV_REF = 0, CONV_GEMM, CONV_DW, CONV_WINO, CONV_DIRECT };

typedef struct conv_state {
    nn_geom_attrs a;               /* first: nn_conv_setup reads it */
    int kind;                      /* what prepare could set up (CONV_REF: reference only) */
    /* CONV_GEMM: the candidate kernels and the weights packed for each, per
     * group (em_sgemm_packed_a_size floats). The first is packed at prepare;
     * another is packed the first time a reshape finds it faster for the
     * input shapes at hand (once per model, under the lock). */
    int nk;
    const em_sgemm_kernel *ks[4];
    _Atomic(float *) packed[4];
    size_t packed_stride[4];
    pthread_mutex_t mu;
    int64_t Mg, K;
    /* 3x3 stride-1 convs: the Winograd F(2x2,3x3) filters, packed for wk (nn_conv_wino.c) */
    _Atomic(float *) wino;         /* packed at the first reshape that takes the Winograd path */
    bool wino_ok;                  /* the weights allow it (nn_wino_eligible) */
    size_t wino_stride;
    const em_sgemm_kernel *wk;
    em_dwconv_fn dw;               /* CONV_DW */
    const float *wdw;              /* CONV_DW: [M][kh*kw], the model's constant */
    /* 1x1 convs on few pixels (7x7, 14x14 layers): Y^T = X^T W^T with the pixels as the GEMM's
     * rows, W^T packed as B for kernel tk the first time a reshape takes that path (under mu) */
    _Atomic(float *) wt;
    const em_sgemm_kernel *tk;
    /* few input channels (C kh kw <= EM_CCONV_MAXK): the direct kernel (cpu/cconv.h) and its weights */
    em_cconv_fn cf;
    float *cw;
} conv_state;

typedef struct conv_rs {
    int path;                      /* CONV_REF, CONV_GEMM or CONV_DW */
    NN_CONV_LAYOUT;
    bool direct_b;                 /* 1x1, stride 1, no padding: B is the input itself */
    bool deint;                    /* 2-D, stride 2 along W, dilation 1: im2col reads deinterleaved rows */
    size_t ws_deint;               /* bytes of the deinterleaved group planes (after ws_gemm) */
    bool direct_epi;               /* residual (if any) has the output's shape */
    size_t ws_gemm;
    em_dw_geom dg;
    size_t dw_tasks, dw_slot;      /* CONV_DW: tasks (<= threads), bytes of padded plane each */
    bool dw_act_fused;             /* CONV_DW, CONV_DIRECT: the kernel clamps (Relu/Clip) at its store */
    bool dw_cblock;                /* CONV_DW: blocks of 16 channels (em_dwconv_cblock__avx512) */
    size_t cc_plane;               /* CONV_DIRECT: floats per padded input plane (64-byte multiple) */
    size_t cc_tasks;               /* CONV_DIRECT: row ranges (<= threads) */
    /* CONV_GEMM with pixel rows (pixrows): Y^T = X^T W^T into T [P][M] (after ws_gemm), then
     * transposed into Y with the residual and the activation */
    bool pixrows;
    const em_sgemm_kernel *tk;
    const float *wt;
    size_t ws_pa;                  /* bytes of the packed X^T (after ws_gemm, before T) */
    const em_sgemm_kernel *k;      /* CONV_GEMM: the kernel for these shapes */
    const float *packed;           /* its packed weights (NULL: packed per run) */
    const float *wino;             /* CONV_WINO: the model's Winograd filters */
    size_t packed_stride;
} conv_rs;

void nn_conv_free(void *state)
{
    conv_state *s = state;
    if (!s) return;
    for (int i = 0; i < 4; i++) free(atomic_load(&s->packed[i]));
    free(atomic_load(&s->wt));
    if (s->kind == CONV_GEMM) pthread_mutex_destroy(&s->mu);
    free(atomic_load(&s->wino));
    free(s->cw);
    free(s);
}

/* Packs W (every group) for candidate kernel i; NULL on OOM. */
static float *pack_weights(conv_state *s, const em_tensor *W, int i, int64_t group)
{
    const em_sgemm_kernel *k = s->ks[i];
    size_t Mg = (size_t)s->Mg, K = (size_t)s->K, per = em_sgemm_packed_a_size(k, Mg, K);
    float *p = aligned_alloc(64, (per * (size_t)group * sizeof(float) + 63) / 64 * 64 + 64);
    if (!p) return NULL;
    const float *w = W->data;
    for (int64_t gi = 0; gi < group; gi++)
        em_sgemm_pack_a(k, Mg, K, w + (size_t)gi * Mg * K, K, false, 1.f, p + (size_t)gi * per);
    s->packed_stride[i] = per;
    return p;
}

NN_PREP(conv)
{
    conv_state *s = calloc(1, sizeof *s);
    if (!s) return em_node_fail(n, err, EDGEML_E_NOMEM, "out of memory");
    edgeml_status st = nn_geom_parse(n, &s->a, err);
    if (st) { free(s); return st; }
    n->state = s;
    const em_tensor *W = em_node_const_input(n, 1);
    if (em_cpu_level_get() == EM_CPU_REFERENCE || !W || W->dtype != EDGEML_FLOAT ||
        (W->rank != 3 && W->rank != 4))
        return EDGEML_OK; /* decided at run time (reshape): reference, or GEMM with A packed per run */
    int64_t M = W->dims[0], Cg = W->dims[1], group = s->a.group;
    int64_t kh = W->rank == 4 ? W->dims[2] : 1, kw = W->dims[W->rank - 1];
    if (M <= 0 || Cg <= 0 || group <= 0 || M % group) return EDGEML_OK; /* the reference reports it */
    if (group == M && Cg == 1 && group > 1 && W->rank == 4) {
        s->kind = CONV_DW;
        s->dw = em_dwconv_get();
        s->wdw = W->data;
        return EDGEML_OK;
    }
    size_t Mg = (size_t)(M / group), K = (size_t)(Cg * kh * kw);
    s->nk = em_sgemm_candidates(s->ks, 4);
    /* at prepare the columns are unknown: the kernel that suits M (narrow layers are wide images) */
    const em_sgemm_kernel *k0 = em_sgemm_kernel_for_m(Mg);
    int first = 0;
    for (int i = 0; i < s->nk; i++)
        if (s->ks[i] == k0) first = i;
    s->Mg = (int64_t)Mg;
    s->K = (int64_t)K;
    if (group == 1 && W->rank == 4 && kh * kw > 1 && K <= EM_CCONV_MAXK && M >= EM_CCONV_MB && !getenv("EDGEML_NO_CCONV") &&
        (s->cf = em_cconv_get())) {
        s->cw = aligned_alloc(64, (em_cconv_packed_size(M, Cg, kh, kw) * sizeof(float) + 63) / 64 * 64);
        if (!s->cw) return em_node_fail(n, err, EDGEML_E_NOMEM, "out of memory packing weights");
        em_cconv_pack(W->data, M, Cg, kh, kw, s->cw);
    }
    if (nn_wino_eligible(W, &s->a) && !getenv("EDGEML_NO_WINOGRAD")) {
        /* the Winograd filters (16/9 of the weights) or the direct layout, or both, packed by
         * the reshapes whose shapes need them: ResNet-50's 7x7 layers never take Winograd */
        s->wk = em_sgemm_kernel_for_m(Mg);
        s->wino_ok = true;
    }
    /* 1x1 convs: packed at the first reshape, in the layout its shapes want (pixel rows or
     * not), so that a layer holds one packed copy, not two */
    if (!s->wino_ok && !(kh * kw == 1 && group == 1)) {
        float *pk = pack_weights(s, W, first, group);
        if (!pk) return em_node_fail(n, err, EDGEML_E_NOMEM, "out of memory packing weights");
        atomic_store(&s->packed[first], pk);
    }
    pthread_mutex_init(&s->mu, NULL);
    s->kind = CONV_GEMM;
    em_node_release_const(n, 1); /* the packed copy replaces the mapped weights */
    return EDGEML_OK;
}

/* ---- implicit im2col ----------------------------------------------------------- */

typedef struct im2col_ctx {
    const float *x;                /* [Cg][H][W] of this image and group */
    int64_t H, W, OW, kh, kw, sh, sw, dh, dw, ph, pw;
    int64_t deint;                 /* > 0: stride 2, rows stored as [even cols (deint of them) | odd cols] */
} im2col_ctx;

/* Rows of planes [C][H][W] rewritten as [even columns | odd columns] (the
 * first (W + 1) / 2 floats, then W / 2): a stride-2 convolution's taps then
 * read runs of consecutive floats. */
static void deinterleave_planes(const float *x, size_t rows, int64_t W, float *d)
{
    size_t we = (size_t)(W + 1) / 2, w = (size_t)W;
    for (size_t r = 0; r < rows; r++, x += w, d += w) {
        float *e = d, *o = d + we;
        size_t j = 0;
        for (; j + 1 < w; j += 2) {
            e[j / 2] = x[j];
            o[j / 2] = x[j + 1];
        }
        if (j < w) e[j / 2] = x[j];
    }
}

/* B[k][p]: k = (c, ki, kj), p = (oh, ow); panels of nr columns. */
static void pack_im2col(const void *vctx, size_t k0, size_t kc, size_t j0, size_t nc, size_t nr,
                        float *dst)
{
    const im2col_ctx *q = vctx;
    size_t kk = (size_t)(q->kh * q->kw);
    for (size_t p = 0; p < kc; p++) {
        size_t k = k0 + p, ch = k / kk, r = k % kk;
        int64_t ki = (int64_t)r / q->kw, kj = (int64_t)r % q->kw;
        const float *xc = q->x + ch * (size_t)(q->H * q->W);
        int64_t hoff = ki * q->dh - q->ph, woff = kj * q->dw - q->pw;
        for (size_t jp = 0; jp < nc; jp += nr) {
            float *d = dst + (jp / nr) * kc * nr + p * nr;
            size_t cols = nc - jp < nr ? nc - jp : nr;
            size_t pos = j0 + jp;
            int64_t oh = (int64_t)(pos / (size_t)q->OW), ow = (int64_t)(pos % (size_t)q->OW);
            size_t j = 0;
            while (j < cols) {
                /* one run within output row oh */
                size_t run = (size_t)(q->OW - ow);
                if (run > cols - j) run = cols - j;
                int64_t ih = oh * q->sh + hoff;
                if (ih < 0 || ih >= q->H) {
                    memset(d + j, 0, run * sizeof(float));
                } else {
                    const float *xr = xc + ih * q->W;
                    int64_t sw = q->sw;
                    /* valid ow: 0 <= ow*sw + woff < W */
                    int64_t lo = woff < 0 ? (-woff + sw - 1) / sw : 0;
                    int64_t hi = q->W - woff <= 0 ? 0 : (q->W - woff - 1) / sw + 1;
                    /* [ow, ow+run) split into zeros | input | zeros */
                    int64_t end = ow + (int64_t)run;
                    int64_t a0 = lo > ow ? lo : ow, a1 = hi < end ? hi : end;
                    if (a0 > end) a0 = end;
                    if (a1 < a0) a1 = a0;
                    size_t z0 = (size_t)(a0 - ow), z1 = (size_t)(a1 - ow);
                    float *dd = d + j;
                    for (size_t t = 0; t < z0; t++) dd[t] = 0.f;
                    if (sw == 1) memcpy(dd + z0, xr + a0 + woff, (z1 - z0) * sizeof(float));
                    else if (q->deint) {
                        /* input column 2 ow + woff: in the even half at ow + woff / 2, or the odd
                         * half at ow + (woff - 1) / 2 (floor divisions) */
                        int64_t par = woff & 1, sh2 = (woff - par) / 2;
                        const float *hr = xr + (par ? q->deint : 0) + sh2;
                        memcpy(dd + z0, hr + a0, (z1 - z0) * sizeof(float));
                    } else {
                        const float *xs = xr + a0 * sw + woff;
                        for (size_t t = z0; t < z1; t++, xs += sw) dd[t] = *xs;
                    }
                    for (size_t t = z1; t < run; t++) dd[t] = 0.f;
                }
                j += run;
                ow = 0;
                oh++;
            }
            for (; j < nr; j++) d[j] = 0.f;
        }
    }
}

/* ---- reshape ----------------------------------------------------------------- */

/* The Winograd filters, packed by the first caller (the model's, under its lock); NULL on OOM. */
static const float *wino_filters(conv_state *s, const em_tensor *W)
{
    float *w = atomic_load_explicit(&s->wino, memory_order_acquire);
    if (w) return w;
    pthread_mutex_lock(&s->mu);
    if (!(w = atomic_load(&s->wino)) && (w = nn_wino_pack(s->wk, W, &s->wino_stride)))
        atomic_store_explicit(&s->wino, w, memory_order_release);
    pthread_mutex_unlock(&s->mu);
    return w;
}

edgeml_status nn_conv_reshape(em_kctx *c, void **out, size_t *ws)
{
    const conv_state *s = c->node->state;
    const em_tensor *X = em_in(c, 0), *W = em_in(c, 1), *B = em_n_in(c) > 2 ? em_in(c, 2) : NULL;
    *ws = 0;
    if (!X || !W || X->dtype != EDGEML_FLOAT || W->dtype != EDGEML_FLOAT ||
        em_cpu_level_get() == EM_CPU_REFERENCE || (X->rank != 3 && X->rank != 4))
        return EDGEML_OK; /* reference (it reports what is wrong) */
    if (B && (B->dtype != EDGEML_FLOAT || B->rank != 1 || B->dims[0] != W->dims[0])) return EDGEML_OK;
    conv_rs *r = calloc(1, sizeof *r);
    if (!r) return em_fail(c, EDGEML_E_NOMEM, "out of memory");
    edgeml_status st = nn_conv_layout_make(c, X, W, &r->L);
    if (st) { free(r); return st; }
    r->direct_epi = em_epilogue_direct(c, r->rank, r->odims);
    const nn_geom *g = &r->g;
    bool two = g->ns == 2;
    int64_t kh = two ? g->k[0] : 1, kw = g->k[g->ns - 1];
    if (s->kind == CONV_DW && two && r->Cg == 1 && r->Mg == 1) {
        r->path = CONV_DW;
        r->dg = (em_dw_geom){g->in[0], g->in[1], g->out[0], g->out[1], kh, kw,
                             g->s[0], g->s[1], g->d[0], g->d[1], g->pb[0], g->pb[1], 0, 0, 0, 0, 0, 0.f, 0.f};
        em_dwconv_layout(s->dw, &r->dg);
        em_dw_geom_init(&r->dg);
        const em_act *act = &c->node->act;
        if (r->direct_epi && em_dwconv_clamps(s->dw) && (act->kind == EM_ACT_RELU || act->kind == EM_ACT_CLIP)) {
            r->dg.lo = act->kind == EM_ACT_RELU ? 0.f : act->alpha;
            if (act->kind == EM_ACT_CLIP) r->dg.hi = act->beta;
            r->dw_act_fused = true;
        }
        size_t planes = (size_t)(r->N * r->M);
#ifdef EDGEML_HAVE_X86_KERNELS
        /* small planes (and 5x5 up to 56x56): 16 channels per vector (measured 1.3-3.3x on
         * 28x28..7x7 and 5x5 56x56, docs/runtime.md); EDGEML_NO_DWCBLOCK=1 keeps the planes */
        if (s->dw == em_dwconv_plane__avx512 && r->M >= 16 && (kw <= 7 && kh <= 7) &&
            (r->dg.OW <= 28 || (kh * kw >= 25 && r->dg.OW <= 56)) && !getenv("EDGEML_NO_DWCBLOCK")) {
            r->dw_cblock = true;
            planes = (size_t)r->N * (((size_t)r->M + 15) / 16); /* the tasks' items: blocks of 16 */
        }
#endif
        r->dw_tasks = (size_t)c->threads < planes ? (size_t)c->threads : planes;
        if (r->dw_tasks < 1) r->dw_tasks = 1;
        r->dw_slot = ((size_t)(r->dg.HP * r->dg.WP) * sizeof(float) + 63) / 64 * 64;
        if (r->dw_cblock) r->dw_slot = (em_dwconv_cblock_ws(&r->dg) * sizeof(float) + 63) / 64 * 64;
        *ws = r->dw_tasks * r->dw_slot;
        *out = r;
        return EDGEML_OK;
    }
    if (s->cw && two && r->group == 1 && r->direct_epi && (g->s[1] == 1 || (g->s[1] == 2 && g->d[1] == 1)) &&
        g->k[0] * g->k[1] * r->Cg <= EM_CCONV_MAXK) {
        r->path = CONV_DIRECT;
        r->dg = (em_dw_geom){g->in[0], g->in[1], g->out[0], g->out[1], kh, kw,
                             g->s[0], g->s[1], g->d[0], g->d[1], g->pb[0], g->pb[1], 0, 0, 0, 0, 0, 0.f, 0.f};
        r->dg.vpad = 1;
        r->dg.deint = g->s[1] == 2;
        em_dw_geom_init(&r->dg);
        const em_act *act = &c->node->act;
        if (act->kind == EM_ACT_RELU || act->kind == EM_ACT_CLIP) {
            r->dg.lo = act->kind == EM_ACT_RELU ? 0.f : act->alpha;
            if (act->kind == EM_ACT_CLIP) r->dg.hi = act->beta;
            r->dw_act_fused = true;
        }
        r->cc_plane = ((size_t)(r->dg.HP * r->dg.WP) + 15) / 16 * 16;
        r->cc_tasks = c->threads > 1 ? (size_t)c->threads : 1;
        if ((int64_t)r->cc_tasks > g->out[0]) r->cc_tasks = (size_t)g->out[0];
        *ws = (size_t)r->C * r->cc_plane * sizeof(float) + 64;
        *out = r;
        return EDGEML_OK;
    }
    if (s->wino_ok && two && g->s[0] == 1 && g->s[1] == 1 && g->d[0] == 1 && g->d[1] == 1 &&
        r->direct_epi && ((g->out[0] + 1) / 2) * ((g->out[1] + 1) / 2) >= 40 &&
        (r->wino = wino_filters((conv_state *)s, W))) {
        r->path = CONV_WINO;
        size_t gws;
        *ws = nn_wino_workspace(s->wk, (size_t)r->M, (size_t)r->C, g->out[0], g->out[1], c->threads, &gws);
        r->ws_gemm = gws;
        *out = r;
        return EDGEML_OK;
    }
    r->path = CONV_GEMM;
    r->direct_b = true;
    for (int i = 0; i < g->ns; i++)
        if (g->k[i] != 1 || g->s[i] != 1 || g->pb[i] || g->pe[i]) r->direct_b = false;
    const em_sgemm_kernel *k = em_sgemm_kernel_get();
    const float *packed = NULL;
    if (s->kind == CONV_GEMM && r->direct_b && r->group == 1 && s->Mg == r->Mg && s->K == (int64_t)r->K &&
        !getenv("EDGEML_NO_PIXROWS")) {
        /* pixels as rows when that wastes clearly fewer tile lanes (P = 49: 32-column tiles
         * use 77%, 14-row ones 88%) */
        int ti = em_sgemm_pick(s->ks, s->nk, r->P, (size_t)r->M, r->K);
        const em_sgemm_kernel *kn = s->ks[em_sgemm_pick(s->ks, s->nk, (size_t)r->Mg, r->P, r->K)];
        double tn = em_sgemm_cost(kn, (size_t)r->Mg, r->P, r->K), tt = em_sgemm_cost(s->ks[ti], r->P, (size_t)r->M, r->K);
        if (tt < 0.92 * tn) {
            conv_state *sm = (conv_state *)s;
            const float *wt = atomic_load_explicit(&sm->wt, memory_order_acquire);
            if (!wt) {
                pthread_mutex_lock(&sm->mu);
                if (!(wt = atomic_load(&sm->wt))) {
                    const em_sgemm_kernel *tk = s->ks[ti];
                    float *p = aligned_alloc(64, (em_sgemm_packed_b_size(tk, r->K, (size_t)r->M) * sizeof(float) + 63) / 64 * 64);
                    if (p) {
                        em_sgemm_pack_b(tk, r->K, (size_t)r->M, W->data, r->K, true, p);
                        sm->tk = tk;
                        atomic_store_explicit(&sm->wt, p, memory_order_release);
                        wt = p;
                    }
                }
                pthread_mutex_unlock(&sm->mu);
            }
            if (wt) {
                r->pixrows = true;
                r->tk = s->tk;
                r->wt = wt;
                /* X^T packed once per run before the threads split the columns (each would pack it all) */
                em_sgemm_args ta = {.M = r->P, .N = (size_t)r->M, .K = r->K, .a_packed = (const float *)1,
                                    .b_packed = wt};
                r->ws_gemm = (em_sgemm_workspace(r->tk, &ta, c->threads) + 63) / 64 * 64;
                r->ws_pa = (em_sgemm_packed_a_size(r->tk, r->P, r->K) * sizeof(float) + 63) / 64 * 64;
                *ws = r->ws_gemm + r->ws_pa + r->P * (size_t)r->M * sizeof(float) + 64;
                *out = r;
                return EDGEML_OK;
            }
        }
    }
    if (s->kind == CONV_GEMM && s->Mg == r->Mg && s->K == (int64_t)r->K) {
        conv_state *sm = (conv_state *)s; /* the lazily packed variants are the model's, under its lock */
        int i = em_sgemm_pick(s->ks, s->nk, (size_t)r->Mg, r->P, r->K);
        packed = atomic_load_explicit(&sm->packed[i], memory_order_acquire);
        if (!packed) {
            pthread_mutex_lock(&sm->mu);
            packed = atomic_load(&sm->packed[i]);
            if (!packed && (packed = pack_weights(sm, W, i, r->group)))
                atomic_store_explicit(&sm->packed[i], (float *)packed, memory_order_release);
            pthread_mutex_unlock(&sm->mu);
        }
        if (!packed) { /* no memory for another layout: the one packed at prepare */
            for (i = 0; i < s->nk && !(packed = atomic_load(&sm->packed[i])); i++) {}
        }
        if (packed) {
            k = s->ks[i];
            r->packed_stride = s->packed_stride[i];
        }
    }
    r->k = k;
    r->packed = packed;
    em_sgemm_args a = {.M = (size_t)r->Mg, .N = r->P, .K = r->K, .a_packed = packed,
                       .pack_b = r->direct_b ? NULL : pack_im2col};
    r->ws_gemm = (em_sgemm_workspace(k, &a, c->threads) + 63) / 64 * 64;
    *ws = r->ws_gemm;
    if (!r->direct_b && two && g->s[1] == 2 && g->d[1] == 1 && g->in[1] >= 2 && !getenv("EDGEML_NO_DEINT")) {
        r->deint = true;
        r->ws_deint = (size_t)r->Cg * r->g.in_sz * sizeof(float) + 64;
        *ws += r->ws_deint;
    }
    *out = r;
    return EDGEML_OK;
}

/* ---- run --------------------------------------------------------------------- */

typedef struct dw_job {
    const conv_rs *r;
    em_dwconv_fn fn;
    const float *x, *w, *b, *res;
    float *y;
    const em_act *act;
    uint8_t *ws;
} dw_job;

/* Task t: a contiguous range of planes, with its own padded-plane buffer. */
static void dw_tasks(void *ctx, size_t tb, size_t te)
{
    const dw_job *J = ctx;
    const conv_rs *r = J->r;
    size_t in_sz = r->g.in_sz, out_sz = r->P, kk = r->g.k_sz;
    size_t planes = (size_t)(r->N * r->M), T = r->dw_tasks;
#ifdef EDGEML_HAVE_X86_KERNELS
    if (r->dw_cblock) {
        size_t blocks = ((size_t)r->M + 15) / 16;
        for (size_t t = tb; t < te; t++) {
            float *ws = (float *)(J->ws + t * r->dw_slot);
            size_t b, e;
            em_task_bounds((size_t)r->N * blocks, T, t, &b, &e);
            for (size_t i = b; i < e; i++) {
                size_t ni = i / blocks, c0 = (i % blocks) * 16, nc = (size_t)r->M - c0 < 16 ? (size_t)r->M - c0 : 16;
                size_t at = ni * (size_t)r->M + c0;
                em_dwconv_cblock__avx512(&r->dg, (int64_t)nc, J->x + at * in_sz, in_sz, J->w + c0 * kk,
                                         J->b ? J->b + c0 : NULL, J->res ? J->res + at * out_sz : NULL,
                                         J->y + at * out_sz, out_sz, ws);
                if (J->act)
                    for (size_t ch = 0; ch < nc; ch++) em_act_apply(J->act, J->y + (at + ch) * out_sz, out_sz);
            }
        }
        return;
    }
#endif
    for (size_t t = tb; t < te; t++) {
        float *xp = (float *)(J->ws + t * r->dw_slot);
        size_t b, e;
        em_task_bounds(planes, T, t, &b, &e);
        for (size_t i = b; i < e; i++) {
            size_t ch = i % (size_t)r->M;
            float *y = J->y + i * out_sz;
            em_dw_pad(&r->dg, J->x + i * in_sz, xp);
            if (i + 1 < e) /* the next plane comes from memory while this one is computed */
                for (size_t o = 0; o < in_sz; o += 16) __builtin_prefetch(J->x + (i + 1) * in_sz + o, 0, 3);
            J->fn(&r->dg, xp, J->w + ch * kk, J->b ? J->b[ch] : 0.f,
                  J->res ? J->res + i * out_sz : NULL, y);
            if (J->act) em_act_apply(J->act, y, out_sz);
        }
    }
}

typedef struct tr_job {
    const float *t;              /* [P][M] */
    const float *res;            /* [M][P] or NULL */
    float *y;                    /* [M][P] */
    size_t P, M;
    float lo, hi;
    const em_act *act;           /* applied after the clamp (not Relu/Clip) */
} tr_job;

/* Channels [16 mb, 16 me): y[m][p] = clamp(t[p][m] + res[m][p]), then the activation. */
static void tr_blocks(void *ctx, size_t mb, size_t me)
{
    const tr_job *J = ctx;
    for (size_t m0 = mb * 16; m0 < me * 16 && m0 < J->M; m0 += 16) {
        size_t m1 = m0 + 16 < J->M ? m0 + 16 : J->M;
#ifdef EDGEML_HAVE_X86_KERNELS
        if (em_cpu_has(EM_CPU_AVX512)) {
            for (size_t p0 = 0; p0 < J->P; p0 += 16)
                em_tr16__avx512(J->t + p0 * J->M + m0, J->M, J->P - p0 < 16 ? J->P - p0 : 16, m1 - m0,
                                J->y + m0 * J->P + p0, J->P, J->res ? J->res + m0 * J->P + p0 : NULL, J->P,
                                J->lo, J->hi);
            if (J->act)
                for (size_t m = m0; m < m1; m++) em_act_apply(J->act, J->y + m * J->P, J->P);
            continue;
        }
#endif
        for (size_t p = 0; p < J->P; p++) {
            const float *tr = J->t + p * J->M;
            for (size_t m = m0; m < m1; m++) {
                float v = tr[m] + (J->res ? J->res[m * J->P + p] : 0.f);
                v = v < J->lo ? J->lo : v;
                J->y[m * J->P + p] = v > J->hi ? J->hi : v;
            }
        }
        if (J->act)
            for (size_t m = m0; m < m1; m++) em_act_apply(J->act, J->y + m * J->P, J->P);
    }
}

typedef struct cc_job {
    const conv_rs *r;
    em_cconv_fn fn;
    const float *xp, *w, *b, *res;
    float *y;
    const em_act *act;           /* applied after the kernel (not clamped by it) */
} cc_job;

/* Task t: a contiguous range of output rows, every channel. */
static void cc_tasks(void *ctx, size_t tb, size_t te)
{
    const cc_job *J = ctx;
    const conv_rs *r = J->r;
    const em_dw_geom *g = &r->dg;
    for (size_t t = tb; t < te; t++) {
        size_t b, e;
        em_task_bounds((size_t)g->OH, r->cc_tasks, t, &b, &e);
        if (b == e) continue;
        J->fn(g, r->C, r->M, J->xp, r->cc_plane, J->w, J->b, J->res, J->y, (int64_t)b, (int64_t)e);
        if (J->act)
            for (int64_t m = 0; m < r->M; m++)
                em_act_apply(J->act, J->y + (size_t)m * r->P + b * (size_t)g->OW, (e - b) * (size_t)g->OW);
    }
}

NN_OP(conv)
{
    const conv_rs *r = c->rs;
    if (!r || r->path == CONV_REF) return nn_conv_ref_run(c);
    const conv_state *s = c->node->state;
    const em_tensor *X = em_in(c, 0), *W = em_in(c, 1), *B = em_n_in(c) > 2 ? em_in(c, 2) : NULL;
    const em_node *n = c->node;
    em_tensor *Y = em_out_fused(c, EDGEML_FLOAT, r->rank, r->odims);
    if (!Y) return c->err && c->err->code ? c->err->code : EDGEML_E_NOMEM;
    if (em_numel(Y) == 0) return em_epilogue(c, Y);
    bool fuse = r->direct_epi;
    const em_tensor *R = fuse && n->add_in > 0 ? em_in(c, n->add_in) : NULL;
    const em_act *act = fuse && n->act.kind != EM_ACT_NONE ? &n->act : NULL;
    const float *x = X->data, *b = B ? B->data : NULL, *res = R ? R->data : NULL;
    float *y = Y->data;
    if (r->path == CONV_WINO) {
        const nn_geom *g = &r->g;
        nn_wino_args wa = {s->wk, r->wino, s->wino_stride, r->ws_gemm, x, b, res, y, act,
                           r->N, r->C, r->M, g->in[0], g->in[1], g->out[0], g->out[1], g->pb[0], g->pb[1]};
        nn_wino_run(c, &wa);
    } else if (r->path == CONV_DIRECT) {
        float *xp = (float *)(((uintptr_t)c->ws + 63) & ~(uintptr_t)63);
        for (int64_t ni = 0; ni < r->N; ni++) {
            const float *xn = x + (size_t)ni * (size_t)r->C * r->g.in_sz;
            for (int64_t ci = 0; ci < r->C; ci++) em_dw_pad(&r->dg, xn + (size_t)ci * r->g.in_sz, xp + (size_t)ci * r->cc_plane);
            size_t yo = (size_t)ni * (size_t)r->M * r->P;
            cc_job J = {r, s->cf, xp, s->cw, b, res ? res + yo : NULL, y + yo, r->dw_act_fused ? NULL : act};
            if (r->cc_tasks <= 1) cc_tasks(&J, 0, 1);
            else em_parallel_for(c->pool, c->threads, r->cc_tasks, 1, cc_tasks, &J);
        }
    } else if (r->path == CONV_DW) {
        dw_job J = {r, s->dw, x, s->wdw ? s->wdw : W->data, b, res, y, r->dw_act_fused ? NULL : act, c->ws};
        if (r->dw_tasks <= 1) dw_tasks(&J, 0, 1);
        else em_parallel_for(c->pool, c->threads, r->dw_tasks, 1, dw_tasks, &J);
    } else if (r->pixrows) {
        float *pa = (float *)(((uintptr_t)c->ws + r->ws_gemm + 63) & ~(uintptr_t)63);
        float *t = (float *)((uint8_t *)pa + r->ws_pa);
        tr_job T = {t, NULL, NULL, r->P, (size_t)r->M, -INFINITY, INFINITY, NULL};
        if (act && act->kind == EM_ACT_RELU) T.lo = 0.f;
        else if (act && act->kind == EM_ACT_CLIP) { T.lo = act->alpha; T.hi = act->beta; }
        else T.act = act;
        for (int64_t ni = 0; ni < r->N; ni++) {
            size_t off = (size_t)ni * (size_t)r->M * r->P;
            em_sgemm_pack_a(r->tk, r->P, r->K, x + (size_t)ni * (size_t)r->C * r->P, r->P, true, 1.f, pa);
            em_sgemm_args a = {.M = r->P, .N = (size_t)r->M, .K = r->K, .a_packed = pa, .alpha = 1.f,
                               .b_packed = r->wt, .C = t, .ldc = (size_t)r->M, .col_bias = b};
            em_sgemm(r->tk, &a, c->ws, c->pool, c->threads);
            T.res = res ? res + off : NULL;
            T.y = y + off;
            size_t blocks = ((size_t)r->M + 15) / 16;
            em_parallel_for(c->pool, c->threads, blocks, 8, tr_blocks, &T);
        }
    } else {
        const em_sgemm_kernel *k = r->k;
        for (int64_t ni = 0; ni < r->N; ni++)
            for (int64_t gi = 0; gi < r->group; gi++) {
                size_t xoff = ((size_t)ni * (size_t)r->C + (size_t)(gi * r->Cg)) * r->g.in_sz;
                size_t yoff = ((size_t)ni * (size_t)r->M + (size_t)(gi * r->Mg)) * r->P;
                im2col_ctx q = {x + xoff, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0};
                const nn_geom *g = &r->g;
                if (g->ns == 2)
                    q = (im2col_ctx){x + xoff, g->in[0], g->in[1], g->out[1], g->k[0], g->k[1],
                                     g->s[0], g->s[1], g->d[0], g->d[1], g->pb[0], g->pb[1], 0};
                else
                    q = (im2col_ctx){x + xoff, 1, g->in[0], g->out[0], 1, g->k[0],
                                     1, g->s[0], 1, g->d[0], 0, g->pb[0], 0};
                if (r->deint) {
                    float *dx = (float *)(((uintptr_t)c->ws + r->ws_gemm + 63) & ~(uintptr_t)63);
                    deinterleave_planes(x + xoff, (size_t)(r->Cg * g->in[0]), g->in[1], dx);
                    q.x = dx;
                    q.deint = (g->in[1] + 1) / 2;
                }
                em_sgemm_args a = {
                    .M = (size_t)r->Mg, .N = r->P, .K = r->K,
                    .a_packed = r->packed ? r->packed + (size_t)gi * r->packed_stride : NULL,
                    .A = (const float *)W->data + (size_t)(gi * r->Mg) * r->K, .lda = r->K, .alpha = 1.f,
                    .pack_b = r->direct_b ? NULL : pack_im2col, .pack_ctx = &q,
                    .B = x + xoff, .ldb = r->P,
                    .C = y + yoff, .ldc = r->P,
                    .row_bias = b ? b + gi * r->Mg : NULL,
                    .res = res ? res + yoff : NULL, .ldr = r->P,
                    .act = act ? *act : (em_act){EM_ACT_NONE, 0, 0},
                };
                em_sgemm(k, &a, c->ws, c->pool, c->threads);
            }
    }
    if (!fuse) return em_epilogue(c, Y);
    return EDGEML_OK;
}
