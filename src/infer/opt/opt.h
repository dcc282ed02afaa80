/* Graph optimisation at load (src/infer/opt/): the passes rewrite the main
 * graph of a freshly loaded model in place, before any session exists.
 *
 * How a pass works: it reads the graph through the helpers below (uses of a
 * slot, constants, known dtypes), rewrites nodes in place (new input arrays,
 * attributes and constants go into the model's arena / heap) and marks the
 * nodes it removes as dead. After every pass the pipeline (pipeline.c)
 * compacts the node list (order kept), recomputes producers and consumer
 * counts and checks the invariants (verify.c). Nodes whose inputs or
 * attributes changed are re-prepared (their row's prepare runs again) before
 * constant folding and at the end.
 *
 * Only the main graph is rewritten; a value that a subgraph captures is never
 * removed or renamed. A pass never assumes a shape, dtype or constant it did
 * not check: what it cannot prove, it leaves alone. */
#ifndef EDGEML_OPT_H
#define EDGEML_OPT_H

#include "../exec.h"

typedef struct em_opt {
    struct edgeml_model *m;
    em_graph *g;
    edgeml_error *err;
    size_t cap_nodes, cap_slots;
    uint8_t *dead;       /* per node: removed by a pass */
    uint8_t *dirty;      /* per node: inputs/attributes changed: re-prepare */
    int *dtype;          /* per slot: element dtype when known, else 0 */
    /* Uses of each slot (rebuilt lazily after a rewrite): CSR over nodes' in[]. */
    bool stale;
    int *use_start;      /* n_slots + 1 */
    int *use_node;
    size_t cap_use;
    int *n_other;        /* per slot: graph-output and subgraph-capture references */
    uint8_t *captured;   /* per slot: read by a subgraph (implicit input) */
    uint8_t *is_output;  /* per slot: a graph output */
    int changes;         /* rewrites made by the current pass */
    /* qdq.c: DequantizeLinear nodes the loader folded (weights), kept before they go. */
    struct opt_qdq_rec *qdq;
    size_t n_qdq;
} em_opt;

typedef struct em_opt_pass {
    const char *name;
    edgeml_status (*run)(em_opt *o);
} em_opt_pass;

/* The passes, one per file. */
edgeml_status em_opt_noop(em_opt *o);          /* noop.c */
edgeml_status em_opt_bn_fold(em_opt *o);       /* bn_fold.c */
edgeml_status em_opt_pad_fold(em_opt *o);      /* pad_fold.c */
edgeml_status em_opt_layernorm(em_opt *o);     /* layernorm.c */
edgeml_status em_opt_fuse(em_opt *o);          /* fuse.c */
edgeml_status em_opt_recognise_act(em_opt *o); /* act_recognise.c */
edgeml_status em_opt_fold(em_opt *o);          /* fold.c */
edgeml_status em_opt_qdq(em_opt *o);           /* qdq.c */
/* qdq.c: records the folded DequantizeLinear nodes (run before they are dropped). */
edgeml_status em_opt_qdq_collect(em_opt *o);

/* pipeline.c: the ordered list, run on m->graph. */
edgeml_status em_opt_model(struct edgeml_model *m, edgeml_error *err);
/* info.c: false when opts has EDGEML_LOAD_NO_OPT or the environment EDGEML_OPT=0. */
bool em_opt_enabled(const edgeml_load_options *opts);
/* verify.c: invariants of a graph between passes ("" msg and OK when they hold). */
edgeml_status em_opt_verify(const em_graph *g, edgeml_error *err);
/* model.c: the loader's constant folding, re-run after the passes. */
edgeml_status em_model_fold_constants(struct edgeml_model *m, em_graph *g, edgeml_error *err);

/* ---- helpers (util.c) ---- */

static inline em_node *opt_node(em_opt *o, int k) { return &o->g->nodes[k]; }
/* True for an alive ai.onnx node of this op type. */
bool opt_is(const em_node *n, const char *op);
/* True for an alive edgeml:ConvIntegerScaled node (convint.c). */
static inline bool opt_is_convint_scaled(const em_node *n)
{
    return !strcmp(n->domain, "edgeml") && !strcmp(n->op_type, "ConvIntegerScaled");
}
/* Refreshes the use lists when stale. */
void opt_uses(em_opt *o);
/* References to slot s by nodes' inputs (one per input position). */
int opt_n_uses(em_opt *o, int s);
int opt_use(em_opt *o, int s, int i);         /* the node of the i-th reference */
/* True when s is read only by nodes' inputs (no graph output, no subgraph capture). */
bool opt_internal(em_opt *o, int s);
/* The single consumer node of s (one input reference, internal), or -1. */
int opt_single_consumer(em_opt *o, int s);
/* The alive producer node of s, or -1. */
int opt_producer(em_opt *o, int s);
/* The constant tensor of slot s, or NULL (absent, not a constant, not a tensor). */
const em_tensor *opt_const(em_opt *o, int s);
/* A constant of one element (any numeric dtype) read as double. */
bool opt_scalar(em_opt *o, int s, double *v);
/* Known dtype of slot s, 0 when unknown. */
int opt_dtype(em_opt *o, int s);
/* Marks node k removed. */
void opt_kill(em_opt *o, int k);
/* Gives node k a new input list (copied into the arena). */
edgeml_status opt_set_inputs(em_opt *o, int k, int n_in, const int *in);
/* Replaces every input reference to slot `from` by `to` (callers check opt_internal). */
void opt_replace_uses(em_opt *o, int from, int to);
/* Node k's output j becomes slot s (k becomes its producer). */
void opt_set_output(em_opt *o, int k, int j, int s);
/* Sets (adds or replaces) an attribute of node k; the name must be a static string. */
edgeml_status opt_set_attr_int(em_opt *o, int k, const char *name, int64_t v);
/* The same for any attribute (its name static, its arrays in the model's arena). */
edgeml_status opt_set_attr(em_opt *o, int k, const em_attr *a);
edgeml_status opt_set_attr_float(em_opt *o, int k, const char *name, float v);
/* A new constant slot holding t; t->data must come from malloc (the model owns it then,
 * also on failure). Returns the slot or -1 (out of memory). */
int opt_new_const(em_opt *o, const char *name_base, const char *suffix, em_tensor *t);
/* Ensures the per-slot arrays cover g->n_slots. */
edgeml_status opt_grow_slots(em_opt *o);
/* Removes a node whose output 0 equals its input `in` (a no-op): uses of the
 * output read `in` instead; when the output is a graph output, the producer of
 * `in` writes it directly if that is safe. Returns true when removed. */
bool opt_bypass(em_opt *o, int k, int in);
/* Recomputes dtypes of all slots from declarations, constants and op rules. */
void opt_infer_dtypes(em_opt *o);
/* Floating dtypes an activation can be applied to (float, float16, bfloat16). */
static inline bool opt_act_dtype(int dt) { return dt == EDGEML_FLOAT || dt == EDGEML_FLOAT16 || dt == EDGEML_BFLOAT16; }

/* act_match.c: elementwise activation subgraphs. */
/* If node k is a single-op activation the fused epilogue supports (Relu,
 * Clip with constant bounds, LeakyRelu, Sigmoid, HardSigmoid, HardSwish,
 * Tanh, Gelu), sets *a and returns true. */
bool opt_single_act(em_opt *o, int k, em_act *a);
/* Finds an elementwise region computing act(x) from slot x with only scalar
 * constants (SiLU, GELU erf/tanh forms, HardSwish, ...). On success returns the
 * sink node (its output 0 is act(x)), fills nodes[0..*n) with the region's nodes
 * (sink included) whose intermediate values are read only inside the region,
 * and *a. Returns -1 when none. need_all: every use of x must be in the region. */
int opt_match_act_region(em_opt *o, int x, bool need_all, em_act *a, int *nodes, int *n, int max);
/* The name of an activation kind ("Relu", "Gelu", ...). */
const char *em_act_name(int kind);

/* act_op.c: the private op that applies node->act (domain "edgeml"). */
extern const em_op_entry em_opt_act_entry;

#endif
