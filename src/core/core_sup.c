/* Supervisor policy: when function processes start, get messages, time out,
 * restart and stop; applying a (re)deployment. How a process is started
 * (isolation) is src/run's. */
#include "core_int.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <inttypes.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

/* ---- helpers ---- */

static int window_of(const core_fn *f)
{
    return f->pinned ? IPC_WINDOW : 1;
}

size_t sup_held(void *ctx, size_t i)
{
    const core *c = ctx;
    if (i >= c->n_fns)
        return 0;
    size_t n = 0;
    for (const core_proc *p = c->fns[i]->procs; p; p = p->next)
        n += p->inflight.n;
    return n;
}

int sup_n_procs(const core *c)
{
    int n = 0;
    for (size_t i = 0; i < c->n_fns; i++)
        for (core_proc *p = c->fns[i]->procs; p; p = p->next)
            n++;
    for (size_t i = 0; i < c->n_gone; i++)
        for (core_proc *p = c->gone[i]->procs; p; p = p->next)
            n++;
    return n;
}

rt_queue *sup_fn_queue(core *c, core_fn *f)
{
    return f->rt >= 0 ? &c->rt->fns[f->rt].q : NULL;
}

core_proc *sup_find_token(core *c, const char *tok, size_t n)
{
    if (n != 32)
        return NULL;
    for (int pass = 0; pass < 2; pass++) {
        core_fn **v = pass ? c->gone : c->fns;
        size_t nv = pass ? c->n_gone : c->n_fns;
        for (size_t i = 0; i < nv; i++)
            for (core_proc *p = v[i]->procs; p; p = p->next) {
                unsigned char d = 0;
                for (size_t j = 0; j < 32; j++)
                    d |= (unsigned char)(p->token[j] ^ tok[j]);
                if (d == 0)
                    return p;
            }
    }
    return NULL;
}

void sup_finish_item(core *c, core_fn *f, rt_item *it, const char *status, size_t sn,
                     const void *res, size_t rn)
{
    if (sn == 0)
        f->done++;
    else
        f->failed++;
    if ((it->flags & IPC_F_REPLY) && it->reply_conn) {
        core_conn *k = conn_by_serial(c, it->reply_conn);
        if (k) {
            char st[300];
            if (sn == 0)
                st[0] = 0;
            else if (sn >= 7 && memcmp(status, "failed:", 7) == 0)
                snprintf(st, sizeof st, "%.*s", (int)(sn > 280 ? 280 : sn), status);
            else
                snprintf(st, sizeof st, "failed: %.*s", (int)(sn > 280 ? 280 : sn), status);
            ipc_field r[2] = {ipc_str(st), {(const uint8_t *)res, (uint32_t)(res ? rn : 0)}};
            conn_send(c, k, IPC_RESULT, sn ? IPC_F_ERROR : 0, it->reply_id, r, 2);
        }
    }
    rt_item_free(it);
}

/* ---- delivery and lifecycles ---- */

void sup_requeue_inflight(core *c, core_proc *p)
{
    rt_queue *q = sup_fn_queue(c, p->fn);
    rt_item *rev = NULL, *it;
    while ((it = rt_queue_pop(&p->inflight))) { /* reversed: pushing each to the front */
        it->next = rev;                          /* keeps the order */
        rev = it;
    }
    while ((it = rev)) {
        rev = it->next;
        it->next = NULL;
        if (q)
            rt_queue_push_front(q, it);
        else
            sup_finish_item(c, p->fn, it, "function removed", 16, NULL, 0);
    }
}

static int send_msg(core *c, core_proc *p, rt_item *it)
{
    it->id = ++p->next_id;
    ipc_field f[4] = {{(const uint8_t *)it->msg->topic, it->msg->topic_len},
                      {(const uint8_t *)it->subject, it->subject_len},
                      ipc_str(it->msg->source),
                      {it->msg->payload, (uint32_t)it->msg->len}};
    return conn_send(c, p->conn, IPC_MSG, it->flags, it->id, f, 4);
}

void sup_pump(core *c, core_fn *f)
{
    rt_queue *q = sup_fn_queue(c, f);
    if (!q || c->stopping)
        return;
    uint64_t now = core_now_ms();
    int win = window_of(f);
    while (q->n) {
        core_proc *best = NULL;
        for (core_proc *p = f->procs; p; p = p->next)
            if (p->state == PROC_READY && p->conn && !p->bye && p->inflight.n < (size_t)win &&
                (!best || p->inflight.n < best->inflight.n))
                best = p;
        if (!best)
            break;
        rt_item *it = rt_queue_pop(q);
        if (send_msg(c, best, it) != 0) {
            rt_queue_push_front(q, it);
            break;
        }
        if (best->inflight.n == 0)
            best->head_since_ms = now;
        rt_queue_push_back(&best->inflight, it);
    }
    /* on-demand: more processes while work waits */
    if (!f->pinned && q->n && now >= f->backoff_until_ms) {
        size_t live = 0, starting = 0;
        for (core_proc *p = f->procs; p; p = p->next) {
            if (p->state != PROC_STOPPING)
                live++;
            if (p->state == PROC_STARTING)
                starting++;
        }
        /* one starting process per waiting message, up to the limit */
        while (live < c->o.max_concurrency && starting < q->n) {
            if (sup_spawn(c, f, now) != 0)
                break;
            live++;
            starting++;
        }
    }
}

void sup_pump_all(core *c)
{
    for (size_t i = 0; i < c->n_fns; i++)
        sup_pump(c, c->fns[i]);
}

void sup_stop_proc(core *c, core_proc *p, uint64_t now, int asked)
{
    if (asked)
        p->asked = 1;
    if (p->state == PROC_STOPPING)
        return;
    p->state = PROC_STOPPING;
    p->kill_at_ms = now + c->o.grace_ms;
    if (run_kill(&p->rp, SIGTERM) != 0 && errno != ESRCH)
        core_log(c, "WARN", "function %s: SIGTERM to pid %ld: %s", p->fn->id, (long)p->rp.pid,
                 strerror(errno));
}

void sup_stop_all(core *c)
{
    uint64_t now = core_now_ms();
    for (int pass = 0; pass < 2; pass++) {
        core_fn **v = pass ? c->gone : c->fns;
        size_t nv = pass ? c->n_gone : c->n_fns;
        for (size_t i = 0; i < nv; i++)
            for (core_proc *p = v[i]->procs; p; p = p->next)
                sup_stop_proc(c, p, now, 1);
    }
}

void sup_proc_conn_lost(core *c, core_proc *p)
{
    /* a process that hangs up without exiting cannot get messages: if it
     * has not exited a second later (the usual case: it is exiting, and its
     * SIGCHLD comes next), it is stopped */
    if (p->state != PROC_STOPPING)
        p->lost_at_ms = core_now_ms();
}

static void drain_pipe(core *c, core_proc *p, int all)
{
    char buf[8192];
    for (int i = 0; p->out_fd >= 0 && (all || i < 8); i++) {
        ssize_t n = read(p->out_fd, buf, sizeof buf);
        if (n > 0) {
            if (p->fn->log)
                run_log_write(p->fn->log, buf, (size_t)n);
            continue;
        }
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK) && !all)
            return;
        core_unwatch(c, p->out_fd);
        close(p->out_fd);
        p->out_fd = -1;
    }
}

void sup_pipe_event(core *c, core_proc *p)
{
    drain_pipe(c, p, 0);
}

static core_proc *unlink_proc(core *c, pid_t pid, core_fn **fo)
{
    for (int pass = 0; pass < 2; pass++) {
        core_fn **v = pass ? c->gone : c->fns;
        size_t nv = pass ? c->n_gone : c->n_fns;
        for (size_t i = 0; i < nv; i++)
            for (core_proc **pp = &v[i]->procs; *pp; pp = &(*pp)->next)
                if ((*pp)->rp.pid == pid) {
                    core_proc *p = *pp;
                    *pp = p->next;
                    *fo = v[i];
                    return p;
                }
    }
    return NULL;
}

void sup_free_fn(core_fn *f)
{
    if (f->log)
        run_log_close(f->log);
    free(f->id);
    free(f->arn);
    free(f);
}

static void reap_gone(core *c)
{
    size_t o = 0;
    for (size_t i = 0; i < c->n_gone; i++) {
        if (c->gone[i]->procs)
            c->gone[o++] = c->gone[i];
        else
            sup_free_fn(c->gone[i]);
    }
    c->n_gone = o;
}

void sup_reaped(core *c, pid_t pid, int ws)
{
    core_fn *f = NULL;
    core_proc *p = unlink_proc(c, pid, &f);
    if (!p)
        return;
    uint64_t now = core_now_ms();
    char why[256];
    int oom = run_proc_finish(&p->rp, ws, why, sizeof why);
    int asked = p->asked && !p->timed_out;
    if (p->timed_out)
        snprintf(why, sizeof why, "killed: a handler ran past its Timeout of %u s",
                 (unsigned)(f->timeout_ms / 1000));
    int clean = WIFEXITED(ws) && WEXITSTATUS(ws) == 0;
    if (p->out_fd >= 0) {
        /* whatever the process wrote last is still in the pipe; a grandchild
         * may hold the pipe open: read what is there, then stop */
        drain_pipe(c, p, 0);
        if (p->out_fd >= 0) {
            core_unwatch(c, p->out_fd);
            close(p->out_fd);
            p->out_fd = -1;
        }
    }
    /* in flight: the head was being handled (failed), the rest go back */
    rt_item *head = rt_queue_pop(&p->inflight);
    sup_requeue_inflight(c, p);
    if (head) {
        char st[300];
        snprintf(st, sizeof st, "failed: %s", why);
        core_log(c, "WARN", "function %s: message %" PRIu64 " failed: process %s", f->id,
                 head->id, why);
        sup_finish_item(c, f, head, st, strlen(st), NULL, 0);
    }
    if (p->conn) {
        p->conn->proc = NULL;
        conn_close(c, p->conn);
    }
    snprintf(f->last_exit, sizeof f->last_exit, "%s", why);
    core_log(c, asked || clean ? "INFO" : "WARN", "function %s: pid %ld %s%s", f->id, (long)pid,
             why, oom ? " (over MemorySize)" : "");
    if (!asked && (!clean || f->pinned) && !c->stopping && f->rt >= 0) {
        /* crash, timeout, OOM — or a pinned function that exited on its own
         * (it must not): restart after a backoff that doubles while it keeps
         * failing, so that a function that cannot run does not spin */
        if (now - p->started_ms >= CORE_BACKOFF_RESET_MS)
            f->backoff_ms = c->o.backoff_ms;
        f->backoff_until_ms = now + f->backoff_ms;
        core_log(c, "INFO", "function %s: restarting in %" PRIu64 " ms", f->id, f->backoff_ms);
        f->backoff_ms = f->backoff_ms * 2 > CORE_BACKOFF_MAX_MS ? CORE_BACKOFF_MAX_MS
                                                                : f->backoff_ms * 2;
        f->crashed = 1;
    }
    /* freed after the epoll batch: its out_fd is closed, so a pending
     * EV_PIPE event for it reads nothing */
    p->next = c->dead;
    c->dead = p;
    reap_gone(c);
}

void sup_free_dead(core *c)
{
    core_proc *p;
    while ((p = c->dead)) {
        c->dead = p->next;
        free(p);
    }
}

/* Timers: handler timeouts, grace expiry, idle processes, backoff ends,
 * pinned (re)starts. *next: the earliest future deadline. */
void sup_tick(core *c, uint64_t now, uint64_t *next)
{
#define NEXT(t)                                                                                   \
    do {                                                                                          \
        if ((t) < *next)                                                                          \
            *next = (t);                                                                          \
    } while (0)
    for (int pass = 0; pass < 2; pass++) {
        core_fn **v = pass ? c->gone : c->fns;
        size_t nv = pass ? c->n_gone : c->n_fns;
        for (size_t i = 0; i < nv; i++) {
            core_fn *f = v[i];
            size_t live = 0;
            for (core_proc *p = f->procs; p; p = p->next) {
                if (p->state == PROC_STOPPING) {
                    if (p->kill_at_ms && now >= p->kill_at_ms) {
                        core_log(c, "WARN", "function %s: pid %ld still running %u ms after "
                                 "SIGTERM; SIGKILL", f->id, (long)p->rp.pid, c->o.grace_ms);
                        run_kill(&p->rp, SIGKILL);
                        p->kill_at_ms = 0;
                    } else if (p->kill_at_ms) {
                        NEXT(p->kill_at_ms);
                    }
                    continue;
                }
                live++;
                if (p->lost_at_ms && !p->conn) {
                    if (now >= p->lost_at_ms + 1000) {
                        core_log(c, "WARN", "function %s: pid %ld closed its connection but "
                                 "still runs; stopping it", f->id, (long)p->rp.pid);
                        sup_stop_proc(c, p, now, 0);
                        NEXT(p->kill_at_ms);
                        continue;
                    }
                    NEXT(p->lost_at_ms + 1000);
                }
                if (p->inflight.n && !p->bye) {
                    uint64_t dl = p->head_since_ms + f->timeout_ms;
                    if (now >= dl) {
                        core_log(c, "WARN", "function %s: handler of message %" PRIu64
                                 " ran past its Timeout of %u ms; killing pid %ld", f->id,
                                 p->inflight.head->id, f->timeout_ms, (long)p->rp.pid);
                        p->timed_out = 1;
                        p->state = PROC_STOPPING;
                        p->kill_at_ms = 0;
                        run_kill(&p->rp, SIGKILL);
                        live--;
                        continue;
                    }
                    NEXT(dl);
                } else if (!f->pinned && p->state == PROC_READY && !c->stopping) {
                    uint64_t dl = p->idle_since_ms + c->o.idle_timeout_ms;
                    if (now >= dl) {
                        core_log(c, "INFO", "function %s: pid %ld idle for %u ms; stopping it",
                                 f->id, (long)p->rp.pid, c->o.idle_timeout_ms);
                        sup_stop_proc(c, p, now, 1);
                        NEXT(p->kill_at_ms);
                        continue;
                    }
                    NEXT(dl);
                }
            }
            if (pass || c->stopping || f->rt < 0)
                continue;
            if (f->backoff_until_ms > now) {
                NEXT(f->backoff_until_ms);
                continue;
            }
            if (f->pinned && !f->procs) /* wait for old ones (redeploy) to go first */
                sup_spawn(c, f, now);
            else if (!f->pinned && live == 0 && sup_fn_queue(c, f)->n)
                sup_pump(c, f);
            if (f->backoff_until_ms > now)
                NEXT(f->backoff_until_ms);
        }
    }
#undef NEXT
}

const char *sup_state(const core *c, const core_fn *f)
{
    int starting = 0, busy = 0, ready = 0;
    for (const core_proc *p = f->procs; p; p = p->next) {
        if (p->state == PROC_STARTING)
            starting = 1;
        else if (p->state == PROC_READY) {
            ready = 1;
            busy |= p->inflight.n > 0;
        }
    }
    if (busy || (ready && f->pinned))
        return "running";
    if (ready)
        return "idle";
    if (starting)
        return "starting";
    if (f->spawn_failed)
        return "failed";
    if (f->backoff_until_ms > core_now_ms())
        return "backoff";
    return "stopped";
}

void sup_free_all(core *c)
{
    sup_free_dead(c);
    for (int pass = 0; pass < 2; pass++) {
        core_fn **v = pass ? c->gone : c->fns;
        size_t nv = pass ? c->n_gone : c->n_fns;
        for (size_t i = 0; i < nv; i++) {
            core_fn *f = v[i];
            core_proc *p;
            while ((p = f->procs)) {
                f->procs = p->next;
                rt_queue_clear(&p->inflight);
                if (p->out_fd >= 0)
                    close(p->out_fd);
                if (p->conn)
                    p->conn->proc = NULL;
                free(p);
            }
            sup_free_fn(f);
        }
    }
    free(c->fns);
    free(c->gone);
    c->fns = c->gone = NULL;
    c->n_fns = c->n_gone = 0;
}
