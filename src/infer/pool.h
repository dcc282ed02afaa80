/* The runtime's thread pool: one per process by default (or the caller's),
 * shared by every session. A kernel splits its work with em_parallel_for;
 * the split depends only on the range, the grain and the thread count, so
 * results do not depend on scheduling. Idle workers sleep on a condition
 * variable. When the pool is busy with another session's job, the caller
 * runs its whole range itself: several sessions never oversubscribe it. */
#ifndef EDGEML_INFER_POOL_H
#define EDGEML_INFER_POOL_H

#include <stddef.h>

typedef struct em_tpool em_tpool;

/* fn(ctx, begin, end): one chunk of [0, n). */
typedef void (*em_range_fn)(void *ctx, size_t begin, size_t end);

/* Runs fn over [0, n) in up to `threads` chunks (the calling thread takes
 * one), each at least `grain` long, and returns when all are done. pool may
 * be NULL (serial). */
void em_parallel_for(em_tpool *pool, int threads, size_t n, size_t grain, em_range_fn fn, void *ctx);

/* Task t of `tasks` contiguous, balanced parts of [0, n): [*b, *e). Kernels that
 * give each thread its own buffer run em_parallel_for over tasks <= threads and
 * split their items with this. */
static inline void em_task_bounds(size_t n, size_t tasks, size_t t, size_t *b, size_t *e)
{
    *b = n / tasks * t + (t < n % tasks ? t : n % tasks);
    *e = *b + n / tasks + (t < n % tasks ? 1 : 0);
}

/* The process-wide pool with em_cpu_count() - 1 workers, created on first use
 * (NULL if threads cannot be made: then everything runs serially). */
em_tpool *em_tpool_default(void);
em_tpool *em_tpool_create(int workers);
void em_tpool_free(em_tpool *p);
int em_tpool_size(const em_tpool *p); /* workers + 1 (the caller) */

#endif
