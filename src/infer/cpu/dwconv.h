/* Depthwise 2-D convolution, NCHW, one channel plane at a time (the caller
 * splits planes over threads). The kernel reads a zero-padded copy of the
 * input plane (em_dw_pad), so its inner loops have no bounds checks: blocks
 * of 16 outputs are accumulated in registers over the kh x kw taps. One
 * source (dwconv_impl.h) is compiled per ISA (cpu/x86/avx512/dwconv__avx512.c,
 * cpu/x86/avx2/dwconv__avx2.c, cpu/arm/neon/dwconv__neon.c,
 * cpu/scalar/dwconv__scalar.c); the fixed-size blocks vectorise. */
#ifndef EDGEML_INFER_CPU_DWCONV_H
#define EDGEML_INFER_CPU_DWCONV_H

#include "cpu.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define EM_DW_BLOCK 16

typedef struct em_dw_geom {
    int64_t H, W, OH, OW;       /* input and output plane */
    int64_t kh, kw, sh, sw, dh, dw, ph, pw;
    int64_t HP, WP;             /* padded plane (em_dw_geom_init) */
    /* Set before em_dw_geom_init by a caller whose kernel is the AVX-512 one
     * (em_dwconv_deint_ok): stride-2 planes padded with each row split into
     * its even columns [0, WE) and odd columns [WE, WP), so that every tap
     * reads consecutive floats. */
    int deint;
    int64_t WE;
    int vpad;                   /* em_dw_pad uses the AVX-512 masked-load copy (set with deint) */
    /* Output clamp (Relu, Clip fused): em_dw_geom_init sets -inf/+inf; only
     * the AVX-512 kernel applies it (em_dwconv_clamps). */
    float lo, hi;
} em_dw_geom;

/* Fills HP/WP: room for the padding and for whole blocks of EM_DW_BLOCK outputs. */
void em_dw_geom_init(em_dw_geom *g);
/* Copies plane x (H x W) into xp (HP x WP) with zeros around. */
void em_dw_pad(const em_dw_geom *g, const float *x, float *xp);
/* Same with another value around (pooling: -inf). */
void em_dw_pad_with(const em_dw_geom *g, const float *x, float *xp, float v);

/* y[OH x OW] = bias + conv(xp, w[kh x kw]) (+ res, when not NULL); xp from em_dw_pad. */
typedef void (*em_dwconv_fn)(const em_dw_geom *g, const float *xp, const float *w, float bias,
                             const float *res, float *y);

em_dwconv_fn em_dwconv_get(void);
/* Sets g->deint and g->vpad for kernel fn (before em_dw_geom_init): the
 * AVX-512 kernel reads deinterleaved stride-2 planes, padded by its own copy. */
void em_dwconv_layout(em_dwconv_fn fn, em_dw_geom *g);
/* Whether kernel fn applies g->lo/hi. */
bool em_dwconv_clamps(em_dwconv_fn fn);
em_dwconv_fn em_dwconv_for(em_cpu_level l);   /* NULL when not built */

void em_dwconv_plane__scalar(const em_dw_geom *, const float *, const float *, float, const float *, float *);
void em_dwconv_plane__avx2(const em_dw_geom *, const float *, const float *, float, const float *, float *);
void em_dwconv_plane__avx512(const em_dw_geom *, const float *, const float *, float, const float *, float *);
void em_dw_pad__avx512(const em_dw_geom *g, const float *x, float *xp);
void em_dw_pad_fill__avx512(const em_dw_geom *g, const float *x, float *xp, float fill);
/* Small planes, AVX-512: nc <= 16 channels at once, one vector lane per channel (the planes
 * transposed into [pixel][16] with their padding, the taps as aligned vector FMAs, then
 * transposed back): y = clamp(bias + conv + res, g->lo, g->hi). x, w ([nc][kh kw]), bias, res
 * and y start at the block's first channel; bias and res may be NULL. ws: em_dwconv_cblock_ws
 * floats. Reads g's geometry only (not its padded-plane layout). */
size_t em_dwconv_cblock_ws(const em_dw_geom *g);
void em_dwconv_cblock__avx512(const em_dw_geom *g, int64_t nc, const float *x, size_t in_sz, const float *w,
                              const float *bias, const float *res, float *y, size_t out_sz, float *ws);
void em_dwconv_plane__neon(const em_dw_geom *, const float *, const float *, float, const float *, float *);

#endif
