/* The float GEMM engine: packed panels, register-blocked microkernels per ISA
 * (cpu/x86/avx512/gemm_14x32__avx512.c, cpu/x86/avx2/gemm_6x16__avx2.c,
 * cpu/arm/neon/gemm_8x8__neon.c, cpu/scalar/gemm_4x8__scalar.c), and a driver
 * that blocks for the caches, splits the output over the pool's threads and
 * applies the fused epilogue (bias, residual, activation) while each tile is
 * still in cache.
 *
 * C[M x N] = op(A)[M x K] * B[K x N] (+ epilogue), row-major C with ldc.
 * A is either prepacked (em_sgemm_pack_a, once per model: Conv weights) or
 * packed per run from a plain matrix. B is packed per run from a plain matrix
 * or by a callback (implicit im2col for convolutions), or prepacked
 * (em_sgemm_pack_b: constant MatMul/Gemm weights).
 *
 * Every output element is computed by one thread with the same order of
 * additions whatever the thread count: results do not depend on threads. */
#ifndef EDGEML_INFER_CPU_GEMM_H
#define EDGEML_INFER_CPU_GEMM_H

#include "../internal.h"
#include "cpu.h"

struct em_tpool;

/* What a microkernel does after the K loop, for rows < mr, cols < nr. */
enum {
    EM_EPI_FIRST = 1,   /* first K block: C = acc (+ row/col bias); else C += acc */
    EM_EPI_LAST = 2,    /* last K block: C += res, then clamp to [lo, hi] */
};
typedef struct em_gemm_epi {
    int flags;
    const float *row_bias;   /* at the tile's first row, or NULL */
    const float *col_bias;   /* at the tile's first column, or NULL */
    const float *res;        /* at the tile's first element, or NULL */
    size_t ldr;
    float lo, hi;            /* clamp; -inf/+inf when none */
} em_gemm_epi;

/* acc = sum_k a[k*MR + i] * b[k*NR + j]; then the epilogue into c (ldc). */
typedef void (*em_sgemm_ukernel_fn)(size_t kc, const float *a, const float *b, float *c,
                                    size_t ldc, size_t mr, size_t nr, const em_gemm_epi *e);
/* The same for a whole panel of nr columns read in place from a row-major B:
 * row k of the panel at b + k * ldb (no packing). */
typedef void (*em_sgemm_ukernel_ldb_fn)(size_t kc, const float *a, const float *b, size_t ldb,
                                        float *c, size_t ldc, size_t mr, const em_gemm_epi *e);

typedef struct em_sgemm_kernel {
    const char *name;        /* e.g. "14x32 avx512" */
    em_cpu_level level;
    int mr, nr;
    size_t kc;               /* K block */
    size_t nc;               /* columns of B packed at once (multiple of nr) */
    size_t mc;               /* rows of A packed at once when A is packed per run */
    em_sgemm_ukernel_fn fn;
    em_sgemm_ukernel_ldb_fn fn_ldb; /* or NULL: B is always packed */
} em_sgemm_kernel;

/* The kernel for the level in use (em_cpu_level_get), chosen once. */
const em_sgemm_kernel *em_sgemm_kernel_get(void);
/* The kernel for a product with M rows when A is prepacked (select step at
 * prepare): the one that wastes fewest rows, given how M is usually tied to
 * N in CNNs (narrow layers are the wide-image ones). */
const em_sgemm_kernel *em_sgemm_kernel_for_m(size_t M);
/* The kernels usable at the level in use (same A/B contract, different tile
 * shapes), best first by default; returns how many (<= max). */
int em_sgemm_candidates(const em_sgemm_kernel **out, int max);
/* Of those, the one expected fastest for M x N x K: tile waste in M and N
 * weighed by each kernel's measured efficiency (docs/runtime.md). */
int em_sgemm_pick(const em_sgemm_kernel *const *ks, int n, size_t M, size_t N, size_t K);
/* The estimate em_sgemm_pick compares: padded tiles x K / the kernel's efficiency. */
double em_sgemm_cost(const em_sgemm_kernel *k, size_t M, size_t N, size_t K);
/* Every kernel the build has for a level (tests), NULL-terminated. */
const em_sgemm_kernel *const *em_sgemm_kernels_all(void);
/* The kernel for a given level (tests); NULL when the build has none. */
const em_sgemm_kernel *em_sgemm_kernel_for(em_cpu_level l);

/* Prepacked A: panels of mr rows per K block. Size in floats. */
size_t em_sgemm_packed_a_size(const em_sgemm_kernel *k, size_t M, size_t K);
/* Where element (m, k) of an M x K matrix lies in its prepacked form (padding
 * rows m >= M of the last panel are zero in a packed A). */
static inline size_t em_sgemm_packed_a_index(const em_sgemm_kernel *k, size_t M, size_t K, size_t m, size_t kk)
{
    size_t mr = (size_t)k->mr, Mp = (M + mr - 1) / mr * mr, pc = kk / k->kc * k->kc;
    size_t kcb = K - pc < k->kc ? K - pc : k->kc;
    return pc * Mp + (m / mr) * mr * kcb + (kk - pc) * mr + m % mr;
}
/* Packs alpha * op(A) (A is M x K with lda, or K x M when trans). */
void em_sgemm_pack_a(const em_sgemm_kernel *k, size_t M, size_t K, const float *A, size_t lda,
                     bool trans, float alpha, float *dst);
/* Prepacked B: panels of nr columns per K block. Size in floats. */
size_t em_sgemm_packed_b_size(const em_sgemm_kernel *k, size_t K, size_t N);
void em_sgemm_pack_b(const em_sgemm_kernel *k, size_t K, size_t N, const float *B, size_t ldb,
                     bool trans, float *dst);

/* Packs B[k0 : k0+kc, j0 : j0+nc] into panels of nr columns (zero padded to
 * a multiple of nr): dst[(j / nr) * kc * nr + k * nr + j % nr]. */
typedef void (*em_pack_b_fn)(const void *ctx, size_t k0, size_t kc, size_t j0, size_t nc,
                             size_t nr, float *dst);

typedef struct em_sgemm_args {
    size_t M, N, K;
    /* A: prepacked, or plain (A, lda, trans_a, alpha). */
    const float *a_packed;
    const float *A;
    size_t lda;
    bool trans_a;
    float alpha;
    /* B: prepacked, a callback, or plain (B, ldb, trans_b). */
    const float *b_packed;
    em_pack_b_fn pack_b;
    const void *pack_ctx;
    const float *B;
    size_t ldb;
    bool trans_b;
    /* C and the epilogue. */
    float *C;
    size_t ldc;
    const float *row_bias;   /* [M] or NULL */
    const float *col_bias;   /* [N] or NULL */
    const float *res;        /* [M x N] with ldr, or NULL */
    size_t ldr;
    em_act act;
} em_sgemm_args;

/* Workspace (bytes) em_sgemm needs for `threads` threads. */
size_t em_sgemm_workspace(const em_sgemm_kernel *k, const em_sgemm_args *a, int threads);
/* Runs the GEMM. ws: em_sgemm_workspace bytes, 64-byte aligned. */
void em_sgemm(const em_sgemm_kernel *k, const em_sgemm_args *a, void *ws,
              struct em_tpool *pool, int threads);

/* The microkernels (one per file under cpu/). */
void em_sgemm_ukernel_4x8__scalar(size_t, const float *, const float *, float *, size_t, size_t,
                                  size_t, const em_gemm_epi *);
void em_sgemm_ukernel_6x16__avx2(size_t, const float *, const float *, float *, size_t, size_t,
                                 size_t, const em_gemm_epi *);
void em_sgemm_ukernel_14x32__avx512(size_t, const float *, const float *, float *, size_t,
                                    size_t, size_t, const em_gemm_epi *);
void em_sgemm_ukernel_8x48__avx512(size_t, const float *, const float *, float *, size_t,
                                   size_t, size_t, const em_gemm_epi *);
void em_sgemm_ukernel_14x32__avx512_ldb(size_t, const float *, const float *, size_t, float *, size_t,
                                        size_t, const em_gemm_epi *);
void em_sgemm_ukernel_8x48__avx512_ldb(size_t, const float *, const float *, size_t, float *, size_t,
                                       size_t, const em_gemm_epi *);
void em_sgemv_pa__avx512(size_t mr, size_t kc, const float *a, const float *x, float *acc);
void em_sgemv_pb__avx512(size_t nr, size_t kc, const float *b, const float *x, float *acc);
/* y[j * ldy + i] = clamp(t[i * ldt + j] + res[j * ldr + i], lo, hi) for i < np, j < nm (<= 16 each);
 * res may be NULL. */
void em_tr16__avx512(const float *t, size_t ldt, size_t np, size_t nm, float *y, size_t ldy,
                     const float *res, size_t ldr, float lo, float hi);
void em_sgemm_ukernel_8x12__neon(size_t, const float *, const float *, float *, size_t, size_t,
                                 size_t, const em_gemm_epi *);

#endif
