/* NonMaxSuppression (10, 11). */
#include "red.h"

#include <math.h>
#include <stdlib.h>

typedef struct {
    int center;
} red_nms_state;

edgeml_status red_nms_prepare(em_node *node, edgeml_error *err)
{
    red_nms_state *s = calloc(1, sizeof *s);
    if (!s) return em_node_fail(node, err, EDGEML_E_NOMEM, "out of memory");
    node->state = s;
    int64_t cp = em_attr_int(node, "center_point_box", 0);
    if (cp != 0 && cp != 1)
        return em_node_fail(node, err, EDGEML_E_MODEL, "center_point_box must be 0 or 1");
    s->center = (int)cp;
    return EDGEML_OK;
}

typedef struct {
    double score;
    int64_t idx;
} red_cand;

static int red_cand_cmp(const void *a, const void *b)
{
    const red_cand *x = a, *y = b;
    if (x->score > y->score) return -1;
    if (x->score < y->score) return 1;
    return x->idx < y->idx ? -1 : (x->idx > y->idx);
}

/* box as (ymin, xmin, ymax, xmax) */
static void red_box(const em_tensor *bx, size_t base, int center, double *o)
{
    double a = red_getf(bx->data, bx->dtype, base), b = red_getf(bx->data, bx->dtype, base + 1);
    double c = red_getf(bx->data, bx->dtype, base + 2), d = red_getf(bx->data, bx->dtype, base + 3);
    if (center) {
        /* x_center, y_center, width, height */
        o[0] = b - d / 2; o[2] = b + d / 2;
        o[1] = a - c / 2; o[3] = a + c / 2;
    } else {
        o[0] = fmin(a, c); o[2] = fmax(a, c);
        o[1] = fmin(b, d); o[3] = fmax(b, d);
    }
}

static bool red_suppress(const double *a, const double *b, double thr)
{
    double ia = (a[2] - a[0]) * (a[3] - a[1]);
    double ib = (b[2] - b[0]) * (b[3] - b[1]);
    if (ia <= 0 || ib <= 0) return false;
    double ymin = fmax(a[0], b[0]), xmin = fmax(a[1], b[1]);
    double ymax = fmin(a[2], b[2]), xmax = fmin(a[3], b[3]);
    double inter = fmax(ymax - ymin, 0) * fmax(xmax - xmin, 0);
    if (inter <= 0) return false;
    double uni = ia + ib - inter;
    if (uni <= 0) return false;
    return inter / uni > thr;
}

edgeml_status red_nms_run(em_kctx *c)
{
    const red_nms_state *s = c->node->state;
    int nin = em_n_in(c);
    const em_tensor *bx = em_in(c, 0), *sc = em_in(c, 1);
    const em_tensor *mo = nin > 2 ? em_in(c, 2) : NULL;
    const em_tensor *it = nin > 3 ? em_in(c, 3) : NULL;
    const em_tensor *st = nin > 4 ? em_in(c, 4) : NULL;
    EM_CHECK(c, bx && sc, "missing input boxes or scores");
    EM_CHECK(c, red_is_floatlike(bx->dtype) && red_is_floatlike(sc->dtype),
             "boxes and scores must be float");
    EM_CHECK(c, bx->rank == 3 && bx->dims[2] == 4, "boxes must have shape [B, N, 4]");
    EM_CHECK(c, sc->rank == 3, "scores must have rank 3");
    EM_CHECK(c, sc->dims[0] == bx->dims[0] && sc->dims[2] == bx->dims[1],
             "scores shape must be [B=%lld, C, N=%lld]", (long long)bx->dims[0],
             (long long)bx->dims[1]);
    int64_t maxo = 0;
    if (mo && em_numel(mo) > 0) {
        EM_CHECK(c, em_dtype_is_int(mo->dtype), "max_output_boxes_per_class must be int64");
        maxo = em_get_i64(mo->data, mo->dtype, 0);
    }
    if (maxo < 0) maxo = 0;
    double thr = 0, sthr = -INFINITY;
    if (it && em_numel(it) > 0) {
        EM_CHECK(c, red_is_floatlike(it->dtype), "iou_threshold must be float");
        thr = red_getf(it->data, it->dtype, 0);
        EM_CHECK(c, thr >= 0 && thr <= 1, "iou_threshold %g must be in [0, 1]", thr);
    }
    bool has_st = false;
    if (st && em_numel(st) > 0) {
        EM_CHECK(c, red_is_floatlike(st->dtype), "score_threshold must be float");
        sthr = red_getf(st->data, st->dtype, 0);
        has_st = true;
    }
    size_t B = (size_t)bx->dims[0], NB = (size_t)bx->dims[1], NC = (size_t)sc->dims[1];
    size_t cap = 0;
    if (maxo > 0) {
        size_t per = (uint64_t)maxo < NB ? (size_t)maxo : NB;
        cap = B * NC * per;
    }
    int64_t *sel = em_scratch(c, (cap ? cap : 1) * 3 * sizeof(int64_t));
    red_cand *cand = em_scratch(c, (NB ? NB : 1) * sizeof(red_cand));
    double *boxes = em_scratch(c, (NB ? NB : 1) * 4 * sizeof(double));
    size_t *kept = em_scratch(c, (NB ? NB : 1) * sizeof(size_t));
    if (!sel || !cand || !boxes || !kept) return EDGEML_E_NOMEM;
    size_t nsel = 0;
    if (maxo > 0) {
        for (size_t b = 0; b < B; b++) {
            for (size_t i = 0; i < NB; i++)
                red_box(bx, (b * NB + i) * 4, s->center, boxes + i * 4);
            for (size_t cl = 0; cl < NC; cl++) {
                size_t nc = 0;
                for (size_t i = 0; i < NB; i++) {
                    double v = red_getf(sc->data, sc->dtype, (b * NC + cl) * NB + i);
                    if (v != v || (has_st && !(v > sthr))) continue;
                    cand[nc].score = v;
                    cand[nc].idx = (int64_t)i;
                    nc++;
                }
                qsort(cand, nc, sizeof *cand, red_cand_cmp);
                size_t nk = 0;
                for (size_t i = 0; i < nc && nk < (uint64_t)maxo; i++) {
                    const double *bb = boxes + (size_t)cand[i].idx * 4;
                    bool sup = false;
                    for (size_t j = 0; j < nk && !sup; j++)
                        sup = red_suppress(boxes + kept[j] * 4, bb, thr);
                    if (sup) continue;
                    kept[nk++] = (size_t)cand[i].idx;
                    sel[nsel * 3 + 0] = (int64_t)b;
                    sel[nsel * 3 + 1] = (int64_t)cl;
                    sel[nsel * 3 + 2] = cand[i].idx;
                    nsel++;
                }
            }
        }
    }
    int64_t od[2] = {(int64_t)nsel, 3};
    em_tensor *y = em_out(c, 0, EDGEML_INT64, 2, od);
    if (!y) return c->err->code ? c->err->code : EDGEML_E_NOMEM;
    if (nsel) memcpy(y->data, sel, nsel * 3 * sizeof(int64_t));
    return EDGEML_OK;
}
