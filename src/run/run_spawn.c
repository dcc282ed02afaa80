/* Starting a function: fork (or clone into new namespaces), a "go" pipe so
 * the parent can put the child in its cgroup before anything runs, and a
 * CLOEXEC pipe on which the child reports a failed step (EOF = exec'd). */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "run_int.h"

typedef struct child_msg {
    int err;
    char text[400];
} child_msg;

/* In a child: report why it cannot go on, then leave. */
__attribute__((format(printf, 2, 3), noreturn)) static void child_fail(int fd, const char *fmt, ...) {
    child_msg m;
    memset(&m, 0, sizeof m);
    m.err = errno;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(m.text, sizeof m.text, fmt, ap);
    va_end(ap);
    ssize_t n;
    do n = write(fd, &m, sizeof m); while (n < 0 && errno == EINTR);
    _exit(127);
}

static void reset_signals(void) {
    sigset_t none;
    sigemptyset(&none);
    for (int sig = 1; sig < NSIG; sig++) {
        if (sig != SIGKILL && sig != SIGSTOP) signal(sig, SIG_DFL);
    }
    sigprocmask(SIG_SETMASK, &none, NULL);
}

static int fd_high(int fd) {
    return fcntl(fd, F_DUPFD_CLOEXEC, 3);
}

/* 0 = /dev/null, 1 and 2 = out (or /dev/null), every other fd but keep closed. */
static int child_stdio(const run_spec *s, int *keep, char *why, size_t cap) {
    int k = fd_high(*keep);
    if (k < 0) return snprintf(why, cap, "dup: %s", strerror(errno)), -1;
    *keep = k;
    int nul = open("/dev/null", O_RDWR | O_CLOEXEC);
    if (nul < 0 || (nul = fd_high(nul)) < 0) return snprintf(why, cap, "open /dev/null: %s", strerror(errno)), -1;
    int out = s->out_fd >= 0 ? fd_high(s->out_fd) : nul;
    if (out < 0) return snprintf(why, cap, "out_fd %d: %s", s->out_fd, strerror(errno)), -1;
    if (dup2(nul, 0) < 0 || dup2(out, 1) < 0 || dup2(out, 2) < 0)
        return snprintf(why, cap, "dup2: %s", strerror(errno)), -1;
    if (k > 3 && syscall(SYS_close_range, 3u, (unsigned)k - 1, 0u) < 0) {
        for (int fd = 3; fd < k; fd++) close(fd);
    }
    if (syscall(SYS_close_range, (unsigned)k + 1, ~0u, 0u) < 0) {
        long max = sysconf(_SC_OPEN_MAX);
        if (max < 0 || max > 65536) max = 65536;
        for (int fd = k + 1; fd < max; fd++) close(fd);
    }
    return 0;
}

/* The function process itself: credentials, then exec. */
__attribute__((noreturn)) static void exec_function(const run_spec *s, int errw) {
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (geteuid() == 0) {
        gid_t g[256]; /* check_spec bounds n_groups; two resources often share an owner */
        size_t ng = 0;
        for (size_t i = 0; i < s->n_groups; i++) {
            size_t j = 0;
            while (j < ng && g[j] != s->groups[i]) j++;
            if (j == ng) g[ng++] = s->groups[i];
        }
        if (setgroups(ng, g) < 0) child_fail(errw, "setgroups: %s", strerror(errno));
        if (setgid(s->gid) < 0) child_fail(errw, "setgid %u: %s", (unsigned)s->gid, strerror(errno));
        if (setuid(s->uid) < 0) child_fail(errw, "setuid %u: %s", (unsigned)s->uid, strerror(errno));
    }
    if (s->container) prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0);
    umask(027);
    execve(s->exe, s->argv, s->envp);
    child_fail(errw, "exec %s: %s", s->exe, strerror(errno));
}

static void init_on_signal(int sig) {
    (void)sig;
}

/* pid 1 of the container: forwards termination signals to the function
 * (pid 2), reaps everything, leaves with the function's status. */
__attribute__((noreturn)) static void container_init(const run_spec *s, int errw) {
    static const int fwd[] = {SIGTERM, SIGINT, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2, SIGCHLD};
    sigset_t set;
    sigemptyset(&set);
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = init_on_signal; /* pid 1 drops signals it has no handler for */
    for (size_t i = 0; i < sizeof fwd / sizeof *fwd; i++) {
        sigaction(fwd[i], &sa, NULL);
        sigaddset(&set, fwd[i]);
    }
    sigprocmask(SIG_BLOCK, &set, NULL);
    pid_t fn = fork();
    if (fn < 0) child_fail(errw, "fork the function: %s", strerror(errno));
    if (fn == 0) {
        reset_signals();
        exec_function(s, errw);
    }
    close(errw);
    for (;;) {
        siginfo_t si;
        int sig = sigwaitinfo(&set, &si);
        if (sig < 0) continue;
        if (sig != SIGCHLD) {
            kill(fn, sig);
            continue;
        }
        int st;
        pid_t w;
        while ((w = waitpid(-1, &st, WNOHANG)) > 0) {
            if (w != fn) continue;
            if (WIFEXITED(st)) _exit(WEXITSTATUS(st));
            _exit(128 + (WIFSIGNALED(st) ? WTERMSIG(st) : 0));
        }
    }
}

/* Everything the child does; never returns. */
__attribute__((noreturn)) static void child_main(const run_spec *s, int errw, int gor,
                                                 const char *stage, const char *fdir,
                                                 const run_bind **order) {
    char why[360];
    reset_signals();
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    char go;
    ssize_t n;
    do n = read(gor, &go, 1); while (n < 0 && errno == EINTR);
    if (n != 1) _exit(127); /* the parent gave up */
    close(gor);
    if (child_stdio(s, &errw, why, sizeof why) < 0) child_fail(errw, "%s", why);
    if (s->container) {
        if (run_container_setup(s, stage, order, why, sizeof why) < 0) child_fail(errw, "%s", why);
        container_init(s, errw);
    }
    if (setsid() < 0) child_fail(errw, "setsid: %s", strerror(errno));
    if (chdir(fdir) < 0) child_fail(errw, "chdir %s: %s", fdir, strerror(errno));
    exec_function(s, errw);
}

/* ---- NoContainer: the function's directory and its resource links ---- */

typedef struct undo {
    char prefix[PATH_MAX];
    char **paths;  /* relative to ROOT, in the order made */
    int *dirs;
    size_t n, cap;
    int oom;
} undo;

static void undo_add(undo *u, const char *rel, int dir) {
    if (u->n == u->cap) {
        size_t nc = u->cap ? u->cap * 2 : 16;
        char **np = realloc(u->paths, nc * sizeof *np);
        if (!np) {
            u->oom = 1;
            return;
        }
        u->paths = np;
        int *nd = realloc(u->dirs, nc * sizeof *nd);
        if (!nd) {
            u->oom = 1;
            return;
        }
        u->dirs = nd;
        u->cap = nc;
    }
    size_t len = strlen(u->prefix) + strlen(rel) + 2;
    char *p = malloc(len);
    if (!p) {
        u->oom = 1;
        return;
    }
    snprintf(p, len, "%s%s%s", u->prefix, u->prefix[0] ? "/" : "", rel);
    u->paths[u->n] = p;
    u->dirs[u->n++] = dir;
}

static void undo_made_dir(void *ctx, const char *rel) {
    undo_add(ctx, rel, 1);
}

static void undo_run(undo *u, int rootfd) {
    for (size_t i = u->n; i-- > 0;) unlinkat(rootfd, u->paths[i], u->dirs[i] ? AT_REMOVEDIR : 0);
}

static void undo_free(undo *u) {
    for (size_t i = 0; i < u->n; i++) free(u->paths[i]);
    free(u->paths);
    free(u->dirs);
}

/* ROOT/functions/<Id>/ and a symlink at each bind's destination. */
static int plain_prepare(const run_spec *s, int rootfd, undo *u, char *err, size_t cap) {
    int root = geteuid() == 0;
    const char *id = s->function_id;
    u->prefix[0] = '\0';
    int ffd = run_mkpath(rootfd, "functions", 1, 0755, (uid_t)-1, 0, NULL, undo_made_dir, u);
    if (ffd < 0) return snprintf(err, cap, "function %s: %s/functions: %s", id, s->root, strerror(errno)), -1;
    snprintf(u->prefix, sizeof u->prefix, "functions");
    int dfd = run_mkpath(ffd, id, 1, 0750, root ? s->uid : (uid_t)-1, s->gid, NULL, undo_made_dir, u);
    int e = errno;
    if (dfd >= 0 && root && fchownat(ffd, id, s->uid, s->gid, AT_SYMLINK_NOFOLLOW) < 0) {
        e = errno; /* an existing dir follows a changed RunAs */
        close(dfd);
        dfd = -1;
    }
    close(ffd);
    if (dfd < 0) return snprintf(err, cap, "function %s: %s/functions/%s: %s", id, s->root, id, strerror(e)), -1;
    snprintf(u->prefix, sizeof u->prefix, "functions/%s", id);
    int rc = 0;
    char cwd[PATH_MAX], abs[PATH_MAX * 2];
    for (size_t i = 0; i < s->n_binds && !rc; i++) {
        const run_bind *b = &s->binds[i];
        const char *leaf = NULL, *what = NULL;
        int pfd = run_mkpath(dfd, b->dst, 0, 0750, root ? s->uid : (uid_t)-1, s->gid, &leaf,
                             undo_made_dir, u);
        if (pfd < 0) {
            what = strerror(errno);
        } else {
            const char *target = b->src;
            if (b->src[0] != '/') { /* a link is read from its own directory: make it absolute */
                if (!getcwd(cwd, sizeof cwd)) cwd[0] = '\0';
                snprintf(abs, sizeof abs, "%s/%s", cwd, b->src);
                target = abs;
            }
            struct stat st;
            char tmp[64];
            snprintf(tmp, sizeof tmp, ".edgeml-link-%ld", (long)getpid());
            if (symlinkat(target, pfd, leaf) == 0) {
                undo_add(u, b->dst + 1, 0);
            } else if (errno != EEXIST) {
                what = strerror(errno);
            } else if (fstatat(pfd, leaf, &st, AT_SYMLINK_NOFOLLOW) < 0 || !S_ISLNK(st.st_mode)) {
                what = "exists and is not a symlink";
            } else { /* an older link: replaced in one rename */
                unlinkat(pfd, tmp, 0);
                if (symlinkat(target, pfd, tmp) < 0 || renameat(pfd, tmp, pfd, leaf) < 0) {
                    what = strerror(errno);
                    unlinkat(pfd, tmp, 0);
                }
            }
            close(pfd);
        }
        if (what) {
            snprintf(err, cap, "function %s: link %s/%s%s -> %s: %s", id, s->root, u->prefix, b->dst,
                     b->src, what);
            rc = -1;
        }
    }
    close(dfd);
    if (!rc && u->oom) {
        snprintf(err, cap, "function %s: out of memory", id);
        rc = -1;
    }
    return rc;
}

/* ---- run_spawn ---- */

static int check_spec(const run_spec *s, char *err, size_t cap) {
    if (!s || !s->root || !s->root[0] || !s->function_id || !s->exe || !s->argv || !s->argv[0] ||
        !s->envp)
        return snprintf(err, cap, "run_spawn: incomplete spec (root, function_id, exe, argv, envp)"), -1;
    const char *id = s->function_id;
    size_t il = strlen(id);
    if (il == 0 || il > 128 || strchr(id, '/') || !strcmp(id, ".") || !strcmp(id, ".."))
        return snprintf(err, cap, "function '%.128s': not usable as a directory name", id), -1;
    if (s->n_binds && !s->binds) return snprintf(err, cap, "function %s: binds missing", id), -1;
    if (s->n_groups && !s->groups) return snprintf(err, cap, "function %s: groups missing", id), -1;
    if (s->n_groups > 256) return snprintf(err, cap, "function %s: %zu groups (at most 256)", id, s->n_groups), -1;
    for (size_t i = 0; i < s->n_binds; i++) {
        char why[200];
        const run_bind *b = &s->binds[i];
        if (!b->src || !b->src[0]) return snprintf(err, cap, "function %s: bind %zu has no source", id, i), -1;
        if (run_dst_check(b->dst, why, sizeof why) < 0)
            return snprintf(err, cap, "function %s: bind %s: destination %s", id, b->src, why), -1;
        struct stat st;
        if (stat(b->src, &st) < 0)
            return snprintf(err, cap, "function %s: bind %s -> %s: %s", id, b->src, b->dst, strerror(errno)), -1;
    }
    if (s->container && geteuid() != 0)
        return snprintf(err, cap, "function %s: GreengrassContainer needs root (the core runs as uid %u)",
                        id, (unsigned)geteuid()), -1;
    if (s->container && s->code_dir && access(s->code_dir, F_OK) < 0)
        return snprintf(err, cap, "function %s: code directory %s: %s", id, s->code_dir, strerror(errno)), -1;
    if (s->container && s->socket_path && access(s->socket_path, F_OK) < 0)
        return snprintf(err, cap, "function %s: core socket %s: %s", id, s->socket_path, strerror(errno)), -1;
    if (geteuid() != 0) {
        if (s->uid != geteuid() || s->gid != getegid())
            return snprintf(err, cap, "function %s: cannot run as %u:%u: the core is not root (it runs as %u:%u)",
                            id, (unsigned)s->uid, (unsigned)s->gid, (unsigned)geteuid(),
                            (unsigned)getegid()), -1;
        gid_t mine[256];
        int n = getgroups(256, mine);
        for (size_t i = 0; i < s->n_groups; i++) {
            int have = s->groups[i] == getegid();
            for (int j = 0; j < n && !have; j++) have = mine[j] == s->groups[i];
            if (!have)
                return snprintf(err, cap, "function %s: cannot add group %u: the core is not root and not in it",
                                id, (unsigned)s->groups[i]), -1;
        }
    }
    return 0;
}

int run_spawn(const run_spec *s, run_proc *p, char *err, size_t cap) {
    if (!p) return snprintf(err, cap, "run_spawn: no run_proc"), -1;
    memset(p, 0, sizeof *p);
    p->pid = -1;
    if (check_spec(s, err, cap) < 0) return -1;
    const char *id = s->function_id;

    char stage[PATH_MAX], fdir[PATH_MAX];
    stage[0] = fdir[0] = '\0';
    undo u;
    memset(&u, 0, sizeof u);
    int rootfd = -1;
    const run_bind **order = NULL;
    int errp[2] = {-1, -1}, gop[2] = {-1, -1};
    pid_t pid = -1;
    int rc = -1;

    if (s->container) {
        char run[PATH_MAX];
        if (snprintf(run, sizeof run, "%s/run", s->root) >= (int)sizeof run ||
            snprintf(stage, sizeof stage, "%s/run/container", s->root) >= (int)sizeof stage) {
            snprintf(err, cap, "function %s: root path too long", id);
            goto out;
        }
        if ((mkdir(run, 0755) < 0 && errno != EEXIST) || (mkdir(stage, 0700) < 0 && errno != EEXIST)) {
            snprintf(err, cap, "function %s: mkdir %s: %s", id, stage, strerror(errno));
            goto out;
        }
        order = calloc(s->n_binds ? s->n_binds : 1, sizeof *order);
        if (!order) {
            snprintf(err, cap, "function %s: out of memory", id);
            goto out;
        }
    } else {
        if (run_function_dir(s->root, id, fdir, sizeof fdir) < 0) {
            snprintf(err, cap, "function %s: root path too long", id);
            goto out;
        }
        rootfd = open(s->root, O_PATH | O_DIRECTORY | O_CLOEXEC);
        if (rootfd < 0) {
            snprintf(err, cap, "function %s: root %s: %s", id, s->root, strerror(errno));
            goto out;
        }
        if (plain_prepare(s, rootfd, &u, err, cap) < 0) goto out;
    }

    if (pipe2(errp, O_CLOEXEC) < 0 || pipe2(gop, O_CLOEXEC) < 0) {
        snprintf(err, cap, "function %s: pipe: %s", id, strerror(errno));
        goto out;
    }
    if (s->container)
        pid = (pid_t)syscall(SYS_clone, SIGCHLD | CLONE_NEWNS | CLONE_NEWPID | CLONE_NEWIPC | CLONE_NEWUTS,
                             NULL, NULL, NULL, 0);
    else
        pid = fork();
    if (pid < 0) {
        snprintf(err, cap, "function %s: %s: %s", id, s->container ? "clone" : "fork", strerror(errno));
        goto out;
    }
    if (pid == 0) {
        close(errp[0]);
        close(gop[1]);
        child_main(s, errp[1], gop[0], stage, fdir, order);
    }
    close(errp[1]);
    close(gop[0]);
    errp[1] = gop[0] = -1;

    if (s->memory_bytes > 0) {
        char why[400];
        if (run_cg_create(p, id, pid, s->memory_bytes, why, sizeof why) < 0) {
            snprintf(err, cap, "function %s: %s", id, why);
            goto out;
        }
    }
    ssize_t n;
    do n = write(gop[1], "g", 1); while (n < 0 && errno == EINTR);
    close(gop[1]);
    gop[1] = -1;

    child_msg m;
    size_t got = 0;
    while (got < sizeof m) {
        n = read(errp[0], (char *)&m + got, sizeof m - got);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) break;
        got += (size_t)n;
    }
    if (got == 0) { /* the exec closed the pipe */
        p->pid = pid;
        p->container = s->container;
        pid = -1;
        rc = 0;
        goto out;
    }
    if (got < sizeof m) {
        snprintf(err, cap, "function %s: the child died while starting", id);
    } else {
        m.text[sizeof m.text - 1] = '\0';
        snprintf(err, cap, "function %s: %s", id, m.text);
    }
out:
    if (pid > 0) { /* failed after the child was made: it leaves now */
        kill(pid, SIGKILL);
        while (waitpid(pid, NULL, 0) < 0 && errno == EINTR) {}
        run_cg_remove(p);
        memset(p, 0, sizeof *p);
        p->pid = -1;
    }
    if (rc < 0 && rootfd >= 0) undo_run(&u, rootfd);
    undo_free(&u);
    if (rootfd >= 0) close(rootfd);
    for (int i = 0; i < 2; i++) {
        if (errp[i] >= 0) close(errp[i]);
        if (gop[i] >= 0) close(gop[i]);
    }
    free(order);
    return rc;
}

int run_kill(const run_proc *p, int sig) {
    if (!p || p->pid <= 0) {
        errno = ESRCH;
        return -1;
    }
    if (p->container) return kill(p->pid, sig); /* our init forwards, or dies and takes all */
    if (sig == SIGKILL) {
        int r = kill(-p->pid, SIGKILL);
        if (r < 0) r = kill(p->pid, SIGKILL);
        run_cg_kill(p);
        return r;
    }
    return kill(p->pid, sig);
}

int run_proc_finish(run_proc *p, int wstatus, char *why, size_t cap) {
    int oom = run_cg_oom_killed(p);
    int sig = 0;
    if (WIFSIGNALED(wstatus)) sig = WTERMSIG(wstatus);
    else if (p->container && WIFEXITED(wstatus) && WEXITSTATUS(wstatus) > 128 &&
             WEXITSTATUS(wstatus) < 128 + 65)
        sig = WEXITSTATUS(wstatus) - 128; /* our init's report of the function's signal */
    int n;
    if (oom)
        n = snprintf(why, cap, "killed: over its MemorySize of %llu KB (memory cgroup OOM kill)",
                     (unsigned long long)(p->memory_bytes / 1024));
    else if (sig) {
        const char *name = sigabbrev_np(sig);
        n = snprintf(why, cap, "killed by signal %d (SIG%s)", sig, name ? name : "?");
    } else if (WIFEXITED(wstatus))
        n = snprintf(why, cap, "exited with status %d", WEXITSTATUS(wstatus));
    else
        n = snprintf(why, cap, "ended (wait status 0x%x)", (unsigned)wstatus);
    if (p->cgroup[0]) {
        char path[sizeof p->cgroup];
        memcpy(path, p->cgroup, sizeof path);
        if (run_cg_remove(p) < 0 && n >= 0 && (size_t)n < cap)
            snprintf(why + n, cap - (size_t)n, "; cgroup %s not removed: %s", path, strerror(errno));
    }
    p->pid = -1;
    return oom;
}

int run_container_supported(char *why, size_t cap) {
    if (geteuid() != 0) {
        snprintf(why, cap, "needs root");
        return 0;
    }
    int v;
    char dir[512];
    if (run_cg_locate(&v, dir, sizeof dir, why, cap) < 0) return 0;
    if (access("/proc/self/ns/pid", F_OK) < 0 || access("/proc/self/ns/mnt", F_OK) < 0) {
        snprintf(why, cap, "no mount/pid namespaces (/proc/self/ns)");
        return 0;
    }
    return 1;
}
