/* Fast data movement for the shape family (see shape_fast.h). */
#include "shape_fast.h"
#include "../cpu/cpu.h"
#include "../pool.h"

#define SF_PAR_BYTES ((size_t)256 * 1024) /* below this a copy stays on the caller */
#define SF_TB 16                          /* transpose tile */

bool shape_fast_on(void) { return em_cpu_level_get() != EM_CPU_REFERENCE; }

static int sf_threads(em_kctx *c, size_t bytes, size_t units)
{
    if (!c || c->threads <= 1 || !c->pool || bytes < SF_PAR_BYTES || units < 2) return 1;
    return (size_t)c->threads < units ? c->threads : (int)units;
}

/* ---- strided views ------------------------------------------------------------- */

enum { V_ROWS, V_TILE, V_GATHER };

typedef struct sf_view {
    int mode, r, a;                      /* a: the source-contiguous axis (V_TILE) */
    int64_t dm[2 * EM_MAX_RANK], sm[2 * EM_MAX_RANK], ds[2 * EM_MAX_RANK];
    int no;                              /* outer axes (V_TILE: all but a and r-1; else 0..r-2) */
    int oax[2 * EM_MAX_RANK];
    int64_t nblk;                        /* V_TILE: tiles along a per outer index */
    size_t es;
    char *dst;
    const char *src;
} sf_view;

/* Source and destination offsets (elements) of outer index u. */
static void outer_at(const sf_view *v, size_t u, int64_t *idx, int64_t *so, int64_t *dof)
{
    int64_t s = 0, d = 0;
    for (int k = v->no - 1; k >= 0; k--) {
        int ax = v->oax[k];
        idx[k] = (int64_t)(u % (size_t)v->dm[ax]);
        u /= (size_t)v->dm[ax];
        s += idx[k] * v->sm[ax];
        d += idx[k] * v->ds[ax];
    }
    *so = s;
    *dof = d;
}

static void outer_next(const sf_view *v, int64_t *idx, int64_t *so, int64_t *dof)
{
    for (int k = v->no - 1; k >= 0; k--) {
        int ax = v->oax[k];
        *so += v->sm[ax];
        *dof += v->ds[ax];
        if (++idx[k] < v->dm[ax]) return;
        *so -= v->dm[ax] * v->sm[ax];
        *dof -= v->dm[ax] * v->ds[ax];
        idx[k] = 0;
    }
}

#define SF_TILE(T)                                                                          \
    do {                                                                                    \
        const T *s_ = (const T *)sp;                                                        \
        T *d_ = (T *)dp;                                                                    \
        for (int64_t j0 = 0; j0 < I; j0 += SF_TB) {                                         \
            int64_t j1 = j0 + SF_TB < I ? j0 + SF_TB : I;                                   \
            for (int64_t i = i0; i < i1; i++) {                                             \
                T *dr = d_ + i * dsa;                                                       \
                const T *sr = s_ + i;                                                       \
                for (int64_t j = j0; j < j1; j++) dr[j] = sr[j * ist];                      \
            }                                                                               \
        }                                                                                   \
    } while (0)

#define SF_GATHER(T)                                                                        \
    do {                                                                                    \
        const T *s_ = (const T *)sp;                                                        \
        T *d_ = (T *)dp;                                                                    \
        for (int64_t j = 0; j < I; j++) d_[j] = s_[j * ist];                                \
    } while (0)

static void view_units(void *ctx, size_t b, size_t e)
{
    const sf_view *v = ctx;
    int64_t idx[2 * EM_MAX_RANK], so, dof;
    size_t es = v->es;
    int64_t I = v->dm[v->r - 1], ist = v->sm[v->r - 1];
    if (v->mode == V_TILE) {
        int64_t A = v->dm[v->a], dsa = v->ds[v->a];
        size_t u = b;
        outer_at(v, u / (size_t)v->nblk, idx, &so, &dof);
        size_t cur = u / (size_t)v->nblk;
        for (; u < e; u++) {
            size_t o = u / (size_t)v->nblk;
            while (cur < o) { outer_next(v, idx, &so, &dof); cur++; }
            int64_t i0 = (int64_t)(u % (size_t)v->nblk) * SF_TB, i1 = i0 + SF_TB < A ? i0 + SF_TB : A;
            const char *sp = v->src + so * (int64_t)es;
            char *dp = v->dst + dof * (int64_t)es;
            switch (es) {
            case 1: SF_TILE(uint8_t); break;
            case 2: SF_TILE(uint16_t); break;
            case 4: SF_TILE(uint32_t); break;
            default: SF_TILE(uint64_t); break;
            }
        }
        return;
    }
    outer_at(v, b, idx, &so, &dof);
    for (size_t u = b; u < e; u++) {
        const char *sp = v->src + so * (int64_t)es;
        char *dp = v->dst + dof * (int64_t)es;
        if (v->mode == V_ROWS) {
            memcpy(dp, sp, (size_t)I * es);
        } else {
            switch (es) {
            case 1: SF_GATHER(uint8_t); break;
            case 2: SF_GATHER(uint16_t); break;
            case 4: SF_GATHER(uint32_t); break;
            case 8: SF_GATHER(uint64_t); break;
            default:
                for (int64_t j = 0; j < I; j++) memcpy(dp + (size_t)j * es, sp + j * ist * (int64_t)es, es);
            }
        }
        outer_next(v, idx, &so, &dof);
    }
}

void shape_view_fast(em_kctx *c, void *dst, const void *src, size_t esize, int rank, const int64_t *dims,
                     const int64_t *sstrides)
{
    if (!shape_fast_on()) {
        shape_copy_view(dst, src, esize, rank, dims, sstrides);
        return;
    }
    sf_view v;
    v.r = 0;
    for (int i = 0; i < rank; i++) {
        if (dims[i] == 0) return;
        if (dims[i] == 1) continue;
        if (v.r > 0 && v.sm[v.r - 1] == sstrides[i] * dims[i]) {
            v.dm[v.r - 1] *= dims[i];
            v.sm[v.r - 1] = sstrides[i];
            continue;
        }
        v.dm[v.r] = dims[i];
        v.sm[v.r] = sstrides[i];
        v.r++;
    }
    if (v.r == 0) { memcpy(dst, src, esize); return; }
    int r = v.r;
    v.ds[r - 1] = 1;
    for (int i = r - 2; i >= 0; i--) v.ds[i] = v.ds[i + 1] * v.dm[i + 1];
    size_t total = (size_t)(v.ds[0] * v.dm[0]), bytes = total * esize;
    if (r == 1 && v.sm[0] == 1) { shape_memcpy_fast(c, dst, src, bytes); return; }
    v.es = esize;
    v.dst = dst;
    v.src = src;
    v.a = -1;
    if (v.sm[r - 1] == 1) v.mode = V_ROWS;
    else {
        for (int i = r - 2; i >= 0; i--)
            if (v.sm[i] == 1) { v.a = i; break; }
        v.mode = v.a >= 0 && (esize == 1 || esize == 2 || esize == 4 || esize == 8) && v.dm[r - 1] >= 4 ? V_TILE : V_GATHER;
    }
    v.no = 0;
    size_t units = 1;
    for (int i = 0; i < r - 1; i++) {
        if (v.mode == V_TILE && i == v.a) continue;
        v.oax[v.no++] = i;
        units *= (size_t)v.dm[i];
    }
    if (v.mode == V_TILE) {
        v.nblk = (v.dm[v.a] + SF_TB - 1) / SF_TB;
        units *= (size_t)v.nblk;
    }
    int T = sf_threads(c, bytes, units);
    if (T <= 1) view_units(&v, 0, units);
    else em_parallel_for(c->pool, T, units, 1, view_units, &v);
}

/* ---- rows and plain copies ------------------------------------------------------------ */

typedef struct sf_rows {
    char *d;
    const char *s;
    size_t ds, ss, row;
} sf_rows;

static void rows_units(void *ctx, size_t b, size_t e)
{
    const sf_rows *q = ctx;
    for (size_t i = b; i < e; i++) memcpy(q->d + i * q->ds, q->s + i * q->ss, q->row);
}

void shape_rows_fast(em_kctx *c, void *dst, size_t dstride, const void *src, size_t sstride, size_t row,
                     size_t rows)
{
    if (!row || !rows) return;
    if (rows == 1 || (dstride == row && sstride == row)) { shape_memcpy_fast(c, dst, src, row * rows); return; }
    sf_rows q = {dst, src, dstride, sstride, row};
    int T = sf_threads(c, row * rows, rows);
    if (T <= 1) rows_units(&q, 0, rows);
    else em_parallel_for(c->pool, T, rows, 1, rows_units, &q);
}

#define SF_CHUNK ((size_t)64 * 1024)

static void memcpy_units(void *ctx, size_t b, size_t e)
{
    const sf_rows *q = ctx;
    size_t lo = b * SF_CHUNK, hi = e * SF_CHUNK < q->row ? e * SF_CHUNK : q->row;
    memcpy(q->d + lo, q->s + lo, hi - lo);
}

void shape_memcpy_fast(em_kctx *c, void *dst, const void *src, size_t n)
{
    if (!n) return;
    size_t units = (n + SF_CHUNK - 1) / SF_CHUNK;
    int T = shape_fast_on() ? sf_threads(c, n, units) : 1;
    if (T <= 1) { memcpy(dst, src, n); return; }
    sf_rows q = {dst, src, 0, 0, n};
    em_parallel_for(c->pool, T, units, 1, memcpy_units, &q);
}
