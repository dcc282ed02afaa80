/* The container's file system, built by our init (pid 1 of the new
 * namespaces) before the function starts: a tmpfs root with read-only
 * binds, made on ROOT/run/container inside the child's own mount namespace
 * (the host only ever sees that empty directory), then pivot_root. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "run_int.h"

static const char *const sys_dirs[] = {"usr", "bin", "sbin", "lib", "lib32", "lib64", "libx32", "etc"};
static const char *const dev_nodes[] = {"null", "zero", "full", "random", "urandom"};

#define FAIL(...) (snprintf(why, cap, __VA_ARGS__), -1)

/* Sets attributes on the mount tree whose root fd is; falls back to a
 * remount where mount_setattr(2) is missing (kernels before 5.12). */
static int set_attrs(int fd, int recursive, uint64_t set) {
    struct mount_attr a = {.attr_set = set};
    if (mount_setattr(fd, "", AT_EMPTY_PATH | (recursive ? AT_RECURSIVE : 0), &a, sizeof a) == 0)
        return 0;
    if (errno != ENOSYS) return -1;
    char p[64];
    snprintf(p, sizeof p, "/proc/self/fd/%d", fd);
    struct statvfs sv;
    unsigned long keep = 0;
    if (statvfs(p, &sv) == 0) {
        if (sv.f_flag & ST_NOEXEC) keep |= MS_NOEXEC;
        if (sv.f_flag & ST_NOATIME) keep |= MS_NOATIME;
        if (sv.f_flag & ST_NODIRATIME) keep |= MS_NODIRATIME;
        if (sv.f_flag & ST_RELATIME) keep |= MS_RELATIME;
        if (sv.f_flag & ST_NODEV) keep |= MS_NODEV;
        if (sv.f_flag & ST_NOSUID) keep |= MS_NOSUID;
    }
    unsigned long fl = MS_BIND | MS_REMOUNT | keep;
    if (set & MOUNT_ATTR_RDONLY) fl |= MS_RDONLY;
    if (set & MOUNT_ATTR_NOSUID) fl |= MS_NOSUID;
    if (set & MOUNT_ATTR_NODEV) fl |= MS_NODEV;
    if (set & MOUNT_ATTR_NOEXEC) fl |= MS_NOEXEC;
    return mount(NULL, p, NULL, fl, NULL);
}

/* The mount point for dst under rootfd, made as a directory or an empty
 * file; an O_PATH fd to it, or -1. */
static int mount_point(int rootfd, const char *dst, int dir) {
    if (dir) return run_mkpath(rootfd, dst, 1, 0755, (uid_t)-1, 0, NULL, NULL, NULL);
    const char *leaf = NULL;
    int pfd = run_mkpath(rootfd, dst, 0, 0755, (uid_t)-1, 0, &leaf, NULL, NULL);
    if (pfd < 0) return -1;
    int fd = openat(pfd, leaf, O_PATH | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0 && errno == ENOENT && mknodat(pfd, leaf, S_IFREG | 0644, 0) == 0)
        fd = openat(pfd, leaf, O_PATH | O_NOFOLLOW | O_CLOEXEC);
    int e = errno;
    close(pfd);
    if (fd < 0) {
        errno = e;
        return -1;
    }
    struct stat st;
    if (fstat(fd, &st) < 0 || S_ISLNK(st.st_mode) || S_ISDIR(st.st_mode)) {
        close(fd);
        errno = S_ISDIR(st.st_mode) ? EISDIR : ELOOP;
        return -1;
    }
    return fd;
}

/* Binds host src at dst (relative to the new root); attrs applied to the
 * whole bound tree (MOUNT_ATTR_*). */
static int bind_at(int rootfd, const char *src, const char *dst, uint64_t attrs, char *why,
                   size_t cap) {
    struct stat st;
    if (stat(src, &st) < 0) return FAIL("bind %s -> %s: %s", src, dst, strerror(errno));
    int dir = S_ISDIR(st.st_mode);
    int fd = mount_point(rootfd, dst, dir);
    if (fd < 0) return FAIL("bind %s -> %s: making the mount point: %s", src, dst, strerror(errno));
    char p[64];
    snprintf(p, sizeof p, "/proc/self/fd/%d", fd);
    int r = mount(src, p, NULL, MS_BIND | MS_REC, NULL);
    int e = errno;
    close(fd);
    if (r < 0) return FAIL("bind %s -> %s: %s", src, dst, strerror(e));
    /* again, now that the walk ends on the bound tree's root */
    fd = mount_point(rootfd, dst, dir);
    if (fd < 0 || set_attrs(fd, 1, attrs) < 0) {
        e = errno;
        if (fd >= 0) close(fd);
        return FAIL("bind %s -> %s: setting %s: %s", src, dst,
                    (attrs & MOUNT_ATTR_RDONLY) ? "read-only" : "mount flags", strerror(e));
    }
    close(fd);
    return 0;
}

static int mount_tmpfs(int rootfd, const char *dst, unsigned long flags, const char *opts,
                       char *why, size_t cap) {
    int fd = run_mkpath(rootfd, dst, 1, 0755, (uid_t)-1, 0, NULL, NULL, NULL);
    if (fd < 0) return FAIL("tmpfs %s: %s", dst, strerror(errno));
    char p[64];
    snprintf(p, sizeof p, "/proc/self/fd/%d", fd);
    int r = mount("tmpfs", p, "tmpfs", flags, opts);
    int e = errno;
    close(fd);
    if (r < 0) return FAIL("tmpfs %s: %s", dst, strerror(e));
    return 0;
}

static int cmp_len(const void *a, const void *b) {
    const run_bind *x = *(const run_bind *const *)a, *y = *(const run_bind *const *)b;
    size_t lx = strlen(x->dst), ly = strlen(y->dst);
    return lx < ly ? -1 : lx > ly;
}

int run_container_setup(const run_spec *s, const char *stage, const run_bind **order, char *why,
                        size_t cap) {
    if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0)
        return FAIL("make mounts private: %s", strerror(errno));
    if (mount("tmpfs", stage, "tmpfs", MS_NOSUID | MS_NODEV, "mode=0755,size=4m,nr_inodes=16384") < 0)
        return FAIL("tmpfs root on %s: %s", stage, strerror(errno));
    int rootfd = open(stage, O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (rootfd < 0) return FAIL("open %s: %s", stage, strerror(errno));
    int rc = -1;
    const uint64_t ro = MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV;

    for (size_t i = 0; i < sizeof sys_dirs / sizeof *sys_dirs; i++) {
        char host[32], target[PATH_MAX];
        snprintf(host, sizeof host, "/%s", sys_dirs[i]);
        struct stat st;
        if (lstat(host, &st) < 0) continue;
        if (S_ISLNK(st.st_mode)) {
            ssize_t n = readlink(host, target, sizeof target - 1);
            if (n < 0) {
                (void)FAIL("readlink %s: %s", host, strerror(errno));
                goto out;
            }
            target[n] = '\0';
            if (symlinkat(target, rootfd, sys_dirs[i]) < 0) {
                (void)FAIL("symlink %s: %s", host, strerror(errno));
                goto out;
            }
        } else if (S_ISDIR(st.st_mode)) {
            if (bind_at(rootfd, host, host, ro, why, cap) < 0) goto out;
        }
    }

    /* /dev: a few harmless nodes, then the declared devices */
    if (mount_tmpfs(rootfd, "/dev", MS_NOSUID | MS_NOEXEC, "mode=0755,size=64k", why, cap) < 0)
        goto out;
    for (size_t i = 0; i < sizeof dev_nodes / sizeof *dev_nodes; i++) {
        char host[32];
        snprintf(host, sizeof host, "/dev/%s", dev_nodes[i]);
        if (bind_at(rootfd, host, host, MOUNT_ATTR_NOSUID | MOUNT_ATTR_NOEXEC, why, cap) < 0) goto out;
    }
    static const char *const links[][2] = {
        {"dev/fd", "/proc/self/fd"}, {"dev/stdin", "/proc/self/fd/0"},
        {"dev/stdout", "/proc/self/fd/1"}, {"dev/stderr", "/proc/self/fd/2"}};
    for (size_t i = 0; i < sizeof links / sizeof *links; i++) {
        if (symlinkat(links[i][1], rootfd, links[i][0]) < 0) {
            (void)FAIL("symlink /%s: %s", links[i][0], strerror(errno));
            goto out;
        }
    }
    if (mount_tmpfs(rootfd, "/dev/shm", MS_NOSUID | MS_NODEV | MS_NOEXEC, "mode=1777", why, cap) < 0)
        goto out;
    if (mount_tmpfs(rootfd, "/tmp", MS_NOSUID | MS_NODEV, "mode=1777", why, cap) < 0) goto out;
    if (mkdirat(rootfd, "proc", 0555) < 0) {
        (void)FAIL("mkdir /proc: %s", strerror(errno));
        goto out;
    }
    if (s->code_dir && bind_at(rootfd, s->code_dir, RUN_CODE_DIR, ro, why, cap) < 0) goto out;
    if (s->socket_path &&
        bind_at(rootfd, s->socket_path, "/run/edgeml/core.sock",
                MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV | MOUNT_ATTR_NOEXEC, why, cap) < 0)
        goto out;

    /* parents before children: /data before /data/x */
    for (size_t i = 0; i < s->n_binds; i++) order[i] = &s->binds[i];
    qsort(order, s->n_binds, sizeof *order, cmp_len);
    for (size_t i = 0; i < s->n_binds; i++) {
        const run_bind *b = order[i];
        uint64_t a = MOUNT_ATTR_NOSUID | (b->rw ? 0 : MOUNT_ATTR_RDONLY);
        if (b->kind != RUN_BIND_DEVICE) a |= MOUNT_ATTR_NODEV;
        if (bind_at(rootfd, b->src, b->dst, a, why, cap) < 0) goto out;
    }

    if (fchdir(rootfd) < 0) {
        (void)FAIL("chdir to the new root: %s", strerror(errno));
        goto out;
    }
    if (syscall(SYS_pivot_root, ".", ".") < 0) {
        (void)FAIL("pivot_root: %s", strerror(errno));
        goto out;
    }
    if (umount2(".", MNT_DETACH) < 0) {
        (void)FAIL("detach the old root: %s", strerror(errno));
        goto out;
    }
    if (chdir("/") < 0) {
        (void)FAIL("chdir /: %s", strerror(errno));
        goto out;
    }
    if (mount("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL) < 0) {
        (void)FAIL("mount /proc: %s", strerror(errno));
        goto out;
    }
    struct mount_attr a = {.attr_set = MOUNT_ATTR_RDONLY};
    if (mount_setattr(AT_FDCWD, "/", 0, &a, sizeof a) < 0 &&
        (errno != ENOSYS || mount(NULL, "/", NULL, MS_REMOUNT | MS_BIND | MS_RDONLY | MS_NOSUID | MS_NODEV, NULL) < 0)) {
        (void)FAIL("make / read-only: %s", strerror(errno));
        goto out;
    }
    const char *id = s->function_id;
    size_t hl = strlen(id);
    if (sethostname(id, hl > 64 ? 64 : hl) < 0) {
        (void)FAIL("sethostname: %s", strerror(errno));
        goto out;
    }
    const char *wd = s->code_dir ? RUN_CODE_DIR : "/";
    if (chdir(wd) < 0) {
        (void)FAIL("chdir %s: %s", wd, strerror(errno));
        goto out;
    }
    rc = 0;
out:
    close(rootfd);
    return rc;
}
