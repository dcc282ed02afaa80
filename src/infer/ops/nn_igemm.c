/* Exact 8-bit integer GEMM for ConvInteger / MatMulInteger / QLinearConv /
 * QLinearMatMul: C[i, j] = sum_k (A[i, k] - azp[i]) * (B[k, j] - bzp[j]) with
 * int32 (wrapping, i.e. modulo 2^32) accumulation, as the ONNX spec defines.
 *
 * Operands are packed into int16 panels with their zero points already
 * subtracted (every value is then in [-255, 255]); K is taken in pairs, the two
 * values of a pair adjacent, so one pair-product sum (at most 2 * 255^2) fits an
 * int32 and maps onto vpmaddwd on x86 (AVX2 micro-kernel chosen at run time) or
 * onto widening multiply-adds that gcc auto-vectorises in the portable kernel. */
#include "nn.h"

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>
#define NN_IG_HAVE_AVX2 1
#endif

#define IG_MR 6
#define IG_NR 16
#define IG_KC 512   /* multiple of 2 */
#define IG_MC 96    /* multiple of IG_MR */
#define IG_NC 1024  /* multiple of IG_NR */

/* out (IG_MR x IG_NR, row stride ldo) = (add ? out : 0) + A panel * B panel over
 * kp pairs of k (wrapping). A panel: per pair, IG_MR rows x 2 int16; B panel: per
 * pair, IG_NR columns x 2 int16. */
typedef void (*ig_ukern_fn)(size_t kp, const int16_t *a, const int16_t *b, int32_t *out,
                            size_t ldo, bool add);

static void ig_ukern_ref(size_t kp, const int16_t *a, const int16_t *b, int32_t *out,
                         size_t ldo, bool add)
{
    uint32_t acc[IG_MR][IG_NR];
    for (int i = 0; i < IG_MR; i++)
        for (int j = 0; j < IG_NR; j++) acc[i][j] = 0;
    for (size_t p = 0; p < kp; p++) {
        int16_t b0[IG_NR], b1[IG_NR];
        for (int j = 0; j < IG_NR; j++) { b0[j] = b[2 * j]; b1[j] = b[2 * j + 1]; }
        for (int i = 0; i < IG_MR; i++) {
            int32_t a0 = a[2 * i], a1 = a[2 * i + 1];
            for (int j = 0; j < IG_NR; j++)
                acc[i][j] += (uint32_t)(a0 * (int32_t)b0[j] + a1 * (int32_t)b1[j]);
        }
        a += 2 * IG_MR;
        b += 2 * IG_NR;
    }
    for (int i = 0; i < IG_MR; i++) {
        int32_t *o = out + i * ldo;
        if (add) for (int j = 0; j < IG_NR; j++) o[j] = (int32_t)((uint32_t)o[j] + acc[i][j]);
        else for (int j = 0; j < IG_NR; j++) o[j] = (int32_t)acc[i][j];
    }
}

#ifdef NN_IG_HAVE_AVX2
__attribute__((target("avx2")))
static void ig_ukern_avx2(size_t kp, const int16_t *a, const int16_t *b, int32_t *out,
                          size_t ldo, bool add)
{
    __m256i c00 = _mm256_setzero_si256(), c01 = _mm256_setzero_si256();
    __m256i c10 = _mm256_setzero_si256(), c11 = _mm256_setzero_si256();
    __m256i c20 = _mm256_setzero_si256(), c21 = _mm256_setzero_si256();
    __m256i c30 = _mm256_setzero_si256(), c31 = _mm256_setzero_si256();
    __m256i c40 = _mm256_setzero_si256(), c41 = _mm256_setzero_si256();
    __m256i c50 = _mm256_setzero_si256(), c51 = _mm256_setzero_si256();
    for (size_t p = 0; p < kp; p++) {
        __m256i b0 = _mm256_loadu_si256((const __m256i *)b);
        __m256i b1 = _mm256_loadu_si256((const __m256i *)(b + 16));
        __m256i t;
        int32_t w;
#define IG_ROW(r, x0, x1)                                                          \
        memcpy(&w, a + 2 * (r), sizeof w);                                         \
        t = _mm256_set1_epi32(w);                                                  \
        x0 = _mm256_add_epi32(x0, _mm256_madd_epi16(t, b0));                       \
        x1 = _mm256_add_epi32(x1, _mm256_madd_epi16(t, b1));
        IG_ROW(0, c00, c01) IG_ROW(1, c10, c11) IG_ROW(2, c20, c21)
        IG_ROW(3, c30, c31) IG_ROW(4, c40, c41) IG_ROW(5, c50, c51)
#undef IG_ROW
        a += 2 * IG_MR;
        b += 2 * IG_NR;
    }
    /* madd output lane l of b0 is column l (pairs are per column). */
#define IG_STORE(r, x0, x1)                                                                    \
    do {                                                                                       \
        __m256i *o0 = (__m256i *)(out + (r) * ldo), *o1 = (__m256i *)(out + (r) * ldo + 8);    \
        if (add) {                                                                             \
            x0 = _mm256_add_epi32(x0, _mm256_loadu_si256(o0));                                 \
            x1 = _mm256_add_epi32(x1, _mm256_loadu_si256(o1));                                 \
        }                                                                                      \
        _mm256_storeu_si256(o0, x0);                                                           \
        _mm256_storeu_si256(o1, x1);                                                           \
    } while (0)
    IG_STORE(0, c00, c01); IG_STORE(1, c10, c11); IG_STORE(2, c20, c21);
    IG_STORE(3, c30, c31); IG_STORE(4, c40, c41); IG_STORE(5, c50, c51);
#undef IG_STORE
}
#endif

bool nn_igemm_available(int variant)
{
    switch (variant) {
    case NN_IGEMM_AUTO:
    case NN_IGEMM_REF:
        return true;
    case NN_IGEMM_AVX2:
#ifdef NN_IG_HAVE_AVX2
    {
        static int have = -1; /* benign race: every thread computes the same value */
        if (have < 0) {
            __builtin_cpu_init();
            have = __builtin_cpu_supports("avx2") ? 1 : 0;
        }
        return have == 1;
    }
#else
        return false;
#endif
    default:
        return false;
    }
}

static ig_ukern_fn ig_pick(int variant)
{
#ifdef NN_IG_HAVE_AVX2
    if ((variant == NN_IGEMM_AUTO || variant == NN_IGEMM_AVX2) && nn_igemm_available(NN_IGEMM_AVX2))
        return ig_ukern_avx2;
#endif
    return ig_ukern_ref;
}

static inline int32_t ig_zp(const nn_iop *o, size_t idx)
{
    return o->zp ? o->zp[o->zp_per ? idx : 0] : 0;
}

/* Packs A[ic:ic+mc, pc:pc+kc] (kc rounded up to even, zero padded) into
 * IG_MR-tall panels of pairs. */
static void ig_pack_a(const nn_iop *A, size_t ic, size_t mc, size_t pc, size_t kc, int16_t *dst)
{
    size_t kp = (kc + 1) / 2;
    for (size_t i0 = 0; i0 < mc; i0 += IG_MR) {
        size_t mr = mc - i0 < IG_MR ? mc - i0 : IG_MR;
        for (size_t i = 0; i < IG_MR; i++) {
            int16_t *d = dst + 2 * i;
            if (i >= mr) {
                for (size_t p = 0; p < kp; p++) { d[0] = 0; d[1] = 0; d += 2 * IG_MR; }
                continue;
            }
            size_t row = ic + i0 + i;
            int32_t z = ig_zp(A, row);
            size_t off = row * A->ld + pc;
            if (A->is_signed) {
                const int8_t *s = (const int8_t *)A->p + off;
                for (size_t k = 0; k < kc; k++) d[(k >> 1) * 2 * IG_MR + (k & 1)] = (int16_t)(s[k] - z);
            } else {
                const uint8_t *s = (const uint8_t *)A->p + off;
                for (size_t k = 0; k < kc; k++) d[(k >> 1) * 2 * IG_MR + (k & 1)] = (int16_t)(s[k] - z);
            }
            if (kc & 1) d[(kp - 1) * 2 * IG_MR + 1] = 0;
        }
        dst += kp * 2 * IG_MR;
    }
}

/* Packs B[pc:pc+kc, jc:jc+nc] into IG_NR-wide panels of pairs (zero padded).
 * Walks B row by row (two rows per pair) so reads stay sequential. */
/* Works on local copies: B's bytes may alias anything, locals let gcc vectorise. */
#define IG_PACK_B_ROWS(T)                                                                   \
    do {                                                                                    \
        const T *s0 = (const T *)B->p + k0 * B->ld + jc;                                    \
        const T *s1 = has1 ? s0 + B->ld : s0;                                               \
        size_t j0 = 0;                                                                      \
        int16_t *d = dst + p * 2 * IG_NR;                                                   \
        T r0[IG_NR], r1[IG_NR];                                                             \
        int16_t o[2 * IG_NR];                                                               \
        for (; j0 + IG_NR <= nc; j0 += IG_NR, d += pstride) {                               \
            memcpy(r0, s0 + j0, sizeof r0);                                                 \
            if (has1) memcpy(r1, s1 + j0, sizeof r1);                                       \
            else for (size_t j = 0; j < IG_NR; j++) r1[j] = (T)zc[j0 + j];                  \
            for (size_t j = 0; j < IG_NR; j++) {                                            \
                o[2 * j] = (int16_t)(r0[j] - zc[j0 + j]);                                   \
                o[2 * j + 1] = (int16_t)(r1[j] - zc[j0 + j]);                               \
            }                                                                               \
            memcpy(d, o, sizeof o);                                                         \
        }                                                                                   \
        if (j0 < nc) {                                                                      \
            size_t nr = nc - j0;                                                            \
            for (size_t j = 0; j < IG_NR; j++) {                                            \
                d[2 * j] = j < nr ? (int16_t)(s0[j0 + j] - zc[j0 + j]) : 0;                 \
                d[2 * j + 1] = j < nr && has1 ? (int16_t)(s1[j0 + j] - zc[j0 + j]) : 0;     \
            }                                                                               \
        }                                                                                   \
    } while (0)

static void ig_pack_b(const nn_iop *B, size_t pc, size_t kc, size_t jc, size_t nc, int16_t *dst)
{
    size_t kp = (kc + 1) / 2, pstride = kp * 2 * IG_NR;
    int16_t zc[IG_NC];
    for (size_t j = 0; j < nc; j++) zc[j] = (int16_t)ig_zp(B, jc + j);
    for (size_t p = 0; p < kp; p++) {
        size_t k0 = pc + 2 * p;
        bool has1 = 2 * p + 1 < kc;
        if (B->is_signed) IG_PACK_B_ROWS(int8_t);
        else IG_PACK_B_ROWS(uint8_t);
    }
}

bool nn_igemm_variant(int variant, size_t M, size_t N, size_t K, const nn_iop *A,
                      const nn_iop *B, int32_t *C, size_t ldc)
{
    if (M == 0 || N == 0) return true;
    if (K == 0) {
        for (size_t i = 0; i < M; i++) memset(C + i * ldc, 0, N * sizeof(int32_t));
        return true;
    }
    ig_ukern_fn uk = ig_pick(variant);
    size_t ncap = N < IG_NC ? (N + IG_NR - 1) / IG_NR * IG_NR : IG_NC;
    size_t kcap = K < IG_KC ? (K + 1) / 2 * 2 : IG_KC;
    size_t mcap = M < IG_MC ? (M + IG_MR - 1) / IG_MR * IG_MR : IG_MC;
    int16_t *bp = aligned_alloc(64, (kcap * ncap * sizeof(int16_t) + 63) / 64 * 64);
    int16_t *ap = aligned_alloc(64, (kcap * mcap * sizeof(int16_t) + 63) / 64 * 64);
    if (!bp || !ap) { free(bp); free(ap); return false; }
    int32_t tmp[IG_MR * IG_NR] __attribute__((aligned(32)));
    for (size_t jc = 0; jc < N; jc += IG_NC) {
        size_t nc = N - jc < IG_NC ? N - jc : IG_NC;
        for (size_t pc = 0; pc < K; pc += IG_KC) {
            size_t kc = K - pc < IG_KC ? K - pc : IG_KC;
            size_t kp = (kc + 1) / 2;
            bool first = pc == 0;
            ig_pack_b(B, pc, kc, jc, nc, bp);
            for (size_t ic = 0; ic < M; ic += IG_MC) {
                size_t mc = M - ic < IG_MC ? M - ic : IG_MC;
                ig_pack_a(A, ic, mc, pc, kc, ap);
                for (size_t jr = 0; jr < nc; jr += IG_NR) {
                    size_t nr = nc - jr < IG_NR ? nc - jr : IG_NR;
                    const int16_t *bpan = bp + jr * kp * 2;
                    for (size_t ir = 0; ir < mc; ir += IG_MR) {
                        size_t mr = mc - ir < IG_MR ? mc - ir : IG_MR;
                        int32_t *cb = C + (ic + ir) * ldc + jc + jr;
                        if (mr == IG_MR && nr == IG_NR) {
                            uk(kp, ap + ir * kp * 2, bpan, cb, ldc, !first);
                            continue;
                        }
                        uk(kp, ap + ir * kp * 2, bpan, tmp, IG_NR, false);
                        for (size_t i = 0; i < mr; i++) {
                            int32_t *cr = cb + i * ldc;
                            const int32_t *t = tmp + i * IG_NR;
                            if (first) memcpy(cr, t, nr * sizeof(int32_t));
                            else
                                for (size_t j = 0; j < nr; j++)
                                    cr[j] = (int32_t)((uint32_t)cr[j] + (uint32_t)t[j]);
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

bool nn_igemm(size_t M, size_t N, size_t K, const nn_iop *A, const nn_iop *B, int32_t *C,
              size_t ldc)
{
    return nn_igemm_variant(NN_IGEMM_AUTO, M, N, K, A, B, C, ldc);
}
