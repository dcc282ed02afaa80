/* Peak FP32 FMA throughput of this CPU, per core and with several threads.
 *
 *   cc -O2 -pthread bench/roofline.c -o roofline     (no -march: ISAs are chosen at run time)
 *   ./roofline [--threads 1,2] [--seconds S] [--isa auto|avx512|avx2|neon|scalar|all] [--json]
 *
 * Each kernel runs K independent accumulator chains acc_k = acc_k * b + c (vector FMAs, no
 * dependency between chains), enough to cover FMA latency x FMA ports, so the loop is bound by
 * FMA throughput, not latency: AVX-512 16 zmm chains (2 ports x 4 cycles = 8 needed), AVX2+FMA
 * 12 ymm chains, NEON 16 q-register chains. b < 1 and c small keep the values bounded (no
 * infinities, no denormals). The x86 variants are compiled per function with
 * __attribute__((target(...))) and chosen by what the CPU reports (__builtin_cpu_supports).
 * With T threads, each runs the same kernel at once (started together on a barrier); the
 * figure is the total FLOPs / the slowest thread's time. Every measurement is repeated and the
 * best repetition kept (noise only ever slows a throughput loop). FLOPs = 2 per FMA lane.
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define RL_X86 1
#endif
#if defined(__aarch64__)
#include <arm_neon.h>
#define RL_NEON 1
#endif

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static volatile float g_sink;

/* Each kernel runs `iters` loop trips and returns the FLOPs it did. */
typedef double (*kernel_fn)(uint64_t iters);

#ifdef RL_X86
#define CH16(X) X(0) X(1) X(2) X(3) X(4) X(5) X(6) X(7) X(8) X(9) X(10) X(11) X(12) X(13) X(14) X(15)
#define CH12(X) X(0) X(1) X(2) X(3) X(4) X(5) X(6) X(7) X(8) X(9) X(10) X(11)

__attribute__((target("avx512f"))) static double k_avx512(uint64_t iters)
{
    const __m512 b = _mm512_set1_ps(0.9999999f), c = _mm512_set1_ps(1e-7f);
#define DECL(i) __m512 a##i = _mm512_set1_ps(0.5f + 0.01f * (float)(i));
    CH16(DECL)
#undef DECL
    for (uint64_t n = 0; n < iters; n++) {
#define STEP(i) a##i = _mm512_fmadd_ps(a##i, b, c);
        CH16(STEP)
#undef STEP
        __asm__ volatile("" ::: "memory"); /* one trip stays 16 FMAs */
    }
    __m512 s = a0;
#define SUM(i) s = _mm512_add_ps(s, a##i);
    CH16(SUM)
#undef SUM
    g_sink = _mm512_reduce_add_ps(s);
    return (double)iters * 16.0 * 16.0 * 2.0;
}

__attribute__((target("avx2,fma"))) static double k_avx2(uint64_t iters)
{
    const __m256 b = _mm256_set1_ps(0.9999999f), c = _mm256_set1_ps(1e-7f);
#define DECL(i) __m256 a##i = _mm256_set1_ps(0.5f + 0.01f * (float)(i));
    CH12(DECL)
#undef DECL
    for (uint64_t n = 0; n < iters; n++) {
#define STEP(i) a##i = _mm256_fmadd_ps(a##i, b, c);
        CH12(STEP)
#undef STEP
        __asm__ volatile("" ::: "memory");
    }
    __m256 s = a0;
#define SUM(i) s = _mm256_add_ps(s, a##i);
    CH12(SUM)
#undef SUM
    float t[8];
    _mm256_storeu_ps(t, s);
    g_sink = t[0] + t[1] + t[2] + t[3] + t[4] + t[5] + t[6] + t[7];
    return (double)iters * 12.0 * 8.0 * 2.0;
}
#endif

#ifdef RL_NEON
static double k_neon(uint64_t iters)
{
    const float32x4_t b = vdupq_n_f32(0.9999999f), c = vdupq_n_f32(1e-7f);
    float32x4_t a[16];
    for (int i = 0; i < 16; i++)
        a[i] = vdupq_n_f32(0.5f + 0.01f * (float)i);
    for (uint64_t n = 0; n < iters; n++) {
        for (int i = 0; i < 16; i++) /* unrolled by the compiler: registers */
            a[i] = vfmaq_f32(c, a[i], b);
        __asm__ volatile("" ::: "memory");
    }
    float32x4_t s = a[0];
    for (int i = 1; i < 16; i++)
        s = vaddq_f32(s, a[i]);
    g_sink = vaddvq_f32(s);
    return (double)iters * 16.0 * 4.0 * 2.0;
}
#endif

/* Portable: 8 scalar chains; what the compiler makes of it without -march (often mul+add). */
static double k_scalar(uint64_t iters)
{
    float a[8], b = 0.9999999f, c = 1e-7f;
    for (int i = 0; i < 8; i++)
        a[i] = 0.5f + 0.01f * (float)i;
    for (uint64_t n = 0; n < iters; n++) {
        for (int i = 0; i < 8; i++)
            a[i] = a[i] * b + c;
        __asm__ volatile("" ::: "memory");
    }
    g_sink = a[0] + a[1] + a[2] + a[3] + a[4] + a[5] + a[6] + a[7];
    return (double)iters * 8.0 * 2.0;
}

typedef struct isa {
    const char *name;
    kernel_fn fn;
    int (*supported)(void);
} isa;

#ifdef RL_X86
static int has_avx512(void) { return __builtin_cpu_supports("avx512f"); }
static int has_avx2(void) { return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma"); }
#endif
#ifdef RL_NEON
static int has_neon(void) { return 1; }
#endif
static int has_scalar(void) { return 1; }

static const isa k_isas[] = { /* best first */
#ifdef RL_X86
    {"avx512", k_avx512, has_avx512},
    {"avx2", k_avx2, has_avx2},
#endif
#ifdef RL_NEON
    {"neon", k_neon, has_neon},
#endif
    {"scalar", k_scalar, has_scalar},
};
#define N_ISAS (sizeof k_isas / sizeof k_isas[0])

typedef struct job {
    kernel_fn fn;
    uint64_t iters;
    pthread_barrier_t *bar;
    double flops, secs;
} job;

static void *worker(void *p)
{
    job *j = p;
    pthread_barrier_wait(j->bar);
    double t0 = now_s();
    j->flops = j->fn(j->iters);
    j->secs = now_s() - t0;
    return NULL;
}

/* GFLOP/s of `threads` threads each running fn(iters) at once. */
static double run_once(kernel_fn fn, uint64_t iters, int threads)
{
    pthread_barrier_t bar;
    pthread_barrier_init(&bar, NULL, (unsigned)threads);
    job *jobs = calloc((size_t)threads, sizeof *jobs);
    pthread_t *tid = calloc((size_t)threads, sizeof *tid);
    if (!jobs || !tid) {
        fprintf(stderr, "roofline: out of memory\n");
        exit(1);
    }
    for (int t = 0; t < threads; t++) {
        jobs[t] = (job){fn, iters, &bar, 0, 0};
        if (t > 0 && pthread_create(&tid[t], NULL, worker, &jobs[t]) != 0) {
            fprintf(stderr, "roofline: cannot start a thread\n");
            exit(1);
        }
    }
    worker(&jobs[0]);
    double flops = jobs[0].flops, secs = jobs[0].secs;
    for (int t = 1; t < threads; t++) {
        pthread_join(tid[t], NULL);
        flops += jobs[t].flops;
        if (jobs[t].secs > secs)
            secs = jobs[t].secs;
    }
    pthread_barrier_destroy(&bar);
    free(jobs);
    free(tid);
    return secs > 0 ? flops / secs / 1e9 : 0;
}

/* Best of repetitions of about `seconds` each, in total about 5 x seconds. */
static double measure(kernel_fn fn, int threads, double seconds)
{
    uint64_t iters = 1 << 14;
    for (;;) { /* calibrate on one thread: a repetition takes ~seconds */
        double t0 = now_s();
        fn(iters);
        double dt = now_s() - t0;
        if (dt >= seconds / 4 || iters >= (1ull << 40)) {
            iters = (uint64_t)((double)iters * (seconds / (dt > 0 ? dt : 1e-9)));
            break;
        }
        iters *= 4;
    }
    if (iters < 1024)
        iters = 1024;
    double best = 0;
    for (int r = 0; r < 5; r++) {
        double g = run_once(fn, iters, threads);
        if (g > best)
            best = g;
    }
    return best;
}

static void usage(FILE *f)
{
    fputs("usage: roofline [--threads 1,2] [--seconds S] [--isa auto|avx512|avx2|neon|scalar|all] [--json]\n"
          "Peak FP32 FMA throughput (GFLOP/s) per ISA and thread count.\n", f);
}

int main(int argc, char **argv)
{
    const char *threads_arg = "1,2", *isa_arg = "auto";
    double seconds = 0.2;
    int json = 0;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--threads") == 0 && i + 1 < argc)
            threads_arg = argv[++i];
        else if (strcmp(argv[i], "--seconds") == 0 && i + 1 < argc)
            seconds = atof(argv[++i]);
        else if (strcmp(argv[i], "--isa") == 0 && i + 1 < argc)
            isa_arg = argv[++i];
        else if (strcmp(argv[i], "--json") == 0)
            json = 1;
        else if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0) {
            usage(stdout);
            return 0;
        } else {
            usage(stderr);
            return 2;
        }
    }
    if (!(seconds > 0) || seconds > 60) {
        fprintf(stderr, "roofline: --seconds must be in (0, 60]\n");
        return 2;
    }
    int tlist[16], nt = 0;
    for (const char *p = threads_arg; *p && nt < 16;) {
        char *end;
        long v = strtol(p, &end, 10);
        if (end == p || v < 1 || v > 1024) {
            fprintf(stderr, "roofline: bad --threads %s\n", threads_arg);
            return 2;
        }
        tlist[nt++] = (int)v;
        p = *end == ',' ? end + 1 : end;
        if (*end && *end != ',') {
            fprintf(stderr, "roofline: bad --threads %s\n", threads_arg);
            return 2;
        }
    }
    const isa *chosen[N_ISAS];
    size_t nc = 0;
    for (size_t k = 0; k < N_ISAS; k++) {
        int want = strcmp(isa_arg, "all") == 0 || strcmp(isa_arg, k_isas[k].name) == 0 ||
                   (strcmp(isa_arg, "auto") == 0 && nc == 0);
        if (!want)
            continue;
        if (!k_isas[k].supported()) {
            if (strcmp(isa_arg, k_isas[k].name) == 0) {
                fprintf(stderr, "roofline: this CPU does not report %s\n", isa_arg);
                return 1;
            }
            continue;
        }
        chosen[nc++] = &k_isas[k];
    }
    if (nc == 0) {
        fprintf(stderr, "roofline: unknown --isa %s\n", isa_arg);
        return 2;
    }
    if (json)
        printf("{\"results\": [");
    int first = 1;
    for (size_t k = 0; k < nc; k++) {
        for (int t = 0; t < nt; t++) {
            double g = measure(chosen[k]->fn, tlist[t], seconds);
            if (json)
                printf("%s{\"isa\": \"%s\", \"threads\": %d, \"gflops\": %.3f, \"per_thread\": %.3f}",
                       first ? "" : ", ", chosen[k]->name, tlist[t], g, g / tlist[t]);
            else
                printf("%-7s %3d thread(s): %8.1f GFLOP/s  (%.1f per thread)\n", chosen[k]->name,
                       tlist[t], g, g / tlist[t]);
            first = 0;
            fflush(stdout);
        }
    }
    if (json)
        printf("]}\n");
    return 0;
}
