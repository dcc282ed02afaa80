/* Scan.
 * Opset 8: (sequence_lens?, states..., scans...) with batch axis 0 and
 *          sequence axis 1; attribute `directions`.
 * Opset 9+ (9, 11, 16, 19, 21): (states..., scans...) without batch;
 *          scan_input_axes/_directions, scan_output_axes/_directions.
 * States keep their dtype and shape across iterations; scan outputs are
 * tensors of one dtype and shape stacked along their scan axis. */
#include "ctl.h"

#include <stdlib.h>

typedef struct ctl_scan_state {
    int64_t m;        /* num_scan_inputs */
    size_t k;         /* scan outputs of the body (body outputs - states) */
    int64_t *in_axes;
    int64_t *in_dirs;
    int64_t *out_axes;
    int64_t *out_dirs;
    int64_t data[];   /* 2*m + 2*k values */
} ctl_scan_state;

/* Reads an optional ints attribute of `want` values into dst (dflt when absent). */
static edgeml_status read_list(em_node *node, edgeml_error *err, const char *name, size_t want,
                               int64_t *dst, bool is_dir)
{
    const int64_t *v = NULL;
    long n = em_attr_ints(node, name, &v);
    if (n < 0) {
        for (size_t i = 0; i < want; i++) dst[i] = 0;
        return EDGEML_OK;
    }
    if ((size_t)n != want)
        return em_node_fail(node, err, EDGEML_E_MODEL, "attribute %s has %ld values, expected %zu",
                            name, n, want);
    for (size_t i = 0; i < want; i++) {
        if (is_dir && v[i] != 0 && v[i] != 1)
            return em_node_fail(node, err, EDGEML_E_MODEL,
                                "attribute %s[%zu] = %lld, must be 0 or 1", name, i,
                                (long long)v[i]);
        dst[i] = v[i];
    }
    return EDGEML_OK;
}

static edgeml_status scan_prepare(em_node *node, edgeml_error *err, bool v8)
{
    const em_graph *g = ctl_graph_attr(node, "body");
    if (!g) return em_node_fail(node, err, EDGEML_E_MODEL, "attribute body must be a graph");
    const em_attr *na = em_attr_get(node, "num_scan_inputs");
    if (!na || na->type != EM_ATTR_INT)
        return em_node_fail(node, err, EDGEML_E_MODEL, "attribute num_scan_inputs is required");
    int64_t m = na->i;
    int first = v8 ? 1 : 0;
    int avail = node->n_in - first;
    if (m < 1 || m > avail)
        return em_node_fail(node, err, EDGEML_E_MODEL,
                            "num_scan_inputs = %lld, must be in [1, %d]", (long long)m, avail);
    size_t n = (size_t)(avail - m);
    if (g->n_inputs != n + (size_t)m)
        return em_node_fail(node, err, EDGEML_E_MODEL, "body takes %zu inputs, expected %zu",
                            g->n_inputs, n + (size_t)m);
    if (g->n_outputs < n)
        return em_node_fail(node, err, EDGEML_E_MODEL,
                            "body returns %zu outputs, fewer than the %zu states", g->n_outputs, n);
    size_t k = g->n_outputs - n;
    if ((size_t)node->n_out > n + k)
        return em_node_fail(node, err, EDGEML_E_MODEL, "node has %d outputs, the body gives %zu",
                            node->n_out, n + k);
    for (int i = first; i < node->n_in; i++)
        if (node->in[i] < 0)
            return em_node_fail(node, err, EDGEML_E_MODEL, "input %d is missing", i);

    ctl_scan_state *s = malloc(sizeof *s + sizeof(int64_t) * (2 * (size_t)m + 2 * k + 1));
    if (!s) return em_node_fail(node, err, EDGEML_E_NOMEM, "out of memory");
    s->m = m;
    s->k = k;
    s->in_axes = s->data;
    s->in_dirs = s->in_axes + m;
    s->out_axes = s->in_dirs + m;
    s->out_dirs = s->out_axes + k;
    edgeml_status st;
    if (v8) {
        for (size_t i = 0; i < (size_t)m; i++) s->in_axes[i] = 1;
        for (size_t i = 0; i < k; i++) s->out_axes[i] = 0, s->out_dirs[i] = 0;
        st = read_list(node, err, "directions", (size_t)m, s->in_dirs, true);
    } else {
        st = read_list(node, err, "scan_input_axes", (size_t)m, s->in_axes, false);
        if (!st) st = read_list(node, err, "scan_input_directions", (size_t)m, s->in_dirs, true);
        if (!st) st = read_list(node, err, "scan_output_axes", k, s->out_axes, false);
        if (!st) st = read_list(node, err, "scan_output_directions", k, s->out_dirs, true);
    }
    if (st) {
        free(s);
        return st;
    }
    node->state = s;
    return EDGEML_OK;
}

edgeml_status ctl_scan8_prepare(em_node *node, edgeml_error *err)
{
    return scan_prepare(node, err, true);
}

edgeml_status ctl_scan9_prepare(em_node *node, edgeml_error *err)
{
    return scan_prepare(node, err, false);
}

/* Accumulator of one scan output. */
typedef struct scan_out {
    bool started, skip;
    int dtype, rank;
    int64_t dims[EM_MAX_RANK];  /* element dims */
    size_t outer, inner;        /* elements before / from the axis in the element */
    unsigned char *data;        /* output data */
} scan_out;

static bool same_shape(const em_tensor *t, int dtype, int rank, const int64_t *dims)
{
    if (t->dtype != dtype || t->rank != rank) return false;
    for (int i = 0; i < rank; i++)
        if (t->dims[i] != dims[i]) return false;
    return true;
}

/* ---- opset 9+ ----------------------------------------------------------- */

edgeml_status ctl_scan9_run(em_kctx *c)
{
    const ctl_scan_state *ss = c->node->state;
    const em_graph *g = ctl_graph_attr(c->node, "body");
    if (!ss || !g) return em_fail(c, EDGEML_E_RUNTIME, "not prepared");
    size_t m = (size_t)ss->m, k = ss->k;
    size_t n = (size_t)em_n_in(c) - m;
    int nout = em_n_out(c);
    edgeml_status st = EDGEML_OK;

    const em_value **bin = calloc(n + m + 1, sizeof *bin);
    em_value *states = calloc(n + 1, sizeof *states);
    em_value *outs = calloc(g->n_outputs + 1, sizeof *outs);
    em_tensor *slices = calloc(m, sizeof *slices);
    em_value *slice_v = calloc(m, sizeof *slice_v);
    void **bufs = calloc(m, sizeof *bufs);
    size_t *outer = calloc(m, sizeof *outer), *inner = calloc(m, sizeof *inner);
    int *axes = calloc(m, sizeof *axes);
    scan_out *so = calloc(k + 1, sizeof *so);
    bool owned = false;
    if (!bin || !states || !outs || !slices || !slice_v || !bufs || !outer || !inner || !axes ||
        !so) {
        st = em_fail(c, EDGEML_E_NOMEM, "out of memory");
        goto done;
    }

    /* scan inputs */
    int64_t len = -1;
    for (size_t j = 0; j < m; j++) {
        const em_tensor *t = em_in(c, (int)(n + j));
        if (!t) {
            st = em_fail(c, EDGEML_E_RUNTIME, "scan input %zu must be a tensor", j);
            goto done;
        }
        if (t->rank < 1 || !em_axis(ss->in_axes[j], t->rank, &axes[j])) {
            st = em_fail(c, EDGEML_E_RUNTIME, "scan_input_axes[%zu] = %lld is invalid for rank %d",
                         j, (long long)ss->in_axes[j], t->rank);
            goto done;
        }
        if (!ctl_dtype_ok(t->dtype)) {
            st = em_fail(c, EDGEML_E_RUNTIME, "scan input %zu has unsupported dtype", j);
            goto done;
        }
        int64_t l = t->dims[axes[j]];
        if (len >= 0 && l != len) {
            st = em_fail(c, EDGEML_E_RUNTIME,
                         "scan input %zu has length %lld on its scan axis, input 0 has %lld", j,
                         (long long)l, (long long)len);
            goto done;
        }
        len = l;
        size_t total;
        if (!em_shape_numel(t->rank, t->dims, &total)) {
            st = em_fail(c, EDGEML_E_RUNTIME, "scan input %zu has an invalid shape", j);
            goto done;
        }
        size_t o = 1, in = 1;
        for (int d = 0; d < axes[j]; d++) o *= (size_t)t->dims[d];
        for (int d = axes[j] + 1; d < t->rank; d++) in *= (size_t)t->dims[d];
        outer[j] = o;
        inner[j] = in;
        em_tensor *sl = &slices[j];
        memset(sl, 0, sizeof *sl);
        sl->dtype = t->dtype;
        sl->rank = t->rank - 1;
        for (int d = 0, r = 0; d < t->rank; d++)
            if (d != axes[j]) sl->dims[r++] = t->dims[d];
        if (axes[j] != 0 && o * in > 0) {
            bufs[j] = malloc(o * in * ctl_esize(t->dtype));
            if (!bufs[j]) {
                st = em_fail(c, EDGEML_E_NOMEM, "out of memory");
                goto done;
            }
        }
    }
    for (int64_t it = 0; it < len; it++) {
        for (size_t i = 0; i < n; i++) {
            const em_value *v = owned ? &states[i] : em_in_value(c, (int)i);
            if (!v) {
                st = em_fail(c, EDGEML_E_RUNTIME, "state input %zu is missing", i);
                goto done;
            }
            bin[i] = v;
        }
        for (size_t j = 0; j < m; j++) {
            const em_tensor *t = em_in(c, (int)(n + j));
            size_t es = ctl_esize(t->dtype);
            int64_t idx = ss->in_dirs[j] ? len - 1 - it : it;
            em_tensor *sl = &slices[j];
            size_t blk = inner[j] * es;
            if (outer[j] * inner[j] == 0) {
                sl->data = NULL;
            } else if (axes[j] == 0) {
                sl->data = (unsigned char *)t->data + (size_t)idx * blk;
            } else {
                const unsigned char *src = t->data;
                unsigned char *dst = bufs[j];
                for (size_t o = 0; o < outer[j]; o++)
                    memcpy(dst + o * blk, src + (o * (size_t)len + (size_t)idx) * blk, blk);
                sl->data = bufs[j];
            }
            slice_v[j] = ctl_tensor_value(sl);
            bin[n + j] = &slice_v[j];
        }
        memset(outs, 0, g->n_outputs * sizeof *outs);
        st = em_run_subgraph(c, g, bin, n + m, outs);
        if (st != EDGEML_OK) goto done;

        for (size_t q = 0; q < k; q++) {
            int oi = (int)(n + q);
            scan_out *s = &so[q];
            if (oi >= nout || !em_out_wanted(c, oi)) continue;
            const em_value *v = &outs[n + q];
            if (v->kind != EM_V_TENSOR) {
                st = em_fail(c, EDGEML_E_RUNTIME, "scan output %zu must be a tensor, got %s", q,
                             ctl_kind_name(v));
                break;
            }
            const em_tensor *t = &v->t;
            if (!s->started) {
                int ax;
                if (t->rank + 1 > EM_MAX_RANK || !ctl_dtype_ok(t->dtype) ||
                    !em_axis(ss->out_axes[q], t->rank + 1, &ax)) {
                    st = em_fail(c, EDGEML_E_RUNTIME,
                                 "scan_output_axes[%zu] = %lld is invalid for an output of rank %d",
                                 q, (long long)ss->out_axes[q], t->rank + 1);
                    break;
                }
                s->started = true;
                s->dtype = t->dtype;
                s->rank = t->rank;
                memcpy(s->dims, t->dims, sizeof(int64_t) * (size_t)t->rank);
                int64_t od[EM_MAX_RANK];
                for (int d = 0, r = 0; d < t->rank + 1; d++)
                    od[d] = d == ax ? len : t->dims[r++];
                em_tensor *ot = em_out(c, oi, t->dtype, t->rank + 1, od);
                if (!ot) {
                    st = c->err->code ? c->err->code : EDGEML_E_NOMEM;
                    break;
                }
                s->data = ot->data;
                s->outer = 1;
                s->inner = 1;
                for (int d = 0; d < ax; d++) s->outer *= (size_t)t->dims[d];
                for (int d = ax; d < t->rank; d++) s->inner *= (size_t)t->dims[d];
            } else if (!same_shape(t, s->dtype, s->rank, s->dims)) {
                char a[128], b[128];
                st = em_fail(c, EDGEML_E_RUNTIME,
                             "scan output %zu changed from %s %s to %s %s at iteration %lld", q,
                             em_dtype_name(s->dtype), em_shape_str(s->rank, s->dims, a, sizeof a),
                             em_dtype_name(t->dtype), em_shape_str(t->rank, t->dims, b, sizeof b),
                             (long long)it);
                break;
            }
            int64_t pos = ss->out_dirs[q] ? len - 1 - it : it;
            size_t es = ctl_esize(s->dtype);
            for (size_t o = 0; o < s->outer && s->inner; o++)
                ctl_copy_elems(c, s->dtype,
                               s->data + ((o * (size_t)len + (size_t)pos) * s->inner) * es,
                               (const unsigned char *)t->data + o * s->inner * es, s->inner);
        }
        if (st != EDGEML_OK) {
            ctl_release(outs, g->n_outputs);
            goto done;
        }
        if (owned) ctl_release(states, n);
        for (size_t i = 0; i < n; i++) {
            states[i] = outs[i];
            memset(&outs[i], 0, sizeof outs[i]);
        }
        owned = true;
        ctl_release(outs, g->n_outputs);
    }

    for (size_t i = 0; i < n && (int)i < nout; i++) {
        if (!em_out_wanted(c, (int)i)) continue;
        const em_value *v = owned ? &states[i] : em_in_value(c, (int)i);
        if (!v) {
            st = em_fail(c, EDGEML_E_RUNTIME, "state input %zu is missing", i);
            goto done;
        }
        st = em_out_copy_value(c, (int)i, v);
        if (st != EDGEML_OK) goto done;
    }
    for (size_t q = 0; q < k && (int)(n + q) < nout; q++) {
        int oi = (int)(n + q);
        if (so[q].started || !em_out_wanted(c, oi)) continue;
        st = ctl_out_empty_stack(c, oi, g->out_info ? &g->out_info[n + q] : NULL,
                                 ss->out_axes[q], 0, NULL, len < 0 ? 0 : len);
        if (st != EDGEML_OK) goto done;
    }

done:
    if (owned) ctl_release(states, n);
    if (bufs)
        for (size_t j = 0; j < m; j++) free(bufs[j]);
    free(so);
    free(axes);
    free(inner);
    free(outer);
    free(bufs);
    free(slice_v);
    free(slices);
    free(outs);
    free(states);
    free(bin);
    return st;
}

/* ---- opset 8 ------------------------------------------------------------ */

edgeml_status ctl_scan8_run(em_kctx *c)
{
    const ctl_scan_state *ss = c->node->state;
    const em_graph *g = ctl_graph_attr(c->node, "body");
    if (!ss || !g) return em_fail(c, EDGEML_E_RUNTIME, "not prepared");
    size_t m = (size_t)ss->m, k = ss->k;
    size_t n = (size_t)em_n_in(c) - 1 - m;
    int nout = em_n_out(c);
    edgeml_status st = EDGEML_OK;

    const em_value **bin = calloc(n + m + 1, sizeof *bin);
    em_value *states = calloc(n + 1, sizeof *states);
    em_value *outs = calloc(g->n_outputs + 1, sizeof *outs);
    em_tensor *sl = calloc(n + m + 1, sizeof *sl);      /* state then scan slices */
    em_value *slv = calloc(n + m + 1, sizeof *slv);
    size_t *inner = calloc(n + m + 1, sizeof *inner);  /* elements per batch/step slice */
    unsigned char **sout = calloc(n + 1, sizeof *sout);
    scan_out *so = calloc(k + 1, sizeof *so);
    bool owned = false;
    if (!bin || !states || !outs || !sl || !slv || !inner || !sout || !so) {
        st = em_fail(c, EDGEML_E_NOMEM, "out of memory");
        goto done;
    }

    int64_t batch = -1, maxlen = -1;
    for (size_t j = 0; j < m; j++) {
        const em_tensor *t = em_in(c, (int)(1 + n + j));
        if (!t || t->rank < 2 || !ctl_dtype_ok(t->dtype)) {
            st = em_fail(c, EDGEML_E_RUNTIME,
                         "scan input %zu must be a tensor of rank >= 2 [batch, sequence, ...]", j);
            goto done;
        }
        if (batch >= 0 && (t->dims[0] != batch || t->dims[1] != maxlen)) {
            st = em_fail(c, EDGEML_E_RUNTIME,
                         "scan input %zu has batch/sequence dims [%lld,%lld], input 0 has [%lld,%lld]",
                         j, (long long)t->dims[0], (long long)t->dims[1], (long long)batch,
                         (long long)maxlen);
            goto done;
        }
        batch = t->dims[0];
        maxlen = t->dims[1];
        size_t in;
        if (!em_shape_numel(t->rank - 2, t->dims + 2, &in)) {
            st = em_fail(c, EDGEML_E_RUNTIME, "scan input %zu has an invalid shape", j);
            goto done;
        }
        inner[n + j] = in;
        em_tensor *s = &sl[n + j];
        s->dtype = t->dtype;
        s->rank = t->rank - 2;
        memcpy(s->dims, t->dims + 2, sizeof(int64_t) * (size_t)s->rank);
    }
    for (size_t i = 0; i < n; i++) {
        const em_tensor *t = em_in(c, (int)(1 + i));
        if (!t || t->rank < 1 || t->dims[0] != batch || !ctl_dtype_ok(t->dtype)) {
            st = em_fail(c, EDGEML_E_RUNTIME,
                         "state input %zu must be a tensor with batch size %lld as first dim", i,
                         (long long)batch);
            goto done;
        }
        size_t in;
        if (!em_shape_numel(t->rank - 1, t->dims + 1, &in)) {
            st = em_fail(c, EDGEML_E_RUNTIME, "state input %zu has an invalid shape", i);
            goto done;
        }
        inner[i] = in;
        em_tensor *s = &sl[i];
        s->dtype = t->dtype;
        s->rank = t->rank - 1;
        memcpy(s->dims, t->dims + 1, sizeof(int64_t) * (size_t)s->rank);
        if ((int)i < nout && em_out_wanted(c, (int)i)) {
            em_tensor *ot = em_out(c, (int)i, t->dtype, t->rank, t->dims);
            if (!ot) {
                st = c->err->code ? c->err->code : EDGEML_E_NOMEM;
                goto done;
            }
            sout[i] = ot->data;
        }
    }
    const em_tensor *lens = em_in(c, 0);
    if (c->node->in[0] >= 0) {
        if (!lens || (lens->dtype != EDGEML_INT64 && lens->dtype != EDGEML_INT32) ||
            lens->rank != 1 || lens->dims[0] != batch) {
            st = em_fail(c, EDGEML_E_RUNTIME, "sequence_lens must be an int64 tensor of shape [%lld]",
                         (long long)batch);
            goto done;
        }
        for (int64_t b = 0; b < batch; b++) {
            int64_t l = em_get_i64(lens->data, lens->dtype, (size_t)b);
            if (l < 0 || l > maxlen) {
                st = em_fail(c, EDGEML_E_RUNTIME, "sequence_lens[%lld] = %lld is outside [0, %lld]",
                             (long long)b, (long long)l, (long long)maxlen);
                goto done;
            }
        }
    } else {
        lens = NULL;
    }

    for (int64_t b = 0; b < batch; b++) {
        int64_t blen = lens ? em_get_i64(lens->data, lens->dtype, (size_t)b) : maxlen;
        for (size_t i = 0; i < n; i++) {
            const em_tensor *t = em_in(c, (int)(1 + i));
            sl[i].data = inner[i] ? (unsigned char *)t->data +
                                        (size_t)b * inner[i] * ctl_esize(t->dtype)
                                  : NULL;
            slv[i] = ctl_tensor_value(&sl[i]);
        }
        for (int64_t it = 0; it < blen; it++) {
            int64_t step = it;
            for (size_t i = 0; i < n; i++) bin[i] = owned ? &states[i] : &slv[i];
            for (size_t j = 0; j < m; j++) {
                const em_tensor *t = em_in(c, (int)(1 + n + j));
                int64_t idx = ss->in_dirs[j] ? blen - 1 - it : it;
                size_t off = ((size_t)b * (size_t)maxlen + (size_t)idx) * inner[n + j];
                sl[n + j].data = inner[n + j]
                                     ? (unsigned char *)t->data + off * ctl_esize(t->dtype)
                                     : NULL;
                slv[n + j] = ctl_tensor_value(&sl[n + j]);
                bin[n + j] = &slv[n + j];
            }
            memset(outs, 0, g->n_outputs * sizeof *outs);
            st = em_run_subgraph(c, g, bin, n + m, outs);
            if (st != EDGEML_OK) goto done;
            for (size_t i = 0; i < n && st == EDGEML_OK; i++) {
                const em_value *v = &outs[i];
                if (v->kind != EM_V_TENSOR || !same_shape(&v->t, sl[i].dtype, sl[i].rank, sl[i].dims))
                    st = em_fail(c, EDGEML_E_RUNTIME,
                                 "body state output %zu must keep the state's dtype and shape", i);
            }
            for (size_t q = 0; q < k && st == EDGEML_OK; q++) {
                int oi = (int)(n + q);
                scan_out *s = &so[q];
                if (oi >= nout || !em_out_wanted(c, oi)) continue;
                const em_value *v = &outs[n + q];
                if (v->kind != EM_V_TENSOR) {
                    st = em_fail(c, EDGEML_E_RUNTIME, "scan output %zu must be a tensor, got %s",
                                 q, ctl_kind_name(v));
                    break;
                }
                const em_tensor *t = &v->t;
                if (!s->started) {
                    if (t->rank + 2 > EM_MAX_RANK || !ctl_dtype_ok(t->dtype)) {
                        st = em_fail(c, EDGEML_E_RUNTIME, "scan output %zu has rank %d, too high",
                                     q, t->rank);
                        break;
                    }
                    s->started = true;
                    s->dtype = t->dtype;
                    s->rank = t->rank;
                    memcpy(s->dims, t->dims, sizeof(int64_t) * (size_t)t->rank);
                    int64_t od[EM_MAX_RANK];
                    od[0] = batch;
                    od[1] = maxlen;
                    memcpy(od + 2, t->dims, sizeof(int64_t) * (size_t)t->rank);
                    em_tensor *ot = em_out(c, oi, t->dtype, t->rank + 2, od);
                    if (!ot) {
                        st = c->err->code ? c->err->code : EDGEML_E_NOMEM;
                        break;
                    }
                    s->data = ot->data;
                    s->inner = em_numel(t);
                    size_t tot = em_numel(ot);
                    if (tot && ot->data) memset(ot->data, 0, tot * ctl_esize(t->dtype));
                } else if (!same_shape(t, s->dtype, s->rank, s->dims)) {
                    st = em_fail(c, EDGEML_E_RUNTIME,
                                 "scan output %zu changed dtype or shape between iterations", q);
                    break;
                }
                size_t es = ctl_esize(s->dtype);
                if (s->inner)
                    ctl_copy_elems(c, s->dtype,
                                   s->data + ((size_t)b * (size_t)maxlen + (size_t)step) *
                                                 s->inner * es,
                                   t->data, s->inner);
            }
            if (st != EDGEML_OK) {
                ctl_release(outs, g->n_outputs);
                goto done;
            }
            if (owned) ctl_release(states, n);
            for (size_t i = 0; i < n; i++) {
                states[i] = outs[i];
                memset(&outs[i], 0, sizeof outs[i]);
            }
            owned = true;
            ctl_release(outs, g->n_outputs);
        }
        for (size_t i = 0; i < n; i++) {
            if (!sout[i] || !inner[i]) continue;
            const em_tensor *src = owned ? &states[i].t : &sl[i];
            ctl_copy_elems(c, sl[i].dtype, sout[i] + (size_t)b * inner[i] * ctl_esize(sl[i].dtype),
                           src->data, inner[i]);
        }
        if (owned) ctl_release(states, n);
        owned = false;
    }

    for (size_t q = 0; q < k && (int)(n + q) < nout; q++) {
        int oi = (int)(n + q);
        if (so[q].started || !em_out_wanted(c, oi)) continue;
        int64_t lead = batch < 0 ? 0 : batch;
        st = ctl_out_empty_stack(c, oi, g->out_info ? &g->out_info[n + q] : NULL, 0, 1, &lead,
                                 maxlen < 0 ? 0 : maxlen);
        if (st != EDGEML_OK) goto done;
    }

done:
    if (owned) ctl_release(states, n);
    free(so);
    free(sout);
    free(inner);
    free(slv);
    free(sl);
    free(outs);
    free(states);
    free(bin);
    return st;
}
