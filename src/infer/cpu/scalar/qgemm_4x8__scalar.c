/* int8 GEMM microkernel, 4 rows x 8 columns, portable C (see qgemm.h). */
#include "../qgemm.h"

#define MR 4
#define NR 8

void em_qgemm_ukernel_4x8__scalar(size_t k4, const void *av, const uint8_t *b, void *cv, size_t ldc,
                                  size_t mr, size_t nr, const em_qgemm_epi *e)
{
    const int8_t *a = av;
    uint32_t acc[MR][NR] = {{0}}; /* wraps modulo 2^32, as ONNX's int32 accumulation */
    for (size_t k = 0; k < k4; k++) {
        for (int i = 0; i < MR; i++) {
            const int8_t *w = a + i * 4;
            for (int j = 0; j < NR; j++) {
                const uint8_t *x = b + j * 4;
                acc[i][j] += (uint32_t)((int32_t)x[0] * w[0] + (int32_t)x[1] * w[1] + (int32_t)x[2] * w[2] +
                             (int32_t)x[3] * w[3]);
            }
        }
        a += MR * 4;
        b += NR * 4;
    }
    for (size_t i = 0; i < mr; i++)
        for (size_t j = 0; j < nr; j++) {
            int32_t v = (int32_t)(acc[i][j] + (uint32_t)e->bias[i]);
            if (e->out32) ((int32_t *)cv)[i * ldc + j] = v;
            else ((uint8_t *)cv)[i * ldc + j] = (uint8_t)em_qrequant(v, e->mult[i], e);
        }
}
