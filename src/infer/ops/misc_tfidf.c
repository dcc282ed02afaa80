/* TfIdfVectorizer (9): n-gram counting over int or string pools, with skips. */
#include "misc.h"

#include <stdlib.h>

enum { TF_TF = 1, TF_IDF = 2, TF_TFIDF = 3 };

/* A pool n-gram: n items starting at pool index `start`, output index out. */
typedef struct tf_gram {
    uint32_t n;
    size_t start;
    int64_t out;
    uint64_t hash;
} tf_gram;

typedef struct tf_state {
    int mode;
    int64_t min_n, max_n, max_skip;
    bool strings;
    const int64_t *pool_i;     /* attribute memory (lives as long as the model) */
    const em_str *pool_s;
    size_t n_grams;
    tf_gram *grams;
    size_t cap;                /* hash table size (power of two) */
    int64_t *table;            /* index into grams, -1 empty */
    int64_t out_size;
    const float *weights;
    size_t n_weights;
} tf_state;

void misc_tfidf_free(void *p)
{
    tf_state *s = p;
    if (!s) return;
    free(s->grams);
    free(s->table);
    free(s);
}

static inline uint64_t mix(uint64_t h, uint64_t v)
{
    h ^= v + 0x9e3779b97f4a7c15ull + (h << 6) + (h >> 2);
    return h * 0xff51afd7ed558ccdull;
}

static uint64_t hash_str(const char *p, size_t l)
{
    uint64_t h = 1469598103934665603ull;
    for (size_t i = 0; i < l; i++) h = (h ^ (unsigned char)p[i]) * 1099511628211ull;
    return h;
}

static uint64_t hash_pool(const tf_state *s, size_t start, uint32_t n)
{
    uint64_t h = n;
    for (uint32_t k = 0; k < n; k++) {
        uint64_t v = s->strings ? hash_str(s->pool_s[start + k].data, s->pool_s[start + k].len)
                                : (uint64_t)s->pool_i[start + k];
        h = mix(h, v);
    }
    return h;
}

static bool pool_eq(const tf_state *s, size_t a, size_t b, uint32_t n)
{
    for (uint32_t k = 0; k < n; k++) {
        if (s->strings) {
            const em_str *x = &s->pool_s[a + k], *y = &s->pool_s[b + k];
            if (x->len != y->len || (x->len && memcmp(x->data, y->data, x->len))) return false;
        } else if (s->pool_i[a + k] != s->pool_i[b + k]) {
            return false;
        }
    }
    return true;
}

edgeml_status misc_tfidf_prepare(em_node *n, edgeml_error *err)
{
    tf_state *s = calloc(1, sizeof *s);
    if (!s) return em_node_fail(n, err, EDGEML_E_NOMEM, "out of memory");
    n->state = s;
    const char *mode = em_attr_str(n, "mode", "");
    if (strcmp(mode, "TF") == 0) s->mode = TF_TF;
    else if (strcmp(mode, "IDF") == 0) s->mode = TF_IDF;
    else if (strcmp(mode, "TFIDF") == 0) s->mode = TF_TFIDF;
    else return em_node_fail(n, err, EDGEML_E_MODEL, "invalid mode '%s'", mode);
    s->min_n = em_attr_int(n, "min_gram_length", 0);
    s->max_n = em_attr_int(n, "max_gram_length", 0);
    s->max_skip = em_attr_int(n, "max_skip_count", 0);
    if (s->min_n < 1 || s->max_n < s->min_n || s->max_skip < 0)
        return em_node_fail(n, err, EDGEML_E_MODEL,
                            "invalid min_gram_length %lld / max_gram_length %lld / "
                            "max_skip_count %lld", (long long)s->min_n, (long long)s->max_n,
                            (long long)s->max_skip);
    const em_attr *pi = em_attr_get(n, "pool_int64s"), *ps = em_attr_get(n, "pool_strings");
    if ((pi != NULL) == (ps != NULL))
        return em_node_fail(n, err, EDGEML_E_MODEL,
                            "exactly one of pool_int64s and pool_strings must be set");
    size_t total = pi ? pi->n : ps->n;
    s->strings = ps != NULL;
    s->pool_i = pi ? pi->ints : NULL;
    s->pool_s = ps ? ps->strings : NULL;
    const int64_t *counts, *idx;
    long nc = em_attr_ints(n, "ngram_counts", &counts);
    long ni = em_attr_ints(n, "ngram_indexes", &idx);
    if (nc < 0 || ni < 0)
        return em_node_fail(n, err, EDGEML_E_MODEL, "ngram_counts and ngram_indexes are required");
    s->out_size = 0;
    for (long i = 0; i < ni; i++) {
        if (idx[i] < 0)
            return em_node_fail(n, err, EDGEML_E_MODEL, "ngram_indexes has a negative entry");
        if (idx[i] + 1 > s->out_size) s->out_size = idx[i] + 1;
    }
    const float *w;
    long nw = em_attr_floats(n, "weights", &w);
    if (nw > 0) {
        s->weights = w;
        s->n_weights = (size_t)nw;
    }
    /* Count n-grams in the pool. */
    size_t ng = 0;
    for (long i = 0; i < nc; i++) {
        int64_t st = counts[i], en = (i + 1 < nc) ? counts[i + 1] : (int64_t)total;
        if (st < 0 || en < st || en > (int64_t)total)
            return em_node_fail(n, err, EDGEML_E_MODEL, "ngram_counts is inconsistent with the pool");
        ng += (size_t)(en - st) / (size_t)(i + 1);
    }
    if ((size_t)ni < ng)
        return em_node_fail(n, err, EDGEML_E_MODEL,
                            "ngram_indexes has %ld entries for %zu pool n-grams", ni, ng);
    s->grams = malloc((ng ? ng : 1) * sizeof(tf_gram));
    s->cap = 16;
    while (s->cap < 2 * ng) s->cap <<= 1;
    s->table = malloc(s->cap * sizeof(int64_t));
    if (!s->grams || !s->table) return em_node_fail(n, err, EDGEML_E_NOMEM, "out of memory");
    for (size_t i = 0; i < s->cap; i++) s->table[i] = -1;
    size_t id = 0;
    for (long i = 0; i < nc; i++) {
        uint32_t sz = (uint32_t)(i + 1);
        int64_t st = counts[i], en = (i + 1 < nc) ? counts[i + 1] : (int64_t)total;
        size_t cnt = (size_t)(en - st) / sz;
        for (size_t k = 0; k < cnt; k++, id++) {
            if ((int64_t)sz < s->min_n || (int64_t)sz > s->max_n) continue;
            size_t start = (size_t)st + k * sz;
            uint64_t h = hash_pool(s, start, sz);
            size_t slot = (size_t)h & (s->cap - 1);
            bool replaced = false;
            while (s->table[slot] >= 0) {
                tf_gram *g = &s->grams[s->table[slot]];
                if (g->hash == h && g->n == sz && pool_eq(s, g->start, start, sz)) {
                    g->out = idx[id]; /* a later duplicate wins */
                    replaced = true;
                    break;
                }
                slot = (slot + 1) & (s->cap - 1);
            }
            if (replaced) continue;
            tf_gram *g = &s->grams[s->n_grams];
            g->n = sz;
            g->start = start;
            g->out = idx[id];
            g->hash = h;
            s->table[slot] = (int64_t)s->n_grams++;
        }
    }
    return EDGEML_OK;
}

/* Looks up the n-gram of size sz made of row items p, p+d, ...; returns the
 * output index or -1. */
static int64_t lookup(const tf_state *s, const em_tensor *x, size_t row, size_t pos, size_t d,
                      uint32_t sz, int64_t *ibuf)
{
    uint64_t h = sz;
    if (s->strings) {
        const em_str *xs = (const em_str *)x->data + row;
        for (uint32_t k = 0; k < sz; k++) {
            const em_str *e = &xs[pos + k * d];
            h = mix(h, hash_str(e->data, e->len));
        }
    } else {
        for (uint32_t k = 0; k < sz; k++) {
            size_t e = row + pos + k * d;
            ibuf[k] = x->dtype == EDGEML_INT64 ? ((const int64_t *)x->data)[e]
                                               : ((const int32_t *)x->data)[e];
            h = mix(h, (uint64_t)ibuf[k]);
        }
    }
    size_t slot = (size_t)h & (s->cap - 1);
    while (s->table[slot] >= 0) {
        const tf_gram *g = &s->grams[s->table[slot]];
        if (g->hash == h && g->n == sz) {
            bool eq = true;
            for (uint32_t k = 0; k < sz && eq; k++) {
                if (s->strings) {
                    const em_str *a = &s->pool_s[g->start + k];
                    const em_str *b = (const em_str *)x->data + row + pos + k * d;
                    eq = a->len == b->len && (a->len == 0 || memcmp(a->data, b->data, a->len) == 0);
                } else {
                    eq = s->pool_i[g->start + k] == ibuf[k];
                }
            }
            if (eq) return g->out;
        }
        slot = (slot + 1) & (s->cap - 1);
    }
    return -1;
}

edgeml_status misc_tfidf_run(em_kctx *c)
{
    const tf_state *s = c->node->state;
    const em_tensor *x = em_in(c, 0);
    if (!x) return em_fail(c, EDGEML_E_RUNTIME, "input is missing");
    if (s->strings ? x->dtype != EDGEML_STRING
                   : (x->dtype != EDGEML_INT32 && x->dtype != EDGEML_INT64))
        return em_fail(c, EDGEML_E_RUNTIME, "input dtype %s does not match the %s pool",
                       em_dtype_name(x->dtype), s->strings ? "string" : "int64");
    if (x->rank > 2)
        return em_fail(c, EDGEML_E_RUNTIME, "input must have shape [C] or [N, C]");
    size_t rows = 1, C;
    int64_t od[2];
    int orank;
    if (x->rank == 2) {
        rows = (size_t)x->dims[0];
        C = (size_t)x->dims[1];
        od[0] = x->dims[0];
        od[1] = s->out_size;
        orank = 2;
    } else {
        C = x->rank == 1 ? (size_t)x->dims[0] : 1;
        od[0] = s->out_size;
        orank = 1;
    }
    em_tensor *y = em_out(c, 0, EDGEML_FLOAT, orank, od);
    if (!y) return c->err->code ? c->err->code : EDGEML_E_NOMEM;
    float *out = y->data;
    size_t osz = (size_t)s->out_size;
    size_t total = rows * osz;
    for (size_t i = 0; i < total; i++) out[i] = 0.0f;
    int64_t *ibuf = em_scratch(c, (size_t)s->max_n * sizeof(int64_t) + 8);
    if (!ibuf) return em_fail(c, EDGEML_E_NOMEM, "out of memory");
    if (s->n_grams && C) {
        for (size_t r = 0; r < rows; r++) {
            float *yr = out + r * osz;
            size_t row = r * C;
            for (int64_t d = 1; d <= s->max_skip + 1; d++) {
                int64_t nmin = s->min_n;
                /* Unigrams are counted once (skips do not change them). */
                if (d > 1 && nmin == 1) nmin = 2;
                if (nmin > s->max_n) break;
                for (size_t pos = 0; pos < C; pos++) {
                    for (int64_t sz = nmin; sz <= s->max_n; sz++) {
                        if (pos + (size_t)(sz - 1) * (size_t)d >= C) break;
                        int64_t o = lookup(s, x, row, pos, (size_t)d, (uint32_t)sz, ibuf);
                        if (o >= 0 && (size_t)o < osz) yr[o] += 1.0f;
                    }
                }
            }
        }
    }
    if (s->mode == TF_TF) return EDGEML_OK;
    for (size_t r = 0; r < rows; r++) {
        float *yr = out + r * osz;
        for (size_t i = 0; i < osz; i++) {
            float wt = s->weights ? (i < s->n_weights ? s->weights[i] : 1.0f) : 1.0f;
            if (s->mode == TF_IDF) yr[i] = yr[i] > 0 ? wt : 0.0f;
            else yr[i] *= wt;
        }
    }
    return EDGEML_OK;
}
