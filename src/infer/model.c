/* Loading: map the file, decode it, resolve names into slots, pick and prepare
 * a kernel for every node, sort, fold constants. */
#include "exec.h"
#include "ops/ops.h"
#include "opt/opt.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

/* ---- arena ------------------------------------------------------------- */

struct em_arena_chunk {
    em_arena_chunk *next;
    size_t cap;
    _Alignas(64) uint8_t data[];
};

static void *arena_take(em_arena *a, size_t n, bool zero);
void *em_arena_alloc(em_arena *a, size_t n) { return arena_take(a, n, true); }
void *em_arena_alloc_raw(em_arena *a, size_t n) { return arena_take(a, n, false); }

static void *arena_take(em_arena *a, size_t n, bool zero)
{
    n = (n + 63) & ~(size_t)63;
    if (n == 0) n = 64;
    if (!a->head || a->cap - a->used < n) {
        size_t cap = n > 60000 ? n : 65536 - 128;
        em_arena_chunk *c = malloc(sizeof *c + cap);
        if (!c) return NULL;
        c->cap = cap;
        c->next = a->head;
        a->head = c;
        a->used = 0;
        a->cap = cap;
        a->total += cap;
    }
    void *p = a->head->data + a->used;
    a->used += n;
    if (zero) memset(p, 0, n);
    return p;
}

void *em_arena_calloc(em_arena *a, size_t n, size_t size)
{
    size_t b;
    if (__builtin_mul_overflow(n, size, &b) || em_size_above(b, 40)) return NULL;
    return em_arena_alloc(a, b);
}

char *em_arena_strndup(em_arena *a, const char *p, size_t n)
{
    char *s = em_arena_alloc(a, n + 1);
    if (s) { memcpy(s, p, n); s[n] = 0; }
    return s;
}

void em_arena_free(em_arena *a)
{
    for (em_arena_chunk *c = a->head, *nx; c; c = nx) {
        nx = c->next;
        free(c);
    }
    memset(a, 0, sizeof *a);
}

/* ---- name resolution ---------------------------------------------------- */

typedef struct scope {
    em_graph *g;
    struct scope *parent;
    const char **names;       /* open addressing: slot index + 1, 0 = empty */
    int *idx;
    size_t cap;
    size_t cap_slots;
} scope;

static uint64_t hash_str(const char *s)
{
    uint64_t h = 1469598103934665603ull;
    for (; *s; s++) h = (h ^ (uint8_t)*s) * 1099511628211ull;
    return h;
}

static int scope_find(const scope *sc, const char *name)
{
    if (!sc->cap) return -1;
    for (size_t i = hash_str(name) & (sc->cap - 1);; i = (i + 1) & (sc->cap - 1)) {
        if (!sc->names[i]) return -1;
        if (!strcmp(sc->names[i], name)) return sc->idx[i];
    }
}

static edgeml_status scope_grow(scope *sc)
{
    size_t cap = sc->cap ? sc->cap * 2 : 64;
    const char **names = calloc(cap, sizeof *names);
    int *idx = calloc(cap, sizeof *idx);
    if (!names || !idx) { free(names); free(idx); return EDGEML_E_NOMEM; }
    for (size_t i = 0; i < sc->cap; i++) {
        if (!sc->names[i]) continue;
        size_t j = hash_str(sc->names[i]) & (cap - 1);
        while (names[j]) j = (j + 1) & (cap - 1);
        names[j] = sc->names[i];
        idx[j] = sc->idx[i];
    }
    free(sc->names);
    free(sc->idx);
    sc->names = names;
    sc->idx = idx;
    sc->cap = cap;
    return EDGEML_OK;
}

/* Adds a slot; returns its index or -1 on OOM. */
static int add_slot(scope *sc, const char *name, em_slot_kind kind)
{
    em_graph *g = sc->g;
    if (g->n_slots == sc->cap_slots) {
        size_t cap = sc->cap_slots ? sc->cap_slots * 2 : 32;
        em_slot *s = realloc(g->slots, cap * sizeof *s);
        if (!s) return -1;
        g->slots = s;
        sc->cap_slots = cap;
    }
    if ((g->n_slots + 1) * 2 > sc->cap && scope_grow(sc)) return -1;
    int id = (int)g->n_slots++;
    em_slot *s = &g->slots[id];
    memset(s, 0, sizeof *s);
    s->name = name;
    s->kind = kind;
    s->producer = -1;
    s->outer = -1;
    size_t i = hash_str(name) & (sc->cap - 1);
    while (sc->names[i]) i = (i + 1) & (sc->cap - 1);
    sc->names[i] = name;
    sc->idx[i] = id;
    return id;
}

/* The slot for `name` seen from sc: local, or an outer value captured through
 * every enclosing graph. -1 when unknown, -2 on OOM. */
static int lookup(scope *sc, const char *name)
{
    int id = scope_find(sc, name);
    if (id >= 0) return id;
    if (!sc->parent) return -1;
    int up = lookup(sc->parent, name);
    if (up < 0) return up;
    id = add_slot(sc, name, EM_SLOT_OUTER);
    if (id < 0) return -2;
    sc->g->slots[id].outer = up;
    return id;
}

static void vinfo_from_tensor(em_arena *a, em_vinfo *vi, const char *name, const em_tensor *t)
{
    vi->name = name;
    vi->kind = EDGEML_KIND_TENSOR;
    vi->dtype = t->dtype;
    vi->rank = t->rank;
    vi->dims = em_arena_calloc(a, (size_t)t->rank + 1, sizeof(int64_t));
    vi->dim_names = em_arena_calloc(a, (size_t)t->rank + 1, sizeof(char *));
    if (vi->dims) memcpy(vi->dims, t->dims, (size_t)t->rank * sizeof(int64_t));
}

typedef struct loader {
    struct edgeml_model *m;
    edgeml_error *err;
} loader;

static edgeml_status resolve_graph(loader *L, em_graph *g, scope *parent);

static int64_t opset_of(const struct edgeml_model *m, const char *domain)
{
    const char *d = domain;
    if (!strcmp(d, "ai.onnx")) d = "";
    for (size_t i = 0; i < m->pb.n_opsets; i++) {
        const char *od = m->pb.opsets[i].domain;
        if (!strcmp(od, "ai.onnx")) od = "";
        if (!strcmp(od, d)) return m->pb.opsets[i].version;
    }
    return -1;
}

static edgeml_status node_error(loader *L, const em_node *n, edgeml_status code, const char *fmt, ...)
    EM_PRINTF(4, 5);
static edgeml_status node_error(loader *L, const em_node *n, edgeml_status code, const char *fmt, ...)
{
    char msg[EDGEML_ERROR_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return em_set_error(L->err, code, "node '%s' (%s%s%s): %s", n->name, *n->domain ? n->domain : "",
                        *n->domain ? ":" : "", n->op_type, msg);
}

/* Collects the slots of `g` (as seen from its parent) that subgraph `sub` reads. */
static edgeml_status add_implicit(loader *L, em_arena *a, em_node *n, const em_graph *sub)
{
    for (size_t i = 0; i < sub->n_slots; i++) {
        if (sub->slots[i].kind != EM_SLOT_OUTER) continue;
        int s = sub->slots[i].outer;
        bool seen = false;
        for (int k = 0; k < n->n_implicit; k++) seen |= n->implicit[k] == s;
        if (seen) continue;
        int *imp = em_arena_calloc(a, (size_t)n->n_implicit + 1, sizeof(int));
        if (!imp) return EDGEML_E_NOMEM;
        if (n->n_implicit) memcpy(imp, n->implicit, (size_t)n->n_implicit * sizeof(int));
        imp[n->n_implicit++] = s;
        n->implicit = imp;
    }
    (void)L;
    return EDGEML_OK;
}

static edgeml_status resolve_graph(loader *L, em_graph *g, scope *parent)
{
    em_arena *a = &L->m->arena;
    scope sc = { .g = g, .parent = parent };
    edgeml_status st = EDGEML_OK;
    g->parent = parent ? parent->g : NULL;
    g->model = L->m;

#define FAIL(code, ...) do { st = em_set_error(L->err, code, __VA_ARGS__); goto out; } while (0)
#define NOMEM() FAIL(EDGEML_E_NOMEM, "out of memory while loading")

    /* Graph inputs, then initializers (defaults for inputs of the same name). */
    g->inputs = em_arena_calloc(a, g->n_pin + 1, sizeof(int));
    g->in_info = em_arena_calloc(a, g->n_pin + 1, sizeof(em_vinfo));
    if (!g->inputs || !g->in_info) NOMEM();
    for (size_t i = 0; i < g->n_pin; i++) {
        const char *name = g->pin[i].name;
        if (!*name) FAIL(EDGEML_E_MODEL, "graph '%s': input %zu has no name", g->name, i);
        if (scope_find(&sc, name) >= 0) FAIL(EDGEML_E_MODEL, "graph '%s': input '%s' declared twice", g->name, name);
        int id = add_slot(&sc, name, EM_SLOT_INPUT);
        if (id < 0) NOMEM();
        g->inputs[g->n_inputs] = id;
        g->in_info[g->n_inputs++] = g->pin[i];
    }
    for (size_t i = 0; i < g->n_inits; i++) {
        const char *name = g->init_names[i];
        if (!*name) FAIL(EDGEML_E_MODEL, "graph '%s': initializer %zu has no name", g->name, i);
        int id = scope_find(&sc, name);
        if (id >= 0) {
            em_slot *s = &g->slots[id];
            if (s->kind != EM_SLOT_INPUT || s->has_default)
                FAIL(EDGEML_E_MODEL, "graph '%s': initializer '%s' defined twice", g->name, name);
            s->has_default = true;
            s->cval.kind = EM_V_TENSOR;
            s->cval.t = g->inits[i];
            continue;
        }
        id = add_slot(&sc, name, EM_SLOT_CONST);
        if (id < 0) NOMEM();
        g->slots[id].cval.kind = EM_V_TENSOR;
        g->slots[id].cval.t = g->inits[i];
    }
    /* Node outputs. */
    for (size_t k = 0; k < g->n_nodes; k++) {
        em_node *n = &g->nodes[k];
        n->graph = g;
        n->in = em_arena_calloc(a, (size_t)n->n_in + 1, sizeof(int));
        n->out = em_arena_calloc(a, (size_t)n->n_out + 1, sizeof(int));
        if (!n->in || !n->out) NOMEM();
        for (int j = 0; j < n->n_out; j++) {
            const char *name = n->out_names[j];
            if (!*name) { n->out[j] = -1; continue; }
            int id = scope_find(&sc, name);
            if (id >= 0)
                FAIL(EDGEML_E_MODEL, "node '%s' (%s): output '%s' is already defined", n->name, n->op_type, name);
            id = add_slot(&sc, name, EM_SLOT_COMPUTED);
            if (id < 0) NOMEM();
            g->slots[id].producer = (int)k;
            n->out[j] = id;
        }
    }
    /* Node inputs and subgraphs. */
    for (size_t k = 0; k < g->n_nodes; k++) {
        em_node *n = &g->nodes[k];
        for (int j = 0; j < n->n_in; j++) {
            const char *name = n->in_names[j];
            if (!*name) { n->in[j] = -1; continue; }
            int id = lookup(&sc, name);
            if (id == -2) NOMEM();
            if (id < 0) FAIL(EDGEML_E_MODEL, "node '%s' (%s): input '%s' is not defined", n->name, n->op_type, name);
            n->in[j] = id;
        }
        for (size_t j = 0; j < n->n_attrs; j++) {
            em_attr *at = &n->attrs[j];
            if (at->type == EM_ATTR_GRAPH && at->g) {
                if ((st = resolve_graph(L, at->g, &sc))) goto out;
                if ((st = add_implicit(L, a, n, at->g))) goto out;
            }
            if (at->type == EM_ATTR_GRAPHS) {
                for (size_t q = 0; q < at->n; q++) {
                    if ((st = resolve_graph(L, at->graphs[q], &sc))) goto out;
                    if ((st = add_implicit(L, a, n, at->graphs[q]))) goto out;
                }
            }
        }
    }
    /* Graph outputs. */
    g->outputs = em_arena_calloc(a, g->n_pout + 1, sizeof(int));
    g->out_info = g->pout;
    g->n_outputs = g->n_pout;
    if (!g->outputs) NOMEM();
    for (size_t i = 0; i < g->n_pout; i++) {
        int id = lookup(&sc, g->pout[i].name);
        if (id == -2) NOMEM();
        if (id < 0) FAIL(EDGEML_E_MODEL, "graph '%s': output '%s' is not produced", g->name, g->pout[i].name);
        g->outputs[i] = id;
    }
    /* Value info for constants' declared types is not needed; keep pin info. */
out:
    free(sc.names);
    free(sc.idx);
    return st;
#undef FAIL
#undef NOMEM
}

/* Topological order (Kahn), with the subgraphs' captures as dependencies. */
static edgeml_status sort_graph(loader *L, em_graph *g)
{
    size_t n = g->n_nodes;
    if (n == 0) return EDGEML_OK;
    int *indeg = calloc(n, sizeof *indeg);
    int *order = malloc(n * sizeof *order);
    int *succ_n = calloc(n, sizeof *succ_n);
    em_node *sorted = malloc(n * sizeof *sorted);
    int **succ = calloc(n, sizeof *succ);
    edgeml_status st = EDGEML_OK;
    if (!indeg || !order || !succ_n || !sorted || !succ) { st = EDGEML_E_NOMEM; goto out; }
    /* Edges producer -> consumer, counted with multiplicity. */
    for (size_t k = 0; k < n; k++) {
        em_node *nd = &g->nodes[k];
        int tot = nd->n_in + nd->n_implicit;
        for (int j = 0; j < tot; j++) {
            int s = j < nd->n_in ? nd->in[j] : nd->implicit[j - nd->n_in];
            if (s < 0 || g->slots[s].producer < 0) continue;
            int p = g->slots[s].producer;
            int *ns = realloc(succ[p], (size_t)(succ_n[p] + 1) * sizeof(int));
            if (!ns) { st = EDGEML_E_NOMEM; goto out; }
            succ[p] = ns;
            succ[p][succ_n[p]++] = (int)k;
            indeg[k]++;
        }
    }
    size_t head = 0, tail = 0;
    for (size_t k = 0; k < n; k++)
        if (!indeg[k]) order[tail++] = (int)k;
    while (head < tail) {
        int k = order[head++];
        for (int j = 0; j < succ_n[k]; j++)
            if (--indeg[succ[k][j]] == 0) order[tail++] = succ[k][j];
    }
    if (tail != n) {
        for (size_t k = 0; k < n; k++)
            if (indeg[k]) {
                st = em_set_error(L->err, EDGEML_E_MODEL, "graph '%s' has a cycle through node '%s' (%s)",
                                  g->name, g->nodes[k].name, g->nodes[k].op_type);
                break;
            }
        goto out;
    }
    int *newpos = indeg; /* reuse */
    for (size_t i = 0; i < n; i++) {
        sorted[i] = g->nodes[order[i]];
        newpos[order[i]] = (int)i;
    }
    memcpy(g->nodes, sorted, n * sizeof *sorted);
    for (size_t i = 0; i < g->n_slots; i++)
        if (g->slots[i].producer >= 0) g->slots[i].producer = newpos[g->slots[i].producer];
out:
    if (succ) for (size_t k = 0; k < n; k++) free(succ[k]);
    free(succ);
    free(indeg);
    free(order);
    free(succ_n);
    free(sorted);
    return st;
}

static edgeml_status prepare_graph(loader *L, em_graph *g)
{
    edgeml_status st;
    if ((st = sort_graph(L, g))) return st;
    for (size_t k = 0; k < g->n_nodes; k++) {
        em_node *n = &g->nodes[k];
        n->graph = g;
        for (size_t j = 0; j < n->n_attrs; j++) {
            em_attr *at = &n->attrs[j];
            if (at->type == EM_ATTR_GRAPH && at->g && (st = prepare_graph(L, at->g))) return st;
            if (at->type == EM_ATTR_GRAPHS)
                for (size_t q = 0; q < at->n; q++)
                    if ((st = prepare_graph(L, at->graphs[q]))) return st;
        }
        int64_t ver = opset_of(L->m, n->domain);
        if (ver < 0)
            return node_error(L, n, EDGEML_E_MODEL, "the model imports no opset for domain '%s'",
                              *n->domain ? n->domain : "ai.onnx");
        if (ver > 1000) return node_error(L, n, EDGEML_E_MODEL, "opset version %lld is not valid", (long long)ver);
        n->opset = (int)ver;
        const char *dom = strcmp(n->domain, "ai.onnx") ? n->domain : "";
        n->op = em_op_lookup(dom, n->op_type, n->opset);
        if (!n->op) {
            if (em_op_known(dom, n->op_type))
                return node_error(L, n, EDGEML_E_UNSUPPORTED, "not supported at opset %d", n->opset);
            return node_error(L, n, EDGEML_E_UNSUPPORTED, "operator not supported by edgeml");
        }
        if (n->op->prepare) {
            edgeml_error e = { 0 };
            st = n->op->prepare(n, &e);
            if (st) {
                if (L->err) *L->err = e;
                if (L->err && !e.msg[0]) node_error(L, n, st, "invalid node");
                if (L->err) L->err->code = st;
                return st;
            }
        }
    }
    /* Consumer counts. */
    for (size_t i = 0; i < g->n_slots; i++) g->slots[i].n_consumers = 0;
    for (size_t k = 0; k < g->n_nodes; k++) {
        em_node *n = &g->nodes[k];
        for (int j = 0; j < n->n_in; j++) if (n->in[j] >= 0) g->slots[n->in[j]].n_consumers++;
        for (int j = 0; j < n->n_implicit; j++) g->slots[n->implicit[j]].n_consumers++;
    }
    for (size_t i = 0; i < g->n_outputs; i++) g->slots[g->outputs[i]].n_consumers++;
    return EDGEML_OK;
}

/* ---- constant folding ---------------------------------------------------- */

static bool foldable(const em_node *n)
{
    static const char *const never[] = {
        "RandomUniform", "RandomNormal", "RandomUniformLike", "RandomNormalLike", "Bernoulli",
        "Multinomial", "Dropout", "If", "Loop", "Scan", "SequenceMap",
    };
    for (size_t i = 0; i < sizeof never / sizeof never[0]; i++)
        if (!strcmp(n->op_type, never[i])) return false;
    if (n->n_implicit) return false;
    const em_graph *g = n->graph;
    for (int j = 0; j < n->n_in; j++) {
        if (n->in[j] < 0) continue;
        if (g->slots[n->in[j]].kind != EM_SLOT_CONST) return false;
    }
    for (int j = 0; j < n->n_out; j++)
        if (n->out[j] >= 0 && g->slots[n->out[j]].n_consumers == 0) return false;
    return true;
}

static edgeml_status fold_constants(loader *L, em_graph *g)
{
    struct edgeml_model *m = L->m;
    em_frame f;
    edgeml_status st = em_frame_init(&f, g, NULL, NULL, &m->strings);
    if (st) return st;
    bool any = false;
    for (size_t k = 0; k < g->n_nodes; k++) {
        em_node *n = &g->nodes[k];
        if (!foldable(n)) continue;
        /* Constants are views in the frame: fill the inputs. */
        for (int j = 0; j < n->n_in; j++)
            if (n->in[j] >= 0) {
                f.vals[n->in[j]] = g->slots[n->in[j]].cval;
                f.vals[n->in[j]].heap = NULL;
            }
        edgeml_error e = { 0 };
        if (em_run_node(&f, n, &e) != EDGEML_OK) {
            /* Leave it to run time, where the same error will be reported. */
            for (int j = 0; j < n->n_out; j++) if (n->out[j] >= 0) em_value_release(&f.vals[n->out[j]]);
            continue;
        }
        bool ok = true;
        for (int j = 0; j < n->n_out; j++)
            if (n->out[j] >= 0 && f.vals[n->out[j]].kind != EM_V_TENSOR) ok = false;
        if (!ok) {
            for (int j = 0; j < n->n_out; j++) if (n->out[j] >= 0) em_value_release(&f.vals[n->out[j]]);
            continue;
        }
        for (int j = 0; j < n->n_out; j++) {
            if (n->out[j] < 0) continue;
            em_value *v = &f.vals[n->out[j]];
            em_slot *s = &g->slots[n->out[j]];
            if (v->heap) {
                void **h = realloc(m->heap, (m->n_heap + 1) * sizeof *h);
                if (!h) { st = EDGEML_E_NOMEM; goto out; }
                m->heap = h;
                m->heap[m->n_heap++] = v->heap;
            } else if (v->t.data && em_nbytes(&v->t)) { /* not heap-owned: copy */
                void *d = malloc(em_nbytes(&v->t));
                void **h = realloc(m->heap, (m->n_heap + 1) * sizeof *h);
                if (!d || !h) { free(d); if (h) m->heap = h; st = EDGEML_E_NOMEM; goto out; }
                m->heap = h;
                memcpy(d, v->t.data, em_nbytes(&v->t));
                v->t.data = d;
                m->heap[m->n_heap++] = d;
            }
            v->heap = NULL;
            s->kind = EM_SLOT_CONST;
            s->cval = *v;
            s->producer = -1;
        }
        n->folded = true;
        any = true;
    }
out:
    for (size_t i = 0; i < g->n_slots; i++) f.vals[i].heap = NULL; /* nothing owned is left */
    em_frame_free(&f);
    if (any && !st) {
        /* Recount consumers without the folded nodes. */
        for (size_t i = 0; i < g->n_slots; i++) g->slots[i].n_consumers = 0;
        for (size_t k = 0; k < g->n_nodes; k++) {
            em_node *n = &g->nodes[k];
            if (n->folded) continue;
            for (int j = 0; j < n->n_in; j++) if (n->in[j] >= 0) g->slots[n->in[j]].n_consumers++;
            for (int j = 0; j < n->n_implicit; j++) g->slots[n->implicit[j]].n_consumers++;
        }
        for (size_t i = 0; i < g->n_outputs; i++) g->slots[g->outputs[i]].n_consumers++;
    }
    return st;
}

edgeml_status em_model_fold_constants(struct edgeml_model *m, em_graph *g, edgeml_error *err)
{
    loader L = { m, err };
    return fold_constants(&L, g);
}

/* ---- public info ---------------------------------------------------------- */

static void fill_info(const em_vinfo *vi, edgeml_value_info *o)
{
    o->name = vi->name;
    o->kind = vi->kind < 0 ? EDGEML_KIND_TENSOR : (edgeml_value_kind)vi->kind;
    o->dtype = (edgeml_dtype)vi->dtype;
    o->rank = vi->rank;
    o->dims = vi->dims;
    o->dim_names = (const char *const *)vi->dim_names;
    o->has_default = 0;
}

static void count_ops(struct edgeml_model *m, const em_graph *g, bool top)
{
    for (size_t k = 0; k < g->n_nodes; k++) {
        const em_node *n = &g->nodes[k];
        char key[256];
        snprintf(key, sizeof key, "%s%s%s", *n->domain && strcmp(n->domain, "ai.onnx") ? n->domain : "",
                 *n->domain && strcmp(n->domain, "ai.onnx") ? ":" : "", n->op_type);
        size_t i;
        for (i = 0; i < m->n_op_types; i++)
            if (!strcmp(m->op_counts[i].op_type, key)) break;
        if (i == m->n_op_types) {
            edgeml_op_count *oc = em_arena_calloc(&m->arena, m->n_op_types + 1, sizeof *oc);
            if (!oc) return;
            if (m->n_op_types) memcpy(oc, m->op_counts, m->n_op_types * sizeof *oc);
            oc[i].op_type = em_arena_strndup(&m->arena, key, strlen(key));
            if (!oc[i].op_type) return;
            m->op_counts = oc;
            m->n_op_types++;
        }
        m->op_counts[i].count++;
        for (size_t j = 0; j < n->n_attrs; j++) {
            if (n->attrs[j].type == EM_ATTR_GRAPH && n->attrs[j].g) count_ops(m, n->attrs[j].g, false);
            if (n->attrs[j].type == EM_ATTR_GRAPHS)
                for (size_t q = 0; q < n->attrs[j].n; q++) count_ops(m, n->attrs[j].graphs[q], false);
        }
    }
    if (top) {
        for (size_t i = 0; i < g->n_inits; i++) {
            m->param_count += em_numel(&g->inits[i]);
            m->param_bytes += em_nbytes(&g->inits[i]);
        }
    }
}

static int cmp_count(const void *a, const void *b)
{
    const edgeml_op_count *x = a, *y = b;
    if (x->count != y->count) return x->count < y->count ? 1 : -1;
    return strcmp(x->op_type, y->op_type);
}

/* ---- loading ------------------------------------------------------------- */

static edgeml_status load_buffer(struct edgeml_model *m, const uint8_t *buf, size_t len, const char *dir,
                                 const edgeml_load_options *opts, edgeml_error *err)
{
    em_pb_ctx pc = { .arena = &m->arena, .err = err, .base_dir = dir,
                     .own_lo = m->map ? buf : NULL, .own_hi = m->map ? buf + len : NULL };
    edgeml_status st = em_pb_parse_model(&pc, buf, len, &m->pb);
    m->maps = pc.maps;
    m->n_maps = pc.n_maps;
    if (st) return st;
    if (m->pb.ir_version < 3 || m->pb.ir_version > 10)
        return em_set_error(err, m->pb.ir_version > 10 ? EDGEML_E_UNSUPPORTED : EDGEML_E_MODEL,
                            "IR version %lld is not supported (edgeml reads IR 3 to 10)",
                            (long long)m->pb.ir_version);
    if (m->pb.n_functions)
        return em_set_error(err, EDGEML_E_UNSUPPORTED, "model-local functions are not supported");
    int64_t ai = -1;
    for (size_t i = 0; i < m->pb.n_opsets; i++) {
        const char *d = m->pb.opsets[i].domain;
        if (!*d || !strcmp(d, "ai.onnx")) ai = m->pb.opsets[i].version;
    }
    if (ai > 21)
        return em_set_error(err, EDGEML_E_UNSUPPORTED, "ai.onnx opset %lld is newer than edgeml supports (21)",
                            (long long)ai);
    m->graph = m->pb.graph;
    m->n_nodes_orig = m->graph->n_nodes;
    count_ops(m, m->graph, true);
    if (m->n_op_types) qsort(m->op_counts, m->n_op_types, sizeof *m->op_counts, cmp_count);

    loader L = { m, err };
    if ((st = resolve_graph(&L, m->graph, NULL))) return st;
    if ((st = prepare_graph(&L, m->graph))) return st;
    if ((st = fold_constants(&L, m->graph))) return st;
    if (em_opt_enabled(opts) && (st = em_opt_model(m, err))) return st;

    /* Public inputs: required ones first, then those with defaults. */
    em_graph *g = m->graph;
    m->inputs = em_arena_calloc(&m->arena, g->n_inputs + 1, sizeof *m->inputs);
    m->input_slots = em_arena_calloc(&m->arena, g->n_inputs + 1, sizeof(int));
    m->outputs = em_arena_calloc(&m->arena, g->n_outputs + 1, sizeof *m->outputs);
    m->opsets = em_arena_calloc(&m->arena, m->pb.n_opsets + 1, sizeof *m->opsets);
    if (!m->inputs || !m->input_slots || !m->outputs || !m->opsets) return EDGEML_E_NOMEM;
    for (int pass = 0; pass < 2; pass++)
        for (size_t i = 0; i < g->n_inputs; i++) {
            if (g->slots[g->inputs[i]].has_default != (pass == 1)) continue;
            fill_info(&g->in_info[i], &m->inputs[m->n_inputs]);
            m->inputs[m->n_inputs].has_default = pass == 1;
            m->input_slots[m->n_inputs++] = g->inputs[i];
        }
    for (size_t i = 0; i < g->n_outputs; i++) {
        em_vinfo vi = g->out_info[i];
        if (vi.dtype == 0 && vi.rank < 0 && g->slots[g->outputs[i]].kind == EM_SLOT_CONST)
            vinfo_from_tensor(&m->arena, &vi, vi.name, &g->slots[g->outputs[i]].cval.t);
        fill_info(&vi, &m->outputs[i]);
    }
    m->n_outputs = g->n_outputs;
    for (size_t i = 0; i < m->pb.n_opsets; i++) {
        m->opsets[i].domain = m->pb.opsets[i].domain;
        m->opsets[i].version = m->pb.opsets[i].version;
    }
    return EDGEML_OK;
}

static void free_graph_states(em_graph *g)
{
    if (!g) return;
    for (size_t k = 0; k < g->n_nodes; k++) {
        em_node *n = &g->nodes[k];
        for (size_t j = 0; j < n->n_attrs; j++) {
            if (n->attrs[j].type == EM_ATTR_GRAPH) free_graph_states(n->attrs[j].g);
            if (n->attrs[j].type == EM_ATTR_GRAPHS)
                for (size_t q = 0; q < n->attrs[j].n; q++) free_graph_states(n->attrs[j].graphs[q]);
        }
        if (n->state) {
            if (n->op && n->op->free_state) n->op->free_state(n->state);
            else free(n->state);
            n->state = NULL;
        }
    }
    free(g->slots);
    g->slots = NULL;
}

EDGEML_API void edgeml_model_free(edgeml_model *m)
{
    if (!m) return;
    free_graph_states(m->graph);
    for (size_t i = 0; i < m->n_heap; i++) free(m->heap[i]);
    free(m->heap);
    em_pool_clear(&m->strings);
    free(m->strings.blocks);
    for (size_t i = 0; i < m->n_maps; i++) munmap(m->maps[i].addr, m->maps[i].len);
    free(m->maps);
    if (m->map) munmap(m->map, m->map_len);
    em_arena_free(&m->arena);
    free(m);
}

static edgeml_status load_common(const uint8_t *buf, size_t len, void *map, const char *dir,
                                 const edgeml_load_options *opts, edgeml_model **out, edgeml_error *err)
{
    struct edgeml_model *m = calloc(1, sizeof *m);
    if (!m) {
        if (map) munmap(map, len);
        return em_set_error(err, EDGEML_E_NOMEM, "out of memory");
    }
    m->map = map;
    m->map_len = len;
    edgeml_status st = load_buffer(m, buf, len, dir, opts, err);
    if (st) {
        if (err && !err->msg[0]) em_set_error(err, st, "%s", edgeml_status_str(st));
        edgeml_model_free(m);
        return st;
    }
    *out = m;
    return EDGEML_OK;
}

EDGEML_API edgeml_status edgeml_model_load_memory(const void *buf, size_t len,
    const edgeml_load_options *opts, edgeml_model **out, edgeml_error *err)
{
    if (err) { err->code = EDGEML_OK; err->msg[0] = 0; }
    if (!out || (!buf && len)) return em_set_error(err, EDGEML_E_INVALID, "invalid arguments");
    *out = NULL;
    return load_common(buf, len, NULL, NULL, opts, out, err);
}

/* A deployed package is a directory: exactly one *.onnx in it. */
static edgeml_status find_model_in_dir(const char *dir, char *path, size_t n, edgeml_error *err)
{
    DIR *d = opendir(dir);
    if (!d) return em_set_error(err, EDGEML_E_IO, "%s: %s", dir, strerror(errno));
    int found = 0;
    char first[NAME_MAX + 1] = "", second[NAME_MAX + 1] = "";
    struct dirent *e;
    while ((e = readdir(d))) {
        size_t l = strlen(e->d_name);
        if (l < 6 || strcmp(e->d_name + l - 5, ".onnx") != 0) continue;
        if (found == 0) snprintf(first, sizeof first, "%s", e->d_name);
        else if (found == 1) snprintf(second, sizeof second, "%s", e->d_name);
        found++;
    }
    closedir(d);
    if (found == 0) return em_set_error(err, EDGEML_E_MODEL, "%s: no .onnx file in the directory", dir);
    if (found > 1)
        return em_set_error(err, EDGEML_E_MODEL, "%s: %d .onnx files in the directory (%s, %s, ...); expected exactly one",
                            dir, found, first, second);
    if (snprintf(path, n, "%s/%s", dir, first) >= (int)n)
        return em_set_error(err, EDGEML_E_IO, "%s: path too long", dir);
    return EDGEML_OK;
}

EDGEML_API edgeml_status edgeml_model_load(const char *path, const edgeml_load_options *opts,
    edgeml_model **out, edgeml_error *err)
{
    if (err) { err->code = EDGEML_OK; err->msg[0] = 0; }
    if (!path || !out) return em_set_error(err, EDGEML_E_INVALID, "invalid arguments");
    *out = NULL;
    char file[PATH_MAX];
    struct stat st;
    if (stat(path, &st) != 0) return em_set_error(err, EDGEML_E_IO, "%s: %s", path, strerror(errno));
    if (S_ISDIR(st.st_mode)) {
        edgeml_status s = find_model_in_dir(path, file, sizeof file, err);
        if (s) return s;
    } else {
        if (snprintf(file, sizeof file, "%s", path) >= (int)sizeof file)
            return em_set_error(err, EDGEML_E_IO, "%s: path too long", path);
    }
    int fd = open(file, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return em_set_error(err, EDGEML_E_IO, "%s: %s", file, strerror(errno));
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        close(fd);
        return em_set_error(err, EDGEML_E_IO, "%s: not a regular file", file);
    }
    size_t len = (size_t)st.st_size;
    void *map = NULL;
    if (len) {
        map = mmap(NULL, len, PROT_READ, MAP_PRIVATE, fd, 0);
        if (map == MAP_FAILED) {
            close(fd);
            return em_set_error(err, EDGEML_E_IO, "%s: mmap: %s", file, strerror(errno));
        }
    }
    close(fd);
    char dir[PATH_MAX];
    snprintf(dir, sizeof dir, "%s", file);
    char *slash = strrchr(dir, '/');
    if (slash) *slash = 0;
    else snprintf(dir, sizeof dir, ".");
    edgeml_status s = load_common(map, len, map, dir, opts, out, err);
    if (s && err) {
        char tmp[EDGEML_ERROR_MAX];
        snprintf(tmp, sizeof tmp, "%s: %s", file, err->msg);
        memcpy(err->msg, tmp, sizeof tmp);
    }
    return s;
}

EDGEML_API size_t edgeml_model_num_inputs(const edgeml_model *m) { return m->n_inputs; }
EDGEML_API size_t edgeml_model_num_outputs(const edgeml_model *m) { return m->n_outputs; }

EDGEML_API edgeml_status edgeml_model_input(const edgeml_model *m, size_t i, edgeml_value_info *info)
{
    if (i >= m->n_inputs) return EDGEML_E_INVALID;
    *info = m->inputs[i];
    return EDGEML_OK;
}

EDGEML_API edgeml_status edgeml_model_output(const edgeml_model *m, size_t i, edgeml_value_info *info)
{
    if (i >= m->n_outputs) return EDGEML_E_INVALID;
    *info = m->outputs[i];
    return EDGEML_OK;
}

EDGEML_API void edgeml_model_get_info(const edgeml_model *m, edgeml_model_info *info)
{
    memset(info, 0, sizeof *info);
    info->ir_version = m->pb.ir_version;
    info->producer_name = m->pb.producer_name;
    info->producer_version = m->pb.producer_version;
    info->graph_name = m->graph->name;
    info->n_opsets = m->pb.n_opsets;
    info->opsets = m->opsets;
    info->n_nodes = m->n_nodes_orig;
    info->n_op_types = m->n_op_types;
    info->op_counts = m->op_counts;
    info->param_count = m->param_count;
    info->param_bytes = m->param_bytes;
}

const em_graph *em_model_graph(const edgeml_model *m) { return m->graph; }

void em_release_mapped(const void *p, size_t n)
{
    long pg = sysconf(_SC_PAGESIZE);
    if (pg <= 0 || !p) return;
    uintptr_t a = ((uintptr_t)p + (uintptr_t)pg - 1) & ~((uintptr_t)pg - 1);
    uintptr_t e = ((uintptr_t)p + n) & ~((uintptr_t)pg - 1);
    if (e > a) madvise((void *)a, e - a, MADV_DONTNEED);
}

void em_node_release_const(const em_node *n, int i)
{
    const em_tensor *t = em_node_const_input(n, i);
    if (!t || !t->data) return;
    const edgeml_model *m = n->graph ? n->graph->model : NULL;
    const uint8_t *d = t->data;
    size_t nb = em_nbytes(t);
    if (!m) return;
    if (m->map && d >= (const uint8_t *)m->map && d + nb <= (const uint8_t *)m->map + m->map_len) {
        em_release_mapped(d, nb);
        return;
    }
    for (size_t k = 0; k < m->n_maps; k++) {
        const uint8_t *lo = m->maps[k].addr;
        if (d >= lo && d + nb <= lo + m->maps[k].len) { em_release_mapped(d, nb); return; }
    }
}

EDGEML_API const char *edgeml_version(void) { return "0.1.0"; }

EDGEML_API const char *edgeml_status_str(edgeml_status s)
{
    switch (s) {
    case EDGEML_OK: return "ok";
    case EDGEML_E_INVALID: return "invalid argument";
    case EDGEML_E_MODEL: return "malformed model";
    case EDGEML_E_UNSUPPORTED: return "unsupported";
    case EDGEML_E_IO: return "i/o error";
    case EDGEML_E_NOMEM: return "out of memory";
    case EDGEML_E_RUNTIME: return "runtime error";
    }
    return "unknown error";
}
