/* Loader internals: the model arena and the protobuf decoder. */
#ifndef EDGEML_LOAD_H
#define EDGEML_LOAD_H

#include "internal.h"

/* Bump allocator: all load-time metadata lives here and is freed at once. */
typedef struct em_arena_chunk em_arena_chunk;
typedef struct em_arena {
    em_arena_chunk *head;
    size_t used, cap;
    size_t total;
} em_arena;

void *em_arena_alloc(em_arena *a, size_t n);          /* 64-byte aligned, zeroed */
void *em_arena_alloc_raw(em_arena *a, size_t n);      /* 64-byte aligned, not zeroed */
void *em_arena_calloc(em_arena *a, size_t n, size_t size); /* NULL on overflow */
char *em_arena_strndup(em_arena *a, const char *p, size_t n);
void em_arena_free(em_arena *a);

/* A mapped file region, kept for the life of the model. */
typedef struct em_mapping {
    void *addr;
    size_t len;
} em_mapping;

typedef struct em_pb_ctx {
    em_arena *arena;
    edgeml_error *err;
    const char *base_dir;      /* for external data; NULL when loading from memory */
    em_mapping *maps;          /* external data mappings (realloc'd) */
    size_t n_maps;
    int depth;
    const uint8_t *own_lo, *own_hi; /* the model file as edgeml mapped it (NULL: a caller's buffer) */
} em_pb_ctx;

/* Drops the resident pages wholly inside [p, p + n) of a read-only file
 * mapping of edgeml's own: a copy (or a packed layout) replaced their use;
 * they are read back from the file if anything touches them again. */
void em_release_mapped(const void *p, size_t n);

typedef struct em_opset_import {
    const char *domain;
    int64_t version;
} em_opset_import;

typedef struct em_pb_model {
    int64_t ir_version;
    const char *producer_name, *producer_version, *domain;
    size_t n_opsets;
    em_opset_import *opsets;
    em_graph *graph;
    size_t n_functions;        /* model-local functions: not supported yet */
} em_pb_model;

edgeml_status em_pb_parse_model(em_pb_ctx *c, const uint8_t *buf, size_t len, em_pb_model *out);
/* A serialized TensorProto into *t (data in the arena or referencing buf). */
edgeml_status em_pb_parse_tensor(em_pb_ctx *c, const uint8_t *buf, size_t len, em_tensor *t,
                                 const char **name);

/* A test-data value (TensorProto, SequenceProto or OptionalProto as the
 * ONNX backend tests store them). kind_hint: 0 tensor, 1 sequence, 2 optional. */
edgeml_status em_pb_parse_value(em_pb_ctx *c, const uint8_t *buf, size_t len, int kind_hint,
                                em_value *v);

edgeml_status em_set_error(edgeml_error *err, edgeml_status code, const char *fmt, ...)
    EM_PRINTF(3, 4);

#endif
