/* Blocked single-precision GEMM (packing + 6x16 register micro-kernel), with an
 * AVX2/FMA micro-kernel selected at run time on x86-64, and a simple double GEMM. */
#include "nn.h"

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>
#define NN_HAVE_AVX2_KERNEL 1
#endif

#define MR 6
#define NR 16
#define KC 256
#define MC 120
#define NC 2048

typedef float nn_v8 __attribute__((vector_size(32)));

#define V8_LOAD(v, p) memcpy(&(v), (p), sizeof(nn_v8))
#define v8_store(p, v) memcpy((p), &(v), sizeof(nn_v8))
#define V8_SPLAT(v, x) do { float x_ = (x); (v) = (nn_v8){x_, x_, x_, x_, x_, x_, x_, x_}; } while (0)

/* acc (MR x NR, row-major in `out`) = A panel (MR x kc, column-interleaved) * B panel (kc x NR). */
static void ukern_generic(size_t kc, const float *a, const float *b, float *out)
{
    nn_v8 c00 = {0}, c01 = {0}, c10 = {0}, c11 = {0}, c20 = {0}, c21 = {0};
    nn_v8 c30 = {0}, c31 = {0}, c40 = {0}, c41 = {0}, c50 = {0}, c51 = {0};
    for (size_t p = 0; p < kc; p++) {
        nn_v8 b0, b1, t;
        V8_LOAD(b0, b); V8_LOAD(b1, b + 8);
        V8_SPLAT(t, a[0]); c00 += t * b0; c01 += t * b1;
        V8_SPLAT(t, a[1]); c10 += t * b0; c11 += t * b1;
        V8_SPLAT(t, a[2]); c20 += t * b0; c21 += t * b1;
        V8_SPLAT(t, a[3]); c30 += t * b0; c31 += t * b1;
        V8_SPLAT(t, a[4]); c40 += t * b0; c41 += t * b1;
        V8_SPLAT(t, a[5]); c50 += t * b0; c51 += t * b1;
        a += MR;
        b += NR;
    }
    v8_store(out + 0 * NR, c00); v8_store(out + 0 * NR + 8, c01);
    v8_store(out + 1 * NR, c10); v8_store(out + 1 * NR + 8, c11);
    v8_store(out + 2 * NR, c20); v8_store(out + 2 * NR + 8, c21);
    v8_store(out + 3 * NR, c30); v8_store(out + 3 * NR + 8, c31);
    v8_store(out + 4 * NR, c40); v8_store(out + 4 * NR + 8, c41);
    v8_store(out + 5 * NR, c50); v8_store(out + 5 * NR + 8, c51);
}

#ifdef NN_HAVE_AVX2_KERNEL
__attribute__((target("avx2,fma")))
static void ukern_avx2(size_t kc, const float *a, const float *b, float *out)
{
    __m256 c00 = _mm256_setzero_ps(), c01 = _mm256_setzero_ps();
    __m256 c10 = _mm256_setzero_ps(), c11 = _mm256_setzero_ps();
    __m256 c20 = _mm256_setzero_ps(), c21 = _mm256_setzero_ps();
    __m256 c30 = _mm256_setzero_ps(), c31 = _mm256_setzero_ps();
    __m256 c40 = _mm256_setzero_ps(), c41 = _mm256_setzero_ps();
    __m256 c50 = _mm256_setzero_ps(), c51 = _mm256_setzero_ps();
    for (size_t p = 0; p < kc; p++) {
        __m256 b0 = _mm256_loadu_ps(b), b1 = _mm256_loadu_ps(b + 8);
        __m256 t;
        t = _mm256_broadcast_ss(a + 0); c00 = _mm256_fmadd_ps(t, b0, c00); c01 = _mm256_fmadd_ps(t, b1, c01);
        t = _mm256_broadcast_ss(a + 1); c10 = _mm256_fmadd_ps(t, b0, c10); c11 = _mm256_fmadd_ps(t, b1, c11);
        t = _mm256_broadcast_ss(a + 2); c20 = _mm256_fmadd_ps(t, b0, c20); c21 = _mm256_fmadd_ps(t, b1, c21);
        t = _mm256_broadcast_ss(a + 3); c30 = _mm256_fmadd_ps(t, b0, c30); c31 = _mm256_fmadd_ps(t, b1, c31);
        t = _mm256_broadcast_ss(a + 4); c40 = _mm256_fmadd_ps(t, b0, c40); c41 = _mm256_fmadd_ps(t, b1, c41);
        t = _mm256_broadcast_ss(a + 5); c50 = _mm256_fmadd_ps(t, b0, c50); c51 = _mm256_fmadd_ps(t, b1, c51);
        a += MR;
        b += NR;
    }
    _mm256_storeu_ps(out + 0 * NR, c00); _mm256_storeu_ps(out + 0 * NR + 8, c01);
    _mm256_storeu_ps(out + 1 * NR, c10); _mm256_storeu_ps(out + 1 * NR + 8, c11);
    _mm256_storeu_ps(out + 2 * NR, c20); _mm256_storeu_ps(out + 2 * NR + 8, c21);
    _mm256_storeu_ps(out + 3 * NR, c30); _mm256_storeu_ps(out + 3 * NR + 8, c31);
    _mm256_storeu_ps(out + 4 * NR, c40); _mm256_storeu_ps(out + 4 * NR + 8, c41);
    _mm256_storeu_ps(out + 5 * NR, c50); _mm256_storeu_ps(out + 5 * NR + 8, c51);
}
#endif

typedef void (*ukern_fn)(size_t, const float *, const float *, float *);

static ukern_fn pick_kernel(void)
{
#ifdef NN_HAVE_AVX2_KERNEL
    static int have = -1; /* benign race: every thread computes the same value */
    if (have < 0) {
        __builtin_cpu_init();
        have = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
    }
    if (have) return ukern_avx2;
#endif
    return ukern_generic;
}

/* Packs op(B)[pc:pc+kc, jc:jc+nc] into NR-wide panels (zero padded). */
static void pack_b(bool tb, const float *B, size_t ldb, size_t pc, size_t kc, size_t jc,
                   size_t nc, float *dst)
{
    for (size_t j0 = 0; j0 < nc; j0 += NR) {
        size_t nr = nc - j0 < NR ? nc - j0 : NR;
        if (!tb) {
            const float *src = B + pc * ldb + jc + j0;
            for (size_t p = 0; p < kc; p++) {
                const float *s = src + p * ldb;
                if (nr == NR) memcpy(dst, s, NR * sizeof(float));
                else {
                    size_t j = 0;
                    for (; j < nr; j++) dst[j] = s[j];
                    for (; j < NR; j++) dst[j] = 0.f;
                }
                dst += NR;
            }
        } else {
            /* B is stored N x K */
            for (size_t p = 0; p < kc; p++) {
                size_t j = 0;
                for (; j < nr; j++) dst[j] = B[(jc + j0 + j) * ldb + pc + p];
                for (; j < NR; j++) dst[j] = 0.f;
                dst += NR;
            }
        }
    }
}

/* Packs op(A)[ic:ic+mc, pc:pc+kc] into MR-tall panels (zero padded). */
static void pack_a(bool ta, const float *A, size_t lda, size_t ic, size_t mc, size_t pc,
                   size_t kc, float *dst)
{
    for (size_t i0 = 0; i0 < mc; i0 += MR) {
        size_t mr = mc - i0 < MR ? mc - i0 : MR;
        if (!ta) {
            const float *rows[MR];
            for (size_t i = 0; i < MR; i++) rows[i] = A + (ic + i0 + (i < mr ? i : 0)) * lda + pc;
            for (size_t p = 0; p < kc; p++) {
                size_t i = 0;
                for (; i < mr; i++) dst[i] = rows[i][p];
                for (; i < MR; i++) dst[i] = 0.f;
                dst += MR;
            }
        } else {
            /* A is stored K x M */
            for (size_t p = 0; p < kc; p++) {
                const float *s = A + (pc + p) * lda + ic + i0;
                size_t i = 0;
                for (; i < mr; i++) dst[i] = s[i];
                for (; i < MR; i++) dst[i] = 0.f;
                dst += MR;
            }
        }
    }
}

static void scale_c(size_t M, size_t N, float beta, float *C, size_t ldc)
{
    for (size_t i = 0; i < M; i++) {
        float *r = C + i * ldc;
        if (beta == 0.f) for (size_t j = 0; j < N; j++) r[j] = 0.f;
        else if (beta != 1.f) for (size_t j = 0; j < N; j++) r[j] *= beta;
    }
}

bool nn_sgemm(bool trans_a, bool trans_b, size_t M, size_t N, size_t K, float alpha,
              const float *A, size_t lda, const float *B, size_t ldb, float beta,
              float *C, size_t ldc)
{
    if (M == 0 || N == 0) return true;
    if (K == 0 || alpha == 0.f) {
        scale_c(M, N, beta, C, ldc);
        return true;
    }
    /* Tiny problems: direct loops avoid the packing cost. */
    if (M * N * K <= 4096) {
        for (size_t i = 0; i < M; i++)
            for (size_t j = 0; j < N; j++) {
                float s = 0.f;
                for (size_t p = 0; p < K; p++) {
                    float a = trans_a ? A[p * lda + i] : A[i * lda + p];
                    float b = trans_b ? B[j * ldb + p] : B[p * ldb + j];
                    s += a * b;
                }
                float *d = C + i * ldc + j;
                *d = alpha * s + (beta == 0.f ? 0.f : beta * *d);
            }
        return true;
    }
    /* Row vector times matrix (fully connected layers at batch 1). */
    if (M == 1) {
        float *acc = malloc(N * sizeof(float));
        if (!acc) return false;
        if (trans_b) {
            for (size_t j = 0; j < N; j++) {
                const float *br = B + j * ldb;
                float s0 = 0.f, s1 = 0.f, s2 = 0.f, s3 = 0.f;
                size_t p = 0;
                if (!trans_a)
                    for (; p + 4 <= K; p += 4) {
                        s0 += A[p] * br[p]; s1 += A[p + 1] * br[p + 1];
                        s2 += A[p + 2] * br[p + 2]; s3 += A[p + 3] * br[p + 3];
                    }
                for (; p < K; p++) s0 += (trans_a ? A[p * lda] : A[p]) * br[p];
                acc[j] = (s0 + s1) + (s2 + s3);
            }
        } else {
            for (size_t j = 0; j < N; j++) acc[j] = 0.f;
            for (size_t p = 0; p < K; p++) {
                float a = trans_a ? A[p * lda] : A[p];
                const float *br = B + p * ldb;
                for (size_t j = 0; j < N; j++) acc[j] += a * br[j];
            }
        }
        for (size_t j = 0; j < N; j++) C[j] = alpha * acc[j] + (beta == 0.f ? 0.f : beta * C[j]);
        free(acc);
        return true;
    }
    size_t ncap = N < NC ? ((N + NR - 1) / NR) * NR : NC;
    size_t kcap = K < KC ? K : KC;
    size_t mcap = M < MC ? ((M + MR - 1) / MR) * MR : MC;
    float *bp = aligned_alloc(64, ((kcap * ncap * sizeof(float)) + 63) / 64 * 64);
    float *ap = aligned_alloc(64, ((kcap * mcap * sizeof(float)) + 63) / 64 * 64);
    if (!bp || !ap) { free(bp); free(ap); return false; }
    ukern_fn uk = pick_kernel();
    float tmp[MR * NR] __attribute__((aligned(32)));
    for (size_t jc = 0; jc < N; jc += NC) {
        size_t nc = N - jc < NC ? N - jc : NC;
        for (size_t pc = 0; pc < K; pc += KC) {
            size_t kc = K - pc < KC ? K - pc : KC;
            bool first = pc == 0;
            pack_b(trans_b, B, ldb, pc, kc, jc, nc, bp);
            for (size_t ic = 0; ic < M; ic += MC) {
                size_t mc = M - ic < MC ? M - ic : MC;
                pack_a(trans_a, A, lda, ic, mc, pc, kc, ap);
                for (size_t jr = 0; jr < nc; jr += NR) {
                    size_t nr = nc - jr < NR ? nc - jr : NR;
                    const float *bpan = bp + jr * kc;
                    for (size_t ir = 0; ir < mc; ir += MR) {
                        size_t mr = mc - ir < MR ? mc - ir : MR;
                        uk(kc, ap + ir * kc, bpan, tmp);
                        float *cb = C + (ic + ir) * ldc + jc + jr;
                        for (size_t i = 0; i < mr; i++) {
                            float *cr = cb + i * ldc;
                            const float *t = tmp + i * NR;
                            if (!first || beta == 1.f) {
                                if (alpha == 1.f) for (size_t j = 0; j < nr; j++) cr[j] += t[j];
                                else for (size_t j = 0; j < nr; j++) cr[j] += alpha * t[j];
                            } else if (beta == 0.f) {
                                for (size_t j = 0; j < nr; j++) cr[j] = alpha * t[j];
                            } else {
                                for (size_t j = 0; j < nr; j++) cr[j] = alpha * t[j] + beta * cr[j];
                            }
                        }
                    }
                }
            }
        }
    }
    free(bp);
    free(ap);
    return true;
}

void nn_dgemm(bool trans_a, bool trans_b, size_t M, size_t N, size_t K, double alpha,
              const double *A, size_t lda, const double *B, size_t ldb, double beta,
              double *C, size_t ldc)
{
    for (size_t i = 0; i < M; i++) {
        double *cr = C + i * ldc;
        if (beta == 0.0) for (size_t j = 0; j < N; j++) cr[j] = 0.0;
        else if (beta != 1.0) for (size_t j = 0; j < N; j++) cr[j] *= beta;
        if (!trans_b) {
            for (size_t p = 0; p < K; p++) {
                double a = alpha * (trans_a ? A[p * lda + i] : A[i * lda + p]);
                const double *br = B + p * ldb;
                for (size_t j = 0; j < N; j++) cr[j] += a * br[j];
            }
        } else {
            for (size_t j = 0; j < N; j++) {
                const double *bc = B + j * ldb;
                double s = 0.0;
                for (size_t p = 0; p < K; p++) s += (trans_a ? A[p * lda + i] : A[i * lda + p]) * bc[p];
                cr[j] += alpha * s;
            }
        }
    }
}
