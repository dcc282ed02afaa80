/* Fused scaled dot-product attention (see nn_attention.h), float32.
 *
 * Per output batch element (a (batch, head) pair after the head split) and
 * block of query rows: S = scale * Q KT on the GEMM engine into a per-thread
 * tile of rb x Lk floats (never a tensor of the arena), + mask, a vectorised
 * softmax per row (cpu/vmath.h), then O = S V on the GEMM engine written
 * straight into the output through its strides. The operands are read in
 * place through the strides the absorbed Transposes give them: a 2-D block
 * whose rows or columns are contiguous goes to the GEMM as a plain or a
 * transposed matrix; one with neither is copied into the tile's workspace.
 * Items are split over the pool; each output element is computed by one
 * thread in a fixed order, so results do not depend on the thread count. */
#include "nn_attention.h"
#include "../cpu/gemm.h"
#include "../cpu/vmath.h"
#include "../pool.h"

#include <math.h>
#include <stdlib.h>

enum { OP_Q, OP_K, OP_V, OP_O, OP_N };

typedef struct att_state {
    int np[OP_N];                 /* perm length, -1: none (identity) */
    int64_t perm[OP_N][EM_MAX_RANK];
    float scale;
} att_state;

static edgeml_status att_prepare(em_node *n, edgeml_error *err)
{
    static const char *const names[OP_N] = {"perm_q", "perm_k", "perm_v", "perm_o"};
    att_state *s = calloc(1, sizeof *s);
    if (!s) return em_node_fail(n, err, EDGEML_E_NOMEM, "out of memory");
    for (int i = 0; i < OP_N; i++) {
        const int64_t *p;
        long k = em_attr_ints(n, names[i], &p);
        s->np[i] = (int)k;
        if (k < 0) continue;
        bool seen[EM_MAX_RANK] = {false};
        if (k < 2 || k > EM_MAX_RANK) goto bad;
        for (long j = 0; j < k; j++) {
            if (p[j] < 0 || p[j] >= k || seen[p[j]]) goto bad;
            seen[p[j]] = true;
            s->perm[i][j] = p[j];
        }
        if (i == OP_O && p[k - 1] != k - 1) goto bad;
        continue;
    bad:
        free(s);
        return em_node_fail(n, err, EDGEML_E_MODEL, "attribute %s is not a valid permutation", names[i]);
    }
    if (n->n_in < 3 || n->n_in > 4 || n->n_out != 1) {
        free(s);
        return em_node_fail(n, err, EDGEML_E_MODEL, "takes 3 or 4 inputs and 1 output");
    }
    s->scale = em_attr_float(n, "scale", 1.f);
    n->state = s;
    return EDGEML_OK;
}

/* A 2-D operand block: element (i, j) at base + i * rs + j * cs. */
enum { M_PLAIN, M_TRANS, M_PACK };
typedef struct opnd {
    int mode;
    int64_t rs, cs;
    size_t ld;
} opnd;

typedef struct att_rs {
    size_t nb, Lq, Lk, D, Dv, rb, nrb, items;
    opnd q, k, v;
    bool mask;
    int64_t mrs, mcs, ors;
    int orank;
    int64_t odims[EM_MAX_RANK];
    int T;                        /* work slots (threads) */
    size_t slot_floats, s_off, qp_off, kp_off, vp_off, g_off;
    size_t off[];                 /* [5][nb]: q, k, v, mask, o */
} att_rs;

/* The logical view of x through perm: dims and element strides. */
static bool view(const em_tensor *x, const att_state *s, int which, int *rank, int64_t *d, int64_t *st)
{
    int64_t xs[EM_MAX_RANK];
    em_strides(x->rank, x->dims, xs);
    int np = s->np[which];
    if (np >= 0 && np != x->rank) return false;
    *rank = x->rank;
    for (int i = 0; i < x->rank; i++) {
        int p = np >= 0 ? (int)s->perm[which][i] : i;
        d[i] = x->dims[p];
        st[i] = xs[p];
    }
    return true;
}

/* numpy broadcast of two shapes; false when incompatible. */
static bool bcast(int ra, const int64_t *da, int rb, const int64_t *db, int *ro, int64_t *o)
{
    int r = ra > rb ? ra : rb;
    for (int i = 0; i < r; i++) {
        int ia = i - (r - ra), ib = i - (r - rb);
        int64_t a = ia >= 0 ? da[ia] : 1, b = ib >= 0 ? db[ib] : 1;
        if (a != b && a != 1 && b != 1) return false;
        o[i] = a == 1 ? b : a;
    }
    *ro = r;
    return true;
}

static opnd mk_opnd(size_t rows, size_t cols, int64_t rs, int64_t cs)
{
    opnd o = {M_PACK, rs, cs, 0};
    if (cols <= 1) cs = 1;
    else if (rows <= 1) rs = 1;
    if (cs == 1) { o.mode = M_PLAIN; o.ld = rows > 1 ? (size_t)rs : (cols ? cols : 1); }
    else if (rs == 1) { o.mode = M_TRANS; o.ld = (size_t)cs; }
    o.rs = rs;
    o.cs = cs;
    return o;
}

static size_t up16(size_t n) { return (n + 15) / 16 * 16; }

static edgeml_status att_reshape(em_kctx *c, void **out, size_t *wsb)
{
    const att_state *s = c->node->state;
    const em_tensor *X[3] = {em_in(c, 0), em_in(c, 1), em_in(c, 2)};
    const em_tensor *M = em_n_in(c) > 3 ? em_in(c, 3) : NULL;
    *wsb = 0;
    for (int i = 0; i < 3; i++)
        if (!X[i] || X[i]->dtype != EDGEML_FLOAT) return em_fail(c, EDGEML_E_RUNTIME, "input %d must be a float32 tensor", i);
    if (em_n_in(c) > 3 && c->node->in[3] >= 0 && (!M || M->dtype != EDGEML_FLOAT))
        return em_fail(c, EDGEML_E_RUNTIME, "the mask must be a float32 tensor");
    int r[3];
    int64_t d[3][EM_MAX_RANK], st[3][EM_MAX_RANK];
    char b1[160], b2[160];
    for (int i = 0; i < 3; i++) {
        if (!view(X[i], s, i, &r[i], d[i], st[i]))
            return em_fail(c, EDGEML_E_RUNTIME, "input %d has rank %d, its perm %d entries", i, X[i]->rank, s->np[i]);
        if (r[i] < 2) return em_fail(c, EDGEML_E_RUNTIME, "input %d must have rank >= 2", i);
    }
    size_t Lq = (size_t)d[0][r[0] - 2], D = (size_t)d[0][r[0] - 1];
    size_t Lk = (size_t)d[1][r[1] - 1], Dv = (size_t)d[2][r[2] - 1];
    if ((size_t)d[1][r[1] - 2] != D || (size_t)d[2][r[2] - 2] != Lk)
        return em_fail(c, EDGEML_E_RUNTIME, "MatMul shapes do not match: Q %s, K^T %s, V %s",
                       em_shape_str(r[0], d[0], b1, sizeof b1), em_shape_str(r[1], d[1], b2, sizeof b2),
                       em_shape_str(r[2], d[2], (char[160]){0}, 160));
    int rs_, rs2, rob;
    int64_t sb[EM_MAX_RANK], sfull[EM_MAX_RANK + 2], s2[EM_MAX_RANK + 2], ob[EM_MAX_RANK];
    if (!bcast(r[0] - 2, d[0], r[1] - 2, d[1], &rs_, sb))
        return em_fail(c, EDGEML_E_RUNTIME, "batch dims of Q and K^T do not broadcast");
    memcpy(sfull, sb, (size_t)rs_ * sizeof *sb);
    sfull[rs_] = (int64_t)Lq;
    sfull[rs_ + 1] = (int64_t)Lk;
    int64_t mst[EM_MAX_RANK + 2] = {0};
    rs2 = rs_ + 2;
    memcpy(s2, sfull, (size_t)rs2 * sizeof *s2);
    if (M) {
        if (!bcast(rs_ + 2, sfull, M->rank, M->dims, &rs2, s2) || rs2 > EM_MAX_RANK)
            return em_fail(c, EDGEML_E_RUNTIME, "the mask %s does not broadcast to the scores %s",
                           em_shape_str(M->rank, M->dims, b1, sizeof b1), em_shape_str(rs_ + 2, sfull, b2, sizeof b2));
        if ((size_t)s2[rs2 - 2] != Lq || (size_t)s2[rs2 - 1] != Lk)
            return em_fail(c, EDGEML_E_UNSUPPORTED, "a mask that widens the scores is not supported");
        em_broadcast_strides(M, rs2, s2, mst);
    }
    if (!bcast(rs2 - 2, s2, r[2] - 2, d[2], &rob, ob) || rob + 2 > EM_MAX_RANK)
        return em_fail(c, EDGEML_E_RUNTIME, "batch dims of the scores and V do not broadcast");
    /* The output: O = [ob, Lq, Dv], Y = Transpose(O, perm_o). */
    int orank = rob + 2;
    int64_t od[EM_MAX_RANK], ost[EM_MAX_RANK], ys[EM_MAX_RANK];
    memcpy(od, ob, (size_t)rob * sizeof *od);
    od[rob] = (int64_t)Lq;
    od[rob + 1] = (int64_t)Dv;
    size_t nb = 1;
    for (int i = 0; i < rob; i++) nb *= (size_t)ob[i];
    att_rs *R = calloc(1, sizeof *R + 5 * (nb ? nb : 1) * sizeof(size_t));
    if (!R) return em_fail(c, EDGEML_E_NOMEM, "out of memory");
    R->orank = orank;
    if (s->np[OP_O] >= 0) {
        if (s->np[OP_O] != orank) {
            free(R);
            return em_fail(c, EDGEML_E_RUNTIME, "output rank %d, perm_o %d entries", orank, s->np[OP_O]);
        }
        for (int i = 0; i < orank; i++) R->odims[i] = od[s->perm[OP_O][i]];
        em_strides(orank, R->odims, ys);
        for (int i = 0; i < orank; i++) ost[s->perm[OP_O][i]] = ys[i];
    } else {
        memcpy(R->odims, od, (size_t)orank * sizeof *od);
        em_strides(orank, od, ost);
    }
    R->nb = nb; R->Lq = Lq; R->Lk = Lk; R->D = D; R->Dv = Dv;
    R->q = mk_opnd(Lq, D, st[0][r[0] - 2], st[0][r[0] - 1]);
    R->k = mk_opnd(D, Lk, st[1][r[1] - 2], st[1][r[1] - 1]);
    R->v = mk_opnd(Lk, Dv, st[2][r[2] - 2], st[2][r[2] - 1]);
    R->mask = M != NULL;
    R->mrs = mst[rs2 - 2];
    R->mcs = mst[rs2 - 1];
    R->ors = ost[orank - 2];
    if (ost[orank - 1] != 1 && Dv > 1) {
        free(R);
        return em_fail(c, EDGEML_E_RUNTIME, "perm_o must keep the last axis last");
    }
    /* Per output batch element, the offset of each operand's block. */
    int64_t idx[EM_MAX_RANK] = {0};
    for (size_t b = 0; b < nb; b++) {
        int64_t o[5] = {0, 0, 0, 0, 0};
        for (int i = 0; i < rob; i++) {
            for (int k = 0; k < 3; k++) {
                int j = i - (rob - (r[k] - 2));
                if (j >= 0 && d[k][j] != 1) o[k] += idx[i] * st[k][j];
            }
            int j = i - (rob - (rs2 - 2));
            if (M && j >= 0 && s2[j] != 1) o[3] += idx[i] * mst[j];
            o[4] += idx[i] * ost[i];
        }
        for (int k = 0; k < 5; k++) R->off[k * nb + b] = (size_t)o[k];
        for (int i = rob - 1; i >= 0; i--) {
            if (++idx[i] < ob[i]) break;
            idx[i] = 0;
        }
    }
    /* Row blocks: the tile of scores stays within ~256 KB; enough items for the threads. */
    int T = c->threads > 0 ? c->threads : 1;
    size_t rb = Lq ? Lq : 1, cap = 65536 / (Lk ? Lk : 1);
    if (cap < 8) cap = 8;
    if (rb > cap) rb = cap;
    if (nb && nb < (size_t)T * 2) {
        size_t want = ((size_t)T * 2 + nb - 1) / nb;
        size_t r2 = (Lq + want - 1) / want;
        if (r2 >= 4 && r2 < rb) rb = r2;
    }
    R->rb = rb;
    R->nrb = Lq ? (Lq + rb - 1) / rb : 0;
    R->items = nb * R->nrb;
    if ((size_t)T > R->items) T = R->items ? (int)R->items : 1;
    R->T = T;
    const em_sgemm_kernel *k = em_sgemm_kernel_get();
    em_sgemm_args a1 = {.M = rb, .N = Lk, .K = D}, a2 = {.M = rb, .N = Dv, .K = Lk};
    size_t g1 = em_sgemm_workspace(k, &a1, 1), g2 = em_sgemm_workspace(k, &a2, 1);
    size_t gf = up16(((g1 > g2 ? g1 : g2) + 3) / 4 + 16);
    size_t o = 0;
    R->s_off = o; o += up16(rb * Lk);
    R->qp_off = o; if (R->q.mode == M_PACK) o += up16(rb * D);
    R->kp_off = o; if (R->k.mode == M_PACK) o += up16(D * Lk);
    R->vp_off = o; if (R->v.mode == M_PACK) o += up16(Lk * Dv);
    R->g_off = o; o += gf;
    R->slot_floats = o;
    *wsb = (size_t)T * o * sizeof(float) + 64;
    *out = R;
    return EDGEML_OK;
}

typedef struct att_job {
    const att_rs *R;
    const float *q, *k, *v, *m;
    float *y;
    float scale;
    float *ws;
    const em_sgemm_kernel *kern;
    const em_vmath *vm;
} att_job;

static void pack2d(float *dst, const float *src, size_t rows, size_t cols, int64_t rs, int64_t cs)
{
    for (size_t i = 0; i < rows; i++)
        for (size_t j = 0; j < cols; j++) dst[i * cols + j] = src[(int64_t)i * rs + (int64_t)j * cs];
}

/* The GEMM operand fields for a block (packing it into buf when needed). */
static const float *gemm_opnd(const opnd *o, const float *base, size_t rows, size_t cols, float *buf,
                              size_t *ld, bool *trans)
{
    if (o->mode == M_PACK) {
        pack2d(buf, base, rows, cols, o->rs, o->cs);
        *ld = cols ? cols : 1;
        *trans = false;
        return buf;
    }
    *ld = o->ld;
    *trans = o->mode == M_TRANS;
    return base;
}

static void att_item(const att_job *J, size_t it, float *w)
{
    const att_rs *R = J->R;
    size_t b = it / R->nrb, r0 = (it % R->nrb) * R->rb;
    size_t m = R->Lq - r0 < R->rb ? R->Lq - r0 : R->rb;
    size_t nb = R->nb, Lk = R->Lk, D = R->D, Dv = R->Dv;
    float *S = w + R->s_off;
    float *y = J->y + R->off[4 * nb + b] + (size_t)((int64_t)r0 * R->ors);
    if (Lk == 0) {
        for (size_t i = 0; i < m; i++) memset(y + (int64_t)i * R->ors, 0, Dv * sizeof(float));
        return;
    }
    /* S = scale * Q[r0 : r0 + m] KT */
    size_t lda, ldb;
    bool ta, tb;
    const float *qb = J->q + R->off[b] + (int64_t)r0 * R->q.rs;
    const float *A = gemm_opnd(&R->q, qb, m, D, w + R->qp_off, &lda, &ta);
    const float *B = gemm_opnd(&R->k, J->k + R->off[nb + b], D, Lk, w + R->kp_off, &ldb, &tb);
    em_sgemm_args g = {.M = m, .N = Lk, .K = D, .A = A, .lda = lda, .trans_a = ta, .alpha = J->scale,
                       .B = B, .ldb = ldb, .trans_b = tb, .C = S, .ldc = Lk};
    em_sgemm(J->kern, &g, w + R->g_off, NULL, 1);
    /* + mask, softmax per row */
    const float *mb = R->mask ? J->m + R->off[3 * nb + b] + (int64_t)r0 * R->mrs : NULL;
    for (size_t i = 0; i < m; i++) {
        float *row = S + i * Lk;
        if (mb) {
            const float *mr = mb + (int64_t)i * R->mrs;
            if (R->mcs == 1) J->vm->bin[EM_VBIN_ADD](row, row, 1, mr, 1, Lk);
            else if (R->mcs == 0) J->vm->bin[EM_VBIN_ADD](row, row, 1, mr, 0, Lk);
            else for (size_t j = 0; j < Lk; j++) row[j] += mr[(int64_t)j * R->mcs];
        }
        float mx = J->vm->max(row, Lk);
        float sum = J->vm->exp_sub_sum(row, row, Lk, mx);
        float inv = 1.0f / sum;
        J->vm->bin[EM_VBIN_MUL](row, row, 1, &inv, 0, Lk);
    }
    /* O[r0 : r0 + m] = S V */
    const float *V = gemm_opnd(&R->v, J->v + R->off[2 * nb + b], Lk, Dv, w + R->vp_off, &ldb, &tb);
    em_sgemm_args g2 = {.M = m, .N = Dv, .K = Lk, .A = S, .lda = Lk, .alpha = 1.f,
                        .B = V, .ldb = ldb, .trans_b = tb, .C = y, .ldc = m > 1 ? (size_t)R->ors : Dv};
    em_sgemm(J->kern, &g2, w + R->g_off, NULL, 1);
}

static void att_slots(void *ctx, size_t b, size_t e)
{
    const att_job *J = ctx;
    const att_rs *R = J->R;
    for (size_t t = b; t < e; t++) {
        float *w = J->ws + t * R->slot_floats;
        for (size_t it = t; it < R->items; it += (size_t)R->T) att_item(J, it, w);
    }
}

static edgeml_status att_run(em_kctx *c)
{
    const att_rs *R = c->rs;
    const att_state *s = c->node->state;
    if (!R) return em_fail(c, EDGEML_E_RUNTIME, "no layout for these shapes");
    em_tensor *Y = em_out(c, 0, EDGEML_FLOAT, R->orank, R->odims);
    if (!Y) return c->err && c->err->code ? c->err->code : EDGEML_E_NOMEM;
    if (!em_numel(Y)) return EDGEML_OK;
    const em_tensor *M = em_n_in(c) > 3 ? em_in(c, 3) : NULL;
    att_job J = {R, em_in(c, 0)->data, em_in(c, 1)->data, em_in(c, 2)->data, M ? M->data : NULL, Y->data,
                 s->scale, (float *)c->ws, em_sgemm_kernel_get(), em_vmath_get()};
    if (R->T <= 1) att_slots(&J, 0, 1);
    else em_parallel_for(c->pool, R->T, (size_t)R->T, 1, att_slots, &J);
    return EDGEML_OK;
}

static void att_free(void *p) { free(p); }

const em_op_entry em_nn_attention_entry = {
    .domain = "edgeml", .op_type = "Attention", .since = 1, .prepare = att_prepare, .run = att_run,
    .free_state = att_free, .reshape = att_reshape,
};
