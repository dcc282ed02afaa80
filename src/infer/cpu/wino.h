/* Winograd F(2x2,3x3) tile-row transforms; the convolution around them is
 * ops/nn_conv_wino.c. AVX-512 only for now: without a vector transform the
 * transforms cost more than the multiplies saved (measured with the
 * compiler-vectorised version, docs/runtime.md), so other levels keep the
 * direct GEMM path. */
#ifndef EDGEML_INFER_CPU_WINO_H
#define EDGEML_INFER_CPU_WINO_H
#include <stddef.h>

/* V[x][tw] (stride ct between the 16 x) = B^T d B for a row of tiles: d[i][j] of tile tw is
 * xp[i * wp + 2 tw + j] (a zero-padded plane, 2 rows per tile row). */
typedef void (*em_wino_in_fn)(const float *xp, size_t wp, size_t tw_n, float *v, size_t ct);
/* Output rows 2 th, 2 th + 1 (row[2 tw + j]) = A^T q A + bias, q[x][tw] at q + x * mt + tw. */
typedef void (*em_wino_out_fn)(const float *q, size_t mt, size_t tw_n, float bias, float *row0, float *row1);

void em_wino_in_row__avx512(const float *, size_t, size_t, float *, size_t);
void em_wino_out_row__avx512(const float *, size_t, size_t, float, float *, float *);
/* dst[i] = clamp(src[i] (+ res[i] when res), lo, hi) for i < n. */
void em_wino_store__avx512(const float *src, const float *res, float *dst, size_t n, float lo, float hi);
#endif
