/* MatMul and Gemm, float32 fast paths on the GEMM engine (cpu/gemm.h): a
 * constant 2-D B (the weights of fully connected and attention layers) is
 * packed once at prepare; A is packed per run; Gemm's C becomes the bias of
 * the epilogue; the fused residual and activation are applied per tile.
 * Layout is worked out once per input shapes (reshape). Other dtypes and
 * EDGEML_CPU=reference use the reference kernels (nn_matmul.c). */
#include "nn.h"
#include "../cpu/gemm.h"

typedef struct mm_state {
    const em_sgemm_kernel *k;
    float *bp;             /* packed constant B, or NULL */
    size_t K, N;
} mm_state;

void nn_mm_free(void *state)
{
    mm_state *s = state;
    if (!s) return;
    free(s->bp);
    free(s);
}

/* Packs a constant float 2-D B (trans: stored N x K). */
static edgeml_status prepack(em_node *n, bool trans, edgeml_error *err)
{
    const em_tensor *B = em_node_const_input(n, 1);
    if (em_cpu_level_get() == EM_CPU_REFERENCE || !B || B->dtype != EDGEML_FLOAT || B->rank != 2)
        return EDGEML_OK;
    mm_state *s = calloc(1, sizeof *s);
    if (!s) return em_node_fail(n, err, EDGEML_E_NOMEM, "out of memory");
    s->k = em_sgemm_kernel_get();
    s->K = (size_t)(trans ? B->dims[1] : B->dims[0]);
    s->N = (size_t)(trans ? B->dims[0] : B->dims[1]);
    size_t sz = em_sgemm_packed_b_size(s->k, s->K, s->N);
    s->bp = aligned_alloc(64, (sz * sizeof(float) + 63) / 64 * 64 + 64);
    if (!s->bp) { free(s); return em_node_fail(n, err, EDGEML_E_NOMEM, "out of memory packing weights"); }
    em_sgemm_pack_b(s->k, s->K, s->N, B->data, (size_t)B->dims[1], trans, s->bp);
    n->state = s;
    em_node_release_const(n, 1); /* the packed copy replaces the mapped weights */
    return EDGEML_OK;
}

NN_PREP(matmul) { return prepack(n, false, err); }
NN_PREP(gemm) { return prepack(n, em_attr_int(n, "transB", 0) != 0, err); }

/* ---- MatMul -------------------------------------------------------------------- */

typedef struct mm_rs {
    size_t M, K, N, batch;
    bool fold, direct_epi;
    bool res_row;          /* the fused residual is one row of N (a bias): the GEMM's column bias */
    int orank;
    int64_t odims[EM_MAX_RANK];
    size_t off[];          /* aoff[batch], boff[batch] */
} mm_rs;

static const em_sgemm_kernel *kernel_of(const em_node *n)
{
    const mm_state *s = n->state;
    return s ? s->k : em_sgemm_kernel_get();
}

edgeml_status nn_matmul_reshape(em_kctx *c, void **out, size_t *ws)
{
    const em_tensor *A = em_in(c, 0), *B = em_in(c, 1);
    *ws = 0;
    if (!A || !B || A->dtype != EDGEML_FLOAT || B->dtype != EDGEML_FLOAT ||
        em_cpu_level_get() == EM_CPU_REFERENCE)
        return EDGEML_OK;
    mm_plan p;
    edgeml_status st = mm_plan_make(c, A, B, &p);
    if (st) return st;
    mm_rs *r = malloc(sizeof *r + 2 * (p.batch ? p.batch : 1) * sizeof(size_t));
    if (!r) return em_fail(c, EDGEML_E_NOMEM, "out of memory");
    r->M = p.M; r->K = p.K; r->N = p.N; r->batch = p.batch; r->fold = p.fold;
    r->orank = p.orank;
    memcpy(r->odims, p.odims, sizeof r->odims);
    memcpy(r->off, p.aoff, p.batch * sizeof(size_t));
    memcpy(r->off + p.batch, p.boff, p.batch * sizeof(size_t));
    r->direct_epi = em_epilogue_direct(c, r->orank, r->odims);
    r->res_row = false;
    const em_tensor *R = c->node->add_in > 0 ? em_in(c, c->node->add_in) : NULL;
    if (!r->direct_epi && R && R->dtype == EDGEML_FLOAT && R->rank >= 1 && R->rank <= r->orank &&
        R->dims[R->rank - 1] == (int64_t)r->N && em_numel(R) == r->N) {
        r->res_row = true; /* y + bias row: same shape as y */
        r->direct_epi = true;
    }
    const mm_state *s = c->node->state;
    em_sgemm_args a = {.M = r->fold ? r->M * r->batch : r->M, .N = r->N, .K = r->K,
                       .b_packed = s && s->K == r->K && s->N == r->N ? s->bp : NULL};
    *ws = em_sgemm_workspace(kernel_of(c->node), &a, c->threads);
    *out = r;
    return EDGEML_OK;
}

NN_OP(matmul)
{
    const mm_rs *r = c->rs;
    if (!r) return nn_matmul_ref_run(c);
    const em_tensor *A = em_in(c, 0), *B = em_in(c, 1);
    const em_node *n = c->node;
    const mm_state *s = n->state;
    em_tensor *Y = r->res_row ? em_out(c, 0, EDGEML_FLOAT, r->orank, r->odims)
                              : em_out_fused(c, EDGEML_FLOAT, r->orank, r->odims);
    if (!Y) return c->err && c->err->code ? c->err->code : EDGEML_E_NOMEM;
    if (em_numel(Y) == 0) return r->res_row ? EDGEML_OK : em_epilogue(c, Y);
    bool fuse = r->direct_epi;
    const em_tensor *R = fuse && n->add_in > 0 ? em_in(c, n->add_in) : NULL;
    const float *colb = NULL;
    if (r->res_row) { colb = R->data; R = NULL; }
    em_act act = fuse ? n->act : (em_act){EM_ACT_NONE, 0, 0};
    const float *bp = s && s->K == r->K && s->N == r->N ? s->bp : NULL;
    const float *a = A->data, *b = B->data, *res = R ? R->data : NULL;
    float *y = Y->data;
    size_t steps = r->fold ? 1 : r->batch, M = r->fold ? r->M * r->batch : r->M;
    for (size_t bi = 0; bi < steps; bi++) {
        size_t yo = bi * r->M * r->N;
        em_sgemm_args g = {
            .M = M, .N = r->N, .K = r->K, .A = a + (r->fold ? 0 : r->off[bi]), .lda = r->K, .alpha = 1.f,
            .b_packed = bp, .B = b + (r->fold ? 0 : r->off[r->batch + bi]), .ldb = r->N,
            .C = y + yo, .ldc = r->N, .col_bias = colb, .res = res ? res + yo : NULL, .ldr = r->N, .act = act,
        };
        em_sgemm(kernel_of(n), &g, c->ws, c->pool, c->threads);
    }
    return fuse ? EDGEML_OK : em_epilogue(c, Y);
}

/* ---- Gemm ---------------------------------------------------------------------- */

enum { CB_NONE = 0, CB_COL, CB_ROW, CB_FULL, CB_SCALAR };

typedef struct gemm_rs {
    size_t M, K, N, lda, ldb;
    bool ta, tb, direct_epi;
    float alpha, beta;
    int cmode;
} gemm_rs;

edgeml_status nn_gemm_reshape(em_kctx *c, void **out, size_t *ws)
{
    const em_tensor *A = em_in(c, 0), *B = em_in(c, 1), *C = em_n_in(c) > 2 ? em_in(c, 2) : NULL;
    const em_node *n = c->node;
    *ws = 0;
    if (!A || !B || A->dtype != EDGEML_FLOAT || B->dtype != EDGEML_FLOAT || A->rank != 2 ||
        B->rank != 2 || (C && C->dtype != EDGEML_FLOAT) || em_cpu_level_get() == EM_CPU_REFERENCE)
        return EDGEML_OK;
    gemm_rs r = {0};
    r.ta = em_attr_int(n, "transA", 0) != 0;
    r.tb = em_attr_int(n, "transB", 0) != 0;
    r.alpha = em_attr_float(n, "alpha", 1.f);
    r.beta = em_attr_float(n, "beta", 1.f);
    r.M = (size_t)(r.ta ? A->dims[1] : A->dims[0]);
    r.K = (size_t)(r.ta ? A->dims[0] : A->dims[1]);
    size_t Kb = (size_t)(r.tb ? B->dims[1] : B->dims[0]);
    r.N = (size_t)(r.tb ? B->dims[0] : B->dims[1]);
    r.lda = (size_t)A->dims[1];
    r.ldb = (size_t)B->dims[1];
    if (r.K != Kb) return EDGEML_OK; /* the reference reports it */
    int64_t od[2] = {(int64_t)r.M, (int64_t)r.N};
    if (C && r.beta != 0.f) {
        if (C->rank > 2) return EDGEML_OK;
        int64_t cst[2];
        for (int i = 0; i < C->rank; i++) {
            int64_t d = C->dims[C->rank - 1 - i], t = od[1 - i];
            if (d != 1 && d != t) return EDGEML_OK;
        }
        em_broadcast_strides(C, 2, od, cst);
        if (cst[0] == 0 && cst[1] == 0) r.cmode = CB_SCALAR;
        else if (cst[0] == 0) r.cmode = CB_COL;
        else if (cst[1] == 0) r.cmode = CB_ROW;
        else r.cmode = CB_FULL;
    }
    r.direct_epi = em_epilogue_direct(c, 2, od);
    /* The full-matrix C uses the residual slot: not together with a fused residual. */
    if (r.cmode == CB_FULL && (n->add_in > 0 || r.beta != 1.f)) return EDGEML_OK;
    const mm_state *s = n->state;
    em_sgemm_args a = {.M = r.M, .N = r.N, .K = r.K, .b_packed = s && s->K == r.K && s->N == r.N ? s->bp : NULL};
    *ws = em_sgemm_workspace(kernel_of(n), &a, c->threads);
    gemm_rs *p = malloc(sizeof *p);
    if (!p) return em_fail(c, EDGEML_E_NOMEM, "out of memory");
    *p = r;
    *out = p;
    return EDGEML_OK;
}

NN_OP(gemm)
{
    const gemm_rs *r = c->rs;
    if (!r) return nn_gemm_ref_run(c);
    const em_tensor *A = em_in(c, 0), *B = em_in(c, 1), *C = em_n_in(c) > 2 ? em_in(c, 2) : NULL;
    const em_node *n = c->node;
    const mm_state *s = n->state;
    int64_t od[2] = {(int64_t)r->M, (int64_t)r->N};
    em_tensor *Y = em_out_fused(c, EDGEML_FLOAT, 2, od);
    if (!Y) return c->err && c->err->code ? c->err->code : EDGEML_E_NOMEM;
    if (em_numel(Y) == 0) return em_epilogue(c, Y);
    bool fuse = r->direct_epi;
    const em_tensor *R = fuse && n->add_in > 0 ? em_in(c, n->add_in) : NULL;
    const float *cb = NULL, *rb = NULL, *res = R ? R->data : NULL;
    const float *cd = C ? C->data : NULL;
    if (r->cmode == CB_COL || r->cmode == CB_ROW || r->cmode == CB_SCALAR) {
        size_t len = r->cmode == CB_ROW ? r->M : r->N;
        if (r->beta == 1.f && r->cmode != CB_SCALAR) {
            if (r->cmode == CB_COL) cb = cd; else rb = cd;
        } else {
            float *t = em_scratch(c, len * sizeof(float));
            if (!t) return EDGEML_E_NOMEM;
            for (size_t i = 0; i < len; i++) t[i] = r->beta * cd[r->cmode == CB_SCALAR ? 0 : i];
            if (r->cmode == CB_ROW) rb = t; else cb = t;
        }
    } else if (r->cmode == CB_FULL) {
        res = cd;
    }
    em_sgemm_args g = {
        .M = r->M, .N = r->N, .K = r->K, .A = A->data, .lda = r->lda, .trans_a = r->ta, .alpha = r->alpha,
        .b_packed = s && s->K == r->K && s->N == r->N ? s->bp : NULL,
        .B = B->data, .ldb = r->ldb, .trans_b = r->tb,
        .C = Y->data, .ldc = r->N, .row_bias = rb, .col_bias = cb, .res = res, .ldr = r->N,
        .act = fuse ? n->act : (em_act){EM_ACT_NONE, 0, 0},
    };
    em_sgemm(kernel_of(n), &g, c->ws, c->pool, c->threads);
    return fuse ? EDGEML_OK : em_epilogue(c, Y);
}
