/* Fast data movement for the shape family (shape_fast.c): strided views with
 * coalesced dims, memcpy runs, a blocked 2-D transpose when the source's
 * contiguous axis is not the destination's, and threads for large copies.
 * Every entry point falls back to the reference loops (shape_util.c) with
 * EDGEML_CPU=reference. */
#ifndef EDGEML_OPS_SHAPE_FAST_H
#define EDGEML_OPS_SHAPE_FAST_H
#include "shape.h"

/* True when the fast paths may run (EDGEML_CPU is not "reference"). */
bool shape_fast_on(void);

/* shape_copy_view with the fast paths and c's threads. */
void shape_view_fast(em_kctx *c, void *dst, const void *src, size_t esize, int rank, const int64_t *dims,
                     const int64_t *sstrides);

/* rows copies of row bytes: dst + i * dstride <- src + i * sstride (threads when large). */
void shape_rows_fast(em_kctx *c, void *dst, size_t dstride, const void *src, size_t sstride, size_t row,
                     size_t rows);

/* n contiguous bytes (threads when large). */
void shape_memcpy_fast(em_kctx *c, void *dst, const void *src, size_t n);

#endif
