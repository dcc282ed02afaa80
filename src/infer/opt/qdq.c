/* QDQ-quantised convolutions as one integer node; DequantizeLinear ->
 * QuantizeLinear pairs that are the identity.
 *
 * requires: a committed graph, dtypes inferred, BatchNormalization folded
 *   (bn_fold.c), before fuse.c (the pattern's Relu/Clip is still a node);
 *   em_opt_qdq_collect ran before the loader's folded nodes were dropped
 *   (the weights' DequantizeLinear nodes are folded at load: their
 *   quantised inputs are found through that record).
 * guarantees:
 *   - DQ(x_q) -> Conv(W, B) -> [Relu | Clip(const lo, hi)] -> Q(y_s, y_zp) becomes
 *     QLinearConv(x_q, x_s, x_zp, w_q, w_s, w_zp, y_s, y_zp, B_q) writing Q's output,
 *     when: x_q is int8/uint8 with scalar scale and zero point; W is a constant that
 *     is DequantizeLinear of an int8/uint8 constant, per tensor or per output channel
 *     (axis 0); B (optional) a float constant, requantised to int32 with scale
 *     x_s * w_s[m] (round half to even; an int32 DQ'd bias comes back exactly); y_s,
 *     y_zp scalars; the Conv's and activation's outputs read by the next node alone.
 *     The activation becomes a clamp of the quantised output (node->act = Clip with
 *     alpha/beta the integer bounds): Q(relu(v)) = max(Q(v), y_zp) and
 *     Q(clip(v, a, b)) = clamp(Q(v), Q(a), Q(b)) exactly, as Q is monotonic.
 *     The result differs from the float graph by the integer kernel's one rounding
 *     (what ONNX Runtime's QDQ fusion does too); DQ(x_q) stays for other readers.
 *   - Q(DQ(x_q, s, z), s', z') with the same scale and zero point (constants equal
 *     by value) and dtype is x_q itself: its readers read x_q (when the Q output is
 *     not a graph output). */
#include "opt.h"
#include "../ops/ops.h"

#include <math.h>
#include <stdlib.h>

struct opt_qdq_rec {
    int out;            /* the folded DQ's output slot (now a constant) */
    int q, s, z;        /* its inputs */
    int64_t axis;
};

edgeml_status em_opt_qdq_collect(em_opt *o)
{
    em_graph *g = o->g;
    size_t n = 0;
    for (size_t k = 0; k < g->n_nodes; k++) {
        const em_node *d = &g->nodes[k];
        if (d->folded && !o->dead[k] && !strcmp(d->op_type, "DequantizeLinear") && !*d->domain && d->n_in >= 2 &&
            d->n_out == 1 && d->out[0] >= 0)
            n++;
    }
    if (!n) return EDGEML_OK;
    o->qdq = calloc(n, sizeof *o->qdq);
    if (!o->qdq) return EDGEML_E_NOMEM;
    for (size_t k = 0; k < g->n_nodes; k++) {
        const em_node *d = &g->nodes[k];
        if (d->folded && !o->dead[k] && !strcmp(d->op_type, "DequantizeLinear") && !*d->domain && d->n_in >= 2 &&
            d->n_out == 1 && d->out[0] >= 0)
            o->qdq[o->n_qdq++] = (struct opt_qdq_rec){d->out[0], d->in[0], d->in[1], d->n_in > 2 ? d->in[2] : -1,
                                                      em_attr_int(d, "axis", 1)};
    }
    return EDGEML_OK;
}

/* The quantised form of a value: DQ(q, s, z) with axis (a live node or a folded one). */
typedef struct qform {
    int q, s, z;
    int64_t axis;
    int node;           /* live DQ node, or -1 */
} qform;

static bool find_dq(em_opt *o, int slot, qform *f)
{
    int p = opt_producer(o, slot);
    if (p >= 0) {
        const em_node *d = opt_node(o, p);
        if (!opt_is(d, "DequantizeLinear") || d->n_in < 2 || d->n_out != 1) return false;
        *f = (qform){d->in[0], d->in[1], d->n_in > 2 ? d->in[2] : -1, em_attr_int(d, "axis", 1), p};
        return true;
    }
    for (size_t i = 0; i < o->n_qdq; i++)
        if (o->qdq[i].out == slot) {
            *f = (qform){o->qdq[i].q, o->qdq[i].s, o->qdq[i].z, o->qdq[i].axis, -1};
            return true;
        }
    return false;
}

static bool is_q8(int dt) { return dt == EDGEML_UINT8 || dt == EDGEML_INT8; }

/* The dtype of a quantised value: known, or what the QuantizeLinear producing it makes. */
static int q_dtype(em_opt *o, int s)
{
    int dt = opt_dtype(o, s);
    if (dt) return dt;
    int p = opt_producer(o, s);
    if (p < 0) return 0;
    const em_node *q = opt_node(o, p);
    if (!opt_is(q, "QuantizeLinear") || q->n_out != 1) return 0;
    if (q->n_in > 2 && q->in[2] >= 0) {
        const em_tensor *z = opt_const(o, q->in[2]);
        return z ? z->dtype : 0;
    }
    int64_t od = em_attr_int(q, "output_dtype", 0);
    return od ? (int)od : EDGEML_UINT8;
}

/* A constant float32 scale of n elements (n == 1: scalar or [1]); positive and finite. */
static const em_tensor *scale_const(em_opt *o, int s, int64_t n)
{
    const em_tensor *t = opt_const(o, s);
    if (!t || t->dtype != EDGEML_FLOAT || !t->data) return NULL;
    size_t ne = em_numel(t);
    if (n == 1 ? !(ne == 1 && t->rank <= 1) : !(t->rank == 1 && t->dims[0] == n)) return NULL;
    for (size_t i = 0; i < ne; i++) {
        float v = ((const float *)t->data)[i];
        if (!(v > 0) || !isfinite(v)) return NULL;
    }
    return t;
}

/* A zero point constant of dtype dt and n elements (or absent: -1 allowed when absent_ok). */
static bool zp_const(em_opt *o, int z, int dt, int64_t n)
{
    const em_tensor *t = opt_const(o, z);
    if (!t || t->dtype != dt || !t->data) return false;
    size_t ne = em_numel(t);
    return n == 1 ? (ne == 1 && t->rank <= 1) : (t->rank == 1 && t->dims[0] == n) || (ne == 1 && t->rank <= 1);
}

static int new_scalar(em_opt *o, const char *base, const char *suffix, int dt, double v)
{
    em_tensor t = {.dtype = dt, .rank = 0};
    t.data = malloc(8);
    if (!t.data) return -1;
    em_set_f64(t.data, dt, 0, v);
    return opt_new_const(o, base, suffix, &t);
}

static double sat_q(double v, int dt)
{
    double lo = dt == EDGEML_INT8 ? -128 : 0, hi = dt == EDGEML_INT8 ? 127 : 255;
    return v < lo ? lo : v > hi ? hi : v;
}

/* ONNX QuantizeLinear of a float value (scalar parameters). */
static double quantize(double v, float scale, double zp, int dt)
{
    float q = (float)v / scale;
    return sat_q(nearbyint((double)q) + zp, dt);
}

static edgeml_status try_conv(em_opt *o, int kq)
{
    em_graph *g = o->g;
    const em_node *qn = opt_node(o, kq);
    if (qn->n_in < 2 || qn->n_out != 1 || qn->out[0] < 0 || qn->opset < 10) return EDGEML_OK;
    const em_tensor *ys = scale_const(o, qn->in[1], 1);
    int yz = qn->n_in > 2 ? qn->in[2] : -1;
    int ydt = EDGEML_UINT8;
    if (yz >= 0) {
        const em_tensor *t = opt_const(o, yz);
        if (!t || !is_q8(t->dtype)) return EDGEML_OK;
        ydt = t->dtype;
        if (!zp_const(o, yz, ydt, 1)) return EDGEML_OK;
    }
    if (!ys) return EDGEML_OK;
    if (qn->n_attrs && em_attr_get(qn, "output_dtype")) {
        int64_t od = em_attr_int(qn, "output_dtype", 0);
        if (od && od != ydt) return EDGEML_OK;
    }
    double yzv;
    if (yz >= 0) opt_scalar(o, yz, &yzv);
    else yzv = 0;
    int v = qn->in[0];
    if (opt_single_consumer(o, v) != kq) return EDGEML_OK;
    int p = opt_producer(o, v), act = -1;
    if (p < 0) return EDGEML_OK;
    double lo = ydt == EDGEML_INT8 ? -128 : 0, hi = ydt == EDGEML_INT8 ? 127 : 255;
    const em_node *pn = opt_node(o, p);
    if (opt_is(pn, "Relu") || opt_is(pn, "Clip")) {
        if (pn->n_in < 1 || pn->n_out != 1) return EDGEML_OK;
        float ys0 = ((const float *)ys->data)[0];
        if (opt_is(pn, "Relu")) lo = fmax(lo, quantize(0, ys0, yzv, ydt));
        else {
            double a = -INFINITY, b = INFINITY;
            if (pn->opset < 11) {
                a = em_attr_float(pn, "min", -INFINITY);
                b = em_attr_float(pn, "max", INFINITY);
            } else {
                if (pn->n_in > 1 && pn->in[1] >= 0 && !opt_scalar(o, pn->in[1], &a)) return EDGEML_OK;
                if (pn->n_in > 2 && pn->in[2] >= 0 && !opt_scalar(o, pn->in[2], &b)) return EDGEML_OK;
            }
            if (isnan(a) || isnan(b)) return EDGEML_OK;
            if (a > -INFINITY) lo = fmax(lo, quantize(a, ys0, yzv, ydt));
            if (b < INFINITY) hi = fmin(hi, quantize(b, ys0, yzv, ydt));
        }
        act = p;
        int u = pn->in[0];
        if (opt_single_consumer(o, u) != act) return EDGEML_OK;
        p = opt_producer(o, u);
        if (p < 0) return EDGEML_OK;
        pn = opt_node(o, p);
    }
    if (!opt_is(pn, "Conv") || pn->n_out != 1 || (pn->n_in != 2 && pn->n_in != 3) || em_has_epilogue(pn))
        return EDGEML_OK;
    if (opt_dtype(o, pn->out[0]) != EDGEML_FLOAT) return EDGEML_OK;
    /* x: DQ of a quantised activation, scalar parameters */
    qform fx, fw;
    if (!find_dq(o, pn->in[0], &fx) || fx.node < 0) return EDGEML_OK;
    int xdt = q_dtype(o, fx.q);
    if (!is_q8(xdt) || !scale_const(o, fx.s, 1)) return EDGEML_OK;
    if (fx.z >= 0 && !zp_const(o, fx.z, xdt, 1)) return EDGEML_OK;
    /* W: constant DQ of int8/uint8, per tensor or per output channel */
    const em_tensor *W = opt_const(o, pn->in[1]);
    if (!W || W->rank < 3 || !find_dq(o, pn->in[1], &fw)) return EDGEML_OK;
    const em_tensor *Wq = opt_const(o, fw.q);
    if (!Wq || !is_q8(Wq->dtype) || !Wq->data || Wq->rank != W->rank) return EDGEML_OK;
    int64_t M = Wq->dims[0];
    const em_tensor *ws = scale_const(o, fw.s, 1);
    if (!ws) {
        int ax;
        if (!em_axis(fw.axis, Wq->rank, &ax) || ax != 0 || !(ws = scale_const(o, fw.s, M))) return EDGEML_OK;
    }
    bool per = em_numel(ws) > 1;
    if (fw.z >= 0 && !zp_const(o, fw.z, Wq->dtype, per ? M : 1)) return EDGEML_OK;
    /* B: float constant of M elements, requantised to int32 */
    int bq = -1;
    const char *base = g->slots[qn->out[0]].name;
    if (pn->n_in == 3 && pn->in[2] >= 0) {
        const em_tensor *B = opt_const(o, pn->in[2]);
        if (!B || !em_dtype_is_float(B->dtype) || !B->data || B->rank != 1 || B->dims[0] != M) return EDGEML_OK;
        float xsv = ((const float *)opt_const(o, fx.s)->data)[0];
        em_tensor bt = {.dtype = EDGEML_INT32, .rank = 1, .dims = {M}};
        bt.data = malloc((size_t)M * sizeof(int32_t));
        if (!bt.data) return EDGEML_E_NOMEM;
        for (int64_t m = 0; m < M; m++) {
            double sc = (double)(xsv * ((const float *)ws->data)[per ? m : 0]);
            double q = nearbyint(em_get_f64(B->data, B->dtype, (size_t)m) / sc);
            if (!(fabs(q) < 2147483647.0)) { free(bt.data); return EDGEML_OK; }
            ((int32_t *)bt.data)[m] = (int32_t)q;
        }
        if ((bq = opt_new_const(o, base, "/bias_int32", &bt)) < 0) return EDGEML_E_NOMEM;
    }
    int xz = fx.z;
    if (xz < 0 && (xz = new_scalar(o, base, "/x_zero_point", xdt, 0)) < 0) return EDGEML_E_NOMEM;
    if (yz < 0 && (yz = new_scalar(o, base, "/y_zero_point", EDGEML_UINT8, 0)) < 0) return EDGEML_E_NOMEM;
    const em_op_entry *e = em_op_lookup("", "QLinearConv", pn->opset);
    if (!e) return EDGEML_OK;
    qn = opt_node(o, kq);
    int in[9] = {fx.q, fx.s, xz, fw.q, fw.s, fw.z, qn->in[1], yz, bq};
    int y = qn->out[0];
    em_node *cn = opt_node(o, p);
    if (cn->state) {
        if (cn->op && cn->op->free_state) cn->op->free_state(cn->state);
        else free(cn->state);
        cn->state = NULL;
    }
    edgeml_status st = opt_set_inputs(o, p, bq >= 0 ? 9 : 8, in);
    if (st) return st;
    cn = opt_node(o, p);
    cn->op = e;
    cn->op_type = "QLinearConv";
    if (lo > (ydt == EDGEML_INT8 ? -128 : 0) || hi < (ydt == EDGEML_INT8 ? 127 : 255))
        cn->act = (em_act){EM_ACT_CLIP, (float)lo, (float)hi};
    opt_kill(o, kq);
    if (act >= 0) opt_kill(o, act);
    opt_set_output(o, p, 0, y);
    if ((size_t)y < o->cap_slots) o->dtype[y] = ydt;
    return EDGEML_OK;
}

static bool same_values(em_opt *o, int a, int b)
{
    if (a == b) return true;
    const em_tensor *x = opt_const(o, a), *y = opt_const(o, b);
    if (!x || !y || x->dtype != y->dtype || !em_same_shape(x, y) || !x->data || !y->data) return false;
    return !memcmp(x->data, y->data, em_nbytes(x));
}

/* Q(DQ(x)) with equal parameters: readers of Q's output read x. */
static void try_pair(em_opt *o, int kq)
{
    const em_node *qn = opt_node(o, kq);
    if (qn->n_in < 2 || qn->n_out != 1 || qn->out[0] < 0 || !opt_internal(o, qn->out[0])) return;
    int d = opt_producer(o, qn->in[0]);
    if (d < 0) return;
    const em_node *dn = opt_node(o, d);
    if (!opt_is(dn, "DequantizeLinear") || dn->n_in < 2) return;
    int x = dn->in[0], xdt = q_dtype(o, x);
    if (!is_q8(xdt) || !scale_const(o, dn->in[1], 1) || !scale_const(o, qn->in[1], 1)) return;
    int dz = dn->n_in > 2 ? dn->in[2] : -1, qz = qn->n_in > 2 ? qn->in[2] : -1;
    if (!same_values(o, dn->in[1], qn->in[1])) return;
    if (dz >= 0 && qz >= 0) {
        if (!same_values(o, dz, qz)) return;
    } else {
        double v;
        int z = dz >= 0 ? dz : qz;
        int zdt = z >= 0 ? opt_dtype(o, z) : EDGEML_UINT8;
        if (z >= 0 && (!opt_scalar(o, z, &v) || v != 0)) return;
        if (zdt != xdt || (qz < 0 && xdt != EDGEML_UINT8)) return;
    }
    if (qz >= 0 && opt_dtype(o, qz) != xdt) return;
    opt_replace_uses(o, qn->out[0], x);
    opt_kill(o, kq);
}

edgeml_status em_opt_qdq(em_opt *o)
{
    em_graph *g = o->g;
    for (size_t k = 0; k < g->n_nodes; k++) {
        if (o->dead[k] || g->nodes[k].folded || !opt_is(&g->nodes[k], "QuantizeLinear")) continue;
        edgeml_status st = try_conv(o, (int)k);
        if (st) return st;
        if (!o->dead[k]) try_pair(o, (int)k);
    }
    return EDGEML_OK;
}
