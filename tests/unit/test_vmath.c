/* Vectorised math (src/infer/cpu/vmath*.c) and the fast element-wise,
 * softmax, pooling and normalisation kernels.
 *
 * 1. Every function of every table the host supports (reference, scalar,
 *    avx2, avx512 / neon) against double-precision libm: a dense sweep of
 *    float bit patterns over each function's interesting range, random
 *    values, and special values (+-0, +-inf, NaN, subnormals, overflow and
 *    underflow thresholds). Errors are in ulps of the correctly rounded
 *    result (below a per-function floor, in units of that floor); the bounds
 *    asserted are what docs/runtime.md promises. Piecewise activations must
 *    equal em_act_apply_ref bit for bit (NaN included).
 * 2. `test_vmath --models DIR`: every DIR/<case>/model.onnx (written by
 *    vmath_models.py) runs with the fast kernels and with EDGEML_CPU=reference
 *    (em_cpu_force) on the same random inputs, at 1 and 2 threads; outputs
 *    must agree within the tolerance the case's name gives. */
#include "cpu/vmath.h"
#include "edgeml/infer.h"

#include <dirent.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int g_fail, g_checks, g_differ;
#define CHECK(cond, ...) do { g_checks++; if (!(cond)) { g_fail++; fprintf(stderr, "FAIL: " __VA_ARGS__); fputc('\n', stderr); } } while (0)

static uint64_t g_rng = 0x9e3779b97f4a7c15ull;
static uint32_t rnd32(void)
{
    g_rng ^= g_rng << 13; g_rng ^= g_rng >> 7; g_rng ^= g_rng << 17;
    return (uint32_t)(g_rng >> 16);
}
static float bits2f(uint32_t u) { float f; memcpy(&f, &u, 4); return f; }
static uint32_t f2bits(float f) { uint32_t u; memcpy(&u, &f, 4); return u; }

/* ---- double-precision truths --------------------------------------------- */
static double t_exp(double x) { return exp(x); }
static double t_log(double x) { return log(x); }
static double t_sigmoid(double x) { return x >= 0 ? 1 / (1 + exp(-x)) : exp(x) / (1 + exp(x)); }
static double t_tanh(double x) { return tanh(x); }
static double t_erf(double x) { return erf(x); }
static double t_gelu(double x) { return 0.5 * x * erfc(-x * 0.70710678118654752440); }
static double t_gelu_tanh(double x)
{
    if (isinf(x)) return x < 0 ? -0.0 : x;
    double u = 0.79788456080286535588 * (x + 0.044715 * x * x * x);
    return x * t_sigmoid(2 * u);
}
static double t_silu(double x) { return isinf(x) && x < 0 ? -0.0 : x * t_sigmoid(x); }
static double t_softplus(double x) { return x > 0 ? x + log1p(exp(-x)) : log1p(exp(x)); }
static double t_mish(double x) { return isinf(x) && x < 0 ? -0.0 : x * tanh(t_softplus(x)); }

typedef struct fn_case {
    const char *name;
    size_t off;          /* offsetof em_vmath member */
    double (*truth)(double);
    float lo, hi;        /* sweep range */
    double floor;        /* below |truth| < floor, errors count in units of floor */
    double bound_ulp;    /* asserted bound (SIMD variants, fused multiply-add) */
    double bound_ulp_scalar; /* the portable one-lane variant (no FMA) */
} fn_case;

#define OFF(m) offsetof(em_vmath, m)
static const fn_case k_fns[] = {
    {"exp", OFF(exp), t_exp, -110.f, 95.f, 0, 1.5, 1.5},
    {"log", OFF(log), t_log, 0.f, 3.4e38f, 0, 1, 1},
    {"sigmoid", OFF(sigmoid), t_sigmoid, -110.f, 30.f, 0, 2.5, 2.5},
    {"tanh", OFF(tanh), t_tanh, -12.f, 12.f, 0, 1.5, 1.5},
    {"erf", OFF(erf), t_erf, -6.f, 6.f, 0, 2.5, 2.5},
    {"gelu", OFF(gelu), t_gelu, -16.f, 16.f, 1e-30, 14, 64},
    /* x + 0.044715 x^3 rounded to float: the truth's condition number grows like 0.27 x^4 */
    {"gelu_tanh", OFF(gelu_tanh), t_gelu_tanh, -12.f, 12.f, 1e-4, 24, 28},
    {"silu", OFF(silu), t_silu, -110.f, 100.f, 1e-30, 3.5, 3.5},
    {"softplus", OFF(softplus), t_softplus, -110.f, 100.f, 1e-30, 2, 2},
    {"mish", OFF(mish), t_mish, -110.f, 100.f, 1e-30, 4, 4},
};

/* ulps of float at |t| (subnormal spacing below FLT_MIN) */
static double ulp_of(double t)
{
    t = fabs(t);
    if (t < 1.1754943508222875e-38) return 1.401298464324817e-45;
    int e;
    frexp(t, &e);
    return ldexp(1.0, e - 24);
}

typedef struct stat { double max_err; float worst_x; size_t n; int bad_special; } stat;

static void score(const fn_case *fc, float x, float y, stat *st)
{
    double t = fc->truth((double)x);
    st->n++;
    if (isnan(t)) { if (!isnan(y)) { if (st->bad_special++ < 3) fprintf(stderr, "  %s(%a) = %a, want NaN\n", fc->name, x, y); } return; }
    if (isinf(t) || fabs(t) > 3.4028234663852886e38) {
        /* overflow: the correctly rounded float is inf unless t rounds down to FLT_MAX */
        float tf = (float)t;
        if (isinf(tf) ? y != tf : fabs((double)y - t) > ulp_of(t) * 2) {
            if (st->bad_special++ < 3) fprintf(stderr, "  %s(%a) = %a, want %a\n", fc->name, x, y, tf);
        }
        return;
    }
    if (isnan(y) || isinf(y)) { if (st->bad_special++ < 3) fprintf(stderr, "  %s(%a) = %a, want %a\n", fc->name, x, y, t); return; }
    double u = ulp_of(t);
    if (fabs(t) < fc->floor) u = fc->floor * 5.96e-8 > u ? fc->floor * 5.96e-8 : u;
    double e = fabs((double)y - t) / u;
    if (e > st->max_err) { st->max_err = e; st->worst_x = x; }
}

static void eval(const em_vmath *vm, const fn_case *fc, const float *x, float *y, size_t n)
{
    em_vfn f = *(const em_vfn *)((const char *)vm + fc->off);
    f(x, y, n);
}

#define CHUNK 4096
static void test_fn(const em_vmath *vm, const fn_case *fc, bool scalar, double *report)
{
    static float xs[CHUNK], ys[CHUNK];
    stat st = {0};
    size_t k = 0;
    /* dense sweep of bit patterns in [lo, hi]: positives and negatives separately */
    for (int sign = 0; sign < 2; sign++) {
        float a = sign ? (fc->lo < 0 ? 0.f : NAN) : (fc->hi > 0 ? 0.f : NAN);
        float b = sign ? -fc->lo : fc->hi;
        if (a != a || !(b > 0)) continue;
        uint32_t ua = f2bits(a), ub = f2bits(b);
        uint32_t step = (ub - ua) / 1500000 + 1;
        for (uint64_t u = ua; u <= ub; u += step) {
            float v = bits2f((uint32_t)u);
            xs[k++] = sign ? -v : v;
            if (k == CHUNK) { eval(vm, fc, xs, ys, k); for (size_t i = 0; i < k; i++) score(fc, xs[i], ys[i], &st); k = 0; }
        }
    }
    /* random values anywhere (every exponent), and uniform in the range */
    for (int i = 0; i < 200000; i++) {
        float v = (i & 1) ? bits2f(rnd32()) : fc->lo + (fc->hi - fc->lo) * (float)(rnd32() / 4294967296.0);
        xs[k++] = v;
        if (k == CHUNK) { eval(vm, fc, xs, ys, k); for (size_t j = 0; j < k; j++) score(fc, xs[j], ys[j], &st); k = 0; }
    }
    /* specials, at odd offsets so that they also land in tails */
    static const float sp[] = {0.f, -0.f, INFINITY, -INFINITY, NAN, -NAN, 1e-45f, -1e-45f, 1.17549435e-38f,
                               -1.17549435e-38f, 3.4028235e38f, -3.4028235e38f, 88.7228f, 88.7229f, -87.3365f,
                               -103.972f, -103.973f, -104.f, 89.f, 1.f, -1.f, 0.625f, -0.625f, 3.9f, -3.9f,
                               9.1f, -9.1f, 20.f, 20.0001f, -30.f, 1e-20f, -1e-20f, 5.5f, -5.5f, 0.5f};
    eval(vm, fc, xs, ys, k);
    for (size_t j = 0; j < k; j++) score(fc, xs[j], ys[j], &st);
    for (size_t len = 1; len <= sizeof sp / sizeof sp[0]; len += 6) {
        eval(vm, fc, sp, ys, len);
        for (size_t j = 0; j < len; j++) score(fc, sp[j], ys[j], &st);
    }
    /* -0 keeps its sign where the function is odd at 0 */
    if (fc->truth == t_tanh || fc->truth == t_erf) {
        float z = -0.f, r;
        eval(vm, fc, &z, &r, 1);
        CHECK(r == 0 && signbit(r), "%s/%s(-0) = %a, want -0", vm->name, fc->name, r);
    }
    /* in place gives the same */
    for (int i = 0; i < 37; i++) xs[i] = fc->lo + (fc->hi - fc->lo) * (float)i / 37;
    eval(vm, fc, xs, ys, 37);
    eval(vm, fc, xs, xs, 37);
    CHECK(memcmp(xs, ys, 37 * sizeof(float)) == 0, "%s/%s in place differs", vm->name, fc->name);
    double bound = scalar ? fc->bound_ulp_scalar : fc->bound_ulp;
    *report = st.max_err;
    printf("  %-10s %-9s max %.3f ulp at %a (%zu values)%s\n", vm->name, fc->name, st.max_err, st.worst_x, st.n,
           st.bad_special ? " BAD SPECIALS" : "");
    if (vm == &em_vmath_ref) return; /* libm's float functions: reported, not asserted */
    CHECK(st.bad_special == 0, "%s/%s: %d wrong special results", vm->name, fc->name, st.bad_special);
    if (vm != &em_vmath_ref)
        CHECK(st.max_err <= bound, "%s/%s: max error %.3f ulp > %.1f (at x = %a)", vm->name, fc->name, st.max_err, bound,
              st.worst_x);
}

static void test_act(const em_vmath *vm)
{
    static const em_act acts[] = {
        {EM_ACT_RELU, 0, 0}, {EM_ACT_CLIP, -0.5f, 6.f}, {EM_ACT_LEAKY, 0.1f, 0}, {EM_ACT_HARDSIGMOID, 0.2f, 0.5f},
        {EM_ACT_HARDSWISH, 0, 0}, {EM_ACT_SIGMOID, 0, 0}, {EM_ACT_SILU, 0, 0}, {EM_ACT_GELU, 0, 0},
        {EM_ACT_GELU_TANH, 0, 0}, {EM_ACT_TANH, 0, 0}, {EM_ACT_NONE, 0, 0},
    };
    enum { N = 1000 };
    float x[N], a[N], b[N];
    for (int i = 0; i < N; i++) x[i] = (float)(rnd32() / 4294967296.0 * 20 - 10);
    x[3] = NAN; x[7] = INFINITY; x[8] = -INFINITY; x[9] = -0.f; x[10] = 6.f; x[11] = -3.f; x[12] = 3.f;
    for (size_t k = 0; k < sizeof acts / sizeof acts[0]; k++) {
        int kind = acts[k].kind;
        bool exact = kind == EM_ACT_RELU || kind == EM_ACT_CLIP || kind == EM_ACT_LEAKY ||
                     kind == EM_ACT_HARDSIGMOID || kind == EM_ACT_NONE;
        for (size_t n = 0; n <= N; n = n ? n * 3 + 1 : 1) {
            memcpy(a, x, sizeof x);
            memcpy(b, x, sizeof x);
            vm->act(&acts[k], a, n);
            em_act_apply_ref(&acts[k], b, n);
            bool ok = true;
            for (size_t i = 0; i < N && ok; i++) {
                if (i >= n) { ok = f2bits(a[i]) == f2bits(x[i]); continue; }
                if (exact || kind == EM_ACT_HARDSWISH) {
                    /* hardswish: x / 6 + 0.5 in the same order: equal bits */
                    ok = f2bits(a[i]) == f2bits(b[i]) || (a[i] != a[i] && b[i] != b[i]);
                } else {
                    ok = (a[i] != a[i]) == (b[i] != b[i]) &&
                         (a[i] != a[i] || fabsf(a[i] - b[i]) <= 4e-7f * fmaxf(1.f, fabsf(b[i])) ||
                          (isinf(b[i]) && a[i] == b[i]) || (isnan(b[i]) && isnan(a[i])));
                    if (!ok && (kind == EM_ACT_SILU || kind == EM_ACT_GELU_TANH) && isinf(x[i])) ok = true; /* ref: -inf * 0 = NaN, ours -0 */
                }
                if (!ok) fprintf(stderr, "  act %d at %zu: x=%a fast=%a ref=%a\n", kind, i, x[i], a[i], b[i]);
            }
            CHECK(ok, "%s act kind %d, n=%zu differs from em_act_apply_ref", vm->name, kind, n);
        }
    }
}

static void test_helpers(const em_vmath *vm)
{
    enum { N = 1237 };
    static float x[N], y[N], z[N];
    for (size_t n = 0; n <= N; n = n < 40 ? n + 1 : n * 2 + 3) {
        if (n > N) n = N;
        double s = 0, m = -INFINITY;
        for (size_t i = 0; i < n; i++) { x[i] = (float)(rnd32() / 4294967296.0 * 8 - 4); s += x[i]; if (x[i] > m) m = x[i]; }
        CHECK((n == 0 && vm->max(x, n) == -INFINITY) || vm->max(x, n) == (float)m, "%s max n=%zu", vm->name, n);
        CHECK(fabs(vm->sum(x, n) - s) <= 1e-6 * (double)n * 4, "%s sum n=%zu: %g vs %g", vm->name, n, vm->sum(x, n), s);
        double mean = n ? s / (double)n : 0, sq = 0, es = 0;
        for (size_t i = 0; i < n; i++) { sq += (x[i] - (float)mean) * (double)(x[i] - (float)mean); es += exp((double)x[i] - m); }
        CHECK(fabs(vm->sum_sqdev(x, n, (float)mean) - sq) <= 2e-6 * sq + 1e-6, "%s sum_sqdev n=%zu", vm->name, n);
        if (n) {
            float got = vm->exp_sub_sum(x, y, n, (float)m);
            CHECK(fabs(got - es) <= 1e-6 * es * 4, "%s exp_sub_sum n=%zu: %g vs %g", vm->name, n, got, es);
            bool ok = true;
            for (size_t i = 0; i < n; i++) ok &= fabs(y[i] - exp((double)(x[i] - (float)m))) <= 2 * ulp_of(y[i]);
            CHECK(ok, "%s exp_sub_sum values n=%zu", vm->name, n);
            if (n >= 3) { x[n / 2] = NAN; CHECK(isnan(vm->max(x, n)), "%s max NaN n=%zu", vm->name, n); x[n / 2] = 0; }
        }
        vm->affine(x, y, n, 1.5f, -0.25f);
        bool ok = true;
        for (size_t i = 0; i < n; i++) ok &= fabs(y[i] - (x[i] * 1.5 - 0.25)) <= ulp_of(y[i]) + ulp_of(x[i] * 1.5);
        CHECK(ok, "%s affine n=%zu", vm->name, n);
        for (int op = 0; op < EM_VBIN_COUNT; op++)
            for (int mode = 0; mode < 4; mode++) {
                ptrdiff_t sa = mode & 1, sb = (mode >> 1) & 1;
                for (size_t i = 0; i < n; i++) z[i] = (float)(rnd32() / 4294967296.0 * 4 + 0.5);
                vm->bin[op](y, x, sa, z, sb, n);
                ok = true;
                for (size_t i = 0; i < n; i++) {
                    float a = x[i * sa], b = z[i * sb];
                    float w = op == 0 ? a + b : op == 1 ? a - b : op == 2 ? a * b : a / b;
                    ok &= f2bits(w) == f2bits(y[i]);
                }
                CHECK(ok, "%s bin op %d mode %d n=%zu", vm->name, op, mode, n);
            }
        if (n == N) break;
    }
}

/* ---- part 2: fast kernels vs reference kernels through the public API ------- */

static int run_model(const char *path, int threads, em_cpu_level lvl, float **in, size_t *in_n, float **out, size_t *out_n,
                     size_t *n_out)
{
    em_cpu_force(lvl);
    edgeml_error e;
    edgeml_model *m;
    if (edgeml_model_load(path, NULL, &m, &e)) { fprintf(stderr, "%s: %s\n", path, e.msg); return 1; }
    edgeml_session_options so = {threads};
    edgeml_session *s;
    if (edgeml_session_create(m, &so, &s, &e)) { fprintf(stderr, "%s: %s\n", path, e.msg); edgeml_model_free(m); return 1; }
    size_t ni = edgeml_model_num_inputs(m);
    int rc = 0;
    for (size_t i = 0; i < ni && i < 4; i++) {
        edgeml_value_info vi;
        if (edgeml_model_input(m, i, &vi) || vi.has_default) continue;
        size_t n = 1;
        for (int d = 0; d < vi.rank; d++) n *= (size_t)vi.dims[d];
        if (!in[i]) {
            in[i] = malloc((n ? n : 1) * sizeof(float));
            in_n[i] = n;
            for (size_t k = 0; k < n; k++) in[i][k] = (float)(rnd32() / 4294967296.0 * 8 - 4);
            /* a few specials inside */
            if (n > 20) { in[i][5] = 0.f; in[i][11] = -0.f; in[i][17] = 40.f; in[i][19] = -40.f; }
        }
        if (edgeml_session_set_input(s, vi.name, EDGEML_FLOAT, vi.rank, vi.dims, in[i], n * sizeof(float),
                                     EDGEML_INPUT_COPY, &e)) { fprintf(stderr, "%s: %s\n", path, e.msg); rc = 1; goto done; }
    }
    if (edgeml_session_run(s, &e)) { fprintf(stderr, "%s: %s\n", path, e.msg); rc = 1; goto done; }
    *n_out = edgeml_model_num_outputs(m);
    for (size_t i = 0; i < *n_out && i < 4; i++) {
        edgeml_tensor t;
        if (edgeml_session_output(s, i, &t, &e) || t.dtype != EDGEML_FLOAT) { rc = 1; goto done; }
        out_n[i] = t.nbytes / sizeof(float);
        out[i] = malloc(t.nbytes + 4);
        memcpy(out[i], t.data, t.nbytes);
    }
done:
    edgeml_session_free(s);
    edgeml_model_free(m);
    return rc;
}

static void test_models(const char *dir)
{
    DIR *d = opendir(dir);
    CHECK(d != NULL, "cannot open %s", dir);
    if (!d) return;
    struct dirent *de;
    int cases = 0;
    em_cpu_level hw = em_cpu_level_hw();
    while ((de = readdir(d))) {
        if (de->d_name[0] == '.') continue;
        char path[4096];
        snprintf(path, sizeof path, "%s/%s/model.onnx", dir, de->d_name);
        /* tolerance from the name: "...__tol1e-6" (relative, with an absolute floor of the same size) */
        double tol = 1e-6;
        const char *tp = strstr(de->d_name, "__tol");
        if (tp) tol = atof(tp + 5);
        float *in[4] = {0}, *ref[4] = {0};
        size_t in_n[4] = {0}, ref_n[4] = {0}, nout = 0;
        if (run_model(path, 1, EM_CPU_REFERENCE, in, in_n, ref, ref_n, &nout)) { CHECK(0, "%s: reference run failed", de->d_name); continue; }
        for (int th = 1; th <= 2; th++) {
            float *got[4] = {0};
            size_t got_n[4] = {0}, gn = 0;
            if (run_model(path, th, hw, in, in_n, got, got_n, &gn)) { CHECK(0, "%s: fast run failed", de->d_name); continue; }
            for (size_t o = 0; o < nout && o < 4; o++) {
                CHECK(got_n[o] == ref_n[o], "%s output %zu: %zu vs %zu elements", de->d_name, o, got_n[o], ref_n[o]);
                double worst = 0;
                size_t wi = 0;
                for (size_t i = 0; i < ref_n[o] && i < got_n[o]; i++) {
                    float a = got[o][i], b = ref[o][i];
                    if (a != a || b != b) { if ((a != a) != (b != b)) { worst = INFINITY; wi = i; } continue; }
                    if (a == b) continue;
                    double e = fabs((double)a - b) / (fabs((double)b) + 1.0);
                    if (e > worst) { worst = e; wi = i; }
                }
                if (worst > 0 && th == 1) g_differ++;
                CHECK(worst <= tol, "%s output %zu (threads %d): error %.3g > %.3g at %zu (fast %a, ref %a)", de->d_name, o,
                      th, worst, tol, wi, got[o][wi], ref[o][wi]);
                free(got[o]);
            }
        }
        for (int i = 0; i < 4; i++) { free(in[i]); free(ref[i]); }
        cases++;
    }
    closedir(d);
    em_cpu_force(hw);
    printf("  %d model cases compared (fast at 1 and 2 threads vs reference), %d not bit-identical\n", cases, g_differ);
    /* the fast kernels did run: the transcendental ones are not bit-identical to libm */
    CHECK(g_differ > 0 || em_cpu_level_hw() == EM_CPU_REFERENCE, "no case differs: were the fast paths used?");
    CHECK(cases >= 20, "only %d model cases in %s", cases, dir);
}

int main(int argc, char **argv)
{
    if (argc == 3 && strcmp(argv[1], "--models") == 0) {
        test_models(argv[2]);
    } else {
        em_cpu_level hw = em_cpu_level_hw();
        const em_vmath *tabs[] = {&em_vmath_ref, &em_vmath__scalar, em_vmath_for(EM_CPU_AVX2),
                                  em_vmath_for(EM_CPU_AVX512), em_vmath_for(EM_CPU_NEON)};
        bool have[] = {true, true, hw >= EM_CPU_AVX2 && hw < EM_CPU_NEON, hw >= EM_CPU_AVX512 && hw < EM_CPU_NEON,
                       hw >= EM_CPU_NEON};
        for (size_t t = 0; t < sizeof tabs / sizeof tabs[0]; t++) {
            if (!have[t] || !tabs[t]) continue;
            for (size_t f = 0; f < sizeof k_fns / sizeof k_fns[0]; f++) {
                double e;
                test_fn(tabs[t], &k_fns[f], tabs[t] == &em_vmath__scalar, &e);
            }
            test_act(tabs[t]);
            test_helpers(tabs[t]);
        }
        /* dispatch: the level in use picks its table; reference gives libm */
        em_cpu_force(EM_CPU_REFERENCE);
        CHECK(em_vmath_get() == &em_vmath_ref, "EDGEML_CPU=reference does not give the libm table");
        em_cpu_force(hw);
        CHECK(em_vmath_get() != &em_vmath_ref, "the hardware level gives the reference table");
        printf("  table in use: %s\n", em_vmath_get()->name);
    }
    printf("%d checks, %d failures\n", g_checks, g_fail);
    return g_fail != 0;
}
