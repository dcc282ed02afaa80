/* The core's start, stop and event loop (core_int.h). */
#include "core_int.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/file.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/timerfd.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static volatile int g_dummy;

/* The signals the loop takes through its signalfd (blocked otherwise). */
static void core_signals(sigset_t *set)
{
    sigemptyset(set);
    sigaddset(set, SIGCHLD);
    sigaddset(set, SIGTERM);
    sigaddset(set, SIGINT);
    sigaddset(set, SIGHUP);
}

uint64_t core_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

void edgeml_core_opts_default(edgeml_core_opts *o)
{
    memset(o, 0, sizeof *o);
    o->max_work_items = 1024;
    o->max_concurrency = 25;
    o->grace_ms = 5000;
    o->idle_timeout_ms = 60000;
    o->backoff_ms = 500;
}

/* ---- logging: "2025-01-02T03:04:05.678Z INFO text" ---- */

static void log_rotate(core *c)
{
    struct stat st;
    if (c->logfd < 0 || fstat(c->logfd, &st) != 0 || st.st_size < CORE_LOG_MAX)
        return;
    char a[1200], b[1200];
    snprintf(a, sizeof a, "%s/logs/core.log", c->root);
    snprintf(b, sizeof b, "%s/logs/core.log.1", c->root);
    if (rename(a, b) == 0) {
        int fd = open(a, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0640);
        if (fd >= 0) {
            close(c->logfd);
            c->logfd = fd;
        }
    }
}

void core_log(core *c, const char *level, const char *fmt, ...)
{
    char msg[2048], line[2400];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    struct tm tm;
    gmtime_r(&ts.tv_sec, &tm);
    size_t o = strftime(line, sizeof line, "%Y-%m-%dT%H:%M:%S", &tm);
    o += (size_t)snprintf(line + o, sizeof line - o, ".%03ldZ %s ", ts.tv_nsec / 1000000L, level);
    for (const unsigned char *p = (const unsigned char *)msg; *p && o + 6 < sizeof line; p++) {
        if (*p < 0x20 || *p == 0x7f)
            o += (size_t)snprintf(line + o, sizeof line - o, "\\x%02x", *p);
        else
            line[o++] = (char)*p;
    }
    line[o++] = '\n';
    if (!c->o.quiet)
        g_dummy = (int)write(2, line, o);
    if (c->logfd >= 0) {
        g_dummy = (int)write(c->logfd, line, o);
        log_rotate(c);
    }
}

int core_watch(core *c, int fd, void *tag, uint32_t events)
{
    struct epoll_event e = {.events = events, .data.ptr = tag};
    if (epoll_ctl(c->ep, EPOLL_CTL_ADD, fd, &e) == 0)
        return 0;
    if (errno == EEXIST)
        return epoll_ctl(c->ep, EPOLL_CTL_MOD, fd, &e);
    return -1;
}

void core_unwatch(core *c, int fd)
{
    epoll_ctl(c->ep, EPOLL_CTL_DEL, fd, NULL);
}

/* ---- start ---- */

static int mkdir_p(const char *path, mode_t mode)
{
    char buf[1200];
    if (snprintf(buf, sizeof buf, "%s", path) >= (int)sizeof buf) {
        errno = ENAMETOOLONG;
        return -1;
    }
    for (char *p = buf + 1; *p; p++) {
        if (*p != '/')
            continue;
        *p = 0;
        if (mkdir(buf, mode) != 0 && errno != EEXIST)
            return -1;
        *p = '/';
    }
    if (mkdir(buf, mode) != 0 && errno != EEXIST)
        return -1;
    return 0;
}

/* The lock: ROOT/run/core.lock, flock'd for the core's life, holding its pid. */
static int take_lock(core *c)
{
    c->lockfd = open(c->lock_path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (c->lockfd < 0) {
        core_log(c, "ERROR", "%s: %s", c->lock_path, strerror(errno));
        return -1;
    }
    if (flock(c->lockfd, LOCK_EX | LOCK_NB) != 0) {
        char buf[32] = {0};
        ssize_t n = pread(c->lockfd, buf, sizeof buf - 1, 0);
        long pid = n > 0 ? strtol(buf, NULL, 10) : 0;
        core_log(c, "ERROR", "core already running (pid %ld) for %s", pid, c->root);
        return -1;
    }
    char buf[32];
    int n = snprintf(buf, sizeof buf, "%ld\n", (long)getpid());
    if (ftruncate(c->lockfd, 0) != 0 || pwrite(c->lockfd, buf, (size_t)n, 0) != n)
        core_log(c, "WARN", "%s: cannot write the pid: %s", c->lock_path, strerror(errno));
    return 0;
}

static int open_socket(core *c)
{
    struct sockaddr_un a = {.sun_family = AF_UNIX};
    if (strlen(c->sock_path) >= sizeof a.sun_path) {
        core_log(c, "ERROR", "%s: socket path too long (max %zu bytes)", c->sock_path,
                 sizeof a.sun_path - 1);
        return -1;
    }
    strcpy(a.sun_path, c->sock_path);
    /* we hold the lock: whatever socket is there belongs to a dead core */
    if (unlink(c->sock_path) == 0)
        core_log(c, "INFO", "replaced the stale socket %s", c->sock_path);
    c->lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (c->lfd < 0 || bind(c->lfd, (struct sockaddr *)&a, sizeof a) != 0 ||
        chmod(c->sock_path, 0666) != 0 || listen(c->lfd, 128) != 0) {
        core_log(c, "ERROR", "%s: %s", c->sock_path, strerror(errno));
        return -1;
    }
    return 0;
}

static int setup(core *c)
{
    char dir[1200];
    const char *subs[] = {"run", "logs", "logs/functions", "functions"};
    for (size_t i = 0; i < sizeof subs / sizeof subs[0]; i++) {
        snprintf(dir, sizeof dir, "%s/%s", c->root, subs[i]);
        if (mkdir_p(dir, 0755) != 0) {
            core_log(c, "ERROR", "%s: %s", dir, strerror(errno));
            return -1;
        }
    }
    snprintf(dir, sizeof dir, "%s/logs/core.log", c->root);
    c->logfd = open(dir, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0640);
    if (c->logfd < 0)
        core_log(c, "WARN", "%s: %s (logging to stderr only)", dir, strerror(errno));
    if (take_lock(c) != 0)
        return -1;
    int swept = run_cgroup_sweep();
    if (swept)
        core_log(c, "INFO", "removed %d empty memory cgroup(s) left by a killed core", swept);

    sigset_t set;
    core_signals(&set);
    c->ep = epoll_create1(EPOLL_CLOEXEC);
    c->sfd = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
    c->tfd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
    if (c->ep < 0 || c->sfd < 0 || c->tfd < 0) {
        core_log(c, "ERROR", "epoll/signalfd/timerfd: %s", strerror(errno));
        return -1;
    }
    if (open_socket(c) != 0)
        return -1;
    c->ev_listen = EV_LISTEN;
    c->ev_signal = EV_SIGNAL;
    c->ev_timer = EV_TIMER;
    if (core_watch(c, c->lfd, &c->ev_listen, EPOLLIN) || core_watch(c, c->sfd, &c->ev_signal, EPOLLIN) ||
        core_watch(c, c->tfd, &c->ev_timer, EPOLLIN)) {
        core_log(c, "ERROR", "epoll_ctl: %s", strerror(errno));
        return -1;
    }
    return 0;
}

static void arm_timer(core *c, uint64_t next)
{
    if (next == c->armed_ms)
        return;
    c->armed_ms = next;
    struct itimerspec its = {0};
    if (next != UINT64_MAX) {
        if (next == 0)
            next = 1;
        its.it_value.tv_sec = (time_t)(next / 1000);
        its.it_value.tv_nsec = (long)(next % 1000) * 1000000L;
    }
    timerfd_settime(c->tfd, TFD_TIMER_ABSTIME, &its, NULL);
}

static void on_signals(core *c)
{
    struct signalfd_siginfo si;
    while (read(c->sfd, &si, sizeof si) == (ssize_t)sizeof si) {
        if (si.ssi_signo == SIGCHLD) {
            int ws;
            pid_t pid;
            while ((pid = waitpid(-1, &ws, WNOHANG)) > 0)
                sup_reaped(c, pid, ws);
        } else if (si.ssi_signo == SIGTERM || si.ssi_signo == SIGINT) {
            if (!c->stopping) {
                core_log(c, "INFO", "%s: stopping %d function process(es)",
                         si.ssi_signo == SIGTERM ? "SIGTERM" : "SIGINT", sup_n_procs(c));
                c->stopping = 1;
                c->stop_deadline_ms = core_now_ms() + c->o.grace_ms + 2000;
                sup_stop_all(c);
            }
        } else if (si.ssi_signo == SIGHUP) {
            char msg[256];
            core_log(c, "INFO", "SIGHUP: re-reading %s", c->group_path);
            sup_apply(c, c->group_path, 0, msg, sizeof msg);
        }
    }
}

static void loop(core *c)
{
    struct epoll_event ev[32];
    for (;;) {
        uint64_t now = core_now_ms(), next = UINT64_MAX;
        sup_tick(c, now, &next);
        if (c->stopping) {
            if (sup_n_procs(c) == 0)
                return;
            if (now >= c->stop_deadline_ms) {
                core_log(c, "WARN", "%d process(es) did not exit after SIGKILL; leaving them",
                         sup_n_procs(c));
                return;
            }
            if (c->stop_deadline_ms < next)
                next = c->stop_deadline_ms;
        }
        arm_timer(c, next);
        int n = epoll_wait(c->ep, ev, 32, -1);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            core_log(c, "ERROR", "epoll_wait: %s", strerror(errno));
            return;
        }
        for (int i = 0; i < n; i++) {
            int kind = *(int *)ev[i].data.ptr;
            switch (kind) {
            case EV_LISTEN:
                conn_accept(c);
                break;
            case EV_SIGNAL:
                on_signals(c);
                break;
            case EV_TIMER: {
                uint64_t x;
                g_dummy = (int)read(c->tfd, &x, sizeof x);
                c->armed_ms = 0;
                break;
            }
            case EV_CONN:
                conn_event(c, (core_conn *)ev[i].data.ptr, ev[i].events);
                break;
            case EV_PIPE:
                sup_pipe_event(c, (core_proc *)ev[i].data.ptr);
                break;
            }
        }
        sup_free_dead(c);
        /* connections closed in this batch are freed only now: an event later
         * in the batch may still point at them */
        core_conn **pp = &c->conns;
        while (*pp) {
            core_conn *k = *pp;
            if (k->fd < 0) {
                *pp = k->next;
                free(k);
            } else {
                pp = &k->next;
            }
        }
        conn_drain_cloud(c);
    }
}

int edgeml_core_run(const edgeml_core_opts *o)
{
    core *c = calloc(1, sizeof *c);
    if (!c)
        return 1;
    c->o = *o;
    c->ep = c->lfd = c->sfd = c->tfd = c->lockfd = c->logfd = -1;
    int rc = 1;
    sigset_t old;
    sigemptyset(&old);
    int masked = 0;
    if (!o->root || !*o->root || strlen(o->root) >= sizeof c->root - 64) {
        core_log(c, "ERROR", "core: --root is required (at most %zu bytes)", sizeof c->root - 64);
        free(c);
        return 1;
    }
    snprintf(c->root, sizeof c->root, "%s", o->root);
    size_t rl = strlen(c->root);
    while (rl > 1 && c->root[rl - 1] == '/')
        c->root[--rl] = 0;
    snprintf(c->sock_path, sizeof c->sock_path, "%s/%s", c->root, IPC_SOCK_NAME);
    snprintf(c->lock_path, sizeof c->lock_path, "%s/run/core.lock", c->root);
    snprintf(c->group_path, sizeof c->group_path, "%s/group.json", c->root);
    if (!c->o.max_work_items)
        c->o.max_work_items = 1024;
    if (!c->o.max_concurrency)
        c->o.max_concurrency = 1;
    if (!c->o.backoff_ms)
        c->o.backoff_ms = 1;
    if (o->has_run_as) {
        c->run_uid = o->run_as_uid;
        c->run_gid = o->run_as_gid;
    } else if (geteuid() == 0) {
        c->run_uid = 65534;
        c->run_gid = 65534;
    } else {
        c->run_uid = geteuid();
        c->run_gid = getegid();
    }
    if ((c->run_uid == 0 || c->run_gid == 0) && !o->allow_run_as_root) {
        core_log(c, "ERROR", "core: --run-as %u:%u is root; add --allow-run-as-root",
                 (unsigned)c->run_uid, (unsigned)c->run_gid);
        free(c);
        return 1;
    }
    c->start_ms = core_now_ms();
    sigset_t set;
    core_signals(&set);
    sigprocmask(SIG_BLOCK, &set, &old);
    masked = 1;
    signal(SIGPIPE, SIG_IGN);
    if (setup(c) != 0)
        goto out;
    c->rt = rt_new(NULL, 0, NULL, 0, c->o.max_work_items, RT_DEFAULT_MAX_BYTES, NULL);
    if (!c->rt) {
        core_log(c, "ERROR", "core: out of memory");
        goto out;
    }
    c->rt->held = sup_held;
    c->rt->held_ctx = c;
    core_log(c, "INFO", "edgeml core started (pid %ld) root %s socket %s", (long)getpid(), c->root,
             c->sock_path);
    char msg[256];
    sup_apply(c, c->group_path, 1, msg, sizeof msg);
    loop(c);
    core_log(c, "INFO", "edgeml core stopped");
    rc = 0;
out:
    sup_free_all(c);
    while (c->conns) {
        core_conn *k = c->conns;
        c->conns = k->next;
        if (k->fd >= 0)
            conn_close(c, k);
        free(k);
    }
    rt_free(c->rt);
    if (c->doc)
        grp_doc_free(c->doc);
    if (c->lfd >= 0) {
        close(c->lfd);
        unlink(c->sock_path);
    }
    if (c->ep >= 0)
        close(c->ep);
    if (c->sfd >= 0)
        close(c->sfd);
    if (c->tfd >= 0)
        close(c->tfd);
    if (c->lockfd >= 0)
        close(c->lockfd);
    if (c->logfd >= 0)
        close(c->logfd);
    if (masked)
        sigprocmask(SIG_SETMASK, &old, NULL);
    free(c);
    return rc;
}
