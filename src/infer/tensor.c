/* Shapes, broadcasting and sequences. */
#include "internal.h"

#include <stdio.h>
#include <stdlib.h>

bool em_shape_numel(int rank, const int64_t *dims, size_t *out)
{
    size_t n = 1;
    bool zero = false;
    for (int i = 0; i < rank; i++) {
        if (dims[i] < 0) return false;
        if (dims[i] == 0) zero = true;
    }
    if (zero) { *out = 0; return true; }
    for (int i = 0; i < rank; i++) {
        if (__builtin_mul_overflow(n, (size_t)dims[i], &n)) return false;
    }
    if (em_size_above(n, 56)) return false;
    *out = n;
    return true;
}

size_t em_numel(const em_tensor *t)
{
    size_t n = 1;
    for (int i = 0; i < t->rank; i++) n *= (size_t)t->dims[i];
    return n;
}

size_t em_nbytes(const em_tensor *t) { return em_numel(t) * em_dtype_size(t->dtype); }

bool em_same_shape(const em_tensor *a, const em_tensor *b)
{
    if (a->rank != b->rank) return false;
    for (int i = 0; i < a->rank; i++)
        if (a->dims[i] != b->dims[i]) return false;
    return true;
}

const char *em_shape_str(int rank, const int64_t *dims, char *buf, size_t n)
{
    size_t off = 0;
    if (n == 0) return buf;
    buf[0] = 0;
    off += (size_t)snprintf(buf, n, "[");
    for (int i = 0; i < rank && off < n; i++)
        off += (size_t)snprintf(buf + off, n - off, "%s%lld", i ? "," : "", (long long)dims[i]);
    if (off < n) snprintf(buf + off, n - off, "]");
    return buf;
}

bool em_broadcast_shapes(int n, const em_tensor *const *ts, int *out_rank, int64_t *out_dims)
{
    int rank = 0;
    for (int k = 0; k < n; k++)
        if (ts[k] && ts[k]->rank > rank) rank = ts[k]->rank;
    for (int i = 0; i < rank; i++) out_dims[i] = 1;
    for (int k = 0; k < n; k++) {
        const em_tensor *t = ts[k];
        if (!t) continue;
        int off = rank - t->rank;
        for (int i = 0; i < t->rank; i++) {
            int64_t d = t->dims[i], *o = &out_dims[off + i];
            if (d == *o) continue;
            if (d == 1) continue;
            if (*o == 1) { *o = d; continue; }
            return false;
        }
    }
    *out_rank = rank;
    return true;
}

void em_strides(int rank, const int64_t *dims, int64_t *strides)
{
    int64_t s = 1;
    for (int i = rank - 1; i >= 0; i--) {
        strides[i] = s;
        s *= dims[i];
    }
}

void em_broadcast_strides(const em_tensor *t, int rank, const int64_t *dims, int64_t *strides)
{
    int64_t own[EM_MAX_RANK];
    em_strides(t->rank, t->dims, own);
    int off = rank - t->rank;
    for (int i = 0; i < rank; i++) {
        int j = i - off;
        if (j < 0 || (t->dims[j] == 1 && dims[i] != 1)) strides[i] = 0;
        else strides[i] = own[j];
    }
}

/* ---- sequences ---------------------------------------------------------- */

em_seq *em_seq_new(int elem_dtype)
{
    em_seq *s = calloc(1, sizeof *s);
    if (s) s->elem_dtype = elem_dtype;
    return s;
}

void em_seq_free(em_seq *s)
{
    if (!s) return;
    for (size_t i = 0; i < s->n; i++) free(s->items[i].data);
    free(s->items);
    free(s);
}

edgeml_status em_seq_insert_copy(em_seq *s, size_t pos, const em_tensor *t)
{
    if (pos > s->n) return EDGEML_E_INVALID;
    if (s->n == s->cap) {
        size_t cap = s->cap ? s->cap * 2 : 4;
        em_tensor *it = realloc(s->items, cap * sizeof *it);
        if (!it) return EDGEML_E_NOMEM;
        s->items = it;
        s->cap = cap;
    }
    em_tensor c = *t;
    size_t nb = em_nbytes(t);
    c.data = malloc(nb ? nb : 1);
    if (!c.data) return EDGEML_E_NOMEM;
    if (nb) memcpy(c.data, t->data, nb);
    memmove(&s->items[pos + 1], &s->items[pos], (s->n - pos) * sizeof *s->items);
    s->items[pos] = c;
    s->n++;
    if (!s->elem_dtype) s->elem_dtype = t->dtype;
    return EDGEML_OK;
}

void em_seq_erase(em_seq *s, size_t pos)
{
    if (pos >= s->n) return;
    free(s->items[pos].data);
    memmove(&s->items[pos], &s->items[pos + 1], (s->n - pos - 1) * sizeof *s->items);
    s->n--;
}

em_seq *em_seq_clone(const em_seq *s)
{
    em_seq *c = em_seq_new(s->elem_dtype);
    if (!c) return NULL;
    for (size_t i = 0; i < s->n; i++) {
        if (em_seq_insert_copy(c, c->n, &s->items[i]) != EDGEML_OK) {
            em_seq_free(c);
            return NULL;
        }
    }
    return c;
}
