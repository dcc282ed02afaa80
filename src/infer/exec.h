/* The model and session structures and the executor's internal API. */
#ifndef EDGEML_EXEC_H
#define EDGEML_EXEC_H

#include "load.h"

/* Memory for strings made while running: freed in one go. */
typedef struct em_pool {
    void **blocks;
    size_t n, cap;
} em_pool;
void *em_pool_alloc(em_pool *p, size_t n);
void em_pool_clear(em_pool *p);

struct edgeml_model {
    em_arena arena;
    void *map;                /* the mapped model file, or NULL */
    size_t map_len;
    em_mapping *maps;         /* external data */
    size_t n_maps;
    em_pb_model pb;
    em_graph *graph;
    size_t n_inputs, n_outputs;
    edgeml_value_info *inputs, *outputs;
    int *input_slots;         /* graph slot of each public input */
    edgeml_opset *opsets;
    edgeml_op_count *op_counts;
    size_t n_op_types;
    uint64_t param_count, param_bytes;
    size_t n_nodes_orig;
    void **heap;              /* folded constants' buffers */
    size_t n_heap;
    em_pool strings;          /* folded constants' strings */
};

typedef struct em_plan em_plan;

/* A node's reshape state, valid for the input signature `key`. */
typedef struct em_rslot {
    void *st;
    int64_t *key;
    size_t key_len, ws;
} em_rslot;
void em_rslots_free(em_rslot *r, size_t n);

/* One execution of one graph. */
typedef struct em_frame {
    const em_graph *g;
    struct em_frame *parent;
    edgeml_session *sess;
    em_value *vals;
    int *refs;                /* consumers left in this run */
    void **scratch;           /* freed after each node */
    size_t n_scratch, cap_scratch;
    em_pool *strings;
    /* top-level planning */
    em_plan *plan;            /* the plan in use, or NULL */
    uint8_t *arena;
    bool recording;
    size_t *rec_size;         /* bytes requested per slot (recording) */
    int *rec_start, *rec_end;
    int step;
    /* reshape states: the plan's, or the frame's own (recording, unplanned) */
    em_rslot *rs;
    em_rslot *rs_own;
} em_frame;

struct edgeml_session {
    const struct edgeml_model *model;
    em_frame top;
    em_value *in_vals;        /* per public input, set by the caller */
    void **in_heap;           /* copies made by set_input */
    em_pool strings;
    em_plan **plans;          /* cache, keyed by input shapes */
    size_t n_plans;
    bool ran;
    int threads;              /* threads a kernel may use (>= 1), the caller included */
    void *ws;                 /* kernel workspace (the largest any node asked for) */
    size_t ws_cap;
    struct em_tpool *pool;    /* NULL when threads == 1 */
    /* EDGEML_PROFILE=1 (read at session creation): per main-graph node, the time
     * spent and the calls, printed to stderr when the session is freed. */
    uint64_t *prof_ns;
    uint32_t *prof_calls;
    char (*prof_shape)[48];   /* output 0's shape at the last call */
};

edgeml_status em_frame_init(em_frame *f, const em_graph *g, em_frame *parent, edgeml_session *s,
                            em_pool *strings);
void em_frame_release_values(em_frame *f);
void em_frame_free(em_frame *f);
edgeml_status em_frame_run(em_frame *f, edgeml_error *err);
edgeml_status em_run_node(em_frame *f, const em_node *n, edgeml_error *err);

#endif
