/* GridSample (16: 4-D, modes bilinear/nearest/bicubic; 20: N-D, modes
 * linear/nearest/cubic). Both mode spellings are accepted at both versions. */
#include "red.h"

#include <math.h>
#include <stdlib.h>

enum { GM_LINEAR, GM_NEAREST, GM_CUBIC };
enum { GP_ZEROS, GP_BORDER, GP_REFLECTION };

typedef struct {
    int mode, pad, align;
} red_grid_state;

edgeml_status red_grid_prepare(em_node *node, edgeml_error *err)
{
    red_grid_state *s = calloc(1, sizeof *s);
    if (!s) return em_node_fail(node, err, EDGEML_E_NOMEM, "out of memory");
    node->state = s;
    const char *m = em_attr_str(node, "mode", node->opset >= 20 ? "linear" : "bilinear");
    if (strcmp(m, "bilinear") == 0 || strcmp(m, "linear") == 0) s->mode = GM_LINEAR;
    else if (strcmp(m, "nearest") == 0) s->mode = GM_NEAREST;
    else if (strcmp(m, "bicubic") == 0 || strcmp(m, "cubic") == 0) s->mode = GM_CUBIC;
    else return em_node_fail(node, err, EDGEML_E_MODEL, "invalid mode '%s'", m);
    const char *p = em_attr_str(node, "padding_mode", "zeros");
    if (strcmp(p, "zeros") == 0) s->pad = GP_ZEROS;
    else if (strcmp(p, "border") == 0) s->pad = GP_BORDER;
    else if (strcmp(p, "reflection") == 0) s->pad = GP_REFLECTION;
    else return em_node_fail(node, err, EDGEML_E_MODEL, "invalid padding_mode '%s'", p);
    s->align = em_attr_int(node, "align_corners", 0) != 0;
    return EDGEML_OK;
}

static double red_reflect(double x, double lo, double hi)
{
    double rng = hi - lo;
    if (rng <= 0) return lo;
    if (x < lo) {
        double dx = lo - x;
        double n = floor(dx / rng);
        double r = dx - n * rng;
        return fmod(n, 2) == 0 ? lo + r : hi - r;
    }
    if (x > hi) {
        double dx = x - hi;
        double n = floor(dx / rng);
        double r = dx - n * rng;
        return fmod(n, 2) == 0 ? hi - r : lo + r;
    }
    return x;
}

/* Resolves tap index i of a dim of length L; -1 when it reads zero. */
static int64_t red_grid_index(const red_grid_state *s, int64_t i, int64_t L, double lo,
                              double hi)
{
    if (s->pad == GP_ZEROS) return (i >= 0 && i < L) ? i : -1;
    if (s->pad == GP_REFLECTION && (i < 0 || i >= L)) i = (int64_t)red_reflect((double)i, lo, hi);
    return i < 0 ? 0 : (i >= L ? L - 1 : i);
}

static void red_cubic4(double t, double *c)
{
    const double A = -0.75;
    double t1 = t + 1, t2 = 1 - t, t3 = 2 - t;
    c[0] = ((A * t1 - 5 * A) * t1 + 8 * A) * t1 - 4 * A;
    c[1] = ((A + 2) * t - (A + 3)) * t * t + 1;
    c[2] = ((A + 2) * t2 - (A + 3)) * t2 * t2 + 1;
    c[3] = ((A * t3 - 5 * A) * t3 + 8 * A) * t3 - 4 * A;
}

edgeml_status red_grid_run(em_kctx *c)
{
    const red_grid_state *s = c->node->state;
    const em_tensor *X = em_in(c, 0), *Gd = em_in(c, 1);
    EM_CHECK(c, X && Gd, "missing input X or grid");
    int r = X->rank - 2;
    EM_CHECK(c, r >= 1, "X must have rank >= 3, got %d", X->rank);
    EM_CHECK(c, Gd->rank == r + 2, "grid must have rank %d, got %d", r + 2, Gd->rank);
    EM_CHECK(c, Gd->dims[0] == X->dims[0], "grid batch %lld != X batch %lld",
             (long long)Gd->dims[0], (long long)X->dims[0]);
    EM_CHECK(c, Gd->dims[r + 1] == r, "grid last dim must be %d, got %lld", r,
             (long long)Gd->dims[r + 1]);
    EM_CHECK(c, red_is_floatlike(Gd->dtype), "grid must be float, got %s",
             em_dtype_name(Gd->dtype));
    int dt = X->dtype;
    EM_CHECK(c, s->mode == GM_NEAREST || red_is_floatlike(dt) || em_dtype_is_int(dt),
             "mode linear/cubic does not support dtype %s", em_dtype_name(dt));
    int taps1 = s->mode == GM_NEAREST ? 1 : s->mode == GM_LINEAR ? 2 : 4;
    size_t ncomb = 1;
    for (int i = 0; i < r; i++) {
        ncomb *= (size_t)taps1;
        EM_CHECK(c, ncomb <= 4096, "too many spatial dims (%d) for this mode", r);
    }
    int64_t yd[EM_MAX_RANK];
    yd[0] = X->dims[0];
    yd[1] = X->dims[1];
    for (int i = 0; i < r; i++) yd[2 + i] = Gd->dims[1 + i];
    em_tensor *Y = em_out(c, 0, dt, r + 2, yd);
    if (!Y) return c->err->code ? c->err->code : EDGEML_E_NOMEM;
    size_t ny = em_numel(Y);
    if (ny == 0) return EDGEML_OK;
    size_t N = (size_t)X->dims[0], C = (size_t)X->dims[1];
    size_t P = 1, S = 1;
    for (int i = 0; i < r; i++) {
        P *= (size_t)yd[2 + i];
        S *= (size_t)X->dims[2 + i];
    }
    EM_CHECK(c, S > 0, "X has an empty spatial dimension");
    int64_t xs[EM_MAX_RANK];
    em_strides(r, X->dims + 2, xs);
    double lo[EM_MAX_RANK], hi[EM_MAX_RANK];
    for (int i = 0; i < r; i++) {
        double L = (double)X->dims[2 + i];
        lo[i] = s->align ? 0.0 : -0.5;
        hi[i] = s->align ? L - 1 : L - 0.5;
    }
    int64_t *toff = em_scratch(c, ncomb * sizeof(int64_t));
    double *tw = em_scratch(c, ncomb * sizeof(double));
    double *xd = NULL;
    size_t es = em_dtype_size(dt);
    if (s->mode != GM_NEAREST) {
        size_t nx = em_numel(X);
        xd = em_scratch(c, nx * sizeof(double));
        if (!xd) return EDGEML_E_NOMEM;
        if (red_is_floatlike(dt)) {
            for (size_t i = 0; i < nx; i++) xd[i] = red_getf(X->data, dt, i);
        } else {
            bool uns = !em_dtype_is_signed(dt);
            for (size_t i = 0; i < nx; i++) {
                int64_t v = em_get_i64(X->data, dt, i);
                xd[i] = uns ? (double)(uint64_t)v : (double)v;
            }
        }
    }
    if (!toff || !tw) return EDGEML_E_NOMEM;

    for (size_t n = 0; n < N; n++) {
        for (size_t p = 0; p < P; p++) {
            double x[EM_MAX_RANK];
            size_t gb = (n * P + p) * (size_t)r;
            for (int i = 0; i < r; i++) {
                double g = red_getf(Gd->data, Gd->dtype, gb + (size_t)(r - 1 - i));
                double L = (double)X->dims[2 + i];
                double v = s->align ? (g + 1) / 2.0 * (L - 1) : ((g + 1) * L - 1) / 2.0;
                v = (float)v;
                /* Padding is applied per tap (as ONNX Runtime and PyTorch do), not
                 * to the coordinate. */
                if (v != v) v = -1e9; /* NaN: reads padding */
                if (v < -1e9) v = -1e9;
                if (v > 1e9) v = 1e9;
                if (s->mode == GM_NEAREST) v = nearbyint(v);
                x[i] = (float)v;
            }
            /* per-dim taps */
            int64_t ti[EM_MAX_RANK][4];
            double tc[EM_MAX_RANK][4];
            for (int i = 0; i < r; i++) {
                int64_t L = X->dims[2 + i];
                if (s->mode == GM_NEAREST) {
                    int64_t k = (int64_t)x[i];
                    ti[i][0] = red_grid_index(s, k, L, lo[i], hi[i]);
                    tc[i][0] = 1;
                } else {
                    double f0 = floor(x[i]);
                    double t = x[i] - f0;
                    int64_t b = (int64_t)f0;
                    if (s->mode == GM_LINEAR) {
                        tc[i][0] = 1 - t;
                        tc[i][1] = t;
                        ti[i][0] = red_grid_index(s, b, L, lo[i], hi[i]);
                        ti[i][1] = red_grid_index(s, b + 1, L, lo[i], hi[i]);
                    } else {
                        red_cubic4(t, tc[i]);
                        for (int k = 0; k < 4; k++)
                            ti[i][k] = red_grid_index(s, b - 1 + k, L, lo[i], hi[i]);
                    }
                }
            }
            /* combinations */
            size_t nt = 0;
            int cnt[EM_MAX_RANK] = {0};
            for (size_t k = 0; k < ncomb; k++) {
                int64_t off = 0;
                double w = 1;
                bool zero = false;
                for (int i = 0; i < r; i++) {
                    int64_t ix = ti[i][cnt[i]];
                    if (ix < 0) zero = true;
                    else off += ix * xs[i];
                    w *= tc[i][cnt[i]];
                }
                if (!zero && w != 0) {
                    toff[nt] = off;
                    tw[nt] = w;
                    nt++;
                } else if (!zero && s->mode == GM_NEAREST) {
                    toff[nt] = off;
                    tw[nt] = w;
                    nt++;
                }
                for (int i = r - 1; i >= 0; i--) {
                    if (++cnt[i] < taps1) break;
                    cnt[i] = 0;
                }
            }
            for (size_t ch = 0; ch < C; ch++) {
                size_t xb = (n * C + ch) * S;
                size_t yo = (n * C + ch) * P + p;
                if (s->mode == GM_NEAREST) {
                    uint8_t *dst = (uint8_t *)Y->data + yo * es;
                    if (nt == 0) memset(dst, 0, es);
                    else memcpy(dst, (const uint8_t *)X->data + (xb + (size_t)toff[0]) * es, es);
                    continue;
                }
                double acc = 0;
                for (size_t k = 0; k < nt; k++) acc += tw[k] * xd[xb + (size_t)toff[k]];
                if (dt == EDGEML_FLOAT) ((float *)Y->data)[yo] = (float)acc;
                else red_store_num(Y->data, dt, yo, acc);
            }
        }
    }
    return EDGEML_OK;
}
