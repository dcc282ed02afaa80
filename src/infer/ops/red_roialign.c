/* RoiAlign (10, 16). */
#include "red.h"

#include <math.h>
#include <stdlib.h>

typedef struct {
    int is_max;
    int half_pixel;
    int64_t oh, ow, sr;
    float ss;
} red_roi_state;

edgeml_status red_roialign_prepare(em_node *node, edgeml_error *err)
{
    red_roi_state *s = calloc(1, sizeof *s);
    if (!s) return em_node_fail(node, err, EDGEML_E_NOMEM, "out of memory");
    node->state = s;
    const char *m = em_attr_str(node, "mode", "avg");
    if (strcmp(m, "avg") == 0) s->is_max = 0;
    else if (strcmp(m, "max") == 0) s->is_max = 1;
    else return em_node_fail(node, err, EDGEML_E_MODEL, "invalid mode '%s'", m);
    if (node->opset >= 16) {
        const char *ct = em_attr_str(node, "coordinate_transformation_mode", "half_pixel");
        if (strcmp(ct, "half_pixel") == 0) s->half_pixel = 1;
        else if (strcmp(ct, "output_half_pixel") == 0) s->half_pixel = 0;
        else return em_node_fail(node, err, EDGEML_E_MODEL,
                                 "invalid coordinate_transformation_mode '%s'", ct);
    }
    s->oh = em_attr_int(node, "output_height", 1);
    s->ow = em_attr_int(node, "output_width", 1);
    s->sr = em_attr_int(node, "sampling_ratio", 0);
    s->ss = em_attr_float(node, "spatial_scale", 1.0f);
    if (s->oh <= 0 || s->ow <= 0)
        return em_node_fail(node, err, EDGEML_E_MODEL, "output_height/width must be > 0");
    if (s->sr < 0) return em_node_fail(node, err, EDGEML_E_MODEL, "sampling_ratio must be >= 0");
    return EDGEML_OK;
}

typedef struct {
    size_t p[4];
    double w[4];
} red_roi_pc;

edgeml_status red_roialign_run(em_kctx *c)
{
    const red_roi_state *s = c->node->state;
    const em_tensor *X = em_in(c, 0), *R = em_in(c, 1), *BI = em_in(c, 2);
    EM_CHECK(c, X && R && BI, "missing input X, rois or batch_indices");
    EM_CHECK(c, red_is_floatlike(X->dtype), "X must be float, got %s", em_dtype_name(X->dtype));
    EM_CHECK(c, X->rank == 4, "X must have rank 4, got %d", X->rank);
    EM_CHECK(c, red_is_floatlike(R->dtype), "rois must be float");
    EM_CHECK(c, R->rank == 2 && R->dims[1] == 4, "rois must have shape [num_rois, 4]");
    EM_CHECK(c, em_dtype_is_int(BI->dtype), "batch_indices must be int64");
    EM_CHECK(c, BI->rank == 1 && BI->dims[0] == R->dims[0],
             "batch_indices must have shape [num_rois=%lld]", (long long)R->dims[0]);
    int64_t N = X->dims[0], C = X->dims[1], H = X->dims[2], W = X->dims[3];
    int64_t nr = R->dims[0];
    int64_t yd[4] = {nr, C, s->oh, s->ow};
    em_tensor *Y = em_out(c, 0, X->dtype, 4, yd);
    if (!Y) return c->err->code ? c->err->code : EDGEML_E_NOMEM;
    if (em_numel(Y) == 0) return EDGEML_OK;
    EM_CHECK(c, H > 0 && W > 0, "X has an empty spatial dimension");
    const float *xf = red_to_f32(c, X);
    if (!xf) return EDGEML_E_NOMEM;
    size_t HW = (size_t)H * (size_t)W;
    size_t OH = (size_t)s->oh, OW = (size_t)s->ow;
    double off = s->half_pixel ? 0.5 : 0.0;
    for (int64_t n = 0; n < nr; n++) {
        int64_t b = em_get_i64(BI->data, BI->dtype, (size_t)n);
        EM_CHECK(c, b >= 0 && b < N, "batch_indices[%lld] = %lld out of range [0, %lld)",
                 (long long)n, (long long)b, (long long)N);
        double x1 = red_getf(R->data, R->dtype, (size_t)n * 4 + 0) * s->ss - off;
        double y1 = red_getf(R->data, R->dtype, (size_t)n * 4 + 1) * s->ss - off;
        double x2 = red_getf(R->data, R->dtype, (size_t)n * 4 + 2) * s->ss - off;
        double y2 = red_getf(R->data, R->dtype, (size_t)n * 4 + 3) * s->ss - off;
        double rw = x2 - x1, rh = y2 - y1;
        if (!s->half_pixel) {
            if (rw < 1) rw = 1;
            if (rh < 1) rh = 1;
        }
        double bh = rh / (double)s->oh, bw = rw / (double)s->ow;
        double gfh = s->sr > 0 ? (double)s->sr : ceil(rh / (double)s->oh);
        double gfw = s->sr > 0 ? (double)s->sr : ceil(rw / (double)s->ow);
        EM_CHECK(c, isfinite(gfh) && isfinite(gfw) && gfh < 1e6 && gfw < 1e6,
                 "roi %lld is too large or not finite", (long long)n);
        int64_t gh = gfh > 0 ? (int64_t)gfh : 0, gw = gfw > 0 ? (int64_t)gfw : 0;
        double count = (double)(gh * gw > 1 ? gh * gw : 1);
        EM_CHECK(c, (double)gh * (double)gw * (double)OH * (double)OW < (double)(1u << 28),
                 "roi %lld needs too many samples", (long long)n);
        size_t ns = (size_t)(gh * gw);
        size_t npc = ns * OH * OW;
        red_roi_pc *pc = em_scratch(c, (npc > 0 ? npc : 1) * sizeof(red_roi_pc));
        if (!pc) return EDGEML_E_NOMEM;
        size_t k = 0;
        for (size_t ph = 0; ph < OH; ph++)
            for (size_t pw = 0; pw < OW; pw++)
                for (int64_t iy = 0; iy < gh; iy++) {
                    double yy = y1 + (double)ph * bh + ((double)iy + 0.5) * bh / (double)gh;
                    for (int64_t ix = 0; ix < gw; ix++, k++) {
                        double xx = x1 + (double)pw * bw + ((double)ix + 0.5) * bw / (double)gw;
                        red_roi_pc *q = &pc[k];
                        double y = yy, x = xx;
                        if (!(y >= -1.0 && y <= (double)H && x >= -1.0 && x <= (double)W)) {
                            memset(q, 0, sizeof *q);
                            continue;
                        }
                        if (y <= 0) y = 0;
                        if (x <= 0) x = 0;
                        int64_t yl = (int64_t)y, xl = (int64_t)x, yh, xh;
                        if (yl >= H - 1) { yh = yl = H - 1; y = (double)yl; }
                        else yh = yl + 1;
                        if (xl >= W - 1) { xh = xl = W - 1; x = (double)xl; }
                        else xh = xl + 1;
                        double ly = y - (double)yl, lx = x - (double)xl;
                        double hy = 1 - ly, hx = 1 - lx;
                        q->w[0] = hy * hx; q->w[1] = hy * lx;
                        q->w[2] = ly * hx; q->w[3] = ly * lx;
                        q->p[0] = (size_t)(yl * W + xl); q->p[1] = (size_t)(yl * W + xh);
                        q->p[2] = (size_t)(yh * W + xl); q->p[3] = (size_t)(yh * W + xh);
                    }
                }
        for (int64_t ch = 0; ch < C; ch++) {
            const float *img = xf + ((size_t)b * (size_t)C + (size_t)ch) * HW;
            size_t yb = ((size_t)n * (size_t)C + (size_t)ch) * OH * OW;
            for (size_t q = 0; q < OH * OW; q++) {
                const red_roi_pc *pp = pc + q * ns;
                double v;
                if (!s->is_max) {
                    double sum = 0;
                    for (size_t t = 0; t < ns; t++)
                        sum += pp[t].w[0] * img[pp[t].p[0]] + pp[t].w[1] * img[pp[t].p[1]] +
                               pp[t].w[2] * img[pp[t].p[2]] + pp[t].w[3] * img[pp[t].p[3]];
                    v = sum / count;
                } else {
                    v = 0;
                    for (size_t t = 0; t < ns; t++) {
                        double m = pp[t].w[0] * img[pp[t].p[0]];
                        for (int j = 1; j < 4; j++) {
                            double e = pp[t].w[j] * img[pp[t].p[j]];
                            if (e > m) m = e;
                        }
                        if (t == 0 || m > v) v = m;
                    }
                }
                red_setf(Y->data, Y->dtype, yb + q, v);
            }
        }
    }
    return EDGEML_OK;
}
