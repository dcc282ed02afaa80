/* MatMulInteger on the int8 GEMM engine (cpu/qgemm.h), for what onnxruntime's
 * dynamic quantiser makes of a MatMul: A = DynamicQuantizeLinear's output
 * (activations, run-time zero point), B = constant weights (K x N, uint8 with
 * any zero point or int8), output int32.
 *
 * The engine multiplies prepacked s8 weights (its A) by u8 column panels (its
 * B): here its A is B^T (N x K, packed once at prepare) and its B is A^T, read
 * by a callback that gathers four k of each row of A at a time. The zero
 * points are handled as in nn_convint_fast.c (per-row bias from the weights'
 * row sums and the run-time activation zero point, the column-sum correction
 * for the weight zero points), so the int32 result is bit-identical to the
 * reference. The engine's C (N x rows) is written to the output transposed
 * block by block while it is in cache (em_qgemm_args.post).
 *
 * Fast path conditions (else the reference, nn_matmul.c): B constant, 2-D,
 * int8/uint8, its zero point constant (one value or one per column); A of rank
 * >= 2 (its leading dims fold into rows), its zero point one value; a CPU level
 * above reference. */
#include "nn.h"
#include "../cpu/qgemm.h"
#include "../exec.h"
#include "../pool.h"

typedef struct mmint_state {
    bool fast, any_wz;
    size_t K, N;
    const em_qgemm_kernel *k;
    uint8_t *packed;
    int32_t *rs, *wz;              /* [N] */
} mmint_state;

typedef struct mmint_rs {
    bool fast, a_signed;
    size_t R;                      /* rows of A (leading dims folded) */
    int rank;
    int64_t odims[EM_MAX_RANK];
    size_t ws_gemm, off_c;         /* workspace: GEMM, then C (N x R int32), then bias [N] */
} mmint_rs;

void nn_matmulint_fast_free(void *state)
{
    mmint_state *s = state;
    if (!s) return;
    free(s->packed);
    free(s->rs);
    free(s->wz);
    free(s);
}

NN_PREP(matmulint_fast)
{
    mmint_state *s = calloc(1, sizeof *s);
    if (!s) return em_node_fail(n, err, EDGEML_E_NOMEM, "out of memory");
    n->state = s;
    if (em_cpu_level_get() == EM_CPU_REFERENCE || n->n_in < 2) return EDGEML_OK;
    const em_tensor *B = em_node_const_input(n, 1);
    const em_tensor *bz = n->n_in > 3 && n->in[3] >= 0 ? em_node_const_input(n, 3) : NULL;
    if (n->n_in > 3 && n->in[3] >= 0 && !bz) return EDGEML_OK;
    if (!B || !B->data || B->rank != 2 || (B->dtype != EDGEML_INT8 && B->dtype != EDGEML_UINT8)) return EDGEML_OK;
    int64_t K = B->dims[0], N = B->dims[1];
    if (K <= 0 || N <= 0 || K > (1 << 24) || N > (1 << 24)) return EDGEML_OK;
    size_t nz = 1;
    if (bz) {
        nz = em_numel(bz);
        if (bz->dtype != B->dtype || !bz->data || !((nz == 1 && bz->rank <= 1) || (bz->rank == 1 && (int64_t)nz == N)))
            return EDGEML_OK;
    }
    bool xor80 = B->dtype == EDGEML_UINT8;
    s->rs = malloc((size_t)N * sizeof(int32_t));
    s->wz = malloc((size_t)N * sizeof(int32_t));
    uint8_t *bt = malloc((size_t)K * (size_t)N);
    if (!s->rs || !s->wz || !bt) { free(bt); return em_node_fail(n, err, EDGEML_E_NOMEM, "out of memory"); }
    for (int64_t j = 0; j < N; j++) {
        s->wz[j] = em_qgemm_wzp(xor80, bz ? (const uint8_t *)bz->data + (nz == 1 ? 0 : j) : NULL);
        s->any_wz |= s->wz[j] != 0;
    }
    const uint8_t *b = B->data;
    for (int64_t kk = 0; kk < K; kk++)
        for (int64_t j = 0; j < N; j++) bt[(size_t)j * (size_t)K + (size_t)kk] = b[(size_t)kk * (size_t)N + (size_t)j];
    const em_qgemm_kernel *k = em_qgemm_kernel_get();
    size_t sz = em_qgemm_packed_a_size(k, (size_t)N, (size_t)K);
    s->packed = aligned_alloc(64, (sz + 63) / 64 * 64 + 64);
    if (!s->packed) { free(bt); return em_node_fail(n, err, EDGEML_E_NOMEM, "out of memory packing weights"); }
    em_qgemm_pack_a(k, (size_t)N, (size_t)K, bt, xor80, s->packed, s->rs);
    free(bt);
    s->k = k;
    s->K = (size_t)K;
    s->N = (size_t)N;
    s->fast = true;
    em_node_release_const(n, 1);
    return EDGEML_OK;
}

edgeml_status nn_matmulint_fast_reshape(em_kctx *c, void **out, size_t *ws)
{
    const mmint_state *s = c->node->state;
    *ws = 0;
    if (!s->fast) return EDGEML_OK;
    const em_tensor *A = em_in(c, 0);
    const em_tensor *az = em_n_in(c) > 2 ? em_in(c, 2) : NULL;
    if (!A || (A->dtype != EDGEML_UINT8 && A->dtype != EDGEML_INT8) || A->rank < 2 ||
        A->dims[A->rank - 1] != (int64_t)s->K)
        return EDGEML_OK; /* the reference reports what is wrong */
    if (az && (az->dtype != A->dtype || em_numel(az) != 1 || az->rank > 1)) return EDGEML_OK;
    size_t R = em_numel(A) / s->K, cbytes;
    if (R == 0 || __builtin_mul_overflow(R, s->N * sizeof(int32_t), &cbytes)) return EDGEML_OK;
    mmint_rs *r = calloc(1, sizeof *r);
    if (!r) return em_fail(c, EDGEML_E_NOMEM, "out of memory");
    r->fast = true;
    r->a_signed = A->dtype == EDGEML_INT8;
    r->R = R;
    r->rank = A->rank;
    for (int i = 0; i < A->rank - 1; i++) r->odims[i] = A->dims[i];
    r->odims[A->rank - 1] = (int64_t)s->N;
    em_qgemm_args a = {.M = s->N, .N = R, .K = s->K, .out32 = true, .col_wz = s->any_wz ? s->wz : NULL};
    r->ws_gemm = (em_qgemm_workspace(s->k, &a, c->threads) + 63) / 64 * 64;
    r->off_c = r->ws_gemm;
    *ws = r->ws_gemm + (cbytes + 63) / 64 * 64 + s->N * sizeof(int32_t);
    *out = r;
    return EDGEML_OK;
}

/* A^T's rows k0 .. k0 + nk for columns (rows of A) j0 .. j0 + nc, into tmp. */
typedef struct at_ctx { const uint8_t *a; size_t K; } at_ctx;

static void at_rows(const void *vctx, size_t k0, size_t nk, size_t j0, size_t nc, uint8_t *tmp,
                    const uint8_t **rows)
{
    const at_ctx *q = vctx;
    const uint8_t *a = q->a + j0 * q->K + k0;
    uint8_t *t0 = tmp, *t1 = tmp + nc, *t2 = tmp + 2 * nc, *t3 = tmp + 3 * nc;
    if (nk == 4)
        for (size_t j = 0; j < nc; j++, a += q->K) {
            t0[j] = a[0];
            t1[j] = a[1];
            t2[j] = a[2];
            t3[j] = a[3];
        }
    else
        for (size_t j = 0; j < nc; j++, a += q->K)
            for (size_t r = 0; r < nk; r++) tmp[r * nc + j] = a[r];
    for (size_t r = 0; r < nk; r++) rows[r] = tmp + r * nc;
}

typedef struct tr_ctx { const int32_t *cm; int32_t *y; size_t R, N; } tr_ctx;

/* Y[j][m] = C[m][j] for the finished block. */
static void tr_post(const void *vctx, size_t m0, size_t m1, size_t j0, size_t nc)
{
    const tr_ctx *t = vctx;
    for (size_t j = j0; j < j0 + nc; j++) {
        int32_t *y = t->y + j * t->N;
        for (size_t m = m0; m < m1; m++) y[m] = t->cm[m * t->R + j];
    }
}

NN_OP(matmulint_fast)
{
    const mmint_rs *r = c->rs;
    if (!r || !r->fast) return nn_matmul_integer_run(c);
    const mmint_state *s = c->node->state;
    em_tensor *Y = em_out(c, 0, EDGEML_INT32, r->rank, r->odims);
    if (!Y) return c->err && c->err->code ? c->err->code : EDGEML_E_NOMEM;
    const em_tensor *azt = em_n_in(c) > 2 ? em_in(c, 2) : NULL;
    uint8_t az_raw = azt ? ((const uint8_t *)azt->data)[0] : 0;
    uint32_t azu = r->a_signed ? (uint8_t)(az_raw ^ 0x80) : az_raw;
    uint8_t *ws = c->ws;
    int32_t *cm = (int32_t *)(void *)(ws + r->off_c);
    int32_t *bias = (int32_t *)(void *)(ws + r->off_c + (r->R * s->N * sizeof(int32_t) + 63) / 64 * 64);
    em_qgemm_zp_bias(s->K, azu, s->wz, s->rs, s->N, bias);
    at_ctx q = {em_in(c, 0)->data, s->K};
    tr_ctx t = {cm, Y->data, r->R, s->N};
    em_qgemm_args a = {
        .M = s->N, .N = r->R, .K = s->K, .a_packed = s->packed,
        .rows = at_rows, .rows_ctx = &q, .x_xor80 = r->a_signed,
        .C = cm, .ldc = r->R, .bias = bias, .out32 = true,
        .col_wz = s->any_wz ? s->wz : NULL, .post = tr_post, .post_ctx = &t,
    };
    em_qgemm(s->k, &a, c->ws, c->pool, c->threads);
    return EDGEML_OK;
}
