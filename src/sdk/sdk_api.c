/* edgeml_publish and edgeml_invoke: local checks, then frames to the core. */
#include "sdk_int.h"

#include <stdlib.h>
#include <string.h>

#include "topic.h"

#define SDK_FUNCTION_ID_MAX 1024

/* 1 if one of the '\n'-separated filters matches topic (lock held). */
static int acl_allows_locked(const char *topic, size_t tn)
{
    const char *s = sdk_g.filters;
    while (s && *s) {
        const char *e = strchr(s, '\n');
        size_t n = e ? (size_t)(e - s) : strlen(s);
        if (n && ipc_topic_match(s, n, topic, tn))
            return 1;
        s = e ? e + 1 : s + n;
    }
    return 0;
}

static uint64_t next_id_locked(void)
{
    return sdk_g.next_id++;
}

EDGEML_SDK_API int edgeml_publish(const char *topic, const void *payload, size_t len)
{
    const char *why = NULL;
    if (!topic || (len && !payload))
        return sdk_fail(EDGEML_SDK_E_ARG, "edgeml_publish: topic is NULL or payload is NULL");
    size_t tn = strnlen(topic, IPC_TOPIC_MAX + 1);
    if (!ipc_topic_valid(topic, tn, &why))
        return sdk_fail(EDGEML_SDK_E_TOPIC, "edgeml_publish: %s", why);
    if (len > IPC_MAX_BODY || tn + len + 8 > IPC_MAX_BODY)
        return sdk_fail(EDGEML_SDK_E_TOOBIG, "edgeml_publish: %zu-byte payload over the %u-byte limit",
                        len, IPC_MAX_BODY);
    pthread_mutex_lock(&sdk_g.lock);
    int st = sdk_ensure_connected_locked();
    uint64_t id = 0;
    if (st == EDGEML_SDK_OK && !acl_allows_locked(topic, tn))
        st = sdk_fail(EDGEML_SDK_E_DENIED,
                      "edgeml_publish: no subscription from function '%s' matches topic '%.200s'",
                      sdk_g.function_id ? sdk_g.function_id : "?", topic);
    if (st == EDGEML_SDK_OK)
        id = next_id_locked();
    pthread_mutex_unlock(&sdk_g.lock);
    if (st != EDGEML_SDK_OK)
        return st;
    ipc_field f[2] = {{(const uint8_t *)topic, (uint32_t)tn}, {payload, (uint32_t)len}};
    return sdk_send(IPC_PUBLISH, 0, id, f, 2);
}

static int pending_done(void *arg)
{
    return ((sdk_pending *)arg)->done;
}

static void unlink_pending_locked(sdk_pending *p)
{
    for (sdk_pending **pp = &sdk_g.pending; *pp; pp = &(*pp)->next)
        if (*pp == p) {
            *pp = p->next;
            return;
        }
}

/* Maps a RESULT/NACK status line to a status (see proto.h). */
static int map_status(ipc_field s)
{
    static const struct {
        const char *prefix;
        int st;
    } m[] = {
        {"no such function", EDGEML_SDK_E_NOFUNC}, {"timeout", EDGEML_SDK_E_TIMEOUT},
        {"queue full", EDGEML_SDK_E_FULL},         {"failed", EDGEML_SDK_E_FAILED},
        {"denied", EDGEML_SDK_E_DENIED},           {"not allowed", EDGEML_SDK_E_DENIED},
    };
    for (size_t i = 0; i < sizeof m / sizeof m[0]; i++) {
        size_t n = strlen(m[i].prefix);
        if (s.n >= n && memcmp(s.p, m[i].prefix, n) == 0)
            return m[i].st;
    }
    return EDGEML_SDK_E_FAILED;
}

EDGEML_SDK_API int edgeml_invoke(const char *function_id, const void *payload, size_t len,
                                 edgeml_invoke_type type, int timeout_ms, void **result,
                                 size_t *result_len)
{
    if (result)
        *result = NULL;
    if (result_len)
        *result_len = 0;
    if (!function_id || !*function_id || (len && !payload))
        return sdk_fail(EDGEML_SDK_E_ARG, "edgeml_invoke: function id empty or payload NULL");
    if (type != EDGEML_INVOKE_REQUEST_RESPONSE && type != EDGEML_INVOKE_EVENT)
        return sdk_fail(EDGEML_SDK_E_ARG, "edgeml_invoke: unknown invocation type %d", (int)type);
    size_t fn = strnlen(function_id, SDK_FUNCTION_ID_MAX + 1);
    if (fn > SDK_FUNCTION_ID_MAX)
        return sdk_fail(EDGEML_SDK_E_ARG, "edgeml_invoke: function id longer than %d bytes",
                        SDK_FUNCTION_ID_MAX);
    if (len > IPC_MAX_BODY || fn + len + 8 > IPC_MAX_BODY)
        return sdk_fail(EDGEML_SDK_E_TOOBIG, "edgeml_invoke: %zu-byte payload over the %u-byte limit",
                        len, IPC_MAX_BODY);
    int rr = type == EDGEML_INVOKE_REQUEST_RESPONSE;
    int64_t deadline = rr && timeout_ms > 0 ? sdk_now_ms() + timeout_ms : -1;
    sdk_pending p = {0};

    pthread_mutex_lock(&sdk_g.lock);
    int st = sdk_ensure_connected_locked();
    if (st == EDGEML_SDK_OK) {
        p.id = next_id_locked();
        if (rr) { /* registered before sending: the RESULT may come at once */
            p.next = sdk_g.pending;
            sdk_g.pending = &p;
        }
    }
    pthread_mutex_unlock(&sdk_g.lock);
    if (st != EDGEML_SDK_OK)
        return st;

    ipc_field f[2] = {{(const uint8_t *)function_id, (uint32_t)fn}, {payload, (uint32_t)len}};
    st = sdk_send(IPC_INVOKE, rr ? IPC_F_REPLY : 0, p.id, f, 2);
    if (!rr)
        return st;

    pthread_mutex_lock(&sdk_g.lock);
    if (st == EDGEML_SDK_OK)
        st = sdk_wait_locked(pending_done, &p, deadline, 0);
    unlink_pending_locked(&p);
    pthread_mutex_unlock(&sdk_g.lock);
    if (st == EDGEML_SDK_E_TIMEOUT)
        st = sdk_fail(EDGEML_SDK_E_TIMEOUT, "edgeml_invoke: no result from '%.200s' in %d ms",
                      function_id, timeout_ms);
    if (st != EDGEML_SDK_OK) {
        sdk_frame_free(p.fr);
        return st;
    }

    sdk_frame *fr = p.fr;
    ipc_field status = fr->f[0];
    if (fr->h.type == IPC_NACK || status.n > 0) {
        st = map_status(status);
        sdk_fail(st, "edgeml_invoke '%.200s': %.*s", function_id,
                 (int)(status.n > 300 ? 300 : status.n), (const char *)status.p);
        sdk_frame_free(fr);
        return st;
    }
    ipc_field out = fr->f[1];
    if (result) {
        /* The payload is the last field, so the body already ends with a
         * NUL after it; hand over a copy the caller can free(). */
        void *r = malloc((size_t)out.n + 1);
        if (!r) {
            sdk_frame_free(fr);
            return sdk_fail(EDGEML_SDK_E_NOMEM, "edgeml_invoke: out of memory for the result");
        }
        memcpy(r, out.p, out.n);
        ((char *)r)[out.n] = 0;
        *result = r;
    }
    if (result_len)
        *result_len = out.n;
    sdk_frame_free(fr);
    return EDGEML_SDK_OK;
}
