/* Gemm, MatMul, MatMulInteger, QLinearMatMul. */
#include "nn.h"

#define RET_OOM(c) return ((c)->err->code ? (c)->err->code : EDGEML_E_NOMEM)

/* ---- batched matmul planning (mm_plan: nn.h) ---------------------------- */
edgeml_status mm_plan_make(em_kctx *c, const em_tensor *A, const em_tensor *B, mm_plan *p)
{
    EM_CHECK(c, A->rank >= 1 && B->rank >= 1, "MatMul inputs must have rank >= 1");
    int ra = A->rank, rb = B->rank;
    int64_t K = A->dims[ra - 1];
    int64_t M = ra >= 2 ? A->dims[ra - 2] : 1;
    int64_t Kb = rb >= 2 ? B->dims[rb - 2] : B->dims[0];
    int64_t N = rb >= 2 ? B->dims[rb - 1] : 1;
    char b1[96], b2[96];
    EM_CHECK(c, K == Kb, "inner dims differ: A %s, B %s", em_shape_str(ra, A->dims, b1, sizeof b1),
             em_shape_str(rb, B->dims, b2, sizeof b2));
    int ba = ra > 2 ? ra - 2 : 0, bb = rb > 2 ? rb - 2 : 0;
    int br = ba > bb ? ba : bb;
    int64_t bd[EM_MAX_RANK];
    for (int i = 0; i < br; i++) {
        int64_t da = i - (br - ba) >= 0 ? A->dims[i - (br - ba)] : 1;
        int64_t db = i - (br - bb) >= 0 ? B->dims[i - (br - bb)] : 1;
        EM_CHECK(c, da == db || da == 1 || db == 1, "batch dims do not broadcast: A %s, B %s",
                 em_shape_str(ra, A->dims, b1, sizeof b1), em_shape_str(rb, B->dims, b2, sizeof b2));
        bd[i] = da == 1 ? db : da;
    }
    p->M = (size_t)M; p->K = (size_t)K; p->N = (size_t)N;
    p->orank = 0;
    for (int i = 0; i < br; i++) p->odims[p->orank++] = bd[i];
    if (ra >= 2) p->odims[p->orank++] = M;
    if (rb >= 2) p->odims[p->orank++] = N;
    size_t batch = 1;
    if (!em_shape_numel(br, bd, &batch)) return em_fail(c, EDGEML_E_NOMEM, "batch size overflows");
    p->batch = batch;
    p->fold = bb == 0;
    p->aoff = em_scratch(c, (batch ? batch : 1) * 2 * sizeof(size_t));
    if (!p->aoff) return em_fail(c, EDGEML_E_NOMEM, "out of memory");
    p->boff = p->aoff + batch;
    /* strides in matrices */
    int64_t sa[EM_MAX_RANK], sb[EM_MAX_RANK], idx[EM_MAX_RANK] = {0};
    int64_t acc = 1;
    for (int i = br - 1; i >= 0; i--) {
        int j = i - (br - ba);
        sa[i] = (j >= 0 && A->dims[j] != 1) ? acc : 0;
        if (j >= 0) acc *= A->dims[j];
    }
    acc = 1;
    for (int i = br - 1; i >= 0; i--) {
        int j = i - (br - bb);
        sb[i] = (j >= 0 && B->dims[j] != 1) ? acc : 0;
        if (j >= 0) acc *= B->dims[j];
    }
    for (size_t b = 0; b < batch; b++) {
        int64_t oa = 0, ob = 0;
        for (int i = 0; i < br; i++) { oa += idx[i] * sa[i]; ob += idx[i] * sb[i]; }
        p->aoff[b] = (size_t)oa * p->M * p->K;
        p->boff[b] = (size_t)ob * p->K * p->N;
        for (int i = br - 1; i >= 0; i--) { if (++idx[i] < bd[i]) break; idx[i] = 0; }
    }
    /* folding is valid only when A's batches are laid out contiguously in order */
    if (p->fold) for (size_t b = 0; b < batch; b++) if (p->aoff[b] != b * p->M * p->K) p->fold = false;
    return EDGEML_OK;
}

static bool mm_int_dtype(int dt)
{
    return dt == EDGEML_INT32 || dt == EDGEML_INT64 || dt == EDGEML_UINT32 || dt == EDGEML_UINT64;
}

static edgeml_status matmul_body(em_kctx *c)
{
    const em_tensor *A = em_in(c, 0), *B = em_in(c, 1);
    EM_CHECK(c, A && B, "missing input A or B");
    EM_CHECK(c, A->dtype == B->dtype, "A dtype %s differs from B dtype %s", em_dtype_name(A->dtype),
             em_dtype_name(B->dtype));
    EM_CHECK(c, nn_is_fp(A->dtype) || mm_int_dtype(A->dtype), "unsupported dtype %s", em_dtype_name(A->dtype));
    mm_plan p;
    edgeml_status st = mm_plan_make(c, A, B, &p);
    if (st) return st;
    em_tensor *Y = em_out_fused(c, A->dtype, p.orank, p.odims);
    if (!Y) RET_OOM(c);
    size_t M = p.M, K = p.K, N = p.N;
    if (em_numel(Y) == 0) return EDGEML_OK;
    if (A->dtype == EDGEML_DOUBLE) {
        const double *a = A->data, *b = B->data;
        double *y = Y->data;
        if (p.fold) nn_dgemm(false, false, M * p.batch, N, K, 1.0, a, K, b, N, 0.0, y, N);
        else for (size_t bi = 0; bi < p.batch; bi++)
            nn_dgemm(false, false, M, N, K, 1.0, a + p.aoff[bi], K, b + p.boff[bi], N, 0.0, y + bi * M * N, N);
        return EDGEML_OK;
    }
    if (mm_int_dtype(A->dtype)) {
        bool is64 = A->dtype == EDGEML_INT64 || A->dtype == EDGEML_UINT64;
        for (size_t bi = 0; bi < p.batch; bi++)
            for (size_t i = 0; i < M; i++)
                for (size_t j = 0; j < N; j++) {
                    uint64_t s = 0;
                    for (size_t k = 0; k < K; k++) {
                        size_t ia = p.aoff[bi] + i * K + k, ib = p.boff[bi] + k * N + j;
                        uint64_t x, w;
                        if (is64) { x = ((const uint64_t *)A->data)[ia]; w = ((const uint64_t *)B->data)[ib]; }
                        else if (A->dtype == EDGEML_INT32) {
                            x = (uint64_t)(int64_t)((const int32_t *)A->data)[ia];
                            w = (uint64_t)(int64_t)((const int32_t *)B->data)[ib];
                        } else { x = ((const uint32_t *)A->data)[ia]; w = ((const uint32_t *)B->data)[ib]; }
                        s += x * w;
                    }
                    size_t o = (bi * M + i) * N + j;
                    if (is64) ((uint64_t *)Y->data)[o] = s;
                    else ((uint32_t *)Y->data)[o] = (uint32_t)s;
                }
        return EDGEML_OK;
    }
    const float *a = nn_as_f32(c, A), *b = nn_as_f32(c, B);
    float *y = nn_out_f32(c, Y);
    if (!a || !b || !y) RET_OOM(c);
    if (p.fold) {
        if (!nn_sgemm(false, false, M * p.batch, N, K, 1.f, a, K, b, N, 0.f, y, N))
            return em_fail(c, EDGEML_E_NOMEM, "out of memory in GEMM");
    } else {
        for (size_t bi = 0; bi < p.batch; bi++)
            if (!nn_sgemm(false, false, M, N, K, 1.f, a + p.aoff[bi], K, b + p.boff[bi], N, 0.f,
                          y + bi * M * N, N))
                return em_fail(c, EDGEML_E_NOMEM, "out of memory in GEMM");
    }
    nn_store_f32(Y, y);
    return EDGEML_OK;
}

edgeml_status nn_matmul_ref_run(em_kctx *c) { return em_run_fused(c, matmul_body); }

static edgeml_status gemm_body(em_kctx *c)
{
    const em_tensor *A = em_in(c, 0), *B = em_in(c, 1), *C = em_n_in(c) > 2 ? em_in(c, 2) : NULL;
    EM_CHECK(c, A && B, "missing input A or B");
    EM_CHECK(c, A->dtype == B->dtype && (!C || C->dtype == A->dtype), "input dtypes differ");
    EM_CHECK(c, nn_is_fp(A->dtype) || mm_int_dtype(A->dtype), "unsupported dtype %s", em_dtype_name(A->dtype));
    EM_CHECK(c, A->rank == 2 && B->rank == 2, "A and B must be 2-D (got ranks %d, %d)", A->rank, B->rank);
    bool ta = em_attr_int(c->node, "transA", 0) != 0, tb = em_attr_int(c->node, "transB", 0) != 0;
    float alpha = em_attr_float(c->node, "alpha", 1.f), beta = em_attr_float(c->node, "beta", 1.f);
    size_t M = (size_t)(ta ? A->dims[1] : A->dims[0]), K = (size_t)(ta ? A->dims[0] : A->dims[1]);
    size_t Kb = (size_t)(tb ? B->dims[1] : B->dims[0]), N = (size_t)(tb ? B->dims[0] : B->dims[1]);
    EM_CHECK(c, K == Kb, "inner dims differ (%zu vs %zu)", K, Kb);
    int64_t od[2] = {(int64_t)M, (int64_t)N};
    int64_t cst[2] = {0, 0};
    if (C) {
        EM_CHECK(c, C->rank <= 2, "C must have rank <= 2");
        for (int i = 0; i < C->rank; i++) {
            int64_t d = C->dims[C->rank - 1 - i], t = od[1 - i];
            EM_CHECK(c, d == 1 || d == t, "C does not broadcast to [%zu,%zu]", M, N);
        }
        em_broadcast_strides(C, 2, od, cst);
    }
    em_tensor *Y = em_out_fused(c, A->dtype, 2, od);
    if (!Y) RET_OOM(c);
    size_t ny = M * N;
    if (!ny) return EDGEML_OK;
    size_t lda = (size_t)A->dims[1], ldb = (size_t)B->dims[1];
    if (mm_int_dtype(A->dtype)) {
        bool exact = alpha == 1.f && (beta == 1.f || !C);
        for (size_t i = 0; i < M; i++)
            for (size_t j = 0; j < N; j++) {
                int64_t s = 0;
                double sd = 0;
                for (size_t k = 0; k < K; k++) {
                    int64_t x = em_get_i64(A->data, A->dtype, ta ? k * lda + i : i * lda + k);
                    int64_t w = em_get_i64(B->data, B->dtype, tb ? j * ldb + k : k * ldb + j);
                    s = (int64_t)((uint64_t)s + (uint64_t)x * (uint64_t)w);
                    sd += (double)x * (double)w;
                }
                int64_t cv = C ? em_get_i64(C->data, C->dtype, (size_t)(cst[0] * (int64_t)i + cst[1] * (int64_t)j)) : 0;
                if (exact) em_set_i64(Y->data, Y->dtype, i * N + j, (int64_t)((uint64_t)s + (uint64_t)cv));
                else em_set_f64(Y->data, Y->dtype, i * N + j, (double)alpha * sd + (double)beta * (double)cv);
            }
        return EDGEML_OK;
    }
    bool dbl = A->dtype == EDGEML_DOUBLE;
    if (dbl) {
        double *y = Y->data;
        double bt = 0.0;
        if (C && beta != 0.f) {
            for (size_t i = 0; i < M; i++)
                for (size_t j = 0; j < N; j++)
                    y[i * N + j] = em_get_f64(C->data, C->dtype, (size_t)(cst[0] * (int64_t)i + cst[1] * (int64_t)j));
            bt = beta;
        }
        nn_dgemm(ta, tb, M, N, K, alpha, A->data, lda, B->data, ldb, bt, y, N);
        return EDGEML_OK;
    }
    const float *a = nn_as_f32(c, A), *b = nn_as_f32(c, B), *cc = C ? nn_as_f32(c, C) : NULL;
    float *y = nn_out_f32(c, Y);
    if (!a || !b || (C && !cc) || !y) RET_OOM(c);
    float bt = 0.f;
    if (C && beta != 0.f) {
        for (size_t i = 0; i < M; i++) {
            float *yr = y + i * N;
            const float *cr = cc + cst[0] * (int64_t)i;
            if (cst[1] == 1) memcpy(yr, cr, N * sizeof(float));
            else for (size_t j = 0; j < N; j++) yr[j] = cr[0];
        }
        bt = beta;
    }
    if (!nn_sgemm(ta, tb, M, N, K, alpha, a, lda, b, ldb, bt, y, N))
        return em_fail(c, EDGEML_E_NOMEM, "out of memory in GEMM");
    nn_store_f32(Y, y);
    return EDGEML_OK;
}

edgeml_status nn_gemm_ref_run(em_kctx *c) { return em_run_fused(c, gemm_body); }

/* Integer matmul accumulation shared by MatMulInteger and QLinearMatMul:
 * acc[b, i, j] = sum_k (A - azp[i]) * (B - bzp[j]), int32 wrapping accumulation
 * (exact nn_igemm). acc == NULL: scratch is allocated (*acc_out). */
static edgeml_status int_mm(em_kctx *c, const em_tensor *A, const em_tensor *azp, const em_tensor *B,
                            const em_tensor *bzp, mm_plan *p, int32_t *acc, int32_t **acc_out)
{
    size_t M = p->M, K = p->K, N = p->N;
    size_t total = p->batch * M * N;
    if (!acc) {
        acc = em_scratch(c, (total ? total : 1) * sizeof(int32_t));
        if (!acc) return em_fail(c, EDGEML_E_NOMEM, "out of memory");
    }
    if (acc_out) *acc_out = acc;
    if (!total) return EDGEML_OK;
    size_t na = azp ? em_numel(azp) : 0, nb = bzp ? em_numel(bzp) : 0;
    int32_t *zp = em_scratch(c, (na + nb + 1) * sizeof(int32_t));
    if (!zp) return em_fail(c, EDGEML_E_NOMEM, "out of memory");
    for (size_t i = 0; i < na; i++) zp[i] = (int32_t)em_get_i64(azp->data, azp->dtype, i);
    for (size_t i = 0; i < nb; i++) zp[na + i] = (int32_t)em_get_i64(bzp->data, bzp->dtype, i);
    nn_iop a = {NULL, K, A->dtype == EDGEML_INT8, na ? zp : NULL, na > 1};
    nn_iop b = {NULL, N, B->dtype == EDGEML_INT8, nb ? zp + na : NULL, nb > 1};
    const uint8_t *ad = A->data, *bd = B->data;
    bool ok = true;
    if (p->fold && na <= 1) {
        a.p = ad; b.p = bd;
        ok = nn_igemm(M * p->batch, N, K, &a, &b, acc, N);
    } else {
        for (size_t bi = 0; ok && bi < p->batch; bi++) {
            a.p = ad + p->aoff[bi];
            b.p = bd + p->boff[bi];
            ok = nn_igemm(M, N, K, &a, &b, acc + bi * M * N, N);
        }
    }
    if (!ok) return em_fail(c, EDGEML_E_NOMEM, "out of memory in integer GEMM");
    return EDGEML_OK;
}

static edgeml_status int_mm_check(em_kctx *c, const em_tensor *A, const em_tensor *azp, const em_tensor *B,
                                  const em_tensor *bzp, mm_plan *p)
{
    EM_CHECK(c, A->dtype == EDGEML_INT8 || A->dtype == EDGEML_UINT8, "A must be int8 or uint8, got %s",
             em_dtype_name(A->dtype));
    EM_CHECK(c, B->dtype == EDGEML_INT8 || B->dtype == EDGEML_UINT8, "B must be int8 or uint8, got %s",
             em_dtype_name(B->dtype));
    edgeml_status st = mm_plan_make(c, A, B, p);
    if (st) return st;
    size_t M = p->M, N = p->N;
    if (azp) {
        EM_CHECK(c, azp->dtype == A->dtype, "a zero point dtype differs from A");
        size_t n = em_numel(azp);
        EM_CHECK(c, n == 1 || (n == M && A->rank >= 2), "a zero point must be a scalar or have M=%zu values", M);
    }
    if (bzp) {
        EM_CHECK(c, bzp->dtype == B->dtype, "b zero point dtype differs from B");
        size_t n = em_numel(bzp);
        EM_CHECK(c, n == 1 || (n == N && B->rank >= 2), "b zero point must be a scalar or have N=%zu values", N);
    }
    return EDGEML_OK;
}

NN_OP(matmul_integer)
{
    const em_tensor *A = em_in(c, 0), *B = em_in(c, 1);
    const em_tensor *azp = em_n_in(c) > 2 ? em_in(c, 2) : NULL, *bzp = em_n_in(c) > 3 ? em_in(c, 3) : NULL;
    EM_CHECK(c, A && B, "missing input A or B");
    mm_plan p;
    edgeml_status st = int_mm_check(c, A, azp, B, bzp, &p);
    if (st) return st;
    em_tensor *Y = em_out(c, 0, EDGEML_INT32, p.orank, p.odims);
    if (!Y) RET_OOM(c);
    if (em_numel(Y) == 0) return EDGEML_OK;
    return int_mm(c, A, azp, B, bzp, &p, Y->data, NULL);
}

NN_OP(qlinear_matmul)
{
    EM_CHECK(c, em_n_in(c) >= 8, "QLinearMatMul needs 8 inputs");
    const em_tensor *A = em_in(c, 0), *as = em_in(c, 1), *azp = em_in(c, 2);
    const em_tensor *B = em_in(c, 3), *bs = em_in(c, 4), *bzp = em_in(c, 5);
    const em_tensor *ys = em_in(c, 6), *yzp = em_in(c, 7);
    EM_CHECK(c, A && as && B && bs && ys, "missing a required input");
    EM_CHECK(c, nn_is_fp(as->dtype) && nn_is_fp(bs->dtype) && nn_is_fp(ys->dtype), "scales must be floating point");
    mm_plan p;
    int32_t *acc;
    edgeml_status st = int_mm_check(c, A, azp, B, bzp, &p);
    if (st) return st;
    EM_CHECK(c, em_numel(as) == 1 || em_numel(as) == p.M, "a_scale must be a scalar or have M values");
    EM_CHECK(c, em_numel(bs) == 1 || em_numel(bs) == p.N, "b_scale must be a scalar or have N values");
    EM_CHECK(c, em_numel(ys) == 1, "y_scale must be a scalar");
    EM_CHECK(c, !yzp || em_numel(yzp) == 1, "y_zero_point must be a scalar");
    int ydt = yzp ? yzp->dtype : EDGEML_UINT8;
    EM_CHECK(c, ydt == EDGEML_INT8 || ydt == EDGEML_UINT8, "y zero point must be int8 or uint8");
    em_tensor *Y = em_out(c, 0, ydt, p.orank, p.odims);
    if (!Y) RET_OOM(c);
    size_t n = em_numel(Y);
    if (!n) return EDGEML_OK;
    if ((st = int_mm(c, A, azp, B, bzp, &p, NULL, &acc))) return st;
    float ysv = (float)em_get_f64(ys->data, ys->dtype, 0);
    double yz = yzp ? em_get_f64(yzp->data, yzp->dtype, 0) : 0.0;
    for (size_t i = 0; i < n; i++) {
        size_t row = (i / p.N) % p.M, col = i % p.N;
        float asv = (float)em_get_f64(as->data, as->dtype, em_numel(as) == 1 ? 0 : row);
        float bsv = (float)em_get_f64(bs->data, bs->dtype, em_numel(bs) == 1 ? 0 : col);
        float mult = (asv * bsv) / ysv;
        nn_sat_store(Y->data, ydt, i, nn_rne((double)acc[i] * (double)mult) + yz);
    }
    return EDGEML_OK;
}
