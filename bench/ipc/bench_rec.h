/* Shared by the two sides of the IPC benchmark (bench_fn.c through the edgeml
 * core, mosq_bench.c through Mosquitto): the 64-byte message and the
 * receiver's recording, so both measure exactly the same thing. */
#ifndef BENCH_REC_H
#define BENCH_REC_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define BENCH_END UINT64_MAX /* seq of the closing message; t_ns carries N */
#define BENCH_MAX_N 2000000

typedef struct bench_msg {
    uint64_t seq, t_ns; /* CLOCK_MONOTONIC at publish */
    char mode;          /* 'l' latency (paced), 't' throughput (back to back) */
    char pad[47];
} bench_msg;

static inline uint64_t bench_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static inline void bench_sleep_us(unsigned us)
{
    if (!us)
        return;
    uint64_t end = bench_now_ns() + (uint64_t)us * 1000u;
    struct timespec ts = {0, (long)us * 1000L};
    nanosleep(&ts, NULL);
    while (bench_now_ns() < end)
        ;
}

/* Receiver state: one run at a time. */
typedef struct bench_rec {
    uint64_t *lat;
    uint64_t n, first_send, last_arrival;
    char mode;
} bench_rec;

/* Records one message; on BENCH_END writes OUT/<prefix>_<mode>.txt:
 *   "<mode> <received> <expected> <first_send_ns> <last_arrival_ns>" then one
 * latency (ns) per line. Returns 1 when a run closed. */
static inline int bench_rec_msg(bench_rec *r, const void *p, size_t n, const char *out_dir,
                                const char *prefix)
{
    uint64_t now = bench_now_ns();
    bench_msg m;
    if (n < sizeof m)
        return 0;
    memcpy(&m, p, sizeof m);
    if (!r->lat && !(r->lat = malloc(BENCH_MAX_N * sizeof *r->lat)))
        return 0;
    if (m.seq != BENCH_END) {
        if (r->n == 0 || m.t_ns < r->first_send)
            r->first_send = m.t_ns;
        r->last_arrival = now;
        r->mode = m.mode;
        if (r->n < BENCH_MAX_N)
            r->lat[r->n] = now - m.t_ns;
        r->n++;
        return 0;
    }
    char path[4096], tmp[4200];
    snprintf(path, sizeof path, "%s/%s_%c.txt", out_dir, prefix, m.mode);
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    FILE *f = fopen(tmp, "w");
    if (f) {
        fprintf(f, "%c %llu %llu %llu %llu\n", m.mode, (unsigned long long)r->n,
                (unsigned long long)m.t_ns, (unsigned long long)r->first_send,
                (unsigned long long)r->last_arrival);
        uint64_t k = r->n < BENCH_MAX_N ? r->n : BENCH_MAX_N;
        for (uint64_t i = 0; i < k; i++)
            fprintf(f, "%llu\n", (unsigned long long)r->lat[i]);
        fclose(f);
        rename(tmp, path);
    }
    r->n = 0;
    return 1;
}

/* Parses "lat N GAP_US" / "tp N" into mode, n, gap. 0 or -1. */
/* The sender's side, the same for both peers: n messages stamped with their
 * send time, `gap` us apart, then the closing one; publish returns 0 on
 * success. The number of failed publishes. */
static inline int bench_send(char mode, unsigned long n, unsigned gap,
                             int (*publish)(void *ctx, const bench_msg *b), void *ctx)
{
    bench_msg b;
    memset(&b, 0, sizeof b);
    b.mode = mode;
    int fails = 0;
    for (unsigned long i = 0; i < n; i++) {
        b.seq = i;
        b.t_ns = bench_now_ns();
        fails += publish(ctx, &b) != 0;
        bench_sleep_us(gap);
    }
    b.seq = BENCH_END;
    b.t_ns = n;
    fails += publish(ctx, &b) != 0;
    return fails;
}

static inline int bench_parse_go(const char *s, char *mode, unsigned long *n, unsigned *gap)
{
    *gap = 0;
    if (sscanf(s, "lat %lu %u", n, gap) == 2)
        *mode = 'l';
    else if (sscanf(s, "tp %lu", n) == 1)
        *mode = 't';
    else
        return -1;
    return *n > 0 && *n <= BENCH_MAX_N ? 0 : -1;
}

#endif
