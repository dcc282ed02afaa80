/* The core tests' general-purpose function (links libedgeml-sdk only).
 *
 * Environment (the group's Environment.Variables):
 *   FN_OUT            topic of the results (default res/<function id>)
 *   FN_STATE          a directory: each start appends to FN_STATE/<id>.starts
 *   FN_START_CRASHES  N: the first N starts exit with status 3 before
 *                     connecting (counted in FN_STATE/<id>.starts)
 *   FN_START_EXIT     the status those starts exit with (default 3; 0: a
 *                     pinned function that quits on its own)
 *   FN_GATE           a path: each handler first publishes phase "enter",
 *                     then waits until the path exists (at most 300 s)
 *   FN_SLEEP_MS       each handler sleeps that long
 *   FN_RECORD_DONE    set: each handled message appends "done PID MS PAYLOAD"
 *                     to FN_STATE/<id>.dones (a count that does not depend
 *                     on the messages published to cloud)
 * Payload commands (else the payload is echoed):
 *   crash             exit with status 3 inside the handler
 *   hang              never return (the core's Timeout must kill it)
 *   sleep:MS          sleep MS, then answer
 *   pub:TOPIC         rc = edgeml_publish(TOPIC, "x")
 *   invoke:FID:DATA   rc = request-response edgeml_invoke(FID, DATA); detail = result
 *   event:FID:DATA    rc = event edgeml_invoke(FID, DATA)
 *   res:ID            rc/detail = edgeml_resource_path(ID)
 *   token             detail = EDGEML_TOKEN (for the raw-peer tests)
 * Each handled message is answered by one JSON object published on FN_OUT
 * (and given as the reply of a request-response invoke):
 *   {"fnres":1,"fn":ID,"pid":P,"n":K,"phase":"done","topic":..,"subject":..,
 *    "source":..,"payload":..,"invoke":0|1,"reply":0|1,"rc":R,"detail":..,
 *    "t0":MS,"t1":MS}   (t0/t1: CLOCK_MONOTONIC ms at handler entry/exit) */
#include "fn_common.h"

#include <sys/stat.h>

#include "edgeml/sdk.h"

static const char *g_id = "?";
static char g_out[512];
static const char *g_gate;
static long g_sleep_ms;
static long g_count;

static void emit(const edgeml_message *m, const char *phase, int rc, const char *detail,
                 double t0, double t1)
{
    static char buf[16384];
    size_t n = 0, cap = sizeof buf;
    n += (size_t)snprintf(buf + n, cap - n, "{\"fnres\":1,\"fn\":\"");
    n = fn_json_esc(buf, n, cap, g_id, strlen(g_id));
    n += (size_t)snprintf(buf + n, cap - n, "\",\"pid\":%ld,\"n\":%ld,\"phase\":\"%s\",\"topic\":\"",
                          (long)getpid(), g_count, phase);
    n = fn_json_esc(buf, n, cap, m->topic, strlen(m->topic));
    n += (size_t)snprintf(buf + n, cap - n, "\",\"subject\":\"");
    n = fn_json_esc(buf, n, cap, m->subject, strlen(m->subject));
    n += (size_t)snprintf(buf + n, cap - n, "\",\"source\":\"");
    n = fn_json_esc(buf, n, cap, m->source, strlen(m->source));
    n += (size_t)snprintf(buf + n, cap - n, "\",\"payload\":\"");
    n = fn_json_esc(buf, n, cap, m->payload, m->len > 4096 ? 4096 : m->len);
    n += (size_t)snprintf(buf + n, cap - n, "\",\"invoke\":%d,\"reply\":%d,\"rc\":%d,\"detail\":\"",
                          m->is_invoke, m->wants_reply, rc);
    n = fn_json_esc(buf, n, cap, detail ? detail : "", detail ? strlen(detail) : 0);
    if (n + 80 >= cap)
        n = cap - 80;
    n += (size_t)snprintf(buf + n, cap - n, "\",\"t0\":%.3f,\"t1\":%.3f}", t0, t1);
    int prc = edgeml_publish(g_out, buf, n);
    if (prc)
        fprintf(stderr, "fn_test %s: publish %s: %s (%s)\n", g_id, g_out, edgeml_sdk_strerror(prc),
                edgeml_sdk_last_error());
    if (m->wants_reply && strcmp(phase, "done") == 0) {
        int rrc = edgeml_reply(buf, n);
        if (rrc)
            fprintf(stderr, "fn_test %s: reply: %s\n", g_id, edgeml_sdk_strerror(rrc));
    }
}

/* "PREFIX:rest" -> rest, else NULL. p is the payload (not NUL-terminated). */
static const char *cmd_arg(const char *p, const char *prefix)
{
    size_t n = strlen(prefix);
    return strncmp(p, prefix, n) == 0 ? p + n : NULL;
}

static int handler(const edgeml_message *m)
{
    double t0 = fn_now_ms();
    g_count++;
    char cmd[4096];
    size_t cl = m->len < sizeof cmd - 1 ? m->len : sizeof cmd - 1;
    memcpy(cmd, m->payload, cl);
    cmd[cl] = 0;

    if (g_gate) {
        emit(m, "enter", 0, "", t0, t0);
        struct stat sb;
        for (int i = 0; i < 300 * 100 && stat(g_gate, &sb) < 0; i++)
            fn_sleep_ms(10);
    }
    if (g_sleep_ms > 0)
        fn_sleep_ms(g_sleep_ms);

    int rc = 0;
    char detail[8192] = "";
    const char *a;
    if (strcmp(cmd, "crash") == 0) {
        fprintf(stderr, "fn_test %s: crashing on request (exit 3)\n", g_id);
        fflush(stderr);
        _exit(3);
    } else if (strcmp(cmd, "hang") == 0) {
        fprintf(stderr, "fn_test %s: hanging on request\n", g_id);
        fflush(stderr);
        for (;;)
            fn_sleep_ms(1000);
    } else if ((a = cmd_arg(cmd, "sleep:"))) {
        fn_sleep_ms(atol(a));
    } else if ((a = cmd_arg(cmd, "pub:"))) {
        rc = edgeml_publish(a, "x", 1);
        snprintf(detail, sizeof detail, "%s", rc ? edgeml_sdk_last_error() : "");
    } else if ((a = cmd_arg(cmd, "invoke:")) || (a = cmd_arg(cmd, "event:"))) {
        int event = cmd[0] == 'e';
        char fid[256];
        const char *colon = strchr(a, ':');
        size_t fl = colon ? (size_t)(colon - a) : strlen(a);
        if (fl >= sizeof fid)
            fl = sizeof fid - 1;
        memcpy(fid, a, fl);
        fid[fl] = 0;
        const char *data = colon ? colon + 1 : "";
        void *res = NULL;
        size_t rl = 0;
        rc = edgeml_invoke(fid, data, strlen(data),
                           event ? EDGEML_INVOKE_EVENT : EDGEML_INVOKE_REQUEST_RESPONSE, 20000,
                           &res, &rl);
        if (rc)
            snprintf(detail, sizeof detail, "%s", edgeml_sdk_last_error());
        else if (res)
            snprintf(detail, sizeof detail, "%.*s", (int)(rl < 8000 ? rl : 8000), (char *)res);
        free(res);
    } else if ((a = cmd_arg(cmd, "res:"))) {
        const char *p = edgeml_resource_path(a);
        rc = p ? 0 : -1;
        snprintf(detail, sizeof detail, "%s", p ? p : edgeml_sdk_last_error());
    } else if (strcmp(cmd, "token") == 0) {
        const char *t = getenv("EDGEML_TOKEN");
        snprintf(detail, sizeof detail, "%s", t ? t : "");
    }
    emit(m, "done", rc, detail, t0, fn_now_ms());
    if (getenv("FN_RECORD_DONE"))
        fn_record(g_id, "done", cmd);
    return 0;
}

int main(void)
{
    const char *id = getenv("EDGEML_FUNCTION_ID");
    if (id && *id)
        g_id = id;
    long starts = fn_record_start(g_id);
    const char *crashes = getenv("FN_START_CRASHES");
    if (crashes && starts > 0 && starts <= atol(crashes)) {
        const char *ex = getenv("FN_START_EXIT");
        int code = ex ? atoi(ex) : 3;
        fprintf(stderr, "fn_test %s: start %ld: exiting at start (status %d)\n", g_id, starts,
                code);
        return code;
    }
    const char *out = getenv("FN_OUT");
    snprintf(g_out, sizeof g_out, "%s%s", out && *out ? "" : "res/", out && *out ? out : g_id);
    g_gate = getenv("FN_GATE");
    if (g_gate && !*g_gate)
        g_gate = NULL;
    const char *sl = getenv("FN_SLEEP_MS");
    g_sleep_ms = sl ? atol(sl) : 0;

    int rc = edgeml_runtime_start(handler, EDGEML_RUNTIME_DEFAULT);
    if (rc) {
        fprintf(stderr, "fn_test %s: edgeml_runtime_start: %s (%s)\n", g_id,
                edgeml_sdk_strerror(rc), edgeml_sdk_last_error());
        return 2;
    }
    fprintf(stderr, "fn_test %s: stopped after %ld messages\n", g_id, g_count);
    return 0;
}
