/* HannWindow, HammingWindow, BlackmanWindow and MelWeightMatrix (opset 17). */
#include "misc.h"

#include <math.h>
#include <stdlib.h>

enum { WIN_HANN, WIN_HAMMING, WIN_BLACKMAN, WIN_MEL };

typedef struct win_state {
    int kind;
    int periodic;
    int dtype;   /* output_datatype */
} win_state;

static bool numeric_out_dtype(int64_t dt)
{
    switch (dt) {
    case EDGEML_FLOAT: case EDGEML_DOUBLE: case EDGEML_FLOAT16: case EDGEML_BFLOAT16:
    case EDGEML_UINT8: case EDGEML_UINT16: case EDGEML_UINT32: case EDGEML_UINT64:
    case EDGEML_INT8: case EDGEML_INT16: case EDGEML_INT32: case EDGEML_INT64:
        return true;
    default:
        return false;
    }
}

static edgeml_status win_prepare_common(em_node *n, edgeml_error *err, int kind)
{
    win_state *s = malloc(sizeof *s);
    if (!s) return em_node_fail(n, err, EDGEML_E_NOMEM, "out of memory");
    n->state = s;
    s->kind = kind;
    s->periodic = em_attr_int(n, "periodic", 1) != 0;
    int64_t dt = em_attr_int(n, "output_datatype", EDGEML_FLOAT);
    if (!numeric_out_dtype(dt))
        return em_node_fail(n, err, EDGEML_E_MODEL, "output_datatype %lld is not allowed",
                            (long long)dt);
    s->dtype = (int)dt;
    return EDGEML_OK;
}

edgeml_status misc_window_prepare(em_node *n, edgeml_error *err)
{
    int kind = WIN_HANN;
    if (strcmp(n->op_type, "HammingWindow") == 0) kind = WIN_HAMMING;
    else if (strcmp(n->op_type, "BlackmanWindow") == 0) kind = WIN_BLACKMAN;
    return win_prepare_common(n, err, kind);
}

edgeml_status misc_window_run(em_kctx *c)
{
    const win_state *s = c->node->state;
    int64_t size;
    edgeml_status st = misc_scalar_int(c, em_in(c, 0), "size", &size);
    if (st) return st;
    if (size < 0) return em_fail(c, EDGEML_E_RUNTIME, "size must be >= 0, got %lld",
                                 (long long)size);
    em_tensor *y = em_out(c, 0, s->dtype, 1, &size);
    if (!y) return c->err->code ? c->err->code : EDGEML_E_NOMEM;
    double N = s->periodic ? (double)size : (double)(size - 1);
    const double tp = 6.283185307179586476925286766559;
    for (int64_t i = 0; i < size; i++) {
        double v;
        if (N <= 0) {
            v = 1.0;
        } else {
            double a = tp * (double)i / N;
            switch (s->kind) {
            case WIN_HAMMING: v = 25.0 / 46.0 - (21.0 / 46.0) * cos(a); break;
            case WIN_BLACKMAN: v = 0.42 - 0.5 * cos(a) + 0.08 * cos(2 * a); break;
            default: v = 0.5 - 0.5 * cos(a); break;
            }
        }
        if (s->dtype == EDGEML_FLOAT) ((float *)y->data)[i] = (float)v;
        else em_set_f64(y->data, s->dtype, (size_t)i, v);
    }
    return EDGEML_OK;
}

/* ---- MelWeightMatrix --------------------------------------------------- */

edgeml_status misc_mel_prepare(em_node *n, edgeml_error *err)
{
    return win_prepare_common(n, err, WIN_MEL);
}

edgeml_status misc_mel_run(em_kctx *c)
{
    const win_state *s = c->node->state;
    int64_t nmel, dftlen, rate;
    double lo, hi;
    edgeml_status st;
    if ((st = misc_scalar_int(c, em_in(c, 0), "num_mel_bins", &nmel)) ||
        (st = misc_scalar_int(c, em_in(c, 1), "dft_length", &dftlen)) ||
        (st = misc_scalar_int(c, em_in(c, 2), "sample_rate", &rate)) ||
        (st = misc_scalar_float(c, em_in(c, 3), "lower_edge_hertz", &lo)) ||
        (st = misc_scalar_float(c, em_in(c, 4), "upper_edge_hertz", &hi)))
        return st;
    if (nmel < 0 || dftlen < 1 || rate < 1)
        return em_fail(c, EDGEML_E_RUNTIME,
                       "invalid num_mel_bins %lld / dft_length %lld / sample_rate %lld",
                       (long long)nmel, (long long)dftlen, (long long)rate);
    int64_t nspec = dftlen / 2 + 1;
    int64_t od[2] = {nspec, nmel};
    em_tensor *y = em_out(c, 0, s->dtype, 2, od);
    if (!y) return c->err->code ? c->err->code : EDGEML_E_NOMEM;
    size_t total = em_numel(y);
    double *w = em_scratch(c, (total ? total : 1) * sizeof(double));
    int64_t *fb = em_scratch(c, (size_t)(nmel + 2) * sizeof(int64_t));
    if (!w || !fb) return em_fail(c, EDGEML_E_NOMEM, "out of memory");
    for (size_t i = 0; i < total; i++) w[i] = 0.0;
    /* Edges on the mel scale (the float32 input precision, as numpy does),
     * num_mel_bins + 2 points spaced by (high - low) / (num_mel_bins + 2). */
    float lo_mel = 2595.0f * log10f(1.0f + (float)lo / 700.0f);
    float hi_mel = 2595.0f * log10f(1.0f + (float)hi / 700.0f);
    double step = (double)(float)((hi_mel - lo_mel) / (float)(nmel + 2));
    for (int64_t i = 0; i < nmel + 2; i++) {
        double m = (double)i * step + (double)lo_mel;
        double hz = 700.0 * (pow(10.0, m / 2595.0) - 1.0);
        double b = floor((double)(dftlen + 1) * hz / (double)rate);
        fb[i] = (b != b) ? 0 : (b > 1e15 ? (int64_t)1e15 : (b < -1e15 ? (int64_t)-1e15 : (int64_t)b));
    }
#define MEL_SET(j, i, v) do { if ((j) >= 0 && (j) < nspec) w[(size_t)(j) * (size_t)nmel + (size_t)(i)] = (v); } while (0)
    for (int64_t i = 0; i < nmel; i++) {
        int64_t l = fb[i], ctr = fb[i + 1], h = fb[i + 2];
        int64_t lc = ctr - l;
        if (lc == 0) {
            MEL_SET(ctr, i, 1.0);
        } else {
            for (int64_t j = l < -1 ? -1 : l; j <= ctr && j <= nspec; j++)
                MEL_SET(j, i, (double)(j - l) / (double)lc);
        }
        int64_t ch = h - ctr;
        if (ch > 0) {
            for (int64_t j = ctr < -1 ? -1 : ctr; j < h && j <= nspec; j++)
                MEL_SET(j, i, (double)(h - j) / (double)ch);
        }
    }
#undef MEL_SET
    for (size_t i = 0; i < total; i++) {
        if (s->dtype == EDGEML_FLOAT) ((float *)y->data)[i] = (float)w[i];
        else em_set_f64(y->data, s->dtype, i, w[i]);
    }
    return EDGEML_OK;
}
