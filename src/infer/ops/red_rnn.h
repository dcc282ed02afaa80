/* RNN / GRU / LSTM: the state prepare parses (red_rnn.c), shared by the
 * reference kernel (red_rnn.c) and the float32 fast path (red_rnn_fast.c). */
#ifndef EDGEML_OPS_RED_RNN_H
#define EDGEML_OPS_RED_RNN_H
#include "red.h"

enum { CELL_RNN, CELL_GRU, CELL_LSTM };
enum { ACT_RELU, ACT_TANH, ACT_SIGMOID, ACT_AFFINE, ACT_LEAKYRELU, ACT_THRESHRELU,
       ACT_SCALEDTANH, ACT_HARDSIGMOID, ACT_ELU, ACT_SOFTSIGN, ACT_SOFTPLUS };

typedef struct { int type; float alpha, beta; } red_act;

struct rnn_fast;

typedef struct {
    int cell;
    int G;          /* gates */
    int NA;         /* activations per direction */
    int64_t H;      /* hidden_size, 0 when absent */
    int dirs;
    int reverse;    /* direction == "reverse" (single direction) */
    int layout;
    int has_clip;
    float clip;
    int lbr;        /* GRU linear_before_reset */
    int input_forget;
    red_act act[6];
    struct rnn_fast *fast;   /* packed weights of the fast path, or NULL (red_rnn_fast.c) */
} red_rnn_state;

/* Parses the attributes into node->state (a red_rnn_state). */
edgeml_status red_rnn_ref_prepare(em_node *node, edgeml_error *err);
/* The reference kernel: every float dtype, activation and clip. */
edgeml_status red_rnn_ref_run(em_kctx *c);

#endif
