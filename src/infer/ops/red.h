/* Private header of the `reduce` kernel family (red_*.c): reductions, arg
 * reductions, losses, recurrent networks, resize/upsample, grid sampling,
 * RoiAlign and NonMaxSuppression. */
#ifndef EDGEML_OPS_RED_H
#define EDGEML_OPS_RED_H
#include "ops.h"

/* red_reduce.c */
edgeml_status red_reduce_prepare(em_node *node, edgeml_error *err);
edgeml_status red_reduce_run(em_kctx *c);
void red_reduce_free(void *p);
edgeml_status red_arg_prepare(em_node *node, edgeml_error *err);
edgeml_status red_arg_run(em_kctx *c);

/* red_loss.c */
edgeml_status red_loss_prepare(em_node *node, edgeml_error *err);
edgeml_status red_nll_run(em_kctx *c);
edgeml_status red_sce_run(em_kctx *c);

/* red_rnn.c (reference), red_rnn_fast.c (float32 fast path, the entry points) */
edgeml_status red_rnn_prepare(em_node *node, edgeml_error *err);
edgeml_status red_rnn_run(em_kctx *c);
edgeml_status red_rnn_reshape(em_kctx *c, void **rs, size_t *ws);
void red_rnn_free(void *state);

/* red_resize.c */
edgeml_status red_resize_prepare(em_node *node, edgeml_error *err);
edgeml_status red_resize_run(em_kctx *c);
edgeml_status red_resize_reshape(em_kctx *c, void **rs, size_t *ws);

/* red_grid.c */
edgeml_status red_grid_prepare(em_node *node, edgeml_error *err);
edgeml_status red_grid_run(em_kctx *c);

/* red_roialign.c */
edgeml_status red_roialign_prepare(em_node *node, edgeml_error *err);
edgeml_status red_roialign_run(em_kctx *c);

/* red_nms.c */
edgeml_status red_nms_prepare(em_node *node, edgeml_error *err);
edgeml_status red_nms_run(em_kctx *c);

/* red_util.c: shared helpers */
/* Reads element i of a float-like tensor (f32/f64/f16/bf16) as double. */
static inline double red_getf(const void *data, int dt, size_t i)
{
    switch (dt) {
    case EDGEML_FLOAT: return ((const float *)data)[i];
    case EDGEML_DOUBLE: return ((const double *)data)[i];
    case EDGEML_FLOAT16: return em_f16_to_f32(((const uint16_t *)data)[i]);
    case EDGEML_BFLOAT16: return em_bf16_to_f32(((const uint16_t *)data)[i]);
    default: return em_get_f64(data, dt, i);
    }
}
static inline void red_setf(void *data, int dt, size_t i, double v)
{
    switch (dt) {
    case EDGEML_FLOAT: ((float *)data)[i] = (float)v; break;
    case EDGEML_DOUBLE: ((double *)data)[i] = v; break;
    case EDGEML_FLOAT16: ((uint16_t *)data)[i] = em_f32_to_f16((float)v); break;
    case EDGEML_BFLOAT16: ((uint16_t *)data)[i] = em_f32_to_bf16((float)v); break;
    default: em_set_f64(data, dt, i, v); break;
    }
}
static inline bool red_is_floatlike(int dt)
{
    return dt == EDGEML_FLOAT || dt == EDGEML_DOUBLE || dt == EDGEML_FLOAT16 ||
           dt == EDGEML_BFLOAT16;
}
/* Stores a double into an integer/bool/float element: saturating, truncating
 * toward zero for integers (NaN -> 0). */
void red_store_num(void *data, int dt, size_t i, double v);
/* Converts n elements of a float-like tensor into a new float array (scratch). */
float *red_to_f32(em_kctx *c, const em_tensor *t);
/* Reads a scalar-ish (numel >= 1) numeric tensor's first element. */
double red_scalar_f(const em_tensor *t);
int64_t red_scalar_i(const em_tensor *t);
/* Case-insensitive string compare helper. */
bool red_streq(const char *a, const char *b);

#endif
