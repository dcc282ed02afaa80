/* Body of the depthwise plane kernel; included once per ISA with
 * EM_DW_NAME defined to the function's name (see dwconv.h). */
#include "dwconv.h"

#include <string.h>

#define B EM_DW_BLOCK

void EM_DW_NAME(const em_dw_geom *g, const float *restrict xp, const float *restrict w, float bias,
                const float *restrict res, float *restrict y)
{
    const int64_t OW = g->OW, WP = g->WP, sw = g->sw, dw = g->dw, kh = g->kh, kw = g->kw;
    for (int64_t oh = 0; oh < g->OH; oh++) {
        const float *restrict xr0 = xp + oh * g->sh * WP;
        float *restrict yr = y + oh * OW;
        const float *restrict rr = res ? res + oh * OW : NULL;
        for (int64_t o0 = 0; o0 < OW; o0 += B) {
            float acc[B];
            for (int t = 0; t < B; t++) acc[t] = bias;
            for (int64_t ki = 0; ki < kh; ki++) {
                const float *restrict xr = xr0 + ki * g->dh * WP + o0 * sw;
                const float *restrict wr = w + ki * kw;
                if (sw == 1) {
                    for (int64_t kj = 0; kj < kw; kj++) {
                        const float wv = wr[kj];
                        const float *restrict xs = xr + kj * dw;
                        for (int t = 0; t < B; t++) acc[t] += wv * xs[t];
                    }
                } else if (sw == 2) {
                    for (int64_t kj = 0; kj < kw; kj++) {
                        const float wv = wr[kj];
                        const float *restrict xs = xr + kj * dw;
                        for (int t = 0; t < B; t++) acc[t] += wv * xs[2 * t];
                    }
                } else {
                    for (int64_t kj = 0; kj < kw; kj++) {
                        const float wv = wr[kj];
                        const float *restrict xs = xr + kj * dw;
                        for (int t = 0; t < B; t++) acc[t] += wv * xs[t * sw];
                    }
                }
            }
            int64_t n = OW - o0 < B ? OW - o0 : B;
            if (rr)
                for (int64_t t = 0; t < n; t++) yr[o0 + t] = acc[t] + rr[o0 + t];
            else if (n == B)
                memcpy(yr + o0, acc, sizeof acc);
            else
                for (int64_t t = 0; t < n; t++) yr[o0 + t] = acc[t];
        }
    }
}
#undef B
