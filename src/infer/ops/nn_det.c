/* Det: determinant of square matrices [*, M, M] via LU with partial pivoting. */
#include "nn.h"

NN_OP(det)
{
    const em_tensor *X = em_in(c, 0);
    EM_CHECK(c, X, "missing input X");
    EM_CHECK(c, nn_is_fp(X->dtype), "unsupported dtype %s", em_dtype_name(X->dtype));
    EM_CHECK(c, X->rank >= 2, "X must have rank >= 2, got %d", X->rank);
    int64_t M = X->dims[X->rank - 1];
    EM_CHECK(c, X->dims[X->rank - 2] == M, "matrices must be square, got %lld x %lld",
             (long long)X->dims[X->rank - 2], (long long)M);
    em_tensor *Y = em_out(c, 0, X->dtype, X->rank - 2, X->dims);
    if (!Y) return c->err->code ? c->err->code : EDGEML_E_NOMEM;
    size_t nb = em_numel(Y), mm = (size_t)M * (size_t)M;
    if (!nb) return EDGEML_OK;
    double *a = em_scratch(c, (mm ? mm : 1) * sizeof(double));
    if (!a) return em_fail(c, EDGEML_E_NOMEM, "out of memory");
    size_t m = (size_t)M;
    for (size_t b = 0; b < nb; b++) {
        for (size_t i = 0; i < mm; i++) a[i] = em_get_f64(X->data, X->dtype, b * mm + i);
        double det = 1.0;
        for (size_t k = 0; k < m; k++) {
            size_t piv = k;
            double best = fabs(a[k * m + k]);
            for (size_t i = k + 1; i < m; i++)
                if (fabs(a[i * m + k]) > best) { best = fabs(a[i * m + k]); piv = i; }
            if (a[piv * m + k] == 0.0) { det = 0.0; break; }
            if (piv != k) {
                for (size_t j = 0; j < m; j++) {
                    double t = a[k * m + j]; a[k * m + j] = a[piv * m + j]; a[piv * m + j] = t;
                }
                det = -det;
            }
            double d = a[k * m + k];
            det *= d;
            for (size_t i = k + 1; i < m; i++) {
                double f = a[i * m + k] / d;
                if (f == 0.0) continue;
                for (size_t j = k + 1; j < m; j++) a[i * m + j] -= f * a[k * m + j];
            }
        }
        em_set_f64(Y->data, Y->dtype, b, det);
    }
    return EDGEML_OK;
}
