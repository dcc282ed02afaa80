/* Elementwise operator family (ew_*.c): private declarations and helpers. */
#ifndef EDGEML_OPS_EW_H
#define EDGEML_OPS_EW_H

#include "ops.h"

#include <math.h>
#include <stddef.h>
#include <stdint.h>

/* ---- per-dtype stamping --------------------------------------------------
 * X(DT, T, CT, LOAD, STORE, UT):
 *   DT    the edgeml dtype
 *   T     the storage type
 *   CT    the compute type (float for float16/bfloat16)
 *   LOAD  storage -> compute, STORE compute -> storage
 *   UT    an unsigned type wide enough for wrapping integer arithmetic (no
 *         promotion to int): for floats the compute type itself. */
#define EW_ID(v) (v)
#define EW_FOR_F32(X) X(EDGEML_FLOAT, float, float, EW_ID, EW_ID, float)
#define EW_FOR_F64(X) X(EDGEML_DOUBLE, double, double, EW_ID, EW_ID, double)
#define EW_FOR_HALF(X)                                                             \
    X(EDGEML_FLOAT16, uint16_t, float, em_f16_to_f32, em_f32_to_f16, float)        \
    X(EDGEML_BFLOAT16, uint16_t, float, em_bf16_to_f32, em_f32_to_bf16, float)
#define EW_FOR_FLOATS(X) EW_FOR_F32(X) EW_FOR_F64(X) EW_FOR_HALF(X)
#define EW_FOR_SINTS(X)                                                  \
    X(EDGEML_INT8, int8_t, int8_t, EW_ID, EW_ID, uint32_t)               \
    X(EDGEML_INT16, int16_t, int16_t, EW_ID, EW_ID, uint32_t)            \
    X(EDGEML_INT32, int32_t, int32_t, EW_ID, EW_ID, uint32_t)            \
    X(EDGEML_INT64, int64_t, int64_t, EW_ID, EW_ID, uint64_t)
#define EW_FOR_UINTS(X)                                                  \
    X(EDGEML_UINT8, uint8_t, uint8_t, EW_ID, EW_ID, uint32_t)            \
    X(EDGEML_UINT16, uint16_t, uint16_t, EW_ID, EW_ID, uint32_t)         \
    X(EDGEML_UINT32, uint32_t, uint32_t, EW_ID, EW_ID, uint32_t)         \
    X(EDGEML_UINT64, uint64_t, uint64_t, EW_ID, EW_ID, uint64_t)
#define EW_FOR_INTS(X) EW_FOR_SINTS(X) EW_FOR_UINTS(X)
#define EW_FOR_NUMERIC(X) EW_FOR_FLOATS(X) EW_FOR_INTS(X)
#define EW_FOR_BOOL(X) X(EDGEML_BOOL, uint8_t, uint8_t, EW_ID, EW_ID, uint32_t)

/* Minimum/maximum of a signed integer type (two's complement). */
#define EW_SMAX(T) ((T)(((uint64_t)1 << (sizeof(T) * 8 - 1)) - 1))
#define EW_SMIN(T) ((T)(-EW_SMAX(T) - 1))

/* ---- broadcasting ---------------------------------------------------------
 * A row kernel computes n elements: o[i] = f(a[i*sa], b[i*sb]). Pointers
 * point at the first element; strides are in elements (0 or 1 in practice).
 * Returns 0, or a nonzero kernel-defined error (e.g. integer division by 0). */
typedef int (*ew_row2_fn)(void *o, const void *a, ptrdiff_t sa, const void *b, ptrdiff_t sb,
                          size_t n, const void *param);

/* Runs fn over out (already shaped as the broadcast of a and b). */
int ew_bcast2(const em_tensor *a, const em_tensor *b, em_tensor *out, ew_row2_fn fn,
              const void *param);

/* ew_bcast2 with the rows split over threads (pool may be NULL); fn must
 * not fail. Small outputs run on the caller. */
struct em_tpool;
void ew_bcast2_par(const em_tensor *a, const em_tensor *b, em_tensor *out, ew_row2_fn fn,
                   const void *param, struct em_tpool *pool, int threads);

/* Output shape of the numpy broadcast of a and b; fails with a message. */
edgeml_status ew_bcast_shape2(em_kctx *c, const em_tensor *a, const em_tensor *b, int *rank,
                              int64_t *dims);

/* Legacy (opset < 7) broadcasting: when `bcast` is set, B is broadcast onto
 * A starting at `axis` (default: suffix). Makes *bview a view of b reshaped to
 * A's rank. Fails if incompatible. Without `bcast`, shapes must match. */
edgeml_status ew_legacy_view(em_kctx *c, const em_tensor *a, const em_tensor *b, bool bcast,
                             bool has_axis, int64_t axis, em_tensor *bview);

/* Iterates the broadcast of n tensors onto (rank, dims): calls fn per
 * innermost row with per-input element pointers and strides. */
typedef int (*ew_rowN_fn)(void *o, const void *const *in, const ptrdiff_t *s, size_t n,
                          const void *param);
int ew_bcastN(int nin, const em_tensor *const *in, em_tensor *out, ew_rowN_fn fn,
              const void *param);

/* Legacy broadcast attributes of binary ops at opset < 7. */
typedef struct ew_legacy {
    bool legacy;      /* opset < 7 */
    bool bcast;       /* attribute broadcast */
    bool has_axis;
    int64_t axis;
} ew_legacy;
void ew_legacy_parse(const em_node *n, ew_legacy *l);
/* Output shape of a binary op; *bview is b as the loop must read it. */
edgeml_status ew_binary_shape(em_kctx *c, const ew_legacy *l, const em_tensor *a,
                              const em_tensor *b, em_tensor *bview, int *rank, int64_t *dims);

/* True for dtypes edgeml knows as tensor element types. */
bool ew_dtype_known(int dt);

/* ---- kernels ------------------------------------------------------------- */
edgeml_status ew_unary_prepare(em_node *n, edgeml_error *err);
edgeml_status ew_unary_run(em_kctx *c);

edgeml_status ew_clip_prepare(em_node *n, edgeml_error *err);
edgeml_status ew_clip_run(em_kctx *c);

edgeml_status ew_arith_prepare(em_node *n, edgeml_error *err);
edgeml_status ew_arith_run(em_kctx *c);

edgeml_status ew_cmp_prepare(em_node *n, edgeml_error *err);
edgeml_status ew_cmp_run(em_kctx *c);

edgeml_status ew_cast_prepare(em_node *n, edgeml_error *err);
edgeml_status ew_cast_run(em_kctx *c);
edgeml_status ew_castlike_run(em_kctx *c);
/* Converts n elements of src (dtype sdt) to dst (dtype ddt); strings need c. */
edgeml_status ew_convert(em_kctx *c, const void *src, int sdt, void *dst, int ddt, size_t n);

edgeml_status ew_variadic_prepare(em_node *n, edgeml_error *err);
edgeml_status ew_variadic_run(em_kctx *c);
edgeml_status ew_where_run(em_kctx *c);
edgeml_status ew_prelu_run(em_kctx *c);

#endif
