/* Operator family tables (see registry.c). */
#ifndef EDGEML_OPS_H
#define EDGEML_OPS_H
#include "../internal.h"

extern const em_op_entry em_ops_elementwise[]; /* ew_*.c */
extern const em_op_entry em_ops_shape[];       /* shape_*.c */
extern const em_op_entry em_ops_nn[];          /* nn_*.c */
extern const em_op_entry em_ops_reduce[];      /* red_*.c: reductions, losses, rnn, resize, detection */
extern const em_op_entry em_ops_control[];     /* ctl_*.c: If/Loop/Scan, sequences, optionals */
extern const em_op_entry em_ops_misc[];        /* misc_*.c: signal, strings, random, training, ml */

const em_op_entry *em_op_lookup(const char *domain, const char *op_type, int opset);
bool em_op_known(const char *domain, const char *op_type);
#endif
