/* Private header of the shape / data-movement operator family (shape_*.c). */
#ifndef EDGEML_OPS_SHAPE_H
#define EDGEML_OPS_SHAPE_H
#include "ops.h"

/* ---- family helpers (shape_util.c) -------------------------------------- */

/* Error code after em_out/em_scratch returned NULL. */
static inline edgeml_status shape_oerr(em_kctx *c)
{
    return (c->err && c->err->code != EDGEML_OK) ? c->err->code : EDGEML_E_NOMEM;
}
#define SHAPE_OUT(var, c, i, dt, rank, dims)                         \
    em_tensor *var = em_out((c), (i), (dt), (rank), (dims));         \
    if (!var) return shape_oerr(c)

/* Element size of a dtype (sizeof(em_str) for strings); 0 if unknown. */
static inline size_t shape_esize(int dt) { return em_dtype_size(dt); }

/* Reads an integer tensor (any integer dtype; rank 0 or 1 unless any_rank)
 * into out[0..*n). Fails when it has more than max elements. */
edgeml_status shape_read_ints(em_kctx *c, const em_tensor *t, const char *what,
                              int64_t *out, size_t max, size_t *n);
/* Reads one integer scalar (rank 0, or rank 1 with one element). */
edgeml_status shape_read_int1(em_kctx *c, const em_tensor *t, const char *what, int64_t *v);

/* Normalises n axes in [-rank, rank) into out (no duplicates allowed). */
edgeml_status shape_norm_axes(em_kctx *c, const int64_t *axes, size_t n, int rank, int *out,
                              const char *what);

/* Copies the strided view (rank <= 2*EM_MAX_RANK, dims, src strides in elements; strides may be
 * 0 or negative) starting at src into contiguous dst. */
void shape_copy_view(void *dst, const void *src, size_t esize, int rank, const int64_t *dims,
                     const int64_t *sstrides);

/* Copies n elements of esize bytes. */
static inline void shape_copy(void *dst, const void *src, size_t n, size_t esize)
{
    if (n) memcpy(dst, src, n * esize);
}

/* Three-way compare of elements a[i] and b[j] of dtype dt (NaN sorts last, equal to NaN). */
int shape_cmp_elem(int dt, const void *a, size_t i, const void *b, size_t j);

/* True when element i of t is non-zero (strings: non-empty). */
bool shape_elem_nonzero(int dt, const void *data, size_t i);

/* Stable merge sort of idx[0..n) with cmp(ctx, a, b). Needs n extra size_t in tmp. */
void shape_msort(size_t *idx, size_t *tmp, size_t n, int (*cmp)(const void *, size_t, size_t),
                 const void *ctx);

/* ---- kernels ------------------------------------------------------------ */

/* shape_reshape.c */
edgeml_status shape_reshape_prepare(em_node *n, edgeml_error *err);
edgeml_status shape_reshape_run(em_kctx *c);
edgeml_status shape_shape_run(em_kctx *c);
edgeml_status shape_size_run(em_kctx *c);
edgeml_status shape_flatten_run(em_kctx *c);
edgeml_status shape_squeeze_run(em_kctx *c);
edgeml_status shape_unsqueeze_run(em_kctx *c);
edgeml_status shape_identity_run(em_kctx *c);
edgeml_status shape_dropout_run(em_kctx *c);

/* shape_transpose.c */
edgeml_status shape_transpose_prepare(em_node *n, edgeml_error *err);
edgeml_status shape_transpose_run(em_kctx *c);
edgeml_status shape_d2s_prepare(em_node *n, edgeml_error *err);
edgeml_status shape_d2s_run(em_kctx *c);
edgeml_status shape_s2d_prepare(em_node *n, edgeml_error *err);
edgeml_status shape_s2d_run(em_kctx *c);

/* shape_concat.c */
edgeml_status shape_concat_run(em_kctx *c);
edgeml_status shape_split_run(em_kctx *c);

/* shape_slice.c */
edgeml_status shape_slice_run(em_kctx *c);

/* shape_gather.c */
edgeml_status shape_gather_run(em_kctx *c);
edgeml_status shape_gather_elements_run(em_kctx *c);
edgeml_status shape_gather_nd_run(em_kctx *c);

/* shape_scatter.c */
edgeml_status shape_scatter_prepare(em_node *n, edgeml_error *err);
edgeml_status shape_scatter_elements_run(em_kctx *c);
edgeml_status shape_scatter_nd_run(em_kctx *c);

/* shape_expand.c */
edgeml_status shape_expand_run(em_kctx *c);
edgeml_status shape_tile_run(em_kctx *c);

/* shape_pad.c */
edgeml_status shape_pad_prepare(em_node *n, edgeml_error *err);
edgeml_status shape_pad_run(em_kctx *c);
edgeml_status shape_center_crop_pad_run(em_kctx *c);

/* shape_const.c */
edgeml_status shape_constant_prepare(em_node *n, edgeml_error *err);
edgeml_status shape_constant_run(em_kctx *c);
edgeml_status shape_constant_of_shape_prepare(em_node *n, edgeml_error *err);
edgeml_status shape_constant_of_shape_run(em_kctx *c);
edgeml_status shape_range_run(em_kctx *c);
edgeml_status shape_eyelike_run(em_kctx *c);
edgeml_status shape_onehot_run(em_kctx *c);
edgeml_status shape_trilu_run(em_kctx *c);

/* shape_select.c */
edgeml_status shape_compress_run(em_kctx *c);
edgeml_status shape_nonzero_run(em_kctx *c);
edgeml_status shape_unique_run(em_kctx *c);
edgeml_status shape_topk_run(em_kctx *c);

/* shape_seq.c */
edgeml_status shape_reverse_sequence_run(em_kctx *c);
edgeml_status shape_cumsum_run(em_kctx *c);
edgeml_status shape_col2im_run(em_kctx *c);

#endif
