/* The SDK's connection to the core: handshake, the frame reader shared by the
 * runtime loop and request-response invokes, and serialised writes. */
#include "sdk_int.h"

#include <errno.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

sdk_state sdk_g = {
    .lock = PTHREAD_MUTEX_INITIALIZER,
    .wlock = PTHREAD_MUTEX_INITIALIZER,
    .cond = PTHREAD_COND_INITIALIZER,
    .fd = -1,
    .next_id = 1,
    .sigpipe = {-1, -1},
};

static _Thread_local char sdk_err[512];

int sdk_fail(int status, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(sdk_err, sizeof sdk_err, fmt, ap);
    va_end(ap);
    return status;
}

EDGEML_SDK_API const char *edgeml_sdk_last_error(void)
{
    return sdk_err;
}

EDGEML_SDK_API const char *edgeml_sdk_strerror(int status)
{
    switch (status) {
    case EDGEML_SDK_OK: return "ok";
    case EDGEML_SDK_E_ARG: return "bad argument";
    case EDGEML_SDK_E_NOCORE: return "not connected to an edgeml core";
    case EDGEML_SDK_E_DENIED: return "no subscription allows this publish";
    case EDGEML_SDK_E_TOPIC: return "invalid topic";
    case EDGEML_SDK_E_TOOBIG: return "payload too large";
    case EDGEML_SDK_E_NOFUNC: return "no such function";
    case EDGEML_SDK_E_TIMEOUT: return "timed out";
    case EDGEML_SDK_E_FULL: return "target queue full";
    case EDGEML_SDK_E_FAILED: return "target failed";
    case EDGEML_SDK_E_IO: return "connection to the core failed";
    case EDGEML_SDK_E_NOMEM: return "out of memory";
    case EDGEML_SDK_E_NORES: return "no such resource";
    case EDGEML_SDK_E_PROTO: return "protocol error";
    default: return "unknown status";
    }
}

int64_t sdk_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void sdk_frame_free(sdk_frame *fr)
{
    if (fr) {
        free(fr->body);
        free(fr);
    }
}

void sdk_kill_locked(int status, const char *fmt, ...)
{
    if (sdk_g.dead)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(sdk_g.dead_msg, sizeof sdk_g.dead_msg, fmt, ap);
    va_end(ap);
    sdk_g.dead = 1;
    sdk_g.dead_status = status;
    if (sdk_g.fd >= 0)
        shutdown(sdk_g.fd, SHUT_RDWR); /* wakes a reader; the fd stays valid */
    pthread_cond_broadcast(&sdk_g.cond);
}

static int dead_fail(void)
{
    return sdk_fail(sdk_g.dead_status, "%s", sdk_g.dead_msg);
}

/* Replaces the publish filters with a field's text. */
static int set_filters_locked(ipc_field f)
{
    char *s = ipc_field_dup(f);
    if (!s)
        return -1;
    free(sdk_g.filters);
    sdk_g.filters = s;
    return 0;
}

int sdk_ensure_connected_locked(void)
{
    if (sdk_g.dead)
        return dead_fail();
    if (sdk_g.fd >= 0)
        return EDGEML_SDK_OK;
    const char *path = getenv(IPC_ENV_SOCKET), *token = getenv(IPC_ENV_TOKEN);
    if (!path || !*path || !token || !*token)
        return sdk_fail(EDGEML_SDK_E_NOCORE, "%s and %s are not set: not started by an edgeml core",
                        IPC_ENV_SOCKET, IPC_ENV_TOKEN);
    int fd = ipc_connect(path);
    if (fd < 0)
        return sdk_fail(EDGEML_SDK_E_NOCORE, "cannot connect to the core at %s: %s", path,
                        strerror(errno));
    ipc_field hello[2] = {ipc_str(token), ipc_str(IPC_SDK_VERSION)};
    ipc_hdr h;
    uint8_t *body = NULL;
    ipc_field f[IPC_MAX_FIELDS];
    if (ipc_send(fd, IPC_HELLO, 0, 0, hello, 2) < 0) {
        int e = errno;
        close(fd);
        return sdk_fail(EDGEML_SDK_E_NOCORE, "cannot send HELLO to the core at %s: %s", path,
                        strerror(e));
    }
    if (ipc_recv(fd, SDK_CONNECT_TIMEOUT_MS, &h, &body, f) < 0) {
        int e = errno;
        close(fd);
        return sdk_fail(e == EPROTO ? EDGEML_SDK_E_PROTO : EDGEML_SDK_E_NOCORE,
                        "no WELCOME from the core at %s: %s", path, strerror(e));
    }
    int st = EDGEML_SDK_OK;
    if (h.type == IPC_ERROR) {
        char *t = ipc_field_dup(f[0]);
        st = sdk_fail(EDGEML_SDK_E_NOCORE, "the core at %s refused this process: %.200s", path,
                      t ? t : "(unreadable reason)");
        free(t);
    } else if (h.type != IPC_WELCOME) {
        st = sdk_fail(EDGEML_SDK_E_PROTO, "the core at %s answered HELLO with %s, not WELCOME",
                      path, ipc_type_name(h.type));
    } else {
        char *id = ipc_field_dup(f[0]);
        if (!id || set_filters_locked(f[1]) < 0) {
            free(id);
            st = sdk_fail(EDGEML_SDK_E_PROTO, "malformed WELCOME from the core at %s", path);
        } else {
            free(sdk_g.function_id);
            sdk_g.function_id = id;
        }
    }
    free(body);
    if (st != EDGEML_SDK_OK) {
        close(fd);
        return st;
    }
    sdk_g.fd = fd;
    return EDGEML_SDK_OK;
}

int sdk_send(uint8_t type, uint8_t flags, uint64_t id, const ipc_field *f, unsigned nf)
{
    pthread_mutex_lock(&sdk_g.wlock);
    int fd = sdk_g.fd, r = fd >= 0 ? ipc_send(fd, type, flags, id, f, nf) : -1;
    int e = fd >= 0 ? errno : ENOTCONN;
    pthread_mutex_unlock(&sdk_g.wlock);
    if (r == 0)
        return EDGEML_SDK_OK;
    if (e == EMSGSIZE)
        return sdk_fail(EDGEML_SDK_E_TOOBIG, "%s frame larger than the protocol's limit",
                        ipc_type_name(type));
    pthread_mutex_lock(&sdk_g.lock);
    sdk_kill_locked(EDGEML_SDK_E_IO, "writing %s to the core: %s", ipc_type_name(type),
                    strerror(e));
    pthread_mutex_unlock(&sdk_g.lock);
    return sdk_fail(EDGEML_SDK_E_IO, "writing %s to the core: %s", ipc_type_name(type),
                    strerror(e));
}

static sdk_pending *find_pending(uint64_t id)
{
    for (sdk_pending *p = sdk_g.pending; p; p = p->next)
        if (p->id == id && !p->done)
            return p;
    return NULL;
}

/* Handles one frame read from the core (lock held); takes ownership. */
static void dispatch_locked(sdk_frame *fr)
{
    sdk_pending *p;
    switch (fr->h.type) {
    case IPC_MSG:
        if (sdk_g.qlen >= SDK_QUEUE_MAX) {
            sdk_kill_locked(EDGEML_SDK_E_PROTO, "the core sent more than %d MSGs without a DONE",
                            SDK_QUEUE_MAX);
            break;
        }
        fr->next = NULL;
        if (sdk_g.qtail)
            sdk_g.qtail->next = fr;
        else
            sdk_g.qhead = fr;
        sdk_g.qtail = fr;
        sdk_g.qlen++;
        return;
    case IPC_RESULT:
    case IPC_NACK:
        if ((p = find_pending(fr->h.id))) {
            p->fr = fr;
            p->done = 1;
            return;
        }
        if (fr->h.type == IPC_NACK) {
            /* Fire-and-forget publish or event invoke refused: the only
             * line the SDK prints on its own besides fatal errors. */
            const ipc_field t = fr->f[0];
            fprintf(stderr, "edgeml-sdk: the core refused message %llu: %.*s\n",
                    (unsigned long long)fr->h.id, (int)(t.n > 300 ? 300 : t.n), (const char *)t.p);
        }
        break; /* a RESULT nobody waits for any more (timed out): dropped */
    case IPC_ACL:
        if (set_filters_locked(fr->f[0]) < 0)
            sdk_kill_locked(EDGEML_SDK_E_PROTO, "malformed ACL frame from the core");
        break;
    case IPC_ERROR: {
        const ipc_field t = fr->f[0];
        sdk_kill_locked(EDGEML_SDK_E_IO, "the core closed the connection: %.*s",
                        (int)(t.n > 300 ? 300 : t.n), (const char *)t.p);
        break;
    }
    default:
        sdk_kill_locked(EDGEML_SDK_E_PROTO, "unexpected %s frame from the core",
                        ipc_type_name(fr->h.type));
        break;
    }
    sdk_frame_free(fr);
}

/* Reads at most one frame (lock held on entry and exit; released while
 * reading). 0: a frame was handled or the wait ended; the caller rechecks. */
static void read_one_locked(int64_t deadline, int is_loop)
{
    int fd = sdk_g.fd;
    sdk_g.reading = 1;
    pthread_mutex_unlock(&sdk_g.lock);

    struct pollfd pf[2] = {{fd, POLLIN, 0}, {sdk_g.sigpipe[0], POLLIN, 0}};
    nfds_t n = is_loop && sdk_g.sigpipe[0] >= 0 ? 2 : 1;
    int ms = -1;
    if (deadline >= 0) {
        int64_t left = deadline - sdk_now_ms();
        ms = left < 0 ? 0 : left > 0x7fffffff ? 0x7fffffff : (int)left;
    }
    int r = poll(pf, n, ms), err = 0, got = 0;
    sdk_frame *fr = NULL;
    if (r < 0 && errno != EINTR)
        err = errno;
    else if (r > 0 && pf[0].revents) {
        fr = calloc(1, sizeof *fr);
        if (!fr)
            err = ENOMEM;
        else if (ipc_recv(fd, SDK_FRAME_TIMEOUT_MS, &fr->h, &fr->body, fr->f) < 0) {
            err = errno;
            free(fr);
            fr = NULL;
        } else
            got = 1;
    }

    pthread_mutex_lock(&sdk_g.lock);
    sdk_g.reading = 0;
    if (got)
        dispatch_locked(fr);
    else if (err == ECONNRESET || err == EPIPE)
        sdk_kill_locked(EDGEML_SDK_E_IO, "the core closed the connection");
    else if (err == EPROTO)
        sdk_kill_locked(EDGEML_SDK_E_PROTO, "malformed frame from the core");
    else if (err)
        sdk_kill_locked(EDGEML_SDK_E_IO, "reading from the core: %s", strerror(err));
    pthread_cond_broadcast(&sdk_g.cond);
}

int sdk_wait_locked(int (*pred)(void *), void *arg, int64_t deadline, int is_loop)
{
    for (;;) {
        if (pred(arg))
            return 0;
        if (sdk_g.dead)
            return dead_fail();
        if (is_loop && sdk_stop_flag)
            return 1;
        int64_t now = sdk_now_ms();
        if (deadline >= 0 && now >= deadline)
            return sdk_fail(EDGEML_SDK_E_TIMEOUT, "no answer from the core in time");
        if (!sdk_g.reading) {
            read_one_locked(deadline, is_loop);
            continue;
        }
        /* Another thread reads; it broadcasts after each frame. The loop
         * wakes regularly to notice a stop asked from a signal. */
        int64_t until = deadline;
        if (is_loop && (until < 0 || until > now + 100))
            until = now + 100;
        if (until < 0) {
            pthread_cond_wait(&sdk_g.cond, &sdk_g.lock);
        } else {
            struct timespec ts;
            clock_gettime(CLOCK_REALTIME, &ts);
            int64_t add = until - now;
            ts.tv_sec += add / 1000;
            ts.tv_nsec += (add % 1000) * 1000000;
            if (ts.tv_nsec >= 1000000000) {
                ts.tv_sec++;
                ts.tv_nsec -= 1000000000;
            }
            pthread_cond_timedwait(&sdk_g.cond, &sdk_g.lock, &ts);
        }
    }
}
