/* The redeploy test's function (links libedgeml-sdk and libedgeml): loads its
 * model resource "model" (y = x + c, float32 [1]) once at start, and answers
 * each message (payload: a sequence number N as text) by publishing
 *   {"fnres":1,"fn":ID,"pid":P,"seq":N,"y":Y,"c":Y-N,"n":K}
 * on FN_OUT (default res/<id>). Each start is recorded in
 * FN_STATE/<id>.starts (fn_common.h); FN_SLEEP_MS slows each message down
 * (so that messages wait in the queue when the redeploy comes). Exits 2 when
 * the model cannot load. */
#include "fn_common.h"

#include "edgeml/infer.h"
#include "edgeml/sdk.h"

static const char *g_id = "?";
static char g_out[512];
static edgeml_session *g_sess;
static long g_count;
static long g_sleep_ms;

static int handler(const edgeml_message *m)
{
    char num[64];
    size_t l = m->len < sizeof num - 1 ? m->len : sizeof num - 1;
    memcpy(num, m->payload, l);
    num[l] = 0;
    char *end;
    long seq = strtol(num, &end, 10);
    if (end == num || *end) {
        fprintf(stderr, "fn_model %s: payload is not a number: '%s'\n", g_id, num);
        return 1;
    }
    g_count++;
    if (g_sleep_ms > 0)
        fn_sleep_ms(g_sleep_ms);
    float x = (float)seq;
    int64_t dims[1] = {1};
    edgeml_error err;
    edgeml_tensor out;
    if (edgeml_session_set_input(g_sess, "x", EDGEML_FLOAT, 1, dims, &x, sizeof x,
                                 EDGEML_INPUT_COPY, &err) ||
        edgeml_session_run(g_sess, &err) || edgeml_session_output(g_sess, 0, &out, &err)) {
        fprintf(stderr, "fn_model %s: run: %s\n", g_id, err.msg);
        return 1;
    }
    if (out.dtype != EDGEML_FLOAT || out.nbytes != sizeof(float)) {
        fprintf(stderr, "fn_model %s: unexpected output\n", g_id);
        return 1;
    }
    float y;
    memcpy(&y, out.data, sizeof y);
    char buf[512];
    int n = snprintf(buf, sizeof buf,
                     "{\"fnres\":1,\"fn\":\"%s\",\"pid\":%ld,\"seq\":%ld,\"y\":%.3f,\"c\":%.3f,"
                     "\"n\":%ld}",
                     g_id, (long)getpid(), seq, (double)y, (double)(y - x), g_count);
    int rc = edgeml_publish(g_out, buf, (size_t)n);
    if (rc)
        fprintf(stderr, "fn_model %s: publish: %s\n", g_id, edgeml_sdk_last_error());
    return rc ? 1 : 0;
}

int main(void)
{
    const char *id = getenv("EDGEML_FUNCTION_ID");
    if (id && *id)
        g_id = id;
    fn_record_start(g_id);
    const char *o = getenv("FN_OUT");
    snprintf(g_out, sizeof g_out, "%s%s", o && *o ? "" : "res/", o && *o ? o : g_id);

    const char *sl = getenv("FN_SLEEP_MS");
    g_sleep_ms = sl ? atol(sl) : 0;

    const char *dir = edgeml_resource_path("model");
    if (!dir) {
        fprintf(stderr, "fn_model %s: no resource 'model': %s\n", g_id, edgeml_sdk_last_error());
        return 2;
    }
    edgeml_model *model = NULL;
    edgeml_error err;
    if (edgeml_model_load(dir, NULL, &model, &err) ||
        edgeml_session_create(model, NULL, &g_sess, &err)) {
        fprintf(stderr, "fn_model %s: %s: %s\n", g_id, dir, err.msg);
        edgeml_model_free(model);
        return 2;
    }
    fprintf(stderr, "fn_model %s: loaded %s\n", g_id, dir);
    int rc = edgeml_runtime_start(handler, EDGEML_RUNTIME_DEFAULT);
    if (rc)
        fprintf(stderr, "fn_model %s: edgeml_runtime_start: %s (%s)\n", g_id,
                edgeml_sdk_strerror(rc), edgeml_sdk_last_error());
    else
        fprintf(stderr, "fn_model %s: stopped after %ld messages\n", g_id, g_count);
    edgeml_session_free(g_sess);
    edgeml_model_free(model);
    return rc ? 1 : 0;
}
