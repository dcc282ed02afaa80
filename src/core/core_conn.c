/* Connections on ROOT/run/core.sock: non-blocking framing, per-connection
 * output buffers, and the dispatch of every frame type (proto.h). */
#include "core_int.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "topic.h"

/* ---- output ---- */

static void want_out(core *c, core_conn *k, int on)
{
    if (k->want_out == on || k->fd < 0)
        return;
    k->want_out = on;
    core_watch(c, k->fd, k, EPOLLIN | (on ? EPOLLOUT : 0));
}

static void flush_out(core *c, core_conn *k)
{
    while (k->out_off < k->out_len) {
        ssize_t w = send(k->fd, k->out + k->out_off, k->out_len - k->out_off, MSG_NOSIGNAL);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            if (errno == EAGAIN || errno == EWOULDBLOCK) {
                want_out(c, k, 1);
                return;
            }
            conn_close(c, k);
            return;
        }
        k->out_off += (size_t)w;
    }
    k->out_off = k->out_len = 0;
    if (k->out_cap > 65536) { /* give big buffers back once drained */
        free(k->out);
        k->out = NULL;
        k->out_cap = 0;
    }
    want_out(c, k, 0);
    if (k->closing)
        conn_close(c, k);
}

int conn_send(core *c, core_conn *k, uint8_t type, uint8_t flags, uint64_t id,
              const ipc_field *f, unsigned nf)
{
    if (!k || k->fd < 0)
        return -1;
    size_t need = ipc_frame_size(f, nf);
    if (need == 0 || need > IPC_HDR_SIZE + (size_t)IPC_MAX_BODY)
        return -1;
    size_t pending = k->out_len - k->out_off;
    if (k->kind == CONN_SUB && pending + need > CORE_SUB_OUT_MAX)
        return -1;
    if (k->kind != CONN_SUB && type != IPC_MSG && pending && pending + need > CORE_REPLY_OUT_MAX) {
        /* a peer that sends requests and never reads the answers must not
         * grow the core: its answers are dropped (a function's own invokes
         * then time out) */
        if (k->replies_dropped++ == 0)
            core_log(c, "WARN", "%s%s is not reading its answers (%zu bytes unsent): dropping "
                     "them", k->proc ? "function " : "connection ",
                     k->proc ? k->proc->fn->id : "from the socket", pending);
        return -1;
    }
    if (k->out_off && k->out_off == k->out_len)
        k->out_off = k->out_len = 0;
    if (k->out_len + need > k->out_cap) {
        if (k->out_off) { /* compact */
            memmove(k->out, k->out + k->out_off, k->out_len - k->out_off);
            k->out_len -= k->out_off;
            k->out_off = 0;
        }
        if (k->out_len + need > k->out_cap) {
            size_t cap = k->out_cap ? k->out_cap : 256;
            while (cap < k->out_len + need)
                cap *= 2;
            uint8_t *p = realloc(k->out, cap);
            if (!p)
                return -1;
            k->out = p;
            k->out_cap = cap;
        }
    }
    size_t w = ipc_encode(k->out + k->out_len, k->out_cap - k->out_len, type, flags, id, f, nf);
    if (w == 0)
        return -1;
    k->out_len += w;
    if (!k->want_out)
        flush_out(c, k);
    return 0;
}

static void send_text(core *c, core_conn *k, uint8_t type, uint8_t flags, uint64_t id,
                      const char *text)
{
    ipc_field f = ipc_str(text);
    conn_send(c, k, type, flags, id, &f, 1);
}

/* Sends ERROR [text] and closes once it is out. */
static void fail_conn(core *c, core_conn *k, const char *text)
{
    send_text(c, k, IPC_ERROR, IPC_F_ERROR, 0, text);
    k->closing = 1;
    if (k->fd >= 0 && k->out_off == k->out_len)
        conn_close(c, k);
}

core_conn *conn_by_serial(core *c, uint64_t serial)
{
    for (core_conn *k = c->conns; k; k = k->next)
        if (k->serial == serial && k->fd >= 0)
            return k;
    return NULL;
}

/* ---- lifecycle ---- */

void conn_accept(core *c)
{
    for (int i = 0; i < 16; i++) {
        int fd = accept4(c->lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) {
            if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
                core_log(c, "WARN", "accept: %s", strerror(errno));
            return;
        }
        if (c->n_conns >= CORE_MAX_CONNS) {
            core_log(c, "WARN", "refused a connection: %d connections open", CORE_MAX_CONNS);
            close(fd);
            continue;
        }
        core_conn *k = calloc(1, sizeof *k);
        if (!k) {
            close(fd);
            continue;
        }
        k->ev = EV_CONN;
        k->fd = fd;
        k->serial = ++c->next_serial;
        struct ucred cr;
        socklen_t cl = sizeof cr;
        if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cr, &cl) == 0) {
            k->uid = cr.uid;
            k->pid = cr.pid;
        } else {
            k->uid = (uid_t)-1;
        }
        if (core_watch(c, fd, k, EPOLLIN) != 0) {
            close(fd);
            free(k);
            continue;
        }
        k->next = c->conns;
        c->conns = k;
        c->n_conns++;
    }
}

/* Closes the socket; the struct is freed by the loop after the batch. */
void conn_close(core *c, core_conn *k)
{
    if (k->fd < 0)
        return;
    core_unwatch(c, k->fd);
    close(k->fd);
    k->fd = -1;
    c->n_conns--;
    free(k->body);
    k->body = NULL;
    free(k->out);
    k->out = NULL;
    k->out_len = k->out_off = k->out_cap = 0;
    free(k->filter);
    k->filter = NULL;
    if (k->proc) {
        core_proc *p = k->proc;
        k->proc = NULL;
        p->conn = NULL;
        sup_proc_conn_lost(c, p);
    }
}

/* ---- function frames ---- */

static int parse_u64(ipc_field f, uint64_t *v)
{
    if (f.n == 0 || f.n > 20)
        return -1;
    uint64_t x = 0;
    for (uint32_t i = 0; i < f.n; i++) {
        if (f.p[i] < '0' || f.p[i] > '9')
            return -1;
        uint64_t d = (uint64_t)(f.p[i] - '0');
        if (x > (UINT64_MAX - d) / 10)
            return -1;
        x = x * 10 + d;
    }
    *v = x;
    return 0;
}

static void on_hello(core *c, core_conn *k, const ipc_field *f)
{
    core_proc *p = sup_find_token(c, (const char *)f[0].p, f[0].n);
    if (!p) {
        core_log(c, "WARN", "refused a HELLO from pid %ld: unknown token", (long)k->pid);
        fail_conn(c, k, "unknown token (not a process this core started, or it has exited)");
        return;
    }
    if (p->conn) {
        core_log(c, "WARN", "function %s: refused a second connection for pid %ld (from pid %ld)",
                 p->fn->id, (long)p->rp.pid, (long)k->pid);
        fail_conn(c, k, "token already connected");
        return;
    }
    k->kind = CONN_FN;
    k->proc = p;
    p->conn = k;
    if (p->state == PROC_STARTING) {
        p->state = PROC_READY;
        p->idle_since_ms = core_now_ms();
    }
    const char *filters = p->fn->rt >= 0 ? c->rt->fns[p->fn->rt].filters : "";
    ipc_field w[2] = {ipc_str(p->fn->id), ipc_str(filters)};
    conn_send(c, k, IPC_WELCOME, 0, 0, w, 2);
    core_log(c, "INFO", "function %s: pid %ld connected", p->fn->id, (long)p->rp.pid);
    sup_pump(c, p->fn);
}

static void on_done(core *c, core_conn *k, const ipc_hdr *h, const ipc_field *f)
{
    core_proc *p = k->proc;
    rt_item *prev = NULL, *it = p->inflight.head;
    while (it && it->id != h->id) {
        prev = it;
        it = it->next;
    }
    if (!it)
        return; /* not ours (or already requeued): ignore */
    if (prev)
        prev->next = it->next;
    else
        p->inflight.head = it->next;
    if (p->inflight.tail == it)
        p->inflight.tail = prev;
    p->inflight.n--;
    p->inflight.bytes -= rt_item_bytes(it);
    it->next = NULL;
    uint64_t now = core_now_ms();
    if (p->inflight.n)
        p->head_since_ms = now;
    else
        p->idle_since_ms = now;
    sup_finish_item(c, p->fn, it, (const char *)f[0].p, f[0].n, f[1].p, f[1].n);
    sup_pump(c, p->fn);
}

static void on_bye(core *c, core_conn *k, const ipc_field *f)
{
    core_proc *p = k->proc;
    uint64_t last = 0;
    if (f[0].n && parse_u64(f[0], &last) != 0) {
        fail_conn(c, k, "BYE: last_done_id is not a decimal number");
        return;
    }
    p->bye = 1;
    /* the MSGs after last_done_id go back to the front, in order (in-flight
     * ids ascend: the finished ones whose DONE was not seen come first) */
    while (p->inflight.head && p->inflight.head->id <= last)
        rt_item_free(rt_queue_pop(&p->inflight));
    sup_requeue_inflight(c, p);
    if (p->state != PROC_STOPPING)
        sup_stop_proc(c, p, core_now_ms(), 1); /* it is leaving on its own: grace, then KILL */
    if (p->fn->rt >= 0)
        sup_pump(c, p->fn);
}

static void on_fn_publish(core *c, core_conn *k, const ipc_hdr *h, const ipc_field *f)
{
    core_fn *fn = k->proc->fn;
    char err[512];
    if (fn->rt < 0) {
        send_text(c, k, IPC_NACK, IPC_F_ERROR, h->id, "function removed from the group");
        return;
    }
    size_t nt;
    int rc = rt_publish(c->rt, fn->rt, (const char *)f[0].p, f[0].n, f[1].p, f[1].n, &nt, err,
                        sizeof err);
    if (rc != RT_OK) {
        send_text(c, k, IPC_NACK, IPC_F_ERROR, h->id, err);
        return;
    }
    if (nt)
        sup_pump_all(c);
    /* results for cloud go out now: the cloud queue is bounded like a
     * function's, and one read pass may take in many publishes */
    conn_drain_cloud(c);
}

static const char *invoke_err(int rc)
{
    switch (rc) {
    case RT_NOFUNC: return "no such function";
    case RT_FULL: return "queue full";
    case RT_NOMEM: return "failed: out of memory in the core";
    default: return "failed";
    }
}

/* INVOKE from a function or CTL_INVOKE from the CLI. */
static void on_invoke(core *c, core_conn *k, const ipc_hdr *h, const ipc_field *f,
                      const char *source)
{
    int fi;
    int rr = (h->flags & IPC_F_REPLY) != 0;
    int rc = rt_invoke(c->rt, (const char *)f[0].p, f[0].n, source, f[1].p, f[1].n,
                       (uint8_t)(rr ? IPC_F_REPLY : 0), k->serial, h->id, &fi);
    if (rc != RT_OK) {
        if (rr || k->kind != CONN_FN) {
            ipc_field r[2] = {ipc_str(invoke_err(rc)), ipc_str("")};
            conn_send(c, k, IPC_RESULT, IPC_F_ERROR, h->id, r, 2);
        } else {
            send_text(c, k, IPC_NACK, IPC_F_ERROR, h->id, invoke_err(rc));
        }
        return;
    }
    if (!rr && k->kind != CONN_FN) {
        ipc_field r[2] = {ipc_str(""), ipc_str("")};
        conn_send(c, k, IPC_RESULT, 0, h->id, r, 2);
    }
    sup_pump(c, c->fns[fi]);
}

/* ---- control frames ---- */

static void on_ctl(core *c, core_conn *k, const ipc_hdr *h, const ipc_field *f)
{
    char msg[512];
    switch (h->type) {
    case IPC_CTL_STATUS: {
        char *js = core_status_json(c);
        if (!js) {
            send_text(c, k, IPC_CTL_REPLY, IPC_F_ERROR, h->id, "out of memory");
            return;
        }
        send_text(c, k, IPC_CTL_REPLY, 0, h->id, js);
        free(js);
        return;
    }
    case IPC_CTL_DEPLOY: {
        char *path = f[0].n ? ipc_field_dup(f[0]) : NULL;
        if (f[0].n && !path) {
            send_text(c, k, IPC_CTL_REPLY, IPC_F_ERROR, h->id, "bad path");
            return;
        }
        int rc = sup_apply(c, path ? path : c->group_path, 0, msg, sizeof msg);
        free(path);
        send_text(c, k, IPC_CTL_REPLY, rc ? IPC_F_ERROR : 0, h->id, msg);
        return;
    }
    case IPC_CTL_PUBLISH: {
        size_t nt;
        int rc = rt_publish(c->rt, RT_CLOUD, (const char *)f[0].p, f[0].n, f[1].p, f[1].n, &nt,
                            msg, sizeof msg);
        if (rc != RT_OK) {
            send_text(c, k, IPC_CTL_REPLY, IPC_F_ERROR, h->id, msg);
            return;
        }
        if (nt)
            snprintf(msg, sizeof msg, "routed to %zu", nt);
        else
            snprintf(msg, sizeof msg, "no route (dropped)");
        send_text(c, k, IPC_CTL_REPLY, 0, h->id, msg);
        if (nt)
            sup_pump_all(c);
        return;
    }
    case IPC_CTL_SUBSCRIBE: {
        const char *why;
        if (!ipc_filter_valid((const char *)f[0].p, f[0].n, &why) ||
            !(k->filter = ipc_field_dup(f[0]))) {
            send_text(c, k, IPC_CTL_REPLY, IPC_F_ERROR, h->id, why ? why : "bad filter");
            return;
        }
        k->kind = CONN_SUB;
        send_text(c, k, IPC_CTL_REPLY, 0, h->id, "ok");
        return;
    }
    case IPC_CTL_INVOKE:
        on_invoke(c, k, h, f, "cloud");
        return;
    }
}

static void dispatch(core *c, core_conn *k, const ipc_hdr *h, const ipc_field *f)
{
    int ctl = h->type >= IPC_CTL_STATUS;
    if (k->kind == CONN_NEW) {
        if (h->type == IPC_HELLO) {
            on_hello(c, k, f);
            return;
        }
        if (!ctl) {
            fail_conn(c, k, "the first frame must be HELLO or a control request");
            return;
        }
        if (k->uid != 0 && k->uid != geteuid()) {
            core_log(c, "WARN", "refused a control connection from uid %ld (pid %ld)",
                     (long)k->uid, (long)k->pid);
            fail_conn(c, k, "not authorised: control requests need uid 0 or the core's uid");
            return;
        }
        k->kind = CONN_CTL;
    }
    if (k->kind == CONN_CTL) {
        if (!ctl || h->type == IPC_CTL_REPLY) {
            fail_conn(c, k, "unexpected frame on a control connection");
            return;
        }
        on_ctl(c, k, h, f);
        return;
    }
    if (k->kind == CONN_SUB)
        return; /* a subscriber only listens */
    /* CONN_FN */
    if (!k->proc) {
        fail_conn(c, k, "process gone");
        return;
    }
    switch (h->type) {
    case IPC_DONE:
        on_done(c, k, h, f);
        break;
    case IPC_PUBLISH:
        on_fn_publish(c, k, h, f);
        break;
    case IPC_INVOKE:
        on_invoke(c, k, h, f, k->proc->fn->id);
        break;
    case IPC_BYE:
        on_bye(c, k, f);
        break;
    default:
        fail_conn(c, k, "unexpected frame on a function connection");
        break;
    }
}

/* ---- input ---- */

enum { RD_DONE, RD_MORE, RD_STOP };

/* One recv toward `want` bytes of buf (*got already there). RD_DONE: all
 * there; RD_MORE: read again (partial, EINTR); RD_STOP: nothing more now
 * (would block) or the connection ended (closed here). */
static int read_some(core *c, core_conn *k, uint8_t *buf, size_t want, size_t *got)
{
    ssize_t r = recv(k->fd, buf + *got, want - *got, 0);
    if (r == 0) {
        conn_close(c, k);
        return RD_STOP;
    }
    if (r < 0) {
        if (errno == EINTR)
            return RD_MORE;
        if (errno != EAGAIN && errno != EWOULDBLOCK)
            conn_close(c, k);
        return RD_STOP;
    }
    *got += (size_t)r;
    return *got < want ? RD_MORE : RD_DONE;
}

static void on_readable(core *c, core_conn *k)
{
    for (int frames = 0; frames < CORE_FRAMES_PER_WAKE && k->fd >= 0 && !k->closing;) {
        if (k->hdr_got < IPC_HDR_SIZE) {
            int st = read_some(c, k, k->hdr, IPC_HDR_SIZE, &k->hdr_got);
            if (st == RD_STOP)
                return;
            if (st == RD_MORE)
                continue;
            ipc_hdr_get(k->hdr, &k->h);
            const char *why = NULL;
            if (ipc_hdr_check(&k->h, &why) != 0) {
                char m[200];
                snprintf(m, sizeof m, "protocol error: %s", why ? why : "bad header");
                fail_conn(c, k, m);
                return;
            }
            k->body_got = 0;
            if (k->h.len && !(k->body = malloc(k->h.len))) {
                fail_conn(c, k, "out of memory");
                return;
            }
        }
        if (k->body_got < k->h.len) {
            int st = read_some(c, k, (uint8_t *)k->body, k->h.len, &k->body_got);
            if (st == RD_STOP)
                return;
            if (st == RD_MORE)
                continue;
        }
        ipc_field f[IPC_MAX_FIELDS];
        ipc_hdr h = k->h;
        uint8_t *body = k->body;
        k->body = NULL;
        k->hdr_got = 0;
        frames++;
        if (ipc_fields(&h, body, f) != 0) {
            free(body);
            fail_conn(c, k, "protocol error: fields overrun or underfill the body");
            return;
        }
        dispatch(c, k, &h, f);
        free(body);
    }
}

void conn_event(core *c, core_conn *k, uint32_t events)
{
    if (k->fd < 0)
        return;
    if (events & EPOLLOUT)
        flush_out(c, k);
    if (k->fd >= 0 && (events & (EPOLLIN | EPOLLHUP | EPOLLERR)))
        on_readable(c, k);
}

/* ---- cloud delivery ---- */

void conn_drain_cloud(core *c)
{
    if (!c->rt->cloud.n)
        return;
    int any = 0;
    for (core_conn *k = c->conns; k && !any; k = k->next)
        any = k->kind == CONN_SUB && k->fd >= 0;
    if (!any)
        return; /* kept (bounded) until someone listens */
    rt_item *it;
    while ((it = rt_queue_pop(&c->rt->cloud))) {
        int heard = 0;
        for (core_conn *k = c->conns; k; k = k->next) {
            if (k->kind != CONN_SUB || k->fd < 0 || k->closing)
                continue;
            if (!ipc_topic_match(k->filter, strlen(k->filter), it->msg->topic, it->msg->topic_len))
                continue;
            ipc_field f[4] = {{(const uint8_t *)it->msg->topic, it->msg->topic_len},
                              {(const uint8_t *)it->subject, it->subject_len},
                              ipc_str(it->msg->source),
                              {it->msg->payload, (uint32_t)it->msg->len}};
            if (conn_send(c, k, IPC_MSG, 0, ++k->sub_seq, f, 4) == 0)
                heard = 1;
        }
        if (!heard)
            c->rt->st.cloud_dropped++;
        rt_item_free(it);
    }
}
