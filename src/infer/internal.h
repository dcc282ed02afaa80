/* Internal types of the inference runtime, shared by the loader, the executor
 * and the operator kernels (src/infer/ops/). Not installed. */
#ifndef EDGEML_INFER_INTERNAL_H
#define EDGEML_INFER_INTERNAL_H

#include "edgeml/infer.h"

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#define EM_MAX_RANK 16
#define EM_HIDDEN __attribute__((visibility("hidden")))
#define EM_PRINTF(a, b) __attribute__((format(printf, a, b)))

typedef edgeml_string em_str;

/* n > 2^log2: a size cap that is written once for 64- and 32-bit targets (on armhf a cap of
 * 2^40 cannot be reached, and (size_t)1 << 40 would be undefined). */
static inline bool em_size_above(size_t n, unsigned log2)
{
    return log2 < sizeof(size_t) * 8 && n > ((size_t)1 << log2);
}

/* ---- dtypes ------------------------------------------------------------ */

size_t em_dtype_size(int dt);          /* 0 for unknown/unsupported */
const char *em_dtype_name(int dt);
bool em_dtype_is_float(int dt);        /* float32/64/16, bfloat16 */
bool em_dtype_is_int(int dt);          /* signed or unsigned integers (not bool) */
bool em_dtype_is_signed(int dt);

float em_f16_to_f32(uint16_t h);
uint16_t em_f32_to_f16(float f);       /* round to nearest even */
float em_bf16_to_f32(uint16_t h);
uint16_t em_f32_to_bf16(float f);      /* round to nearest even */

/* float8 (dt = EDGEML_FLOAT8*): exact decode; encode rounds to nearest even.
 * saturate: out-of-range values and +-inf give +-max finite; else they give
 * NaN (+-inf for E5M2). NaN stays NaN; the *FNUZ types have no -0. */
static inline bool em_dtype_is_float8(int dt) { return dt >= EDGEML_FLOAT8E4M3FN && dt <= EDGEML_FLOAT8E5M2FNUZ; }
static inline bool em_dtype_is_int4(int dt) { return dt == EDGEML_UINT4 || dt == EDGEML_INT4; }
float em_f8_to_f32(uint8_t v, int dt);
uint8_t em_f32_to_f8(float f, int dt, bool saturate);
/* 4-bit integers, stored one per byte: the value of byte b (its low nibble,
 * sign-extended for int4), and float -> int4 as ONNX's reference casts it
 * (round to nearest even, clamp to the range, NaN -> 0). */
static inline int em_int4_value(uint8_t b, int dt) { return dt == EDGEML_INT4 ? (int)(int8_t)(uint8_t)(b << 4) >> 4 : b & 15; }
uint8_t em_f32_to_int4(float f, int dt);

/* Generic element access: slow, for reference kernels over many dtypes.
 * Index is in elements. bool/ints convert as C does; strings unsupported. */
double em_get_f64(const void *data, int dt, size_t i);
void em_set_f64(void *data, int dt, size_t i, double v);
int64_t em_get_i64(const void *data, int dt, size_t i);
void em_set_i64(void *data, int dt, size_t i, int64_t v);

/* ---- tensors and values ------------------------------------------------ */

typedef struct em_tensor {
    int32_t dtype;              /* edgeml_dtype */
    int32_t rank;
    int64_t dims[EM_MAX_RANK];
    void *data;                 /* NULL allowed when numel == 0; em_str[] for strings */
} em_tensor;

size_t em_numel(const em_tensor *t);          /* product of dims (1 for rank 0) */
size_t em_nbytes(const em_tensor *t);
/* Product of dims with overflow check; returns false on overflow or negative dim. */
bool em_shape_numel(int rank, const int64_t *dims, size_t *out);
bool em_same_shape(const em_tensor *a, const em_tensor *b);
/* Formats "[2,3,4]" into buf. */
const char *em_shape_str(int rank, const int64_t *dims, char *buf, size_t n);

typedef enum em_value_kind {
    EM_V_UNSET = 0,   /* not (yet) produced */
    EM_V_TENSOR,
    EM_V_SEQUENCE,
    EM_V_NONE,        /* an empty optional */
} em_value_kind;

typedef struct em_seq {
    int32_t elem_dtype;   /* 0 if unknown (empty sequence without type) */
    size_t n, cap;
    em_tensor *items;     /* each item's data is owned by the sequence (malloc) */
} em_seq;

typedef struct em_value {
    em_value_kind kind;
    em_tensor t;          /* kind == EM_V_TENSOR */
    em_seq *seq;          /* kind == EM_V_SEQUENCE (owned iff owned != NULL... see exec.c) */
    void *heap;           /* block to free() when the value is released (tensor data or seq) */
    bool is_optional;     /* the value came through an Optional wrapper */
} em_value;

em_seq *em_seq_new(int elem_dtype);
void em_seq_free(em_seq *s);
/* Appends (at pos, or at the end when pos == n) a deep copy of t. */
edgeml_status em_seq_insert_copy(em_seq *s, size_t pos, const em_tensor *t);
void em_seq_erase(em_seq *s, size_t pos);
em_seq *em_seq_clone(const em_seq *s);

/* ---- model structures (immutable after load) --------------------------- */

typedef struct em_graph em_graph;
typedef struct em_node em_node;

/* AttributeProto.AttributeType */
enum {
    EM_ATTR_UNDEFINED = 0, EM_ATTR_FLOAT = 1, EM_ATTR_INT = 2, EM_ATTR_STRING = 3,
    EM_ATTR_TENSOR = 4, EM_ATTR_GRAPH = 5, EM_ATTR_FLOATS = 6, EM_ATTR_INTS = 7,
    EM_ATTR_STRINGS = 8, EM_ATTR_TENSORS = 9, EM_ATTR_GRAPHS = 10,
    EM_ATTR_SPARSE_TENSOR = 11, EM_ATTR_SPARSE_TENSORS = 12, EM_ATTR_TYPE_PROTO = 13,
    EM_ATTR_TYPE_PROTOS = 14,
};

typedef struct em_attr {
    const char *name;
    int type;
    float f;
    int64_t i;
    em_str s;
    em_tensor *t;
    em_graph *g;
    size_t n;             /* count for the list kinds */
    float *floats;
    int64_t *ints;
    em_str *strings;
    em_tensor *tensors;
    em_graph **graphs;
} em_attr;

/* ---- fused epilogues (set by graph optimisation, src/infer/opt/) ------- */

/* An activation fused into its producer (Conv, ConvTranspose, Gemm, MatMul):
 * the kernel applies it to its float output. */
typedef enum em_act_kind {
    EM_ACT_NONE = 0,
    EM_ACT_RELU,        /* max(x, 0) */
    EM_ACT_CLIP,        /* min(max(x, alpha), beta) */
    EM_ACT_LEAKY,       /* x < 0 ? alpha * x : x */
    EM_ACT_SIGMOID,     /* 1 / (1 + exp(-x)) */
    EM_ACT_HARDSIGMOID, /* max(0, min(1, alpha * x + beta)) */
    EM_ACT_HARDSWISH,   /* x * max(0, min(1, x / 6 + 1/2)) */
    EM_ACT_SILU,        /* x * sigmoid(x) */
    EM_ACT_GELU,        /* 0.5 x (1 + erf(x / sqrt 2)) */
    EM_ACT_GELU_TANH,   /* 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))) */
    EM_ACT_TANH,
} em_act_kind;

typedef struct em_act {
    int kind;           /* em_act_kind */
    float alpha, beta;
} em_act;

/* y[i] = act(y[i]) for n floats (vectorised where the CPU allows; cpu/vmath.c). */
void em_act_apply(const em_act *a, float *y, size_t n);

typedef struct em_kctx em_kctx;
typedef edgeml_status (*em_prepare_fn)(em_node *node, edgeml_error *err);
typedef edgeml_status (*em_run_fn)(em_kctx *c);
typedef void (*em_free_fn)(void *state);
/* Shape-dependent set-up of a node, run once per distinct input shapes (per
 * session and plan): checks, geometry, the work split, workspace size. Sets
 * *rs (malloc'd, freed with free(), may stay NULL) and *ws_bytes (workspace
 * that em_kctx.ws will hold while the node runs). */
typedef edgeml_status (*em_reshape_fn)(em_kctx *c, void **rs, size_t *ws_bytes);

/* One row of an operator table. The loader picks, for each node, the row of
 * its (domain, op_type) with the greatest `since` <= the opset the model
 * imports for that domain. */
typedef struct em_op_entry {
    const char *domain;      /* "" for ai.onnx */
    const char *op_type;
    int since;
    em_prepare_fn prepare;   /* may be NULL; runs at load, may set node->state */
    em_run_fn run;
    em_free_fn free_state;   /* may be NULL: then free() is used on node->state */
    em_reshape_fn reshape;   /* may be NULL */
} em_op_entry;

struct em_node {
    const char *name;        /* "" if the model gives none */
    const char *op_type;
    const char *domain;      /* "" for ai.onnx */
    int opset;               /* the version of `domain` the model imports */
    int n_in, n_out;
    int *in;                 /* value slots; -1 for an absent optional input */
    int *out;                /* value slots; -1 for an absent optional output */
    size_t n_attrs;
    em_attr *attrs;
    const em_op_entry *op;
    void *state;             /* set by prepare; immutable afterwards */
    em_graph *graph;         /* the graph that holds this node */
    int n_implicit;          /* slots of this graph read by the node's subgraphs */
    int *implicit;
    bool folded;             /* computed at load (constant folding): not run */
    /* Fused epilogue (graph optimisation): out = act(op(...) + in[add_in]).
     * add_in > 0 names the input that holds the residual (appended to in[]). */
    em_act act;
    int add_in;
    const char **in_names;   /* as parsed; "" for absent (loader use) */
    const char **out_names;
};

/* Where a value slot gets its value from. */
typedef enum em_slot_kind {
    EM_SLOT_COMPUTED = 0,    /* produced by a node */
    EM_SLOT_INPUT,           /* a graph input (may have a default initializer) */
    EM_SLOT_CONST,           /* an initializer or a folded constant */
    EM_SLOT_OUTER,           /* a value of an enclosing graph (subgraphs) */
} em_slot_kind;

typedef struct em_slot {
    const char *name;
    em_slot_kind kind;
    em_value cval;           /* EM_SLOT_CONST, and an input's default */
    bool has_default;        /* EM_SLOT_INPUT with an initializer */
    int outer;               /* EM_SLOT_OUTER: the slot in graph->parent */
    int producer;            /* index of the producing node, or -1 */
    int n_consumers;         /* nodes reading it + 1 if a graph output */
} em_slot;

/* Declared type info (ValueInfoProto), kept for the public API and checks. */
typedef struct em_vinfo {
    const char *name;
    int kind;                /* edgeml_value_kind */
    int dtype;               /* element dtype, 0 unknown */
    int rank;                /* -1 unknown */
    int64_t *dims;           /* -1 symbolic/unknown */
    const char **dim_names;  /* NULL when fixed */
} em_vinfo;

struct em_graph {
    const char *name;
    em_graph *parent;        /* enclosing graph for subgraphs, NULL for main */
    const struct edgeml_model *model;
    size_t n_slots;
    em_slot *slots;
    size_t n_nodes;
    em_node *nodes;          /* topologically sorted after load */
    size_t n_inputs, n_outputs;
    int *inputs;             /* slots of the graph inputs (without pure initializers) */
    int *outputs;            /* slots of the graph outputs */
    em_vinfo *in_info, *out_info;
    /* As parsed, before name resolution (loader use). */
    size_t n_inits, n_pin, n_pout, n_vi;
    em_tensor *inits;
    const char **init_names;
    em_vinfo *pin, *pout, *vi;
};

/* ---- kernels ----------------------------------------------------------- */

/* Attributes (by name; NULL/default when absent). */
const em_attr *em_attr_get(const em_node *n, const char *name);
int64_t em_attr_int(const em_node *n, const char *name, int64_t dflt);
float em_attr_float(const em_node *n, const char *name, float dflt);
/* NUL-terminated copy made at load; dflt when absent. */
const char *em_attr_str(const em_node *n, const char *name, const char *dflt);
/* Returns count, sets *out (NULL when absent -> returns -1). */
long em_attr_ints(const em_node *n, const char *name, const int64_t **out);
long em_attr_floats(const em_node *n, const char *name, const float **out);
/* A constant input known at load (initializer or folded), else NULL. Lets
 * prepare() pack weights or read shapes once. */
const em_tensor *em_node_const_input(const em_node *n, int i);
/* After prepare packed constant input i into its own layout: drops the
 * original's resident pages when they are a read-only mapping of the model
 * file (read back from the file if anything else touches them). */
void em_node_release_const(const em_node *n, int i);

/* Error from prepare(): "node 'name' (Op, opset N): <msg>". Returns code. */
edgeml_status em_node_fail(const em_node *n, edgeml_error *err, edgeml_status code,
                           const char *fmt, ...) EM_PRINTF(4, 5);

/* The kernel's view of one node execution. */
struct em_tpool;
struct em_kctx {
    const em_node *node;
    struct em_frame *frame;
    edgeml_error *err;
    struct em_tpool *pool;   /* the session's thread pool; NULL: run on the caller only */
    int threads;             /* threads the kernel may use (>= 1), the caller included */
    struct em_tensor *fused_y; /* what em_out_fused returned (for em_epilogue) */
    void *rs;                /* the row's reshape state for these input shapes */
    void *ws;                /* workspace of the size reshape asked for (64-byte aligned) */
};

static inline int em_n_in(const em_kctx *c) { return c->node->n_in; }
static inline int em_n_out(const em_kctx *c) { return c->node->n_out; }
static inline const em_node *em_knode(const em_kctx *c) { return c->node; }
static inline int em_opset(const em_kctx *c) { return c->node->opset; }

/* Input i as a value (NULL if absent). */
const em_value *em_in_value(em_kctx *c, int i);
/* Input i if it is a tensor, else NULL (absent, sequence, none). */
const em_tensor *em_in(em_kctx *c, int i);
/* True when output i is wanted (named in the graph). */
bool em_out_wanted(em_kctx *c, int i);
/* Allocates output i (64-byte aligned, uninitialised; strings zeroed). Returns
 * NULL with the error set on overflow or OOM. Unwanted outputs get scratch
 * memory so kernels can write unconditionally. */
em_tensor *em_out(em_kctx *c, int i, int dtype, int rank, const int64_t *dims);
/* Makes output i a sequence (empty, owned by the frame) and returns it. */
em_seq *em_out_seq(em_kctx *c, int i, int elem_dtype);
/* Output i is an empty optional. */
edgeml_status em_out_none(em_kctx *c, int i);
/* Output i is a copy of value v (tensor, sequence or none). */
edgeml_status em_out_copy_value(em_kctx *c, int i, const em_value *v);
/* Scratch memory valid until the node returns (freed by the frame). */
void *em_scratch(em_kctx *c, size_t bytes);
/* Copies a string into memory owned by the session until the next run. */
em_str em_strdup(em_kctx *c, const char *p, size_t len);

/* Fused epilogues (node->act, node->add_in; ops/epilogue.c). A kernel that
 * supports them (Conv, ConvTranspose, Gemm, MatMul) gets its output with
 * em_out_fused instead of em_out(c, 0, ...), writes op(...) into it, then calls
 * em_epilogue. When em_epilogue_direct is true the tensor returned is output 0
 * itself and the residual (if any) has its exact shape, so a fast kernel may
 * apply residual and activation itself per tile and skip em_epilogue. */
bool em_epilogue_direct(em_kctx *c, int rank, const int64_t *dims);
em_tensor *em_out_fused(em_kctx *c, int dtype, int rank, const int64_t *dims);
edgeml_status em_epilogue(em_kctx *c, em_tensor *y);
/* Runs body (a kernel that takes its output with em_out_fused), then the epilogue. */
edgeml_status em_run_fused(em_kctx *c, edgeml_status (*body)(em_kctx *c));
static inline bool em_has_epilogue(const em_node *n) { return n->act.kind != EM_ACT_NONE || n->add_in > 0; }

/* Kernel error: "node 'name' (Op, opset N, dtype): <msg>". Returns code. */
edgeml_status em_fail(em_kctx *c, edgeml_status code, const char *fmt, ...) EM_PRINTF(3, 4);
#define EM_CHECK(c, cond, ...) \
    do { if (!(cond)) return em_fail((c), EDGEML_E_RUNTIME, __VA_ARGS__); } while (0)

/* Runs subgraph g (an attribute graph of c's node) with the given input values
 * (n_in must equal g->n_inputs). On success fills outs[0..g->n_outputs) with
 * values the caller owns (release with em_value_release). */
edgeml_status em_run_subgraph(em_kctx *c, const em_graph *g, const em_value *const *inputs,
                              size_t n_in, em_value *outs);
void em_value_release(em_value *v);
/* Deep copy into a heap value owned by dst (dst->heap set). */
edgeml_status em_value_clone(em_value *dst, const em_value *src);

/* ---- broadcasting helpers ---------------------------------------------- */

/* Multidirectional (numpy) broadcast of n shapes into out; false if incompatible. */
bool em_broadcast_shapes(int n, const em_tensor *const *ts, int *out_rank, int64_t *out_dims);
/* Element strides of t when read as shape (rank, dims) under broadcasting:
 * 0 on broadcast dims. t must be broadcast-compatible. */
void em_broadcast_strides(const em_tensor *t, int rank, const int64_t *dims, int64_t *strides);
/* Contiguous strides of a shape. */
void em_strides(int rank, const int64_t *dims, int64_t *strides);

/* Normalise an axis in [-rank, rank) to [0, rank); false if out of range. */
static inline bool em_axis(int64_t axis, int rank, int *out)
{
    if (axis < -rank || axis >= rank) return false;
    *out = (int)(axis < 0 ? axis + rank : axis);
    return true;
}

/* ---- sessions (internal entry points for tests) ------------------------ */

/* Sets graph input i (index in edgeml_model_input order) to v, borrowed until
 * the next run. Checks dtype and shape against the declaration. */
edgeml_status em_session_set_value(edgeml_session *s, size_t i, const em_value *v, edgeml_error *err);
/* Output i of the last run (NULL before a successful run). */
const em_value *em_session_output_value(edgeml_session *s, size_t i);
const em_graph *em_model_graph(const edgeml_model *m);

#endif
