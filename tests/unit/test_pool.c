/* The thread pool (src/infer/pool.c) and the GEMM's use of it under
 * concurrency: several caller threads share one pool (a caller that finds it
 * busy runs alone), every chunk runs exactly once, results equal the serial
 * ones. Run under ThreadSanitizer by tools/test.sh. */
#include "cpu/gemm.h"
#include "pool.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>

static int g_fail;
#define CHECK(c, ...) do { if (!(c)) { g_fail++; fprintf(stderr, "FAIL: " __VA_ARGS__); fputc('\n', stderr); } } while (0)

typedef struct counter { atomic_int *hits; size_t n; } counter;
static void mark(void *ctx, size_t b, size_t e)
{
    counter *c = ctx;
    for (size_t i = b; i < e; i++) atomic_fetch_add(&c->hits[i], 1);
}

static em_tpool *g_pool;
enum { M = 70, N = 300, K = 130 };
static float g_A[M * K], g_B[K * N], g_ref[M * N];

static void *caller(void *arg)
{
    int id = (int)(intptr_t)arg;
    const em_sgemm_kernel *k = em_sgemm_kernel_get();
    float *C = malloc(sizeof(float) * M * N);
    em_sgemm_args a = {.M = M, .N = N, .K = K, .A = g_A, .lda = K, .alpha = 1.f, .B = g_B, .ldb = N,
                       .C = C, .ldc = N};
    void *ws = aligned_alloc(64, (em_sgemm_workspace(k, &a, 3) + 63) / 64 * 64);
    for (int r = 0; r < 50; r++) {
        size_t n = 1000 + (size_t)(id * 37 + r);
        atomic_int *hits = calloc(n, sizeof *hits);
        counter c = {hits, n};
        em_parallel_for(g_pool, 3, n, 7, mark, &c);
        size_t bad = 0;
        for (size_t i = 0; i < n; i++) bad += atomic_load(&hits[i]) != 1;
        CHECK(bad == 0, "caller %d round %d: %zu of %zu indices not run exactly once", id, r, bad, n);
        free(hits);
        em_sgemm(k, &a, ws, g_pool, 3);
        size_t diff = 0;
        for (size_t i = 0; i < (size_t)M * N; i++) diff += C[i] != g_ref[i];
        CHECK(diff == 0, "caller %d round %d: GEMM differs from the serial one in %zu elements", id, r, diff);
    }
    free(ws);
    free(C);
    return NULL;
}

int main(void)
{
    g_pool = em_tpool_create(2);
    CHECK(em_tpool_size(g_pool) == 3, "pool size %d, expected 3", em_tpool_size(g_pool));
    for (int i = 0; i < M * K; i++) g_A[i] = (float)(i % 17) * 0.25f - 2.f;
    for (int i = 0; i < K * N; i++) g_B[i] = (float)(i % 13) * 0.5f - 3.f;
    const em_sgemm_kernel *k = em_sgemm_kernel_get();
    em_sgemm_args a = {.M = M, .N = N, .K = K, .A = g_A, .lda = K, .alpha = 1.f, .B = g_B, .ldb = N,
                       .C = g_ref, .ldc = N};
    void *ws = aligned_alloc(64, (em_sgemm_workspace(k, &a, 1) + 63) / 64 * 64);
    em_sgemm(k, &a, ws, NULL, 1);
    free(ws);
    pthread_t t[4];
    for (int i = 0; i < 4; i++) pthread_create(&t[i], NULL, caller, (void *)(intptr_t)i);
    for (int i = 0; i < 4; i++) pthread_join(t[i], NULL);
    em_tpool_free(g_pool);
    printf("pool: 4 callers x 50 rounds on one pool: %s\n", g_fail ? "FAILED" : "ok");
    return g_fail ? 1 : 0;
}
