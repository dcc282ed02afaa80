/* The int8 GEMM driver (see qgemm.h): kernel selection, weight packing,
 * B panels packed per task from the rows a callback provides (implicit
 * im2col), the split over threads; and the depthwise plane helpers. */
#include "qgemm.h"
#include "../pool.h"

#include <string.h>
#ifdef __SSE2__
#include <emmintrin.h>
#endif

static const em_qgemm_kernel k_scalar = {
    "4x8 scalar", EM_CPU_REFERENCE, 4, 8, EM_QA_BYTES4, 128, em_qgemm_ukernel_4x8__scalar,
};
#ifdef EDGEML_HAVE_X86_KERNELS
static const em_qgemm_kernel k_avx2 = {
    "4x16 avx2", EM_CPU_AVX2, 4, 16, EM_QA_PAIRS16, 256, em_qgemm_ukernel_4x16__avx2,
};
static const em_qgemm_kernel k_vnni = {
    "8x32 avx512vnni", EM_CPU_AVX512VNNI, 8, 32, EM_QA_BYTES4, 256, em_qgemm_ukernel_8x32__avx512vnni,
};
#endif

const em_qgemm_kernel *em_qgemm_kernel_for(em_cpu_level l)
{
    switch (l) {
#ifdef EDGEML_HAVE_X86_KERNELS
    case EM_CPU_AVX512VNNI: return &k_vnni;
    case EM_CPU_AVX512:
    case EM_CPU_AVX2: return &k_avx2;
#endif
    case EM_CPU_REFERENCE:
    case EM_CPU_SSE2:
    case EM_CPU_NEON:
    case EM_CPU_NEONDOT: return &k_scalar;
    default: return NULL;
    }
}

const em_qgemm_kernel *em_qgemm_kernel_get(void)
{
    const em_qgemm_kernel *k = em_qgemm_kernel_for(em_cpu_level_get());
    return k ? k : &k_scalar;
}

static size_t round_up(size_t x, size_t m) { return (x + m - 1) / m * m; }
static size_t div_up(size_t x, size_t m) { return (x + m - 1) / m; }

size_t em_qgemm_packed_a_size(const em_qgemm_kernel *k, size_t M, size_t K)
{
    size_t per = k->a_layout == EM_QA_PAIRS16 ? 8 : 4;
    return div_up(M, (size_t)k->mr) * em_qgemm_k4(K) * (size_t)k->mr * per;
}

void em_qgemm_pack_a(const em_qgemm_kernel *k, size_t M, size_t K, const uint8_t *W, bool xor80,
                     uint8_t *dst, int32_t *rowsum)
{
    size_t MR = (size_t)k->mr, k4 = em_qgemm_k4(K);
    if (rowsum)
        for (size_t m = 0; m < M; m++) {
            int32_t s = 0;
            for (size_t j = 0; j < K; j++) s += (int8_t)(W[m * K + j] ^ (xor80 ? 0x80 : 0));
            rowsum[m] = s;
        }
    for (size_t ib = 0; ib < div_up(M, MR); ib++)
        for (size_t g = 0; g < k4; g++)
            for (size_t i = 0; i < MR; i++) {
                size_t m = ib * MR + i;
                int8_t w[4];
                for (int r = 0; r < 4; r++) {
                    size_t kk = g * 4 + (size_t)r;
                    w[r] = m < M && kk < K ? (int8_t)(W[m * K + kk] ^ (xor80 ? 0x80 : 0)) : 0;
                }
                size_t idx = (ib * k4 + g) * MR + i;
                if (k->a_layout == EM_QA_PAIRS16) {
                    uint32_t p0 = (uint16_t)(int16_t)w[0] | (uint32_t)(uint16_t)(int16_t)w[2] << 16;
                    uint32_t p1 = (uint16_t)(int16_t)w[1] | (uint32_t)(uint16_t)(int16_t)w[3] << 16;
                    memcpy(dst + idx * 8, &p0, 4);
                    memcpy(dst + idx * 8 + 4, &p1, 4);
                } else
                    memcpy(dst + idx * 4, w, 4);
            }
}

/* ---- B panels ---------------------------------------------------------------- */

/* Interleaves 4 rows of nc bytes into panels: dst[(j / NR) * k4 * NR * 4 + j % NR * 4 + r]
 * (dst already points at this k4 group). Columns nc .. round_up(nc, NR) get zeros. */
static void interleave4(const uint8_t *const *rows, size_t nc, size_t NR, size_t pstride, bool xr,
                        uint8_t *dst)
{
    size_t j = 0;
#ifdef __SSE2__
    if (NR % 16 == 0) {
        const __m128i flip = _mm_set1_epi8(xr ? (char)0x80 : 0);
        for (; j + 16 <= nc; j += 16) {
            __m128i a = _mm_xor_si128(_mm_loadu_si128((const __m128i *)(rows[0] + j)), flip);
            __m128i b = _mm_xor_si128(_mm_loadu_si128((const __m128i *)(rows[1] + j)), flip);
            __m128i c = _mm_xor_si128(_mm_loadu_si128((const __m128i *)(rows[2] + j)), flip);
            __m128i d = _mm_xor_si128(_mm_loadu_si128((const __m128i *)(rows[3] + j)), flip);
            __m128i ab0 = _mm_unpacklo_epi8(a, b), ab1 = _mm_unpackhi_epi8(a, b);
            __m128i cd0 = _mm_unpacklo_epi8(c, d), cd1 = _mm_unpackhi_epi8(c, d);
            uint8_t *o = dst + (j / NR) * pstride + (j % NR) * 4;
            _mm_storeu_si128((__m128i *)o, _mm_unpacklo_epi16(ab0, cd0));
            _mm_storeu_si128((__m128i *)(o + 16), _mm_unpackhi_epi16(ab0, cd0));
            _mm_storeu_si128((__m128i *)(o + 32), _mm_unpacklo_epi16(ab1, cd1));
            _mm_storeu_si128((__m128i *)(o + 48), _mm_unpackhi_epi16(ab1, cd1));
        }
    }
#endif
    uint8_t f = xr ? 0x80 : 0;
    for (; j < nc; j++) {
        uint8_t *o = dst + (j / NR) * pstride + (j % NR) * 4;
        o[0] = rows[0][j] ^ f;
        o[1] = rows[1][j] ^ f;
        o[2] = rows[2][j] ^ f;
        o[3] = rows[3][j] ^ f;
    }
    for (size_t e = round_up(nc, NR); j < e; j++) memset(dst + (j / NR) * pstride + (j % NR) * 4, 0, 4);
}

typedef struct qjob {
    const em_qgemm_kernel *k;
    const em_qgemm_args *a;
    uint8_t *ws;
    size_t slot, nc, mc, nb_col, nb_row, items, tasks;
} qjob;

/* cs[j] += sum over the nk rows of row[j] (u8 domain: flipped when xr). */
static void col_sums(const uint8_t *const *rows, size_t nk, size_t nc, bool xr, uint32_t *cs)
{
    uint8_t f = xr ? 0x80 : 0;
    for (size_t r = 0; r < nk; r++) {
        const uint8_t *p = rows[r];
        for (size_t j = 0; j < nc; j++) cs[j] += (uint8_t)(p[j] ^ f);
    }
}

static void pack_b_block(const qjob *J, size_t j0, size_t nc, uint8_t *panel, uint8_t *tmp, const uint8_t *zero,
                         uint32_t *cs)
{
    const em_qgemm_args *a = J->a;
    size_t NR = (size_t)J->k->nr, K = a->K, k4 = em_qgemm_k4(K), pstride = k4 * NR * 4;
    if (cs) memset(cs, 0, nc * sizeof *cs);
    for (size_t g = 0; g < k4; g++) {
        size_t k0 = g * 4, nk = K - k0 < 4 ? K - k0 : 4;
        const uint8_t *rows[4] = {zero, zero, zero, zero};
        a->rows(a->rows_ctx, k0, nk, j0, nc, tmp, rows);
        interleave4(rows, nc, NR, pstride, a->x_xor80, panel + g * NR * 4);
        if (cs) col_sums(rows, nk, nc, a->x_xor80, cs);
    }
}

/* C[m][j0 + j] -= col_wz[m] * cs[j] for rows [m0, m1) (wrapping, as the reference). */
static void col_correct(const em_qgemm_args *a, size_t m0, size_t m1, size_t j0, size_t nc, const uint32_t *cs)
{
    for (size_t m = m0; m < m1; m++) {
        uint32_t w = (uint32_t)a->col_wz[m];
        if (!w) continue;
        int32_t *c = (int32_t *)a->C + m * a->ldc + j0;
        for (size_t j = 0; j < nc; j++) c[j] = (int32_t)((uint32_t)c[j] - w * cs[j]);
    }
}

static void qtask(void *ctx, size_t tb, size_t te)
{
    const qjob *J = ctx;
    const em_qgemm_args *a = J->a;
    const em_qgemm_kernel *k = J->k;
    size_t MR = (size_t)k->mr, NR = (size_t)k->nr, k4 = em_qgemm_k4(a->K);
    size_t abytes = (k->a_layout == EM_QA_PAIRS16 ? 8 : 4) * MR * k4;
    size_t esz = a->out32 ? 4 : 1;
    for (size_t t = tb; t < te; t++) {
        uint8_t *panel = J->ws + t * J->slot;
        uint8_t *tmp = panel + round_up(k4 * 4 * round_up(J->nc, NR), 64);
        uint8_t *zero = tmp + round_up(4 * J->nc, 64);
        memset(zero, 0, J->nc);
        uint32_t *cs = a->col_wz && a->out32 ? (uint32_t *)(zero + round_up(J->nc, 64) + 64) : NULL;
        size_t ib = J->items / J->tasks * t + (t < J->items % J->tasks ? t : J->items % J->tasks);
        size_t ie = ib + J->items / J->tasks + (t < J->items % J->tasks ? 1 : 0);
        size_t packed = (size_t)-1;
        for (size_t it = ib; it < ie; it++) {
            size_t cb = it / J->nb_row, rb = it % J->nb_row;
            size_t j0 = cb * J->nc, nc = a->N - j0 < J->nc ? a->N - j0 : J->nc;
            if (packed != cb) {
                pack_b_block(J, j0, nc, panel, tmp, zero, cs);
                packed = cb;
            }
            size_t m0 = rb * J->mc, m1 = m0 + J->mc < a->M ? m0 + J->mc : a->M;
            for (size_t m = m0; m < m1; m += MR) {
                size_t mr = a->M - m < MR ? a->M - m : MR;
                em_qgemm_epi e = {a->bias + m, a->mult ? a->mult + m : NULL, a->flo, a->fhi, a->yzp, a->out32};
                const uint8_t *ap = a->a_packed + (m / MR) * abytes;
                for (size_t jp = 0; jp < nc; jp += NR) {
                    size_t nr = nc - jp < NR ? nc - jp : NR;
                    uint8_t *c = (uint8_t *)a->C + (m * a->ldc + j0 + jp) * esz;
                    k->fn(k4, ap, panel + (jp / NR) * k4 * NR * 4, c, a->ldc, mr, nr, &e);
                }
            }
            if (cs) col_correct(a, m0, m1, j0, nc, cs);
            if (a->post) a->post(a->post_ctx, m0, m1, j0, nc);
        }
    }
}

static void plan(const em_qgemm_kernel *k, const em_qgemm_args *a, int threads, qjob *J)
{
    size_t NR = (size_t)k->nr, MR = (size_t)k->mr, T = threads > 0 ? (size_t)threads : 1;
    size_t nc = k->nc;
    if (nc > round_up(a->N, NR)) nc = round_up(a->N, NR);
    if (T > 1)
        while (nc > NR && div_up(a->N, nc) < 2 * T) nc = round_up(nc / 2, NR);
    if (nc < NR) nc = NR;
    J->nc = nc;
    J->nb_col = div_up(a->N, nc);
    J->nb_row = 1;
    J->mc = round_up(a->M, MR);
    if (J->nb_col < T && a->M > MR) {
        size_t want = div_up(T, J->nb_col);
        J->mc = round_up(div_up(a->M, want), MR);
        J->nb_row = div_up(a->M, J->mc);
    }
    J->items = J->nb_col * J->nb_row;
    J->tasks = T < J->items ? T : J->items;
    if (J->tasks < 1) J->tasks = 1;
    size_t k4 = em_qgemm_k4(a->K);
    J->slot = round_up(k4 * 4 * round_up(nc, NR), 64) + round_up(4 * nc, 64) + round_up(nc, 64) + 64;
    if (a->col_wz && a->out32) J->slot += round_up(nc * sizeof(uint32_t), 64);
}

size_t em_qgemm_workspace(const em_qgemm_kernel *k, const em_qgemm_args *a, int threads)
{
    if (!a->M || !a->N) return 0;
    qjob J;
    plan(k, a, threads, &J);
    return J.tasks * J.slot;
}

void em_qgemm(const em_qgemm_kernel *k, const em_qgemm_args *a, void *ws, struct em_tpool *pool, int threads)
{
    if (!a->M || !a->N) return;
    qjob J = {.k = k, .a = a, .ws = ws};
    plan(k, a, threads, &J);
    if (J.tasks <= 1) qtask(&J, 0, 1);
    else em_parallel_for(pool, threads, J.tasks, 1, qtask, &J);
}

/* ---- depthwise ------------------------------------------------------------------ */

void em_qdw_geom_init(em_qdw_geom *g)
{
    int64_t blocks = (g->OW + 15) / 16;
    int64_t need_w = blocks * 16 * g->sw + (g->kw - 1) * g->dw + 64; /* room for whole-vector loads */
    int64_t need_h = (g->OH - 1) * g->sh + (g->kh - 1) * g->dh + 1;
    int64_t w = g->W + g->pw, h = g->H + g->ph;
    g->WP = need_w > w ? need_w : w;
    g->HP = need_h > h ? need_h : h;
    if (g->OH <= 0) g->HP = h;
}

void em_qdw_pad(const em_qdw_geom *g, const uint8_t *x, uint8_t pad, bool xor80, uint8_t *xp)
{
    size_t WP = (size_t)g->WP;
    uint8_t p = pad ^ (xor80 ? 0x80 : 0);
    for (int64_t r = 0; r < g->HP; r++) {
        uint8_t *d = xp + (size_t)r * WP;
        int64_t ih = r - g->ph;
        if (ih < 0 || ih >= g->H) {
            memset(d, p, WP);
            continue;
        }
        memset(d, p, (size_t)g->pw);
        const uint8_t *s = x + ih * g->W;
        if (xor80)
            for (int64_t j = 0; j < g->W; j++) d[g->pw + j] = s[j] ^ 0x80;
        else
            memcpy(d + g->pw, s, (size_t)g->W);
        memset(d + g->pw + g->W, p, WP - (size_t)(g->pw + g->W));
    }
}

void em_qdw_plane__scalar(const em_qdw_geom *g, const uint8_t *xp, const int16_t *w, int32_t bias,
                          float mult, const em_qgemm_epi *e, uint8_t *y)
{
    for (int64_t oh = 0; oh < g->OH; oh++)
        for (int64_t ow = 0; ow < g->OW; ow++) {
            uint32_t acc = (uint32_t)bias;
            for (int64_t ki = 0; ki < g->kh; ki++) {
                const uint8_t *r = xp + (size_t)((oh * g->sh + ki * g->dh) * g->WP) + ow * g->sw;
                for (int64_t kj = 0; kj < g->kw; kj++) acc += (uint32_t)((int32_t)r[kj * g->dw] * w[ki * g->kw + kj]);
            }
            y[oh * g->OW + ow] = (uint8_t)em_qrequant((int32_t)acc, mult, e);
        }
}

em_qdw_fn em_qdw_for(em_cpu_level l)
{
    switch (l) {
#ifdef EDGEML_HAVE_X86_KERNELS
    case EM_CPU_AVX512VNNI:
    case EM_CPU_AVX512: return em_qdw_plane__avx512;
    case EM_CPU_AVX2: return em_qdw_plane__avx2;
#endif
    case EM_CPU_REFERENCE:
    case EM_CPU_SSE2:
    case EM_CPU_NEON:
    case EM_CPU_NEONDOT: return em_qdw_plane__scalar;
    default: return NULL;
    }
}

em_qdw_fn em_qdw_get(void)
{
    em_qdw_fn f = em_qdw_for(em_cpu_level_get());
    return f ? f : em_qdw_plane__scalar;
}
