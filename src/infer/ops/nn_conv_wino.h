/* Winograd F(2x2, 3x3) convolution (nn_conv_wino.c), used by nn_conv_fast.c. */
#ifndef EDGEML_OPS_NN_CONV_WINO_H
#define EDGEML_OPS_NN_CONV_WINO_H
#include "nn.h"
#include "../cpu/gemm.h"

/* W and the attributes allow it (3x3, group 1, stride 1, dilation 1, >= 16 channels each side). */
bool nn_wino_eligible(const em_tensor *W, const nn_geom_attrs *a);
/* The 16 transformed filter matrices, each packed for k; *stride floats apart. NULL on OOM. */
float *nn_wino_pack(const em_sgemm_kernel *k, const em_tensor *W, size_t *stride);
/* Workspace bytes for one image (reused per image); *gemm_ws: the GEMM's part (first). */
size_t nn_wino_workspace(const em_sgemm_kernel *k, size_t M, size_t C, int64_t OH, int64_t OW, int threads,
                         size_t *gemm_ws);

typedef struct nn_wino_args {
    const em_sgemm_kernel *k;
    const float *packed;
    size_t stride, gemm_ws;
    const float *x, *bias, *res;
    float *y;
    const em_act *act;
    int64_t N, C, M, H, W, OH, OW, ph, pw;
} nn_wino_args;
void nn_wino_run(em_kctx *c, const nn_wino_args *w);

#endif
