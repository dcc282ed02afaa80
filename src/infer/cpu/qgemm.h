/* The int8 GEMM engine (issue 10): u8 activations x s8 weights, int32
 * accumulation, requantisation to u8/s8 (or the raw int32) in the epilogue.
 *
 * Why u8 x s8: it is what VNNI's vpdpbusd multiplies (4 u8 x 4 s8 -> one
 * int32, exact, no intermediate saturation), what ONNX Runtime's quantiser
 * emits by default (QUInt8 activations, QInt8 weights) and what MLAS and
 * oneDNN use. Other combinations are mapped onto it exactly when packing:
 * s8 activations become u8 by x ^ 0x80 (= x + 128, the zero point moves by
 * 128 too); u8 weights with zero point 128 become s8 with zero point 0.
 * Weights must end up with zero point 0 (symmetric, as every quantiser
 * makes them); other weight zero points run on the reference kernel.
 *
 * C[M x N] = W[M x K] (s8, prepacked once per model) * X[K x N] (u8, packed
 * per run in column panels, by a callback for implicit im2col). With xz the
 * activation zero point, sum_k (x - xz) w = sum_k x w - xz * rowsum(w): the
 * second term is folded into a per-row int32 bias at prepare, so the inner
 * loop is a plain u8 x s8 product. Padding positions hold xz and so add 0.
 *
 * Layouts (K rounded up to k4 groups of 4, padded with zero weights):
 *   B panel: [k4][NR][4] u8: 4 consecutive k of one column are adjacent, so
 *            one 32-bit lane of a vector holds them (vpdpbusd's operand).
 *   A (VNNI, scalar): [M/MR][k4][MR][4] s8 (4 bytes broadcast per row).
 *   A (AVX2): [M/MR][k4][MR][2] int32: (w0,w2) and (w1,w3) as s16 pairs,
 *            for vpmaddwd on the even/odd bytes of B (exact widening; the
 *            vpmaddubsw shortcut saturates 2 x 255 x 127 in s16).
 *
 * Requantisation (ONNX QLinearConv/QuantizeLinear): y = saturate(rne(acc *
 * mult[m]) + yzp), acc = int32 sum + bias, mult = x_scale * w_scale[m] /
 * y_scale (float, as MLAS does: acc converts to float, the product rounds
 * once, cvtps rounds half to even); then the clamp [lo, hi] (saturation and
 * a fused Relu/Clip in the quantised domain). The reference computes the
 * product in double: they can differ by 1 where the product is within float
 * rounding of a half-integer (tests allow that, rarely).
 *
 * Every output element is computed by one thread in one fixed order:
 * results do not depend on the thread count. */
#ifndef EDGEML_INFER_CPU_QGEMM_H
#define EDGEML_INFER_CPU_QGEMM_H

#include "cpu.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct em_tpool;

typedef struct em_qgemm_epi {
    const int32_t *bias;     /* per row, at the tile's first row (includes -xz * rowsum) */
    const float *mult;       /* per row, at the tile's first row */
    float flo, fhi;          /* clamp of acc * mult: lo - yzp, hi - yzp */
    int32_t yzp;
    bool out32;              /* write acc + bias as int32 (ConvInteger); else requantise to bytes */
} em_qgemm_epi;

/* acc[i][j] = sum over k4 of a . b; then the epilogue into c (row stride ldc
 * elements; bytes, or int32 when out32), rows < mr, cols < nr. */
typedef void (*em_qgemm_ukernel_fn)(size_t k4, const void *a, const uint8_t *b, void *c,
                                    size_t ldc, size_t mr, size_t nr, const em_qgemm_epi *e);

enum { EM_QA_BYTES4 = 0, EM_QA_PAIRS16 = 1 };   /* A layouts (above) */

typedef struct em_qgemm_kernel {
    const char *name;        /* e.g. "8x32 avx512vnni" */
    em_cpu_level level;
    int mr, nr;
    int a_layout;            /* EM_QA_* */
    size_t nc;               /* columns packed at once per task (multiple of nr) */
    em_qgemm_ukernel_fn fn;
} em_qgemm_kernel;

/* The kernel for the level in use, and per level (tests; NULL when not built). */
const em_qgemm_kernel *em_qgemm_kernel_get(void);
const em_qgemm_kernel *em_qgemm_kernel_for(em_cpu_level l);

static inline size_t em_qgemm_k4(size_t K) { return (K + 3) / 4; }
/* Bytes of prepacked A for M x K. */
size_t em_qgemm_packed_a_size(const em_qgemm_kernel *k, size_t M, size_t K);
/* Packs W (M x K, row-major, int8 values; xor80: the bytes are u8 with zero
 * point 128, stored as w ^ 0x80). rowsum[m] (may be NULL) gets sum_k w. */
void em_qgemm_pack_a(const em_qgemm_kernel *k, size_t M, size_t K, const uint8_t *W, bool xor80,
                     uint8_t *dst, int32_t *rowsum);

/* Fills B rows [0, K) for columns [j0, j0 + nc) as bytes: rows[r] points to
 * nc bytes for row r (either into the input itself or into tmp, which has
 * room for 4 * nc bytes); the packer calls it for 4 rows at a time. */
typedef void (*em_qgemm_rows_fn)(const void *ctx, size_t k0, size_t nk, size_t j0, size_t nc,
                                 uint8_t *tmp, const uint8_t **rows);

/* Called when rows [m0, m1) of columns [j0, j0 + nc) of C are final (still in cache): e.g. a
 * conversion of the int32 results to float with the rest of a fused epilogue. */
typedef void (*em_qgemm_post_fn)(const void *ctx, size_t m0, size_t m1, size_t j0, size_t nc);

typedef struct em_qgemm_args {
    size_t M, N, K;
    const uint8_t *a_packed;
    em_qgemm_rows_fn rows;   /* B's rows, by callback */
    const void *rows_ctx;
    bool x_xor80;            /* activations are s8: flip to u8 while packing */
    void *C;                 /* bytes or int32 (epi.out32) */
    size_t ldc;
    const int32_t *bias;     /* [M] */
    const float *mult;       /* [M] */
    float flo, fhi;
    int32_t yzp;
    bool out32;
    /* out32 only: a weight zero point per row (in the s8 domain), or NULL. Then
     * C[m][j] -= col_wz[m] * sum_k B[k][j] (B in the u8 domain, K rows), which with
     * the per-row terms in bias gives sum_k (x - xz)(w - wz) for asymmetric weights. */
    const int32_t *col_wz;
    em_qgemm_post_fn post;   /* or NULL */
    const void *post_ctx;
} em_qgemm_args;

size_t em_qgemm_workspace(const em_qgemm_kernel *k, const em_qgemm_args *a, int threads);
void em_qgemm(const em_qgemm_kernel *k, const em_qgemm_args *a, void *ws, struct em_tpool *pool,
              int threads);

/* The microkernels. */
void em_qgemm_ukernel_4x8__scalar(size_t, const void *, const uint8_t *, void *, size_t, size_t, size_t,
                                  const em_qgemm_epi *);
void em_qgemm_ukernel_4x16__avx2(size_t, const void *, const uint8_t *, void *, size_t, size_t, size_t,
                                 const em_qgemm_epi *);
void em_qgemm_ukernel_8x32__avx512vnni(size_t, const void *, const uint8_t *, void *, size_t, size_t,
                                       size_t, const em_qgemm_epi *);

/* ---- depthwise int8 (NCHW, one plane at a time) ---- */

typedef struct em_qdw_geom {
    int64_t H, W, OH, OW, kh, kw, sh, sw, dh, dw, ph, pw;
    int64_t HP, WP;          /* padded plane (em_qdw_geom_init) */
} em_qdw_geom;
void em_qdw_geom_init(em_qdw_geom *g);
/* Copies plane x into xp (HP x WP) with pad around; xor80 flips s8 to u8. */
void em_qdw_pad(const em_qdw_geom *g, const uint8_t *x, uint8_t pad, bool xor80, uint8_t *xp);
/* One channel: y[OH x OW] = requantised (sum x*w + bias) (xp from em_qdw_pad, u8).
 * w: kh*kw int8 values as int16; out32 not supported (bytes). */
typedef void (*em_qdw_fn)(const em_qdw_geom *g, const uint8_t *xp, const int16_t *w, int32_t bias,
                          float mult, const em_qgemm_epi *e, uint8_t *y);
em_qdw_fn em_qdw_get(void);
em_qdw_fn em_qdw_for(em_cpu_level l);
void em_qdw_plane__scalar(const em_qdw_geom *, const uint8_t *, const int16_t *, int32_t, float,
                          const em_qgemm_epi *, uint8_t *);
void em_qdw_plane__avx2(const em_qdw_geom *, const uint8_t *, const int16_t *, int32_t, float,
                        const em_qgemm_epi *, uint8_t *);
void em_qdw_plane__avx512(const em_qdw_geom *, const uint8_t *, const int16_t *, int32_t, float,
                          const em_qgemm_epi *, uint8_t *);

/* ConvInteger / MatMulInteger zero points (ops/nn_convint_fast.c, nn_matmulint_fast.c).
 * A weight zero point in the s8 domain the packed weights use: uint8 weights are stored
 * as w ^ 0x80 = w - 128, so their zero point moves by 128 (absent: 0, i.e. -128). */
static inline int32_t em_qgemm_wzp(bool w_u8, const uint8_t *zp)
{
    if (!zp) return w_u8 ? -128 : 0;
    return w_u8 ? (int32_t)*zp - 128 : (int32_t)(int8_t)*zp;
}
/* The per-row bias of sum_k (x - xzu)(w - wz[m]) for activation zero point xzu (u8 domain):
 * K xzu wz[m] - xzu rs[m] (rs: the weights' row sums), wrapping as the reference does. */
static inline void em_qgemm_zp_bias(size_t K, uint32_t xzu, const int32_t *wz, const int32_t *rs, size_t n,
                                    int32_t *bias)
{
    for (size_t m = 0; m < n; m++)
        bias[m] = (int32_t)((uint32_t)K * xzu * (uint32_t)wz[m] - xzu * (uint32_t)rs[m]);
}

/* Scalar requantisation of one accumulator (shared by the scalar paths). */
static inline int32_t em_qrequant(int32_t acc, float mult, const em_qgemm_epi *e)
{
    float f = (float)acc * mult;
    if (!(f >= e->flo)) f = e->flo; /* NaN -> lo */
    if (f > e->fhi) f = e->fhi;
    return (int32_t)__builtin_rintf(f) + e->yzp;
}

#endif
