/* A function linking libedgeml-sdk, driven by its messages' payloads, for
 * test_sdk (the peer server). Commands (payload text):
 *   echo              reply with the payload (request-response)
 *   seq N             nothing (order is checked from the DONEs)
 *   sleep MS          sleep, then return 0
 *   fail              return 7
 *   pub TOPIC         edgeml_publish(TOPIC, "p"), return its status
 *   invoke F MS DATA  request-response invoke; reply "<status> <result>"
 *   event F DATA      event invoke; return its status
 *   res ID            reply with the resource path, or "<status>"
 *   threads T N       T threads each publish N messages on allowed/t
 *   id                reply with edgeml_function_id()
 * Exit status: 0 when edgeml_runtime_start returned 0, else 10 - status. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "edgeml/sdk.h"

static int reply_str(const char *s)
{
    return edgeml_reply(s, strlen(s));
}

static void *pub_thread(void *arg)
{
    int n = *(int *)arg;
    for (int i = 0; i < n; i++) {
        char p[32];
        snprintf(p, sizeof p, "m%d", i);
        if (edgeml_publish("allowed/t", p, strlen(p)) != 0)
            return (void *)1;
    }
    return NULL;
}

static int handler(const edgeml_message *m)
{
    char cmd[256], a[128] = "", b[128] = "";
    size_t n = m->len < sizeof cmd - 1 ? m->len : sizeof cmd - 1;
    memcpy(cmd, m->payload, n);
    cmd[n] = 0;
    int x = 0;
    if (strcmp(cmd, "echo") == 0)
        return m->wants_reply ? edgeml_reply(m->payload, m->len) : 0;
    if (strncmp(cmd, "seq ", 4) == 0)
        return 0;
    if (sscanf(cmd, "sleep %d", &x) == 1) {
        struct timespec ts = {x / 1000, (long)(x % 1000) * 1000000L};
        while (nanosleep(&ts, &ts) != 0)
            ;
        return 0;
    }
    if (strcmp(cmd, "fail") == 0)
        return 7;
    if (sscanf(cmd, "pub %127s", a) == 1)
        return edgeml_publish(a, "p", 1);
    if (sscanf(cmd, "invoke %127s %d %127s", a, &x, b) == 3) {
        void *res = NULL;
        size_t rn = 0;
        int st = edgeml_invoke(a, b, strlen(b), EDGEML_INVOKE_REQUEST_RESPONSE, x, &res, &rn);
        char out[300];
        snprintf(out, sizeof out, "%d %.*s", st, (int)rn, res ? (char *)res : "");
        free(res);
        return reply_str(out);
    }
    if (sscanf(cmd, "event %127s %127s", a, b) == 2)
        return edgeml_invoke(a, b, strlen(b), EDGEML_INVOKE_EVENT, 0, NULL, NULL);
    if (sscanf(cmd, "res %127s", a) == 1) {
        const char *p = edgeml_resource_path(a);
        char out[64];
        snprintf(out, sizeof out, "%d", EDGEML_SDK_E_NORES);
        return reply_str(p ? p : out);
    }
    int cnt = 0;
    if (sscanf(cmd, "threads %d %d", &x, &cnt) == 2 && x > 0 && x <= 16) {
        pthread_t t[16];
        int bad = 0;
        for (int i = 0; i < x; i++)
            pthread_create(&t[i], NULL, pub_thread, &cnt);
        for (int i = 0; i < x; i++) {
            void *r;
            pthread_join(t[i], &r);
            bad |= r != NULL;
        }
        return bad;
    }
    if (strcmp(cmd, "id") == 0)
        return reply_str(edgeml_function_id() ? edgeml_function_id() : "(null)");
    return 99;
}

int main(void)
{
    int st = edgeml_runtime_start(handler, 0);
    return st == 0 ? 0 : 10 - st;
}
