/* ai.onnx.ml (1..4): ArrayFeatureExtractor, Binarizer, LabelEncoder (1, 2;
 * the opset 4 tensor attributes too), Normalizer, Scaler, OneHotEncoder. */
#include "misc.h"

#include <math.h>
#include <stdlib.h>

/* ---- a small hash map from keys (strings, integers or floats) to slots -- */

enum { KEY_STR, KEY_INT, KEY_FLT };

typedef struct keymap {
    int kind;
    size_t n;
    const em_str *s;        /* KEY_STR: borrowed (attribute memory) */
    int64_t *i;             /* KEY_INT: owned copy */
    double *f;              /* KEY_FLT: owned copy */
    size_t cap;
    int64_t *table;         /* key index or -1 */
} keymap;

static uint64_t km_hash_str(const char *p, size_t l)
{
    uint64_t h = 1469598103934665603ull;
    for (size_t k = 0; k < l; k++) h = (h ^ (unsigned char)p[k]) * 1099511628211ull;
    return h;
}

static uint64_t km_hash_u64(uint64_t x)
{
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdull;
    x ^= x >> 33;
    x *= 0xc4ceb9fe1a85ec53ull;
    return x ^ (x >> 33);
}

static uint64_t km_hash_f(double v)
{
    if (v != v) return 0x7ff8000000000000ull;
    if (v == 0) v = 0; /* -0 == +0 */
    uint64_t b;
    memcpy(&b, &v, 8);
    return km_hash_u64(b);
}

static bool km_eq_f(double a, double b) { return a == b || (a != a && b != b); }

static void km_free(keymap *m)
{
    free(m->i);
    free(m->f);
    free(m->table);
}

/* Inserts every key; on duplicate keys the first one wins. */
static bool km_build(keymap *m)
{
    m->cap = 16;
    while (m->cap < 2 * m->n) m->cap <<= 1;
    m->table = malloc(m->cap * sizeof(int64_t));
    if (!m->table) return false;
    for (size_t k = 0; k < m->cap; k++) m->table[k] = -1;
    for (size_t k = 0; k < m->n; k++) {
        uint64_t h = m->kind == KEY_STR ? km_hash_str(m->s[k].data, m->s[k].len)
                     : m->kind == KEY_INT ? km_hash_u64((uint64_t)m->i[k]) : km_hash_f(m->f[k]);
        size_t slot = (size_t)h & (m->cap - 1);
        bool dup = false;
        while (m->table[slot] >= 0) {
            int64_t j = m->table[slot];
            if (m->kind == KEY_STR ? (m->s[j].len == m->s[k].len &&
                                      (m->s[k].len == 0 ||
                                       memcmp(m->s[j].data, m->s[k].data, m->s[k].len) == 0))
                : m->kind == KEY_INT ? m->i[j] == m->i[k] : km_eq_f(m->f[j], m->f[k])) {
                dup = true;
                break;
            }
            slot = (slot + 1) & (m->cap - 1);
        }
        if (!dup) m->table[slot] = (int64_t)k;
    }
    return true;
}

static int64_t km_find_str(const keymap *m, const em_str *s)
{
    size_t slot = (size_t)km_hash_str(s->data, s->len) & (m->cap - 1);
    for (int64_t j; (j = m->table[slot]) >= 0; slot = (slot + 1) & (m->cap - 1))
        if (m->s[j].len == s->len && (s->len == 0 || memcmp(m->s[j].data, s->data, s->len) == 0))
            return j;
    return -1;
}

static int64_t km_find_int(const keymap *m, int64_t v)
{
    size_t slot = (size_t)km_hash_u64((uint64_t)v) & (m->cap - 1);
    for (int64_t j; (j = m->table[slot]) >= 0; slot = (slot + 1) & (m->cap - 1))
        if (m->i[j] == v) return j;
    return -1;
}

static int64_t km_find_flt(const keymap *m, double v)
{
    size_t slot = (size_t)km_hash_f(v) & (m->cap - 1);
    for (int64_t j; (j = m->table[slot]) >= 0; slot = (slot + 1) & (m->cap - 1))
        if (km_eq_f(m->f[j], v)) return j;
    return -1;
}

/* ---- ArrayFeatureExtractor --------------------------------------------- */

edgeml_status misc_ml_afe_run(em_kctx *c)
{
    const em_tensor *x = em_in(c, 0), *ix = em_in(c, 1);
    if (!x || !ix) return em_fail(c, EDGEML_E_RUNTIME, "X and Y are required");
    if (ix->dtype != EDGEML_INT64) return em_fail(c, EDGEML_E_RUNTIME, "Y must be int64");
    size_t esz = em_dtype_size(x->dtype);
    if (!esz) return em_fail(c, EDGEML_E_RUNTIME, "unsupported dtype");
    if (x->rank < 1) return em_fail(c, EDGEML_E_RUNTIME, "X must have rank >= 1");
    size_t k = em_numel(ix);
    const int64_t *idx = ix->data;
    int64_t last = x->dims[x->rank - 1];
    for (size_t i = 0; i < k; i++)
        if (idx[i] < 0 || idx[i] >= last)
            return em_fail(c, EDGEML_E_RUNTIME, "index %lld is out of range [0, %lld)",
                           (long long)idx[i], (long long)last);
    int64_t od[EM_MAX_RANK];
    int orank;
    if (x->rank == 1) {
        od[0] = 1;
        od[1] = (int64_t)k;
        orank = 2;
    } else {
        memcpy(od, x->dims, sizeof(int64_t) * (size_t)(x->rank - 1));
        od[x->rank - 1] = (int64_t)k;
        orank = x->rank;
    }
    em_tensor *y = em_out(c, 0, x->dtype, orank, od);
    if (!y) return c->err->code ? c->err->code : EDGEML_E_NOMEM;
    size_t rows = last ? em_numel(x) / (size_t)last : 0;
    if (x->rank > 1 && last == 0) {
        rows = 1;
        for (int i = 0; i < x->rank - 1; i++) rows *= (size_t)x->dims[i];
    }
    if (k == 0) return EDGEML_OK;
    const char *src = x->data;
    char *dst = y->data;
    for (size_t r = 0; r < rows; r++)
        for (size_t i = 0; i < k; i++)
            memcpy(dst + (r * k + i) * esz, src + (r * (size_t)last + (size_t)idx[i]) * esz, esz);
    return EDGEML_OK;
}

/* ---- Binarizer --------------------------------------------------------- */

edgeml_status misc_ml_binarizer_run(em_kctx *c)
{
    double th = em_attr_float(c->node, "threshold", 0.0f);
    const em_tensor *x = em_in(c, 0);
    if (!x) return em_fail(c, EDGEML_E_RUNTIME, "input is missing");
    int dt = x->dtype;
    if (dt != EDGEML_FLOAT && dt != EDGEML_DOUBLE && dt != EDGEML_INT64 && dt != EDGEML_INT32)
        return em_fail(c, EDGEML_E_RUNTIME, "unsupported dtype");
    em_tensor *y = em_out(c, 0, dt, x->rank, x->dims);
    if (!y) return c->err->code ? c->err->code : EDGEML_E_NOMEM;
    size_t n = em_numel(x);
    if (dt == EDGEML_FLOAT) {
        const float *a = x->data;
        float *b = y->data, t = (float)th;
        for (size_t i = 0; i < n; i++) b[i] = a[i] > t ? 1.0f : (a[i] != a[i] ? a[i] : 0.0f);
    } else {
        for (size_t i = 0; i < n; i++) {
            double v = em_get_f64(x->data, dt, i);
            em_set_f64(y->data, dt, i, v > th ? 1.0 : (v != v ? v : 0.0));
        }
    }
    return EDGEML_OK;
}

/* ---- LabelEncoder ------------------------------------------------------ */

typedef struct le_state {
    int key_dtype, val_dtype;     /* tensor dtypes expected / produced */
    keymap keys;
    size_t n_vals;
    const em_str *vs;             /* string values (borrowed) */
    int64_t *vi;                  /* integer values */
    double *vf;                   /* float values */
    em_str dflt_s;
    int64_t dflt_i;
    double dflt_f;
} le_state;

void misc_ml_labelenc_free(void *p)
{
    le_state *s = p;
    if (!s) return;
    km_free(&s->keys);
    free(s->vi);
    free(s->vf);
    free(s);
}

static int kind_of(int dt)
{
    if (dt == EDGEML_STRING) return KEY_STR;
    if (dt == EDGEML_FLOAT || dt == EDGEML_DOUBLE) return KEY_FLT;
    return KEY_INT;
}

/* Loads a list (attribute list or tensor) as the given kind. */
static bool load_list(const em_node *n, const char *s_name, const char *i_name,
                      const char *f_name, const char *t_name, int *dtype, size_t *count,
                      const em_str **vs, int64_t **vi, double **vf, int *nset)
{
    const em_attr *as = em_attr_get(n, s_name), *ai = em_attr_get(n, i_name),
                  *af = em_attr_get(n, f_name), *at = t_name ? em_attr_get(n, t_name) : NULL;
    *nset = (as != NULL) + (ai != NULL) + (af != NULL) + (at != NULL);
    if (*nset != 1) return true;
    if (as) {
        *dtype = EDGEML_STRING;
        *count = as->n;
        *vs = as->strings;
    } else if (ai) {
        *dtype = EDGEML_INT64;
        *count = ai->n;
        *vi = malloc((ai->n ? ai->n : 1) * sizeof(int64_t));
        if (!*vi) return false;
        if (ai->n) memcpy(*vi, ai->ints, ai->n * sizeof(int64_t));
    } else if (af) {
        *dtype = EDGEML_FLOAT;
        *count = af->n;
        *vf = malloc((af->n ? af->n : 1) * sizeof(double));
        if (!*vf) return false;
        for (size_t k = 0; k < af->n; k++) (*vf)[k] = af->floats[k];
    } else {
        const em_tensor *t = at->t;
        *dtype = t->dtype;
        *count = em_numel(t);
        if (t->dtype == EDGEML_STRING) {
            *vs = t->data;
        } else if (kind_of(t->dtype) == KEY_FLT) {
            *vf = malloc((*count ? *count : 1) * sizeof(double));
            if (!*vf) return false;
            for (size_t k = 0; k < *count; k++) (*vf)[k] = em_get_f64(t->data, t->dtype, k);
        } else {
            *vi = malloc((*count ? *count : 1) * sizeof(int64_t));
            if (!*vi) return false;
            for (size_t k = 0; k < *count; k++) (*vi)[k] = em_get_i64(t->data, t->dtype, k);
        }
    }
    return true;
}

static bool le_dtype_ok(int dt)
{
    return dt == EDGEML_STRING || dt == EDGEML_INT64 || dt == EDGEML_FLOAT ||
           dt == EDGEML_DOUBLE || dt == EDGEML_INT32 || dt == EDGEML_INT16;
}

edgeml_status misc_ml_labelenc_prepare(em_node *n, edgeml_error *err)
{
    le_state *s = calloc(1, sizeof *s);
    if (!s) return em_node_fail(n, err, EDGEML_E_NOMEM, "out of memory");
    n->state = s;
    const em_attr *dstr = em_attr_get(n, "default_string");
    if (dstr) s->dflt_s = dstr->s;
    else { s->dflt_s.data = "_Unused"; s->dflt_s.len = 7; }
    s->dflt_i = em_attr_int(n, "default_int64", -1);
    s->dflt_f = em_attr_float(n, "default_float", -0.0f);
    if (n->opset < 2) {
        /* Opset 1: classes_strings; string -> int64 (index) or int64 -> string. */
        const em_attr *cs = em_attr_get(n, "classes_strings");
        s->keys.kind = KEY_STR;
        s->keys.n = cs ? cs->n : 0;
        s->keys.s = cs ? cs->strings : NULL;
        s->vs = s->keys.s;
        s->n_vals = s->keys.n;
        s->key_dtype = 0; /* decided by the input */
        if (!km_build(&s->keys)) return em_node_fail(n, err, EDGEML_E_NOMEM, "out of memory");
        return EDGEML_OK;
    }
    int nk, nv;
    size_t ck = 0, cv = 0;
    const em_str *ks = NULL;
    if (!load_list(n, "keys_strings", "keys_int64s", "keys_floats", "keys_tensor",
                   &s->key_dtype, &ck, &ks, &s->keys.i, &s->keys.f, &nk) ||
        !load_list(n, "values_strings", "values_int64s", "values_floats", "values_tensor",
                   &s->val_dtype, &cv, &s->vs, &s->vi, &s->vf, &nv))
        return em_node_fail(n, err, EDGEML_E_NOMEM, "out of memory");
    if (nk != 1 || nv != 1)
        return em_node_fail(n, err, EDGEML_E_MODEL,
                            "exactly one keys_* and one values_* attribute must be set");
    if (ck != cv)
        return em_node_fail(n, err, EDGEML_E_MODEL, "%zu keys but %zu values", ck, cv);
    if (!le_dtype_ok(s->key_dtype) || !le_dtype_ok(s->val_dtype))
        return em_node_fail(n, err, EDGEML_E_MODEL, "unsupported key or value dtype");
    s->keys.kind = kind_of(s->key_dtype);
    s->keys.n = ck;
    s->keys.s = ks;
    s->n_vals = cv;
    const em_attr *dt = em_attr_get(n, "default_tensor");
    if (dt && dt->t && em_numel(dt->t) >= 1) {
        const em_tensor *t = dt->t;
        if (t->dtype == EDGEML_STRING) s->dflt_s = ((const em_str *)t->data)[0];
        else if (kind_of(t->dtype) == KEY_FLT) s->dflt_f = em_get_f64(t->data, t->dtype, 0);
        else s->dflt_i = em_get_i64(t->data, t->dtype, 0);
    }
    if (!km_build(&s->keys)) return em_node_fail(n, err, EDGEML_E_NOMEM, "out of memory");
    return EDGEML_OK;
}

edgeml_status misc_ml_labelenc_run(em_kctx *c)
{
    const le_state *s = c->node->state;
    const em_tensor *x = em_in(c, 0);
    if (!x) return em_fail(c, EDGEML_E_RUNTIME, "input is missing");
    size_t n = em_numel(x);
    if (s->key_dtype == 0) {
        /* Opset 1. */
        if (x->dtype == EDGEML_STRING) {
            em_tensor *y = em_out(c, 0, EDGEML_INT64, x->rank, x->dims);
            if (!y) return c->err->code ? c->err->code : EDGEML_E_NOMEM;
            const em_str *in = x->data;
            int64_t *out = y->data;
            for (size_t i = 0; i < n; i++) {
                int64_t j = km_find_str(&s->keys, &in[i]);
                out[i] = j >= 0 ? j : s->dflt_i;
            }
        } else if (x->dtype == EDGEML_INT64) {
            em_tensor *y = em_out(c, 0, EDGEML_STRING, x->rank, x->dims);
            if (!y) return c->err->code ? c->err->code : EDGEML_E_NOMEM;
            const int64_t *in = x->data;
            em_str *out = y->data;
            for (size_t i = 0; i < n; i++)
                out[i] = (in[i] >= 0 && (size_t)in[i] < s->n_vals) ? s->vs[in[i]] : s->dflt_s;
        } else {
            return em_fail(c, EDGEML_E_RUNTIME, "input must be string or int64");
        }
        return EDGEML_OK;
    }
    if (x->dtype != s->key_dtype &&
        !(kind_of(x->dtype) == s->keys.kind && le_dtype_ok(x->dtype)))
        return em_fail(c, EDGEML_E_RUNTIME, "input dtype %s does not match the keys (%s)",
                       em_dtype_name(x->dtype), em_dtype_name(s->key_dtype));
    em_tensor *y = em_out(c, 0, s->val_dtype, x->rank, x->dims);
    if (!y) return c->err->code ? c->err->code : EDGEML_E_NOMEM;
    int vk = kind_of(s->val_dtype);
    for (size_t i = 0; i < n; i++) {
        int64_t j;
        if (s->keys.kind == KEY_STR) j = km_find_str(&s->keys, (const em_str *)x->data + i);
        else if (s->keys.kind == KEY_INT) j = km_find_int(&s->keys, em_get_i64(x->data, x->dtype, i));
        else j = km_find_flt(&s->keys, em_get_f64(x->data, x->dtype, i));
        if (vk == KEY_STR) ((em_str *)y->data)[i] = j >= 0 ? s->vs[j] : s->dflt_s;
        else if (vk == KEY_INT) em_set_i64(y->data, s->val_dtype, i, j >= 0 ? s->vi[j] : s->dflt_i);
        else em_set_f64(y->data, s->val_dtype, i, j >= 0 ? s->vf[j] : s->dflt_f);
    }
    return EDGEML_OK;
}

/* ---- Normalizer -------------------------------------------------------- */

enum { NORM_MAX, NORM_L1, NORM_L2 };

edgeml_status misc_ml_normalizer_prepare(em_node *n, edgeml_error *err)
{
    int *s = malloc(sizeof *s);
    if (!s) return em_node_fail(n, err, EDGEML_E_NOMEM, "out of memory");
    n->state = s;
    const char *m = em_attr_str(n, "norm", "MAX");
    if (strcmp(m, "MAX") == 0) *s = NORM_MAX;
    else if (strcmp(m, "L1") == 0) *s = NORM_L1;
    else if (strcmp(m, "L2") == 0) *s = NORM_L2;
    else return em_node_fail(n, err, EDGEML_E_MODEL, "invalid norm '%s'", m);
    return EDGEML_OK;
}

static bool ml_num_dtype(int dt)
{
    return dt == EDGEML_FLOAT || dt == EDGEML_DOUBLE || dt == EDGEML_INT64 || dt == EDGEML_INT32;
}

edgeml_status misc_ml_normalizer_run(em_kctx *c)
{
    int mode = *(const int *)c->node->state;
    const em_tensor *x = em_in(c, 0);
    if (!x) return em_fail(c, EDGEML_E_RUNTIME, "input is missing");
    if (!ml_num_dtype(x->dtype)) return em_fail(c, EDGEML_E_RUNTIME, "unsupported dtype");
    if (x->rank != 1 && x->rank != 2)
        return em_fail(c, EDGEML_E_RUNTIME, "input must have shape [C] or [N, C]");
    em_tensor *y = em_out(c, 0, EDGEML_FLOAT, x->rank, x->dims);
    if (!y) return c->err->code ? c->err->code : EDGEML_E_NOMEM;
    size_t C = (size_t)x->dims[x->rank - 1], N = x->rank == 2 ? (size_t)x->dims[0] : 1;
    float *out = y->data;
    for (size_t r = 0; r < N; r++) {
        double d = 0;
        if (mode == NORM_MAX) {
            d = -INFINITY;
            for (size_t k = 0; k < C; k++) {
                double v = em_get_f64(x->data, x->dtype, r * C + k);
                if (v > d) d = v;
            }
        } else {
            for (size_t k = 0; k < C; k++) {
                double v = em_get_f64(x->data, x->dtype, r * C + k);
                d += mode == NORM_L1 ? fabs(v) : v * v;
            }
            if (mode == NORM_L2) d = sqrt(d);
        }
        for (size_t k = 0; k < C; k++) {
            double v = em_get_f64(x->data, x->dtype, r * C + k);
            out[r * C + k] = (float)(d == 0 || isinf(d) ? v : v / d);
        }
    }
    return EDGEML_OK;
}

/* ---- Scaler ------------------------------------------------------------ */

typedef struct scaler_state {
    const float *off, *scale;
    long n_off, n_scale;
} scaler_state;

edgeml_status misc_ml_scaler_prepare(em_node *n, edgeml_error *err)
{
    scaler_state *s = calloc(1, sizeof *s);
    if (!s) return em_node_fail(n, err, EDGEML_E_NOMEM, "out of memory");
    n->state = s;
    s->n_off = em_attr_floats(n, "offset", &s->off);
    s->n_scale = em_attr_floats(n, "scale", &s->scale);
    if (s->n_off < 0) s->n_off = 0;
    if (s->n_scale < 0) s->n_scale = 0;
    return EDGEML_OK;
}

edgeml_status misc_ml_scaler_run(em_kctx *c)
{
    const scaler_state *s = c->node->state;
    const em_tensor *x = em_in(c, 0);
    if (!x) return em_fail(c, EDGEML_E_RUNTIME, "input is missing");
    if (!ml_num_dtype(x->dtype)) return em_fail(c, EDGEML_E_RUNTIME, "unsupported dtype");
    size_t n = em_numel(x);
    size_t C = x->rank >= 1 ? (size_t)x->dims[x->rank - 1] : 1;
    if ((s->n_off > 1 && (size_t)s->n_off != C) || (s->n_scale > 1 && (size_t)s->n_scale != C))
        return em_fail(c, EDGEML_E_RUNTIME,
                       "offset (%ld) / scale (%ld) length must be 1 or the feature count %zu",
                       s->n_off, s->n_scale, C);
    em_tensor *y = em_out(c, 0, EDGEML_FLOAT, x->rank, x->dims);
    if (!y) return c->err->code ? c->err->code : EDGEML_E_NOMEM;
    float *out = y->data;
    for (size_t i = 0; i < n; i++) {
        size_t k = C ? i % C : 0;
        double o = s->n_off == 0 ? 0.0 : s->off[s->n_off == 1 ? 0 : k];
        double sc = s->n_scale == 0 ? 1.0 : s->scale[s->n_scale == 1 ? 0 : k];
        double v = x->dtype == EDGEML_FLOAT ? ((const float *)x->data)[i]
                                            : em_get_f64(x->data, x->dtype, i);
        out[i] = (float)((v - o) * sc);
    }
    return EDGEML_OK;
}

/* ---- OneHotEncoder ----------------------------------------------------- */

typedef struct onehot_state {
    keymap cats;
    bool zeros;
} onehot_state;

void misc_ml_onehot_free(void *p)
{
    onehot_state *s = p;
    if (!s) return;
    km_free(&s->cats);
    free(s);
}

edgeml_status misc_ml_onehot_prepare(em_node *n, edgeml_error *err)
{
    onehot_state *s = calloc(1, sizeof *s);
    if (!s) return em_node_fail(n, err, EDGEML_E_NOMEM, "out of memory");
    n->state = s;
    s->zeros = em_attr_int(n, "zeros", 1) != 0;
    const em_attr *ci = em_attr_get(n, "cats_int64s"), *cs = em_attr_get(n, "cats_strings");
    if ((ci != NULL) == (cs != NULL))
        return em_node_fail(n, err, EDGEML_E_MODEL,
                            "exactly one of cats_int64s and cats_strings must be set");
    if (cs) {
        s->cats.kind = KEY_STR;
        s->cats.n = cs->n;
        s->cats.s = cs->strings;
    } else {
        s->cats.kind = KEY_INT;
        s->cats.n = ci->n;
        s->cats.i = malloc((ci->n ? ci->n : 1) * sizeof(int64_t));
        if (!s->cats.i) return em_node_fail(n, err, EDGEML_E_NOMEM, "out of memory");
        if (ci->n) memcpy(s->cats.i, ci->ints, ci->n * sizeof(int64_t));
    }
    if (!km_build(&s->cats)) return em_node_fail(n, err, EDGEML_E_NOMEM, "out of memory");
    return EDGEML_OK;
}

edgeml_status misc_ml_onehot_run(em_kctx *c)
{
    const onehot_state *s = c->node->state;
    const em_tensor *x = em_in(c, 0);
    if (!x) return em_fail(c, EDGEML_E_RUNTIME, "input is missing");
    bool str = x->dtype == EDGEML_STRING;
    if (str != (s->cats.kind == KEY_STR))
        return em_fail(c, EDGEML_E_RUNTIME, "input dtype %s does not match the categories",
                       em_dtype_name(x->dtype));
    if (!str && !ml_num_dtype(x->dtype))
        return em_fail(c, EDGEML_E_RUNTIME, "unsupported dtype");
    if (x->rank + 1 > EM_MAX_RANK) return em_fail(c, EDGEML_E_RUNTIME, "rank too large");
    int64_t od[EM_MAX_RANK];
    memcpy(od, x->dims, sizeof(int64_t) * (size_t)x->rank);
    od[x->rank] = (int64_t)s->cats.n;
    em_tensor *y = em_out(c, 0, EDGEML_FLOAT, x->rank + 1, od);
    if (!y) return c->err->code ? c->err->code : EDGEML_E_NOMEM;
    size_t n = em_numel(x), K = s->cats.n;
    float *out = y->data;
    for (size_t i = 0; i < n * K; i++) out[i] = 0.0f;
    for (size_t i = 0; i < n; i++) {
        int64_t j = str ? km_find_str(&s->cats, (const em_str *)x->data + i)
                        : km_find_int(&s->cats, em_get_i64(x->data, x->dtype, i));
        if (j < 0) {
            if (!s->zeros)
                return em_fail(c, EDGEML_E_RUNTIME, "element %zu is not a known category", i);
            continue;
        }
        out[i * K + (size_t)j] = 1.0f;
    }
    return EDGEML_OK;
}
