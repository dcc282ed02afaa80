/* 2-D max and average pooling of one float plane, over the padded copy of
 * the plane that dwconv.h defines (em_dw_geom, em_dw_geom_init, em_dw_pad_with):
 * NaN around for max (ignored like a NaN input), 0 for average; blocks of 16
 * outputs reduced over every tap in registers. Max ignores NaN inputs; a
 * window without a number is NaN when it holds input cells (all NaN) and
 * -inf when it holds none (rowc[oh] * colc[ow] == 0 with the input-only
 * counts), as the reference does. Average divides by rowc[oh] * colc[ow]
 * (the cells counted per row and column of the window: with or without the
 * padding, as count_include_pad says). */
#ifndef EDGEML_INFER_CPU_POOL2D_H
#define EDGEML_INFER_CPU_POOL2D_H

#include "dwconv.h"

typedef void (*em_maxpool_fn)(const em_dw_geom *g, const float *xp, const float *rowc,
                              const float *colc, float *y);
typedef void (*em_avgpool_fn)(const em_dw_geom *g, const float *xp, const float *rowc,
                              const float *colc, float *y);

/* NULL when the CPU level has no fast variant (the caller keeps its own). */
em_maxpool_fn em_maxpool_get(void);
em_avgpool_fn em_avgpool_get(void);

void em_maxpool_plane__avx512(const em_dw_geom *, const float *, const float *, const float *, float *);
void em_avgpool_plane__avx512(const em_dw_geom *, const float *, const float *, const float *, float *);
void em_maxpool_plane__avx2(const em_dw_geom *, const float *, const float *, const float *, float *);
void em_avgpool_plane__avx2(const em_dw_geom *, const float *, const float *, const float *, float *);

#endif
