/* libFuzzer target: the real core (edgeml_core_run in a thread of this
 * process, on a temporary root) fed hostile bytes over ROOT/run/core.sock.
 *
 * Input: byte 0 = mode (bits 0-1: chunks - 1; bit 2: connect as uid 65534,
 * an unprivileged peer; bit 3: keep the connection open for replies before
 * half-closing), the rest the bytes to send, cut into the chunks (sent with
 * a short pause between them so that the core sees partial frames). After
 * each input the core thread must still run and answer a CTL_STATUS on a
 * new connection; if not, abort() so that libFuzzer keeps the input.
 *
 * Function mode (bit 4 of byte 0): the bytes come from an AUTHENTICATED
 * function. The group has a pinned NoContainer function "agent", a shell
 * script written at init that stores its EDGEML_TOKEN in ROOT/agent/token
 * (tmp + mv) and sleeps: it never connects itself. The harness reads the
 * token, connects, sends HELLO [token, "1"], reads WELCOME and the MSGs
 * already waiting, then sends the fuzzed frames (DONE, PUBLISH, INVOKE, BYE,
 * anything). Bits in function mode: bit 2: first a CTL_INVOKE of agent with
 * IPC_F_REPLY from a control connection held open for the input (so that a
 * DONE answers a live invoker); bit 5: first 1 + bits 6-7 CTL_PUBLISHes to
 * ag/in (so that the agent has MSGs in flight). The header id of every
 * DONE in the fuzzed stream is taken relative to the first MSG id of the
 * session (id + first - 1, mod 2^64), so that DONE 1 means the first MSG.
 * After the input the connection is closed and the harness reconnects on
 * its own connection, kept between inputs, which answers every MSG with a
 * DONE (so that the agent is not killed for Timeouts the fuzzer did not
 * cause). When HELLO is refused (the process was replaced after a BYE or a
 * lost connection), the harness waits (3 s at most) for a new token.
 *
 * The group also has one on-demand NoContainer function (od, /bin/true: it
 * exits without connecting, so invokes of it fail) and cloud routes, so that
 * CTL_PUBLISH / CTL_INVOKE / CTL_SUBSCRIBE reach the router and the
 * supervisor. Set FUZZ_CORE_LOG=1 to see the core's log on stderr. */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "edgeml/core.h"
#include "proto.h"

static char root[80];
static char sock_path[128];
static char tok_path[128];
static pthread_t core_thr;
static int core_rc = -100;

static void die(const char *what)
{
    fprintf(stderr, "fuzz_core: %s\n", what);
    abort();
}

static void *core_main(void *arg)
{
    (void)arg;
    edgeml_core_opts o;
    edgeml_core_opts_default(&o);
    o.root = root;
    o.quiet = getenv("FUZZ_CORE_LOG") == NULL;
    o.backoff_ms = 50;
    o.grace_ms = 200;
    o.idle_timeout_ms = 500;
    core_rc = edgeml_core_run(&o);
    return NULL;
}

static long now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Connects, as uid 65534 when unpriv (a per-thread credential change with
 * the raw system call: glibc's setresuid would change every thread). */
static int connect_core(int unpriv)
{
    if (unpriv && syscall(SYS_setresuid, -1, 65534, -1) != 0)
        die("setresuid 65534");
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_un a = {.sun_family = AF_UNIX};
    strcpy(a.sun_path, sock_path);
    if (fd >= 0 && connect(fd, (struct sockaddr *)&a, sizeof a) != 0) {
        close(fd);
        fd = -1;
    }
    if (unpriv && syscall(SYS_setresuid, -1, 0, -1) != 0)
        die("setresuid back to 0");
    return fd;
}

/* Bytes from the core, cut into frames, so that the ids of the MSGs the
 * agent gets are known (the harness answers them). */
typedef struct rx {
    uint8_t buf[1 << 16];
    size_t n, skip;
} rx;

static uint64_t seen[64]; /* MSG ids the agent got and the harness has not answered */
static unsigned n_seen;

static void note_msg(uint64_t id, uint64_t *first)
{
    if (n_seen == 64) {
        memmove(seen, seen + 1, 63 * sizeof seen[0]);
        n_seen--;
    }
    seen[n_seen++] = id;
    if (first && !*first)
        *first = id;
}

static void rx_feed(rx *r, const uint8_t *p, size_t n, uint64_t *first)
{
    while (n) {
        if (r->skip) {
            size_t k = n < r->skip ? n : r->skip;
            r->skip -= k;
            p += k;
            n -= k;
            continue;
        }
        size_t k = sizeof r->buf - r->n;
        if (k > n)
            k = n;
        memcpy(r->buf + r->n, p, k);
        r->n += k;
        p += k;
        n -= k;
        while (r->n >= IPC_HDR_SIZE) {
            ipc_hdr h;
            ipc_hdr_get(r->buf, &h);
            size_t tot = IPC_HDR_SIZE + (size_t)h.len;
            if (tot > sizeof r->buf) { /* a large frame: skip its body */
                if (h.type == IPC_MSG)
                    note_msg(h.id, first);
                r->skip = tot - r->n;
                r->n = 0;
                break;
            }
            if (r->n < tot)
                break;
            if (h.type == IPC_MSG)
                note_msg(h.id, first);
            memmove(r->buf, r->buf + tot, r->n - tot);
            r->n -= tot;
        }
    }
}

/* Reads what the core sent for up to ms (into r when not NULL, else
 * discarded); 1 at EOF/error. */
static int drain(int fd, int ms, rx *r, uint64_t *first)
{
    static uint8_t buf[65536];
    long end = now_ms() + ms;
    for (;;) {
        long left = end - now_ms();
        if (left < 0)
            left = 0;
        struct pollfd p = {fd, POLLIN, 0};
        int rc = poll(&p, 1, (int)left);
        if (rc <= 0)
            return 0;
        ssize_t n = recv(fd, buf, sizeof buf, MSG_DONTWAIT);
        if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR))
            return 1;
        if (n > 0 && r)
            rx_feed(r, buf, (size_t)n, first);
        if (left == 0 && n < 0)
            return 0;
    }
}

static void check_alive(int want_group)
{
    if (pthread_tryjoin_np(core_thr, NULL) == 0) {
        fprintf(stderr, "fuzz_core: the core stopped (rc %d)\n", core_rc);
        abort();
    }
    int fd = connect_core(0);
    if (fd < 0)
        die("cannot connect to the core");
    uint8_t *body = NULL;
    ipc_hdr h;
    ipc_field f[IPC_MAX_FIELDS];
    if (ipc_send(fd, IPC_CTL_STATUS, 0, 7, NULL, 0) != 0 ||
        ipc_recv(fd, 5000, &h, &body, f) != 0 || h.type != IPC_CTL_REPLY || h.id != 7 ||
        (h.flags & IPC_F_ERROR)) {
        die("the core did not answer CTL_STATUS");
    }
    if (want_group && (!strstr((const char *)f[0].p, "\"od\"") ||
                       !strstr((const char *)f[0].p, "\"agent\"")))
        die("the core did not apply the fuzzing group (function od or agent missing from its status)");
    free(body);
    close(fd);
}

/* ---- the agent's side ---- */

static int agent_fd = -1; /* the harness's own connection as the agent, kept between inputs */
static rx agent_rx;

static int read_token(char tok[33])
{
    FILE *f = fopen(tok_path, "r");
    if (!f)
        return -1;
    size_t n = fread(tok, 1, 32, f);
    fclose(f);
    tok[n] = 0;
    return n == 32 ? 0 : -1;
}

/* Connects as the agent with its current token (HELLO, WELCOME); waits up
 * to wait_ms for a token the core accepts. fd, or -1. */
static int agent_connect(int wait_ms)
{
    static char dead[33]; /* the last token refused as unknown */
    long end = now_ms() + wait_ms;
    for (;;) {
        char tok[33];
        if (read_token(tok) == 0 && strcmp(tok, dead) != 0) {
            int fd = connect_core(0);
            if (fd < 0)
                die("cannot connect to the core");
            ipc_field f[2] = {ipc_str(tok), ipc_str(IPC_SDK_VERSION)}, rf[IPC_MAX_FIELDS];
            ipc_hdr h;
            uint8_t *body = NULL;
            int rc = ipc_send(fd, IPC_HELLO, 0, 0, f, 2);
            if (rc == 0)
                rc = ipc_recv(fd, 2000, &h, &body, rf);
            if (rc == 0 && h.type == IPC_WELCOME) {
                free(body);
                return fd;
            }
            /* refused: unknown (a process that has exited), or still
             * connected (the core has not yet seen our last close) */
            if (rc == 0 && h.type == IPC_ERROR && !strstr((const char *)rf[0].p, "already"))
                memcpy(dead, tok, sizeof dead);
            free(body);
            close(fd);
        }
        if (now_ms() >= end)
            return -1;
        usleep(2000);
    }
}

/* DONE for every MSG the agent got (unknown ids are ignored by the core). */
static void answer_seen(int fd)
{
    ipc_field f[2] = {ipc_str(""), ipc_str("")};
    unsigned i = 0;
    while (i < n_seen && ipc_send(fd, IPC_DONE, 0, seen[i], f, 2) == 0)
        i++;
    memmove(seen, seen + i, (n_seen - i) * sizeof seen[0]);
    n_seen -= i;
}

/* Keeps the agent connected and its MSGs answered between inputs. */
static void service_agent(int wait_ms)
{
    if (agent_fd < 0) {
        agent_fd = agent_connect(wait_ms);
        agent_rx.n = agent_rx.skip = 0;
        if (agent_fd < 0)
            return;
    }
    if (drain(agent_fd, 1, &agent_rx, NULL)) {
        close(agent_fd);
        agent_fd = -1;
        return;
    }
    answer_seen(agent_fd);
}

#define AGENT_ARN "arn:aws:lambda:eu-west-1:1:function:agent:1"
#define OD_ARN "arn:aws:lambda:eu-west-1:1:function:od:1"

/* %s: the agent's script */
static const char group_fmt[] =
    "{\"Core\":{\"Cores\":[{\"Id\":\"core1\",\"ThingArn\":\"arn:aws:iot:eu-west-1:1:thing/c1\","
    "\"CertificateArn\":\"arn:aws:iot:eu-west-1:1:cert/abc\",\"SyncShadow\":false}]},"
    "\"Functions\":{\"Functions\":[{\"Id\":\"od\",\"FunctionArn\":\"" OD_ARN "\","
    "\"FunctionConfiguration\":{"
    "\"Executable\":\"/bin/true\",\"Pinned\":false,\"Timeout\":1,"
    "\"Environment\":{\"Execution\":{\"IsolationMode\":\"NoContainer\"}}}},"
    "{\"Id\":\"agent\",\"FunctionArn\":\"" AGENT_ARN "\",\"FunctionConfiguration\":{"
    "\"Executable\":\"%s\",\"Pinned\":true,\"Timeout\":2,"
    "\"Environment\":{\"Execution\":{\"IsolationMode\":\"NoContainer\"}}}}]},"
    "\"Subscriptions\":{\"Subscriptions\":["
    "{\"Id\":\"s1\",\"Source\":\"cloud\",\"Subject\":\"c/#\",\"Target\":\"cloud\"},"
    "{\"Id\":\"s2\",\"Source\":\"cloud\",\"Subject\":\"od/+\",\"Target\":\"" OD_ARN "\"},"
    "{\"Id\":\"s3\",\"Source\":\"cloud\",\"Subject\":\"x/+/y\",\"Target\":\"GGShadowService\"},"
    "{\"Id\":\"s4\",\"Source\":\"" OD_ARN "\",\"Subject\":\"#\",\"Target\":\"cloud\"},"
    "{\"Id\":\"s5\",\"Source\":\"cloud\",\"Subject\":\"ag/#\",\"Target\":\"" AGENT_ARN "\"},"
    "{\"Id\":\"s6\",\"Source\":\"" AGENT_ARN "\",\"Subject\":\"out/#\",\"Target\":\"cloud\"},"
    "{\"Id\":\"s7\",\"Source\":\"" AGENT_ARN "\",\"Subject\":\"od/+\",\"Target\":\"" OD_ARN "\"},"
    "{\"Id\":\"s8\",\"Source\":\"" AGENT_ARN "\",\"Subject\":\"self/+\",\"Target\":\"" AGENT_ARN "\"},"
    "{\"Id\":\"s9\",\"Source\":\"" AGENT_ARN "\",\"Subject\":\"x/+/y\",\"Target\":\"GGShadowService\"},"
    "{\"Id\":\"s10\",\"Source\":\"" AGENT_ARN "\",\"Subject\":\"+/all\",\"Target\":\"cloud\"},"
    "{\"Id\":\"s11\",\"Source\":\"" AGENT_ARN "\",\"Subject\":\"+/all\",\"Target\":\"" OD_ARN "\"},"
    "{\"Id\":\"s12\",\"Source\":\"" OD_ARN "\",\"Subject\":\"ag/od\",\"Target\":\"" AGENT_ARN "\"}]}}";

/* the agent: stores its token where the harness reads it, then waits */
static const char agent_fmt[] =
    "#!/bin/sh\n"
    "printf %%s \"$EDGEML_TOKEN\" > %s/agent/tok.$$ && mv -f %s/agent/tok.$$ %s/agent/token\n"
    "exec sleep 100000\n";

static void setup(void)
{
    if (geteuid() != 0)
        fprintf(stderr, "fuzz_core: not root: the uid 65534 mode is skipped\n");
    const char *tmp = getenv("TMPDIR");
    snprintf(root, sizeof root, "%s/fuzz-core-XXXXXX", tmp && *tmp && strlen(tmp) < 40 ? tmp : "/tmp");
    if (!mkdtemp(root) || chmod(root, 0755) != 0)
        die("mkdtemp");
    snprintf(sock_path, sizeof sock_path, "%s/%s", root, IPC_SOCK_NAME);
    char p[160], script[160];
    snprintf(tok_path, sizeof tok_path, "%s/agent/token", root);
    snprintf(p, sizeof p, "%s/agent", root);
    if (mkdir(p, 0777) != 0 || chmod(p, 0777) != 0) /* the agent runs as uid 65534 */
        die("cannot make the agent's directory");
    snprintf(script, sizeof script, "%s/agent.sh", root);
    FILE *f = fopen(script, "w");
    if (!f || fprintf(f, agent_fmt, root, root, root) < 0 || fclose(f) != 0 ||
        chmod(script, 0755) != 0)
        die("cannot write the agent's script");
    snprintf(p, sizeof p, "%s/group.json", root);
    f = fopen(p, "w");
    if (!f || fprintf(f, group_fmt, script) < 0 || fclose(f) != 0)
        die("cannot write group.json");
    /* the core reads SIGCHLD/SIGTERM/SIGINT with a signalfd: every thread
     * blocks them (the core thread inherits this mask) */
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGCHLD);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    if (pthread_create(&core_thr, NULL, core_main, NULL) != 0)
        die("pthread_create");
    for (int i = 0; i < 500; i++) {
        struct stat st;
        if (stat(sock_path, &st) == 0)
            break;
        usleep(10000);
    }
    check_alive(1);
    fprintf(stderr, "fuzz_core: core running on %s\n", root);
}

/* Sends data cut into chunks, reading what comes back meanwhile; 1 when the
 * core closed the connection. */
static int send_chunks(int fd, const uint8_t *data, size_t size, unsigned chunks, rx *r,
                       uint64_t *first)
{
    size_t off = 0;
    int closed = 0;
    for (unsigned c = 0; c < chunks && off < size && !closed; c++) {
        size_t len = c + 1 == chunks ? size - off : (size - off) / (chunks - c);
        if (len == 0)
            len = 1;
        size_t sent = 0;
        while (sent < len && !closed) {
            ssize_t w = send(fd, data + off + sent, len - sent, MSG_NOSIGNAL | MSG_DONTWAIT);
            if (w > 0) {
                sent += (size_t)w;
                continue;
            }
            if (w < 0 && (errno == EAGAIN || errno == EINTR)) {
                closed = drain(fd, 5, r, first);
                continue;
            }
            closed = 1;
        }
        off += len;
        if (c + 1 < chunks)
            closed = drain(fd, 1, r, first);
    }
    return closed;
}

/* A CTL_* request on a new control connection; the reply is read. */
static void ctl_request(uint8_t type, uint8_t flags, uint64_t id, const ipc_field *f, unsigned nf)
{
    int fd = connect_core(0);
    if (fd < 0)
        die("cannot connect to the core");
    ipc_hdr h;
    uint8_t *body = NULL;
    ipc_field rf[IPC_MAX_FIELDS];
    if (ipc_send(fd, type, flags, id, f, nf) == 0 && ipc_recv(fd, 2000, &h, &body, rf) == 0)
        free(body);
    close(fd);
}

/* Function mode: the bytes from an authenticated agent (see the top). */
static void fn_input(unsigned mode, const uint8_t *data, size_t size)
{
    static rx r;
    if (agent_fd >= 0) {
        answer_seen(agent_fd);
        close(agent_fd);
        agent_fd = -1;
    }
    if (mode & 0x20) {
        for (unsigned i = 0; i <= (mode >> 6); i++) {
            ipc_field f[2] = {ipc_str("ag/in"), ipc_str("m")};
            ctl_request(IPC_CTL_PUBLISH, 0, 100 + i, f, 2);
        }
    }
    int hold = -1;
    if (mode & 4) { /* an invoker waiting for the agent's DONE */
        hold = connect_core(0);
        ipc_field f[2] = {ipc_str("agent"), ipc_str("inv")};
        if (hold < 0 || ipc_send(hold, IPC_CTL_INVOKE, IPC_F_REPLY, 77, f, 2) != 0)
            die("cannot send CTL_INVOKE");
    }
    int fd = agent_connect(3000);
    if (fd >= 0) {
        uint64_t first = 0;
        r.n = r.skip = 0;
        int closed = drain(fd, (mode & 0x24) ? 20 : 2, &r, &first);
        uint8_t *buf = malloc(size ? size : 1);
        if (!buf)
            die("out of memory");
        memcpy(buf, data, size);
        /* DONE ids relative to the first MSG of the session */
        uint64_t base = first ? first - 1 : 0;
        for (size_t off = 0; off + IPC_HDR_SIZE <= size;) {
            ipc_hdr h;
            ipc_hdr_get(buf + off, &h);
            if (h.type == IPC_DONE) {
                h.id += base;
                ipc_hdr_put(buf + off, &h);
            }
            off += IPC_HDR_SIZE + (size_t)h.len;
            if (h.len > size) /* off would wrap on 32-bit */
                break;
        }
        if (!closed)
            closed = send_chunks(fd, buf, size, 1 + (mode & 3), &r, &first);
        if (!closed)
            drain(fd, (mode & 8) ? 50 : 5, &r, &first);
        free(buf);
        close(fd);
    }
    if (hold >= 0) {
        drain(hold, 1, NULL, NULL);
        close(hold);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static int ready;
    if (!ready) {
        setup();
        service_agent(10000);
        if (agent_fd < 0)
            die("the agent did not come up (no token accepted in 10 s)");
        ready = 1;
    }
    if (size == 0)
        return 0;
    unsigned mode = data[0];
    data++;
    size--;
    if (mode & 0x10) {
        fn_input(mode, data, size);
    } else {
        int unpriv = (mode & 4) && geteuid() == 0;
        int fd = connect_core(unpriv);
        if (fd < 0)
            die("cannot connect to the core");
        int closed = send_chunks(fd, data, size, 1 + (mode & 3), NULL, NULL);
        if (!closed && (mode & 8))
            closed = drain(fd, 5, NULL, NULL);
        if (!closed) {
            shutdown(fd, SHUT_WR);
            drain(fd, 200, NULL, NULL);
        }
        close(fd);
    }
    check_alive(0);
    service_agent(3000);
    return 0;
}
