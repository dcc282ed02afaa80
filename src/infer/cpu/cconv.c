/* Direct few-channel convolution: weight packing and selection (see cconv.h). */
#include "cconv.h"

#include <string.h>

size_t em_cconv_packed_size(int64_t M, int64_t C, int64_t kh, int64_t kw)
{
    size_t mb = (size_t)((M + EM_CCONV_MB - 1) / EM_CCONV_MB);
    return mb * (size_t)(C * kh * kw) * EM_CCONV_MB;
}

void em_cconv_pack(const float *w, int64_t M, int64_t C, int64_t kh, int64_t kw, float *dst)
{
    size_t K = (size_t)(C * kh * kw);
    memset(dst, 0, em_cconv_packed_size(M, C, kh, kw) * sizeof(float));
    for (int64_t m = 0; m < M; m++)
        for (size_t k = 0; k < K; k++)
            dst[(size_t)(m / EM_CCONV_MB) * K * EM_CCONV_MB + k * EM_CCONV_MB + (size_t)(m % EM_CCONV_MB)] =
                w[(size_t)m * K + k];
}

em_cconv_fn em_cconv_get(void)
{
#ifdef EDGEML_HAVE_X86_KERNELS
    if (em_cpu_has(EM_CPU_AVX512)) return em_cconv_rows__avx512;
#endif
    return NULL;
}
