/* The float GEMM driver (see gemm.h): kernel selection, packing, cache
 * blocking, the split over threads and the epilogue. */
#include "gemm.h"
#include "../pool.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static const em_sgemm_kernel k_scalar = {
    "4x8 scalar", EM_CPU_REFERENCE, 4, 8, 256, 256, 64, em_sgemm_ukernel_4x8__scalar, NULL,
};
#ifdef EDGEML_HAVE_X86_KERNELS
static const em_sgemm_kernel k_avx2 = {
    "6x16 avx2", EM_CPU_AVX2, 6, 16, 256, 512, 120, em_sgemm_ukernel_6x16__avx2, NULL,
};
static const em_sgemm_kernel k_avx512 = {
    "14x32 avx512", EM_CPU_AVX512, 14, 32, 256, 512, 168, em_sgemm_ukernel_14x32__avx512,
    em_sgemm_ukernel_14x32__avx512_ldb,
};
static const em_sgemm_kernel k_avx512_8x48 = {
    "8x48 avx512", EM_CPU_AVX512, 8, 48, 384, 480, 160, em_sgemm_ukernel_8x48__avx512,
    em_sgemm_ukernel_8x48__avx512_ldb,
};
#endif
#ifdef EDGEML_HAVE_NEON_KERNELS
static const em_sgemm_kernel k_neon = {
    "8x12 neon", EM_CPU_NEON, 8, 12, 256, 384, 96, em_sgemm_ukernel_8x12__neon, NULL,
};
#endif

const em_sgemm_kernel *em_sgemm_kernel_for(em_cpu_level l)
{
    switch (l) {
#ifdef EDGEML_HAVE_X86_KERNELS
    case EM_CPU_AVX512VNNI:
    case EM_CPU_AVX512: return &k_avx512;
    case EM_CPU_AVX2: return &k_avx2;
#endif
#ifdef EDGEML_HAVE_NEON_KERNELS
    case EM_CPU_NEON:
    case EM_CPU_NEONDOT: return &k_neon;
#endif
    case EM_CPU_REFERENCE:
    case EM_CPU_SSE2: return &k_scalar;
    default: return NULL;
    }
}

const em_sgemm_kernel *em_sgemm_kernel_get(void)
{
    const em_sgemm_kernel *k = em_sgemm_kernel_for(em_cpu_level_get());
    return k ? k : &k_scalar;
}

static size_t round_up(size_t x, size_t m) { return (x + m - 1) / m * m; }

const em_sgemm_kernel *em_sgemm_kernel_for_m(size_t M)
{
    const em_sgemm_kernel *k = em_sgemm_kernel_get();
#ifdef EDGEML_HAVE_X86_KERNELS
    /* 14 rows waste up to 43% on 16-64 channels; 8 rows waste nothing on
     * multiples of 8. Narrow layers work on large images (N large), where 48
     * columns waste little. */
    if (k == &k_avx512 && M <= 64 && round_up(M, 8) < round_up(M, 14)) return &k_avx512_8x48;
#endif
    (void)round_up;
    return k;
}

int em_sgemm_candidates(const em_sgemm_kernel **out, int max)
{
    int n = 0;
    const em_sgemm_kernel *k = em_sgemm_kernel_get();
    if (n < max) out[n++] = k;
#ifdef EDGEML_HAVE_X86_KERNELS
    if (k == &k_avx512 && n < max) out[n++] = &k_avx512_8x48;
#endif
    return n;
}

/* Relative throughput of each kernel on whole tiles (bench: 14x32 ~87%, 8x48
 * ~92% of peak on this project's reference machine, docs/runtime.md). */
static double kernel_eff(const em_sgemm_kernel *k)
{
    if (k->mr == 8 && k->nr == 48) return 0.92;
    return 0.87;
}

double em_sgemm_cost(const em_sgemm_kernel *k, size_t M, size_t N, size_t K)
{
    return (double)round_up(M, (size_t)k->mr) * (double)round_up(N, (size_t)k->nr) * (double)(K ? K : 1) /
           kernel_eff(k);
}

int em_sgemm_pick(const em_sgemm_kernel *const *ks, int n, size_t M, size_t N, size_t K)
{
    int best = 0;
    double best_t = 0;
    for (int i = 0; i < n; i++) {
        double rows = (double)round_up(M, (size_t)ks[i]->mr), cols = (double)round_up(N, (size_t)ks[i]->nr);
        double t = rows * cols * (double)(K ? K : 1) / kernel_eff(ks[i]);
        if (i == 0 || t < best_t * 0.97) { best = i; best_t = t; }
    }
    return best;
}

const em_sgemm_kernel *const *em_sgemm_kernels_all(void)
{
    static const em_sgemm_kernel *const all[] = {
        &k_scalar,
#ifdef EDGEML_HAVE_X86_KERNELS
        &k_avx2, &k_avx512, &k_avx512_8x48,
#endif
#ifdef EDGEML_HAVE_NEON_KERNELS
        &k_neon,
#endif
        NULL,
    };
    return all;
}

/* ---- packing --------------------------------------------------------------- */

size_t em_sgemm_packed_a_size(const em_sgemm_kernel *k, size_t M, size_t K)
{
    return round_up(M, (size_t)k->mr) * K;
}

/* Rows [i0, i0+mc) of alpha*op(A), K range [pc, pc+kc), into mr-row panels. */
static void pack_a_block(size_t mr, size_t M, const float *A, size_t lda, bool trans, float alpha,
                         size_t i0, size_t mc, size_t pc, size_t kc, float *dst)
{
    for (size_t ip = 0; ip < mc; ip += mr) {
        size_t rows = M - (i0 + ip) < mr ? M - (i0 + ip) : mr;
        if (rows > mc - ip) rows = mc - ip;
        if (!trans) {
            /* row by row: each source row is read once, contiguously */
            for (size_t i = 0; i < rows; i++) {
                const float *s = A + (i0 + ip + i) * lda + pc;
                if (alpha == 1.f)
                    for (size_t p = 0; p < kc; p++) dst[p * mr + i] = s[p];
                else
                    for (size_t p = 0; p < kc; p++) dst[p * mr + i] = alpha * s[p];
            }
            for (size_t i = rows; i < mr; i++)
                for (size_t p = 0; p < kc; p++) dst[p * mr + i] = 0.f;
        } else {
            for (size_t p = 0; p < kc; p++) {
                const float *s = A + (pc + p) * lda + i0 + ip;
                size_t i = 0;
                for (; i < rows; i++) dst[p * mr + i] = alpha * s[i];
                for (; i < mr; i++) dst[p * mr + i] = 0.f;
            }
        }
        dst += kc * mr;
    }
}

void em_sgemm_pack_a(const em_sgemm_kernel *k, size_t M, size_t K, const float *A, size_t lda,
                     bool trans, float alpha, float *dst)
{
    size_t mr = (size_t)k->mr, Mp = round_up(M, mr);
    for (size_t pc = 0; pc < K; pc += k->kc) {
        size_t kc = K - pc < k->kc ? K - pc : k->kc;
        pack_a_block(mr, M, A, lda, trans, alpha, 0, Mp, pc, kc, dst + pc * Mp);
    }
}

size_t em_sgemm_packed_b_size(const em_sgemm_kernel *k, size_t K, size_t N)
{
    return round_up(N, (size_t)k->nr) * K;
}

typedef struct plain_b {
    const float *B;
    size_t ldb, N;
    bool trans;
} plain_b;

static void pack_b_plain(const void *ctx, size_t k0, size_t kc, size_t j0, size_t nc, size_t nr,
                         float *dst)
{
    const plain_b *pb = ctx;
    for (size_t jp = 0; jp < nc; jp += nr) {
        size_t cols = nc - jp < nr ? nc - jp : nr;
        if (!pb->trans) {
            const float *s = pb->B + k0 * pb->ldb + j0 + jp;
            for (size_t p = 0; p < kc; p++) {
                size_t j = 0;
                if (cols == nr) memcpy(dst, s, nr * sizeof(float));
                else {
                    for (; j < cols; j++) dst[j] = s[j];
                    for (; j < nr; j++) dst[j] = 0.f;
                }
                s += pb->ldb;
                dst += nr;
            }
        } else {
            /* B is stored N x K */
            for (size_t p = 0; p < kc; p++) {
                size_t j = 0;
                for (; j < cols; j++) dst[j] = pb->B[(j0 + jp + j) * pb->ldb + k0 + p];
                for (; j < nr; j++) dst[j] = 0.f;
                dst += nr;
            }
        }
    }
}

void em_sgemm_pack_b(const em_sgemm_kernel *k, size_t K, size_t N, const float *B, size_t ldb,
                     bool trans, float *dst)
{
    size_t nr = (size_t)k->nr, Np = round_up(N, nr);
    plain_b pb = {B, ldb, N, trans};
    for (size_t pc = 0; pc < K; pc += k->kc) {
        size_t kc = K - pc < k->kc ? K - pc : k->kc;
        pack_b_plain(&pb, pc, kc, 0, N, nr, dst + pc * Np);
    }
}

/* ---- the split ------------------------------------------------------------- */

typedef struct split {
    size_t rt, ct;       /* row chunks x column chunks = tasks (<= threads) */
    size_t rstep, cstep; /* rows per row chunk (multiple of mr), cols per column chunk (of nr) */
} split;

static split make_split(const em_sgemm_kernel *k, size_t M, size_t N, size_t K, int threads)
{
    split s = {1, 1, round_up(M, (size_t)k->mr), round_up(N, (size_t)k->nr)};
    size_t mr = (size_t)k->mr, nr = (size_t)k->nr;
    size_t T = threads > 1 ? (size_t)threads : 1;
    /* Not worth a thread below ~64k multiply-adds per extra thread. */
    if (T > 1 && M * N * K < (size_t)65536 * 2) T = 1;
    if (T == 1) return s;
    size_t mp = (M + mr - 1) / mr, np = (N + nr - 1) / nr;
    if (np >= 2 * T) {
        s.ct = T;
    } else if (mp >= T) {
        s.rt = T;
    } else {
        s.ct = np < T ? np : T;
        s.rt = T / s.ct;
        if (s.rt > mp) s.rt = mp;
    }
    if (s.ct < 1) s.ct = 1;
    if (s.rt < 1) s.rt = 1;
    s.cstep = (np + s.ct - 1) / s.ct * nr;
    s.rstep = (mp + s.rt - 1) / s.rt * mr;
    s.ct = (N + s.cstep - 1) / s.cstep;
    s.rt = (M + s.rstep - 1) / s.rstep;
    return s;
}

static size_t task_ws_floats(const em_sgemm_kernel *k, const em_sgemm_args *a)
{
    size_t n = 0;
    if (!a->b_packed) n += round_up(k->kc * k->nc, 16);
    if (!a->a_packed) n += round_up(k->kc * round_up(k->mc, (size_t)k->mr), 16);
    return n;
}

/* Floats of B packed once for every thread (0: each task packs its own panels). When the
 * threads split the rows only, each would pack all of B: packed once instead, in parallel
 * over K blocks, when that is at most 4 MB (the few-column products: 7x7 layers). */
static size_t shared_b_floats(const em_sgemm_kernel *k, const em_sgemm_args *a, const split *s, bool at_run)
{
    if (a->b_packed || s->ct != 1 || s->rt < 2) return 0;
    /* read in place: nothing to pack. The workspace counts it anyway: callers size it
     * before they know B (its transposition, a packing callback) */
    if (at_run && !a->pack_b && !a->trans_b && k->fn_ldb) return 0;
    size_t n = em_sgemm_packed_b_size(k, a->K, a->N);
    return n * sizeof(float) <= ((size_t)4 << 20) ? n : 0;
}

size_t em_sgemm_workspace(const em_sgemm_kernel *k, const em_sgemm_args *a, int threads)
{
    split s = make_split(k, a->M, a->N, a->K, threads);
    return (s.rt * s.ct * task_ws_floats(k, a) + round_up(shared_b_floats(k, a, &s, false), 16)) * sizeof(float) + 64;
}

/* ---- the driver ------------------------------------------------------------ */

typedef struct job {
    const em_sgemm_kernel *k;
    const em_sgemm_args *a;
    split s;
    float *ws;
    size_t ws_task;
    float lo, hi;
    bool post_act;          /* activation applied after the tile (not in the microkernel) */
    bool direct_b;          /* whole B panels read in place by k->fn_ldb; only a last partial one is packed */
    plain_b pb;
} job;

static void run_task(const job *J, size_t t)
{
    const em_sgemm_kernel *k = J->k;
    const em_sgemm_args *a = J->a;
    size_t mr = (size_t)k->mr, nr = (size_t)k->nr;
    size_t M = a->M, N = a->N, K = a->K;
    size_t Mp = round_up(M, mr), Np = round_up(N, nr);
    size_t ri = t / J->s.ct, ci = t % J->s.ct;
    size_t m0 = ri * J->s.rstep, m1 = m0 + J->s.rstep < M ? m0 + J->s.rstep : M;
    size_t n0 = ci * J->s.cstep, n1 = n0 + J->s.cstep < N ? n0 + J->s.cstep : N;
    if (m0 >= m1 || n0 >= n1) return;
    float *wsb = J->ws + t * J->ws_task;
    float *wsa = wsb + (a->b_packed ? 0 : round_up(k->kc * k->nc, 16));
    em_pack_b_fn packb = a->pack_b ? a->pack_b : pack_b_plain;
    const void *pctx = a->pack_b ? a->pack_ctx : &J->pb;
    em_gemm_epi e;
    for (size_t jc = n0; jc < n1; jc += k->nc) {
        size_t ncb = n1 - jc < k->nc ? n1 - jc : k->nc;
        for (size_t pc = 0; pc < K; pc += k->kc) {
            size_t kcb = K - pc < k->kc ? K - pc : k->kc;
            const float *bp;
            size_t nfull = 0; /* columns of whole panels read in place (direct_b) */
            if (a->b_packed) bp = a->b_packed + pc * Np + jc * kcb;
            else if (J->direct_b) {
                nfull = ncb / nr * nr;
                if (nfull < ncb) packb(pctx, pc, kcb, jc + nfull, ncb - nfull, nr, wsb);
                bp = wsb - nfull * kcb; /* so that bp + jr * kcb is the packed tail at jr == nfull */
            } else {
                packb(pctx, pc, kcb, jc, ncb, nr, wsb);
                bp = wsb;
            }
            bool first = pc == 0, last = pc + kcb == K;
            size_t mstep = a->a_packed ? m1 - m0 : k->mc;
            for (size_t ic = m0; ic < m1; ic += mstep) {
                size_t mcb = m1 - ic < mstep ? m1 - ic : mstep;
                const float *ap;
                if (a->a_packed) ap = a->a_packed + pc * Mp + ic * kcb;
                else {
                    pack_a_block(mr, M, a->A, a->lda, a->trans_a, a->alpha, ic, mcb, pc, kcb, wsa);
                    ap = wsa;
                }
                /* Few B panels (narrow outputs: 7x7 layers): each A panel once for all of them,
                 * so that a large A streams from memory once, not once per B panel. */
                size_t njr = (ncb + nr - 1) / nr, nir = (mcb + mr - 1) / mr;
                bool a_outer = njr <= 4 && nir > njr;
                for (size_t o = 0; o < njr * nir; o++) {
                    size_t jr = (a_outer ? o % njr : o / nir) * nr, ir = (a_outer ? o / njr : o % nir) * mr;
                    size_t nrr = ncb - jr < nr ? ncb - jr : nr, mrr = mcb - ir < mr ? mcb - ir : mr;
                    size_t row = ic + ir, col = jc + jr;
                    e.flags = (first ? EM_EPI_FIRST : 0) | (last ? EM_EPI_LAST : 0);
                    e.row_bias = a->row_bias ? a->row_bias + row : NULL;
                    e.col_bias = a->col_bias ? a->col_bias + col : NULL;
                    e.res = a->res ? a->res + row * a->ldr + col : NULL;
                    e.ldr = a->ldr;
                    e.lo = J->lo;
                    e.hi = J->hi;
                    if (jr < nfull)
                        k->fn_ldb(kcb, ap + ir * kcb, a->B + pc * a->ldb + col, a->ldb,
                                  a->C + row * a->ldc + col, a->ldc, mrr, &e);
                    else
                        k->fn(kcb, ap + ir * kcb, bp + jr * kcb, a->C + row * a->ldc + col, a->ldc,
                              mrr, nrr, &e);
                }
                if (last && J->post_act)
                    for (size_t i = ic; i < ic + mcb; i++)
                        em_act_apply(&a->act, a->C + i * a->ldc + jc, ncb);
            }
        }
    }
}

/* Whether whole B panels are read in place rather than packed. Measured on
 * the 1x1-convolution and Winograd shapes (M 24..1280, N 49..16384, K
 * 16..512, row strides that are multiples of 4 KiB included), in place was
 * never slower and up to 25% faster: the panel streams from L2 either way
 * and packing it is a copy of B per run. EDGEML_GEMM_PACK_B=1 always packs
 * (for comparisons). */
static bool gemm_direct_b(void)
{
    static int force_pack = -1;
    if (force_pack < 0) {
        const char *v = getenv("EDGEML_GEMM_PACK_B");
        force_pack = v && *v && strcmp(v, "0") != 0;
    }
    return !force_pack;
}

typedef struct bpack_job {
    const em_sgemm_kernel *k;
    const em_sgemm_args *a;
    float *dst;
    const plain_b *pb;
} bpack_job;

/* K blocks [b, e) of B into the em_sgemm_pack_b layout. */
static void bpack_range(void *ctx, size_t b, size_t e)
{
    const bpack_job *P = ctx;
    const em_sgemm_kernel *k = P->k;
    const em_sgemm_args *a = P->a;
    size_t Np = round_up(a->N, (size_t)k->nr);
    em_pack_b_fn packb = a->pack_b ? a->pack_b : pack_b_plain;
    const void *pctx = a->pack_b ? a->pack_ctx : P->pb;
    for (size_t i = b; i < e; i++) {
        size_t pc = i * k->kc, kcb = a->K - pc < k->kc ? a->K - pc : k->kc;
        packb(pctx, pc, kcb, 0, a->N, (size_t)k->nr, P->dst + pc * Np);
    }
}

static void task_range(void *ctx, size_t b, size_t e)
{
    for (size_t t = b; t < e; t++) run_task(ctx, t);
}

/* ---- matrix-vector products on packed panels ---------------------------------- */

static void gemv_pa_ref(size_t mr, size_t kc, const float *p, const float *x, float *acc)
{
    for (size_t k = 0; k < kc; k++)
        for (size_t i = 0; i < mr; i++) acc[i] += p[k * mr + i] * x[k];
}

static void gemv_pb_ref(size_t nr, size_t kc, const float *p, const float *x, float *acc)
{
    for (size_t k = 0; k < kc; k++)
        for (size_t j = 0; j < nr; j++) acc[j] += x[k] * p[k * nr + j];
}

typedef void (*gemv_fn)(size_t, size_t, const float *, const float *, float *);

typedef struct gemv_job {
    const em_sgemm_kernel *k;
    const em_sgemm_args *a;
    float lo, hi;
    bool post_act;
    bool col;               /* N == 1 (down A panels), else M == 1 (along B panels) */
    gemv_fn fn;
    size_t panels;
} gemv_job;

/* Finishes outputs [o0, o0 + n) (stride st in C) from acc: bias, residual, activation. */
static void gemv_store(const gemv_job *J, size_t o0, size_t n, float *acc)
{
    const em_sgemm_args *a = J->a;
    for (size_t t = 0; t < n; t++) {
        size_t i = J->col ? o0 + t : 0, j = J->col ? 0 : o0 + t;
        float v = acc[t];
        if (a->row_bias) v += a->row_bias[i];
        if (a->col_bias) v += a->col_bias[j];
        if (a->res) v += a->res[i * a->ldr + j];
        acc[t] = v < J->lo ? J->lo : v > J->hi ? J->hi : v;
    }
    if (J->post_act) em_act_apply(&a->act, acc, n);
    for (size_t t = 0; t < n; t++) a->C[J->col ? (o0 + t) * a->ldc : o0 + t] = acc[t];
}

static void gemv_range(void *ctx, size_t b, size_t e)
{
    const gemv_job *J = ctx;
    const em_sgemm_kernel *k = J->k;
    const em_sgemm_args *a = J->a;
    size_t K = a->K, w = J->col ? (size_t)k->mr : (size_t)k->nr;
    size_t full = J->col ? round_up(a->M, w) : round_up(a->N, w);
    float acc[64], xs[512];
    for (size_t p = b; p < e; p++) {
        size_t o0 = p * w, n = (J->col ? a->M : a->N) - o0;
        if (n > w) n = w;
        for (size_t t = 0; t < w; t++) acc[t] = 0.f;
        for (size_t pc = 0; pc < K; pc += k->kc) {
            size_t kcb = K - pc < k->kc ? K - pc : k->kc;
            const float *x;
            /* the vector: a column of B (N == 1) or the row of A (M == 1), alpha applied */
            for (size_t q = 0; q < kcb; q += 512) {
                size_t len = kcb - q < 512 ? kcb - q : 512;
                for (size_t t = 0; t < len; t++) {
                    size_t kk = pc + q + t;
                    xs[t] = J->col ? (a->trans_b ? a->B[kk] : a->B[kk * a->ldb])
                                   : a->alpha * (a->trans_a ? a->A[kk * a->lda] : a->A[kk]);
                }
                x = xs;
                const float *panel = J->col ? a->a_packed + pc * full + o0 * kcb + q * w
                                            : a->b_packed + pc * full + o0 * kcb + q * w;
                J->fn(w, len, panel, x, acc);
            }
        }
        gemv_store(J, o0, n, acc);
    }
}

/* N == 1 with prepacked A and a plain B column, or M == 1 with prepacked B and a plain
 * A row: true when done. */
static bool try_gemv(const em_sgemm_kernel *k, const em_sgemm_args *a, float lo, float hi, bool post,
                     struct em_tpool *pool, int threads)
{
    gemv_job J = {k, a, lo, hi, post, false, NULL, 0};
    if (a->N == 1 && a->a_packed && !a->pack_b && !a->b_packed && a->B && k->mr <= 16) {
        J.col = true;
        J.panels = (a->M + (size_t)k->mr - 1) / (size_t)k->mr;
    } else if (a->M == 1 && a->b_packed && a->A && k->nr <= 64) {
        J.panels = (a->N + (size_t)k->nr - 1) / (size_t)k->nr;
    } else {
        return false;
    }
#ifdef EDGEML_HAVE_X86_KERNELS
    if (k->level >= EM_CPU_AVX512 && (J.col || k->nr % 16 == 0))
        J.fn = J.col ? em_sgemv_pa__avx512 : em_sgemv_pb__avx512;
#endif
    if (!J.fn) J.fn = J.col ? gemv_pa_ref : gemv_pb_ref;
    size_t work = J.panels * (J.col ? (size_t)k->mr : (size_t)k->nr) * a->K; /* multiply-adds */
    if (threads > 1 && work >= 65536)
        em_parallel_for(pool, threads, J.panels, 1, gemv_range, &J);
    else
        gemv_range(&J, 0, J.panels);
    return true;
}

void em_sgemm(const em_sgemm_kernel *k, const em_sgemm_args *a, void *ws, struct em_tpool *pool,
              int threads)
{
    if (a->M == 0 || a->N == 0) return;
    job J = {k, a, make_split(k, a->M, a->N, a->K, threads), NULL, task_ws_floats(k, a),
             -INFINITY, INFINITY, false, false, {a->B, a->ldb, a->N, a->trans_b}};
    J.ws = (float *)(((uintptr_t)ws + 63) & ~(uintptr_t)63);
    J.direct_b = !a->b_packed && !a->pack_b && !a->trans_b && k->fn_ldb && gemm_direct_b();
    switch (a->act.kind) {
    case EM_ACT_NONE: break;
    case EM_ACT_RELU: J.lo = 0.f; break;
    case EM_ACT_CLIP: J.lo = a->act.alpha; J.hi = a->act.beta; break;
    default: J.post_act = true; break;
    }
    if (a->K == 0) {
        /* C = epilogue(0): one pass over C. */
        for (size_t i = 0; i < a->M; i++) {
            float *cr = a->C + i * a->ldc;
            for (size_t j = 0; j < a->N; j++) {
                float v = (a->row_bias ? a->row_bias[i] : 0.f) + (a->col_bias ? a->col_bias[j] : 0.f);
                if (a->res) v += a->res[i * a->ldr + j];
                v = v < J.lo ? J.lo : v > J.hi ? J.hi : v;
                cr[j] = v;
            }
            if (J.post_act) em_act_apply(&a->act, cr, a->N);
        }
        return;
    }
    if (try_gemv(k, a, J.lo, J.hi, J.post_act, pool, threads)) return;
    size_t tasks = J.s.rt * J.s.ct;
    size_t nb = tasks > 1 ? shared_b_floats(k, a, &J.s, true) : 0;
    em_sgemm_args a2;
    if (nb) {
        /* B packed once, K blocks in parallel, then every task reads it prepacked */
        bpack_job P = {k, a, J.ws + tasks * J.ws_task, &J.pb};
        em_parallel_for(pool, threads, (a->K + k->kc - 1) / k->kc, 1, bpack_range, &P);
        a2 = *a;
        a2.b_packed = P.dst;
        a2.pack_b = NULL;
        J.a = &a2;
        J.direct_b = false;
    }
    if (tasks <= 1) run_task(&J, 0);
    else em_parallel_for(pool, threads, tasks, 1, task_range, &J);
}
