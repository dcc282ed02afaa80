/* Frame encoding/decoding (src/ipc/proto.c) and the blocking client
 * (client.c) over a real socketpair: round trips, hostile headers and
 * bodies, timeouts, short writes, random corruption. */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "proto.h"
#include "../common/check.h"

static void test_types(void)
{
    CHECK(ipc_type_fields(IPC_HELLO) == 2 && ipc_type_fields(IPC_MSG) == 4 &&
              ipc_type_fields(IPC_CTL_STATUS) == 0 && ipc_type_fields(IPC_BYE) == 1,
          "field counts");
    CHECK(ipc_type_fields(0) == -1 && ipc_type_fields(12) == -1 && ipc_type_fields(31) == -1 &&
              ipc_type_fields(38) == -1 && ipc_type_fields(255) == -1,
          "unknown types");
    CHECK(strcmp(ipc_type_name(IPC_CTL_REPLY), "CTL_REPLY") == 0 &&
              strcmp(ipc_type_name(200), "UNKNOWN") == 0,
          "type names");
    for (int t = 0; t < 256; t++) /* every type has a name or is unknown, never NULL */
        if (!ipc_type_name((uint8_t)t))
            failed++;
}

static void test_encode_decode(void)
{
    uint8_t buf[256];
    ipc_field in[4] = {ipc_str("cam/1"), ipc_str(""), ipc_str("cloud"), {(const uint8_t *)"\0\1\2", 3}};
    size_t need = ipc_frame_size(in, 4);
    CHECK(need == IPC_HDR_SIZE + 16 + 5 + 0 + 5 + 3, "frame size %zu", need);
    size_t n = ipc_encode(buf, sizeof buf, IPC_MSG, IPC_F_REPLY, 0x1122334455667788ull, in, 4);
    CHECK(n == need, "encode size");
    CHECK(ipc_encode(buf, need - 1, IPC_MSG, 0, 1, in, 4) == 0, "encode refuses a small buffer");
    ipc_hdr h;
    ipc_hdr_get(buf, &h);
    const char *why = NULL;
    CHECK(h.len == need - IPC_HDR_SIZE && h.type == IPC_MSG && h.flags == IPC_F_REPLY && h.nf == 4 &&
              h.id == 0x1122334455667788ull && ipc_hdr_check(&h, &why) == 0,
          "header round trip");
    ipc_field out[IPC_MAX_FIELDS];
    CHECK(ipc_fields(&h, buf + IPC_HDR_SIZE, out) == 0, "fields decode");
    CHECK(ipc_field_eq(out[0], "cam/1") && ipc_field_eq(out[1], "") && ipc_field_eq(out[2], "cloud") &&
              out[3].n == 3 && memcmp(out[3].p, "\0\1\2", 3) == 0,
          "fields round trip");
    char *d = ipc_field_dup(out[0]);
    CHECK(d && strcmp(d, "cam/1") == 0, "field dup");
    free(d);
    CHECK(ipc_field_dup(out[3]) == NULL, "field dup refuses a NUL byte");
    CHECK(!ipc_field_eq(out[0], "cam/") && !ipc_field_eq(out[0], "cam/12"), "field_eq length");

    /* hostile headers */
    ipc_hdr bad = {IPC_MAX_BODY + 1, IPC_MSG, 0, 4, 0};
    why = NULL;
    CHECK(ipc_hdr_check(&bad, &why) < 0 && why && strstr(why, "large"), "len > max rejected");
    bad = (ipc_hdr){0xffffffffu, IPC_MSG, 0, 4, 0};
    CHECK(ipc_hdr_check(&bad, &why) < 0, "len 4G rejected");
    bad = (ipc_hdr){16, 99, 0, 4, 0};
    CHECK(ipc_hdr_check(&bad, &why) < 0 && strstr(why, "unknown"), "unknown type rejected");
    bad = (ipc_hdr){16, IPC_MSG, 0, 3, 0};
    CHECK(ipc_hdr_check(&bad, &why) < 0 && strstr(why, "field count"), "wrong field count rejected");
    bad = (ipc_hdr){15, IPC_MSG, 0, 4, 0};
    CHECK(ipc_hdr_check(&bad, &why) < 0, "body shorter than 4 length prefixes rejected");
    bad = (ipc_hdr){0, IPC_CTL_STATUS, 0, 0, 0};
    CHECK(ipc_hdr_check(&bad, &why) == 0 && ipc_fields(&bad, NULL, out) == 0, "empty CTL_STATUS ok");
    bad = (ipc_hdr){4, IPC_CTL_STATUS, 0, 0, 0};
    CHECK(ipc_fields(&bad, buf, out) < 0, "0 fields with trailing bytes rejected");

    /* fields overrunning / underfilling */
    uint8_t body[32];
    uint32_t l = 100;
    memcpy(body, &l, 4);
    ipc_hdr h1 = {8, IPC_ACL, 0, 1, 0};
    CHECK(ipc_fields(&h1, body, out) < 0, "field overruns body");
    l = 2;
    memcpy(body, &l, 4);
    CHECK(ipc_fields(&h1, body, out) < 0, "field underfills body");
    l = 4;
    memcpy(body, &l, 4);
    CHECK(ipc_fields(&h1, body, out) == 0 && out[0].n == 4, "exact field");
    l = 0xfffffffeu;
    memcpy(body, &l, 4);
    CHECK(ipc_fields(&h1, body, out) < 0, "huge field length");
    ipc_hdr h2 = {6, IPC_DONE, 0, 2, 0}; /* second length prefix cut */
    l = 0;
    memcpy(body, &l, 4);
    CHECK(ipc_fields(&h2, body, out) < 0, "cut length prefix");
    ipc_hdr h3 = {8, IPC_HELLO, 0, IPC_MAX_FIELDS + 1, 0};
    CHECK(ipc_fields(&h3, body, out) < 0, "too many fields refused by ipc_fields");

    /* encode limits */
    ipc_field huge = {(const uint8_t *)buf, IPC_MAX_BODY};
    CHECK(ipc_frame_size(&huge, 1) == 0, "frame over IPC_MAX_BODY has no size");
    ipc_field nulp = {NULL, 5};
    CHECK(ipc_frame_size(&nulp, 1) == 0, "NULL field with a length refused");
    CHECK(ipc_frame_size(in, IPC_MAX_FIELDS + 1) == 0, "too many fields refused");
    ipc_field okmax = {(const uint8_t *)buf, IPC_MAX_BODY - 4};
    CHECK(ipc_frame_size(&okmax, 1) == IPC_HDR_SIZE + IPC_MAX_BODY, "exactly max body allowed");
}

/* Random corruption: decoding never reads outside the body (ASan checks). */
static void test_random(unsigned iters)
{
    unsigned seed = 7;
    uint8_t frame[128];
    ipc_field in[4] = {ipc_str("a/b"), ipc_str("a/+"), ipc_str("fn"), ipc_str("payload")};
    size_t n = ipc_encode(frame, sizeof frame, IPC_MSG, 0, 1, in, 4);
    int ok = 1;
    for (unsigned k = 0; k < iters; k++) {
        uint8_t c[128];
        memcpy(c, frame, n);
        int flips = 1 + rand_r(&seed) % 4;
        for (int i = 0; i < flips; i++)
            c[rand_r(&seed) % n] = (uint8_t)rand_r(&seed);
        ipc_hdr h;
        ipc_hdr_get(c, &h);
        if (ipc_hdr_check(&h, NULL) < 0 || h.len > n - IPC_HDR_SIZE)
            continue;
        uint8_t *body = malloc(h.len ? h.len : 1); /* exact size: ASan catches overreads */
        memcpy(body, c + IPC_HDR_SIZE, h.len);
        ipc_field f[IPC_MAX_FIELDS];
        if (ipc_fields(&h, body, f) == 0) {
            uint64_t sum = 0;
            for (unsigned i = 0; i < h.nf; i++) {
                if (f[i].p < body || f[i].p + f[i].n > body + h.len)
                    ok = 0;
                sum += 4 + f[i].n;
            }
            if (sum != h.len)
                ok = 0;
        }
        free(body);
    }
    CHECK(ok, "random corruption: fields always inside the body and covering it");
}

static void *slow_reader(void *arg)
{
    int fd = *(int *)arg;
    ipc_hdr h;
    uint8_t *b;
    ipc_field f[IPC_MAX_FIELDS];
    struct timespec ts = {0, 50 * 1000000};
    nanosleep(&ts, NULL);
    int r = ipc_recv(fd, 10000, &h, &b, f);
    intptr_t ok = r == 0 && h.type == IPC_PUBLISH && f[1].n == 4u << 20 &&
                  ((uint8_t *)f[1].p)[12345] == 0x5a && b[h.len] == 0;
    if (r == 0)
        free(b);
    return (void *)ok;
}

static void test_socket(void)
{
    int sv[2];
    if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) < 0) {
        failed++;
        return;
    }
    ipc_hdr h;
    uint8_t *b = NULL;
    ipc_field f[IPC_MAX_FIELDS];

    /* round trip */
    ipc_field in[2] = {ipc_str("fn"), ipc_str("data")};
    CHECK(ipc_send(sv[0], IPC_INVOKE, IPC_F_REPLY, 42, in, 2) == 0, "send");
    CHECK(ipc_recv(sv[1], 1000, &h, &b, f) == 0 && h.type == IPC_INVOKE && h.id == 42 &&
              ipc_field_eq(f[0], "fn") && ipc_field_eq(f[1], "data") && b[h.len] == 0,
          "recv round trip");
    free(b);
    CHECK(ipc_send(sv[0], IPC_CTL_STATUS, 0, 0, NULL, 0) == 0, "send empty");
    CHECK(ipc_recv(sv[1], 1000, &h, &b, f) == 0 && h.type == IPC_CTL_STATUS && h.len == 0, "recv empty");
    free(b);

    /* timeout with nothing sent: ETIMEDOUT, stream still usable */
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    int r = ipc_recv(sv[1], 100, &h, &b, f);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    double ms = (t1.tv_sec - t0.tv_sec) * 1e3 + (t1.tv_nsec - t0.tv_nsec) / 1e6;
    CHECK(r < 0 && errno == ETIMEDOUT && ms >= 95 && ms < 1000, "timeout after %.0f ms", ms);
    CHECK(ipc_send(sv[0], IPC_ACL, 0, 1, in, 1) == 0 && ipc_recv(sv[1], 1000, &h, &b, f) == 0 &&
              h.type == IPC_ACL,
          "usable after a timeout");
    free(b);

    /* half a frame then silence: EPROTO (the stream is unusable) */
    uint8_t raw[IPC_HDR_SIZE + 16];
    size_t n = ipc_encode(raw, sizeof raw, IPC_ACL, 0, 1, in, 1);
    CHECK(write(sv[0], raw, n - 2) == (ssize_t)(n - 2), "write partial");
    r = ipc_recv(sv[1], 100, &h, &b, f);
    CHECK(r < 0 && errno == EPROTO, "stall mid-frame -> EPROTO");
    close(sv[0]);
    close(sv[1]);

    /* hostile headers from the peer */
    struct {
        ipc_hdr h;
        const char *name;
    } hc[] = {
        {{IPC_MAX_BODY + 1, IPC_MSG, 0, 4, 0}, "len > max"},
        {{0, 77, 0, 0, 0}, "unknown type"},
        {{4, IPC_MSG, 0, 1, 0}, "wrong count"},
    };
    for (size_t i = 0; i < sizeof hc / sizeof hc[0]; i++) {
        socketpair(AF_UNIX, SOCK_STREAM, 0, sv);
        uint8_t hb[IPC_HDR_SIZE];
        ipc_hdr_put(hb, &hc[i].h);
        if (write(sv[0], hb, sizeof hb) != (ssize_t)sizeof hb)
            failed++;
        r = ipc_recv(sv[1], 1000, &h, &b, f);
        CHECK(r < 0 && errno == EPROTO && b == NULL, "hostile header '%s' -> EPROTO", hc[i].name);
        close(sv[0]);
        close(sv[1]);
    }
    /* fields overrunning the body, read off a socket */
    socketpair(AF_UNIX, SOCK_STREAM, 0, sv);
    uint8_t fb[IPC_HDR_SIZE + 8];
    ipc_hdr ho = {8, IPC_ACL, 0, 1, 0};
    ipc_hdr_put(fb, &ho);
    uint32_t l = 9;
    memcpy(fb + IPC_HDR_SIZE, &l, 4);
    memcpy(fb + IPC_HDR_SIZE + 4, "abcd", 4);
    if (write(sv[0], fb, sizeof fb) != (ssize_t)sizeof fb)
        failed++;
    r = ipc_recv(sv[1], 1000, &h, &b, f);
    CHECK(r < 0 && errno == EPROTO, "overrunning field -> EPROTO");
    close(sv[0]);
    /* peer closed: ECONNRESET */
    r = ipc_recv(sv[1], 1000, &h, &b, f);
    CHECK(r < 0 && errno == ECONNRESET, "closed peer -> ECONNRESET");
    close(sv[1]);

    /* EOF mid-frame */
    socketpair(AF_UNIX, SOCK_STREAM, 0, sv);
    n = ipc_encode(raw, sizeof raw, IPC_ACL, 0, 1, in, 1);
    if (write(sv[0], raw, 10) != 10)
        failed++;
    close(sv[0]);
    r = ipc_recv(sv[1], 1000, &h, &b, f);
    CHECK(r < 0 && errno == EPROTO, "EOF mid-header -> EPROTO");
    close(sv[1]);

    /* a 4 MiB frame through a small socket buffer: short writes, many reads */
    socketpair(AF_UNIX, SOCK_STREAM, 0, sv);
    int small = 4096;
    setsockopt(sv[0], SOL_SOCKET, SO_SNDBUF, &small, sizeof small);
    setsockopt(sv[1], SOL_SOCKET, SO_RCVBUF, &small, sizeof small);
    uint8_t *big = malloc(4u << 20);
    memset(big, 0x5a, 4u << 20);
    pthread_t t;
    pthread_create(&t, NULL, slow_reader, &sv[1]);
    ipc_field bf[2] = {ipc_str("t"), {big, 4u << 20}};
    CHECK(ipc_send(sv[0], IPC_PUBLISH, 0, 9, bf, 2) == 0, "send 4 MiB");
    void *ok;
    pthread_join(t, &ok);
    CHECK(ok != NULL, "4 MiB frame received whole");
    free(big);
    ipc_field over = {(const uint8_t *)in, IPC_MAX_BODY};
    CHECK(ipc_send(sv[0], IPC_PUBLISH, 0, 9, &over, 1) < 0 && errno == EMSGSIZE,
          "send over the limit -> EMSGSIZE");
    close(sv[1]);
    CHECK(ipc_send(sv[0], IPC_ACL, 0, 1, in, 1) < 0 && errno == EPIPE, "send to a closed peer -> EPIPE, no SIGPIPE");
    close(sv[0]);

    CHECK(ipc_connect("/nonexistent/dir/core.sock") < 0 && errno == ENOENT, "connect ENOENT");
    char longp[200];
    memset(longp, 'a', sizeof longp - 1);
    longp[sizeof longp - 1] = 0;
    CHECK(ipc_connect(longp) < 0 && errno == ENAMETOOLONG, "connect path too long");
    CHECK(ipc_connect("") < 0 && errno == EINVAL, "connect empty path");
}

int main(void)
{
    test_types();
    test_encode_decode();
    test_random(200000);
    test_socket();
    return CHECK_SUMMARY();
}
