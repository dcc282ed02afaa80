/* The edgeml side of the IPC benchmark: one function linking libedgeml-sdk,
 * its role from the environment (the group's Environment.Variables):
 *   BENCH_ROLE=sender    on "lat N GAP_US" / "tp N" (published by the bench
 *                        script as cloud on bench/go) publishes N bench_msg
 *                        on bench/msg, paced or back to back, then BENCH_END
 *   BENCH_ROLE=receiver  records bench/msg arrivals; writes BENCH_OUT/core_<mode>.txt
 *   BENCH_ROLE=idle      does nothing (the RSS measurement's functions)
 * Each function touches BENCH_OUT/<id>.ready once it runs. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench_rec.h"
#include "edgeml/sdk.h"

static const char *g_out = "/tmp";
static bench_rec g_rec;

static int sdk_publish(void *ctx, const bench_msg *b)
{
    (void)ctx;
    return edgeml_publish("bench/msg", b, sizeof *b);
}

static int sender(const edgeml_message *m)
{
    char cmd[64];
    size_t n = m->len < sizeof cmd - 1 ? m->len : sizeof cmd - 1;
    memcpy(cmd, m->payload, n);
    cmd[n] = 0;
    char mode;
    unsigned long count;
    unsigned gap;
    if (bench_parse_go(cmd, &mode, &count, &gap) < 0)
        return 1;
    int fails = bench_send(mode, count, gap, sdk_publish, NULL);
    if (fails)
        fprintf(stderr, "bench_fn: %d publishes failed: %s\n", fails, edgeml_sdk_last_error());
    return 0;
}

static int receiver(const edgeml_message *m)
{
    bench_rec_msg(&g_rec, m->payload, m->len, g_out, "core");
    return 0;
}

static int idle(const edgeml_message *m)
{
    (void)m;
    return 0;
}

int main(void)
{
    const char *role = getenv("BENCH_ROLE"), *out = getenv("BENCH_OUT");
    if (out && *out)
        g_out = out;
    char path[4096];
    const char *id = edgeml_function_id();
    snprintf(path, sizeof path, "%s/%s.ready", g_out, id ? id : "unknown");
    FILE *f = fopen(path, "w");
    if (f)
        fclose(f);
    edgeml_handler h = idle;
    if (role && strcmp(role, "sender") == 0)
        h = sender;
    else if (role && strcmp(role, "receiver") == 0)
        h = receiver;
    return edgeml_runtime_start(h, 0) ? 1 : 0;
}
