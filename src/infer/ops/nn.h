/* Private header of the neural-network operator family (nn_*.c). */
#ifndef EDGEML_OPS_NN_H
#define EDGEML_OPS_NN_H
#include "ops.h"

#include <math.h>
#include <stdlib.h>

/* ---- float GEMM (nn_gemm.c) ----------------------------------------------
 * Row-major C[M x N] = alpha * op(A)[M x K] * op(B)[K x N] + beta * C.
 * op(A) = A (lda >= K) or A^T (A is K x M, lda >= M); same for B.
 * beta == 0 means C is write-only (may hold garbage/NaN). Returns false on OOM. */
bool nn_sgemm(bool trans_a, bool trans_b, size_t M, size_t N, size_t K, float alpha,
              const float *A, size_t lda, const float *B, size_t ldb, float beta,
              float *C, size_t ldc);
/* Same contract in double precision (simple cache-friendly loops). */
void nn_dgemm(bool trans_a, bool trans_b, size_t M, size_t N, size_t K, double alpha,
              const double *A, size_t lda, const double *B, size_t ldb, double beta,
              double *C, size_t ldc);

/* ---- exact 8-bit integer GEMM (nn_igemm.c) ------------------------------
 * Row-major C[M x N] (int32, ldc) = sum_k (A[i,k] - azp[i]) * (B[k,j] - bzp[j]),
 * accumulated modulo 2^32 (the ONNX int32 accumulation). A is M x K (ld >= K),
 * B is K x N (ld >= N); elements are uint8 or int8 (is_signed). Zero points:
 * zp == NULL means 0, else zp[0] for all, or with zp_per one per row of A /
 * per column of B. Returns false on OOM (C untouched or partial). */
typedef struct nn_iop {
    const void *p;
    size_t ld;
    bool is_signed;
    const int32_t *zp;
    bool zp_per;
} nn_iop;
enum { NN_IGEMM_AUTO = 0, NN_IGEMM_REF, NN_IGEMM_AVX2, NN_IGEMM_NVARIANTS };
bool nn_igemm(size_t M, size_t N, size_t K, const nn_iop *A, const nn_iop *B, int32_t *C,
              size_t ldc);
/* Same with a forced micro-kernel (tests); the variant must be available. */
bool nn_igemm_variant(int variant, size_t M, size_t N, size_t K, const nn_iop *A,
                      const nn_iop *B, int32_t *C, size_t ldc);
bool nn_igemm_available(int variant);

/* ---- shared helpers (nn_util.c) ------------------------------------------ */
static inline bool nn_is_fp(int dt)
{
    return dt == EDGEML_FLOAT || dt == EDGEML_DOUBLE || dt == EDGEML_FLOAT16 ||
           dt == EDGEML_BFLOAT16;
}
/* Contents of t as float32: t->data itself when float32, else converted into
 * scratch. NULL on OOM (error set). Returns a non-NULL dummy for empty tensors. */
const float *nn_as_f32(em_kctx *c, const em_tensor *t);
/* Same as double. */
const double *nn_as_f64(em_kctx *c, const em_tensor *t);
/* Float buffer to write the output into: out->data when float32, else scratch
 * (then call nn_store_f32). */
float *nn_out_f32(em_kctx *c, em_tensor *out);
void nn_store_f32(em_tensor *out, const float *src);
/* Converts n values. */
void nn_cvt_to_f32(const void *src, int dt, float *dst, size_t n);
void nn_cvt_from_f32(const float *src, void *dst, int dt, size_t n);
/* Integers: */
bool nn_is_quant_int(int dt); /* int8/uint8/int16/uint16/int32 */
/* Round half to even, clamp to dt's range (integer dt). */
void nn_sat_store(void *dst, int dt, size_t i, double v);
double nn_rne(double v);

/* Convolution / pooling geometry. */
enum { NN_PAD_NOTSET = 0, NN_PAD_SAME_UPPER, NN_PAD_SAME_LOWER, NN_PAD_VALID };
typedef struct nn_geom_attrs {
    int auto_pad;
    int nk;                       /* spatial rank from kernel_shape, 0 if absent */
    int64_t kernel[EM_MAX_RANK];
    int np, nsd, ndl;             /* list lengths, -1 when absent */
    bool has_pads, has_strides, has_dil;
    int64_t pads[2 * EM_MAX_RANK];
    int64_t strides[EM_MAX_RANK];
    int64_t dil[EM_MAX_RANK];
    int64_t group;
    bool ceil_mode;
} nn_geom_attrs;
/* Parses auto_pad, kernel_shape, pads, strides, dilations, group, ceil_mode. */
edgeml_status nn_geom_parse(const em_node *n, nn_geom_attrs *g, edgeml_error *err);
typedef struct nn_geom {
    int ns;                        /* spatial rank */
    int64_t in[EM_MAX_RANK];       /* input spatial dims */
    int64_t k[EM_MAX_RANK];
    int64_t s[EM_MAX_RANK];
    int64_t d[EM_MAX_RANK];
    int64_t pb[EM_MAX_RANK], pe[EM_MAX_RANK];
    int64_t out[EM_MAX_RANK];
    size_t in_sz, k_sz, out_sz;    /* products */
} nn_geom;
/* Resolves the geometry of a conv/pool over input spatial dims `in` (ns of
 * them) with kernel k (from attrs or weights). pool: ceil_mode allowed. */
edgeml_status nn_geom_resolve(em_kctx *c, const nn_geom_attrs *a, int ns, const int64_t *in,
                              const int64_t *k, nn_geom *g);

/* Conv core shared by Conv/ConvInteger/QLinearConv. x: [N, C, in...],
 * w: [M, C/group, k...], y: [N, M, out...]; bias may be NULL. */
edgeml_status nn_conv_f32(em_kctx *c, const nn_geom *g, int64_t N, int64_t C, int64_t M,
                          int64_t group, const float *x, const float *w, const float *b,
                          float *y);
edgeml_status nn_conv_f64(em_kctx *c, const nn_geom *g, int64_t N, int64_t C, int64_t M,
                          int64_t group, const double *x, const double *w, const double *b,
                          double *y);

/* ---- ops ----------------------------------------------------------------- */
#define NN_OP(name) edgeml_status nn_##name##_run(em_kctx *c)
#define NN_PREP(name) edgeml_status nn_##name##_prepare(em_node *n, edgeml_error *err)

NN_PREP(conv); NN_OP(conv); NN_PREP(qconv); NN_OP(conv_integer); NN_OP(qlinear_conv);
edgeml_status nn_conv_reshape(em_kctx *c, void **rs, size_t *ws);
void nn_conv_free(void *state);
edgeml_status nn_conv_ref_run(em_kctx *c);
/* Conv's checks: X/W shapes against the attributes; geometry and output dims.
 * c->node->state starts with an nn_geom_attrs. */
edgeml_status nn_conv_setup(em_kctx *c, const em_tensor *X, const em_tensor *W, nn_geom *g,
                            int64_t *odims, int64_t *pgroup);
/* A convolution's layout for the fast paths' reshape (float and int8): geometry, output
 * dims and the GEMM view of one group (Mg x P, K = Cg * kernel size). The reshape
 * states start with NN_CONV_LAYOUT so that nn_conv_layout_make fills them in place. */
#define NN_CONV_LAYOUT_FIELDS              \
    nn_geom g;                             \
    int64_t odims[EM_MAX_RANK];            \
    int rank;                              \
    int64_t N, C, M, group, Cg, Mg;        \
    size_t K, P;
typedef struct nn_conv_layout { NN_CONV_LAYOUT_FIELDS } nn_conv_layout;
#define NN_CONV_LAYOUT union { nn_conv_layout L; struct { NN_CONV_LAYOUT_FIELDS }; }
edgeml_status nn_conv_layout_make(em_kctx *c, const em_tensor *X, const em_tensor *W, nn_conv_layout *L);
/* QLinearConv int8 fast paths (nn_qconv_fast.c); the reference is nn_qlinear_conv_run. */
NN_PREP(qlinear_conv_fast); NN_OP(qlinear_conv_fast);
edgeml_status nn_qlinear_conv_fast_reshape(em_kctx *c, void **rs, size_t *ws);
void nn_qconv_fast_free(void *state);
/* Implicit im2col of u8/s8 activations for the int8 GEMM (cpu/qgemm.h em_qgemm_rows_fn):
 * one image and group, padding holds pad (the zero point's bits); direct: 1x1, stride 1,
 * no padding (rows point into x). Shared by QLinearConv and ConvInteger. */
typedef struct nn_qim2col {
    const uint8_t *x;              /* [Cg][H][W] of this image and group */
    int64_t H, W, OW, kh, kw, sh, sw, dh, dw, ph, pw;
    size_t P;
    bool direct;
    uint8_t pad;
} nn_qim2col;
void nn_qim2col_rows(const void *ctx, size_t k0, size_t nk, size_t j0, size_t nc, uint8_t *tmp,
                     const uint8_t **rows);
/* ConvInteger (int32 out) and edgeml:ConvIntegerScaled (float out: the ConvInteger ->
 * Cast -> Mul(scale) -> Add(bias) chain, opt/convint.c) on the int8 GEMM (nn_convint_fast.c). */
NN_PREP(convint_fast); NN_OP(convint_fast); NN_OP(convint_scaled);
edgeml_status nn_convint_fast_reshape(em_kctx *c, void **rs, size_t *ws);
void nn_convint_fast_free(void *state);
extern const em_op_entry em_nn_convint_scaled_entry;
/* MatMulInteger with constant 2-D weights on the int8 GEMM (nn_matmulint_fast.c). */
NN_PREP(matmulint_fast); NN_OP(matmulint_fast);
edgeml_status nn_matmulint_fast_reshape(em_kctx *c, void **rs, size_t *ws);
void nn_matmulint_fast_free(void *state);
/* The reference ConvInteger of inputs 0..3 into scratch int32 (nn_conv.c). */
edgeml_status nn_conv_integer_acc(em_kctx *c, int32_t **acc, int *rank, int64_t *odims);
/* QuantizeLinear / DequantizeLinear per-tensor fast paths (nn_qdq_fast.c). */
NN_OP(quantize_fast); NN_OP(dequantize_fast); NN_OP(dynquant_fast);
NN_PREP(convt); NN_OP(convt);
edgeml_status nn_convt_reshape(em_kctx *c, void **rs, size_t *ws);
void nn_convt_free(void *state);
/* Batched MatMul layout (nn_matmul.c): numpy broadcasting of the batch dims. */
typedef struct mm_plan {
    size_t M, K, N, batch;
    size_t *aoff, *boff;   /* per batch: element offsets of the A and B matrices (scratch) */
    bool fold;             /* B has no batch: A's batches fold into M (single GEMM) */
    int orank;
    int64_t odims[EM_MAX_RANK];
} mm_plan;
edgeml_status mm_plan_make(em_kctx *c, const em_tensor *A, const em_tensor *B, mm_plan *p);
/* MatMul and Gemm: float32 fast paths in nn_matmul_fast.c, references in nn_matmul.c. */
NN_PREP(matmul); NN_PREP(gemm);
edgeml_status nn_matmul_reshape(em_kctx *c, void **rs, size_t *ws);
edgeml_status nn_gemm_reshape(em_kctx *c, void **rs, size_t *ws);
void nn_mm_free(void *state);
edgeml_status nn_matmul_ref_run(em_kctx *c);
edgeml_status nn_gemm_ref_run(em_kctx *c);
NN_PREP(pool); NN_OP(avgpool); NN_OP(maxpool); NN_OP(lppool);
NN_OP(gavgpool); NN_OP(gmaxpool); NN_OP(glppool); NN_OP(maxunpool); NN_OP(maxroipool);
edgeml_status nn_layernorm_reshape(em_kctx *c, void **rs, size_t *ws);
NN_OP(batchnorm); NN_OP(instnorm); NN_OP(layernorm); NN_OP(groupnorm); NN_OP(lrn); NN_OP(mvn);
NN_OP(gemm); NN_OP(matmul); NN_OP(matmul_integer); NN_OP(qlinear_matmul);
NN_OP(quantize); NN_OP(dequantize); NN_OP(dynquant);
NN_OP(softmax); NN_OP(logsoftmax); NN_OP(hardmax);
NN_PREP(einsum); NN_OP(einsum);
NN_OP(det);

#endif
