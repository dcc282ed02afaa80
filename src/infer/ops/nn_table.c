/* Operator table of the neural-network family (nn_*.c). */
#include "nn.h"

#define R(op, since, prep, run) {"", op, since, prep, run, NULL}

NN_PREP(deform); NN_OP(deform); /* nn_deform.c */

const em_op_entry em_ops_nn[] = {
    {"", "Conv", 1, nn_conv_prepare, nn_conv_run, nn_conv_free, nn_conv_reshape},
    {"", "ConvInteger", 10, nn_convint_fast_prepare, nn_convint_fast_run, nn_convint_fast_free,
     nn_convint_fast_reshape},
    {"", "QLinearConv", 10, nn_qlinear_conv_fast_prepare, nn_qlinear_conv_fast_run, nn_qconv_fast_free,
     nn_qlinear_conv_fast_reshape},
    {"", "ConvTranspose", 1, nn_convt_prepare, nn_convt_run, nn_convt_free, nn_convt_reshape},
    R("DeformConv", 19, nn_deform_prepare, nn_deform_run),
    R("AveragePool", 1, nn_pool_prepare, nn_avgpool_run),
    R("MaxPool", 1, nn_pool_prepare, nn_maxpool_run),
    R("LpPool", 1, nn_pool_prepare, nn_lppool_run),
    R("GlobalAveragePool", 1, NULL, nn_gavgpool_run),
    R("GlobalMaxPool", 1, NULL, nn_gmaxpool_run),
    R("GlobalLpPool", 1, nn_pool_prepare, nn_glppool_run),
    R("MaxUnpool", 9, nn_pool_prepare, nn_maxunpool_run),
    R("MaxRoiPool", 1, NULL, nn_maxroipool_run),
    R("BatchNormalization", 1, NULL, nn_batchnorm_run),
    R("InstanceNormalization", 1, NULL, nn_instnorm_run),
    {"", "LayerNormalization", 17, NULL, nn_layernorm_run, NULL, nn_layernorm_reshape},
    R("GroupNormalization", 18, NULL, nn_groupnorm_run),
    R("LRN", 1, NULL, nn_lrn_run),
    R("MeanVarianceNormalization", 1, NULL, nn_mvn_run),
    {"", "Gemm", 1, nn_gemm_prepare, nn_gemm_run, nn_mm_free, nn_gemm_reshape},
    {"", "MatMul", 1, nn_matmul_prepare, nn_matmul_run, nn_mm_free, nn_matmul_reshape},
    {"", "MatMulInteger", 10, nn_matmulint_fast_prepare, nn_matmulint_fast_run, nn_matmulint_fast_free,
     nn_matmulint_fast_reshape},
    R("QLinearMatMul", 10, NULL, nn_qlinear_matmul_run),
    R("QuantizeLinear", 10, NULL, nn_quantize_fast_run),
    R("DequantizeLinear", 10, NULL, nn_dequantize_fast_run),
    R("DynamicQuantizeLinear", 11, NULL, nn_dynquant_fast_run),
    R("Softmax", 1, NULL, nn_softmax_run),
    R("LogSoftmax", 1, NULL, nn_logsoftmax_run),
    R("Hardmax", 1, NULL, nn_hardmax_run),
    R("Einsum", 12, nn_einsum_prepare, nn_einsum_run),
    R("Det", 11, NULL, nn_det_run),
    {NULL, NULL, 0, NULL, NULL, NULL},
};
