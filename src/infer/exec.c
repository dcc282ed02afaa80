/* The executor: frames, the kernel context, subgraphs, and memory planning.
 *
 * Planning: the first run for a given set of input shapes allocates each
 * intermediate on the heap and records its size and lifetime (first and last
 * step). From that record a plan is computed: one arena and an offset per
 * value, reusing memory between values whose lifetimes do not overlap. Later
 * runs with the same input shapes allocate nothing: every output comes from
 * its planned offset (a value whose size depends on data and grows past its
 * plan falls back to the heap for that run). */
#include "exec.h"
#include "pool.h"

#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#define EM_ALIGN 64
#define EM_MAX_PLANS 8

struct em_plan {
    int n_inputs;
    int32_t *key;        /* per input: dtype, rank, dims */
    size_t key_len;
    size_t n_slots;
    int64_t *offset;     /* per slot, -1 if not planned */
    size_t *size;
    size_t arena_bytes;
    uint8_t *arena;
    em_rslot *rs;        /* per node of the top graph */
    size_t n_rs;
};

/* ---- pools -------------------------------------------------------------- */

void *em_pool_alloc(em_pool *p, size_t n)
{
    if (p->n == p->cap) {
        size_t cap = p->cap ? p->cap * 2 : 16;
        void **b = realloc(p->blocks, cap * sizeof *b);
        if (!b) return NULL;
        p->blocks = b;
        p->cap = cap;
    }
    void *m = malloc(n ? n : 1);
    if (m) p->blocks[p->n++] = m;
    return m;
}

void em_pool_clear(em_pool *p)
{
    for (size_t i = 0; i < p->n; i++) free(p->blocks[i]);
    p->n = 0;
}

/* ---- values -------------------------------------------------------------- */

void em_value_release(em_value *v)
{
    if (v->heap) {
        if (v->kind == EM_V_SEQUENCE && v->heap == v->seq) em_seq_free(v->seq);
        else free(v->heap);
    }
    memset(v, 0, sizeof *v);
}

edgeml_status em_value_clone(em_value *dst, const em_value *src)
{
    memset(dst, 0, sizeof *dst);
    dst->kind = src->kind;
    dst->is_optional = src->is_optional;
    if (src->kind == EM_V_TENSOR) {
        dst->t = src->t;
        size_t nb = em_nbytes(&src->t);
        void *d = aligned_alloc(EM_ALIGN, (nb + EM_ALIGN - 1) / EM_ALIGN * EM_ALIGN + EM_ALIGN);
        if (!d) return EDGEML_E_NOMEM;
        if (nb) memcpy(d, src->t.data, nb);
        dst->t.data = d;
        dst->heap = d;
    } else if (src->kind == EM_V_SEQUENCE) {
        dst->seq = em_seq_clone(src->seq);
        if (!dst->seq) return EDGEML_E_NOMEM;
        dst->heap = dst->seq;
    }
    return EDGEML_OK;
}

/* ---- frames -------------------------------------------------------------- */

edgeml_status em_frame_init(em_frame *f, const em_graph *g, em_frame *parent, edgeml_session *s,
                            em_pool *strings)
{
    memset(f, 0, sizeof *f);
    f->g = g;
    f->parent = parent;
    f->sess = s;
    f->strings = strings;
    f->vals = calloc(g->n_slots + 1, sizeof *f->vals);
    f->refs = calloc(g->n_slots + 1, sizeof *f->refs);
    if (!f->vals || !f->refs) {
        free(f->vals);
        free(f->refs);
        return EDGEML_E_NOMEM;
    }
    return EDGEML_OK;
}

void em_frame_release_values(em_frame *f)
{
    if (!f->vals) return;
    for (size_t i = 0; i < f->g->n_slots; i++) em_value_release(&f->vals[i]);
}

static void free_scratch(em_frame *f)
{
    for (size_t i = 0; i < f->n_scratch; i++) free(f->scratch[i]);
    f->n_scratch = 0;
}

void em_frame_free(em_frame *f)
{
    em_frame_release_values(f);
    free_scratch(f);
    free(f->scratch);
    free(f->vals);
    free(f->refs);
    free(f->rec_size);
    free(f->rec_start);
    free(f->rec_end);
    em_rslots_free(f->rs_own, f->g ? f->g->n_nodes : 0);
    memset(f, 0, sizeof *f);
}

static void *scratch_push(em_frame *f, void *p)
{
    if (!p) return NULL;
    if (f->n_scratch == f->cap_scratch) {
        size_t cap = f->cap_scratch ? f->cap_scratch * 2 : 8;
        void **s = realloc(f->scratch, cap * sizeof *s);
        if (!s) { free(p); return NULL; }
        f->scratch = s;
        f->cap_scratch = cap;
    }
    f->scratch[f->n_scratch++] = p;
    return p;
}

/* ---- the kernel context ---------------------------------------------------- */

static const char *node_dtype(em_kctx *c)
{
    for (int i = 0; i < c->node->n_in; i++) {
        const em_value *v = em_in_value(c, i);
        if (v && v->kind == EM_V_TENSOR) return em_dtype_name(v->t.dtype);
    }
    return "-";
}

edgeml_status em_fail(em_kctx *c, edgeml_status code, const char *fmt, ...)
{
    if (c->err) {
        char msg[EDGEML_ERROR_MAX];
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(msg, sizeof msg, fmt, ap);
        va_end(ap);
        const em_node *n = c->node;
        snprintf(c->err->msg, sizeof c->err->msg, "node '%s' (%s%s%s, opset %d, %s): %s", n->name,
                 n->domain, *n->domain ? ":" : "", n->op_type, n->opset, node_dtype(c), msg);
        c->err->code = code;
    }
    return code;
}

edgeml_status em_node_fail(const em_node *n, edgeml_error *err, edgeml_status code, const char *fmt, ...)
{
    if (err) {
        char msg[EDGEML_ERROR_MAX];
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(msg, sizeof msg, fmt, ap);
        va_end(ap);
        snprintf(err->msg, sizeof err->msg, "node '%s' (%s%s%s, opset %d): %s", n->name, n->domain,
                 *n->domain ? ":" : "", n->op_type, n->opset, msg);
        err->code = code;
    }
    return code;
}

const em_value *em_in_value(em_kctx *c, int i)
{
    if (i < 0 || i >= c->node->n_in || c->node->in[i] < 0) return NULL;
    const em_value *v = &c->frame->vals[c->node->in[i]];
    return v->kind == EM_V_UNSET ? NULL : v;
}

const em_tensor *em_in(em_kctx *c, int i)
{
    const em_value *v = em_in_value(c, i);
    return v && v->kind == EM_V_TENSOR ? &v->t : NULL;
}

bool em_out_wanted(em_kctx *c, int i)
{
    return i >= 0 && i < c->node->n_out && c->node->out[i] >= 0;
}

static void *alloc_aligned(size_t nb)
{
    size_t n = (nb + EM_ALIGN - 1) / EM_ALIGN * EM_ALIGN;
    return aligned_alloc(EM_ALIGN, n ? n : EM_ALIGN);
}

em_tensor *em_out(em_kctx *c, int i, int dtype, int rank, const int64_t *dims)
{
    size_t numel, nb, esz = em_dtype_size(dtype);
    if (i < 0 || i >= c->node->n_out) {
        em_fail(c, EDGEML_E_RUNTIME, "kernel asked for output %d of %d", i, c->node->n_out);
        return NULL;
    }
    if (rank < 0 || rank > EM_MAX_RANK || !esz) {
        em_fail(c, EDGEML_E_RUNTIME, "output %d: bad rank %d or dtype %d", i, rank, dtype);
        return NULL;
    }
    if (!em_shape_numel(rank, dims, &numel) || __builtin_mul_overflow(numel, esz, &nb) ||
        em_size_above(nb, 40)) {
        char b[128];
        em_fail(c, EDGEML_E_NOMEM, "output %d: shape %s is invalid or too large", i,
                em_shape_str(rank, dims, b, sizeof b));
        return NULL;
    }
    em_frame *f = c->frame;
    int slot = c->node->out[i];
    void *data = NULL;
    static _Thread_local em_value unwanted;
    em_value *v = slot >= 0 ? &f->vals[slot] : &unwanted;
    if (slot >= 0) em_value_release(v);
    memset(v, 0, sizeof *v);
    bool heap = true;
    if (slot >= 0 && f->plan && f->plan->offset[slot] >= 0 && nb <= f->plan->size[slot]) {
        data = f->plan->arena + f->plan->offset[slot];
        heap = false;
    } else {
        data = alloc_aligned(nb);
        if (!data) {
            em_fail(c, EDGEML_E_NOMEM, "out of memory for output %d (%zu bytes)", i, nb);
            return NULL;
        }
        if (slot < 0 && !scratch_push(f, data)) {
            em_fail(c, EDGEML_E_NOMEM, "out of memory");
            return NULL;
        }
    }
    if (slot >= 0 && f->recording) {
        f->rec_size[slot] = nb;
        f->rec_start[slot] = f->step;
    }
    if (dtype == EDGEML_STRING && nb) memset(data, 0, nb);
    v->kind = EM_V_TENSOR;
    v->t.dtype = dtype;
    v->t.rank = rank;
    for (int k = 0; k < rank; k++) v->t.dims[k] = dims[k];
    v->t.data = data;
    v->heap = (heap && slot >= 0) ? data : NULL;
    if (slot < 0) {
        /* Unwanted output: keep the header in scratch so the pointer stays valid. */
        em_tensor *t = scratch_push(f, malloc(sizeof *t));
        if (!t) { em_fail(c, EDGEML_E_NOMEM, "out of memory"); return NULL; }
        *t = v->t;
        return t;
    }
    return &v->t;
}

em_seq *em_out_seq(em_kctx *c, int i, int elem_dtype)
{
    if (i < 0 || i >= c->node->n_out) {
        em_fail(c, EDGEML_E_RUNTIME, "kernel asked for output %d of %d", i, c->node->n_out);
        return NULL;
    }
    em_seq *s = em_seq_new(elem_dtype);
    if (!s) { em_fail(c, EDGEML_E_NOMEM, "out of memory"); return NULL; }
    int slot = c->node->out[i];
    if (slot < 0) {
        /* Unwanted: kept until the frame ends (rare: an unnamed sequence output). */
        if (!scratch_push(c->frame, s)) { em_fail(c, EDGEML_E_NOMEM, "out of memory"); return NULL; }
        return s;
    }
    em_value *v = &c->frame->vals[slot];
    em_value_release(v);
    v->kind = EM_V_SEQUENCE;
    v->seq = s;
    v->heap = s;
    return s;
}

edgeml_status em_out_none(em_kctx *c, int i)
{
    if (i < 0 || i >= c->node->n_out) return em_fail(c, EDGEML_E_RUNTIME, "bad output index %d", i);
    int slot = c->node->out[i];
    if (slot < 0) return EDGEML_OK;
    em_value *v = &c->frame->vals[slot];
    em_value_release(v);
    v->kind = EM_V_NONE;
    v->is_optional = true;
    return EDGEML_OK;
}

edgeml_status em_out_copy_value(em_kctx *c, int i, const em_value *src)
{
    if (i < 0 || i >= c->node->n_out) return em_fail(c, EDGEML_E_RUNTIME, "bad output index %d", i);
    if (src->kind == EM_V_TENSOR) {
        em_tensor *t = em_out(c, i, src->t.dtype, src->t.rank, src->t.dims);
        if (!t) return c->err ? c->err->code : EDGEML_E_NOMEM;
        size_t nb = em_nbytes(&src->t);
        if (nb) memcpy(t->data, src->t.data, nb);
        int slot = c->node->out[i];
        if (slot >= 0) c->frame->vals[slot].is_optional = src->is_optional;
        return EDGEML_OK;
    }
    if (src->kind == EM_V_NONE) return em_out_none(c, i);
    if (src->kind == EM_V_SEQUENCE) {
        int slot = c->node->out[i];
        if (slot < 0) return EDGEML_OK;
        em_seq *s = em_seq_clone(src->seq);
        if (!s) return em_fail(c, EDGEML_E_NOMEM, "out of memory");
        em_value *v = &c->frame->vals[slot];
        em_value_release(v);
        v->kind = EM_V_SEQUENCE;
        v->seq = s;
        v->heap = s;
        v->is_optional = src->is_optional;
        return EDGEML_OK;
    }
    return em_fail(c, EDGEML_E_RUNTIME, "input value is unset");
}

void *em_scratch(em_kctx *c, size_t bytes)
{
    void *p = scratch_push(c->frame, alloc_aligned(bytes));
    if (!p) em_fail(c, EDGEML_E_NOMEM, "out of memory (%zu bytes of scratch)", bytes);
    return p;
}

em_str em_strdup(em_kctx *c, const char *p, size_t len)
{
    em_str s = { "", 0 };
    char *d = em_pool_alloc(c->frame->strings, len + 1);
    if (!d) return s;
    if (len) memcpy(d, p, len);
    d[len] = 0;
    s.data = d;
    s.len = len;
    return s;
}

/* ---- attributes ------------------------------------------------------------ */

const em_attr *em_attr_get(const em_node *n, const char *name)
{
    for (size_t i = 0; i < n->n_attrs; i++)
        if (!strcmp(n->attrs[i].name, name)) return &n->attrs[i];
    return NULL;
}

int64_t em_attr_int(const em_node *n, const char *name, int64_t dflt)
{
    const em_attr *a = em_attr_get(n, name);
    return a && a->type == EM_ATTR_INT ? a->i : dflt;
}

float em_attr_float(const em_node *n, const char *name, float dflt)
{
    const em_attr *a = em_attr_get(n, name);
    if (!a) return dflt;
    if (a->type == EM_ATTR_FLOAT) return a->f;
    if (a->type == EM_ATTR_INT) return (float)a->i;
    return dflt;
}

const char *em_attr_str(const em_node *n, const char *name, const char *dflt)
{
    const em_attr *a = em_attr_get(n, name);
    if (!a || a->type != EM_ATTR_STRING) return dflt;
    return a->s.data ? a->s.data : "";
}

long em_attr_ints(const em_node *n, const char *name, const int64_t **out)
{
    const em_attr *a = em_attr_get(n, name);
    if (!a || (a->type != EM_ATTR_INTS && a->type != EM_ATTR_INT)) { *out = NULL; return -1; }
    static const int64_t none[1];
    if (a->type == EM_ATTR_INT) { *out = &a->i; return 1; }
    *out = a->ints ? a->ints : none; /* never NULL: callers may memcpy 0 bytes from it */
    return (long)a->n;
}

long em_attr_floats(const em_node *n, const char *name, const float **out)
{
    const em_attr *a = em_attr_get(n, name);
    if (!a || (a->type != EM_ATTR_FLOATS && a->type != EM_ATTR_FLOAT)) { *out = NULL; return -1; }
    static const float none[1];
    if (a->type == EM_ATTR_FLOAT) { *out = &a->f; return 1; }
    *out = a->floats ? a->floats : none;
    return (long)a->n;
}

const em_tensor *em_node_const_input(const em_node *n, int i)
{
    if (i < 0 || i >= n->n_in || n->in[i] < 0) return NULL;
    const em_graph *g = n->graph;
    int s = n->in[i];
    while (g && g->slots[s].kind == EM_SLOT_OUTER) {
        s = g->slots[s].outer;
        g = g->parent;
    }
    if (!g || g->slots[s].kind != EM_SLOT_CONST || g->slots[s].cval.kind != EM_V_TENSOR) return NULL;
    return &g->slots[s].cval.t;
}

/* ---- running --------------------------------------------------------------- */

static void release_input(em_frame *f, int slot)
{
    if (slot < 0) return;
    if (--f->refs[slot] == 0 && f->g->slots[slot].kind == EM_SLOT_COMPUTED) {
        if (f->recording) f->rec_end[slot] = f->step;
        em_value_release(&f->vals[slot]);
    }
}

/* The node's input signature: per input, dtype and shape (kind for others). */
static size_t input_key(em_kctx *c, int64_t *key, size_t cap)
{
    size_t n = 0;
    for (int i = 0; i < c->node->n_in; i++) {
        const em_value *v = em_in_value(c, i);
        if (n + 2 + EM_MAX_RANK > cap) return 0;
        if (!v || v->kind != EM_V_TENSOR) { key[n++] = -1 - (v ? v->kind : 0); continue; }
        key[n++] = v->t.dtype;
        key[n++] = v->t.rank;
        for (int d = 0; d < v->t.rank; d++) key[n++] = v->t.dims[d];
    }
    return n ? n : 1;
}

/* Runs the row's reshape when this node has no state for these input shapes. */
static edgeml_status node_reshape(em_frame *f, em_kctx *c, void **tmp_ws)
{
    const em_node *n = c->node;
    int64_t key[8 * (2 + EM_MAX_RANK)];
    size_t klen = input_key(c, key, sizeof key / sizeof key[0]);
    size_t idx = (size_t)(n - f->g->nodes);
    edgeml_session *s = f->sess;
    if (!s || !klen || idx >= f->g->n_nodes) {
        /* Constant folding (no session) or a node with very many inputs: no cache. */
        size_t wsb = 0;
        void *st = NULL;
        edgeml_status r = n->op->reshape(c, &st, &wsb);
        if (r) { free(st); return r; }
        void *ws = wsb ? aligned_alloc(64, (wsb + 63) / 64 * 64) : NULL;
        if (wsb && !ws) { free(st); return em_fail(c, EDGEML_E_NOMEM, "out of memory (%zu bytes of workspace)", wsb); }
        c->rs = st;
        c->ws = ws;
        tmp_ws[0] = st;
        tmp_ws[1] = ws;
        return EDGEML_OK;
    }
    if (!f->rs) {
        f->rs_own = calloc(f->g->n_nodes, sizeof *f->rs_own);
        if (!f->rs_own) return em_fail(c, EDGEML_E_NOMEM, "out of memory");
        f->rs = f->rs_own;
    }
    em_rslot *r = &f->rs[idx];
    if (!r->key || r->key_len != klen || memcmp(r->key, key, klen * sizeof *key)) {
        free(r->st);
        free(r->key);
        memset(r, 0, sizeof *r);
        void *st = NULL;
        size_t wsb = 0;
        edgeml_status st2 = n->op->reshape(c, &st, &wsb);
        if (st2) { free(st); return st2; }
        r->key = malloc(klen * sizeof *key);
        if (!r->key) { free(st); return em_fail(c, EDGEML_E_NOMEM, "out of memory"); }
        memcpy(r->key, key, klen * sizeof *key);
        r->key_len = klen;
        r->st = st;
        r->ws = wsb;
    }
    if (r->ws > s->ws_cap) {
        size_t cap = (r->ws + 4095) / 4096 * 4096;
        void *ws = aligned_alloc(64, cap);
        if (!ws) return em_fail(c, EDGEML_E_NOMEM, "out of memory (%zu bytes of workspace)", r->ws);
        free(s->ws);
        s->ws = ws;
        s->ws_cap = cap;
    }
    c->rs = r->st;
    c->ws = s->ws;
    return EDGEML_OK;
}

edgeml_status em_run_node(em_frame *f, const em_node *n, edgeml_error *err)
{
    edgeml_session *s = f->sess;
    em_kctx c = { n, f, err, s ? s->pool : NULL, s ? s->threads : 1, NULL, NULL, NULL };
    void *tmp[2] = {NULL, NULL};
    edgeml_status st = EDGEML_OK;
    if (n->op->reshape) st = node_reshape(f, &c, tmp);
    if (st == EDGEML_OK) st = n->op->run(&c);
    free(tmp[0]);
    free(tmp[1]);
    free_scratch(f);
    if (st == EDGEML_OK) {
        for (int j = 0; j < n->n_out; j++)
            if (n->out[j] >= 0 && f->vals[n->out[j]].kind == EM_V_UNSET)
                return em_fail(&c, EDGEML_E_RUNTIME, "kernel did not produce output %d", j);
    } else if (err && !err->msg[0]) {
        em_fail(&c, st, "%s", edgeml_status_str(st));
    }
    return st;
}

/* Binds inputs, constants and outer values; runs every node in order. */
edgeml_status em_frame_run(em_frame *f, edgeml_error *err)
{
    const em_graph *g = f->g;
    for (size_t i = 0; i < g->n_slots; i++) {
        const em_slot *s = &g->slots[i];
        f->refs[i] = s->n_consumers;
        if (s->kind == EM_SLOT_CONST) {
            f->vals[i] = s->cval;
            f->vals[i].heap = NULL;
        } else if (s->kind == EM_SLOT_OUTER) {
            if (!f->parent) return em_set_error(err, EDGEML_E_RUNTIME, "outer value '%s' without a parent", s->name);
            f->vals[i] = f->parent->vals[s->outer];
            f->vals[i].heap = NULL;
            if (f->vals[i].kind == EM_V_UNSET)
                return em_set_error(err, EDGEML_E_RUNTIME, "outer value '%s' is not available", s->name);
        }
    }
    for (size_t k = 0; k < g->n_nodes; k++) {
        const em_node *n = &g->nodes[k];
        if (n->folded) continue;
        f->step = (int)k;
        for (int j = 0; j < n->n_in; j++) {
            int s = n->in[j];
            if (s >= 0 && f->vals[s].kind == EM_V_UNSET)
                return em_set_error(err, EDGEML_E_RUNTIME, "node '%s' (%s): input '%s' has no value",
                                    n->name, n->op_type, g->slots[s].name);
        }
        edgeml_status st;
        if (f->sess && f->sess->prof_ns && f == &f->sess->top) {
            struct timespec t0, t1;
            clock_gettime(CLOCK_MONOTONIC, &t0);
            st = em_run_node(f, n, err);
            clock_gettime(CLOCK_MONOTONIC, &t1);
            f->sess->prof_ns[k] += (uint64_t)((t1.tv_sec - t0.tv_sec) * 1000000000LL + (t1.tv_nsec - t0.tv_nsec));
            f->sess->prof_calls[k]++;
            const em_value *v = n->n_out > 0 && n->out[0] >= 0 ? &f->vals[n->out[0]] : NULL;
            if (v && v->kind == EM_V_TENSOR)
                em_shape_str(v->t.rank, v->t.dims, f->sess->prof_shape[k], sizeof f->sess->prof_shape[k]);
        } else
            st = em_run_node(f, n, err);
        if (st) return st;
        for (int j = 0; j < n->n_in; j++) release_input(f, n->in[j]);
        for (int j = 0; j < n->n_implicit; j++) release_input(f, n->implicit[j]);
        /* Outputs nobody reads (dangling): free now. */
        for (int j = 0; j < n->n_out; j++) {
            int s = n->out[j];
            if (s >= 0 && f->refs[s] == 0) {
                if (f->recording) f->rec_end[s] = f->step;
                em_value_release(&f->vals[s]);
            }
        }
    }
    return EDGEML_OK;
}

edgeml_status em_run_subgraph(em_kctx *c, const em_graph *g, const em_value *const *inputs,
                              size_t n_in, em_value *outs)
{
    if (n_in != g->n_inputs)
        return em_fail(c, EDGEML_E_RUNTIME, "subgraph '%s' takes %zu inputs, given %zu", g->name,
                       g->n_inputs, n_in);
    if (g->parent != c->frame->g)
        return em_fail(c, EDGEML_E_RUNTIME, "subgraph '%s' does not belong to this node", g->name);
    em_frame f;
    edgeml_status st = em_frame_init(&f, g, c->frame, c->frame->sess, c->frame->strings);
    if (st) return em_fail(c, st, "out of memory");
    for (size_t i = 0; i < n_in; i++) {
        int s = g->inputs[i];
        if (inputs[i]) {
            f.vals[s] = *inputs[i];
            f.vals[s].heap = NULL;
        }
    }
    /* Inputs with no value given take the initializer default, if any. */
    for (size_t i = 0; i < n_in; i++) {
        int s = g->inputs[i];
        if (!inputs[i] && g->slots[s].has_default) {
            f.vals[s] = g->slots[s].cval;
            f.vals[s].heap = NULL;
        }
    }
    st = em_frame_run(&f, c->err);
    if (st == EDGEML_OK) {
        for (size_t i = 0; i < g->n_outputs; i++) {
            int s = g->outputs[i];
            em_value *v = &f.vals[s];
            bool owned = v->heap != NULL && g->slots[s].kind == EM_SLOT_COMPUTED;
            /* The same value can be listed twice as an output: only move it once. */
            for (size_t k = i + 1; k < g->n_outputs && owned; k++)
                if (g->outputs[k] == s) owned = false;
            if (v->kind == EM_V_UNSET) {
                st = em_fail(c, EDGEML_E_RUNTIME, "subgraph '%s' did not produce output %zu", g->name, i);
                for (size_t k = 0; k < i; k++) em_value_release(&outs[k]);
                break;
            }
            if (owned) {
                outs[i] = *v;
                memset(v, 0, sizeof *v);
            } else if ((st = em_value_clone(&outs[i], v))) {
                for (size_t k = 0; k < i; k++) em_value_release(&outs[k]);
                em_fail(c, st, "out of memory");
                break;
            }
        }
    }
    /* Borrowed values must not be freed by the frame. */
    for (size_t i = 0; i < g->n_slots; i++)
        if (g->slots[i].kind != EM_SLOT_COMPUTED) f.vals[i].heap = NULL;
    em_frame_free(&f);
    return st;
}

/* ---- planning -------------------------------------------------------------- */

void em_rslots_free(em_rslot *r, size_t n)
{
    if (!r) return;
    for (size_t i = 0; i < n; i++) {
        free(r[i].st);
        free(r[i].key);
    }
    free(r);
}

static void plan_free(em_plan *p)
{
    if (!p) return;
    em_rslots_free(p->rs, p->n_rs);
    free(p->key);
    free(p->offset);
    free(p->size);
    free(p->arena);
    free(p);
}

typedef struct blk {
    int slot;
    size_t size;
    int start, end;
} blk;

static int cmp_blk(const void *a, const void *b)
{
    const blk *x = a, *y = b;
    if (x->size != y->size) return x->size < y->size ? 1 : -1;
    return x->slot - y->slot;
}

/* Greedy best-fit by decreasing size over lifetime intervals. */
static em_plan *plan_build(em_frame *f, const int32_t *key, size_t key_len)
{
    const em_graph *g = f->g;
    em_plan *p = calloc(1, sizeof *p);
    if (!p) return NULL;
    p->n_slots = g->n_slots;
    p->key = malloc(key_len * sizeof *key + 1);
    p->offset = malloc((g->n_slots + 1) * sizeof *p->offset);
    p->size = calloc(g->n_slots + 1, sizeof *p->size);
    blk *b = malloc((g->n_slots + 1) * sizeof *b);
    int64_t *placed_off = malloc((g->n_slots + 1) * sizeof *placed_off);
    int *placed = malloc((g->n_slots + 1) * sizeof *placed);
    if (!p->key || !p->offset || !p->size || !b || !placed_off || !placed) goto fail;
    memcpy(p->key, key, key_len * sizeof *key);
    p->key_len = key_len;
    size_t nb = 0;
    for (size_t i = 0; i < g->n_slots; i++) {
        p->offset[i] = -1;
        if (g->slots[i].kind != EM_SLOT_COMPUTED || f->rec_start[i] < 0 || !f->rec_size[i]) continue;
        int end = f->rec_end[i] >= 0 ? f->rec_end[i] : (int)g->n_nodes; /* graph outputs live on */
        size_t sz = (f->rec_size[i] + EM_ALIGN - 1) / EM_ALIGN * EM_ALIGN;
        b[nb++] = (blk){ (int)i, sz, f->rec_start[i], end };
    }
    qsort(b, nb, sizeof *b, cmp_blk);
    size_t np = 0, total = 0;
    for (size_t i = 0; i < nb; i++) {
        /* Find the lowest offset that fits among live-overlapping placed blocks. */
        int64_t off = 0;
        bool moved = true;
        while (moved) {
            moved = false;
            for (size_t k = 0; k < np; k++) {
                const blk *o = &b[placed[k]];
                if (o->end < b[i].start || b[i].end < o->start) continue;
                int64_t oo = placed_off[k];
                if (off < oo + (int64_t)o->size && oo < off + (int64_t)b[i].size) {
                    off = oo + (int64_t)o->size;
                    moved = true;
                }
            }
        }
        placed[np] = (int)i;
        placed_off[np++] = off;
        p->offset[b[i].slot] = off;
        p->size[b[i].slot] = b[i].size;
        if ((size_t)off + b[i].size > total) total = (size_t)off + b[i].size;
    }
    p->arena_bytes = total;
    p->arena = aligned_alloc(EM_ALIGN, total ? total : EM_ALIGN);
    if (!p->arena) goto fail;
    /* The recording run's reshape states serve every run of this plan. */
    p->rs = f->rs_own;
    p->n_rs = g->n_nodes;
    f->rs_own = NULL;
    free(b);
    free(placed_off);
    free(placed);
    return p;
fail:
    free(b);
    free(placed_off);
    free(placed);
    plan_free(p);
    return NULL;
}

/* ---- sessions -------------------------------------------------------------- */

EDGEML_API edgeml_status edgeml_session_create(const edgeml_model *m, const edgeml_session_options *opts,
                                               edgeml_session **out, edgeml_error *err)
{
    if (err) { err->code = EDGEML_OK; err->msg[0] = 0; }
    if (!m || !out) return em_set_error(err, EDGEML_E_INVALID, "invalid arguments");
    edgeml_session *s = calloc(1, sizeof *s);
    if (!s) return em_set_error(err, EDGEML_E_NOMEM, "out of memory");
    s->model = m;
    /* Threads: the option, else one per core; never more than the pool has. */
    int want = opts && opts->threads > 0 ? opts->threads : 0;
    s->pool = want == 1 ? NULL : em_tpool_default();
    int have = em_tpool_size(s->pool);
    s->threads = want == 0 || want > have ? have : want;
    s->in_vals = calloc(m->n_inputs + 1, sizeof *s->in_vals);
    s->in_heap = calloc(m->n_inputs + 1, sizeof *s->in_heap);
    if (!s->in_vals || !s->in_heap || em_frame_init(&s->top, m->graph, NULL, s, &s->strings)) {
        free(s->in_vals);
        free(s->in_heap);
        free(s);
        return em_set_error(err, EDGEML_E_NOMEM, "out of memory");
    }
    size_t n = m->graph->n_slots + 1;
    s->top.rec_size = calloc(n, sizeof(size_t));
    s->top.rec_start = malloc(n * sizeof(int));
    s->top.rec_end = malloc(n * sizeof(int));
    if (!s->top.rec_size || !s->top.rec_start || !s->top.rec_end) {
        edgeml_session_free(s);
        return em_set_error(err, EDGEML_E_NOMEM, "out of memory");
    }
    const char *pe = getenv("EDGEML_PROFILE");
    if (pe && *pe && strcmp(pe, "0")) {
        size_t nn = m->graph->n_nodes + 1;
        s->prof_ns = calloc(nn, sizeof *s->prof_ns);
        s->prof_calls = calloc(nn, sizeof *s->prof_calls);
        s->prof_shape = calloc(nn, sizeof *s->prof_shape);
        if (!s->prof_ns || !s->prof_calls || !s->prof_shape) {
            free(s->prof_ns);
            free(s->prof_calls);
            free(s->prof_shape);
            s->prof_ns = NULL;
            s->prof_calls = NULL;
            s->prof_shape = NULL;
        }
    }
    *out = s;
    return EDGEML_OK;
}

/* The profile of EDGEML_PROFILE=1: the nodes by time, then the op types. */
static void prof_print(const edgeml_session *s)
{
    const em_graph *g = s->model->graph;
    size_t n = g->n_nodes, *ord = malloc((n + 1) * sizeof *ord);
    if (!ord) return;
    uint64_t total = 0, runs = 0;
    for (size_t k = 0; k < n; k++) {
        ord[k] = k;
        total += s->prof_ns[k];
        if (s->prof_calls[k] > runs) runs = s->prof_calls[k];
    }
    if (!runs) { free(ord); return; }
    for (size_t i = 1; i < n; i++) /* insertion sort, descending by time */
        for (size_t j = i; j > 0 && s->prof_ns[ord[j]] > s->prof_ns[ord[j - 1]]; j--) {
            size_t t = ord[j]; ord[j] = ord[j - 1]; ord[j - 1] = t;
        }
    fprintf(stderr, "edgeml profile: %zu nodes, %llu run(s), %.3f ms per run (kernels only)\n", n,
            (unsigned long long)runs, (double)total / 1e6 / (double)runs);
    fprintf(stderr, "  %9s %6s  %-24s %-20s %s\n", "ms/run", "share", "op", "output 0", "node");
    for (size_t i = 0; i < n && i < 40; i++) {
        const em_node *nd = &g->nodes[ord[i]];
        if (!s->prof_calls[ord[i]]) continue;
        char op[40];
        snprintf(op, sizeof op, "%s%s%s%s", *nd->domain && strcmp(nd->domain, "ai.onnx") ? nd->domain : "",
                 *nd->domain && strcmp(nd->domain, "ai.onnx") ? ":" : "", nd->op_type,
                 nd->act.kind != EM_ACT_NONE || nd->add_in > 0 ? "+" : "");
        fprintf(stderr, "  %9.3f %5.1f%%  %-24s %-20s %s\n", (double)s->prof_ns[ord[i]] / 1e6 / (double)runs,
                total ? 100.0 * (double)s->prof_ns[ord[i]] / (double)total : 0.0, op, s->prof_shape[ord[i]],
                nd->name ? nd->name : "");
    }
    /* per op type */
    fprintf(stderr, "  by op type:\n");
    for (size_t i = 0; i < n; i++) {
        const em_node *a = &g->nodes[i];
        bool seen = false;
        for (size_t j = 0; j < i && !seen; j++)
            seen = !strcmp(g->nodes[j].op_type, a->op_type) && !strcmp(g->nodes[j].domain, a->domain);
        if (seen) continue;
        uint64_t t = 0;
        size_t cnt = 0;
        for (size_t j = i; j < n; j++)
            if (!strcmp(g->nodes[j].op_type, a->op_type) && !strcmp(g->nodes[j].domain, a->domain)) {
                t += s->prof_ns[j];
                cnt++;
            }
        ord[i] = (size_t)t; /* reuse: printed unsorted, op types are few */
        fprintf(stderr, "  %9.3f %5.1f%%  %-24s x%zu\n", (double)t / 1e6 / (double)runs,
                total ? 100.0 * (double)t / (double)total : 0.0, a->op_type, cnt);
    }
    free(ord);
}

static void release_top(edgeml_session *s)
{
    em_frame *f = &s->top;
    for (size_t i = 0; i < f->g->n_slots; i++) {
        if (f->g->slots[i].kind != EM_SLOT_COMPUTED) f->vals[i].heap = NULL;
        em_value_release(&f->vals[i]);
    }
    em_pool_clear(&s->strings);
    s->ran = false;
}

EDGEML_API void edgeml_session_free(edgeml_session *s)
{
    if (!s) return;
    if (s->prof_ns) prof_print(s);
    free(s->prof_ns);
    free(s->prof_calls);
    free(s->prof_shape);
    release_top(s);
    for (size_t i = 0; i < s->model->n_inputs; i++) free(s->in_heap[i]);
    for (size_t i = 0; i < s->n_plans; i++) plan_free(s->plans[i]);
    free(s->plans);
    free(s->in_vals);
    free(s->in_heap);
    free(s->strings.blocks);
    em_frame_free(&s->top);
    free(s->ws);
    free(s);
}

static const em_vinfo *input_decl(const edgeml_model *m, size_t i)
{
    const em_graph *g = m->graph;
    for (size_t k = 0; k < g->n_inputs; k++)
        if (g->inputs[k] == m->input_slots[i]) return &g->in_info[k];
    return NULL;
}

static edgeml_status check_value(const edgeml_model *m, size_t i, const em_value *v, edgeml_error *err)
{
    const em_vinfo *d = input_decl(m, i);
    const char *name = m->inputs[i].name;
    if (!d) return EDGEML_OK;
    if (v->kind == EM_V_TENSOR) {
        if (d->kind == EDGEML_KIND_SEQUENCE)
            return em_set_error(err, EDGEML_E_INVALID, "input '%s': expected a sequence, got a tensor", name);
        if (d->dtype && d->dtype != v->t.dtype)
            return em_set_error(err, EDGEML_E_INVALID, "input '%s': expected dtype %s, got %s", name,
                                em_dtype_name(d->dtype), em_dtype_name(v->t.dtype));
        if (d->rank >= 0 && d->rank != v->t.rank)
            return em_set_error(err, EDGEML_E_INVALID, "input '%s': expected rank %d, got rank %d", name,
                                d->rank, v->t.rank);
        if (d->rank >= 0)
            for (int k = 0; k < d->rank; k++)
                if (d->dims[k] >= 0 && d->dims[k] != v->t.dims[k]) {
                    char a[128], b[128];
                    return em_set_error(err, EDGEML_E_INVALID, "input '%s': expected shape %s, got %s (dim %d)",
                                        name, em_shape_str(d->rank, d->dims, a, sizeof a),
                                        em_shape_str(v->t.rank, v->t.dims, b, sizeof b), k);
                }
    } else if (v->kind == EM_V_SEQUENCE) {
        if (d->kind == EDGEML_KIND_TENSOR)
            return em_set_error(err, EDGEML_E_INVALID, "input '%s': expected a tensor, got a sequence", name);
    } else if (v->kind == EM_V_NONE) {
        if (d->kind != EDGEML_KIND_OPTIONAL)
            return em_set_error(err, EDGEML_E_INVALID, "input '%s' is not optional", name);
    }
    return EDGEML_OK;
}

edgeml_status em_session_set_value(edgeml_session *s, size_t i, const em_value *v, edgeml_error *err)
{
    if (i >= s->model->n_inputs) return em_set_error(err, EDGEML_E_INVALID, "input index %zu out of range", i);
    edgeml_status st = check_value(s->model, i, v, err);
    if (st) return st;
    free(s->in_heap[i]);
    s->in_heap[i] = NULL;
    s->in_vals[i] = *v;
    s->in_vals[i].heap = NULL;
    return EDGEML_OK;
}

EDGEML_API edgeml_status edgeml_session_set_input(edgeml_session *s, const char *name, edgeml_dtype dtype,
    int rank, const int64_t *dims, const void *data, size_t nbytes, int flags, edgeml_error *err)
{
    if (err) { err->code = EDGEML_OK; err->msg[0] = 0; }
    if (!s || !name) return em_set_error(err, EDGEML_E_INVALID, "invalid arguments");
    const edgeml_model *m = s->model;
    size_t i;
    for (i = 0; i < m->n_inputs; i++)
        if (!strcmp(m->inputs[i].name, name)) break;
    if (i == m->n_inputs) return em_set_error(err, EDGEML_E_INVALID, "the model has no input '%s'", name);
    if (rank < 0 || rank > EM_MAX_RANK || (rank && !dims))
        return em_set_error(err, EDGEML_E_INVALID, "input '%s': rank %d is not supported", name, rank);
    size_t esz = em_dtype_size(dtype), numel, need;
    if (!esz) return em_set_error(err, EDGEML_E_INVALID, "input '%s': unknown dtype %d", name, (int)dtype);
    if (!em_shape_numel(rank, dims, &numel) || __builtin_mul_overflow(numel, esz, &need))
        return em_set_error(err, EDGEML_E_INVALID, "input '%s': invalid shape", name);
    if (need != nbytes)
        return em_set_error(err, EDGEML_E_INVALID, "input '%s': %zu bytes given, shape and dtype need %zu",
                            name, nbytes, need);
    if (need && !data) return em_set_error(err, EDGEML_E_INVALID, "input '%s': no data", name);
    em_value v = { .kind = EM_V_TENSOR };
    v.t.dtype = dtype;
    v.t.rank = rank;
    for (int k = 0; k < rank; k++) v.t.dims[k] = dims[k];
    v.t.data = (void *)data;
    edgeml_status st = check_value(m, i, &v, err);
    if (st) return st;
    void *copy = NULL;
    if (flags != EDGEML_INPUT_BORROW || dtype == EDGEML_STRING) {
        size_t extra = 0;
        if (dtype == EDGEML_STRING) {
            const edgeml_string *ss = data;
            for (size_t k = 0; k < numel; k++) {
                if (__builtin_add_overflow(extra, ss[k].len + 1, &extra))
                    return em_set_error(err, EDGEML_E_INVALID, "input '%s': strings too large", name);
            }
        }
        copy = malloc(need + extra + 1);
        if (!copy) return em_set_error(err, EDGEML_E_NOMEM, "input '%s': out of memory", name);
        if (need) memcpy(copy, data, need);
        if (dtype == EDGEML_STRING) {
            edgeml_string *ss = copy;
            char *p = (char *)copy + need;
            for (size_t k = 0; k < numel; k++) {
                if (ss[k].len) memcpy(p, ss[k].data, ss[k].len);
                p[ss[k].len] = 0;
                ss[k].data = p;
                p += ss[k].len + 1;
            }
        }
        v.t.data = copy;
    }
    free(s->in_heap[i]);
    s->in_heap[i] = copy;
    s->in_vals[i] = v;
    return EDGEML_OK;
}

static size_t shape_key(edgeml_session *s, int32_t *key, size_t cap)
{
    size_t n = 0;
    for (size_t i = 0; i < s->model->n_inputs; i++) {
        const em_value *v = &s->in_vals[i];
        if (n + 2 + EM_MAX_RANK > cap) return 0;
        key[n++] = (int32_t)v->kind * 1000 + (v->kind == EM_V_TENSOR ? v->t.dtype : 0);
        if (v->kind != EM_V_TENSOR) return 0; /* sequences: no planning */
        key[n++] = v->t.rank;
        for (int k = 0; k < v->t.rank; k++) {
            if (v->t.dims[k] > INT32_MAX) return 0;
            key[n++] = (int32_t)v->t.dims[k];
        }
    }
    return n;
}

EDGEML_API edgeml_status edgeml_session_run(edgeml_session *s, edgeml_error *err)
{
    if (err) { err->code = EDGEML_OK; err->msg[0] = 0; }
    if (!s) return em_set_error(err, EDGEML_E_INVALID, "invalid arguments");
    const edgeml_model *m = s->model;
    const em_graph *g = m->graph;
    em_frame *f = &s->top;
    release_top(s);
    for (size_t i = 0; i < m->n_inputs; i++) {
        int slot = m->input_slots[i];
        if (s->in_vals[i].kind == EM_V_UNSET) {
            if (g->slots[slot].has_default) {
                f->vals[slot] = g->slots[slot].cval;
            } else if (m->inputs[i].kind == EDGEML_KIND_OPTIONAL) {
                f->vals[slot].kind = EM_V_NONE;
            } else {
                return em_set_error(err, EDGEML_E_INVALID, "input '%s' was not set", m->inputs[i].name);
            }
        } else {
            f->vals[slot] = s->in_vals[i];
        }
        f->vals[slot].heap = NULL;
    }
    /* Find or make the plan for these input shapes. */
    int32_t keybuf[512];
    size_t klen = shape_key(s, keybuf, sizeof keybuf / sizeof keybuf[0]);
    f->plan = NULL;
    f->recording = false;
    if (klen) {
        for (size_t i = 0; i < s->n_plans; i++) {
            em_plan *p = s->plans[i];
            if (p->key_len == klen && !memcmp(p->key, keybuf, klen * sizeof *keybuf)) {
                f->plan = p;
                break;
            }
        }
        if (!f->plan) {
            f->recording = true;
            for (size_t i = 0; i < g->n_slots; i++) {
                f->rec_size[i] = 0;
                f->rec_start[i] = -1;
                f->rec_end[i] = -1;
            }
        }
    }
    /* Reshape states: the plan's; a recording or unplanned run starts its own. */
    em_rslots_free(f->rs_own, g->n_nodes);
    f->rs_own = NULL;
    f->rs = f->plan ? f->plan->rs : NULL;
    edgeml_status st = em_frame_run(f, err);
    if (st) {
        f->recording = false;
        release_top(s);
        return st;
    }
    s->ran = true;
    if (f->recording) {
        f->recording = false;
        em_plan *p = plan_build(f, keybuf, klen);
        if (p) {
            if (s->n_plans == EM_MAX_PLANS) {
                plan_free(s->plans[0]);
                memmove(s->plans, s->plans + 1, (EM_MAX_PLANS - 1) * sizeof *s->plans);
                s->n_plans--;
            }
            em_plan **pl = realloc(s->plans, (s->n_plans + 1) * sizeof *pl);
            if (pl) {
                s->plans = pl;
                s->plans[s->n_plans++] = p;
            } else {
                plan_free(p);
            }
        }
    }
    return EDGEML_OK;
}

const em_value *em_session_output_value(edgeml_session *s, size_t i)
{
    if (!s->ran || i >= s->model->n_outputs) return NULL;
    return &s->top.vals[s->model->graph->outputs[i]];
}

EDGEML_API edgeml_status edgeml_session_output(edgeml_session *s, size_t i, edgeml_tensor *out,
                                               edgeml_error *err)
{
    if (err) { err->code = EDGEML_OK; err->msg[0] = 0; }
    if (!s || !out) return em_set_error(err, EDGEML_E_INVALID, "invalid arguments");
    if (i >= s->model->n_outputs)
        return em_set_error(err, EDGEML_E_INVALID, "output %zu out of range (%zu outputs)", i, s->model->n_outputs);
    if (!s->ran) return em_set_error(err, EDGEML_E_INVALID, "no successful run yet");
    const em_value *v = em_session_output_value(s, i);
    if (!v || v->kind != EM_V_TENSOR)
        return em_set_error(err, EDGEML_E_UNSUPPORTED, "output '%s' is a %s, not a tensor",
                            s->model->outputs[i].name,
                            v && v->kind == EM_V_SEQUENCE ? "sequence" : "empty optional");
    out->dtype = (edgeml_dtype)v->t.dtype;
    out->rank = v->t.rank;
    out->dims = v->t.dims;
    out->data = v->t.data;
    out->nbytes = em_nbytes(&v->t);
    return EDGEML_OK;
}

EDGEML_API size_t edgeml_session_arena_bytes(const edgeml_session *s)
{
    size_t n = 0;
    if (s)
        for (size_t i = 0; i < s->n_plans; i++) n += s->plans[i]->arena_bytes;
    return n;
}

EDGEML_API int edgeml_session_threads(const edgeml_session *s) { return s ? s->threads : 0; }
