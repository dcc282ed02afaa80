/* Activation matching, shared by fuse.c and act_recognise.c.
 *
 * Single ops map to an em_act directly. Activations written as primitives
 * (SiLU = x*Sigmoid(x), GELU = 0.5x(1+erf(x/sqrt2)) in whichever association
 * an exporter chose, the tanh form, HardSwish = x*HardSigmoid(x), ...) are found
 * as an elementwise region hanging off one value x whose other operands are
 * scalar constants; the region's function is evaluated in double on sample
 * points and compared with each supported activation. This matches any order
 * of the operands and any association without listing them, and rejects
 * anything that is not that function. */
#include "opt.h"

#include <float.h>
#include <math.h>

const char *em_act_name(int kind)
{
    switch (kind) {
    case EM_ACT_RELU: return "Relu";
    case EM_ACT_CLIP: return "Clip";
    case EM_ACT_LEAKY: return "LeakyRelu";
    case EM_ACT_SIGMOID: return "Sigmoid";
    case EM_ACT_HARDSIGMOID: return "HardSigmoid";
    case EM_ACT_HARDSWISH: return "HardSwish";
    case EM_ACT_SILU: return "Silu";
    case EM_ACT_GELU: return "Gelu";
    case EM_ACT_GELU_TANH: return "GeluTanh";
    case EM_ACT_TANH: return "Tanh";
    default: return "";
    }
}

/* Optional constant scalar input j of n: absent -> dflt; present but not constant -> false. */
static bool opt_bound(em_opt *o, const em_node *n, int j, double dflt, double *v)
{
    if (n->n_in <= j || n->in[j] < 0) { *v = dflt; return true; }
    const em_tensor *t = opt_const(o, n->in[j]);
    return t && em_dtype_is_float(t->dtype) && opt_scalar(o, n->in[j], v);
}

bool opt_single_act(em_opt *o, int k, em_act *a)
{
    const em_node *n = opt_node(o, k);
    if (o->dead[k] || n->folded || n->n_in < 1 || n->n_out != 1 || n->out[0] < 0 || n->in[0] < 0) return false;
    memset(a, 0, sizeof *a);
    bool one_in = n->n_in == 1;
    if (opt_is(n, "Relu") && one_in) a->kind = EM_ACT_RELU;
    else if (opt_is(n, "Sigmoid") && one_in) a->kind = EM_ACT_SIGMOID;
    else if (opt_is(n, "Tanh") && one_in) a->kind = EM_ACT_TANH;
    else if (opt_is(n, "HardSwish") && one_in) a->kind = EM_ACT_HARDSWISH;
    else if (opt_is(n, "LeakyRelu") && one_in) {
        a->kind = EM_ACT_LEAKY;
        a->alpha = em_attr_float(n, "alpha", 0.01f);
    } else if (opt_is(n, "HardSigmoid") && one_in) {
        a->kind = EM_ACT_HARDSIGMOID;
        a->alpha = em_attr_float(n, "alpha", 0.2f);
        a->beta = em_attr_float(n, "beta", 0.5f);
    } else if (opt_is(n, "Gelu") && one_in) {
        const char *ap = em_attr_str(n, "approximate", "none");
        if (!strcmp(ap, "none")) a->kind = EM_ACT_GELU;
        else if (!strcmp(ap, "tanh")) a->kind = EM_ACT_GELU_TANH;
        else return false;
    } else if (opt_is(n, "Clip")) {
        double lo, hi;
        if (n->opset < 11) {
            if (!one_in) return false;
            lo = em_attr_float(n, "min", -FLT_MAX);
            hi = em_attr_float(n, "max", FLT_MAX);
        } else if (n->n_in > 3 || !opt_bound(o, n, 1, -INFINITY, &lo) || !opt_bound(o, n, 2, INFINITY, &hi))
            return false;
        if (isnan(lo) || isnan(hi)) return false;
        if (lo == 0 && hi == INFINITY) a->kind = EM_ACT_RELU;
        else {
            a->kind = EM_ACT_CLIP;
            a->alpha = (float)lo;
            a->beta = (float)hi;
        }
    } else return false;
    return true;
}

/* ---- regions ------------------------------------------------------------- */

#define MAXR 24
#define NPTS 21
static const double k_pts[NPTS] = { -8, -5, -3.3, -2.2, -1.5, -1, -0.7, -0.4, -0.1, 0, 0.05,
                                    0.3, 0.6, 0.9, 1.2, 1.7, 2.5, 3.1, 4.2, 6, 9 };

static bool elementwise(const em_node *n)
{
    static const char *const ops[] = { "Add", "Sub", "Mul", "Div", "Pow", "Neg", "Erf", "Tanh", "Sigmoid",
                                       "Exp", "Sqrt", "Relu", "HardSigmoid", "Clip", "Reciprocal", "Max", "Min" };
    if (n->n_out != 1 || n->out[0] < 0 || n->n_implicit) return false;
    for (size_t i = 0; i < sizeof ops / sizeof ops[0]; i++)
        if (opt_is(n, ops[i])) return true;
    return false;
}

typedef struct region {
    int x;
    int n;
    int nodes[MAXR];
} region;

static int region_index(const region *r, em_opt *o, int s)
{
    int p = opt_producer(o, s);
    if (p < 0) return -1;
    for (int i = 0; i < r->n; i++)
        if (r->nodes[i] == p) return i;
    return -1;
}

/* A constant operand allowed inside a region: one element, float dtype equal to
 * x's, rank 0 (or rank 1 when x is known to have rank >= 1). */
static bool scalar_operand(em_opt *o, int s, int xdt, bool x_rank1, bool exponent, double *v)
{
    const em_tensor *t = opt_const(o, s);
    if (!t || em_numel(t) != 1 || !(t->rank == 0 || (t->rank == 1 && x_rank1))) return false;
    if (!exponent && t->dtype != xdt) return false;
    return opt_scalar(o, s, v);
}

/* Evaluates region nodes [0..upto] (those flagged in `in`) at x = xv; value of node upto. */
static bool eval(em_opt *o, const region *r, const uint8_t *in, int upto, int xdt, bool x_rank1, double xv,
                 double *out)
{
    double val[MAXR];
    for (int i = 0; i <= upto; i++) {
        if (!in[i]) continue;
        const em_node *n = opt_node(o, r->nodes[i]);
        double a[3] = { 0, 0, 0 };
        bool have[3] = { false, false, false };
        for (int j = 0; j < n->n_in && j < 3; j++) {
            int s = n->in[j];
            if (s < 0) continue;
            have[j] = true;
            if (s == r->x) { a[j] = xv; continue; }
            int ri = region_index(r, o, s);
            if (ri >= 0) {
                if (!in[ri] || ri >= i) return false;
                a[j] = val[ri];
                continue;
            }
            bool expo = opt_is(n, "Pow") && j == 1;
            if (opt_is(n, "Clip") && j > 0) {
                const em_tensor *t = opt_const(o, s);
                if (!t || t->dtype != xdt || em_numel(t) != 1 || !opt_scalar(o, s, &a[j])) return false;
                continue;
            }
            if (!scalar_operand(o, s, xdt, x_rank1, expo, &a[j])) return false;
        }
        double v;
        const char *op = n->op_type;
        if (!strcmp(op, "Add")) v = a[0] + a[1];
        else if (!strcmp(op, "Sub")) v = a[0] - a[1];
        else if (!strcmp(op, "Mul")) v = a[0] * a[1];
        else if (!strcmp(op, "Div")) v = a[0] / a[1];
        else if (!strcmp(op, "Pow")) v = pow(a[0], a[1]);
        else if (!strcmp(op, "Max")) v = n->n_in == 2 ? fmax(a[0], a[1]) : NAN;
        else if (!strcmp(op, "Min")) v = n->n_in == 2 ? fmin(a[0], a[1]) : NAN;
        else if (n->n_in != 1 && strcmp(op, "Clip")) return false;
        else if (!strcmp(op, "Neg")) v = -a[0];
        else if (!strcmp(op, "Erf")) v = erf(a[0]);
        else if (!strcmp(op, "Tanh")) v = tanh(a[0]);
        else if (!strcmp(op, "Sigmoid")) v = 1.0 / (1.0 + exp(-a[0]));
        else if (!strcmp(op, "Exp")) v = exp(a[0]);
        else if (!strcmp(op, "Sqrt")) v = sqrt(a[0]);
        else if (!strcmp(op, "Reciprocal")) v = 1.0 / a[0];
        else if (!strcmp(op, "Relu")) v = a[0] > 0 ? a[0] : 0;
        else if (!strcmp(op, "HardSigmoid")) {
            v = em_attr_float(n, "alpha", 0.2f) * a[0] + em_attr_float(n, "beta", 0.5f);
            v = v < 0 ? 0 : v > 1 ? 1 : v;
        } else if (!strcmp(op, "Clip")) {
            double lo = -INFINITY, hi = INFINITY;
            if (n->opset < 11) {
                lo = em_attr_float(n, "min", -FLT_MAX);
                hi = em_attr_float(n, "max", FLT_MAX);
            } else {
                if (n->n_in > 3) return false;
                if (have[1]) lo = a[1];
                if (have[2]) hi = a[2];
            }
            v = a[0] < lo ? lo : a[0] > hi ? hi : a[0];
        } else return false;
        val[i] = v;
    }
    *out = val[upto];
    return true;
}

static double ref_act(int kind, double x)
{
    switch (kind) {
    case EM_ACT_SIGMOID: return 1.0 / (1.0 + exp(-x));
    case EM_ACT_SILU: return x / (1.0 + exp(-x));
    case EM_ACT_GELU: return 0.5 * x * (1.0 + erf(x * 0.70710678118654752));
    case EM_ACT_GELU_TANH: return 0.5 * x * (1.0 + tanh(0.79788456080286536 * (x + 0.044715 * x * x * x)));
    case EM_ACT_HARDSWISH: { double v = x / 6.0 + 0.5; return x * (v < 0 ? 0 : v > 1 ? 1 : v); }
    case EM_ACT_TANH: return tanh(x);
    default: return NAN;
    }
}

static const int k_targets[] = { EM_ACT_SILU, EM_ACT_GELU, EM_ACT_GELU_TANH, EM_ACT_HARDSWISH, EM_ACT_SIGMOID,
                                 EM_ACT_TANH };

int opt_match_act_region(em_opt *o, int x, bool need_all, em_act *a, int *nodes, int *n_nodes, int max)
{
    em_graph *g = o->g;
    int xdt = opt_dtype(o, x);
    if (!opt_act_dtype(xdt) || opt_n_uses(o, x) == 0) return -1;
    int xp = opt_producer(o, x);
    bool x_rank1 = xp >= 0 && (opt_is(opt_node(o, xp), "Conv") || opt_is(opt_node(o, xp), "ConvTranspose") ||
                               opt_is(opt_node(o, xp), "Gemm"));
    /* Grow the region forward in topological order from x's first use. */
    region r = { .x = x };
    int first = (int)g->n_nodes;
    for (int i = 0; i < opt_n_uses(o, x); i++) {
        int u = opt_use(o, x, i);
        if (u < first) first = u;
    }
    int last_added = first;
    for (int k = first; k < (int)g->n_nodes && r.n < MAXR && k - last_added <= 64; k++) {
        const em_node *n = opt_node(o, k);
        if (o->dead[k] || n->folded || !elementwise(n)) continue;
        bool touches = false, ok = true;
        for (int j = 0; j < n->n_in && ok; j++) {
            int s = n->in[j];
            if (s < 0) continue;
            if (s == x || region_index(&r, o, s) >= 0) touches = true;
            else if (!opt_const(o, s)) ok = false;
        }
        if (!ok || !touches) continue;
        r.nodes[r.n++] = k;
        last_added = k;
    }
    if (r.n < 2) return -1;
    /* Try sinks from the last: the largest region that computes an activation. */
    for (int si = r.n - 1; si >= 1; si--) {
        uint8_t in[MAXR] = { 0 };
        in[si] = 1;
        for (int i = si; i >= 0; i--) {
            if (!in[i]) continue;
            const em_node *n = opt_node(o, r.nodes[i]);
            for (int j = 0; j < n->n_in; j++) {
                int ri = n->in[j] >= 0 ? region_index(&r, o, n->in[j]) : -1;
                if (ri >= 0) in[ri] = 1;
            }
        }
        int cnt = 0, xuses = 0;
        bool closed = true, nonlinear = false;
        for (int i = 0; i <= si && closed; i++) {
            if (!in[i]) continue;
            cnt++;
            const em_node *n = opt_node(o, r.nodes[i]);
            for (int j = 0; j < n->n_in; j++) xuses += n->in[j] == x;
            if (!(opt_is(n, "Add") || opt_is(n, "Sub") || opt_is(n, "Mul") || opt_is(n, "Div") || opt_is(n, "Neg")))
                nonlinear = true;
            if (i == si) continue;
            int s = n->out[0];
            if (!opt_internal(o, s)) closed = false;
            for (int u = 0; u < opt_n_uses(o, s) && closed; u++) {
                int ri = -1;
                for (int q = 0; q <= si; q++)
                    if (in[q] && r.nodes[q] == opt_use(o, s, u)) ri = q;
                if (ri < 0) closed = false;
            }
        }
        if (!closed || cnt < 2 || cnt > max || !nonlinear) continue;
        if (need_all && (!opt_internal(o, x) || xuses != opt_n_uses(o, x))) continue;
        if (opt_dtype(o, opt_node(o, r.nodes[si])->out[0]) != xdt) continue;
        for (size_t t = 0; t < sizeof k_targets / sizeof k_targets[0]; t++) {
            bool match = true;
            for (int p = 0; p < NPTS && match; p++) {
                double v, ref = ref_act(k_targets[t], k_pts[p]);
                if (!eval(o, &r, in, si, xdt, x_rank1, k_pts[p], &v) || !(fabs(v - ref) <= 1e-6 * (1 + fabs(ref))))
                    match = false;
            }
            if (!match) continue;
            memset(a, 0, sizeof *a);
            a->kind = k_targets[t];
            *n_nodes = 0;
            for (int i = 0; i <= si; i++)
                if (in[i]) nodes[(*n_nodes)++] = r.nodes[i];
            return r.nodes[si];
        }
    }
    return -1;
}
