/* Portable 4x8 float GEMM microkernel (any CPU; the compiler may vectorise it). */
#include "../gemm.h"

#define MR 4
#define NR 8

void em_sgemm_ukernel_4x8__scalar(size_t kc, const float *a, const float *b, float *c, size_t ldc,
                                  size_t mr, size_t nr, const em_gemm_epi *e)
{
    float acc[MR][NR] = {{0}};
    for (size_t p = 0; p < kc; p++) {
        for (int i = 0; i < MR; i++) {
            float av = a[i];
            for (int j = 0; j < NR; j++) acc[i][j] += av * b[j];
        }
        a += MR;
        b += NR;
    }
    for (size_t i = 0; i < mr; i++) {
        float *cr = c + i * ldc;
        float rb = (e->flags & EM_EPI_FIRST) && e->row_bias ? e->row_bias[i] : 0.f;
        for (size_t j = 0; j < nr; j++) {
            float v = acc[i][j];
            if (e->flags & EM_EPI_FIRST) {
                v += rb;
                if (e->col_bias) v += e->col_bias[j];
            } else {
                v += cr[j];
            }
            if (e->flags & EM_EPI_LAST) {
                if (e->res) v += e->res[i * e->ldr + j];
                v = v < e->lo ? e->lo : v;
                v = v > e->hi ? e->hi : v;
            }
            cr[j] = v;
        }
    }
}
