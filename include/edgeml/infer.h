/* edgeml inference runtime: model -> session -> run.
 *
 * A model is loaded once and is immutable afterwards: it may be shared by any
 * number of sessions on any threads. A session holds the state of one run at a
 * time (inputs, the arena of intermediates, outputs) and must be used by one
 * thread at a time. No function here prints, exits or aborts: each returns an
 * edgeml_status and, when an edgeml_error is given, fills it with one line that
 * says what failed and where (node, op, opset, dtype for kernel errors). */
#ifndef EDGEML_INFER_H
#define EDGEML_INFER_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(__GNUC__)
#define EDGEML_API __attribute__((visibility("default")))
#define EDGEML_NODISCARD __attribute__((warn_unused_result))
#else
#define EDGEML_API
#define EDGEML_NODISCARD
#endif

/* Error classes. The detail is in edgeml_error.msg, not in more codes. */
typedef enum edgeml_status {
    EDGEML_OK = 0,
    EDGEML_E_INVALID, /* bad argument from the caller (name, dtype, shape) */
    EDGEML_E_MODEL,   /* the model is malformed or inconsistent */
    EDGEML_E_UNSUPPORTED, /* valid ONNX that edgeml does not implement */
    EDGEML_E_IO,      /* file system error */
    EDGEML_E_NOMEM,   /* allocation failed or a size overflowed */
    EDGEML_E_RUNTIME, /* a kernel rejected its inputs while running */
} edgeml_status;

#define EDGEML_ERROR_MAX 512
typedef struct edgeml_error {
    edgeml_status code;
    char msg[EDGEML_ERROR_MAX];
} edgeml_error;

/* Element types, numbered as ONNX's TensorProto.DataType. */
typedef enum edgeml_dtype {
    EDGEML_UNDEFINED = 0,
    EDGEML_FLOAT = 1,
    EDGEML_UINT8 = 2,
    EDGEML_INT8 = 3,
    EDGEML_UINT16 = 4,
    EDGEML_INT16 = 5,
    EDGEML_INT32 = 6,
    EDGEML_INT64 = 7,
    EDGEML_STRING = 8,
    EDGEML_BOOL = 9,
    EDGEML_FLOAT16 = 10,
    EDGEML_DOUBLE = 11,
    EDGEML_UINT32 = 12,
    EDGEML_UINT64 = 13,
    EDGEML_BFLOAT16 = 16,
    /* 8-bit floats (ONNX opset 19), one byte per element, ONNX's bit layouts. */
    EDGEML_FLOAT8E4M3FN = 17,
    EDGEML_FLOAT8E4M3FNUZ = 18,
    EDGEML_FLOAT8E5M2 = 19,
    EDGEML_FLOAT8E5M2FNUZ = 20,
    /* 4-bit integers (ONNX opset 21). In memory (inputs, outputs, edgeml_tensor data)
     * edgeml stores them unpacked, one element per byte (int4 as int8 in [-8, 7],
     * uint4 as uint8 in [0, 15]; other bit patterns are read as their low nibble);
     * only the ONNX file packs two per byte. */
    EDGEML_UINT4 = 21,
    EDGEML_INT4 = 22,
} edgeml_dtype;

/* A string element: bytes, not NUL-terminated. String tensors hold arrays of these. */
typedef struct edgeml_string {
    const char *data;
    size_t len;
} edgeml_string;

typedef struct edgeml_model edgeml_model;
typedef struct edgeml_session edgeml_session;

/* The kind of a graph input or output. */
typedef enum edgeml_value_kind {
    EDGEML_KIND_TENSOR = 0,
    EDGEML_KIND_SEQUENCE = 1,
    EDGEML_KIND_OPTIONAL = 2,
} edgeml_value_kind;

/* Declared type of a graph input/output. Pointers live as long as the model. */
typedef struct edgeml_value_info {
    const char *name;
    edgeml_value_kind kind;
    edgeml_dtype dtype;      /* element type (of the tensor, or of the sequence's tensors) */
    int rank;                /* -1 when the model does not declare a shape */
    const int64_t *dims;     /* dims[i] < 0 when symbolic or unknown */
    const char *const *dim_names; /* dim_names[i]: the symbol, or NULL */
    int has_default;         /* inputs: 1 when an initializer gives a default (may be left unset) */
} edgeml_value_info;

typedef struct edgeml_opset {
    const char *domain; /* "" is ai.onnx */
    int64_t version;
} edgeml_opset;

typedef struct edgeml_op_count {
    const char *op_type; /* "domain:Op" for domains other than ai.onnx */
    size_t count;
} edgeml_op_count;

/* Facts about a loaded model, for `edgeml inspect`. Pointers live as long as the model. */
typedef struct edgeml_model_info {
    int64_t ir_version;
    const char *producer_name;
    const char *producer_version;
    const char *graph_name;
    size_t n_opsets;
    const edgeml_opset *opsets;
    size_t n_nodes;          /* nodes in the main graph, before constant folding */
    size_t n_op_types;
    const edgeml_op_count *op_counts; /* histogram, subgraphs included, sorted by count */
    uint64_t param_count;    /* elements in initializers */
    uint64_t param_bytes;
} edgeml_model_info;

typedef struct edgeml_load_options {
    int flags; /* EDGEML_LOAD_*; zero-initialise (0: the defaults) */
} edgeml_load_options;

/* Load flags. Graph optimisation (folding BatchNormalization into convolutions,
 * fusing activations and residual adds into their producer, recognising
 * LayerNorm/GELU/SiLU written as primitives, dropping no-ops) is on by default;
 * this flag, or EDGEML_OPT=0 in the environment, turns it off. */
#define EDGEML_LOAD_NO_OPT 1

typedef struct edgeml_session_options {
    int threads; /* 0: default (one per core); kernels may ignore it */
} edgeml_session_options;

EDGEML_API const char *edgeml_version(void);
EDGEML_API const char *edgeml_status_str(edgeml_status s);
EDGEML_API const char *edgeml_dtype_name(edgeml_dtype t); /* "float32", ...; "?" if unknown */
EDGEML_API size_t edgeml_dtype_size(edgeml_dtype t);      /* 0 if unknown */

/* Load from a .onnx file, or from a directory holding exactly one *.onnx (a
 * deployed package). The file is mapped: weights are used in place, never
 * copied (unless misaligned). opts may be NULL. */
EDGEML_API EDGEML_NODISCARD edgeml_status edgeml_model_load(const char *path,
    const edgeml_load_options *opts, edgeml_model **out, edgeml_error *err);

/* Load from memory. The buffer is referenced, not copied: it must stay valid
 * and unchanged until edgeml_model_free. */
EDGEML_API EDGEML_NODISCARD edgeml_status edgeml_model_load_memory(const void *buf, size_t len,
    const edgeml_load_options *opts, edgeml_model **out, edgeml_error *err);

/* Frees the model. Every session of it must have been freed first. */
EDGEML_API void edgeml_model_free(edgeml_model *m);

EDGEML_API size_t edgeml_model_num_inputs(const edgeml_model *m);
EDGEML_API size_t edgeml_model_num_outputs(const edgeml_model *m);
/* i out of range -> EDGEML_E_INVALID. Inputs that only give an initializer a
 * new value (IR < 4 style) are listed after the required ones. */
EDGEML_API edgeml_status edgeml_model_input(const edgeml_model *m, size_t i, edgeml_value_info *info);
EDGEML_API edgeml_status edgeml_model_output(const edgeml_model *m, size_t i, edgeml_value_info *info);
EDGEML_API void edgeml_model_get_info(const edgeml_model *m, edgeml_model_info *info);

/* The main graph as it runs (after optimisation, without folded nodes), for
 * `edgeml inspect --optimized`. edgeml_model_get_info describes the model as
 * loaded. Pointers live as long as the model. */
typedef struct edgeml_node_info {
    const char *name;        /* "" when the model gives none */
    const char *domain;      /* "" for ai.onnx; "edgeml" for the runtime's own fused ops */
    const char *op_type;
    size_t n_inputs, n_outputs;
    const char *const *inputs;  /* value names; "" for an absent optional input */
    const char *const *outputs;
    int fused_add_input;     /* index in inputs of a fused residual Add, or -1 */
    const char *fused_act;   /* the fused activation ("Relu", "Gelu", ...), or NULL */
} edgeml_node_info;
EDGEML_API size_t edgeml_model_num_nodes(const edgeml_model *m);
EDGEML_API edgeml_status edgeml_model_node(const edgeml_model *m, size_t i, edgeml_node_info *info);

/* A session of a model. opts may be NULL. Thread-safe with respect to other
 * sessions of the same model. */
EDGEML_API EDGEML_NODISCARD edgeml_status edgeml_session_create(const edgeml_model *m,
    const edgeml_session_options *opts, edgeml_session **out, edgeml_error *err);
EDGEML_API void edgeml_session_free(edgeml_session *s);
/* Bytes of the planned arenas the session holds (one per input-shape key
 * seen, up to 8), and the threads its kernels use. */
EDGEML_API size_t edgeml_session_arena_bytes(const edgeml_session *s);
EDGEML_API int edgeml_session_threads(const edgeml_session *s);

/* Input flags. */
#define EDGEML_INPUT_COPY 0   /* the data is copied now */
#define EDGEML_INPUT_BORROW 1 /* the caller's buffer is used in place until the next set or run */

/* Sets input `name` (a graph input). data holds nbytes = product(dims) *
 * dtype size bytes, C order; for EDGEML_STRING, an array of edgeml_string
 * (always copied). Wrong dtype, rank or a fixed dim that differs ->
 * EDGEML_E_INVALID with the reason. */
EDGEML_API EDGEML_NODISCARD edgeml_status edgeml_session_set_input(edgeml_session *s,
    const char *name, edgeml_dtype dtype, int rank, const int64_t *dims,
    const void *data, size_t nbytes, int flags, edgeml_error *err);

/* Runs the graph. Every required input must have been set. */
EDGEML_API EDGEML_NODISCARD edgeml_status edgeml_session_run(edgeml_session *s, edgeml_error *err);

/* Output i of the last successful run. The view (dims, data) is owned by the
 * session and valid until the next run, set_input or free. */
typedef struct edgeml_tensor {
    edgeml_dtype dtype;
    int rank;
    const int64_t *dims;
    const void *data;
    size_t nbytes;
} edgeml_tensor;
EDGEML_API EDGEML_NODISCARD edgeml_status edgeml_session_output(edgeml_session *s, size_t i,
    edgeml_tensor *out, edgeml_error *err);

#ifdef __cplusplus
}
#endif
#endif
