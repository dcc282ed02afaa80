/* Test driver for src/run.
 *   spawn_tool run [options] -- EXE [ARG...]
 *     --root DIR --id ID --container --code DIR --sock PATH --uid N --gid N
 *     --group G (repeat) --bind KIND:SRC:DST[:rw] (KIND r resource, v volume,
 *     d device; repeat) --mem BYTES --env K=V (repeat) --timeout MS
 *   Spawns, prints "spawn: ok" or "spawn: error: <line>" (exit 3), then
 *   waits; lines TERM / INT / KILL on stdin send that signal through
 *   run_kill. At the end: "finish: oom=N why=<line>" (exit 0).
 *   spawn_tool log PATH MAX KEEP CHUNK
 *     copies stdin into a run_log in reads of CHUNK bytes; prints "errors N". */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "run.h"

#define MAXN 64

static int log_main(int argc, char **argv) {
    if (argc != 6) {
        fprintf(stderr, "usage: spawn_tool log PATH MAX KEEP CHUNK\n");
        return 2;
    }
    run_log *l;
    char err[512];
    if (run_log_open(argv[2], strtoull(argv[3], NULL, 10), (unsigned)atoi(argv[4]), &l, err,
                     sizeof err) < 0) {
        printf("log: error: %s\n", err);
        return 3;
    }
    size_t chunk = (size_t)atol(argv[5]);
    if (chunk == 0 || chunk > 65536) chunk = 4096;
    char *buf = malloc(chunk);
    ssize_t n;
    while (buf && (n = read(0, buf, chunk)) > 0) run_log_write(l, buf, (size_t)n);
    printf("errors %llu\n", (unsigned long long)run_log_errors(l));
    run_log_close(l);
    free(buf);
    return 0;
}

static long now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int main(int argc, char **argv) {
    setvbuf(stdout, NULL, _IOLBF, 0);
    if (argc >= 2 && !strcmp(argv[1], "log")) return log_main(argc, argv);
    if (argc < 2 || strcmp(argv[1], "run")) {
        fprintf(stderr, "usage: spawn_tool run [options] -- EXE [ARG...] | spawn_tool log ...\n");
        return 2;
    }
    run_spec s;
    memset(&s, 0, sizeof s);
    s.uid = getuid();
    s.gid = getgid();
    s.out_fd = 1;
    run_bind binds[MAXN];
    gid_t groups[MAXN];
    char *envp[MAXN + 2];
    size_t ne = 0;
    envp[ne++] = "PATH=/usr/bin:/bin";
    long timeout = 20000;
    int i = 2;
    for (; i < argc && strcmp(argv[i], "--"); i++) {
        const char *o = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(o, "--container")) {
            s.container = 1;
            continue;
        }
        if (!v) {
            fprintf(stderr, "%s needs a value\n", o);
            return 2;
        }
        i++;
        if (!strcmp(o, "--root")) s.root = v;
        else if (!strcmp(o, "--id")) s.function_id = v;
        else if (!strcmp(o, "--code")) s.code_dir = v;
        else if (!strcmp(o, "--sock")) s.socket_path = v;
        else if (!strcmp(o, "--uid")) s.uid = (uid_t)strtoul(v, NULL, 10);
        else if (!strcmp(o, "--gid")) s.gid = (gid_t)strtoul(v, NULL, 10);
        else if (!strcmp(o, "--mem")) s.memory_bytes = strtoull(v, NULL, 10);
        else if (!strcmp(o, "--timeout")) timeout = atol(v);
        else if (!strcmp(o, "--group") && s.n_groups < MAXN) groups[s.n_groups++] = (gid_t)strtoul(v, NULL, 10);
        else if (!strcmp(o, "--env") && ne < MAXN) envp[ne++] = (char *)v;
        else if (!strcmp(o, "--bind") && s.n_binds < MAXN) {
            char *c = argv[i], *k = strtok(c, ":"), *src = strtok(NULL, ":"), *dst = strtok(NULL, ":"),
                 *mode = strtok(NULL, ":");
            if (!k || !src || !dst) {
                fprintf(stderr, "--bind KIND:SRC:DST[:rw]\n");
                return 2;
            }
            run_bind *b = &binds[s.n_binds++];
            b->kind = k[0] == 'v' ? RUN_BIND_VOLUME : k[0] == 'd' ? RUN_BIND_DEVICE : RUN_BIND_RESOURCE;
            b->src = src;
            b->dst = dst;
            b->rw = mode && !strcmp(mode, "rw");
        } else {
            fprintf(stderr, "unknown option %s\n", o);
            return 2;
        }
    }
    if (i + 1 >= argc) {
        fprintf(stderr, "missing -- EXE\n");
        return 2;
    }
    envp[ne] = NULL;
    s.exe = argv[i + 1];
    s.argv = argv + i + 1;
    s.envp = envp;
    s.binds = binds;
    s.groups = groups;

    run_proc p;
    char err[1024];
    if (run_spawn(&s, &p, err, sizeof err) < 0) {
        printf("spawn: error: %s\n", err);
        return 3;
    }
    printf("spawn: ok\n");
    long end = now_ms() + timeout;
    int in_open = 1, st = 0;
    char line[64];
    size_t ll = 0;
    for (;;) {
        pid_t w = waitpid(p.pid, &st, WNOHANG);
        if (w == p.pid) break;
        if (now_ms() > end) {
            printf("timeout: killing\n");
            run_kill(&p, SIGKILL);
            end = now_ms() + 100000;
        }
        struct pollfd pf = {.fd = 0, .events = POLLIN};
        if (in_open && poll(&pf, 1, 20) > 0) {
            char c;
            ssize_t n = read(0, &c, 1);
            if (n <= 0) {
                in_open = 0;
                continue;
            }
            if (c != '\n') {
                if (ll + 1 < sizeof line) line[ll++] = c;
                continue;
            }
            line[ll] = '\0';
            ll = 0;
            int sig = !strcmp(line, "TERM") ? SIGTERM : !strcmp(line, "INT") ? SIGINT
                    : !strcmp(line, "KILL") ? SIGKILL : 0;
            if (sig && run_kill(&p, sig) < 0) printf("run_kill: %s\n", strerror(errno));
        } else if (!in_open) {
            usleep(20000);
        }
    }
    char why[512];
    int oom = run_proc_finish(&p, st, why, sizeof why);
    printf("finish: oom=%d why=%s\n", oom, why);
    return 0;
}
