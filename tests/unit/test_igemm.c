/* Unit test of the 8-bit integer GEMM (src/infer/ops/nn_igemm.c): every
 * available micro-kernel variant against a naive triple loop (int64 sums
 * reduced modulo 2^32, i.e. the ONNX int32 accumulation). */
#include "nn.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static uint64_t rng = 0x9e3779b97f4a7c15ull;
static uint32_t rnd(void)
{
    rng ^= rng << 13; rng ^= rng >> 7; rng ^= rng << 17;
    return (uint32_t)(rng >> 11);
}

static int32_t elem(const nn_iop *o, size_t r, size_t c)
{
    size_t i = r * o->ld + c;
    return o->is_signed ? ((const int8_t *)o->p)[i] : ((const uint8_t *)o->p)[i];
}

static void naive(size_t M, size_t N, size_t K, const nn_iop *A, const nn_iop *B, int32_t *C, size_t ldc)
{
    for (size_t i = 0; i < M; i++)
        for (size_t j = 0; j < N; j++) {
            int64_t s = 0;
            int32_t az = A->zp ? A->zp[A->zp_per ? i : 0] : 0;
            int32_t bz = B->zp ? B->zp[B->zp_per ? j : 0] : 0;
            for (size_t k = 0; k < K; k++) s += (int64_t)(elem(A, i, k) - az) * (elem(B, k, j) - bz);
            C[i * ldc + j] = (int32_t)(uint32_t)(uint64_t)s;
        }
}

static const char *vname(int v) { return v == NN_IGEMM_AUTO ? "auto" : v == NN_IGEMM_REF ? "ref" : "avx2"; }

static int fails, cases;

/* mode: 0 random, 1 extreme values (overflow of int32 with large K) */
static void run_case(size_t M, size_t N, size_t K, int asg, int bsg, int azmode, int bzmode, int mode)
{
    size_t lda = K + (rnd() % 3 == 0 ? rnd() % 5 : 0);
    size_t ldb = N + (rnd() % 3 == 0 ? rnd() % 5 : 0);
    size_t ldc = N + (rnd() % 3 == 0 ? rnd() % 4 : 0);
    uint8_t *a = malloc(M * lda + 1), *b = malloc(K * ldb + 1);
    int32_t *azp = malloc((M + 1) * sizeof(int32_t)), *bzp = malloc((N + 1) * sizeof(int32_t));
    int32_t *want = malloc((M * ldc + 1) * sizeof(int32_t)), *got = malloc((M * ldc + 1) * sizeof(int32_t));
    if (!a || !b || !azp || !bzp || !want || !got) { fprintf(stderr, "OOM\n"); exit(1); }
    for (size_t i = 0; i < M * lda; i++) a[i] = mode ? (asg ? 0x80 : 0xff) : (uint8_t)rnd();
    for (size_t i = 0; i < K * ldb; i++) b[i] = mode ? (bsg ? 0x7f : 0x00) : (uint8_t)rnd();
    for (size_t i = 0; i <= M; i++) azp[i] = mode ? (asg ? 127 : 0) : (asg ? (int8_t)rnd() : (uint8_t)rnd());
    for (size_t i = 0; i <= N; i++) bzp[i] = mode ? (bsg ? -128 : 255) : (bsg ? (int8_t)rnd() : (uint8_t)rnd());
    nn_iop A = {a, lda, asg != 0, azmode ? azp : NULL, azmode == 2};
    nn_iop B = {b, ldb, bsg != 0, bzmode ? bzp : NULL, bzmode == 2};
    naive(M, N, K, &A, &B, want, ldc);
    for (int v = 0; v < NN_IGEMM_NVARIANTS; v++) {
        if (!nn_igemm_available(v)) continue;
        cases++;
        for (size_t i = 0; i < M * ldc + 1; i++) got[i] = 0x5a5a5a5a;
        bool ok = v == NN_IGEMM_AUTO ? nn_igemm(M, N, K, &A, &B, got, ldc)
                                     : nn_igemm_variant(v, M, N, K, &A, &B, got, ldc);
        size_t bad = (size_t)-1;
        for (size_t i = 0; ok && i < M && bad == (size_t)-1; i++)
            for (size_t j = 0; j < N; j++)
                if (got[i * ldc + j] != want[i * ldc + j]) { bad = i * ldc + j; break; }
        /* padding columns between rows and after the end must be untouched */
        for (size_t i = 0; ok && bad == (size_t)-1 && i < M * ldc + 1; i++)
            if ((i >= M * ldc || i % ldc >= N) && got[i] != 0x5a5a5a5a) bad = i;
        if (!ok || bad != (size_t)-1) {
            fails++;
            fprintf(stderr, "FAIL %s M=%zu N=%zu K=%zu lda=%zu ldb=%zu ldc=%zu a%s b%s azp=%d bzp=%d mode=%d",
                    vname(v), M, N, K, lda, ldb, ldc, asg ? "s8" : "u8", bsg ? "s8" : "u8", azmode, bzmode, mode);
            if (!ok) fprintf(stderr, ": returned false\n");
            else fprintf(stderr, ": at %zu got %d want %d\n", bad, got[bad], bad < M * ldc ? want[bad] : 0x5a5a5a5a);
        }
    }
    free(a); free(b); free(azp); free(bzp); free(want); free(got);
}

int main(void)
{
    printf("igemm variants:");
    for (int v = 0; v < NN_IGEMM_NVARIANTS; v++)
        if (nn_igemm_available(v)) printf(" %s", vname(v));
    printf("\n");
    static const size_t fixed[][3] = {
        {0, 0, 0}, {0, 5, 3}, {4, 0, 3}, {3, 4, 0}, {1, 1, 1}, {1, 17, 1}, {7, 1, 1}, {6, 16, 2},
        {6, 16, 1}, {5, 15, 3}, {7, 17, 5}, {13, 33, 27}, {1, 100, 64}, {100, 1, 64},
        {97, 1030, 9}, {100, 1100, 1030}, {12, 48, 513}, {96, 16, 512}, {95, 17, 1023},
    };
    for (size_t f = 0; f < sizeof fixed / sizeof fixed[0]; f++)
        for (int s = 0; s < 4; s++)
            run_case(fixed[f][0], fixed[f][1], fixed[f][2], s & 1, s >> 1, (int)(rnd() % 3), (int)(rnd() % 3), 0);
    for (int t = 0; t < 300; t++) {
        size_t M = rnd() % 40, N = rnd() % 70, K = rnd() % 80;
        if (t % 10 == 0) { M = 1 + rnd() % 200; N = 1 + rnd() % 300; K = 1 + rnd() % 1200; }
        run_case(M, N, K, (int)(rnd() & 1), (int)(rnd() & 1), (int)(rnd() % 3), (int)(rnd() % 3), 0);
    }
    /* int32 wrap-around: (0-127)*(127+128) * K and 255*(0-255) * K exceed 2^31 */
    for (int s = 0; s < 4; s++) run_case(3, 19, 40000, s & 1, s >> 1, 2, 1, 1);
    printf("%d variant runs, %d failures\n", cases, fails);
    return fails ? 1 : 0;
}
