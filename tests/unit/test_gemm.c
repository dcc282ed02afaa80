/* The float GEMM engine (src/infer/cpu/gemm.c): every microkernel the host
 * supports, against a naive double-precision product, on random shapes with
 * tails in M, N and K, plain/prepacked/callback-packed operands, transposes,
 * every epilogue, and 1..3 threads (results must not depend on the count). */
#include "cpu/gemm.h"
#include "pool.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>

static int g_fail, g_checks;
#define CHECK(cond, ...) do { g_checks++; if (!(cond)) { g_fail++; fprintf(stderr, "FAIL: " __VA_ARGS__); fputc('\n', stderr); } } while (0)

static uint64_t g_rng = 12345;
static float frand(void)
{
    g_rng = g_rng * 6364136223846793005ull + 1442695040888963407ull;
    return (float)((double)(g_rng >> 40) / (double)(1ull << 24) * 2.0 - 1.0);
}
static size_t urand(size_t n)
{
    g_rng = g_rng * 6364136223846793005ull + 1442695040888963407ull;
    return (size_t)((g_rng >> 33) % n);
}

static void *xalloc(size_t bytes)
{
    void *p = aligned_alloc(64, (bytes + 63) / 64 * 64 + 64);
    if (!p) { fprintf(stderr, "out of memory\n"); exit(2); }
    return p;
}

static float ref_act(const em_act *a, float v)
{
    em_act_apply(a, &v, 1);
    return v;
}

static void one(const em_sgemm_kernel *k, em_tpool *pool, size_t M, size_t N, size_t K, int mode)
{
    bool ta = mode & 1, tb = mode & 2, prea = mode & 4, preb = mode & 8;
    bool rowb = mode & 16, colb = mode & 32, res = mode & 64;
    int actk = (mode >> 7) % 4; /* none, relu, clip, sigmoid */
    float alpha = (mode & 1024) ? 0.5f : 1.f;
    size_t lda = (ta ? M : K) + (mode & 2048 ? 3 : 0), ldb = (tb ? K : N) + (mode & 2048 ? 5 : 0);
    size_t ldc = N + (mode & 2048 ? 7 : 0);
    float *A = xalloc(sizeof(float) * (ta ? K * lda : M * lda + 1));
    float *B = xalloc(sizeof(float) * (tb ? N * ldb : K * ldb + 1));
    float *rb = xalloc(sizeof(float) * (M + 1)), *cb = xalloc(sizeof(float) * (N + 1));
    float *R = xalloc(sizeof(float) * (M * N + 1));
    for (size_t i = 0; i < (ta ? K * lda : M * lda); i++) A[i] = frand();
    for (size_t i = 0; i < (tb ? N * ldb : K * ldb); i++) B[i] = frand();
    for (size_t i = 0; i < M; i++) rb[i] = frand();
    for (size_t i = 0; i < N; i++) cb[i] = frand();
    for (size_t i = 0; i < M * N; i++) R[i] = frand();
    em_act act = {EM_ACT_NONE, 0, 0};
    if (actk == 1) act.kind = EM_ACT_RELU;
    if (actk == 2) { act.kind = EM_ACT_CLIP; act.alpha = -0.25f; act.beta = 0.5f; }
    if (actk == 3) act.kind = EM_ACT_SIGMOID;
    float *ap = NULL, *bp = NULL;
    if (prea) {
        ap = xalloc(sizeof(float) * em_sgemm_packed_a_size(k, M, K));
        em_sgemm_pack_a(k, M, K, A, lda, ta, alpha, ap);
    }
    if (preb) {
        bp = xalloc(sizeof(float) * em_sgemm_packed_b_size(k, K, N));
        em_sgemm_pack_b(k, K, N, B, ldb, tb, bp);
    }
    float *C1 = NULL;
    for (int threads = 1; threads <= 3; threads++) {
        float *C = xalloc(sizeof(float) * (M * ldc + 1));
        for (size_t i = 0; i < M * ldc; i++) C[i] = NAN; /* write-only */
        em_sgemm_args a = {
            .M = M, .N = N, .K = K, .a_packed = ap, .A = A, .lda = lda, .trans_a = ta, .alpha = alpha,
            .b_packed = bp, .B = B, .ldb = ldb, .trans_b = tb, .C = C, .ldc = ldc,
            .row_bias = rowb ? rb : NULL, .col_bias = colb ? cb : NULL, .res = res ? R : NULL,
            .ldr = N, .act = act,
        };
        void *ws = xalloc(em_sgemm_workspace(k, &a, threads));
        em_sgemm(k, &a, ws, threads > 1 ? pool : NULL, threads);
        free(ws);
        double maxerr = 0;
        size_t bad = 0;
        for (size_t i = 0; i < M; i++)
            for (size_t j = 0; j < N; j++) {
                double s = 0, mag = 0;
                for (size_t p = 0; p < K; p++) {
                    double x = ta ? A[p * lda + i] : A[i * lda + p];
                    double y = tb ? B[j * ldb + p] : B[p * ldb + j];
                    s += (double)alpha * x * y;
                    mag += fabs(x * y);
                }
                if (rowb) s += rb[i];
                if (colb) s += cb[j];
                if (res) s += R[i * N + j];
                double want = ref_act(&act, (float)s);
                double got = C[i * ldc + j];
                double err = fabs(got - want), tol = 1e-5 * (mag + 3) + 1e-6;
                if (!(err <= tol)) bad++;
                if (err > maxerr || isnan(got)) maxerr = isnan(got) ? INFINITY : err;
            }
        CHECK(bad == 0, "%s M=%zu N=%zu K=%zu mode=%d threads=%d: %zu wrong, max err %g", k->name, M, N,
              K, mode, threads, bad, maxerr);
        if (threads == 1) C1 = C;
        else {
            size_t diff = 0;
            for (size_t i = 0; i < M; i++)
                for (size_t j = 0; j < N; j++)
                    if (memcmp(&C[i * ldc + j], &C1[i * ldc + j], sizeof(float))) diff++;
            CHECK(diff == 0, "%s M=%zu N=%zu K=%zu: %d threads differ from 1 in %zu elements", k->name, M,
                  N, K, threads, diff);
            free(C);
        }
    }
    free(C1);
    free(A); free(B); free(rb); free(cb); free(R); free(ap); free(bp);
}

int main(void)
{
    em_tpool *pool = em_tpool_create(2);
    const em_sgemm_kernel *const *all = em_sgemm_kernels_all();
    int tested = 0;
    for (size_t li = 0; all[li]; li++) {
        const em_sgemm_kernel *k = all[li];
        if (!em_cpu_has(k->level)) {
            printf("gemm: %s not available on this CPU: skipped\n", k->name);
            continue;
        }
        tested++;
        int before = g_fail;
        /* em_sgemm_packed_a_index agrees with em_sgemm_pack_a (Winograd packs through it) */
        {
            size_t M = 2 * (size_t)k->mr + 3, K = k->kc + 37;
            float *A = xalloc(M * K * 4), *P = xalloc(em_sgemm_packed_a_size(k, M, K) * 4);
            for (size_t i = 0; i < M * K; i++) A[i] = (float)i;
            em_sgemm_pack_a(k, M, K, A, K, false, 1.f, P);
            size_t bad = 0;
            for (size_t m = 0; m < M; m++)
                for (size_t kk = 0; kk < K; kk++) bad += P[em_sgemm_packed_a_index(k, M, K, m, kk)] != A[m * K + kk];
            CHECK(bad == 0, "%s: packed_a_index disagrees with pack_a in %zu places", k->name, bad);
            free(A);
            free(P);
        }
        /* Edges: exact tiles, one past, K across blocks, tiny. */
        size_t shapes[][3] = {
            {1, 1, 1}, {(size_t)k->mr, (size_t)k->nr, 1}, {(size_t)k->mr + 1, (size_t)k->nr + 1, 7},
            {37, 53, 300}, {64, 3136 / 8, 64}, {5, 1000, 3}, {130, 17, 513}, {1, 70, 40}, {3, 2, 0},
            {50, 1, 300}, {1, 100, 700}, {33, 1, 5}, {1, 1000, 1024}, {576, 1, 144},
        };
        for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++)
            for (int mode = 0; mode < 4096; mode += 1 + (int)urand(300))
                one(k, pool, shapes[s][0], shapes[s][1], shapes[s][2], mode);
        for (int r = 0; r < 40; r++)
            one(k, pool, 1 + urand(90), 1 + urand(150), urand(600), (int)urand(4096));
        printf("gemm: %s: %s\n", k->name, g_fail == before ? "ok" : "FAILED");
    }
    em_tpool_free(pool);
    printf("gemm: %d kernels, %d checks, %d failed\n", tested, g_checks, g_fail);
    return g_fail ? 1 : 0;
}
