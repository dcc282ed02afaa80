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
 * The group has one on-demand NoContainer function (od, /bin/true: it exits
 * without connecting, so invokes of it fail) and cloud routes, so that
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

/* Reads and discards what the core sent, for up to ms; 1 at EOF/error. */
static int drain(int fd, int ms)
{
    static uint8_t buf[65536];
    long end = now_ms() + ms;
    for (;;) {
        long left = end - now_ms();
        if (left < 0)
            left = 0;
        struct pollfd p = {fd, POLLIN, 0};
        int r = poll(&p, 1, (int)left);
        if (r <= 0)
            return 0;
        ssize_t n = recv(fd, buf, sizeof buf, MSG_DONTWAIT);
        if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR))
            return 1;
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
    if (want_group && !strstr((const char *)f[0].p, "\"od\""))
        die("the core did not apply the fuzzing group (function od missing from its status)");
    free(body);
    close(fd);
}

static const char group_json[] =
    "{\"Core\":{\"Cores\":[{\"Id\":\"core1\",\"ThingArn\":\"arn:aws:iot:eu-west-1:1:thing/c1\","
    "\"CertificateArn\":\"arn:aws:iot:eu-west-1:1:cert/abc\",\"SyncShadow\":false}]},"
    "\"Functions\":{\"Functions\":[{\"Id\":\"od\",\"FunctionArn\":"
    "\"arn:aws:lambda:eu-west-1:1:function:od:1\",\"FunctionConfiguration\":{"
    "\"Executable\":\"/bin/true\",\"Pinned\":false,\"Timeout\":1,"
    "\"Environment\":{\"Execution\":{\"IsolationMode\":\"NoContainer\"}}}}]},"
    "\"Subscriptions\":{\"Subscriptions\":["
    "{\"Id\":\"s1\",\"Source\":\"cloud\",\"Subject\":\"c/#\",\"Target\":\"cloud\"},"
    "{\"Id\":\"s2\",\"Source\":\"cloud\",\"Subject\":\"od/+\","
    "\"Target\":\"arn:aws:lambda:eu-west-1:1:function:od:1\"},"
    "{\"Id\":\"s3\",\"Source\":\"cloud\",\"Subject\":\"x/+/y\",\"Target\":\"GGShadowService\"},"
    "{\"Id\":\"s4\",\"Source\":\"arn:aws:lambda:eu-west-1:1:function:od:1\",\"Subject\":\"#\","
    "\"Target\":\"cloud\"}]}}";

static void setup(void)
{
    if (geteuid() != 0)
        fprintf(stderr, "fuzz_core: not root: the uid 65534 mode is skipped\n");
    const char *tmp = getenv("TMPDIR");
    snprintf(root, sizeof root, "%s/fuzz-core-XXXXXX", tmp && *tmp && strlen(tmp) < 40 ? tmp : "/tmp");
    if (!mkdtemp(root) || chmod(root, 0755) != 0)
        die("mkdtemp");
    snprintf(sock_path, sizeof sock_path, "%s/%s", root, IPC_SOCK_NAME);
    char p[128];
    snprintf(p, sizeof p, "%s/group.json", root);
    FILE *f = fopen(p, "w");
    if (!f || fwrite(group_json, 1, sizeof group_json - 1, f) != sizeof group_json - 1 ||
        fclose(f) != 0)
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

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static int ready;
    if (!ready) {
        setup();
        ready = 1;
    }
    if (size == 0)
        return 0;
    unsigned mode = data[0];
    data++;
    size--;
    unsigned chunks = 1 + (mode & 3);
    int unpriv = (mode & 4) && geteuid() == 0;
    int fd = connect_core(unpriv);
    if (fd < 0)
        die("cannot connect to the core");
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
                closed = drain(fd, 5);
                continue;
            }
            closed = 1;
        }
        off += len;
        if (c + 1 < chunks)
            closed = drain(fd, 1);
    }
    if (!closed && (mode & 8))
        closed = drain(fd, 5);
    if (!closed) {
        shutdown(fd, SHUT_WR);
        drain(fd, 200);
    }
    close(fd);
    check_alive(0);
    return 0;
}
