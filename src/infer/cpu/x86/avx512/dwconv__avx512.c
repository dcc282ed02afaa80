/* Depthwise plane kernel, AVX-512: 16 outputs per register, accumulated over
 * every tap before one store. Unit stride and deinterleaved stride 2 (the
 * plane padded with each row split into even and odd columns, so every tap
 * is a run of consecutive floats) use tiles of 8 independent accumulators
 * (4 rows x 32 columns, or 8 rows x 16 columns on narrow planes: enough FMA
 * chains in flight to cover the FMA latency), with the residual and the
 * Relu/Clip clamp applied at the store. Other strides gather. Reads the
 * padded plane (dwconv.h). */
#include "../../dwconv.h"

#include "tr16.h"

#include <immintrin.h>
#include <string.h>

/* Lanes [lo, hi) of 16 set (0 <= lo, hi <= 16). */
static inline __mmask16 span(int64_t lo, int64_t hi)
{
    if (lo < 0) lo = 0;
    if (hi > 16) hi = 16;
    if (hi <= lo) return 0;
    return (__mmask16)(((1u << hi) - 1) & ~((1u << lo) - 1));
}

/* The padded plane straight from the input with masked loads (no row copies
 * through memset/memcpy): plain rows, or deinterleaved rows (g->deint). The
 * masked-off lanes are never read. */
void em_dw_pad__avx512(const em_dw_geom *g, const float *x, float *xp) { em_dw_pad_fill__avx512(g, x, xp, 0.f); }

void em_dw_pad_fill__avx512(const em_dw_geom *g, const float *x, float *xp, float fill)
{
    const __m512 fv = _mm512_set1_ps(fill);
    const int64_t WE = g->WE, WP = g->WP, W = g->W, pw = g->pw;
    const __m512i ev = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
    const __m512i od = _mm512_setr_epi32(1, 3, 5, 7, 9, 11, 13, 15, 17, 19, 21, 23, 25, 27, 29, 31);
    for (int64_t r = 0; r < g->HP; r++) {
        float *d = xp + r * WP;
        int64_t ih = r - g->ph;
        if (ih < 0 || ih >= g->H) {
            for (int64_t j = 0; j < WP; j += 16) _mm512_storeu_ps(d + j, fv); /* WP: a multiple of 16 */
            continue;
        }
        /* padded column j holds input column j - pw */
        const uintptr_t src = (uintptr_t)(x + ih * W);
        if (!g->deint) {
            for (int64_t j = 0; j < WP; j += 16) {
                const float *p = (const float *)(src + (uintptr_t)((j - pw) * 4));
                __m512 v;
                if (j >= pw && j - pw + 16 <= W) v = _mm512_loadu_ps(p); /* the interior: a plain load */
                else v = _mm512_mask_loadu_ps(fv, span(pw - j, W + pw - j), p);
                _mm512_storeu_ps(d + j, v); /* WP is a multiple of 16 (vpad) */
            }
        } else {
            for (int64_t j = 0; j < WE; j += 16) {
                int64_t c0 = 2 * j, c1 = 2 * j + 16; /* padded columns of the two loads */
                const float *p0 = (const float *)(src + (uintptr_t)((c0 - pw) * 4)), *p1 = p0 + 16;
                __m512 v0, v1;
                if (c0 >= pw && c1 + 16 - pw <= W) { /* the interior: plain loads */
                    v0 = _mm512_loadu_ps(p0);
                    v1 = _mm512_loadu_ps(p1);
                } else {
                    v0 = _mm512_mask_loadu_ps(fv, span(pw - c0, W + pw - c0), p0);
                    v1 = _mm512_mask_loadu_ps(fv, span(pw - c1, W + pw - c1), p1);
                }
                _mm512_storeu_ps(d + j, _mm512_permutex2var_ps(v0, ev, v1));
                _mm512_storeu_ps(d + WE + j, _mm512_permutex2var_ps(v0, od, v1));
            }
        }
    }
}

static inline __mmask16 lanes(int64_t n) { return n >= 16 ? (__mmask16)0xffff : (__mmask16)((1u << n) - 1); }

/* R output rows x BC blocks of 16 columns from x0 (the tile's first input
 * element); off[t]: each tap's offset; rs: input offset between output rows. */
static inline __attribute__((always_inline)) void
tile(const float *x0, const int64_t *off, const float *w, int taps, int64_t rs, __m512 vb, int R,
     int BC, float *y, int64_t OW, const float *res, __mmask16 mlast, __m512 lo, __m512 hi)
{
    __m512 acc[8];
    for (int i = 0; i < R * BC; i++) acc[i] = vb;
    for (int t = 0; t < taps; t++) {
        __m512 wv = _mm512_set1_ps(w[t]);
        const float *p = x0 + off[t];
        for (int r = 0; r < R; r++)
            for (int b = 0; b < BC; b++)
                acc[r * BC + b] = _mm512_fmadd_ps(wv, _mm512_loadu_ps(p + r * rs + b * 16), acc[r * BC + b]);
    }
    for (int r = 0; r < R; r++)
        for (int b = 0; b < BC; b++) {
            __mmask16 m = b == BC - 1 ? mlast : (__mmask16)0xffff;
            __m512 v = acc[r * BC + b];
            if (res) v = _mm512_add_ps(v, _mm512_maskz_loadu_ps(m, res + r * OW + b * 16));
            v = _mm512_min_ps(_mm512_max_ps(v, lo), hi);
            _mm512_mask_storeu_ps(y + r * OW + b * 16, m, v);
        }
}

/* One group of R output rows starting at oh, every column. */
static inline __attribute__((always_inline)) void
rows(const em_dw_geom *g, const float *xp, const int64_t *off, const float *w, int taps, __m512 vb,
     const float *res, float *y, int64_t oh, int R, __m512 lo, __m512 hi)
{
    const int64_t OW = g->OW, rs = g->sh * g->WP;
    const float *x0 = xp + oh * rs;
    float *yr = y + oh * OW;
    const float *rr = res ? res + oh * OW : NULL;
    int64_t o0 = 0;
    if (R <= 4)
        for (; o0 + 16 < OW; o0 += 32)
            tile(x0 + o0, off, w, taps, rs, vb, R, 2, yr + o0, OW, rr ? rr + o0 : NULL,
                 lanes(OW - o0 - 16), lo, hi);
    for (; o0 < OW; o0 += 16)
        tile(x0 + o0, off, w, taps, rs, vb, R, 1, yr + o0, OW, rr ? rr + o0 : NULL, lanes(OW - o0), lo, hi);
}

static void plane_fast(const em_dw_geom *g, const float *xp, const float *w, float bias,
                       const float *res, float *y)
{
    int64_t off[64];
    int taps = (int)(g->kh * g->kw);
    for (int64_t ki = 0; ki < g->kh; ki++)
        for (int64_t kj = 0; kj < g->kw; kj++)
            off[ki * g->kw + kj] = ki * g->dh * g->WP + (g->deint ? (kj & 1) * g->WE + kj / 2 : kj * g->dw);
    const __m512 vb = _mm512_set1_ps(bias), lo = _mm512_set1_ps(g->lo), hi = _mm512_set1_ps(g->hi);
    int64_t oh = 0;
    if (g->OW <= 16)
        for (; oh + 8 <= g->OH; oh += 8) rows(g, xp, off, w, taps, vb, res, y, oh, 8, lo, hi);
    for (; oh + 4 <= g->OH; oh += 4) rows(g, xp, off, w, taps, vb, res, y, oh, 4, lo, hi);
    for (; oh < g->OH; oh++) rows(g, xp, off, w, taps, vb, res, y, oh, 1, lo, hi);
}

void em_dwconv_plane__avx512(const em_dw_geom *g, const float *xp, const float *w, float bias,
                             const float *res, float *y)
{
    if ((g->sw == 1 || g->deint) && g->kh * g->kw <= 64) {
        plane_fast(g, xp, w, bias, res, y);
        return;
    }
    const int64_t OW = g->OW, WP = g->WP, sw = g->sw, dw = g->dw, kh = g->kh, kw = g->kw;
    const __m512 clo = _mm512_set1_ps(g->lo), chi = _mm512_set1_ps(g->hi);
    const __m512i even = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
    const __m512i step = _mm512_mullo_epi32(_mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15),
                                            _mm512_set1_epi32((int)sw));
    const __m512 vb = _mm512_set1_ps(bias);
    int64_t oh = 0;
    /* four output rows at a time: four independent FMA chains per column block */
    for (; oh + 4 <= g->OH; oh += 4) {
        const float *xr0 = xp + oh * g->sh * WP;
        for (int64_t o0 = 0; o0 < OW; o0 += 16) {
            __m512 a0 = vb, a1 = vb, a2 = vb, a3 = vb;
            for (int64_t ki = 0; ki < kh; ki++) {
                const float *xr = xr0 + ki * g->dh * WP + o0 * sw;
                const float *wr = w + ki * kw;
                const int64_t rs = g->sh * WP; /* input offset between output rows */
                for (int64_t kj = 0; kj < kw; kj++) {
                    const float *xs = xr + kj * dw;
                    __m512 wv = _mm512_set1_ps(wr[kj]), v0, v1, v2, v3;
                    if (sw == 1) {
                        v0 = _mm512_loadu_ps(xs); v1 = _mm512_loadu_ps(xs + rs);
                        v2 = _mm512_loadu_ps(xs + 2 * rs); v3 = _mm512_loadu_ps(xs + 3 * rs);
                    } else if (sw == 2) {
                        v0 = _mm512_permutex2var_ps(_mm512_loadu_ps(xs), even, _mm512_loadu_ps(xs + 16));
                        v1 = _mm512_permutex2var_ps(_mm512_loadu_ps(xs + rs), even, _mm512_loadu_ps(xs + rs + 16));
                        v2 = _mm512_permutex2var_ps(_mm512_loadu_ps(xs + 2 * rs), even, _mm512_loadu_ps(xs + 2 * rs + 16));
                        v3 = _mm512_permutex2var_ps(_mm512_loadu_ps(xs + 3 * rs), even, _mm512_loadu_ps(xs + 3 * rs + 16));
                    } else {
                        v0 = _mm512_i32gather_ps(step, xs, 4); v1 = _mm512_i32gather_ps(step, xs + rs, 4);
                        v2 = _mm512_i32gather_ps(step, xs + 2 * rs, 4); v3 = _mm512_i32gather_ps(step, xs + 3 * rs, 4);
                    }
                    a0 = _mm512_fmadd_ps(wv, v0, a0);
                    a1 = _mm512_fmadd_ps(wv, v1, a1);
                    a2 = _mm512_fmadd_ps(wv, v2, a2);
                    a3 = _mm512_fmadd_ps(wv, v3, a3);
                }
            }
            int64_t n = OW - o0 < 16 ? OW - o0 : 16;
            __mmask16 m = n == 16 ? 0xffff : (__mmask16)((1u << n) - 1);
            __m512 acc[4] = {a0, a1, a2, a3};
            for (int r = 0; r < 4; r++) {
                float *yr = y + (oh + r) * OW + o0;
                __m512 v = acc[r];
                if (res) v = _mm512_add_ps(v, _mm512_maskz_loadu_ps(m, res + (oh + r) * OW + o0));
                v = _mm512_min_ps(_mm512_max_ps(v, clo), chi);
                _mm512_mask_storeu_ps(yr, m, v);
            }
        }
    }
    for (; oh < g->OH; oh++) {
        const float *xr0 = xp + oh * g->sh * WP;
        float *yr = y + oh * OW;
        const float *rr = res ? res + oh * OW : NULL;
        for (int64_t o0 = 0; o0 < OW; o0 += 16) {
            __m512 acc = vb;
            for (int64_t ki = 0; ki < kh; ki++) {
                const float *xr = xr0 + ki * g->dh * WP + o0 * sw;
                const float *wr = w + ki * kw;
                if (sw == 1) {
                    for (int64_t kj = 0; kj < kw; kj++)
                        acc = _mm512_fmadd_ps(_mm512_set1_ps(wr[kj]), _mm512_loadu_ps(xr + kj * dw), acc);
                } else if (sw == 2) {
                    for (int64_t kj = 0; kj < kw; kj++) {
                        const float *xs = xr + kj * dw;
                        __m512 v = _mm512_permutex2var_ps(_mm512_loadu_ps(xs), even, _mm512_loadu_ps(xs + 16));
                        acc = _mm512_fmadd_ps(_mm512_set1_ps(wr[kj]), v, acc);
                    }
                } else {
                    for (int64_t kj = 0; kj < kw; kj++) {
                        __m512 v = _mm512_i32gather_ps(step, xr + kj * dw, 4);
                        acc = _mm512_fmadd_ps(_mm512_set1_ps(wr[kj]), v, acc);
                    }
                }
            }
            int64_t n = OW - o0 < 16 ? OW - o0 : 16;
            __mmask16 m = n == 16 ? 0xffff : (__mmask16)((1u << n) - 1);
            if (rr) acc = _mm512_add_ps(acc, _mm512_maskz_loadu_ps(m, rr + o0));
            acc = _mm512_min_ps(_mm512_max_ps(acc, clo), chi);
            _mm512_mask_storeu_ps(yr + o0, m, acc);
        }
    }
}

/* ---- small planes: 16 channels per vector ------------------------------------------- */

/* Output position u of a group: acc[u] over every tap at column ow + u. */
#define DWC_GROUP 8

void em_dwconv_cblock__avx512(const em_dw_geom *g, int64_t nc, const float *x, size_t in_sz, const float *w,
                              const float *bias, const float *res, float *y, size_t out_sz, float *ws)
{
    const int64_t OH = g->OH, OW = g->OW, H = g->H, W = g->W, taps = g->kh * g->kw;
    int64_t hp = (OH - 1) * g->sh + (g->kh - 1) * g->dh + 1, wp = (OW - 1) * g->sw + (g->kw - 1) * g->dw + 1;
    if (hp < H + g->ph) hp = H + g->ph;
    if (wp < W + g->pw) wp = W + g->pw;
    float *xc = ws, *oc = xc + (size_t)(hp * wp) * 16, *wv = oc + (size_t)(OH * OW) * 16;
    /* the padded block [hp][wp][16]: zeros, then each input pixel's 16 channels */
    memset(xc, 0, (size_t)(hp * wp) * 16 * sizeof(float));
    const size_t P = (size_t)(H * W);
    int64_t ih = 0, iw = 0;
    for (size_t p0 = 0; p0 < P; p0 += 16) {
        size_t np = P - p0 < 16 ? P - p0 : 16;
        __mmask16 pm = np >= 16 ? (__mmask16)0xffff : (__mmask16)((1u << np) - 1);
        __m512 r[16];
        for (int64_t c = 0; c < 16; c++)
            r[c] = c < nc ? (np == 16 ? _mm512_loadu_ps(x + (size_t)c * in_sz + p0)
                                      : _mm512_maskz_loadu_ps(pm, x + (size_t)c * in_sz + p0))
                          : _mm512_setzero_ps();
        em_tr16_regs(r);
        for (size_t j = 0; j < np; j++) {
            _mm512_storeu_ps(xc + (size_t)((ih + g->ph) * wp + iw + g->pw) * 16, r[j]);
            if (++iw == W) { iw = 0; ih++; }
        }
    }
    for (int64_t t = 0; t < taps; t++)
        for (int64_t c = 0; c < 16; c++) wv[t * 16 + c] = c < nc ? w[c * taps + t] : 0.f;
    float bb[16];
    for (int64_t c = 0; c < 16; c++) bb[c] = bias && c < nc ? bias[c] : 0.f;
    const __m512 vb = _mm512_loadu_ps(bb), lo = _mm512_set1_ps(g->lo), hi = _mm512_set1_ps(g->hi);
    /* with a residual the clamp comes after it (in the copy back) */
    const __m512 clo = res ? _mm512_set1_ps(-__builtin_inff()) : lo, chi = res ? _mm512_set1_ps(__builtin_inff()) : hi;
    /* groups of DWC_GROUP consecutive output positions (across rows: 7x7 planes too), each
     * with its own input address, DWC_GROUP independent FMA chains */
    const size_t Q = (size_t)(OH * OW);
    int64_t toff[64];
    for (int64_t ki = 0; ki < g->kh; ki++)
        for (int64_t kj = 0; kj < g->kw; kj++) toff[ki * g->kw + kj] = (ki * g->dh * wp + kj * g->dw) * 16;
    int64_t oh = 0, ow = 0;
    for (size_t q0 = 0; q0 < Q; q0 += DWC_GROUP) {
        const float *base[DWC_GROUP];
        size_t n = Q - q0 < DWC_GROUP ? Q - q0 : DWC_GROUP;
        for (size_t u = 0; u < DWC_GROUP; u++) {
            if (u < n) {
                base[u] = xc + (size_t)((oh * g->sh) * wp + ow * g->sw) * 16;
                if (++ow == OW) { ow = 0; oh++; }
            } else {
                base[u] = base[0];
            }
        }
        __m512 acc[DWC_GROUP];
        for (int u = 0; u < DWC_GROUP; u++) acc[u] = vb;
        for (int64_t t = 0; t < taps; t++) {
            __m512 wt = _mm512_loadu_ps(wv + t * 16);
            for (int u = 0; u < DWC_GROUP; u++) acc[u] = _mm512_fmadd_ps(_mm512_loadu_ps(base[u] + toff[t]), wt, acc[u]);
        }
        for (size_t u = 0; u < n; u++)
            _mm512_storeu_ps(oc + (q0 + u) * 16, _mm512_min_ps(_mm512_max_ps(acc[u], clo), chi));
    }
    /* back to planes, the residual added before the clamp: clamp(conv + res) */
    for (size_t p0 = 0; p0 < Q; p0 += 16) {
        size_t np = Q - p0 < 16 ? Q - p0 : 16;
        __mmask16 pm = np >= 16 ? (__mmask16)0xffff : (__mmask16)((1u << np) - 1);
        __m512 r[16];
        for (size_t i = 0; i < 16; i++) r[i] = i < np ? _mm512_loadu_ps(oc + (p0 + i) * 16) : _mm512_setzero_ps();
        em_tr16_regs(r);
        for (int64_t c = 0; c < nc; c++) {
            __m512 v = r[c];
            float *yo = y + (size_t)c * out_sz + p0;
            if (res) {
                const float *ro = res + (size_t)c * out_sz + p0;
                v = _mm512_add_ps(v, np == 16 ? _mm512_loadu_ps(ro) : _mm512_maskz_loadu_ps(pm, ro));
                v = _mm512_min_ps(_mm512_max_ps(v, lo), hi);
            }
            if (np == 16) _mm512_storeu_ps(yo, v);
            else _mm512_mask_storeu_ps(yo, pm, v);
        }
    }
}
