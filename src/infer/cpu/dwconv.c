/* Depthwise kernel selection and the padded plane (see dwconv.h). */
#include "dwconv.h"

#include <string.h>

void em_dwconv_layout(em_dwconv_fn fn, em_dw_geom *g)
{
    g->deint = g->vpad = 0;
#ifdef EDGEML_HAVE_X86_KERNELS
    if (fn == em_dwconv_plane__avx512) {
        g->vpad = 1;
        g->deint = g->sw == 2 && g->dw == 1 && g->kh * g->kw <= 64;
    }
#else
    (void)fn;
#endif
}

bool em_dwconv_clamps(em_dwconv_fn fn)
{
#ifdef EDGEML_HAVE_X86_KERNELS
    return fn == em_dwconv_plane__avx512;
#else
    (void)fn;
    return false;
#endif
}

void em_dw_geom_init(em_dw_geom *g)
{
    int64_t blocks = (g->OW + EM_DW_BLOCK - 1) / EM_DW_BLOCK;
    g->lo = -__builtin_inff();
    g->hi = __builtin_inff();
    if (g->deint) {
        /* tap kj of output o reads half-row (kj & 1) at o + kj / 2; room for whole blocks */
        int64_t half = blocks * EM_DW_BLOCK + (g->kw - 1) / 2 + 1;
        int64_t w = (g->W + g->pw + 1) / 2 + 1;
        if (half < w) half = w;
        g->WE = (half + 15) / 16 * 16;
        g->WP = 2 * g->WE;
        int64_t need_h = (g->OH - 1) * g->sh + (g->kh - 1) * g->dh + 1, h = g->H + g->ph;
        g->HP = need_h > h ? need_h : h;
        if (g->OH <= 0) g->HP = h;
        return;
    }
    /* the last block reads up to (blocks*B - 1)*sw + (kw-1)*dw past column 0 of the padded row */
    /* stride-2 kernels load pairs of registers: one element past the last tap */
    int64_t need_w = blocks * EM_DW_BLOCK * g->sw + (g->kw - 1) * g->dw + 1;
    int64_t need_h = (g->OH - 1) * g->sh + (g->kh - 1) * g->dh + 1;
    int64_t w = g->W + g->pw, h = g->H + g->ph;
    g->WP = need_w > w ? need_w : w;
    if (g->vpad) g->WP = (g->WP + 15) / 16 * 16; /* rows start on 64 bytes: the first tap's loads are aligned */
    g->HP = need_h > h ? need_h : h;
    if (g->OH <= 0) g->HP = h;
}

static void fill(float *d, size_t n, float v)
{
    for (size_t i = 0; i < n; i++) d[i] = v;
}

void em_dw_pad_with(const em_dw_geom *g, const float *x, float *xp, float v)
{
#ifdef EDGEML_HAVE_X86_KERNELS
    if (g->vpad) { em_dw_pad_fill__avx512(g, x, xp, v); return; }
#endif
    size_t WP = (size_t)g->WP;
    for (int64_t r = 0; r < g->HP; r++) {
        float *d = xp + (size_t)r * WP;
        int64_t ih = r - g->ph;
        if (ih < 0 || ih >= g->H) {
            if (v == 0.f) memset(d, 0, WP * sizeof(float));
            else fill(d, WP, v);
            continue;
        }
        fill(d, (size_t)g->pw, v);
        memcpy(d + g->pw, x + ih * g->W, (size_t)g->W * sizeof(float));
        fill(d + g->pw + g->W, WP - (size_t)(g->pw + g->W), v);
    }
}

void em_dw_pad(const em_dw_geom *g, const float *x, float *xp)
{
#ifdef EDGEML_HAVE_X86_KERNELS
    if (g->vpad) { em_dw_pad__avx512(g, x, xp); return; }
#endif
    em_dw_pad_with(g, x, xp, 0.f);
}

#include "pool2d.h"

em_maxpool_fn em_maxpool_get(void)
{
#ifdef EDGEML_HAVE_X86_KERNELS
    if (em_cpu_has(EM_CPU_AVX512)) return em_maxpool_plane__avx512;
    if (em_cpu_has(EM_CPU_AVX2)) return em_maxpool_plane__avx2;
#endif
    return NULL;
}

em_avgpool_fn em_avgpool_get(void)
{
#ifdef EDGEML_HAVE_X86_KERNELS
    if (em_cpu_has(EM_CPU_AVX512)) return em_avgpool_plane__avx512;
    if (em_cpu_has(EM_CPU_AVX2)) return em_avgpool_plane__avx2;
#endif
    return NULL;
}

em_dwconv_fn em_dwconv_for(em_cpu_level l)
{
    switch (l) {
#ifdef EDGEML_HAVE_X86_KERNELS
    case EM_CPU_AVX512VNNI:
    case EM_CPU_AVX512: return em_dwconv_plane__avx512;
    case EM_CPU_AVX2: return em_dwconv_plane__avx2;
#endif
#ifdef EDGEML_HAVE_NEON_KERNELS
    case EM_CPU_NEON:
    case EM_CPU_NEONDOT: return em_dwconv_plane__neon;
#endif
    case EM_CPU_REFERENCE:
    case EM_CPU_SSE2: return em_dwconv_plane__scalar;
    default: return NULL;
    }
}

em_dwconv_fn em_dwconv_get(void)
{
    em_dwconv_fn f = em_dwconv_for(em_cpu_level_get());
    return f ? f : em_dwconv_plane__scalar;
}

/* The AVX-512 small-plane kernel's workspace (portable: callers size it on every target). */
size_t em_dwconv_cblock_ws(const em_dw_geom *g)
{
    size_t hp = (size_t)((g->OH - 1) * g->sh + (g->kh - 1) * g->dh + 1), wp = (size_t)((g->OW - 1) * g->sw + (g->kw - 1) * g->dw + 1);
    if (hp < (size_t)(g->H + g->ph)) hp = (size_t)(g->H + g->ph);
    if (wp < (size_t)(g->W + g->pw)) wp = (size_t)(g->W + g->pw);
    return (hp * wp + (size_t)(g->OH * g->OW) + (size_t)(g->kh * g->kw) + 1) * 16;
}
