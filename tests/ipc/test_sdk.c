/* libedgeml-sdk against a peer implementation of the core's side of the
 * protocol: this program listens on a Unix socket, starts sdk_func (a real
 * process linking the SDK) with the environment a core would give it, and
 * plays the core: WELCOME, MSGs, RESULTs, ACL, NACK, SIGTERM, hostile frames.
 * Usage: test_sdk PATH/TO/ipc_sdk_func */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "proto.h"
#include "../common/check.h"

static const char *func_path;
static char dir[64], sock_path[128], err_path[160];
static int lfd = -1;

#define TOKEN "0123456789abcdef0123456789abcdef"

typedef struct frame {
    ipc_hdr h;
    uint8_t *body;
    ipc_field f[IPC_MAX_FIELDS];
} frame;

static int listen_on(const char *path)
{
    struct sockaddr_un a = {0};
    a.sun_family = AF_UNIX;
    snprintf(a.sun_path, sizeof a.sun_path, "%s", path);
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof a) < 0 || listen(fd, 8) < 0) {
        perror("test_sdk: listen");
        exit(2);
    }
    return fd;
}

/* Starts sdk_func with a core's environment; returns its pid. */
static pid_t spawn(const char *token, const char *resources)
{
    pid_t pid = fork();
    if (pid == 0) {
        char e1[200], e2[100], e3[] = IPC_ENV_FUNCTION "=fn1", e4[300];
        snprintf(e1, sizeof e1, IPC_ENV_SOCKET "=%s", sock_path);
        snprintf(e2, sizeof e2, IPC_ENV_TOKEN "=%s", token);
        snprintf(e4, sizeof e4, IPC_ENV_RESOURCES "=%s", resources ? resources : "");
        char *env[] = {e1, e2, e3, e4, "PATH=/usr/bin:/bin", NULL};
        int fd = open(err_path, O_WRONLY | O_CREAT | O_APPEND, 0644);
        if (fd >= 0)
            dup2(fd, 2);
        char *argv[] = {(char *)func_path, NULL};
        execve(func_path, argv, env);
        _exit(127);
    }
    return pid;
}

static int accept_to(int ms)
{
    struct timespec ts = {0, 10 * 1000000};
    int fl = fcntl(lfd, F_GETFL);
    fcntl(lfd, F_SETFL, fl | O_NONBLOCK);
    for (int i = 0; i < ms / 10; i++) {
        int c = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
        if (c >= 0) {
            fcntl(lfd, F_SETFL, fl);
            return c;
        }
        nanosleep(&ts, NULL);
    }
    fcntl(lfd, F_SETFL, fl);
    return -1;
}

static int wait_exit(pid_t pid, int ms)
{
    struct timespec ts = {0, 10 * 1000000};
    for (int i = 0; i < ms / 10; i++) {
        int st;
        pid_t r = waitpid(pid, &st, WNOHANG);
        if (r == pid)
            return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
        nanosleep(&ts, NULL);
    }
    kill(pid, SIGKILL);
    waitpid(pid, NULL, 0);
    return -1;
}

static int get(int fd, frame *fr, int ms)
{
    free(fr->body);
    fr->body = NULL;
    if (ipc_recv(fd, ms, &fr->h, &fr->body, fr->f) < 0) {
        memset(&fr->h, 0, sizeof fr->h);
        return -1;
    }
    return 0;
}

static int send_msg(int fd, uint64_t id, uint8_t flags, const char *topic, const char *payload)
{
    ipc_field f[4] = {ipc_str(topic), ipc_str(topic[0] ? "allowed/+" : ""), ipc_str("cloud"),
                      ipc_str(payload)};
    return ipc_send(fd, IPC_MSG, flags, id, f, 4);
}

static int feq(ipc_field f, const char *s)
{
    return ipc_field_eq(f, s);
}

/* Expects DONE id with the given status and result (NULL: any). */
static void expect_done(int fd, frame *fr, uint64_t id, const char *status, const char *result)
{
    int r = get(fd, fr, 5000);
    CHECK(r == 0 && fr->h.type == IPC_DONE && fr->h.id == id,
          "expected DONE %llu, got %s %llu (recv %d)", (unsigned long long)id,
          r ? "nothing" : ipc_type_name(fr->h.type), (unsigned long long)fr->h.id, r);
    if (r == 0 && fr->h.type == IPC_DONE) {
        CHECK(feq(fr->f[0], status), "DONE %llu status '%.*s', expected '%s'",
              (unsigned long long)id, (int)fr->f[0].n, fr->f[0].p, status);
        if (result)
            CHECK(feq(fr->f[1], result), "DONE %llu result '%.*s', expected '%s'",
                  (unsigned long long)id, (int)fr->f[1].n, fr->f[1].p, result);
    }
}

/* Starts a function and does the handshake; returns the connection. */
static int start(pid_t *pid, const char *resources, const char *filters)
{
    *pid = spawn(TOKEN, resources);
    int c = accept_to(5000);
    CHECK(c >= 0, "function did not connect");
    if (c < 0)
        return -1;
    frame fr = {0};
    int r = get(c, &fr, 5000);
    CHECK(r == 0 && fr.h.type == IPC_HELLO && feq(fr.f[0], TOKEN) && feq(fr.f[1], IPC_SDK_VERSION),
          "expected HELLO [token, version]");
    free(fr.body);
    fr.body = NULL;
    ipc_field w[2] = {ipc_str("fn1"), ipc_str(filters)};
    ipc_send(c, IPC_WELCOME, 0, 0, w, 2);
    return c;
}

static int file_has(const char *path, const char *needle)
{
    char buf[8192];
    FILE *f = fopen(path, "r");
    if (!f)
        return 0;
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = 0;
    return strstr(buf, needle) != NULL;
}

static void test_bad_token(void)
{
    pid_t pid = spawn("ffffffffffffffffffffffffffffffff", NULL);
    int c = accept_to(5000);
    frame fr = {0};
    CHECK(c >= 0 && get(c, &fr, 5000) == 0 && fr.h.type == IPC_HELLO, "HELLO from bad token");
    ipc_field e = ipc_str("unknown token");
    ipc_send(c, IPC_ERROR, 0, 0, &e, 1);
    int code = wait_exit(pid, 5000);
    CHECK(code == 12, "refused process exits %d, got %d",
          12, code);
    CHECK(file_has(err_path, "unknown token"), "the refusal reason is printed");
    free(fr.body);
    fr.body = NULL;
    close(c);
}

static void test_main_session(void)
{
    pid_t pid;
    int c = start(&pid, "r1=/models/r1\nbroken\nr2=/x/y z\n", "allowed/+\nresults/#");
    if (c < 0)
        return;
    frame fr = {0};
    uint64_t id = 1;

    /* A window of MSGs, sent before any DONE: handled one at a time, in order. */
    for (int i = 0; i < IPC_WINDOW; i++) {
        char p[32];
        snprintf(p, sizeof p, i % 2 ? "seq %d" : "echo", i);
        send_msg(c, id + i, i % 2 ? 0 : IPC_F_REPLY, "allowed/a", p);
    }
    int in_order = 1;
    for (int i = 0; i < IPC_WINDOW; i++) {
        if (get(c, &fr, 5000) < 0 || fr.h.type != IPC_DONE || fr.h.id != id + i ||
            fr.f[0].n != 0 || (i % 2 == 0 && !feq(fr.f[1], "echo")) || (i % 2 && fr.f[1].n)) {
            in_order = 0;
            break;
        }
    }
    CHECK(in_order, "a window of %d MSGs -> DONEs in order with the replies", IPC_WINDOW);
    id += IPC_WINDOW;

    /* Handler failure -> status line; no reply payload. */
    send_msg(c, id, IPC_F_REPLY, "allowed/a", "fail");
    expect_done(c, &fr, id++, "handler returned 7", "");
    /* A reply is sent only for request-response MSGs. */
    send_msg(c, id, 0, "allowed/a", "echo");
    expect_done(c, &fr, id++, "", "");
    /* Direct invoke MSG (topic ""). */
    send_msg(c, id, IPC_F_INVOKE | IPC_F_REPLY, "", "id");
    expect_done(c, &fr, id++, "", "fn1");

    /* Publish allowed: PUBLISH then DONE. */
    send_msg(c, id, 0, "allowed/a", "pub allowed/x");
    int r = get(c, &fr, 5000);
    CHECK(r == 0 && fr.h.type == IPC_PUBLISH && feq(fr.f[0], "allowed/x") && feq(fr.f[1], "p"),
          "PUBLISH allowed/x");
    uint64_t pub_id = fr.h.id;
    expect_done(c, &fr, id++, "", NULL);
    send_msg(c, id, 0, "allowed/a", "pub results/a/b/c");
    r = get(c, &fr, 5000);
    CHECK(r == 0 && fr.h.type == IPC_PUBLISH && feq(fr.f[0], "results/a/b/c"), "PUBLISH results/a/b/c");
    expect_done(c, &fr, id++, "", NULL);
    /* Denied locally (no PUBLISH frame: the next frame is the DONE). */
    send_msg(c, id, 0, "allowed/a", "pub other/x");
    expect_done(c, &fr, id++, "handler returned -3", NULL);
    send_msg(c, id, 0, "allowed/a", "pub allowed/x/y");
    expect_done(c, &fr, id++, "handler returned -3", NULL);
    send_msg(c, id, 0, "allowed/a", "pub results");
    expect_done(c, &fr, id++, "handler returned -3", NULL);
    /* Wildcard topics refused. */
    send_msg(c, id, 0, "allowed/a", "pub allowed/+");
    expect_done(c, &fr, id++, "handler returned -4", NULL);
    send_msg(c, id, 0, "allowed/a", "pub results/#");
    expect_done(c, &fr, id++, "handler returned -4", NULL);

    /* A NACK for the earlier publish is logged as one line on stderr. */
    ipc_field nack = ipc_str("not allowed: test nack");
    ipc_send(c, IPC_NACK, 0, pub_id, &nack, 1);
    send_msg(c, id, 0, "allowed/a", "seq x"); /* the NACK was read before this */
    expect_done(c, &fr, id++, "", NULL);
    CHECK(file_has(err_path, "not allowed: test nack"), "NACK logged on stderr");

    /* ACL replaces the filters. */
    ipc_field acl = ipc_str("other/#");
    ipc_send(c, IPC_ACL, 0, 0, &acl, 1);
    send_msg(c, id, 0, "allowed/a", "pub other/x");
    r = get(c, &fr, 5000);
    CHECK(r == 0 && fr.h.type == IPC_PUBLISH && feq(fr.f[0], "other/x"), "PUBLISH after ACL");
    expect_done(c, &fr, id++, "", NULL);
    send_msg(c, id, 0, "allowed/a", "pub allowed/x");
    expect_done(c, &fr, id++, "handler returned -3", NULL);
    ipc_field acl2 = ipc_str("allowed/+\nresults/#");
    ipc_send(c, IPC_ACL, 0, 0, &acl2, 1);

    /* Request-response invoke: RESULT; MSGs arriving meanwhile are buffered. */
    send_msg(c, id, IPC_F_REPLY, "allowed/a", "invoke fn2 3000 hello");
    r = get(c, &fr, 5000);
    CHECK(r == 0 && fr.h.type == IPC_INVOKE && (fr.h.flags & IPC_F_REPLY) && feq(fr.f[0], "fn2") &&
          feq(fr.f[1], "hello"), "INVOKE fn2 (request-response)");
    uint64_t inv = fr.h.id;
    send_msg(c, id + 1, IPC_F_REPLY, "allowed/a", "echo"); /* arrives during the invoke */
    send_msg(c, id + 2, 0, "allowed/a", "seq y");
    ipc_field other[2] = {ipc_str(""), ipc_str("stale")};
    ipc_send(c, IPC_RESULT, 0, inv + 1000, other, 2); /* nobody waits for it: dropped */
    ipc_field res[2] = {ipc_str(""), ipc_str("world")};
    ipc_send(c, IPC_RESULT, 0, inv, res, 2);
    expect_done(c, &fr, id, "", "0 world");
    expect_done(c, &fr, id + 1, "", "echo");
    expect_done(c, &fr, id + 2, "", "");
    id += 3;

    /* Invoke errors map to statuses. */
    const struct {
        const char *status;
        const char *want;
    } errs[] = {{"no such function", "-6 "}, {"queue full", "-8 "}, {"timeout", "-7 "},
                {"failed: handler returned 7", "-9 "}};
    for (size_t i = 0; i < sizeof errs / sizeof errs[0]; i++) {
        send_msg(c, id, IPC_F_REPLY, "allowed/a", "invoke fnX 3000 a");
        r = get(c, &fr, 5000);
        CHECK(r == 0 && fr.h.type == IPC_INVOKE, "INVOKE fnX");
        ipc_field e[2] = {ipc_str(errs[i].status), ipc_str("")};
        ipc_send(c, IPC_RESULT, IPC_F_ERROR, fr.h.id, e, 2);
        expect_done(c, &fr, id++, "", errs[i].want);
    }
    /* A NACK answers a request-response invoke too. */
    send_msg(c, id, IPC_F_REPLY, "allowed/a", "invoke fnX 3000 a");
    r = get(c, &fr, 5000);
    ipc_field nk = ipc_str("no such function");
    ipc_send(c, IPC_NACK, 0, fr.h.id, &nk, 1);
    expect_done(c, &fr, id++, "", "-6 ");

    /* Invoke with no answer: the SDK's timeout. */
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    send_msg(c, id, IPC_F_REPLY, "allowed/a", "invoke fn2 300 late");
    r = get(c, &fr, 5000);
    CHECK(r == 0 && fr.h.type == IPC_INVOKE, "INVOKE fn2 (to time out)");
    uint64_t late = fr.h.id;
    expect_done(c, &fr, id++, "", "-7 ");
    clock_gettime(CLOCK_MONOTONIC, &t1);
    double ms = (t1.tv_sec - t0.tv_sec) * 1e3 + (t1.tv_nsec - t0.tv_nsec) / 1e6;
    CHECK(ms >= 290 && ms < 2000, "invoke timed out after %.0f ms (300 asked)", ms);
    ipc_send(c, IPC_RESULT, 0, late, res, 2); /* too late: ignored */

    /* Event invoke: no REPLY flag, does not wait. */
    send_msg(c, id, 0, "allowed/a", "event fn2 ev");
    r = get(c, &fr, 5000);
    CHECK(r == 0 && fr.h.type == IPC_INVOKE && !(fr.h.flags & IPC_F_REPLY) && feq(fr.f[1], "ev"),
          "INVOKE fn2 (event)");
    expect_done(c, &fr, id++, "", NULL);

    /* Resources from EDGEML_RESOURCES. */
    send_msg(c, id, IPC_F_REPLY, "allowed/a", "res r1");
    expect_done(c, &fr, id++, "", "/models/r1");
    send_msg(c, id, IPC_F_REPLY, "allowed/a", "res r2");
    expect_done(c, &fr, id++, "", "/x/y z");
    send_msg(c, id, IPC_F_REPLY, "allowed/a", "res broken");
    expect_done(c, &fr, id++, "", "-12");
    send_msg(c, id, IPC_F_REPLY, "allowed/a", "res r3");
    expect_done(c, &fr, id++, "", "-12");

    /* Publishes from 4 threads at once: every frame whole. */
    send_msg(c, id, 0, "allowed/a", "threads 4 250");
    int pubs = 0, bad = 0;
    for (;;) {
        if (get(c, &fr, 5000) < 0) {
            bad++;
            break;
        }
        if (fr.h.type == IPC_DONE)
            break;
        if (fr.h.type == IPC_PUBLISH && feq(fr.f[0], "allowed/t") && fr.f[1].n >= 2)
            pubs++;
        else
            bad++;
    }
    CHECK(pubs == 1000 && bad == 0 && fr.h.id == id && fr.f[0].n == 0,
          "1000 PUBLISHes from 4 threads, then DONE (got %d, %d bad)", pubs, bad);
    id++;

    /* SIGTERM during a handler: it finishes, the next two are not started. */
    send_msg(c, id, 0, "allowed/a", "sleep 400");
    send_msg(c, id + 1, 0, "allowed/a", "seq a");
    send_msg(c, id + 2, 0, "allowed/a", "seq b");
    struct timespec d = {0, 150 * 1000000};
    nanosleep(&d, NULL);
    kill(pid, SIGTERM);
    expect_done(c, &fr, id, "", NULL);
    r = get(c, &fr, 5000);
    char want[24];
    snprintf(want, sizeof want, "%llu", (unsigned long long)id);
    CHECK(r == 0 && fr.h.type == IPC_BYE && fr.h.id == id && feq(fr.f[0], want),
          "BYE [%s] after SIGTERM, got %s [%.*s]", want, r ? "nothing" : ipc_type_name(fr.h.type),
          r ? 0 : (int)fr.f[0].n, r ? "" : (const char *)fr.f[0].p);
    r = get(c, &fr, 2000);
    CHECK(r < 0 && errno == ECONNRESET, "nothing after BYE, then close");
    CHECK(wait_exit(pid, 5000) == 0, "exit 0 after SIGTERM");
    free(fr.body);
    fr.body = NULL;
    close(c);
}

/* SIGTERM while idle: BYE [last done]. */
static void test_idle_term(void)
{
    pid_t pid;
    int c = start(&pid, NULL, "");
    if (c < 0)
        return;
    frame fr = {0};
    send_msg(c, 5, 0, "allowed/a", "seq z");
    expect_done(c, &fr, 5, "", NULL);
    struct timespec d = {0, 50 * 1000000};
    nanosleep(&d, NULL);
    kill(pid, SIGTERM);
    int r = get(c, &fr, 5000);
    CHECK(r == 0 && fr.h.type == IPC_BYE && feq(fr.f[0], "5"), "idle SIGTERM -> BYE [5]");
    CHECK(wait_exit(pid, 5000) == 0, "exit 0 after idle SIGTERM");
    free(fr.body);
    fr.body = NULL;
    close(c);

    /* No MSG ever: BYE [0]; and with no filters every publish is denied. */
    c = start(&pid, NULL, "");
    if (c < 0)
        return;
    send_msg(c, 1, 0, "allowed/a", "pub allowed/x");
    expect_done(c, &fr, 1, "handler returned -3", NULL);
    nanosleep(&d, NULL);
    kill(pid, SIGINT);
    r = get(c, &fr, 5000);
    CHECK(r == 0 && fr.h.type == IPC_BYE && feq(fr.f[0], "1"), "SIGINT -> BYE [1]");
    CHECK(wait_exit(pid, 5000) == 0, "exit 0 after SIGINT");
    free(fr.body);
    fr.body = NULL;
    close(c);
}

/* The core goes away or misbehaves: the SDK returns an error, never crashes. */
static void test_hostile(void)
{
    struct {
        const char *name;
        uint8_t raw[40];
        size_t n;
        int want;
    } cases[] = {
        {"close", {0}, 0, 20},
        {"body too large", {0}, 16, 23},
        {"unknown type", {0}, 16, 23},
        {"wrong field count", {0}, 16, 23},
        {"field overruns body", {0}, 24, 23},
        {"half a header then close", {0}, 7, 23},
        {"HELLO from the core", {0}, 0, 23},
        {"ERROR mid-session", {0}, 0, 20},
    };
    ipc_hdr h;
    h = (ipc_hdr){IPC_MAX_BODY + 1, IPC_MSG, 0, 4, 1};
    ipc_hdr_put(cases[1].raw, &h);
    h = (ipc_hdr){0, 200, 0, 0, 1};
    ipc_hdr_put(cases[2].raw, &h);
    h = (ipc_hdr){8, IPC_MSG, 0, 2, 1};
    ipc_hdr_put(cases[3].raw, &h);
    h = (ipc_hdr){8, IPC_ACL, 0, 1, 1};
    ipc_hdr_put(cases[4].raw, &h);
    uint32_t big = 1000;
    memcpy(cases[4].raw + 16, &big, 4);
    ipc_hdr_put(cases[5].raw, &h);
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        pid_t pid;
        int c = start(&pid, NULL, "a/#");
        if (c < 0)
            continue;
        if (i == 6) {
            ipc_field f[2] = {ipc_str("x"), ipc_str("1")};
            ipc_send(c, IPC_HELLO, 0, 0, f, 2);
        } else if (i == 7) {
            ipc_field f = ipc_str("shutting down");
            ipc_send(c, IPC_ERROR, 0, 0, &f, 1);
        } else if (cases[i].n && write(c, cases[i].raw, cases[i].n) != (ssize_t)cases[i].n)
            perror("write");
        close(c);
        int code = wait_exit(pid, 5000);
        CHECK(code == cases[i].want, "hostile '%s': exit %d, expected %d", cases[i].name, code,
              cases[i].want);
    }
    /* No core at all: the socket path does not exist. */
    char saved[128];
    memcpy(saved, sock_path, sizeof saved);
    snprintf(sock_path, sizeof sock_path, "%s/nope.sock", dir);
    pid_t pid = spawn(TOKEN, NULL);
    CHECK(wait_exit(pid, 5000) == 12, "no core -> E_NOCORE exit");
    memcpy(sock_path, saved, sizeof saved);
    CHECK(file_has(err_path, "cannot connect to the core"), "no-core reason printed");
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: test_sdk PATH/TO/ipc_sdk_func\n");
        return 2;
    }
    func_path = argv[1];
    signal(SIGPIPE, SIG_IGN);
    snprintf(dir, sizeof dir, "/tmp/ipc_sdk.XXXXXX");
    if (!mkdtemp(dir)) {
        perror("mkdtemp");
        return 2;
    }
    snprintf(sock_path, sizeof sock_path, "%s/core.sock", dir);
    snprintf(err_path, sizeof err_path, "%s/func.err", dir);
    lfd = listen_on(sock_path);
    test_bad_token();
    test_main_session();
    test_idle_term();
    test_hostile();
    close(lfd);
    unlink(sock_path);
    if (failed) {
        printf("function stderr (%s):\n", err_path);
        fflush(stdout);
        char cmd[256];
        snprintf(cmd, sizeof cmd, "cat %s", err_path);
        if (system(cmd) != 0)
            printf("(none)\n");
    } else {
        unlink(err_path);
        rmdir(dir);
    }
    return CHECK_SUMMARY();
}
