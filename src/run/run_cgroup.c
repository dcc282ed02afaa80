/* The memory cgroup of a function: v2 where the unified hierarchy has the
 * memory controller, else v1. Ours are made under the core's own cgroup
 * (so a core that was given a delegated or limited cgroup stays inside it). */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "run_int.h"

/* Reads a small file into buf (NUL-terminated); bytes read or -1. */
static ssize_t read_small(const char *path, char *buf, size_t cap) {
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return -1;
    size_t got = 0;
    while (got + 1 < cap) {
        ssize_t n = read(fd, buf + got, cap - 1 - got);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) break;
        got += (size_t)n;
    }
    close(fd);
    buf[got] = '\0';
    return (ssize_t)got;
}

static int write_str(const char *path, const char *s) {
    int fd = open(path, O_WRONLY | O_CLOEXEC);
    if (fd < 0) return -1;
    size_t len = strlen(s);
    ssize_t n;
    do n = write(fd, s, len); while (n < 0 && errno == EINTR);
    int e = errno;
    close(fd);
    if (n < 0) {
        errno = e;
        return -1;
    }
    return (size_t)n == len ? 0 : (errno = EIO, -1);
}

/* 1 if comma/space separated list has word. */
static int has_word(const char *list, const char *word, const char *seps) {
    size_t wl = strlen(word);
    const char *p = list;
    while (*p) {
        size_t n = strcspn(p, seps);
        if (n == wl && !strncmp(p, word, wl)) return 1;
        p += n;
        if (*p) p++;
    }
    return 0;
}

/* Our cgroup path in the hierarchy: v2 ("0::/x") or the v1 line whose
 * controller list has memory. */
static int own_path(int v2, char *out, size_t cap) {
    FILE *f = fopen("/proc/self/cgroup", "re");
    if (!f) return -1;
    char line[1024];
    int found = -1;
    while (fgets(line, sizeof line, f)) {
        line[strcspn(line, "\n")] = '\0';
        char *c1 = strchr(line, ':');
        char *c2 = c1 ? strchr(c1 + 1, ':') : NULL;
        if (!c2) continue;
        *c2 = '\0';
        int match = v2 ? (!strcmp(line, "0") && c1[1] == '\0') : has_word(c1 + 1, "memory", ",");
        if (match && strlen(c2 + 1) < cap) {
            snprintf(out, cap, "%s", c2 + 1);
            found = 0;
            break;
        }
    }
    fclose(f);
    return found;
}

int run_cg_locate(int *version, char *dir, size_t cap, char *why, size_t wcap) {
    FILE *f = fopen("/proc/self/mountinfo", "re");
    if (!f) {
        snprintf(why, wcap, "/proc/self/mountinfo: %s", strerror(errno));
        return -1;
    }
    char line[4096], v1mnt[512] = "", v1root[512] = "", v2mnt[512] = "", v2root[512] = "";
    while (fgets(line, sizeof line, f)) {
        char root[512], mnt[512];
        if (sscanf(line, "%*s %*s %*s %511s %511s", root, mnt) != 2) continue;
        char *dash = strstr(line, " - ");
        if (!dash) continue;
        char fstype[64], opts[1024];
        if (sscanf(dash + 3, "%63s %*s %1023s", fstype, opts) != 2) continue;
        if (!strcmp(fstype, "cgroup2") && !v2mnt[0]) {
            snprintf(v2mnt, sizeof v2mnt, "%s", mnt);
            snprintf(v2root, sizeof v2root, "%s", root);
        } else if (!strcmp(fstype, "cgroup") && has_word(opts, "memory", ",") && !v1mnt[0]) {
            snprintf(v1mnt, sizeof v1mnt, "%s", mnt);
            snprintf(v1root, sizeof v1root, "%s", root);
        }
    }
    fclose(f);
    char path[512], buf[512];
    for (int v = 2; v >= 1; v--) {
        const char *mnt = v == 2 ? v2mnt : v1mnt, *root = v == 2 ? v2root : v1root;
        if (!mnt[0] || own_path(v == 2, path, sizeof path) < 0) continue;
        /* the mount may show a sub-tree (a container's own cgroup) */
        const char *rel = path;
        size_t rl = strlen(root);
        if (strcmp(root, "/") && !strncmp(path, root, rl) && (path[rl] == '/' || !path[rl]))
            rel = path + rl;
        char d[1024];
        int n = snprintf(d, sizeof d, "%s%s", mnt, strcmp(rel, "/") ? rel : "");
        if (n < 0 || (size_t)n >= sizeof d) continue;
        if (v == 2) {
            char cf[1100];
            snprintf(cf, sizeof cf, "%s/cgroup.controllers", d);
            if (read_small(cf, buf, sizeof buf) < 0 || !has_word(buf, "memory", " \n")) continue;
        } else {
            char lf[1100];
            snprintf(lf, sizeof lf, "%s/memory.limit_in_bytes", d);
            if (access(lf, F_OK) < 0) continue;
        }
        if ((size_t)n >= cap) {
            snprintf(why, wcap, "memory cgroup path %s is too long", d);
            return -1;
        }
        memcpy(dir, d, (size_t)n + 1);
        *version = v;
        return 0;
    }
    snprintf(why, wcap, "no memory cgroup (neither a cgroup2 hierarchy with the memory controller "
                        "nor a v1 memory hierarchy is mounted)");
    return -1;
}

static int cg_file(const run_proc *p, const char *name, char *out, size_t cap) {
    int n = snprintf(out, cap, "%s/%s", p->cgroup, name);
    return (n < 0 || (size_t)n >= cap) ? -1 : 0;
}

int run_cg_create(run_proc *p, const char *id, pid_t pid, uint64_t bytes, char *err, size_t cap) {
    int v;
    char base[512], why[256];
    if (run_cg_locate(&v, base, sizeof base, why, sizeof why) < 0) {
        snprintf(err, cap, "memory limit: %s", why);
        return -1;
    }
    if (v == 2) {
        /* children of base need the controller enabled in base */
        char sc[600], cur[512];
        snprintf(sc, sizeof sc, "%s/cgroup.subtree_control", base);
        if (read_small(sc, cur, sizeof cur) < 0 || !has_word(cur, "memory", " \n")) {
            if (write_str(sc, "+memory") < 0) {
                snprintf(err, cap, "memory limit: enable the memory controller in %s: %s", sc,
                         strerror(errno));
                return -1;
            }
        }
    }
    char name[96];
    int k = snprintf(name, sizeof name, "edgeml-%ld-", (long)pid);
    for (const char *s = id; *s && (size_t)k + 1 < sizeof name; s++) {
        char c = *s;
        int ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                 c == '-' || c == '_' || c == '.';
        name[k++] = ok ? c : '_';
    }
    name[k] = '\0';
    int n = snprintf(p->cgroup, sizeof p->cgroup, "%s/%s", base, name);
    if (n < 0 || (size_t)n >= sizeof p->cgroup) {
        snprintf(err, cap, "memory limit: cgroup path under %s is too long", base);
        p->cgroup[0] = '\0';
        return -1;
    }
    if (mkdir(p->cgroup, 0755) < 0) {
        snprintf(err, cap, "memory limit: mkdir %s: %s", p->cgroup, strerror(errno));
        p->cgroup[0] = '\0';
        return -1;
    }
    p->cg_version = v;
    char f[512], num[32];
    snprintf(num, sizeof num, "%" PRIu64, bytes);
    const char *step = "";
    if (v == 1) {
        step = "memory.limit_in_bytes";
        if (cg_file(p, step, f, sizeof f) < 0 || write_str(f, num) < 0) goto fail;
        step = "memory.memsw.limit_in_bytes"; /* only where the host accounts swap */
        if (cg_file(p, step, f, sizeof f) == 0 && access(f, F_OK) == 0 && write_str(f, num) < 0)
            goto fail;
    } else {
        step = "memory.max";
        if (cg_file(p, step, f, sizeof f) < 0 || write_str(f, num) < 0) goto fail;
        step = "memory.swap.max";
        if (cg_file(p, step, f, sizeof f) == 0 && access(f, F_OK) == 0 && write_str(f, "0") < 0)
            goto fail;
    }
    step = "cgroup.procs";
    snprintf(num, sizeof num, "%ld", (long)pid);
    if (cg_file(p, step, f, sizeof f) < 0 || write_str(f, num) < 0) goto fail;
    p->memory_bytes = bytes;
    return 0;
fail:
    snprintf(err, cap, "memory limit: write %s/%s: %s", p->cgroup, step, strerror(errno));
    rmdir(p->cgroup);
    p->cgroup[0] = '\0';
    p->cg_version = 0;
    return -1;
}

static long field(const char *text, const char *key) {
    size_t kl = strlen(key);
    for (const char *l = text; l && *l; l = strchr(l, '\n'), l = l ? l + 1 : NULL) {
        if (!strncmp(l, key, kl) && l[kl] == ' ') return strtol(l + kl + 1, NULL, 10);
    }
    return -1;
}

int run_cg_oom_killed(const run_proc *p) {
    if (!p->cgroup[0]) return 0;
    char f[512], buf[1024];
    if (p->cg_version == 2) {
        if (cg_file(p, "memory.events", f, sizeof f) < 0 || read_small(f, buf, sizeof buf) < 0)
            return 0;
        return field(buf, "oom_kill") > 0;
    }
    if (cg_file(p, "memory.oom_control", f, sizeof f) < 0 || read_small(f, buf, sizeof buf) < 0)
        return 0;
    long k = field(buf, "oom_kill");
    if (k >= 0) return k > 0;
    return field(buf, "under_oom") > 0; /* kernels before 4.13 have no counter */
}

void run_cg_kill(const run_proc *p) {
    if (!p->cgroup[0]) return;
    char f[512], buf[4096];
    if (p->cg_version == 2 && cg_file(p, "cgroup.kill", f, sizeof f) == 0 && write_str(f, "1") == 0)
        return;
    if (cg_file(p, "cgroup.procs", f, sizeof f) < 0 || read_small(f, buf, sizeof buf) < 0) return;
    for (char *s = buf; *s;) {
        char *e;
        long pid = strtol(s, &e, 10);
        if (e == s) break;
        if (pid > 1) kill((pid_t)pid, SIGKILL);
        s = e;
        while (*s == '\n') s++;
    }
}

int run_cg_remove(run_proc *p) {
    if (!p->cgroup[0]) return 0;
    for (int i = 0; i < 40; i++) {
        if (rmdir(p->cgroup) == 0 || errno == ENOENT) {
            p->cgroup[0] = '\0';
            p->cg_version = 0;
            return 0;
        }
        if (errno != EBUSY) return -1;
        run_cg_kill(p);
        struct timespec ts = {0, 5 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    errno = EBUSY;
    return -1;
}

/* The cgroups of a core that was killed (SIGKILL, power loss) stay behind,
 * empty once its functions died with it (PR_SET_PDEATHSIG). Removes every
 * edgeml-<pid>-<id> directory under the core's cgroup that holds no process
 * and whose pid is gone. */
int run_cgroup_sweep(void) {
    int v;
    char base[512], why[256];
    if (run_cg_locate(&v, base, sizeof base, why, sizeof why) < 0) return 0;
    DIR *d = opendir(base);
    if (!d) return 0;
    int removed = 0;
    struct dirent *de;
    while ((de = readdir(d))) {
        char *end;
        if (strncmp(de->d_name, "edgeml-", 7) != 0) continue;
        long pid = strtol(de->d_name + 7, &end, 10);
        if (end == de->d_name + 7 || *end != '-' || pid <= 0) continue;
        if (kill((pid_t)pid, 0) == 0 || errno != ESRCH) continue; /* alive (or not ours to ask) */
        char path[1024], procs[1100], buf[64];
        int n = snprintf(path, sizeof path, "%s/%s", base, de->d_name);
        if (n < 0 || (size_t)n >= sizeof path) continue;
        snprintf(procs, sizeof procs, "%s/cgroup.procs", path);
        if (read_small(procs, buf, sizeof buf) != 0) continue; /* unreadable or not empty */
        if (rmdir(path) == 0) removed++;
    }
    closedir(d);
    return removed;
}
