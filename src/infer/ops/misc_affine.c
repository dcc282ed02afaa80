/* AffineGrid (20): 2D / 3D sampling grids from batches of affine matrices. */
#include "misc.h"

#include <stdlib.h>

static double grid_coord(int64_t i, int64_t n, bool align)
{
    if (n <= 1) return 0.0;
    if (align) return -1.0 + 2.0 * (double)i / (double)(n - 1);
    return -1.0 + (2.0 * (double)i + 1.0) / (double)n;
}

edgeml_status misc_affine_grid_run(em_kctx *c)
{
    bool align = em_attr_int(c->node, "align_corners", 0) != 0;
    const em_tensor *th = em_in(c, 0), *sz = em_in(c, 1);
    if (!th || !sz) return em_fail(c, EDGEML_E_RUNTIME, "theta and size are required");
    if (!misc_is_floatish(th->dtype))
        return em_fail(c, EDGEML_E_RUNTIME, "theta must be a float tensor");
    if (sz->dtype != EDGEML_INT64 || sz->rank != 1 || (sz->dims[0] != 4 && sz->dims[0] != 5))
        return em_fail(c, EDGEML_E_RUNTIME, "size must be an int64 tensor of 4 or 5 elements");
    const int64_t *s = sz->data;
    int nd = (int)sz->dims[0] - 2; /* 2 or 3 spatial dims */
    if (th->rank != 3 || th->dims[1] != nd || th->dims[2] != nd + 1) {
        char b[128];
        return em_fail(c, EDGEML_E_RUNTIME, "theta has shape %s, expected [N, %d, %d]",
                       em_shape_str(th->rank, th->dims, b, sizeof b), nd, nd + 1);
    }
    int64_t N = s[0];
    if (th->dims[0] != N)
        return em_fail(c, EDGEML_E_RUNTIME, "size[0] = %lld differs from theta's batch %lld",
                       (long long)N, (long long)th->dims[0]);
    for (int i = 0; i < nd + 2; i++)
        if (s[i] < 0) return em_fail(c, EDGEML_E_RUNTIME, "size has a negative entry");
    int64_t D = nd == 3 ? s[2] : 1, H = s[nd == 3 ? 3 : 2], W = s[nd == 3 ? 4 : 3];
    int64_t od[5];
    int orank;
    if (nd == 2) {
        od[0] = N; od[1] = H; od[2] = W; od[3] = 2;
        orank = 4;
    } else {
        od[0] = N; od[1] = D; od[2] = H; od[3] = W; od[4] = 3;
        orank = 5;
    }
    em_tensor *y = em_out(c, 0, th->dtype, orank, od);
    if (!y) return c->err->code ? c->err->code : EDGEML_E_NOMEM;
    if (em_numel(y) == 0) return EDGEML_OK;
    size_t o = 0;
    for (int64_t n = 0; n < N; n++) {
        double t[12];
        for (int i = 0; i < nd * (nd + 1); i++)
            t[i] = em_get_f64(th->data, th->dtype, (size_t)(n * nd * (nd + 1) + i));
        for (int64_t d = 0; d < D; d++) {
            double z = grid_coord(d, D, align);
            for (int64_t h = 0; h < H; h++) {
                double yy = grid_coord(h, H, align);
                for (int64_t w = 0; w < W; w++) {
                    double x = grid_coord(w, W, align);
                    for (int r = 0; r < nd; r++) {
                        const double *row = t + r * (nd + 1);
                        double v = nd == 2 ? row[0] * x + row[1] * yy + row[2]
                                           : row[0] * x + row[1] * yy + row[2] * z + row[3];
                        if (y->dtype == EDGEML_FLOAT) ((float *)y->data)[o] = (float)v;
                        else em_set_f64(y->data, y->dtype, o, v);
                        o++;
                    }
                }
            }
        }
    }
    return EDGEML_OK;
}
