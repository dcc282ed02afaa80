/* Shared helpers of the misc family: scalar readers, a seeded PRNG and an
 * FFT for any length (radix-2, direct for short odd sizes, Bluestein). */
#include "misc.h"

#include <math.h>
#include <stdlib.h>

bool misc_is_floatish(int dt)
{
    return dt == EDGEML_FLOAT || dt == EDGEML_DOUBLE || dt == EDGEML_FLOAT16 ||
           dt == EDGEML_BFLOAT16;
}

edgeml_status misc_scalar_int(em_kctx *c, const em_tensor *t, const char *what, int64_t *v)
{
    if (!t) return em_fail(c, EDGEML_E_RUNTIME, "input '%s' is missing", what);
    if (t->dtype != EDGEML_INT32 && t->dtype != EDGEML_INT64)
        return em_fail(c, EDGEML_E_RUNTIME, "'%s' must be int32 or int64, got %s", what,
                       em_dtype_name(t->dtype));
    if (em_numel(t) != 1 || t->rank > 1)
        return em_fail(c, EDGEML_E_RUNTIME, "'%s' must be a scalar", what);
    *v = em_get_i64(t->data, t->dtype, 0);
    return EDGEML_OK;
}

edgeml_status misc_scalar_float(em_kctx *c, const em_tensor *t, const char *what, double *v)
{
    if (!t) return em_fail(c, EDGEML_E_RUNTIME, "input '%s' is missing", what);
    if (!misc_is_floatish(t->dtype))
        return em_fail(c, EDGEML_E_RUNTIME, "'%s' must be a float tensor, got %s", what,
                       em_dtype_name(t->dtype));
    if (em_numel(t) != 1 || t->rank > 1)
        return em_fail(c, EDGEML_E_RUNTIME, "'%s' must be a scalar", what);
    *v = em_get_f64(t->data, t->dtype, 0);
    return EDGEML_OK;
}

/* ---- PRNG: xoshiro256** seeded with splitmix64 ------------------------- */

static uint64_t splitmix(uint64_t *x)
{
    uint64_t z = (*x += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

void misc_rng_seed(misc_rng *r, uint64_t seed)
{
    uint64_t x = seed;
    for (int i = 0; i < 4; i++) r->s[i] = splitmix(&x);
}

static inline uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

uint64_t misc_rng_next(misc_rng *r)
{
    uint64_t *s = r->s;
    uint64_t res = rotl(s[1] * 5, 7) * 9, t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return res;
}

double misc_rng_uniform(misc_rng *r)
{
    return (double)(misc_rng_next(r) >> 11) * (1.0 / 9007199254740992.0);
}

double misc_rng_normal(misc_rng *r)
{
    double u1 = misc_rng_uniform(r), u2 = misc_rng_uniform(r);
    if (u1 <= 0) u1 = 1e-300;
    return sqrt(-2.0 * log(u1)) * cos(6.283185307179586476925 * u2);
}

/* ---- FFT --------------------------------------------------------------- */

static const double MISC_TWO_PI = 6.283185307179586476925286766559;

struct misc_fft_plan {
    size_t n;
    int sign;
    int kind;            /* 0: trivial, 1: radix-2, 2: direct, 3: Bluestein */
    double *tw;          /* radix-2 twiddles (n/2 complex) or direct (n complex) */
    /* Bluestein */
    size_t m;
    double *mtw_f, *mtw_i; /* radix-2 twiddles of size m, forward and inverse */
    double *w;           /* chirp, n complex */
    double *bf;          /* FFT of the conjugate chirp, m complex */
    double *work;        /* m complex */
};

static double *twiddles(size_t n, size_t count, int sign)
{
    double *tw = malloc((count ? count : 1) * 2 * sizeof(double));
    if (!tw) return NULL;
    for (size_t k = 0; k < count; k++) {
        double a = MISC_TWO_PI * (double)k / (double)n;
        tw[2 * k] = cos(a);
        tw[2 * k + 1] = sign * sin(a);
    }
    return tw;
}

/* In-place radix-2 FFT, n a power of two, with twiddles tw (n/2 complex). */
static void fft_pow2(double *x, size_t n, const double *tw)
{
    if (n <= 1) return;
    for (size_t i = 1, j = 0; i < n; i++) {
        size_t bit = n >> 1;
        for (; j & bit; bit >>= 1) j ^= bit;
        j ^= bit;
        if (i < j) {
            double tr = x[2 * i], ti = x[2 * i + 1];
            x[2 * i] = x[2 * j];
            x[2 * i + 1] = x[2 * j + 1];
            x[2 * j] = tr;
            x[2 * j + 1] = ti;
        }
    }
    for (size_t len = 2; len <= n; len <<= 1) {
        size_t half = len >> 1, step = n / len;
        for (size_t i = 0; i < n; i += len) {
            for (size_t k = 0; k < half; k++) {
                double wr = tw[2 * k * step], wi = tw[2 * k * step + 1];
                double *a = x + 2 * (i + k), *b = x + 2 * (i + k + half);
                double br = b[0] * wr - b[1] * wi, bi = b[0] * wi + b[1] * wr;
                b[0] = a[0] - br;
                b[1] = a[1] - bi;
                a[0] += br;
                a[1] += bi;
            }
        }
    }
}

void misc_fft_plan_free(misc_fft_plan *p)
{
    if (!p) return;
    free(p->tw);
    free(p->mtw_f);
    free(p->mtw_i);
    free(p->w);
    free(p->bf);
    free(p->work);
    free(p);
}

misc_fft_plan *misc_fft_plan_new(size_t n, bool inverse)
{
    misc_fft_plan *p = calloc(1, sizeof *p);
    if (!p) return NULL;
    p->n = n;
    p->sign = inverse ? +1 : -1;
    if (n <= 1) return p;
    if ((n & (n - 1)) == 0) {
        p->kind = 1;
        if (!(p->tw = twiddles(n, n / 2, p->sign))) goto fail;
        return p;
    }
    if (n <= 64) {
        p->kind = 2;
        if (!(p->tw = twiddles(n, n, p->sign)) || !(p->work = malloc(2 * n * sizeof(double))))
            goto fail;
        return p;
    }
    p->kind = 3;
    size_t m = 1;
    while (m < 2 * n - 1) m <<= 1;
    p->m = m;
    p->mtw_f = twiddles(m, m / 2, -1);
    p->mtw_i = twiddles(m, m / 2, +1);
    p->w = malloc(2 * n * sizeof(double));
    p->bf = calloc(2 * m, sizeof(double));
    p->work = malloc(2 * m * sizeof(double));
    if (!p->mtw_f || !p->mtw_i || !p->w || !p->bf || !p->work) goto fail;
    /* w_k = exp(sign * i*pi*k^2/n), with k^2 reduced mod 2n. */
    for (size_t k = 0; k < n; k++) {
        unsigned long long k2 = ((unsigned long long)k * k) % (2ull * n);
        double ang = MISC_TWO_PI / 2 * (double)k2 / (double)n;
        p->w[2 * k] = cos(ang);
        p->w[2 * k + 1] = p->sign * sin(ang);
    }
    double *b = p->bf;
    b[0] = p->w[0];
    b[1] = -p->w[1];
    for (size_t k = 1; k < n; k++) {
        b[2 * k] = b[2 * (m - k)] = p->w[2 * k];
        b[2 * k + 1] = b[2 * (m - k) + 1] = -p->w[2 * k + 1];
    }
    fft_pow2(b, m, p->mtw_f);
    return p;
fail:
    misc_fft_plan_free(p);
    return NULL;
}

void misc_fft_exec(misc_fft_plan *p, double *x)
{
    size_t n = p->n;
    if (p->kind == 0) return;
    if (p->kind == 1) {
        fft_pow2(x, n, p->tw);
        return;
    }
    if (p->kind == 2) {
        double *out = p->work;
        const double *tw = p->tw;
        for (size_t k = 0; k < n; k++) {
            double sr = 0, si = 0;
            size_t idx = 0;
            for (size_t j = 0; j < n; j++) {
                double wr = tw[2 * idx], wi = tw[2 * idx + 1];
                sr += x[2 * j] * wr - x[2 * j + 1] * wi;
                si += x[2 * j] * wi + x[2 * j + 1] * wr;
                idx += k;
                if (idx >= n) idx -= n;
            }
            out[2 * k] = sr;
            out[2 * k + 1] = si;
        }
        memcpy(x, out, 2 * n * sizeof(double));
        return;
    }
    size_t m = p->m;
    double *a = p->work;
    const double *w = p->w, *b = p->bf;
    for (size_t k = 0; k < n; k++) {
        a[2 * k] = x[2 * k] * w[2 * k] - x[2 * k + 1] * w[2 * k + 1];
        a[2 * k + 1] = x[2 * k] * w[2 * k + 1] + x[2 * k + 1] * w[2 * k];
    }
    memset(a + 2 * n, 0, 2 * (m - n) * sizeof(double));
    fft_pow2(a, m, p->mtw_f);
    for (size_t k = 0; k < m; k++) {
        double ar = a[2 * k], ai = a[2 * k + 1], br = b[2 * k], bi = b[2 * k + 1];
        a[2 * k] = ar * br - ai * bi;
        a[2 * k + 1] = ar * bi + ai * br;
    }
    fft_pow2(a, m, p->mtw_i);
    double inv = 1.0 / (double)m;
    for (size_t k = 0; k < n; k++) {
        double cr = a[2 * k] * inv, ci = a[2 * k + 1] * inv;
        x[2 * k] = cr * w[2 * k] - ci * w[2 * k + 1];
        x[2 * k + 1] = cr * w[2 * k + 1] + ci * w[2 * k];
    }
}

bool misc_fft(double *data, size_t n, bool inverse)
{
    misc_fft_plan *p = misc_fft_plan_new(n, inverse);
    if (!p) return false;
    misc_fft_exec(p, data);
    misc_fft_plan_free(p);
    return true;
}
