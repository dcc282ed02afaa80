/* Operator table of the `reduce` family (red_*.c). Version differences
 * (axes attribute -> input, layout, select_last_index, Resize attributes...)
 * are resolved in each prepare() from node->opset. */
#include "red.h"

#define RED_R(op) {"", op, 1, red_reduce_prepare, red_reduce_run, red_reduce_free}

const em_op_entry em_ops_reduce[] = {
    RED_R("ReduceSum"),
    RED_R("ReduceMean"),
    RED_R("ReduceMax"),
    RED_R("ReduceMin"),
    RED_R("ReduceProd"),
    RED_R("ReduceL1"),
    RED_R("ReduceL2"),
    RED_R("ReduceLogSum"),
    RED_R("ReduceLogSumExp"),
    RED_R("ReduceSumSquare"),
    {"", "ArgMax", 1, red_arg_prepare, red_arg_run, NULL},
    {"", "ArgMin", 1, red_arg_prepare, red_arg_run, NULL},
    {"", "NegativeLogLikelihoodLoss", 12, red_loss_prepare, red_nll_run, NULL},
    {"", "SoftmaxCrossEntropyLoss", 12, red_loss_prepare, red_sce_run, NULL},
    {"", "RNN", 1, red_rnn_prepare, red_rnn_run, red_rnn_free, red_rnn_reshape},
    {"", "GRU", 1, red_rnn_prepare, red_rnn_run, red_rnn_free, red_rnn_reshape},
    {"", "LSTM", 1, red_rnn_prepare, red_rnn_run, red_rnn_free, red_rnn_reshape},
    {"", "Resize", 10, red_resize_prepare, red_resize_run, NULL, red_resize_reshape},
    {"", "Upsample", 1, red_resize_prepare, red_resize_run, NULL, red_resize_reshape},
    {"", "GridSample", 16, red_grid_prepare, red_grid_run, NULL},
    {"", "RoiAlign", 10, red_roialign_prepare, red_roialign_run, NULL},
    {"", "NonMaxSuppression", 10, red_nms_prepare, red_nms_run, NULL},
    {NULL, NULL, 0, NULL, NULL, NULL},
};
