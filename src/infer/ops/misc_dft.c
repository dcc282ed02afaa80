/* DFT (17, 20: axis becomes an input) and STFT (17). Computation in double
 * through misc_fft; float32/float64/float16/bfloat16 tensors. */
#include "misc.h"

#include <math.h>
#include <stdlib.h>

typedef struct dft_state {
    int64_t axis;      /* opset 17 attribute */
    int inverse, onesided;
} dft_state;

edgeml_status misc_dft_prepare(em_node *n, edgeml_error *err)
{
    dft_state *s = malloc(sizeof *s);
    if (!s) return em_node_fail(n, err, EDGEML_E_NOMEM, "out of memory");
    s->axis = em_attr_int(n, "axis", 1);
    s->inverse = em_attr_int(n, "inverse", 0) != 0;
    s->onesided = em_attr_int(n, "onesided", 0) != 0;
    n->state = s;
    if (n->opset >= 20 && em_attr_get(n, "axis"))
        return em_node_fail(n, err, EDGEML_E_MODEL,
                            "attribute 'axis' was replaced by an input in opset 20");
    return EDGEML_OK;
}

/* Loads count complex values (stride in elements between consecutive
 * samples; comps 1 = real, 2 = complex) into dst as interleaved doubles. */
static void load_line(const void *src, int dt, size_t base, size_t stride, int comps,
                      size_t count, double *dst)
{
    switch (dt) {
    case EDGEML_FLOAT: {
        const float *p = (const float *)src + base;
        for (size_t i = 0; i < count; i++, p += stride) {
            dst[2 * i] = p[0];
            dst[2 * i + 1] = comps == 2 ? p[1] : 0.0;
        }
        break;
    }
    case EDGEML_DOUBLE: {
        const double *p = (const double *)src + base;
        for (size_t i = 0; i < count; i++, p += stride) {
            dst[2 * i] = p[0];
            dst[2 * i + 1] = comps == 2 ? p[1] : 0.0;
        }
        break;
    }
    default:
        for (size_t i = 0; i < count; i++) {
            size_t e = base + i * stride;
            dst[2 * i] = em_get_f64(src, dt, e);
            dst[2 * i + 1] = comps == 2 ? em_get_f64(src, dt, e + 1) : 0.0;
        }
        break;
    }
}

/* Stores count complex values scaled by scale to dst (stride in elements
 * between consecutive complex outputs; each output is 2 contiguous elements). */
static void store_line(void *dstv, int dt, size_t base, size_t stride, size_t count,
                       const double *src, double scale)
{
    switch (dt) {
    case EDGEML_FLOAT: {
        float *p = (float *)dstv + base;
        for (size_t i = 0; i < count; i++, p += stride) {
            p[0] = (float)(src[2 * i] * scale);
            p[1] = (float)(src[2 * i + 1] * scale);
        }
        break;
    }
    case EDGEML_DOUBLE: {
        double *p = (double *)dstv + base;
        for (size_t i = 0; i < count; i++, p += stride) {
            p[0] = src[2 * i] * scale;
            p[1] = src[2 * i + 1] * scale;
        }
        break;
    }
    default:
        for (size_t i = 0; i < count; i++) {
            size_t e = base + i * stride;
            em_set_f64(dstv, dt, e, src[2 * i] * scale);
            em_set_f64(dstv, dt, e + 1, src[2 * i + 1] * scale);
        }
        break;
    }
}

edgeml_status misc_dft_run(em_kctx *c)
{
    const dft_state *s = c->node->state;
    const em_tensor *x = em_in(c, 0);
    if (!x) return em_fail(c, EDGEML_E_RUNTIME, "input is missing");
    if (!misc_is_floatish(x->dtype))
        return em_fail(c, EDGEML_E_RUNTIME, "input must be a float tensor");
    int r = x->rank;
    if (r < 2) return em_fail(c, EDGEML_E_RUNTIME, "input must have rank >= 2, got %d", r);
    int64_t comps = x->dims[r - 1];
    if (comps != 1 && comps != 2)
        return em_fail(c, EDGEML_E_RUNTIME,
                       "the last dimension must be 1 (real) or 2 (complex), got %lld",
                       (long long)comps);
    int64_t axis = s->axis;
    if (em_opset(c) >= 20) {
        axis = -2;
        const em_tensor *ta = em_n_in(c) > 2 ? em_in(c, 2) : NULL;
        if (ta) {
            edgeml_status st = misc_scalar_int(c, ta, "axis", &axis);
            if (st) return st;
        }
    }
    int64_t ax = axis < 0 ? axis + r : axis;
    if (ax < 0 || ax > r - 2)
        return em_fail(c, EDGEML_E_RUNTIME, "axis %lld is out of range for rank %d "
                       "(the last dimension holds the complex components)",
                       (long long)axis, r);
    int64_t n_in = x->dims[ax], L = n_in;
    const em_tensor *tl = em_n_in(c) > 1 ? em_in(c, 1) : NULL;
    if (tl) {
        edgeml_status st = misc_scalar_int(c, tl, "dft_length", &L);
        if (st) return st;
        if (L < 1)
            return em_fail(c, EDGEML_E_RUNTIME, "dft_length must be positive, got %lld",
                           (long long)L);
    }
    int64_t out_len = s->onesided ? L / 2 + 1 : L;
    int64_t odims[EM_MAX_RANK];
    memcpy(odims, x->dims, sizeof(int64_t) * (size_t)r);
    odims[ax] = out_len;
    odims[r - 1] = 2;
    size_t on;
    if (!em_shape_numel(r, odims, &on))
        return em_fail(c, EDGEML_E_NOMEM, "output shape overflows");
    em_tensor *y = em_out(c, 0, x->dtype, r, odims);
    if (!y) return c->err->code ? c->err->code : EDGEML_E_NOMEM;
    if (on == 0) return EDGEML_OK;
    size_t outer = 1, inner = 1;
    for (int i = 0; i < ax; i++) outer *= (size_t)x->dims[i];
    for (int i = (int)ax + 1; i < r - 1; i++) inner *= (size_t)x->dims[i];
    double *buf = em_scratch(c, (size_t)L * 2 * sizeof(double));
    if (!buf) return em_fail(c, EDGEML_E_NOMEM, "out of memory");
    size_t take = (size_t)(n_in < L ? n_in : L);
    size_t in_stride = inner * (size_t)comps, out_stride = inner * 2;
    double scale = s->inverse ? 1.0 / (double)L : 1.0;
    misc_fft_plan *plan = misc_fft_plan_new((size_t)L, s->inverse);
    if (!plan) return em_fail(c, EDGEML_E_NOMEM, "out of memory");
    for (size_t o = 0; o < outer; o++) {
        for (size_t i = 0; i < inner; i++) {
            size_t ibase = (o * (size_t)n_in * inner + i) * (size_t)comps;
            size_t obase = (o * (size_t)out_len * inner + i) * 2;
            load_line(x->data, x->dtype, ibase, in_stride, (int)comps, take, buf);
            for (size_t k = take; k < (size_t)L; k++) buf[2 * k] = buf[2 * k + 1] = 0.0;
            misc_fft_exec(plan, buf);
            store_line(y->data, y->dtype, obase, out_stride, (size_t)out_len, buf, scale);
        }
    }
    misc_fft_plan_free(plan);
    return EDGEML_OK;
}

/* ---- STFT -------------------------------------------------------------- */

edgeml_status misc_stft_prepare(em_node *n, edgeml_error *err)
{
    int *s = malloc(sizeof *s);
    if (!s) return em_node_fail(n, err, EDGEML_E_NOMEM, "out of memory");
    *s = em_attr_int(n, "onesided", 1) != 0;
    n->state = s;
    return EDGEML_OK;
}

edgeml_status misc_stft_run(em_kctx *c)
{
    int onesided = *(const int *)c->node->state;
    const em_tensor *x = em_in(c, 0);
    if (!x) return em_fail(c, EDGEML_E_RUNTIME, "signal is missing");
    if (!misc_is_floatish(x->dtype))
        return em_fail(c, EDGEML_E_RUNTIME, "signal must be a float tensor");
    if (x->rank != 3 || (x->dims[2] != 1 && x->dims[2] != 2))
        return em_fail(c, EDGEML_E_RUNTIME,
                       "signal must have shape [batch, length, 1 or 2]");
    int64_t step;
    edgeml_status st = misc_scalar_int(c, em_in(c, 1), "frame_step", &step);
    if (st) return st;
    if (step < 1) return em_fail(c, EDGEML_E_RUNTIME, "frame_step must be positive");
    const em_tensor *w = em_n_in(c) > 2 ? em_in(c, 2) : NULL;
    const em_tensor *tfl = em_n_in(c) > 3 ? em_in(c, 3) : NULL;
    int64_t batch = x->dims[0], slen = x->dims[1], comps = x->dims[2];
    int64_t fl, wlen;
    if (w) {
        if (w->rank != 1) return em_fail(c, EDGEML_E_RUNTIME, "window must have rank 1");
        if (w->dtype != x->dtype)
            return em_fail(c, EDGEML_E_RUNTIME, "window dtype %s differs from signal's %s",
                           em_dtype_name(w->dtype), em_dtype_name(x->dtype));
    }
    if (tfl) {
        st = misc_scalar_int(c, tfl, "frame_length", &fl);
        if (st) return st;
    } else {
        fl = w ? w->dims[0] : slen;
    }
    if (fl < 1) return em_fail(c, EDGEML_E_RUNTIME, "frame_length must be positive");
    wlen = w ? w->dims[0] : fl;
    if (fl > slen)
        return em_fail(c, EDGEML_E_RUNTIME, "frame_length %lld exceeds the signal length %lld",
                       (long long)fl, (long long)slen);
    int64_t frames = 1 + (slen - fl) / step;
    int64_t bins = onesided ? fl / 2 + 1 : fl;
    int64_t od[4] = {batch, frames, bins, 2};
    em_tensor *y = em_out(c, 0, x->dtype, 4, od);
    if (!y) return c->err->code ? c->err->code : EDGEML_E_NOMEM;
    if (em_numel(y) == 0) return EDGEML_OK;
    double *wbuf = em_scratch(c, (size_t)(wlen > 0 ? wlen : 1) * sizeof(double));
    double *buf = em_scratch(c, (size_t)fl * 2 * sizeof(double));
    if (!wbuf || !buf) return em_fail(c, EDGEML_E_NOMEM, "out of memory");
    for (int64_t i = 0; i < wlen; i++) wbuf[i] = w ? em_get_f64(w->data, w->dtype, (size_t)i) : 1.0;
    /* A frame covers samples [f*step, f*step + wlen), zero beyond the signal,
     * weighted by the window, transformed with length fl. */
    int64_t take = wlen < fl ? wlen : fl;
    misc_fft_plan *plan = misc_fft_plan_new((size_t)fl, false);
    if (!plan) return em_fail(c, EDGEML_E_NOMEM, "out of memory");
    for (int64_t b = 0; b < batch; b++) {
        for (int64_t f = 0; f < frames; f++) {
            int64_t start = f * step;
            int64_t avail = slen - start;
            int64_t cnt = take < avail ? take : avail;
            if (cnt < 0) cnt = 0;
            size_t base = (size_t)((b * slen + start) * comps);
            load_line(x->data, x->dtype, base, (size_t)comps, (int)comps, (size_t)cnt, buf);
            for (int64_t k = 0; k < cnt; k++) {
                buf[2 * k] *= wbuf[k];
                buf[2 * k + 1] *= wbuf[k];
            }
            for (int64_t k = cnt; k < fl; k++) buf[2 * k] = buf[2 * k + 1] = 0.0;
            misc_fft_exec(plan, buf);
            size_t obase = (size_t)((b * frames + f) * bins * 2);
            store_line(y->data, y->dtype, obase, 2, (size_t)bins, buf, 1.0);
        }
    }
    misc_fft_plan_free(plan);
    return EDGEML_OK;
}
