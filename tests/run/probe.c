/* A test function for tests/run: runs each command given on its command
 * line ("cmd" or "cmd=arg") and prints one line per command
 * ("cmd arg: result"). A path starting with '@' is read under
 * $AWS_GG_RESOURCE_PREFIX. Plain C, no SDK. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static char pathbuf[4096];

static const char *path_of(const char *a) {
    if (a[0] != '@') return a;
    const char *pre = getenv("AWS_GG_RESOURCE_PREFIX");
    snprintf(pathbuf, sizeof pathbuf, "%s%s", pre ? pre : "(unset)", a + 1);
    return pathbuf;
}

static void err_line(const char *cmd, const char *arg) {
    const char *n = strerrorname_np(errno);
    printf("%s %s: ERR %s\n", cmd, arg, n ? n : "?");
}

static int cmp_str(const void *a, const void *b) {
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* sorted names in dir, those that pass keep (NULL: all) */
static void list(const char *cmd, const char *dir, int devs_only) {
    DIR *d = opendir(dir);
    if (!d) {
        err_line(cmd, dir);
        return;
    }
    char *names[512];
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)) && n < 512) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
        if (devs_only) {
            struct stat st;
            if (fstatat(dirfd(d), e->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0) continue;
            if (!S_ISCHR(st.st_mode) && !S_ISBLK(st.st_mode)) continue;
        }
        names[n++] = strdup(e->d_name);
    }
    closedir(d);
    qsort(names, (size_t)n, sizeof *names, cmp_str);
    printf("%s %s:", cmd, dir);
    for (int i = 0; i < n; i++) {
        printf(" %s", names[i]);
        free(names[i]);
    }
    printf("\n");
}

static volatile sig_atomic_t got_term;
static void on_term(int sig) {
    (void)sig;
    got_term = 1;
}

int main(int argc, char **argv) {
    setvbuf(stdout, NULL, _IOLBF, 0);
    for (int i = 1; i < argc; i++) {
        char cmd[64];
        const char *arg = "";
        const char *eq = strchr(argv[i], '=');
        size_t cl = eq ? (size_t)(eq - argv[i]) : strlen(argv[i]);
        if (cl >= sizeof cmd) cl = sizeof cmd - 1;
        memcpy(cmd, argv[i], cl);
        cmd[cl] = '\0';
        if (eq) arg = eq + 1;
        const char *p = path_of(arg);
        if (!strcmp(cmd, "read")) {
            char buf[256] = "";
            int fd = open(p, O_RDONLY);
            ssize_t n = fd < 0 ? -1 : read(fd, buf, sizeof buf - 1);
            if (n < 0) err_line(cmd, arg);
            else {
                buf[n] = '\0';
                buf[strcspn(buf, "\n")] = '\0';
                printf("%s %s: ok %s\n", cmd, arg, buf);
            }
            if (fd >= 0) close(fd);
        } else if (!strcmp(cmd, "write") || !strcmp(cmd, "append")) {
            int fl = !strcmp(cmd, "write") ? O_WRONLY | O_CREAT | O_TRUNC : O_WRONLY | O_APPEND;
            int fd = open(p, fl, 0644);
            if (fd < 0 || write(fd, "written\n", 8) != 8) err_line(cmd, arg);
            else printf("%s %s: ok\n", cmd, arg);
            if (fd >= 0) close(fd);
        } else if (!strcmp(cmd, "exists")) {
            struct stat st;
            if (lstat(p, &st) < 0) err_line(cmd, arg);
            else printf("%s %s: yes\n", cmd, arg);
        } else if (!strcmp(cmd, "ls")) {
            list(cmd, p, 0);
        } else if (!strcmp(cmd, "devs")) {
            list(cmd, "/dev", 1);
        } else if (!strcmp(cmd, "ids")) {
            gid_t g[64];
            int n = getgroups(64, g);
            printf("ids: uid=%u gid=%u groups=", (unsigned)getuid(), (unsigned)getgid());
            for (int k = 0; k < n; k++) printf("%s%u", k ? "," : "", (unsigned)g[k]);
            printf("\n");
        } else if (!strcmp(cmd, "hostname")) {
            char h[256] = "";
            gethostname(h, sizeof h - 1);
            printf("hostname: %s\n", h);
        } else if (!strcmp(cmd, "pids")) {
            printf("pids: pid=%d ppid=%d\n", (int)getpid(), (int)getppid());
        } else if (!strcmp(cmd, "cwd")) {
            char c[4096] = "";
            if (!getcwd(c, sizeof c)) err_line(cmd, arg);
            else printf("cwd: %s\n", c);
        } else if (!strcmp(cmd, "env")) {
            const char *v = getenv(arg);
            printf("env %s: %s\n", arg, v ? v : "(unset)");
        } else if (!strcmp(cmd, "connect")) {
            struct sockaddr_un a = {.sun_family = AF_UNIX};
            snprintf(a.sun_path, sizeof a.sun_path, "%s", p);
            int fd = socket(AF_UNIX, SOCK_STREAM, 0);
            if (fd < 0 || connect(fd, (struct sockaddr *)&a, sizeof a) < 0) err_line(cmd, arg);
            else printf("%s %s: ok\n", cmd, arg);
            if (fd >= 0) close(fd);
        } else if (!strcmp(cmd, "alloc")) {
            long mb = atol(arg);
            for (long k = 0; k < mb; k++) {
                char *m = malloc(1 << 20);
                if (!m) {
                    printf("alloc %s: malloc failed at %ld MB\n", arg, k);
                    return 4;
                }
                memset(m, 1, 1 << 20);
            }
            printf("alloc %s: ok\n", arg);
        } else if (!strcmp(cmd, "waitterm")) {
            struct sigaction sa;
            memset(&sa, 0, sizeof sa);
            sa.sa_handler = on_term;
            sigaction(SIGTERM, &sa, NULL);
            printf("waitterm: ready\n");
            for (int k = 0; k < 1000 && !got_term; k++) usleep(10000);
            printf("waitterm: %s\n", got_term ? "got SIGTERM" : "no signal");
            return got_term ? 0 : 5;
        } else if (!strcmp(cmd, "tree")) {
            for (int k = 0; k < 2; k++) {
                pid_t c = fork();
                if (c == 0) {
                    char a[128];
                    snprintf(a, sizeof a, "sleep=%s", arg);
                    execl("/proc/self/exe", "probe", a, (char *)NULL);
                    _exit(9);
                }
            }
            printf("tree: ready\n");
            sleep(30);
        } else if (!strcmp(cmd, "sleep")) {
            sleep(30);
        } else if (!strcmp(cmd, "exit")) {
            return atoi(arg);
        } else if (!strcmp(cmd, "sig")) {
            signal(atoi(arg), SIG_DFL);
            raise(atoi(arg));
        } else {
            printf("%s: unknown command\n", cmd);
            return 2;
        }
    }
    return 0;
}
