/* edgeml_runtime_start: the handler loop. MSGs are handled one at a time in
 * arrival order; DONE follows each; a stop (SIGTERM/SIGINT or
 * edgeml_runtime_stop) ends the loop after the current handler with BYE. */
#include "sdk_int.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

volatile sig_atomic_t sdk_stop_flag;

/* The message being handled (runtime thread only), for edgeml_reply. */
static int cur_active, cur_wants_reply;
static void *cur_reply;
static size_t cur_reply_len;

EDGEML_SDK_API void edgeml_runtime_stop(void)
{
    int e = errno;
    sdk_stop_flag = 1;
    if (sdk_g.sigpipe[1] >= 0) {
        ssize_t r = write(sdk_g.sigpipe[1], "x", 1);
        (void)r;
    }
    errno = e;
}

static void on_signal(int sig)
{
    (void)sig;
    edgeml_runtime_stop();
}

EDGEML_SDK_API int edgeml_reply(const void *payload, size_t len)
{
    if (!cur_active || !cur_wants_reply)
        return sdk_fail(EDGEML_SDK_E_ARG,
                        "edgeml_reply: not in the handler of a request-response message");
    if (len && !payload)
        return sdk_fail(EDGEML_SDK_E_ARG, "edgeml_reply: payload is NULL");
    if (len > IPC_MAX_BODY - 64)
        return sdk_fail(EDGEML_SDK_E_TOOBIG, "edgeml_reply: %zu-byte result over the limit", len);
    void *c = malloc(len ? len : 1);
    if (!c)
        return sdk_fail(EDGEML_SDK_E_NOMEM, "edgeml_reply: out of memory");
    if (len)
        memcpy(c, payload, len);
    free(cur_reply);
    cur_reply = c;
    cur_reply_len = len;
    return EDGEML_SDK_OK;
}

static int queue_nonempty(void *arg)
{
    (void)arg;
    return sdk_g.qhead != NULL;
}

/* Runs the handler on one MSG and answers DONE. 0 or a fatal status. */
static int handle(edgeml_handler handler, sdk_frame *fr)
{
    char status[160] = "";
    ipc_field *f = fr->f;
    /* Text fields are followed by the next field's length prefix, already
     * decoded, so they can be NUL-terminated in place; the payload is last
     * and ipc_recv NUL-terminates the body. */
    int bad = 0;
    for (int i = 0; i < 3; i++)
        if (f[i].n && memchr(f[i].p, '\0', f[i].n))
            bad = 1;
    if (bad) {
        snprintf(status, sizeof status, "malformed message: NUL byte in topic, subject or source");
    } else {
        for (int i = 0; i < 3; i++)
            ((uint8_t *)f[i].p)[f[i].n] = 0;
        edgeml_message m = {
            .topic = (const char *)f[0].p,
            .subject = (const char *)f[1].p,
            .source = (const char *)f[2].p,
            .payload = f[3].p,
            .len = f[3].n,
            .is_invoke = (fr->h.flags & IPC_F_INVOKE) != 0,
            .wants_reply = (fr->h.flags & IPC_F_REPLY) != 0,
        };
        cur_active = 1;
        cur_wants_reply = m.wants_reply;
        int r = handler(&m);
        cur_active = 0;
        if (r != 0)
            snprintf(status, sizeof status, "handler returned %d", r);
    }
    ipc_field out[2] = {ipc_str(status), {cur_reply, (uint32_t)cur_reply_len}};
    if (status[0] || !(fr->h.flags & IPC_F_REPLY))
        out[1].n = 0;
    int st = sdk_send(IPC_DONE, 0, fr->h.id, out, 2);
    free(cur_reply);
    cur_reply = NULL;
    cur_reply_len = 0;
    return st;
}

static int run_loop(edgeml_handler handler, uint64_t *last_done)
{
    for (;;) {
        pthread_mutex_lock(&sdk_g.lock);
        int st = sdk_stop_flag ? 1 : sdk_wait_locked(queue_nonempty, NULL, -1, 1);
        sdk_frame *fr = NULL;
        if (st == 0) {
            fr = sdk_g.qhead;
            sdk_g.qhead = fr->next;
            if (!sdk_g.qhead)
                sdk_g.qtail = NULL;
            sdk_g.qlen--;
        }
        pthread_mutex_unlock(&sdk_g.lock);
        if (st != 0)
            return st; /* 1: stop asked; < 0: fatal */
        st = handle(handler, fr);
        if (st == EDGEML_SDK_OK)
            *last_done = fr->h.id;
        sdk_frame_free(fr);
        if (st != EDGEML_SDK_OK)
            return st;
    }
}

EDGEML_SDK_API int edgeml_runtime_start(edgeml_handler handler, unsigned flags)
{
    if (!handler)
        return sdk_fail(EDGEML_SDK_E_ARG, "edgeml_runtime_start: handler is NULL");
    pthread_mutex_lock(&sdk_g.lock);
    int st = sdk_ensure_connected_locked();
    if (st == EDGEML_SDK_OK && sdk_g.sigpipe[0] < 0 && pipe2(sdk_g.sigpipe, O_CLOEXEC | O_NONBLOCK) < 0)
        sdk_g.sigpipe[0] = sdk_g.sigpipe[1] = -1; /* the loop still polls the flag */
    pthread_mutex_unlock(&sdk_g.lock);
    if (st != EDGEML_SDK_OK) {
        fprintf(stderr, "edgeml-sdk: %s\n", edgeml_sdk_last_error());
        return st;
    }

    struct sigaction sa, old_term, old_int;
    int sig = !(flags & EDGEML_RUNTIME_NO_SIGNALS);
    if (sig) {
        memset(&sa, 0, sizeof sa);
        sa.sa_handler = on_signal;
        sigemptyset(&sa.sa_mask);
        sa.sa_flags = SA_RESTART;
        sigaction(SIGTERM, &sa, &old_term);
        sigaction(SIGINT, &sa, &old_int);
    }

    uint64_t last_done = 0;
    st = run_loop(handler, &last_done);
    if (st == 1) {
        char num[24];
        snprintf(num, sizeof num, "%" PRIu64, last_done);
        ipc_field f = ipc_str(num);
        st = sdk_send(IPC_BYE, 0, last_done, &f, 1);
        pthread_mutex_lock(&sdk_g.lock);
        if (st == EDGEML_SDK_OK)
            sdk_kill_locked(EDGEML_SDK_E_IO, "the runtime stopped (BYE sent)");
        pthread_mutex_unlock(&sdk_g.lock);
    }
    if (sig) {
        sigaction(SIGTERM, &old_term, NULL);
        sigaction(SIGINT, &old_int, NULL);
    }
    if (st < 0) {
        fprintf(stderr, "edgeml-sdk: %s\n", edgeml_sdk_last_error());
        return st;
    }
    return EDGEML_SDK_OK;
}
