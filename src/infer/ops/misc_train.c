/* ai.onnx.preview.training (1): Adagrad, Adam, Momentum. */
#include "misc.h"

#include <math.h>
#include <stdlib.h>

enum { OPT_ADAGRAD, OPT_ADAM, OPT_MOMENTUM };

typedef struct opt_state {
    int kind;
    double decay, eps, norm, norm_post, alpha, beta;
    bool nesterov;
} opt_state;

edgeml_status misc_train_prepare(em_node *n, edgeml_error *err)
{
    opt_state *s = calloc(1, sizeof *s);
    if (!s) return em_node_fail(n, err, EDGEML_E_NOMEM, "out of memory");
    n->state = s;
    if (strcmp(n->op_type, "Adagrad") == 0) {
        s->kind = OPT_ADAGRAD;
        s->decay = em_attr_float(n, "decay_factor", 0.0f);
        s->eps = em_attr_float(n, "epsilon", 1e-6f);
        s->norm = em_attr_float(n, "norm_coefficient", 0.0f);
    } else if (strcmp(n->op_type, "Adam") == 0) {
        s->kind = OPT_ADAM;
        s->alpha = em_attr_float(n, "alpha", 0.9f);
        s->beta = em_attr_float(n, "beta", 0.999f);
        s->eps = em_attr_float(n, "epsilon", 1e-6f);
        s->norm = em_attr_float(n, "norm_coefficient", 0.0f);
        s->norm_post = em_attr_float(n, "norm_coefficient_post", 0.0f);
    } else {
        s->kind = OPT_MOMENTUM;
        const char *need[] = {"alpha", "beta", "mode", "norm_coefficient"};
        for (int i = 0; i < 4; i++)
            if (!em_attr_get(n, need[i]))
                return em_node_fail(n, err, EDGEML_E_MODEL, "attribute '%s' is required",
                                    need[i]);
        s->alpha = em_attr_float(n, "alpha", 0.0f);
        s->beta = em_attr_float(n, "beta", 0.0f);
        s->norm = em_attr_float(n, "norm_coefficient", 0.0f);
        const char *mode = em_attr_str(n, "mode", "standard");
        if (strcmp(mode, "nesterov") == 0) s->nesterov = true;
        else if (strcmp(mode, "standard") != 0)
            return em_node_fail(n, err, EDGEML_E_MODEL, "invalid mode '%s'", mode);
    }
    int per_in = s->kind == OPT_ADAM ? 4 : 3, per_out = s->kind == OPT_ADAM ? 3 : 2;
    int nv = n->n_in - 2;
    if (nv < per_in || nv % per_in != 0)
        return em_node_fail(n, err, EDGEML_E_MODEL,
                            "expected R, T and a multiple of %d tensors, got %d inputs",
                            per_in, n->n_in);
    if (n->n_out > nv / per_in * per_out)
        return em_node_fail(n, err, EDGEML_E_MODEL, "too many outputs (%d) for %d tensors",
                            n->n_out, nv / per_in);
    return EDGEML_OK;
}

static inline double ld(const em_tensor *t, size_t i)
{
    return t->dtype == EDGEML_FLOAT ? ((const float *)t->data)[i] : ((const double *)t->data)[i];
}
static inline void st(em_tensor *t, size_t i, double v)
{
    if (t->dtype == EDGEML_FLOAT) ((float *)t->data)[i] = (float)v;
    else ((double *)t->data)[i] = v;
}

static edgeml_status opt_run(em_kctx *c)
{
    const opt_state *s = c->node->state;
    double R;
    int64_t T;
    const em_tensor *tr = em_in(c, 0), *tt = em_in(c, 1);
    if (!tr || (tr->dtype != EDGEML_FLOAT && tr->dtype != EDGEML_DOUBLE))
        return em_fail(c, EDGEML_E_RUNTIME, "R must be a float or double scalar");
    edgeml_status e = misc_scalar_float(c, tr, "R", &R);
    if (e) return e;
    if (!tt || tt->dtype != EDGEML_INT64)
        return em_fail(c, EDGEML_E_RUNTIME, "T must be an int64 scalar");
    if ((e = misc_scalar_int(c, tt, "T", &T))) return e;
    int per_in = s->kind == OPT_ADAM ? 4 : 3;
    int nt = (em_n_in(c) - 2) / per_in;
    for (int k = 0; k < nt; k++) {
        const em_tensor *in[4] = {0};
        for (int j = 0; j < per_in; j++) {
            in[j] = em_in(c, 2 + j * nt + k);
            if (!in[j]) return em_fail(c, EDGEML_E_RUNTIME, "input %d is missing", 2 + j * nt + k);
            if (in[j]->dtype != EDGEML_FLOAT && in[j]->dtype != EDGEML_DOUBLE)
                return em_fail(c, EDGEML_E_RUNTIME, "input %d must be float or double",
                               2 + j * nt + k);
            if (in[j]->dtype != in[0]->dtype || !em_same_shape(in[j], in[0])) {
                char b1[128], b2[128];
                return em_fail(c, EDGEML_E_RUNTIME,
                               "tensor %d: input %d (%s %s) does not match X (%s %s)", k,
                               2 + j * nt + k, em_dtype_name(in[j]->dtype),
                               em_shape_str(in[j]->rank, in[j]->dims, b1, sizeof b1),
                               em_dtype_name(in[0]->dtype),
                               em_shape_str(in[0]->rank, in[0]->dims, b2, sizeof b2));
            }
        }
        const em_tensor *X = in[0], *G = in[1];
        int dt = X->dtype;
        size_t n = em_numel(X);
        em_tensor *out[3] = {0};
        int per_out = s->kind == OPT_ADAM ? 3 : 2;
        for (int j = 0; j < per_out; j++) {
            int oi = j * nt + k;
            if (oi >= em_n_out(c)) continue;
            out[j] = em_out(c, oi, dt, X->rank, X->dims);
            if (!out[j]) return c->err->code ? c->err->code : EDGEML_E_NOMEM;
        }
        if (s->kind == OPT_ADAGRAD) {
            const em_tensor *H = in[2];
            double r = R / (1.0 + (double)T * s->decay);
            for (size_t i = 0; i < n; i++) {
                double x = ld(X, i), g = s->norm * x + ld(G, i);
                double h = ld(H, i) + g * g;
                double xn = x - r * g / (sqrt(h) + s->eps);
                if (out[0]) st(out[0], i, xn);
                if (out[1]) st(out[1], i, h);
            }
        } else if (s->kind == OPT_ADAM) {
            const em_tensor *V = in[2], *H = in[3];
            double ra = R;
            if (T > 0)
                ra = R * sqrt(1.0 - pow(s->beta, (double)T)) / (1.0 - pow(s->alpha, (double)T));
            for (size_t i = 0; i < n; i++) {
                double x = ld(X, i), g = s->norm * x + ld(G, i);
                double v = s->alpha * ld(V, i) + (1.0 - s->alpha) * g;
                double h = s->beta * ld(H, i) + (1.0 - s->beta) * g * g;
                double xn = x - ra * v / (sqrt(h) + s->eps);
                xn *= (1.0 - s->norm_post);
                if (out[0]) st(out[0], i, xn);
                if (out[1]) st(out[1], i, v);
                if (out[2]) st(out[2], i, h);
            }
        } else {
            const em_tensor *V = in[2];
            double ba = T > 0 ? s->beta : 1.0;
            for (size_t i = 0; i < n; i++) {
                double x = ld(X, i), g = s->norm * x + ld(G, i);
                double v = s->alpha * ld(V, i) + ba * g;
                double xn = s->nesterov ? x - R * (g + s->alpha * v) : x - R * v;
                if (out[0]) st(out[0], i, xn);
                if (out[1]) st(out[1], i, v);
            }
        }
    }
    return EDGEML_OK;
}

edgeml_status misc_adagrad_run(em_kctx *c) { return opt_run(c); }
edgeml_status misc_adam_run(em_kctx *c) { return opt_run(c); }
edgeml_status misc_momentum_run(em_kctx *c) { return opt_run(c); }
