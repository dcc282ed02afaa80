/* The Mosquitto side of the IPC benchmark: two libmosquitto clients doing
 * what bench_fn.c's sender and receiver do through the edgeml core, QoS 0.
 *   mosq_bench recv PORT OUT_DIR READY_FILE   subscribe bench/msg, record,
 *                                             write OUT_DIR/mosq_<mode>.txt per run
 *                                             ("quit" on bench/ctl ends it)
 *   mosq_bench send PORT "lat N GAP_US"|"tp N"   publish N bench_msg, then END */
#include <mosquitto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench_rec.h"

static const char *g_out, *g_ready;
static bench_rec g_rec;

static void on_connect(struct mosquitto *m, void *u, int rc)
{
    (void)u;
    if (rc == 0) {
        mosquitto_subscribe(m, NULL, "bench/msg", 0);
        mosquitto_subscribe(m, NULL, "bench/ctl", 0);
    }
}

static void on_subscribe(struct mosquitto *m, void *u, int mid, int n, const int *q)
{
    (void)m, (void)u, (void)mid, (void)n, (void)q;
    static int subs;
    if (++subs == 2) {
        FILE *f = fopen(g_ready, "w");
        if (f)
            fclose(f);
    }
}

static void on_message(struct mosquitto *m, void *u, const struct mosquitto_message *msg)
{
    (void)u;
    if (strcmp(msg->topic, "bench/ctl") == 0) {
        mosquitto_disconnect(m);
        return;
    }
    bench_rec_msg(&g_rec, msg->payload, (size_t)msg->payloadlen, g_out, "mosq");
}

static int mosq_publish(void *ctx, const bench_msg *b)
{
    return mosquitto_publish(ctx, NULL, "bench/msg", sizeof *b, b, 0, false) != MOSQ_ERR_SUCCESS;
}

int main(int argc, char **argv)
{
    if (argc < 4) {
        fprintf(stderr, "usage: mosq_bench recv PORT OUT_DIR READY | send PORT SPEC\n");
        return 2;
    }
    int port = atoi(argv[2]);
    mosquitto_lib_init();
    struct mosquitto *m = mosquitto_new(NULL, true, NULL);
    if (!m)
        return 1;
    /* Mosquitto at its best for small messages: no Nagle delay (the broker
     * gets set_tcp_nodelay from the bench's config). */
    mosquitto_int_option(m, MOSQ_OPT_TCP_NODELAY, 1);
    if (strcmp(argv[1], "recv") == 0 && argc == 5) {
        g_out = argv[3];
        g_ready = argv[4];
        mosquitto_connect_callback_set(m, on_connect);
        mosquitto_subscribe_callback_set(m, on_subscribe);
        mosquitto_message_callback_set(m, on_message);
        if (mosquitto_connect(m, "127.0.0.1", port, 60) != MOSQ_ERR_SUCCESS) {
            fprintf(stderr, "mosq_bench: cannot connect to 127.0.0.1:%d\n", port);
            return 1;
        }
        mosquitto_loop_forever(m, -1, 1);
    } else if (strcmp(argv[1], "send") == 0) {
        char mode;
        unsigned long count;
        unsigned gap;
        if (bench_parse_go(argv[3], &mode, &count, &gap) < 0)
            return 2;
        if (mosquitto_connect(m, "127.0.0.1", port, 60) != MOSQ_ERR_SUCCESS ||
            mosquitto_loop_start(m) != MOSQ_ERR_SUCCESS) {
            fprintf(stderr, "mosq_bench: cannot connect to 127.0.0.1:%d\n", port);
            return 1;
        }
        bench_sleep_us(200000); /* CONNACK */
        int fails = bench_send(mode, count, gap, mosq_publish, m);
        if (fails)
            fprintf(stderr, "mosq_bench: %d publishes failed\n", fails);
        mosquitto_disconnect(m);
        mosquitto_loop_stop(m, false);
    } else {
        return 2;
    }
    mosquitto_destroy(m);
    mosquitto_lib_cleanup();
    return 0;
}
