/* Bernoulli (15), RandomUniform, RandomNormal, RandomUniformLike,
 * RandomNormalLike (1), Multinomial (7). Seeded runs are deterministic (the
 * same seed gives the same values each run); unseeded runs draw a new seed. */
#include "misc.h"

#include <math.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <time.h>

typedef struct rnd_state {
    bool has_seed;
    uint64_t seed;
    bool has_dtype;
    int dtype;
    float a, b;          /* low/high or mean/scale */
    int rank;
    int64_t dims[EM_MAX_RANK];
    int64_t sample_size;
} rnd_state;

static atomic_uint_fast64_t g_counter;

static void rng_init(const rnd_state *s, misc_rng *r)
{
    if (s->has_seed) {
        misc_rng_seed(r, s->seed);
        return;
    }
    struct timespec ts;
    timespec_get(&ts, TIME_UTC);
    uint64_t k = atomic_fetch_add(&g_counter, 1);
    misc_rng_seed(r, ((uint64_t)ts.tv_sec * 1000000007ull) ^ (uint64_t)ts.tv_nsec ^
                     (k * 0x9e3779b97f4a7c15ull) ^ (uint64_t)(uintptr_t)s);
}

static bool float_out(int dt)
{
    return dt == EDGEML_FLOAT || dt == EDGEML_DOUBLE || dt == EDGEML_FLOAT16 ||
           dt == EDGEML_BFLOAT16;
}

edgeml_status misc_random_prepare(em_node *n, edgeml_error *err)
{
    rnd_state *s = calloc(1, sizeof *s);
    if (!s) return em_node_fail(n, err, EDGEML_E_NOMEM, "out of memory");
    n->state = s;
    const em_attr *seed = em_attr_get(n, "seed");
    if (seed) {
        float f = seed->f;
        uint32_t bits;
        memcpy(&bits, &f, 4);
        s->has_seed = true;
        s->seed = bits;
    }
    const char *op = n->op_type;
    bool uniform = strstr(op, "Uniform") != NULL;
    s->a = em_attr_float(n, uniform ? "low" : "mean", uniform ? 0.0f : 0.0f);
    s->b = em_attr_float(n, uniform ? "high" : "scale", 1.0f);
    const em_attr *dt = em_attr_get(n, "dtype");
    s->has_dtype = dt != NULL;
    if (strcmp(op, "Multinomial") == 0) {
        s->dtype = (int)em_attr_int(n, "dtype", EDGEML_INT32);
        s->has_dtype = true;
        if (s->dtype != EDGEML_INT32 && s->dtype != EDGEML_INT64)
            return em_node_fail(n, err, EDGEML_E_MODEL, "dtype must be int32 or int64");
        s->sample_size = em_attr_int(n, "sample_size", 1);
        if (s->sample_size < 0)
            return em_node_fail(n, err, EDGEML_E_MODEL, "sample_size must be >= 0");
        return EDGEML_OK;
    }
    if (strcmp(op, "Bernoulli") == 0) {
        if (dt) {
            s->dtype = (int)dt->i;
            if (em_dtype_size(s->dtype) == 0 || s->dtype == EDGEML_STRING)
                return em_node_fail(n, err, EDGEML_E_MODEL, "invalid dtype %d", s->dtype);
        }
        return EDGEML_OK;
    }
    if (strcmp(op, "RandomUniform") == 0 || strcmp(op, "RandomNormal") == 0) {
        s->dtype = dt ? (int)dt->i : EDGEML_FLOAT;
        s->has_dtype = true;
        const int64_t *shape;
        long r = em_attr_ints(n, "shape", &shape);
        if (r < 0) return em_node_fail(n, err, EDGEML_E_MODEL, "attribute 'shape' is required");
        if (r > EM_MAX_RANK) return em_node_fail(n, err, EDGEML_E_UNSUPPORTED, "rank too large");
        for (long i = 0; i < r; i++) {
            if (shape[i] < 0)
                return em_node_fail(n, err, EDGEML_E_MODEL, "negative dimension in 'shape'");
            s->dims[i] = shape[i];
        }
        s->rank = (int)r;
    } else if (dt) {
        s->dtype = (int)dt->i;
    }
    if (s->has_dtype && !float_out(s->dtype))
        return em_node_fail(n, err, EDGEML_E_MODEL, "dtype %d is not a float type", s->dtype);
    return EDGEML_OK;
}

static void put(void *d, int dt, size_t i, double v)
{
    if (dt == EDGEML_FLOAT) ((float *)d)[i] = (float)v;
    else if (dt == EDGEML_DOUBLE) ((double *)d)[i] = v;
    else em_set_f64(d, dt, i, v);
}

static edgeml_status fill(em_kctx *c, const rnd_state *s, int dt, int rank,
                          const int64_t *dims, bool uniform)
{
    em_tensor *y = em_out(c, 0, dt, rank, dims);
    if (!y) return c->err->code ? c->err->code : EDGEML_E_NOMEM;
    size_t n = em_numel(y);
    misc_rng r;
    rng_init(s, &r);
    for (size_t i = 0; i < n; i++) {
        double v = uniform ? s->a + (s->b - s->a) * misc_rng_uniform(&r)
                           : s->a + s->b * misc_rng_normal(&r);
        put(y->data, dt, i, v);
    }
    return EDGEML_OK;
}

edgeml_status misc_random_uniform_run(em_kctx *c)
{
    const rnd_state *s = c->node->state;
    return fill(c, s, s->dtype, s->rank, s->dims, true);
}

edgeml_status misc_random_normal_run(em_kctx *c)
{
    const rnd_state *s = c->node->state;
    return fill(c, s, s->dtype, s->rank, s->dims, false);
}

static edgeml_status like_run(em_kctx *c, bool uniform)
{
    const rnd_state *s = c->node->state;
    const em_tensor *x = em_in(c, 0);
    if (!x) return em_fail(c, EDGEML_E_RUNTIME, "input is missing");
    int dt = s->has_dtype ? s->dtype : x->dtype;
    if (!float_out(dt))
        return em_fail(c, EDGEML_E_RUNTIME,
                       "output dtype %s is not a float type (set the 'dtype' attribute)",
                       em_dtype_name(dt));
    return fill(c, s, dt, x->rank, x->dims, uniform);
}

edgeml_status misc_random_uniform_like_run(em_kctx *c) { return like_run(c, true); }
edgeml_status misc_random_normal_like_run(em_kctx *c) { return like_run(c, false); }

edgeml_status misc_bernoulli_run(em_kctx *c)
{
    const rnd_state *s = c->node->state;
    const em_tensor *x = em_in(c, 0);
    if (!x) return em_fail(c, EDGEML_E_RUNTIME, "input is missing");
    if (!float_out(x->dtype)) return em_fail(c, EDGEML_E_RUNTIME, "input must be a float tensor");
    int dt = s->has_dtype ? s->dtype : x->dtype;
    em_tensor *y = em_out(c, 0, dt, x->rank, x->dims);
    if (!y) return c->err->code ? c->err->code : EDGEML_E_NOMEM;
    size_t n = em_numel(x);
    misc_rng r;
    rng_init(s, &r);
    for (size_t i = 0; i < n; i++) {
        double p = em_get_f64(x->data, x->dtype, i);
        if (!(p >= 0.0 && p <= 1.0))
            return em_fail(c, EDGEML_E_RUNTIME, "probability %g at index %zu is outside [0, 1]",
                           p, i);
        double u = misc_rng_uniform(&r);
        em_set_f64(y->data, dt, i, u < p ? 1.0 : 0.0);
    }
    return EDGEML_OK;
}

edgeml_status misc_multinomial_run(em_kctx *c)
{
    const rnd_state *s = c->node->state;
    const em_tensor *x = em_in(c, 0);
    if (!x) return em_fail(c, EDGEML_E_RUNTIME, "input is missing");
    if (!float_out(x->dtype)) return em_fail(c, EDGEML_E_RUNTIME, "input must be a float tensor");
    if (x->rank != 2)
        return em_fail(c, EDGEML_E_RUNTIME, "input must have shape [batch, classes]");
    int64_t B = x->dims[0], K = x->dims[1];
    if (K < 1 && B > 0 && s->sample_size > 0)
        return em_fail(c, EDGEML_E_RUNTIME, "the class dimension is empty");
    int64_t od[2] = {B, s->sample_size};
    em_tensor *y = em_out(c, 0, s->dtype, 2, od);
    if (!y) return c->err->code ? c->err->code : EDGEML_E_NOMEM;
    if (em_numel(y) == 0) return EDGEML_OK;
    double *cdf = em_scratch(c, (size_t)K * sizeof(double));
    if (!cdf) return em_fail(c, EDGEML_E_NOMEM, "out of memory");
    misc_rng r;
    rng_init(s, &r);
    for (int64_t b = 0; b < B; b++) {
        double mx = -INFINITY;
        for (int64_t k = 0; k < K; k++) {
            double v = em_get_f64(x->data, x->dtype, (size_t)(b * K + k));
            if (v > mx) mx = v;
        }
        double acc = 0;
        for (int64_t k = 0; k < K; k++) {
            double v = em_get_f64(x->data, x->dtype, (size_t)(b * K + k));
            double e = (mx == -INFINITY || v != v) ? 0.0 : exp(v - mx);
            acc += e;
            cdf[k] = acc;
        }
        for (int64_t t = 0; t < s->sample_size; t++) {
            int64_t pick = K - 1;
            if (acc > 0) {
                double u = misc_rng_uniform(&r) * acc;
                int64_t lo = 0, hi = K - 1;
                while (lo < hi) {
                    int64_t mid = (lo + hi) / 2;
                    if (cdf[mid] > u) hi = mid; else lo = mid + 1;
                }
                pick = lo;
            }
            em_set_i64(y->data, s->dtype, (size_t)(b * s->sample_size + t), pick);
        }
    }
    return EDGEML_OK;
}
