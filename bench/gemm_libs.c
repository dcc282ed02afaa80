/* bench/gemm_libs: edgeml's float GEMM engine vs the Debian libraries it could
 * have used instead (OpenBLAS cblas_sgemm, oneDNN dnnl_sgemm, XNNPACK's
 * fully-connected operator), on convolution-shaped products, one thread. The
 * libraries are opened with dlopen so that this builds without them; a missing
 * one is reported and skipped. Prints GFLOP/s per library and shape and each
 * ratio to edgeml's. Used for the "own kernels or a library" decision in
 * docs/runtime.md.
 *
 * Usage: gemm_libs [REPEATS]     (run with OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=1 DNNL_...)
 * Build: bench/gemm_libs.sh BUILD_DIR */
#include "cpu/gemm.h"

#include <dlfcn.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

typedef void (*cblas_sgemm_fn)(int, int, int, int, int, int, float, const float *, int, const float *,
                               int, float, float *, int);
typedef int (*dnnl_sgemm_fn)(char, char, int64_t, int64_t, int64_t, float, const float *, int64_t,
                             const float *, int64_t, float, float *, int64_t);
typedef int (*xnn_init_fn)(const void *);
typedef int (*xnn_create_fc_fn)(size_t, size_t, size_t, size_t, const float *, const float *, float,
                                float, uint32_t, void **);
typedef int (*xnn_setup_fc_fn)(void *, size_t, const float *, float *, void *);
typedef int (*xnn_run_fn)(void *, void *);

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

static void *xalloc(size_t n)
{
    void *p = aligned_alloc(64, (n + 63) / 64 * 64);
    if (!p) { fprintf(stderr, "gemm_libs: out of memory\n"); exit(1); }
    return p;
}

/* Best time of `reps` calls of what `fn(ctx)` does. */
typedef void (*call_fn)(void *);
static double best_of(call_fn fn, void *ctx, int reps)
{
    fn(ctx);
    double best = 1e30;
    for (int r = 0; r < reps; r++) {
        double t = now();
        fn(ctx);
        t = now() - t;
        if (t < best) best = t;
    }
    return best;
}

typedef struct shape { size_t M, N, K; const char *what; } shape;
typedef struct ctx {
    shape s;
    const float *A, *B, *At, *Bt;
    float *C;
    const em_sgemm_kernel *k;
    em_sgemm_args ea;
    void *ws;
    cblas_sgemm_fn cblas;
    dnnl_sgemm_fn dnnl;
    xnn_setup_fc_fn xsetup;
    xnn_run_fn xrun;
    void *xop;
} ctx;

static void run_edgeml(void *v) { ctx *c = v; em_sgemm(c->k, &c->ea, c->ws, NULL, 1); }
static void run_cblas(void *v)
{
    ctx *c = v; /* row-major (101), no transposes (111) */
    c->cblas(101, 111, 111, (int)c->s.M, (int)c->s.N, (int)c->s.K, 1.f, c->A, (int)c->s.K, c->B,
             (int)c->s.N, 0.f, c->C, (int)c->s.N);
}
static void run_dnnl(void *v)
{
    ctx *c = v;
    c->dnnl('N', 'N', (int64_t)c->s.M, (int64_t)c->s.N, (int64_t)c->s.K, 1.f, c->A, (int64_t)c->s.K, c->B,
            (int64_t)c->s.N, 0.f, c->C, (int64_t)c->s.N);
}
static void run_xnn(void *v)
{
    ctx *c = v; /* NHWC: batch = the N spatial positions, in = K, out = M: same product transposed */
    c->xsetup(c->xop, c->s.N, c->Bt, c->C, NULL);
    c->xrun(c->xop, NULL);
}

int main(int argc, char **argv)
{
    int reps = argc > 1 ? atoi(argv[1]) : 5;
    static const shape shapes[] = {
        {64, 3136, 576, "3x3 conv, 64 ch, 56x56"},  {256, 784, 1152, "3x3 conv, 128->256? (K=128*9), 28x28"},
        {128, 784, 128, "1x1 conv, 28x28"},         {512, 196, 4608, "3x3 conv, 512 ch, 14x14"},
        {2048, 49, 512, "1x1 conv, 7x7"},           {32, 12544, 144, "1x1 expand, 112x112"},
    };
    void *ob = dlopen("libopenblas.so.0", RTLD_NOW);
    void *dn = dlopen("libdnnl.so.2", RTLD_NOW);
    if (!dn) dn = dlopen("libdnnl.so.3", RTLD_NOW);
    void *xn = dlopen("libXNNPACK.so.0", RTLD_NOW);
    ctx c = {0};
    c.cblas = ob ? (cblas_sgemm_fn)dlsym(ob, "cblas_sgemm") : NULL;
    c.dnnl = dn ? (dnnl_sgemm_fn)dlsym(dn, "dnnl_sgemm") : NULL;
    xnn_init_fn xinit = xn ? (xnn_init_fn)dlsym(xn, "xnn_initialize") : NULL;
    xnn_create_fc_fn xcreate = xn ? (xnn_create_fc_fn)dlsym(xn, "xnn_create_fully_connected_nc_f32") : NULL;
    c.xsetup = xn ? (xnn_setup_fc_fn)dlsym(xn, "xnn_setup_fully_connected_nc_f32") : NULL;
    c.xrun = xn ? (xnn_run_fn)dlsym(xn, "xnn_run_operator") : NULL;
    if (xinit && xinit(NULL) != 0) xinit = NULL;
    printf("libraries: OpenBLAS %s, oneDNN %s, XNNPACK %s\n", c.cblas ? "yes" : "not found",
           c.dnnl ? "yes" : "not found", xinit && xcreate && c.xsetup && c.xrun ? "yes" : "not found");
    printf("%-38s %6s %6s %6s | %8s %8s %8s %8s GFLOP/s | vs edgeml\n", "shape", "M", "N", "K", "edgeml",
           "OpenBLAS", "oneDNN", "XNNPACK");
    for (size_t i = 0; i < sizeof shapes / sizeof shapes[0]; i++) {
        shape s = shapes[i];
        float *A = xalloc(s.M * s.K * 4), *B = xalloc(s.K * s.N * 4), *Bt = xalloc(s.K * s.N * 4);
        float *C = xalloc(s.M * s.N * 4 + 64);
        for (size_t j = 0; j < s.M * s.K; j++) A[j] = (float)((j * 7) % 13) * 0.01f - 0.06f;
        for (size_t j = 0; j < s.K * s.N; j++) B[j] = (float)((j * 5) % 11) * 0.01f - 0.05f;
        for (size_t k = 0; k < s.K; k++)
            for (size_t n = 0; n < s.N; n++) Bt[n * s.K + k] = B[k * s.N + n];
        c.s = s; c.A = A; c.B = B; c.Bt = Bt; c.C = C;
        /* edgeml: as the conv runs it (kernel chosen for the shape, weights prepacked) */
        const em_sgemm_kernel *ks[4];
        int nk = em_sgemm_candidates(ks, 4);
        c.k = ks[em_sgemm_pick(ks, nk, s.M, s.N, s.K)];
        float *ap = xalloc(em_sgemm_packed_a_size(c.k, s.M, s.K) * 4);
        em_sgemm_pack_a(c.k, s.M, s.K, A, s.K, false, 1.f, ap);
        c.ea = (em_sgemm_args){.M = s.M, .N = s.N, .K = s.K, .a_packed = ap, .B = B, .ldb = s.N,
                               .C = C, .ldc = s.N, .alpha = 1.f};
        c.ws = xalloc(em_sgemm_workspace(c.k, &c.ea, 1));
        double fl = 2.0 * (double)s.M * (double)s.N * (double)s.K, g[4] = {0, 0, 0, 0};
        g[0] = fl / best_of(run_edgeml, &c, reps) / 1e9;
        if (c.cblas) g[1] = fl / best_of(run_cblas, &c, reps) / 1e9;
        if (c.dnnl) g[2] = fl / best_of(run_dnnl, &c, reps) / 1e9;
        if (xinit && xcreate) {
            c.xop = NULL;
            if (xcreate(s.K, s.M, s.K, s.M, A, NULL, -INFINITY, INFINITY, 0, &c.xop) == 0 && c.xop)
                g[3] = fl / best_of(run_xnn, &c, reps) / 1e9;
        }
        printf("%-38s %6zu %6zu %6zu | %8.1f %8.1f %8.1f %8.1f         | %.2f %.2f %.2f  (%s)\n", s.what, s.M,
               s.N, s.K, g[0], g[1], g[2], g[3], g[1] / g[0], g[2] / g[0], g[3] / g[0], c.k->name);
        free(A); free(B); free(Bt); free(C); free(ap); free(c.ws);
    }
    return 0;
}
