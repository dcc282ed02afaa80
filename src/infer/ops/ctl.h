/* Control flow, sequences and optionals (family "control", prefix ctl_).
 * Private to src/infer/ops/ctl_*.c. */
#ifndef EDGEML_OPS_CTL_H
#define EDGEML_OPS_CTL_H
#include "ops.h"

/* ---- kernels ----------------------------------------------------------- */

edgeml_status ctl_if_prepare(em_node *node, edgeml_error *err);
edgeml_status ctl_if_run(em_kctx *c);

edgeml_status ctl_loop_prepare(em_node *node, edgeml_error *err);
edgeml_status ctl_loop_run(em_kctx *c);

edgeml_status ctl_scan8_prepare(em_node *node, edgeml_error *err);
edgeml_status ctl_scan8_run(em_kctx *c);
edgeml_status ctl_scan9_prepare(em_node *node, edgeml_error *err);
edgeml_status ctl_scan9_run(em_kctx *c);

edgeml_status ctl_seqmap_prepare(em_node *node, edgeml_error *err);
edgeml_status ctl_seqmap_run(em_kctx *c);

edgeml_status ctl_seq_construct_run(em_kctx *c);
edgeml_status ctl_seq_empty_prepare(em_node *node, edgeml_error *err);
edgeml_status ctl_seq_empty_run(em_kctx *c);
edgeml_status ctl_seq_at_run(em_kctx *c);
edgeml_status ctl_seq_erase_run(em_kctx *c);
edgeml_status ctl_seq_insert_run(em_kctx *c);
edgeml_status ctl_seq_length_run(em_kctx *c);

edgeml_status ctl_split_to_seq_prepare(em_node *node, edgeml_error *err);
edgeml_status ctl_split_to_seq_run(em_kctx *c);
edgeml_status ctl_concat_from_seq_prepare(em_node *node, edgeml_error *err);
edgeml_status ctl_concat_from_seq_run(em_kctx *c);

edgeml_status ctl_optional_run(em_kctx *c);
edgeml_status ctl_opt_get_run(em_kctx *c);
edgeml_status ctl_opt_has_run(em_kctx *c);

/* ---- shared helpers (ctl_util.c) --------------------------------------- */

/* Bytes per element; sizeof(em_str) for strings; 0 if unknown. */
size_t ctl_esize(int dtype);
/* True for a dtype a tensor may hold (numeric, bool, string). */
bool ctl_dtype_ok(int dtype);
/* Copies n elements; strings are duplicated into session memory (em_strdup),
 * so the result does not depend on the lifetime of src. */
void ctl_copy_elems(em_kctx *c, int dtype, void *dst, const void *src, size_t n);
/* Reads a one-element int32/int64 tensor. False on wrong dtype/size. */
bool ctl_read_index(const em_tensor *t, int64_t *out);
/* Reads a one-element bool tensor. False on wrong dtype/size. */
bool ctl_read_bool(const em_tensor *t, bool *out);
/* Releases n values (kind != UNSET) and marks them UNSET. */
void ctl_release(em_value *v, size_t n);
/* The graph attribute `name` of node, or NULL. */
const em_graph *ctl_graph_attr(const em_node *n, const char *name);
/* A tensor value viewing t (not owned). */
em_value ctl_tensor_value(const em_tensor *t);
/* Describes a value for messages: "tensor", "sequence", "none", "unset". */
const char *ctl_kind_name(const em_value *v);

/* Outputs for a stacked/scan output when there were no iterations: the
 * element shape comes from the body's declared output info when fully known
 * (else rank 0), and `count` (0) is inserted at `axis` (after normalising
 * against rank+1, or at position 0 if out of range); `lead` extra leading
 * dims are prepended (Scan-8 batch). dtype from info, else float. */
edgeml_status ctl_out_empty_stack(em_kctx *c, int out, const em_vinfo *vi, int64_t axis,
                                  int n_lead, const int64_t *lead, int64_t count);

#endif
