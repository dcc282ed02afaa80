/* 8x12 float GEMM microkernel, AArch64 Advanced SIMD: 24 accumulators, 3 B
 * vectors and 2 A vectors per K step (FMA by lane). Partial tiles go through
 * a small buffer so that the epilogue is written once. */
#include "../../gemm.h"

#include <arm_neon.h>

#define MR 8
#define NR 12

static inline float32x4_t epi4(float32x4_t v, const float *cr, const float *cb, const float *r,
                               float rb, const em_gemm_epi *e)
{
    if (e->flags & EM_EPI_FIRST) {
        v = vaddq_f32(v, vdupq_n_f32(rb));
        if (cb) v = vaddq_f32(v, vld1q_f32(cb));
    } else {
        v = vaddq_f32(v, vld1q_f32(cr));
    }
    if (e->flags & EM_EPI_LAST) {
        if (r) v = vaddq_f32(v, vld1q_f32(r));
        v = vminq_f32(vmaxq_f32(v, vdupq_n_f32(e->lo)), vdupq_n_f32(e->hi));
    }
    return v;
}

void em_sgemm_ukernel_8x12__neon(size_t kc, const float *a, const float *b, float *c, size_t ldc,
                                 size_t mr, size_t nr, const em_gemm_epi *e)
{
    float32x4_t acc[MR][3];
    for (int i = 0; i < MR; i++)
        for (int j = 0; j < 3; j++) acc[i][j] = vdupq_n_f32(0.f);
    for (size_t p = 0; p < kc; p++) {
        float32x4_t b0 = vld1q_f32(b), b1 = vld1q_f32(b + 4), b2 = vld1q_f32(b + 8);
        float32x4_t a0 = vld1q_f32(a), a1 = vld1q_f32(a + 4);
#define ROW(i, av, l)                                            \
        acc[i][0] = vfmaq_laneq_f32(acc[i][0], b0, av, l);       \
        acc[i][1] = vfmaq_laneq_f32(acc[i][1], b1, av, l);       \
        acc[i][2] = vfmaq_laneq_f32(acc[i][2], b2, av, l);
        ROW(0, a0, 0) ROW(1, a0, 1) ROW(2, a0, 2) ROW(3, a0, 3)
        ROW(4, a1, 0) ROW(5, a1, 1) ROW(6, a1, 2) ROW(7, a1, 3)
#undef ROW
        a += MR;
        b += NR;
    }
    float cbuf[NR], rbuf[NR], obuf[NR];
    for (size_t i = 0; i < mr; i++) {
        float *cr = c + i * ldc;
        float rb = (e->flags & EM_EPI_FIRST) && e->row_bias ? e->row_bias[i] : 0.f;
        const float *r = (e->flags & EM_EPI_LAST) && e->res ? e->res + i * e->ldr : NULL;
        const float *cb = (e->flags & EM_EPI_FIRST) ? e->col_bias : NULL;
        if (nr == NR) {
            for (int j = 0; j < 3; j++)
                vst1q_f32(cr + 4 * j, epi4(acc[i][j], cr + 4 * j, cb ? cb + 4 * j : NULL,
                                           r ? r + 4 * j : NULL, rb, e));
            continue;
        }
        /* partial: stage C, bias and residual in full-width buffers */
        for (size_t j = 0; j < NR; j++) {
            cbuf[j] = j < nr && !(e->flags & EM_EPI_FIRST) ? cr[j] : 0.f;
            rbuf[j] = j < nr && cb ? cb[j] : 0.f;
            obuf[j] = j < nr && r ? r[j] : 0.f;
        }
        for (int j = 0; j < 3; j++)
            vst1q_f32(cbuf + 4 * j, epi4(acc[i][j], cbuf + 4 * j, cb ? rbuf + 4 * j : NULL,
                                         r ? obuf + 4 * j : NULL, rb, e));
        for (size_t j = 0; j < nr; j++) cr[j] = cbuf[j];
    }
}
