/* Direct convolution for few input channels (the first layer of a CNN: 3
 * channels, 3x3 stride 2, K = 27), NCHW. Im2col + GEMM does badly there:
 * packing B copies 9 floats per input float and K = 27 leaves the GEMM
 * microkernel more time storing its tile than multiplying. This kernel reads
 * the padded input planes (the depthwise kernel's, dwconv.h: stride 2 on
 * deinterleaved rows) and computes tiles of 8 output channels x 32 columns
 * of one output row: per tap two input vectors and 8 weight broadcasts feed
 * 16 FMAs, with no copy of the input beyond its padding. AVX-512 only
 * (em_cconv_get: NULL elsewhere; the caller keeps the GEMM). */
#ifndef EDGEML_INFER_CPU_CCONV_H
#define EDGEML_INFER_CPU_CCONV_H

#include "dwconv.h"

#include <stddef.h>
#include <stdint.h>

#define EM_CCONV_MB 8      /* output channels per weight block */
#define EM_CCONV_MAXK 64   /* C x kh x kw at most */

/* Weights [M][C][kh][kw] as [ceil(M / 8)][C][kh][kw][8] (zero padded): floats. */
size_t em_cconv_packed_size(int64_t M, int64_t C, int64_t kh, int64_t kw);
void em_cconv_pack(const float *w, int64_t M, int64_t C, int64_t kh, int64_t kw, float *dst);

/* Output rows [oh0, oh1) of every channel: y[m][oh][ow] = clamp(bias[m] + conv + res, g->lo, g->hi).
 * xp: C padded planes (em_dw_pad with g) of `plane` floats each; bias, res may be NULL. */
typedef void (*em_cconv_fn)(const em_dw_geom *g, int64_t C, int64_t M, const float *xp, size_t plane,
                            const float *wp, const float *bias, const float *res, float *y, int64_t oh0,
                            int64_t oh1);

em_cconv_fn em_cconv_get(void);
void em_cconv_rows__avx512(const em_dw_geom *, int64_t, int64_t, const float *, size_t, const float *,
                           const float *, const float *, float *, int64_t, int64_t);

#endif
