/* CTL_STATUS: the core, its functions and the routing counters as JSON. */
#include "core_int.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

typedef struct jb {
    char *p;
    size_t n, cap;
    int oom;
} jb;

static void jb_add(jb *b, const char *s, size_t n)
{
    if (b->oom)
        return;
    if (b->n + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 1024;
        while (cap < b->n + n + 1)
            cap *= 2;
        char *np = realloc(b->p, cap);
        if (!np) {
            b->oom = 1;
            return;
        }
        b->p = np;
        b->cap = cap;
    }
    memcpy(b->p + b->n, s, n);
    b->n += n;
    b->p[b->n] = 0;
}

static void jb_f(jb *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void jb_f(jb *b, const char *fmt, ...)
{
    char tmp[512];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(tmp, sizeof tmp, fmt, ap);
    va_end(ap);
    if (n > 0)
        jb_add(b, tmp, (size_t)n < sizeof tmp ? (size_t)n : sizeof tmp - 1);
}

static void jb_str(jb *b, const char *s)
{
    if (!s) {
        jb_add(b, "null", 4);
        return;
    }
    jb_add(b, "\"", 1);
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (*p == '"' || *p == '\\') {
            char e[2] = {'\\', (char)*p};
            jb_add(b, e, 2);
        } else if (*p < 0x20 || *p == 0x7f) {
            jb_f(b, "\\u%04x", *p);
        } else {
            jb_add(b, (const char *)p, 1);
        }
    }
    jb_add(b, "\"", 1);
}

static long rss_kb(void)
{
    FILE *f = fopen("/proc/self/status", "re");
    if (!f)
        return -1;
    char line[256];
    long v = -1;
    while (fgets(line, sizeof line, f))
        if (sscanf(line, "VmRSS: %ld kB", &v) == 1)
            break;
    fclose(f);
    return v;
}

char *core_status_json(core *c)
{
    jb b = {0};
    uint64_t now = core_now_ms();
    jb_f(&b, "{\"core\": {\"pid\": %ld, \"uptime_s\": %" PRIu64 ", \"rss_kb\": %ld, \"root\": ",
         (long)getpid(), (now - c->start_ms) / 1000, rss_kb());
    jb_str(&b, c->root);
    jb_add(&b, ", \"group\": ", 11);
    if (c->doc) {
        jb_add(&b, "{\"path\": ", 9);
        jb_str(&b, c->group_path);
        jb_f(&b, ", \"functions\": %zu, \"subscriptions\": %zu}", c->doc->group->n_functions,
             c->doc->group->n_subscriptions);
    } else {
        jb_add(&b, "null", 4);
    }
    jb_f(&b, ", \"stopping\": %s}, \"functions\": [", c->stopping ? "true" : "false");
    for (size_t i = 0; i < c->n_fns; i++) {
        core_fn *f = c->fns[i];
        const rt_fn *r = f->rt >= 0 ? &c->rt->fns[f->rt] : NULL;
        size_t inflight = 0;
        jb_add(&b, i ? ", {\"id\": " : "{\"id\": ", i ? 9 : 7);
        jb_str(&b, f->id);
        jb_add(&b, ", \"arn\": ", 9);
        jb_str(&b, f->arn);
        jb_add(&b, ", \"state\": ", 11);
        jb_str(&b, sup_state(c, f));
        jb_f(&b, ", \"pinned\": %s, \"isolation\": \"%s\", \"pids\": [", f->pinned ? "true" : "false",
             f->container ? "GreengrassContainer" : "NoContainer");
        int first = 1;
        for (core_proc *p = f->procs; p; p = p->next) {
            jb_f(&b, "%s%ld", first ? "" : ", ", (long)p->rp.pid);
            first = 0;
            inflight += p->inflight.n;
        }
        jb_f(&b,
             "], \"restarts\": %u, \"in\": %" PRIu64 ", \"out\": %" PRIu64 ", \"dropped\": %" PRIu64
             ", \"denied\": %" PRIu64 ", \"done\": %" PRIu64 ", \"failed\": %" PRIu64
             ", \"queued\": %zu, \"inflight\": %zu, \"timeout_ms\": %u, \"last_exit\": ",
             f->restarts, r ? r->in : 0, r ? r->out : 0, r ? r->dropped : 0, r ? r->denied : 0,
             f->done, f->failed, r ? r->q.n : 0, inflight, f->timeout_ms);
        jb_str(&b, f->last_exit[0] ? f->last_exit : NULL);
        jb_add(&b, "}", 1);
    }
    const rt_stats *s = &c->rt->st;
    jb_f(&b,
         "], \"routing\": {\"routed\": %" PRIu64 ", \"no_route\": %" PRIu64 ", \"denied\": %" PRIu64
         ", \"bad_topic\": %" PRIu64 ", \"dropped\": %" PRIu64 ", \"cloud_queued\": %" PRIu64
         ", \"cloud_dropped\": %" PRIu64 ", \"cloud_waiting\": %zu, \"external_queued\": %" PRIu64
         ", \"external_dropped\": %" PRIu64 ", \"external_waiting\": %zu}}",
         s->routed, s->no_route, s->denied, s->bad_topic, s->dropped, s->cloud_queued,
         s->cloud_dropped, c->rt->cloud.n, s->ext_queued, s->ext_dropped, c->rt->ext.n);
    if (b.oom) {
        free(b.p);
        return NULL;
    }
    return b.p;
}
