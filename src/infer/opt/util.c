/* Helpers shared by the optimisation passes (see opt.h): use lists, constants,
 * known dtypes and the small rewrites every pass is made of. */
#include "opt.h"

#include <stdio.h>
#include <stdlib.h>

bool opt_is(const em_node *n, const char *op)
{
    return (!*n->domain || !strcmp(n->domain, "ai.onnx")) && !strcmp(n->op_type, op);
}

edgeml_status opt_grow_slots(em_opt *o)
{
    size_t n = o->g->n_slots;
    if (n <= o->cap_slots) return EDGEML_OK;
    size_t cap = n * 2 + 16;
    int *dt = realloc(o->dtype, cap * sizeof *dt);
    if (dt) o->dtype = dt;
    int *us = realloc(o->use_start, (cap + 1) * sizeof *us);
    if (us) o->use_start = us;
    int *no = realloc(o->n_other, cap * sizeof *no);
    if (no) o->n_other = no;
    uint8_t *cp = realloc(o->captured, cap);
    if (cp) o->captured = cp;
    uint8_t *io = realloc(o->is_output, cap);
    if (io) o->is_output = io;
    if (!dt || !us || !no || !cp || !io) return EDGEML_E_NOMEM;
    for (size_t i = o->cap_slots; i < cap; i++) o->dtype[i] = 0;
    o->cap_slots = cap;
    o->stale = true;
    return EDGEML_OK;
}

void opt_uses(em_opt *o)
{
    if (!o->stale) return;
    em_graph *g = o->g;
    size_t ns = g->n_slots, total = 0;
    memset(o->use_start, 0, (ns + 1) * sizeof(int));
    memset(o->n_other, 0, ns * sizeof(int));
    memset(o->captured, 0, ns);
    memset(o->is_output, 0, ns);
    for (size_t k = 0; k < g->n_nodes; k++) {
        const em_node *n = &g->nodes[k];
        if (o->dead[k] || n->folded) continue;
        for (int j = 0; j < n->n_in; j++)
            if (n->in[j] >= 0 && (size_t)n->in[j] < ns) { o->use_start[n->in[j] + 1]++; total++; }
        for (int j = 0; j < n->n_implicit; j++)
            if (n->implicit[j] >= 0 && (size_t)n->implicit[j] < ns) {
                o->captured[n->implicit[j]] = 1;
                o->n_other[n->implicit[j]]++;
            }
    }
    for (size_t i = 0; i < g->n_outputs; i++) {
        o->is_output[g->outputs[i]] = 1;
        o->n_other[g->outputs[i]]++;
    }
    if (total > o->cap_use) {
        int *u = realloc(o->use_node, (total * 2 + 16) * sizeof *u);
        if (!u) { o->stale = true; return; } /* callers see no uses: rewrites then do nothing */
        o->use_node = u;
        o->cap_use = total * 2 + 16;
    }
    for (size_t i = 0; i < ns; i++) o->use_start[i + 1] += o->use_start[i];
    /* Fill with a moving cursor per slot (use_start[s] advances, then shift back). */
    for (size_t k = 0; k < g->n_nodes; k++) {
        const em_node *n = &g->nodes[k];
        if (o->dead[k] || n->folded) continue;
        for (int j = 0; j < n->n_in; j++)
            if (n->in[j] >= 0 && (size_t)n->in[j] < ns) o->use_node[o->use_start[n->in[j]]++] = (int)k;
    }
    for (size_t i = ns; i > 0; i--) o->use_start[i] = o->use_start[i - 1];
    o->use_start[0] = 0;
    o->stale = false;
}

int opt_n_uses(em_opt *o, int s)
{
    if (s < 0 || (size_t)s >= o->g->n_slots) return 0;
    opt_uses(o);
    if (o->stale) return 0;
    return o->use_start[s + 1] - o->use_start[s];
}

int opt_use(em_opt *o, int s, int i)
{
    opt_uses(o);
    return o->use_node[o->use_start[s] + i];
}

bool opt_internal(em_opt *o, int s)
{
    if (s < 0 || (size_t)s >= o->g->n_slots) return false;
    opt_uses(o);
    return !o->stale && o->n_other[s] == 0;
}

int opt_single_consumer(em_opt *o, int s)
{
    if (!opt_internal(o, s) || opt_n_uses(o, s) != 1) return -1;
    return opt_use(o, s, 0);
}

int opt_producer(em_opt *o, int s)
{
    if (s < 0 || (size_t)s >= o->g->n_slots) return -1;
    const em_slot *sl = &o->g->slots[s];
    if (sl->kind != EM_SLOT_COMPUTED || sl->producer < 0 || (size_t)sl->producer >= o->g->n_nodes) return -1;
    if (o->dead[sl->producer] || o->g->nodes[sl->producer].folded) return -1;
    return sl->producer;
}

const em_tensor *opt_const(em_opt *o, int s)
{
    if (s < 0 || (size_t)s >= o->g->n_slots) return NULL;
    const em_slot *sl = &o->g->slots[s];
    if (sl->kind != EM_SLOT_CONST || sl->cval.kind != EM_V_TENSOR) return NULL;
    return &sl->cval.t;
}

bool opt_scalar(em_opt *o, int s, double *v)
{
    const em_tensor *t = opt_const(o, s);
    if (!t || em_numel(t) != 1 || !t->data || t->dtype == EDGEML_STRING || !em_dtype_size(t->dtype)) return false;
    if (!em_dtype_is_float(t->dtype) && !em_dtype_is_int(t->dtype)) return false;
    *v = em_get_f64(t->data, t->dtype, 0);
    return true;
}

int opt_dtype(em_opt *o, int s)
{
    if (s < 0 || (size_t)s >= o->g->n_slots) return 0;
    const em_tensor *t = opt_const(o, s);
    if (t) return t->dtype;
    return o->dtype[s];
}

void opt_kill(em_opt *o, int k)
{
    em_node *n = opt_node(o, k);
    o->dead[k] = 1;
    for (int j = 0; j < n->n_out; j++) {
        int s = n->out[j];
        if (s >= 0 && o->g->slots[s].producer == k) o->g->slots[s].producer = -1;
    }
    o->stale = true;
    o->changes++;
}

edgeml_status opt_set_inputs(em_opt *o, int k, int n_in, const int *in)
{
    em_node *n = opt_node(o, k);
    int *a = em_arena_calloc(&o->m->arena, (size_t)n_in + 1, sizeof(int));
    const char **names = em_arena_calloc(&o->m->arena, (size_t)n_in + 1, sizeof(char *));
    if (!a || !names) return EDGEML_E_NOMEM;
    memcpy(a, in, (size_t)n_in * sizeof(int));
    for (int j = 0; j < n_in; j++) names[j] = in[j] >= 0 ? o->g->slots[in[j]].name : "";
    n->in = a;
    n->in_names = names;
    n->n_in = n_in;
    o->dirty[k] = 1;
    o->stale = true;
    o->changes++;
    return EDGEML_OK;
}

void opt_replace_uses(em_opt *o, int from, int to)
{
    em_graph *g = o->g;
    for (size_t k = 0; k < g->n_nodes; k++) {
        em_node *n = &g->nodes[k];
        if (o->dead[k] || n->folded) continue;
        for (int j = 0; j < n->n_in; j++)
            if (n->in[j] == from) {
                n->in[j] = to;
                if (n->in_names) n->in_names[j] = g->slots[to].name;
                o->dirty[k] = 1;
            }
    }
    o->stale = true;
    o->changes++;
}

void opt_set_output(em_opt *o, int k, int j, int s)
{
    em_node *n = opt_node(o, k);
    int old = n->out[j];
    if (old >= 0 && o->g->slots[old].producer == k) o->g->slots[old].producer = -1;
    n->out[j] = s;
    if (n->out_names) n->out_names[j] = o->g->slots[s].name;
    o->g->slots[s].producer = k;
    o->g->slots[s].kind = EM_SLOT_COMPUTED;
    o->dirty[k] = 1;
    o->stale = true;
    o->changes++;
}

static edgeml_status set_attr(em_opt *o, int k, const em_attr *na)
{
    em_node *n = opt_node(o, k);
    for (size_t j = 0; j < n->n_attrs; j++)
        if (!strcmp(n->attrs[j].name, na->name)) {
            /* Attributes live in the arena and are not shared: replace in place. */
            n->attrs[j] = *na;
            o->dirty[k] = 1;
            return EDGEML_OK;
        }
    em_attr *a = em_arena_calloc(&o->m->arena, n->n_attrs + 1, sizeof *a);
    if (!a) return EDGEML_E_NOMEM;
    if (n->n_attrs) memcpy(a, n->attrs, n->n_attrs * sizeof *a);
    a[n->n_attrs] = *na;
    n->attrs = a;
    n->n_attrs++;
    o->dirty[k] = 1;
    return EDGEML_OK;
}

edgeml_status opt_set_attr(em_opt *o, int k, const em_attr *a)
{
    return set_attr(o, k, a);
}

edgeml_status opt_set_attr_int(em_opt *o, int k, const char *name, int64_t v)
{
    em_attr a = { .name = name, .type = EM_ATTR_INT, .i = v };
    return set_attr(o, k, &a);
}

edgeml_status opt_set_attr_float(em_opt *o, int k, const char *name, float v)
{
    em_attr a = { .name = name, .type = EM_ATTR_FLOAT, .f = v };
    return set_attr(o, k, &a);
}

int opt_new_const(em_opt *o, const char *name_base, const char *suffix, em_tensor *t)
{
    struct edgeml_model *m = o->m;
    em_graph *g = o->g;
    void **h = realloc(m->heap, (m->n_heap + 1) * sizeof *h);
    if (!h) { free(t->data); return -1; }
    m->heap = h;
    m->heap[m->n_heap++] = t->data;
    char buf[512];
    snprintf(buf, sizeof buf, "%s%s", name_base, suffix);
    char *name = em_arena_strndup(&m->arena, buf, strlen(buf));
    em_slot *s = realloc(g->slots, (g->n_slots + 1) * sizeof *s);
    if (!name || !s) return -1;
    g->slots = s;
    int id = (int)g->n_slots++;
    memset(&s[id], 0, sizeof s[id]);
    s[id].name = name;
    s[id].kind = EM_SLOT_CONST;
    s[id].cval.kind = EM_V_TENSOR;
    s[id].cval.t = *t;
    s[id].producer = -1;
    s[id].outer = -1;
    if (opt_grow_slots(o)) return -1;
    o->dtype[id] = t->dtype;
    o->stale = true;
    return id;
}

bool opt_bypass(em_opt *o, int k, int in)
{
    em_node *n = opt_node(o, k);
    if (n->n_out < 1 || in < 0) return false;
    int y = n->out[0];
    for (int j = 1; j < n->n_out; j++)
        if (n->out[j] >= 0 && (opt_n_uses(o, n->out[j]) || !opt_internal(o, n->out[j]))) return false;
    if (y < 0) { opt_kill(o, k); return true; }
    opt_uses(o);
    if (o->stale || o->captured[y]) return false;
    if (!o->is_output[y]) {
        opt_replace_uses(o, y, in);
        opt_kill(o, k);
        return true;
    }
    /* y is a graph output: keep its name by letting in's producer write y. */
    int p = opt_producer(o, in);
    if (p < 0 || !opt_internal(o, in) || opt_n_uses(o, in) != 1) return false;
    em_node *pn = opt_node(o, p);
    if (pn->n_implicit) return false; /* control flow: its outputs stay as they are */
    for (int j = 0; j < pn->n_out; j++)
        if (pn->out[j] == in) {
            opt_kill(o, k);
            opt_set_output(o, p, j, y);
            return true;
        }
    return false;
}

/* ---- dtypes -------------------------------------------------------------- */

/* Ops whose output 0 has input 0's dtype (the common elementwise/shape ops). */
static const char *const same_as_in0[] = {
    "Abs", "Acos", "Acosh", "Add", "Asin", "Asinh", "Atan", "Atanh", "AveragePool", "BatchNormalization",
    "Ceil", "Celu", "Clip", "Concat", "Conv", "ConvTranspose", "Cos", "Cosh", "DepthToSpace", "Div",
    "Dropout", "Elu", "Erf", "Exp", "Expand", "Flatten", "Floor", "Gather", "GatherElements", "GatherND",
    "Gelu", "Gemm", "GlobalAveragePool", "GlobalMaxPool", "GroupNormalization", "HardSigmoid",
    "HardSwish", "Identity", "InstanceNormalization", "LayerNormalization", "LeakyRelu", "Log",
    "LogSoftmax", "LpNormalization", "LRN", "MatMul", "Max", "MaxPool", "Mean", "Min", "Mish", "Mul",
    "Neg", "Pad", "Pow", "PRelu", "Reciprocal", "ReduceL1", "ReduceL2", "ReduceLogSumExp", "ReduceMax",
    "ReduceMean", "ReduceMin", "ReduceProd", "ReduceSum", "ReduceSumSquare", "Relu", "Reshape", "Resize",
    "Round", "Selu", "Shrink", "Sigmoid", "Sign", "Sin", "Sinh", "Slice", "Softmax", "Softplus",
    "Softsign", "SpaceToDepth", "Split", "Sqrt", "Squeeze", "Sub", "Sum", "Tan", "Tanh",
    "ThresholdedRelu", "Tile", "Transpose", "Unsqueeze", "Upsample",
};

static int rule_dtype(em_opt *o, const em_node *n, int j)
{
    if (*n->domain && strcmp(n->domain, "ai.onnx")) {
        if (!strcmp(n->domain, "edgeml") && !strcmp(n->op_type, "ConvIntegerScaled")) return j == 0 ? EDGEML_FLOAT : 0;
        if (!strcmp(n->domain, "edgeml") && j == 0 && n->n_in > 0) return opt_dtype(o, n->in[0]);
        return 0;
    }
    const char *op = n->op_type;
    if (!strcmp(op, "Cast")) {
        int64_t to = em_attr_int(n, "to", 0);
        return j == 0 && em_dtype_size((int)to) ? (int)to : 0;
    }
    if (!strcmp(op, "Shape") || !strcmp(op, "Size") || !strcmp(op, "NonZero") || !strcmp(op, "ArgMax") ||
        !strcmp(op, "ArgMin"))
        return j == 0 ? EDGEML_INT64 : 0;
    if (!strcmp(op, "Where")) return j == 0 && n->n_in > 1 ? opt_dtype(o, n->in[1]) : 0;
    for (size_t i = 0; i < sizeof same_as_in0 / sizeof same_as_in0[0]; i++)
        if (!strcmp(op, same_as_in0[i])) {
            /* Outputs beyond 0 of Dropout/BatchNormalization/MaxPool differ; Split's all agree. */
            if (j > 0 && strcmp(op, "Split")) return 0;
            if (n->n_in < 1) return 0;
            int d = opt_dtype(o, n->in[0]);
            if (!d && n->n_in > 1 && (!strcmp(op, "Conv") || !strcmp(op, "ConvTranspose") ||
                                      !strcmp(op, "Gemm") || !strcmp(op, "MatMul") || !strcmp(op, "Add") ||
                                      !strcmp(op, "Sub") || !strcmp(op, "Mul") || !strcmp(op, "Div")))
                d = opt_dtype(o, n->in[1]);
            return d;
        }
    return 0;
}

void opt_infer_dtypes(em_opt *o)
{
    em_graph *g = o->g;
    for (size_t i = 0; i < g->n_slots; i++) o->dtype[i] = 0;
    for (size_t i = 0; i < g->n_inputs; i++)
        if (g->in_info[i].kind == EDGEML_KIND_TENSOR && em_dtype_size(g->in_info[i].dtype))
            o->dtype[g->inputs[i]] = g->in_info[i].dtype;
    for (size_t i = 0; i < g->n_slots; i++) {
        const em_tensor *t = opt_const(o, (int)i);
        if (t) o->dtype[i] = t->dtype;
    }
    for (size_t k = 0; k < g->n_nodes; k++) {
        const em_node *n = &g->nodes[k];
        for (int j = 0; j < n->n_out; j++) {
            int s = n->out[j];
            if (s < 0 || g->slots[s].kind != EM_SLOT_COMPUTED) continue;
            o->dtype[s] = rule_dtype(o, n, j);
        }
    }
    /* Declared value infos (outputs and value_info), where a rule gave nothing. */
    for (size_t i = 0; i < g->n_outputs; i++) {
        int s = g->outputs[i];
        if (!o->dtype[s] && g->out_info[i].kind == EDGEML_KIND_TENSOR && em_dtype_size(g->out_info[i].dtype))
            o->dtype[s] = g->out_info[i].dtype;
    }
}
