/* Resize (10, 11, 13, 18, 19) and Upsample (1, 7, 9). Separable per-axis
 * interpolation in double precision; nearest mode gathers directly (all
 * dtypes, strings included). */
#include "red.h"
#include "../cpu/cpu.h"
#include "../pool.h"

#include <math.h>
#include <stdlib.h>

enum { RM_NEAREST, RM_LINEAR, RM_CUBIC };
enum { CT_HALF_PIXEL, CT_HALF_PIXEL_SYM, CT_PYTORCH_HALF_PIXEL, CT_ALIGN_CORNERS, CT_ASYMMETRIC,
       CT_TF_HALF_PIXEL_NN, CT_TF_CROP_AND_RESIZE };
enum { NM_ROUND_PREFER_FLOOR, NM_ROUND_PREFER_CEIL, NM_FLOOR, NM_CEIL, NM_SIMPLE };
enum { KP_STRETCH, KP_NOT_LARGER, KP_NOT_SMALLER };
enum { RS_UPSAMPLE1, RS_UPSAMPLE7, RS_UPSAMPLE9, RS_RESIZE10, RS_RESIZE11 };

typedef struct {
    int form;            /* RS_* : where scales/sizes come from */
    int mode, ctm, nm, policy;
    int antialias, exclude_outside;
    double cubic_a, extrap;
    long n_axes;         /* -1: all */
    int64_t axes[EM_MAX_RANK];
    long n_scales;       /* Upsample-1/7 attribute scales */
    double scales[EM_MAX_RANK];
} red_resize_state;

edgeml_status red_resize_prepare(em_node *node, edgeml_error *err)
{
    red_resize_state *s = calloc(1, sizeof *s);
    if (!s) return em_node_fail(node, err, EDGEML_E_NOMEM, "out of memory");
    node->state = s;
    bool up = strcmp(node->op_type, "Upsample") == 0;
    int v = node->opset;
    if (up) s->form = v >= 9 ? RS_UPSAMPLE9 : v >= 7 ? RS_UPSAMPLE7 : RS_UPSAMPLE1;
    else s->form = v >= 11 ? RS_RESIZE11 : RS_RESIZE10;

    const char *m = em_attr_str(node, "mode", "nearest");
    if (red_streq(m, "nearest")) s->mode = RM_NEAREST;
    else if (red_streq(m, "linear") || red_streq(m, "bilinear") || red_streq(m, "trilinear"))
        s->mode = RM_LINEAR;
    else if (red_streq(m, "cubic") || red_streq(m, "bicubic")) s->mode = RM_CUBIC;
    else return em_node_fail(node, err, EDGEML_E_MODEL, "invalid mode '%s'", m);
    if (s->form != RS_RESIZE11 && s->mode == RM_CUBIC)
        return em_node_fail(node, err, EDGEML_E_MODEL, "mode 'cubic' needs Resize-11 or later");

    s->n_axes = -1;
    s->cubic_a = -0.75;
    if (s->form == RS_RESIZE11) {
        const char *ct = em_attr_str(node, "coordinate_transformation_mode", "half_pixel");
        static const struct { const char *n; int v; } cts[] = {
            {"half_pixel", CT_HALF_PIXEL}, {"half_pixel_symmetric", CT_HALF_PIXEL_SYM},
            {"pytorch_half_pixel", CT_PYTORCH_HALF_PIXEL}, {"align_corners", CT_ALIGN_CORNERS},
            {"asymmetric", CT_ASYMMETRIC}, {"tf_half_pixel_for_nn", CT_TF_HALF_PIXEL_NN},
            {"tf_crop_and_resize", CT_TF_CROP_AND_RESIZE}};
        s->ctm = -1;
        for (size_t i = 0; i < sizeof cts / sizeof cts[0]; i++)
            if (strcmp(ct, cts[i].n) == 0) s->ctm = cts[i].v;
        if (s->ctm < 0)
            return em_node_fail(node, err, EDGEML_E_MODEL,
                                "invalid coordinate_transformation_mode '%s'", ct);
        const char *nm = em_attr_str(node, "nearest_mode", "round_prefer_floor");
        if (strcmp(nm, "round_prefer_floor") == 0) s->nm = NM_ROUND_PREFER_FLOOR;
        else if (strcmp(nm, "round_prefer_ceil") == 0) s->nm = NM_ROUND_PREFER_CEIL;
        else if (strcmp(nm, "floor") == 0) s->nm = NM_FLOOR;
        else if (strcmp(nm, "ceil") == 0) s->nm = NM_CEIL;
        else return em_node_fail(node, err, EDGEML_E_MODEL, "invalid nearest_mode '%s'", nm);
        s->cubic_a = em_attr_float(node, "cubic_coeff_a", -0.75f);
        s->exclude_outside = em_attr_int(node, "exclude_outside", 0) != 0;
        s->extrap = em_attr_float(node, "extrapolation_value", 0.0f);
        if (v >= 18) {
            s->antialias = em_attr_int(node, "antialias", 0) != 0;
            const char *kp = em_attr_str(node, "keep_aspect_ratio_policy", "stretch");
            if (strcmp(kp, "stretch") == 0) s->policy = KP_STRETCH;
            else if (strcmp(kp, "not_larger") == 0) s->policy = KP_NOT_LARGER;
            else if (strcmp(kp, "not_smaller") == 0) s->policy = KP_NOT_SMALLER;
            else return em_node_fail(node, err, EDGEML_E_MODEL,
                                     "invalid keep_aspect_ratio_policy '%s'", kp);
            const int64_t *ax;
            long n = em_attr_ints(node, "axes", &ax);
            if (n >= 0) {
                if (n > EM_MAX_RANK)
                    return em_node_fail(node, err, EDGEML_E_MODEL, "too many axes");
                s->n_axes = n;
                for (long i = 0; i < n; i++) s->axes[i] = ax[i];
            }
        }
    } else {
        s->ctm = CT_ASYMMETRIC;
        s->nm = NM_SIMPLE;
    }
    if (s->form == RS_UPSAMPLE7) {
        const float *sc;
        long n = em_attr_floats(node, "scales", &sc);
        if (n < 0) return em_node_fail(node, err, EDGEML_E_MODEL, "missing attribute 'scales'");
        if (n > EM_MAX_RANK) return em_node_fail(node, err, EDGEML_E_MODEL, "too many scales");
        s->n_scales = n;
        for (long i = 0; i < n; i++) s->scales[i] = sc[i];
    } else if (s->form == RS_UPSAMPLE1) {
        s->n_scales = 4;
        s->scales[0] = s->scales[1] = 1.0;
        s->scales[2] = em_attr_float(node, "height_scale", 1.0f);
        s->scales[3] = em_attr_float(node, "width_scale", 1.0f);
    }
    return EDGEML_OK;
}

/* Per-axis plan. */
typedef struct {
    int64_t L, M;        /* input, output length */
    int n;               /* taps per output (1 for nearest) */
    int64_t *idx;        /* M*n (nearest: -1 = extrapolate) */
    double *w;           /* M*n */
    uint8_t *ext;        /* M: extrapolate */
    bool identity;
} red_axis_plan;

static double red_cubic_w(double x, double A)
{
    x = fabs(x);
    double x2 = x * x, x3 = x2 * x;
    if (x <= 1) return (A + 2) * x3 - (A + 3) * x2 + 1;
    if (x < 2) return A * x3 - 5 * A * x2 + 8 * A * x - 4 * A;
    return 0.0;
}

/* Original coordinate of output position x; *ext set when out of the crop. */
static double red_orig_coord(const red_resize_state *s, double x, double scale, int64_t L,
                             int64_t M, double lres, double r0, double r1, bool *ext)
{
    double xo;
    *ext = false;
    switch (s->ctm) {
    case CT_ALIGN_CORNERS:
        xo = lres == 1 ? 0.0 : x * (double)(L - 1) / (lres - 1);
        break;
    case CT_ASYMMETRIC: xo = x / scale; break;
    case CT_TF_HALF_PIXEL_NN: xo = (x + 0.5) / scale; break;
    case CT_TF_CROP_AND_RESIZE:
        if (lres == 1) xo = (r1 - r0) * (double)(L - 1) / 2;
        else xo = x * (r1 - r0) * (double)(L - 1) / (lres - 1);
        xo += r0 * (double)(L - 1);
        if (xo < 0 || xo > (double)(L - 1)) *ext = true;
        break;
    case CT_PYTORCH_HALF_PIXEL: xo = lres == 1 ? -0.5 : (x + 0.5) / scale - 0.5; break;
    case CT_HALF_PIXEL_SYM: {
        double adj = (double)M / lres;
        double center = (double)L / 2;
        double off = center * (1 - adj);
        xo = off + (x + 0.5) / scale - 0.5;
        break;
    }
    default: xo = (x + 0.5) / scale - 0.5; break;
    }
    /* keep later integer conversions defined for hostile roi values */
    if (xo != xo) xo = 0;
    if (xo < -1e15) xo = -1e15;
    if (xo > 1e15) xo = 1e15;
    return xo;
}

static int64_t red_clampi(int64_t v, int64_t L) { return v < 0 ? 0 : (v >= L ? L - 1 : v); }

static edgeml_status red_make_plan(em_kctx *c, const red_resize_state *s, red_axis_plan *p,
                                   double scale, double lres, double r0, double r1)
{
    int64_t L = p->L, M = p->M;
    size_t sM = (size_t)M;
    p->identity = (L == M);
    if (s->mode == RM_NEAREST) {
        p->n = 1;
        p->idx = em_scratch(c, (sM ? sM : 1) * sizeof(int64_t));
        if (!p->idx) return EDGEML_E_NOMEM;
        for (int64_t j = 0; j < M; j++) {
            bool ext;
            double xo = red_orig_coord(s, (double)j, scale, L, M, lres, r0, r1, &ext);
            int64_t k;
            if (ext) {
                k = -1;
            } else {
                double fl = floor(xo), r = xo - fl;
                switch (s->nm) {
                case NM_ROUND_PREFER_CEIL: k = (int64_t)(r >= 0.5 ? fl + 1 : fl); break;
                case NM_FLOOR: k = (int64_t)fl; break;
                case NM_CEIL: k = (int64_t)ceil(xo); break;
                case NM_SIMPLE: k = scale < 1 ? (int64_t)ceil(xo) : (int64_t)xo; break;
                default: k = (int64_t)(r > 0.5 ? fl + 1 : fl); break;
                }
                k = red_clampi(k, L);
            }
            p->idx[j] = k;
            if (k != j) p->identity = false;
        }
        return EDGEML_OK;
    }
    double se = (s->antialias && scale < 1) ? scale : 1.0;
    double fstart = floor((s->mode == RM_LINEAR ? -1.0 : -2.0) / se) + 1;
    EM_CHECK(c, fstart > -(double)(1 << 19), "interpolation footprint too large (scale %g)", scale);
    int start = (int)fstart;
    int n = 2 - 2 * start;
    p->n = n;
    size_t tot = sM * (size_t)n;
    p->idx = em_scratch(c, (tot ? tot : 1) * sizeof(int64_t));
    p->w = em_scratch(c, (tot ? tot : 1) * sizeof(double));
    p->ext = em_scratch(c, sM ? sM : 1);
    if (!p->idx || !p->w || !p->ext) return EDGEML_E_NOMEM;
    for (int64_t j = 0; j < M; j++) {
        bool ext;
        double xo = red_orig_coord(s, (double)j, scale, L, M, lres, r0, r1, &ext);
        int64_t *ix = p->idx + (size_t)j * (size_t)n;
        double *w = p->w + (size_t)j * (size_t)n;
        p->ext[j] = ext;
        if (ext) {
            p->identity = false;
            for (int t = 0; t < n; t++) { ix[t] = 0; w[t] = 0; }
            continue;
        }
        double fl = floor(xo);
        double ratio = xo - fl;
        int64_t base = (int64_t)fl;
        if (ratio == 0) { ratio = 1; base -= 1; }
        double sum = 0;
        for (int t = 0; t < n; t++) {
            int i = start + t;
            double a = se * ((double)i - ratio);
            double wt;
            if (s->mode == RM_LINEAR) {
                wt = 1 - fabs(a);
                if (wt < 0) wt = 0;
            } else {
                wt = red_cubic_w(a, s->cubic_a);
            }
            int64_t k = base + i;
            if (s->exclude_outside && (k < 0 || k >= L)) wt = 0;
            w[t] = wt;
            ix[t] = red_clampi(k, L);
            sum += wt;
        }
        if (sum != 0 && sum != 1)
            for (int t = 0; t < n; t++) w[t] /= sum;
        for (int t = 0; t < n; t++)
            if (w[t] != 0 && !(w[t] == 1 && ix[t] == j)) p->identity = false;
    }
    return EDGEML_OK;
}

/* Output dims and per-axis scale / resized length / roi of Resize and Upsample. */
static edgeml_status red_resize_dims(em_kctx *c, const red_resize_state *s, const em_tensor *x,
                                     double *scale, double *lres, double *r0, double *r1,
                                     int64_t *od)
{
    int r = x->rank;
    /* axes */
    int axes[EM_MAX_RANK];
    int na = 0;
    if (s->n_axes >= 0) {
        bool seen[EM_MAX_RANK] = {0};
        for (long i = 0; i < s->n_axes; i++) {
            int a;
            EM_CHECK(c, em_axis(s->axes[i], r, &a), "axis %lld out of range",
                     (long long)s->axes[i]);
            EM_CHECK(c, !seen[a], "duplicate axis %d", a);
            seen[a] = true;
            axes[na++] = a;
        }
    } else {
        for (int i = 0; i < r; i++) axes[na++] = i;
    }

    for (int i = 0; i < r; i++) {
        scale[i] = 1;
        od[i] = x->dims[i];
        lres[i] = (double)x->dims[i];
        r0[i] = 0;
        r1[i] = 1;
    }
    const em_tensor *sc = NULL, *sz = NULL, *roi = NULL;
    int nin = em_n_in(c);
    if (s->form == RS_UPSAMPLE9 || s->form == RS_RESIZE10) {
        sc = nin > 1 ? em_in(c, 1) : NULL;
        EM_CHECK(c, sc, "missing input scales");
    } else if (s->form == RS_RESIZE11) {
        roi = nin > 1 ? em_in(c, 1) : NULL;
        sc = nin > 2 ? em_in(c, 2) : NULL;
        sz = nin > 3 ? em_in(c, 3) : NULL;
        if (sc && em_numel(sc) == 0) sc = NULL;
        if (sz && em_numel(sz) == 0) sz = NULL;
        EM_CHECK(c, sc || sz, "one of scales or sizes must be given");
        EM_CHECK(c, !(sc && sz), "only one of scales and sizes may be given");
    }
    if (sc || s->form == RS_UPSAMPLE1 || s->form == RS_UPSAMPLE7) {
        size_t n = sc ? em_numel(sc) : (size_t)s->n_scales;
        EM_CHECK(c, n == (size_t)na, "scales has %zu values, expected %d", n, na);
        if (sc) EM_CHECK(c, red_is_floatlike(sc->dtype), "scales must be float");
        for (int i = 0; i < na; i++) {
            double v = sc ? (double)(float)red_getf(sc->data, sc->dtype, (size_t)i) : s->scales[i];
            EM_CHECK(c, v > 0 && isfinite(v), "scale %g must be > 0", v);
            int a = axes[i];
            scale[a] = v;
            lres[a] = v * (double)x->dims[a];
            EM_CHECK(c, lres[a] < 9.2e18, "output size overflows");
            od[a] = (int64_t)floor(lres[a]);
        }
    } else {
        EM_CHECK(c, sz->dtype == EDGEML_INT64 || sz->dtype == EDGEML_INT32,
                 "sizes must be int64");
        EM_CHECK(c, em_numel(sz) == (size_t)na, "sizes has %zu values, expected %d",
                 em_numel(sz), na);
        for (int i = 0; i < na; i++) {
            int a = axes[i];
            int64_t v = em_get_i64(sz->data, sz->dtype, (size_t)i);
            EM_CHECK(c, v >= 0, "sizes[%d] = %lld is negative", i, (long long)v);
            od[a] = v;
            scale[a] = x->dims[a] ? (double)v / (double)x->dims[a] : 1.0;
        }
        if (s->policy != KP_STRETCH && na > 0) {
            double sc1 = scale[axes[0]];
            for (int i = 1; i < na; i++) {
                double v = scale[axes[i]];
                if (s->policy == KP_NOT_LARGER ? v < sc1 : v > sc1) sc1 = v;
            }
            for (int i = 0; i < na; i++) {
                int a = axes[i];
                scale[a] = sc1;
                od[a] = (int64_t)(sc1 * (double)x->dims[a] + 0.5);
            }
        }
        for (int i = 0; i < na; i++) lres[axes[i]] = scale[axes[i]] * (double)x->dims[axes[i]];
    }
    if (s->ctm == CT_TF_CROP_AND_RESIZE) {
        EM_CHECK(c, roi && em_numel(roi) > 0, "coordinate_transformation_mode "
                 "tf_crop_and_resize needs roi");
        EM_CHECK(c, red_is_floatlike(roi->dtype), "roi must be float");
        EM_CHECK(c, em_numel(roi) == (size_t)(2 * na), "roi has %zu values, expected %d",
                 em_numel(roi), 2 * na);
        for (int i = 0; i < na; i++) {
            r0[axes[i]] = red_getf(roi->data, roi->dtype, (size_t)i);
            r1[axes[i]] = red_getf(roi->data, roi->dtype, (size_t)(na + i));
        }
    }

    return EDGEML_OK;
}

static edgeml_status red_resize_ref_run(em_kctx *c)
{
    const red_resize_state *s = c->node->state;
    const em_tensor *x = em_in(c, 0);
    EM_CHECK(c, x, "missing input X");
    int r = x->rank, dt = x->dtype;
    EM_CHECK(c, r >= 1, "X must have rank >= 1");
    EM_CHECK(c, s->mode == RM_NEAREST || red_is_floatlike(dt) || em_dtype_is_int(dt),
             "mode linear/cubic does not support dtype %s", em_dtype_name(dt));

    double scale[EM_MAX_RANK], lres[EM_MAX_RANK], r0[EM_MAX_RANK], r1[EM_MAX_RANK];
    int64_t od[EM_MAX_RANK];
    edgeml_status st0 = red_resize_dims(c, s, x, scale, lres, r0, r1, od);
    if (st0) return st0;
    em_tensor *y = em_out(c, 0, dt, r, od);
    if (!y) return c->err->code ? c->err->code : EDGEML_E_NOMEM;
    size_t nout = em_numel(y);
    if (nout == 0) return EDGEML_OK;
    size_t nx = em_numel(x);
    EM_CHECK(c, nx > 0, "cannot resize an empty input to a non-empty output");

    red_axis_plan plan[EM_MAX_RANK];
    for (int a = 0; a < r; a++) {
        plan[a].L = x->dims[a];
        plan[a].M = od[a];
        plan[a].idx = NULL;
        plan[a].w = NULL;
        plan[a].ext = NULL;
        edgeml_status st = red_make_plan(c, s, &plan[a], scale[a], lres[a], r0[a], r1[a]);
        if (st) return st;
    }

    if (s->mode == RM_NEAREST) {
        size_t es = em_dtype_size(dt);
        EM_CHECK(c, es > 0, "unsupported dtype");
        int64_t istr[EM_MAX_RANK];
        em_strides(r, x->dims, istr);
        /* extrapolation element */
        uint8_t extv[16] = {0};
        if (dt != EDGEML_STRING) red_store_num(extv, dt, 0, s->extrap);
        const uint8_t *src = x->data;
        uint8_t *dst = y->data;
        int64_t idx[EM_MAX_RANK] = {0};
        size_t M = (size_t)od[r - 1];
        size_t rows = nout / M;
        const red_axis_plan *pl = &plan[r - 1];
        for (size_t row = 0; row < rows; row++) {
            int64_t off = 0;
            bool ext = false;
            for (int a = 0; a < r - 1; a++) {
                int64_t k = plan[a].idx[idx[a]];
                if (k < 0) ext = true;
                else off += k * istr[a];
            }
            uint8_t *d = dst + row * M * es;
            for (size_t j = 0; j < M; j++) {
                int64_t k = pl->idx[j];
                if (ext || k < 0) memcpy(d + j * es, extv, es);
                else memcpy(d + j * es, src + (size_t)(off + k) * es, es);
            }
            for (int a = r - 2; a >= 0; a--) {
                if (++idx[a] < od[a]) break;
                idx[a] = 0;
            }
        }
        return EDGEML_OK;
    }

    /* linear / cubic: separable passes over double buffers */
    double *cur = em_scratch(c, nx * sizeof(double));
    if (!cur) return EDGEML_E_NOMEM;
    if (dt == EDGEML_FLOAT) {
        const float *xf = x->data;
        for (size_t i = 0; i < nx; i++) cur[i] = xf[i];
    } else if (red_is_floatlike(dt)) {
        for (size_t i = 0; i < nx; i++) cur[i] = red_getf(x->data, dt, i);
    } else {
        bool uns = !em_dtype_is_signed(dt);
        for (size_t i = 0; i < nx; i++) {
            int64_t v = em_get_i64(x->data, dt, i);
            cur[i] = uns ? (double)(uint64_t)v : (double)v;
        }
    }
    int64_t cd[EM_MAX_RANK];
    for (int a = 0; a < r; a++) cd[a] = x->dims[a];
    for (int a = r - 1; a >= 0; a--) {
        const red_axis_plan *p = &plan[a];
        if (p->identity) {
            cd[a] = p->M;
            continue;
        }
        size_t outer = 1, inner = 1;
        for (int b = 0; b < a; b++) outer *= (size_t)cd[b];
        for (int b = a + 1; b < r; b++) inner *= (size_t)cd[b];
        size_t L = (size_t)p->L, M = (size_t)p->M, n = (size_t)p->n;
        size_t tot;
        int64_t nd[3] = {(int64_t)outer, (int64_t)M, (int64_t)inner};
        EM_CHECK(c, em_shape_numel(3, nd, &tot) && tot < SIZE_MAX / 8, "sizes overflow");
        double *nxt = em_scratch(c, (tot ? tot : 1) * sizeof(double));
        if (!nxt) return EDGEML_E_NOMEM;
        for (size_t o = 0; o < outer; o++) {
            const double *in = cur + o * L * inner;
            double *out = nxt + o * M * inner;
            for (size_t j = 0; j < M; j++) {
                double *orow = out + j * inner;
                if (p->ext[j]) {
                    for (size_t k = 0; k < inner; k++) orow[k] = s->extrap;
                    continue;
                }
                for (size_t k = 0; k < inner; k++) orow[k] = 0;
                for (size_t t = 0; t < n; t++) {
                    double w = p->w[j * n + t];
                    if (w == 0) continue;
                    const double *irow = in + (size_t)p->idx[j * n + t] * inner;
                    for (size_t k = 0; k < inner; k++) orow[k] += w * irow[k];
                }
            }
        }
        cur = nxt;
        cd[a] = p->M;
    }
    if (dt == EDGEML_FLOAT) {
        float *yf = y->data;
        for (size_t i = 0; i < nout; i++) yf[i] = (float)cur[i];
    } else if (dt == EDGEML_DOUBLE) {
        memcpy(y->data, cur, nout * sizeof(double));
    } else {
        for (size_t i = 0; i < nout; i++) red_store_num(y->data, dt, i, cur[i]);
    }
    return EDGEML_OK;
}

/* ---- float32 fast path (issue 10) -------------------------------------------------
 * Nearest and linear over the last two axes (every other axis unchanged), in
 * the half_pixel, asymmetric, align_corners and pytorch_half_pixel modes (and
 * Upsample's / Resize-10's asymmetric): per-axis index and weight tables are
 * built with the reference's coordinate rules once per input shapes (reshape)
 * when scales / sizes are constants, else once per run (cheap: OH + OW entries), then run goes over output rows on the pool:
 * nearest gathers, linear blends the two source rows vertically into a line
 * and gathers it horizontally. Everything else runs red_resize_ref_run. */


typedef struct rz_rs {
    bool linear;
    size_t planes, IH, IW, OH, OW;
    int rank;
    int64_t od[EM_MAX_RANK];
    /* nearest: iy[OH], ix[OW]; linear: y0, y1 [OH], x0, x1 [OW] (int32), then
     * wy0, wy1 [OH], wx0, wx1 [OW] (float) */
    int32_t *iy, *ix, *y1, *x1;
    float *wy0, *wy1, *wx0, *wx1;
    int32_t tab[];
} rz_rs;

static int64_t rz_nearest(const red_resize_state *s, double xo, double scale, int64_t L)
{
    double fl = floor(xo), r = xo - fl;
    int64_t k;
    switch (s->nm) {
    case NM_ROUND_PREFER_CEIL: k = (int64_t)(r >= 0.5 ? fl + 1 : fl); break;
    case NM_FLOOR: k = (int64_t)fl; break;
    case NM_CEIL: k = (int64_t)ceil(xo); break;
    case NM_SIMPLE: k = scale < 1 ? (int64_t)ceil(xo) : (int64_t)xo; break;
    default: k = (int64_t)(r > 0.5 ? fl + 1 : fl); break;
    }
    return red_clampi(k, L);
}

/* Tables of one axis (L -> M). */
static void rz_axis(const red_resize_state *s, bool linear, int64_t L, int64_t M, double scale,
                    double lres, int32_t *i0, int32_t *i1, float *w0, float *w1)
{
    for (int64_t j = 0; j < M; j++) {
        bool ext;
        double xo = red_orig_coord(s, (double)j, scale, L, M, lres, 0, 1, &ext);
        if (!linear) {
            i0[j] = (int32_t)rz_nearest(s, xo, scale, L);
            continue;
        }
        double fl = floor(xo), ratio = xo - fl;
        int64_t base = (int64_t)fl;
        if (ratio == 0) { ratio = 1; base -= 1; }
        double a = 1 - ratio, b = ratio, sum = a + b;
        i0[j] = (int32_t)red_clampi(base, L);
        i1[j] = (int32_t)red_clampi(base + 1, L);
        w0[j] = (float)(a / sum);
        w1[j] = (float)(b / sum);
    }
}

/* True when scales / sizes / roi are constants: the tables are then made once per input
 * shapes (reshape); otherwise per run (run-time sizes, e.g. a Shape -> Concat of the
 * input's dims, which the loader cannot fold). */
static bool rz_const_params(const em_kctx *c)
{
    for (int i = 1; i < em_n_in(c); i++)
        if (c->node->in[i] >= 0 && !em_node_const_input(c->node, i)) return false;
    return true;
}

/* The tables for the current inputs, or *out = NULL when the fast path does not apply.
 * per_run: in scratch memory (freed when the node returns), else malloc'd. */
static edgeml_status rz_make(em_kctx *c, bool per_run, rz_rs **out)
{
    const red_resize_state *s = c->node->state;
    const em_tensor *x = em_in(c, 0);
    *out = NULL;
    if (em_cpu_level_get() == EM_CPU_REFERENCE || !x || x->dtype != EDGEML_FLOAT || x->rank < 2 ||
        em_numel(x) == 0)
        return EDGEML_OK;
    if (s->mode != RM_NEAREST && s->mode != RM_LINEAR) return EDGEML_OK;
    if (s->ctm != CT_HALF_PIXEL && s->ctm != CT_ASYMMETRIC && s->ctm != CT_ALIGN_CORNERS &&
        s->ctm != CT_PYTORCH_HALF_PIXEL)
        return EDGEML_OK;
    if (s->antialias || (s->mode == RM_LINEAR && s->exclude_outside)) return EDGEML_OK;
    double scale[EM_MAX_RANK], lres[EM_MAX_RANK], r0[EM_MAX_RANK], r1[EM_MAX_RANK];
    int64_t od[EM_MAX_RANK];
    edgeml_status st = red_resize_dims(c, s, x, scale, lres, r0, r1, od);
    if (st) return st;
    int r = x->rank;
    size_t planes = 1;
    for (int a = 0; a < r - 2; a++) {
        if (od[a] != x->dims[a] || scale[a] != 1.0) return EDGEML_OK;
        planes *= (size_t)od[a];
    }
    int64_t IH = x->dims[r - 2], IW = x->dims[r - 1], OH = od[r - 2], OW = od[r - 1];
    if (OH <= 0 || OW <= 0 || IH > INT32_MAX || IW > INT32_MAX || OH > (1 << 24) || OW > (1 << 24))
        return EDGEML_OK;
    bool lin = s->mode == RM_LINEAR;
    size_t n = lin ? 4 * (size_t)(OH + OW) : (size_t)(OH + OW);
    rz_rs *p = per_run ? em_scratch(c, sizeof *p + n * 4) : malloc(sizeof *p + n * 4);
    if (!p) return em_fail(c, EDGEML_E_NOMEM, "out of memory");
    p->linear = lin;
    p->planes = planes;
    p->IH = (size_t)IH; p->IW = (size_t)IW; p->OH = (size_t)OH; p->OW = (size_t)OW;
    p->rank = r;
    memcpy(p->od, od, (size_t)r * sizeof(int64_t));
    int32_t *t = p->tab;
    p->iy = t; t += OH;
    p->ix = t; t += OW;
    p->y1 = p->x1 = NULL;
    p->wy0 = p->wy1 = p->wx0 = p->wx1 = NULL;
    if (lin) {
        p->y1 = t; t += OH;
        p->x1 = t; t += OW;
        float *f = (float *)t;
        p->wy0 = f; f += OH;
        p->wy1 = f; f += OH;
        p->wx0 = f; f += OW;
        p->wx1 = f;
    }
    rz_axis(s, lin, IH, OH, scale[r - 2], lres[r - 2], p->iy, p->y1, p->wy0, p->wy1);
    rz_axis(s, lin, IW, OW, scale[r - 1], lres[r - 1], p->ix, p->x1, p->wx0, p->wx1);
    *out = p;
    return EDGEML_OK;
}

edgeml_status red_resize_reshape(em_kctx *c, void **out, size_t *ws)
{
    *ws = 0;
    if (!rz_const_params(c)) return EDGEML_OK;
    rz_rs *p;
    edgeml_status st = rz_make(c, false, &p);
    *out = p;
    return st;
}

typedef struct rz_job { const rz_rs *r; const float *x; float *y; } rz_job;

static void rz_rows(void *ctx, size_t b, size_t e)
{
    const rz_job *j = ctx;
    const rz_rs *r = j->r;
    size_t OW = r->OW, IW = r->IW;
    float *line = NULL;
    if (r->linear && !(line = malloc((IW ? IW : 1) * sizeof(float)))) {
        /* no line buffer: blend the four taps directly (same weights) */
        for (size_t t = b; t < e; t++) {
            size_t p = t / r->OH, oy = t % r->OH;
            const float *s0 = j->x + (p * r->IH + (size_t)r->iy[oy]) * IW;
            const float *s1 = j->x + (p * r->IH + (size_t)r->y1[oy]) * IW;
            float wa = r->wy0[oy], wb = r->wy1[oy], *d = j->y + t * OW;
            for (size_t ox = 0; ox < OW; ox++) {
                size_t i0 = (size_t)r->ix[ox], i1 = (size_t)r->x1[ox];
                d[ox] = r->wx0[ox] * (wa * s0[i0] + wb * s1[i0]) + r->wx1[ox] * (wa * s0[i1] + wb * s1[i1]);
            }
        }
        return;
    }
    for (size_t t = b; t < e; t++) {
        size_t p = t / r->OH, oy = t % r->OH;
        float *d = j->y + t * OW;
        if (!r->linear) {
            const float *src = j->x + (p * r->IH + (size_t)r->iy[oy]) * IW;
            if (t > b && oy > 0 && r->iy[oy] == r->iy[oy - 1]) {
                memcpy(d, d - OW, OW * sizeof(float));
                continue;
            }
            for (size_t ox = 0; ox < OW; ox++) d[ox] = src[r->ix[ox]];
            continue;
        }
        const float *s0 = j->x + (p * r->IH + (size_t)r->iy[oy]) * IW;
        const float *s1 = j->x + (p * r->IH + (size_t)r->y1[oy]) * IW;
        float wa = r->wy0[oy], wb = r->wy1[oy];
        for (size_t i = 0; i < IW; i++) line[i] = wa * s0[i] + wb * s1[i];
        for (size_t ox = 0; ox < OW; ox++)
            d[ox] = r->wx0[ox] * line[r->ix[ox]] + r->wx1[ox] * line[r->x1[ox]];
    }
    free(line);
}

edgeml_status red_resize_run(em_kctx *c)
{
    const rz_rs *r = c->rs;
    if (em_cpu_level_get() == EM_CPU_REFERENCE) return red_resize_ref_run(c);
    if (!r && !rz_const_params(c)) {
        rz_rs *p;
        edgeml_status st = rz_make(c, true, &p);
        if (st) return st;
        r = p;
    }
    if (!r) return red_resize_ref_run(c);
    const em_tensor *x = em_in(c, 0);
    em_tensor *y = em_out(c, 0, EDGEML_FLOAT, r->rank, r->od);
    if (!y) return c->err->code ? c->err->code : EDGEML_E_NOMEM;
    rz_job j = {r, x->data, y->data};
    size_t rows = r->planes * r->OH;
    em_parallel_for(c->pool, c->threads, rows, 1 + 8192 / (r->OW + r->IW + 1), rz_rows, &j);
    return EDGEML_OK;
}
