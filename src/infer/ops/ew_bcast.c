/* Shared broadcasting loops of the elementwise family. */
#include "ew.h"
#include "../pool.h"

#define EW_MAXIN 8

typedef struct plan {
    int rank;                           /* collapsed rank (0: a single element) */
    int64_t dims[EM_MAX_RANK];
    int64_t st[EW_MAXIN][EM_MAX_RANK];  /* element strides per input */
} plan;

/* Builds the collapsed iteration plan: drops size-1 dims and merges adjacent
 * dims that every input walks with the same stride pattern. */
static void plan_build(int nin, const em_tensor *const *in, const em_tensor *out, plan *p)
{
    int64_t s[EW_MAXIN][EM_MAX_RANK];
    for (int k = 0; k < nin; k++) em_broadcast_strides(in[k], out->rank, out->dims, s[k]);
    p->rank = 0;
    for (int i = 0; i < out->rank; i++) {
        int64_t d = out->dims[i];
        if (d == 1) continue;
        if (p->rank > 0) {
            int last = p->rank - 1;
            bool ok = true;
            for (int k = 0; k < nin && ok; k++)
                if (p->st[k][last] != s[k][i] * d) ok = false;
            if (ok) {
                p->dims[last] *= d;
                for (int k = 0; k < nin; k++) p->st[k][last] = s[k][i];
                continue;
            }
        }
        p->dims[p->rank] = d;
        for (int k = 0; k < nin; k++) p->st[k][p->rank] = s[k][i];
        p->rank++;
    }
}

int ew_bcast2(const em_tensor *a, const em_tensor *b, em_tensor *out, ew_row2_fn fn,
              const void *param)
{
    size_t total = em_numel(out);
    if (total == 0) return 0;
    size_t ea = em_dtype_size(a->dtype), eb = em_dtype_size(b->dtype);
    size_t eo = em_dtype_size(out->dtype);
    const char *pa = a->data, *pb = b->data;
    char *po = out->data;
    /* fast paths: same shape, or a scalar side */
    size_t na = em_numel(a), nb = em_numel(b);
    if (na == total && nb == total)
        return fn(po, pa, 1, pb, 1, total, param);
    if (na == total && nb == 1 && em_same_shape(a, out))
        return fn(po, pa, 1, pb, 0, total, param);
    if (nb == total && na == 1 && em_same_shape(b, out))
        return fn(po, pa, 0, pb, 1, total, param);

    const em_tensor *ins[2] = {a, b};
    plan p;
    plan_build(2, ins, out, &p);
    if (p.rank == 0) return fn(po, pa, 0, pb, 0, 1, param);
    int r = p.rank - 1;
    size_t inner = (size_t)p.dims[r];
    ptrdiff_t sa = (ptrdiff_t)p.st[0][r], sb = (ptrdiff_t)p.st[1][r];
    int64_t idx[EM_MAX_RANK] = {0};
    size_t rows = total / inner;
    int64_t offa = 0, offb = 0;
    for (size_t row = 0; row < rows; row++) {
        int rc = fn(po, pa + (size_t)offa * ea, sa, pb + (size_t)offb * eb, sb, inner, param);
        if (rc) return rc;
        po += inner * eo;
        for (int d = r - 1; d >= 0; d--) {
            offa += p.st[0][d];
            offb += p.st[1][d];
            if (++idx[d] < p.dims[d]) break;
            offa -= p.st[0][d] * p.dims[d];
            offb -= p.st[1][d] * p.dims[d];
            idx[d] = 0;
        }
    }
    return 0;
}

typedef struct par2 {
    plan p;
    const char *pa, *pb;
    char *po;
    size_t ea, eb, eo, inner;
    ew_row2_fn fn;
    const void *param;
} par2;

/* Rows [rb, re) of the collapsed plan: the start offsets come from the row index. */
static void par2_rows(void *ctx, size_t rb, size_t re)
{
    const par2 *q = ctx;
    const plan *p = &q->p;
    int r = p->rank - 1;
    int64_t idx[EM_MAX_RANK] = {0}, offa = 0, offb = 0;
    size_t rem = rb;
    for (int d = r - 1; d >= 0; d--) {
        idx[d] = (int64_t)(rem % (size_t)p->dims[d]);
        rem /= (size_t)p->dims[d];
        offa += idx[d] * p->st[0][d];
        offb += idx[d] * p->st[1][d];
    }
    ptrdiff_t sa = (ptrdiff_t)p->st[0][r], sb = (ptrdiff_t)p->st[1][r];
    char *po = q->po + rb * q->inner * q->eo;
    for (size_t row = rb; row < re; row++) {
        q->fn(po, q->pa + (size_t)offa * q->ea, sa, q->pb + (size_t)offb * q->eb, sb, q->inner, q->param);
        po += q->inner * q->eo;
        for (int d = r - 1; d >= 0; d--) {
            offa += p->st[0][d];
            offb += p->st[1][d];
            if (++idx[d] < p->dims[d]) break;
            offa -= p->st[0][d] * p->dims[d];
            offb -= p->st[1][d] * p->dims[d];
            idx[d] = 0;
        }
    }
}

typedef struct flat2 {
    const char *pa, *pb;
    char *po;
    size_t ea, eb, eo;
    ptrdiff_t sa, sb;
    ew_row2_fn fn;
    const void *param;
} flat2;

static void flat2_range(void *ctx, size_t b, size_t e)
{
    const flat2 *q = ctx;
    q->fn(q->po + b * q->eo, q->pa + (size_t)q->sa * b * q->ea, q->sa, q->pb + (size_t)q->sb * b * q->eb, q->sb,
          e - b, q->param);
}

void ew_bcast2_par(const em_tensor *a, const em_tensor *b, em_tensor *out, ew_row2_fn fn,
                   const void *param, struct em_tpool *pool, int threads)
{
    size_t total = em_numel(out);
    if (total == 0) return;
    size_t ea = em_dtype_size(a->dtype), eb = em_dtype_size(b->dtype), eo = em_dtype_size(out->dtype);
    size_t na = em_numel(a), nb = em_numel(b);
    flat2 f = {a->data, b->data, out->data, ea, eb, eo, 1, 1, fn, param};
    bool flat = true;
    if (na == total && nb == total) {
    } else if (na == total && nb == 1 && em_same_shape(a, out)) f.sb = 0;
    else if (nb == total && na == 1 && em_same_shape(b, out)) f.sa = 0;
    else flat = false;
    if (flat) {
        em_parallel_for(pool, threads, total, 16384, flat2_range, &f);
        return;
    }
    const em_tensor *ins[2] = {a, b};
    par2 q;
    plan_build(2, ins, out, &q.p);
    if (q.p.rank == 0) { fn(out->data, a->data, 0, b->data, 0, 1, param); return; }
    q.pa = a->data; q.pb = b->data; q.po = out->data;
    q.ea = ea; q.eb = eb; q.eo = eo;
    q.inner = (size_t)q.p.dims[q.p.rank - 1];
    q.fn = fn;
    q.param = param;
    size_t rows = total / q.inner, grain = 16384 / q.inner + 1;
    em_parallel_for(pool, threads, rows, grain, par2_rows, &q);
}

int ew_bcastN(int nin, const em_tensor *const *in, em_tensor *out, ew_rowN_fn fn,
              const void *param)
{
    size_t total = em_numel(out);
    if (total == 0) return 0;
    if (nin > EW_MAXIN) return -1;
    size_t es[EW_MAXIN];
    const void *ptr[EW_MAXIN];
    ptrdiff_t s[EW_MAXIN];
    size_t eo = em_dtype_size(out->dtype);
    for (int k = 0; k < nin; k++) es[k] = em_dtype_size(in[k]->dtype);
    plan p;
    plan_build(nin, in, out, &p);
    char *po = out->data;
    if (p.rank == 0) {
        for (int k = 0; k < nin; k++) { ptr[k] = in[k]->data; s[k] = 0; }
        return fn(po, ptr, s, 1, param);
    }
    int r = p.rank - 1;
    size_t inner = (size_t)p.dims[r];
    for (int k = 0; k < nin; k++) s[k] = (ptrdiff_t)p.st[k][r];
    int64_t idx[EM_MAX_RANK] = {0};
    int64_t off[EW_MAXIN] = {0};
    size_t rows = total / inner;
    for (size_t row = 0; row < rows; row++) {
        for (int k = 0; k < nin; k++) ptr[k] = (const char *)in[k]->data + (size_t)off[k] * es[k];
        int rc = fn(po, ptr, s, inner, param);
        if (rc) return rc;
        po += inner * eo;
        for (int d = r - 1; d >= 0; d--) {
            for (int k = 0; k < nin; k++) off[k] += p.st[k][d];
            if (++idx[d] < p.dims[d]) break;
            for (int k = 0; k < nin; k++) off[k] -= p.st[k][d] * p.dims[d];
            idx[d] = 0;
        }
    }
    return 0;
}

edgeml_status ew_bcast_shape2(em_kctx *c, const em_tensor *a, const em_tensor *b, int *rank,
                              int64_t *dims)
{
    const em_tensor *ts[2] = {a, b};
    if (!em_broadcast_shapes(2, ts, rank, dims)) {
        char s1[128], s2[128];
        return em_fail(c, EDGEML_E_RUNTIME, "shapes %s and %s cannot be broadcast",
                       em_shape_str(a->rank, a->dims, s1, sizeof s1),
                       em_shape_str(b->rank, b->dims, s2, sizeof s2));
    }
    return EDGEML_OK;
}

edgeml_status ew_legacy_view(em_kctx *c, const em_tensor *a, const em_tensor *b, bool bcast,
                             bool has_axis, int64_t axis, em_tensor *bview)
{
    char s1[128], s2[128];
    *bview = *b;
    if (!bcast) {
        /* broadcast=0: shapes must agree (tolerate a 1-element B as older
         * runtimes did). */
        if (em_same_shape(a, b) || em_numel(b) == 1) {
            if (!em_same_shape(a, b)) { bview->rank = 0; }
            return EDGEML_OK;
        }
        return em_fail(c, EDGEML_E_RUNTIME,
                       "shapes %s and %s differ and attribute broadcast is 0",
                       em_shape_str(a->rank, a->dims, s1, sizeof s1),
                       em_shape_str(b->rank, b->dims, s2, sizeof s2));
    }
    if (em_numel(b) == 1 && b->rank <= a->rank) { bview->rank = 0; return EDGEML_OK; }
    int64_t start = has_axis ? axis : a->rank - b->rank;
    if (has_axis && start < 0) start += a->rank;
    if (b->rank > a->rank || start < 0 || start + b->rank > a->rank)
        return em_fail(c, EDGEML_E_RUNTIME, "cannot broadcast %s onto %s at axis %lld",
                       em_shape_str(b->rank, b->dims, s2, sizeof s2),
                       em_shape_str(a->rank, a->dims, s1, sizeof s1), (long long)start);
    bview->rank = a->rank;
    for (int i = 0; i < a->rank; i++) bview->dims[i] = 1;
    for (int i = 0; i < b->rank; i++) {
        int64_t d = b->dims[i];
        if (d != 1 && d != a->dims[start + i])
            return em_fail(c, EDGEML_E_RUNTIME, "cannot broadcast %s onto %s at axis %lld",
                           em_shape_str(b->rank, b->dims, s2, sizeof s2),
                           em_shape_str(a->rank, a->dims, s1, sizeof s1), (long long)start);
        bview->dims[start + i] = d;
    }
    return EDGEML_OK;
}

bool ew_dtype_known(int dt)
{
    return em_dtype_size(dt) != 0;
}

void ew_legacy_parse(const em_node *n, ew_legacy *l)
{
    memset(l, 0, sizeof *l);
    if (n->opset >= 7) return;
    l->legacy = true;
    l->bcast = em_attr_int(n, "broadcast", 0) != 0;
    const em_attr *ax = em_attr_get(n, "axis");
    if (ax) { l->has_axis = true; l->axis = ax->i; }
}

edgeml_status ew_binary_shape(em_kctx *c, const ew_legacy *l, const em_tensor *a,
                              const em_tensor *b, em_tensor *bview, int *rank, int64_t *dims)
{
    if (l && l->legacy) {
        edgeml_status st = ew_legacy_view(c, a, b, l->bcast, l->has_axis, l->axis, bview);
        if (st) return st;
        *rank = a->rank;
        memcpy(dims, a->dims, sizeof(int64_t) * (size_t)a->rank);
        return EDGEML_OK;
    }
    *bview = *b;
    return ew_bcast_shape2(c, a, b, rank, dims);
}
