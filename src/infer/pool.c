/* Thread pool (see pool.h). One job at a time: a caller that finds the pool
 * taken runs its range alone. Workers spin briefly after a job (kernels come
 * in quick succession within a run), then sleep on a condition variable. */
#include "pool.h"
#include "cpu/cpu.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>

#if defined(__x86_64__) || defined(__i386__)
#define EM_RELAX() __builtin_ia32_pause()
#elif defined(__aarch64__)
#define EM_RELAX() __asm__ volatile("yield")
#else
#define EM_RELAX() ((void)0)
#endif

enum { SPIN_ROUNDS = 20000 };

struct em_tpool {
    int n_workers;
    pthread_t *tids;
    pthread_mutex_t mu;
    pthread_cond_t wake, done_cv;
    atomic_bool busy;            /* a job is being run (taken by one caller) */
    atomic_uint gen;             /* bumped for each job */
    bool stop;
    /* the job */
    em_range_fn fn;
    void *ctx;
    size_t n, nchunks;
    size_t next;                 /* next chunk to take */
    atomic_size_t done;          /* chunks finished (written under mu) */
    atomic_int sleepers;
};

#define chunk_bounds em_task_bounds

/* Takes and runs chunks of the current job until none is left. The job's
 * fields are read and written under the mutex only (a chunk is a large piece
 * of work: one lock per chunk costs nothing that shows). */
static void take_chunks(em_tpool *p)
{
    pthread_mutex_lock(&p->mu);
    while (p->next < p->nchunks) {
        size_t i = p->next++, b, e;
        em_range_fn fn = p->fn;
        void *ctx = p->ctx;
        chunk_bounds(p->n, p->nchunks, i, &b, &e);
        pthread_mutex_unlock(&p->mu);
        fn(ctx, b, e);
        pthread_mutex_lock(&p->mu);
        size_t d = atomic_load_explicit(&p->done, memory_order_relaxed) + 1;
        atomic_store_explicit(&p->done, d, memory_order_release);
        if (d == p->nchunks) pthread_cond_broadcast(&p->done_cv);
    }
    pthread_mutex_unlock(&p->mu);
}

static void *worker(void *arg)
{
    em_tpool *p = arg;
    unsigned seen = atomic_load_explicit(&p->gen, memory_order_acquire);
    for (;;) {
        unsigned g;
        int spins = 0;
        while ((g = atomic_load_explicit(&p->gen, memory_order_acquire)) == seen && spins < SPIN_ROUNDS) {
            EM_RELAX();
            spins++;
        }
        if (g == seen) {
            pthread_mutex_lock(&p->mu);
            atomic_fetch_add(&p->sleepers, 1);
            while ((g = atomic_load_explicit(&p->gen, memory_order_acquire)) == seen && !p->stop)
                pthread_cond_wait(&p->wake, &p->mu);
            atomic_fetch_sub(&p->sleepers, 1);
            bool stop = p->stop;
            pthread_mutex_unlock(&p->mu);
            if (stop) return NULL;
        }
        seen = g;
        take_chunks(p);
    }
}

em_tpool *em_tpool_create(int workers)
{
    if (workers < 0) workers = 0;
    em_tpool *p = calloc(1, sizeof *p);
    if (!p) return NULL;
    p->tids = calloc((size_t)workers + 1, sizeof *p->tids);
    if (!p->tids) { free(p); return NULL; }
    pthread_mutex_init(&p->mu, NULL);
    pthread_cond_init(&p->wake, NULL);
    pthread_cond_init(&p->done_cv, NULL);
    for (int i = 0; i < workers; i++) {
        if (pthread_create(&p->tids[i], NULL, worker, p) != 0) break;
        p->n_workers++;
    }
    return p;
}

void em_tpool_free(em_tpool *p)
{
    if (!p) return;
    pthread_mutex_lock(&p->mu);
    p->stop = true;
    atomic_fetch_add(&p->gen, 1);
    pthread_cond_broadcast(&p->wake);
    pthread_mutex_unlock(&p->mu);
    for (int i = 0; i < p->n_workers; i++) pthread_join(p->tids[i], NULL);
    pthread_mutex_destroy(&p->mu);
    pthread_cond_destroy(&p->wake);
    pthread_cond_destroy(&p->done_cv);
    free(p->tids);
    free(p);
}

int em_tpool_size(const em_tpool *p) { return p ? p->n_workers + 1 : 1; }

static em_tpool *g_default;
static pthread_once_t g_once = PTHREAD_ONCE_INIT;
static void make_default(void) { g_default = em_tpool_create(em_cpu_count() - 1); }

em_tpool *em_tpool_default(void)
{
    pthread_once(&g_once, make_default);
    return g_default;
}

void em_parallel_for(em_tpool *p, int threads, size_t n, size_t grain, em_range_fn fn, void *ctx)
{
    if (n == 0) return;
    if (grain == 0) grain = 1;
    size_t nchunks = (n + grain - 1) / grain;
    int avail = p ? p->n_workers + 1 : 1;
    if (threads > avail) threads = avail;
    if ((size_t)threads < nchunks) nchunks = (size_t)(threads > 0 ? threads : 1);
    bool expect = false;
    if (nchunks <= 1 || !p ||
        !atomic_compare_exchange_strong_explicit(&p->busy, &expect, true, memory_order_acquire,
                                                 memory_order_relaxed)) {
        /* Serial, or the pool is running another caller's job: same split, on this thread. */
        for (size_t i = 0; i < nchunks; i++) {
            size_t b, e;
            chunk_bounds(n, nchunks, i, &b, &e);
            fn(ctx, b, e);
        }
        return;
    }
    pthread_mutex_lock(&p->mu);
    p->fn = fn;
    p->ctx = ctx;
    p->n = n;
    p->nchunks = nchunks;
    p->next = 0;
    atomic_store_explicit(&p->done, 0, memory_order_relaxed);
    atomic_fetch_add_explicit(&p->gen, 1, memory_order_release);
    pthread_mutex_unlock(&p->mu);
    if (atomic_load(&p->sleepers) > 0) {
        pthread_mutex_lock(&p->mu);
        pthread_cond_broadcast(&p->wake);
        pthread_mutex_unlock(&p->mu);
    }
    take_chunks(p);
    int spins = 0;
    while (atomic_load_explicit(&p->done, memory_order_acquire) != nchunks && spins < SPIN_ROUNDS) {
        EM_RELAX();
        spins++;
    }
    if (atomic_load_explicit(&p->done, memory_order_acquire) != nchunks) {
        pthread_mutex_lock(&p->mu);
        while (atomic_load_explicit(&p->done, memory_order_acquire) != nchunks)
            pthread_cond_wait(&p->done_cv, &p->mu);
        pthread_mutex_unlock(&p->mu);
    }
    atomic_store_explicit(&p->busy, false, memory_order_release);
}
