/* Conv 3x3, stride 1, dilation 1, group 1, float32: Winograd F(2x2, 3x3).
 * Each 2x2 block of outputs comes from a 4x4 input tile d and the filter g as
 * A^T [(G g G^T) .* (B^T d B)] A: 16 multiplies per channel pair instead of
 * 36, i.e. 2.25 times fewer. Across channels the 16 elementwise products are
 * 16 GEMMs (M x C) * (C x tiles) on the GEMM engine, with the transformed
 * filters U packed once per model. The transforms are exact in binary
 * (factors 1, 1/2): the rounding differs from direct convolution only by the
 * order of additions. */
#include "nn.h"
#include "nn_conv_wino.h"
#include "../pool.h"
#include "../cpu/wino.h"

static size_t slot_floats(size_t C, size_t M, int64_t OH, int64_t OW);
static int64_t chunk_rows(size_t C, size_t M, int64_t TH, int64_t TW);

/* U = G g G^T for one 3x3 filter, G = [1 0 0; 1/2 1/2 1/2; 1/2 -1/2 1/2; 0 0 1]. */
static void filter_transform(const float *g, float *u /* [16] */)
{
    float t[4][3];
    for (int j = 0; j < 3; j++) {
        float g0 = g[0 * 3 + j], g1 = g[1 * 3 + j], g2 = g[2 * 3 + j];
        t[0][j] = g0;
        t[1][j] = 0.5f * (g0 + g1 + g2);
        t[2][j] = 0.5f * (g0 - g1 + g2);
        t[3][j] = g2;
    }
    for (int i = 0; i < 4; i++) {
        float a = t[i][0], b = t[i][1], c = t[i][2];
        u[i * 4 + 0] = a;
        u[i * 4 + 1] = 0.5f * (a + b + c);
        u[i * 4 + 2] = 0.5f * (a - b + c);
        u[i * 4 + 3] = c;
    }
}

bool nn_wino_eligible(const em_tensor *W, const nn_geom_attrs *a)
{
#ifndef EDGEML_HAVE_X86_KERNELS
    (void)W; (void)a;
    return false;
#endif
    if (!em_cpu_has(EM_CPU_AVX512)) return false;
    if (!W || W->dtype != EDGEML_FLOAT || W->rank != 4 || W->dims[2] != 3 || W->dims[3] != 3) return false;
    if (a->group != 1 || W->dims[0] < 16 || W->dims[1] < 16) return false;
    for (int i = 0; i < 2; i++) {
        if (a->nsd >= 0 && i < a->nsd && a->strides[i] != 1) return false;
        if (a->ndl >= 0 && i < a->ndl && a->dil[i] != 1) return false;
    }
    return true;
}

float *nn_wino_pack(const em_sgemm_kernel *k, const em_tensor *W, size_t *stride)
{
    size_t M = (size_t)W->dims[0], C = (size_t)W->dims[1];
    size_t per = em_sgemm_packed_a_size(k, M, C);
    float *p = aligned_alloc(64, (16 * per * sizeof(float) + 63) / 64 * 64 + 64);
    if (!p) return NULL;
    size_t mr = (size_t)k->mr, Mp = (M + mr - 1) / mr * mr;
    if (Mp > M) /* the padding rows of the last panel: zero */
        for (int x = 0; x < 16; x++)
            for (size_t m = M; m < Mp; m++)
                for (size_t c = 0; c < C; c++) p[(size_t)x * per + em_sgemm_packed_a_index(k, M, C, m, c)] = 0.f;
    const float *w = W->data;
    float u[16];
    /* one pass: each filter transformed once, its 16 values written where the packed U_x want them */
    for (size_t m = 0; m < M; m++)
        for (size_t c = 0; c < C; c++) {
            filter_transform(w + (m * C + c) * 9, u);
            size_t at = em_sgemm_packed_a_index(k, M, C, m, c);
            for (int x = 0; x < 16; x++) p[(size_t)x * per + at] = u[x];
        }
    *stride = per;
    return p;
}

/* Tile rows per chunk: the transformed input and products of one chunk ([16][C + M][tiles])
 * take at most about 4 MB (a large image's whole plane would take hundreds: M-LSD large's
 * 256x256 layers 134 MB), so they stay in the outer caches and peak memory stays small. */
static int64_t chunk_rows(size_t C, size_t M, int64_t TH, int64_t TW)
{
    size_t per_row = 16 * (C + M) * (size_t)TW * sizeof(float);
    int64_t r = per_row ? (int64_t)(((size_t)4 << 20) / per_row) : TH;
    if (r < 1) r = 1;
    return r < TH ? r : TH;
}

size_t nn_wino_workspace(const em_sgemm_kernel *k, size_t M, size_t C, int64_t OH, int64_t OW, int threads,
                         size_t *gemm_ws)
{
    int64_t TH = (OH + 1) / 2, TW = (OW + 1) / 2;
    size_t Tb = (size_t)chunk_rows(C, M, TH, TW) * (size_t)TW;
    em_sgemm_args a = {.M = M, .N = Tb, .K = C, .a_packed = (const float *)1};
    *gemm_ws = (em_sgemm_workspace(k, &a, threads) + 63) / 64 * 64;
    size_t tasks = threads > 0 ? (size_t)threads : 1;
    return 16 * (C + M) * Tb * sizeof(float) + *gemm_ws + tasks * slot_floats(C, M, OH, OW) * sizeof(float) + 128;
}

/* ---- transforms, one task per thread (each with its own padded plane) --------------- */

typedef struct wino_job {
    const float *x;       /* [C][H][W] of one image */
    float *v;             /* [16][C][Tb]: the chunk's tiles */
    const float *mm;      /* [16][M][Tb] */
    int64_t th0, th1;     /* the chunk: tile rows [th0, th1) */
    float *y;             /* [M][OH][OW] */
    const float *bias, *res;
    const em_act *act;
    int64_t C, M, H, W, OH, OW, TH, TW, ph, pw;
    size_t HP, WP, slot, tasks;
    float *scratch;       /* tasks x slot floats */
    float lo, hi;
    em_wino_in_fn fin;
    em_wino_out_fn fout;
} wino_job;

static void geom(int64_t TH, int64_t TW, size_t *HP, size_t *WP)
{
    *HP = (size_t)(2 * TH + 2);
    *WP = 2 * (((size_t)TW + 15) / 16 * 16) + 4;
}

static void in_tasks(void *ctx, size_t tb, size_t te)
{
    const wino_job *J = ctx;
    size_t T = (size_t)((J->th1 - J->th0) * J->TW), CT = (size_t)J->C * T;
    size_t r0 = (size_t)(2 * J->th0), r1 = (size_t)(2 * J->th1 + 2); /* padded rows the chunk reads */
    for (size_t task = tb; task < te; task++) {
        float *xp = J->scratch + task * J->slot;
        size_t cb, ce;
        em_task_bounds((size_t)J->C, J->tasks, task, &cb, &ce);
        for (size_t c = cb; c < ce; c++) {
            const float *xc = J->x + c * (size_t)(J->H * J->W);
            for (size_t r = r0; r < r1; r++) {
                float *d = xp + (r - r0) * J->WP;
                int64_t ih = (int64_t)r - J->ph;
                memset(d, 0, J->WP * sizeof(float));
                if (ih >= 0 && ih < J->H) {
                    int64_t w0 = J->pw, n = J->W;
                    if (w0 + n > (int64_t)J->WP) n = (int64_t)J->WP - w0;
                    if (n > 0) memcpy(d + w0, xc + ih * J->W, (size_t)n * sizeof(float));
                }
            }
            for (int64_t th = J->th0; th < J->th1; th++)
                J->fin(xp + (size_t)(2 * (th - J->th0)) * J->WP, J->WP, (size_t)J->TW,
                       J->v + c * T + (size_t)((th - J->th0) * J->TW), CT);
        }
    }
}

static void out_tasks(void *ctx, size_t tb, size_t te)
{
    const wino_job *J = ctx;
    size_t T = (size_t)((J->th1 - J->th0) * J->TW), MT = (size_t)J->M * T, P = (size_t)(J->OH * J->OW);
    int64_t oh0 = 2 * J->th0, oh1 = 2 * J->th1 < J->OH ? 2 * J->th1 : J->OH;
    for (size_t task = tb; task < te; task++) {
        float *row0 = J->scratch + task * J->slot, *row1 = row0 + 2 * (size_t)J->TW + 32;
        size_t mb, me;
        em_task_bounds((size_t)J->M, J->tasks, task, &mb, &me);
        for (size_t m = mb; m < me; m++) {
            float b = J->bias ? J->bias[m] : 0.f;
            float *ym = J->y + m * P;
            const float *rm = J->res ? J->res + m * P : NULL;
            for (int64_t th = J->th0; th < J->th1; th++) {
                J->fout(J->mm + m * T + (size_t)((th - J->th0) * J->TW), MT, (size_t)J->TW, b, row0, row1);
                for (int i = 0; i < 2; i++) {
                    int64_t oh = th * 2 + i;
                    if (oh >= J->OH) break;
                    const float *src = i ? row1 : row0;
                    float *dst = ym + oh * J->OW;
                    const float *rr = rm ? rm + oh * J->OW : NULL;
#ifdef EDGEML_HAVE_X86_KERNELS
                    em_wino_store__avx512(src, rr, dst, (size_t)J->OW, J->lo, J->hi);
#else
                    for (int64_t ow = 0; ow < J->OW; ow++) {
                        float v = src[ow] + (rr ? rr[ow] : 0.f);
                        v = v < J->lo ? J->lo : v;
                        dst[ow] = v > J->hi ? J->hi : v;
                    }
#endif
                }
            }
            if (J->act) em_act_apply(J->act, ym + oh0 * J->OW, (size_t)((oh1 - oh0) * J->OW));
        }
    }
}

static size_t slot_floats(size_t C, size_t M, int64_t OH, int64_t OW)
{
    int64_t TH = (OH + 1) / 2, TW = (OW + 1) / 2, rows = chunk_rows(C, M, TH, TW);
    size_t HP, WP;
    geom(TH, TW, &HP, &WP);
    size_t a = (size_t)(2 * rows + 2) * WP, b = 4 * (size_t)TW + 64;
    return ((a > b ? a : b) + 15) / 16 * 16;
}

void nn_wino_run(em_kctx *c, const nn_wino_args *w)
{
    size_t C = (size_t)w->C, M = (size_t)w->M;
    int64_t TH = (w->OH + 1) / 2, TW = (w->OW + 1) / 2, rows = chunk_rows(C, M, TH, TW);
    size_t Tb = (size_t)rows * (size_t)TW;
    uint8_t *base = (uint8_t *)(((uintptr_t)c->ws + 63) & ~(uintptr_t)63);
    void *gws = base;
    float *v = (float *)(base + w->gemm_ws);
    float *mm = v + 16 * C * Tb;
    wino_job J = {0};
    J.v = v; J.mm = mm;
    J.C = w->C; J.M = w->M; J.H = w->H; J.W = w->W; J.OH = w->OH; J.OW = w->OW;
    J.TH = TH; J.TW = TW; J.ph = w->ph; J.pw = w->pw;
    geom(J.TH, J.TW, &J.HP, &J.WP);
    J.slot = slot_floats(C, M, w->OH, w->OW);
    size_t threads = c->threads > 0 ? (size_t)c->threads : 1;
    J.scratch = mm + 16 * M * Tb;
    J.bias = w->bias;
    J.lo = -INFINITY; J.hi = INFINITY;
    if (w->act && w->act->kind == EM_ACT_RELU) J.lo = 0.f;
    else if (w->act && w->act->kind == EM_ACT_CLIP) { J.lo = w->act->alpha; J.hi = w->act->beta; }
    else if (w->act && w->act->kind != EM_ACT_NONE) J.act = w->act;
#ifdef EDGEML_HAVE_X86_KERNELS
    J.fin = em_wino_in_row__avx512; /* nn_wino_eligible: only with AVX-512 */
    J.fout = em_wino_out_row__avx512;
#endif
    size_t tin = threads < C ? threads : C, tout = threads < M ? threads : M;
    for (int64_t n = 0; n < w->N; n++) {
        J.x = w->x + (size_t)n * C * (size_t)(w->H * w->W);
        J.y = w->y + (size_t)n * M * (size_t)(w->OH * w->OW);
        J.res = w->res ? w->res + (size_t)n * M * (size_t)(w->OH * w->OW) : NULL;
        for (J.th0 = 0; J.th0 < TH; J.th0 += rows) {
            J.th1 = J.th0 + rows < TH ? J.th0 + rows : TH;
            size_t T = (size_t)((J.th1 - J.th0) * TW);
            J.tasks = tin;
            if (tin > 1) em_parallel_for(c->pool, c->threads, tin, 1, in_tasks, &J); else in_tasks(&J, 0, 1);
            for (int x = 0; x < 16; x++) {
                em_sgemm_args a = {.M = M, .N = T, .K = C, .a_packed = w->packed + (size_t)x * w->stride,
                                   .B = v + (size_t)x * C * T, .ldb = T, .C = mm + (size_t)x * M * T, .ldc = T,
                                   .alpha = 1.f};
                em_sgemm(w->k, &a, gws, c->pool, c->threads);
            }
            J.tasks = tout;
            if (tout > 1) em_parallel_for(c->pool, c->threads, tout, 1, out_tasks, &J); else out_tasks(&J, 0, 1);
        }
    }
}
