/* The vectorised math algorithms, written once over a small set of vector
 * primitives that the including file defines for its ISA (see
 * cpu/scalar/vmath__scalar.c for the list), then compiled per ISA. Define
 * VM_SUFFIX (the table's name suffix) before including.
 *
 * Methods (coefficients fitted for this project by Lawson-weighted least
 * squares on Chebyshev nodes against double precision, tools: see
 * docs/runtime.md):
 *   exp   x = n ln2 + r, |r| <= ln2/2 (Cody-Waite, 2 constants), e^r = 1 + r P5(r),
 *         2^n applied as two factors 2^(n/2) so that subnormal results round once.
 *   log   x = 2^e m, m in [sqrt(1/2), sqrt 2), f = m - 1,
 *         log(1 + f) = f - f^2/2 + f^3 Q7(f); subnormals scaled by 2^23 first.
 *   tanh  |x| < 0.625: x + x^3 P4(x^2); else 1 - 2 / (e^(2|x|) + 1); sign restored.
 *   erf   |x| < 1: x P6(x^2); else 1 - erfc with erfc = e^(-x^2 + K10(x - 3.5))
 *         (K fits log(erfc(x) e^(x^2)) on [1, 6]; x^2 split exactly with an FMA);
 *         erfc beyond 6 (GELU's negative tail) from the asymptotic series (6 terms).
 *   sigmoid  e = e^(-|x|), 1/(1+e) or e/(1+e): no overflow, no cancellation.
 *   GELU(tanh form) = x sigmoid(2u): no cancellation for negative x.
 *   GELU(erf form) for x < 0 as 0.5 x erfc(|x|/sqrt 2) (relative accuracy kept).
 *   softplus = max(x, 0) + log1p(e^(-|x|)); Mish = x n/(n + 2), n = e^x (e^x + 2). */

#define VM_CAT2(a, b) a##b
#define VM_CAT(a, b) VM_CAT2(a, b)
#define VMF(name) VM_CAT(name##__, VM_SUFFIX)

#define VM_LOG2E 1.44269504088896341f
#define VM_MAGIC 12582912.0f /* 1.5 * 2^23: adding it rounds to an integer */
#define VM_LN2_HI 0.693145751953125f
#define VM_LN2_LO 1.42860682030941723e-6f

static inline VF v_absf(VF x) { return vasf(viand(vasi(x), vidup(0x7fffffff))); }
static inline VF v_signbit(VF x) { return vasf(viand(vasi(x), vidup((int32_t)0x80000000u))); }
static inline VF v_orf(VF a, VF b) { return vasf(vior(vasi(a), vasi(b))); }
static inline VF v_fixnan(VF x, VF y) { return vsel(visnan(x), vadd(x, x), y); }

/* e^x without the NaN fix-up (callers that pass NaN through do it). */
static inline VF v_exp_core(VF x)
{
    VF xc = vmin(vmax(x, vdup(-104.0f)), vdup(89.0f));
    VF t = vfma(xc, vdup(VM_LOG2E), vdup(VM_MAGIC));
    VF n = vsub(t, vdup(VM_MAGIC));
    VF r = vfma(n, vdup(-VM_LN2_HI), xc);
    r = vfma(n, vdup(-VM_LN2_LO), r);
    VF q = vdup(0.00138436523695766f);
    q = vfma(q, r, vdup(0.00837415559542324f));
    q = vfma(q, r, vdup(0.04166800207343982f));
    q = vfma(q, r, vdup(0.166664312582998f));
    q = vfma(q, r, vdup(0.49999994208776544f));
    q = vfma(q, r, vdup(1.0000000321663656f));
    VF p = vfma(q, r, vdup(1.0f));
#ifdef VM_HAVE_SCALEF
    return vscalef(p, n); /* p 2^n rounded once, subnormal results included: as below */
#else
    VI ni = visub(vasi(t), vasi(vdup(VM_MAGIC)));
    VI n1 = visra(ni, 1), n2 = visub(ni, n1);
    VF s1 = vasf(vishl(viadd(n1, vidup(127)), 23));
    VF s2 = vasf(vishl(viadd(n2, vidup(127)), 23));
    return vmul(vmul(p, s1), s2);
#endif
}
static inline VF v_exp(VF x) { return v_fixnan(x, v_exp_core(x)); }

static inline VF v_log(VF x)
{
    /* subnormals: scale by 2^23 */
    VM sub = vlt(x, vdup(1.17549435e-38f));
    VF xs = vsel(sub, vmul(x, vdup(8388608.0f)), x);
    VI bias = vsel_i(sub, vidup(127 + 23), vidup(127));
    VI ix = vasi(xs);
    /* m in [sqrt(1/2), sqrt 2): offset the exponent split by 0x3f3504f3 - 0x3f800000 */
    VI k = visub(ix, vidup(0x3f3504f3));
    VI e = visra(k, 23);
    VI mi = viadd(viand(k, vidup(0x007fffff)), vidup(0x3f3504f3));
    VF f = vsub(vasf(mi), vdup(1.0f));
    VF ef = vcvtif(visub(viadd(e, vidup(127)), bias));
    VF q = vdup(-0.07634429914434884f);
    q = vfma(q, f, vdup(0.1276155036377033f));
    q = vfma(q, f, vdup(-0.13160195052271698f));
    q = vfma(q, f, vdup(0.14201762466526693f));
    q = vfma(q, f, vdup(-0.16623356479401197f));
    q = vfma(q, f, vdup(0.2000122666747746f));
    q = vfma(q, f, vdup(-0.2500082105621519f));
    q = vfma(q, f, vdup(0.33333331709694675f));
    VF f2 = vmul(f, f);
    VF lo = vfma(vmul(f2, f), q, vmul(vdup(-0.5f), f2));
    lo = vfma(ef, vdup(VM_LN2_LO), lo);
    VF y = vfma(ef, vdup(VM_LN2_HI), vadd(f, lo));
    /* specials: x < 0 -> NaN, 0 -> -inf, +inf -> +inf, NaN -> NaN */
    y = vsel(vlt(x, vdup(0.0f)), vdup(__builtin_nanf("")), y);
    y = vsel(veq(x, vdup(0.0f)), vdup(-__builtin_inff()), y);
    y = vsel(veq(x, vdup(__builtin_inff())), x, y);
    return v_fixnan(x, y);
}

/* 1/d for d in [1, 2] (an ISA may define vrcp12 with an estimate + Newton step) */
#ifdef VM_HAVE_RCP
static inline VF v_rcp12(VF d)
{
    VF r = vrcp_est(d);
    return vfma(r, vfma(vsub(vdup(0.0f), d), r, vdup(1.0f)), r);
}
#else
static inline VF v_rcp12(VF d) { return vdiv(vdup(1.0f), d); }
#endif

static inline VF v_sigmoid(VF x)
{
    VF e = v_exp_core(vsub(vdup(0.0f), v_absf(x)));
    VF num = vsel(vlt(x, vdup(0.0f)), e, vdup(1.0f));
    return v_fixnan(x, vmul(num, v_rcp12(vadd(e, vdup(1.0f)))));
}

/* tanh of |x| (>= 0, not NaN) */
static inline VF v_tanh_abs(VF ax)
{
    VF x2 = vmul(ax, ax);
    VF p = vdup(-0.00570499037138448f);
    p = vfma(p, x2, vdup(0.02063909061868109f));
    p = vfma(p, x2, vdup(-0.05373971626579963f));
    p = vfma(p, x2, vdup(0.13331442214840544f));
    p = vfma(p, x2, vdup(-0.3333328194277467f));
    VF ys = vfma(vmul(ax, x2), p, ax);
    VF e = v_exp_core(vmul(vmin(ax, vdup(9.1f)), vdup(2.0f)));
    VF yl = vsub(vdup(1.0f), vdiv(vdup(2.0f), vadd(e, vdup(1.0f))));
    return vsel(vlt(ax, vdup(0.625f)), ys, yl);
}
static inline VF v_tanh(VF x)
{
    return v_fixnan(x, v_orf(v_tanh_abs(v_absf(x)), v_signbit(x)));
}

/* a^2 = hi + lo (exactly with an FMA), times 0.5 when half */
static inline void v_sq2(VF a, VF *hi, VF *lo, int half)
{
    VF h = vmul(a, a);
#if VM_HAVE_FMA
    VF l = vfma(a, a, vsub(vdup(0.0f), h));
#else
    VF l = vdup(0.0f);
#endif
    if (half) { h = vmul(h, vdup(0.5f)); l = vmul(l, vdup(0.5f)); }
    *hi = h;
    *lo = l;
}

/* erf(a) and erfc(a) for a >= 0 (not NaN) given a^2 = hi + lo; erfc is
 * accurate (relative) for a >= 1. */
static inline void v_erf_abs(VF a, VF hi, VF lo, VF *erf_out, VF *erfc_out, int tail)
{
    VF a2 = vmul(a, a);
    VF p = vdup(7.8540247464592428e-05f);
    p = vfma(p, a2, vdup(-8.0102471442705658e-04f));
    p = vfma(p, a2, vdup(5.1883344375793922e-03f));
    p = vfma(p, a2, vdup(-2.6853816031217975e-02f));
    p = vfma(p, a2, vdup(1.1283585269668167e-01f));
    p = vfma(p, a2, vdup(-3.7612625839604291e-01f));
    p = vfma(p, a2, vdup(1.1283791657322890e+00f));
    VF ys = vmul(a, p);
    VF t = vsub(vmin(a, vdup(6.0f)), vdup(3.5f));
    VF k = vdup(5.45233880266948745e-09f);
    k = vfma(k, t, vdup(-8.38474831232893791e-08f));
    k = vfma(k, t, vdup(6.27590481312723103e-07f));
    k = vfma(k, t, vdup(-3.89506263910426032e-06f));
    k = vfma(k, t, vdup(2.42159081314391456e-05f));
    k = vfma(k, t, vdup(-1.47247327737120084e-04f));
    k = vfma(k, t, vdup(8.73986866476593374e-04f));
    k = vfma(k, t, vdup(-5.22573544224431020e-03f));
    k = vfma(k, t, vdup(3.32467547648553283e-02f));
    k = vfma(k, t, vdup(-2.66099561539028528e-01f));
    k = vfma(k, t, vdup(-1.86243738240430723e+00f));
    VF ac = vmin(a, vdup(10.5f));
    VM big = vgt(hi, vdup(110.25f));
    hi = vsel(big, vdup(110.25f), hi);
    lo = vsel(big, vdup(0.0f), lo);
    /* e^(k - hi - lo): k - hi rounds by up to half an ulp of ~hi (Fast2Sum
     * recovers it), and the low parts enter as e^s (1 + d) */
    VF sm = vsub(k, hi);
    VF d = vsub(vsub(k, vsub(sm, vsub(vdup(0.0f), hi))), lo);
    VF es = v_exp_core(sm);
    VF ec = vfma(es, d, es);
    if (tail) {
        /* a > 6: erfc(a) = e^(-a^2)/(a sqrt pi) sum_k (-1)^k (2k-1)!! / (2a^2)^k, k <= 5 */
        VF u = vdiv(vdup(1.0f), hi);
        VF s = vdup(-29.53125f);
        s = vfma(s, u, vdup(6.5625f));
        s = vfma(s, u, vdup(-1.875f));
        s = vfma(s, u, vdup(0.75f));
        s = vfma(s, u, vdup(-0.5f));
        s = vfma(s, u, vdup(1.0f));
        VF g = v_exp_core(vsub(vdup(0.0f), hi));
        g = vfma(vsub(vdup(0.0f), g), lo, g);
        g = vmul(vdiv(vmul(g, s), ac), vdup(0.56418958354775628f));
        ec = vsel(vgt(a, vdup(6.0f)), g, ec);
    }
    VM small = vlt(a, vdup(1.0f));
    *erf_out = vsel(small, ys, vsub(vdup(1.0f), ec));
    *erfc_out = vsel(small, vsub(vdup(1.0f), ys), ec);
}
static inline VF v_erf(VF x)
{
    VF e, ec, hi, lo, ax = v_absf(x);
    v_sq2(ax, &hi, &lo, 0);
    v_erf_abs(ax, hi, lo, &e, &ec, 0);
    return v_fixnan(x, v_orf(e, v_signbit(x)));
}
static inline VF v_gelu(VF x)
{
    /* (x / sqrt 2)^2 from x itself: no rounding of the scaled argument in the exponent */
    VF e, ec, hi, lo, ax = v_absf(x);
    v_sq2(ax, &hi, &lo, 1);
    v_erf_abs(vmul(ax, vdup(0.70710678118654752f)), hi, lo, &e, &ec, 1);
    VF hx = vmul(x, vdup(0.5f));
    VF y = vsel(vlt(x, vdup(0.0f)), vmul(hx, ec), vfma(hx, e, hx));
    return v_fixnan(x, y);
}
static inline VF v_silu(VF x)
{
    VF y = vmul(x, v_sigmoid(x));
    return vsel(vlt(x, vdup(-104.0f)), vdup(-0.0f), y); /* -inf * 0 */
}
static inline VF v_gelu_tanh(VF x)
{
    VF x2 = vmul(x, x);
    VF u = vmul(vfma(vmul(x2, vdup(0.044715f)), x, x), vdup(2.0f * 0.7978845608028654f));
    VF y = vmul(x, v_sigmoid(u));
    y = vsel(vlt(x, vdup(-30.0f)), vdup(-0.0f), y);
    return v_fixnan(x, y);
}
/* log1p(e) for e in [0, 1] */
static inline VF v_log1p_small(VF e)
{
    VF u = vadd(e, vdup(1.0f));
    VF l = v_log(u);
    /* log1p(e) = log(u) + (e - (u - 1)) / u */
    VF d = vsub(e, vsub(u, vdup(1.0f)));
    return vsel(veq(u, vdup(1.0f)), e, vadd(l, vdiv(d, u)));
}
static inline VF v_softplus(VF x)
{
    VF e = v_exp_core(vsub(vdup(0.0f), v_absf(x)));
    VF y = vadd(vmax(x, vdup(0.0f)), v_log1p_small(e));
    return v_fixnan(x, y);
}
static inline VF v_mish(VF x)
{
    VF e = v_exp_core(vmin(x, vdup(20.0f)));
    VF n = vmul(e, vadd(e, vdup(2.0f)));
    VF y = vmul(x, vdiv(n, vadd(n, vdup(2.0f))));
    y = vsel(vgt(x, vdup(20.0f)), x, y);
    y = vsel(vlt(x, vdup(-104.0f)), vdup(-0.0f), y);
    return v_fixnan(x, y);
}

/* ---- array drivers ------------------------------------------------------- */

#define VM_MAP(fname, BODY)                                                   \
    static void VMF(fname)(const float *x, float *y, size_t n)               \
    {                                                                         \
        size_t i = 0;                                                         \
        for (; i + VW <= n; i += VW) vst(y + i, BODY(vld(x + i)));            \
        if (i < n) vst_tail(y + i, BODY(vld_tail(x + i, n - i)), n - i);      \
    }

VM_MAP(exp, v_exp)
VM_MAP(log, v_log)
VM_MAP(sigmoid, v_sigmoid)
VM_MAP(tanh, v_tanh)
VM_MAP(erf, v_erf)
VM_MAP(gelu, v_gelu)
VM_MAP(gelu_tanh, v_gelu_tanh)
VM_MAP(silu, v_silu)
VM_MAP(softplus, v_softplus)
VM_MAP(mish, v_mish)

/* The piecewise activations, with em_act_apply_ref's comparisons (NaN
 * behaviour included): vmax(a, b) is a > b ? a : b, vmin(a, b) is a < b ? a : b. */
static inline VF va_relu(VF x, VF al, VF be) { (void)al; (void)be; return vmax(x, vdup(0.0f)); }
static inline VF va_clip(VF x, VF al, VF be)
{
    VF v = vsel(vlt(x, al), al, x);
    return vsel(vgt(v, be), be, v);
}
static inline VF va_leaky(VF x, VF al, VF be) { (void)be; return vsel(vlt(x, vdup(0.0f)), vmul(al, x), x); }
static inline VF va_hsig(VF x, VF al, VF be)
{
    VF v = vadd(vmul(al, x), be);
    return vsel(vlt(v, vdup(0.0f)), vdup(0.0f), vsel(vgt(v, vdup(1.0f)), vdup(1.0f), v));
}
static inline VF va_hswish(VF x, VF al, VF be)
{
    (void)al; (void)be;
    VF v = vadd(vdiv(x, vdup(6.0f)), vdup(0.5f));
    v = vsel(vlt(v, vdup(0.0f)), vdup(0.0f), vsel(vgt(v, vdup(1.0f)), vdup(1.0f), v));
    return vmul(x, v);
}
#define VA_WRAP(name, F) static inline VF name(VF x, VF al, VF be) { (void)al; (void)be; return F(x); }
VA_WRAP(va_sigmoid, v_sigmoid)
VA_WRAP(va_silu, v_silu)
VA_WRAP(va_gelu, v_gelu)
VA_WRAP(va_gelu_tanh, v_gelu_tanh)
VA_WRAP(va_tanh, v_tanh)

#define VA_LOOP(F)                                                                \
    do {                                                                          \
        size_t i = 0;                                                             \
        for (; i + VW <= n; i += VW) vst(y + i, F(vld(y + i), al, be));           \
        if (i < n) vst_tail(y + i, F(vld_tail(y + i, n - i), al, be), n - i);     \
    } while (0)

static void VMF(act)(const em_act *a, float *y, size_t n)
{
    VF al = vdup(a->alpha), be = vdup(a->beta);
    switch (a->kind) {
    case EM_ACT_NONE: return;
    case EM_ACT_RELU: VA_LOOP(va_relu); return;
    case EM_ACT_CLIP: VA_LOOP(va_clip); return;
    case EM_ACT_LEAKY: VA_LOOP(va_leaky); return;
    case EM_ACT_SIGMOID: VA_LOOP(va_sigmoid); return;
    case EM_ACT_HARDSIGMOID: VA_LOOP(va_hsig); return;
    case EM_ACT_HARDSWISH: VA_LOOP(va_hswish); return;
    case EM_ACT_SILU: VA_LOOP(va_silu); return;
    case EM_ACT_GELU: VA_LOOP(va_gelu); return;
    case EM_ACT_GELU_TANH: VA_LOOP(va_gelu_tanh); return;
    case EM_ACT_TANH: VA_LOOP(va_tanh); return;
    default: em_act_apply_ref(a, y, n); return;
    }
}

/* ---- streaming helpers ------------------------------------------------------ */

static float VMF(exp_sub_sum)(const float *x, float *y, size_t n, float m)
{
    VF vm = vdup(m), acc = vdup(0.0f);
    size_t i = 0;
    for (; i + VW <= n; i += VW) {
        VF e = v_exp(vsub(vld(x + i), vm));
        vst(y + i, e);
        acc = vadd(acc, e);
    }
    float s = vhsum(acc);
    if (i < n) {
        float t[VW];
        size_t r = n - i;
        VF e = v_exp(vsub(vld_tail(x + i, r), vm));
        vst_tail(y + i, e, r);
        vst_tail(t, e, r);
        for (size_t j = 0; j < r; j++) s += t[j];
    }
    return s;
}

static float VMF(max)(const float *x, size_t n)
{
    VF acc = vdup(-__builtin_inff()), nan = vdup(0.0f);
    size_t i = 0;
    for (; i + VW <= n; i += VW) {
        VF v = vld(x + i);
        acc = vmax(v, acc);
        nan = vsel(visnan(v), v, nan); /* a NaN sticks */
    }
    float buf[VW];
    vst(buf, acc);
    float m = buf[0];
    for (int j = 1; j < VW; j++) m = buf[j] > m ? buf[j] : m;
    vst(buf, nan);
    bool isn = false;
    for (int j = 0; j < VW; j++) isn |= buf[j] != buf[j];
    for (; i < n; i++) {
        if (x[i] > m) m = x[i];
        isn |= x[i] != x[i];
    }
    return isn ? __builtin_nanf("") : m;
}

static float VMF(sum)(const float *x, size_t n)
{
    VF a0 = vdup(0.0f), a1 = a0, a2 = a0, a3 = a0;
    size_t i = 0;
    for (; i + 4 * VW <= n; i += 4 * VW) {
        a0 = vadd(a0, vld(x + i));
        a1 = vadd(a1, vld(x + i + VW));
        a2 = vadd(a2, vld(x + i + 2 * VW));
        a3 = vadd(a3, vld(x + i + 3 * VW));
    }
    for (; i + VW <= n; i += VW) a0 = vadd(a0, vld(x + i));
    if (i < n) a1 = vadd(a1, vld_tail(x + i, n - i));
    return vhsum(vadd(vadd(a0, a1), vadd(a2, a3)));
}

static float VMF(sum_sqdev)(const float *x, size_t n, float m)
{
    VF vm = vdup(m), a0 = vdup(0.0f), a1 = a0;
    size_t i = 0;
    for (; i + 2 * VW <= n; i += 2 * VW) {
        VF d0 = vsub(vld(x + i), vm), d1 = vsub(vld(x + i + VW), vm);
        a0 = vfma(d0, d0, a0);
        a1 = vfma(d1, d1, a1);
    }
    for (; i + VW <= n; i += VW) { VF d = vsub(vld(x + i), vm); a0 = vfma(d, d, a0); }
    float s = vhsum(vadd(a0, a1));
    for (; i < n; i++) { float d = x[i] - m; s += d * d; }
    return s;
}

static void VMF(affine)(const float *x, float *y, size_t n, float a, float b)
{
    VF va = vdup(a), vb = vdup(b);
    size_t i = 0;
    for (; i + VW <= n; i += VW) vst(y + i, vfma(vld(x + i), va, vb));
    if (i < n) vst_tail(y + i, vfma(vld_tail(x + i, n - i), va, vb), n - i);
}

#define VM_BIN(fname, OP)                                                                  \
    static void VMF(fname)(float *o, const float *a, ptrdiff_t sa, const float *b,         \
                           ptrdiff_t sb, size_t n)                                         \
    {                                                                                      \
        size_t i = 0;                                                                      \
        if (sa && sb) {                                                                    \
            for (; i + VW <= n; i += VW) vst(o + i, OP(vld(a + i), vld(b + i)));           \
            if (i < n) vst_tail(o + i, OP(vld_tail(a + i, n - i), vld_tail(b + i, n - i)), n - i); \
        } else if (sa) {                                                                   \
            VF vb = vdup(b[0]);                                                            \
            for (; i + VW <= n; i += VW) vst(o + i, OP(vld(a + i), vb));                   \
            if (i < n) vst_tail(o + i, OP(vld_tail(a + i, n - i), vb), n - i);             \
        } else if (sb) {                                                                   \
            VF va = vdup(a[0]);                                                            \
            for (; i + VW <= n; i += VW) vst(o + i, OP(va, vld(b + i)));                   \
            if (i < n) vst_tail(o + i, OP(va, vld_tail(b + i, n - i)), n - i);             \
        } else {                                                                           \
            VF v = OP(vdup(a[0]), vdup(b[0]));                                             \
            for (; i + VW <= n; i += VW) vst(o + i, v);                                    \
            if (i < n) vst_tail(o + i, v, n - i);                                          \
        }                                                                                  \
    }
VM_BIN(add, vadd)
VM_BIN(sub, vsub)
VM_BIN(mul, vmul)
VM_BIN(div, vdiv)

const em_vmath VM_CAT(em_vmath__, VM_SUFFIX) = {
    .name = VM_NAME,
    .exp = VMF(exp), .log = VMF(log), .sigmoid = VMF(sigmoid), .tanh = VMF(tanh), .erf = VMF(erf),
    .gelu = VMF(gelu), .gelu_tanh = VMF(gelu_tanh), .silu = VMF(silu), .softplus = VMF(softplus),
    .mish = VMF(mish), .act = VMF(act), .exp_sub_sum = VMF(exp_sub_sum), .max = VMF(max),
    .sum = VMF(sum), .sum_sqdev = VMF(sum_sqdev), .affine = VMF(affine),
    .bin = {VMF(add), VMF(sub), VMF(mul), VMF(div)},
};
