/* The fused scaled dot-product attention (ops/nn_attention.c), a private op
 * made only by the graph optimiser (opt/attention.c), domain "edgeml":
 *
 *   inputs  Xq, Xk, Xv [, mask]    (float32; mask -1 when absent)
 *   attrs   perm_q, perm_k, perm_v (ints, optional): Q = Transpose(Xq, perm_q),
 *           KT = Transpose(Xk, perm_k), V = Transpose(Xv, perm_v);
 *           perm_o (ints, optional): Y = Transpose(O, perm_o), last axis kept;
 *           scale (float)
 *   O = MatMul(Softmax(scale * MatMul(Q, KT) [+ mask], axis -1), V)
 *
 * with numpy batch broadcasting as the two MatMuls and the Add give it. */
#ifndef EDGEML_OPS_NN_ATTENTION_H
#define EDGEML_OPS_NN_ATTENTION_H
#include "../internal.h"

extern const em_op_entry em_nn_attention_entry;

#endif
